//! Security Manager Protocol (Core spec Vol 3 Part H).
//!
//! The foundation is here, tested on its own; `host::security` wires the
//! responder to the host (sessions, LE Rand, the SMP timer, the LTK):
//! - `crypto`: the toolbox of 2.2 (e, AES-CMAC, c1, s1, f4, f5, f6, g2, ah)
//!   and P-256 ECDH with the on-curve check;
//! - `pdu`: every SMP PDU parsed and written (3.3-3.6);
//! - `method`: the pairing method from both sides' parameters (2.3.5.1);
//! - `responder`, `initiator` (shared types in `session`): one pairing per
//!   role, sans-IO: LE Secure Connections Just Works, Numeric Comparison
//!   and Passkey Entry (2.3.5.6), LE legacy Just Works and Passkey Entry
//!   (2.3.5.2-2.3.5.5), then the key distribution phase (3.6.1);
//! - `attempts`: the repeated-attempts back-off (2.3.6) the host consults.
//!
//! Where no session runs and none starts (we are central, or the PDU is
//! not a Pairing Request), the host answers with [`handle`], which refuses
//! cleanly so that the peer does not wait for the 30 s SMP timeout (Vol 3
//! Part H 3.4).

pub mod attempts;
pub mod crypto;
pub mod initiator;
pub mod method;
#[cfg(test)]
mod pairing_tests;
pub mod pdu;
pub mod responder;
pub mod session;
#[cfg(test)]
mod testdata;

pub use pdu::{PAIRING_FAILED, PAIRING_REQUEST, SECURITY_REQUEST};

/// Writes a Pairing Failed PDU (Vol 3 Part H 3.5.5); returns 2, or 0 if
/// `out` is too short.
pub fn write_pairing_failed(reason: u8, out: &mut [u8]) -> usize {
    match out.get_mut(..2) {
        Some(d) => {
            d[0] = PAIRING_FAILED;
            d[1] = reason;
            2
        }
        None => 0,
    }
}

/// Handles one SMP PDU received on CID 0x0006 and writes the answer in
/// `out`; returns its length (0: send nothing).
///
/// - Pairing Request (from a central) and Security Request (from a
///   peripheral) get Pairing Failed / Pairing Not Supported: the reason the
///   spec gives for a device that cannot pair (Vol 3 Part H 3.5.5).
/// - A Pairing Failed is never answered (it would loop).
/// - Every other code (including unknown ones) gets Pairing Failed /
///   Command Not Supported, since no pairing is in progress for it to
///   belong to.
/// - An empty PDU has no code and is dropped.
pub fn handle(pdu: &[u8], out: &mut [u8]) -> usize {
    match pdu.first() {
        None => 0,
        Some(&PAIRING_FAILED) => 0,
        Some(&PAIRING_REQUEST) | Some(&SECURITY_REQUEST) => {
            write_pairing_failed(pdu::Reason::PAIRING_NOT_SUPPORTED.0, out)
        }
        Some(_) => write_pairing_failed(pdu::Reason::COMMAND_NOT_SUPPORTED.0, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairing_request_is_refused() {
        let mut out = [0u8; 8];
        // Pairing Request: IO NoInputNoOutput, no OOB, bonding+SC, 16, keys.
        let n = handle(&[0x01, 0x03, 0x00, 0x09, 0x10, 0x07, 0x07], &mut out);
        assert_eq!(&out[..n], &[0x05, 0x05]);
        let n = handle(&[0x0B, 0x05], &mut out);
        assert_eq!(&out[..n], &[0x05, 0x05]);
    }

    #[test]
    fn other_codes() {
        let mut out = [0u8; 8];
        let n = handle(&[0x03, 0, 0, 0], &mut out);
        assert_eq!(&out[..n], &[0x05, 0x07]);
        let n = handle(&[0xEE], &mut out);
        assert_eq!(&out[..n], &[0x05, 0x07]);
        assert_eq!(handle(&[0x05, 0x08], &mut out), 0);
        assert_eq!(handle(&[], &mut out), 0);
        assert_eq!(handle(&[0x01], &mut [0u8; 1]), 0);
    }
}
