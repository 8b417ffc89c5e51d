//! SMP PDUs (Core spec Vol 3 Part H 3.3-3.6): codes, parser and writer.
//!
//! Every SMP command has a fixed length (3.3: "the length of each command
//! is fixed"), so a PDU whose length is not its code's is refused with
//! Invalid Parameters, the reason whose description covers "the command
//! length is invalid" (3.5.5). A code we do not know gets Command Not
//! Supported. Multi-octet fields are LSB first; values stay in that order
//! (see `smp::crypto`).
//!
//! Reserved bits of AuthReq and of the key distribution fields are kept as
//! received (`bitflags`' `from_bits_retain`), so a Pairing Request or
//! Response written back is the very octets received: c1 (2.2.3) and f6
//! (2.2.8) hash them as sent.

use super::crypto::{PublicKey, U128};
use crate::bytes::{Overflow, Reader, Writer};
use bitflags::bitflags;

/// SMP command codes (3.3, table 3.3).
pub const PAIRING_REQUEST: u8 = 0x01;
pub const PAIRING_RESPONSE: u8 = 0x02;
pub const PAIRING_CONFIRM: u8 = 0x03;
pub const PAIRING_RANDOM: u8 = 0x04;
pub const PAIRING_FAILED: u8 = 0x05;
pub const ENCRYPTION_INFORMATION: u8 = 0x06;
pub const CENTRAL_IDENTIFICATION: u8 = 0x07;
pub const IDENTITY_INFORMATION: u8 = 0x08;
pub const IDENTITY_ADDRESS_INFORMATION: u8 = 0x09;
pub const SIGNING_INFORMATION: u8 = 0x0A;
pub const SECURITY_REQUEST: u8 = 0x0B;
pub const PAIRING_PUBLIC_KEY: u8 = 0x0C;
pub const PAIRING_DHKEY_CHECK: u8 = 0x0D;
pub const PAIRING_KEYPRESS_NOTIFICATION: u8 = 0x0E;

/// The longest SMP PDU: Pairing Public Key, code + 64 octets. LE Secure
/// Connections needs an SMP MTU of 65 (3.2, MTU_SMP).
pub const PDU_MAX: usize = 65;

/// A Pairing Failed reason (3.5.5, table 3.7). A newtype rather than an
/// enum: a peer may send a reason newer than this code, and we report it
/// as received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reason(pub u8);

impl Reason {
    pub const PASSKEY_ENTRY_FAILED: Reason = Reason(0x01);
    pub const OOB_NOT_AVAILABLE: Reason = Reason(0x02);
    pub const AUTHENTICATION_REQUIREMENTS: Reason = Reason(0x03);
    pub const CONFIRM_VALUE_FAILED: Reason = Reason(0x04);
    pub const PAIRING_NOT_SUPPORTED: Reason = Reason(0x05);
    pub const ENCRYPTION_KEY_SIZE: Reason = Reason(0x06);
    pub const COMMAND_NOT_SUPPORTED: Reason = Reason(0x07);
    pub const UNSPECIFIED_REASON: Reason = Reason(0x08);
    pub const REPEATED_ATTEMPTS: Reason = Reason(0x09);
    pub const INVALID_PARAMETERS: Reason = Reason(0x0A);
    pub const DHKEY_CHECK_FAILED: Reason = Reason(0x0B);
    pub const NUMERIC_COMPARISON_FAILED: Reason = Reason(0x0C);
    pub const BR_EDR_PAIRING_IN_PROGRESS: Reason = Reason(0x0D);
    pub const CROSS_TRANSPORT_KEY_DERIVATION_NOT_ALLOWED: Reason = Reason(0x0E);
    pub const KEY_REJECTED: Reason = Reason(0x0F);
}

/// IO capability (3.5.1, table 3.4; what each means: 2.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum IoCapability {
    DisplayOnly = 0x00,
    DisplayYesNo = 0x01,
    KeyboardOnly = 0x02,
    NoInputNoOutput = 0x03,
    KeyboardDisplay = 0x04,
}

impl IoCapability {
    /// `None` for the reserved values 0x05-0xFF.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0x00 => Self::DisplayOnly,
            0x01 => Self::DisplayYesNo,
            0x02 => Self::KeyboardOnly,
            0x03 => Self::NoInputNoOutput,
            0x04 => Self::KeyboardDisplay,
            _ => return None,
        })
    }
}

bitflags! {
    /// The AuthReq field (3.5.1, figure 3.3). Bonding_Flags is two bits of
    /// which only 0b01 (Bonding) is defined.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct AuthReq: u8 {
        const BONDING = 0x01;
        const MITM = 0x04;
        const SC = 0x08;
        const KEYPRESS = 0x10;
        const CT2 = 0x20;
    }

    /// Initiator / Responder Key Distribution (3.6.1, figure 3.11).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct KeyDistribution: u8 {
        /// LE legacy: LTK, EDIV, Rand. LE Secure Connections: ignored.
        const ENC_KEY = 0x01;
        /// IRK and identity address.
        const ID_KEY = 0x02;
        /// CSRK.
        const SIGN_KEY = 0x04;
        /// Derive the BR/EDR link key (cross-transport; unused on LE only).
        const LINK_KEY = 0x08;
    }
}

/// The body of a Pairing Request or Response (3.5.1, 3.5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairingParams {
    pub io_capability: IoCapability,
    /// OOB data flag: 0x01 "OOB authentication data from remote device
    /// present"; 0x00 not present (other values are reserved and refused).
    pub oob_data_present: bool,
    pub auth_req: AuthReq,
    /// Maximum Encryption Key Size, 7 to 16 octets; kept as received, the
    /// state machine answers Encryption Key Size or Invalid Parameters.
    pub max_key_size: u8,
    pub initiator_keys: KeyDistribution,
    pub responder_keys: KeyDistribution,
}

impl PairingParams {
    /// IOcap as f6 takes it (2.2.8), LSB first: IO capability, OOB data
    /// flag, AuthReq (the sender's octets 1..4 as sent).
    pub fn io_cap(&self) -> [u8; 3] {
        [
            self.io_capability as u8,
            u8::from(self.oob_data_present),
            self.auth_req.bits(),
        ]
    }

    /// The whole 7-octet PDU with `code` (Pairing Request or Response),
    /// as c1 takes it (2.2.3).
    pub fn to_pdu(&self, code: u8) -> [u8; 7] {
        let [io, oob, auth] = self.io_cap();
        [
            code,
            io,
            oob,
            auth,
            self.max_key_size,
            self.initiator_keys.bits(),
            self.responder_keys.bits(),
        ]
    }

    fn parse(r: &mut Reader) -> Result<Self, Reason> {
        let [io, oob, auth, size, ikeys, rkeys] =
            r.array().map_err(|_| Reason::INVALID_PARAMETERS)?;
        Ok(PairingParams {
            io_capability: IoCapability::from_u8(io).ok_or(Reason::INVALID_PARAMETERS)?,
            oob_data_present: match oob {
                0x00 => false,
                0x01 => true,
                _ => return Err(Reason::INVALID_PARAMETERS),
            },
            auth_req: AuthReq::from_bits_retain(auth),
            max_key_size: size,
            initiator_keys: KeyDistribution::from_bits_retain(ikeys),
            responder_keys: KeyDistribution::from_bits_retain(rkeys),
        })
    }
}

/// Pairing Keypress Notification types (3.5.8, table 3.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Keypress {
    EntryStarted = 0,
    DigitEntered = 1,
    DigitErased = 2,
    Cleared = 3,
    EntryCompleted = 4,
}

impl Keypress {
    /// `None` for the reserved values 5-255.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::EntryStarted,
            1 => Self::DigitEntered,
            2 => Self::DigitErased,
            3 => Self::Cleared,
            4 => Self::EntryCompleted,
            _ => return None,
        })
    }
}

/// One SMP PDU, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pdu {
    /// 3.5.1
    PairingRequest(PairingParams),
    /// 3.5.2
    PairingResponse(PairingParams),
    /// 3.5.3: Mconfirm / Sconfirm (legacy: c1; SC: f4).
    PairingConfirm(U128),
    /// 3.5.4: Mrand / Srand (legacy) or Na / Nb (SC).
    PairingRandom(U128),
    /// 3.5.5
    PairingFailed(Reason),
    /// 3.6.2: the LTK (legacy pairing only).
    EncryptionInformation(U128),
    /// 3.6.3: EDIV and Rand of that LTK.
    CentralIdentification { ediv: u16, rand: u64 },
    /// 3.6.4: the IRK.
    IdentityInformation(U128),
    /// 3.6.5: the identity address; `kind` 0x00 public, 0x01 static random.
    IdentityAddressInformation { kind: u8, addr: [u8; 6] },
    /// 3.6.6: the CSRK.
    SigningInformation(U128),
    /// 3.6.7: the peripheral asks the central to start pairing/encryption.
    SecurityRequest(AuthReq),
    /// 3.5.6
    PairingPublicKey(PublicKey),
    /// 3.5.7: Ea / Eb (f6).
    PairingDhKeyCheck(U128),
    /// 3.5.8
    PairingKeypressNotification(Keypress),
}

impl Pdu {
    /// The expected length of each code's PDU (code octet included), or
    /// `None` for a code we do not know.
    pub fn len_of(code: u8) -> Option<usize> {
        Some(match code {
            PAIRING_REQUEST | PAIRING_RESPONSE => 7,
            PAIRING_CONFIRM
            | PAIRING_RANDOM
            | ENCRYPTION_INFORMATION
            | IDENTITY_INFORMATION
            | SIGNING_INFORMATION
            | PAIRING_DHKEY_CHECK => 17,
            PAIRING_FAILED | SECURITY_REQUEST | PAIRING_KEYPRESS_NOTIFICATION => 2,
            CENTRAL_IDENTIFICATION => 11,
            IDENTITY_ADDRESS_INFORMATION => 8,
            PAIRING_PUBLIC_KEY => 65,
            _ => return None,
        })
    }

    /// This PDU's code.
    pub fn code(&self) -> u8 {
        match self {
            Pdu::PairingRequest(_) => PAIRING_REQUEST,
            Pdu::PairingResponse(_) => PAIRING_RESPONSE,
            Pdu::PairingConfirm(_) => PAIRING_CONFIRM,
            Pdu::PairingRandom(_) => PAIRING_RANDOM,
            Pdu::PairingFailed(_) => PAIRING_FAILED,
            Pdu::EncryptionInformation(_) => ENCRYPTION_INFORMATION,
            Pdu::CentralIdentification { .. } => CENTRAL_IDENTIFICATION,
            Pdu::IdentityInformation(_) => IDENTITY_INFORMATION,
            Pdu::IdentityAddressInformation { .. } => IDENTITY_ADDRESS_INFORMATION,
            Pdu::SigningInformation(_) => SIGNING_INFORMATION,
            Pdu::SecurityRequest(_) => SECURITY_REQUEST,
            Pdu::PairingPublicKey(_) => PAIRING_PUBLIC_KEY,
            Pdu::PairingDhKeyCheck(_) => PAIRING_DHKEY_CHECK,
            Pdu::PairingKeypressNotification(_) => PAIRING_KEYPRESS_NOTIFICATION,
        }
    }

    /// Parses one PDU (the whole L2CAP payload of CID 0x0006). The error is
    /// the reason a Pairing Failed would carry: Command Not Supported for
    /// an unknown code (or none at all), Invalid Parameters for a wrong
    /// length or a reserved value in a field the spec enumerates (IO
    /// capability, OOB data flag, keypress type, identity address type).
    pub fn parse(pdu: &[u8]) -> Result<Pdu, Reason> {
        let mut r = Reader::new(pdu);
        let code = r.u8().map_err(|_| Reason::COMMAND_NOT_SUPPORTED)?;
        let len = Pdu::len_of(code).ok_or(Reason::COMMAND_NOT_SUPPORTED)?;
        if pdu.len() != len {
            return Err(Reason::INVALID_PARAMETERS);
        }
        // The length is right, so no field read below can run short.
        let bad = |_| Reason::INVALID_PARAMETERS;
        Ok(match code {
            PAIRING_REQUEST => Pdu::PairingRequest(PairingParams::parse(&mut r)?),
            PAIRING_RESPONSE => Pdu::PairingResponse(PairingParams::parse(&mut r)?),
            PAIRING_CONFIRM => Pdu::PairingConfirm(r.array().map_err(bad)?),
            PAIRING_RANDOM => Pdu::PairingRandom(r.array().map_err(bad)?),
            PAIRING_FAILED => Pdu::PairingFailed(Reason(r.u8().map_err(bad)?)),
            ENCRYPTION_INFORMATION => Pdu::EncryptionInformation(r.array().map_err(bad)?),
            CENTRAL_IDENTIFICATION => Pdu::CentralIdentification {
                ediv: r.u16().map_err(bad)?,
                rand: r.u64().map_err(bad)?,
            },
            IDENTITY_INFORMATION => Pdu::IdentityInformation(r.array().map_err(bad)?),
            IDENTITY_ADDRESS_INFORMATION => {
                let kind = r.u8().map_err(bad)?;
                if kind > 0x01 {
                    return Err(Reason::INVALID_PARAMETERS);
                }
                Pdu::IdentityAddressInformation {
                    kind,
                    addr: r.array().map_err(bad)?,
                }
            }
            SIGNING_INFORMATION => Pdu::SigningInformation(r.array().map_err(bad)?),
            SECURITY_REQUEST => {
                Pdu::SecurityRequest(AuthReq::from_bits_retain(r.u8().map_err(bad)?))
            }
            PAIRING_PUBLIC_KEY => Pdu::PairingPublicKey(PublicKey {
                x: r.array().map_err(bad)?,
                y: r.array().map_err(bad)?,
            }),
            PAIRING_DHKEY_CHECK => Pdu::PairingDhKeyCheck(r.array().map_err(bad)?),
            PAIRING_KEYPRESS_NOTIFICATION => Pdu::PairingKeypressNotification(
                Keypress::from_u8(r.u8().map_err(bad)?).ok_or(Reason::INVALID_PARAMETERS)?,
            ),
            _ => return Err(Reason::COMMAND_NOT_SUPPORTED),
        })
    }

    /// Writes this PDU into `out`; returns its length. Writes nothing if it
    /// does not fit.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, Overflow> {
        let need = Pdu::len_of(self.code()).unwrap_or(PDU_MAX);
        if out.len() < need {
            return Err(Overflow);
        }
        let mut w = Writer::new(out);
        w.put_u8(self.code())?;
        match self {
            Pdu::PairingRequest(p) | Pdu::PairingResponse(p) => {
                w.put_slice(&p.to_pdu(0)[1..])?;
            }
            Pdu::PairingConfirm(v)
            | Pdu::PairingRandom(v)
            | Pdu::EncryptionInformation(v)
            | Pdu::IdentityInformation(v)
            | Pdu::SigningInformation(v)
            | Pdu::PairingDhKeyCheck(v) => {
                w.put_slice(v)?;
            }
            Pdu::PairingFailed(reason) => {
                w.put_u8(reason.0)?;
            }
            Pdu::CentralIdentification { ediv, rand } => {
                w.put_u16(*ediv)?.put_u64(*rand)?;
            }
            Pdu::IdentityAddressInformation { kind, addr } => {
                w.put_u8(*kind)?.put_slice(addr)?;
            }
            Pdu::SecurityRequest(auth) => {
                w.put_u8(auth.bits())?;
            }
            Pdu::PairingPublicKey(key) => {
                w.put_slice(&key.x)?.put_slice(&key.y)?;
            }
            Pdu::PairingKeypressNotification(k) => {
                w.put_u8(*k as u8)?;
            }
        }
        Ok(w.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8], pdu: Pdu) {
        assert_eq!(Pdu::parse(bytes), Ok(pdu), "{bytes:02x?}");
        let mut out = [0u8; PDU_MAX];
        let n = pdu.write(&mut out).unwrap();
        assert_eq!(&out[..n], bytes);
        assert_eq!(Pdu::len_of(bytes[0]), Some(bytes.len()));
        // One octet short or long: Invalid Parameters.
        assert_eq!(
            Pdu::parse(&bytes[..bytes.len() - 1]),
            Err(Reason::INVALID_PARAMETERS)
        );
        let mut long = [0u8; PDU_MAX + 1];
        long[..bytes.len()].copy_from_slice(bytes);
        assert_eq!(
            Pdu::parse(&long[..bytes.len() + 1]),
            Err(Reason::INVALID_PARAMETERS)
        );
        // No room: nothing written.
        let mut short = [0xEEu8; PDU_MAX];
        assert_eq!(pdu.write(&mut short[..n - 1]), Err(Overflow));
        assert!(short.iter().all(|&b| b == 0xEE));
    }

    fn seq<const N: usize>(start: u8) -> [u8; N] {
        core::array::from_fn(|i| start.wrapping_add(i as u8))
    }

    /// The Pairing Request/Response of the c1 example (Vol 3 Part H
    /// 2.2.3): preq 0x07071000000101, pres 0x05000800000302 (MSB first).
    #[test]
    fn pairing_request_and_response() {
        round_trip(
            &[0x01, 0x01, 0x00, 0x00, 0x10, 0x07, 0x07],
            Pdu::PairingRequest(PairingParams {
                io_capability: IoCapability::DisplayYesNo,
                oob_data_present: false,
                auth_req: AuthReq::empty(),
                max_key_size: 16,
                initiator_keys: KeyDistribution::ENC_KEY
                    | KeyDistribution::ID_KEY
                    | KeyDistribution::SIGN_KEY,
                responder_keys: KeyDistribution::ENC_KEY
                    | KeyDistribution::ID_KEY
                    | KeyDistribution::SIGN_KEY,
            }),
        );
        let pres = PairingParams {
            io_capability: IoCapability::NoInputNoOutput,
            oob_data_present: false,
            auth_req: AuthReq::empty(),
            max_key_size: 8,
            initiator_keys: KeyDistribution::empty(),
            responder_keys: KeyDistribution::SIGN_KEY | KeyDistribution::ENC_KEY,
        };
        round_trip(
            &[0x02, 0x03, 0x00, 0x00, 0x08, 0x00, 0x05],
            Pdu::PairingResponse(pres),
        );
        assert_eq!(
            pres.to_pdu(PAIRING_RESPONSE),
            [0x02, 0x03, 0x00, 0x00, 0x08, 0x00, 0x05]
        );
        // The f6 sample's IOcap 0x010102 (Appendix D.4), MSB first
        // AuthReq || OOB data flag || IO capability: Bonding, OOB data
        // present, KeyboardOnly.
        let p = PairingParams {
            io_capability: IoCapability::KeyboardOnly,
            oob_data_present: true,
            auth_req: AuthReq::BONDING,
            max_key_size: 16,
            initiator_keys: KeyDistribution::empty(),
            responder_keys: KeyDistribution::empty(),
        };
        assert_eq!(p.io_cap(), [0x02, 0x01, 0x01]);
    }

    /// Reserved bits travel through unchanged (c1 and f6 hash them).
    #[test]
    fn reserved_bits_are_kept() {
        let bytes = [0x01, 0x04, 0x00, 0xFF, 0x10, 0xF0, 0xFF];
        let pdu = Pdu::parse(&bytes).unwrap();
        let Pdu::PairingRequest(p) = pdu else {
            panic!()
        };
        assert!(p
            .auth_req
            .contains(AuthReq::BONDING | AuthReq::MITM | AuthReq::SC | AuthReq::CT2));
        assert_eq!(p.to_pdu(PAIRING_REQUEST), bytes);
        round_trip(&bytes, pdu);
    }

    #[test]
    fn reserved_values_are_invalid_parameters() {
        // IO capability 0x05.
        assert_eq!(
            Pdu::parse(&[0x01, 0x05, 0, 0x01, 16, 0, 0]),
            Err(Reason::INVALID_PARAMETERS)
        );
        // OOB data flag 0x02.
        assert_eq!(
            Pdu::parse(&[0x02, 0x03, 0x02, 0x01, 16, 0, 0]),
            Err(Reason::INVALID_PARAMETERS)
        );
        // Keypress type 5.
        assert_eq!(Pdu::parse(&[0x0E, 0x05]), Err(Reason::INVALID_PARAMETERS));
        // Identity address type 2.
        assert_eq!(
            Pdu::parse(&[0x09, 0x02, 1, 2, 3, 4, 5, 6]),
            Err(Reason::INVALID_PARAMETERS)
        );
    }

    #[test]
    fn unknown_and_empty() {
        assert_eq!(Pdu::parse(&[]), Err(Reason::COMMAND_NOT_SUPPORTED));
        assert_eq!(Pdu::parse(&[0x00]), Err(Reason::COMMAND_NOT_SUPPORTED));
        assert_eq!(
            Pdu::parse(&[0x0F, 0x00]),
            Err(Reason::COMMAND_NOT_SUPPORTED)
        );
        assert_eq!(Pdu::parse(&[0xFF; 17]), Err(Reason::COMMAND_NOT_SUPPORTED));
    }

    #[test]
    fn sixteen_octet_values() {
        let v: U128 = seq(0x10);
        for (code, pdu) in [
            (PAIRING_CONFIRM, Pdu::PairingConfirm(v)),
            (PAIRING_RANDOM, Pdu::PairingRandom(v)),
            (ENCRYPTION_INFORMATION, Pdu::EncryptionInformation(v)),
            (IDENTITY_INFORMATION, Pdu::IdentityInformation(v)),
            (SIGNING_INFORMATION, Pdu::SigningInformation(v)),
            (PAIRING_DHKEY_CHECK, Pdu::PairingDhKeyCheck(v)),
        ] {
            let mut bytes = [0u8; 17];
            bytes[0] = code;
            bytes[1..].copy_from_slice(&v);
            round_trip(&bytes, pdu);
        }
    }

    #[test]
    fn short_ones() {
        round_trip(
            &[0x05, 0x0B],
            Pdu::PairingFailed(Reason::DHKEY_CHECK_FAILED),
        );
        // A reason newer than this code is reported as received.
        round_trip(&[0x05, 0x42], Pdu::PairingFailed(Reason(0x42)));
        round_trip(
            &[0x0B, 0x0D],
            Pdu::SecurityRequest(AuthReq::BONDING | AuthReq::MITM | AuthReq::SC),
        );
        round_trip(
            &[0x0E, 0x04],
            Pdu::PairingKeypressNotification(Keypress::EntryCompleted),
        );
    }

    #[test]
    fn key_distribution_pdus() {
        round_trip(
            &[0x07, 0x34, 0x12, 1, 2, 3, 4, 5, 6, 7, 8],
            Pdu::CentralIdentification {
                ediv: 0x1234,
                rand: 0x0807_0605_0403_0201,
            },
        );
        round_trip(
            &[0x09, 0x01, 0xF6, 0xF5, 0xF4, 0xF3, 0xF2, 0xF1],
            Pdu::IdentityAddressInformation {
                kind: 1,
                addr: [0xF6, 0xF5, 0xF4, 0xF3, 0xF2, 0xF1],
            },
        );
    }

    #[test]
    fn public_key() {
        let x: [u8; 32] = seq(0x00);
        let y: [u8; 32] = seq(0x80);
        let mut bytes = [0u8; 65];
        bytes[0] = 0x0C;
        bytes[1..33].copy_from_slice(&x);
        bytes[33..].copy_from_slice(&y);
        round_trip(&bytes, Pdu::PairingPublicKey(PublicKey { x, y }));
    }
}
