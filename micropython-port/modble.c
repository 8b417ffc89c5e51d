/*
 * mpble: QuecPython's `ble` module (server side and common functions).
 *
 * Argument marshalling only: every function converts its arguments, calls
 * the matching mpble_qpy_* function of the Rust core (include/mpble.h) and
 * returns its result (0 accepted / -1 refused). Ranges are checked by the
 * core, not here. Events reach the callbacks given to serverInit/clientInit
 * through mpble_port.c.
 *
 * Every function keeps the vendor's fixed positional arity.
 */
#include "py/runtime.h"

#include "mpble_hal.h"
#include "mpble_port.h"

#define BLE_INT(o, name) mpble_port_arg_int((o), MP_QSTR_##name)

static mp_obj_t ble_result(int32_t r) {
    return mp_obj_new_int(r);
}

static mp_obj_t ble___init__(void) {
    mpble_port_init();
    // smpGetPairedDevInfo() lists the stored bonds before gattStart.
    mpble_port_load_bonds();
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(ble___init___obj, ble___init__);

// ---------------------------------------------------------------------------
// Common
// ---------------------------------------------------------------------------

static mp_obj_t ble_gatt_start(void) {
    const char *msg;
    if (mpble_port_open(&msg) != 0) {
        mp_printf(&mp_plat_print, "%s\n", msg);
        return ble_result(-1);
    }
    mpble_port_lock();
    int32_t r = mpble_qpy_gatt_start(mpble_port_now_ms());
    // Sends the bring-up commands; event 0 reaches the callback later.
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_0(ble_gatt_start_obj, ble_gatt_start);

static mp_obj_t ble_gatt_stop(void) {
    // The transport stays open: a real UART stays wired.
    mpble_port_lock();
    int32_t r = mpble_qpy_gatt_stop(mpble_port_now_ms());
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_0(ble_gatt_stop_obj, ble_gatt_stop);

static mp_obj_t ble_get_status(void) {
    mpble_port_lock();
    int32_t r = mpble_qpy_get_status();
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_0(ble_get_status_obj, ble_get_status);

// Not QuecPython's: ble.mpbleSnoop(path) starts a btsnoop capture of the
// HCI traffic into path (replacing a running one), ble.mpbleSnoop(None)
// stops it. The "mpble" prefix cannot clash with a name the vendor adds.
// Returns 0, or -1 (with the reason printed), like the module's own calls.
static mp_obj_t ble_mpble_snoop(mp_obj_t path_in) {
    const char *path = path_in == mp_const_none ? NULL : mp_obj_str_get_str(path_in);
    const char *msg;
    if (mpble_hal_snoop(path, &msg) != 0) {
        mp_printf(&mp_plat_print, "%s\n", msg);
        return ble_result(-1);
    }
    return ble_result(0);
}
static MP_DEFINE_CONST_FUN_OBJ_1(ble_mpble_snoop_obj, ble_mpble_snoop);

static mp_obj_t ble_get_public_addr(void) {
    uint8_t addr[6];
    mpble_port_lock();
    int32_t r = mpble_public_addr(addr);
    mpble_port_unlock_after_call();
    if (r != 0) {
        return ble_result(-1);
    }
    // LSB first, as in HCI (and as the vendor firmware returns it).
    return mp_obj_new_bytes(addr, sizeof(addr));
}
static MP_DEFINE_CONST_FUN_OBJ_0(ble_get_public_addr_obj, ble_get_public_addr);

// mpble's own diagnostics, not a vendor call (the prefix keeps it clear of
// any name Quectel may add): a dict of every drop counter of the stack.
static mp_obj_t ble_mpble_stats(void) {
    return mpble_port_stats_dict();
}
static MP_DEFINE_CONST_FUN_OBJ_0(ble_mpble_stats_obj, ble_mpble_stats);

// ---------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------

static mp_obj_t ble_role_init(mp_obj_t user_cb, int32_t (*init)(void), mpble_port_cb_t slot) {
    if (!mp_obj_is_callable(user_cb)) {
        mp_raise_msg_varg(&mp_type_TypeError, MP_ERROR_TEXT("%q must be callable"), MP_QSTR_user_cb);
    }
    mpble_port_lock();
    int32_t r = init();
    if (r == 0) {
        mpble_port_set_callback(slot, user_cb);
    }
    mpble_port_unlock_after_call();
    return ble_result(r);
}

static mp_obj_t ble_role_release(int32_t (*release)(void), mpble_port_cb_t slot) {
    mpble_port_lock();
    int32_t r = release();
    // Events arriving after a release are dropped (vendor behaviour).
    mpble_port_set_callback(slot, MP_OBJ_NULL);
    mpble_port_unlock_after_call();
    return ble_result(r);
}

static mp_obj_t ble_server_init(mp_obj_t user_cb) {
    return ble_role_init(user_cb, mpble_qpy_server_init, MPBLE_PORT_CB_QPY_SERVER);
}
static MP_DEFINE_CONST_FUN_OBJ_1(ble_server_init_obj, ble_server_init);

static mp_obj_t ble_server_release(void) {
    return ble_role_release(mpble_qpy_server_release, MPBLE_PORT_CB_QPY_SERVER);
}
static MP_DEFINE_CONST_FUN_OBJ_0(ble_server_release_obj, ble_server_release);

static mp_obj_t ble_client_init(mp_obj_t user_cb) {
    return ble_role_init(user_cb, mpble_qpy_client_init, MPBLE_PORT_CB_QPY_CLIENT);
}
static MP_DEFINE_CONST_FUN_OBJ_1(ble_client_init_obj, ble_client_init);

static mp_obj_t ble_client_release(void) {
    return ble_role_release(mpble_qpy_client_release, MPBLE_PORT_CB_QPY_CLIENT);
}
static MP_DEFINE_CONST_FUN_OBJ_0(ble_client_release_obj, ble_client_release);

// ---------------------------------------------------------------------------
// Server: advertising
// ---------------------------------------------------------------------------

static mp_obj_t ble_set_local_name(mp_obj_t code_in, mp_obj_t name_in) {
    int64_t code = BLE_INT(code_in, code);
    mp_buffer_info_t name;
    mpble_port_arg_buf(name_in, MP_QSTR_name, &name);
    mpble_port_lock();
    int32_t r = mpble_qpy_set_local_name(code, name.buf, name.len);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_2(ble_set_local_name_obj, ble_set_local_name);

static mp_obj_t ble_set_adv_param(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    int64_t min_adv = BLE_INT(args[0], min_adv);
    int64_t max_adv = BLE_INT(args[1], max_adv);
    int64_t adv_type = BLE_INT(args[2], adv_type);
    int64_t addr_type = BLE_INT(args[3], addr_type);
    int64_t channel = BLE_INT(args[4], channel);
    int64_t filter_policy = BLE_INT(args[5], filter_policy);
    int64_t discov_mode = BLE_INT(args[6], discov_mode);
    int64_t no_br_edr = BLE_INT(args[7], no_br_edr);
    int64_t enable_adv = BLE_INT(args[8], enable_adv);
    mpble_port_lock();
    int32_t r = mpble_qpy_set_adv_param(min_adv, max_adv, adv_type, addr_type, channel,
        filter_policy, discov_mode, no_br_edr, enable_adv);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ble_set_adv_param_obj, 9, 9, ble_set_adv_param);

static mp_obj_t ble_set_adv_data(mp_obj_t data_in) {
    mp_buffer_info_t data;
    mpble_port_arg_buf(data_in, MP_QSTR_data, &data);
    mpble_port_lock();
    int32_t r = mpble_qpy_set_adv_data(data.buf, data.len);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_1(ble_set_adv_data_obj, ble_set_adv_data);

static mp_obj_t ble_set_adv_rsp_data(mp_obj_t data_in) {
    mp_buffer_info_t data;
    mpble_port_arg_buf(data_in, MP_QSTR_data, &data);
    mpble_port_lock();
    int32_t r = mpble_qpy_set_adv_rsp_data(data.buf, data.len);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_1(ble_set_adv_rsp_data_obj, ble_set_adv_rsp_data);

static mp_obj_t ble_adv_start(void) {
    mpble_port_lock();
    int32_t r = mpble_qpy_adv_start();
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_0(ble_adv_start_obj, ble_adv_start);

static mp_obj_t ble_adv_stop(void) {
    mpble_port_lock();
    int32_t r = mpble_qpy_adv_stop();
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_0(ble_adv_stop_obj, ble_adv_stop);

// ---------------------------------------------------------------------------
// Server: attribute table
// ---------------------------------------------------------------------------

static mp_obj_t ble_add_service(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    int64_t primary = BLE_INT(args[0], primary);
    int64_t server_id = BLE_INT(args[1], server_id);
    int64_t uuid_type = BLE_INT(args[2], uuid_type);
    int64_t uuid_s = BLE_INT(args[3], uuid_s);
    mp_buffer_info_t uuid_l;
    mpble_port_arg_buf(args[4], MP_QSTR_uuid_l, &uuid_l);
    mpble_port_lock();
    int32_t r = mpble_qpy_add_service(primary, server_id, uuid_type, uuid_s, uuid_l.buf, uuid_l.len);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ble_add_service_obj, 5, 5, ble_add_service);

static mp_obj_t ble_add_chara(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    int64_t server_id = BLE_INT(args[0], server_id);
    int64_t chara_id = BLE_INT(args[1], chara_id);
    int64_t chara_prop = BLE_INT(args[2], chara_prop);
    int64_t uuid_type = BLE_INT(args[3], uuid_type);
    int64_t uuid_s = BLE_INT(args[4], uuid_s);
    mp_buffer_info_t uuid_l;
    mpble_port_arg_buf(args[5], MP_QSTR_uuid_l, &uuid_l);
    mpble_port_lock();
    int32_t r = mpble_qpy_add_chara(server_id, chara_id, chara_prop, uuid_type, uuid_s,
        uuid_l.buf, uuid_l.len);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ble_add_chara_obj, 6, 6, ble_add_chara);

// addCharaValue and addCharaDesc share their shape:
// (server_id, chara_id, permission, uuid_type, uuid_s, uuid_l, value).
static mp_obj_t ble_add_chara_attr(bool is_desc, const mp_obj_t *args) {
    int64_t server_id = BLE_INT(args[0], server_id);
    int64_t chara_id = BLE_INT(args[1], chara_id);
    int64_t permission = BLE_INT(args[2], permission);
    int64_t uuid_type = BLE_INT(args[3], uuid_type);
    int64_t uuid_s = BLE_INT(args[4], uuid_s);
    mp_buffer_info_t uuid_l, value;
    mpble_port_arg_buf(args[5], MP_QSTR_uuid_l, &uuid_l);
    mpble_port_arg_buf(args[6], MP_QSTR_value, &value);
    mpble_port_lock();
    int32_t r = mpble_qpy_add_chara_attr(is_desc, server_id, chara_id, permission, uuid_type,
        uuid_s, uuid_l.buf, uuid_l.len, value.buf, value.len);
    mpble_port_unlock_after_call();
    return ble_result(r);
}

static mp_obj_t ble_add_chara_value(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return ble_add_chara_attr(false, args);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ble_add_chara_value_obj, 7, 7, ble_add_chara_value);

static mp_obj_t ble_add_chara_desc(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return ble_add_chara_attr(true, args);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ble_add_chara_desc_obj, 7, 7, ble_add_chara_desc);

static mp_obj_t ble_change_chara_value(mp_obj_t server_id_in, mp_obj_t chara_id_in, mp_obj_t value_in) {
    int64_t server_id = BLE_INT(server_id_in, server_id);
    int64_t chara_id = BLE_INT(chara_id_in, chara_id);
    mp_buffer_info_t value;
    mpble_port_arg_buf(value_in, MP_QSTR_value, &value);
    mpble_port_lock();
    int32_t r = mpble_qpy_change_chara_value(server_id, chara_id, value.buf, value.len);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_3(ble_change_chara_value_obj, ble_change_chara_value);

static mp_obj_t ble_add_or_clear_service(mp_obj_t option_in, mp_obj_t mode_in) {
    int64_t option = BLE_INT(option_in, option);
    int64_t mode = BLE_INT(mode_in, mode);
    mpble_port_lock();
    int32_t r = mpble_qpy_add_or_clear_service(option, mode);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_2(ble_add_or_clear_service_obj, ble_add_or_clear_service);

// ---------------------------------------------------------------------------
// Server: notifications and indications
// ---------------------------------------------------------------------------

static mp_obj_t ble_send(bool indicate, mp_obj_t connect_id_in, mp_obj_t attr_handle_in, mp_obj_t value_in) {
    int64_t connect_id = BLE_INT(connect_id_in, connect_id);
    int64_t attr_handle = BLE_INT(attr_handle_in, attr_handle);
    mp_buffer_info_t value;
    mpble_port_arg_buf(value_in, MP_QSTR_value, &value);
    mpble_port_lock();
    int32_t r = mpble_qpy_send(indicate, connect_id, attr_handle, value.buf, value.len, mpble_port_now_ms());
    mpble_port_unlock_after_call();
    return ble_result(r);
}

static mp_obj_t ble_send_notification(mp_obj_t connect_id, mp_obj_t attr_handle, mp_obj_t value) {
    return ble_send(false, connect_id, attr_handle, value);
}
static MP_DEFINE_CONST_FUN_OBJ_3(ble_send_notification_obj, ble_send_notification);

static mp_obj_t ble_send_indication(mp_obj_t connect_id, mp_obj_t attr_handle, mp_obj_t value) {
    return ble_send(true, connect_id, attr_handle, value);
}
static MP_DEFINE_CONST_FUN_OBJ_3(ble_send_indication_obj, ble_send_indication);

// ---------------------------------------------------------------------------
// Client: scanning and connections
// ---------------------------------------------------------------------------

static mp_obj_t ble_set_scan_param(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    int64_t scan_mode = BLE_INT(args[0], scan_mode);
    int64_t interval = BLE_INT(args[1], interval);
    int64_t scan_window = BLE_INT(args[2], scan_window);
    int64_t filter_policy = BLE_INT(args[3], filter_policy);
    int64_t addr_type = BLE_INT(args[4], addr_type);
    mpble_port_lock();
    int32_t r = mpble_qpy_set_scan_param(scan_mode, interval, scan_window, filter_policy, addr_type);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ble_set_scan_param_obj, 5, 5, ble_set_scan_param);

static mp_obj_t ble_scan(bool enable) {
    mpble_port_lock();
    int32_t r = mpble_qpy_scan(enable);
    mpble_port_unlock_after_call();
    return ble_result(r);
}

static mp_obj_t ble_scan_start(void) {
    return ble_scan(true);
}
static MP_DEFINE_CONST_FUN_OBJ_0(ble_scan_start_obj, ble_scan_start);

static mp_obj_t ble_scan_stop(void) {
    return ble_scan(false);
}
static MP_DEFINE_CONST_FUN_OBJ_0(ble_scan_stop_obj, ble_scan_stop);

static mp_obj_t ble_set_scan_filter(mp_obj_t act_in) {
    int64_t act = BLE_INT(act_in, act);
    mpble_port_lock();
    int32_t r = mpble_qpy_set_scan_filter(act);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_1(ble_set_scan_filter_obj, ble_set_scan_filter);

static mp_obj_t ble_connect(mp_obj_t addr_type_in, mp_obj_t addr_in) {
    int64_t addr_type = BLE_INT(addr_type_in, addr_type);
    mp_buffer_info_t addr;
    mpble_port_arg_buf(addr_in, MP_QSTR_addr, &addr);
    mpble_port_lock();
    int32_t r = mpble_qpy_connect(addr_type, addr.buf, addr.len);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_2(ble_connect_obj, ble_connect);

static mp_obj_t ble_cancel_connect(mp_obj_t addr_in) {
    mp_buffer_info_t addr;
    mpble_port_arg_buf(addr_in, MP_QSTR_addr, &addr);
    mpble_port_lock();
    int32_t r = mpble_qpy_cancel_connect(addr.buf, addr.len);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_1(ble_cancel_connect_obj, ble_cancel_connect);

static mp_obj_t ble_disconnect(mp_obj_t connect_id_in) {
    int64_t connect_id = BLE_INT(connect_id_in, connect_id);
    mpble_port_lock();
    int32_t r = mpble_qpy_disconnect(connect_id);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_1(ble_disconnect_obj, ble_disconnect);

// ---------------------------------------------------------------------------
// Client: GATT
// ---------------------------------------------------------------------------

static mp_obj_t ble_discover_all_service(mp_obj_t connect_id_in) {
    int64_t connect_id = BLE_INT(connect_id_in, connect_id);
    mpble_port_lock();
    int32_t r = mpble_qpy_discover_all_service(connect_id);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_1(ble_discover_all_service_obj, ble_discover_all_service);

static mp_obj_t ble_discover_by_uuid(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    int64_t connect_id = BLE_INT(args[0], connect_id);
    int64_t uuid_type = BLE_INT(args[1], uuid_type);
    int64_t uuid_s = BLE_INT(args[2], uuid_s);
    mp_buffer_info_t uuid_l;
    mpble_port_arg_buf(args[3], MP_QSTR_uuid_l, &uuid_l);
    mpble_port_lock();
    int32_t r = mpble_qpy_discover_by_uuid(connect_id, uuid_type, uuid_s, uuid_l.buf, uuid_l.len);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ble_discover_by_uuid_obj, 4, 4, ble_discover_by_uuid);

// discoverAllIncludes, discoverAllChara, discoverAllCharaDesc:
// (connect_id, start_handle, end_handle).
static mp_obj_t ble_discover_range(uint8_t which, mp_obj_t connect_id_in, mp_obj_t start_in, mp_obj_t end_in) {
    int64_t connect_id = BLE_INT(connect_id_in, connect_id);
    int64_t start = BLE_INT(start_in, start_handle);
    int64_t end = BLE_INT(end_in, end_handle);
    mpble_port_lock();
    int32_t r = mpble_qpy_discover_range(which, connect_id, start, end);
    mpble_port_unlock_after_call();
    return ble_result(r);
}

static mp_obj_t ble_discover_all_includes(mp_obj_t c, mp_obj_t s, mp_obj_t e) {
    return ble_discover_range(0, c, s, e);
}
static MP_DEFINE_CONST_FUN_OBJ_3(ble_discover_all_includes_obj, ble_discover_all_includes);

static mp_obj_t ble_discover_all_chara(mp_obj_t c, mp_obj_t s, mp_obj_t e) {
    return ble_discover_range(1, c, s, e);
}
static MP_DEFINE_CONST_FUN_OBJ_3(ble_discover_all_chara_obj, ble_discover_all_chara);

static mp_obj_t ble_discover_all_chara_desc(mp_obj_t c, mp_obj_t s, mp_obj_t e) {
    return ble_discover_range(2, c, s, e);
}
static MP_DEFINE_CONST_FUN_OBJ_3(ble_discover_all_chara_desc_obj, ble_discover_all_chara_desc);

static mp_obj_t ble_read_chara_by_uuid(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    int64_t connect_id = BLE_INT(args[0], connect_id);
    int64_t start = BLE_INT(args[1], start_handle);
    int64_t end = BLE_INT(args[2], end_handle);
    int64_t uuid_type = BLE_INT(args[3], uuid_type);
    int64_t uuid_s = BLE_INT(args[4], uuid_s);
    mp_buffer_info_t uuid_l;
    mpble_port_arg_buf(args[5], MP_QSTR_uuid_l, &uuid_l);
    mpble_port_lock();
    int32_t r = mpble_qpy_read_chara_by_uuid(connect_id, start, end, uuid_type, uuid_s,
        uuid_l.buf, uuid_l.len);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ble_read_chara_by_uuid_obj, 6, 6, ble_read_chara_by_uuid);

static mp_obj_t ble_read_chara_by_handle(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    int64_t connect_id = BLE_INT(args[0], connect_id);
    int64_t handle = BLE_INT(args[1], handle);
    int64_t offset = BLE_INT(args[2], offset);
    int64_t is_long = BLE_INT(args[3], is_long);
    mpble_port_lock();
    int32_t r = mpble_qpy_read_chara_by_handle(connect_id, handle, offset, is_long);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ble_read_chara_by_handle_obj, 4, 4, ble_read_chara_by_handle);

static mp_obj_t ble_read_chara_desc(mp_obj_t connect_id_in, mp_obj_t handle_in, mp_obj_t is_long_in) {
    int64_t connect_id = BLE_INT(connect_id_in, connect_id);
    int64_t handle = BLE_INT(handle_in, handle);
    int64_t is_long = BLE_INT(is_long_in, is_long);
    mpble_port_lock();
    int32_t r = mpble_qpy_read_chara_desc(connect_id, handle, is_long);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_3(ble_read_chara_desc_obj, ble_read_chara_desc);

static mp_obj_t ble_read_multi_chara(mp_obj_t connect_id_in, mp_obj_t handles_in) {
    int64_t connect_id = BLE_INT(connect_id_in, connect_id);
    mp_buffer_info_t handles;
    mpble_port_arg_buf(handles_in, MP_QSTR_handles, &handles);
    mpble_port_lock();
    int32_t r = mpble_qpy_read_multi_chara(connect_id, handles.buf, handles.len);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_2(ble_read_multi_chara_obj, ble_read_multi_chara);

static mp_obj_t ble_write_chara(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    int64_t connect_id = BLE_INT(args[0], connect_id);
    int64_t handle = BLE_INT(args[1], handle);
    int64_t offset = BLE_INT(args[2], offset);
    int64_t is_long = BLE_INT(args[3], is_long);
    mp_buffer_info_t data;
    mpble_port_arg_buf(args[4], MP_QSTR_data, &data);
    mpble_port_lock();
    int32_t r = mpble_qpy_write_chara(false, connect_id, handle, offset, is_long, data.buf, data.len);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ble_write_chara_obj, 5, 5, ble_write_chara);

static mp_obj_t ble_write_chara_desc(mp_obj_t connect_id_in, mp_obj_t handle_in, mp_obj_t data_in) {
    int64_t connect_id = BLE_INT(connect_id_in, connect_id);
    int64_t handle = BLE_INT(handle_in, handle);
    mp_buffer_info_t data;
    mpble_port_arg_buf(data_in, MP_QSTR_data, &data);
    mpble_port_lock();
    int32_t r = mpble_qpy_write_chara(true, connect_id, handle, 0, 0, data.buf, data.len);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_3(ble_write_chara_desc_obj, ble_write_chara_desc);

static mp_obj_t ble_write_chara_no_rsp(mp_obj_t connect_id_in, mp_obj_t handle_in, mp_obj_t data_in) {
    int64_t connect_id = BLE_INT(connect_id_in, connect_id);
    int64_t handle = BLE_INT(handle_in, handle);
    mp_buffer_info_t data;
    mpble_port_arg_buf(data_in, MP_QSTR_data, &data);
    mpble_port_lock();
    int32_t r = mpble_qpy_write_chara_no_rsp(connect_id, handle, data.buf, data.len);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_3(ble_write_chara_no_rsp_obj, ble_write_chara_no_rsp);

static mp_obj_t ble_exchange_mtu(mp_obj_t connect_id_in, mp_obj_t mtu_in) {
    int64_t connect_id = BLE_INT(connect_id_in, connect_id);
    int64_t mtu = BLE_INT(mtu_in, mtu_size);
    mpble_port_lock();
    int32_t r = mpble_qpy_exchange_mtu(connect_id, mtu);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_2(ble_exchange_mtu_obj, ble_exchange_mtu);

// ---------------------------------------------------------------------------
// SMP: pairing and bonds (reference §2.4). Events 64 (what to confirm) and 63
// (the result) reach the role's callback.
// ---------------------------------------------------------------------------

static mp_obj_t ble_smp_set_config(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    int64_t io_cap = BLE_INT(args[0], io_cap);
    int64_t auth_req = BLE_INT(args[1], auth_req);
    int64_t passkey = BLE_INT(args[2], passkey);
    int64_t timeout = BLE_INT(args[3], timeout);
    mpble_port_lock();
    int32_t r = mpble_qpy_smp_set_config(io_cap, auth_req, passkey, timeout);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(ble_smp_set_config_obj, 4, 4, ble_smp_set_config);

static mp_obj_t ble_smp_get_config(void) {
    int64_t v[4];
    mpble_port_lock();
    int32_t r = mpble_qpy_smp_get_config(v);
    mpble_port_unlock();
    if (r != 0) {
        return ble_result(-1);
    }
    mp_obj_t items[4];
    for (size_t i = 0; i < 4; i++) {
        items[i] = mp_obj_new_int_from_ll(v[i]);
    }
    return mp_obj_new_tuple(4, items);
}
static MP_DEFINE_CONST_FUN_OBJ_0(ble_smp_get_config_obj, ble_smp_get_config);

static mp_obj_t ble_smp_start_pair(mp_obj_t connect_id_in) {
    int64_t connect_id = BLE_INT(connect_id_in, connect_id);
    mpble_port_lock();
    int32_t r = mpble_qpy_smp_start_pair(connect_id);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_1(ble_smp_start_pair_obj, ble_smp_start_pair);

static mp_obj_t ble_smp_user_confirm(mp_obj_t connect_id_in, mp_obj_t op_in, mp_obj_t pin_in) {
    int64_t connect_id = BLE_INT(connect_id_in, connect_id);
    int64_t op = BLE_INT(op_in, pair_operation);
    int64_t pin = BLE_INT(pin_in, pin);
    mpble_port_lock();
    int32_t r = mpble_qpy_smp_user_confirm(connect_id, op, pin);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_3(ble_smp_user_confirm_obj, ble_smp_user_confirm);

// A list of the bonded peers' addresses (6 bytes, LSB first, as event 16
// gives them, so `addr in list` works), oldest bond first.
static mp_obj_t ble_smp_get_paired_dev_info(void) {
    uint8_t addrs[16][6];
    mpble_port_lock();
    int32_t n = mpble_qpy_smp_paired_count();
    size_t count = 0;
    for (int32_t i = 0; i < n && count < MP_ARRAY_SIZE(addrs); i++) {
        if (mpble_qpy_smp_paired_addr((size_t)i, addrs[count]) == 0) {
            count++;
        }
    }
    mpble_port_unlock();
    mp_obj_t list = mp_obj_new_list(0, NULL);
    for (size_t i = 0; i < count; i++) {
        mp_obj_list_append(list, mp_obj_new_bytes(addrs[i], 6));
    }
    return list;
}
static MP_DEFINE_CONST_FUN_OBJ_0(ble_smp_get_paired_dev_info_obj, ble_smp_get_paired_dev_info);

static mp_obj_t ble_smp_remove_paired_dev(mp_obj_t addr_in) {
    mp_buffer_info_t addr;
    mpble_port_arg_buf(addr_in, MP_QSTR_addr, &addr);
    mpble_port_lock();
    int32_t r = mpble_qpy_smp_remove_paired(addr.buf, addr.len);
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_1(ble_smp_remove_paired_dev_obj, ble_smp_remove_paired_dev);

static mp_obj_t ble_smp_clean_paired_dev(void) {
    mpble_port_lock();
    int32_t r = mpble_qpy_smp_clean_paired();
    mpble_port_unlock_after_call();
    return ble_result(r);
}
static MP_DEFINE_CONST_FUN_OBJ_0(ble_smp_clean_paired_dev_obj, ble_smp_clean_paired_dev);

// ---------------------------------------------------------------------------

static const mp_rom_map_elem_t ble_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_ble) },
    { MP_ROM_QSTR(MP_QSTR___init__), MP_ROM_PTR(&ble___init___obj) },

    // Common.
    { MP_ROM_QSTR(MP_QSTR_gattStart), MP_ROM_PTR(&ble_gatt_start_obj) },
    { MP_ROM_QSTR(MP_QSTR_gattStop), MP_ROM_PTR(&ble_gatt_stop_obj) },
    { MP_ROM_QSTR(MP_QSTR_getStatus), MP_ROM_PTR(&ble_get_status_obj) },
    { MP_ROM_QSTR(MP_QSTR_getPublicAddr), MP_ROM_PTR(&ble_get_public_addr_obj) },
    // mpble's own (not the vendor's): HCI capture and drop counters.
    { MP_ROM_QSTR(MP_QSTR_mpbleSnoop), MP_ROM_PTR(&ble_mpble_snoop_obj) },
    { MP_ROM_QSTR(MP_QSTR_mpbleStats), MP_ROM_PTR(&ble_mpble_stats_obj) },

    // Server.
    { MP_ROM_QSTR(MP_QSTR_serverInit), MP_ROM_PTR(&ble_server_init_obj) },
    { MP_ROM_QSTR(MP_QSTR_serverRelease), MP_ROM_PTR(&ble_server_release_obj) },
    { MP_ROM_QSTR(MP_QSTR_setLocalName), MP_ROM_PTR(&ble_set_local_name_obj) },
    { MP_ROM_QSTR(MP_QSTR_setAdvParam), MP_ROM_PTR(&ble_set_adv_param_obj) },
    { MP_ROM_QSTR(MP_QSTR_setAdvData), MP_ROM_PTR(&ble_set_adv_data_obj) },
    { MP_ROM_QSTR(MP_QSTR_setAdvRspData), MP_ROM_PTR(&ble_set_adv_rsp_data_obj) },
    { MP_ROM_QSTR(MP_QSTR_addService), MP_ROM_PTR(&ble_add_service_obj) },
    { MP_ROM_QSTR(MP_QSTR_addChara), MP_ROM_PTR(&ble_add_chara_obj) },
    { MP_ROM_QSTR(MP_QSTR_addCharaValue), MP_ROM_PTR(&ble_add_chara_value_obj) },
    { MP_ROM_QSTR(MP_QSTR_changeCharaValue), MP_ROM_PTR(&ble_change_chara_value_obj) },
    { MP_ROM_QSTR(MP_QSTR_addCharaDesc), MP_ROM_PTR(&ble_add_chara_desc_obj) },
    { MP_ROM_QSTR(MP_QSTR_addOrClearService), MP_ROM_PTR(&ble_add_or_clear_service_obj) },
    { MP_ROM_QSTR(MP_QSTR_sendNotification), MP_ROM_PTR(&ble_send_notification_obj) },
    { MP_ROM_QSTR(MP_QSTR_sendIndication), MP_ROM_PTR(&ble_send_indication_obj) },
    { MP_ROM_QSTR(MP_QSTR_advStart), MP_ROM_PTR(&ble_adv_start_obj) },
    { MP_ROM_QSTR(MP_QSTR_advStop), MP_ROM_PTR(&ble_adv_stop_obj) },

    // Client.
    { MP_ROM_QSTR(MP_QSTR_clientInit), MP_ROM_PTR(&ble_client_init_obj) },
    { MP_ROM_QSTR(MP_QSTR_clientRelease), MP_ROM_PTR(&ble_client_release_obj) },
    { MP_ROM_QSTR(MP_QSTR_setScanParam), MP_ROM_PTR(&ble_set_scan_param_obj) },
    { MP_ROM_QSTR(MP_QSTR_scanStart), MP_ROM_PTR(&ble_scan_start_obj) },
    { MP_ROM_QSTR(MP_QSTR_scanStop), MP_ROM_PTR(&ble_scan_stop_obj) },
    { MP_ROM_QSTR(MP_QSTR_setScanFilter), MP_ROM_PTR(&ble_set_scan_filter_obj) },
    { MP_ROM_QSTR(MP_QSTR_connect), MP_ROM_PTR(&ble_connect_obj) },
    { MP_ROM_QSTR(MP_QSTR_cancelConnect), MP_ROM_PTR(&ble_cancel_connect_obj) },
    { MP_ROM_QSTR(MP_QSTR_disconnect), MP_ROM_PTR(&ble_disconnect_obj) },
    { MP_ROM_QSTR(MP_QSTR_discoverAllService), MP_ROM_PTR(&ble_discover_all_service_obj) },
    { MP_ROM_QSTR(MP_QSTR_discoverByUUID), MP_ROM_PTR(&ble_discover_by_uuid_obj) },
    { MP_ROM_QSTR(MP_QSTR_discoverAllIncludes), MP_ROM_PTR(&ble_discover_all_includes_obj) },
    { MP_ROM_QSTR(MP_QSTR_discoverAllChara), MP_ROM_PTR(&ble_discover_all_chara_obj) },
    { MP_ROM_QSTR(MP_QSTR_discoverAllCharaDesc), MP_ROM_PTR(&ble_discover_all_chara_desc_obj) },
    { MP_ROM_QSTR(MP_QSTR_readCharaByUUID), MP_ROM_PTR(&ble_read_chara_by_uuid_obj) },
    { MP_ROM_QSTR(MP_QSTR_readCharaByHandle), MP_ROM_PTR(&ble_read_chara_by_handle_obj) },
    { MP_ROM_QSTR(MP_QSTR_readMultiChara), MP_ROM_PTR(&ble_read_multi_chara_obj) },
    { MP_ROM_QSTR(MP_QSTR_readCharaDesc), MP_ROM_PTR(&ble_read_chara_desc_obj) },
    { MP_ROM_QSTR(MP_QSTR_writeChara), MP_ROM_PTR(&ble_write_chara_obj) },
    { MP_ROM_QSTR(MP_QSTR_writeCharaNoRsp), MP_ROM_PTR(&ble_write_chara_no_rsp_obj) },
    { MP_ROM_QSTR(MP_QSTR_writeCharaDesc), MP_ROM_PTR(&ble_write_chara_desc_obj) },
    { MP_ROM_QSTR(MP_QSTR_exchangeMtu), MP_ROM_PTR(&ble_exchange_mtu_obj) },

    // SMP (both roles).
    { MP_ROM_QSTR(MP_QSTR_smpSetConfig), MP_ROM_PTR(&ble_smp_set_config_obj) },
    { MP_ROM_QSTR(MP_QSTR_smpGetConfig), MP_ROM_PTR(&ble_smp_get_config_obj) },
    { MP_ROM_QSTR(MP_QSTR_smpStartPair), MP_ROM_PTR(&ble_smp_start_pair_obj) },
    { MP_ROM_QSTR(MP_QSTR_smpUserConfirm), MP_ROM_PTR(&ble_smp_user_confirm_obj) },
    { MP_ROM_QSTR(MP_QSTR_smpGetPairedDevInfo), MP_ROM_PTR(&ble_smp_get_paired_dev_info_obj) },
    { MP_ROM_QSTR(MP_QSTR_smpRemovePairedDev), MP_ROM_PTR(&ble_smp_remove_paired_dev_obj) },
    { MP_ROM_QSTR(MP_QSTR_smpCleanPairedDev), MP_ROM_PTR(&ble_smp_clean_paired_dev_obj) },
};
static MP_DEFINE_CONST_DICT(ble_module_globals, ble_module_globals_table);

const mp_obj_module_t mp_module_ble = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&ble_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_ble, mp_module_ble);
