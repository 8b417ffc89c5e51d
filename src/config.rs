//! Every fixed capacity of the stack, in one place (ARCHITECTURE rule 5).
//!
//! Nothing in the core allocates: each queue and table below is a fixed
//! array. When one is full the API says so and nothing already accepted is
//! dropped silently.

/// Simultaneous LE links. QuecPython uses one; Pycom may use several.
pub const MAX_CONNECTIONS: usize = 4;

/// Largest ATT_MTU we offer in Exchange MTU (Vol 3 Part F 3.4.2.1 allows up
/// to 517, which makes every attribute value readable in one response).
pub const ATT_MTU_MAX: usize = 517;
/// Default LE ATT_MTU (Vol 3 Part G 5.2.1).
pub const ATT_MTU_DEFAULT: usize = 23;

/// Largest L2CAP payload we reassemble or send: an ATT PDU of ATT_MTU_MAX.
pub const L2CAP_PDU_MAX: usize = ATT_MTU_MAX;
/// Largest ACL payload we keep whole. Bumble's controller forwards a peer's
/// L2CAP PDU unfragmented (VIRTUAL-AIR.md), so one ACL packet may carry a
/// 4-byte basic L2CAP header plus a full PDU. Longer ACL packets are
/// skipped by the H4 parser and counted, never written out of bounds.
pub const ACL_RX_PAYLOAD_MAX: usize = 4 + L2CAP_PDU_MAX + 16;

/// HCI command parameters are at most 255 bytes (Vol 4 Part E 5.4.1).
pub const HCI_CMD_PARAM_MAX: usize = 255;
/// Commands waiting for a Num_HCI_Command_Packets credit.
pub const HCI_CMD_QUEUE: usize = 8;
/// A command with no Command Complete/Status after this long has failed
/// (Vol 4 Part E 4.4 gives the host the duty to time out).
pub const HCI_CMD_TIMEOUT_MS: u32 = 1000;

/// Bytes waiting to be written to the controller (H4 framed).
pub const H4_TX_BUFFER: usize = 4096;

/// Attribute table rows (handles) in the GATT server.
pub const GATT_MAX_ATTRIBUTES: usize = 96;
/// Bytes of attribute value storage shared by all attributes.
pub const GATT_VALUE_POOL: usize = 8192;
/// Prepare Write queue entries per connection (Vol 3 Part F 3.4.6.1).
pub const ATT_PREPARE_QUEUE: usize = 16;
/// Bytes held by the Prepare Write queue per connection.
pub const ATT_PREPARE_BYTES: usize = 1024;

/// Events waiting for the Python callback drain. Flow control (below)
/// keeps it from overflowing, so its size only sets how many events one
/// drain pass carries; each is ~750 bytes, the largest item in the stack.
pub const EVENT_QUEUE: usize = 24;
/// The most events one packet from the controller can produce: an
/// Execute Write Request reports each queued handle (Vol 3 Part F 3.4.6.3).
/// Controller input waits (in the port, then in TCP or UART flow control)
/// until the event queue has this much room, so no event is ever dropped.
pub const EVENTS_PER_PACKET_MAX: usize = ATT_PREPARE_QUEUE;
const _: () = assert!(EVENTS_PER_PACKET_MAX < EVENT_QUEUE);
/// Largest byte payload carried by one event (a whole ATT value).
pub const EVENT_DATA_MAX: usize = ATT_MTU_MAX + 3;

/// An ATT transaction (here: an indication awaiting its confirmation)
/// fails after 30 s (Vol 3 Part F 3.3.3).
pub const ATT_TRANSACTION_TIMEOUT_MS: u32 = 30_000;

/// Longest device name (GAP Device Name characteristic, Vol 3 Part C 12.1).
pub const DEVICE_NAME_MAX: usize = 32;
/// Legacy advertising and scan response data (Vol 6 Part B 2.3.1.1).
pub const ADV_DATA_MAX: usize = 31;

/// QuecPython: services, characteristics and descriptors registered before
/// `addOrClearService(1, mode)` commits them to the attribute table.
pub const QPY_MAX_SERVICES: usize = 8;
pub const QPY_MAX_CHARAS: usize = 32;
pub const QPY_MAX_DESCS: usize = 32;
/// Devices remembered per scan for `setScanFilter(1)`.
pub const QPY_SCAN_SEEN: usize = 32;
/// GATT client procedures waiting per link behind the running one.
pub const GATT_CLIENT_QUEUE: usize = 4;
/// Bytes of write values and handle lists those queued procedures hold.
pub const GATT_CLIENT_POOL: usize = 1024;
/// Bytes of initial values held by those registrations.
pub const QPY_VALUE_POOL: usize = 4096;
/// Longest value a peer may write to a QuecPython characteristic whose
/// initial value is shorter: the module's notification limit (HELIOS
/// `len //max 244`), i.e. MTU 247 - 3.
pub const QPY_VALUE_MAX_DEFAULT: usize = 244;
/// Longest attribute value (Vol 3 Part F 3.2.9).
pub const ATT_VALUE_MAX: usize = 512;
