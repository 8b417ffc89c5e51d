//! Security Manager Protocol (Core spec Vol 3 Part H).
//!
//! Pairing is not built yet. Until it is, every pairing attempt is refused
//! cleanly so that the peer does not wait for the 30 s SMP timeout
//! (Vol 3 Part H 3.4).

pub mod crypto;

/// SMP command codes (Vol 3 Part H 3.3, table 3.3).
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

/// Pairing Failed reasons (Vol 3 Part H 3.5.5, table 3.7).
pub const REASON_PASSKEY_ENTRY_FAILED: u8 = 0x01;
pub const REASON_OOB_NOT_AVAILABLE: u8 = 0x02;
pub const REASON_AUTHENTICATION_REQUIREMENTS: u8 = 0x03;
pub const REASON_CONFIRM_VALUE_FAILED: u8 = 0x04;
pub const REASON_PAIRING_NOT_SUPPORTED: u8 = 0x05;
pub const REASON_ENCRYPTION_KEY_SIZE: u8 = 0x06;
pub const REASON_COMMAND_NOT_SUPPORTED: u8 = 0x07;
pub const REASON_UNSPECIFIED_REASON: u8 = 0x08;
pub const REASON_REPEATED_ATTEMPTS: u8 = 0x09;
pub const REASON_INVALID_PARAMETERS: u8 = 0x0A;
pub const REASON_DHKEY_CHECK_FAILED: u8 = 0x0B;
pub const REASON_NUMERIC_COMPARISON_FAILED: u8 = 0x0C;

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
            write_pairing_failed(REASON_PAIRING_NOT_SUPPORTED, out)
        }
        Some(_) => write_pairing_failed(REASON_COMMAND_NOT_SUPPORTED, out),
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
