//! QuecPython `ble` client (central) GATT operations (reference §2.3,
//! §3.3, §3.4).
//!
//! The vendor API hands the app raw ATT response bodies: one event per
//! response (27 per service record, 28 characteristic declarations, 29
//! descriptors, 32-36 values), and signals the end of some procedures with
//! event 37 carrying an ATT error code. Which procedure ends how is what
//! the client demo depends on (reference §3.5, §7.9):
//! - service discovery ends silently (a 37 there would crash the demo);
//! - characteristic discovery always ends with `(37, 0, 0x0A)`, even when
//!   the range was covered without the server saying Attribute Not Found;
//! - descriptor discovery ends silently when the range was covered, with
//!   37 when the server answered with an error;
//! - any other ATT Error Response to a read gives `(37, 0, code)`; writes
//!   report their result in 30/35.
//!
//! Calls made while a request is outstanding are queued per link and run
//! in order (the demo starts characteristic discovery from the service
//! event, while service discovery may still be running): the ATT bearer
//! takes one request at a time (Vol 3 Part F 3.3.2), the app need not.

use super::{event_id, in_range, uuid_arg, ERR, OK};
use crate::api::event::{EventFull, MpbleEvent, MpbleTarget};
use crate::bytes::le_u16_at;
use crate::config;
use crate::gatt::client::ClientEvent;
use crate::gatt::queue::{Procedure, Request, Span};
use crate::hci::ConnHandle;
use crate::host::{ConnSlot, HostCore};

/// ATT Attribute Not Found (Vol 3 Part F 3.4.1.1): how QuecPython marks
/// the end of characteristic discovery.
const ATTRIBUTE_NOT_FOUND: i64 = 0x0A;

/// `discover_range`'s answer for an empty descriptor range: accepted, and
/// the result is [`empty_descriptors_event`], with no ATT request.
pub const EMPTY_RANGE: i32 = 1;

/// Event 29 for a descriptor discovery over an empty range: a Find
/// Information body of format 1 with no records, `(29, 0, 1, b'\x01')`,
/// so that a script parsing `data[0]` and counting `(len - 1) / 4` records
/// sees none (docs/DECISIONS.md).
pub fn empty_descriptors_event(target: MpbleTarget) -> Option<MpbleEvent> {
    let mut ev = MpbleEvent::new(target);
    ev.int(event_id::BLE_GATT_DISCOVER_CHARA_DESC_IND)
        .ok()?
        .int(0)
        .ok()?
        .int(1)
        .ok()?
        .bytes(&[1])
        .ok()?;
    Some(ev)
}

/// Our mark on the requests we queue in the core (`Request::owner`).
pub const OWNER: u8 = 1;

/// Which `ble` call a request came from (`Request::tag`): descriptor
/// reads and writes report with their own event ids (35, 36).
const TAG_VALUE: u8 = 0;
const TAG_DESC: u8 = 1;

/// The client side of the QuecPython adapter: argument rules and the
/// mapping of results to events. The procedures themselves queue in the
/// core ([`crate::gatt::queue`]), one running per link.
#[derive(Default)]
pub struct Client;

fn u16_arg(v: i64) -> Option<u16> {
    in_range(v, 0, 0xFFFF).map(|v| v as u16)
}

fn request(procedure: Procedure, tag: u8) -> Request {
    Request {
        procedure,
        owner: OWNER,
        tag,
    }
}

impl Client {
    pub const fn new() -> Self {
        Client
    }

    fn conn_arg(connect_id: i64) -> Option<ConnSlot> {
        ConnSlot::new(usize::try_from(connect_id).ok()?)
    }

    /// Runs `procedure` now if the link is idle, else after the calls
    /// already waiting. -1 when the link is down, the queue full or the
    /// procedure refused by the GATT client (bad range, too long for the
    /// MTU).
    fn submit(
        &mut self,
        host: &mut HostCore,
        conn: ConnSlot,
        procedure: Procedure,
        tag: u8,
        data: &[u8],
    ) -> i32 {
        match host.gatt_submit(conn, request(procedure, tag), data) {
            Ok(()) => OK,
            Err(_) => ERR,
        }
    }

    // -- the `ble` calls ----------------------------------------------------

    pub fn discover_all_service(&mut self, host: &mut HostCore, connect_id: i64) -> i32 {
        match Self::conn_arg(connect_id) {
            Some(c) => self.submit(
                host,
                c,
                Procedure::DiscoverAllPrimaryServices,
                TAG_VALUE,
                &[],
            ),
            None => ERR,
        }
    }

    pub fn discover_by_uuid(
        &mut self,
        host: &mut HostCore,
        connect_id: i64,
        uuid_type: i64,
        uuid_s: i64,
        uuid_l: &[u8],
    ) -> i32 {
        match (
            Self::conn_arg(connect_id),
            uuid_arg(uuid_type, uuid_s, uuid_l),
        ) {
            (Some(c), Some(uuid)) => self.submit(
                host,
                c,
                Procedure::DiscoverPrimaryServiceByUuid { uuid },
                TAG_VALUE,
                &[],
            ),
            _ => ERR,
        }
    }

    /// `discoverAllIncludes`, `discoverAllChara`, `discoverAllCharaDesc`:
    /// `(connect_id, start_handle, end_handle)`; `which` 0, 1, 2.
    pub fn discover_range(
        &mut self,
        host: &mut HostCore,
        which: u8,
        connect_id: i64,
        start: i64,
        end: i64,
    ) -> i32 {
        let (Some(c), Some(start), Some(end)) =
            (Self::conn_arg(connect_id), u16_arg(start), u16_arg(end))
        else {
            return ERR;
        };
        if which == 2 && u32::from(start) == u32::from(end) + 1 {
            // A characteristic whose value ends its service has no
            // descriptors: the range after its value is empty (the SMP
            // client demo asks for it, reference §7.9). Nothing goes to
            // the server; the caller reports the empty result.
            return if host.connection(c).is_some() {
                EMPTY_RANGE
            } else {
                ERR
            };
        }
        let procedure = match which {
            0 => Procedure::FindIncludedServices { start, end },
            1 => Procedure::DiscoverAllCharacteristics { start, end },
            _ => Procedure::DiscoverAllDescriptors { start, end },
        };
        self.submit(host, c, procedure, TAG_VALUE, &[])
    }

    /// `readCharaByUUID(connect_id, start_handle, end_handle, uuid_type,
    /// uuid_s, uuid_l)`.
    #[allow(clippy::too_many_arguments)]
    pub fn read_by_uuid(
        &mut self,
        host: &mut HostCore,
        connect_id: i64,
        start: i64,
        end: i64,
        uuid_type: i64,
        uuid_s: i64,
        uuid_l: &[u8],
    ) -> i32 {
        match (
            Self::conn_arg(connect_id),
            u16_arg(start),
            u16_arg(end),
            uuid_arg(uuid_type, uuid_s, uuid_l),
        ) {
            (Some(c), Some(start), Some(end), Some(uuid)) => self.submit(
                host,
                c,
                Procedure::ReadByUuid { start, end, uuid },
                TAG_VALUE,
                &[],
            ),
            _ => ERR,
        }
    }

    /// `readCharaByHandle(connect_id, handle, offset, is_long)`.
    pub fn read_by_handle(
        &mut self,
        host: &mut HostCore,
        connect_id: i64,
        handle: i64,
        offset: i64,
        is_long: i64,
    ) -> i32 {
        match (
            Self::conn_arg(connect_id),
            u16_arg(handle),
            u16_arg(offset),
            in_range(is_long, 0, 1),
        ) {
            (Some(c), Some(handle), Some(offset), Some(long)) => self.submit(
                host,
                c,
                Procedure::Read {
                    handle,
                    offset,
                    long: long == 1,
                },
                TAG_VALUE,
                &[],
            ),
            _ => ERR,
        }
    }

    /// `readCharaDesc(connect_id, handle, is_long)`.
    pub fn read_desc(
        &mut self,
        host: &mut HostCore,
        connect_id: i64,
        handle: i64,
        is_long: i64,
    ) -> i32 {
        match (
            Self::conn_arg(connect_id),
            u16_arg(handle),
            in_range(is_long, 0, 1),
        ) {
            (Some(c), Some(handle), Some(long)) => self.submit(
                host,
                c,
                Procedure::Read {
                    handle,
                    offset: 0,
                    long: long == 1,
                },
                TAG_DESC,
                &[],
            ),
            _ => ERR,
        }
    }

    /// `readMultiChara(connect_id, handles)`: concatenated LE u16 handles.
    pub fn read_multi(&mut self, host: &mut HostCore, connect_id: i64, handles: &[u8]) -> i32 {
        let Some(c) = Self::conn_arg(connect_id) else {
            return ERR;
        };
        // Read Multiple takes two or more handles (Vol 3 Part F 3.4.4.7).
        if handles.len() < 4
            || !handles.len().is_multiple_of(2)
            || handles.len() > config::ATT_MTU_MAX
        {
            return ERR;
        }
        let procedure = Procedure::ReadMultiple {
            handles: Span::EMPTY,
        };
        self.submit(host, c, procedure, TAG_VALUE, handles)
    }

    /// `writeChara(connect_id, handle, offset, is_long, data)` and
    /// `writeCharaDesc(connect_id, handle, data)` (`desc`).
    #[allow(clippy::too_many_arguments)]
    pub fn write(
        &mut self,
        host: &mut HostCore,
        desc: bool,
        connect_id: i64,
        handle: i64,
        offset: i64,
        is_long: i64,
        data: &[u8],
    ) -> i32 {
        let (Some(c), Some(handle), Some(offset), Some(long)) = (
            Self::conn_arg(connect_id),
            u16_arg(handle),
            u16_arg(offset),
            in_range(is_long, 0, 1),
        ) else {
            return ERR;
        };
        if data.len() > config::ATT_VALUE_MAX {
            return ERR;
        }
        let procedure = Procedure::Write {
            handle,
            offset,
            long: long == 1,
            value: Span::EMPTY,
        };
        self.submit(
            host,
            c,
            procedure,
            if desc { TAG_DESC } else { TAG_VALUE },
            data,
        )
    }

    /// `writeCharaNoRsp(connect_id, handle, data)`: a Write Command is not
    /// a request, so it goes at once even while one is outstanding
    /// (Vol 3 Part F 3.3.2). Event 31 follows.
    pub fn write_no_rsp(
        &mut self,
        host: &mut HostCore,
        connect_id: i64,
        handle: i64,
        data: &[u8],
    ) -> i32 {
        let (Some(c), Some(handle)) = (Self::conn_arg(connect_id), u16_arg(handle)) else {
            return ERR;
        };
        match host.gatt_client_request(c, |cl, out| cl.write_without_response(handle, data, out)) {
            Ok(()) => OK,
            Err(_) => ERR,
        }
    }

    /// `exchangeMtu(connect_id, mtu_size)`; event 20 follows.
    pub fn exchange_mtu(&mut self, host: &mut HostCore, connect_id: i64, mtu: i64) -> i32 {
        match (
            Self::conn_arg(connect_id),
            in_range(
                mtu,
                config::ATT_MTU_DEFAULT as i64,
                config::ATT_MTU_MAX as i64,
            ),
        ) {
            (Some(c), Some(mtu)) => self.submit(
                host,
                c,
                Procedure::ExchangeMtu { mtu: mtu as u16 },
                TAG_VALUE,
                &[],
            ),
            _ => ERR,
        }
    }

    // -- events ---------------------------------------------------------------

    /// Turns the GATT client's progress into QuecPython events. `request`
    /// is the procedure the event belongs to, if it is ours.
    pub fn on_event(
        &mut self,
        conn: ConnSlot,
        request: Option<Request>,
        event: ClientEvent,
        host: &HostCore,
        target: MpbleTarget,
        emit: &mut dyn FnMut(&MpbleEvent) -> bool,
    ) -> Result<(), EventFull> {
        let pdu = host.client_pdu();
        let body = pdu.get(1..).unwrap_or(&[]);
        if let ClientEvent::Notification { .. } | ClientEvent::Indication { .. } = event {
            // Raw: handle (LE) and value, as the demo parses it.
            let id = if matches!(event, ClientEvent::Notification { .. }) {
                event_id::BLE_GATT_RECV_NOTIFICATION_IND
            } else {
                event_id::BLE_GATT_RECV_INDICATION_IND
            };
            let mut ev = MpbleEvent::new(target);
            ev.int(id)?.int(0)?.int(body.len() as i64)?.bytes(body)?;
            emit(&ev);
            return Ok(());
        }
        let Some(request) = request.filter(|r| r.owner == OWNER) else {
            return Ok(());
        };
        match event {
            ClientEvent::Results { .. } => {
                let id = match request.procedure {
                    Procedure::DiscoverAllPrimaryServices
                    | Procedure::DiscoverPrimaryServiceByUuid { .. } => {
                        return service_events(request.procedure, body, target, emit);
                    }
                    // Included services come as raw Read By Type bodies
                    // too (the vendor names no event).
                    Procedure::FindIncludedServices { .. }
                    | Procedure::DiscoverAllCharacteristics { .. } => {
                        event_id::BLE_GATT_DISCOVER_CHARACTERISTIC_DATA_IND
                    }
                    Procedure::DiscoverAllDescriptors { .. } => {
                        event_id::BLE_GATT_DISCOVER_CHARA_DESC_IND
                    }
                    Procedure::Read { .. } if request.tag == TAG_DESC => {
                        event_id::BLE_GATT_DESC_READ_IND
                    }
                    Procedure::Read { .. } => event_id::BLE_GATT_CHARA_READ_IND,
                    Procedure::ReadByUuid { .. } => event_id::BLE_GATT_CHARA_READ_BY_UUID_IND,
                    Procedure::ReadMultiple { .. } => event_id::BLE_GATT_CHARA_MULTI_READ_IND,
                    _ => return Ok(()),
                };
                let mut ev = MpbleEvent::new(target);
                ev.int(id)?.int(0)?.int(body.len() as i64)?.bytes(body)?;
                emit(&ev);
            }
            ClientEvent::Done { att_error, .. } => {
                // The event is built only when there is one: a read or a
                // discovery that ends well raises none.
                if let Some(ints) = end_event(request, att_error, host, conn) {
                    let mut ev = MpbleEvent::new(target);
                    for &v in ints.iter() {
                        ev.int(v)?;
                    }
                    emit(&ev);
                }
            }
            // Event 20 comes from the host's MtuExchanged.
            _ => {}
        }
        Ok(())
    }
}

/// Event 27 for each service record of a Read By Group Type Response
/// (start, end, 16-bit UUID; 0 for a 128-bit one: the event has no slot for
/// it, reference §7.11) or of a Find By Type Value Response (found handle,
/// group end; the UUID searched for).
fn service_events(
    procedure: Procedure,
    body: &[u8],
    target: MpbleTarget,
    emit: &mut dyn FnMut(&MpbleEvent) -> bool,
) -> Result<(), EventFull> {
    // Records are at least 4 bytes (checked below); a missing field reads 0.
    let u16_at = |b: &[u8], i: usize| le_u16_at(b, i).unwrap_or(0);
    let (records, record_len, uuid) = match procedure {
        Procedure::DiscoverAllPrimaryServices => {
            let Some((&len, records)) = body.split_first() else {
                return Ok(());
            };
            (records, usize::from(len), None)
        }
        Procedure::DiscoverPrimaryServiceByUuid { uuid } => {
            (body, 4, Some(uuid.as_u16().unwrap_or(0)))
        }
        _ => return Ok(()),
    };
    if record_len < 4 {
        return Ok(());
    }
    for r in records.chunks_exact(record_len) {
        let uuid = uuid.unwrap_or_else(|| if record_len == 6 { u16_at(r, 4) } else { 0 });
        let mut ev = MpbleEvent::new(target);
        ev.int(event_id::BLE_GATT_DISCOVER_SERVICE_IND)?
            .int(0)?
            .int(u16_at(r, 0) as i64)?
            .int(u16_at(r, 2) as i64)?
            .int(uuid as i64)?;
        emit(&ev);
    }
    Ok(())
}

/// The ints of the event that ends `request` (its id first), if any (see
/// the module doc).
fn end_event(
    request: Request,
    att_error: u8,
    host: &HostCore,
    conn: ConnSlot,
) -> Option<heapless::Vec<i64, 4>> {
    let code = att_error as i64;
    let ints: &[i64] = match request.procedure {
        Procedure::DiscoverAllCharacteristics { .. } | Procedure::FindIncludedServices { .. } => {
            let code = if att_error == 0 {
                ATTRIBUTE_NOT_FOUND
            } else {
                code
            };
            &[event_id::BLE_GATT_ATT_ERROR_IND, 0, code]
        }
        Procedure::DiscoverAllPrimaryServices | Procedure::DiscoverPrimaryServiceByUuid { .. } => {
            if att_error == 0 || code == ATTRIBUTE_NOT_FOUND {
                return None;
            }
            &[event_id::BLE_GATT_ATT_ERROR_IND, 0, code]
        }
        Procedure::DiscoverAllDescriptors { .. }
        | Procedure::Read { .. }
        | Procedure::ReadByUuid { .. }
        | Procedure::ReadMultiple { .. } => {
            if att_error == 0 {
                return None;
            }
            &[event_id::BLE_GATT_ATT_ERROR_IND, 0, code]
        }
        Procedure::Write { .. } => {
            let id = if request.tag == TAG_DESC {
                event_id::BLE_GATT_DESC_WRITE_WITH_RSP_IND
            } else {
                event_id::BLE_GATT_CHARA_WRITE_WITH_RSP_IND
            };
            &[id, code]
        }
        Procedure::ExchangeMtu { .. } => {
            // Refused: the MTU stays what it was.
            let (handle, mtu) = host
                .connection(conn)
                .map(|c| (c.handle, c.att.mtu()))
                .unwrap_or((ConnHandle(0), config::ATT_MTU_DEFAULT as u16));
            &[event_id::BLE_GATT_MTU, code, handle.0 as i64, mtu as i64]
        }
    };
    heapless::Vec::from_slice(ints).ok()
}
