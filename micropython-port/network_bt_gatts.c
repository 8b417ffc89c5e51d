/*
 * mpble: Pycom's GATT server classes, GATTSService and GATTSCharacteristic
 * (reference §6, §7, §8.3, §9). Marshalling only; the characteristic's
 * value lives in the core's attribute table, its event bits and trigger in
 * the Rust adapter, its handler here.
 */
#include <string.h>

#include "py/mperrno.h"
#include "py/runtime.h"

#include "mpble_port.h"
#include "network_bt.h"

// How long value(x) waits for room to send to a subscribed client before
// giving up with OSError (the controller takes data every connection
// event; a client that stops acknowledging is dropped within its
// supervision timeout anyway).
#define GATTS_NOTIFY_WAIT_MS (5000)

typedef struct _network_bt_gatts_service_obj_t {
    mp_obj_base_t base;
    size_t index;
} network_bt_gatts_service_obj_t;

mp_obj_t network_bt_gatts_service_new(size_t index) {
    network_bt_gatts_service_obj_t *s = mp_obj_malloc(network_bt_gatts_service_obj_t, &network_bt_gatts_service_type);
    s->index = index;
    return MP_OBJ_FROM_PTR(s);
}

// The bytes an int, str or buffer value stands for (reference §9.1, §9.2).
// `scratch` holds an int's encoding.
static const uint8_t *gatts_value_bytes(mp_obj_t v, bool setter, uint8_t scratch[4], size_t *len) {
    if (mp_obj_is_int(v)) {
        *len = mpble_pycom_encode_int(mp_obj_get_int_truncated(v), setter, scratch);
        return scratch;
    }
    mp_buffer_info_t buf;
    if (!mp_get_buffer(v, &buf, MP_BUFFER_READ)) {
        mp_raise_TypeError(MP_ERROR_TEXT("value must be an int, a str or bytes"));
    }
    *len = buf.len;
    return buf.buf;
}

static mp_obj_t gatts_service_start(mp_obj_t self_in) {
    // Services are visible from creation: ATT's table has no hidden rows,
    // and a client discovers what is there (docs/DECISIONS.md).
    (void)self_in;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(gatts_service_start_obj, gatts_service_start);

static mp_obj_t gatts_service_stop(mp_obj_t self_in) {
    (void)self_in;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(gatts_service_stop_obj, gatts_service_stop);

static mp_obj_t gatts_service_characteristic(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_uuid, ARG_permissions, ARG_properties, ARG_value };
    // All keyword-only, uuid required (reference §6).
    static const mp_arg_t allowed[] = {
        { MP_QSTR_uuid, MP_ARG_KW_ONLY | MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_permissions, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_properties, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_value, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    };
    network_bt_gatts_service_obj_t *self = MP_OBJ_TO_PTR(pos_args[0]);
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed), allowed, args);
    uint8_t uuid[16];
    size_t uuid_len = network_bt_uuid_arg(args[ARG_uuid].u_obj, MP_QSTR_uuid, uuid);
    // PERM_READ | PERM_WRITE and PROP_READ | PROP_WRITE | PROP_NOTIFY by
    // default; with security on (a PIN), PERM_READ_ENCRYPTED |
    // PERM_WRITE_ENCRYPTED (reference §6).
    mpble_port_lock();
    mp_int_t perms = mpble_pycom_secure() ? 0x22 : 0x11;
    mpble_port_unlock();
    if (args[ARG_permissions].u_obj != mp_const_none) {
        perms = mpble_port_arg_int(args[ARG_permissions].u_obj, MP_QSTR_permissions);
        if (perms < 0 || perms > 0x1FF) {
            mp_raise_ValueError(MP_ERROR_TEXT("permissions: PERM_* bits"));
        }
    }
    mp_int_t props = 2 | 8 | 16;
    if (args[ARG_properties].u_obj != mp_const_none) {
        props = mpble_port_arg_int(args[ARG_properties].u_obj, MP_QSTR_properties);
        if (props < 0 || props > 0xFF) {
            mp_raise_ValueError(MP_ERROR_TEXT("properties: PROP_* bits"));
        }
    }
    uint8_t scratch[4] = { 0 };
    size_t len = 1;
    const uint8_t *value = scratch;
    if (args[ARG_value].u_obj != mp_const_none) {
        value = gatts_value_bytes(args[ARG_value].u_obj, false, scratch, &len);
    }
    mpble_port_lock();
    int32_t r = mpble_pycom_add_characteristic(self->index, uuid, uuid_len, (uint16_t)perms, (uint8_t)props, value, len);
    mpble_port_unlock_after_call();
    if (r < 0) {
        network_bt_raise_code(-r);
    }
    network_bt_gatts_char_obj_t *c = mp_obj_malloc(network_bt_gatts_char_obj_t, &network_bt_gatts_char_type);
    c->index = (size_t)r;
    c->handler = MP_OBJ_NULL;
    c->arg = MP_OBJ_NULL;
    // The core names it by index: keep the object findable (and alive)
    // for its events.
    mp_obj_t list = network_bt_root_list(NETWORK_BT_ROOT_GATTS_CHARS);
    size_t n;
    mp_obj_t *items;
    mp_obj_list_get(list, &n, &items);
    while (n <= c->index) {
        mp_obj_list_append(list, mp_const_none);
        n++;
    }
    mp_obj_list_store(list, MP_OBJ_NEW_SMALL_INT(c->index), MP_OBJ_FROM_PTR(c));
    return MP_OBJ_FROM_PTR(c);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(gatts_service_characteristic_obj, 1, gatts_service_characteristic);

static const mp_rom_map_elem_t gatts_service_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_start), MP_ROM_PTR(&gatts_service_start_obj) },
    { MP_ROM_QSTR(MP_QSTR_stop), MP_ROM_PTR(&gatts_service_stop_obj) },
    { MP_ROM_QSTR(MP_QSTR_characteristic), MP_ROM_PTR(&gatts_service_characteristic_obj) },
};
static MP_DEFINE_CONST_DICT(gatts_service_locals_dict, gatts_service_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
    network_bt_gatts_service_type,
    MP_QSTR_GATTSService,
    MP_TYPE_FLAG_NONE,
    locals_dict, &gatts_service_locals_dict
    );

// ---------------------------------------------------------------------------
// GATTSCharacteristic
// ---------------------------------------------------------------------------

static size_t gatts_notify_index;
static uint32_t gatts_notify_mask;

// Sends what is left to send; true when done.
static bool gatts_notify_done(void) {
    mpble_port_lock();
    gatts_notify_mask = mpble_pycom_char_notify(gatts_notify_index, gatts_notify_mask, mpble_port_now_ms());
    mpble_port_unlock_after_call();
    return gatts_notify_mask == 0;
}

static mp_obj_t gatts_char_value(size_t n_args, const mp_obj_t *args) {
    network_bt_gatts_char_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    if (n_args == 1) {
        uint8_t buf[512];
        mpble_port_lock();
        size_t len = mpble_pycom_char_value(self->index, buf, sizeof(buf));
        mpble_port_unlock();
        return mpble_port_new_bytes(buf, len);
    }
    uint8_t scratch[4];
    size_t len;
    const uint8_t *value = gatts_value_bytes(args[1], true, scratch, &len);
    mpble_port_lock();
    int32_t mask = mpble_pycom_char_set_value(self->index, value, len);
    mpble_port_unlock_after_call();
    if (mask < 0) {
        network_bt_raise_code(-mask);
    }
    if (mask == 0) {
        return mp_const_none;
    }
    // Every subscribed client gets this value: when the controller has no
    // room, wait for it instead of dropping the update (Pycom loses
    // notifications on rapid updates; reference issue list).
    gatts_notify_index = self->index;
    gatts_notify_mask = (uint32_t)mask;
    if (!mpble_port_wait(gatts_notify_done, GATTS_NOTIFY_WAIT_MS)) {
        network_bt_raise(MP_ETIMEDOUT, "Erorr while sending BLE indication/notification");
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(gatts_char_value_obj, 1, 2, gatts_char_value);

static mp_obj_t gatts_char_callback(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_trigger, ARG_handler, ARG_arg };
    static const mp_arg_t allowed[] = {
        { MP_QSTR_trigger, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_handler, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_arg, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    };
    network_bt_gatts_char_obj_t *self = MP_OBJ_TO_PTR(pos_args[0]);
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
        self->handler = handler;
        self->arg = args[ARG_arg].u_obj == mp_const_none ? MP_OBJ_NULL : args[ARG_arg].u_obj;
    } else {
        self->handler = MP_OBJ_NULL;
    }
    mpble_port_lock();
    mpble_pycom_char_set_trigger(self->index, bits);
    mpble_port_unlock_after_call();
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(gatts_char_callback_obj, 1, gatts_char_callback);

static mp_obj_t gatts_char_events(mp_obj_t self_in) {
    network_bt_gatts_char_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mpble_port_lock();
    uint8_t e = mpble_pycom_char_take_events(self->index);
    mpble_port_unlock_after_call();
    return MP_OBJ_NEW_SMALL_INT(e);
}
static MP_DEFINE_CONST_FUN_OBJ_1(gatts_char_events_obj, gatts_char_events);

static mp_obj_t gatts_char_config(mp_obj_t self_in) {
    network_bt_gatts_char_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mpble_port_lock();
    uint16_t c = mpble_pycom_char_config(self->index);
    mpble_port_unlock();
    return MP_OBJ_NEW_SMALL_INT(c);
}
static MP_DEFINE_CONST_FUN_OBJ_1(gatts_char_config_obj, gatts_char_config);

static const mp_rom_map_elem_t gatts_char_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_value), MP_ROM_PTR(&gatts_char_value_obj) },
    { MP_ROM_QSTR(MP_QSTR_callback), MP_ROM_PTR(&gatts_char_callback_obj) },
    { MP_ROM_QSTR(MP_QSTR_events), MP_ROM_PTR(&gatts_char_events_obj) },
    { MP_ROM_QSTR(MP_QSTR_config), MP_ROM_PTR(&gatts_char_config_obj) },
};
static MP_DEFINE_CONST_DICT(gatts_char_locals_dict, gatts_char_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
    network_bt_gatts_char_type,
    MP_QSTR_GATTSCharacteristic,
    MP_TYPE_FLAG_NONE,
    locals_dict, &gatts_char_locals_dict
    );

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

static network_bt_gatts_char_obj_t *gatts_char_at(mp_obj_t index) {
    mp_obj_t list = network_bt_root_list(NETWORK_BT_ROOT_GATTS_CHARS);
    size_t n;
    mp_obj_t *items;
    mp_obj_list_get(list, &n, &items);
    mp_int_t i = mp_obj_get_int(index);
    if (i < 0 || (size_t)i >= n || items[i] == mp_const_none) {
        return NULL;
    }
    return MP_OBJ_TO_PTR(items[i]);
}

// A read handler's result as the Read Response (reference §8.3): None
// sends the stored value (as the handler left it), an int its big-endian
// 1/2/4 bytes, a str or buffer its bytes. Anything else fails the read with
// Unlikely Error and raises TypeError in the handler's context.
static void gatts_read_reply(size_t conn, mp_obj_t result) {
    uint8_t scratch[4];
    size_t len = 0;
    const uint8_t *data = NULL;
    mp_buffer_info_t buf;
    if (result == mp_const_none) {
        data = NULL;
    } else if (mp_obj_is_int(result)) {
        len = mpble_pycom_encode_int(mp_obj_get_int_truncated(result), false, scratch);
        data = scratch;
    } else if (mp_get_buffer(result, &buf, MP_BUFFER_READ)) {
        data = buf.len ? buf.buf : (const uint8_t *)"";
        len = buf.len;
    } else {
        mpble_port_lock();
        mpble_pycom_read_reply(conn, NETWORK_BT_ATT_UNLIKELY_ERROR, NULL, 0);
        mpble_port_unlock_after_call();
        mp_raise_TypeError(MP_ERROR_TEXT("a read handler returns None, an int, a str or bytes"));
    }
    mpble_port_lock();
    mpble_pycom_read_reply(conn, 0, data, len);
    mpble_port_unlock_after_call();
}

void network_bt_gatts_dispatch(mp_int_t kind, size_t n, const mp_obj_t *items) {
    if (kind == MPBLE_PYCOM_TUPLE_READ && n >= 3) {
        size_t conn = mp_obj_get_int(items[2]);
        network_bt_gatts_char_obj_t *c = gatts_char_at(items[1]);
        if (c == NULL || c->handler == MP_OBJ_NULL) {
            gatts_read_reply(conn, mp_const_none);
            return;
        }
        mp_obj_t arg = c->arg == MP_OBJ_NULL ? MP_OBJ_FROM_PTR(c) : c->arg;
        nlr_buf_t nlr;
        if (nlr_push(&nlr) == 0) {
            mp_obj_t r = network_bt_call_handler(c->handler, arg, NETWORK_BT_CHAR_READ_EVENT, mp_const_none);
            nlr_pop();
            gatts_read_reply(conn, r);
        } else {
            // The handler failed: the client gets an error now rather than
            // waiting out its 30 s ATT timeout; the exception goes on.
            mpble_port_lock();
            mpble_pycom_read_reply(conn, NETWORK_BT_ATT_UNLIKELY_ERROR, NULL, 0);
            mpble_port_unlock_after_call();
            nlr_jump(nlr.ret_val);
        }
        return;
    }
    if (kind == MPBLE_PYCOM_TUPLE_CHAR && n >= 4) {
        network_bt_gatts_char_obj_t *c = gatts_char_at(items[1]);
        if (c == NULL || c->handler == MP_OBJ_NULL) {
            return;
        }
        mp_obj_t arg = c->arg == MP_OBJ_NULL ? MP_OBJ_FROM_PTR(c) : c->arg;
        network_bt_call_handler(c->handler, arg, mp_obj_get_int(items[2]), items[3]);
    }
}
