//! SMP PDUs (Vol 3 Part H 3.3-3.6): no input may panic, and everything the
//! parser accepts is written back as the very same octets (c1 and f6 hash
//! the Pairing Request/Response as received, so the round trip must be
//! exact).
//!
//! Two modes, chosen by bit 7 of the first octet (the configuration: bits
//! 0-1 our IO capability, bit 2 MITM, bit 3 legacy (no SC bit), bit 4 a
//! fixed passkey, bit 5 Secure Connections Only, bit 6 no bonding):
//!
//! - **raw** (bit 7 clear): a sequence of PDUs, each behind a length
//!   octet (bits 0-6; bit 7 answers a pending Numeric Comparison after the
//!   PDU: yes, or no for an empty PDU, which is not fed; it also types
//!   passkey 123456 and reports the link encrypted), as they would arrive
//!   on CID 0x0006 of one link; consecutive Pairing Request/Response
//!   bodies also go through the method selection, and public keys through
//!   the on-curve check and, when on the curve, ECDH. The same PDUs drive
//!   a responder session and an initiator session (`smp::responder`,
//!   `smp::initiator`).
//! - **mirror** (bit 7 set): our initiator pairs with our responder (the
//!   second octet is the responder's configuration), and the rest of the
//!   input is a script of operations on the PDUs in flight and the users
//!   (deliver, drop, replace with fuzzed bytes, flip a bit, type a
//!   passkey right or wrong, answer a comparison, report encryption, time
//!   out): so the deep states (the 20 Passkey Entry rounds, legacy
//!   pairing, the key distribution phase) are reached and then attacked.
//!
//! In both, whatever a session sends must itself parse, once a session
//! has ended it stays silent, and a key is handed out at most once; in
//! mirror mode, when nothing was tampered with and both sides paired,
//! they hold the same key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpble::smp::crypto::{KeyPair, LeAddress};
use mpble::smp::initiator::{self, Initiator};
use mpble::smp::method;
use mpble::smp::pdu::IoCapability;
use mpble::smp::pdu::{Pdu, Reason, PDU_MAX};
use mpble::smp::responder::{Config, Outcome, Responder, State, Step};
use mpble::smp::{self, pdu::PairingParams};
use std::collections::VecDeque;

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

fn parse_config(c: u8) -> Config {
    Config {
        io_capability: match c & 3 {
            1 => IoCapability::DisplayYesNo,
            2 => IoCapability::KeyboardDisplay,
            3 => IoCapability::KeyboardOnly,
            _ => IoCapability::NoInputNoOutput,
        },
        mitm: c & 4 != 0,
        secure_connections: c & 8 == 0,
        passkey: (c & 0x10 != 0).then_some(999_999),
        sc_only: c & 0x20 != 0,
        bonding: c & 0x40 == 0,
    }
}

/// What one side of a mirror run has seen.
#[derive(Default)]
struct Seen {
    ended: bool,
    paired: Option<Outcome>,
    shown: Option<u32>,
    key: Option<[u8; 16]>,
}

impl Seen {
    fn take(&mut self, step: Step, queue: &mut VecDeque<Vec<u8>>) {
        check(&step, self.ended);
        if step.encrypt.is_some() {
            assert!(self.key.is_none(), "a key is handed out once");
            self.key = step.encrypt;
        }
        self.shown = self.shown.or(step.display_passkey);
        for v in [step.display_passkey, step.compare].into_iter().flatten() {
            assert!(v <= 999_999);
        }
        for p in &step.send {
            let mut out = [0u8; PDU_MAX];
            let n = p.write(&mut out).expect("fits");
            if queue.len() < 64 {
                queue.push_back(out[..n].to_vec());
            }
        }
        if let Some(o) = step.outcome {
            self.ended = true;
            if matches!(o, Outcome::Paired { .. }) {
                self.paired = Some(o);
            }
        }
    }
}

/// Mirror mode: our initiator against our responder, the script
/// deciding what happens to each PDU in flight and what the users do.
fn mirror(
    ic: Config,
    rest: &[u8],
    keys: &KeyPair,
    keys_b: &KeyPair,
    central: LeAddress,
    peripheral: LeAddress,
) {
    let Some((&rc, mut script)) = rest.split_first() else {
        return;
    };
    let rc = parse_config(rc);
    let mut i = Initiator::new(ic, *keys, [0xA5; 16], central, peripheral);
    let mut r = Responder::new(rc, *keys_b, [0x5A; 16], central, peripheral);
    i.set_irk([0x11; 16]);
    let (mut si, mut sr) = (Seen::default(), Seen::default());
    // to_r: initiator -> responder; to_i: the other way.
    let (mut to_r, mut to_i) = (VecDeque::new(), VecDeque::new());
    let mut tampered = false;
    si.take(i.start(ic.bonding), &mut to_r);
    let mut ops = 0;
    while let Some((&op, tail)) = script.split_first() {
        script = tail;
        ops += 1;
        if ops > 2_000 {
            break;
        }
        let to_responder = op & 0x08 != 0;
        let arg = op >> 4;
        match op & 0x07 {
            // Deliver the next PDU (arg > 0: that many).
            0 | 7 => {
                for _ in 0..(if op & 7 == 7 { 64 } else { 1 + arg }) {
                    if to_responder {
                        let Some(p) = to_r.pop_front() else { break };
                        let step = r.on_pdu(&p);
                        sr.take(step, &mut to_i);
                    } else {
                        let Some(p) = to_i.pop_front() else { break };
                        let step = i.on_pdu(&p);
                        si.take(step, &mut to_r);
                    }
                }
            }
            // Drop it.
            1 => {
                let q = if to_responder { &mut to_r } else { &mut to_i };
                tampered |= q.pop_front().is_some();
            }
            // Replace it with `arg` fuzzed octets (arg 15: a length octet).
            2 => {
                let n = if arg == 15 {
                    let Some((&n, tail)) = script.split_first() else {
                        break;
                    };
                    script = tail;
                    usize::from(n & 0x7F)
                } else {
                    usize::from(arg)
                };
                let n = n.min(script.len());
                let (p, tail) = script.split_at(n);
                script = tail;
                tampered = true;
                if to_responder {
                    to_r.pop_front();
                    let step = r.on_pdu(p);
                    sr.take(step, &mut to_i);
                } else {
                    to_i.pop_front();
                    let step = i.on_pdu(p);
                    si.take(step, &mut to_r);
                }
            }
            // Flip one bit of it (the next octet says which) and deliver.
            3 => {
                let Some((&bit, tail)) = script.split_first() else {
                    break;
                };
                script = tail;
                let q = if to_responder { &mut to_r } else { &mut to_i };
                if let Some(mut p) = q.pop_front() {
                    let at = usize::from(bit >> 3) % p.len().max(1);
                    if let Some(o) = p.get_mut(at) {
                        *o ^= 1 << (bit & 7);
                        tampered = true;
                    }
                    if to_responder {
                        let step = r.on_pdu(&p);
                        sr.take(step, &mut to_i);
                    } else {
                        let step = i.on_pdu(&p);
                        si.take(step, &mut to_r);
                    }
                }
            }
            // A user types: the passkey the other side shows, that one
            // wrong, nothing, or 999999.
            4 => {
                let other = if to_responder { si.shown } else { sr.shown };
                let typed = match arg & 3 {
                    0 => Some(other.unwrap_or(0)),
                    1 => Some(other.unwrap_or(0) ^ 1),
                    2 => None,
                    _ => Some(999_999 + u32::from(arg >> 2)),
                };
                if to_responder {
                    let step = r.passkey_entered(typed);
                    sr.take(step, &mut to_i);
                } else {
                    let step = i.passkey_entered(typed);
                    si.take(step, &mut to_r);
                }
            }
            // A user answers the comparison.
            5 => {
                if to_responder {
                    let step = r.user_confirm(arg & 1 == 0);
                    sr.take(step, &mut to_i);
                } else {
                    let step = i.user_confirm(arg & 1 == 0);
                    si.take(step, &mut to_r);
                }
            }
            // The link's encryption changes (on when both keys agree and
            // arg is even), or the SMP timer runs out (arg 15).
            _ => {
                let on = arg & 1 == 0 && si.key.is_some() && si.key == sr.key;
                let step = match (to_responder, arg) {
                    (true, 15) => r.timed_out(),
                    (false, 15) => i.timed_out(),
                    (true, _) => r.encryption_changed(on),
                    (false, _) => i.encryption_changed(on),
                };
                if to_responder {
                    sr.take(step, &mut to_i);
                } else {
                    si.take(step, &mut to_r);
                }
            }
        }
    }
    if let (Some(a), Some(b), false) = (si.paired, sr.paired, tampered) {
        let key = |o: Outcome| match o {
            Outcome::Paired {
                ltk,
                key_size,
                ediv,
                rand,
                ..
            } => (ltk, key_size, ediv, rand),
            _ => unreachable!(),
        };
        assert_eq!(key(a), key(b), "both sides hold the same key");
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
    if config & 0x80 != 0 {
        mirror(
            parse_config(config),
            rest,
            keys,
            keys_b,
            central,
            peripheral,
        );
        return;
    }
    let config = parse_config(config);
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
            if answer {
                check(&session.passkey_entered(Some(123_456)), ended);
                let ended = matches!(session.state(), State::Paired | State::Failed);
                check(&session.encryption_changed(true), ended);
            }
        }
        if !(answer && pdu.is_empty()) {
            let ended = central_ended(&central_session);
            let step = central_session.on_pdu(pdu);
            check(&step, ended);
            assert!(step.compare.is_none_or(|v| v < 1_000_000));
            if answer {
                check(&central_session.passkey_entered(Some(123_456)), ended);
                let ended = central_ended(&central_session);
                check(&central_session.encryption_changed(true), ended);
            }
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
