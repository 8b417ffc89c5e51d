//! QuecPython `ble` semantics (shared/reference/quecpython-ble-api.md).
//!
//! The module speaks in `server_id`/`chara_id` keys and integer results:
//! every call returns 0 (accepted) or -1 (refused, nothing changed), and
//! asynchronous results arrive as tuples `(event_id, status, ...)` at the
//! callback of the role chosen with `serverInit` or `clientInit`.
//!
//! Services are registered first and laid out in the attribute table only
//! at `addOrClearService(1, mode)`, following the structure (service, then
//! for each characteristic its declaration, value and descriptors) rather
//! than the call order: the vendor's SMP demo registers all characteristics
//! before any value, yet its handles follow the structure.

#[cfg(any(test, feature = "std"))]
pub mod calls;
pub mod client;
#[cfg(test)]
mod tests;

use super::event::{EventFull, MpbleEvent, MpbleTarget};
use super::{Adapter, Stack};
use crate::att::db::{AttPermissions, AttributeDb};
use crate::att::AttHandle;
use crate::config;
use crate::gatt::server::GattServer;
use crate::host::{
    ConnSlot, HostCore, HostError, HostEvent, HostState, Prompt, Role as Role_, SecurityConfig,
    UserAnswer,
};
use crate::smp::crypto::LeAddress;
use crate::uuid::Uuid;
use heapless::Vec;

/// Event ids (HELIOS `helios_btble.h`, as the demos name them).
pub mod event_id {
    pub const BLE_START_STATUS_IND: i64 = 0;
    pub const BLE_STOP_STATUS_IND: i64 = 1;
    pub const BLE_CONNECT_IND: i64 = 16;
    pub const BLE_DISCONNECT_IND: i64 = 17;
    pub const BLE_UPDATE_CONN_PARAM_IND: i64 = 18;
    pub const BLE_SCAN_REPORT_IND: i64 = 19;
    pub const BLE_GATT_MTU: i64 = 20;
    pub const BLE_GATT_RECV_WRITE_IND: i64 = 21;
    pub const BLE_GATT_RECV_READ_IND: i64 = 22;
    pub const BLE_GATT_SEND_END: i64 = 25;
    pub const BLE_GATT_RECV_NOTIFICATION_IND: i64 = 23;
    pub const BLE_GATT_RECV_INDICATION_IND: i64 = 24;
    pub const BLE_GATT_START_DISCOVER_SERVICE_IND: i64 = 26;
    pub const BLE_GATT_DISCOVER_SERVICE_IND: i64 = 27;
    pub const BLE_GATT_DISCOVER_CHARACTERISTIC_DATA_IND: i64 = 28;
    pub const BLE_GATT_DISCOVER_CHARA_DESC_IND: i64 = 29;
    pub const BLE_GATT_CHARA_WRITE_WITH_RSP_IND: i64 = 30;
    pub const BLE_GATT_CHARA_WRITE_WITHOUT_RSP_IND: i64 = 31;
    pub const BLE_GATT_CHARA_READ_IND: i64 = 32;
    pub const BLE_GATT_CHARA_READ_BY_UUID_IND: i64 = 33;
    pub const BLE_GATT_CHARA_MULTI_READ_IND: i64 = 34;
    pub const BLE_GATT_DESC_WRITE_WITH_RSP_IND: i64 = 35;
    pub const BLE_GATT_DESC_READ_IND: i64 = 36;
    pub const BLE_GATT_ATT_ERROR_IND: i64 = 37;
    pub const BLE_GATT_SMP_COMPLETE_IND: i64 = 63;
    pub const BLE_GATT_SMP_USER_CONFIRM_IND: i64 = 64;
}

/// `pair_mode` of event 64 (reference §4.8, HELIOS). OOB (4, 9) is not
/// offered, and 0 (failed) is never sent: event 63 reports failures.
pub mod pair_mode {
    pub const LEGACY_JUST_WORK: i64 = 1;
    pub const LEGACY_PASSKEY_OUTPUT: i64 = 2;
    pub const LEGACY_PASSKEY_INPUT: i64 = 3;
    pub const SECURE_JUST_WORK: i64 = 5;
    pub const SECURE_NUMBER_COMPARISON: i64 = 6;
    pub const SECURE_PASSKEY_OUTPUT: i64 = 7;
    pub const SECURE_PASSKEY_INPUT: i64 = 8;
}

/// First user handle with the default GAP/GATT services kept
/// (CSDK `QL_GATT_START_HANDLE_WITH_SYS`) and without them.
pub const START_HANDLE_WITH_SYS: u16 = 16;
pub const START_HANDLE_WITHOUT_SYS: u16 = 1;

/// Status reported in event 0 when the controller never answered.
pub const STATUS_CONTROLLER_TIMEOUT: i64 = 1;

pub(crate) const OK: i32 = 0;
pub(crate) const ERR: i32 = -1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    None,
    Server,
    Client,
}

/// An initial value kept in the registration pool.
#[derive(Clone, Copy, Debug)]
struct AttrReg {
    permissions: AttPermissions,
    uuid: Uuid,
    offset: u16,
    len: u16,
}

#[derive(Clone, Copy, Debug)]
struct ServiceReg {
    server_id: u16,
    primary: bool,
    uuid: Uuid,
}

#[derive(Clone, Copy, Debug)]
struct CharaReg {
    server_id: u16,
    chara_id: u16,
    properties: u8,
    uuid: Uuid,
    value: Option<AttrReg>,
    /// Value handle once committed (for `changeCharaValue`).
    value_handle: u16,
}

#[derive(Clone, Copy, Debug)]
struct DescReg {
    server_id: u16,
    chara_id: u16,
    attr: AttrReg,
}

pub struct QuecPython {
    role: Role,
    services: Vec<ServiceReg, { config::QPY_MAX_SERVICES }>,
    charas: Vec<CharaReg, { config::QPY_MAX_CHARAS }>,
    descs: Vec<DescReg, { config::QPY_MAX_DESCS }>,
    pool: [u8; config::QPY_VALUE_POOL],
    pool_len: usize,
    name: Vec<u8, 29>,
    /// First handle of the user's services in the committed table, minus
    /// one; reads and writes below it (the default GAP/GATT services) are
    /// not reported. Stored less one (and the scan filter inverted) so that
    /// the adapter's initial state is all zeros: the core's static needs no
    /// initial image in flash (`.bss`, issue 6).
    first_user_handle_less_one: u16,
    /// `setScanFilter(0)`: every advertising packet is reported. Off (the
    /// default, `setScanFilter(1)`): one report per device per scan.
    scan_filter_off: bool,
    /// Devices reported in this scan (address type, address).
    seen: Vec<(u8, [u8; 6]), { config::QPY_SCAN_SEEN }>,
    /// The address given to the pending `connect`, for a failure event.
    connecting_to: [u8; 6],
    /// The GATT client calls (central role).
    pub client: client::Client,
    /// Events refused for lack of room (reported, never silently lost).
    pub events_dropped: u32,
}

impl Default for QuecPython {
    fn default() -> Self {
        Self::new()
    }
}

/// Checks an int argument against an inclusive range.
pub(crate) fn in_range(v: i64, lo: i64, hi: i64) -> Option<i64> {
    (lo..=hi).contains(&v).then_some(v)
}

/// The UUID triple `(uuid_type, uuid_s, uuid_l)`: type 1 takes the 16-bit
/// `uuid_s`, type 0 the 128-bit `uuid_l` (little-endian as on air, shorter
/// buffers zero-padded as the vendor binding's memcpy does).
pub(crate) fn uuid_arg(uuid_type: i64, uuid_s: i64, uuid_l: &[u8]) -> Option<Uuid> {
    if uuid_l.len() > 16 {
        return None;
    }
    match uuid_type {
        1 => Some(Uuid::Uuid16(in_range(uuid_s, 0, 0xFFFF)? as u16)),
        0 => {
            let mut b = [0u8; 16];
            b[..uuid_l.len()].copy_from_slice(uuid_l);
            Some(Uuid::Uuid128(b))
        }
        _ => None,
    }
}

/// `connect_id`: the link's slot, 0 for the first link.
fn conn_arg(v: i64) -> Option<ConnSlot> {
    ConnSlot::new(usize::try_from(v).ok()?)
}

fn id_arg(v: i64) -> Option<u16> {
    in_range(v, 0, 0xFFFF).map(|v| v as u16)
}

impl QuecPython {
    pub const fn new() -> Self {
        QuecPython {
            role: Role::None,
            services: Vec::new(),
            charas: Vec::new(),
            descs: Vec::new(),
            pool: [0; config::QPY_VALUE_POOL],
            pool_len: 0,
            name: Vec::new(),
            first_user_handle_less_one: START_HANDLE_WITHOUT_SYS - 1,
            scan_filter_off: false,
            seen: Vec::new(),
            connecting_to: [0; 6],
            client: client::Client::new(),
            events_dropped: 0,
        }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    // -- role selection ---------------------------------------------------

    /// `serverInit`: one role at a time (reference §1).
    pub fn server_init(&mut self) -> i32 {
        match self.role {
            Role::Client => ERR,
            _ => {
                self.role = Role::Server;
                OK
            }
        }
    }

    /// `serverRelease`: forgets the callback; later events are dropped.
    pub fn server_release(&mut self) -> i32 {
        if self.role == Role::Server {
            self.role = Role::None;
        }
        OK
    }

    pub fn client_init(&mut self) -> i32 {
        match self.role {
            Role::Server => ERR,
            _ => {
                self.role = Role::Client;
                OK
            }
        }
    }

    pub fn client_release(&mut self) -> i32 {
        if self.role == Role::Client {
            self.role = Role::None;
        }
        OK
    }

    pub(crate) fn target(&self) -> Option<MpbleTarget> {
        match self.role {
            Role::Server => Some(MpbleTarget::QpyServer),
            Role::Client => Some(MpbleTarget::QpyClient),
            Role::None => None,
        }
    }

    // -- service registration ----------------------------------------------

    fn store(&mut self, value: &[u8]) -> Option<(u16, u16)> {
        let start = self.pool_len;
        let end = start.checked_add(value.len())?;
        if end > self.pool.len() {
            return None;
        }
        self.pool[start..end].copy_from_slice(value);
        self.pool_len = end;
        Some((start as u16, value.len() as u16))
    }

    fn pooled(&self, a: &AttrReg) -> &[u8] {
        let start = a.offset as usize;
        self.pool.get(start..start + a.len as usize).unwrap_or(&[])
    }

    /// `addService(primary, server_id, uuid_type, uuid_s, uuid_l)`.
    pub fn add_service(
        &mut self,
        primary: i64,
        server_id: i64,
        uuid_type: i64,
        uuid_s: i64,
        uuid_l: &[u8],
    ) -> i32 {
        let (Some(server_id), Some(uuid)) =
            (id_arg(server_id), uuid_arg(uuid_type, uuid_s, uuid_l))
        else {
            return ERR;
        };
        if self.services.iter().any(|s| s.server_id == server_id) {
            return ERR;
        }
        let reg = ServiceReg {
            server_id,
            // "1 primary, anything else secondary" (reference §2.2).
            primary: primary == 1,
            uuid,
        };
        if self.services.push(reg).is_err() {
            return ERR;
        }
        OK
    }

    /// `addChara(server_id, chara_id, chara_prop, uuid_type, uuid_s, uuid_l)`.
    pub fn add_chara(
        &mut self,
        server_id: i64,
        chara_id: i64,
        chara_prop: i64,
        uuid_type: i64,
        uuid_s: i64,
        uuid_l: &[u8],
    ) -> i32 {
        let (Some(server_id), Some(chara_id), Some(props), Some(uuid)) = (
            id_arg(server_id),
            id_arg(chara_id),
            in_range(chara_prop, 0, 0xFF),
            uuid_arg(uuid_type, uuid_s, uuid_l),
        ) else {
            return ERR;
        };
        if !self.services.iter().any(|s| s.server_id == server_id)
            || self
                .charas
                .iter()
                .any(|c| c.server_id == server_id && c.chara_id == chara_id)
        {
            return ERR;
        }
        let reg = CharaReg {
            server_id,
            chara_id,
            properties: props as u8,
            uuid,
            value: None,
            value_handle: 0,
        };
        if self.charas.push(reg).is_err() {
            return ERR;
        }
        OK
    }

    /// `addCharaValue(...)` (`is_desc` false) and `addCharaDesc(...)`.
    #[allow(clippy::too_many_arguments)]
    pub fn add_chara_attr(
        &mut self,
        is_desc: bool,
        server_id: i64,
        chara_id: i64,
        permission: i64,
        uuid_type: i64,
        uuid_s: i64,
        uuid_l: &[u8],
        value: &[u8],
    ) -> i32 {
        let (Some(server_id), Some(chara_id), Some(perm), Some(uuid)) = (
            id_arg(server_id),
            id_arg(chara_id),
            in_range(permission, 0, 0x0FFF),
            uuid_arg(uuid_type, uuid_s, uuid_l),
        ) else {
            return ERR;
        };
        if value.len() > config::ATT_VALUE_MAX {
            return ERR;
        }
        let Some(idx) = self
            .charas
            .iter()
            .position(|c| c.server_id == server_id && c.chara_id == chara_id)
        else {
            return ERR;
        };
        // `get` rather than indexing, here and below: no panic path (and
        // no core::fmt) in the firmware.
        if !is_desc && self.charas.get(idx).is_none_or(|c| c.value.is_some()) {
            return ERR;
        }
        if is_desc && self.descs.is_full() {
            return ERR;
        }
        // One CCCD per characteristic (Vol 3 Part G 3.3.3.3): a second
        // one is refused like a second value, not laid out twice.
        let is_cccd =
            |u: Uuid| u.as_u16() == Some(crate::gatt::server::CLIENT_CHARACTERISTIC_CONFIGURATION);
        if is_desc
            && is_cccd(uuid)
            && self
                .descs
                .iter()
                .any(|d| d.server_id == server_id && d.chara_id == chara_id && is_cccd(d.attr.uuid))
        {
            return ERR;
        }
        let permissions = AttPermissions::from_bits_truncate(perm as u16);
        let pool_mark = self.pool_len;
        let Some((offset, len)) = self.store(value) else {
            return ERR;
        };
        let attr = AttrReg {
            permissions,
            uuid,
            offset,
            len,
        };
        if is_desc {
            let reg = DescReg {
                server_id,
                chara_id,
                attr,
            };
            if self.descs.push(reg).is_err() {
                self.pool_len = pool_mark;
                return ERR;
            }
        } else {
            if let Some(c) = self.charas.get_mut(idx) {
                c.value = Some(attr);
            }
        }
        OK
    }

    fn clear_registrations(&mut self) {
        self.services.clear();
        self.charas.clear();
        self.descs.clear();
        self.pool_len = 0;
    }

    /// Lays the registrations out in `db` (reference §4.1).
    fn build(&mut self, db: &mut AttributeDb, keep_sys: bool) -> Result<(), ()> {
        db.clear();
        if keep_sys {
            let name: &[u8] = if self.name.is_empty() {
                b"mpble"
            } else {
                &self.name
            };
            db.add_gap_gatt_services(name).map_err(|_| ())?;
            db.set_next_handle(START_HANDLE_WITH_SYS).map_err(|_| ())?;
        } else {
            db.set_next_handle(START_HANDLE_WITHOUT_SYS)
                .map_err(|_| ())?;
        }
        for s in 0..self.services.len() {
            let Some(&svc) = self.services.get(s) else {
                continue;
            };
            db.add_service(svc.uuid, svc.primary).map_err(|_| ())?;
            for c in 0..self.charas.len() {
                let Some(&chara) = self.charas.get(c) else {
                    continue;
                };
                if chara.server_id != svc.server_id {
                    continue;
                }
                // A characteristic registered without a value gets an
                // empty readable one, so discovery still finds it.
                let (perms, value) = match chara.value {
                    Some(v) => (v.permissions, self.pooled(&v)),
                    None => (AttPermissions::READ, &[][..]),
                };
                let max_len = value.len().max(config::QPY_VALUE_MAX_DEFAULT);
                let (_, value_handle) = db
                    .add_characteristic(chara.properties, chara.uuid, perms, value, max_len)
                    .map_err(|_| ())?;
                if let Some(ch) = self.charas.get_mut(c) {
                    ch.value_handle = value_handle;
                }
                for d in 0..self.descs.len() {
                    let Some(&desc) = self.descs.get(d) else {
                        continue;
                    };
                    if desc.server_id != chara.server_id || desc.chara_id != chara.chara_id {
                        continue;
                    }
                    let v = self.pooled(&desc.attr);
                    db.add_descriptor(desc.attr.uuid, desc.attr.permissions, v, v.len())
                        .map_err(|_| ())?;
                }
            }
        }
        self.first_user_handle_less_one = if keep_sys {
            START_HANDLE_WITH_SYS
        } else {
            START_HANDLE_WITHOUT_SYS
        } - 1;
        Ok(())
    }

    /// `addOrClearService(option, mode)`: option 1 commits the registered
    /// services to the attribute table, 0 deletes them; mode 1 keeps the
    /// default GAP and GATT services in handles 1..15.
    pub fn add_or_clear_service(&mut self, db: &mut AttributeDb, option: i64, mode: i64) -> i32 {
        let (Some(option), Some(mode)) = (in_range(option, 0, 1), in_range(mode, 0, 1)) else {
            return ERR;
        };
        if option == 0 {
            self.clear_registrations();
        }
        match self.build(db, mode == 1) {
            Ok(()) => OK,
            Err(()) => {
                // The table is left empty rather than half built.
                db.clear();
                ERR
            }
        }
    }

    /// `changeCharaValue(server_id, chara_id, value)`: a committed
    /// characteristic's value, as the next read will see it.
    pub fn change_chara_value(
        &mut self,
        db: &mut AttributeDb,
        server_id: i64,
        chara_id: i64,
        value: &[u8],
    ) -> i32 {
        let (Some(server_id), Some(chara_id)) = (id_arg(server_id), id_arg(chara_id)) else {
            return ERR;
        };
        let Some(c) = self
            .charas
            .iter()
            .find(|c| c.server_id == server_id && c.chara_id == chara_id && c.value_handle != 0)
        else {
            return ERR;
        };
        match db.set_value(c.value_handle, value) {
            Ok(()) => OK,
            Err(_) => ERR,
        }
    }

    // -- life cycle -----------------------------------------------------------

    /// `gattStart()`: needs a role; event 0 follows.
    pub fn gatt_start(&mut self, stack: &mut Stack, now: u32) -> i32 {
        if self.role == Role::None {
            return ERR;
        }
        result(stack.start(now))
    }

    /// `gattStop()`: event 1 follows.
    pub fn gatt_stop(&mut self, stack: &mut Stack, now: u32) -> i32 {
        result(stack.stop(now))
    }

    /// `getStatus()`: 1 while the stack runs (bring-up counts: the client
    /// demo polls right after `gattStart` and quits on 0), else 0.
    pub fn get_status(&self, stack: &Stack) -> i32 {
        match stack.host.state() {
            HostState::Starting | HostState::Ready | HostState::Stopping => 1,
            HostState::Off | HostState::Failed => 0,
        }
    }

    /// `advStart()` / `advStop()`.
    pub fn adv_enable(&mut self, stack: &mut Stack, on: bool) -> i32 {
        result(stack.core().advertise(on))
    }

    /// `sendNotification` / `sendIndication`. A notification's event 25
    /// follows once it is queued for the controller; an indication's when
    /// the peer confirms it (Vol 3 Part F 3.4.7.2). A second indication
    /// before the confirmation is refused (-1), and the first is not lost.
    pub fn send(
        &mut self,
        stack: &mut Stack,
        indicate: bool,
        connect_id: i64,
        attr_handle: i64,
        value: &[u8],
        now: u32,
    ) -> i32 {
        let (Some(conn), Some(handle)) = (
            conn_arg(connect_id),
            id_arg(attr_handle).filter(|&h| h != 0),
        ) else {
            return ERR;
        };
        // A notification's event 25 needs a place in the queue for Python:
        // with none left (callbacks have not run for a while), refuse the
        // send rather than lose its event (docs/DECISIONS.md).
        let send_end = if indicate { None } else { self.send_end() };
        if send_end.as_ref().is_some_and(|ev| !stack.has_room_for(ev)) {
            return ERR;
        }
        let r = stack
            .core()
            .send_handle_value(conn, AttHandle(handle), value, indicate, now);
        if let (Ok(()), Some(ev)) = (r, send_end) {
            stack.emit(&ev);
        }
        result(r)
    }

    /// `writeCharaNoRsp(connect_id, handle, data)`: event 31 follows once
    /// the Write Command is queued for the controller.
    pub fn write_no_rsp(
        &mut self,
        stack: &mut Stack,
        connect_id: i64,
        handle: i64,
        data: &[u8],
    ) -> i32 {
        // Event 31 needs a place in the queue for Python (see `send`).
        let mut ev = None;
        if let Some(target) = self.target() {
            let mut e = MpbleEvent::new(target);
            if e.int(event_id::BLE_GATT_CHARA_WRITE_WITHOUT_RSP_IND)
                .and_then(|e| e.int(0))
                .is_ok()
            {
                ev = Some(e);
            }
        }
        if ev.as_ref().is_some_and(|e| !stack.has_room_for(e)) {
            return ERR;
        }
        let r = self
            .client
            .write_no_rsp(stack.core(), connect_id, handle, data);
        if let (OK, Some(e)) = (r, ev) {
            stack.emit(&e);
        }
        r
    }

    // -- GAP ----------------------------------------------------------------

    /// `setLocalName(code, name)`: code 0 UTF-8 or 1 GBK, 1..29 bytes. The
    /// name becomes the GAP Device Name; advertising data is the app's.
    pub fn set_local_name(&mut self, db: &mut AttributeDb, code: i64, name: &[u8]) -> i32 {
        if in_range(code, 0, 1).is_none() || name.is_empty() || name.len() > 29 {
            return ERR;
        }
        self.name.clear();
        let _ = self.name.extend_from_slice(name);
        // Without the GAP service (mode 0) there is no Device Name to set.
        let _ = db.set_device_name(name);
        OK
    }

    /// `setAdvParam(min_adv, max_adv, adv_type, addr_type, channel,
    /// filter_policy, discov_mode, no_br_edr, enable_adv)` (reference §2.2,
    /// §4.4). The values map one to one onto LE Set Advertising Parameters
    /// (Vol 4 Part E 7.8.5).
    pub fn set_adv_param(&mut self, host: &mut HostCore, p: [i64; 9]) -> i32 {
        let [min_adv, max_adv, adv_type, addr_type, channel, filter_policy, discov_mode, no_br_edr, enable_adv] =
            p;
        let ok = in_range(min_adv, 0x0020, 0x4000).is_some()
            && in_range(max_adv, 0x0020, 0x4000).is_some()
            && in_range(adv_type, 0, 4).is_some()
            && in_range(addr_type, 0, 1).is_some()
            && matches!(channel, 1 | 2 | 4 | 7)
            && in_range(filter_policy, 0, 3).is_some()
            && in_range(discov_mode, 0, 0xFF).is_some()
            && in_range(no_br_edr, 0, 1).is_some()
            && in_range(enable_adv, 0, 1).is_some();
        if !ok {
            return ERR;
        }
        let mut params = host.gap.adv.params();
        params.interval_min = min_adv as u16;
        params.interval_max = max_adv as u16;
        params.advertising_type = adv_type as u8;
        params.own_address_type = addr_type as u8;
        params.channel_map = channel as u8;
        params.filter_policy = filter_policy as u8;
        host.gap.adv.set_params(params);
        OK
    }

    /// `setAdvData(data)` / `setAdvRspData(data)`: 1..31 bytes of AD
    /// structures, taken as given (the demo builds them itself).
    pub fn set_adv_data(&mut self, host: &mut HostCore, data: &[u8], scan_response: bool) -> i32 {
        if data.is_empty() || data.len() > config::ADV_DATA_MAX {
            return ERR;
        }
        let target = if scan_response {
            &mut host.gap.adv.scan_response
        } else {
            &mut host.gap.adv.data
        };
        target.clear();
        let _ = target.extend_from_slice(data);
        match host.refresh_adv_data(scan_response) {
            Ok(()) => OK,
            Err(_) => ERR,
        }
    }

    // -- GAP central --------------------------------------------------------

    /// `setScanParam(scan_mode, interval, scan_window, filter_policy,
    /// addr_type)` (reference §2.3): LE Set Scan Parameters (Vol 4 Part E
    /// 7.8.10) ranges. A window longer than the interval is refused here,
    /// as the controller would refuse it at `scanStart`.
    pub fn set_scan_param(&mut self, host: &mut HostCore, p: [i64; 5]) -> i32 {
        let [scan_mode, interval, window, filter_policy, addr_type] = p;
        let ok = in_range(scan_mode, 0, 1).is_some()
            && in_range(interval, 0x0004, 0x4000).is_some()
            && in_range(window, 0x0004, 0x4000).is_some()
            && window <= interval
            && in_range(filter_policy, 0, 3).is_some()
            && in_range(addr_type, 0, 1).is_some();
        if !ok {
            return ERR;
        }
        let mut s = host.gap.scan.params();
        s.scan_type = scan_mode as u8;
        s.interval = interval as u16;
        s.window = window as u16;
        s.filter_policy = filter_policy as u8;
        s.own_address_type = addr_type as u8;
        host.gap.scan.set_params(s);
        OK
    }

    /// `scanStart()` / `scanStop()`; each scan reports a device afresh.
    pub fn scan(&mut self, host: &mut HostCore, enable: bool) -> i32 {
        if enable {
            self.seen.clear();
        }
        result(host.set_scanning(enable))
    }

    /// `setScanFilter(act)`: 1 reports each device once per scan, 0 every
    /// advertising packet.
    pub fn set_scan_filter(&mut self, act: i64) -> i32 {
        match in_range(act, 0, 1) {
            Some(a) => {
                self.scan_filter_off = a != 1;
                OK
            }
            None => ERR,
        }
    }

    /// `connect(addr_type, addr)`: the address as event 19 gave it.
    pub fn connect(&mut self, host: &mut HostCore, addr_type: i64, addr: &[u8]) -> i32 {
        let (Some(t), Ok(a)) = (in_range(addr_type, 0, 1), <[u8; 6]>::try_from(addr)) else {
            return ERR;
        };
        let r = result(host.connect(t as u8, a));
        if r == OK {
            self.connecting_to = a;
        }
        r
    }

    /// `cancelConnect(addr)`.
    pub fn cancel_connect(&mut self, host: &mut HostCore, addr: &[u8]) -> i32 {
        if addr.len() != 6 {
            return ERR;
        }
        result(host.cancel_connect())
    }

    /// `disconnect(connect_id)`; event 17 follows.
    pub fn disconnect(&mut self, host: &mut HostCore, connect_id: i64) -> i32 {
        match conn_arg(connect_id) {
            Some(c) => result(host.disconnect(c)),
            None => ERR,
        }
    }

    // -- SMP (reference §2.4) ------------------------------------------------

    /// `smpSetConfig(io_cap, auth_req, passkey, timeout)`: io_cap 0..=4
    /// (Vol 3 Part H 3.5.1), auth_req the AuthReq bits 0..=0x0F (bonding,
    /// reserved, MITM, Secure Connections), passkey 0..=999999, timeout
    /// 1..=0xFFFF in 100 ms units. Applies to pairings that start later.
    pub fn smp_set_config(
        &mut self,
        host: &mut HostCore,
        io_cap: i64,
        auth_req: i64,
        passkey: i64,
        timeout: i64,
    ) -> i32 {
        let (Some(io), Some(auth), Some(passkey), Some(timeout)) = (
            in_range(io_cap, 0, 4),
            in_range(auth_req, 0, 0x0F),
            in_range(passkey, 0, 999_999),
            in_range(timeout, 1, 0xFFFF),
        ) else {
            return ERR;
        };
        host.set_security_config(SecurityConfig {
            io_capability: io as u8,
            auth_req: auth as u8,
            passkey: passkey as u32,
            timeout: timeout as u16,
        });
        OK
    }

    /// `smpGetConfig()`: `(io_cap, auth_req, passkey, timeout)`.
    pub fn smp_get_config(&self, host: &HostCore) -> [i64; 4] {
        let c = host.security_config();
        [
            c.io_capability as i64,
            c.auth_req as i64,
            c.passkey as i64,
            c.timeout as i64,
        ]
    }

    /// `smpStartPair(connect_id)`: pairing as central, a Security Request
    /// as peripheral. Event 64 (the method), then 63 (the result) follow.
    pub fn smp_start_pair(&mut self, host: &mut HostCore, connect_id: i64) -> i32 {
        match conn_arg(connect_id) {
            Some(c) => result(host.smp_start_pair(c)),
            None => ERR,
        }
    }

    /// `smpUserConfirm(connect_id, pair_operation, pin)`: 0 cancels (the
    /// pairing fails and the link drops), 1 accepts, 2 accepts with `pin`
    /// (0..=999999): the passkey our user typed when event 64 asked for it
    /// (pair_mode 3 or 8); with no passkey asked, an acceptance.
    pub fn smp_user_confirm(
        &mut self,
        host: &mut HostCore,
        connect_id: i64,
        operation: i64,
        pin: i64,
    ) -> i32 {
        let (Some(c), Some(op), Some(pin)) = (
            conn_arg(connect_id),
            in_range(operation, 0, 2),
            in_range(pin, 0, 999_999),
        ) else {
            return ERR;
        };
        let answer = match op {
            0 => UserAnswer::Reject,
            1 => UserAnswer::Accept,
            _ => UserAnswer::Passkey(pin as u32),
        };
        result(host.smp_user_confirm(c, answer))
    }

    /// `smpGetPairedDevInfo()`: how many bonds; [`Self::smp_paired_addr`]
    /// gives each address, oldest first.
    pub fn smp_paired_count(&self, host: &HostCore) -> usize {
        host.bonds.len()
    }

    /// The address of the `index`th bond (oldest first), LSB first as
    /// event 16 carries it.
    pub fn smp_paired_addr(&self, host: &HostCore, index: usize) -> Option<[u8; 6]> {
        host.bonds.iter().nth(index).map(|b| b.peer.addr)
    }

    /// `smpRemovePairedDev(addr)`: forgets the bond of `addr` (either
    /// address type); -1 when there is none.
    pub fn smp_remove_paired(&mut self, host: &mut HostCore, addr: &[u8]) -> i32 {
        let Ok(addr) = <[u8; 6]>::try_from(addr) else {
            return ERR;
        };
        let mut found = false;
        for kind in 0..2 {
            found |= host.bonds.remove(&LeAddress { kind, addr });
        }
        if found {
            OK
        } else {
            ERR
        }
    }

    /// `smpCleanPairedDev()`: forgets every bond.
    pub fn smp_clean_paired(&mut self, host: &mut HostCore) -> i32 {
        host.bonds.clear();
        OK
    }

    // -- events -------------------------------------------------------------

    /// Turns one host event into the vendor's callback tuple, if the role
    /// that gets it is registered (reference §3). Returns the event to
    /// queue, or `None` when it is not for QuecPython.
    pub fn on_host_event(
        &mut self,
        ev: &HostEvent,
        host: &HostCore,
        emit: &mut dyn FnMut(&MpbleEvent) -> bool,
    ) {
        if let HostEvent::Stopped { .. } = *ev {
            // The host forgot the attribute table with the stop; the
            // registrations go with it, so a script that registers again
            // after the next start (in its event-0 handler, as the demos
            // do) gets 0 from every call and one table (docs/DECISIONS.md).
            self.clear_registrations();
            self.first_user_handle_less_one = START_HANDLE_WITHOUT_SYS - 1;
        }
        let Some(target) = self.target() else {
            return;
        };
        if let HostEvent::GattClient {
            conn,
            request,
            event,
        } = *ev
        {
            if self.role == Role::Client
                && self
                    .client
                    .on_event(conn, request, event, host, target, emit)
                    .is_err()
            {
                self.events_dropped = self.events_dropped.wrapping_add(1);
            }
            return;
        }
        let mut out = MpbleEvent::new(target);
        match self.build_event(ev, host, &mut out) {
            Ok(true) => {
                emit(&out);
            }
            Ok(false) => {}
            Err(EventFull) => self.events_dropped = self.events_dropped.wrapping_add(1),
        }
        // A client link is ready for discovery: the stack says so on its
        // own with event 26, which the client demo waits for (reference
        // §7.10).
        if let HostEvent::Connected { conn } = *ev {
            let central = host.connection(conn).map(|c| c.role) == Some(Role_::Central);
            if self.role == Role::Client && central {
                let mut out = MpbleEvent::new(target);
                if out
                    .int(event_id::BLE_GATT_START_DISCOVER_SERVICE_IND)
                    .and_then(|o| o.int(0))
                    .is_ok()
                {
                    emit(&out);
                }
            }
        }
    }

    /// Fills `out`; `Ok(false)` when the event has no QuecPython form.
    fn build_event(
        &mut self,
        ev: &HostEvent,
        host: &HostCore,
        out: &mut MpbleEvent,
    ) -> Result<bool, EventFull> {
        {
            match *ev {
                HostEvent::Started => {
                    out.int(event_id::BLE_START_STATUS_IND)?.int(0)?;
                }
                HostEvent::StartFailed(err) => {
                    use crate::hci::bringup::BringUpError;
                    let status = match err {
                        BringUpError::CommandFailed { status, .. } => status as i64,
                        _ => STATUS_CONTROLLER_TIMEOUT,
                    };
                    out.int(event_id::BLE_START_STATUS_IND)?.int(status)?;
                }
                HostEvent::Stopped { status } => {
                    // Non-zero: the controller was lost (docs/DECISIONS.md).
                    out.int(event_id::BLE_STOP_STATUS_IND)?.int(status as i64)?;
                }
                HostEvent::Connected { conn } => {
                    let Some(c) = host.connection(conn) else {
                        return Ok(false);
                    };
                    // connect_id is the link's slot: 0 for the first link,
                    // which the server demo hard-codes (reference §7.14).
                    out.int(event_id::BLE_CONNECT_IND)?
                        .int(0)?
                        .int(conn.index() as i64)?
                        .bytes(&c.peer_address)?;
                }
                HostEvent::Disconnected {
                    conn,
                    peer_address,
                    reason,
                    lost,
                    ..
                } => {
                    // Status 0 for a Disconnection Complete, whatever its
                    // reason; the reason when the host ended the link
                    // because its controller is gone (docs/DECISIONS.md).
                    let status = if lost { reason as i64 } else { 0 };
                    out.int(event_id::BLE_DISCONNECT_IND)?
                        .int(status)?
                        .int(conn.index() as i64)?
                        .bytes(&peer_address)?;
                }
                HostEvent::ConnectionUpdated { conn, status } => {
                    // Only a change that happened is reported: the demos
                    // stop BLE on a non-zero status here.
                    let Some(c) = host.connection(conn).filter(|_| status == 0) else {
                        return Ok(false);
                    };
                    // max_interval then min_interval (reference §3.1); the
                    // controller reports the one interval in use.
                    out.int(event_id::BLE_UPDATE_CONN_PARAM_IND)?
                        .int(0)?
                        .int(conn.index() as i64)?
                        .int(c.interval as i64)?
                        .int(c.interval as i64)?
                        .int(c.latency as i64)?
                        .int(c.supervision_timeout as i64)?;
                }
                HostEvent::MtuExchanged { conn, mtu } => {
                    let Some(c) = host.connection(conn) else {
                        return Ok(false);
                    };
                    out.int(event_id::BLE_GATT_MTU)?
                        .int(0)?
                        .int(c.handle.0 as i64)?
                        .int(mtu as i64)?;
                }
                HostEvent::GattWrite { conn, handle, .. }
                | HostEvent::GattRead { conn, handle } => {
                    let AttHandle(handle) = handle;
                    if self.role != Role::Server || handle <= self.first_user_handle_less_one {
                        return Ok(false);
                    }
                    let id = if matches!(ev, HostEvent::GattWrite { .. }) {
                        event_id::BLE_GATT_RECV_WRITE_IND
                    } else {
                        event_id::BLE_GATT_RECV_READ_IND
                    };
                    let db = &host.db;
                    let cccd;
                    let data: &[u8] = if db.is_cccd(handle) {
                        cccd = db.cccd(conn.index(), handle).to_le_bytes();
                        &cccd
                    } else {
                        db.value(handle).unwrap_or(&[])
                    };
                    let Some(uuid) = db.uuid(handle) else {
                        return Ok(false);
                    };
                    let (short, long) = match uuid {
                        Uuid::Uuid16(u) => (u as i64, [0u8; 16]),
                        Uuid::Uuid128(b) => (0, b),
                    };
                    out.int(id)?
                        .int(0)?
                        .int(data.len() as i64)?
                        .bytes(data)?
                        .int(handle as i64)?
                        .int(short)?
                        .bytes(&long)?;
                }
                HostEvent::IndicationConfirmed { .. } => {
                    out.int(event_id::BLE_GATT_SEND_END)?.int(0)?;
                }
                HostEvent::PairingPrompt {
                    conn,
                    prompt,
                    secure_connections: sc,
                } => {
                    // (64, 0, connect_id, pair_mode, pin): the number to
                    // compare or the passkey shown as the pin; 0 when
                    // there is none (reference §4.8).
                    use pair_mode as m;
                    let (mode, pin) = match (prompt, sc) {
                        (Prompt::JustWorks, true) => (m::SECURE_JUST_WORK, 0),
                        (Prompt::JustWorks, false) => (m::LEGACY_JUST_WORK, 0),
                        (Prompt::Compare(n), _) => (m::SECURE_NUMBER_COMPARISON, n as i64),
                        (Prompt::DisplayPasskey(n), true) => (m::SECURE_PASSKEY_OUTPUT, n as i64),
                        (Prompt::DisplayPasskey(n), false) => (m::LEGACY_PASSKEY_OUTPUT, n as i64),
                        (Prompt::EnterPasskey, true) => (m::SECURE_PASSKEY_INPUT, 0),
                        (Prompt::EnterPasskey, false) => (m::LEGACY_PASSKEY_INPUT, 0),
                    };
                    out.int(event_id::BLE_GATT_SMP_USER_CONFIRM_IND)?
                        .int(0)?
                        .int(conn.index() as i64)?
                        .int(mode)?
                        .int(pin)?;
                }
                HostEvent::SecurityComplete { status, .. } => {
                    // (63, status): 0 once the link is encrypted, after a
                    // pairing or from a bond (docs/DECISIONS.md).
                    out.int(event_id::BLE_GATT_SMP_COMPLETE_IND)?
                        .int(status as i64)?;
                }
                HostEvent::CommandFailed { .. }
                | HostEvent::GattClient { .. }
                | HostEvent::GattReadRequest { .. } => return Ok(false),
                HostEvent::ConnectFailed { status } => {
                    out.int(event_id::BLE_CONNECT_IND)?
                        .int(status as i64)?
                        .int(0)?
                        .bytes(&self.connecting_to)?;
                }
                HostEvent::AdvReport(r) => {
                    if self.role != Role::Client {
                        return Ok(false);
                    }
                    if !self.scan_filter_off {
                        let key = (r.address_type, r.address);
                        if self.seen.contains(&key) {
                            return Ok(false);
                        }
                        // A full list reports again rather than hides.
                        let _ = self.seen.push(key);
                    }
                    // The name from Complete/Shortened Local Name, '' when
                    // absent or not UTF-8 (the event gives a str).
                    let name = crate::gap::ad::local_name(r.data())
                        .filter(|n| core::str::from_utf8(n).is_ok())
                        .unwrap_or(&[]);
                    // RSSI as the signed dBm the controller reports.
                    out.int(event_id::BLE_SCAN_REPORT_IND)?
                        .int(0)?
                        .int(r.event_type as i64)?
                        .str(name)?
                        .int(r.address_type as i64)?
                        .bytes(&r.address)?
                        .int(r.rssi as i64)?
                        .int(r.len as i64)?
                        .bytes(r.data())?;
                }
            }
            Ok(true)
        }
    }

    /// Event 25 for a notification handed to the controller.
    pub fn send_end(&self) -> Option<MpbleEvent> {
        let mut out = MpbleEvent::new(self.target()?);
        out.int(event_id::BLE_GATT_SEND_END).ok()?.int(0).ok()?;
        Some(out)
    }
}

/// Maps a host refusal onto the vendor's -1.
pub fn result(r: Result<(), HostError>) -> i32 {
    match r {
        Ok(()) => OK,
        Err(_) => ERR,
    }
}

impl Adapter for QuecPython {
    fn on_host_event(
        &mut self,
        ev: &HostEvent,
        core: &HostCore,
        emit: &mut dyn FnMut(&MpbleEvent) -> bool,
    ) {
        QuecPython::on_host_event(self, ev, core, emit)
    }

    fn reset(&mut self) {
        *self = QuecPython::new();
    }
}
