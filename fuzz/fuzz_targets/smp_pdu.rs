//! SMP PDUs (Vol 3 Part H 3.3-3.6): no input may panic, and everything the
//! parser accepts is written back as the very same octets (c1 and f6 hash
//! the Pairing Request/Response as received, so the round trip must be
//! exact). The input is a configuration octet (bits 0-1 our IO
//! capability, bit 2 MITM) and then a sequence of PDUs, each behind a
//! length octet (bits 0-6; bit 7 answers a pending Numeric Comparison
//! after the PDU: yes, or no for an empty PDU, which is not fed), as they
//! would arrive on CID 0x0006 of one link; consecutive Pairing
//! Request/Response bodies also go through the method selection, and
//! public keys through the on-curve check and, when on the curve, ECDH.
//! The same PDUs drive a Secure Connections responder session and an
//! initiator session through their states (`smp::responder`,
//! `smp::initiator`): whatever they send must itself parse, and once a
//! session has ended it stays silent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpble::smp::crypto::{KeyPair, LeAddress};
use mpble::smp::initiator::{self, Initiator};
use mpble::smp::method;
use mpble::smp::pdu::IoCapability;
use mpble::smp::pdu::{Pdu, Reason, PDU_MAX};
use mpble::smp::responder::{Config, Outcome, Responder, State, Step};
use mpble::smp::{self, pdu::PairingParams};

/// The debug private key (Vol 3 Part H 2.3.5.6.1), LSB first: a fixed key
/// keeps the target deterministic.
const DEBUG_PRIVATE: [u8; 32] = [
    0xbd, 0x1a, 0x3c, 0xcd, 0xa6, 0xb8, 0x99, 0x58, 0x99, 0xb7, 0x40, 0xeb, 0x7b, 0x60, 0xff, 0x4a,
    0x50, 0x3f, 0x10, 0xd2, 0xe3, 0xb3, 0xc9, 0x74, 0x38, 0x5f, 0xc5, 0xa3, 0xd4, 0xf6, 0x49, 0x3f,
];

/// Private key B of the P-256 sample data (Vol 2 Part G 7.1.2), LSB
/// first: the responder's, so that the seeds' initiator (the debug key)
/// reaches the later states.
const PRIVATE_B: [u8; 32] = [
    0xfd, 0xc5, 0x7f, 0xf4, 0x49, 0xdd, 0x4f, 0x6b, 0xfb, 0x7c, 0x9d, 0xf1, 0xc2, 0x9a, 0xcb, 0x59,
    0x2a, 0xe7, 0xd4, 0xee, 0xfb, 0xfc, 0x0a, 0x90, 0x9a, 0xbb, 0xf6, 0x32, 0x3d, 0x8b, 0x18, 0x55,
];

/// Made once: a point multiplication per input would halve the speed.
static KEYS: std::sync::OnceLock<KeyPair> = std::sync::OnceLock::new();
static KEYS_B: std::sync::OnceLock<KeyPair> = std::sync::OnceLock::new();

/// What a session says is well-formed, and nothing once it has ended.
fn check(step: &Step, ended: bool) {
    if ended {
        assert!(
            step.send.is_empty() && step.outcome.is_none(),
            "an ended session spoke"
        );
    }
    let mut out = [0u8; PDU_MAX];
    for p in &step.send {
        let w = p.write(&mut out).expect("fits");
        assert_eq!(Pdu::parse(&out[..w]).as_ref(), Ok(p), "our PDU parses");
    }
    if let Some(Outcome::Paired { key_size, .. }) = step.outcome {
        assert!((7..=16).contains(&key_size));
    }
}

fuzz_target!(|input: &[u8]| {
    let keys =
        KEYS.get_or_init(|| KeyPair::from_private_key(&DEBUG_PRIVATE).expect("debug key is valid"));
    let keys_b = KEYS_B.get_or_init(|| KeyPair::from_private_key(&PRIVATE_B).expect("valid"));
    let central = LeAddress {
        kind: 0,
        addr: [0xce, 0xbf, 0x37, 0x37, 0x12, 0x56],
    };
    let peripheral = LeAddress {
        kind: 1,
        addr: [0xc1, 0xcf, 0x2d, 0x70, 0x13, 0xe7],
    };
    let Some((&config, mut rest)) = input.split_first() else {
        return;
    };
    let config = Config {
        io_capability: match config & 3 {
            1 => IoCapability::DisplayYesNo,
            2 => IoCapability::KeyboardDisplay,
            _ => IoCapability::NoInputNoOutput,
        },
        mitm: config & 4 != 0,
    };
    let mut session = Responder::new(config, *keys_b, [0x5A; 16], central, peripheral);
    // The same PDUs also drive an initiator (the debug key's side) that
    // has sent its Pairing Request.
    let mut central_session = Initiator::new(config, *keys, [0xA5; 16], central, peripheral);
    check(&central_session.start(true), false);
    let central_ended = |s: &Initiator| {
        matches!(
            s.state(),
            initiator::State::Paired | initiator::State::Failed
        )
    };
    let mut last_params: Option<PairingParams> = None;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len & 0x7F).min(tail.len());
        let (pdu, tail) = tail.split_at(n);
        rest = tail;

        // Today's host path: at most a 2-octet Pairing Failed.
        let mut out = [0u8; PDU_MAX];
        assert!(smp::handle(pdu, &mut out) <= 2);

        let answer = len & 0x80 != 0;
        if !(answer && pdu.is_empty()) {
            let ended = matches!(session.state(), State::Paired | State::Failed);
            let step = session.on_pdu(pdu);
            check(&step, ended);
            if let Some(v) = step.compare {
                assert!(v < 1_000_000);
            }
        }
        if !(answer && pdu.is_empty()) {
            let ended = central_ended(&central_session);
            let step = central_session.on_pdu(pdu);
            check(&step, ended);
            assert!(step.compare.is_none_or(|v| v < 1_000_000));
        }
        if answer {
            let ended = matches!(session.state(), State::Paired | State::Failed);
            check(&session.user_confirm(!pdu.is_empty()), ended);
            let ended = central_ended(&central_session);
            check(&central_session.user_confirm(!pdu.is_empty()), ended);
        }

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
