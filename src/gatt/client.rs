//! The GATT client: sans-IO procedures over ATT (Core spec Vol 3 Part G 4,
//! over Vol 3 Part F), one [`GattClient`] per link.
//!
//! The host starts a procedure (it gets the first request PDU in `out`),
//! hands every PDU from the peer's *server* role to [`GattClient::on_pdu`]
//! ([`is_for_client`] tells which PDUs those are), sends whatever request or
//! confirmation that writes back, and calls [`GattClient::on_timeout`] when
//! a request has gone unanswered for 30 s (Vol 3 Part F 3.3.3).
//!
//! Only one request is outstanding at a time (Vol 3 Part F 3.3.2), so only
//! one procedure runs at a time. Decisions the spec leaves to us:
//!
//! - **Events per step.** One response can both carry results and end its
//!   procedure, so [`ClientStep::events`] holds up to two events, always in
//!   the order `Results` then `Done`. The host drains them all. `Results`
//!   refers to the raw PDU passed to `on_pdu` (opcode first); records are
//!   never split or copied.
//! - **Done codes.** `att_error` 0 is success, including natural ends (the
//!   range is covered, a long read got a short part); `handle` is then 0.
//!   An Error Response ends a procedure with its Error Code and Attribute
//!   Handle In Error; discoveries thus normally end with Attribute Not
//!   Found (0x0A) and the handle the server gave. Problems found by the
//!   client itself use two codes:
//!   - [`ERROR_INVALID_RESPONSE`] (0x0E, Unlikely Error): a malformed
//!     response (bad length, record size, UUID format), handles outside the
//!     requested range or not advancing (which would loop forever), or a
//!     Prepare Write Response that does not echo the request.
//!   - [`ERROR_TIMEOUT`] (0xFF): [`GattClient::on_timeout`]. The host knows
//!     a timeout anyway (it called `on_timeout`); 0xFF just keeps it apart
//!     from anything a GATT discovery server sends.
//! - **Exchange MTU** ends with `MtuExchanged { mtu }` (no `Done`) on
//!   success, ATT_MTU = max(23, min(ours, server's)) (Vol 3 Part F
//!   3.4.2.2); an Error Response ends it with `Done { code }` and ATT_MTU
//!   is unchanged. The client sends it at most once per connection
//!   (Vol 3 Part F 3.4.2.1), a second call is `InvalidArgument`.
//! - **Long reads** (Vol 3 Part G 4.8.3): a Read (offset 0) or Read Blob
//!   Request, then Read Blob Requests while a part is full (ATT_MTU-1
//!   octets). Each part is one `Results`; nothing is accumulated. After the
//!   first part, Attribute Not Long (0x0B) or Invalid Offset (0x07) mean
//!   "nothing more" and end it with success, as Bumble does. No attribute
//!   is longer than 512 octets (Vol 3 Part F 3.2.9), so reaching offset 512
//!   ends it too: a server cannot keep the client reading forever.
//! - **Long writes** (Vol 3 Part G 4.9.4): the value (up to 512 octets) is
//!   copied into the client and sent as Prepare Write Requests of ATT_MTU-5
//!   octets, then Execute Write (flags 0x01). Each Prepare Write Response
//!   must echo handle, offset and value (4.9.4, "reliable"); if one does
//!   not, or the server answers a Prepare Write with an Error Response, the
//!   client cancels the server's queue with Execute Write (flags 0x00) and,
//!   once that is answered, ends with `Done { ERROR_INVALID_RESPONSE }` or
//!   the server's code respectively.
//! - **Find Included Services** reports the records as received: for an
//!   included service with a 128-bit UUID the UUID is absent (record length
//!   6) and it is the host's business to read it (4.5.1).
//! - **Timeout.** After `on_timeout` no more requests or commands may be
//!   sent on this bearer (Vol 3 Part F 3.3.3): starting anything returns
//!   `TimedOut` until `reset` (the host drops the link). Confirmations of
//!   indications are still written.
//! - **Ignored PDUs** (counted by [`GattClient::unexpected`]): responses when
//!   nothing is outstanding or whose opcode does not match the request,
//!   malformed notifications and indications, and Multiple Handle Value
//!   Notifications (we never enable them, Vol 3 Part G 7.2).

use crate::att::pdu::{self, error, AttPdu};
use crate::config;
use crate::uuid::Uuid;

/// `Done` code for a response the client rejects (malformed, out of range,
/// not advancing, wrong Prepare Write echo): Unlikely Error.
pub const ERROR_INVALID_RESPONSE: u8 = error::UNLIKELY_ERROR;
/// `Done` code for a request unanswered for 30 s (Vol 3 Part F 3.3.3).
pub const ERROR_TIMEOUT: u8 = 0xFF;

/// GATT attribute types (Assigned Numbers 3.5, Vol 3 Part G 3).
const PRIMARY_SERVICE: u16 = 0x2800;
const INCLUDE: u16 = 0x2802;
const CHARACTERISTIC: u16 = 0x2803;

const MTU_DEFAULT: u16 = config::ATT_MTU_DEFAULT as u16;
const MTU_MAX: u16 = config::ATT_MTU_MAX as u16;
const VALUE_MAX: usize = config::ATT_VALUE_MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcedureKind {
    ExchangeMtu,
    DiscoverAllPrimaryServices,
    DiscoverPrimaryServiceByUuid,
    FindIncludedServices,
    DiscoverAllCharacteristics,
    DiscoverAllDescriptors,
    ReadByHandle,
    ReadByUuid,
    ReadMultiple,
    Write,
    WriteLong,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum ClientError {
    /// A request is outstanding (Vol 3 Part F 3.3.2).
    Busy,
    /// Handle 0, an empty or reversed range, a bad MTU, a second Exchange
    /// MTU, fewer than two handles...
    InvalidArgument,
    /// The request would not fit in ATT_MTU (or the value exceeds 512).
    TooLong,
    /// A transaction timed out: the bearer is dead until `reset`
    /// (Vol 3 Part F 3.3.3).
    TimedOut,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// A response carrying results for the running procedure; the raw PDU
    /// is the `pdu` passed to `on_pdu` (opcode first). One per ATT response
    /// (records are never split).
    Results { procedure: ProcedureKind },
    /// The procedure ended. `att_error` 0 = success (handle 0); otherwise
    /// the Error Code of the Error Response that ended it with its handle,
    /// or [`ERROR_INVALID_RESPONSE`] / [`ERROR_TIMEOUT`].
    Done {
        procedure: ProcedureKind,
        att_error: u8,
        handle: u16,
    },
    /// Handle Value Notification; the value is `pdu[3..]`.
    Notification { handle: u16 },
    /// Handle Value Indication; the value is `pdu[3..]` and the Handle
    /// Value Confirmation has been written to `out`.
    Indication { handle: u16 },
    /// Exchange MTU succeeded; this ends the procedure.
    MtuExchanged { mtu: u16 },
}

/// What one PDU from the peer produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientStep {
    /// Bytes written to `out` to send now (the next request or a Handle
    /// Value Confirmation); 0 = nothing.
    pub request_len: usize,
    /// In order: at most one `Results` (or `Notification`/`Indication`/
    /// `MtuExchanged`), then at most one `Done`.
    pub events: heapless::Vec<ClientEvent, 2>,
}

impl ClientStep {
    fn push(&mut self, e: ClientEvent) {
        // Never more than two per step by construction.
        let _ = self.events.push(e);
    }
}

/// True for the PDUs the peer's server role sends: responses, Error
/// Response, notifications and indications (Vol 3 Part F 3.4.8). Requests,
/// commands, confirmations and unknown opcodes go to our server.
pub fn is_for_client(opcode: u8) -> bool {
    matches!(
        opcode,
        pdu::ATT_ERROR_RSP
            | pdu::ATT_EXCHANGE_MTU_RSP
            | pdu::ATT_FIND_INFORMATION_RSP
            | pdu::ATT_FIND_BY_TYPE_VALUE_RSP
            | pdu::ATT_READ_BY_TYPE_RSP
            | pdu::ATT_READ_RSP
            | pdu::ATT_READ_BLOB_RSP
            | pdu::ATT_READ_MULTIPLE_RSP
            | pdu::ATT_READ_BY_GROUP_TYPE_RSP
            | pdu::ATT_WRITE_RSP
            | pdu::ATT_PREPARE_WRITE_RSP
            | pdu::ATT_EXECUTE_WRITE_RSP
            | pdu::ATT_READ_MULTIPLE_VARIABLE_RSP
            | pdu::ATT_HANDLE_VALUE_NTF
            | pdu::ATT_HANDLE_VALUE_IND
            | pdu::ATT_MULTIPLE_HANDLE_VALUE_NTF
    )
}

/// The procedure in progress and what it needs to build its next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    ExchangeMtu {
        client_rx_mtu: u16,
    },
    /// A looping discovery over `start..=end`; `start` is the start handle
    /// of the outstanding request.
    Discover {
        kind: ProcedureKind,
        start: u16,
        end: u16,
    },
    Read {
        handle: u16,
        /// Value offset of the outstanding request.
        offset: u16,
        long: bool,
        /// A part has been received already.
        answered: bool,
    },
    ReadByUuid {
        start: u16,
        end: u16,
    },
    ReadMultiple,
    Write,
    PrepareWrite {
        handle: u16,
        offset: u16,
        /// Octets of the value confirmed by the server.
        sent: u16,
        /// Octets in the outstanding Prepare Write Request.
        part: u16,
    },
    /// Execute Write outstanding; `att_error`/`handle` are what `Done`
    /// reports when it is answered (non-zero: a cancel after a failure).
    ExecuteWrite {
        att_error: u8,
        handle: u16,
    },
}

fn le16(b: &[u8], i: usize) -> u16 {
    match b.get(i..i.saturating_add(2)) {
        Some([a, c]) => u16::from_le_bytes([*a, *c]),
        _ => 0,
    }
}

fn valid_range(start: u16, end: u16) -> bool {
    start != 0 && start <= end
}

/// Walks `data` as records of `rec` octets, each starting with an attribute
/// handle at offset 0 and covering up to the handle at `end_at` (the same
/// offset for single-attribute records, 2 for groups). Handles must lie in
/// `start..=end` and strictly increase. Returns the last handle covered.
fn check_records(data: &[u8], rec: usize, end_at: usize, start: u16, end: u16) -> Result<u16, ()> {
    if rec < end_at + 2 || data.is_empty() || !data.len().is_multiple_of(rec) {
        return Err(());
    }
    let mut floor = u32::from(start);
    let mut last = 0u16;
    for r in data.chunks_exact(rec) {
        let handle = le16(r, 0);
        let covered = le16(r, end_at);
        if u32::from(handle) < floor || handle > end || covered < handle {
            return Err(());
        }
        floor = u32::from(covered) + 1;
        last = covered;
    }
    Ok(last)
}

/// Per-link GATT client state.
pub struct GattClient {
    state: State,
    /// Opcode of the outstanding request (valid when not idle).
    request: u8,
    mtu: u16,
    mtu_requested: bool,
    timed_out: bool,
    unexpected: u32,
    /// Service UUID of Discover Primary Service By Service UUID.
    uuid: Uuid,
    /// Value of Write Long Characteristic Values.
    value: [u8; VALUE_MAX],
    value_len: u16,
}

impl Default for GattClient {
    fn default() -> Self {
        Self::new()
    }
}

impl GattClient {
    pub const fn new() -> Self {
        GattClient {
            state: State::Idle,
            request: 0,
            mtu: MTU_DEFAULT,
            mtu_requested: false,
            timed_out: false,
            unexpected: 0,
            uuid: Uuid::Uuid16(0),
            value: [0; VALUE_MAX],
            value_len: 0,
        }
    }

    /// Back to the state of a new connection (the counter is kept).
    pub fn reset(&mut self) {
        self.state = State::Idle;
        self.request = 0;
        self.mtu = MTU_DEFAULT;
        self.mtu_requested = false;
        self.timed_out = false;
        self.value_len = 0;
    }

    /// ATT_MTU as the client sees it (23 until exchanged).
    pub fn mtu(&self) -> u16 {
        self.mtu
    }

    /// ATT_MTU after the peer's client exchanged it with our server on the
    /// same bearer, clamped to 23..=ATT_MTU_MAX.
    pub fn set_mtu(&mut self, mtu: u16) {
        self.mtu = mtu.clamp(MTU_DEFAULT, MTU_MAX);
    }

    /// A request is outstanding (Vol 3 Part F 3.3.2).
    pub fn busy(&self) -> bool {
        self.state != State::Idle
    }

    pub fn running(&self) -> Option<ProcedureKind> {
        Some(match self.state {
            State::Idle => return None,
            State::ExchangeMtu { .. } => ProcedureKind::ExchangeMtu,
            State::Discover { kind, .. } => kind,
            State::Read { .. } => ProcedureKind::ReadByHandle,
            State::ReadByUuid { .. } => ProcedureKind::ReadByUuid,
            State::ReadMultiple => ProcedureKind::ReadMultiple,
            State::Write => ProcedureKind::Write,
            State::PrepareWrite { .. } | State::ExecuteWrite { .. } => ProcedureKind::WriteLong,
        })
    }

    /// PDUs ignored: unexpected responses, malformed notifications...
    pub fn unexpected(&self) -> u32 {
        self.unexpected
    }

    fn ignore(&mut self) {
        self.unexpected = self.unexpected.wrapping_add(1);
    }

    fn can_start(&self) -> Result<(), ClientError> {
        if self.timed_out {
            Err(ClientError::TimedOut)
        } else if self.busy() {
            Err(ClientError::Busy)
        } else {
            Ok(())
        }
    }

    /// Encodes a request into `out`, at most ATT_MTU octets.
    fn encode(&self, req: AttPdu<'_>, out: &mut [u8]) -> Result<usize, ClientError> {
        let limit = out.len().min(usize::from(self.mtu));
        let dst = out.get_mut(..limit).ok_or(ClientError::TooLong)?;
        req.encode(dst).ok_or(ClientError::TooLong)
    }

    /// Sends the first request of a procedure.
    fn start(
        &mut self,
        state: State,
        req: AttPdu<'_>,
        out: &mut [u8],
    ) -> Result<usize, ClientError> {
        self.can_start()?;
        let n = self.encode(req, out)?;
        self.state = state;
        self.request = req.opcode();
        Ok(n)
    }

    /// Exchange MTU (Vol 3 Part G 4.3.1): `client_rx_mtu` is 23..=517.
    pub fn exchange_mtu(
        &mut self,
        client_rx_mtu: u16,
        out: &mut [u8],
    ) -> Result<usize, ClientError> {
        self.can_start()?;
        if !(MTU_DEFAULT..=MTU_MAX).contains(&client_rx_mtu) || self.mtu_requested {
            return Err(ClientError::InvalidArgument);
        }
        let n = self.start(
            State::ExchangeMtu { client_rx_mtu },
            AttPdu::ExchangeMtuReq { client_rx_mtu },
            out,
        )?;
        self.mtu_requested = true;
        Ok(n)
    }

    /// Request of a looping discovery starting at `start`.
    fn discovery_request(
        &self,
        kind: ProcedureKind,
        start: u16,
        end: u16,
        out: &mut [u8],
    ) -> Result<usize, ClientError> {
        let mut uuid_buf = [0u8; 16];
        let req = match kind {
            ProcedureKind::DiscoverAllPrimaryServices => AttPdu::ReadByGroupTypeReq {
                start,
                end,
                group_type: Uuid::Uuid16(PRIMARY_SERVICE),
            },
            ProcedureKind::DiscoverPrimaryServiceByUuid => {
                let n = self.uuid.write_le(&mut uuid_buf).unwrap_or(0);
                AttPdu::FindByTypeValueReq {
                    start,
                    end,
                    attribute_type: PRIMARY_SERVICE,
                    value: uuid_buf.get(..n).unwrap_or(&[]),
                }
            }
            ProcedureKind::FindIncludedServices => AttPdu::ReadByTypeReq {
                start,
                end,
                attribute_type: Uuid::Uuid16(INCLUDE),
            },
            ProcedureKind::DiscoverAllCharacteristics => AttPdu::ReadByTypeReq {
                start,
                end,
                attribute_type: Uuid::Uuid16(CHARACTERISTIC),
            },
            _ => AttPdu::FindInformationReq { start, end },
        };
        self.encode(req, out)
    }

    fn start_discovery(
        &mut self,
        kind: ProcedureKind,
        start: u16,
        end: u16,
        out: &mut [u8],
    ) -> Result<usize, ClientError> {
        self.can_start()?;
        if !valid_range(start, end) {
            return Err(ClientError::InvalidArgument);
        }
        let n = self.discovery_request(kind, start, end, out)?;
        self.state = State::Discover { kind, start, end };
        self.request = match kind {
            ProcedureKind::DiscoverAllPrimaryServices => pdu::ATT_READ_BY_GROUP_TYPE_REQ,
            ProcedureKind::DiscoverPrimaryServiceByUuid => pdu::ATT_FIND_BY_TYPE_VALUE_REQ,
            ProcedureKind::FindIncludedServices | ProcedureKind::DiscoverAllCharacteristics => {
                pdu::ATT_READ_BY_TYPE_REQ
            }
            _ => pdu::ATT_FIND_INFORMATION_REQ,
        };
        Ok(n)
    }

    /// Discover All Primary Services (Vol 3 Part G 4.4.1): Read By Group
    /// Type Requests for 0x2800 over 0x0001..=0xFFFF.
    pub fn discover_all_primary_services(&mut self, out: &mut [u8]) -> Result<usize, ClientError> {
        self.start_discovery(ProcedureKind::DiscoverAllPrimaryServices, 1, 0xFFFF, out)
    }

    /// Discover Primary Service By Service UUID (Vol 3 Part G 4.4.2): Find
    /// By Type Value Requests for 0x2800 = `uuid` over 0x0001..=0xFFFF.
    pub fn discover_primary_service_by_uuid(
        &mut self,
        uuid: Uuid,
        out: &mut [u8],
    ) -> Result<usize, ClientError> {
        self.can_start()?;
        self.uuid = uuid;
        self.start_discovery(ProcedureKind::DiscoverPrimaryServiceByUuid, 1, 0xFFFF, out)
    }

    /// Find Included Services (Vol 3 Part G 4.5.1): Read By Type Requests
    /// for 0x2802 over the service's range.
    pub fn find_included_services(
        &mut self,
        start: u16,
        end: u16,
        out: &mut [u8],
    ) -> Result<usize, ClientError> {
        self.start_discovery(ProcedureKind::FindIncludedServices, start, end, out)
    }

    /// Discover All Characteristics of a Service (Vol 3 Part G 4.6.1): Read
    /// By Type Requests for 0x2803.
    pub fn discover_all_characteristics(
        &mut self,
        start: u16,
        end: u16,
        out: &mut [u8],
    ) -> Result<usize, ClientError> {
        self.start_discovery(ProcedureKind::DiscoverAllCharacteristics, start, end, out)
    }

    /// Discover All Characteristic Descriptors (Vol 3 Part G 4.7.1): Find
    /// Information Requests.
    pub fn discover_all_descriptors(
        &mut self,
        start: u16,
        end: u16,
        out: &mut [u8],
    ) -> Result<usize, ClientError> {
        self.start_discovery(ProcedureKind::DiscoverAllDescriptors, start, end, out)
    }

    fn read_request(handle: u16, offset: u16) -> AttPdu<'static> {
        if offset == 0 {
            AttPdu::ReadReq { handle }
        } else {
            AttPdu::ReadBlobReq { handle, offset }
        }
    }

    /// Read Characteristic Value / Descriptor (Vol 3 Part G 4.8.1, 4.12.1):
    /// a Read Request at offset 0, else a Read Blob Request. With `long`,
    /// Read Blob Requests follow while parts are full (4.8.3, 4.12.2).
    pub fn read_by_handle(
        &mut self,
        handle: u16,
        offset: u16,
        long: bool,
        out: &mut [u8],
    ) -> Result<usize, ClientError> {
        self.can_start()?;
        if handle == 0 {
            return Err(ClientError::InvalidArgument);
        }
        let state = State::Read {
            handle,
            offset,
            long,
            answered: false,
        };
        self.start(state, Self::read_request(handle, offset), out)
    }

    /// Read Using Characteristic UUID (Vol 3 Part G 4.8.2): one Read By
    /// Type Request.
    pub fn read_by_uuid(
        &mut self,
        start: u16,
        end: u16,
        uuid: Uuid,
        out: &mut [u8],
    ) -> Result<usize, ClientError> {
        self.can_start()?;
        if !valid_range(start, end) {
            return Err(ClientError::InvalidArgument);
        }
        let req = AttPdu::ReadByTypeReq {
            start,
            end,
            attribute_type: uuid,
        };
        self.start(State::ReadByUuid { start, end }, req, out)
    }

    /// Read Multiple Characteristic Values (Vol 3 Part G 4.8.4): `handles`
    /// is two or more little-endian handles.
    pub fn read_multiple(&mut self, handles: &[u8], out: &mut [u8]) -> Result<usize, ClientError> {
        self.can_start()?;
        if handles.len() < 4 || !handles.len().is_multiple_of(2) {
            return Err(ClientError::InvalidArgument);
        }
        self.start(
            State::ReadMultiple,
            AttPdu::ReadMultipleReq { handles },
            out,
        )
    }

    fn check_short_write(&self, handle: u16, value: &[u8]) -> Result<(), ClientError> {
        if handle == 0 {
            return Err(ClientError::InvalidArgument);
        }
        if value.len() > usize::from(self.mtu) - 3 {
            return Err(ClientError::TooLong);
        }
        Ok(())
    }

    /// Write Characteristic Value / Descriptor (Vol 3 Part G 4.9.3,
    /// 4.12.3): a Write Request; values longer than ATT_MTU-3 need
    /// `write_long`.
    pub fn write(
        &mut self,
        handle: u16,
        value: &[u8],
        out: &mut [u8],
    ) -> Result<usize, ClientError> {
        self.can_start()?;
        self.check_short_write(handle, value)?;
        self.start(State::Write, AttPdu::WriteReq { handle, value }, out)
    }

    /// Octets of value in one Prepare Write Request (Vol 3 Part F 3.4.6.1).
    fn part_max(&self) -> usize {
        usize::from(self.mtu) - 5
    }

    /// Writes the Prepare Write Request for the value from `sent` on.
    fn prepare_request(
        &self,
        handle: u16,
        offset: u16,
        sent: u16,
        out: &mut [u8],
    ) -> Option<(usize, u16)> {
        let from = usize::from(sent);
        let to = usize::from(self.value_len).min(from + self.part_max());
        let part = self.value.get(from..to)?;
        let req = AttPdu::PrepareWriteReq {
            handle,
            offset: offset.checked_add(sent)?,
            value: part,
        };
        let n = self.encode(req, out).ok()?;
        Some((n, (to - from) as u16))
    }

    /// Write Long Characteristic Values / Descriptors (Vol 3 Part G 4.9.4,
    /// 4.12.4): Prepare Write Requests from `offset`, then Execute Write.
    /// The value (1..=512 octets) is copied.
    pub fn write_long(
        &mut self,
        handle: u16,
        offset: u16,
        value: &[u8],
        out: &mut [u8],
    ) -> Result<usize, ClientError> {
        self.can_start()?;
        if value.len() > VALUE_MAX {
            return Err(ClientError::TooLong);
        }
        // Every octet's offset must fit the u16 Value Offset.
        let fits = usize::from(offset) + value.len() <= usize::from(u16::MAX) + 1;
        if handle == 0 || value.is_empty() || !fits {
            return Err(ClientError::InvalidArgument);
        }
        let dst = self
            .value
            .get_mut(..value.len())
            .ok_or(ClientError::TooLong)?;
        dst.copy_from_slice(value);
        self.value_len = value.len() as u16;
        let (n, part) = self
            .prepare_request(handle, offset, 0, out)
            .ok_or(ClientError::TooLong)?;
        self.state = State::PrepareWrite {
            handle,
            offset,
            sent: 0,
            part,
        };
        self.request = pdu::ATT_PREPARE_WRITE_REQ;
        Ok(n)
    }

    /// Write Without Response (Vol 3 Part G 4.9.1): a Write Command. It is
    /// not a request, so it may go while one is outstanding.
    pub fn write_without_response(
        &mut self,
        handle: u16,
        value: &[u8],
        out: &mut [u8],
    ) -> Result<usize, ClientError> {
        if self.timed_out {
            return Err(ClientError::TimedOut);
        }
        self.check_short_write(handle, value)?;
        self.encode(AttPdu::WriteCmd { handle, value }, out)
    }

    /// The host's 30 s ATT transaction timer expired (Vol 3 Part F 3.3.3):
    /// the procedure fails and the bearer takes no more requests.
    pub fn on_timeout(&mut self) -> Option<ClientEvent> {
        let procedure = self.running()?;
        self.timed_out = true;
        self.state = State::Idle;
        Some(ClientEvent::Done {
            procedure,
            att_error: ERROR_TIMEOUT,
            handle: 0,
        })
    }

    /// Ends the running procedure, reporting `Done`.
    fn finish(&mut self, att_error: u8, handle: u16, step: &mut ClientStep) {
        if let Some(procedure) = self.running() {
            step.push(ClientEvent::Done {
                procedure,
                att_error,
                handle,
            });
        }
        self.state = State::Idle;
        self.request = 0;
    }

    /// Writes the next request of the running procedure; if it cannot be
    /// built (only with a too-short `out`) the procedure fails.
    fn send(&mut self, n: Option<usize>, opcode: u8, step: &mut ClientStep) {
        match n {
            Some(n) => {
                step.request_len = n;
                self.request = opcode;
            }
            None => self.finish(error::UNLIKELY_ERROR, 0, step),
        }
    }

    /// Handles one PDU from the peer's server role (see [`is_for_client`]).
    pub fn on_pdu(&mut self, pdu: &[u8], out: &mut [u8]) -> ClientStep {
        let mut step = ClientStep::default();
        let Some(&opcode) = pdu.first() else {
            self.ignore();
            return step;
        };
        match opcode {
            pdu::ATT_HANDLE_VALUE_NTF => {
                match AttPdu::decode(pdu) {
                    Ok(AttPdu::HandleValueNtf { handle, .. }) => {
                        step.push(ClientEvent::Notification { handle })
                    }
                    _ => self.ignore(),
                }
                return step;
            }
            pdu::ATT_HANDLE_VALUE_IND => {
                match AttPdu::decode(pdu) {
                    Ok(AttPdu::HandleValueInd { handle, .. }) => {
                        // The server waits for this before its next
                        // indication (Vol 3 Part F 3.4.7.3).
                        step.request_len = AttPdu::HandleValueCfm.encode(out).unwrap_or(0);
                        step.push(ClientEvent::Indication { handle });
                    }
                    _ => self.ignore(),
                }
                return step;
            }
            _ => {}
        }
        if !self.busy() {
            self.ignore();
            return step;
        }
        if opcode == pdu::ATT_ERROR_RSP {
            match AttPdu::decode(pdu) {
                Ok(AttPdu::ErrorRsp {
                    request_opcode,
                    handle,
                    error_code,
                }) if request_opcode == self.request => {
                    self.on_error(handle, error_code, out, &mut step)
                }
                // A malformed Error Response naming our request still
                // answers it (Vol 3 Part F 3.4.1.1).
                Err(_) if pdu.get(1) == Some(&self.request) => {
                    self.finish(ERROR_INVALID_RESPONSE, 0, &mut step)
                }
                _ => self.ignore(),
            }
            return step;
        }
        // Every request we send is answered by the next opcode (table 3.37).
        if opcode != self.request.wrapping_add(1) {
            self.ignore();
            return step;
        }
        match AttPdu::decode(pdu) {
            Ok(rsp) => self.on_response(rsp, out, &mut step),
            Err(_) => self.finish(ERROR_INVALID_RESPONSE, 0, &mut step),
        }
        step
    }

    fn on_error(&mut self, handle: u16, code: u8, out: &mut [u8], step: &mut ClientStep) {
        match self.state {
            State::Read {
                long: true,
                answered: true,
                ..
            } if code == error::ATTRIBUTE_NOT_LONG || code == error::INVALID_OFFSET => {
                // The previous part was the last one (Vol 3 Part G 4.8.3).
                self.finish(0, 0, step)
            }
            State::PrepareWrite { .. } => self.cancel_write(code, handle, out, step),
            State::ExecuteWrite {
                att_error,
                handle: h,
            } if att_error != 0 => self.finish(att_error, h, step),
            _ => self.finish(code, handle, step),
        }
    }

    /// Clears the server's prepare queue with Execute Write (flags 0x00,
    /// Vol 3 Part F 3.4.6.3); `Done { att_error, handle }` follows its
    /// response.
    fn cancel_write(&mut self, att_error: u8, handle: u16, out: &mut [u8], step: &mut ClientStep) {
        self.state = State::ExecuteWrite { att_error, handle };
        let req = AttPdu::ExecuteWriteReq {
            flags: pdu::EXECUTE_WRITE_CANCEL,
        };
        let n = self.encode(req, out).ok();
        self.send(n, pdu::ATT_EXECUTE_WRITE_REQ, step);
    }

    fn on_response(&mut self, rsp: AttPdu<'_>, out: &mut [u8], step: &mut ClientStep) {
        match (self.state, rsp) {
            (State::ExchangeMtu { client_rx_mtu }, AttPdu::ExchangeMtuRsp { server_rx_mtu }) => {
                // Vol 3 Part F 3.4.2.2: the minimum of both, never below
                // the LE default.
                let mtu = client_rx_mtu.min(server_rx_mtu).max(MTU_DEFAULT);
                self.mtu = mtu;
                self.state = State::Idle;
                self.request = 0;
                step.push(ClientEvent::MtuExchanged { mtu });
            }
            (State::Discover { kind, start, end }, rsp) => {
                match discovered(kind, rsp, start, end) {
                    Ok(last) => self.next_discovery(kind, last, end, out, step),
                    Err(()) => self.finish(ERROR_INVALID_RESPONSE, start, step),
                }
            }
            (
                State::Read {
                    handle,
                    offset,
                    long,
                    ..
                },
                AttPdu::ReadRsp { value } | AttPdu::ReadBlobRsp { value },
            ) => self.on_read_part(handle, offset, long, value.len(), out, step),
            (State::ReadByUuid { start, end }, AttPdu::ReadByTypeRsp { length, data }) => {
                if check_records(data, usize::from(length), 0, start, end).is_ok() {
                    step.push(ClientEvent::Results {
                        procedure: ProcedureKind::ReadByUuid,
                    });
                    self.finish(0, 0, step);
                } else {
                    self.finish(ERROR_INVALID_RESPONSE, start, step);
                }
            }
            (State::ReadMultiple, AttPdu::ReadMultipleRsp { .. }) => {
                step.push(ClientEvent::Results {
                    procedure: ProcedureKind::ReadMultiple,
                });
                self.finish(0, 0, step);
            }
            (State::Write, AttPdu::WriteRsp) => self.finish(0, 0, step),
            (
                State::PrepareWrite {
                    handle,
                    offset,
                    sent,
                    part,
                },
                AttPdu::PrepareWriteRsp {
                    handle: h,
                    offset: o,
                    value,
                },
            ) => {
                let from = usize::from(sent);
                let expected = self.value.get(from..from + usize::from(part));
                let echo =
                    h == handle && Some(o) == offset.checked_add(sent) && expected == Some(value);
                if !echo {
                    // Vol 3 Part G 4.9.5: a wrong echo cancels the write.
                    return self.cancel_write(ERROR_INVALID_RESPONSE, handle, out, step);
                }
                let sent = sent + part;
                if sent >= self.value_len {
                    self.state = State::ExecuteWrite {
                        att_error: 0,
                        handle: 0,
                    };
                    let req = AttPdu::ExecuteWriteReq {
                        flags: pdu::EXECUTE_WRITE_IMMEDIATELY,
                    };
                    let n = self.encode(req, out).ok();
                    self.send(n, pdu::ATT_EXECUTE_WRITE_REQ, step);
                } else {
                    match self.prepare_request(handle, offset, sent, out) {
                        Some((n, part)) => {
                            self.state = State::PrepareWrite {
                                handle,
                                offset,
                                sent,
                                part,
                            };
                            self.send(Some(n), pdu::ATT_PREPARE_WRITE_REQ, step);
                        }
                        None => self.cancel_write(error::UNLIKELY_ERROR, handle, out, step),
                    }
                }
            }
            (State::ExecuteWrite { att_error, handle }, AttPdu::ExecuteWriteRsp) => {
                self.finish(att_error, handle, step)
            }
            // The opcode matched the request, so the state did too; this
            // is only reachable if they ever disagree.
            _ => self.finish(ERROR_INVALID_RESPONSE, 0, step),
        }
    }

    fn on_read_part(
        &mut self,
        handle: u16,
        offset: u16,
        long: bool,
        len: usize,
        out: &mut [u8],
        step: &mut ClientStep,
    ) {
        step.push(ClientEvent::Results {
            procedure: ProcedureKind::ReadByHandle,
        });
        let full = len + 1 >= usize::from(self.mtu);
        let next = usize::from(offset) + len;
        // A value is at most 512 octets (Vol 3 Part F 3.2.9): nothing lies
        // beyond, whatever the server says.
        if !long || !full || next >= VALUE_MAX {
            return self.finish(0, 0, step);
        }
        let next = next as u16;
        self.state = State::Read {
            handle,
            offset: next,
            long,
            answered: true,
        };
        let n = self.encode(Self::read_request(handle, next), out).ok();
        self.send(n, pdu::ATT_READ_BLOB_REQ, step);
    }

    /// After a valid discovery response covering up to `last`: report it,
    /// then ask from `last + 1` or end when the range is covered.
    fn next_discovery(
        &mut self,
        kind: ProcedureKind,
        last: u16,
        end: u16,
        out: &mut [u8],
        step: &mut ClientStep,
    ) {
        step.push(ClientEvent::Results { procedure: kind });
        if last >= end {
            return self.finish(0, 0, step);
        }
        let start = last + 1;
        self.state = State::Discover { kind, start, end };
        let n = self.discovery_request(kind, start, end, out).ok();
        let opcode = self.request;
        self.send(n, opcode, step);
    }
}

/// Checks a discovery response for `start..=end` and returns the last
/// handle it covers (Vol 3 Part G 4.4.1, 4.4.2, 4.5.1, 4.6.1, 4.7.1).
fn discovered(kind: ProcedureKind, rsp: AttPdu<'_>, start: u16, end: u16) -> Result<u16, ()> {
    match (kind, rsp) {
        // (handle, end group handle, 16- or 128-bit UUID).
        (
            ProcedureKind::DiscoverAllPrimaryServices,
            AttPdu::ReadByGroupTypeRsp { length, data },
        ) if length == 6 || length == 20 => check_records(data, usize::from(length), 2, start, end),
        // (found attribute handle, group end handle).
        (ProcedureKind::DiscoverPrimaryServiceByUuid, AttPdu::FindByTypeValueRsp { data }) => {
            check_records(data, 4, 2, start, end)
        }
        // (handle, included service handle, end group handle[, UUID16]).
        (ProcedureKind::FindIncludedServices, AttPdu::ReadByTypeRsp { length, data })
            if length == 6 || length == 8 =>
        {
            let rec = usize::from(length);
            let ok = data
                .chunks_exact(rec)
                .all(|r| le16(r, 2) != 0 && le16(r, 2) <= le16(r, 4));
            if !ok {
                return Err(());
            }
            check_records(data, rec, 0, start, end)
        }
        // (handle, properties, value handle, 16- or 128-bit UUID).
        (ProcedureKind::DiscoverAllCharacteristics, AttPdu::ReadByTypeRsp { length, data })
            if length == 7 || length == 21 =>
        {
            check_records(data, usize::from(length), 0, start, end)
        }
        // (handle, 16- or 128-bit UUID) by format.
        (ProcedureKind::DiscoverAllDescriptors, AttPdu::FindInformationRsp { format, data }) => {
            let rec = match format {
                pdu::FORMAT_UUID16 => 4,
                pdu::FORMAT_UUID128 => 18,
                _ => return Err(()),
            };
            check_records(data, rec, 0, start, end)
        }
        _ => Err(()),
    }
}
