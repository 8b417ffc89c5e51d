/*
 * mpble: the built-in `osTimer` the QuecPython SMP client demo imports.
 *
 * On QuecPython `import osTimer` gives a callable (the type itself), which a
 * Python module cannot be. This registers a type named osTimer as the
 * module; constructing it returns an instance of the frozen shim's class,
 * _ostimer.OsTimer (micropython-port/shims/_ostimer.py on unix, on a thread;
 * shims/bare_metal/_ostimer.py on bare metal, on the scheduler), where all
 * of the timer's behaviour lives.
 */
#include "py/runtime.h"

static mp_obj_t ostimer_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    (void)type;
    mp_obj_t mod = mp_import_name(MP_QSTR__ostimer, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
    mp_obj_t cls = mp_load_attr(mod, MP_QSTR_OsTimer);
    return mp_call_function_n_kw(cls, n_args, n_kw, args);
}

MP_DEFINE_CONST_OBJ_TYPE(
    mpble_ostimer_type,
    MP_QSTR_osTimer,
    MP_TYPE_FLAG_NONE,
    make_new, ostimer_make_new
    );

// A type registered where a module is expected: the import machinery only
// looks the object up (and an `__init__` attribute, which it has not).
MP_REGISTER_MODULE(MP_QSTR_osTimer, mpble_ostimer_type);
