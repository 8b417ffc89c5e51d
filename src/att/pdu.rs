//! ATT PDUs: opcodes, error codes and a codec for every PDU in both
//! directions (Core spec Vol 3 Part F 3.3 and 3.4).
//!
//! [`AttPdu::decode`] borrows variable-length parts from the input;
//! [`AttPdu::encode`] writes the same bytes back. Decoding only checks the
//! format of the PDU (lengths, UUID sizes, list record sizes); what the
//! values mean is for the server or client to judge.

use crate::bytes::{self, le_u16_at, Overflow};
use crate::uuid::Uuid;

// Opcodes (Vol 3 Part F 3.4.8, table 3.37). Bit 6 is the Command Flag and
// bit 7 the Authentication Signature Flag (Vol 3 Part F 3.3.1).
pub const ATT_ERROR_RSP: u8 = 0x01;
pub const ATT_EXCHANGE_MTU_REQ: u8 = 0x02;
pub const ATT_EXCHANGE_MTU_RSP: u8 = 0x03;
pub const ATT_FIND_INFORMATION_REQ: u8 = 0x04;
pub const ATT_FIND_INFORMATION_RSP: u8 = 0x05;
pub const ATT_FIND_BY_TYPE_VALUE_REQ: u8 = 0x06;
pub const ATT_FIND_BY_TYPE_VALUE_RSP: u8 = 0x07;
pub const ATT_READ_BY_TYPE_REQ: u8 = 0x08;
pub const ATT_READ_BY_TYPE_RSP: u8 = 0x09;
pub const ATT_READ_REQ: u8 = 0x0A;
pub const ATT_READ_RSP: u8 = 0x0B;
pub const ATT_READ_BLOB_REQ: u8 = 0x0C;
pub const ATT_READ_BLOB_RSP: u8 = 0x0D;
pub const ATT_READ_MULTIPLE_REQ: u8 = 0x0E;
pub const ATT_READ_MULTIPLE_RSP: u8 = 0x0F;
pub const ATT_READ_BY_GROUP_TYPE_REQ: u8 = 0x10;
pub const ATT_READ_BY_GROUP_TYPE_RSP: u8 = 0x11;
pub const ATT_WRITE_REQ: u8 = 0x12;
pub const ATT_WRITE_RSP: u8 = 0x13;
pub const ATT_PREPARE_WRITE_REQ: u8 = 0x16;
pub const ATT_PREPARE_WRITE_RSP: u8 = 0x17;
pub const ATT_EXECUTE_WRITE_REQ: u8 = 0x18;
pub const ATT_EXECUTE_WRITE_RSP: u8 = 0x19;
pub const ATT_READ_MULTIPLE_VARIABLE_REQ: u8 = 0x20;
pub const ATT_READ_MULTIPLE_VARIABLE_RSP: u8 = 0x21;
pub const ATT_MULTIPLE_HANDLE_VALUE_NTF: u8 = 0x23;
pub const ATT_HANDLE_VALUE_NTF: u8 = 0x1B;
pub const ATT_HANDLE_VALUE_IND: u8 = 0x1D;
pub const ATT_HANDLE_VALUE_CFM: u8 = 0x1E;
pub const ATT_WRITE_CMD: u8 = 0x52;
pub const ATT_SIGNED_WRITE_CMD: u8 = 0xD2;

/// Command Flag of the opcode (Vol 3 Part F 3.3.1).
pub const COMMAND_FLAG: u8 = 0x40;
/// Authentication Signature Flag of the opcode (Vol 3 Part F 3.3.1).
pub const AUTHENTICATION_SIGNATURE_FLAG: u8 = 0x80;
/// Length of the Authentication Signature of a signed write (Vol 3 Part F
/// 3.4.5.4).
pub const SIGNATURE_LEN: usize = 12;

/// Error codes (Vol 3 Part F 3.4.1.1, table 3.4; Core Specification
/// Supplement Part B 1.2 for the common profile codes 0xFC..0xFF).
pub mod error {
    pub const INVALID_HANDLE: u8 = 0x01;
    pub const READ_NOT_PERMITTED: u8 = 0x02;
    pub const WRITE_NOT_PERMITTED: u8 = 0x03;
    pub const INVALID_PDU: u8 = 0x04;
    pub const INSUFFICIENT_AUTHENTICATION: u8 = 0x05;
    pub const REQUEST_NOT_SUPPORTED: u8 = 0x06;
    pub const INVALID_OFFSET: u8 = 0x07;
    pub const INSUFFICIENT_AUTHORIZATION: u8 = 0x08;
    pub const PREPARE_QUEUE_FULL: u8 = 0x09;
    pub const ATTRIBUTE_NOT_FOUND: u8 = 0x0A;
    pub const ATTRIBUTE_NOT_LONG: u8 = 0x0B;
    pub const INSUFFICIENT_ENCRYPTION_KEY_SIZE: u8 = 0x0C;
    pub const INVALID_ATTRIBUTE_VALUE_LENGTH: u8 = 0x0D;
    pub const UNLIKELY_ERROR: u8 = 0x0E;
    pub const INSUFFICIENT_ENCRYPTION: u8 = 0x0F;
    pub const UNSUPPORTED_GROUP_TYPE: u8 = 0x10;
    pub const INSUFFICIENT_RESOURCES: u8 = 0x11;
    pub const DATABASE_OUT_OF_SYNC: u8 = 0x12;
    pub const VALUE_NOT_ALLOWED: u8 = 0x13;
    /// First application error code (0x80..=0x9F are the application's).
    pub const APPLICATION_ERROR: u8 = 0x80;
    pub const WRITE_REQUEST_REJECTED: u8 = 0xFC;
    pub const CCCD_IMPROPERLY_CONFIGURED: u8 = 0xFD;
    pub const PROCEDURE_ALREADY_IN_PROGRESS: u8 = 0xFE;
    pub const OUT_OF_RANGE: u8 = 0xFF;
}

/// Find Information Response formats (Vol 3 Part F 3.4.3.2).
pub const FORMAT_UUID16: u8 = 0x01;
pub const FORMAT_UUID128: u8 = 0x02;

/// Execute Write Request flags (Vol 3 Part F 3.4.6.3).
pub const EXECUTE_WRITE_CANCEL: u8 = 0x00;
pub const EXECUTE_WRITE_IMMEDIATELY: u8 = 0x01;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// No opcode at all.
    Empty,
    /// An opcode this codec does not know.
    UnknownOpcode(u8),
    /// Known opcode with a malformed body (wrong length, bad UUID size,
    /// list not made of whole records...).
    Malformed(u8),
}

/// One ATT PDU. Variable parts borrow from the decoded buffer.
///
/// List bodies (Find Information, Find By Type Value, Read By Type, Read By
/// Group Type, Read Multiple Variable responses and the Multiple Handle
/// Value notification) are kept as raw bytes: their record layout is given
/// in the variant's doc and checked by `decode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttPdu<'a> {
    /// Vol 3 Part F 3.4.1.1.
    ErrorRsp {
        request_opcode: u8,
        handle: u16,
        error_code: u8,
    },
    /// Vol 3 Part F 3.4.2.1.
    ExchangeMtuReq { client_rx_mtu: u16 },
    /// Vol 3 Part F 3.4.2.2.
    ExchangeMtuRsp { server_rx_mtu: u16 },
    /// Vol 3 Part F 3.4.3.1.
    FindInformationReq { start: u16, end: u16 },
    /// Vol 3 Part F 3.4.3.2: `data` is (handle, UUID) pairs, 4 bytes each for
    /// format 1, 18 for format 2.
    FindInformationRsp { format: u8, data: &'a [u8] },
    /// Vol 3 Part F 3.4.3.3.
    FindByTypeValueReq {
        start: u16,
        end: u16,
        attribute_type: u16,
        value: &'a [u8],
    },
    /// Vol 3 Part F 3.4.3.4: `data` is (found handle, group end handle)
    /// pairs, 4 bytes each.
    FindByTypeValueRsp { data: &'a [u8] },
    /// Vol 3 Part F 3.4.4.1.
    ReadByTypeReq {
        start: u16,
        end: u16,
        attribute_type: Uuid,
    },
    /// Vol 3 Part F 3.4.4.2: `data` is records of `length` bytes (handle +
    /// value).
    ReadByTypeRsp { length: u8, data: &'a [u8] },
    /// Vol 3 Part F 3.4.4.3.
    ReadReq { handle: u16 },
    /// Vol 3 Part F 3.4.4.4.
    ReadRsp { value: &'a [u8] },
    /// Vol 3 Part F 3.4.4.5.
    ReadBlobReq { handle: u16, offset: u16 },
    /// Vol 3 Part F 3.4.4.6.
    ReadBlobRsp { value: &'a [u8] },
    /// Vol 3 Part F 3.4.4.7: `handles` is two or more LE u16 handles.
    ReadMultipleReq { handles: &'a [u8] },
    /// Vol 3 Part F 3.4.4.8.
    ReadMultipleRsp { values: &'a [u8] },
    /// Vol 3 Part F 3.4.4.9.
    ReadByGroupTypeReq {
        start: u16,
        end: u16,
        group_type: Uuid,
    },
    /// Vol 3 Part F 3.4.4.10: `data` is records of `length` bytes (handle,
    /// end group handle, value).
    ReadByGroupTypeRsp { length: u8, data: &'a [u8] },
    /// Vol 3 Part F 3.4.4.11: two or more LE u16 handles.
    ReadMultipleVariableReq { handles: &'a [u8] },
    /// Vol 3 Part F 3.4.4.12: (length u16, value) tuples.
    ReadMultipleVariableRsp { data: &'a [u8] },
    /// Vol 3 Part F 3.4.5.1.
    WriteReq { handle: u16, value: &'a [u8] },
    /// Vol 3 Part F 3.4.5.2.
    WriteRsp,
    /// Vol 3 Part F 3.4.5.3.
    WriteCmd { handle: u16, value: &'a [u8] },
    /// Vol 3 Part F 3.4.5.4.
    SignedWriteCmd {
        handle: u16,
        value: &'a [u8],
        signature: &'a [u8; SIGNATURE_LEN],
    },
    /// Vol 3 Part F 3.4.6.1.
    PrepareWriteReq {
        handle: u16,
        offset: u16,
        value: &'a [u8],
    },
    /// Vol 3 Part F 3.4.6.2.
    PrepareWriteRsp {
        handle: u16,
        offset: u16,
        value: &'a [u8],
    },
    /// Vol 3 Part F 3.4.6.3.
    ExecuteWriteReq { flags: u8 },
    /// Vol 3 Part F 3.4.6.4.
    ExecuteWriteRsp,
    /// Vol 3 Part F 3.4.7.1.
    HandleValueNtf { handle: u16, value: &'a [u8] },
    /// Vol 3 Part F 3.4.7.2.
    HandleValueInd { handle: u16, value: &'a [u8] },
    /// Vol 3 Part F 3.4.7.3.
    HandleValueCfm,
    /// Vol 3 Part F 3.4.7.4: (handle u16, length u16, value) tuples.
    MultipleHandleValueNtf { data: &'a [u8] },
}

/// Checks that `data` is a list of (length u16, value) tuples, with
/// `prefix` bytes before each length (Vol 3 Part F 3.4.7.4).
fn valid_tuples(data: &[u8], prefix: usize) -> bool {
    let mut rest = data;
    while !rest.is_empty() {
        let hdr = prefix + 2;
        if rest.len() < hdr {
            return false;
        }
        let Some(len) = le_u16_at(rest, prefix).map(usize::from) else {
            return false;
        };
        match rest.get(hdr + len..) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    true
}

impl<'a> AttPdu<'a> {
    /// The opcode of this PDU.
    pub fn opcode(&self) -> u8 {
        match self {
            AttPdu::ErrorRsp { .. } => ATT_ERROR_RSP,
            AttPdu::ExchangeMtuReq { .. } => ATT_EXCHANGE_MTU_REQ,
            AttPdu::ExchangeMtuRsp { .. } => ATT_EXCHANGE_MTU_RSP,
            AttPdu::FindInformationReq { .. } => ATT_FIND_INFORMATION_REQ,
            AttPdu::FindInformationRsp { .. } => ATT_FIND_INFORMATION_RSP,
            AttPdu::FindByTypeValueReq { .. } => ATT_FIND_BY_TYPE_VALUE_REQ,
            AttPdu::FindByTypeValueRsp { .. } => ATT_FIND_BY_TYPE_VALUE_RSP,
            AttPdu::ReadByTypeReq { .. } => ATT_READ_BY_TYPE_REQ,
            AttPdu::ReadByTypeRsp { .. } => ATT_READ_BY_TYPE_RSP,
            AttPdu::ReadReq { .. } => ATT_READ_REQ,
            AttPdu::ReadRsp { .. } => ATT_READ_RSP,
            AttPdu::ReadBlobReq { .. } => ATT_READ_BLOB_REQ,
            AttPdu::ReadBlobRsp { .. } => ATT_READ_BLOB_RSP,
            AttPdu::ReadMultipleReq { .. } => ATT_READ_MULTIPLE_REQ,
            AttPdu::ReadMultipleRsp { .. } => ATT_READ_MULTIPLE_RSP,
            AttPdu::ReadByGroupTypeReq { .. } => ATT_READ_BY_GROUP_TYPE_REQ,
            AttPdu::ReadByGroupTypeRsp { .. } => ATT_READ_BY_GROUP_TYPE_RSP,
            AttPdu::ReadMultipleVariableReq { .. } => ATT_READ_MULTIPLE_VARIABLE_REQ,
            AttPdu::ReadMultipleVariableRsp { .. } => ATT_READ_MULTIPLE_VARIABLE_RSP,
            AttPdu::WriteReq { .. } => ATT_WRITE_REQ,
            AttPdu::WriteRsp => ATT_WRITE_RSP,
            AttPdu::WriteCmd { .. } => ATT_WRITE_CMD,
            AttPdu::SignedWriteCmd { .. } => ATT_SIGNED_WRITE_CMD,
            AttPdu::PrepareWriteReq { .. } => ATT_PREPARE_WRITE_REQ,
            AttPdu::PrepareWriteRsp { .. } => ATT_PREPARE_WRITE_RSP,
            AttPdu::ExecuteWriteReq { .. } => ATT_EXECUTE_WRITE_REQ,
            AttPdu::ExecuteWriteRsp => ATT_EXECUTE_WRITE_RSP,
            AttPdu::HandleValueNtf { .. } => ATT_HANDLE_VALUE_NTF,
            AttPdu::HandleValueInd { .. } => ATT_HANDLE_VALUE_IND,
            AttPdu::HandleValueCfm => ATT_HANDLE_VALUE_CFM,
            AttPdu::MultipleHandleValueNtf { .. } => ATT_MULTIPLE_HANDLE_VALUE_NTF,
        }
    }

    /// Parses one ATT PDU (opcode + parameters).
    pub fn decode(pdu: &'a [u8]) -> Result<AttPdu<'a>, DecodeError> {
        let (&op, p) = pdu.split_first().ok_or(DecodeError::Empty)?;
        let bad = DecodeError::Malformed(op);
        // Fixed-size parameters must be exactly that size (Vol 3 Part F
        // 3.4: each PDU lists its parameters; anything else is an invalid
        // PDU).
        let exact = |n: usize| if p.len() == n { Ok(()) } else { Err(bad) };
        let at_least = |n: usize| if p.len() >= n { Ok(()) } else { Err(bad) };
        let tail = |n: usize| p.get(n..).unwrap_or(&[]);
        // Only read after the length checks above; 0 would stand in for a
        // missing field rather than a panic.
        let u16_at = |i: usize| le_u16_at(p, i).unwrap_or(0);
        Ok(match op {
            ATT_ERROR_RSP => {
                exact(4)?;
                AttPdu::ErrorRsp {
                    request_opcode: p[0],
                    handle: u16_at(1),
                    error_code: p[3],
                }
            }
            ATT_EXCHANGE_MTU_REQ => {
                exact(2)?;
                AttPdu::ExchangeMtuReq {
                    client_rx_mtu: u16_at(0),
                }
            }
            ATT_EXCHANGE_MTU_RSP => {
                exact(2)?;
                AttPdu::ExchangeMtuRsp {
                    server_rx_mtu: u16_at(0),
                }
            }
            ATT_FIND_INFORMATION_REQ => {
                exact(4)?;
                AttPdu::FindInformationReq {
                    start: u16_at(0),
                    end: u16_at(2),
                }
            }
            ATT_FIND_INFORMATION_RSP => {
                at_least(1)?;
                let format = p[0];
                let data = tail(1);
                let rec = match format {
                    FORMAT_UUID16 => 4,
                    FORMAT_UUID128 => 18,
                    _ => return Err(bad),
                };
                if data.is_empty() || data.len() % rec != 0 {
                    return Err(bad);
                }
                AttPdu::FindInformationRsp { format, data }
            }
            ATT_FIND_BY_TYPE_VALUE_REQ => {
                at_least(6)?;
                AttPdu::FindByTypeValueReq {
                    start: u16_at(0),
                    end: u16_at(2),
                    attribute_type: u16_at(4),
                    value: tail(6),
                }
            }
            ATT_FIND_BY_TYPE_VALUE_RSP => {
                if p.is_empty() || p.len() % 4 != 0 {
                    return Err(bad);
                }
                AttPdu::FindByTypeValueRsp { data: p }
            }
            ATT_READ_BY_TYPE_REQ | ATT_READ_BY_GROUP_TYPE_REQ => {
                at_least(4)?;
                let uuid = Uuid::from_le_bytes(tail(4)).ok_or(bad)?;
                let (start, end) = (u16_at(0), u16_at(2));
                if op == ATT_READ_BY_TYPE_REQ {
                    AttPdu::ReadByTypeReq {
                        start,
                        end,
                        attribute_type: uuid,
                    }
                } else {
                    AttPdu::ReadByGroupTypeReq {
                        start,
                        end,
                        group_type: uuid,
                    }
                }
            }
            ATT_READ_BY_TYPE_RSP | ATT_READ_BY_GROUP_TYPE_RSP => {
                at_least(1)?;
                let length = p[0];
                let data = tail(1);
                let min = if op == ATT_READ_BY_TYPE_RSP { 2 } else { 4 };
                let rec = usize::from(length);
                if rec < min || data.is_empty() || data.len() % rec != 0 {
                    return Err(bad);
                }
                if op == ATT_READ_BY_TYPE_RSP {
                    AttPdu::ReadByTypeRsp { length, data }
                } else {
                    AttPdu::ReadByGroupTypeRsp { length, data }
                }
            }
            ATT_READ_REQ => {
                exact(2)?;
                AttPdu::ReadReq { handle: u16_at(0) }
            }
            ATT_READ_RSP => AttPdu::ReadRsp { value: p },
            ATT_READ_BLOB_REQ => {
                exact(4)?;
                AttPdu::ReadBlobReq {
                    handle: u16_at(0),
                    offset: u16_at(2),
                }
            }
            ATT_READ_BLOB_RSP => AttPdu::ReadBlobRsp { value: p },
            ATT_READ_MULTIPLE_REQ | ATT_READ_MULTIPLE_VARIABLE_REQ => {
                // "Set Of Handles": two or more (Vol 3 Part F 3.4.4.7).
                if p.len() < 4 || p.len() % 2 != 0 {
                    return Err(bad);
                }
                if op == ATT_READ_MULTIPLE_REQ {
                    AttPdu::ReadMultipleReq { handles: p }
                } else {
                    AttPdu::ReadMultipleVariableReq { handles: p }
                }
            }
            ATT_READ_MULTIPLE_RSP => AttPdu::ReadMultipleRsp { values: p },
            // The tuple list is cut at ATT_MTU-1 octets wherever that falls,
            // even inside a Length field (Vol 3 Part F 3.4.4.12), so any
            // body is well-formed.
            ATT_READ_MULTIPLE_VARIABLE_RSP => AttPdu::ReadMultipleVariableRsp { data: p },
            ATT_MULTIPLE_HANDLE_VALUE_NTF => {
                if p.is_empty() || !valid_tuples(p, 2) {
                    return Err(bad);
                }
                AttPdu::MultipleHandleValueNtf { data: p }
            }
            ATT_WRITE_REQ | ATT_WRITE_CMD | ATT_HANDLE_VALUE_NTF | ATT_HANDLE_VALUE_IND => {
                at_least(2)?;
                let handle = u16_at(0);
                let value = tail(2);
                match op {
                    ATT_WRITE_REQ => AttPdu::WriteReq { handle, value },
                    ATT_WRITE_CMD => AttPdu::WriteCmd { handle, value },
                    ATT_HANDLE_VALUE_NTF => AttPdu::HandleValueNtf { handle, value },
                    _ => AttPdu::HandleValueInd { handle, value },
                }
            }
            ATT_SIGNED_WRITE_CMD => {
                at_least(2 + SIGNATURE_LEN)?;
                let split = p.len() - SIGNATURE_LEN;
                let value = p.get(2..split).ok_or(bad)?;
                let signature: &[u8; SIGNATURE_LEN] =
                    p.get(split..).and_then(|s| s.try_into().ok()).ok_or(bad)?;
                AttPdu::SignedWriteCmd {
                    handle: u16_at(0),
                    value,
                    signature,
                }
            }
            ATT_PREPARE_WRITE_REQ | ATT_PREPARE_WRITE_RSP => {
                at_least(4)?;
                let (handle, offset, value) = (u16_at(0), u16_at(2), tail(4));
                if op == ATT_PREPARE_WRITE_REQ {
                    AttPdu::PrepareWriteReq {
                        handle,
                        offset,
                        value,
                    }
                } else {
                    AttPdu::PrepareWriteRsp {
                        handle,
                        offset,
                        value,
                    }
                }
            }
            ATT_EXECUTE_WRITE_REQ => {
                exact(1)?;
                AttPdu::ExecuteWriteReq { flags: p[0] }
            }
            ATT_WRITE_RSP | ATT_EXECUTE_WRITE_RSP | ATT_HANDLE_VALUE_CFM => {
                exact(0)?;
                match op {
                    ATT_WRITE_RSP => AttPdu::WriteRsp,
                    ATT_EXECUTE_WRITE_RSP => AttPdu::ExecuteWriteRsp,
                    _ => AttPdu::HandleValueCfm,
                }
            }
            _ => return Err(DecodeError::UnknownOpcode(op)),
        })
    }

    /// Writes the PDU into `out`; `None` if it does not fit.
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let mut w = bytes::Writer::new(out);
        self.encode_into(&mut w).ok()?;
        Some(w.len())
    }

    fn encode_into(&self, w: &mut bytes::Writer<'_>) -> Result<(), Overflow> {
        w.put_u8(self.opcode())?;
        match *self {
            AttPdu::ErrorRsp {
                request_opcode,
                handle,
                error_code,
            } => {
                w.put_u8(request_opcode)?;
                w.put_u16(handle)?;
                w.put_u8(error_code)?;
            }
            AttPdu::ExchangeMtuReq { client_rx_mtu: m }
            | AttPdu::ExchangeMtuRsp { server_rx_mtu: m } => {
                w.put_u16(m)?;
            }
            AttPdu::FindInformationReq { start, end } => {
                w.put_u16(start)?;
                w.put_u16(end)?;
            }
            AttPdu::FindInformationRsp { format, data } => {
                w.put_u8(format)?;
                w.put_slice(data)?;
            }
            AttPdu::FindByTypeValueReq {
                start,
                end,
                attribute_type,
                value,
            } => {
                w.put_u16(start)?;
                w.put_u16(end)?;
                w.put_u16(attribute_type)?;
                w.put_slice(value)?;
            }
            AttPdu::ReadByTypeReq {
                start,
                end,
                attribute_type: uuid,
            }
            | AttPdu::ReadByGroupTypeReq {
                start,
                end,
                group_type: uuid,
            } => {
                w.put_u16(start)?;
                w.put_u16(end)?;
                uuid.put(w)?;
            }
            AttPdu::ReadByTypeRsp { length, data }
            | AttPdu::ReadByGroupTypeRsp { length, data } => {
                w.put_u8(length)?;
                w.put_slice(data)?;
            }
            AttPdu::ReadReq { handle } => {
                w.put_u16(handle)?;
            }
            AttPdu::ReadBlobReq { handle, offset } => {
                w.put_u16(handle)?;
                w.put_u16(offset)?;
            }
            AttPdu::ReadRsp { value: d }
            | AttPdu::ReadBlobRsp { value: d }
            | AttPdu::ReadMultipleReq { handles: d }
            | AttPdu::ReadMultipleRsp { values: d }
            | AttPdu::ReadMultipleVariableReq { handles: d }
            | AttPdu::ReadMultipleVariableRsp { data: d }
            | AttPdu::FindByTypeValueRsp { data: d }
            | AttPdu::MultipleHandleValueNtf { data: d } => {
                w.put_slice(d)?;
            }
            AttPdu::WriteReq { handle, value }
            | AttPdu::WriteCmd { handle, value }
            | AttPdu::HandleValueNtf { handle, value }
            | AttPdu::HandleValueInd { handle, value } => {
                w.put_u16(handle)?;
                w.put_slice(value)?;
            }
            AttPdu::SignedWriteCmd {
                handle,
                value,
                signature,
            } => {
                w.put_u16(handle)?;
                w.put_slice(value)?;
                w.put_slice(signature)?;
            }
            AttPdu::PrepareWriteReq {
                handle,
                offset,
                value,
            }
            | AttPdu::PrepareWriteRsp {
                handle,
                offset,
                value,
            } => {
                w.put_u16(handle)?;
                w.put_u16(offset)?;
                w.put_slice(value)?;
            }
            AttPdu::ExecuteWriteReq { flags } => {
                w.put_u8(flags)?;
            }
            AttPdu::WriteRsp | AttPdu::ExecuteWriteRsp | AttPdu::HandleValueCfm => {}
        }
        Ok(())
    }
}

/// Same as [`AttPdu::decode`].
pub fn decode(pdu: &[u8]) -> Result<AttPdu<'_>, DecodeError> {
    AttPdu::decode(pdu)
}

/// True for opcodes that are requests a server must answer (Vol 3 Part F
/// 3.3: a PDU that is not a command, response, notification, indication or
/// confirmation). Unknown opcodes without the Command Flag count as
/// requests, so they get Request Not Supported (Vol 3 Part F 3.4.1.1).
pub fn is_request(opcode: u8) -> bool {
    if opcode & COMMAND_FLAG != 0 {
        return false;
    }
    !matches!(
        opcode,
        ATT_ERROR_RSP
            | ATT_EXCHANGE_MTU_RSP
            | ATT_FIND_INFORMATION_RSP
            | ATT_FIND_BY_TYPE_VALUE_RSP
            | ATT_READ_BY_TYPE_RSP
            | ATT_READ_RSP
            | ATT_READ_BLOB_RSP
            | ATT_READ_MULTIPLE_RSP
            | ATT_READ_BY_GROUP_TYPE_RSP
            | ATT_WRITE_RSP
            | ATT_PREPARE_WRITE_RSP
            | ATT_EXECUTE_WRITE_RSP
            | ATT_READ_MULTIPLE_VARIABLE_RSP
            | ATT_HANDLE_VALUE_NTF
            | ATT_HANDLE_VALUE_IND
            | ATT_HANDLE_VALUE_CFM
            | ATT_MULTIPLE_HANDLE_VALUE_NTF
    )
}

/// Writes an Error Response (Vol 3 Part F 3.4.1.1); returns 5 or 0.
pub fn write_error_rsp(request_opcode: u8, handle: u16, error_code: u8, out: &mut [u8]) -> usize {
    AttPdu::ErrorRsp {
        request_opcode,
        handle,
        error_code,
    }
    .encode(out)
    .unwrap_or(0)
}

/// The bounded writer `att/server.rs` builds its responses with, kept with
/// its fields and `Option` results until that file moves to
/// [`bytes::Writer`](crate::bytes::Writer) itself; every field is written
/// by `bytes::Writer`.
pub(crate) struct Writer<'b> {
    pub(crate) out: &'b mut [u8],
    pub(crate) len: usize,
}

impl Writer<'_> {
    /// Runs `f` on a `bytes::Writer` over the unwritten rest of `out`.
    fn put(
        &mut self,
        f: impl FnOnce(&mut bytes::Writer<'_>) -> Result<(), Overflow>,
    ) -> Option<()> {
        let mut w = bytes::Writer::new(self.out.get_mut(self.len..)?);
        f(&mut w).ok()?;
        self.len += w.len();
        Some(())
    }
    pub(crate) fn bytes(&mut self, b: &[u8]) -> Option<()> {
        self.put(|w| w.put_slice(b).map(|_| ()))
    }
    pub(crate) fn u8(&mut self, v: u8) -> Option<()> {
        self.put(|w| w.put_u8(v).map(|_| ()))
    }
    pub(crate) fn u16(&mut self, v: u16) -> Option<()> {
        self.put(|w| w.put_u16(v).map(|_| ()))
    }
    pub(crate) fn uuid(&mut self, u: &Uuid) -> Option<()> {
        self.put(|w| u.put(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const U128: [u8; 16] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE,
        0xFF,
    ];

    /// Decodes `bytes`, checks it equals `pdu`, and encodes it back.
    fn round_trip(bytes: &[u8], pdu: AttPdu<'_>) {
        let decoded = AttPdu::decode(bytes).expect("decode");
        assert_eq!(decoded, pdu);
        assert_eq!(decoded.opcode(), bytes[0]);
        let mut out = [0u8; 600];
        let n = pdu.encode(&mut out).expect("encode");
        assert_eq!(&out[..n], bytes);
        // Too-small buffers fail cleanly.
        assert_eq!(pdu.encode(&mut out[..n - 1]), None);
    }

    #[test]
    fn error_and_mtu() {
        round_trip(
            &[0x01, 0x0A, 0x03, 0x00, 0x02],
            AttPdu::ErrorRsp {
                request_opcode: 0x0A,
                handle: 3,
                error_code: error::READ_NOT_PERMITTED,
            },
        );
        round_trip(
            &[0x02, 0x05, 0x02],
            AttPdu::ExchangeMtuReq { client_rx_mtu: 517 },
        );
        round_trip(
            &[0x03, 0x17, 0x00],
            AttPdu::ExchangeMtuRsp { server_rx_mtu: 23 },
        );
    }

    #[test]
    fn find_pdus() {
        round_trip(
            &[0x04, 0x01, 0x00, 0xFF, 0xFF],
            AttPdu::FindInformationReq {
                start: 1,
                end: 0xFFFF,
            },
        );
        round_trip(
            &[0x05, 0x01, 0x04, 0x00, 0x02, 0x29],
            AttPdu::FindInformationRsp {
                format: 1,
                data: &[0x04, 0x00, 0x02, 0x29],
            },
        );
        let mut v = std::vec![0x05, 0x02, 0x10, 0x00];
        v.extend_from_slice(&U128);
        round_trip(
            &v,
            AttPdu::FindInformationRsp {
                format: 2,
                data: &v[2..],
            },
        );
        round_trip(
            &[0x06, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x28, 0x0F, 0x18],
            AttPdu::FindByTypeValueReq {
                start: 1,
                end: 0xFFFF,
                attribute_type: 0x2800,
                value: &[0x0F, 0x18],
            },
        );
        round_trip(
            &[0x07, 0x01, 0x00, 0x04, 0x00],
            AttPdu::FindByTypeValueRsp {
                data: &[0x01, 0x00, 0x04, 0x00],
            },
        );
    }

    #[test]
    fn read_by_type_and_group() {
        round_trip(
            &[0x08, 0x01, 0x00, 0x04, 0x00, 0x03, 0x28],
            AttPdu::ReadByTypeReq {
                start: 1,
                end: 4,
                attribute_type: Uuid::Uuid16(0x2803),
            },
        );
        let mut v = std::vec![0x08, 0x01, 0x00, 0x04, 0x00];
        v.extend_from_slice(&U128);
        round_trip(
            &v,
            AttPdu::ReadByTypeReq {
                start: 1,
                end: 4,
                attribute_type: Uuid::Uuid128(U128),
            },
        );
        // Battery level characteristic declaration (handle 2).
        round_trip(
            &[0x09, 0x07, 0x02, 0x00, 0x32, 0x03, 0x00, 0x19, 0x2A],
            AttPdu::ReadByTypeRsp {
                length: 7,
                data: &[0x02, 0x00, 0x32, 0x03, 0x00, 0x19, 0x2A],
            },
        );
        round_trip(
            &[0x10, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x28],
            AttPdu::ReadByGroupTypeReq {
                start: 1,
                end: 0xFFFF,
                group_type: Uuid::Uuid16(0x2800),
            },
        );
        round_trip(
            &[0x11, 0x06, 0x01, 0x00, 0x04, 0x00, 0x0F, 0x18],
            AttPdu::ReadByGroupTypeRsp {
                length: 6,
                data: &[0x01, 0x00, 0x04, 0x00, 0x0F, 0x18],
            },
        );
    }

    #[test]
    fn reads() {
        round_trip(&[0x0A, 0x03, 0x00], AttPdu::ReadReq { handle: 3 });
        round_trip(&[0x0B, 0x64], AttPdu::ReadRsp { value: &[0x64] });
        round_trip(&[0x0B], AttPdu::ReadRsp { value: &[] });
        round_trip(
            &[0x0C, 0x03, 0x00, 0x16, 0x00],
            AttPdu::ReadBlobReq {
                handle: 3,
                offset: 22,
            },
        );
        round_trip(&[0x0D, 1, 2, 3], AttPdu::ReadBlobRsp { value: &[1, 2, 3] });
        round_trip(
            &[0x0E, 0x03, 0x00, 0x04, 0x00],
            AttPdu::ReadMultipleReq {
                handles: &[0x03, 0x00, 0x04, 0x00],
            },
        );
        round_trip(
            &[0x0F, 0x00, 0x01, 0x00],
            AttPdu::ReadMultipleRsp {
                values: &[0x00, 0x01, 0x00],
            },
        );
        round_trip(
            &[0x20, 0x03, 0x00, 0x04, 0x00],
            AttPdu::ReadMultipleVariableReq {
                handles: &[0x03, 0x00, 0x04, 0x00],
            },
        );
        round_trip(
            &[0x21, 0x01, 0x00, 0x64, 0x02, 0x00, 0x01, 0x00],
            AttPdu::ReadMultipleVariableRsp {
                data: &[0x01, 0x00, 0x64, 0x02, 0x00, 0x01, 0x00],
            },
        );
    }

    #[test]
    fn writes() {
        round_trip(
            &[0x12, 0x04, 0x00, 0x01, 0x00],
            AttPdu::WriteReq {
                handle: 4,
                value: &[0x01, 0x00],
            },
        );
        round_trip(&[0x13], AttPdu::WriteRsp);
        round_trip(
            &[0x52, 0x03, 0x00, 0xAA],
            AttPdu::WriteCmd {
                handle: 3,
                value: &[0xAA],
            },
        );
        let sig = [9u8; 12];
        let mut v = std::vec![0xD2, 0x03, 0x00, 0xAA, 0xBB];
        v.extend_from_slice(&sig);
        round_trip(
            &v,
            AttPdu::SignedWriteCmd {
                handle: 3,
                value: &[0xAA, 0xBB],
                signature: &sig,
            },
        );
        round_trip(
            &[0x16, 0x03, 0x00, 0x12, 0x00, 1, 2],
            AttPdu::PrepareWriteReq {
                handle: 3,
                offset: 18,
                value: &[1, 2],
            },
        );
        round_trip(
            &[0x17, 0x03, 0x00, 0x12, 0x00, 1, 2],
            AttPdu::PrepareWriteRsp {
                handle: 3,
                offset: 18,
                value: &[1, 2],
            },
        );
        round_trip(&[0x18, 0x01], AttPdu::ExecuteWriteReq { flags: 1 });
        round_trip(&[0x19], AttPdu::ExecuteWriteRsp);
    }

    #[test]
    fn server_initiated() {
        round_trip(
            &[0x1B, 0x03, 0x00, 0x39, 0x39, 0x39, 0x39, 0x39],
            AttPdu::HandleValueNtf {
                handle: 3,
                value: b"99999",
            },
        );
        round_trip(
            &[0x1D, 0x0A, 0x00, 0x01, 0x00, 0xFF, 0xFF],
            AttPdu::HandleValueInd {
                handle: 10,
                value: &[0x01, 0x00, 0xFF, 0xFF],
            },
        );
        round_trip(&[0x1E], AttPdu::HandleValueCfm);
        round_trip(
            &[0x23, 0x03, 0x00, 0x01, 0x00, 0x64, 0x05, 0x00, 0x00, 0x00],
            AttPdu::MultipleHandleValueNtf {
                data: &[0x03, 0x00, 0x01, 0x00, 0x64, 0x05, 0x00, 0x00, 0x00],
            },
        );
    }

    #[test]
    fn malformed_pdus() {
        use DecodeError::*;
        assert_eq!(AttPdu::decode(&[]), Err(Empty));
        assert_eq!(AttPdu::decode(&[0x3F]), Err(UnknownOpcode(0x3F)));
        assert_eq!(AttPdu::decode(&[0x02, 0x17]), Err(Malformed(0x02)));
        assert_eq!(AttPdu::decode(&[0x02, 0x17, 0, 0]), Err(Malformed(0x02)));
        assert_eq!(AttPdu::decode(&[0x0A, 0x01]), Err(Malformed(0x0A)));
        assert_eq!(
            AttPdu::decode(&[0x08, 1, 0, 2, 0, 3, 0x28, 0]),
            Err(Malformed(0x08))
        );
        assert_eq!(AttPdu::decode(&[0x0E, 1, 0]), Err(Malformed(0x0E)));
        assert_eq!(AttPdu::decode(&[0x0E, 1, 0, 2]), Err(Malformed(0x0E)));
        assert_eq!(
            AttPdu::decode(&[0x05, 0x03, 1, 0, 2, 0]),
            Err(Malformed(0x05))
        );
        assert_eq!(AttPdu::decode(&[0x05, 0x01, 1, 0, 2]), Err(Malformed(0x05)));
        assert_eq!(AttPdu::decode(&[0x09, 0x01, 1]), Err(Malformed(0x09)));
        assert_eq!(AttPdu::decode(&[0x11, 0x03, 1, 0, 2]), Err(Malformed(0x11)));
        assert_eq!(AttPdu::decode(&[0xD2, 1, 0, 1, 2, 3]), Err(Malformed(0xD2)));
        // A truncated Read Multiple Variable Response is legal.
        assert!(AttPdu::decode(&[0x21, 0x05, 0x00, 1]).is_ok());
        assert_eq!(
            AttPdu::decode(&[0x23, 0x03, 0x00, 0x05, 0x00, 1]),
            Err(Malformed(0x23))
        );
        assert_eq!(AttPdu::decode(&[0x13, 0x00]), Err(Malformed(0x13)));
        assert_eq!(AttPdu::decode(&[0x12, 0x01]), Err(Malformed(0x12)));
    }

    #[test]
    fn request_classification() {
        assert!(is_request(ATT_READ_REQ));
        assert!(is_request(0x3F)); // unknown, no command flag
        assert!(!is_request(ATT_WRITE_CMD));
        assert!(!is_request(0x7F)); // unknown command
        assert!(!is_request(ATT_HANDLE_VALUE_CFM));
        assert!(!is_request(ATT_HANDLE_VALUE_NTF));
        let mut out = [0u8; 5];
        assert_eq!(write_error_rsp(0x0A, 0, error::INVALID_HANDLE, &mut out), 5);
        assert_eq!(out, [0x01, 0x0A, 0x00, 0x00, 0x01]);
    }
}
