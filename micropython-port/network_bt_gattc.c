/*
 * mpble: Pycom's GATT client classes, GATTCConnection, GATTCService and
 * GATTCCharacteristic (reference §3, §4, §5). Marshalling and waiting: the
 * core runs one client operation at a time (as the firmware does) and keeps
 * its results until they are copied into Python objects here.
 *
 * Every blocking call waits in the port's idle loop (mpble_port_wait) and
 * ends with the operation's result, OSError(ENOTCONN) when the link drops,
 * or OSError(ETIMEDOUT) after GATTC_TIMEOUT_MS. It works inside a callback
 * too: the wait pumps the core; other callbacks wait for the outer one.
 */
#include <string.h>

#include "py/mperrno.h"
#include "py/runtime.h"

#include "mpble_port.h"
#include "network_bt.h"

// A client operation is a chain of ATT requests, each bounded by the 30 s
// ATT transaction timeout (Vol 3 Part F 3.3.3), after which the core ends
// it; this bound only catches what the core somehow did not end.
#define GATTC_TIMEOUT_MS (35000)
// Client Characteristic Configuration (Vol 3 Part G 3.3.3.3).
#define GATTC_CCCD_UUID (0x2902)

enum {
    GATTC_OP_SERVICES = 0,
    GATTC_OP_CHARACTERISTICS = 1,
    GATTC_OP_DESCRIPTORS = 2,
    GATTC_OP_READ = 3,
    GATTC_OP_WRITE = 4,
};

typedef struct _network_bt_gattc_service_obj_t {
    mp_obj_base_t base;
    network_bt_gattc_conn_obj_t *conn;
    uint16_t start;
    uint16_t end;
    mp_obj_t uuid;
    mp_obj_t chars;
} network_bt_gattc_service_obj_t;

mp_obj_t network_bt_gattc_conn_new(uint16_t conn, uint16_t generation) {
    network_bt_gattc_conn_obj_t *c = mp_obj_malloc(network_bt_gattc_conn_obj_t, &network_bt_gattc_conn_type);
    c->conn = conn;
    c->generation = generation;
    mpble_port_lock();
    int32_t mtu = mpble_pycom_link_mtu(conn);
    mpble_port_unlock();
    c->mtu = mtu < 0 ? 0 : (uint16_t)mtu;
    c->services = mp_obj_new_list(0, NULL);
    return MP_OBJ_FROM_PTR(c);
}

static bool gattc_alive(network_bt_gattc_conn_obj_t *c) {
    mpble_port_lock();
    int32_t g = mpble_pycom_link_generation(c->conn);
    mpble_port_unlock();
    return g == c->generation;
}

static void gattc_check_alive(network_bt_gattc_conn_obj_t *c) {
    if (!gattc_alive(c)) {
        network_bt_raise_code(MPBLE_PYCOM_NOT_CONNECTED);
    }
}

// The result of the operation gattc_run waits for (main thread only).
static int32_t gattc_result;

static bool gattc_op_settled(void) {
    mpble_port_lock();
    // Once it has ended, the core hands the result over once.
    int32_t r = mpble_pycom_client_status();
    mpble_port_unlock_after_call();
    if (r == MPBLE_PYCOM_PENDING) {
        return false;
    }
    gattc_result = r;
    return true;
}

// Result `i` of the last discovery, read under the lock; false past the end.
static bool gattc_record(size_t i, MpblePycomRecord *rec) {
    mpble_port_lock();
    bool got = mpble_pycom_client_record(i, rec);
    mpble_port_unlock();
    return got;
}

// Runs one client operation to its end; raises on failure.
static void gattc_run(network_bt_gattc_conn_obj_t *c, uint8_t op, uint16_t a, uint16_t b, const uint8_t *data, size_t len) {
    gattc_check_alive(c);
    mpble_port_lock();
    int32_t r = mpble_pycom_client_start(c->conn, c->generation, op, a, b, data, len);
    mpble_port_unlock_after_call();
    if (r != MPBLE_PYCOM_OK) {
        network_bt_raise_code(r);
    }
    gattc_result = MPBLE_PYCOM_FAILED;
    nlr_buf_t nlr;
    bool done = false;
    if (nlr_push(&nlr) == 0) {
        done = mpble_port_wait(gattc_op_settled, GATTC_TIMEOUT_MS);
        nlr_pop();
    } else {
        // Ctrl-C: the core forgets the operation (its answer is ignored).
        mpble_port_lock();
        mpble_pycom_client_abandon();
        mpble_port_unlock_after_call();
        nlr_jump(nlr.ret_val);
    }
    if (!done) {
        mpble_port_lock();
        mpble_pycom_client_abandon();
        mpble_port_unlock_after_call();
        network_bt_raise(MP_ETIMEDOUT, "the peer did not answer");
    }
    if (gattc_result != MPBLE_PYCOM_OK) {
        network_bt_raise_code(gattc_result);
    }
}

// ---------------------------------------------------------------------------
// GATTCConnection
// ---------------------------------------------------------------------------

static mp_obj_t gattc_conn_isconnected(mp_obj_t self_in) {
    mpble_port_process();
    return mp_obj_new_bool(gattc_alive(MP_OBJ_TO_PTR(self_in)));
}
static MP_DEFINE_CONST_FUN_OBJ_1(gattc_conn_isconnected_obj, gattc_conn_isconnected);

static mp_obj_t gattc_conn_disconnect(mp_obj_t self_in) {
    network_bt_gattc_conn_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mpble_port_lock();
    mpble_pycom_disconnect(self->conn, self->generation);
    mpble_port_unlock_after_call();
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(gattc_conn_disconnect_obj, gattc_conn_disconnect);

static mp_obj_t gattc_conn_get_mtu(mp_obj_t self_in) {
    network_bt_gattc_conn_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (!gattc_alive(self)) {
        return mp_const_none;
    }
    mpble_port_lock();
    int32_t mtu = mpble_pycom_link_mtu(self->conn);
    mpble_port_unlock();
    return MP_OBJ_NEW_SMALL_INT(mtu < 0 ? self->mtu : mtu);
}
static MP_DEFINE_CONST_FUN_OBJ_1(gattc_conn_get_mtu_obj, gattc_conn_get_mtu);

static mp_obj_t gattc_conn_services(mp_obj_t self_in) {
    network_bt_gattc_conn_obj_t *self = MP_OBJ_TO_PTR(self_in);
    gattc_run(self, GATTC_OP_SERVICES, 0, 0, NULL, 0);
    // The connection's list, cleared and refilled (reference §3).
    mp_obj_list_t *list = MP_OBJ_TO_PTR(self->services);
    list->len = 0;
    MpblePycomRecord rec;
    for (size_t i = 0; gattc_record(i, &rec); i++) {
        network_bt_gattc_service_obj_t *s = mp_obj_malloc(network_bt_gattc_service_obj_t, &network_bt_gattc_service_type);
        s->conn = self;
        s->start = rec.handle;
        s->end = rec.end;
        s->uuid = network_bt_uuid_obj(rec.uuid, rec.uuid_len);
        s->chars = mp_obj_new_list(0, NULL);
        mp_obj_list_append(self->services, MP_OBJ_FROM_PTR(s));
    }
    return self->services;
}
static MP_DEFINE_CONST_FUN_OBJ_1(gattc_conn_services_obj, gattc_conn_services);

static const mp_rom_map_elem_t gattc_conn_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_isconnected), MP_ROM_PTR(&gattc_conn_isconnected_obj) },
    { MP_ROM_QSTR(MP_QSTR_disconnect), MP_ROM_PTR(&gattc_conn_disconnect_obj) },
    { MP_ROM_QSTR(MP_QSTR_services), MP_ROM_PTR(&gattc_conn_services_obj) },
    { MP_ROM_QSTR(MP_QSTR_get_mtu), MP_ROM_PTR(&gattc_conn_get_mtu_obj) },
};
static MP_DEFINE_CONST_DICT(gattc_conn_locals_dict, gattc_conn_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
    network_bt_gattc_conn_type,
    MP_QSTR_GATTCConnection,
    MP_TYPE_FLAG_NONE,
    locals_dict, &gattc_conn_locals_dict
    );

// ---------------------------------------------------------------------------
// GATTCService
// ---------------------------------------------------------------------------

static mp_obj_t gattc_service_isprimary(mp_obj_t self_in) {
    // Discovery finds primary services only (Discover All Primary Services).
    (void)self_in;
    return mp_const_true;
}
static MP_DEFINE_CONST_FUN_OBJ_1(gattc_service_isprimary_obj, gattc_service_isprimary);

static mp_obj_t gattc_service_uuid(mp_obj_t self_in) {
    network_bt_gattc_service_obj_t *self = MP_OBJ_TO_PTR(self_in);
    return self->uuid;
}
static MP_DEFINE_CONST_FUN_OBJ_1(gattc_service_uuid_obj, gattc_service_uuid);

static mp_obj_t gattc_instance(mp_obj_t self_in) {
    // The firmware always reports 0 (reference §13 item 12).
    (void)self_in;
    return MP_OBJ_NEW_SMALL_INT(0);
}
static MP_DEFINE_CONST_FUN_OBJ_1(gattc_instance_obj, gattc_instance);

static mp_obj_t gattc_service_characteristics(mp_obj_t self_in) {
    network_bt_gattc_service_obj_t *self = MP_OBJ_TO_PTR(self_in);
    gattc_run(self->conn, GATTC_OP_CHARACTERISTICS, self->start, self->end, NULL, 0);
    mp_obj_list_t *list = MP_OBJ_TO_PTR(self->chars);
    list->len = 0;
    MpblePycomRecord rec;
    for (size_t i = 0; gattc_record(i, &rec); i++) {
        network_bt_gattc_char_obj_t *c = mp_obj_malloc(network_bt_gattc_char_obj_t, &network_bt_gattc_char_type);
        c->conn = self->conn;
        c->value_handle = rec.end;
        c->end = self->end;
        c->properties = rec.properties;
        c->uuid = network_bt_uuid_obj(rec.uuid, rec.uuid_len);
        // Before any read or notification (reference §13 item 11).
        c->value = mp_obj_new_bytes((const uint8_t *)"", 1);
        c->handler = MP_OBJ_NULL;
        c->arg = MP_OBJ_NULL;
        // Its descriptors end before the next characteristic's declaration.
        size_t n;
        mp_obj_t *items;
        mp_obj_list_get(self->chars, &n, &items);
        if (n > 0) {
            network_bt_gattc_char_obj_t *prev = MP_OBJ_TO_PTR(items[n - 1]);
            prev->end = rec.handle - 1;
        }
        mp_obj_list_append(self->chars, MP_OBJ_FROM_PTR(c));
    }
    return self->chars;
}
static MP_DEFINE_CONST_FUN_OBJ_1(gattc_service_characteristics_obj, gattc_service_characteristics);

static const mp_rom_map_elem_t gattc_service_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_isprimary), MP_ROM_PTR(&gattc_service_isprimary_obj) },
    { MP_ROM_QSTR(MP_QSTR_uuid), MP_ROM_PTR(&gattc_service_uuid_obj) },
    { MP_ROM_QSTR(MP_QSTR_instance), MP_ROM_PTR(&gattc_instance_obj) },
    { MP_ROM_QSTR(MP_QSTR_characteristics), MP_ROM_PTR(&gattc_service_characteristics_obj) },
};
static MP_DEFINE_CONST_DICT(gattc_service_locals_dict, gattc_service_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
    network_bt_gattc_service_type,
    MP_QSTR_GATTCService,
    MP_TYPE_FLAG_NONE,
    locals_dict, &gattc_service_locals_dict
    );

// ---------------------------------------------------------------------------
// GATTCCharacteristic
// ---------------------------------------------------------------------------

static mp_obj_t gattc_char_uuid(mp_obj_t self_in) {
    network_bt_gattc_char_obj_t *self = MP_OBJ_TO_PTR(self_in);
    return self->uuid;
}
static MP_DEFINE_CONST_FUN_OBJ_1(gattc_char_uuid_obj, gattc_char_uuid);

static mp_obj_t gattc_char_properties(mp_obj_t self_in) {
    network_bt_gattc_char_obj_t *self = MP_OBJ_TO_PTR(self_in);
    return MP_OBJ_NEW_SMALL_INT(self->properties);
}
static MP_DEFINE_CONST_FUN_OBJ_1(gattc_char_properties_obj, gattc_char_properties);

// Reads `handle` whole (a long read, Vol 3 Part G 4.8.3).
static mp_obj_t gattc_read_handle(network_bt_gattc_conn_obj_t *conn, uint16_t handle) {
    gattc_run(conn, GATTC_OP_READ, handle, 0, NULL, 0);
    uint8_t buf[512];
    mpble_port_lock();
    size_t len = mpble_pycom_client_value(buf, sizeof(buf));
    mpble_port_unlock();
    return mpble_port_new_bytes(buf, len);
}

static mp_obj_t gattc_char_read(mp_obj_t self_in) {
    network_bt_gattc_char_obj_t *self = MP_OBJ_TO_PTR(self_in);
    self->value = gattc_read_handle(self->conn, self->value_handle);
    return self->value;
}
static MP_DEFINE_CONST_FUN_OBJ_1(gattc_char_read_obj, gattc_char_read);

static mp_obj_t gattc_char_value(mp_obj_t self_in) {
    network_bt_gattc_char_obj_t *self = MP_OBJ_TO_PTR(self_in);
    return self->value;
}
static MP_DEFINE_CONST_FUN_OBJ_1(gattc_char_value_obj, gattc_char_value);

static mp_obj_t gattc_char_write(mp_obj_t self_in, mp_obj_t value_in) {
    network_bt_gattc_char_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_buffer_info_t buf;
    mpble_port_arg_buf(value_in, MP_QSTR_value, &buf);
    if (buf.len > 512) {
        mp_raise_ValueError(MP_ERROR_TEXT("value: at most 512 bytes (Vol 3 Part F 3.2.9)"));
    }
    // Always a Write Request, as the firmware does.
    gattc_run(self->conn, GATTC_OP_WRITE, self->value_handle, 0, buf.buf, buf.len);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(gattc_char_write_obj, gattc_char_write);

// The handle of this characteristic's descriptor `uuid`, or 0.
static uint16_t gattc_find_descriptor(network_bt_gattc_char_obj_t *self, uint16_t uuid) {
    if (self->value_handle >= self->end) {
        return 0;
    }
    gattc_run(self->conn, GATTC_OP_DESCRIPTORS, self->value_handle + 1, self->end, NULL, 0);
    MpblePycomRecord rec;
    for (size_t i = 0; gattc_record(i, &rec); i++) {
        if (rec.uuid_len == 2 && (rec.uuid[0] | (rec.uuid[1] << 8)) == uuid) {
            return rec.handle;
        }
    }
    return 0;
}

static mp_obj_t gattc_char_read_descriptor(mp_obj_t self_in, mp_obj_t uuid_in) {
    network_bt_gattc_char_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_int_t uuid = mpble_port_arg_int(uuid_in, MP_QSTR_uuid);
    if (uuid < 0 || uuid > 0xFFFF) {
        mp_raise_ValueError(MP_ERROR_TEXT("uuid: a 16-bit descriptor UUID"));
    }
    uint16_t h = gattc_find_descriptor(self, (uint16_t)uuid);
    if (h == 0) {
        return mp_const_none;
    }
    return gattc_read_handle(self->conn, h);
}
static MP_DEFINE_CONST_FUN_OBJ_2(gattc_char_read_descriptor_obj, gattc_char_read_descriptor);

// The characteristics with a notification handler (root pointer list).
static void gattc_subs_set(network_bt_gattc_char_obj_t *self, bool on) {
    mp_obj_t list = network_bt_root_list(NETWORK_BT_ROOT_GATTC_SUBS);
    mp_obj_t me = MP_OBJ_FROM_PTR(self);
    size_t n;
    mp_obj_t *items;
    mp_obj_list_get(list, &n, &items);
    for (size_t i = 0; i < n; i++) {
        if (items[i] == me) {
            if (!on) {
                mp_obj_list_remove(list, me);
            }
            return;
        }
    }
    if (on) {
        mp_obj_list_append(list, me);
    }
}

static mp_obj_t gattc_char_callback(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_trigger, ARG_handler, ARG_arg };
    static const mp_arg_t allowed[] = {
        { MP_QSTR_trigger, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_handler, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_arg, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
    };
    network_bt_gattc_char_obj_t *self = MP_OBJ_TO_PTR(pos_args[0]);
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed), allowed, args);
    mp_obj_t trigger = args[ARG_trigger].u_obj;
    mp_obj_t handler = args[ARG_handler].u_obj;
    if (trigger == mp_const_none || handler == mp_const_none) {
        // Removed; the peer is not told (the firmware writes no CCCD 0).
        self->handler = MP_OBJ_NULL;
        gattc_subs_set(self, false);
        mpble_port_lock();
        mpble_pycom_subscribe(self->conn->conn, self->conn->generation, self->value_handle, false);
        mpble_port_unlock_after_call();
        return mp_const_none;
    }
    if (mpble_port_arg_int(trigger, MP_QSTR_trigger) != NETWORK_BT_CHAR_NOTIFY_EVENT) {
        mp_raise_ValueError(MP_ERROR_TEXT("invalid trigger"));
    }
    if (!mp_obj_is_callable(handler)) {
        mp_raise_TypeError(MP_ERROR_TEXT("handler must be callable"));
    }
    gattc_check_alive(self->conn);
    mpble_port_lock();
    int32_t r = mpble_pycom_subscribe(self->conn->conn, self->conn->generation, self->value_handle, true);
    mpble_port_unlock_after_call();
    if (r != MPBLE_PYCOM_OK) {
        network_bt_raise_code(r);
    }
    self->handler = handler;
    self->arg = args[ARG_arg].u_obj == mp_const_none ? MP_OBJ_NULL : args[ARG_arg].u_obj;
    gattc_subs_set(self, true);
    // The CCCD is written for the user: notifications on (0x0001, Vol 3
    // Part G 3.3.3.3). No CCCD: nothing to write, as on the firmware.
    uint16_t cccd = gattc_find_descriptor(self, GATTC_CCCD_UUID);
    if (cccd != 0) {
        static const uint8_t on[2] = { 0x01, 0x00 };
        gattc_run(self->conn, GATTC_OP_WRITE, cccd, 0, on, sizeof(on));
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(gattc_char_callback_obj, 1, gattc_char_callback);

static const mp_rom_map_elem_t gattc_char_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_uuid), MP_ROM_PTR(&gattc_char_uuid_obj) },
    { MP_ROM_QSTR(MP_QSTR_instance), MP_ROM_PTR(&gattc_instance_obj) },
    { MP_ROM_QSTR(MP_QSTR_properties), MP_ROM_PTR(&gattc_char_properties_obj) },
    { MP_ROM_QSTR(MP_QSTR_read), MP_ROM_PTR(&gattc_char_read_obj) },
    { MP_ROM_QSTR(MP_QSTR_value), MP_ROM_PTR(&gattc_char_value_obj) },
    { MP_ROM_QSTR(MP_QSTR_write), MP_ROM_PTR(&gattc_char_write_obj) },
    { MP_ROM_QSTR(MP_QSTR_read_descriptor), MP_ROM_PTR(&gattc_char_read_descriptor_obj) },
    { MP_ROM_QSTR(MP_QSTR_callback), MP_ROM_PTR(&gattc_char_callback_obj) },
};
static MP_DEFINE_CONST_DICT(gattc_char_locals_dict, gattc_char_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
    network_bt_gattc_char_type,
    MP_QSTR_GATTCCharacteristic,
    MP_TYPE_FLAG_NONE,
    locals_dict, &gattc_char_locals_dict
    );

// A notification or indication for a characteristic with a handler:
// (NOTIFY, conn, value_handle, event, data). The cached value() changes,
// then the handler runs with the payload it came with (reference §5.1).
void network_bt_gattc_dispatch(size_t n, const mp_obj_t *items) {
    if (n < 5) {
        return;
    }
    mp_int_t conn = mp_obj_get_int(items[1]);
    mp_int_t handle = mp_obj_get_int(items[2]);
    mp_obj_t list = network_bt_root_list(NETWORK_BT_ROOT_GATTC_SUBS);
    size_t count;
    mp_obj_t *subs;
    mp_obj_list_get(list, &count, &subs);
    for (size_t i = 0; i < count; i++) {
        network_bt_gattc_char_obj_t *c = MP_OBJ_TO_PTR(subs[i]);
        if (c->conn->conn != conn || c->value_handle != handle || !gattc_alive(c->conn)) {
            continue;
        }
        c->value = items[4];
        if (c->handler != MP_OBJ_NULL) {
            mp_obj_t arg = c->arg == MP_OBJ_NULL ? MP_OBJ_FROM_PTR(c) : c->arg;
            network_bt_call_handler(c->handler, arg, mp_obj_get_int(items[3]), items[4]);
        }
        return;
    }
}
