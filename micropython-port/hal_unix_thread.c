/*
 * mpble: the unix port's per-thread VM state from a __thread variable.
 *
 * MicroPython's unix port keeps each thread's mp_state_thread_t behind a
 * pthread key (ports/unix/mpthreadport.c: mp_thread_get_state() is
 * pthread_getspecific()). Every MP_STATE_THREAD() access calls it: the nlr
 * chain, the stack check, the scheduler, each function call of the VM,
 * about 30 times per BLE callback (callgrind, a client read: 0.6 k of its
 * 17 k instructions). glibc's pthread_getspecific is about 17 instructions;
 * a __thread load in the executable is one.
 *
 * The port's own functions are wrapped with the linker (--wrap, see
 * micropython.mk), as hal_unix_wait.c does, so MicroPython's sources stay as
 * they are. The pthread key stays the truth: a thread's first lookup asks
 * it and keeps the answer; mp_thread_set_state() (each new Python thread,
 * py/modthread.c) sets both. mp_thread_init() sets the main thread's key
 * directly, before the VM exists: a lookup that finds nothing yet is not
 * kept, so the next one asks again. A thread's state never moves once set.
 */
#include "py/mpstate.h"
#include "py/mpthread.h"

#if MICROPY_PY_THREAD

static __thread mp_state_thread_t *hal_thread_state;

mp_state_thread_t *__real_mp_thread_get_state(void);
void __real_mp_thread_set_state(mp_state_thread_t *state);

mp_state_thread_t *__wrap_mp_thread_get_state(void) {
    mp_state_thread_t *state = hal_thread_state;
    if (state == NULL) {
        state = __real_mp_thread_get_state();
        hal_thread_state = state;
    }
    return state;
}

void __wrap_mp_thread_set_state(mp_state_thread_t *state) {
    __real_mp_thread_set_state(state);
    hal_thread_state = state;
}

#endif // MICROPY_PY_THREAD
