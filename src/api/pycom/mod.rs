//! Pycom `network.Bluetooth` semantics (shared/reference/pycom-bluetooth-api.md).
//!
//! Pycom's API is object-shaped and partly blocking: the port keeps the
//! Python objects (`GATTSCharacteristic`, `GATTCConnection`, ...) and waits
//! in its idle loop for blocking calls; this adapter keeps everything the
//! core must know to serve them, by index:
//! - the Bluetooth-level event bits and trigger (`events()`, `callback()`),
//!   the advertisement FIFO (`get_adv()`, `adv.rs`), a timed scan;
//! - the GATT server's services and characteristics (`service()`,
//!   `characteristic()`): values live in ATT's table; a characteristic
//!   whose handler takes `CHAR_READ_EVENT` has its reads deferred to Python
//!   ([`crate::att::db::AttributeDb::set_deferred_read`]), so the handler's
//!   return value becomes the Read Response (reference §8.3);
//! - one GATT client operation at a time (`services()`, `characteristics()`,
//!   `read()`, `write()`), as Pycom's firmware allows (reference §12), with
//!   its results kept here until the port copies them out; it queues in the
//!   core's procedure queue like any other;
//! - a pending `connect()`, and the links Pycom made, each with a
//!   generation so a `GATTCConnection` of a dropped link never acts on a
//!   new link in the same slot.
//!
//! Callback tuples (target [`MpbleTarget::PycomBluetooth`]) start with a
//! [`tuple`] kind; the port's dispatcher finds the Python object and calls
//! its handler in the form it takes (reference §8.2).

pub mod adv;
#[cfg(test)]
mod tests;

use super::event::{MpbleEvent, MpbleTarget};
use super::Adapter;
use crate::att::db::{AttPermissions, AttributeDb};
use crate::config;
use crate::gatt::client::ClientEvent;
use crate::gatt::queue::{Procedure, Request, Span};
use crate::gatt::server::{GattServer, CLIENT_CHARACTERISTIC_CONFIGURATION};
use crate::host::{ConnSlot, HostCore, HostError, HostEvent, Role, SecurityConfig};
use crate::time::Instant;
use crate::uuid::Uuid;
use adv::{AdvEntry, AdvFifo, Advertisement};
use heapless::Vec;

/// Event and trigger bits (reference §11), `Bluetooth.*` constants.
pub mod bits {
    pub const NEW_ADV_EVENT: u8 = 1;
    pub const CLIENT_CONNECTED: u8 = 2;
    pub const CLIENT_DISCONNECTED: u8 = 4;
    pub const CHAR_READ_EVENT: u8 = 8;
    pub const CHAR_WRITE_EVENT: u8 = 16;
    pub const CHAR_NOTIFY_EVENT: u8 = 32;
    /// An indication (no public constant; the firmware passes 64).
    pub const CHAR_INDICATE_EVENT: u8 = 64;
    pub const CHAR_SUBSCRIBE_EVENT: u8 = 128;
}

/// `PERM_*` constants (reference §11).
pub mod perm {
    pub const READ: u16 = 1;
    pub const READ_ENCRYPTED: u16 = 2;
    pub const READ_ENC_MITM: u16 = 4;
    pub const WRITE: u16 = 16;
    pub const WRITE_ENCRYPTED: u16 = 32;
    pub const WRITE_ENC_MITM: u16 = 64;
    pub const WRITE_SIGNED: u16 = 128;
    pub const WRITE_SIGNED_MITM: u16 = 256;
}

/// First value of each callback tuple: what it is about.
pub mod tuple {
    /// `(BLUETOOTH, event_bit)`: the `Bluetooth.callback` handler.
    pub const BLUETOOTH: i64 = 0;
    /// `(CHAR, char_index, event_bit, data or None)`: a server
    /// characteristic's handler; the return value is ignored.
    pub const CHAR: i64 = 1;
    /// `(READ, char_index, conn)`: a deferred read; the port calls the
    /// handler and answers with `mpble_pycom_read_reply`.
    pub const READ: i64 = 2;
    /// `(NOTIFY, conn, value_handle, event_bit, data)`: a notification or
    /// indication for a subscribed client characteristic.
    pub const NOTIFY: i64 = 3;
}

/// Results of the calls, mapped to Pycom's exceptions by the port
/// (reference §16).
pub mod err {
    pub const OK: i32 = 0;
    /// "operation already in progress".
    pub const BUSY: i32 = 1;
    /// "the requested operation failed".
    pub const FAILED: i32 = 2;
    /// "connection already closed" / the link dropped while waiting.
    pub const NOT_CONNECTED: i32 = 3;
    /// More results than the adapter keeps (`config::PYCOM_RESULTS`).
    pub const NO_MEMORY: i32 = 4;
    pub const INVALID: i32 = 5;
    /// The stack is not running.
    pub const NOT_READY: i32 = 6;
    /// No room to send now: wait for the controller, then try again.
    pub const AGAIN: i32 = 7;
    /// `characteristic()` on a service that is not the last one created.
    pub const NOT_LAST_SERVICE: i32 = 8;
    /// The attribute table or its value pool is full.
    pub const TABLE_FULL: i32 = 9;
    /// `connect()` ended with an HCI error (status in the low byte).
    pub const CONNECT_FAILED: i32 = 10;
    /// The peer did not answer a request within the ATT transaction
    /// timeout (30 s, Vol 3 Part F 3.3.3).
    pub const TIMED_OUT: i32 = 11;
    /// Still running.
    pub const PENDING: i32 = -1;
}

/// Our mark on the GATT client requests we queue (`Request::owner`).
pub const OWNER: u8 = 2;

/// Longest characteristic value kept (the firmware keeps 197, `BT_MTU_SIZE_MAX
/// - 3`; longer sets and writes are cut, reference §9.3).
pub const VALUE_MAX: usize = config::PYCOM_VALUE_MAX;

#[derive(Clone, Copy, Debug)]
struct Service {
    handle: u16,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Char {
    value_handle: u16,
    cccd_handle: u16,
    pub(crate) trigger: u8,
    events: u8,
    /// The last CCCD value a client wrote (`config()`).
    config: u16,
}

/// A link as Pycom sees it.
#[derive(Clone, Copy, Debug, Default)]
struct Link {
    connected: bool,
    /// We are its peripheral: a client of our GATT server.
    server: bool,
    /// Counts the links this slot has held; a Python object keeps the value
    /// it was made with.
    generation: u16,
    /// ATT_MTU as last exchanged.
    mtu: u16,
    /// Exchange MTU has ended (or was never needed).
    mtu_done: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Connect {
    Idle,
    Pending,
    Connected(ConnSlot),
    Failed(u8),
    /// Timed out; a link that still comes is dropped.
    Cancelled,
}

/// One result of a client discovery (reference §3-§5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// Service start, characteristic declaration or descriptor handle.
    pub handle: u16,
    /// Service end group handle; characteristic value handle.
    pub end: u16,
    /// Characteristic properties.
    pub properties: u8,
    pub uuid: Uuid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Idle,
    Running { conn: ConnSlot, seq: u8 },
    Done(i32),
}

/// The blocking client operation and its results.
struct Gattc {
    op: Op,
    /// Tags our requests so that the answer of an abandoned one (timed
    /// out in Python) is not taken for a later one's.
    seq: u8,
    records: Vec<Record, { config::PYCOM_RESULTS }>,
    overflow: bool,
    value: [u8; config::ATT_VALUE_MAX],
    value_len: usize,
}

impl Gattc {
    const fn new() -> Self {
        Gattc {
            op: Op::Idle,
            seq: 0,
            records: Vec::new(),
            overflow: false,
            value: [0; config::ATT_VALUE_MAX],
            value_len: 0,
        }
    }
}

/// The client operations of `GATTCConnection`/`GATTCService`/
/// `GATTCCharacteristic`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientOp<'a> {
    Services,
    Characteristics { start: u16, end: u16 },
    Descriptors { start: u16, end: u16 },
    Read { handle: u16 },
    Write { handle: u16, value: &'a [u8] },
}

pub struct Pycom {
    /// `Bluetooth()` was called (and not `deinit()`): Pycom hears events.
    active: bool,
    /// Security is on (`Bluetooth(pin=)` or `set_pin`): pairing with the
    /// PIN as a static passkey, and new characteristics default to
    /// encrypted permissions (reference §2.16, §6).
    secure: bool,
    /// `secure_connections=False` was given with the PIN: legacy bonding.
    legacy_pairing: bool,
    bt_events: u8,
    bt_trigger: u8,
    pub fifo: AdvFifo,
    scanning: bool,
    /// When a timed scan ends (`start_scan(timeout)` with timeout > 0).
    scan_deadline: Option<Instant>,
    /// `advertise(True)` is in force: advertising restarts after a client
    /// leaves (reference §2.9).
    advertising: bool,
    restart_advertising: bool,
    /// The MTU offered in Exchange MTU (`Bluetooth(mtu=)`).
    mtu: u16,
    services: Vec<Service, { config::PYCOM_MAX_SERVICES }>,
    pub(crate) chars: Vec<Char, { config::PYCOM_MAX_CHARS }>,
    /// Links whose deferred read no Python handler will answer.
    auto_reply: Vec<ConnSlot, { config::MAX_CONNECTIONS }>,
    links: [Link; config::MAX_CONNECTIONS],
    connect: Connect,
    /// The address types of the devices seen last, for `connect()`.
    seen: [([u8; 6], u8); config::PYCOM_ADV_FIFO],
    seen_next: u8,
    /// A new central link whose Exchange MTU `poll` starts.
    exchange_mtu: Option<ConnSlot>,
    /// A link that came after `connect()` gave up, for `poll` to drop.
    drop_link: Option<ConnSlot>,
    /// Client characteristics whose notifications reach Python: (link,
    /// value handle).
    subscriptions: Vec<(ConnSlot, u16), { config::PYCOM_SUBSCRIPTIONS }>,
    gattc: Gattc,
    /// Tuples refused for lack of room.
    pub events_dropped: u32,
}

impl Default for Pycom {
    fn default() -> Self {
        Self::new()
    }
}

/// An empty link slot (all zeros).
const NO_LINK: Link = Link {
    connected: false,
    server: false,
    generation: 0,
    mtu: 0,
    mtu_done: false,
};

/// Copies what fits of `src` to the front of `dst`; returns the count.
/// (No slicing that could panic: the firmware links no panic formatting,
/// issue 6.)
pub(crate) fn copy_prefix(dst: &mut [u8], src: &[u8]) -> usize {
    let mut n = 0;
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
        n += 1;
    }
    n
}

/// Maps a host refusal onto Pycom's errors.
fn host_err(e: HostError) -> i32 {
    match e {
        HostError::NotReady => err::NOT_READY,
        HostError::NoConnection => err::NOT_CONNECTED,
        HostError::Busy | HostError::QueueFull => err::AGAIN,
        HostError::InvalidArgument | HostError::TooLong => err::INVALID,
    }
}

/// `PERM_*` bits as ATT permissions. Signed writes are not supported by the
/// core; they are taken as plain writes.
pub fn att_permissions(p: u16) -> AttPermissions {
    let mut a = AttPermissions::empty();
    if p & (perm::READ | perm::READ_ENCRYPTED | perm::READ_ENC_MITM) != 0 {
        a |= AttPermissions::READ;
    }
    if p & perm::READ_ENCRYPTED != 0 {
        a |= AttPermissions::READ_ENCRYPTION;
    }
    if p & perm::READ_ENC_MITM != 0 {
        a |= AttPermissions::READ_AUTHENTICATED_MITM;
    }
    if p & (perm::WRITE
        | perm::WRITE_ENCRYPTED
        | perm::WRITE_ENC_MITM
        | perm::WRITE_SIGNED
        | perm::WRITE_SIGNED_MITM)
        != 0
    {
        a |= AttPermissions::WRITE;
    }
    if p & perm::WRITE_ENCRYPTED != 0 {
        a |= AttPermissions::WRITE_ENCRYPTION;
    }
    if p & (perm::WRITE_ENC_MITM | perm::WRITE_SIGNED_MITM) != 0 {
        a |= AttPermissions::WRITE_AUTHENTICATED_MITM;
    }
    a
}

/// An int as Pycom's initial values and read-handler results encode it
/// (reference §9.1): truncated to 32 bits, then 1 byte if ≤ 0xFF, 2 if
/// ≤ 0xFFFF, else 4, big-endian.
pub fn encode_int_be(v: i64) -> ([u8; 4], usize) {
    let v = v as u32;
    let b = v.to_be_bytes();
    let n = if v <= 0xFF {
        1
    } else if v <= 0xFFFF {
        2
    } else {
        4
    };
    let mut out = [0u8; 4];
    copy_prefix(&mut out, b.get(4 - n..).unwrap_or(&[]));
    (out, n)
}

/// An int as `GATTSCharacteristic.value(int)` stores it: the same
/// big-endian 1/2/4 bytes as initial values. The firmware's setter copies
/// memory instead (little-endian, cut to 2 bytes: `value(0x12345678)`
/// stored `78 56`, reference §9.1), a plain bug that is not copied
/// (docs/DECISIONS.md).
pub fn encode_int_setter(v: i64) -> ([u8; 4], usize) {
    encode_int_be(v)
}

impl Pycom {
    pub const fn new() -> Self {
        Pycom {
            active: false,
            secure: false,
            legacy_pairing: false,
            bt_events: 0,
            bt_trigger: 0,
            fifo: AdvFifo::new(),
            scanning: false,
            scan_deadline: None,
            advertising: false,
            restart_advertising: false,
            mtu: 0,
            services: Vec::new(),
            chars: Vec::new(),
            auto_reply: Vec::new(),
            links: [NO_LINK; config::MAX_CONNECTIONS],
            connect: Connect::Idle,
            seen: [([0; 6], 0); config::PYCOM_ADV_FIFO],
            seen_next: 0,
            exchange_mtu: None,
            drop_link: None,
            subscriptions: Vec::new(),
            gattc: Gattc::new(),
            events_dropped: 0,
        }
    }

    // -- Bluetooth ------------------------------------------------------------

    /// `Bluetooth()` / `init()`: Pycom hears events from now on; `mtu` is
    /// what a `connect()` offers (clamped to 23..=ATT_MTU_MAX; the
    /// firmware's cap is 200, ours the core's).
    pub fn activate(&mut self, core: &mut HostCore, mtu: i64) {
        if !self.active {
            // Pycom's advertising defaults: connectable undirected, every
            // 20-40 ms, all channels, public address (reference §12).
            let mut a = core.gap.adv.params();
            a.interval_min = 0x20;
            a.interval_max = 0x40;
            a.advertising_type = 0;
            a.own_address_type = 0;
            a.channel_map = 7;
            a.filter_policy = 0;
            core.gap.adv.set_params(a);
        }
        self.active = true;
        self.mtu = mtu.clamp(config::ATT_MTU_DEFAULT as i64, config::ATT_MTU_MAX as i64) as u16;
        // Pycom's stack always serves GAP and GATT (Bluedroid does).
        if core.db.is_empty() {
            let _ = core.db.add_gap_gatt_services(b" ");
        }
    }

    pub fn is_active(&self) -> bool {
        self.active
    }

    /// `deinit()`: everything is forgotten (the port stops the stack).
    /// `Bluetooth(pin=, secure_connections=)` / `set_pin(pin)`: security
    /// on (reference §2.1, §2.16): the PIN is the static passkey we show
    /// (IO capability DisplayOnly), with MITM and bonding, LE Secure
    /// Connections unless `secure_connections` is false (then LE legacy
    /// pairing); `None` keeps the last choice (`set_pin`). Characteristics
    /// made from now on default to `PERM_READ_ENCRYPTED |
    /// PERM_WRITE_ENCRYPTED`.
    pub fn set_pin(&mut self, core: &mut HostCore, pin: u32, secure_connections: Option<bool>) {
        if let Some(sc) = secure_connections {
            self.legacy_pairing = !sc;
        }
        core.set_security_config(SecurityConfig {
            io_capability: 0,
            auth_req: if self.legacy_pairing { 0x05 } else { 0x0D },
            passkey: pin,
            timeout: 300,
        });
        self.secure = true;
    }

    /// Security is on ([`Pycom::set_pin`]).
    pub fn secure(&self) -> bool {
        self.secure
    }

    pub fn deactivate(&mut self) {
        *self = Pycom::new();
    }

    /// `callback(trigger, handler)`: the bits that call the handler.
    pub fn set_trigger(&mut self, trigger: u8) {
        self.bt_trigger = trigger;
    }

    /// `events()`: the bits since the last call, cleared.
    pub fn take_events(&mut self) -> u8 {
        core::mem::take(&mut self.bt_events)
    }

    // -- scanning -------------------------------------------------------------

    /// `start_scan(timeout)`: seconds; negative scans until `stop_scan`.
    /// Active scanning at 50 ms / 30 ms, every report kept (reference
    /// §2.3). The FIFO starts empty.
    pub fn start_scan(&mut self, core: &mut HostCore, timeout_s: i64, now: u32) -> i32 {
        if timeout_s == 0 {
            return err::INVALID;
        }
        if self.scanning {
            return err::BUSY;
        }
        let mut p = core.gap.scan.params();
        p.scan_type = 1;
        p.interval = 0x50;
        p.window = 0x30;
        p.filter_policy = 0;
        p.own_address_type = 0;
        core.gap.scan.set_params(p);
        if let Err(e) = core.set_scanning(true) {
            return host_err(e);
        }
        self.fifo.clear();
        self.scanning = true;
        self.scan_deadline = (timeout_s > 0).then(|| {
            let ms = timeout_s.min(i64::from(u32::MAX / 2 / 1000)) as u32 * 1000;
            Instant::from_ms(now).add_ms(ms)
        });
        err::OK
    }

    pub fn stop_scan(&mut self, core: &mut HostCore) -> i32 {
        if !self.scanning {
            return err::OK;
        }
        self.scanning = false;
        self.scan_deadline = None;
        match core.set_scanning(false) {
            Ok(()) => err::OK,
            Err(e) => host_err(e),
        }
    }

    pub fn is_scanning(&self) -> bool {
        self.scanning
    }

    pub fn get_adv(&mut self) -> Option<AdvEntry> {
        self.fifo.pop()
    }

    // -- advertising ----------------------------------------------------------

    /// `set_advertisement(...)`: replaces both packets (omitted fields go)
    /// and sets the GAP device name (" " without a name, as the firmware).
    pub fn set_advertisement(&mut self, core: &mut HostCore, a: &Advertisement<'_>) -> i32 {
        let (data, rsp) = match adv::build(a) {
            Ok(p) => p,
            Err(adv::AdvError::UuidLength) => return err::INVALID,
            Err(adv::AdvError::TooLong) => return err::FAILED,
        };
        core.gap.adv.data.clear();
        let _ = core.gap.adv.data.extend_from_slice(data.as_bytes());
        core.gap.adv.scan_response.clear();
        let _ = core.gap.adv.scan_response.extend_from_slice(rsp.as_bytes());
        let name = a.name.unwrap_or(b" ");
        let n = name.len().min(config::DEVICE_NAME_MAX);
        let _ = core.db.set_device_name(name.get(..n).unwrap_or(&[]));
        for scan_response in [false, true] {
            if let Err(e) = core.refresh_adv_data(scan_response) {
                return host_err(e);
            }
        }
        err::OK
    }

    /// `set_advertisement_params(...)`: `[adv_int_min, adv_int_max,
    /// adv_type, own_addr_type, channel_map, adv_filter_policy]`, -1 for an
    /// omitted one (it keeps its value, reference §2.11). The constants are
    /// LE Set Advertising Parameters' own codes (Vol 4 Part E 7.8.5); the
    /// firmware checks no range, the core refuses what the command cannot
    /// carry.
    pub fn set_adv_params(&mut self, core: &mut HostCore, p: [i64; 6]) -> i32 {
        let mut a = core.gap.adv.params();
        let fits = |v: i64, lo: i64, hi: i64| v == -1 || (lo..=hi).contains(&v);
        let ok = fits(p[0], 0x20, 0x4000)
            && fits(p[1], 0x20, 0x4000)
            && fits(p[2], 0, 4)
            && fits(p[3], 0, 3)
            && fits(p[4], 1, 7)
            && fits(p[5], 0, 3);
        if !ok {
            return err::INVALID;
        }
        let set = |v: i64, field: &mut u16| {
            if v != -1 {
                *field = v as u16;
            }
        };
        set(p[0], &mut a.interval_min);
        set(p[1], &mut a.interval_max);
        let set8 = |v: i64, field: &mut u8| {
            if v != -1 {
                *field = v as u8;
            }
        };
        set8(p[2], &mut a.advertising_type);
        set8(p[3], &mut a.own_address_type);
        set8(p[4], &mut a.channel_map);
        set8(p[5], &mut a.filter_policy);
        core.gap.adv.set_params(a);
        err::OK
    }

    /// `set_advertisement_raw(raw)`: the advertising packet as given (up
    /// to 31 bytes; the firmware's off-by-one that drops the 31st is not
    /// copied).
    pub fn set_adv_raw(&mut self, core: &mut HostCore, raw: &[u8]) -> i32 {
        if raw.len() > config::ADV_DATA_MAX {
            return err::INVALID;
        }
        core.gap.adv.data.clear();
        let _ = core.gap.adv.data.extend_from_slice(raw);
        match core.refresh_adv_data(false) {
            Ok(()) => err::OK,
            Err(e) => host_err(e),
        }
    }

    /// `advertise(enable)`.
    pub fn advertise(&mut self, core: &mut HostCore, on: bool) -> i32 {
        self.advertising = on;
        self.restart_advertising = false;
        match core.advertise(on) {
            Ok(()) => err::OK,
            Err(e) => host_err(e),
        }
    }

    /// `disconnect_client()`: every link where we are the server.
    pub fn disconnect_client(&mut self, core: &mut HostCore) {
        for slot in ConnSlot::all() {
            if self.link(slot).is_some_and(|l| l.connected && l.server) {
                let _ = core.disconnect(slot);
            }
        }
    }

    // -- GATT server ----------------------------------------------------------

    /// `service(uuid, isprimary=...)`: a service declaration at the next
    /// handle; returns its index.
    pub fn add_service(&mut self, db: &mut AttributeDb, uuid: Uuid, primary: bool) -> i32 {
        if self.services.is_full() {
            return -err::TABLE_FULL;
        }
        let Ok(handle) = db.add_service(uuid, primary) else {
            return -err::TABLE_FULL;
        };
        let _ = self.services.push(Service { handle });
        (self.services.len() - 1) as i32
    }

    /// `characteristic(uuid, permissions, properties, value)` in service
    /// `service`: the declaration, the value and a CCCD (the firmware gives
    /// every characteristic one, reference §6). Characteristics join the
    /// last service created: the table grows by handle (ATT's table is
    /// append-only), so one added to an earlier service is refused
    /// (docs/DECISIONS.md). Returns the characteristic's index.
    pub fn add_characteristic(
        &mut self,
        db: &mut AttributeDb,
        service: usize,
        uuid: Uuid,
        permissions: u16,
        properties: u8,
        value: &[u8],
    ) -> i32 {
        let Some(svc) = self.services.get(service) else {
            return -err::INVALID;
        };
        let last = db
            .attributes()
            .rev()
            .find(|a| a.kind.is_service())
            .map(|a| a.handle);
        if last != Some(svc.handle) {
            return -err::NOT_LAST_SERVICE;
        }
        if self.chars.is_full() {
            return -err::TABLE_FULL;
        }
        let value = value.get(..value.len().min(VALUE_MAX)).unwrap_or(&[]);
        let perms = att_permissions(permissions);
        let Ok((_, value_handle)) =
            db.add_characteristic(properties, uuid, perms, value, VALUE_MAX)
        else {
            return -err::TABLE_FULL;
        };
        let cccd = Uuid::Uuid16(CLIENT_CHARACTERISTIC_CONFIGURATION);
        let rw = AttPermissions::READ | AttPermissions::WRITE;
        let Ok(cccd_handle) = db.add_descriptor(cccd, rw, &[0, 0], 2) else {
            return -err::TABLE_FULL;
        };
        let _ = self.chars.push(Char {
            value_handle,
            cccd_handle,
            ..Char::default()
        });
        (self.chars.len() - 1) as i32
    }

    fn char_at(&self, idx: usize) -> Option<&Char> {
        self.chars.get(idx)
    }

    pub fn char_value_handle(&self, idx: usize) -> Option<u16> {
        self.char_at(idx).map(|c| c.value_handle)
    }

    /// `characteristic.callback(trigger, handler)`: with `CHAR_READ_EVENT`
    /// reads wait for the handler (reference §8.3).
    pub fn set_char_trigger(&mut self, db: &mut AttributeDb, idx: usize, trigger: u8) -> i32 {
        let Some(c) = self.chars.get_mut(idx) else {
            return err::INVALID;
        };
        c.trigger = trigger;
        let _ = db.set_deferred_read(c.value_handle, trigger & bits::CHAR_READ_EVENT != 0);
        err::OK
    }

    /// `characteristic.events()`: READ/WRITE/SUBSCRIBE bits, cleared.
    pub fn take_char_events(&mut self, idx: usize) -> u8 {
        self.chars
            .get_mut(idx)
            .map_or(0, |c| core::mem::take(&mut c.events))
    }

    /// `characteristic.config()`.
    pub fn char_config(&self, idx: usize) -> u16 {
        self.char_at(idx).map_or(0, |c| c.config)
    }

    /// `characteristic.value(v)`: stores it (cut to `VALUE_MAX`). Returns
    /// the links to notify or indicate, as a bit mask for
    /// [`Pycom::notify`]: those whose CCCD asks for it (a value set with
    /// nobody subscribed is only stored, reference §13 item 8).
    pub fn set_char_value(&mut self, db: &mut AttributeDb, idx: usize, value: &[u8]) -> i32 {
        let Some(c) = self.char_at(idx).copied() else {
            return -err::INVALID;
        };
        let value = value.get(..value.len().min(VALUE_MAX)).unwrap_or(&[]);
        if db.set_value(c.value_handle, value).is_err() {
            return -err::FAILED;
        }
        let mut mask = 0;
        for slot in ConnSlot::all() {
            let live = self.link(slot).is_some_and(|l| l.connected);
            if live && db.cccd(slot.index(), c.cccd_handle) != 0 {
                mask |= 1 << slot.index();
            }
        }
        mask
    }

    /// Sends characteristic `idx`'s value to the links in `mask`: a
    /// notification, or an indication when that link's CCCD asks only for
    /// indications. Returns the links still to do (no room in the
    /// controller's queue, or an indication still unconfirmed): the port
    /// waits and calls again, so no update is lost (reference: "rapid
    /// value() updates" lose notifications on Pycom's firmware).
    pub fn notify(&mut self, core: &mut HostCore, idx: usize, mask: u32, now: u32) -> u32 {
        let Some(c) = self.char_at(idx).copied() else {
            return 0;
        };
        let mut rest = 0;
        for slot in ConnSlot::all() {
            if mask & (1 << slot.index()) == 0 {
                continue;
            }
            let cccd = core.db.cccd(slot.index(), c.cccd_handle);
            let indicate = cccd & 1 == 0 && cccd & 2 != 0;
            let mtu = core.connection(slot).map_or(23, |l| l.att.mtu());
            let mut buf = [0u8; VALUE_MAX];
            let value = core.db.value(c.value_handle).unwrap_or(&[]);
            // The value is cut to what one PDU carries (ATT_MTU - 3).
            let n = value.len().min(usize::from(mtu) - 3).min(buf.len());
            let n = copy_prefix(&mut buf, value.get(..n).unwrap_or(&[]));
            match core.send_handle_value(
                slot,
                crate::att::AttHandle(c.value_handle),
                buf.get(..n).unwrap_or(&[]),
                indicate,
                now,
            ) {
                Err(HostError::QueueFull) | Err(HostError::Busy) => rest |= 1 << slot.index(),
                _ => {}
            }
        }
        rest
    }

    /// A deferred read's answer from Python: `value` (`None`: the stored
    /// one) or an ATT error code.
    pub fn read_reply(
        &mut self,
        core: &mut HostCore,
        conn: usize,
        value: Result<Option<&[u8]>, u8>,
    ) -> i32 {
        let Some(slot) = ConnSlot::new(conn) else {
            return err::INVALID;
        };
        match core.gatt_read_reply(slot, value) {
            Ok(()) => err::OK,
            Err(e) => host_err(e),
        }
    }

    fn char_by_value(&self, handle: u16) -> Option<usize> {
        self.chars.iter().position(|c| c.value_handle == handle)
    }

    fn char_by_cccd(&self, handle: u16) -> Option<usize> {
        self.chars.iter().position(|c| c.cccd_handle == handle)
    }

    // -- links ------------------------------------------------------------------

    fn link(&self, slot: ConnSlot) -> Option<&Link> {
        self.links.get(slot.index())
    }

    fn link_mut(&mut self, slot: ConnSlot) -> Option<&mut Link> {
        self.links.get_mut(slot.index())
    }

    /// The generation of the live link in `slot`, or `None`.
    pub fn link_generation(&self, conn: usize) -> Option<u16> {
        let l = self.links.get(conn)?;
        l.connected.then_some(l.generation)
    }

    /// ATT_MTU of a live link.
    pub fn link_mtu(&self, core: &HostCore, conn: usize) -> Option<u16> {
        let slot = ConnSlot::new(conn)?;
        self.link(slot).filter(|l| l.connected)?;
        core.connection(slot).map(|c| c.att.mtu())
    }

    /// Exchange MTU after `connect()` has ended.
    pub fn mtu_done(&self, conn: usize) -> bool {
        self.links
            .get(conn)
            .is_none_or(|l| !l.connected || l.mtu_done)
    }

    /// The first live link where we are the server (`gatts_mtu()`).
    pub fn server_link(&self) -> Option<usize> {
        self.links.iter().position(|l| l.connected && l.server)
    }

    // -- connect ------------------------------------------------------------------

    /// `connect(mac, addr_type)`: `mac` MSB first, as `get_adv()` gives it.
    /// Without `addr_type` the type the device advertised with is used
    /// (Pycom's firmware assumes public, which never reaches the many
    /// devices that advertise with a random address; docs/DECISIONS.md),
    /// else public.
    pub fn connect(&mut self, core: &mut HostCore, addr_type: Option<u8>, mac: [u8; 6]) -> i32 {
        let addr_type = addr_type.unwrap_or_else(|| {
            self.seen
                .iter()
                .find(|(m, _)| *m == mac)
                .map_or(0, |(_, t)| *t)
        });
        if matches!(self.connect, Connect::Pending) || core.gap.is_connecting() {
            return err::BUSY;
        }
        if !matches!(self.gattc.op, Op::Idle | Op::Done(_)) {
            return err::BUSY;
        }
        // An active scan stops first, and the FIFO is emptied (reference §2.6).
        if self.scanning {
            let _ = self.stop_scan(core);
        }
        self.fifo.clear();
        let address = adv::mac_from_address(mac);
        match core.connect(addr_type, address) {
            Ok(()) => {
                self.connect = Connect::Pending;
                err::OK
            }
            // All links in use: Pycom's "connection refused".
            Err(HostError::QueueFull) => err::CONNECT_FAILED,
            Err(e) => host_err(e),
        }
    }

    /// Where `connect()` stands: `(PENDING, 0)`, `(OK, slot)` of the new
    /// link, `(CONNECT_FAILED, HCI status)` or `(FAILED, 0)`.
    pub fn connect_status(&self) -> (i32, usize) {
        match self.connect {
            Connect::Pending => (err::PENDING, 0),
            Connect::Connected(slot) => (err::OK, slot.index()),
            Connect::Failed(status) => (err::CONNECT_FAILED, usize::from(status)),
            Connect::Idle | Connect::Cancelled => (err::FAILED, 0),
        }
    }

    /// The port has taken `connect()`'s result; or `connect()` timed out:
    /// a pending connection is cancelled, and the link dropped if it still
    /// comes.
    pub fn connect_finish(&mut self, core: &mut HostCore) {
        if self.connect == Connect::Pending {
            let _ = core.cancel_connect();
            self.connect = Connect::Cancelled;
        } else {
            self.connect = Connect::Idle;
        }
    }

    /// `GATTCConnection.disconnect()`.
    pub fn disconnect(&mut self, core: &mut HostCore, conn: usize, generation: u16) -> i32 {
        if self.link_generation(conn) != Some(generation) {
            return err::OK;
        }
        match ConnSlot::new(conn).map(|s| core.disconnect(s)) {
            Some(Ok(())) | None => err::OK,
            Some(Err(e)) => host_err(e),
        }
    }

    // -- GATT client ----------------------------------------------------------------

    /// Starts one client operation on link `conn` of generation
    /// `generation`; `OK`, `BUSY` while another runs, `NOT_CONNECTED`.
    pub fn client_start(
        &mut self,
        core: &mut HostCore,
        conn: usize,
        generation: u16,
        op: ClientOp<'_>,
    ) -> i32 {
        if self.link_generation(conn) != Some(generation) {
            return err::NOT_CONNECTED;
        }
        let Some(slot) = ConnSlot::new(conn) else {
            return err::NOT_CONNECTED;
        };
        if matches!(self.gattc.op, Op::Running { .. }) {
            return err::BUSY;
        }
        let mtu = core.connection(slot).map_or(23, |c| c.att.mtu());
        let (procedure, data): (Procedure, &[u8]) = match op {
            ClientOp::Services => (Procedure::DiscoverAllPrimaryServices, &[]),
            ClientOp::Characteristics { start, end } => {
                (Procedure::DiscoverAllCharacteristics { start, end }, &[])
            }
            ClientOp::Descriptors { start, end } => {
                (Procedure::DiscoverAllDescriptors { start, end }, &[])
            }
            ClientOp::Read { handle } => (
                Procedure::Read {
                    handle,
                    offset: 0,
                    long: true,
                },
                &[],
            ),
            ClientOp::Write { handle, value } => (
                Procedure::Write {
                    handle,
                    offset: 0,
                    // A value longer than one Write Request carries goes
                    // as a long write (Vol 3 Part G 4.9.4).
                    long: value.len() + 3 > usize::from(mtu),
                    value: Span::EMPTY,
                },
                value,
            ),
        };
        let seq = self.gattc.seq.wrapping_add(1);
        let request = Request {
            procedure,
            owner: OWNER,
            tag: seq,
        };
        if let Err(e) = core.gatt_submit(slot, request, data) {
            return match e {
                HostError::QueueFull => err::BUSY,
                e => host_err(e),
            };
        }
        self.gattc.seq = seq;
        self.gattc.op = Op::Running { conn: slot, seq };
        self.gattc.records.clear();
        self.gattc.overflow = false;
        self.gattc.value_len = 0;
        err::OK
    }

    /// `PENDING` while the operation runs, then its result (once; the
    /// operation slot is free again).
    pub fn client_status(&mut self) -> i32 {
        match self.gattc.op {
            Op::Running { .. } => err::PENDING,
            Op::Done(r) => {
                self.gattc.op = Op::Idle;
                r
            }
            Op::Idle => err::FAILED,
        }
    }

    /// The caller stopped waiting (timeout, Ctrl-C): the operation's answer
    /// will be ignored.
    pub fn client_abandon(&mut self) {
        self.gattc.op = Op::Idle;
    }

    pub fn client_records(&self) -> &[Record] {
        &self.gattc.records
    }

    pub fn client_value(&self) -> &[u8] {
        self.gattc.value.get(..self.gattc.value_len).unwrap_or(&[])
    }

    /// `GATTCCharacteristic.callback(CHAR_NOTIFY_EVENT, handler)`: its
    /// notifications reach Python (`on` false: they no longer do).
    pub fn subscribe(&mut self, conn: usize, generation: u16, value_handle: u16, on: bool) -> i32 {
        if self.link_generation(conn) != Some(generation) {
            return err::NOT_CONNECTED;
        }
        let Some(slot) = ConnSlot::new(conn) else {
            return err::NOT_CONNECTED;
        };
        let key = (slot, value_handle);
        let known = self.subscriptions.iter().position(|s| *s == key);
        match (on, known) {
            (true, None) if self.subscriptions.push(key).is_err() => return err::NO_MEMORY,
            (false, Some(i)) => {
                self.subscriptions.swap_remove(i);
            }
            _ => {}
        }
        err::OK
    }

    /// Collects one response of the running operation.
    fn client_results(&mut self, request: &Request, pdu: &[u8]) {
        let g = &mut self.gattc;
        let body = pdu.get(1..).unwrap_or(&[]);
        let mut add = |r: Record| {
            if g.records.push(r).is_err() {
                g.overflow = true;
            }
        };
        let le16 = |b: &[u8], i: usize| crate::bytes::le_u16_at(b, i).unwrap_or(0);
        match request.procedure {
            // Read By Group Type Response: length, then (start, end, UUID)
            // records (Vol 3 Part F 3.4.4.10).
            Procedure::DiscoverAllPrimaryServices => {
                let Some((&len, recs)) = body.split_first() else {
                    return;
                };
                for r in recs.chunks_exact(usize::from(len).max(6)) {
                    if let Some(uuid) = Uuid::from_le_bytes(r.get(4..).unwrap_or(&[])) {
                        add(Record {
                            handle: le16(r, 0),
                            end: le16(r, 2),
                            properties: 0,
                            uuid,
                        });
                    }
                }
            }
            // Read By Type Response of characteristic declarations:
            // (handle, properties, value handle, UUID) (Vol 3 Part G 4.6.1).
            Procedure::DiscoverAllCharacteristics { .. } => {
                let Some((&len, recs)) = body.split_first() else {
                    return;
                };
                for r in recs.chunks_exact(usize::from(len).max(7)) {
                    if let Some(uuid) = Uuid::from_le_bytes(r.get(5..).unwrap_or(&[])) {
                        add(Record {
                            handle: le16(r, 0),
                            end: le16(r, 3),
                            properties: r.get(2).copied().unwrap_or(0),
                            uuid,
                        });
                    }
                }
            }
            // Find Information Response: format 1 (16-bit) or 2 (128-bit)
            // (Vol 3 Part F 3.4.3.2).
            Procedure::DiscoverAllDescriptors { .. } => {
                let Some((&format, recs)) = body.split_first() else {
                    return;
                };
                let rec = if format == 2 { 18 } else { 4 };
                for r in recs.chunks_exact(rec) {
                    if let Some(uuid) = Uuid::from_le_bytes(r.get(2..).unwrap_or(&[])) {
                        add(Record {
                            handle: le16(r, 0),
                            end: 0,
                            properties: 0,
                            uuid,
                        });
                    }
                }
            }
            // Read (Blob) Responses: the parts of the value, in order.
            Procedure::Read { .. } => {
                let start = g.value_len;
                let room = g.value.get_mut(start..).unwrap_or(&mut []);
                g.value_len = start + copy_prefix(room, body);
            }
            _ => {}
        }
    }

    fn client_event(
        &mut self,
        conn: ConnSlot,
        request: Option<Request>,
        event: ClientEvent,
        core: &HostCore,
        emit: &mut dyn FnMut(&MpbleEvent) -> bool,
    ) {
        match event {
            ClientEvent::Notification { handle } | ClientEvent::Indication { handle } => {
                if !self.subscriptions.contains(&(conn, handle)) {
                    return;
                }
                let bit = if matches!(event, ClientEvent::Notification { .. }) {
                    bits::CHAR_NOTIFY_EVENT
                } else {
                    bits::CHAR_INDICATE_EVENT
                };
                let value = core.client_pdu().get(3..).unwrap_or(&[]);
                self.emit_tuple(emit, |e| {
                    e.int(tuple::NOTIFY)?
                        .int(conn.index() as i64)?
                        .int(i64::from(handle))?
                        .int(i64::from(bit))?
                        .bytes(value)?;
                    Ok(())
                });
            }
            ClientEvent::MtuExchanged { mtu } => {
                if let Some(l) = self.link_mut(conn) {
                    l.mtu = mtu;
                    l.mtu_done = true;
                }
            }
            ClientEvent::Results { .. } => {
                let Some(r) = request.filter(|r| r.owner == OWNER) else {
                    return;
                };
                if self.gattc.op == (Op::Running { conn, seq: r.tag }) {
                    self.client_results(&r, core.client_pdu());
                }
            }
            ClientEvent::Done { att_error, .. } => {
                let Some(r) = request.filter(|r| r.owner == OWNER) else {
                    return;
                };
                if let Procedure::ExchangeMtu { .. } = r.procedure {
                    if let Some(l) = self.link_mut(conn) {
                        l.mtu_done = true;
                    }
                    return;
                }
                if self.gattc.op != (Op::Running { conn, seq: r.tag }) {
                    return;
                }
                let discovery = matches!(
                    r.procedure,
                    Procedure::DiscoverAllPrimaryServices
                        | Procedure::DiscoverAllCharacteristics { .. }
                        | Procedure::DiscoverAllDescriptors { .. }
                );
                // A discovery ends with Attribute Not Found (0x0A) when the
                // server has nothing more (Vol 3 Part G 4.4.1): success.
                let ok = att_error == 0 || (discovery && att_error == 0x0A);
                let result = if att_error == crate::gatt::client::ERROR_TIMEOUT {
                    err::TIMED_OUT
                } else if !ok {
                    err::FAILED
                } else if self.gattc.overflow {
                    err::NO_MEMORY
                } else {
                    err::OK
                };
                self.gattc.op = Op::Done(result);
            }
        }
    }

    /// One tuple for Python; counted when it finds no room.
    fn emit_tuple(
        &mut self,
        emit: &mut dyn FnMut(&MpbleEvent) -> bool,
        build: impl FnOnce(&mut MpbleEvent) -> Result<(), super::event::EventFull>,
    ) -> bool {
        let mut ev = MpbleEvent::new(MpbleTarget::PycomBluetooth);
        let queued = build(&mut ev).is_ok() && emit(&ev);
        if !queued {
            self.events_dropped = self.events_dropped.wrapping_add(1);
        }
        queued
    }

    fn bluetooth_event(&mut self, bit: u8, emit: &mut dyn FnMut(&MpbleEvent) -> bool) {
        self.bt_events |= bit;
        if self.bt_trigger & bit != 0 {
            self.emit_tuple(emit, |e| {
                e.int(tuple::BLUETOOTH)?.int(i64::from(bit))?;
                Ok(())
            });
        }
    }

    fn char_event(
        &mut self,
        idx: usize,
        bit: u8,
        data: Option<&[u8]>,
        emit: &mut dyn FnMut(&MpbleEvent) -> bool,
    ) {
        let Some(c) = self.chars.get_mut(idx) else {
            return;
        };
        c.events |= bit;
        if c.trigger & bit != 0 {
            self.emit_tuple(emit, |e| {
                e.int(tuple::CHAR)?.int(idx as i64)?.int(i64::from(bit))?;
                match data {
                    Some(d) => e.bytes(d)?,
                    None => e.none()?,
                };
                Ok(())
            });
        }
    }
}

impl Adapter for Pycom {
    #[inline]
    fn on_host_event(
        &mut self,
        ev: &HostEvent,
        core: &HostCore,
        emit: &mut dyn FnMut(&MpbleEvent) -> bool,
    ) {
        // As in `poll`: one test on a board that never initialised it.
        if !self.active {
            return;
        }
        self.on_host_event_active(ev, core, emit);
    }

    #[inline]
    fn poll(&mut self, core: &mut HostCore, now: u32) -> bool {
        // A board that never initialised Pycom's Bluetooth pays this test
        // only (the firmware polls after every host event and tick).
        if !self.active {
            return false;
        }
        self.poll_active(core, now)
    }

    fn next_timeout_ms(&self, now: u32) -> Option<u32> {
        let d = self.scan_deadline?;
        Some(d.ms_until(Instant::from_ms(now)))
    }

    fn reset(&mut self) {
        *self = Pycom::new();
    }
}

impl Pycom {
    /// [`Adapter::on_host_event`] once Bluetooth was initialised.
    fn on_host_event_active(
        &mut self,
        ev: &HostEvent,
        core: &HostCore,
        emit: &mut dyn FnMut(&MpbleEvent) -> bool,
    ) {
        match *ev {
            HostEvent::Connected { conn } => {
                let Some(c) = core.connection(conn) else {
                    return;
                };
                let server = c.role == Role::Peripheral;
                if let Some(l) = self.link_mut(conn) {
                    l.connected = true;
                    l.server = server;
                    l.generation = l.generation.wrapping_add(1);
                    l.mtu = c.att.mtu();
                    l.mtu_done = server;
                }
                if server {
                    self.bluetooth_event(bits::CLIENT_CONNECTED, emit);
                } else {
                    match self.connect {
                        Connect::Pending => {
                            self.connect = Connect::Connected(conn);
                            self.exchange_mtu = Some(conn);
                        }
                        // connect() gave up on it (the controller may not
                        // cancel in time): dropped in `poll`.
                        Connect::Cancelled => {
                            self.connect = Connect::Idle;
                            self.drop_link = Some(conn);
                        }
                        _ => {}
                    }
                }
            }
            HostEvent::ConnectFailed { status } => {
                if self.connect == Connect::Pending {
                    self.connect = Connect::Failed(status);
                }
            }
            HostEvent::Disconnected { conn, .. } => {
                let was_server = self.link(conn).is_some_and(|l| l.connected && l.server);
                if let Some(l) = self.link_mut(conn) {
                    l.connected = false;
                }
                self.subscriptions.retain(|s| s.0 != conn);
                self.auto_reply.retain(|s| *s != conn);
                if let Op::Running { conn: c, .. } = self.gattc.op {
                    if c == conn {
                        self.gattc.op = Op::Done(err::NOT_CONNECTED);
                    }
                }
                if was_server {
                    self.bluetooth_event(bits::CLIENT_DISCONNECTED, emit);
                    self.restart_advertising = self.advertising;
                }
            }
            HostEvent::Stopped { .. } => {
                self.scanning = false;
                self.scan_deadline = None;
                for l in self.links.iter_mut() {
                    l.connected = false;
                }
                if let Op::Running { .. } = self.gattc.op {
                    self.gattc.op = Op::Done(err::NOT_CONNECTED);
                }
                if self.connect == Connect::Pending {
                    self.connect = Connect::Failed(0x1F);
                }
            }
            HostEvent::AdvReport(ref r) => {
                if !self.scanning {
                    return;
                }
                // The bit is set even when the FIFO dropped the report
                // (reference §8.4).
                self.fifo.push(r);
                let mac = adv::mac_from_address(r.address);
                let kind = r.address_type & 1;
                match self.seen.iter_mut().find(|(m, _)| *m == mac) {
                    Some(entry) => entry.1 = kind,
                    None => {
                        // A ring: the oldest device makes room.
                        let at = usize::from(self.seen_next) % self.seen.len();
                        if let Some(entry) = self.seen.get_mut(at) {
                            *entry = (mac, kind);
                        }
                        self.seen_next = ((at + 1) % self.seen.len()) as u8;
                    }
                }
                self.bluetooth_event(bits::NEW_ADV_EVENT, emit);
            }
            HostEvent::MtuExchanged { conn, mtu } => {
                if let Some(l) = self.link_mut(conn) {
                    l.mtu = mtu;
                }
            }
            HostEvent::GattWrite { conn, handle, .. } => {
                let h = handle.0;
                if let Some(idx) = self.char_by_value(h) {
                    let v = core.db.value(h).unwrap_or(&[]);
                    self.char_event(idx, bits::CHAR_WRITE_EVENT, Some(v), emit);
                } else if let Some(idx) = self.char_by_cccd(h) {
                    let v = core.db.cccd(conn.index(), h);
                    if let Some(c) = self.chars.get_mut(idx) {
                        c.config = v;
                    }
                    self.char_event(idx, bits::CHAR_SUBSCRIBE_EVENT, None, emit);
                }
            }
            HostEvent::GattRead { handle, .. } => {
                if let Some(idx) = self.char_by_value(handle.0) {
                    self.char_event(idx, bits::CHAR_READ_EVENT, None, emit);
                }
            }
            HostEvent::GattReadRequest { conn, handle, .. } => {
                let idx = self.char_by_value(handle.0);
                let armed = idx
                    .and_then(|i| self.chars.get_mut(i))
                    .map(|c| {
                        c.events |= bits::CHAR_READ_EVENT;
                        c.trigger & bits::CHAR_READ_EVENT != 0
                    })
                    .unwrap_or(false);
                let queued = match idx {
                    Some(i) if armed => self.emit_tuple(emit, |e| {
                        e.int(tuple::READ)?
                            .int(i as i64)?
                            .int(conn.index() as i64)?;
                        Ok(())
                    }),
                    _ => false,
                };
                if !queued {
                    // No handler will answer: the stored value, at once.
                    let _ = self.auto_reply.push(conn);
                }
            }
            HostEvent::GattClient {
                conn,
                request,
                event,
            } => self.client_event(conn, request, event, core, emit),
            HostEvent::Started
            | HostEvent::StartFailed(_)
            | HostEvent::ConnectionUpdated { .. }
            | HostEvent::IndicationConfirmed { .. }
            | HostEvent::PairingPrompt { .. }
            | HostEvent::SecurityComplete { .. }
            | HostEvent::CommandFailed { .. } => {}
        }
    }

    /// [`Adapter::poll`] once Bluetooth was initialised.
    fn poll_active(&mut self, core: &mut HostCore, now: u32) -> bool {
        while let Some(conn) = self.auto_reply.pop() {
            let _ = core.gatt_read_reply(conn, Ok(None));
        }
        if self
            .scan_deadline
            .is_some_and(|d| d.is_reached(Instant::from_ms(now)))
        {
            let _ = self.stop_scan(core);
        }
        if core::mem::take(&mut self.restart_advertising) && self.advertising {
            let _ = core.advertise(true);
        }
        if let Some(slot) = self.exchange_mtu.take() {
            // The client asks for its MTU at once (reference §2.6).
            let request = Request {
                procedure: Procedure::ExchangeMtu { mtu: self.mtu },
                owner: OWNER,
                tag: 0,
            };
            let asked = self.mtu > 23 && core.gatt_submit(slot, request, &[]).is_ok();
            if !asked {
                if let Some(l) = self.link_mut(slot) {
                    l.mtu_done = true;
                }
            }
        }
        if let Some(slot) = self.drop_link.take() {
            let _ = core.disconnect(slot);
        }
        // Any of the above may have started something timed.
        true
    }
}
