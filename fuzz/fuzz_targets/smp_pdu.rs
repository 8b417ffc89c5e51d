//! SMP PDUs (Vol 3 Part H 3.3-3.6): no input may panic, and everything the
//! parser accepts is written back as the very same octets (c1 and f6 hash
//! the Pairing Request/Response as received, so the round trip must be
//! exact). The input is a sequence of PDUs, each behind a length octet,
//! as they would arrive on CID 0x0006 of one link; consecutive Pairing
//! Request/Response bodies also go through the method selection, and
//! public keys through the on-curve check and, when on the curve, ECDH.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpble::smp::crypto::KeyPair;
use mpble::smp::method;
use mpble::smp::pdu::{Pdu, Reason, PDU_MAX};
use mpble::smp::{self, pdu::PairingParams};

/// The debug private key (Vol 3 Part H 2.3.5.6.1), LSB first: a fixed key
/// keeps the target deterministic.
const DEBUG_PRIVATE: [u8; 32] = [
    0xbd, 0x1a, 0x3c, 0xcd, 0xa6, 0xb8, 0x99, 0x58, 0x99, 0xb7, 0x40, 0xeb, 0x7b, 0x60, 0xff, 0x4a,
    0x50, 0x3f, 0x10, 0xd2, 0xe3, 0xb3, 0xc9, 0x74, 0x38, 0x5f, 0xc5, 0xa3, 0xd4, 0xf6, 0x49, 0x3f,
];

/// Made once: a point multiplication per input would halve the speed.
static KEYS: std::sync::OnceLock<KeyPair> = std::sync::OnceLock::new();

fuzz_target!(|input: &[u8]| {
    let keys =
        KEYS.get_or_init(|| KeyPair::from_private_key(&DEBUG_PRIVATE).expect("debug key is valid"));
    let mut rest = input;
    let mut last_params: Option<PairingParams> = None;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        let (pdu, tail) = tail.split_at(n);
        rest = tail;

        // Today's host path: at most a 2-octet Pairing Failed.
        let mut out = [0u8; PDU_MAX];
        assert!(smp::handle(pdu, &mut out) <= 2);

        match Pdu::parse(pdu) {
            Ok(p) => {
                assert_eq!(Pdu::len_of(pdu[0]), Some(pdu.len()));
                let w = p.write(&mut out).expect("a parsed PDU fits PDU_MAX");
                assert_eq!(&out[..w], pdu, "round trip");
                match p {
                    Pdu::PairingRequest(params) | Pdu::PairingResponse(params) => {
                        assert_eq!(params.to_pdu(pdu[0]), pdu);
                        if let Some(prev) = last_params {
                            let s = method::select(&prev, &params);
                            assert!(
                                s.secure_connections
                                    || s.method != method::Method::NumericComparison
                            );
                        }
                        last_params = Some(params);
                    }
                    Pdu::PairingPublicKey(key) => {
                        assert_eq!(key.is_on_curve(), keys.dh_key(&key).is_ok());
                    }
                    _ => {}
                }
            }
            Err(reason) => {
                assert!(
                    reason == Reason::INVALID_PARAMETERS || reason == Reason::COMMAND_NOT_SUPPORTED,
                    "{reason:?}"
                );
            }
        }
    }
});
