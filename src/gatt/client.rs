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
//!   client itself use two codes, with the handle the request was about
//!   (start handle of a range, attribute handle of a read or write, else
//!   0), as a server's Error Response would:
//!   - [`ERROR_INVALID_RESPONSE`] (0x0E, Unlikely Error): a malformed
//!     response (bad length, record size, UUID format), handles outside the
//!     requested range or not advancing (which would loop forever), or a
//!     Prepare Write Response that does not echo the request.
//!   - [`ERROR_TIMEOUT`] (0xFF): [`GattClient::on_timeout`]. 0xFF is also
//!     the profile code Out of Range (Supplement Part B 1.2), which no
//!     discovery or plain read returns; the host knows a timeout anyway,
//!     since it called `on_timeout` and got the `Done` from it.
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
//!   must echo handle, offset and value (the check of Reliable Writes,
//!   4.9.5, applied to long writes too, so a corrupted part is never
//!   executed); if one does
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
    Write {
        handle: u16,
    },
    PrepareWrite {
        handle: u16,
        offset: u16,
        /// Octets of the value confirmed by the server.
        sent: u16,
        /// Octets in the outstanding Prepare Write Request.
        part: u16,
    },
    /// Execute Write outstanding for the value at `handle`; `att_error` is
    /// what `Done` reports when it is answered (non-zero: a cancel after a
    /// failure).
    ExecuteWrite {
        att_error: u8,
        handle: u16,
    },
}

/// A little-endian u16 of a record; 0 past its end (records are checked
/// for length before their fields are read).
fn le16(b: &[u8], i: usize) -> u16 {
    crate::bytes::le_u16_at(b, i).unwrap_or(0)
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
    /// ATT_MTU minus the default 23, so that a new client is all zeros
    /// (the core's static in `.bss`, issue 6).
    mtu_above_default: u16,
    mtu_requested: bool,
    timed_out: bool,
    unexpected: u32,
    /// Service UUID of Discover Primary Service By Service UUID.
    uuid: Uuid,
    /// Value of Write Long Characteristic Values.
    /// Length of the Write Long value. The value itself stays in the
    /// core's procedure pool (`gatt::queue`) while the write runs, and is
    /// handed back to [`GattClient::on_pdu`]: no copy per link.
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
            mtu_above_default: 0,
            mtu_requested: false,
            timed_out: false,
            unexpected: 0,
            uuid: Uuid::Uuid16(0),
            value_len: 0,
        }
    }

    /// Back to the state of a new connection (the counter is kept).
    pub fn reset(&mut self) {
        self.state = State::Idle;
        self.request = 0;
        self.mtu_above_default = 0;
        self.mtu_requested = false;
        self.timed_out = false;
        self.value_len = 0;
    }

    /// ATT_MTU as the client sees it (23 until exchanged).
    pub fn mtu(&self) -> u16 {
        MTU_DEFAULT + self.mtu_above_default
    }

    /// ATT_MTU after the peer's client exchanged it with our server on the
    /// same bearer, clamped to 23..=ATT_MTU_MAX.
    pub fn set_mtu(&mut self, mtu: u16) {
        self.mtu_above_default = mtu.clamp(MTU_DEFAULT, MTU_MAX) - MTU_DEFAULT;
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
            State::Write { .. } => ProcedureKind::Write,
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
        let limit = out.len().min(usize::from(self.mtu()));
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
        if value.len() > usize::from(self.mtu()) - 3 {
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
        self.start(
            State::Write { handle },
            AttPdu::WriteReq { handle, value },
            out,
        )
    }

    /// Octets of value in one Prepare Write Request (Vol 3 Part F 3.4.6.1).
    fn part_max(&self) -> usize {
        usize::from(self.mtu()) - 5
    }

    /// Writes the Prepare Write Request for the value from `sent` on.
    fn prepare_request(
        &self,
        handle: u16,
        offset: u16,
        sent: u16,
        value: &[u8],
        out: &mut [u8],
    ) -> Option<(usize, u16)> {
        let from = usize::from(sent);
        let to = usize::from(self.value_len).min(from + self.part_max());
        let part = value.get(from..to)?;
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
    /// The value (1..=512 octets) is not copied: the caller keeps it until
    /// the procedure ends and passes it to every [`GattClient::on_pdu`].
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
        self.value_len = value.len() as u16;
        let (n, part) = self
            .prepare_request(handle, offset, 0, value, out)
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

    /// The handle the outstanding request is about: the start handle of a
    /// range, the attribute handle of a read or write, else 0.
    fn request_handle(&self) -> u16 {
        match self.state {
            State::Discover { start, .. } | State::ReadByUuid { start, .. } => start,
            State::Read { handle, .. }
            | State::Write { handle }
            | State::PrepareWrite { handle, .. }
            | State::ExecuteWrite { handle, .. } => handle,
            State::Idle | State::ExchangeMtu { .. } | State::ReadMultiple => 0,
        }
    }

    /// Ends the procedure on a response the client rejects.
    fn reject(&mut self, step: &mut ClientStep) {
        let handle = self.request_handle();
        self.finish(ERROR_INVALID_RESPONSE, handle, step)
    }

    /// Writes the next request of the running procedure; if it cannot be
    /// built (only with a too-short `out`) the procedure fails.
    fn send(&mut self, n: Option<usize>, opcode: u8, step: &mut ClientStep) {
        match n {
            Some(n) => {
                step.request_len = n;
                self.request = opcode;
            }
            None => {
                let handle = self.request_handle();
                self.finish(error::UNLIKELY_ERROR, handle, step)
            }
        }
    }

    /// Handles one PDU from the peer's server role (see [`is_for_client`]).
    /// `value` is the running Write Long's value (as given to
    /// [`GattClient::write_long`]; empty for any other procedure).
    pub fn on_pdu(&mut self, pdu: &[u8], value: &[u8], out: &mut [u8]) -> ClientStep {
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
                Err(_) if pdu.get(1) == Some(&self.request) => self.reject(&mut step),
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
            Ok(rsp) => self.on_response(rsp, value, out, &mut step),
            Err(_) => self.reject(&mut step),
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

    fn on_response(
        &mut self,
        rsp: AttPdu<'_>,
        written: &[u8],
        out: &mut [u8],
        step: &mut ClientStep,
    ) {
        match (self.state, rsp) {
            (State::ExchangeMtu { client_rx_mtu }, AttPdu::ExchangeMtuRsp { server_rx_mtu }) => {
                // Vol 3 Part F 3.4.2.2: the minimum of both, never below
                // the LE default.
                let mtu = client_rx_mtu.min(server_rx_mtu).max(MTU_DEFAULT);
                self.mtu_above_default = mtu - MTU_DEFAULT;
                self.state = State::Idle;
                self.request = 0;
                step.push(ClientEvent::MtuExchanged { mtu });
            }
            (State::Discover { kind, start, end }, rsp) => {
                match discovered(kind, rsp, start, end) {
                    Ok(last) => self.next_discovery(kind, last, end, out, step),
                    Err(()) => self.reject(step),
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
                    self.reject(step);
                }
            }
            (State::ReadMultiple, AttPdu::ReadMultipleRsp { .. }) => {
                step.push(ClientEvent::Results {
                    procedure: ProcedureKind::ReadMultiple,
                });
                self.finish(0, 0, step);
            }
            (State::Write { .. }, AttPdu::WriteRsp) => self.finish(0, 0, step),
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
                let expected = written.get(from..from + usize::from(part));
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
                        handle,
                    };
                    let req = AttPdu::ExecuteWriteReq {
                        flags: pdu::EXECUTE_WRITE_IMMEDIATELY,
                    };
                    let n = self.encode(req, out).ok();
                    self.send(n, pdu::ATT_EXECUTE_WRITE_REQ, step);
                } else {
                    match self.prepare_request(handle, offset, sent, written, out) {
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
                let handle = if att_error == 0 { 0 } else { handle };
                self.finish(att_error, handle, step)
            }
            // The opcode matched the request, so the state did too; this
            // is only reachable if they ever disagree.
            _ => self.reject(step),
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
        let full = len + 1 >= usize::from(self.mtu());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::att::db::{AttPermissions as P, AttributeDb};
    use crate::att::server::{handle_pdu, AttBearer, LinkSecurity};
    use crate::gatt::server::GattServer;
    use std::vec::Vec;
    use ClientEvent::*;
    use ProcedureKind as K;

    type Buf = [u8; config::ATT_MTU_MAX];

    /// Starts a procedure; returns the request bytes.
    fn start(
        c: &mut GattClient,
        f: impl FnOnce(&mut GattClient, &mut Buf) -> Result<usize, ClientError>,
    ) -> Vec<u8> {
        let mut out = [0u8; config::ATT_MTU_MAX];
        let n = f(c, &mut out).expect("start");
        assert!(n <= usize::from(c.mtu()));
        out[..n].to_vec()
    }

    /// Feeds a PDU from the server; returns (bytes to send, events).
    fn feed(c: &mut GattClient, pdu: &[u8]) -> (Vec<u8>, Vec<ClientEvent>) {
        feed_w(c, pdu, &[])
    }

    /// The same while a Write Long of `value` runs.
    fn feed_w(c: &mut GattClient, pdu: &[u8], value: &[u8]) -> (Vec<u8>, Vec<ClientEvent>) {
        let mut out = [0u8; config::ATT_MTU_MAX];
        let s = c.on_pdu(pdu, value, &mut out);
        assert!(s.request_len <= usize::from(c.mtu()));
        (out[..s.request_len].to_vec(), s.events.to_vec())
    }

    fn done(procedure: ProcedureKind, att_error: u8, handle: u16) -> ClientEvent {
        Done {
            procedure,
            att_error,
            handle,
        }
    }

    #[test]
    fn first_requests() {
        let mut c = GattClient::new();
        let mut first = |f: &dyn Fn(&mut GattClient, &mut Buf) -> Result<usize, ClientError>| {
            c.reset();
            let r = start(&mut c, f);
            assert!(c.busy());
            r
        };
        let [lo, hi] = MTU_MAX.to_le_bytes();
        assert_eq!(first(&|c, o| c.exchange_mtu(MTU_MAX, o)), [0x02, lo, hi]);
        assert_eq!(
            first(&|c, o| c.discover_all_primary_services(o)),
            [0x10, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x28]
        );
        assert_eq!(
            first(&|c, o| c.discover_primary_service_by_uuid(Uuid::Uuid16(0x180F), o)),
            [0x06, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x28, 0x0F, 0x18]
        );
        let u = [0x10u8; 16];
        let mut want = std::vec![0x06, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x28];
        want.extend_from_slice(&u);
        assert_eq!(
            first(&|c, o| c.discover_primary_service_by_uuid(Uuid::Uuid128(u), o)),
            want
        );
        assert_eq!(
            first(&|c, o| c.find_included_services(1, 4, o)),
            [0x08, 0x01, 0x00, 0x04, 0x00, 0x02, 0x28]
        );
        assert_eq!(
            first(&|c, o| c.discover_all_characteristics(1, 4, o)),
            [0x08, 0x01, 0x00, 0x04, 0x00, 0x03, 0x28]
        );
        assert_eq!(
            first(&|c, o| c.discover_all_descriptors(4, 4, o)),
            [0x04, 0x04, 0x00, 0x04, 0x00]
        );
        assert_eq!(
            first(&|c, o| c.read_by_handle(3, 0, true, o)),
            [0x0A, 0x03, 0x00]
        );
        assert_eq!(
            first(&|c, o| c.read_by_handle(3, 22, false, o)),
            [0x0C, 0x03, 0x00, 0x16, 0x00]
        );
        assert_eq!(
            first(&|c, o| c.read_by_uuid(1, 0xFFFF, Uuid::Uuid16(0x2A19), o)),
            [0x08, 0x01, 0x00, 0xFF, 0xFF, 0x19, 0x2A]
        );
        assert_eq!(
            first(&|c, o| c.read_multiple(&[0x03, 0x00, 0x04, 0x00], o)),
            [0x0E, 0x03, 0x00, 0x04, 0x00]
        );
        assert_eq!(
            first(&|c, o| c.write(4, &[0x01, 0x00], o)),
            [0x12, 0x04, 0x00, 0x01, 0x00]
        );
        let mut want = std::vec![0x16, 0x03, 0x00, 0x00, 0x00];
        want.extend(0u8..18);
        let value: Vec<u8> = (0u8..50).collect();
        assert_eq!(first(&|c, o| c.write_long(3, 0, &value, o)), want);
        // Write Command: no procedure.
        c.reset();
        assert_eq!(
            start(&mut c, |c, o| c.write_without_response(3, &[0xAA], o)),
            [0x52, 0x03, 0x00, 0xAA]
        );
        assert!(!c.busy());
    }

    #[test]
    fn invalid_arguments() {
        let mut c = GattClient::new();
        let mut o = [0u8; config::ATT_MTU_MAX];
        let inv = Err(ClientError::InvalidArgument);
        assert_eq!(c.exchange_mtu(22, &mut o), inv);
        assert_eq!(c.exchange_mtu(518, &mut o), inv);
        assert_eq!(c.find_included_services(0, 4, &mut o), inv);
        assert_eq!(c.discover_all_characteristics(5, 4, &mut o), inv);
        assert_eq!(c.discover_all_descriptors(0, 0, &mut o), inv);
        assert_eq!(c.read_by_uuid(2, 1, Uuid::Uuid16(0x2A19), &mut o), inv);
        assert_eq!(c.read_by_handle(0, 0, false, &mut o), inv);
        assert_eq!(c.read_multiple(&[3, 0], &mut o), inv);
        assert_eq!(c.read_multiple(&[3, 0, 4], &mut o), inv);
        assert_eq!(c.write(0, &[1], &mut o), inv);
        assert_eq!(c.write_long(3, 0, &[], &mut o), inv);
        assert_eq!(c.write_long(3, 0xFFFF, &[1, 2], &mut o), inv);
        assert!(c.write_long(3, 0xFFFF, &[1], &mut o).is_ok());
        c.reset();
        // Values beyond ATT_MTU-3 (or 512 for long writes).
        let big = [0u8; 600];
        let too = Err(ClientError::TooLong);
        assert_eq!(c.write(3, &big[..21], &mut o), too);
        assert_eq!(c.write_without_response(3, &big[..21], &mut o), too);
        assert_eq!(c.write(3, &big[..20], &mut o), Ok(23));
        c.reset();
        assert_eq!(c.write_long(3, 0, &big[..513], &mut o), too);
        assert_eq!(c.read_multiple(&big[..24], &mut o), too);
        assert_eq!(c.read_multiple(&big[..22], &mut o), Ok(23));
        assert!(c.busy());
    }

    #[test]
    fn busy_rejection() {
        let mut c = GattClient::new();
        let mut o = [0u8; config::ATT_MTU_MAX];
        c.read_by_handle(3, 0, false, &mut o).unwrap();
        assert_eq!(c.running(), Some(K::ReadByHandle));
        o.fill(0xEE);
        let busy = Err(ClientError::Busy);
        assert_eq!(c.discover_all_primary_services(&mut o), busy);
        assert_eq!(c.write(3, &[1], &mut o), busy);
        assert_eq!(c.write_long(3, 0, &[1], &mut o), busy);
        assert_eq!(c.exchange_mtu(100, &mut o), busy);
        assert_eq!(c.read_multiple(&[3, 0, 4, 0], &mut o), busy);
        assert!(o.iter().all(|&b| b == 0xEE), "nothing written");
        // A Write Command is not a request.
        assert_eq!(c.write_without_response(3, &[7], &mut o), Ok(4));
        assert_eq!(&o[..4], [0x52, 0x03, 0x00, 0x07]);
        assert_eq!(c.running(), Some(K::ReadByHandle));
        assert_eq!(
            feed(&mut c, &[0x0B, 0x64]).1,
            [
                Results {
                    procedure: K::ReadByHandle
                },
                done(K::ReadByHandle, 0, 0)
            ]
        );
        assert!(!c.busy());
        assert_eq!(c.running(), None);
    }

    #[test]
    fn exchange_mtu() {
        let mut c = GattClient::new();
        start(&mut c, |c, o| c.exchange_mtu(MTU_MAX, o));
        assert_eq!(
            feed(&mut c, &[0x03, 0xF7, 0x00]),
            (std::vec![], std::vec![MtuExchanged { mtu: 247 }])
        );
        assert_eq!(c.mtu(), 247);
        assert!(!c.busy());
        // Only once per connection (Vol 3 Part F 3.4.2.1).
        let mut o = [0u8; config::ATT_MTU_MAX];
        assert_eq!(
            c.exchange_mtu(MTU_MAX, &mut o),
            Err(ClientError::InvalidArgument)
        );
        // A server Rx MTU below 23 leaves the default.
        c.reset();
        start(&mut c, |c, o| c.exchange_mtu(100, o));
        assert_eq!(
            feed(&mut c, &[0x03, 0x10, 0x00]).1,
            [MtuExchanged { mtu: 23 }]
        );
        // Ours is the smaller.
        c.reset();
        start(&mut c, |c, o| c.exchange_mtu(100, o));
        assert_eq!(
            feed(&mut c, &[0x03, 0x05, 0x02]).1,
            [MtuExchanged { mtu: 100 }]
        );
        // Request Not Supported: MTU stays 23.
        c.reset();
        start(&mut c, |c, o| c.exchange_mtu(MTU_MAX, o));
        assert_eq!(
            feed(&mut c, &[0x01, 0x02, 0x00, 0x00, 0x06]).1,
            [done(K::ExchangeMtu, 0x06, 0)]
        );
        assert_eq!(c.mtu(), 23);
        // The peer's exchange with our server.
        c.set_mtu(1000);
        assert_eq!(c.mtu(), MTU_MAX);
        c.set_mtu(5);
        assert_eq!(c.mtu(), 23);
    }

    /// The QuecPython demo table: service 0x180F at 1..4, characteristic
    /// 0x2A19 (properties 0x32) at 2/3, CCCD at 4.
    #[test]
    fn characteristic_discovery_of_demo_table() {
        let mut c = GattClient::new();
        assert_eq!(
            start(&mut c, |c, o| c.discover_all_characteristics(1, 0xFFFF, o)),
            [0x08, 0x01, 0x00, 0xFF, 0xFF, 0x03, 0x28]
        );
        let (req, ev) = feed(
            &mut c,
            &[0x09, 0x07, 0x02, 0x00, 0x32, 0x03, 0x00, 0x19, 0x2A],
        );
        assert_eq!(req, [0x08, 0x03, 0x00, 0xFF, 0xFF, 0x03, 0x28]);
        assert_eq!(
            ev,
            [Results {
                procedure: K::DiscoverAllCharacteristics
            }]
        );
        let (req, ev) = feed(&mut c, &[0x01, 0x08, 0x04, 0x00, 0x0A]);
        assert!(req.is_empty());
        assert_eq!(ev, [done(K::DiscoverAllCharacteristics, 0x0A, 4)]);
        assert!(!c.busy());
    }

    #[test]
    fn service_discovery_across_two_responses() {
        let mut c = GattClient::new();
        start(&mut c, |c, o| c.discover_all_primary_services(o));
        // GAP 1..5 and GATT 6..9.
        let (req, ev) = feed(
            &mut c,
            &[
                0x11, 0x06, 0x01, 0x00, 0x05, 0x00, 0x00, 0x18, 0x06, 0x00, 0x09, 0x00, 0x01, 0x18,
            ],
        );
        assert_eq!(req, [0x10, 0x0A, 0x00, 0xFF, 0xFF, 0x00, 0x28]);
        assert_eq!(
            ev,
            [Results {
                procedure: K::DiscoverAllPrimaryServices
            }]
        );
        // A 128-bit service at 0x0A..0x0F.
        let mut rsp = std::vec![0x11, 20, 0x0A, 0x00, 0x0F, 0x00];
        rsp.extend_from_slice(&[0x42; 16]);
        let (req, ev) = feed(&mut c, &rsp);
        assert_eq!(req, [0x10, 0x10, 0x00, 0xFF, 0xFF, 0x00, 0x28]);
        assert_eq!(
            ev,
            [Results {
                procedure: K::DiscoverAllPrimaryServices
            }]
        );
        let (req, ev) = feed(&mut c, &[0x01, 0x10, 0x10, 0x00, 0x0A]);
        assert!(req.is_empty());
        assert_eq!(ev, [done(K::DiscoverAllPrimaryServices, 0x0A, 0x10)]);
    }

    #[test]
    fn range_covered_ends_without_extra_request() {
        // A service whose group ends at 0xFFFF is the last one.
        let mut c = GattClient::new();
        start(&mut c, |c, o| c.discover_all_primary_services(o));
        let (req, ev) = feed(&mut c, &[0x11, 0x06, 0x01, 0x00, 0xFF, 0xFF, 0x0F, 0x18]);
        assert!(req.is_empty());
        assert_eq!(
            ev,
            [
                Results {
                    procedure: K::DiscoverAllPrimaryServices
                },
                done(K::DiscoverAllPrimaryServices, 0, 0)
            ]
        );
        // By UUID.
        start(&mut c, |c, o| {
            c.discover_primary_service_by_uuid(Uuid::Uuid16(0x180F), o)
        });
        let (req, ev) = feed(&mut c, &[0x07, 0x01, 0x00, 0x04, 0x00]);
        assert_eq!(req, [0x06, 0x05, 0x00, 0xFF, 0xFF, 0x00, 0x28, 0x0F, 0x18]);
        assert_eq!(
            ev,
            [Results {
                procedure: K::DiscoverPrimaryServiceByUuid
            }]
        );
        let (req, ev) = feed(&mut c, &[0x07, 0x10, 0x00, 0xFF, 0xFF]);
        assert!(req.is_empty());
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[1], done(K::DiscoverPrimaryServiceByUuid, 0, 0));
        // Descriptors of 4..4: handle 4 covers the range.
        start(&mut c, |c, o| c.discover_all_descriptors(4, 4, o));
        let (req, ev) = feed(&mut c, &[0x05, 0x01, 0x04, 0x00, 0x02, 0x29]);
        assert!(req.is_empty());
        assert_eq!(
            ev,
            [
                Results {
                    procedure: K::DiscoverAllDescriptors
                },
                done(K::DiscoverAllDescriptors, 0, 0)
            ]
        );
        // Characteristics 1..3 of the demo table: the declaration at 2 leaves 3.
        start(&mut c, |c, o| c.discover_all_characteristics(1, 3, o));
        let (req, _) = feed(
            &mut c,
            &[0x09, 0x07, 0x02, 0x00, 0x32, 0x03, 0x00, 0x19, 0x2A],
        );
        assert_eq!(req, [0x08, 0x03, 0x00, 0x03, 0x00, 0x03, 0x28]);
        assert_eq!(
            feed(&mut c, &[0x01, 0x08, 0x03, 0x00, 0x0A]).1,
            [done(K::DiscoverAllCharacteristics, 0x0A, 3)]
        );
        // Included services: one record (16-bit UUID) at the end handle.
        start(&mut c, |c, o| c.find_included_services(1, 2, o));
        let (req, ev) = feed(
            &mut c,
            &[0x09, 0x08, 0x02, 0x00, 0x10, 0x00, 0x12, 0x00, 0x0F, 0x18],
        );
        assert!(req.is_empty());
        assert_eq!(ev[1], done(K::FindIncludedServices, 0, 0));
        // Included service with a 128-bit UUID: record without it (6).
        start(&mut c, |c, o| c.find_included_services(1, 9, o));
        let (req, ev) = feed(&mut c, &[0x09, 0x06, 0x02, 0x00, 0x10, 0x00, 0x12, 0x00]);
        assert_eq!(req, [0x08, 0x03, 0x00, 0x09, 0x00, 0x02, 0x28]);
        assert_eq!(
            ev,
            [Results {
                procedure: K::FindIncludedServices
            }]
        );
    }

    #[test]
    fn non_advancing_response_terminates() {
        let mut c = GattClient::new();
        start(&mut c, |c, o| c.discover_all_characteristics(1, 0xFFFF, o));
        feed(
            &mut c,
            &[0x09, 0x07, 0x02, 0x00, 0x32, 0x03, 0x00, 0x19, 0x2A],
        );
        // Asked from 3, the server repeats handle 2.
        let (req, ev) = feed(
            &mut c,
            &[0x09, 0x07, 0x02, 0x00, 0x32, 0x03, 0x00, 0x19, 0x2A],
        );
        assert!(req.is_empty());
        assert_eq!(
            ev,
            [done(
                K::DiscoverAllCharacteristics,
                ERROR_INVALID_RESPONSE,
                3
            )]
        );
        // A service group ending before it starts.
        start(&mut c, |c, o| c.discover_all_primary_services(o));
        let (req, ev) = feed(&mut c, &[0x11, 0x06, 0x05, 0x00, 0x04, 0x00, 0x0F, 0x18]);
        assert!(req.is_empty());
        assert_eq!(
            ev,
            [done(
                K::DiscoverAllPrimaryServices,
                ERROR_INVALID_RESPONSE,
                1
            )]
        );
        // Records out of order within one response.
        start(&mut c, |c, o| c.discover_all_descriptors(1, 9, o));
        let (_, ev) = feed(
            &mut c,
            &[0x05, 0x01, 0x05, 0x00, 0x02, 0x29, 0x04, 0x00, 0x02, 0x29],
        );
        assert_eq!(
            ev,
            [done(K::DiscoverAllDescriptors, ERROR_INVALID_RESPONSE, 1)]
        );
        // Handle beyond the requested end.
        start(&mut c, |c, o| c.discover_all_descriptors(1, 4, o));
        let (_, ev) = feed(&mut c, &[0x05, 0x01, 0x05, 0x00, 0x02, 0x29]);
        assert_eq!(
            ev,
            [done(K::DiscoverAllDescriptors, ERROR_INVALID_RESPONSE, 1)]
        );
        // An endless server that keeps advancing still ends at 0xFFFF.
        start(&mut c, |c, o| c.discover_all_descriptors(1, 0xFFFF, o));
        let mut n = 0;
        let mut h: u16 = 1;
        loop {
            let b = h.to_le_bytes();
            let (req, ev) = feed(&mut c, &[0x05, 0x01, b[0], b[1], 0x02, 0x29]);
            n += 1;
            if req.is_empty() {
                assert_eq!(ev[1], done(K::DiscoverAllDescriptors, 0, 0));
                break;
            }
            h = h.wrapping_add(1);
        }
        assert_eq!(n, 0xFFFF);
    }

    #[test]
    fn malformed_responses() {
        let bad = |c: &mut GattClient, pdu: &[u8], kind: ProcedureKind, handle: u16| {
            let (req, ev) = feed(c, pdu);
            assert!(req.is_empty(), "{pdu:02X?}");
            assert_eq!(
                ev,
                [done(kind, ERROR_INVALID_RESPONSE, handle)],
                "{pdu:02X?}"
            );
        };
        let mut c = GattClient::new();
        let chars = |c: &mut GattClient| {
            start(c, |c, o| c.discover_all_characteristics(1, 0xFFFF, o));
        };
        // pair_len 5 is neither 7 nor 21.
        chars(&mut c);
        bad(
            &mut c,
            &[0x09, 0x05, 0x02, 0x00, 0x32, 0x03, 0x00],
            K::DiscoverAllCharacteristics,
            1,
        );
        // Not a whole number of records.
        chars(&mut c);
        bad(
            &mut c,
            &[0x09, 0x07, 0x02, 0x00, 0x32, 0x03, 0x00, 0x19],
            K::DiscoverAllCharacteristics,
            1,
        );
        // Empty list.
        chars(&mut c);
        bad(&mut c, &[0x09, 0x07], K::DiscoverAllCharacteristics, 1);
        chars(&mut c);
        bad(&mut c, &[0x09], K::DiscoverAllCharacteristics, 1);
        // Find Information format 3.
        start(&mut c, |c, o| c.discover_all_descriptors(1, 9, o));
        bad(
            &mut c,
            &[0x05, 0x03, 0x04, 0x00, 0x02, 0x29],
            K::DiscoverAllDescriptors,
            1,
        );
        // Group length 8 (service UUIDs are 2 or 16 octets).
        start(&mut c, |c, o| c.discover_all_primary_services(o));
        bad(
            &mut c,
            &[0x11, 0x08, 1, 0, 4, 0, 1, 2, 3, 4],
            K::DiscoverAllPrimaryServices,
            1,
        );
        // Included service with start handle 0.
        start(&mut c, |c, o| c.find_included_services(1, 9, o));
        bad(
            &mut c,
            &[0x09, 0x06, 0x02, 0x00, 0x00, 0x00, 0x12, 0x00],
            K::FindIncludedServices,
            1,
        );
        // Exchange MTU Response of 3 octets; Write Response with a body.
        start(&mut c, |c, o| c.exchange_mtu(100, o));
        bad(&mut c, &[0x03, 0x40, 0x00, 0x00], K::ExchangeMtu, 0);
        assert_eq!(c.mtu(), 23);
        start(&mut c, |c, o| c.write(3, &[1], o));
        bad(&mut c, &[0x13, 0x00], K::Write, 3);
        // Read By Type for read_by_uuid with a handle outside the range.
        start(&mut c, |c, o| c.read_by_uuid(1, 2, Uuid::Uuid16(0x2A19), o));
        bad(&mut c, &[0x09, 0x03, 0x03, 0x00, 0x64], K::ReadByUuid, 1);
        // A truncated Error Response naming our request.
        start(&mut c, |c, o| c.read_by_handle(3, 0, false, o));
        bad(&mut c, &[0x01, 0x0A, 0x03], K::ReadByHandle, 3);
        assert_eq!(c.unexpected(), 0);
        // Garbage never panics, in any state.
        let mut rng = 0x1234_5678u32;
        for i in 0..20_000u32 {
            let mut o = [0u8; config::ATT_MTU_MAX];
            if !c.busy() {
                let _ = match i % 7 {
                    0 => c.discover_all_primary_services(&mut o),
                    1 => c.discover_all_characteristics(1, 0xFFFF, &mut o),
                    2 => c.read_by_handle(3, 0, true, &mut o),
                    3 => c.write_long(3, 0, &[0x5A; 100], &mut o),
                    4 => c.discover_all_descriptors(1, 9, &mut o),
                    5 => c.find_included_services(1, 9, &mut o),
                    _ => c.discover_primary_service_by_uuid(Uuid::Uuid16(0x180F), &mut o),
                };
            }
            let mut pdu = [0u8; 24];
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            let len = (rng % 24) as usize;
            for b in pdu.iter_mut() {
                rng ^= rng << 13;
                rng ^= rng >> 17;
                rng ^= rng << 5;
                *b = rng as u8;
            }
            pdu[0] = [
                0x01, 0x03, 0x05, 0x07, 0x09, 0x0B, 0x0D, 0x11, 0x17, 0x19, 0x1B, 0x1D,
            ][(rng % 12) as usize];
            let _ = c.on_pdu(&pdu[..len], &[0x5A; 100], &mut o);
        }
    }

    #[test]
    fn unexpected_responses_are_ignored() {
        let mut c = GattClient::new();
        // Nothing running.
        assert_eq!(feed(&mut c, &[0x0B, 0x01]), (std::vec![], std::vec![]));
        assert_eq!(feed(&mut c, &[0x01, 0x0A, 0x03, 0x00, 0x02]).1, []);
        assert_eq!(c.unexpected(), 2);
        // Wrong response opcode, and an Error Response for another request.
        start(&mut c, |c, o| c.read_by_handle(3, 0, false, o));
        assert_eq!(feed(&mut c, &[0x13]).1, []);
        assert_eq!(feed(&mut c, &[0x01, 0x12, 0x03, 0x00, 0x02]).1, []);
        assert_eq!(feed(&mut c, &[]).1, []);
        assert_eq!(feed(&mut c, &[0x23, 0x03, 0x00, 0x01, 0x00, 0x64]).1, []);
        assert_eq!(c.unexpected(), 6);
        assert!(c.busy());
        // The matching Error Response ends it.
        assert_eq!(
            feed(&mut c, &[0x01, 0x0A, 0x03, 0x00, 0x02]).1,
            [done(K::ReadByHandle, 0x02, 3)]
        );
    }

    #[test]
    fn read_long_across_three_parts() {
        // A 50-octet value at MTU 23: 22 + 22 + 6 (Vol 3 Part G 4.8.3).
        let value: Vec<u8> = (0u8..50).collect();
        let mut c = GattClient::new();
        assert_eq!(
            start(&mut c, |c, o| c.read_by_handle(3, 0, true, o)),
            [0x0A, 0x03, 0x00]
        );
        let mut rsp = std::vec![0x0B];
        rsp.extend_from_slice(&value[..22]);
        let (req, ev) = feed(&mut c, &rsp);
        assert_eq!(req, [0x0C, 0x03, 0x00, 0x16, 0x00]);
        assert_eq!(
            ev,
            [Results {
                procedure: K::ReadByHandle
            }]
        );
        let mut rsp = std::vec![0x0D];
        rsp.extend_from_slice(&value[22..44]);
        let (req, ev) = feed(&mut c, &rsp);
        assert_eq!(req, [0x0C, 0x03, 0x00, 0x2C, 0x00]);
        assert_eq!(
            ev,
            [Results {
                procedure: K::ReadByHandle
            }]
        );
        let mut rsp = std::vec![0x0D];
        rsp.extend_from_slice(&value[44..]);
        let (req, ev) = feed(&mut c, &rsp);
        assert!(req.is_empty());
        assert_eq!(
            ev,
            [
                Results {
                    procedure: K::ReadByHandle
                },
                done(K::ReadByHandle, 0, 0)
            ]
        );

        // Exactly 22 octets: the Read Blob gets Attribute Not Long.
        start(&mut c, |c, o| c.read_by_handle(2, 0, true, o));
        let (req, _) = feed(&mut c, &[0x0B; 23]);
        assert_eq!(req, [0x0C, 0x02, 0x00, 0x16, 0x00]);
        let (req, ev) = feed(&mut c, &[0x01, 0x0C, 0x02, 0x00, 0x0B]);
        assert!(req.is_empty());
        assert_eq!(ev, [done(K::ReadByHandle, 0, 0)]);
        // ...but an error on the first request is an error.
        start(&mut c, |c, o| c.read_by_handle(2, 5, true, o));
        assert_eq!(
            feed(&mut c, &[0x01, 0x0C, 0x02, 0x00, 0x0B]).1,
            [done(K::ReadByHandle, 0x0B, 2)]
        );
        // Not long: one full part ends it.
        start(&mut c, |c, o| c.read_by_handle(3, 0, false, o));
        let (req, ev) = feed(&mut c, &[0x0B; 23]);
        assert!(req.is_empty());
        assert_eq!(ev[1], done(K::ReadByHandle, 0, 0));
        // A server sending full parts forever stops at 512 octets.
        start(&mut c, |c, o| c.read_by_handle(3, 0, true, o));
        assert_eq!(feed(&mut c, &[0x0B; 23]).0, [0x0C, 0x03, 0x00, 0x16, 0x00]);
        // Blobs at 22, 44, ... 506: the one at 506 reaches 512.
        let mut blobs = 1;
        while !feed(&mut c, &[0x0D; 23]).0.is_empty() {
            blobs += 1;
            assert!(blobs < 100, "never ends");
        }
        assert_eq!(blobs, 506 / 22);
        assert!(!c.busy());
    }

    #[test]
    fn write_long_with_echo_check() {
        let value: Vec<u8> = (0u8..50).collect();
        let prep = |off: usize, part: &[u8]| {
            let mut v = std::vec![0x03, 0x00, off as u8, 0x00];
            v.extend_from_slice(part);
            v
        };
        let mut c = GattClient::new();
        let req = start(&mut c, |c, o| c.write_long(3, 0, &value, o));
        assert_eq!(req[1..], prep(0, &value[..18]));
        // The response echoes the request; the next part follows.
        let mut rsp = std::vec![0x17];
        rsp.extend_from_slice(&req[1..]);
        let (req, ev) = feed_w(&mut c, &rsp, &value);
        assert!(ev.is_empty());
        assert_eq!(req[0], 0x16);
        assert_eq!(req[1..], prep(18, &value[18..36]));
        let mut rsp = std::vec![0x17];
        rsp.extend_from_slice(&req[1..]);
        let (req, _) = feed_w(&mut c, &rsp, &value);
        assert_eq!(req[1..], prep(36, &value[36..]));
        let mut rsp = std::vec![0x17];
        rsp.extend_from_slice(&req[1..]);
        // Execute Write, flags 0x01.
        let (req, ev) = feed_w(&mut c, &rsp, &value);
        assert_eq!(req, [0x18, 0x01]);
        assert!(ev.is_empty());
        assert_eq!(c.running(), Some(K::WriteLong));
        let (req, ev) = feed_w(&mut c, &[0x19], &value);
        assert!(req.is_empty());
        assert_eq!(ev, [done(K::WriteLong, 0, 0)]);

        // A wrong echo cancels (flags 0x00) and fails.
        let req = start(&mut c, |c, o| c.write_long(3, 0, &value, o));
        let mut rsp = std::vec![0x17];
        rsp.extend_from_slice(&req[1..]);
        rsp[10] ^= 1;
        let (req, ev) = feed_w(&mut c, &rsp, &value);
        assert_eq!(req, [0x18, 0x00]);
        assert!(ev.is_empty());
        assert_eq!(
            feed_w(&mut c, &[0x19], &value).1,
            [done(K::WriteLong, ERROR_INVALID_RESPONSE, 3)]
        );
        // Wrong offset in the echo.
        let req = start(&mut c, |c, o| c.write_long(3, 0, &value, o));
        let mut rsp = std::vec![0x17];
        rsp.extend_from_slice(&req[1..]);
        rsp[3] = 1;
        assert_eq!(feed_w(&mut c, &rsp, &value).0, [0x18, 0x00]);
        // An error on the cancel still reports the echo failure.
        assert_eq!(
            feed_w(&mut c, &[0x01, 0x18, 0x00, 0x00, 0x0E], &value).1,
            [done(K::WriteLong, ERROR_INVALID_RESPONSE, 3)]
        );
        // Prepare Queue Full: cancel, then the server's code.
        start(&mut c, |c, o| c.write_long(3, 0, &value, o));
        let (req, ev) = feed_w(&mut c, &[0x01, 0x16, 0x03, 0x00, 0x09], &value);
        assert_eq!(req, [0x18, 0x00]);
        assert!(ev.is_empty());
        assert_eq!(
            feed_w(&mut c, &[0x19], &value).1,
            [done(K::WriteLong, 0x09, 3)]
        );
        // An error on Execute Write itself.
        start(&mut c, |c, o| c.write_long(3, 10, &value[..5], o));
        let (_, _) = feed_w(
            &mut c,
            &[0x17, 0x03, 0x00, 0x0A, 0x00, 0, 1, 2, 3, 4],
            &value,
        );
        assert_eq!(
            feed_w(&mut c, &[0x01, 0x18, 0x03, 0x00, 0x0D], &value).1,
            [done(K::WriteLong, 0x0D, 3)]
        );
        // Writes and Write Response.
        start(&mut c, |c, o| c.write(4, &[1, 0], o));
        assert_eq!(
            feed(&mut c, &[0x13]),
            (std::vec![], std::vec![done(K::Write, 0, 0)])
        );
    }

    #[test]
    fn notifications_and_indications() {
        let mut c = GattClient::new();
        assert_eq!(
            feed(&mut c, &[0x1B, 0x03, 0x00, 0x39, 0x39]),
            (std::vec![], std::vec![Notification { handle: 3 }])
        );
        assert_eq!(
            feed(&mut c, &[0x1D, 0x03, 0x00, 0x01]),
            (std::vec![0x1E], std::vec![Indication { handle: 3 }])
        );
        // Also while a procedure runs, which they do not disturb.
        start(&mut c, |c, o| c.read_by_handle(3, 0, false, o));
        assert_eq!(
            feed(&mut c, &[0x1D, 0x0A, 0x00]),
            (std::vec![0x1E], std::vec![Indication { handle: 10 }])
        );
        assert_eq!(c.running(), Some(K::ReadByHandle));
        // Malformed: ignored, no confirmation.
        assert_eq!(feed(&mut c, &[0x1D, 0x0A]), (std::vec![], std::vec![]));
        assert_eq!(feed(&mut c, &[0x1B]), (std::vec![], std::vec![]));
        assert_eq!(c.unexpected(), 2);
    }

    #[test]
    fn timeout() {
        let mut c = GattClient::new();
        assert_eq!(c.on_timeout(), None);
        start(&mut c, |c, o| c.discover_all_primary_services(o));
        assert_eq!(
            c.on_timeout(),
            Some(done(K::DiscoverAllPrimaryServices, ERROR_TIMEOUT, 0))
        );
        assert!(!c.busy());
        // The bearer is dead (Vol 3 Part F 3.3.3).
        let mut o = [0u8; config::ATT_MTU_MAX];
        assert_eq!(
            c.read_by_handle(3, 0, false, &mut o),
            Err(ClientError::TimedOut)
        );
        assert_eq!(
            c.write_without_response(3, &[1], &mut o),
            Err(ClientError::TimedOut)
        );
        // A late response is ignored.
        assert_eq!(
            feed(&mut c, &[0x11, 0x06, 0x01, 0x00, 0x04, 0x00, 0x0F, 0x18]).1,
            []
        );
        c.reset();
        assert!(c.read_by_handle(3, 0, false, &mut o).is_ok());
    }

    #[test]
    fn routing() {
        for op in [
            0x01, 0x03, 0x05, 0x07, 0x09, 0x0B, 0x0D, 0x0F, 0x11, 0x13, 0x17, 0x19, 0x1B, 0x1D,
            0x21, 0x23,
        ] {
            assert!(is_for_client(op), "{op:02X}");
        }
        for op in [
            0x02, 0x04, 0x0A, 0x10, 0x12, 0x16, 0x18, 0x1E, 0x20, 0x52, 0xD2, 0x3F, 0x7F, 0x00,
        ] {
            assert!(!is_for_client(op), "{op:02X}");
        }
    }

    /// Our client against our server with the QuecPython demo table.
    #[test]
    fn round_trip_with_our_server() {
        let mut db = AttributeDb::new();
        let rw = P::READ | P::WRITE;
        db.add_service(Uuid::Uuid16(0x180F), true).unwrap();
        let long: Vec<u8> = (0..244u32).map(|i| i as u8).collect();
        db.add_characteristic(0x32, Uuid::Uuid16(0x2A19), rw, &long, 244)
            .unwrap();
        db.add_descriptor(Uuid::Uuid16(0x2902), rw, &[0; 2], 2)
            .unwrap();
        let mut bearer = AttBearer::new();
        let mut c = GattClient::new();

        // Runs a procedure to its end; returns the server's responses that
        // came with Results, and the final event.
        // The Write Long below runs with this value (outside one, the
        // value handed to on_pdu is not read).
        // 100 octets, or what the server's prepare queue takes at MTU 23.
        let n = (config::ATT_PREPARE_QUEUE * 18).min(100) as u8;
        let new: Vec<u8> = (0..n).rev().collect();
        let mut run = |c: &mut GattClient, first: Vec<u8>| -> (Vec<Vec<u8>>, ClientEvent) {
            let mut req = first;
            let mut results = Vec::new();
            for _ in 0..100 {
                let mut out = [0u8; config::ATT_MTU_MAX];
                let o = handle_pdu(
                    &mut bearer,
                    &mut db,
                    0,
                    LinkSecurity::default(),
                    &req,
                    &mut out,
                );
                let rsp = out[..o.response_len].to_vec();
                let (next, ev) = feed_w(c, &rsp, &new);
                for e in ev {
                    match e {
                        Results { .. } => results.push(rsp.clone()),
                        e => return (results, e),
                    }
                }
                req = next;
            }
            panic!("no end");
        };

        let r = start(&mut c, |c, o| c.discover_all_primary_services(o));
        let (res, end) = run(&mut c, r);
        assert_eq!(
            res,
            [std::vec![0x11, 0x06, 0x01, 0x00, 0x04, 0x00, 0x0F, 0x18]]
        );
        assert_eq!(end, done(K::DiscoverAllPrimaryServices, 0x0A, 5));

        let r = start(&mut c, |c, o| c.discover_all_characteristics(1, 4, o));
        let (res, end) = run(&mut c, r);
        assert_eq!(
            res,
            [std::vec![
                0x09, 0x07, 0x02, 0x00, 0x32, 0x03, 0x00, 0x19, 0x2A
            ]]
        );
        assert_eq!(end, done(K::DiscoverAllCharacteristics, 0x0A, 3));

        let r = start(&mut c, |c, o| c.discover_all_descriptors(4, 4, o));
        let (res, end) = run(&mut c, r);
        assert_eq!(res, [std::vec![0x05, 0x01, 0x04, 0x00, 0x02, 0x29]]);
        assert_eq!(end, done(K::DiscoverAllDescriptors, 0, 0));

        // Read the 244-octet value in parts of 22 and reassemble.
        let r = start(&mut c, |c, o| c.read_by_handle(3, 0, true, o));
        let (res, end) = run(&mut c, r);
        assert_eq!(end, done(K::ReadByHandle, 0, 0));
        let got: Vec<u8> = res.iter().flat_map(|p| p[1..].to_vec()).collect();
        assert_eq!(got, long);
        assert_eq!(res.len(), 244 / 22 + 1);

        // Write the new value with queued writes.
        let r = start(&mut c, |c, o| c.write_long(3, 0, &new, o));
        let (res, end) = run(&mut c, r);
        assert!(res.is_empty());
        assert_eq!(end, done(K::WriteLong, 0, 0));

        // Exchange MTU, then the whole value reads in one response.
        let r = start(&mut c, |c, o| c.exchange_mtu(MTU_MAX, o));
        let (_, end) = run(&mut c, r);
        assert_eq!(end, MtuExchanged { mtu: MTU_MAX });
        let r = start(&mut c, |c, o| c.read_by_handle(3, 0, true, o));
        let (res, end) = run(&mut c, r);
        assert_eq!(res.len(), 1);
        assert_eq!(res[0][1..], new[..]);
        assert_eq!(end, done(K::ReadByHandle, 0, 0));
        assert_eq!(db.value(3), Some(&new[..]));
    }
}
