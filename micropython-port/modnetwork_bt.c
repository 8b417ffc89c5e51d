/*
 * mpble: Pycom's `network.Bluetooth` (reference: shared/reference/
 * pycom-bluetooth-api.md). Marshalling and waiting only; the behaviour lives
 * in the Rust core's Pycom adapter (src/api/pycom/).
 *
 * The unix port has no `network` module (MICROPY_PY_NETWORK is off), so this
 * file registers one holding `Bluetooth`. Ports with their own `network`
 * module would add Bluetooth to it via MICROPY_PORT_NETWORK_INTERFACES
 * instead (not done yet).
 *
 * Blocking calls wait in mpble_port_wait(): the port's idle loop, which
 * pumps the core and keeps delivering callbacks (except inside a callback,
 * where they wait for it to return). No second thread is assumed.
 */
#include <errno.h>
#include <string.h>

#include "py/bc.h"
#include "py/mperrno.h"
#include "py/objfun.h"
#include "py/objtuple.h"
#include "py/runtime.h"
#include "py/unicode.h"

#include "mpble_hal.h"
#include "mpble_port.h"
#include "network_bt.h"

// How long Bluetooth() waits for the controller to come up.
#define BT_START_TIMEOUT_MS (2000)
// How long deinit() waits for links to drop and the controller to reset.
#define BT_STOP_TIMEOUT_MS (2000)
// How long connect() waits for Exchange MTU after the link is up (the
// firmware waits 1 s, reference §2.6).
#define BT_MTU_WAIT_MS (1000)

// The Python objects the core refers to by index: the GATTSCharacteristic
// of each characteristic index, the GATTCCharacteristic objects with a
// notification handler. The Bluetooth handler and its argument.
MP_REGISTER_ROOT_POINTER(mp_obj_t network_bt_roots[2]);
MP_REGISTER_ROOT_POINTER(mp_obj_t network_bt_handler);
MP_REGISTER_ROOT_POINTER(mp_obj_t network_bt_handler_arg);

typedef struct _network_bt_obj_t {
    mp_obj_base_t base;
} network_bt_obj_t;

// Bluetooth is a singleton: every construction returns this object.
static const network_bt_obj_t network_bt_singleton = { { &network_bt_type } };

// Pycom's `Bluetooth.timeout`: TimeoutError, a subclass of OSError there
// (reference §2.2); MicroPython has none built in.
static MP_DEFINE_CONST_OBJ_TYPE(
    network_bt_timeout_type,
    MP_QSTR_TimeoutError,
    MP_TYPE_FLAG_NONE,
    make_new, mp_obj_exception_make_new,
    print, mp_obj_exception_print,
    attr, mp_obj_exception_attr,
    parent, &mp_type_OSError
    );

NORETURN void network_bt_raise(int err, const char *msg) {
    mp_obj_t args[2] = {
        MP_OBJ_NEW_SMALL_INT(err),
        mp_obj_new_str(msg, strlen(msg)),
    };
    nlr_raise(mp_obj_new_exception_args(&mp_type_OSError, 2, args));
}

NORETURN void network_bt_raise_timeout(void) {
    mp_obj_t args[2] = {
        MP_OBJ_NEW_SMALL_INT(MP_ETIMEDOUT),
        mp_obj_new_str("timed out", 9),
    };
    nlr_raise(mp_obj_new_exception_args(&network_bt_timeout_type, 2, args));
}

// Pycom's messages (reference §16) with an errno users can test.
NORETURN void network_bt_raise_code(int32_t code) {
    switch (code) {
        case MPBLE_PYCOM_BUSY:
            network_bt_raise(MP_EALREADY, "operation already in progress");
        case MPBLE_PYCOM_NOT_CONNECTED:
            network_bt_raise(MP_ENOTCONN, "connection already closed");
        case MPBLE_PYCOM_NO_MEMORY:
            network_bt_raise(MP_ENOMEM, "more results than this build keeps");
        case MPBLE_PYCOM_INVALID:
            mp_raise_ValueError(MP_ERROR_TEXT("invalid argument(s) value"));
        case MPBLE_PYCOM_NOT_READY:
            network_bt_raise(MP_ENODEV, "Bluetooth is not initialised (call Bluetooth() or init())");
        case MPBLE_PYCOM_NOT_LAST_SERVICE:
            network_bt_raise(MP_EINVAL,
                "characteristic(): add characteristics to a service before creating the next service");
        case MPBLE_PYCOM_TABLE_FULL:
            network_bt_raise(MP_ENOMEM, "the attribute table is full");
        case MPBLE_PYCOM_CONNECT_FAILED:
            network_bt_raise(MP_ECONNREFUSED, "connection refused");
        case MPBLE_PYCOM_TIMED_OUT:
            network_bt_raise(MP_ETIMEDOUT, "the peer did not answer within the ATT timeout (30 s)");
        default:
            network_bt_raise(MP_EIO, "the requested operation failed");
    }
}

// ---------------------------------------------------------------------------
// Helpers shared by the GATT classes
// ---------------------------------------------------------------------------

mp_obj_t network_bt_root_list(size_t which) {
    mp_obj_t *slot = &MP_STATE_PORT(network_bt_roots)[which];
    if (*slot == MP_OBJ_NULL) {
        *slot = mp_obj_new_list(0, NULL);
    }
    return *slot;
}

// Forgets the Python objects (soft reset: the heap they live in is gone).
void network_bt_deinit(void) {
    MP_STATE_PORT(network_bt_roots)[0] = MP_OBJ_NULL;
    MP_STATE_PORT(network_bt_roots)[1] = MP_OBJ_NULL;
    MP_STATE_PORT(network_bt_handler) = MP_OBJ_NULL;
    MP_STATE_PORT(network_bt_handler_arg) = MP_OBJ_NULL;
}

// py/objclosure.c defines it; no header declares it.
extern const mp_obj_type_t mp_type_closure;

// The positional arguments a handler takes, as far as the VM can tell; 2
// when it cannot (a builtin, a native function).
static size_t network_bt_handler_arity(mp_obj_t h) {
    size_t bound = 0;
    if (mp_obj_is_type(h, &mp_type_bound_meth)) {
        // Layout of py/objboundmeth.c's mp_obj_bound_meth_t.
        const struct {
            mp_obj_base_t base;
            mp_obj_t meth;
            mp_obj_t self;
        } *m = MP_OBJ_TO_PTR(h);
        h = m->meth;
        bound = 1;
    }
    if (mp_obj_is_type(h, &mp_type_closure)) {
        // Layout of py/objclosure.c's mp_obj_closure_t.
        const struct {
            mp_obj_base_t base;
            mp_obj_t fun;
            size_t n_closed;
        } *c = MP_OBJ_TO_PTR(h);
        h = c->fun;
        bound += c->n_closed;
    }
    if (!mp_obj_is_type(h, &mp_type_fun_bc)) {
        return 2;
    }
    const mp_obj_fun_bc_t *f = MP_OBJ_TO_PTR(h);
    const byte *ip = f->bytecode;
    MP_BC_PRELUDE_SIG_DECODE(ip);
    if (scope_flags & MP_SCOPE_FLAG_VARARGS) {
        return 2;
    }
    return n_pos_args > bound ? n_pos_args - bound : 0;
}

mp_obj_t network_bt_call_handler(mp_obj_t handler, mp_obj_t arg, mp_int_t event, mp_obj_t data) {
    // Chosen by arity, never by "try two, retry with one on TypeError": a
    // TypeError raised inside the handler would run it twice (reference §8.2).
    if (network_bt_handler_arity(handler) >= 2) {
        mp_obj_t pair[2] = { MP_OBJ_NEW_SMALL_INT(event), data };
        return mp_call_function_2(handler, arg, mp_obj_new_tuple(2, pair));
    }
    return mp_call_function_1(handler, arg);
}

size_t network_bt_uuid_arg(mp_obj_t uuid, qstr name, uint8_t out[16]) {
    if (mp_obj_is_int(uuid)) {
        uint32_t v = (uint32_t)mp_obj_get_int_truncated(uuid);
        if (v <= 0xFFFF) {
            out[0] = v & 0xFF;
            out[1] = v >> 8;
            return 2;
        }
        // A 32-bit UUID travels in its 128-bit form over the Bluetooth Base
        // UUID (Vol 3 Part B 2.5.1; ATT carries 16- and 128-bit UUIDs only).
        static const uint8_t base[16] = {
            0xFB, 0x34, 0x9B, 0x5F, 0x80, 0x00, 0x00, 0x80, 0x00, 0x10, 0x00, 0x00, 0, 0, 0, 0,
        };
        memcpy(out, base, 16);
        out[12] = v & 0xFF;
        out[13] = (v >> 8) & 0xFF;
        out[14] = (v >> 16) & 0xFF;
        out[15] = v >> 24;
        return 16;
    }
    mp_buffer_info_t buf;
    if (!mp_get_buffer(uuid, &buf, MP_BUFFER_READ)) {
        mp_raise_msg_varg(&mp_type_TypeError, MP_ERROR_TEXT("%q must be an int or 16 bytes"), name);
    }
    if (buf.len != 16) {
        mp_raise_msg_varg(&mp_type_ValueError,
            MP_ERROR_TEXT("%q: 16 bytes for a 128-bit UUID (invalid argument(s) value)"), name);
    }
    memcpy(out, buf.buf, 16);
    return 16;
}

mp_obj_t network_bt_uuid_obj(const uint8_t *uuid, size_t len) {
    if (len == 2) {
        return MP_OBJ_NEW_SMALL_INT(uuid[0] | (uuid[1] << 8));
    }
    static const uint8_t base[12] = {
        0xFB, 0x34, 0x9B, 0x5F, 0x80, 0x00, 0x00, 0x80, 0x00, 0x10, 0x00, 0x00,
    };
    if (len == 16 && memcmp(uuid, base, 12) == 0) {
        uint32_t v = uuid[12] | (uuid[13] << 8) | (uuid[14] << 16) | ((uint32_t)uuid[15] << 24);
        return mp_obj_new_int_from_uint(v);
    }
    return mp_obj_new_bytes(uuid, len);
}

// ---------------------------------------------------------------------------
// The dispatcher: every Pycom tuple of the core reaches this function
// (mpble_port.c calls it like any callback), which finds the handler.
// ---------------------------------------------------------------------------

static mp_obj_t network_bt_dispatch(mp_obj_t tuple_in) {
    size_t n;
    mp_obj_t *items;
    mp_obj_tuple_get(tuple_in, &n, &items);
    if (n < 2) {
        return mp_const_none;
    }
    mp_int_t kind = mp_obj_get_int(items[0]);
    if (kind == MPBLE_PYCOM_TUPLE_BLUETOOTH) {
        mp_obj_t h = MP_STATE_PORT(network_bt_handler);
        if (h != MP_OBJ_NULL) {
            mp_obj_t arg = MP_STATE_PORT(network_bt_handler_arg);
            // Bluetooth handlers take one argument in every firmware.
            mp_call_function_1(h, arg == MP_OBJ_NULL ? MP_OBJ_FROM_PTR(&network_bt_singleton) : arg);
        }
    } else if (kind == MPBLE_PYCOM_TUPLE_NOTIFY) {
        network_bt_gattc_dispatch(n, items);
    } else {
        network_bt_gatts_dispatch(kind, n, items);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(network_bt_dispatch_obj, network_bt_dispatch);

// ---------------------------------------------------------------------------
// Bluetooth
// ---------------------------------------------------------------------------

// The core's state, read under the port lock (mpble_port.h).
static MpbleState network_bt_state(void) {
    mpble_port_lock();
    MpbleState s = mpble_state();
    mpble_port_unlock();
    return s;
}

static bool network_bt_settled(void) {
    MpbleState s = network_bt_state();
    return s == MPBLE_STATE_READY || s == MPBLE_STATE_FAILED;
}

static bool network_bt_off(void) {
    return network_bt_state() == MPBLE_STATE_OFF;
}

static bool network_bt_active(void) {
    mpble_port_lock();
    bool a = mpble_pycom_is_active();
    mpble_port_unlock();
    return a;
}

// Raises unless Bluetooth() is in force (after deinit(), init() again).
static void network_bt_check_active(void) {
    if (!network_bt_active()) {
        network_bt_raise_code(MPBLE_PYCOM_NOT_READY);
    }
}

// A PIN argument: an int 0..999999 (reference §2.1, §2.16).
static mp_int_t network_bt_pin_arg(mp_obj_t pin) {
    mp_int_t p = mpble_port_arg_int(pin, MP_QSTR_pin);
    if (p < 0 || p > 999999) {
        mp_raise_ValueError(MP_ERROR_TEXT("Pin code with 1-6 digit length is allowed only!"));
    }
    return p;
}

enum { ARG_mode, ARG_antenna, ARG_modem_sleep, ARG_pin, ARG_privacy, ARG_secure_connections, ARG_mtu };
static const mp_arg_t network_bt_init_args[] = {
    { MP_QSTR_mode, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_INT(0)} },
    { MP_QSTR_antenna, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    { MP_QSTR_modem_sleep, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    { MP_QSTR_pin, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    { MP_QSTR_privacy, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_TRUE} },
    { MP_QSTR_secure_connections, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_TRUE} },
    { MP_QSTR_mtu, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_INT(200)} },
};

// init(): checks the arguments, starts the stack if needed and waits for
// the controller.
static void network_bt_do_init(const mp_arg_val_t *args) {
    mpble_port_arg_int(args[ARG_mode].u_obj, MP_QSTR_mode);
    mp_obj_t antenna = args[ARG_antenna].u_obj;
    if (antenna != mp_const_none) {
        mp_int_t a = mpble_port_arg_int(antenna, MP_QSTR_antenna);
        if (a < 0 || a > 2) {
            mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("invalid antenna type %d"), (int)a);
        }
    }
    // pin: security on, the PIN as the static passkey (reference §2.1);
    // privacy is not served (the address stays the configured one).
    mp_int_t pin = -1;
    if (args[ARG_pin].u_obj != mp_const_none) {
        pin = network_bt_pin_arg(args[ARG_pin].u_obj);
    }
    int secure_connections = mp_obj_is_true(args[ARG_secure_connections].u_obj) ? 1 : 0;
    mp_int_t mtu = mpble_port_arg_int(args[ARG_mtu].u_obj, MP_QSTR_mtu);

    const char *msg;
    int err = mpble_port_open(&msg);
    if (err != 0) {
        network_bt_raise(err, msg);
    }
    mpble_port_lock();
    mpble_port_set_callback(MPBLE_PORT_CB_PYCOM_BLUETOOTH, MP_OBJ_FROM_PTR(&network_bt_dispatch_obj));
    mpble_pycom_activate(mtu);
    if (pin >= 0) {
        mpble_pycom_set_pin(pin, secure_connections);
    }
    MpbleState state = mpble_state();
    if (state != MPBLE_STATE_READY && state != MPBLE_STATE_STARTING) {
        mpble_start(mpble_port_now_ms());
    }
    mpble_port_unlock_after_call();

    mpble_port_wait(network_bt_settled, BT_START_TIMEOUT_MS);
    if (network_bt_state() != MPBLE_STATE_READY) {
        mpble_port_lock();
        mpble_pycom_deinit(mpble_port_now_ms());
        mpble_port_unlock_after_call();
        network_bt_raise(MP_ETIMEDOUT, "Bluetooth init failed: the controller named by MPBLE_HCI did not come up");
    }
}

static mp_obj_t network_bt_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *all_args) {
    mp_arg_check_num(n_args, n_kw, 0, 1, true);
    if (n_args == 1 && mpble_port_arg_int(all_args[0], MP_QSTR_id) != 0) {
        network_bt_raise(MP_ENODEV, "resource not available");
    }
    mp_map_t kw_args;
    mp_map_init_fixed_table(&kw_args, n_kw, all_args + n_args);
    // id may come by keyword too.
    mp_map_elem_t *id = mp_map_lookup(&kw_args, MP_OBJ_NEW_QSTR(MP_QSTR_id), MP_MAP_LOOKUP_REMOVE_IF_FOUND);
    if (id != NULL && mpble_port_arg_int(id->value, MP_QSTR_id) != 0) {
        network_bt_raise(MP_ENODEV, "resource not available");
    }
    mp_arg_val_t args[MP_ARRAY_SIZE(network_bt_init_args)];
    mp_arg_parse_all(0, NULL, &kw_args, MP_ARRAY_SIZE(network_bt_init_args), network_bt_init_args, args);
    // The radio starts on first construction; later constructions run
    // init again only when given arguments (reference §2.1).
    if (kw_args.used > 0 || !network_bt_active() || network_bt_state() != MPBLE_STATE_READY) {
        network_bt_do_init(args);
    }
    return MP_OBJ_FROM_PTR(&network_bt_singleton);
}

static mp_obj_t network_bt_init(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    mp_arg_val_t args[MP_ARRAY_SIZE(network_bt_init_args)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(network_bt_init_args), network_bt_init_args, args);
    network_bt_do_init(args);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(network_bt_init_obj, 1, network_bt_init);

static mp_obj_t network_bt_deinit_method(mp_obj_t self_in) {
    (void)self_in;
    if (!network_bt_active()) {
        return mp_const_none;
    }
    mpble_port_lock();
    mpble_pycom_deinit(mpble_port_now_ms());
    mpble_port_unlock_after_call();
    mpble_port_wait(network_bt_off, BT_STOP_TIMEOUT_MS);
    network_bt_deinit();
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(network_bt_deinit_obj, network_bt_deinit_method);

// Runs one core call that returns a result code; raises on error.
#define NETWORK_BT_CALL(expr) do { \
        mpble_port_lock(); \
        int32_t r_ = (expr); \
        mpble_port_unlock_after_call(); \
        if (r_ != MPBLE_PYCOM_OK) { \
            network_bt_raise_code(r_); \
        } \
} while (0)

static mp_obj_t network_bt_start_scan(mp_obj_t self_in, mp_obj_t timeout_in) {
    (void)self_in;
    network_bt_check_active();
    // Seconds; a float is a TypeError as on the firmware (mp_obj_get_int).
    if (!mp_obj_is_int(timeout_in)) {
        mp_raise_TypeError(MP_ERROR_TEXT("timeout must be an int (seconds; -1 scans until stop_scan)"));
    }
    mp_int_t t = mp_obj_get_int(timeout_in);
    if (t == 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("timeout: invalid scan time (0)"));
    }
    NETWORK_BT_CALL(mpble_pycom_start_scan(t, mpble_port_now_ms()));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(network_bt_start_scan_obj, network_bt_start_scan);

static mp_obj_t network_bt_stop_scan(mp_obj_t self_in) {
    (void)self_in;
    NETWORK_BT_CALL(mpble_pycom_stop_scan());
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(network_bt_stop_scan_obj, network_bt_stop_scan);

static mp_obj_t network_bt_isscanning(mp_obj_t self_in) {
    (void)self_in;
    // Callbacks and a scan that just timed out are handled first, as the
    // firmware's polling loops expect.
    mpble_port_process();
    mpble_port_lock();
    bool s = mpble_pycom_is_scanning();
    mpble_port_unlock();
    return mp_obj_new_bool(s);
}
static MP_DEFINE_CONST_FUN_OBJ_1(network_bt_isscanning_obj, network_bt_isscanning);

static const qstr network_bt_adv_fields[] = {
    MP_QSTR_mac, MP_QSTR_addr_type, MP_QSTR_adv_type, MP_QSTR_rssi, MP_QSTR_data,
};

// Pops one report as the named tuple (mac, addr_type, adv_type, rssi,
// data); MP_OBJ_NULL when the FIFO is empty.
static mp_obj_t network_bt_pop_adv(void) {
    MpblePycomAdv adv;
    mpble_port_lock();
    bool got = mpble_pycom_get_adv(&adv);
    mpble_port_unlock();
    if (!got) {
        return MP_OBJ_NULL;
    }
    mp_obj_t items[5] = {
        mp_obj_new_bytes(adv.mac, sizeof(adv.mac)),
        MP_OBJ_NEW_SMALL_INT(adv.addr_type),
        MP_OBJ_NEW_SMALL_INT(adv.adv_type),
        MP_OBJ_NEW_SMALL_INT(adv.rssi),
        mp_obj_new_bytes(adv.data, sizeof(adv.data)),
    };
    return mp_obj_new_attrtuple(network_bt_adv_fields, 5, items);
}

static mp_obj_t network_bt_get_adv(mp_obj_t self_in) {
    (void)self_in;
    mpble_port_process();
    mp_obj_t adv = network_bt_pop_adv();
    return adv == MP_OBJ_NULL ? mp_const_none : adv;
}
static MP_DEFINE_CONST_FUN_OBJ_1(network_bt_get_adv_obj, network_bt_get_adv);

static mp_obj_t network_bt_get_advertisements(mp_obj_t self_in) {
    (void)self_in;
    mpble_port_process();
    mp_obj_t list = mp_obj_new_list(0, NULL);
    for (mp_obj_t adv; (adv = network_bt_pop_adv()) != MP_OBJ_NULL;) {
        mp_obj_list_append(list, adv);
    }
    return list;
}
static MP_DEFINE_CONST_FUN_OBJ_1(network_bt_get_advertisements_obj, network_bt_get_advertisements);

static mp_obj_t network_bt_resolve_adv_data(mp_obj_t self_in, mp_obj_t data_in, mp_obj_t type_in) {
    (void)self_in;
    mp_buffer_info_t buf;
    mpble_port_arg_buf(data_in, MP_QSTR_data, &buf);
    if (!mp_obj_is_int(type_in)) {
        mp_raise_TypeError(MP_ERROR_TEXT("data_type must be an int"));
    }
    int32_t value = 0;
    size_t offset = 0, len = 0;
    uint8_t kind = mpble_pycom_resolve(buf.buf, buf.len, mp_obj_get_int(type_in), &value, &offset, &len);
    const uint8_t *p = (const uint8_t *)buf.buf + offset;
    switch (kind) {
        case 1:
            return MP_OBJ_NEW_SMALL_INT(value);
        case 2:
            // A name is a str, as on the firmware; one that is not UTF-8
            // (which a MicroPython str must be) comes back as bytes.
            if (!utf8_check(p, len)) {
                return mpble_port_new_bytes(p, len);
            }
            return mp_obj_new_str((const char *)p, len);
        case 3:
            return mpble_port_new_bytes(p, len);
        default:
            return mp_const_none;
    }
}
static MP_DEFINE_CONST_FUN_OBJ_3(network_bt_resolve_adv_data_obj, network_bt_resolve_adv_data);

// connect()'s address: the 6 bytes of adv.mac, or the 12 hex digits the
// docs promise ('112233eeddff', colons allowed).
static void network_bt_mac_arg(mp_obj_t mac_in, uint8_t mac[6]) {
    mp_buffer_info_t buf;
    mpble_port_arg_buf(mac_in, MP_QSTR_mac_addr, &buf);
    const uint8_t *s = buf.buf;
    if (mp_obj_is_str(mac_in) && buf.len >= 12) {
        size_t n = 0;
        for (size_t i = 0; i < buf.len && n < 12; i++) {
            uint8_t c = s[i];
            if (c == ':' || c == '-') {
                continue;
            }
            int v = unichar_xdigit_value(c);
            if (!unichar_isxdigit(c)) {
                mp_raise_ValueError(MP_ERROR_TEXT("mac_addr: 6 bytes or 12 hex digits"));
            }
            mac[n / 2] = (uint8_t)((n % 2 == 0) ? v << 4 : (mac[n / 2] | v));
            n++;
        }
        if (n == 12) {
            return;
        }
    } else if (buf.len == 6) {
        memcpy(mac, s, 6);
        return;
    }
    mp_raise_ValueError(MP_ERROR_TEXT("mac_addr: 6 bytes or 12 hex digits"));
}

static bool network_bt_connect_settled(void) {
    mpble_port_lock();
    int32_t r = mpble_pycom_connect_status(NULL);
    mpble_port_unlock();
    return r != MPBLE_PYCOM_PENDING;
}

static size_t network_bt_mtu_conn;
static bool network_bt_mtu_settled(void) {
    mpble_port_lock();
    bool d = mpble_pycom_mtu_done(network_bt_mtu_conn);
    mpble_port_unlock();
    return d;
}

// Waits for `predicate` up to timeout_ms, or forever when timeout_ms < 0
// (Ctrl-C still stops it).
static bool network_bt_wait(bool (*predicate)(void), mp_int_t timeout_ms) {
    if (timeout_ms >= 0) {
        return mpble_port_wait(predicate, (uint32_t)timeout_ms);
    }
    while (!mpble_port_wait(predicate, 60000)) {
    }
    return true;
}

static mp_obj_t network_bt_connect(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_addr, ARG_timeout, ARG_addr_type };
    // `addr` is the firmware's name, `mac_addr` the docs': both work.
    mp_map_elem_t *docs_name = mp_map_lookup(kw_args, MP_OBJ_NEW_QSTR(MP_QSTR_mac_addr), MP_MAP_LOOKUP);
    static const mp_arg_t allowed[] = {
        { MP_QSTR_addr, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_timeout, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_addr_type, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    };
    mp_obj_t mac_obj = mp_const_none;
    mp_map_t rest = *kw_args;
    if (docs_name != NULL) {
        mac_obj = docs_name->value;
        // Parse the others without it (mp_arg_parse_all refuses unknowns).
        mp_map_lookup(kw_args, MP_OBJ_NEW_QSTR(MP_QSTR_mac_addr), MP_MAP_LOOKUP_REMOVE_IF_FOUND);
        rest = *kw_args;
    }
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, &rest, MP_ARRAY_SIZE(allowed), allowed, args);
    if (mac_obj == mp_const_none) {
        mac_obj = args[ARG_addr].u_obj;
    }
    if (mac_obj == mp_const_none) {
        mp_raise_TypeError(MP_ERROR_TEXT("'addr' argument required"));
    }
    uint8_t mac[6];
    network_bt_mac_arg(mac_obj, mac);
    mp_int_t timeout = -1;
    if (args[ARG_timeout].u_obj != mp_const_none) {
        if (!mp_obj_is_int(args[ARG_timeout].u_obj)) {
            mp_raise_TypeError(MP_ERROR_TEXT("timeout must be an int (milliseconds)"));
        }
        timeout = mp_obj_get_int(args[ARG_timeout].u_obj);
        if (timeout < 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("If timeout is specified it must be a valid integer number"));
        }
    }
    mp_int_t addr_type = -1;
    if (args[ARG_addr_type].u_obj != mp_const_none) {
        if (!mp_obj_is_int(args[ARG_addr_type].u_obj)) {
            mp_raise_TypeError(MP_ERROR_TEXT("addr_type must be an int"));
        }
        addr_type = mp_obj_get_int(args[ARG_addr_type].u_obj);
        if (addr_type < 0 || addr_type > 3) {
            mp_raise_ValueError(MP_ERROR_TEXT("addr_type: 0..3"));
        }
    }
    network_bt_check_active();
    NETWORK_BT_CALL(mpble_pycom_connect((int32_t)addr_type, mac));

    // Whatever ends the wait (a timeout, Ctrl-C), the core forgets the
    // pending connection (and drops the link if it comes after all).
    nlr_buf_t nlr;
    bool settled = false;
    if (nlr_push(&nlr) == 0) {
        settled = network_bt_wait(network_bt_connect_settled, timeout);
        nlr_pop();
    } else {
        mpble_port_lock();
        mpble_pycom_connect_finish();
        mpble_port_unlock_after_call();
        nlr_jump(nlr.ret_val);
    }
    size_t value = 0;
    mpble_port_lock();
    int32_t r = mpble_pycom_connect_status(&value);
    mpble_pycom_connect_finish();
    mpble_port_unlock_after_call();
    if (!settled) {
        network_bt_raise_timeout();
    }
    if (r != MPBLE_PYCOM_OK) {
        network_bt_raise_code(r);
    }
    // The client asks for its MTU at once; the firmware waits up to 1 s.
    network_bt_mtu_conn = value;
    mpble_port_wait(network_bt_mtu_settled, BT_MTU_WAIT_MS);
    mpble_port_lock();
    int32_t generation = mpble_pycom_link_generation(value);
    mpble_port_unlock();
    if (generation < 0) {
        network_bt_raise_code(MPBLE_PYCOM_NOT_CONNECTED);
    }
    return network_bt_gattc_conn_new((uint16_t)value, (uint16_t)generation);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(network_bt_connect_obj, 1, network_bt_connect);

static mp_obj_t network_bt_callback(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_trigger, ARG_handler, ARG_arg };
    static const mp_arg_t allowed[] = {
        { MP_QSTR_trigger, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_handler, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_arg, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed), allowed, args);
    mp_obj_t trigger = args[ARG_trigger].u_obj;
    mp_obj_t handler = args[ARG_handler].u_obj;
    uint8_t bits = 0;
    if (trigger != mp_const_none && handler != mp_const_none) {
        if (!mp_obj_is_callable(handler)) {
            mp_raise_TypeError(MP_ERROR_TEXT("handler must be callable"));
        }
        bits = (uint8_t)mpble_port_arg_int(trigger, MP_QSTR_trigger);
        MP_STATE_PORT(network_bt_handler) = handler;
        MP_STATE_PORT(network_bt_handler_arg) = args[ARG_arg].u_obj == mp_const_none ? MP_OBJ_NULL : args[ARG_arg].u_obj;
    } else {
        MP_STATE_PORT(network_bt_handler) = MP_OBJ_NULL;
    }
    mpble_port_lock();
    mpble_pycom_set_trigger(bits);
    mpble_port_unlock_after_call();
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(network_bt_callback_obj, 1, network_bt_callback);

static mp_obj_t network_bt_events(mp_obj_t self_in) {
    (void)self_in;
    mpble_port_lock();
    uint8_t e = mpble_pycom_take_events();
    mpble_port_unlock_after_call();
    return MP_OBJ_NEW_SMALL_INT(e);
}
static MP_DEFINE_CONST_FUN_OBJ_1(network_bt_events_obj, network_bt_events);

// A buffer argument that may be omitted (None).
static const uint8_t *network_bt_opt_buf(mp_obj_t o, qstr name, size_t *len) {
    if (o == mp_const_none) {
        *len = 0;
        return NULL;
    }
    mp_buffer_info_t buf;
    mpble_port_arg_buf(o, name, &buf);
    *len = buf.len;
    // A zero-length buffer may have a null pointer; the core reads null as
    // "omitted", so give it a valid one.
    return buf.len ? buf.buf : (const uint8_t *)"";
}

static mp_obj_t network_bt_set_advertisement(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_name, ARG_manufacturer_data, ARG_service_data, ARG_service_uuid };
    static const mp_arg_t allowed[] = {
        { MP_QSTR_name, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_manufacturer_data, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_service_data, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_service_uuid, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed), allowed, args);
    network_bt_check_active();
    MpblePycomAdvert a = { 0 };
    mp_obj_t name = args[ARG_name].u_obj;
    if (name != mp_const_none && !mp_obj_is_str(name)) {
        mp_raise_TypeError(MP_ERROR_TEXT("name must be a str"));
    }
    a.name = network_bt_opt_buf(name, MP_QSTR_name, &a.name_len);
    a.manufacturer_data = network_bt_opt_buf(args[ARG_manufacturer_data].u_obj, MP_QSTR_manufacturer_data, &a.manufacturer_data_len);
    a.service_data = network_bt_opt_buf(args[ARG_service_data].u_obj, MP_QSTR_service_data, &a.service_data_len);
    mp_obj_t uuid = args[ARG_service_uuid].u_obj;
    if (mp_obj_is_int(uuid)) {
        a.service_uuid_is_int = true;
        a.service_uuid_int = (uint32_t)mp_obj_get_int_truncated(uuid);
    } else {
        a.service_uuid = network_bt_opt_buf(uuid, MP_QSTR_service_uuid, &a.service_uuid_len);
    }
    mpble_port_lock();
    int32_t r = mpble_pycom_set_advertisement(&a);
    mpble_port_unlock_after_call();
    if (r == MPBLE_PYCOM_INVALID) {
        mp_raise_ValueError(MP_ERROR_TEXT("service_uuid: incorrect service UUID length (a multiple of 16 bytes)"));
    }
    if (r == MPBLE_PYCOM_FAILED) {
        network_bt_raise(MP_EINVAL, "the advertisement does not fit in 31 bytes of scan response");
    }
    if (r != MPBLE_PYCOM_OK) {
        network_bt_raise_code(r);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(network_bt_set_advertisement_obj, 1, network_bt_set_advertisement);

static mp_obj_t network_bt_set_advertisement_params(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    static const mp_arg_t allowed[] = {
        { MP_QSTR_adv_int_min, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_adv_int_max, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_adv_type, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_own_addr_type, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_channel_map, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_adv_filter_policy, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed), allowed, args);
    int64_t v[6];
    for (size_t i = 0; i < 6; i++) {
        v[i] = args[i].u_obj == mp_const_none ? -1 : mpble_port_arg_int(args[i].u_obj, allowed[i].qst);
    }
    mpble_port_lock();
    int32_t r = mpble_pycom_set_adv_params(v[0], v[1], v[2], v[3], v[4], v[5]);
    mpble_port_unlock_after_call();
    if (r == MPBLE_PYCOM_INVALID) {
        mp_raise_ValueError(MP_ERROR_TEXT("advertisement parameter out of range (LE Set Advertising Parameters)"));
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(network_bt_set_advertisement_params_obj, 1, network_bt_set_advertisement_params);

static mp_obj_t network_bt_set_advertisement_raw(mp_obj_t self_in, mp_obj_t raw_in) {
    (void)self_in;
    if (raw_in == mp_const_none) {
        return mp_const_none;
    }
    network_bt_check_active();
    mp_buffer_info_t buf;
    mpble_port_arg_buf(raw_in, MP_QSTR_raw_data, &buf);
    mpble_port_lock();
    int32_t r = mpble_pycom_set_adv_raw(buf.buf, buf.len);
    mpble_port_unlock_after_call();
    if (r == MPBLE_PYCOM_INVALID) {
        mp_raise_ValueError(MP_ERROR_TEXT("raw_data: at most 31 bytes"));
    }
    if (r != MPBLE_PYCOM_OK) {
        network_bt_raise_code(r);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(network_bt_set_advertisement_raw_obj, network_bt_set_advertisement_raw);

static mp_obj_t network_bt_advertise(mp_obj_t self_in, mp_obj_t enable) {
    (void)self_in;
    network_bt_check_active();
    NETWORK_BT_CALL(mpble_pycom_advertise(mp_obj_is_true(enable)));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(network_bt_advertise_obj, network_bt_advertise);

static mp_obj_t network_bt_service(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_uuid, ARG_isprimary, ARG_nbr_chars, ARG_start };
    static const mp_arg_t allowed[] = {
        { MP_QSTR_uuid, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_isprimary, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_TRUE} },
        { MP_QSTR_nbr_chars, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_INT(1)} },
        { MP_QSTR_start, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_TRUE} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed), allowed, args);
    uint8_t uuid[16];
    size_t uuid_len = network_bt_uuid_arg(args[ARG_uuid].u_obj, MP_QSTR_uuid, uuid);
    mp_int_t nbr = mpble_port_arg_int(args[ARG_nbr_chars].u_obj, MP_QSTR_nbr_chars);
    if (nbr < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("nbr_chars must be >= 0"));
    }
    network_bt_check_active();
    mpble_port_lock();
    int32_t r = mpble_pycom_add_service(uuid, uuid_len, mp_obj_is_true(args[ARG_isprimary].u_obj));
    mpble_port_unlock_after_call();
    if (r < 0) {
        network_bt_raise_code(-r);
    }
    return network_bt_gatts_service_new((size_t)r);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(network_bt_service_obj, 1, network_bt_service);

static mp_obj_t network_bt_disconnect_client(mp_obj_t self_in) {
    (void)self_in;
    mpble_port_lock();
    mpble_pycom_disconnect_client();
    mpble_port_unlock_after_call();
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(network_bt_disconnect_client_obj, network_bt_disconnect_client);

static mp_obj_t network_bt_gatts_mtu(mp_obj_t self_in) {
    (void)self_in;
    mpble_port_lock();
    int32_t conn = mpble_pycom_server_link();
    int32_t mtu = conn < 0 ? -1 : mpble_pycom_link_mtu((size_t)conn);
    mpble_port_unlock();
    return mtu < 0 ? mp_const_none : MP_OBJ_NEW_SMALL_INT(mtu);
}
static MP_DEFINE_CONST_FUN_OBJ_1(network_bt_gatts_mtu_obj, network_bt_gatts_mtu);

// tx_power(type, level=None): an HCI host cannot set the controller's
// transmit power (no standard command does; LE Read Advertising Physical
// Channel Tx Power only reads one figure), so this says so instead of
// pretending (docs/DECISIONS.md).
static mp_obj_t network_bt_tx_power(size_t n_args, const mp_obj_t *args) {
    mp_int_t type = mpble_port_arg_int(args[1], MP_QSTR_type);
    if (type != 0 && type != 9 && type != 10 && type != 11) {
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("Invalid value as \"type\": %d"), (int)type);
    }
    if (n_args > 2) {
        mp_int_t level = mpble_port_arg_int(args[2], MP_QSTR_level);
        if (level < 0 || level > 7) {
            mp_raise_msg_varg(&mp_type_ValueError,
                MP_ERROR_TEXT("Invalid value as \"level\", must be between 0-7: %d"), (int)level);
        }
    }
    network_bt_raise(MP_EOPNOTSUPP, "tx_power: the transmit power belongs to the HCI controller");
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(network_bt_tx_power_obj, 2, 3, network_bt_tx_power);

// modem_sleep([enable]): the controller's power saving is its own business
// over HCI; the getter says it is not sleeping, the setter accepts the
// request only when it asks for what is already so (no sleep).
static mp_obj_t network_bt_modem_sleep(size_t n_args, const mp_obj_t *args) {
    network_bt_check_active();
    if (n_args == 1) {
        return mp_const_false;
    }
    if (mp_obj_is_true(args[1])) {
        network_bt_raise(MP_EOPNOTSUPP, "modem_sleep: the HCI controller manages its own sleep");
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(network_bt_modem_sleep_obj, 1, 2, network_bt_modem_sleep);

// set_pin(pin): security on with this PIN from now on (reference §2.16);
// Secure Connections as init() chose. Existing characteristics keep their
// permissions, and the current link is not dropped (as the firmware).
static mp_obj_t network_bt_set_pin(mp_obj_t self_in, mp_obj_t pin) {
    (void)self_in;
    mp_int_t p = network_bt_pin_arg(pin);
    mpble_port_lock();
    mpble_pycom_set_pin(p, -1);
    mpble_port_unlock_after_call();
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(network_bt_set_pin_obj, network_bt_set_pin);

// nvram_erase(): erases the stored PIN hash on the firmware; nothing is
// stored here yet, so there is nothing to erase.
static mp_obj_t network_bt_nvram_erase(mp_obj_t self_in) {
    (void)self_in;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(network_bt_nvram_erase_obj, network_bt_nvram_erase);

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

#define C(name, value) { MP_ROM_QSTR(MP_QSTR_##name), MP_ROM_INT(value) }
static const mp_rom_map_elem_t network_bt_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_init), MP_ROM_PTR(&network_bt_init_obj) },
    { MP_ROM_QSTR(MP_QSTR_deinit), MP_ROM_PTR(&network_bt_deinit_obj) },
    { MP_ROM_QSTR(MP_QSTR_start_scan), MP_ROM_PTR(&network_bt_start_scan_obj) },
    { MP_ROM_QSTR(MP_QSTR_stop_scan), MP_ROM_PTR(&network_bt_stop_scan_obj) },
    { MP_ROM_QSTR(MP_QSTR_isscanning), MP_ROM_PTR(&network_bt_isscanning_obj) },
    { MP_ROM_QSTR(MP_QSTR_get_adv), MP_ROM_PTR(&network_bt_get_adv_obj) },
    { MP_ROM_QSTR(MP_QSTR_get_advertisements), MP_ROM_PTR(&network_bt_get_advertisements_obj) },
    { MP_ROM_QSTR(MP_QSTR_resolve_adv_data), MP_ROM_PTR(&network_bt_resolve_adv_data_obj) },
    { MP_ROM_QSTR(MP_QSTR_connect), MP_ROM_PTR(&network_bt_connect_obj) },
    { MP_ROM_QSTR(MP_QSTR_callback), MP_ROM_PTR(&network_bt_callback_obj) },
    { MP_ROM_QSTR(MP_QSTR_events), MP_ROM_PTR(&network_bt_events_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_advertisement), MP_ROM_PTR(&network_bt_set_advertisement_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_advertisement_params), MP_ROM_PTR(&network_bt_set_advertisement_params_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_advertisement_raw), MP_ROM_PTR(&network_bt_set_advertisement_raw_obj) },
    { MP_ROM_QSTR(MP_QSTR_advertise), MP_ROM_PTR(&network_bt_advertise_obj) },
    { MP_ROM_QSTR(MP_QSTR_service), MP_ROM_PTR(&network_bt_service_obj) },
    { MP_ROM_QSTR(MP_QSTR_disconnect_client), MP_ROM_PTR(&network_bt_disconnect_client_obj) },
    { MP_ROM_QSTR(MP_QSTR_gatts_mtu), MP_ROM_PTR(&network_bt_gatts_mtu_obj) },
    { MP_ROM_QSTR(MP_QSTR_tx_power), MP_ROM_PTR(&network_bt_tx_power_obj) },
    { MP_ROM_QSTR(MP_QSTR_modem_sleep), MP_ROM_PTR(&network_bt_modem_sleep_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_pin), MP_ROM_PTR(&network_bt_set_pin_obj) },
    { MP_ROM_QSTR(MP_QSTR_nvram_erase), MP_ROM_PTR(&network_bt_nvram_erase_obj) },
    { MP_ROM_QSTR(MP_QSTR_mpble_snoop), MP_ROM_PTR(&network_bt_mpble_snoop_obj) },
    { MP_ROM_QSTR(MP_QSTR_mpble_stats), MP_ROM_PTR(&network_bt_mpble_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR_timeout), MP_ROM_PTR(&network_bt_timeout_type) },
    // Constants (reference §11). There is no Bluetooth.BLE in the firmware;
    // the docs use it (mode=Bluetooth.BLE), so it is here too, as 0.
    C(BLE, 0),
    C(CONN_ADV, 0), C(CONN_DIR_ADV, 1), C(DISC_ADV, 2), C(NON_CONN_ADV, 3), C(SCAN_RSP, 4),
    C(PUBLIC_ADDR, 0), C(RANDOM_ADDR, 1), C(PUBLIC_RPA_ADDR, 2), C(RANDOM_RPA_ADDR, 3),
    C(ADV_FLAG, 1), C(ADV_16SRV_PART, 2), C(ADV_T16SRV_CMPL, 3), C(ADV_32SRV_PART, 4),
    C(ADV_32SRV_CMPL, 5), C(ADV_128SRV_PART, 6), C(ADV_128SRV_CMPL, 7), C(ADV_NAME_SHORT, 8),
    C(ADV_NAME_CMPL, 9), C(ADV_TX_PWR, 10), C(ADV_DEV_CLASS, 13), C(ADV_SERVICE_DATA, 22),
    C(ADV_APPEARANCE, 25), C(ADV_ADV_INT, 26), C(ADV_32SERVICE_DATA, 32),
    C(ADV_128SERVICE_DATA, 33), C(ADV_MANUFACTURER_DATA, 255),
    C(PROP_BROADCAST, 1), C(PROP_READ, 2), C(PROP_WRITE_NR, 4), C(PROP_WRITE, 8),
    C(PROP_NOTIFY, 16), C(PROP_INDICATE, 32), C(PROP_AUTH, 64), C(PROP_EXT_PROP, 128),
    C(PERM_READ, 1), C(PERM_READ_ENCRYPTED, 2), C(PERM_READ_ENC_MITM, 4), C(PERM_WRITE, 16),
    C(PERM_WRITE_ENCRYPTED, 32), C(PERM_WRITE_ENC_MITM, 64), C(PERM_WRITE_SIGNED, 128),
    C(PERM_WRITE_SIGNED_MITM, 256),
    C(CHAR_CONFIG_NOTIFY, 1), C(CHAR_CONFIG_INDICATE, 2),
    C(NEW_ADV_EVENT, NETWORK_BT_NEW_ADV_EVENT), C(CLIENT_CONNECTED, NETWORK_BT_CLIENT_CONNECTED),
    C(CLIENT_DISCONNECTED, NETWORK_BT_CLIENT_DISCONNECTED), C(CHAR_READ_EVENT, NETWORK_BT_CHAR_READ_EVENT),
    C(CHAR_WRITE_EVENT, NETWORK_BT_CHAR_WRITE_EVENT), C(CHAR_NOTIFY_EVENT, NETWORK_BT_CHAR_NOTIFY_EVENT),
    C(CHAR_SUBSCRIBE_EVENT, NETWORK_BT_CHAR_SUBSCRIBE_EVENT),
    C(INT_ANT, 0), C(EXT_ANT, 1), C(MAN_ANT, 2),
    C(ADV_TYPE_IND, 0), C(ADV_TYPE_DIRECT_IND_HIGH, 1), C(ADV_TYPE_SCAN_IND, 2),
    C(ADV_TYPE_NONCONN_IND, 3), C(ADV_TYPE_DIRECT_IND_LOW, 4),
    C(ADV_BLE_ADDR_TYPE_PUBLIC, 0), C(ADV_BLE_ADDR_TYPE_RANDOM, 1),
    C(ADV_BLE_ADDR_TYPE_RPA_PUBLIC, 2), C(ADV_BLE_ADDR_TYPE_RPA_RANDOM, 3),
    C(ADV_CHNL_37, 1), C(ADV_CHNL_38, 2), C(ADV_CHNL_39, 4), C(ADV_CHNL_ALL, 7),
    C(ADV_FILTER_ALLOW_SCAN_ANY_CON_ANY, 0), C(ADV_FILTER_ALLOW_SCAN_WLST_CON_ANY, 1),
    C(ADV_FILTER_ALLOW_SCAN_ANY_CON_WLST, 2), C(ADV_FILTER_ALLOW_SCAN_WLST_CON_WLST, 3),
    C(TX_PWR_CONN, 0), C(TX_PWR_ADV, 9), C(TX_PWR_SCAN, 10), C(TX_PWR_DEFAULT, 11),
    C(TX_PWR_N12, 0), C(TX_PWR_N9, 1), C(TX_PWR_N6, 2), C(TX_PWR_N3, 3), C(TX_PWR_0, 4),
    C(TX_PWR_P3, 5), C(TX_PWR_P6, 6), C(TX_PWR_P9, 7),
};
#undef C
static MP_DEFINE_CONST_DICT(network_bt_locals_dict, network_bt_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
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
