/*
 * A stand-in for the Rust core, to check the port's plumbing alone
 * (tools/check-port.sh): it implements include/mpble.h with just enough
 * behaviour to exercise every path of mpble_port.c and the transport.
 *
 * - mpble_start / mpble_qpy_gatt_start queue an HCI Reset (01 03 0c 00)
 *   and arm a 1 s timer; a Command Complete for it (04 0e 04 xx 03 0c 00)
 *   makes the state READY and queues server event (0, 0, b'\x01\x02', 'ok',
 *   None); the timer firing first makes it FAILED.
 * - Every other API function returns 0 and queues event (99, <n>) for the
 *   server callback, n counting calls.
 * - mpble_reset (called only by mpble_port_deinit, at exit) says so on
 *   stderr.
 * - A Command Complete for HCI_Reset once READY queues server event
 *   (98, <n>, <first bad>) (check_port_tx.py's controller sends it when it
 *   has everything). Every byte received once READY before it should be
 *   byte n % 251 of a pattern the controller sends: n counts them, and
 *   <first bad> is the index of the first that was not (n if none), so a
 *   byte the port's receive ring lost, doubled or reordered shows. Once
 *   READY the fake core takes at most RX_PER_MS bytes per millisecond (a
 *   core whose event queue is full takes nothing either): the rest waits
 *   in the port, so its receive ring fills and drains many times.
 * - sendNotification(77, k, ...) also queues k KiB of transmit data after
 *   what is queued already: byte i of it is i % 251, so the controller can
 *   see a byte lost, doubled or reordered. Like the real core, it hands out
 *   only what mpble_h4_tx asks for and keeps the rest, in order.
 */
#include <stdio.h>
#include <string.h>

#include "mpble.h"

static MpbleState state;
static uint32_t deadline;
static uint8_t tx[64];
static size_t tx_len;
static uint8_t rx[16];
static size_t rx_len;
static MpbleEvent queue[8];
static size_t q_head, q_len;
static int64_t calls;
static uint64_t bulk_left; // bulk bytes still to hand out
static uint64_t bulk_seq; // index of the next bulk byte
static size_t rx_seen;
#define RX_PER_MS (4096)
static uint32_t rx_ms; // the millisecond of rx_taken
static size_t rx_taken;
static size_t pattern_seen; // bytes received once READY
static size_t pattern_bad = SIZE_MAX; // index of the first off-pattern one

static void push_tx(const uint8_t *b, size_t n) {
    if (tx_len + n <= sizeof(tx)) {
        memcpy(tx + tx_len, b, n);
        tx_len += n;
    }
}

static MpbleEvent *new_event(void) {
    if (q_len == 8) {
        return NULL;
    }
    MpbleEvent *e = &queue[(q_head + q_len++) % 8];
    memset(e, 0, sizeof(*e));
    e->target = MPBLE_TARGET_QPY_SERVER;
    return e;
}

static int32_t api_call(void) {
    MpbleEvent *e = new_event();
    if (e) {
        e->n_args = 2;
        e->args[0] = (MpbleValue) { MPBLE_VALUE_KIND_INT, 99, 0, 0 };
        e->args[1] = (MpbleValue) { MPBLE_VALUE_KIND_INT, ++calls, 0, 0 };
    }
    return 0;
}

void mpble_reset(void) {
    // Only mpble_port_deinit() resets the core; the unix build calls it at
    // exit, after the transport's reader has stopped.
    fprintf(stderr, "fake core: reset (%zu bytes of input seen since the last)\n", rx_seen);
    rx_seen = 0;
    pattern_seen = 0;
    pattern_bad = SIZE_MAX;
    state = MPBLE_STATE_OFF;
    tx_len = rx_len = q_len = 0;
    bulk_left = 0;
}

int32_t mpble_start(uint32_t now_ms) {
    if (state == MPBLE_STATE_STARTING || state == MPBLE_STATE_READY) {
        return -1;
    }
    static const uint8_t reset[] = { 0x01, 0x03, 0x0c, 0x00 };
    push_tx(reset, sizeof(reset));
    state = MPBLE_STATE_STARTING;
    deadline = now_ms + 1000;
    return 0;
}

MpbleState mpble_state(void) {
    return state;
}

size_t mpble_h4_rx(const uint8_t *data, size_t len, uint32_t now_ms) {
    if (state == MPBLE_STATE_READY) {
        if (now_ms != rx_ms) {
            rx_ms = now_ms;
            rx_taken = 0;
        }
        if (len > RX_PER_MS - rx_taken) {
            len = RX_PER_MS - rx_taken;
        }
        rx_taken += len;
    }
    rx_seen += len;
    for (size_t i = 0; i < len; i++) {
        if (rx_len == sizeof(rx)) {
            rx_len = 0;
        }
        rx[rx_len++] = data[i];
        if (state == MPBLE_STATE_READY) {
            if (pattern_bad == SIZE_MAX && data[i] != (uint8_t)(pattern_seen % 251)) {
                pattern_bad = pattern_seen;
            }
            pattern_seen++;
        }
        // Command Complete for HCI_Reset: 04 0e 04 <n> 03 0c <status>.
        bool reset_complete = rx_len >= 7 && rx[rx_len - 7] == 0x04 && rx[rx_len - 6] == 0x0e
            && rx[rx_len - 3] == 0x03 && rx[rx_len - 2] == 0x0c;
        if (reset_complete && state == MPBLE_STATE_READY) {
            // The controller's "all received" signal in check_port_tx.py.
            rx_len = 0;
            // The Command Complete itself (7 bytes) is not the pattern.
            size_t n = pattern_seen - 7;
            MpbleEvent *e = new_event();
            if (e) {
                e->n_args = 3;
                e->args[0] = (MpbleValue) { MPBLE_VALUE_KIND_INT, 98, 0, 0 };
                e->args[1] = (MpbleValue) { MPBLE_VALUE_KIND_INT, (int64_t)n, 0, 0 };
                e->args[2] = (MpbleValue) { MPBLE_VALUE_KIND_INT, (int64_t)(pattern_bad < n ? pattern_bad : n), 0, 0 };
            }
        }
        if (reset_complete && state == MPBLE_STATE_STARTING) {
            state = MPBLE_STATE_READY;
            rx_len = 0;
            MpbleEvent *e = new_event();
            if (e) {
                e->n_args = 5;
                e->data_len = 4;
                memcpy(e->data, "\x01\x02ok", 4);
                e->args[0] = (MpbleValue) { MPBLE_VALUE_KIND_INT, 0, 0, 0 };
                e->args[1] = (MpbleValue) { MPBLE_VALUE_KIND_INT, 0, 0, 0 };
                e->args[2] = (MpbleValue) { MPBLE_VALUE_KIND_BYTES, 0, 0, 2 };
                e->args[3] = (MpbleValue) { MPBLE_VALUE_KIND_STR, 0, 2, 2 };
                e->args[4] = (MpbleValue) { MPBLE_VALUE_KIND_NONE, 0, 0, 0 };
            }
        }
    }
    return len;
}

size_t mpble_h4_tx(uint8_t *buf, size_t cap) {
    size_t n = tx_len < cap ? tx_len : cap;
    memcpy(buf, tx, n);
    memmove(tx, tx + n, tx_len - n);
    tx_len -= n;
    while (n < cap && tx_len == 0 && bulk_left > 0) {
        buf[n++] = (uint8_t)(bulk_seq++ % 251);
        bulk_left--;
    }
    return n;
}

void mpble_transport_lost(uint32_t now_ms) {
    (void)now_ms;
    if (state == MPBLE_STATE_READY) {
        state = MPBLE_STATE_OFF;
    }
    tx_len = rx_len = 0;
}

void mpble_tick(uint32_t now_ms) {
    if (state == MPBLE_STATE_STARTING && (int32_t)(now_ms - deadline) >= 0) {
        state = MPBLE_STATE_FAILED;
    }
}

uint32_t mpble_next_timeout_ms(uint32_t now_ms) {
    if (state != MPBLE_STATE_STARTING) {
        return UINT32_MAX;
    }
    int32_t left = (int32_t)(deadline - now_ms);
    return left > 0 ? (uint32_t)left : 0;
}

bool mpble_event_pop(MpbleEvent *out) {
    if (q_len == 0) {
        return false;
    }
    *out = queue[q_head];
    q_head = (q_head + 1) % 8;
    q_len--;
    return true;
}

void mpble_stats(MpbleStats *out) {
    memset(out, 0, sizeof(*out));
    out->size = sizeof(*out);
    out->bad_events = 7;
}

void mpble_latency_record(uint32_t us) {
    (void)us;
}

int32_t mpble_public_addr(uint8_t *out) {
    if (state != MPBLE_STATE_READY) {
        return -1;
    }
    memcpy(out, "\x01\x02\x03\x04\x05\x06", 6);
    return 0;
}

int32_t mpble_qpy_server_init(void) {
    return api_call();
}
int32_t mpble_qpy_server_release(void) {
    return api_call();
}
int32_t mpble_qpy_client_init(void) {
    return api_call();
}
int32_t mpble_qpy_client_release(void) {
    return api_call();
}
int32_t mpble_qpy_gatt_start(uint32_t now_ms) {
    return mpble_start(now_ms) == 0 ? 0 : -1;
}
int32_t mpble_qpy_gatt_stop(uint32_t now_ms) {
    (void)now_ms;
    state = MPBLE_STATE_OFF;
    return api_call();
}
int32_t mpble_qpy_get_status(void) {
    return state == MPBLE_STATE_READY;
}
int32_t mpble_qpy_set_local_name(int64_t code, const uint8_t *name, size_t len) {
    (void)name;
    return code == 0 && len > 0 ? api_call() : -1;
}
int32_t mpble_qpy_set_adv_param(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e,
    int64_t f, int64_t g, int64_t h, int64_t i) {
    (void)b; (void)c; (void)d; (void)e; (void)f; (void)g; (void)h; (void)i;
    return a >= 0x20 && a <= 0x4000 ? api_call() : -1;
}
int32_t mpble_qpy_set_adv_data(const uint8_t *data, size_t len) {
    (void)data;
    return len >= 1 && len <= 31 ? api_call() : -1;
}
int32_t mpble_qpy_set_adv_rsp_data(const uint8_t *data, size_t len) {
    return mpble_qpy_set_adv_data(data, len);
}
int32_t mpble_qpy_add_service(int64_t a, int64_t b, int64_t c, int64_t d, const uint8_t *u, size_t n) {
    (void)a; (void)b; (void)c; (void)d; (void)u; (void)n;
    return api_call();
}
int32_t mpble_qpy_add_chara(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e, const uint8_t *u, size_t n) {
    (void)a; (void)b; (void)c; (void)d; (void)e; (void)u; (void)n;
    return api_call();
}
int32_t mpble_qpy_add_chara_attr(bool is_desc, int64_t a, int64_t b, int64_t c, int64_t d, int64_t e,
    const uint8_t *u, size_t n, const uint8_t *v, size_t m) {
    (void)is_desc; (void)a; (void)b; (void)c; (void)d; (void)e; (void)u; (void)n; (void)v; (void)m;
    return api_call();
}
int32_t mpble_qpy_change_chara_value(int64_t a, int64_t b, const uint8_t *v, size_t n) {
    (void)a; (void)b; (void)v; (void)n;
    return api_call();
}
int32_t mpble_qpy_add_or_clear_service(int64_t option, int64_t mode) {
    (void)option; (void)mode;
    return api_call();
}
int32_t mpble_qpy_send(bool indicate, int64_t a, int64_t b, const uint8_t *v, size_t n, uint32_t now_ms) {
    (void)now_ms;
    (void)indicate; (void)v; (void)n;
    if (a == 77 && b > 0) {
        bulk_left += (uint64_t)b * 1024u;
    }
    return api_call();
}
int32_t mpble_qpy_adv_start(void) {
    return api_call();
}
int32_t mpble_qpy_adv_stop(void) {
    return api_call();
}

// Client (central) functions: accepted, no behaviour.
int32_t mpble_qpy_set_scan_param(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e) {
    (void)a; (void)b; (void)c; (void)d; (void)e;
    return api_call();
}
int32_t mpble_qpy_scan(bool enable) {
    (void)enable;
    return api_call();
}
int32_t mpble_qpy_set_scan_filter(int64_t act) {
    (void)act;
    return api_call();
}
int32_t mpble_qpy_connect(int64_t t, const uint8_t *a, size_t n) {
    (void)t; (void)a; (void)n;
    return api_call();
}
int32_t mpble_qpy_cancel_connect(const uint8_t *a, size_t n) {
    (void)a; (void)n;
    return api_call();
}
int32_t mpble_qpy_disconnect(int64_t c) {
    (void)c;
    return api_call();
}
int32_t mpble_qpy_discover_all_service(int64_t c) {
    (void)c;
    return api_call();
}
int32_t mpble_qpy_discover_by_uuid(int64_t c, int64_t t, int64_t u, const uint8_t *l, size_t n) {
    (void)c; (void)t; (void)u; (void)l; (void)n;
    return api_call();
}
int32_t mpble_qpy_discover_range(uint8_t w, int64_t c, int64_t s, int64_t e) {
    (void)w; (void)c; (void)s; (void)e;
    return api_call();
}
int32_t mpble_qpy_read_chara_by_uuid(int64_t c, int64_t s, int64_t e, int64_t t, int64_t u, const uint8_t *l, size_t n) {
    (void)c; (void)s; (void)e; (void)t; (void)u; (void)l; (void)n;
    return api_call();
}
int32_t mpble_qpy_read_chara_by_handle(int64_t c, int64_t h, int64_t o, int64_t l) {
    (void)c; (void)h; (void)o; (void)l;
    return api_call();
}
int32_t mpble_qpy_read_chara_desc(int64_t c, int64_t h, int64_t l) {
    (void)c; (void)h; (void)l;
    return api_call();
}
int32_t mpble_qpy_read_multi_chara(int64_t c, const uint8_t *h, size_t n) {
    (void)c; (void)h; (void)n;
    return api_call();
}
int32_t mpble_qpy_write_chara(bool d, int64_t c, int64_t h, int64_t o, int64_t l, const uint8_t *v, size_t n) {
    (void)d; (void)c; (void)h; (void)o; (void)l; (void)v; (void)n;
    return api_call();
}
int32_t mpble_qpy_write_chara_no_rsp(int64_t c, int64_t h, const uint8_t *v, size_t n) {
    (void)c; (void)h; (void)v; (void)n;
    return api_call();
}
int32_t mpble_qpy_exchange_mtu(int64_t c, int64_t m) {
    (void)c; (void)m;
    return api_call();
}
size_t mpble_event_count(void) {
    return q_len;
}

// SMP and bonds: accepted, no bonds; tested against the real core.
int32_t mpble_qpy_smp_set_config(int64_t i, int64_t a, int64_t p, int64_t t) {
    (void)i; (void)a; (void)p; (void)t;
    return api_call();
}
int32_t mpble_qpy_smp_get_config(int64_t *out) {
    out[0] = 3;
    out[1] = 9;
    out[2] = 123456;
    out[3] = 160;
    return 0;
}
int32_t mpble_qpy_smp_start_pair(int64_t c) {
    (void)c;
    return api_call();
}
int32_t mpble_qpy_smp_user_confirm(int64_t c, int64_t o, int64_t p) {
    (void)c; (void)o; (void)p;
    return api_call();
}
int32_t mpble_qpy_smp_paired_count(void) {
    return 0;
}
int32_t mpble_qpy_smp_paired_addr(size_t i, uint8_t *out) {
    (void)i; (void)out;
    return -1;
}
int32_t mpble_qpy_smp_remove_paired(const uint8_t *a, size_t n) {
    (void)a; (void)n;
    return -1;
}
int32_t mpble_qpy_smp_clean_paired(void) {
    return 0;
}
static bool fake_bonds_loaded;
bool mpble_bonds_dirty(void) {
    return false;
}
bool mpble_bonds_loaded(void) {
    return fake_bonds_loaded;
}
size_t mpble_bonds_export(uint8_t *out, size_t cap) {
    (void)out; (void)cap;
    return 0;
}
int32_t mpble_bonds_import(const uint8_t *data, size_t len) {
    (void)data; (void)len;
    fake_bonds_loaded = true;
    return 0;
}

// Pycom (network.Bluetooth): accepted, no behaviour; the port checks only
// need the module to link. Its behaviour is tested against the real core.
void mpble_pycom_activate(int64_t mtu) {
    (void)mtu;
}
bool mpble_pycom_is_active(void) {
    return state == MPBLE_STATE_READY;
}
int32_t mpble_pycom_set_pin(int64_t pin, int64_t secure_connections) {
    (void)secure_connections;
    return pin >= 0 && pin <= 999999 ? 0 : -1;
}
bool mpble_pycom_secure(void) {
    return false;
}
void mpble_pycom_deinit(uint32_t now_ms) {
    (void)now_ms;
    state = MPBLE_STATE_OFF;
}
int32_t mpble_pycom_set_adv_params(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e, int64_t f) {
    (void)a; (void)b; (void)c; (void)d; (void)e; (void)f;
    return MPBLE_PYCOM_OK;
}
int32_t mpble_pycom_set_adv_raw(const uint8_t *raw, size_t len) {
    (void)raw; (void)len;
    return MPBLE_PYCOM_OK;
}
void mpble_pycom_set_trigger(uint8_t trigger) {
    (void)trigger;
}
uint8_t mpble_pycom_take_events(void) {
    return 0;
}
int32_t mpble_pycom_start_scan(int64_t timeout_s, uint32_t now_ms) {
    (void)timeout_s; (void)now_ms;
    return MPBLE_PYCOM_OK;
}
int32_t mpble_pycom_stop_scan(void) {
    return MPBLE_PYCOM_OK;
}
bool mpble_pycom_is_scanning(void) {
    return false;
}
bool mpble_pycom_get_adv(struct MpblePycomAdv *out) {
    (void)out;
    return false;
}
uint8_t mpble_pycom_resolve(const uint8_t *data, size_t len, int64_t data_type, int32_t *int_out,
    size_t *offset, size_t *found_len) {
    (void)data; (void)len; (void)data_type; (void)int_out; (void)offset; (void)found_len;
    return 0;
}
int32_t mpble_pycom_set_advertisement(const struct MpblePycomAdvert *a) {
    (void)a;
    return MPBLE_PYCOM_OK;
}
int32_t mpble_pycom_advertise(bool on) {
    (void)on;
    return MPBLE_PYCOM_OK;
}
void mpble_pycom_disconnect_client(void) {
}
int32_t mpble_pycom_add_service(const uint8_t *uuid, size_t uuid_len, bool primary) {
    (void)uuid; (void)uuid_len; (void)primary;
    return 0;
}
int32_t mpble_pycom_add_characteristic(size_t service, const uint8_t *uuid, size_t uuid_len,
    uint16_t permissions, uint8_t properties, const uint8_t *value, size_t value_len) {
    (void)service; (void)uuid; (void)uuid_len; (void)permissions; (void)properties; (void)value; (void)value_len;
    return 0;
}
int32_t mpble_pycom_char_set_trigger(size_t idx, uint8_t trigger) {
    (void)idx; (void)trigger;
    return MPBLE_PYCOM_OK;
}
uint8_t mpble_pycom_char_take_events(size_t idx) {
    (void)idx;
    return 0;
}
uint16_t mpble_pycom_char_config(size_t idx) {
    (void)idx;
    return 0;
}
size_t mpble_pycom_char_value(size_t idx, uint8_t *out, size_t cap) {
    (void)idx; (void)out; (void)cap;
    return 0;
}
int32_t mpble_pycom_char_set_value(size_t idx, const uint8_t *data, size_t len) {
    (void)idx; (void)data; (void)len;
    return 0;
}
uint32_t mpble_pycom_char_notify(size_t idx, uint32_t mask, uint32_t now_ms) {
    (void)idx; (void)mask; (void)now_ms;
    return 0;
}
int32_t mpble_pycom_read_reply(size_t conn, uint8_t status, const uint8_t *data, size_t len) {
    (void)conn; (void)status; (void)data; (void)len;
    return MPBLE_PYCOM_OK;
}
size_t mpble_pycom_encode_int(int64_t v, bool setter, uint8_t *out) {
    (void)setter;
    out[0] = (uint8_t)v;
    return 1;
}
int32_t mpble_pycom_connect(int32_t addr_type, const uint8_t *mac) {
    (void)addr_type; (void)mac;
    return MPBLE_PYCOM_FAILED;
}
int32_t mpble_pycom_connect_status(size_t *value) {
    (void)value;
    return MPBLE_PYCOM_FAILED;
}
void mpble_pycom_connect_finish(void) {
}
int32_t mpble_pycom_link_generation(size_t conn) {
    (void)conn;
    return -1;
}
int32_t mpble_pycom_link_mtu(size_t conn) {
    (void)conn;
    return -1;
}
bool mpble_pycom_mtu_done(size_t conn) {
    (void)conn;
    return true;
}
int32_t mpble_pycom_server_link(void) {
    return -1;
}
int32_t mpble_pycom_disconnect(size_t conn, uint16_t generation) {
    (void)conn; (void)generation;
    return MPBLE_PYCOM_OK;
}
int32_t mpble_pycom_client_start(size_t conn, uint16_t generation, uint8_t op, uint16_t a, uint16_t b,
    const uint8_t *data, size_t len) {
    (void)conn; (void)generation; (void)op; (void)a; (void)b; (void)data; (void)len;
    return MPBLE_PYCOM_NOT_CONNECTED;
}
int32_t mpble_pycom_client_status(void) {
    return MPBLE_PYCOM_FAILED;
}
void mpble_pycom_client_abandon(void) {
}
bool mpble_pycom_client_record(size_t i, struct MpblePycomRecord *out) {
    (void)i; (void)out;
    return false;
}
size_t mpble_pycom_client_value(uint8_t *out, size_t cap) {
    (void)out; (void)cap;
    return 0;
}
int32_t mpble_pycom_subscribe(size_t conn, uint16_t generation, uint16_t value_handle, bool on) {
    (void)conn; (void)generation; (void)value_handle; (void)on;
    return MPBLE_PYCOM_NOT_CONNECTED;
}
