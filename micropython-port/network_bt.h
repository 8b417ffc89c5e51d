/*
 * mpble: Pycom's `network.Bluetooth` and its GATT classes, shared between
 * modnetwork_bt.c (Bluetooth), network_bt_gatts.c (GATTSService,
 * GATTSCharacteristic) and network_bt_gattc.c (GATTCConnection,
 * GATTCService, GATTCCharacteristic).
 *
 * Marshalling only: the state that the core must know (event bits, the
 * advertisement FIFO, services, links, the running client operation) lives
 * in the Rust adapter (src/api/pycom/); here are the Python objects, the
 * handlers they hold, and the blocking waits, which run the port's idle
 * loop (mpble_port_wait) and need no second thread.
 */
#ifndef MICROPY_INCLUDED_NETWORK_BT_H
#define MICROPY_INCLUDED_NETWORK_BT_H

#include "py/obj.h"
#include "mpble.h"

// Event and trigger bits (reference §11), also the class constants.
#define NETWORK_BT_NEW_ADV_EVENT (1)
#define NETWORK_BT_CLIENT_CONNECTED (2)
#define NETWORK_BT_CLIENT_DISCONNECTED (4)
#define NETWORK_BT_CHAR_READ_EVENT (8)
#define NETWORK_BT_CHAR_WRITE_EVENT (16)
#define NETWORK_BT_CHAR_NOTIFY_EVENT (32)
#define NETWORK_BT_CHAR_SUBSCRIBE_EVENT (128)

// ATT Unlikely Error (Vol 3 Part F 3.4.1.1): a read handler that failed.
#define NETWORK_BT_ATT_UNLIKELY_ERROR (0x0E)

extern const mp_obj_type_t network_bt_type;
extern const mp_obj_type_t network_bt_gatts_service_type;
extern const mp_obj_type_t network_bt_gatts_char_type;
extern const mp_obj_type_t network_bt_gattc_conn_type;
extern const mp_obj_type_t network_bt_gattc_service_type;
extern const mp_obj_type_t network_bt_gattc_char_type;

// A GATTSCharacteristic: its index in the core, its handler.
typedef struct _network_bt_gatts_char_obj_t {
    mp_obj_base_t base;
    size_t index;
    mp_obj_t handler;
    mp_obj_t arg;
} network_bt_gatts_char_obj_t;

// A GATTCConnection: a link as the core numbers it, and its generation
// (a dropped link's object never acts on a new link in the same slot).
typedef struct _network_bt_gattc_conn_obj_t {
    mp_obj_base_t base;
    uint16_t conn;
    uint16_t generation;
    uint16_t mtu;
    mp_obj_t services;
} network_bt_gattc_conn_obj_t;

// A GATTCCharacteristic, with its cached value and notification handler.
typedef struct _network_bt_gattc_char_obj_t {
    mp_obj_base_t base;
    network_bt_gattc_conn_obj_t *conn;
    uint16_t value_handle;
    // The last handle of its descriptors (where its CCCD may be).
    uint16_t end;
    uint8_t properties;
    mp_obj_t uuid;
    mp_obj_t value;
    mp_obj_t handler;
    mp_obj_t arg;
} network_bt_gattc_char_obj_t;

// Raises OSError(errno, msg).
NORETURN void network_bt_raise(int err, const char *msg);
// Raises the exception a core result code means (MPBLE_PYCOM_*).
NORETURN void network_bt_raise_code(int32_t code);
// Raises Bluetooth.timeout (TimeoutError, an OSError) "timed out".
NORETURN void network_bt_raise_timeout(void);

// Calls a GATT handler in the form it takes (reference §8.2): handler(arg)
// when it takes one positional argument, handler(arg, (event, data)) when
// it takes two (the firmware's newer form). Returns its result.
mp_obj_t network_bt_call_handler(mp_obj_t handler, mp_obj_t arg, mp_int_t event, mp_obj_t data);

// A UUID argument as the core takes it: 2 or 16 little-endian bytes into
// out[16]; returns the length. An int <= 0xFFFF is a 16-bit UUID, a larger
// one a 32-bit UUID (in its 128-bit form), a 16-byte buffer a 128-bit UUID
// byte for byte (reference §9.4); else ValueError naming `name`.
size_t network_bt_uuid_arg(mp_obj_t uuid, qstr name, uint8_t out[16]);
// A UUID as Pycom returns it: an int for 16- and 32-bit ones, 16 bytes
// (LSB first) for the others.
mp_obj_t network_bt_uuid_obj(const uint8_t *uuid, size_t len);

// GATTS: Bluetooth.service(...), and the dispatch of the core's tuples.
mp_obj_t network_bt_gatts_service_new(size_t index);
void network_bt_gatts_dispatch(mp_int_t kind, size_t n, const mp_obj_t *items);
// GATTC: Bluetooth.connect(...)'s result, and notifications.
mp_obj_t network_bt_gattc_conn_new(uint16_t conn, uint16_t generation);
void network_bt_gattc_dispatch(size_t n, const mp_obj_t *items);

// Objects the core refers to by index (root pointers, forgotten at soft
// reset by network_bt_deinit).
mp_obj_t network_bt_root_list(size_t which);
#define NETWORK_BT_ROOT_GATTS_CHARS (0)
#define NETWORK_BT_ROOT_GATTC_SUBS (1)

#endif // MICROPY_INCLUDED_NETWORK_BT_H
