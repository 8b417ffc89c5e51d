//! Every fixed capacity of the stack, in one place (ARCHITECTURE rule 5).
//!
//! Nothing in the core allocates: each queue and table below is a fixed
//! array. When one is full the API says so and nothing already accepted is
//! dropped silently.
//!
//! Capacities are chosen at build time, in two configurations that define
//! the same names (`sized` below):
//! - **microcontroller**: the default on bare-metal targets
//!   (`target_os = "none"`, e.g. thumbv7m-none-eabi), and on the host with
//!   the `mcu` feature (`cargo test --features mcu`), so that tests and
//!   benches can run with the small capacities. Sized for the goals of
//!   issue 6 (section 3): 4 links, ATT_MTU 247, 64 attributes, a 1 KB
//!   attribute-value pool, static RAM towards 8 KB.
//! - **unix**: the MicroPython unix port, where RAM is cheap; the larger
//!   values the end-to-end tests were written against.
//!
//! The README's "Footprint" section lists every capacity with the bytes it
//! costs in each configuration (`cargo test capacity_costs -- --nocapture`
//! prints them). Limits that the Core spec fixes (HCI parameter length,
//! advertising data, attribute value length) and the time-outs are the same
//! in both, below the two blocks.

pub use sized::*;

/// Which configuration this build uses: "microcontroller" or "unix".
pub const CONFIGURATION: &str = sized::NAME;

#[cfg(any(target_os = "none", feature = "mcu"))]
mod sized {
    pub const NAME: &str = "microcontroller";

    /// Simultaneous LE links: the goal. Each costs a `Connection`
    /// (ATT bearer with its prepare queue, GATT client, L2CAP reassembly).
    pub const MAX_CONNECTIONS: usize = 4;

    /// Largest ATT_MTU we offer in Exchange MTU. 247 is the goal:
    /// an ATT PDU of 247 plus the 4-byte L2CAP header fills one LE Data
    /// Channel PDU of 251 bytes (Vol 6 Part B 2.4), so nothing fragments on
    /// air, and every buffer sized by the MTU (reassembly, events, H4 rx)
    /// shrinks by half.
    pub const ATT_MTU_MAX: usize = 247;

    /// Commands waiting for a Num_HCI_Command_Packets credit. Not smaller
    /// than unix: `HostCore::stop` queues at once a Disconnect per link, the
    /// advertising and scan disables, a Create Connection Cancel and a Reset
    /// (checked below). Each queued command costs its parameter buffer of
    /// HCI_CMD_PARAMS_SENT_MAX (32) bytes.
    pub const HCI_CMD_QUEUE: usize = 8;

    /// Bytes waiting to be written to the controller (H4 framed). 512 holds
    /// one ACL packet of a full PDU (5 + 4 + 247) and several commands (at
    /// most 4 + 32 each); the ACL queue keeps further PDUs, and the command
    /// queue further commands, until the port has written these out.
    pub const H4_TX_BUFFER: usize = 512;

    /// Attribute table rows (handles) in the GATT server: the goal.
    /// The GAP and GATT services take 11; 53 rows remain for the app, e.g. 4
    /// services of 4 characteristics with a CCCD each (4 + 4 * 4 * 3 = 52).
    pub const GATT_MAX_ATTRIBUTES: usize = 64;
    /// Bytes of attribute value storage shared by all attributes: the
    /// issue's goal. Fits the same 4 x 4 characteristics at ~60 bytes each.
    pub const GATT_VALUE_POOL: usize = 1024;

    /// Prepare Write queue entries per connection (Vol 3 Part F 3.4.6.1). A
    /// full server may answer Prepare Queue Full (Vol 3 Part F 3.4.1.1), and
    /// Zephyr's default is even 0 (no long writes). 4 entries of up to 242
    /// bytes carry a 512-byte value at MTU 247; it also bounds the events one
    /// Execute Write produces (EVENTS_PER_PACKET_MAX), hence the event queue.
    pub const ATT_PREPARE_QUEUE: usize = 4;
    /// Bytes held by the Prepare Write queue per connection: one attribute
    /// value of the longest length (Vol 3 Part F 3.2.9).
    pub const ATT_PREPARE_BYTES: usize = 512;

    /// Bytes of the ring where callback tuples wait for Python
    /// (`api::event::EventQueue`): room for the most one packet produces
    /// (EVENT_BYTES_PER_PACKET) and a few small tuples still waiting.
    pub const EVENT_BYTES: usize = super::EVENT_BYTES_PER_PACKET + 256;

    /// QuecPython: services, characteristics and descriptors registered
    /// before `addOrClearService(1, mode)` commits them to the attribute
    /// table; no more than the 53 free rows can take (4 + 16 * 2 + 16 = 52).
    pub const QPY_MAX_SERVICES: usize = 4;
    pub const QPY_MAX_CHARAS: usize = 16;
    pub const QPY_MAX_DESCS: usize = 16;
    /// Devices remembered per scan for `setScanFilter(1)` (7 bytes each); a
    /// device seen after the list is full is reported again.
    pub const QPY_SCAN_SEEN: usize = 16;
    /// QuecPython client calls waiting per link behind the running one (a
    /// few bytes each; their data lives in GATT_CLIENT_POOL).
    pub const GATT_CLIENT_QUEUE: usize = 4;
    /// Bytes of write values and handle lists those queued calls hold: two
    /// writes of the module's 244-byte notification limit.
    pub const GATT_CLIENT_POOL: usize = 512;
    /// Bytes of initial values held by those registrations: no more than the
    /// attribute-value pool they are committed into.
    pub const QPY_VALUE_POOL: usize = GATT_VALUE_POOL;

    /// Pycom: services and characteristics `service()`/`characteristic()`
    /// create (each characteristic takes 3 rows: declaration, value, CCCD).
    pub const PYCOM_MAX_SERVICES: usize = 4;
    pub const PYCOM_MAX_CHARS: usize = 16;
    /// Longest Pycom characteristic value kept: the firmware keeps 197;
    /// here 64, so that the 1 KB value pool holds 16 of them.
    pub const PYCOM_VALUE_MAX: usize = 64;
    /// Records one Pycom discovery (`services()`, `characteristics()`)
    /// returns; more give OSError(ENOMEM) as on the firmware.
    pub const PYCOM_RESULTS: usize = 16;
    /// Client characteristics with a notification handler.
    pub const PYCOM_SUBSCRIPTIONS: usize = 8;
    /// Pairings that may run at once (Security Manager sessions, ~250
    /// bytes each, lent to a link while it pairs): one, as a pairing is
    /// rare and short; another link asking meanwhile is refused.
    pub const SMP_SESSIONS: usize = 1;
}

#[cfg(not(any(target_os = "none", feature = "mcu")))]
mod sized {
    pub const NAME: &str = "unix";

    /// Simultaneous LE links. QuecPython uses one; Pycom may use several.
    pub const MAX_CONNECTIONS: usize = 4;

    /// Largest ATT_MTU we offer in Exchange MTU (Vol 3 Part F 3.4.2.1 allows
    /// up to 517, which makes every attribute value readable in one
    /// response).
    pub const ATT_MTU_MAX: usize = 517;

    /// Commands waiting for a Num_HCI_Command_Packets credit.
    pub const HCI_CMD_QUEUE: usize = 8;

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

    /// Bytes of the ring where callback tuples wait for Python. Flow
    /// control keeps it from overflowing, so beyond EVENT_BYTES_PER_PACKET
    /// its size only sets how many events one drain pass carries.
    pub const EVENT_BYTES: usize = 2 * super::EVENT_BYTES_PER_PACKET;

    /// QuecPython: services, characteristics and descriptors registered
    /// before `addOrClearService(1, mode)` commits them to the attribute
    /// table.
    pub const QPY_MAX_SERVICES: usize = 8;
    pub const QPY_MAX_CHARAS: usize = 32;
    pub const QPY_MAX_DESCS: usize = 32;
    /// Devices remembered per scan for `setScanFilter(1)`.
    pub const QPY_SCAN_SEEN: usize = 32;
    /// QuecPython client calls waiting per link behind the running one.
    pub const GATT_CLIENT_QUEUE: usize = 4;
    /// Bytes of write values and handle lists those queued calls hold.
    pub const GATT_CLIENT_POOL: usize = 1024;
    /// Bytes of initial values held by those registrations.
    pub const QPY_VALUE_POOL: usize = 4096;

    /// Pycom: services and characteristics `service()`/`characteristic()`
    /// create.
    pub const PYCOM_MAX_SERVICES: usize = 8;
    pub const PYCOM_MAX_CHARS: usize = 24;
    /// Longest Pycom characteristic value kept (the firmware keeps 197; a
    /// notification of 244 fills an MTU of 247).
    pub const PYCOM_VALUE_MAX: usize = 244;
    /// Records one Pycom discovery returns.
    pub const PYCOM_RESULTS: usize = 32;
    /// Client characteristics with a notification handler.
    pub const PYCOM_SUBSCRIPTIONS: usize = 16;
    /// Pairings that may run at once: one per link.
    pub const SMP_SESSIONS: usize = MAX_CONNECTIONS;
}

/// The H4 transmit buffer takes any one ACL packet (its data is at most a
/// whole L2CAP PDU) or command, else the queues in front of it would stall.
const _: () = assert!(H4_TX_BUFFER >= 5 + 4 + L2CAP_PDU_MAX);
const _: () = assert!(H4_TX_BUFFER >= 4 + HCI_CMD_PARAMS_SENT_MAX);

/// `HostCore::stop` queues up to one Disconnect per link plus four commands
/// (advertising and scan disable, Create Connection Cancel, Reset).
const _: () = assert!(HCI_CMD_QUEUE >= MAX_CONNECTIONS + 4);
/// The module's notification limit (QPY_VALUE_MAX_DEFAULT) must fit one
/// ATT_MTU_MAX notification.
const _: () = assert!(QPY_VALUE_MAX_DEFAULT + 3 <= ATT_MTU_MAX);

/// Bonds the host keeps (src/host/bonds.rs): the QuecPython API promises
/// 10 (`smpGetPairedDevInfo`, reference §4.8); when full, the oldest bond
/// makes room for a new one. 59 bytes each in RAM and in the store.
pub const BONDS: usize = 10;

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
/// The longest parameters of a command the host sends: LE Set Advertising
/// Data and LE Set Scan Response Data, 32 bytes (Vol 4 Part E 7.8.7,
/// 7.8.8); next come LE Enable Encryption (28) and LE Create Connection
/// (25). Each queued command reserves this many bytes, not 255.
pub const HCI_CMD_PARAMS_SENT_MAX: usize = 1 + ADV_DATA_MAX;
const _: () = assert!(HCI_CMD_PARAMS_SENT_MAX <= HCI_CMD_PARAM_MAX);
/// A command with no Command Complete/Status after this long has failed
/// (Vol 4 Part E 4.4 gives the host the duty to time out).
pub const HCI_CMD_TIMEOUT_MS: u32 = 1000;

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

const fn min(a: usize, b: usize) -> usize {
    if a < b {
        a
    } else {
        b
    }
}

/// HCI event parameters are at most 255 bytes (Vol 4 Part E 5.4.4).
pub const HCI_EVENT_PARAM_MAX: usize = 255;

/// Reports in one LE Advertising Report event: Num_Reports is 0x01..=0x19
/// (Vol 4 Part E 7.7.65.2). Each report takes at least 10 bytes (type,
/// address type, address, data length, RSSI) after the subevent code and
/// Num_Reports, so the parameter length allows no more either.
pub const LE_ADVERTISING_REPORTS_MAX: usize = 0x19;
const _: () = assert!((HCI_EVENT_PARAM_MAX - 2) / 10 == LE_ADVERTISING_REPORTS_MAX);
/// Reports in one LE Extended Advertising Report event: Num_Reports is
/// 0x01..=0x0A (Vol 4 Part E 7.7.65.13); each takes at least 24 bytes.
pub const LE_EXTENDED_ADVERTISING_REPORTS_MAX: usize = 0x0A;
const _: () = assert!((HCI_EVENT_PARAM_MAX - 2) / 24 == LE_EXTENDED_ADVERTISING_REPORTS_MAX);

/// Attributes one ATT request reads, each reported once (a handle a Read
/// Multiple names twice is one read): a Read Multiple (Variable) Request
/// names at most (ATT_MTU - 1) / 2 handles (Vol 3 Part F 3.4.4.7,
/// 3.4.4.11), a Read By Type Response holds records of at least 2 bytes in
/// ATT_MTU - 2 (3.4.4.2), and no request reads more attributes than the
/// table holds.
pub const ATT_READS_PER_PDU_MAX: usize = min(GATT_MAX_ATTRIBUTES, (ATT_MTU_MAX - 1) / 2);
/// Events the ATT server reports for one PDU: the reads above, or the
/// handles one Execute Write applies (at most one per queued Prepare Write,
/// Vol 3 Part F 3.4.6.3), or one for any other PDU.
pub const ATT_SERVER_EVENTS_MAX: usize = max(ATT_READS_PER_PDU_MAX, ATT_PREPARE_QUEUE);
/// Service records in one response to our GATT client: a Find By Type
/// Value Response lists 4-byte Handles Information entries in ATT_MTU - 1
/// bytes (Vol 3 Part F 3.4.3.4); Read By Group Type Response records are
/// longer (at least 6 bytes, 3.4.4.10). QuecPython reports each as its own
/// event 27.
pub const GATT_SERVICE_RECORDS_PER_PDU_MAX: usize = (ATT_MTU_MAX - 1) / 4;
/// Events one ATT PDU for our GATT client produces: its service records (or
/// one Results, Notification, Indication or MTU event), the Done that may
/// follow in the same step, and a Done for each procedure queued behind it
/// that is refused when its turn comes.
pub const GATT_CLIENT_EVENTS_PER_PDU_MAX: usize =
    GATT_SERVICE_RECORDS_PER_PDU_MAX + 2 + GATT_CLIENT_QUEUE;
/// Events one HCI event about a link or the life cycle produces: a
/// connection gives QuecPython events 16 and 26.
pub const EVENTS_PER_HCI_EVENT_MAX: usize = 2;

/// The most callback tuples (of all adapters) one packet from the
/// controller can produce, over every packet kind above. Flow control
/// counts bytes (EVENT_BYTES_PER_PACKET below); this count is what those
/// bytes must carry.
pub const EVENTS_PER_PACKET_MAX: usize = max(
    max(
        LE_ADVERTISING_REPORTS_MAX,
        LE_EXTENDED_ADVERTISING_REPORTS_MAX,
    ),
    max(
        max(ATT_SERVER_EVENTS_MAX, GATT_CLIENT_EVENTS_PER_PDU_MAX),
        EVENTS_PER_HCI_EVENT_MAX,
    ),
);
const _: () = assert!(EVENTS_PER_PACKET_MAX >= LE_ADVERTISING_REPORTS_MAX);
const _: () = assert!(EVENTS_PER_PACKET_MAX >= ATT_SERVER_EVENTS_MAX);
const _: () = assert!(EVENTS_PER_PACKET_MAX >= ATT_PREPARE_QUEUE);
const _: () = assert!(EVENTS_PER_PACKET_MAX >= GATT_CLIENT_EVENTS_PER_PDU_MAX);

/// The most host events one packet (or one call) produces: each
/// advertising report, each attribute the ATT server reads or writes, a
/// response for our GATT client with the Done that may follow and one for
/// each refused queued procedure (service records are one host event; the
/// adapter splits them), or what a lost transport reports at once (a
/// Disconnected per link and Stopped).
pub const HOST_EVENTS_PER_PACKET_MAX: usize = max(
    max(
        LE_ADVERTISING_REPORTS_MAX,
        LE_EXTENDED_ADVERTISING_REPORTS_MAX,
    ),
    max(
        max(ATT_SERVER_EVENTS_MAX, 2 + GATT_CLIENT_QUEUE),
        max(EVENTS_PER_HCI_EVENT_MAX, MAX_CONNECTIONS + 1),
    ),
);
/// Host events waiting for the adapters (`HostCore`'s queue): drained after
/// every packet and every call, so it needs one packet's worth.
pub const HOST_EVENT_QUEUE: usize = HOST_EVENTS_PER_PACKET_MAX;
/// Largest byte payload carried by one event (a whole ATT value).
pub const EVENT_DATA_MAX: usize = ATT_MTU_MAX + 3;

/// Bytes of the callback tuple of a server read or write, beyond the
/// attribute value it carries (QuecPython events 21 and 22: five ints, the
/// value and a 16-byte UUID take 36 bytes in `api::event::EventQueue`).
pub const EVENT_TUPLE_WITH_VALUE: usize = 48;

/// The flow-control rule: the most bytes of callback tuples that one packet
/// from the controller can produce. The core takes a packet only while the
/// tuple queue has this many bytes free (`api::Firmware::h4_rx`), so no
/// tuple is ever dropped. The largest of:
/// - ATT server: one request reads (or an Execute Write writes) up to
///   ATT_SERVER_EVENTS_MAX attributes, each reported once with its whole
///   value; their values together are at most the value pool (each
///   attribute reserved its length there), plus 2 bytes per CCCD (kept per
///   link, outside the pool);
/// - GATT client: a response's records become one tuple each: a 4-byte
///   Find By Type Value record a 14-byte tuple, so 4 bytes per byte of the
///   PDU cover every discovery response, and a notification or read
///   response (its value plus 8); then a Done and one end for each queued
///   procedure refused when its turn comes;
/// - GAP: an LE Advertising Report of up to 25 reports (Vol 4 Part E
///   7.7.65.2) in 255 bytes: at most 720 bytes of scan tuples (28 each,
///   plus the data and the name taken from it).
///
/// `api::tests` feeds the worst packet of each kind and checks the bytes.
pub const EVENT_BYTES_PER_PACKET: usize = max(
    max(
        ATT_SERVER_EVENTS_MAX * (EVENT_TUPLE_WITH_VALUE + 2) + GATT_VALUE_POOL,
        4 * ATT_MTU_MAX + (2 + GATT_CLIENT_QUEUE) * EVENT_TUPLE_WITH_VALUE,
    ),
    720,
);
const _: () = assert!(EVENT_BYTES > EVENT_BYTES_PER_PACKET);

/// An ATT transaction (here: an indication awaiting its confirmation)
/// fails after 30 s (Vol 3 Part F 3.3.3).
pub const ATT_TRANSACTION_TIMEOUT_MS: u32 = 30_000;

/// Longest device name (GAP Device Name characteristic, Vol 3 Part C 12.1).
pub const DEVICE_NAME_MAX: usize = 32;
/// Legacy advertising and scan response data (Vol 6 Part B 2.3.1.1).
pub const ADV_DATA_MAX: usize = 31;
/// Pycom's advertisement FIFO (`BT_SCAN_QUEUE_SIZE_MAX`, reference §12).
pub const PYCOM_ADV_FIFO: usize = 16;

/// Longest value a peer may write to a QuecPython characteristic whose
/// initial value is shorter: the module's notification limit (HELIOS
/// `len //max 244`), i.e. MTU 247 - 3.
pub const QPY_VALUE_MAX_DEFAULT: usize = 244;
/// Longest attribute value (Vol 3 Part F 3.2.9).
pub const ATT_VALUE_MAX: usize = 512;

#[cfg(test)]
mod tests {
    //! What each capacity costs, measured with `size_of` on the host:
    //! `cargo test capacity_costs -- --nocapture` (unix) and
    //! `cargo test --features mcu capacity_costs -- --nocapture`. On
    //! thumbv7m a `usize` is 4 bytes instead of 8, so `make size` (which
    //! reads the target's DWARF) shows a few bytes less per structure.
    use super::*;
    use crate::api::event::EventQueue;
    use crate::api::quecpython::QuecPython;
    use crate::api::Stack;
    use crate::att::db::AttributeDb;
    use crate::att::server::AttBearer;
    use crate::gatt::client::GattClient;
    use crate::gatt::queue::ProcedureQueue;
    #[cfg(feature = "mcu")]
    use crate::gatt::server::GattServer;
    use crate::hci::acl::AclTxQueue;
    use crate::hci::command::CommandQueue;
    use crate::hci::h4::{H4Parser, H4Tx};
    use crate::host::{Connection, HostEvent, LinkKeys, Smp};
    use crate::l2cap::Reassembler;
    use core::mem::size_of;

    /// On a microcontroller the QuecPython registrations are sized to fit
    /// the rows the GAP and GATT services leave free.
    #[cfg(any(target_os = "none", feature = "mcu"))]
    #[test]
    fn qpy_registrations_fit_the_table() {
        let mut db = AttributeDb::new();
        db.add_gap_gatt_services(b"mpble").unwrap();
        assert_eq!(db.len(), 11);
        let rows = QPY_MAX_SERVICES + 2 * QPY_MAX_CHARAS + QPY_MAX_DESCS;
        assert!(rows <= GATT_MAX_ATTRIBUTES - db.len());
    }

    #[test]
    fn capacity_costs() {
        // A slot: the connection and its `live` flag.
        let conn = size_of::<Connection>() + 1;
        let rows = [
            ("Stack (all of the core's state)", size_of::<Stack>()),
            ("MAX_CONNECTIONS: Connection each", conn * MAX_CONNECTIONS),
            (
                "  of which AttBearer (ATT_PREPARE_QUEUE, _BYTES)",
                size_of::<AttBearer>() * MAX_CONNECTIONS,
            ),
            (
                "  of which GattClient",
                size_of::<GattClient>() * MAX_CONNECTIONS,
            ),
            (
                "  of which Reassembler (L2CAP_PDU_MAX)",
                size_of::<Reassembler>() * MAX_CONNECTIONS,
            ),
            (
                "  of which LinkKeys (the LTK, SMP state)",
                size_of::<LinkKeys>() * MAX_CONNECTIONS,
            ),
            ("SMP_SESSIONS: Smp (pairing sessions)", size_of::<Smp>()),
            (
                "ATT_MTU_MAX: HostCore frame + client_rx",
                4 + L2CAP_PDU_MAX + ATT_MTU_MAX,
            ),
            (
                "ATT_MTU_MAX: H4Parser (ACL_RX_PAYLOAD_MAX)",
                size_of::<H4Parser>(),
            ),
            ("ATT_MTU_MAX: AclTxQueue (4 PDUs)", size_of::<AclTxQueue>()),
            ("HCI_CMD_QUEUE: CommandQueue", size_of::<CommandQueue>()),
            ("H4_TX_BUFFER: H4Tx", size_of::<H4Tx>()),
            (
                "GATT_MAX_ATTRIBUTES + GATT_VALUE_POOL: AttributeDb",
                size_of::<AttributeDb>(),
            ),
            (
                "  per attribute row",
                (size_of::<AttributeDb>() - GATT_VALUE_POOL) / GATT_MAX_ATTRIBUTES,
            ),
            (
                "HOST_EVENT_QUEUE: HostEvent each",
                HOST_EVENT_QUEUE * size_of::<HostEvent>(),
            ),
            (
                "EVENT_BYTES: EventQueue",
                size_of::<EventQueue<EVENT_BYTES>>(),
            ),
            (
                "QPY_*: QuecPython (registrations, pools, client)",
                size_of::<QuecPython>(),
            ),
            (
                "GATT_CLIENT_QUEUE, _POOL: ProcedureQueue",
                size_of::<ProcedureQueue>(),
            ),
            (
                "  of which QPY_SCAN_SEEN list",
                size_of::<heapless::Vec<(u8, [u8; 6]), QPY_SCAN_SEEN>>(),
            ),
        ];
        std::println!("capacity costs, {CONFIGURATION} configuration (size_of on the host):");
        for (what, bytes) in rows {
            std::println!("  {what:<56} {bytes:>6}");
        }
        // The pools are exactly their capacity in bytes.
        assert!(size_of::<AttributeDb>() >= GATT_VALUE_POOL);
        assert!(size_of::<H4Tx>() >= H4_TX_BUFFER);
    }
}
