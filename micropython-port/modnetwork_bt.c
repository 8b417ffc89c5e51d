/*
 * mpble: Pycom's `network.Bluetooth` (minimal: the constructor brings the
 * controller up). Marshalling only; the behaviour lives in the Rust core.
 *
 * The unix port has no `network` module (MICROPY_PY_NETWORK is off), so this
 * file registers one holding `Bluetooth`. Ports with their own `network`
 * module would add Bluetooth to it via MICROPY_PORT_NETWORK_INTERFACES
 * instead (not done yet).
 */
#include <errno.h>
#include <string.h>

#include "py/runtime.h"

#include "mpble_hal.h"
#include "mpble_port.h"

// How long Bluetooth() waits for the controller to come up.
#define BT_START_TIMEOUT_MS (2000)

typedef struct _network_bt_obj_t {
    mp_obj_base_t base;
} network_bt_obj_t;

static const mp_obj_type_t network_bt_type;

// Bluetooth is a singleton: every construction returns this object.
static const network_bt_obj_t network_bt_singleton = { { &network_bt_type } };

static NORETURN void network_bt_raise(int err, const char *msg) {
    mp_obj_t args[2] = {
        MP_OBJ_NEW_SMALL_INT(err),
        mp_obj_new_str(msg, strlen(msg)),
    };
    nlr_raise(mp_obj_new_exception_args(&mp_type_OSError, 2, args));
}

// The core's state, read under the port lock (mpble_port.h).
static MpbleState network_bt_state(void) {
    mpble_port_lock();
    MpbleState s = mpble_state();
    mpble_port_unlock();
    return s;
}

static bool network_bt_started(void) {
    MpbleState s = network_bt_state();
    return s == MPBLE_STATE_READY || s == MPBLE_STATE_FAILED;
}

static mp_obj_t network_bt_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *all_args) {
    // Pycom's arguments are accepted and, for now, ignored.
    enum { ARG_id, ARG_mode, ARG_antenna, ARG_modem_sleep, ARG_pin, ARG_privacy,
           ARG_secure_connections, ARG_mtu };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_id, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_INT(0)} },
        { MP_QSTR_mode, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_INT(0)} },
        { MP_QSTR_antenna, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_modem_sleep, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_pin, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_privacy, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_TRUE} },
        { MP_QSTR_secure_connections, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_TRUE} },
        { MP_QSTR_mtu, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_INT(200)} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all_kw_array(n_args, n_kw, all_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);

    const char *msg;
    int err = mpble_port_open(&msg);
    if (err != 0) {
        network_bt_raise(err, msg);
    }

    mpble_port_lock();
    MpbleState state = mpble_state();
    if (state != MPBLE_STATE_READY && state != MPBLE_STATE_STARTING) {
        mpble_start(mpble_port_now_ms());
    }
    mpble_port_unlock_after_call();

    mpble_port_wait(network_bt_started, BT_START_TIMEOUT_MS);
    if (network_bt_state() != MPBLE_STATE_READY) {
        network_bt_raise(ETIMEDOUT, "the controller named by MPBLE_HCI did not come up");
    }
    return MP_OBJ_FROM_PTR(&network_bt_singleton);
}

// Not Pycom's: bt.mpble_snoop(path) starts a btsnoop capture of the HCI
// traffic into path (replacing a running one), bt.mpble_snoop(None) stops
// it. Raises OSError, as Pycom's methods do, when the file cannot be opened.
static mp_obj_t network_bt_mpble_snoop(mp_obj_t self_in, mp_obj_t path_in) {
    (void)self_in;
    const char *path = path_in == mp_const_none ? NULL : mp_obj_str_get_str(path_in);
    const char *msg;
    int err = mpble_hal_snoop(path, &msg);
    if (err != 0) {
        network_bt_raise(err, msg);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(network_bt_mpble_snoop_obj, network_bt_mpble_snoop);

// mpble's own diagnostics, not a Pycom method (the prefix keeps it clear
// of any name Pycom may add): a dict of every drop counter of the stack.
static mp_obj_t network_bt_mpble_stats(mp_obj_t self_in) {
    (void)self_in;
    return mpble_port_stats_dict();
}
static MP_DEFINE_CONST_FUN_OBJ_1(network_bt_mpble_stats_obj, network_bt_mpble_stats);

static const mp_rom_map_elem_t network_bt_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_mpble_snoop), MP_ROM_PTR(&network_bt_mpble_snoop_obj) },
    { MP_ROM_QSTR(MP_QSTR_mpble_stats), MP_ROM_PTR(&network_bt_mpble_stats_obj) },
};
static MP_DEFINE_CONST_DICT(network_bt_locals_dict, network_bt_locals_dict_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    network_bt_type,
    MP_QSTR_Bluetooth,
    MP_TYPE_FLAG_NONE,
    make_new, network_bt_make_new,
    locals_dict, &network_bt_locals_dict
    );

#if !MICROPY_PY_NETWORK

static const mp_rom_map_elem_t network_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_network) },
    { MP_ROM_QSTR(MP_QSTR_Bluetooth), MP_ROM_PTR(&network_bt_type) },
};
static MP_DEFINE_CONST_DICT(network_module_globals, network_module_globals_table);

const mp_obj_module_t mp_module_network_bt = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&network_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_network, mp_module_network_bt);

#endif // !MICROPY_PY_NETWORK
