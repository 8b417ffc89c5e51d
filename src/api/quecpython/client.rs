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
use crate::config;
use crate::gatt::client::{ClientEvent, GattClient};
use crate::host::{HostCore, HostError};
use crate::uuid::Uuid;
use heapless::Deque;

/// ATT Attribute Not Found (Vol 3 Part F 3.4.1.1): how QuecPython marks
/// the end of characteristic discovery.
const ATTRIBUTE_NOT_FOUND: i64 = 0x0A;

/// One `ble` client call, as queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    DiscoverServices,
    DiscoverByUuid {
        uuid: Uuid,
    },
    DiscoverIncludes {
        start: u16,
        end: u16,
    },
    DiscoverChara {
        start: u16,
        end: u16,
    },
    DiscoverDesc {
        start: u16,
        end: u16,
    },
    ReadByHandle {
        handle: u16,
        offset: u16,
        long: bool,
    },
    ReadDesc {
        handle: u16,
        long: bool,
    },
    ReadByUuid {
        start: u16,
        end: u16,
        uuid: Uuid,
    },
    /// Handles (LE u16s) at `data` in the pool.
    ReadMulti {
        data: Slot,
    },
    Write {
        handle: u16,
        offset: u16,
        long: bool,
        desc: bool,
        data: Slot,
    },
    ExchangeMtu {
        mtu: u16,
    },
}

/// Bytes of a queued call in the pool ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    start: u16,
    len: u16,
}

/// Per link: the call running and those waiting behind it.
struct Link {
    running: Option<Op>,
    queue: Deque<Op, { config::QPY_CLIENT_QUEUE }>,
}

impl Link {
    const fn new() -> Self {
        Link {
            running: None,
            queue: Deque::new(),
        }
    }
}

/// The client side of the QuecPython adapter.
pub struct Client {
    links: [Link; config::MAX_CONNECTIONS],
    /// Ring of queued write values and handle lists, freed in queue order.
    pool: [u8; config::QPY_CLIENT_POOL],
    pool_head: usize,
    pool_len: usize,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

fn u16_arg(v: i64) -> Option<u16> {
    in_range(v, 0, 0xFFFF).map(|v| v as u16)
}

impl Client {
    pub const fn new() -> Self {
        const LINK: Link = Link::new();
        Client {
            links: [LINK; config::MAX_CONNECTIONS],
            pool: [0; config::QPY_CLIENT_POOL],
            pool_head: 0,
            pool_len: 0,
        }
    }

    /// Forgets every call (the stack stopped or restarted: links are gone
    /// without a disconnection event each).
    pub fn reset(&mut self) {
        for link in self.links.iter_mut() {
            link.running = None;
            link.queue.clear();
        }
        self.pool_head = 0;
        self.pool_len = 0;
    }

    /// Forgets a link's calls (it went down).
    pub fn link_down(&mut self, conn: usize) {
        if let Some(link) = self.links.get_mut(conn) {
            while let Some(op) = link.queue.pop_front() {
                Self::free(&mut self.pool_head, &mut self.pool_len, op);
            }
            if let Some(op) = link.running.take() {
                Self::free(&mut self.pool_head, &mut self.pool_len, op);
            }
        }
    }

    fn store(&mut self, data: &[u8]) -> Option<Slot> {
        let cap = self.pool.len();
        if data.len() > cap - self.pool_len {
            return None;
        }
        let start = (self.pool_head + self.pool_len) % cap;
        for (i, &b) in data.iter().enumerate() {
            self.pool[(start + i) % cap] = b;
        }
        self.pool_len += data.len();
        Some(Slot {
            start: start as u16,
            len: data.len() as u16,
        })
    }

    /// Copies a slot out of the ring (it may wrap).
    fn load<'a>(&self, slot: Slot, buf: &'a mut [u8; config::ATT_VALUE_MAX]) -> &'a [u8] {
        let cap = self.pool.len();
        let len = usize::from(slot.len).min(buf.len());
        for (i, b) in buf[..len].iter_mut().enumerate() {
            *b = self.pool[(usize::from(slot.start) + i) % cap];
        }
        &buf[..len]
    }

    /// Frees an op's bytes; ops finish in the order they were stored.
    fn free(head: &mut usize, len: &mut usize, op: Op) {
        let slot = match op {
            Op::ReadMulti { data } | Op::Write { data, .. } => data,
            _ => return,
        };
        let n = usize::from(slot.len).min(*len);
        *head = (*head + n) % config::QPY_CLIENT_POOL;
        *len -= n;
    }

    fn conn_arg(connect_id: i64) -> Option<usize> {
        in_range(connect_id, 0, config::MAX_CONNECTIONS as i64 - 1).map(|c| c as usize)
    }

    /// Starts `op` now if the link is idle, else queues it behind the
    /// running call. -1 when the link is down, the queue full or `op` is
    /// refused by the GATT client (bad range, too long for the MTU).
    fn submit(&mut self, host: &mut HostCore, conn: usize, op: Op) -> i32 {
        if host.connection(conn).is_none() {
            Self::free(&mut self.pool_head, &mut self.pool_len, op);
            return ERR;
        }
        let link = &mut self.links[conn];
        if link.running.is_some() || !link.queue.is_empty() {
            return match link.queue.push_back(op) {
                Ok(()) => OK,
                Err(op) => {
                    Self::free(&mut self.pool_head, &mut self.pool_len, op);
                    ERR
                }
            };
        }
        match self.start(host, conn, op) {
            Ok(()) => OK,
            Err(_) => {
                Self::free(&mut self.pool_head, &mut self.pool_len, op);
                ERR
            }
        }
    }

    fn start(&mut self, host: &mut HostCore, conn: usize, op: Op) -> Result<(), HostError> {
        let mut value = [0u8; config::ATT_VALUE_MAX];
        let data = match op {
            Op::ReadMulti { data } | Op::Write { data, .. } => self.load(data, &mut value),
            _ => &[],
        };
        host.gatt_client_request(conn, |c: &mut GattClient, out| match op {
            Op::DiscoverServices => c.discover_all_primary_services(out),
            Op::DiscoverByUuid { uuid } => c.discover_primary_service_by_uuid(uuid, out),
            Op::DiscoverIncludes { start, end } => c.find_included_services(start, end, out),
            Op::DiscoverChara { start, end } => c.discover_all_characteristics(start, end, out),
            Op::DiscoverDesc { start, end } => c.discover_all_descriptors(start, end, out),
            Op::ReadByHandle {
                handle,
                offset,
                long,
            } => c.read_by_handle(handle, offset, long, out),
            Op::ReadDesc { handle, long } => c.read_by_handle(handle, 0, long, out),
            Op::ReadByUuid { start, end, uuid } => c.read_by_uuid(start, end, uuid, out),
            Op::ReadMulti { .. } => c.read_multiple(data, out),
            Op::Write {
                handle,
                offset,
                long,
                ..
            } => {
                if long || offset != 0 {
                    c.write_long(handle, offset, data, out)
                } else {
                    c.write(handle, data, out)
                }
            }
            Op::ExchangeMtu { mtu } => c.exchange_mtu(mtu, out),
        })?;
        self.links[conn].running = Some(op);
        Ok(())
    }

    /// Starts queued calls on idle links; a queued call the GATT client
    /// refuses ends at once with the event its procedure would end with.
    pub fn pump(
        &mut self,
        host: &mut HostCore,
        target: Option<MpbleTarget>,
        emit: &mut dyn FnMut(MpbleEvent),
    ) {
        for conn in 0..self.links.len() {
            while self.links[conn].running.is_none() {
                let Some(op) = self.links[conn].queue.pop_front() else {
                    break;
                };
                if self.start(host, conn, op).is_err() {
                    Self::free(&mut self.pool_head, &mut self.pool_len, op);
                    if let Some(t) = target {
                        let mut ev = MpbleEvent::new(t);
                        if end_event(op, 0x0E, host, conn, &mut ev).is_ok_and(|e| e) {
                            emit(ev);
                        }
                    }
                }
            }
        }
    }

    // -- the `ble` calls ----------------------------------------------------

    pub fn discover_all_service(&mut self, host: &mut HostCore, connect_id: i64) -> i32 {
        match Self::conn_arg(connect_id) {
            Some(c) => self.submit(host, c, Op::DiscoverServices),
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
            (Some(c), Some(uuid)) => self.submit(host, c, Op::DiscoverByUuid { uuid }),
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
        let op = match which {
            0 => Op::DiscoverIncludes { start, end },
            1 => Op::DiscoverChara { start, end },
            _ => Op::DiscoverDesc { start, end },
        };
        self.submit(host, c, op)
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
            (Some(c), Some(start), Some(end), Some(uuid)) => {
                self.submit(host, c, Op::ReadByUuid { start, end, uuid })
            }
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
                Op::ReadByHandle {
                    handle,
                    offset,
                    long: long == 1,
                },
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
                Op::ReadDesc {
                    handle,
                    long: long == 1,
                },
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
        match self.store(handles) {
            Some(data) => self.submit(host, c, Op::ReadMulti { data }),
            None => ERR,
        }
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
        match self.store(data) {
            Some(data) => self.submit(
                host,
                c,
                Op::Write {
                    handle,
                    offset,
                    long: long == 1,
                    desc,
                    data,
                },
            ),
            None => ERR,
        }
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
            (Some(c), Some(mtu)) => self.submit(host, c, Op::ExchangeMtu { mtu: mtu as u16 }),
            _ => ERR,
        }
    }

    // -- events ---------------------------------------------------------------

    /// Turns the GATT client's progress into QuecPython events.
    pub fn on_event(
        &mut self,
        conn: usize,
        event: ClientEvent,
        host: &HostCore,
        target: MpbleTarget,
        emit: &mut dyn FnMut(MpbleEvent),
    ) -> Result<(), EventFull> {
        let pdu = host.client_pdu();
        let body = pdu.get(1..).unwrap_or(&[]);
        match event {
            ClientEvent::Notification { .. } | ClientEvent::Indication { .. } => {
                // Raw: handle (LE) and value, as the demo parses it.
                let id = if matches!(event, ClientEvent::Notification { .. }) {
                    event_id::BLE_GATT_RECV_NOTIFICATION_IND
                } else {
                    event_id::BLE_GATT_RECV_INDICATION_IND
                };
                let mut ev = MpbleEvent::new(target);
                ev.int(id)?.int(0)?.int(body.len() as i64)?.bytes(body)?;
                emit(ev);
            }
            ClientEvent::Results { .. } => {
                let Some(op) = self.links.get(conn).and_then(|l| l.running) else {
                    return Ok(());
                };
                match op {
                    Op::DiscoverServices | Op::DiscoverByUuid { .. } => {
                        service_events(op, body, target, emit)?;
                    }
                    _ => {
                        let id = match op {
                            // Included services come as raw Read By Type
                            // bodies too (the vendor names no event).
                            Op::DiscoverIncludes { .. } | Op::DiscoverChara { .. } => {
                                event_id::BLE_GATT_DISCOVER_CHARACTERISTIC_DATA_IND
                            }
                            Op::DiscoverDesc { .. } => event_id::BLE_GATT_DISCOVER_CHARA_DESC_IND,
                            Op::ReadByHandle { .. } => event_id::BLE_GATT_CHARA_READ_IND,
                            Op::ReadByUuid { .. } => event_id::BLE_GATT_CHARA_READ_BY_UUID_IND,
                            Op::ReadMulti { .. } => event_id::BLE_GATT_CHARA_MULTI_READ_IND,
                            Op::ReadDesc { .. } => event_id::BLE_GATT_DESC_READ_IND,
                            _ => return Ok(()),
                        };
                        let mut ev = MpbleEvent::new(target);
                        ev.int(id)?.int(0)?.int(body.len() as i64)?.bytes(body)?;
                        emit(ev);
                    }
                }
            }
            ClientEvent::Done { att_error, .. } => {
                let Some(op) = self.links.get_mut(conn).and_then(|l| l.running.take()) else {
                    return Ok(());
                };
                Self::free(&mut self.pool_head, &mut self.pool_len, op);
                let mut ev = MpbleEvent::new(target);
                if end_event(op, att_error, host, conn, &mut ev)? {
                    emit(ev);
                }
            }
            ClientEvent::MtuExchanged { .. } => {
                // Event 20 comes from the host's MtuExchanged; our
                // `exchangeMtu` call is done.
                if let Some(link) = self.links.get_mut(conn) {
                    if matches!(link.running, Some(Op::ExchangeMtu { .. })) {
                        link.running = None;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Event 27 for each service record of a Read By Group Type Response
/// (start, end, 16-bit UUID; 0 for a 128-bit one: the event has no slot for
/// it, reference §7.11) or of a Find By Type Value Response (found handle,
/// group end; the UUID searched for).
fn service_events(
    op: Op,
    body: &[u8],
    target: MpbleTarget,
    emit: &mut dyn FnMut(MpbleEvent),
) -> Result<(), EventFull> {
    let u16_at = |b: &[u8], i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let (records, record_len, uuid) = match op {
        Op::DiscoverServices => {
            let Some((&len, records)) = body.split_first() else {
                return Ok(());
            };
            (records, usize::from(len), None)
        }
        Op::DiscoverByUuid { uuid } => (body, 4, Some(uuid.as_u16().unwrap_or(0))),
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
        emit(ev);
    }
    Ok(())
}

/// The event that ends `op`, if any (see the module doc). Returns whether
/// `ev` was filled.
fn end_event(
    op: Op,
    att_error: u8,
    host: &HostCore,
    conn: usize,
    ev: &mut MpbleEvent,
) -> Result<bool, EventFull> {
    let code = att_error as i64;
    match op {
        Op::DiscoverChara { .. } | Op::DiscoverIncludes { .. } => {
            let code = if att_error == 0 {
                ATTRIBUTE_NOT_FOUND
            } else {
                code
            };
            ev.int(event_id::BLE_GATT_ATT_ERROR_IND)?
                .int(0)?
                .int(code)?;
        }
        Op::DiscoverServices | Op::DiscoverByUuid { .. } => {
            if att_error == 0 || code == ATTRIBUTE_NOT_FOUND {
                return Ok(false);
            }
            ev.int(event_id::BLE_GATT_ATT_ERROR_IND)?
                .int(0)?
                .int(code)?;
        }
        Op::DiscoverDesc { .. }
        | Op::ReadByHandle { .. }
        | Op::ReadDesc { .. }
        | Op::ReadByUuid { .. }
        | Op::ReadMulti { .. } => {
            if att_error == 0 {
                return Ok(false);
            }
            ev.int(event_id::BLE_GATT_ATT_ERROR_IND)?
                .int(0)?
                .int(code)?;
        }
        Op::Write { desc, .. } => {
            let id = if desc {
                event_id::BLE_GATT_DESC_WRITE_WITH_RSP_IND
            } else {
                event_id::BLE_GATT_CHARA_WRITE_WITH_RSP_IND
            };
            ev.int(id)?.int(code)?;
        }
        Op::ExchangeMtu { .. } => {
            // Refused: the MTU stays what it was.
            let (handle, mtu) = host
                .connection(conn)
                .map(|c| (c.handle, c.att.mtu()))
                .unwrap_or((0, config::ATT_MTU_DEFAULT as u16));
            ev.int(event_id::BLE_GATT_MTU)?
                .int(code)?
                .int(handle as i64)?
                .int(mtu as i64)?;
        }
    }
    Ok(true)
}
