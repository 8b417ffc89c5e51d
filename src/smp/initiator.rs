//! One pairing as initiator (the central): LE Secure Connections Just
//! Works and Numeric Comparison (Vol 3 Part H 2.3.5.6.2, message sequence
//! C.2.2), sans-IO; the mirror of `smp::responder`.
//!
//! Not wired to the host yet. A session is made per pairing with a fresh
//! key pair and nonce Na (from the controller's LE Rand) and the link's
//! two addresses; [`Initiator::start`] sends the Pairing Request (on the
//! application's request, or when the peripheral sent a Security Request,
//! 3.6.7). When the responder's DHKey check matches, the outcome carries
//! the LTK, which the host hands to LE Enable Encryption (Vol 4 Part E
//! 7.8.24) with EDIV 0 and Rand 0.

use super::crypto::{f4, f5, f6, g2, KeyPair, LeAddress, PublicKey, U128};
use super::method::{self, Method};
use super::pdu::{
    AuthReq, KeyDistribution, PairingParams, Pdu, Reason, PAIRING_REQUEST, PAIRING_RESPONSE,
};
use super::session::{ct_eq, dh_key_with, failed, paired, send};
pub use super::session::{Config, Outcome, Step, MAX_KEY_SIZE, MIN_KEY_SIZE, SMP_TIMEOUT_MS};

/// Where the session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// [`Initiator::start`] not called yet.
    Idle,
    /// Pairing Request sent.
    WaitResponse,
    /// Our public key sent; waiting for the responder's.
    WaitPublicKey,
    /// Waiting for the responder's confirm value Cb.
    WaitConfirm,
    /// Na sent; waiting for Nb.
    WaitRandom,
    /// Numeric Comparison: waiting for our user's answer
    /// ([`Initiator::user_confirm`]).
    WaitUser,
    /// Ea sent; waiting for the responder's DHKey check Eb.
    WaitDhKeyCheck,
    Paired,
    Failed,
}

/// One LE Secure Connections pairing as initiator.
#[derive(Clone, Debug)]
pub struct Initiator {
    state: State,
    config: Config,
    compare: bool,
    keys: KeyPair,
    na: U128,
    /// Ours: A in f5/f6.
    initiator: LeAddress,
    /// The responder's (peripheral's) address: B in f5/f6.
    responder: LeAddress,
    preq: [u8; 7],
    pres: [u8; 7],
    dh_key: [u8; 32],
    peer_x: [u8; 32],
    cb: U128,
    nb: U128,
}

impl Initiator {
    /// A session for one pairing; `keys` and `na` fresh for it.
    pub fn new(
        config: Config,
        keys: KeyPair,
        na: U128,
        initiator: LeAddress,
        responder: LeAddress,
    ) -> Self {
        Initiator {
            state: State::Idle,
            config,
            compare: false,
            keys,
            na,
            initiator,
            responder,
            preq: [0; 7],
            pres: [0; 7],
            dh_key: [0; 32],
            peer_x: [0; 32],
            cb: [0; 16],
            nb: [0; 16],
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Sends the Pairing Request: our IO capability, no OOB data, Secure
    /// Connections, MITM if configured, Bonding if `bonding`, no keys to
    /// distribute (the Secure Connections LTK needs none). Only once.
    pub fn start(&mut self, bonding: bool) -> Step {
        if self.state != State::Idle {
            return Step::default();
        }
        let mut auth_req = AuthReq::SC;
        auth_req.set(AuthReq::MITM, self.config.mitm);
        auth_req.set(AuthReq::BONDING, bonding);
        let request = PairingParams {
            io_capability: self.config.io_capability,
            oob_data_present: false,
            auth_req,
            max_key_size: MAX_KEY_SIZE,
            initiator_keys: KeyDistribution::empty(),
            responder_keys: KeyDistribution::empty(),
        };
        self.preq = request.to_pdu(PAIRING_REQUEST);
        self.state = State::WaitResponse;
        send(Pdu::PairingRequest(request))
    }

    /// Handles one received SMP PDU (the L2CAP payload of CID 0x0006).
    pub fn on_pdu(&mut self, bytes: &[u8]) -> Step {
        if matches!(self.state, State::Paired | State::Failed) {
            return Step::default();
        }
        let pdu = match Pdu::parse(bytes) {
            Ok(p) => p,
            Err(reason) => return self.fail(reason),
        };
        match (self.state, pdu) {
            (_, Pdu::PairingFailed(reason)) => {
                self.state = State::Failed;
                Step {
                    outcome: Some(Outcome::Failed {
                        reason,
                        local: false,
                    }),
                    ..Step::default()
                }
            }
            // Keypress notifications (Passkey Entry) and a Security
            // Request while we already pair (3.6.7) need no answer.
            (_, Pdu::PairingKeypressNotification(_) | Pdu::SecurityRequest(_)) => Step::default(),
            (State::WaitResponse, Pdu::PairingResponse(response)) => self.on_response(&response),
            (State::WaitPublicKey, Pdu::PairingPublicKey(key)) => self.on_public_key(&key),
            (State::WaitConfirm, Pdu::PairingConfirm(cb)) => {
                self.cb = cb;
                self.state = State::WaitRandom;
                send(Pdu::PairingRandom(self.na))
            }
            (State::WaitRandom, Pdu::PairingRandom(nb)) => self.on_random(&nb),
            (State::WaitDhKeyCheck, Pdu::PairingDhKeyCheck(eb)) => self.on_dhkey_check(&eb),
            // A pairing PDU out of its place (Idle included: we have not
            // started).
            _ => self.fail(Reason::UNSPECIFIED_REASON),
        }
    }

    fn on_response(&mut self, response: &PairingParams) -> Step {
        if response.max_key_size < MIN_KEY_SIZE {
            return self.fail(Reason::ENCRYPTION_KEY_SIZE);
        }
        if response.max_key_size > MAX_KEY_SIZE {
            return self.fail(Reason::INVALID_PARAMETERS);
        }
        let Ok(Pdu::PairingRequest(request)) = Pdu::parse(&self.preq) else {
            return self.fail(Reason::UNSPECIFIED_REASON);
        };
        let selection = method::select(&request, response);
        if !selection.secure_connections {
            return self.fail(Reason::AUTHENTICATION_REQUIREMENTS);
        }
        match selection.method {
            Method::JustWorks if self.config.mitm => {
                return self.fail(Reason::AUTHENTICATION_REQUIREMENTS)
            }
            Method::JustWorks => {}
            Method::NumericComparison => self.compare = true,
            Method::OutOfBand => return self.fail(Reason::OOB_NOT_AVAILABLE),
            Method::PasskeyEntry(_) => return self.fail(Reason::AUTHENTICATION_REQUIREMENTS),
        }
        self.pres = response.to_pdu(PAIRING_RESPONSE);
        self.state = State::WaitPublicKey;
        send(Pdu::PairingPublicKey(*self.keys.public()))
    }

    fn on_public_key(&mut self, key: &PublicKey) -> Step {
        self.dh_key = match dh_key_with(&self.keys, key) {
            Ok(d) => d,
            Err(reason) => return self.fail(reason),
        };
        self.peer_x = key.x;
        self.state = State::WaitConfirm;
        Step::default()
    }

    fn on_random(&mut self, nb: &U128) -> Step {
        // Cb = f4(PKbx, PKax, Nb, 0) (2.3.5.6.2): the responder committed
        // to Nb before it saw Na.
        let expected = f4(&self.peer_x, &self.keys.public().x, nb, 0);
        if !ct_eq(&expected, &self.cb) {
            return self.fail(Reason::CONFIRM_VALUE_FAILED);
        }
        self.nb = *nb;
        if self.compare {
            self.state = State::WaitUser;
            let v = g2(&self.keys.public().x, &self.peer_x, &self.na, &self.nb);
            Step {
                compare: Some(v % 1_000_000),
                ..Step::default()
            }
        } else {
            self.send_check()
        }
    }

    /// The SMP timer ran out ([`SMP_TIMEOUT_MS`]): the pairing fails
    /// without a Pairing Failed (3.4). Nothing happens if it has ended.
    pub fn timed_out(&mut self) -> Step {
        if matches!(self.state, State::Paired | State::Failed) {
            return Step::default();
        }
        self.state = State::Failed;
        Step {
            outcome: Some(Outcome::TimedOut),
            ..Step::default()
        }
    }

    /// Our user's answer to Numeric Comparison: yes sends our DHKey check
    /// Ea; no fails pairing with Numeric Comparison Failed. Ignored unless
    /// a comparison is pending.
    pub fn user_confirm(&mut self, accept: bool) -> Step {
        if self.state != State::WaitUser {
            return Step::default();
        }
        if !accept {
            return self.fail(Reason::NUMERIC_COMPARISON_FAILED);
        }
        self.send_check()
    }

    /// MacKey and LTK (f5) for this pairing.
    fn keys_f5(&self) -> (U128, U128) {
        f5(
            &self.dh_key,
            &self.na,
            &self.nb,
            self.initiator,
            self.responder,
        )
    }

    fn send_check(&mut self) -> Step {
        let (mac_key, _) = self.keys_f5();
        let io_a = [self.preq[1], self.preq[2], self.preq[3]];
        let ea = f6(
            &mac_key,
            &self.na,
            &self.nb,
            &[0; 16],
            &io_a,
            self.initiator,
            self.responder,
        );
        self.state = State::WaitDhKeyCheck;
        send(Pdu::PairingDhKeyCheck(ea))
    }

    fn on_dhkey_check(&mut self, eb: &U128) -> Step {
        let (mac_key, ltk) = self.keys_f5();
        let io_b = [self.pres[1], self.pres[2], self.pres[3]];
        let expected = f6(
            &mac_key,
            &self.nb,
            &self.na,
            &[0; 16],
            &io_b,
            self.responder,
            self.initiator,
        );
        if !ct_eq(&expected, eb) {
            return self.fail(Reason::DHKEY_CHECK_FAILED);
        }
        self.state = State::Paired;
        Step {
            outcome: Some(paired(&self.preq, &self.pres, ltk, self.compare)),
            ..Step::default()
        }
    }

    fn fail(&mut self, reason: Reason) -> Step {
        self.state = State::Failed;
        failed(reason)
    }
}

#[cfg(test)]
mod tests {
    //! We are "A" of Appendix D (the debug key pair, Na of D.2, address
    //! 0x56123737bfce), the responder is "B" (private key B, Nb of D.3,
    //! address 0xa713702dcfc1). Ea, Eb and g2 for these Pairing
    //! Request/Response octets were computed with Bumble's crypto
    //! (bumble.crypto f4/f5/f6/g2, EccKey), an independent implementation.
    //! Then both of our roles pair with each other.
    use super::*;
    use crate::smp::pdu::IoCapability;
    use crate::smp::responder::Responder;
    use crate::smp::testdata::{
        hex, le, ADDRESS_A as A, ADDRESS_B as B, NA, NB, PRIVATE_A, PRIVATE_B,
    };

    const CB: &str = "6bab385318d9cea1ba9fc6b57775ff3a";
    const LTK: &str = "69867911 69d7cd23 980522b5 94750a38";
    const JUST_WORKS: Config = Config {
        io_capability: IoCapability::NoInputNoOutput,
        mitm: false,
    };
    const YES_NO: Config = Config {
        io_capability: IoCapability::DisplayYesNo,
        mitm: true,
    };

    fn key(private: &str) -> KeyPair {
        KeyPair::from_private_key(&le(private)).unwrap()
    }

    fn bytes(p: &Pdu) -> heapless::Vec<u8, 65> {
        let mut b = [0u8; 65];
        let n = p.write(&mut b).unwrap();
        heapless::Vec::from_slice(&b[..n]).unwrap()
    }

    fn failed(step: &Step, reason: Reason) {
        assert_eq!(step.send.as_slice(), &[Pdu::PairingFailed(reason)]);
        assert_eq!(
            step.outcome,
            Some(Outcome::Failed {
                reason,
                local: true
            })
        );
    }

    /// Up to our Pairing Random, with the responder's Response `pres`.
    fn to_random(config: Config, preq: [u8; 7], pres: [u8; 7]) -> Initiator {
        let mut s = Initiator::new(config, key(PRIVATE_A), le(NA), A, B);
        let step = s.start(true);
        assert_eq!(bytes(&step.send[0]).as_slice(), &preq);
        let step = s.on_pdu(&pres);
        assert_eq!(
            step.send.as_slice(),
            &[Pdu::PairingPublicKey(*key(PRIVATE_A).public())]
        );
        let step = s.on_pdu(&bytes(&Pdu::PairingPublicKey(*key(PRIVATE_B).public())));
        assert_eq!(step, Step::default());
        let step = s.on_pdu(&bytes(&Pdu::PairingConfirm(hex(CB))));
        assert_eq!(step.send.as_slice(), &[Pdu::PairingRandom(le(NA))]);
        s
    }

    fn paired(step: &Step, authenticated: bool) {
        assert!(step.send.is_empty());
        assert_eq!(
            step.outcome,
            Some(Outcome::Paired {
                ltk: le(LTK),
                key_size: 16,
                authenticated,
                bonded: true,
            })
        );
    }

    /// 3.4: the timer ends a running pairing silently.
    #[test]
    fn timeout() {
        let mut s = Initiator::new(JUST_WORKS, key(PRIVATE_A), le(NA), A, B);
        s.start(true);
        let step = s.timed_out();
        assert!(step.send.is_empty());
        assert_eq!(step.outcome, Some(Outcome::TimedOut));
        assert_eq!(
            s.on_pdu(&[0x02, 0x03, 0x00, 0x09, 0x10, 0x00, 0x00]),
            Step::default()
        );
        assert_eq!(s.start(true), Step::default());
    }

    /// One session per pairing link: keep it small (README "Footprint").
    #[test]
    fn session_size() {
        let n = core::mem::size_of::<Initiator>();
        std::println!("Initiator: {n} bytes");
        assert!(n <= 272, "{n}");
    }

    #[test]
    fn sc_just_works_as_initiator() {
        // NoInputNoOutput, no OOB, Bonding | SC, 16, no keys (both).
        let mut s = to_random(
            JUST_WORKS,
            [0x01, 0x03, 0x00, 0x09, 0x10, 0x00, 0x00],
            [0x02, 0x03, 0x00, 0x09, 0x10, 0x00, 0x00],
        );
        let step = s.on_pdu(&bytes(&Pdu::PairingRandom(le(NB))));
        assert_eq!(
            step.send.as_slice(),
            &[Pdu::PairingDhKeyCheck(hex(
                "c994bb9c4708967d239e609785831a81"
            ))]
        );
        assert_eq!(step.compare, None);
        let eb = Pdu::PairingDhKeyCheck(hex("c0509525f371ff94a825859705879a67"));
        paired(&s.on_pdu(&bytes(&eb)), false);
        assert_eq!(s.state(), State::Paired);
        assert_eq!(s.on_pdu(&bytes(&eb)), Step::default());
    }

    #[test]
    fn sc_numeric_comparison_as_initiator() {
        // DisplayYesNo, no OOB, Bonding | MITM | SC, 16, no keys (both).
        let mut s = to_random(
            YES_NO,
            [0x01, 0x01, 0x00, 0x0D, 0x10, 0x00, 0x00],
            [0x02, 0x01, 0x00, 0x0D, 0x10, 0x00, 0x00],
        );
        let step = s.on_pdu(&bytes(&Pdu::PairingRandom(le(NB))));
        assert!(step.send.is_empty());
        assert_eq!(step.compare, Some(706570));
        let step = s.user_confirm(true);
        assert_eq!(
            step.send.as_slice(),
            &[Pdu::PairingDhKeyCheck(hex(
                "d9b5614a965f24ff0cedd39f4b98e2af"
            ))]
        );
        let eb = Pdu::PairingDhKeyCheck(hex("d73fad0d358365a7584f689543af9f3d"));
        paired(&s.on_pdu(&bytes(&eb)), true);
    }

    #[test]
    fn failures() {
        let jw_pres = [0x02, 0x03, 0x00, 0x09, 0x10, 0x00, 0x00];
        let jw_preq = [0x01, 0x03, 0x00, 0x09, 0x10, 0x00, 0x00];
        // Nb that does not match Cb.
        let mut s = to_random(JUST_WORKS, jw_preq, jw_pres);
        let mut nb: U128 = le(NB);
        nb[0] ^= 1;
        failed(
            &s.on_pdu(&bytes(&Pdu::PairingRandom(nb))),
            Reason::CONFIRM_VALUE_FAILED,
        );
        // A wrong Eb.
        let mut s = to_random(JUST_WORKS, jw_preq, jw_pres);
        s.on_pdu(&bytes(&Pdu::PairingRandom(le(NB))));
        failed(
            &s.on_pdu(&bytes(&Pdu::PairingDhKeyCheck([0; 16]))),
            Reason::DHKEY_CHECK_FAILED,
        );
        // The user says no.
        let yn_preq = [0x01, 0x01, 0x00, 0x0D, 0x10, 0x00, 0x00];
        let mut s = to_random(YES_NO, yn_preq, [0x02, 0x01, 0x00, 0x0D, 0x10, 0x00, 0x00]);
        s.on_pdu(&bytes(&Pdu::PairingRandom(le(NB))));
        failed(&s.user_confirm(false), Reason::NUMERIC_COMPARISON_FAILED);
        // A legacy responder; a 6-octet key; a responder with no IO when we
        // need MITM.
        for (pres, reason) in [
            (
                [0x02, 0x03, 0x00, 0x01, 0x10, 0, 0],
                Reason::AUTHENTICATION_REQUIREMENTS,
            ),
            (
                [0x02, 0x03, 0x00, 0x09, 0x06, 0, 0],
                Reason::ENCRYPTION_KEY_SIZE,
            ),
        ] {
            let mut s = Initiator::new(JUST_WORKS, key(PRIVATE_A), le(NA), A, B);
            s.start(true);
            failed(&s.on_pdu(&pres), reason);
        }
        let mut s = Initiator::new(YES_NO, key(PRIVATE_A), le(NA), A, B);
        s.start(true);
        failed(&s.on_pdu(&jw_pres), Reason::AUTHENTICATION_REQUIREMENTS);
        // An off-curve responder key.
        let mut s = Initiator::new(JUST_WORKS, key(PRIVATE_A), le(NA), A, B);
        s.start(true);
        s.on_pdu(&jw_pres);
        let bad = PublicKey {
            y: [0; 32],
            ..*key(PRIVATE_B).public()
        };
        failed(
            &s.on_pdu(&bytes(&Pdu::PairingPublicKey(bad))),
            Reason::DHKEY_CHECK_FAILED,
        );
        // Before start, a response is out of place.
        let mut s = Initiator::new(JUST_WORKS, key(PRIVATE_A), le(NA), A, B);
        failed(&s.on_pdu(&jw_pres), Reason::UNSPECIFIED_REASON);
    }

    /// Our initiator pairs with our responder, every PDU through its
    /// octets; both end with the same LTK.
    fn pair_with_ourselves(ic: Config, rc: Config, user_yes: bool) -> (Outcome, Outcome) {
        let mut i = Initiator::new(ic, key(PRIVATE_A), le(NA), A, B);
        let mut r = Responder::new(rc, key(PRIVATE_B), le(NB), A, B);
        let mut to_r: heapless::Deque<Pdu, 8> = heapless::Deque::new();
        let mut to_i: heapless::Deque<Pdu, 8> = heapless::Deque::new();
        let (mut io, mut ro) = (None, None);
        let mut shown: (Option<u32>, Option<u32>) = (None, None);
        for p in i.start(true).send {
            to_r.push_back(p).unwrap();
        }
        for _ in 0..20 {
            while let Some(p) = to_r.pop_front() {
                let step = r.on_pdu(&bytes(&p));
                ro = ro.or(step.outcome);
                shown.1 = shown.1.or(step.compare);
                for q in step.send {
                    to_i.push_back(q).unwrap();
                }
            }
            while let Some(p) = to_i.pop_front() {
                let step = i.on_pdu(&bytes(&p));
                io = io.or(step.outcome);
                shown.0 = shown.0.or(step.compare);
                for q in step.send {
                    to_r.push_back(q).unwrap();
                }
            }
            // Both users answer once the numbers are up (the responder's
            // first: its Eb then waits for Ea).
            let step = r.user_confirm(user_yes);
            ro = ro.or(step.outcome);
            for q in step.send {
                to_i.push_back(q).unwrap();
            }
            let step = i.user_confirm(user_yes);
            io = io.or(step.outcome);
            for q in step.send {
                to_r.push_back(q).unwrap();
            }
            if to_r.is_empty() && to_i.is_empty() {
                break;
            }
        }
        assert_eq!(shown.0, shown.1, "both show the same number");
        (io.expect("initiator ended"), ro.expect("responder ended"))
    }

    #[test]
    fn our_roles_pair_with_each_other() {
        let (i, r) = pair_with_ourselves(JUST_WORKS, JUST_WORKS, true);
        assert_eq!(i, r);
        assert!(matches!(
            i,
            Outcome::Paired {
                authenticated: false,
                ..
            }
        ));
        let (i, r) = pair_with_ourselves(YES_NO, YES_NO, true);
        assert_eq!(i, r);
        assert!(matches!(
            i,
            Outcome::Paired {
                authenticated: true,
                ..
            }
        ));
        // Both users say no: each side fails with Numeric Comparison
        // Failed; each one's Pairing Failed reaches a session that has
        // already ended, which stays silent.
        let (i, r) = pair_with_ourselves(YES_NO, YES_NO, false);
        let reason = Reason::NUMERIC_COMPARISON_FAILED;
        assert_eq!(
            r,
            Outcome::Failed {
                reason,
                local: true
            }
        );
        assert_eq!(
            i,
            Outcome::Failed {
                reason,
                local: true
            }
        );
    }
}
