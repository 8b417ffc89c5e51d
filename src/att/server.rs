//! The ATT server: answers a client's requests from the attribute table
//! (Core spec Vol 3 Part F 3.4, Vol 3 Part G 4).
//!
//! [`handle_pdu`] takes one ATT PDU received on CID 0x0004 and writes at
//! most one response; it never panics and never writes a response longer
//! than the bearer's ATT_MTU. Decisions the spec leaves open:
//!
//! - **Exchange MTU.** The server Rx MTU is `config::ATT_MTU_MAX`; ATT_MTU
//!   becomes `max(23, min(client, server))`. A Client Rx MTU below 23 is
//!   invalid (Vol 3 Part F 3.4.2.1 requires >= the default) but is still
//!   answered, and ATT_MTU stays 23, since ATT_MTU is never below the LE
//!   default (Vol 3 Part G 5.2.1). Only the first exchange of a connection
//!   changes ATT_MTU (the client "shall only send once", 3.4.2.1); later
//!   ones are answered without effect.
//! - **Security.** On an unencrypted link, attributes needing encryption or
//!   authentication get Insufficient Authentication (0x05) while the host
//!   holds no LTK for the link (the client must pair), and Insufficient
//!   Encryption (0x0F) once it holds one (the client should encrypt), as
//!   Vol 3 Part C 10.3.1.1 prescribes; with no bonds yet, an LTK exists
//!   only between a pairing and the encryption that follows it. On an
//!   encrypted link, a MITM requirement on an unauthenticated key also
//!   gives 0x05.
//!   Authorization bits always give Insufficient Authorization (0x08): the
//!   application has no way to authorize a client.
//! - **Attribute Not Long** (Vol 3 Part F 3.4.4.5 allows it for fixed-length
//!   values that fit in a Read Response): only declarations and CCCDs are
//!   fixed-length here, so only those answer a Read Blob with a non-zero
//!   offset with 0x0B. Characteristic values and other descriptors are
//!   variable-length: a Read Blob at `offset == len` gets an empty
//!   response, `offset > len` gets Invalid Offset (0x07).
//! - **CCCD writes** must be exactly 2 bytes at offset 0, else Invalid
//!   Attribute Value Length (0x0D) or Invalid Offset (0x07). The value is
//!   stored as written (reserved bits included), per connection.
//! - **Queued writes** check handle and permissions at Prepare time and
//!   offsets/lengths at Execute time (Vol 3 Part F 3.4.6.1, 3.4.6.3). All
//!   entries are validated before any is applied, so a failing Execute
//!   changes nothing; the queue is emptied either way.
//! - **Read events** are reported for characteristic values and
//!   descriptors (not declarations) read with Read, Read Blob, Read
//!   Multiple (Variable) and Read By Type, once per attribute and PDU
//!   (`config::ATT_READS_PER_PDU_MAX` bounds them, so none is lost).
//! - PDUs a server does not take (responses, notifications, indications,
//!   unknown commands, Signed Write Command) are ignored: no response.

use crate::att::db::{AttPermissions, AttributeDb, AttributeKind, DbError};
use crate::att::pdu::{self, error, AttPdu, DecodeError, Writer};
use crate::bytes::le_u16_at;
use crate::config;
use crate::uuid::Uuid;

/// Another indication is still waiting for its confirmation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Busy;

/// Security of the link, as the host knows it.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct LinkSecurity {
    pub encrypted: bool,
    /// The key was made with MITM protection.
    pub authenticated: bool,
    pub key_size: u8,
    /// The host holds an LTK for this link (pairing made one), so an
    /// unencrypted link can be encrypted without pairing again.
    pub has_ltk: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ServerEvent {
    MtuExchanged {
        mtu: u16,
    },
    Read {
        handle: u16,
    },
    /// A Read or Read Blob Request of a deferred value
    /// ([`AttributeDb::set_deferred_read`]): no response was sent; the
    /// application answers with [`deferred_read_response`].
    ReadRequest {
        handle: u16,
        offset: u16,
    },
    Write {
        handle: u16,
        with_response: bool,
    },
    IndicationConfirmed,
}

#[derive(Clone, Debug, Default)]
pub struct ServerOutcome {
    /// Bytes of the response ATT PDU written to `out` (0: none).
    pub response_len: usize,
    /// What the application hears of; `config::ATT_SERVER_EVENTS_MAX`
    /// holds every event one PDU can cause.
    pub events: heapless::Vec<ServerEvent, { config::ATT_SERVER_EVENTS_MAX }>,
    /// Events that found the list full: never by the bound above, counted
    /// (host stats `att_events_dropped`) so that a wrong bound shows.
    pub dropped: u32,
}

#[derive(Clone, Copy, Debug)]
struct Prepared {
    handle: u16,
    offset: u16,
    /// Where the part sits in the queue's byte store.
    start: u16,
    len: u16,
}

const _: () = assert!(config::ATT_PREPARE_BYTES <= u16::MAX as usize);

/// Per-connection ATT server state.
pub struct AttBearer {
    /// ATT_MTU minus the default 23, so that a new bearer is all zeros
    /// (the core's static in `.bss`, issue 6).
    mtu_above_default: u16,
    mtu_exchanged: bool,
    indication_pending: bool,
    queue: heapless::Vec<Prepared, { config::ATT_PREPARE_QUEUE }>,
    queue_bytes: [u8; config::ATT_PREPARE_BYTES],
    queue_used: usize,
    /// Opcode of the Read or Read Blob Request waiting for the application
    /// (0: none), with its handle and offset. A client has one request
    /// outstanding (Vol 3 Part F 3.3.2), so one is enough.
    deferred_opcode: u8,
    deferred_handle: u16,
    deferred_offset: u16,
}

impl Default for AttBearer {
    fn default() -> Self {
        Self::new()
    }
}

impl AttBearer {
    pub const fn new() -> Self {
        AttBearer {
            mtu_above_default: 0,
            mtu_exchanged: false,
            indication_pending: false,
            queue: heapless::Vec::new(),
            queue_bytes: [0; config::ATT_PREPARE_BYTES],
            queue_used: 0,
            deferred_opcode: 0,
            deferred_handle: 0,
            deferred_offset: 0,
        }
    }

    /// Back to the state of a new connection.
    pub fn reset(&mut self) {
        self.mtu_above_default = 0;
        self.mtu_exchanged = false;
        self.indication_pending = false;
        self.clear_queue();
        self.deferred_opcode = 0;
    }

    /// The handle of the read waiting for the application, if any.
    pub fn deferred_read(&self) -> Option<u16> {
        (self.deferred_opcode != 0).then_some(self.deferred_handle)
    }

    /// The current ATT_MTU.
    pub fn mtu(&self) -> u16 {
        config::ATT_MTU_DEFAULT as u16 + self.mtu_above_default
    }

    /// Sets ATT_MTU after an exchange this side started as a client,
    /// clamped to 23..=ATT_MTU_MAX.
    pub fn set_mtu(&mut self, mtu: u16) {
        let mtu = mtu.clamp(config::ATT_MTU_DEFAULT as u16, config::ATT_MTU_MAX as u16);
        self.mtu_above_default = mtu - config::ATT_MTU_DEFAULT as u16;
        self.mtu_exchanged = true;
    }

    pub fn indication_pending(&self) -> bool {
        self.indication_pending
    }

    /// Marks an indication as sent; only one may be outstanding on a
    /// bearer (Vol 3 Part F 3.4.7.2).
    pub fn begin_indication(&mut self) -> Result<(), Busy> {
        if self.indication_pending {
            return Err(Busy);
        }
        self.indication_pending = true;
        Ok(())
    }

    /// Forgets the outstanding indication (e.g. after the 30 s ATT
    /// transaction timeout, Vol 3 Part F 3.3.3).
    pub fn end_indication(&mut self) {
        self.indication_pending = false;
    }

    /// Prepare Write entries waiting for Execute Write.
    pub fn prepared_writes(&self) -> usize {
        self.queue.len()
    }

    fn clear_queue(&mut self) {
        self.queue.clear();
        self.queue_used = 0;
    }

    fn enqueue(&mut self, handle: u16, offset: u16, value: &[u8]) -> Result<(), ()> {
        let start = self.queue_used;
        let end = start.checked_add(value.len()).ok_or(())?;
        if self.queue.is_full() || end > config::ATT_PREPARE_BYTES {
            return Err(());
        }
        self.queue_bytes
            .get_mut(start..end)
            .ok_or(())?
            .copy_from_slice(value);
        self.queue
            .push(Prepared {
                handle,
                offset,
                start: start as u16,
                len: value.len() as u16,
            })
            .map_err(|_| ())?;
        self.queue_used = end;
        Ok(())
    }
}

/// Checks the permission and security bits for a read or a write.
fn check_access(perms: AttPermissions, sec: LinkSecurity, write: bool) -> Result<(), u8> {
    use AttPermissions as P;
    let (allowed, enc, auth, mitm, authz, not_permitted) = if write {
        (
            P::WRITE,
            P::WRITE_ENCRYPTION,
            P::WRITE_AUTHENTICATION,
            P::WRITE_AUTHENTICATED_MITM,
            P::WRITE_AUTHORIZATION,
            error::WRITE_NOT_PERMITTED,
        )
    } else {
        (
            P::READ,
            P::READ_ENCRYPTION,
            P::READ_AUTHENTICATION,
            P::READ_AUTHENTICATED_MITM,
            P::READ_AUTHORIZATION,
            error::READ_NOT_PERMITTED,
        )
    };
    if !perms.contains(allowed) {
        return Err(not_permitted);
    }
    // Without an LTK the client must pair first: Insufficient
    // Authentication; with one it must encrypt: Insufficient Encryption
    // (Vol 3 Part C 10.3.1.1), see the module doc.
    if perms.intersects(enc | auth | mitm) && !sec.encrypted {
        return Err(if sec.has_ltk {
            error::INSUFFICIENT_ENCRYPTION
        } else {
            error::INSUFFICIENT_AUTHENTICATION
        });
    }
    if perms.contains(mitm) && !sec.authenticated {
        return Err(error::INSUFFICIENT_AUTHENTICATION);
    }
    if perms.contains(authz) {
        return Err(error::INSUFFICIENT_AUTHORIZATION);
    }
    Ok(())
}

/// Readability of `handle` on this link: `Err((handle, code))` to report.
fn check_read(db: &AttributeDb, sec: LinkSecurity, handle: u16) -> Result<AttributeKind, u8> {
    let attr = match db.attribute(handle) {
        Some(a) if handle != 0 => a,
        _ => return Err(error::INVALID_HANDLE),
    };
    check_access(attr.permissions, sec, false)?;
    Ok(attr.kind)
}

fn check_write(db: &AttributeDb, sec: LinkSecurity, handle: u16) -> Result<(), u8> {
    let attr = match db.attribute(handle) {
        Some(a) if handle != 0 => a,
        _ => return Err(error::INVALID_HANDLE),
    };
    check_access(attr.permissions, sec, true)
}

fn db_error_code(e: DbError) -> u8 {
    match e {
        DbError::InvalidOffset => error::INVALID_OFFSET,
        DbError::ValueTooLong | DbError::InvalidLength => error::INVALID_ATTRIBUTE_VALUE_LENGTH,
        DbError::NotWritable => error::WRITE_NOT_PERMITTED,
        DbError::NotFound => error::INVALID_HANDLE,
        _ => error::UNLIKELY_ERROR,
    }
}

fn push_event(o: &mut ServerOutcome, e: ServerEvent) {
    if o.events.push(e).is_err() {
        o.dropped = o.dropped.wrapping_add(1);
    }
}

/// One Read event per attribute and PDU: a Read Multiple that names a
/// handle twice read it once as far as the application can tell, which
/// keeps the events within `config::ATT_READS_PER_PDU_MAX`.
fn emit_read(o: &mut ServerOutcome, kind: AttributeKind, handle: u16) {
    let read = ServerEvent::Read { handle };
    if !kind.is_declaration() && !o.events.contains(&read) {
        push_event(o, read);
    }
}

/// Holds a read of a deferred value for the application; nothing is sent
/// now. A client that sends another request before the answer breaks
/// Vol 3 Part F 3.3.2; the newer request replaces the older one.
fn defer_read(
    bearer: &mut AttBearer,
    opcode: u8,
    handle: u16,
    offset: u16,
    o: &mut ServerOutcome,
) -> usize {
    bearer.deferred_opcode = opcode;
    bearer.deferred_handle = handle;
    bearer.deferred_offset = offset;
    push_event(o, ServerEvent::ReadRequest { handle, offset });
    0
}

/// The application's answer to the read held by [`defer_read`]: `value`
/// is the whole attribute value (a Read Blob Response carries it from the
/// request's offset, Vol 3 Part F 3.4.4.6), or `Err(code)` for an Error
/// Response. Returns the response's length in `out`, or `None` when no
/// read is waiting (the link was reset, or it was answered already).
pub fn deferred_read_response(
    bearer: &mut AttBearer,
    value: Result<&[u8], u8>,
    out: &mut [u8],
) -> Option<usize> {
    let opcode = core::mem::take(&mut bearer.deferred_opcode);
    if opcode == 0 {
        return None;
    }
    let handle = bearer.deferred_handle;
    let limit = out.len().min(usize::from(bearer.mtu()));
    let resp = out.get_mut(..limit)?;
    let offset = if opcode == pdu::ATT_READ_BLOB_REQ {
        usize::from(bearer.deferred_offset)
    } else {
        0
    };
    let part = match value {
        Ok(v) => v.get(offset..).ok_or(error::INVALID_OFFSET),
        Err(code) => Err(code),
    };
    let part = match part {
        Ok(p) => p,
        Err(code) => return Some(pdu::write_error_rsp(opcode, handle, code, resp)),
    };
    let rsp_opcode = if opcode == pdu::ATT_READ_BLOB_REQ {
        pdu::ATT_READ_BLOB_RSP
    } else {
        pdu::ATT_READ_RSP
    };
    // At most ATT_MTU-1 octets (Vol 3 Part F 3.4.4.4, 3.4.4.6).
    let n = part.len().min(limit.saturating_sub(1));
    let mut w = Writer { out: resp, len: 0 };
    w.u8(rsp_opcode)?;
    w.bytes(part.get(..n).unwrap_or(&[]))?;
    Some(w.len)
}

/// A handle range is valid when `0 < start <= end` (Vol 3 Part F 3.4.3.1).
fn valid_range(start: u16, end: u16) -> bool {
    start != 0 && start <= end
}

/// Handles one ATT PDU from the client of connection `conn` (index into
/// the CCCD tables, 0..MAX_CONNECTIONS). `out` receives the response.
pub fn handle_pdu(
    bearer: &mut AttBearer,
    db: &mut AttributeDb,
    conn: usize,
    security: LinkSecurity,
    pdu: &[u8],
    out: &mut [u8],
) -> ServerOutcome {
    let mut o = ServerOutcome::default();
    let limit = out.len().min(usize::from(bearer.mtu()));
    let Some(resp) = out.get_mut(..limit) else {
        return o;
    };
    let opcode = match pdu.first() {
        Some(&op) => op,
        None => return o,
    };
    let request = match AttPdu::decode(pdu) {
        Ok(p) => p,
        Err(e) => {
            if pdu::is_request(opcode) {
                let code = match e {
                    DecodeError::UnknownOpcode(_) => error::REQUEST_NOT_SUPPORTED,
                    _ => error::INVALID_PDU,
                };
                o.response_len = pdu::write_error_rsp(opcode, 0, code, resp);
            }
            return o;
        }
    };
    let result = serve(bearer, db, conn, security, request, resp, &mut o);
    match result {
        Ok(n) => o.response_len = n,
        Err((handle, code)) => {
            o.response_len = pdu::write_error_rsp(opcode, handle, code, resp);
        }
    }
    o
}

type Served = Result<usize, (u16, u8)>;

fn serve(
    bearer: &mut AttBearer,
    db: &mut AttributeDb,
    conn: usize,
    sec: LinkSecurity,
    req: AttPdu<'_>,
    resp: &mut [u8],
    o: &mut ServerOutcome,
) -> Served {
    let mtu = resp.len();
    match req {
        AttPdu::ExchangeMtuReq { client_rx_mtu } => {
            let server = config::ATT_MTU_MAX as u16;
            let n = AttPdu::ExchangeMtuRsp {
                server_rx_mtu: server,
            }
            .encode(resp)
            .unwrap_or(0);
            if !bearer.mtu_exchanged {
                bearer.mtu_exchanged = true;
                bearer.mtu_above_default = client_rx_mtu
                    .min(server)
                    .max(config::ATT_MTU_DEFAULT as u16)
                    - config::ATT_MTU_DEFAULT as u16;
            }
            push_event(o, ServerEvent::MtuExchanged { mtu: bearer.mtu() });
            Ok(n)
        }
        AttPdu::FindInformationReq { start, end } => find_information(db, start, end, resp),
        AttPdu::FindByTypeValueReq {
            start,
            end,
            attribute_type,
            value,
        } => find_by_type_value(db, conn, sec, start, end, attribute_type, value, resp),
        AttPdu::ReadByTypeReq {
            start,
            end,
            attribute_type,
        } => read_by_type(db, conn, sec, start, end, attribute_type, resp, o),
        AttPdu::ReadByGroupTypeReq {
            start,
            end,
            group_type,
        } => read_by_group_type(db, start, end, group_type, resp),
        AttPdu::ReadReq { handle } => {
            let kind = check_read(db, sec, handle).map_err(|e| (handle, e))?;
            if db.is_deferred_read(handle) {
                return Ok(defer_read(bearer, pdu::ATT_READ_REQ, handle, 0, o));
            }
            let value = db.value_for(conn, handle).unwrap_or(&[]);
            let mut w = Writer { out: resp, len: 0 };
            w.u8(pdu::ATT_READ_RSP)
                .ok_or((handle, error::UNLIKELY_ERROR))?;
            // Only the first ATT_MTU-1 octets fit (Vol 3 Part F 3.4.4.4).
            let n = value.len().min(mtu.saturating_sub(1));
            w.bytes(value.get(..n).unwrap_or(&[]))
                .ok_or((handle, error::UNLIKELY_ERROR))?;
            emit_read(o, kind, handle);
            Ok(w.len)
        }
        AttPdu::ReadBlobReq { handle, offset } => {
            let kind = check_read(db, sec, handle).map_err(|e| (handle, e))?;
            if db.is_deferred_read(handle) {
                return Ok(defer_read(
                    bearer,
                    pdu::ATT_READ_BLOB_REQ,
                    handle,
                    offset,
                    o,
                ));
            }
            let value = db.value_for(conn, handle).unwrap_or(&[]);
            let offset = usize::from(offset);
            let fixed = kind.is_declaration() || kind == AttributeKind::Cccd;
            if fixed && offset > 0 {
                return Err((handle, error::ATTRIBUTE_NOT_LONG));
            }
            let part = value.get(offset..).ok_or((handle, error::INVALID_OFFSET))?;
            let n = part.len().min(mtu.saturating_sub(1));
            let mut w = Writer { out: resp, len: 0 };
            w.u8(pdu::ATT_READ_BLOB_RSP)
                .ok_or((handle, error::UNLIKELY_ERROR))?;
            w.bytes(part.get(..n).unwrap_or(&[]))
                .ok_or((handle, error::UNLIKELY_ERROR))?;
            emit_read(o, kind, handle);
            Ok(w.len)
        }
        AttPdu::ReadMultipleReq { handles } | AttPdu::ReadMultipleVariableReq { handles } => {
            let variable = matches!(req, AttPdu::ReadMultipleVariableReq { .. });
            // Every handle must be readable before anything is sent
            // (Vol 3 Part F 3.4.4.7).
            for h in handles.chunks_exact(2) {
                let h = le_u16_at(h, 0).unwrap_or(0);
                check_read(db, sec, h).map_err(|e| (h, e))?;
            }
            let mut w = Writer { out: resp, len: 0 };
            let op = if variable {
                pdu::ATT_READ_MULTIPLE_VARIABLE_RSP
            } else {
                pdu::ATT_READ_MULTIPLE_RSP
            };
            w.u8(op).ok_or((0, error::UNLIKELY_ERROR))?;
            for h in handles.chunks_exact(2) {
                let h = le_u16_at(h, 0).unwrap_or(0);
                let value = db.value_for(conn, h).unwrap_or(&[]);
                if let Some(kind) = db.attribute(h).map(|a| a.kind) {
                    emit_read(o, kind, h);
                }
                if variable {
                    // (Length, Value) tuples; the Length is the whole
                    // value's (Vol 3 Part F 3.4.4.12).
                    let room = mtu.saturating_sub(w.len);
                    let len_bytes = (value.len() as u16).to_le_bytes();
                    let lb = len_bytes.get(..room.min(2)).unwrap_or(&[]);
                    let _ = w.bytes(lb);
                    if room <= 2 {
                        break;
                    }
                }
                // The whole response is cut at ATT_MTU-1 octets of values
                // (Vol 3 Part F 3.4.4.8).
                let room = mtu.saturating_sub(w.len);
                let n = value.len().min(room);
                let _ = w.bytes(value.get(..n).unwrap_or(&[]));
                if n < value.len() {
                    break;
                }
            }
            Ok(w.len)
        }
        AttPdu::WriteReq { handle, value } | AttPdu::WriteCmd { handle, value } => {
            let with_response = matches!(req, AttPdu::WriteReq { .. });
            let r = check_write(db, sec, handle)
                .and_then(|_| db.write(conn, handle, 0, value).map_err(db_error_code));
            match r {
                Ok(()) => {
                    push_event(
                        o,
                        ServerEvent::Write {
                            handle,
                            with_response,
                        },
                    );
                    if with_response {
                        Ok(AttPdu::WriteRsp.encode(resp).unwrap_or(0))
                    } else {
                        Ok(0)
                    }
                }
                // A Write Command never gets a response, not even an
                // error (Vol 3 Part F 3.4.5.3).
                Err(_) if !with_response => Ok(0),
                Err(e) => Err((handle, e)),
            }
        }
        AttPdu::PrepareWriteReq {
            handle,
            offset,
            value,
        } => {
            check_write(db, sec, handle).map_err(|e| (handle, e))?;
            bearer
                .enqueue(handle, offset, value)
                .map_err(|_| (handle, error::PREPARE_QUEUE_FULL))?;
            // The response echoes the request (Vol 3 Part F 3.4.6.2); it is
            // exactly as long as the request, which fitted ATT_MTU.
            Ok(AttPdu::PrepareWriteRsp {
                handle,
                offset,
                value,
            }
            .encode(resp)
            .unwrap_or(0))
        }
        AttPdu::ExecuteWriteReq { flags } => execute_write(bearer, db, conn, flags, resp, o),
        AttPdu::HandleValueCfm => {
            // An unexpected confirmation is ignored.
            if bearer.indication_pending {
                bearer.indication_pending = false;
                push_event(o, ServerEvent::IndicationConfirmed);
            }
            Ok(0)
        }
        // Signed writes need a CSRK we never have: ignored. Responses,
        // notifications and indications are for the client role.
        _ => Ok(0),
    }
}

fn find_information(db: &AttributeDb, start: u16, end: u16, resp: &mut [u8]) -> Served {
    if !valid_range(start, end) {
        return Err((start, error::INVALID_HANDLE));
    }
    let mut w = Writer { out: resp, len: 0 };
    let mut format = 0;
    for a in db.attributes_in(start, end) {
        // 16-bit UUIDs are sent in their short form (Vol 3 Part F 3.2.1).
        let (f, uuid) = match a.uuid.as_u16() {
            Some(u) => (pdu::FORMAT_UUID16, Uuid::Uuid16(u)),
            None => (pdu::FORMAT_UUID128, a.uuid),
        };
        if format == 0 {
            format = f;
            w.u8(pdu::ATT_FIND_INFORMATION_RSP)
                .ok_or((start, error::UNLIKELY_ERROR))?;
            w.u8(f).ok_or((start, error::UNLIKELY_ERROR))?;
        } else if f != format {
            break;
        }
        let rec = 2 + uuid.encoded_len();
        if w.len + rec > w.out.len() {
            break;
        }
        let _ = w.u16(a.handle);
        let _ = w.uuid(&uuid);
    }
    if format == 0 {
        return Err((start, error::ATTRIBUTE_NOT_FOUND));
    }
    Ok(w.len)
}

#[allow(clippy::too_many_arguments)]
fn find_by_type_value(
    db: &AttributeDb,
    conn: usize,
    sec: LinkSecurity,
    start: u16,
    end: u16,
    attribute_type: u16,
    value: &[u8],
    resp: &mut [u8],
) -> Served {
    if !valid_range(start, end) {
        return Err((start, error::INVALID_HANDLE));
    }
    let mut w = Writer { out: resp, len: 0 };
    w.u8(pdu::ATT_FIND_BY_TYPE_VALUE_RSP)
        .ok_or((start, error::UNLIKELY_ERROR))?;
    for a in db.attributes_in(start, end) {
        if a.uuid.as_u16() != Some(attribute_type) {
            continue;
        }
        // Only values this client may read can match.
        if check_access(a.permissions, sec, false).is_err() {
            continue;
        }
        let stored = db.value_for(conn, a.handle).unwrap_or(&[]);
        let matches = stored == value
            || (a.kind.is_service()
                && matches!(
                    (Uuid::from_le_bytes(stored), Uuid::from_le_bytes(value)),
                    (Some(x), Some(y)) if x.same_as(&y)
                ));
        if !matches {
            continue;
        }
        if w.len + 4 > w.out.len() {
            break;
        }
        // Non-grouping attributes end at themselves (Vol 3 Part F 3.4.3.4).
        let group_end = db.service_end(a.handle).unwrap_or(a.handle);
        let _ = w.u16(a.handle);
        let _ = w.u16(group_end);
    }
    if w.len == 1 {
        return Err((start, error::ATTRIBUTE_NOT_FOUND));
    }
    Ok(w.len)
}

#[allow(clippy::too_many_arguments)]
fn read_by_type(
    db: &AttributeDb,
    conn: usize,
    sec: LinkSecurity,
    start: u16,
    end: u16,
    attribute_type: Uuid,
    resp: &mut [u8],
    o: &mut ServerOutcome,
) -> Served {
    if !valid_range(start, end) {
        return Err((start, error::INVALID_HANDLE));
    }
    let mtu = resp.len();
    let mut w = Writer { out: resp, len: 0 };
    // Each value is cut to min(ATT_MTU-4, 253) octets so that the length
    // byte fits (Vol 3 Part F 3.4.4.2).
    let max_value = mtu.saturating_sub(4).min(253);
    let mut record_len = 0usize;
    for a in db.attributes_in(start, end) {
        if !a.uuid.same_as(&attribute_type) {
            continue;
        }
        if let Err(e) = check_access(a.permissions, sec, false) {
            if record_len == 0 {
                // The first match cannot be read: report it (3.4.4.1).
                return Err((a.handle, e));
            }
            break;
        }
        let value = db.value_for(conn, a.handle).unwrap_or(&[]);
        let n = value.len().min(max_value);
        if record_len == 0 {
            record_len = n + 2;
            w.u8(pdu::ATT_READ_BY_TYPE_RSP)
                .ok_or((start, error::UNLIKELY_ERROR))?;
            w.u8(record_len as u8)
                .ok_or((start, error::UNLIKELY_ERROR))?;
        } else if n + 2 != record_len || w.len + record_len > mtu {
            // All records have one length; stop at the first that differs
            // or does not fit.
            break;
        }
        let _ = w.u16(a.handle);
        let _ = w.bytes(value.get(..n).unwrap_or(&[]));
        emit_read(o, a.kind, a.handle);
    }
    if record_len == 0 {
        return Err((start, error::ATTRIBUTE_NOT_FOUND));
    }
    Ok(w.len)
}

fn read_by_group_type(
    db: &AttributeDb,
    start: u16,
    end: u16,
    group_type: Uuid,
    resp: &mut [u8],
) -> Served {
    if !valid_range(start, end) {
        return Err((start, error::INVALID_HANDLE));
    }
    // Only services are grouping attributes here (Vol 3 Part G 2.5.3).
    let kind = match group_type.as_u16() {
        Some(crate::att::db::PRIMARY_SERVICE) => AttributeKind::PrimaryService,
        Some(crate::att::db::SECONDARY_SERVICE) => AttributeKind::SecondaryService,
        _ => return Err((start, error::UNSUPPORTED_GROUP_TYPE)),
    };
    let mtu = resp.len();
    let max_value = mtu.saturating_sub(6).min(251);
    let mut w = Writer { out: resp, len: 0 };
    let mut record_len = 0usize;
    for a in db.attributes_in(start, end) {
        if a.kind != kind {
            continue;
        }
        let value = db.value(a.handle).unwrap_or(&[]);
        let n = value.len().min(max_value);
        if record_len == 0 {
            record_len = n + 4;
            w.u8(pdu::ATT_READ_BY_GROUP_TYPE_RSP)
                .ok_or((start, error::UNLIKELY_ERROR))?;
            w.u8(record_len as u8)
                .ok_or((start, error::UNLIKELY_ERROR))?;
        } else if n + 4 != record_len || w.len + record_len > mtu {
            break;
        }
        let _ = w.u16(a.handle);
        let _ = w.u16(db.service_end(a.handle).unwrap_or(a.handle));
        let _ = w.bytes(value.get(..n).unwrap_or(&[]));
    }
    if record_len == 0 {
        return Err((start, error::ATTRIBUTE_NOT_FOUND));
    }
    Ok(w.len)
}

fn execute_write(
    bearer: &mut AttBearer,
    db: &mut AttributeDb,
    conn: usize,
    flags: u8,
    resp: &mut [u8],
    o: &mut ServerOutcome,
) -> Served {
    match flags {
        pdu::EXECUTE_WRITE_CANCEL => {
            bearer.clear_queue();
            return Ok(AttPdu::ExecuteWriteRsp.encode(resp).unwrap_or(0));
        }
        pdu::EXECUTE_WRITE_IMMEDIATELY => {}
        // Reserved flag values are not a valid request.
        _ => return Err((0, error::INVALID_PDU)),
    }
    // Pass 1: simulate every write in order, tracking each handle's length,
    // so that nothing is written unless everything can be.
    let mut lens: heapless::Vec<(u16, usize), { config::ATT_PREPARE_QUEUE }> = heapless::Vec::new();
    let mut failure = None;
    for p in bearer.queue.iter() {
        let cur = lens.iter().find(|(h, _)| *h == p.handle).map(|(_, l)| *l);
        match db.check_write(
            conn,
            p.handle,
            cur,
            usize::from(p.offset),
            usize::from(p.len),
        ) {
            Ok(new_len) => match lens.iter_mut().find(|(h, _)| *h == p.handle) {
                Some(e) => e.1 = new_len,
                None => {
                    let _ = lens.push((p.handle, new_len));
                }
            },
            Err(e) => {
                failure = Some((p.handle, db_error_code(e)));
                break;
            }
        }
    }
    if let Some(f) = failure {
        bearer.clear_queue();
        return Err(f);
    }
    // Pass 2: apply.
    for p in bearer.queue.iter() {
        let start = usize::from(p.start);
        let data = bearer
            .queue_bytes
            .get(start..start + usize::from(p.len))
            .unwrap_or(&[]);
        let _ = db.write(conn, p.handle, usize::from(p.offset), data);
    }
    for (h, _) in lens.iter() {
        push_event(
            o,
            ServerEvent::Write {
                handle: *h,
                with_response: true,
            },
        );
    }
    bearer.clear_queue();
    Ok(AttPdu::ExecuteWriteRsp.encode(resp).unwrap_or(0))
}

fn write_handle_value(
    indicate: bool,
    handle: u16,
    value: &[u8],
    mtu: u16,
    out: &mut [u8],
) -> usize {
    // At most ATT_MTU-3 octets of value (Vol 3 Part F 3.4.7.1).
    let n = value.len().min(usize::from(mtu).saturating_sub(3));
    let mut w = Writer { out, len: 0 };
    if w.bytes(&handle_value_header(indicate, handle)).is_none() {
        return 0;
    }
    let room = w.out.len().saturating_sub(3);
    let _ = w.bytes(value.get(..n.min(room)).unwrap_or(&[]));
    w.len
}

/// Opcode and handle of a Handle Value Notification, or Indication when
/// `indicate` (Vol 3 Part F 3.4.7.1, 3.4.7.2): the PDU is this and the
/// value, for a caller that has checked the value fits (ATT_MTU-3).
pub fn handle_value_header(indicate: bool, handle: u16) -> [u8; 3] {
    let opcode = if indicate {
        pdu::ATT_HANDLE_VALUE_IND
    } else {
        pdu::ATT_HANDLE_VALUE_NTF
    };
    let [h0, h1] = handle.to_le_bytes();
    [opcode, h0, h1]
}

/// Handle Value Notification (Vol 3 Part F 3.4.7.1), value cut to MTU-3;
/// returns the PDU length (0 if `out` is shorter than 3 bytes).
pub fn write_notification(handle: u16, value: &[u8], mtu: u16, out: &mut [u8]) -> usize {
    write_handle_value(false, handle, value, mtu, out)
}

/// Handle Value Indication (Vol 3 Part F 3.4.7.2), value cut to MTU-3. The
/// caller must hold [`AttBearer::begin_indication`].
pub fn write_indication(handle: u16, value: &[u8], mtu: u16, out: &mut [u8]) -> usize {
    write_handle_value(true, handle, value, mtu, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::att::db::fixture;
    use crate::att::db::AttPermissions as P;
    use std::vec::Vec;

    struct Ctx {
        bearer: AttBearer,
        db: AttributeDb,
        sec: LinkSecurity,
    }

    impl Ctx {
        /// The QuecPython server demo table (default services removed).
        fn demo() -> Ctx {
            let mut db = AttributeDb::new();
            fixture::demo(&mut db);
            Ctx {
                bearer: AttBearer::new(),
                db,
                sec: LinkSecurity::default(),
            }
        }

        /// Service 0x1234 at 1 with one characteristic per permission set:
        /// value handles 3, 5, 7, 9, 11, 13.
        fn security() -> Ctx {
            let mut db = AttributeDb::new();
            fixture::service(&mut db, 0x1234);
            for (uuid, perms) in [
                (0xAAAA, P::WRITE),
                (0xBBBB, P::READ | P::READ_ENCRYPTION),
                (0xCCCC, P::READ | P::READ_AUTHENTICATED_MITM),
                (0xDDDD, P::READ | P::READ_AUTHORIZATION),
                (0xEEEE, P::READ | P::WRITE | P::WRITE_ENCRYPTION),
                (0xFFF0, P::READ),
            ] {
                fixture::characteristic(&mut db, 0x0A, Uuid::Uuid16(uuid), perms, &[0x42], 8);
            }
            Ctx {
                bearer: AttBearer::new(),
                db,
                sec: LinkSecurity::default(),
            }
        }

        fn req(&mut self, pdu: &[u8]) -> (Vec<u8>, Vec<ServerEvent>) {
            let mut out = [0u8; config::ATT_MTU_MAX];
            let o = handle_pdu(&mut self.bearer, &mut self.db, 0, self.sec, pdu, &mut out);
            assert!(o.response_len <= usize::from(self.bearer.mtu()).max(3));
            (out[..o.response_len].to_vec(), o.events.to_vec())
        }

        fn rsp(&mut self, pdu: &[u8]) -> Vec<u8> {
            self.req(pdu).0
        }
    }

    #[test]
    fn handle_value_header_and_the_value_are_the_written_pdu() {
        for indicate in [false, true] {
            let mut out = [0u8; 23];
            let n = if indicate {
                write_indication(0x0203, b"abc", 23, &mut out)
            } else {
                write_notification(0x0203, b"abc", 23, &mut out)
            };
            let header = handle_value_header(indicate, 0x0203);
            assert_eq!([&header[..], b"abc"].concat(), &out[..n]);
        }
    }

    #[test]
    fn exchange_mtu() {
        let mut c = Ctx::demo();
        // Our Server Rx MTU is ATT_MTU_MAX (517 unix, 247 microcontroller).
        let max = config::ATT_MTU_MAX as u16;
        let [lo, hi] = max.to_le_bytes();
        assert_eq!(
            c.req(&[0x02, 0x05, 0x02]),
            (
                vec![0x03, lo, hi],
                vec![ServerEvent::MtuExchanged { mtu: max }]
            )
        );
        assert_eq!(c.bearer.mtu(), max);
        // Only the first exchange counts.
        assert_eq!(
            c.req(&[0x02, 0x40, 0x00]),
            (
                vec![0x03, lo, hi],
                vec![ServerEvent::MtuExchanged { mtu: max }]
            )
        );
        c.bearer.reset();
        // A Client Rx MTU below 23 is answered; ATT_MTU stays 23.
        assert_eq!(c.rsp(&[0x02, 0x10, 0x00]), [0x03, lo, hi]);
        assert_eq!(c.bearer.mtu(), 23);
        c.bearer.reset();
        c.rsp(&[0x02, 0x40, 0x00]);
        assert_eq!(c.bearer.mtu(), 64);
        // Malformed (3 bytes of MTU).
        assert_eq!(
            c.rsp(&[0x02, 0x40, 0x00, 0x00]),
            [0x01, 0x02, 0x00, 0x00, 0x04]
        );
    }

    /// A deferred value (demo table: Battery Level at 3, 244 bytes): the
    /// Read Request gets no response until the application answers, and
    /// the answer is a Read Response (0x0B) cut at ATT_MTU-1; a Read Blob
    /// Request (0x0C) is answered from its offset (Vol 3 Part F 3.4.4.4,
    /// 3.4.4.6); an offset past the end is Invalid Offset (0x07).
    #[test]
    fn a_deferred_read_waits_for_the_application() {
        let mut c = Ctx::demo();
        c.db.set_deferred_read(3, true).unwrap();
        assert_eq!(
            c.req(&[0x0A, 0x03, 0x00]),
            (
                vec![],
                vec![ServerEvent::ReadRequest {
                    handle: 3,
                    offset: 0
                }]
            )
        );
        assert_eq!(c.bearer.deferred_read(), Some(3));
        let mut out = [0u8; 64];
        let n = deferred_read_response(&mut c.bearer, Ok(b"ABC DEF"), &mut out).unwrap();
        assert_eq!(&out[..n], b"\x0BABC DEF");
        // Answered once only.
        assert_eq!(
            deferred_read_response(&mut c.bearer, Ok(b"x"), &mut out),
            None
        );
        // A value longer than ATT_MTU-1 (23-1) is cut.
        c.req(&[0x0A, 0x03, 0x00]);
        let n = deferred_read_response(&mut c.bearer, Ok(&[7u8; 40]), &mut out).unwrap();
        assert_eq!(n, 23);
        // Read Blob at offset 22 of the application's value.
        assert_eq!(
            c.req(&[0x0C, 0x03, 0x00, 22, 0x00]).1,
            vec![ServerEvent::ReadRequest {
                handle: 3,
                offset: 22
            }]
        );
        let n = deferred_read_response(&mut c.bearer, Ok(&[7u8; 40]), &mut out).unwrap();
        assert_eq!(&out[..n], &[&[0x0D][..], &[7u8; 18]].concat()[..]);
        c.req(&[0x0C, 0x03, 0x00, 41, 0x00]);
        let n = deferred_read_response(&mut c.bearer, Ok(&[7u8; 40]), &mut out).unwrap();
        assert_eq!(&out[..n], [0x01, 0x0C, 0x03, 0x00, 0x07]);
        // An application error becomes an Error Response.
        c.req(&[0x0A, 0x03, 0x00]);
        let n = deferred_read_response(&mut c.bearer, Err(0x0E), &mut out).unwrap();
        assert_eq!(&out[..n], [0x01, 0x0A, 0x03, 0x00, 0x0E]);
        // Permissions are checked before anything is deferred, and a reset
        // link forgets the read.
        c.db.set_deferred_read(3, false).unwrap();
        assert_eq!(c.rsp(&[0x0A, 0x03, 0x00]).len(), 23);
        c.db.set_deferred_read(3, true).unwrap();
        c.req(&[0x0A, 0x03, 0x00]);
        c.bearer.reset();
        assert_eq!(
            deferred_read_response(&mut c.bearer, Ok(b"x"), &mut out),
            None
        );
        // Declarations and CCCDs are never deferred.
        assert!(c.db.set_deferred_read(2, true).is_err());
        assert!(c.db.set_deferred_read(4, true).is_err());
    }

    #[test]
    fn find_information() {
        let mut c = Ctx::demo();
        assert_eq!(
            c.rsp(&[0x04, 0x01, 0x00, 0xFF, 0xFF]),
            [
                0x05, 0x01, 0x01, 0x00, 0x00, 0x28, 0x02, 0x00, 0x03, 0x28, 0x03, 0x00, 0x19, 0x2A,
                0x04, 0x00, 0x02, 0x29
            ]
        );
        assert_eq!(
            c.rsp(&[0x04, 0x04, 0x00, 0x04, 0x00]),
            [0x05, 0x01, 0x04, 0x00, 0x02, 0x29]
        );
        // Handle 0, reversed range, empty range.
        assert_eq!(
            c.rsp(&[0x04, 0x00, 0x00, 0xFF, 0xFF]),
            [0x01, 0x04, 0x00, 0x00, 0x01]
        );
        assert_eq!(
            c.rsp(&[0x04, 0x05, 0x00, 0x01, 0x00]),
            [0x01, 0x04, 0x05, 0x00, 0x01]
        );
        assert_eq!(
            c.rsp(&[0x04, 0x05, 0x00, 0xFF, 0xFF]),
            [0x01, 0x04, 0x05, 0x00, 0x0A]
        );
        assert_eq!(c.rsp(&[0x04, 0x05, 0x00]), [0x01, 0x04, 0x00, 0x00, 0x04]);
        // A 128-bit UUID ends a 16-bit list and gets its own format.
        let u = [0x10u8; 16];
        fixture::characteristic(&mut c.db, 0x02, Uuid::Uuid128(u), P::READ, &[], 1);
        let r = c.rsp(&[0x04, 0x04, 0x00, 0xFF, 0xFF]);
        assert_eq!(
            r,
            [0x05, 0x01, 0x04, 0x00, 0x02, 0x29, 0x05, 0x00, 0x03, 0x28]
        );
        let r = c.rsp(&[0x04, 0x06, 0x00, 0xFF, 0xFF]);
        let mut want = vec![0x05, 0x02, 0x06, 0x00];
        want.extend_from_slice(&u);
        assert_eq!(r, want);
    }

    #[test]
    fn find_by_type_value() {
        let mut c = Ctx::demo();
        let r = c.rsp(&[0x06, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x28, 0x0F, 0x18]);
        assert_eq!(r, [0x07, 0x01, 0x00, 0x04, 0x00]);
        // 128-bit form of the same UUID also matches.
        let mut req = vec![0x06, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x28];
        req.extend_from_slice(&Uuid::Uuid16(0x180F).to_128_le());
        assert_eq!(c.rsp(&req), [0x07, 0x01, 0x00, 0x04, 0x00]);
        assert_eq!(
            c.rsp(&[0x06, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x28, 0x00, 0x18]),
            [0x01, 0x06, 0x01, 0x00, 0x0A]
        );
        assert_eq!(
            c.rsp(&[0x06, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x28, 0x0F, 0x18]),
            [0x01, 0x06, 0x00, 0x00, 0x01]
        );
        // A non-grouping attribute ends at itself.
        assert_eq!(
            c.rsp(&[0x06, 0x01, 0x00, 0xFF, 0xFF, 0x02, 0x29, 0x00, 0x00]),
            [0x07, 0x04, 0x00, 0x04, 0x00]
        );
    }

    #[test]
    fn read_by_type() {
        let mut c = Ctx::demo();
        assert_eq!(
            c.req(&[0x08, 0x01, 0x00, 0xFF, 0xFF, 0x03, 0x28]),
            (
                vec![0x09, 0x07, 0x02, 0x00, 0x32, 0x03, 0x00, 0x19, 0x2A],
                vec![]
            )
        );
        // The 244-byte value is cut to ATT_MTU-4 = 19 octets.
        let (r, ev) = c.req(&[0x08, 0x01, 0x00, 0xFF, 0xFF, 0x19, 0x2A]);
        let mut want = vec![0x09, 21, 0x03, 0x00];
        want.extend_from_slice(&[0; 19]);
        assert_eq!(r, want);
        assert_eq!(ev, [ServerEvent::Read { handle: 3 }]);
        assert_eq!(
            c.rsp(&[0x08, 0x01, 0x00, 0xFF, 0xFF, 0x01, 0x2A]),
            [0x01, 0x08, 0x01, 0x00, 0x0A]
        );
        assert_eq!(
            c.rsp(&[0x08, 0x03, 0x00, 0x02, 0x00, 0x03, 0x28]),
            [0x01, 0x08, 0x03, 0x00, 0x01]
        );
        let mut s = Ctx::security();
        // Several declarations fit at MTU 23: 3 records of 7 octets.
        assert_eq!(
            s.rsp(&[0x08, 0x01, 0x00, 0xFF, 0xFF, 0x03, 0x28]).len(),
            2 + 3 * 7
        );
        // The first match unreadable: error with its handle.
        assert_eq!(
            s.rsp(&[0x08, 0x01, 0x00, 0xFF, 0xFF, 0xAA, 0xAA]),
            [0x01, 0x08, 0x03, 0x00, 0x02]
        );
        assert_eq!(
            s.rsp(&[0x08, 0x01, 0x00, 0xFF, 0xFF, 0xBB, 0xBB]),
            [0x01, 0x08, 0x05, 0x00, 0x05]
        );
    }

    #[test]
    fn read_by_group_type() {
        let mut c = Ctx::demo();
        assert_eq!(
            c.rsp(&[0x10, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x28]),
            [0x11, 0x06, 0x01, 0x00, 0x04, 0x00, 0x0F, 0x18]
        );
        assert_eq!(
            c.rsp(&[0x10, 0x05, 0x00, 0xFF, 0xFF, 0x00, 0x28]),
            [0x01, 0x10, 0x05, 0x00, 0x0A]
        );
        assert_eq!(
            c.rsp(&[0x10, 0x01, 0x00, 0xFF, 0xFF, 0x01, 0x28]),
            [0x01, 0x10, 0x01, 0x00, 0x0A]
        );
        assert_eq!(
            c.rsp(&[0x10, 0x01, 0x00, 0xFF, 0xFF, 0x03, 0x28]),
            [0x01, 0x10, 0x01, 0x00, 0x10]
        );
        assert_eq!(
            c.rsp(&[0x10, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x28]),
            [0x01, 0x10, 0x00, 0x00, 0x01]
        );
        // With GAP/GATT kept: three services, user one at 16..19.
        let mut g = Ctx::demo();
        g.db.clear();
        fixture::service(&mut g.db, 0x1800);
        for uuid in [0x2A00, 0x2A01, 0x2A04] {
            fixture::characteristic(&mut g.db, 0x02, Uuid::Uuid16(uuid), P::READ, &[0], 1);
        }
        fixture::service(&mut g.db, 0x1801);
        fixture::characteristic(
            &mut g.db,
            0x20,
            Uuid::Uuid16(0x2A05),
            P::empty(),
            &[0; 4],
            4,
        );
        fixture::cccd(&mut g.db, P::READ | P::WRITE);
        g.db.set_next_handle(16).unwrap();
        fixture::demo(&mut g.db);
        assert_eq!(
            g.rsp(&[0x10, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x28]),
            [
                0x11, 0x06, 0x01, 0x00, 0x07, 0x00, 0x00, 0x18, 0x08, 0x00, 0x0B, 0x00, 0x01, 0x18,
                0x10, 0x00, 0x13, 0x00, 0x0F, 0x18
            ]
        );
    }

    #[test]
    fn read_and_errors() {
        let mut c = Ctx::demo();
        let (r, ev) = c.req(&[0x0A, 0x03, 0x00]);
        assert_eq!(r.len(), 23); // 244 bytes cut to ATT_MTU-1
        assert_eq!(r[0], 0x0B);
        assert_eq!(ev, [ServerEvent::Read { handle: 3 }]);
        assert_eq!(c.req(&[0x0A, 0x01, 0x00]), (vec![0x0B, 0x0F, 0x18], vec![]));
        assert_eq!(c.rsp(&[0x0A, 0x00, 0x00]), [0x01, 0x0A, 0x00, 0x00, 0x01]);
        assert_eq!(c.rsp(&[0x0A, 0x63, 0x00]), [0x01, 0x0A, 0x63, 0x00, 0x01]);
        assert_eq!(c.rsp(&[0x0A, 0x63]), [0x01, 0x0A, 0x00, 0x00, 0x04]);

        let mut s = Ctx::security();
        assert_eq!(s.rsp(&[0x0A, 0x03, 0x00]), [0x01, 0x0A, 0x03, 0x00, 0x02]);
        assert_eq!(s.rsp(&[0x0A, 0x05, 0x00]), [0x01, 0x0A, 0x05, 0x00, 0x05]);
        assert_eq!(s.rsp(&[0x0A, 0x07, 0x00]), [0x01, 0x0A, 0x07, 0x00, 0x05]);
        assert_eq!(s.rsp(&[0x0A, 0x09, 0x00]), [0x01, 0x0A, 0x09, 0x00, 0x08]);
        assert_eq!(s.rsp(&[0x0A, 0x0D, 0x00]), [0x0B, 0x42]);
        // An LTK but no encryption yet: encrypt, do not pair again.
        s.sec.has_ltk = true;
        assert_eq!(s.rsp(&[0x0A, 0x05, 0x00]), [0x01, 0x0A, 0x05, 0x00, 0x0F]);
        assert_eq!(s.rsp(&[0x0A, 0x07, 0x00]), [0x01, 0x0A, 0x07, 0x00, 0x0F]);
        s.sec = LinkSecurity {
            encrypted: true,
            authenticated: false,
            key_size: 16,
            has_ltk: true,
        };
        assert_eq!(s.rsp(&[0x0A, 0x05, 0x00]), [0x0B, 0x42]);
        assert_eq!(s.rsp(&[0x0A, 0x07, 0x00]), [0x01, 0x0A, 0x07, 0x00, 0x05]);
        s.sec.authenticated = true;
        assert_eq!(s.rsp(&[0x0A, 0x07, 0x00]), [0x0B, 0x42]);
        assert_eq!(s.rsp(&[0x0A, 0x09, 0x00]), [0x01, 0x0A, 0x09, 0x00, 0x08]);
    }

    #[test]
    fn read_blob_reassembles_long_value() {
        let mut c = Ctx::demo();
        let pattern: Vec<u8> = (0..244u32).map(|i| (i * 7 + 1) as u8).collect();
        c.db.set_value(3, &pattern).unwrap();
        // As a client does: Read, then Read Blob from where it stopped.
        let first = c.rsp(&[0x0A, 0x03, 0x00]);
        let mut got = first[1..].to_vec();
        assert_eq!(got.len(), 22);
        loop {
            let off = got.len() as u16;
            let mut req = vec![0x0C, 0x03, 0x00];
            req.extend_from_slice(&off.to_le_bytes());
            let (r, ev) = c.req(&req);
            assert_eq!(r[0], 0x0D);
            assert!(r.len() <= 23);
            assert_eq!(ev, [ServerEvent::Read { handle: 3 }]);
            got.extend_from_slice(&r[1..]);
            if r.len() < 23 {
                break;
            }
        }
        assert_eq!(got, pattern);
        // Offset == length: empty; beyond: Invalid Offset.
        assert_eq!(c.rsp(&[0x0C, 0x03, 0x00, 0xF4, 0x00]), [0x0D]);
        assert_eq!(
            c.rsp(&[0x0C, 0x03, 0x00, 0xF5, 0x00]),
            [0x01, 0x0C, 0x03, 0x00, 0x07]
        );
        // Fixed-length attributes are not long.
        assert_eq!(
            c.rsp(&[0x0C, 0x02, 0x00, 0x01, 0x00]),
            [0x01, 0x0C, 0x02, 0x00, 0x0B]
        );
        assert_eq!(
            c.rsp(&[0x0C, 0x04, 0x00, 0x01, 0x00]),
            [0x01, 0x0C, 0x04, 0x00, 0x0B]
        );
        assert_eq!(c.rsp(&[0x0C, 0x04, 0x00, 0x00, 0x00]), [0x0D, 0x00, 0x00]);
        assert_eq!(
            c.rsp(&[0x0C, 0x09, 0x00, 0x00, 0x00]),
            [0x01, 0x0C, 0x09, 0x00, 0x01]
        );
        let mut s = Ctx::security();
        assert_eq!(
            s.rsp(&[0x0C, 0x03, 0x00, 0x00, 0x00]),
            [0x01, 0x0C, 0x03, 0x00, 0x02]
        );
    }

    #[test]
    fn read_multiple() {
        let mut c = Ctx::demo();
        let (r, ev) = c.req(&[0x0E, 0x01, 0x00, 0x04, 0x00]);
        assert_eq!(r, [0x0F, 0x0F, 0x18, 0x00, 0x00]);
        assert_eq!(ev, [ServerEvent::Read { handle: 4 }]);
        // Cut at ATT_MTU-1 octets of values.
        let r = c.rsp(&[0x0E, 0x01, 0x00, 0x03, 0x00, 0x04, 0x00]);
        assert_eq!(r.len(), 23);
        assert_eq!(&r[..3], [0x0F, 0x0F, 0x18]);
        assert_eq!(
            c.rsp(&[0x0E, 0x01, 0x00, 0x63, 0x00]),
            [0x01, 0x0E, 0x63, 0x00, 0x01]
        );
        assert_eq!(c.rsp(&[0x0E, 0x01, 0x00]), [0x01, 0x0E, 0x00, 0x00, 0x04]);
        // Read Multiple Variable: (length, value) tuples.
        assert_eq!(
            c.rsp(&[0x20, 0x01, 0x00, 0x04, 0x00]),
            [0x21, 0x02, 0x00, 0x0F, 0x18, 0x02, 0x00, 0x00, 0x00]
        );
        // Cut at ATT_MTU-1 octets; the Length stays the full length (244).
        let r = c.rsp(&[0x20, 0x01, 0x00, 0x03, 0x00]);
        assert_eq!(r.len(), 23);
        assert_eq!(&r[..7], [0x21, 0x02, 0x00, 0x0F, 0x18, 0xF4, 0x00]);
        assert!(AttPdu::decode(&r).is_ok());
        let mut s = Ctx::security();
        assert_eq!(
            s.rsp(&[0x0E, 0x0D, 0x00, 0x03, 0x00]),
            [0x01, 0x0E, 0x03, 0x00, 0x02]
        );
    }

    /// Every attribute one request reads is reported, as many as the
    /// table holds: Read Multiple and Read By Type can name far more than
    /// the old 16-entry event list (issue 6, section 2.2).
    #[test]
    fn every_attribute_a_request_reads_is_reported() {
        let n = ((config::GATT_MAX_ATTRIBUTES - 1) / 2).min(30);
        let mut db = AttributeDb::new();
        fixture::service(&mut db, 0x1234);
        let mut values = Vec::new();
        for _ in 0..n {
            let h = fixture::characteristic(&mut db, 0x02, Uuid::Uuid16(0xFFF0), P::READ, &[7], 1);
            values.push(h);
        }
        let mut c = Ctx {
            bearer: AttBearer::new(),
            db,
            sec: LinkSecurity::default(),
        };
        c.req(&[0x02, 0xFF, 0x01]);
        let want: Vec<_> = values
            .iter()
            .map(|&handle| ServerEvent::Read { handle })
            .collect();
        let mut req = vec![0x0E];
        for h in &values {
            req.extend_from_slice(&h.to_le_bytes());
        }
        // A handle named twice is one read for the application.
        req.extend_from_slice(&values[0].to_le_bytes());
        let (r, ev) = c.req(&req);
        assert_eq!(r.len(), 1 + n + 1, "every value, the repeated one twice");
        assert_eq!(ev, want, "Read Multiple");
        let (r, ev) = c.req(&[0x08, 0x01, 0x00, 0xFF, 0xFF, 0xF0, 0xFF]);
        assert_eq!(r.len(), 2 + 3 * n);
        assert_eq!(ev, want, "Read By Type");
    }

    #[test]
    fn writes() {
        let mut c = Ctx::demo();
        // CCCD write: per connection, reported as a Write event.
        assert_eq!(
            c.req(&[0x12, 0x04, 0x00, 0x01, 0x00]),
            (
                vec![0x13],
                vec![ServerEvent::Write {
                    handle: 4,
                    with_response: true
                }]
            )
        );
        assert_eq!(c.db.cccd(0, 4), 0x0001);
        assert_eq!(c.db.cccd(1, 4), 0x0000);
        assert_eq!(
            c.rsp(&[0x12, 0x04, 0x00, 0x01]),
            [0x01, 0x12, 0x04, 0x00, 0x0D]
        );
        assert_eq!(
            c.rsp(&[0x12, 0x04, 0x00, 0x01, 0, 0]),
            [0x01, 0x12, 0x04, 0x00, 0x0D]
        );
        // Value write replaces the value.
        assert_eq!(c.rsp(&[0x12, 0x03, 0x00, 0x05, 0x06]), [0x13]);
        assert_eq!(c.db.value(3), Some(&[5u8, 6][..]));
        // Declarations and unknown handles.
        assert_eq!(
            c.rsp(&[0x12, 0x02, 0x00, 0x00]),
            [0x01, 0x12, 0x02, 0x00, 0x03]
        );
        assert_eq!(
            c.rsp(&[0x12, 0x00, 0x00, 0x00]),
            [0x01, 0x12, 0x00, 0x00, 0x01]
        );
        assert_eq!(c.rsp(&[0x12, 0x00]), [0x01, 0x12, 0x00, 0x00, 0x04]);
        // Longer than the maximum length (needs a bigger MTU to carry).
        c.rsp(&[0x02, 0x05, 0x02]);
        let mut req = vec![0x12, 0x03, 0x00];
        req.extend_from_slice(&[0xAB; 245]);
        assert_eq!(c.rsp(&req), [0x01, 0x12, 0x03, 0x00, 0x0D]);
        req.pop();
        assert_eq!(c.rsp(&req), [0x13]);
        assert_eq!(c.db.value(3).map(|v| v.len()), Some(244));

        let mut s = Ctx::security();
        assert_eq!(
            s.rsp(&[0x12, 0x0D, 0x00, 0x01]),
            [0x01, 0x12, 0x0D, 0x00, 0x03]
        );
        assert_eq!(
            s.rsp(&[0x12, 0x0B, 0x00, 0x01]),
            [0x01, 0x12, 0x0B, 0x00, 0x05]
        );
        s.sec.encrypted = true;
        assert_eq!(s.rsp(&[0x12, 0x0B, 0x00, 0x01]), [0x13]);
        assert_eq!(s.rsp(&[0x12, 0x03, 0x00, 0x07]), [0x13]);
    }

    #[test]
    fn write_command_never_answers() {
        let mut c = Ctx::demo();
        assert_eq!(
            c.req(&[0x52, 0x03, 0x00, 0x09]),
            (
                vec![],
                vec![ServerEvent::Write {
                    handle: 3,
                    with_response: false
                }]
            )
        );
        assert_eq!(c.db.value(3), Some(&[9u8][..]));
        // Errors are silent too.
        assert_eq!(c.req(&[0x52, 0x02, 0x00, 0x09]), (vec![], vec![]));
        assert_eq!(c.req(&[0x52, 0x63, 0x00, 0x09]), (vec![], vec![]));
        assert_eq!(c.req(&[0x52, 0x04, 0x00, 0x09]), (vec![], vec![]));
        assert_eq!(c.req(&[0x52]), (vec![], vec![]));
        // Signed Write Command: ignored, value untouched.
        let mut sw = vec![0xD2, 0x03, 0x00, 0x01];
        sw.extend_from_slice(&[0; 12]);
        assert_eq!(c.req(&sw), (vec![], vec![]));
        assert_eq!(c.db.value(3), Some(&[9u8][..]));
    }

    #[test]
    fn unknown_and_unexpected_pdus() {
        let mut c = Ctx::demo();
        assert_eq!(c.rsp(&[0x3F, 0x01]), [0x01, 0x3F, 0x00, 0x00, 0x06]);
        assert_eq!(c.rsp(&[0x7F, 0x01]), []);
        assert_eq!(c.rsp(&[0xFF]), []);
        assert_eq!(c.rsp(&[]), []);
        // Client-role PDUs are not for the server.
        assert_eq!(c.rsp(&[0x1B, 0x03, 0x00, 0x01]), []);
        assert_eq!(c.rsp(&[0x1D, 0x03, 0x00, 0x01]), []);
        assert_eq!(c.rsp(&[0x0B, 0x01]), []);
        assert_eq!(c.rsp(&[0x01, 0x0A, 0x01, 0x00, 0x0A]), []);
        // The response fits a small `out` or is not sent.
        let mut small = [0u8; 4];
        let o = handle_pdu(
            &mut c.bearer,
            &mut c.db,
            0,
            c.sec,
            &[0x0A, 0, 0],
            &mut small,
        );
        assert_eq!(o.response_len, 0);
    }

    fn prepare(c: &mut Ctx, handle: u16, offset: u16, value: &[u8]) -> Vec<u8> {
        let mut req = vec![0x16];
        req.extend_from_slice(&handle.to_le_bytes());
        req.extend_from_slice(&offset.to_le_bytes());
        req.extend_from_slice(value);
        c.rsp(&req)
    }

    #[test]
    fn queued_writes() {
        let mut c = Ctx::demo();
        let a: Vec<u8> = (0..18).collect();
        let b: Vec<u8> = (18..36).collect();
        let r = prepare(&mut c, 3, 0, &a);
        assert_eq!(r[..5], [0x17, 0x03, 0x00, 0x00, 0x00]);
        assert_eq!(&r[5..], &a[..]);
        prepare(&mut c, 3, 18, &b);
        assert_eq!(prepare(&mut c, 4, 0, &[0x02, 0x00]).len(), 7);
        assert_eq!(c.bearer.prepared_writes(), 3);
        let (r, ev) = c.req(&[0x18, 0x01]);
        assert_eq!(r, [0x19]);
        assert_eq!(
            ev,
            [
                ServerEvent::Write {
                    handle: 3,
                    with_response: true
                },
                ServerEvent::Write {
                    handle: 4,
                    with_response: true
                }
            ]
        );
        let want: Vec<u8> = (0..36).collect();
        assert_eq!(c.db.value(3), Some(&want[..]));
        assert_eq!(c.db.cccd(0, 4), 2);
        assert_eq!(c.bearer.prepared_writes(), 0);

        // Cancel leaves the value alone.
        prepare(&mut c, 3, 0, &[1, 2, 3]);
        assert_eq!(c.req(&[0x18, 0x00]), (vec![0x19], vec![]));
        assert_eq!(c.db.value(3), Some(&want[..]));
        // Nothing queued: still an Execute Write Response.
        assert_eq!(c.req(&[0x18, 0x01]), (vec![0x19], vec![]));
        // Reserved flags.
        assert_eq!(c.rsp(&[0x18, 0x02]), [0x01, 0x18, 0x00, 0x00, 0x04]);

        // Offset past the value, checked at execute; nothing is written.
        prepare(&mut c, 3, 0, &[9; 4]);
        prepare(&mut c, 3, 10, &[9; 4]);
        assert_eq!(c.rsp(&[0x18, 0x01]), [0x01, 0x18, 0x03, 0x00, 0x07]);
        assert_eq!(c.db.value(3), Some(&want[..]));
        assert_eq!(c.bearer.prepared_writes(), 0);

        // Too long at execute: Invalid Attribute Value Length with handle
        // (14 parts of 18 bytes need the unix prepare queue).
        if config::ATT_PREPARE_QUEUE >= 14 {
            for i in 0..14u16 {
                assert_eq!(prepare(&mut c, 3, i * 18, &[7; 18]).len(), 23);
            }
            assert_eq!(c.rsp(&[0x18, 0x01]), [0x01, 0x18, 0x03, 0x00, 0x0D]);
        }
        // A CCCD part of the wrong size.
        prepare(&mut c, 4, 0, &[1]);
        assert_eq!(c.rsp(&[0x18, 0x01]), [0x01, 0x18, 0x04, 0x00, 0x0D]);

        // Permissions and handles are checked at prepare time.
        assert_eq!(prepare(&mut c, 2, 0, &[1]), [0x01, 0x16, 0x02, 0x00, 0x03]);
        assert_eq!(
            prepare(&mut c, 0x63, 0, &[1]),
            [0x01, 0x16, 0x63, 0x00, 0x01]
        );
        assert_eq!(
            c.rsp(&[0x16, 0x03, 0x00, 0x00]),
            [0x01, 0x16, 0x00, 0x00, 0x04]
        );

        // Queue full after ATT_PREPARE_QUEUE entries.
        for i in 0..config::ATT_PREPARE_QUEUE as u16 {
            assert_eq!(prepare(&mut c, 3, i, &[1])[0], 0x17);
        }
        assert_eq!(prepare(&mut c, 3, 99, &[1]), [0x01, 0x16, 0x03, 0x00, 0x09]);
        c.bearer.reset();
        // And after ATT_PREPARE_BYTES bytes (parts as long as ATT_MTU_MAX
        // allows, fewer than ATT_PREPARE_QUEUE of them).
        let [lo, hi] = (config::ATT_MTU_MAX as u16).to_le_bytes();
        c.rsp(&[0x02, lo, hi]);
        let part = config::ATT_MTU_MAX - 5;
        let fit = config::ATT_PREPARE_BYTES / part;
        assert!(fit < config::ATT_PREPARE_QUEUE);
        let big = [0u8; config::ATT_MTU_MAX - 5];
        for i in 0..fit {
            assert_eq!(prepare(&mut c, 3, (i * part) as u16, &big)[0], 0x17);
        }
        assert_eq!(
            prepare(&mut c, 3, (fit * part) as u16, &big),
            [0x01, 0x16, 0x03, 0x00, 0x09]
        );
    }

    #[test]
    fn indications_and_notifications() {
        let mut c = Ctx::demo();
        assert_eq!(c.req(&[0x1E]), (vec![], vec![]));
        assert_eq!(c.bearer.begin_indication(), Ok(()));
        assert!(c.bearer.indication_pending());
        assert_eq!(c.bearer.begin_indication(), Err(Busy));
        assert_eq!(
            c.req(&[0x1E]),
            (vec![], vec![ServerEvent::IndicationConfirmed])
        );
        assert!(!c.bearer.indication_pending());
        assert_eq!(c.req(&[0x1E]), (vec![], vec![]));
        assert_eq!(c.rsp(&[0x1E, 0x00]), []);

        let mut out = [0u8; 64];
        let n = write_notification(3, b"99999", 23, &mut out);
        assert_eq!(&out[..n], [0x1B, 0x03, 0x00, 0x39, 0x39, 0x39, 0x39, 0x39]);
        let n = write_indication(3, &[0xEE; 40], 23, &mut out);
        assert_eq!(n, 23);
        assert_eq!(&out[..3], [0x1D, 0x03, 0x00]);
        assert_eq!(write_notification(3, &[1; 40], 23, &mut out[..10]), 10);
        assert_eq!(write_notification(3, &[1], 23, &mut out[..2]), 0);
    }
}
