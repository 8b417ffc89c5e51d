//! Logical Link Control and Adaptation Protocol, LE-U basic mode only
//! (Core spec Vol 3 Part A).
//!
//! Three fixed channels exist on an LE link (Vol 3 Part A 2.1): ATT
//! ([`CID_ATT`]), LE signaling ([`CID_LE_SIGNALING`]) and SMP
//! ([`CID_SMP`]). Their PDUs travel in B-frames (basic information frames,
//! Vol 3 Part A 3.1) that the controller may cut into several ACL packets;
//! [`Reassembler`] puts them back together (Vol 3 Part A 7.2).

use crate::bytes::le_u16_at;
use crate::config;

/// Attribute protocol fixed channel (Vol 3 Part A 2.1, table 2.3).
pub const CID_ATT: u16 = 0x0004;
/// LE signaling fixed channel (Vol 3 Part A 2.1).
pub const CID_LE_SIGNALING: u16 = 0x0005;
/// Security Manager protocol fixed channel (Vol 3 Part A 2.1).
pub const CID_SMP: u16 = 0x0006;

/// Size of the basic L2CAP header: PDU length (2) + channel ID (2)
/// (Vol 3 Part A 3.1).
pub const BASIC_HEADER_LEN: usize = 4;

/// ACL Packet_Boundary_Flag values (Vol 4 Part E 5.4.2).
pub const PB_FIRST_NON_FLUSHABLE: u8 = 0b00;
pub const PB_CONTINUING: u8 = 0b01;
pub const PB_FIRST_FLUSHABLE: u8 = 0b10;

/// Why an ACL fragment was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L2capError {
    /// The B-frame length is larger than `config::L2CAP_PDU_MAX`.
    PduTooLong,
    /// The fragments carry more bytes than the B-frame length says.
    LengthMismatch,
    /// A continuing fragment arrived with no first fragment before it.
    UnexpectedContinuation,
    /// Packet_Boundary_Flag 0b11 is not allowed on LE-U (Vol 4 Part E 5.4.2).
    InvalidPacketBoundary,
}

/// One complete B-frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BasicFrame<'a> {
    pub cid: u16,
    pub payload: &'a [u8],
}

const REASSEMBLY_BUF: usize = BASIC_HEADER_LEN + config::L2CAP_PDU_MAX;

/// Recombines the ACL fragments of one connection into B-frames.
///
/// The B-frame header gives the PDU length, so the frame is complete as soon
/// as `4 + length` bytes have arrived (Vol 3 Part A 7.2.2). Fragments are
/// copied in a fixed buffer; nothing a peer sends can make it panic.
pub struct Reassembler {
    buf: [u8; REASSEMBLY_BUF],
    /// Bytes of the current frame received so far (header included).
    filled: usize,
    /// A first fragment has been seen and the frame is not complete yet.
    in_progress: bool,
    /// Fragments or partial frames thrown away, for diagnostics.
    dropped: u32,
}

impl Default for Reassembler {
    fn default() -> Self {
        Self::new()
    }
}

impl Reassembler {
    pub const fn new() -> Self {
        Reassembler {
            buf: [0; REASSEMBLY_BUF],
            filled: 0,
            in_progress: false,
            dropped: 0,
        }
    }

    /// Forgets any partial frame (on disconnection).
    pub fn reset(&mut self) {
        self.filled = 0;
        self.in_progress = false;
    }

    /// Number of fragments or partial frames dropped since creation.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// True while a first fragment waits for its continuations.
    pub fn in_progress(&self) -> bool {
        self.in_progress
    }

    fn drop_frame(&mut self, err: L2capError) -> Result<Option<BasicFrame<'_>>, L2capError> {
        self.reset();
        self.dropped = self.dropped.wrapping_add(1);
        Err(err)
    }

    /// A first fragment that is a whole B-frame by itself (the usual case:
    /// a PDU no longer than the controller's ACL packets) as [`push`]
    /// would return it, but read in place: nothing is copied into the
    /// buffer. `None`, with nothing changed, for any other packet, which
    /// then goes to [`push`].
    ///
    /// [`push`]: Reassembler::push
    pub fn whole<'a>(&mut self, pb: u8, data: &'a [u8]) -> Option<BasicFrame<'a>> {
        if !matches!(pb, PB_FIRST_NON_FLUSHABLE | PB_FIRST_FLUSHABLE) {
            return None;
        }
        let total = BASIC_HEADER_LEN + usize::from(le_u16_at(data, 0)?);
        if data.len() != total || total > REASSEMBLY_BUF {
            return None;
        }
        let cid = le_u16_at(data, 2)?;
        let payload = data.get(BASIC_HEADER_LEN..)?;
        if self.in_progress {
            // As in `push`: the unfinished frame is discarded.
            self.dropped = self.dropped.wrapping_add(1);
        }
        self.reset();
        Some(BasicFrame { cid, payload })
    }

    /// Feeds the payload of one ACL data packet. `pb` is its
    /// Packet_Boundary_Flag: 0b00 / 0b10 start a new frame, 0b01 continues
    /// the current one. Returns the frame once it is complete.
    pub fn push(&mut self, pb: u8, data: &[u8]) -> Result<Option<BasicFrame<'_>>, L2capError> {
        match pb {
            PB_FIRST_NON_FLUSHABLE | PB_FIRST_FLUSHABLE => {
                if self.in_progress {
                    // A new first fragment means the previous frame will
                    // never be finished (Vol 3 Part A 7.2.2): discard it.
                    self.dropped = self.dropped.wrapping_add(1);
                }
                self.filled = 0;
                self.in_progress = true;
            }
            PB_CONTINUING => {
                if !self.in_progress {
                    self.dropped = self.dropped.wrapping_add(1);
                    return Err(L2capError::UnexpectedContinuation);
                }
            }
            _ => return self.drop_frame(L2capError::InvalidPacketBoundary),
        }

        // The header itself may straddle fragments: only its first 4 bytes
        // are needed before the total length is known.
        let end = match self.filled.checked_add(data.len()) {
            Some(e) => e,
            None => return self.drop_frame(L2capError::PduTooLong),
        };
        if end > REASSEMBLY_BUF {
            // Either the header already announced a longer PDU than we keep
            // or the fragments overflow it; both are too long for us. Tell
            // the two apart for the counter's sake.
            let err = if self.filled >= BASIC_HEADER_LEN && self.expected_total() <= REASSEMBLY_BUF
            {
                L2capError::LengthMismatch
            } else {
                L2capError::PduTooLong
            };
            return self.drop_frame(err);
        }
        if let Some(dst) = self.buf.get_mut(self.filled..end) {
            dst.copy_from_slice(data);
        }
        self.filled = end;

        if self.filled < BASIC_HEADER_LEN {
            return Ok(None);
        }
        let total = self.expected_total();
        if total > REASSEMBLY_BUF {
            return self.drop_frame(L2capError::PduTooLong);
        }
        if self.filled > total {
            // Extra bytes after the PDU: the ACL data does not match the
            // B-frame length (Vol 3 Part A 3.1), so the frame is corrupt.
            return self.drop_frame(L2capError::LengthMismatch);
        }
        if self.filled < total {
            return Ok(None);
        }
        self.in_progress = false;
        self.filled = 0;
        let cid = le_u16_at(&self.buf, 2).unwrap_or(0);
        let payload = self.buf.get(BASIC_HEADER_LEN..total).unwrap_or(&[]);
        Ok(Some(BasicFrame { cid, payload }))
    }

    /// 4 + the PDU length from the header; only valid once 4 bytes are in.
    fn expected_total(&self) -> usize {
        BASIC_HEADER_LEN + usize::from(le_u16_at(&self.buf, 0).unwrap_or(0))
    }
}

/// Writes a B-frame (basic header + payload) into `out`; `None` if `out` is
/// too short or the payload does not fit the 16-bit length field. The
/// host frames in its transmit queue (`AclTxQueue::push_frame`); this
/// reference encoder is what the tests frame with.
#[cfg(test)]
pub fn write_basic_frame(cid: u16, payload: &[u8], out: &mut [u8]) -> Option<usize> {
    use crate::bytes::Writer;
    let len = u16::try_from(payload.len()).ok()?;
    let total = BASIC_HEADER_LEN.checked_add(payload.len())?;
    // Checked first so that nothing is written when the frame does not fit.
    let mut w = Writer::new(out.get_mut(..total)?);
    w.put_u16(len)
        .ok()?
        .put_u16(cid)
        .ok()?
        .put_slice(payload)
        .ok()?;
    Some(w.len())
}

/// LE signaling channel (Vol 3 Part A 4). On LE-U one C-frame carries
/// exactly one command (Vol 3 Part A 4).
pub mod signaling {
    use crate::bytes::{le_u16_at, Overflow, Writer};

    /// Signaling command codes (Vol 3 Part A 4, table 4.2).
    pub const COMMAND_REJECT_RSP: u8 = 0x01;
    pub const CONNECTION_REQ: u8 = 0x02;
    pub const CONNECTION_RSP: u8 = 0x03;
    pub const CONFIGURATION_REQ: u8 = 0x04;
    pub const CONFIGURATION_RSP: u8 = 0x05;
    pub const DISCONNECTION_REQ: u8 = 0x06;
    pub const DISCONNECTION_RSP: u8 = 0x07;
    pub const ECHO_REQ: u8 = 0x08;
    pub const ECHO_RSP: u8 = 0x09;
    pub const INFORMATION_REQ: u8 = 0x0A;
    pub const INFORMATION_RSP: u8 = 0x0B;
    pub const CONNECTION_PARAMETER_UPDATE_REQ: u8 = 0x12;
    pub const CONNECTION_PARAMETER_UPDATE_RSP: u8 = 0x13;
    pub const LE_CREDIT_BASED_CONNECTION_REQ: u8 = 0x14;
    pub const LE_CREDIT_BASED_CONNECTION_RSP: u8 = 0x15;
    pub const FLOW_CONTROL_CREDIT_IND: u8 = 0x16;
    pub const CREDIT_BASED_CONNECTION_REQ: u8 = 0x17;
    pub const CREDIT_BASED_CONNECTION_RSP: u8 = 0x18;
    pub const CREDIT_BASED_RECONFIGURE_REQ: u8 = 0x19;
    pub const CREDIT_BASED_RECONFIGURE_RSP: u8 = 0x1A;

    /// Command Reject reasons (Vol 3 Part A 4.1).
    pub const REJECT_COMMAND_NOT_UNDERSTOOD: u16 = 0x0000;
    pub const REJECT_SIGNALING_MTU_EXCEEDED: u16 = 0x0001;
    pub const REJECT_INVALID_CID: u16 = 0x0002;

    /// Connection Parameter Update Response results (Vol 3 Part A 4.21).
    pub const CONNECTION_PARAMETERS_ACCEPTED: u16 = 0x0000;
    pub const CONNECTION_PARAMETERS_REJECTED: u16 = 0x0001;

    /// What the host must know about a signaling command.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum SignalingEvent {
        /// The peer (a peripheral) asks the central for new parameters
        /// (Vol 3 Part A 4.20); the host answers with
        /// [`write_connection_parameter_update_response`].
        ConnectionParameterUpdateRequest {
            identifier: u8,
            interval_min: u16,
            interval_max: u16,
            latency: u16,
            timeout: u16,
        },
        /// Answer to our request (Vol 3 Part A 4.21).
        ConnectionParameterUpdateResponse { identifier: u8, result: u16 },
        /// The peer did not understand one of our commands (Vol 3 Part A 4.1).
        CommandReject { identifier: u8, reason: u16 },
    }

    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct SignalingOutcome {
        /// Bytes of the response C-frame payload written to `out` (0: none).
        pub response_len: usize,
        pub event: Option<SignalingEvent>,
    }

    fn is_response_or_indication(code: u8) -> bool {
        matches!(
            code,
            COMMAND_REJECT_RSP
                | CONNECTION_RSP
                | CONFIGURATION_RSP
                | DISCONNECTION_RSP
                | ECHO_RSP
                | INFORMATION_RSP
                | 0x0D // Create Channel Response (BR/EDR)
                | 0x0F // Move Channel Response (BR/EDR)
                | 0x11 // Move Channel Confirmation Response (BR/EDR)
                | CONNECTION_PARAMETER_UPDATE_RSP
                | LE_CREDIT_BASED_CONNECTION_RSP
                | FLOW_CONTROL_CREDIT_IND
                | CREDIT_BASED_CONNECTION_RSP
                | CREDIT_BASED_RECONFIGURE_RSP
        )
    }

    fn u16_at(b: &[u8], i: usize) -> u16 {
        le_u16_at(b, i).unwrap_or(0)
    }

    /// Writes one signaling command whose data is 16-bit fields: Code,
    /// Identifier, Length, data (Vol 3 Part A 4). Returns its length, or 0
    /// (nothing written) when `out` is too short.
    fn write_command(code: u8, identifier: u8, data: &[u16], out: &mut [u8]) -> usize {
        let put = |w: &mut Writer<'_>| -> Result<(), Overflow> {
            w.put_u8(code)?.put_u8(identifier)?;
            w.put_u16((2 * data.len()) as u16)?;
            for &v in data {
                w.put_u16(v)?;
            }
            Ok(())
        };
        let Some(dst) = out.get_mut(..4 + 2 * data.len()) else {
            return 0;
        };
        let mut w = Writer::new(dst);
        match put(&mut w) {
            Ok(()) => w.len(),
            Err(Overflow) => 0,
        }
    }

    /// Writes a Command Reject (Vol 3 Part A 4.1); returns its length or 0.
    pub fn write_command_reject(identifier: u8, reason: u16, out: &mut [u8]) -> usize {
        write_command(COMMAND_REJECT_RSP, identifier, &[reason], out)
    }

    /// Handles one C-frame payload received on CID 0x0005.
    ///
    /// Requests we do not implement (credit based channels, echo,
    /// information, unknown codes) get Command Reject "Command not
    /// understood" (Vol 3 Part A 4.1). So does a request whose Length field
    /// does not match its data. Responses, Command Rejects and the Flow
    /// Control Credit indication are never answered: a reject of a reject
    /// could loop forever, and credits for a channel we never opened are
    /// meaningless.
    pub fn handle(pdu: &[u8], out: &mut [u8]) -> SignalingOutcome {
        let mut outcome = SignalingOutcome::default();
        let (code, identifier) = match pdu {
            [c, i, ..] => (*c, *i),
            _ => return outcome, // no identifier to reject with: drop
        };
        let answerable = !is_response_or_indication(code);
        let data = pdu.get(4..);
        let well_formed = match data {
            Some(d) => usize::from(u16_at(pdu, 2)) == d.len(),
            None => false,
        };
        let data = data.unwrap_or(&[]);
        if !well_formed {
            if answerable {
                outcome.response_len =
                    write_command_reject(identifier, REJECT_COMMAND_NOT_UNDERSTOOD, out);
            }
            return outcome;
        }
        match code {
            CONNECTION_PARAMETER_UPDATE_REQ if data.len() == 8 => {
                outcome.event = Some(SignalingEvent::ConnectionParameterUpdateRequest {
                    identifier,
                    interval_min: u16_at(data, 0),
                    interval_max: u16_at(data, 2),
                    latency: u16_at(data, 4),
                    timeout: u16_at(data, 6),
                });
            }
            CONNECTION_PARAMETER_UPDATE_RSP if data.len() == 2 => {
                outcome.event = Some(SignalingEvent::ConnectionParameterUpdateResponse {
                    identifier,
                    result: u16_at(data, 0),
                });
            }
            COMMAND_REJECT_RSP if data.len() >= 2 => {
                outcome.event = Some(SignalingEvent::CommandReject {
                    identifier,
                    reason: u16_at(data, 0),
                });
            }
            _ if answerable => {
                outcome.response_len =
                    write_command_reject(identifier, REJECT_COMMAND_NOT_UNDERSTOOD, out);
            }
            _ => {}
        }
        outcome
    }

    /// Whether a Connection Parameter Update Request (Vol 3 Part A 4.20)
    /// asks for parameters a central may apply. The ranges are the
    /// request's own (interval 6..=3200 in 1.25 ms units, latency
    /// 0..=499, timeout 10..=3200 in 10 ms units; the same as LE
    /// Connection Update, Vol 4 Part E 7.8.18), with `interval_min <=
    /// interval_max`, and the timeout in milliseconds must be larger than
    /// (1 + latency) * interval_max * 2 (Vol 6 Part B 4.5.2), or the link
    /// would be dropped before the peripheral had to listen.
    pub fn connection_parameters_acceptable(
        interval_min: u16,
        interval_max: u16,
        latency: u16,
        timeout: u16,
    ) -> bool {
        const INTERVAL: core::ops::RangeInclusive<u16> = 0x0006..=0x0C80;
        const LATENCY_MAX: u16 = 0x01F3;
        const TIMEOUT: core::ops::RangeInclusive<u16> = 0x000A..=0x0C80;
        // timeout * 10 ms > (1 + latency) * interval_max * 1.25 ms * 2,
        // multiplied by 2/5 to stay in integers.
        let listen_limit = (1 + u32::from(latency)) * u32::from(interval_max);
        INTERVAL.contains(&interval_min)
            && INTERVAL.contains(&interval_max)
            && interval_min <= interval_max
            && latency <= LATENCY_MAX
            && TIMEOUT.contains(&timeout)
            && 4 * u32::from(timeout) > listen_limit
    }

    /// Connection Parameter Update Response (Vol 3 Part A 4.21); returns
    /// the payload length (6) or 0 if `out` is too short.
    pub fn write_connection_parameter_update_response(
        identifier: u8,
        result: u16,
        out: &mut [u8],
    ) -> usize {
        write_command(CONNECTION_PARAMETER_UPDATE_RSP, identifier, &[result], out)
    }

    /// Connection Parameter Update Request (Vol 3 Part A 4.20), sent by a
    /// peripheral; returns the payload length (12) or 0.
    pub fn write_connection_parameter_update_request(
        identifier: u8,
        interval_min: u16,
        interval_max: u16,
        latency: u16,
        timeout: u16,
        out: &mut [u8],
    ) -> usize {
        let data = [interval_min, interval_max, latency, timeout];
        write_command(CONNECTION_PARAMETER_UPDATE_REQ, identifier, &data, out)
    }
}

#[cfg(test)]
mod tests {
    use super::signaling::*;
    use super::*;

    fn frame(cid: u16, payload: &[u8]) -> std::vec::Vec<u8> {
        let mut v = std::vec![0u8; payload.len() + 4];
        assert_eq!(
            write_basic_frame(cid, payload, &mut v),
            Some(payload.len() + 4)
        );
        v
    }

    #[test]
    fn basic_frame_header_bytes() {
        // ATT Exchange MTU Request, MTU 517, on CID 4.
        assert_eq!(
            frame(CID_ATT, &[0x02, 0x05, 0x02]),
            [0x03, 0x00, 0x04, 0x00, 0x02, 0x05, 0x02]
        );
        let mut small = [0u8; 5];
        assert_eq!(write_basic_frame(CID_ATT, &[1, 2], &mut small), None);
    }

    #[test]
    fn whole_pdu_in_one_start_fragment() {
        let mut r = Reassembler::new();
        let f = r
            .push(0b10, &[0x03, 0x00, 0x04, 0x00, 0x02, 0x05, 0x02])
            .unwrap()
            .unwrap();
        assert_eq!(f.cid, CID_ATT);
        assert_eq!(f.payload, &[0x02, 0x05, 0x02]);
        // Non-flushable start works too.
        let f = r
            .push(0b00, &[0x01, 0x00, 0x06, 0x00, 0x05])
            .unwrap()
            .unwrap();
        assert_eq!((f.cid, f.payload), (CID_SMP, &[0x05u8][..]));
    }

    #[test]
    fn whole_reads_in_place_what_push_would_return_and_nothing_else() {
        let max = frame(CID_ATT, &std::vec![0x5Au8; config::L2CAP_PDU_MAX]);
        let big = frame(CID_ATT, &std::vec![0u8; config::L2CAP_PDU_MAX + 1]);
        let cases: [(u8, &[u8]); 9] = [
            (0b10, &[0x03, 0x00, 0x04, 0x00, 0x02, 0x05, 0x02]),
            (0b00, &[0x01, 0x00, 0x06, 0x00, 0x05]),
            (0b00, &[0x00, 0x00, 0x05, 0x00]),
            (0b00, &max),
            // A first fragment only, an extra byte, a short header, a
            // continuation, a bad boundary flag, too long: all to `push`.
            (0b00, &[0x03, 0x00, 0x04, 0x00, 0x02]),
            (0b00, &[0x01, 0x00, 0x04, 0x00, 0x02, 0x03]),
            (0b00, &[0x01, 0x00]),
            (0b01, &[0x01, 0x00, 0x04, 0x00, 0x02]),
            (0b11, &[0x01, 0x00, 0x04, 0x00, 0x02]),
        ];
        for (pb, data) in cases.iter().copied().chain([(0b00, &big[..])]) {
            // From idle, and with a frame in progress (which both drop).
            for pending in [false, true] {
                let mut a = Reassembler::new();
                let mut b = Reassembler::new();
                if pending {
                    a.push(0b00, &[0x10, 0x00, 0x04, 0x00]).unwrap();
                    b.push(0b00, &[0x10, 0x00, 0x04, 0x00]).unwrap();
                }
                let fast = a.whole(pb, data).map(|f| (f.cid, f.payload.to_vec()));
                let slow = b
                    .push(pb, data)
                    .map(|f| f.map(|f| (f.cid, f.payload.to_vec())));
                match fast {
                    Some(f) => {
                        assert_eq!(slow, Ok(Some(f)), "{pb} {data:?}");
                        assert_eq!(a.dropped(), b.dropped());
                        assert_eq!(a.in_progress(), b.in_progress());
                    }
                    // Untouched: `push` then does the work, and finds no
                    // whole frame either.
                    None => {
                        assert_eq!(a.dropped(), 0);
                        assert_eq!(a.in_progress(), pending);
                        assert!(!matches!(slow, Ok(Some(_))), "{pb} {data:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn first_plus_continuations() {
        let payload: std::vec::Vec<u8> = (0..100u8).collect();
        let f = frame(CID_ATT, &payload);
        let mut r = Reassembler::new();
        assert_eq!(r.push(0b10, &f[..2]), Ok(None)); // header straddles
        assert_eq!(r.push(0b01, &f[2..27]), Ok(None));
        assert_eq!(r.push(0b01, &f[27..80]), Ok(None));
        let got = r.push(0b01, &f[80..]).unwrap().unwrap();
        assert_eq!(got.cid, CID_ATT);
        assert_eq!(got.payload, &payload[..]);
        assert!(!r.in_progress());
        assert_eq!(r.dropped(), 0);
    }

    #[test]
    fn oversized_pdu_is_dropped() {
        let mut r = Reassembler::new();
        let len = (config::L2CAP_PDU_MAX + 1) as u16;
        let mut hdr = std::vec::Vec::from(len.to_le_bytes());
        hdr.extend_from_slice(&[0x04, 0x00, 0xAA]);
        assert_eq!(r.push(0b10, &hdr), Err(L2capError::PduTooLong));
        assert!(!r.in_progress());
        // The continuation that follows is then stray.
        assert_eq!(
            r.push(0b01, &[0; 10]),
            Err(L2capError::UnexpectedContinuation)
        );
        // And the largest allowed PDU still works.
        let max = std::vec![0x5Au8; config::L2CAP_PDU_MAX];
        let f = frame(CID_ATT, &max);
        assert_eq!(
            r.push(0b10, &f).unwrap().unwrap().payload.len(),
            config::L2CAP_PDU_MAX
        );
    }

    #[test]
    fn extra_bytes_are_an_error() {
        let mut r = Reassembler::new();
        assert_eq!(
            r.push(0b10, &[0x01, 0x00, 0x04, 0x00, 0x1E, 0xFF]),
            Err(L2capError::LengthMismatch)
        );
        assert_eq!(r.push(0b10, &[0x03, 0x00, 0x04, 0x00, 0x0A]), Ok(None));
        assert_eq!(
            r.push(0b01, &[0x01, 0x00, 0x99]),
            Err(L2capError::LengthMismatch)
        );
        assert_eq!(r.dropped(), 2);
    }

    #[test]
    fn stray_continuation_and_restart() {
        let mut r = Reassembler::new();
        assert_eq!(
            r.push(0b01, &[1, 2, 3]),
            Err(L2capError::UnexpectedContinuation)
        );
        // Start a frame, then a new start discards it.
        assert_eq!(r.push(0b10, &[0x05, 0x00, 0x04, 0x00, 0x0A]), Ok(None));
        let f = r
            .push(0b10, &[0x03, 0x00, 0x04, 0x00, 0x0A, 0x03, 0x00])
            .unwrap()
            .unwrap();
        assert_eq!(f.payload, &[0x0A, 0x03, 0x00]);
        assert_eq!(r.dropped(), 2);
        assert_eq!(
            r.push(0b11, &[0; 4]),
            Err(L2capError::InvalidPacketBoundary)
        );
        // Zero-length B-frame is legal.
        let f = r.push(0b10, &[0, 0, 0x05, 0x00]).unwrap().unwrap();
        assert_eq!((f.cid, f.payload.len()), (CID_LE_SIGNALING, 0));
    }

    #[test]
    fn signaling_connection_parameter_update_request_is_reported() {
        // code 0x12, id 7, len 8, min 6, max 12, latency 0, timeout 500
        let pdu = [
            0x12, 0x07, 0x08, 0x00, 0x06, 0x00, 0x0C, 0x00, 0x00, 0x00, 0xF4, 0x01,
        ];
        let mut out = [0u8; 64];
        let o = handle(&pdu, &mut out);
        assert_eq!(o.response_len, 0);
        assert_eq!(
            o.event,
            Some(SignalingEvent::ConnectionParameterUpdateRequest {
                identifier: 7,
                interval_min: 6,
                interval_max: 12,
                latency: 0,
                timeout: 500
            })
        );
        let n = write_connection_parameter_update_response(7, 0x0000, &mut out);
        assert_eq!(&out[..n], &[0x13, 0x07, 0x02, 0x00, 0x00, 0x00]);
        let n = write_connection_parameter_update_request(1, 6, 12, 0, 500, &mut out);
        assert_eq!(
            &out[..n],
            &[0x12, 0x01, 0x08, 0x00, 0x06, 0x00, 0x0C, 0x00, 0x00, 0x00, 0xF4, 0x01]
        );
    }

    #[test]
    fn connection_parameter_limits() {
        // (interval min, max, latency, timeout): each limit and one past it.
        assert!(connection_parameters_acceptable(6, 6, 0, 10));
        assert!(!connection_parameters_acceptable(5, 6, 0, 10));
        assert!(connection_parameters_acceptable(3200, 3200, 0, 3200));
        assert!(!connection_parameters_acceptable(3200, 3201, 0, 3200));
        assert!(!connection_parameters_acceptable(41, 40, 0, 100));
        assert!(connection_parameters_acceptable(6, 6, 499, 3200));
        assert!(!connection_parameters_acceptable(6, 6, 500, 3200));
        assert!(!connection_parameters_acceptable(6, 6, 0, 9));
        assert!(!connection_parameters_acceptable(6, 6, 0, 3201));
        // 100 ms timeout vs (1 + 0) * 50 ms * 2 = 100 ms: must be larger.
        assert!(!connection_parameters_acceptable(40, 40, 0, 10));
        assert!(connection_parameters_acceptable(40, 40, 0, 11));
        // No overflow at the extremes.
        assert!(!connection_parameters_acceptable(
            u16::MAX,
            u16::MAX,
            u16::MAX,
            u16::MAX
        ));
    }

    #[test]
    fn signaling_rejects_unsupported_and_malformed() {
        let mut out = [0u8; 64];
        // LE Credit Based Connection Request (SPSM 0x0080, CID 0x40, MTU 23, MPS 23, credits 1)
        let req = [
            0x14, 0x03, 0x0A, 0x00, 0x80, 0x00, 0x40, 0x00, 0x17, 0x00, 0x17, 0x00, 0x01, 0x00,
        ];
        let o = handle(&req, &mut out);
        assert_eq!(
            &out[..o.response_len],
            &[0x01, 0x03, 0x02, 0x00, 0x00, 0x00]
        );
        assert_eq!(o.event, None);
        // Unknown code 0x7F.
        let o = handle(&[0x7F, 0x09, 0x00, 0x00], &mut out);
        assert_eq!(
            &out[..o.response_len],
            &[0x01, 0x09, 0x02, 0x00, 0x00, 0x00]
        );
        // Length field lies.
        let o = handle(&[0x12, 0x04, 0x08, 0x00, 0x06, 0x00], &mut out);
        assert_eq!(
            &out[..o.response_len],
            &[0x01, 0x04, 0x02, 0x00, 0x00, 0x00]
        );
        // Update request with wrong data length.
        let o = handle(&[0x12, 0x05, 0x02, 0x00, 0x06, 0x00], &mut out);
        assert_eq!(
            &out[..o.response_len],
            &[0x01, 0x05, 0x02, 0x00, 0x00, 0x00]
        );
        // Truncated header: nothing.
        assert_eq!(handle(&[0x12], &mut out), SignalingOutcome::default());
    }

    #[test]
    fn signaling_never_answers_responses_or_rejects() {
        let mut out = [0u8; 64];
        let o = handle(&[0x01, 0x02, 0x02, 0x00, 0x00, 0x00], &mut out);
        assert_eq!(o.response_len, 0);
        assert_eq!(
            o.event,
            Some(SignalingEvent::CommandReject {
                identifier: 2,
                reason: 0
            })
        );
        let o = handle(&[0x13, 0x02, 0x02, 0x00, 0x01, 0x00], &mut out);
        assert_eq!(o.response_len, 0);
        assert_eq!(
            o.event,
            Some(SignalingEvent::ConnectionParameterUpdateResponse {
                identifier: 2,
                result: 1
            })
        );
        // Malformed response: dropped silently.
        assert_eq!(
            handle(&[0x13, 0x02, 0x05, 0x00, 0x01], &mut out),
            SignalingOutcome::default()
        );
        // Flow control credit indication for an unknown channel: ignored.
        assert_eq!(
            handle(&[0x16, 0x02, 0x04, 0x00, 0x40, 0x00, 0x01, 0x00], &mut out),
            SignalingOutcome::default()
        );
    }
}
