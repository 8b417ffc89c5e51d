//! One pairing as initiator (the central), sans-IO; the mirror of
//! `smp::responder`: LE Secure Connections Just Works, Numeric Comparison
//! (2.3.5.6.2, C.2.2) and Passkey Entry (2.3.5.6.3, C.2.3), LE legacy
//! pairing Just Works and Passkey Entry (2.3.5.2-2.3.5.5), then the key
//! distribution phase (3.6.1).
//!
//! A session is made per pairing with a fresh key pair and nonce Na (from
//! the controller's LE Rand, [`RANDOM_LEN`] octets) and the link's two
//! addresses; [`Initiator::start`] sends the Pairing Request (on the
//! application's request, or when the peripheral sent a Security Request,
//! 3.6.7). When the exchange is done a step carries `encrypt`: the key
//! (STK or LTK) the host hands to LE Enable Encryption (Vol 4 Part E
//! 7.8.24) with EDIV 0 and Rand 0; [`Initiator::encryption_changed`] then
//! runs the key distribution phase (the responder's keys, then ours), and
//! the outcome comes. Secure Connections with no keys to distribute ends
//! at once, with `encrypt` and the outcome in one step.

use super::crypto::{f4, f5, f6, g2, s1, KeyPair, LeAddress, PublicKey, U128};
use super::method::{self, Method, Passkey};
use super::pdu::{
    AuthReq, KeyDistribution, PairingParams, Pdu, Reason, PAIRING_REQUEST, PAIRING_RESPONSE,
};
use super::session::{
    ct_eq, cut, dh_key_with, display_passkey, failed, is_key_pdu, legacy_confirm, our_keys, paired,
    passkey_value, passkey_z, send, Derive, PeerKeys, PASSKEY_MAX, PASSKEY_ROUNDS,
};
pub use super::session::{
    Config, Outcome, Step, MAX_KEY_SIZE, MIN_KEY_SIZE, RANDOM_LEN, SMP_TIMEOUT_MS,
};

/// Where the session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// [`Initiator::start`] not called yet.
    Idle,
    /// Pairing Request sent.
    WaitResponse,
    /// Secure Connections: our public key sent; waiting for the
    /// responder's.
    WaitPublicKey,
    /// Passkey Entry: waiting for our user's passkey
    /// ([`Initiator::passkey_entered`]) before our first confirm value.
    WaitPasskey,
    /// Our confirm value sent (Mconfirm, Cai), or none for Just Works and
    /// Numeric Comparison: waiting for the responder's (Sconfirm, Cbi,
    /// Cb).
    WaitConfirm,
    /// Our nonce sent (Mrand, Nai, Na); waiting for the responder's.
    WaitRandom,
    /// Numeric Comparison: waiting for our user's answer
    /// ([`Initiator::user_confirm`]).
    WaitUser,
    /// Ea sent; waiting for the responder's DHKey check Eb.
    WaitDhKeyCheck,
    /// The key (STK or LTK) was handed to the host to encrypt the link;
    /// waiting for [`Initiator::encryption_changed`].
    WaitEncryption,
    /// Waiting for the responder's keys (3.6.1).
    WaitKeys,
    Paired,
    Failed,
}

/// Which exchange runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    JustWorks,
    NumericComparison,
    Passkey,
}

/// One pairing as initiator: 352 bytes on a 32-bit target (see the
/// `session_size` test).
#[derive(Clone, Debug)]
pub struct Initiator {
    state: State,
    config: Config,
    kind: Kind,
    legacy: bool,
    round: u8,
    passkey: Option<u32>,
    keys: KeyPair,
    /// Na (Mrand in legacy); Nai of the round in Passkey Entry.
    na: U128,
    /// Ours: A in f5/f6, ia in c1, our identity address.
    initiator: LeAddress,
    /// The responder's (peripheral's) address: B in f5/f6, ra in c1.
    responder: LeAddress,
    preq: [u8; 7],
    pres: [u8; 7],
    dh_key: [u8; 32],
    peer_x: [u8; 32],
    /// The responder's confirm value, checked when its nonce comes.
    cb: U128,
    nb: U128,
    /// The STK or LTK the link is encrypted with.
    key: U128,
    /// Our IRK, distributed with IdKey ([`Initiator::set_irk`]).
    irk: U128,
    /// Keys each side distributes, as agreed (3.6.1).
    ours: KeyDistribution,
    peer_keys: PeerKeys,
}

impl Initiator {
    /// A session for one pairing; `keys` and `na` fresh for it.
    pub const fn new(
        config: Config,
        keys: KeyPair,
        na: U128,
        initiator: LeAddress,
        responder: LeAddress,
    ) -> Self {
        Initiator {
            state: State::Idle,
            config,
            kind: Kind::JustWorks,
            legacy: false,
            round: 0,
            passkey: None,
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
            key: [0; 16],
            irk: [0; 16],
            ours: KeyDistribution::empty(),
            peer_keys: PeerKeys::NONE,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Our IRK for the key distribution phase (Identity Information,
    /// 3.6.4); all zeros unless set (docs/DECISIONS.md).
    pub fn set_irk(&mut self, irk: U128) {
        self.irk = irk;
    }

    fn derive(&self) -> Derive {
        Derive::new(&self.keys)
    }

    fn ended(&self) -> bool {
        matches!(self.state, State::Paired | State::Failed)
    }

    /// Sends the Pairing Request: our IO capability, no OOB data, SC and
    /// MITM as configured, Bonding if `bonding`, and when bonding the keys
    /// we ask: the responder's LTK (legacy; ignored by Secure
    /// Connections) and identity, and we give ours (3.6.1). Only once.
    pub fn start(&mut self, bonding: bool) -> Step {
        if self.state != State::Idle {
            return Step::default();
        }
        let mut auth_req = AuthReq::empty();
        auth_req.set(AuthReq::SC, self.config.secure_connections);
        auth_req.set(AuthReq::MITM, self.config.mitm);
        auth_req.set(AuthReq::BONDING, bonding);
        let (ours, theirs) = if bonding {
            (
                KeyDistribution::ID_KEY,
                KeyDistribution::ID_KEY | KeyDistribution::ENC_KEY,
            )
        } else {
            (KeyDistribution::empty(), KeyDistribution::empty())
        };
        let request = PairingParams {
            io_capability: self.config.io_capability,
            oob_data_present: false,
            auth_req,
            max_key_size: MAX_KEY_SIZE,
            initiator_keys: ours,
            responder_keys: theirs,
        };
        self.preq = request.to_pdu(PAIRING_REQUEST);
        self.state = State::WaitResponse;
        send(Pdu::PairingRequest(request))
    }

    /// Handles one received SMP PDU (the L2CAP payload of CID 0x0006).
    pub fn on_pdu(&mut self, bytes: &[u8]) -> Step {
        if self.ended() {
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
            (State::WaitKeys, ref p) if is_key_pdu(p) => match self.peer_keys.receive(p) {
                Err(reason) => self.fail(reason),
                Ok(()) if self.peer_keys.done() => self.send_keys(),
                Ok(()) => Step::default(),
            },
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
        // The responder may only take keys away from what we asked
        // (3.6.1); any other bit is a protocol error.
        if !request.initiator_keys.contains(response.initiator_keys)
            || !request.responder_keys.contains(response.responder_keys)
        {
            return self.fail(Reason::INVALID_PARAMETERS);
        }
        let selection = method::select(&request, response);
        self.legacy = !selection.secure_connections;
        if self.legacy && self.config.sc_only {
            return self.fail(Reason::AUTHENTICATION_REQUIREMENTS);
        }
        let mut step = Step::default();
        match selection.method {
            Method::JustWorks if self.config.mitm => {
                return self.fail(Reason::AUTHENTICATION_REQUIREMENTS)
            }
            Method::JustWorks => {
                self.kind = Kind::JustWorks;
                self.passkey = Some(0);
            }
            Method::NumericComparison => self.kind = Kind::NumericComparison,
            Method::OutOfBand => return self.fail(Reason::OOB_NOT_AVAILABLE),
            Method::PasskeyEntry(who) => {
                self.kind = Kind::Passkey;
                if who == Passkey::InitiatorDisplays {
                    let p = display_passkey(&self.config, &self.derive());
                    self.passkey = Some(p);
                    step.display_passkey = Some(p);
                } else {
                    step.enter_passkey = true;
                }
            }
        }
        self.pres = response.to_pdu(PAIRING_RESPONSE);
        self.ours = response.initiator_keys;
        self.peer_keys = PeerKeys::expecting(response.responder_keys, self.legacy);
        if !self.legacy {
            self.state = State::WaitPublicKey;
            let _ = step.send.push(Pdu::PairingPublicKey(*self.keys.public()));
            return step;
        }
        let first = self.send_confirm();
        step.send = first.send;
        step
    }

    fn on_public_key(&mut self, key: &PublicKey) -> Step {
        self.dh_key = match dh_key_with(&self.keys, key) {
            Ok(d) => d,
            Err(reason) => return self.fail(reason),
        };
        self.peer_x = key.x;
        if self.kind == Kind::Passkey {
            // Ca1 once the passkey is known (C.2.3).
            return self.send_confirm();
        }
        // Just Works and Numeric Comparison: the responder's Cb first.
        self.state = State::WaitConfirm;
        Step::default()
    }

    /// Our confirm value, once the passkey is known: Mconfirm (legacy) or
    /// Cai of this round (Passkey Entry); until then, wait for our user.
    fn send_confirm(&mut self) -> Step {
        let Some(passkey) = self.passkey else {
            self.state = State::WaitPasskey;
            return Step::default();
        };
        let confirm = if self.legacy {
            legacy_confirm(
                passkey,
                &self.na,
                [&self.preq, &self.pres],
                [self.initiator, self.responder],
            )
        } else {
            // A fresh Nai each round (2.3.5.6.3).
            self.na = self.derive().nonce(self.round);
            let z = passkey_z(passkey, self.round);
            f4(&self.keys.public().x, &self.peer_x, &self.na, z)
        };
        self.state = State::WaitConfirm;
        send(Pdu::PairingConfirm(confirm))
    }

    /// The key size both sides accept (2.3.4), once the Pairing
    /// Response is known.
    pub fn key_size(&self) -> u8 {
        self.preq[4].min(self.pres[4])
    }

    /// Whether the method gives MITM protection (all but Just Works), as
    /// the key of [`Step::encrypt`] will have it.
    pub fn authenticated(&self) -> bool {
        self.kind != Kind::JustWorks
    }

    fn on_random(&mut self, nb: &U128) -> Step {
        match (self.kind, self.legacy, self.passkey) {
            (_, true, Some(passkey)) => {
                // Sconfirm must be c1 of Srand (2.3.5.5).
                let expected = legacy_confirm(
                    passkey,
                    nb,
                    [&self.preq, &self.pres],
                    [self.initiator, self.responder],
                );
                if !ct_eq(&expected, &self.cb) {
                    return self.fail(Reason::CONFIRM_VALUE_FAILED);
                }
                self.nb = *nb;
                // STK = s1(TK, Srand, Mrand), cut to the key size.
                let stk = s1(&passkey_value(passkey), &self.nb, &self.na);
                self.key = cut(stk, self.key_size());
                self.start_encryption(Step::default())
            }
            (Kind::Passkey, false, Some(passkey)) => {
                // Cbi = f4(PKbx, PKax, Nbi, rai) (2.3.5.6.3).
                let z = passkey_z(passkey, self.round);
                let expected = f4(&self.peer_x, &self.keys.public().x, nb, z);
                if !ct_eq(&expected, &self.cb) {
                    return self.fail(Reason::CONFIRM_VALUE_FAILED);
                }
                self.nb = *nb;
                self.round += 1;
                if self.round == PASSKEY_ROUNDS {
                    self.send_check()
                } else {
                    self.send_confirm()
                }
            }
            (_, false, _) => {
                // Cb = f4(PKbx, PKax, Nb, 0) (2.3.5.6.2): the responder
                // committed to Nb before it saw Na.
                let expected = f4(&self.peer_x, &self.keys.public().x, nb, 0);
                if !ct_eq(&expected, &self.cb) {
                    return self.fail(Reason::CONFIRM_VALUE_FAILED);
                }
                self.nb = *nb;
                if self.kind == Kind::NumericComparison {
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
            _ => self.fail(Reason::UNSPECIFIED_REASON),
        }
    }

    /// The SMP timer ran out ([`SMP_TIMEOUT_MS`]): the pairing fails
    /// without a Pairing Failed (3.4). Nothing happens if it has ended.
    pub fn timed_out(&mut self) -> Step {
        if self.ended() {
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

    /// Our user typed the passkey the responder shows (`Some(0..=999999)`)
    /// or gave up (`None`, or a value out of range): Pairing Failed /
    /// Passkey Entry Failed (3.5.5). Ignored unless [`Step::enter_passkey`]
    /// asked for it and it is still pending.
    pub fn passkey_entered(&mut self, passkey: Option<u32>) -> Step {
        if self.kind != Kind::Passkey
            || self.passkey.is_some()
            || !matches!(self.state, State::WaitPublicKey | State::WaitPasskey)
        {
            return Step::default();
        }
        match passkey.filter(|p| *p <= PASSKEY_MAX) {
            None => self.fail(Reason::PASSKEY_ENTRY_FAILED),
            Some(p) => {
                self.passkey = Some(p);
                if self.state == State::WaitPasskey {
                    self.send_confirm()
                } else {
                    // The responder's public key has not come yet.
                    Step::default()
                }
            }
        }
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

    /// r of f6: the passkey for Passkey Entry, zero otherwise (2.3.5.6.5).
    fn f6_r(&self) -> U128 {
        match (self.kind, self.passkey) {
            (Kind::Passkey, Some(p)) => passkey_value(p),
            _ => [0; 16],
        }
    }

    fn send_check(&mut self) -> Step {
        let (mac_key, _) = self.keys_f5();
        let io_a = [self.preq[1], self.preq[2], self.preq[3]];
        let ea = f6(
            &mac_key,
            &self.na,
            &self.nb,
            &self.f6_r(),
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
            &self.f6_r(),
            &io_b,
            self.responder,
            self.initiator,
        );
        if !ct_eq(&expected, eb) {
            return self.fail(Reason::DHKEY_CHECK_FAILED);
        }
        self.key = cut(ltk, self.key_size());
        self.start_encryption(Step::default())
    }

    /// Hands the key to the host to encrypt the link; Secure Connections
    /// with no keys either way ends here.
    fn start_encryption(&mut self, mut step: Step) -> Step {
        step.encrypt = Some(self.key);
        self.state = State::WaitEncryption;
        if !self.legacy && self.peer_keys.done() && !self.ours.contains(KeyDistribution::ID_KEY) {
            return self.finish(step);
        }
        step
    }

    /// The link is encrypted (`on`) with the key of [`Step::encrypt`], or
    /// encryption failed. The responder's keys come first (3.6.1), then we
    /// send ours. Ignored in any other state.
    pub fn encryption_changed(&mut self, on: bool) -> Step {
        if self.state != State::WaitEncryption {
            return Step::default();
        }
        if !on {
            return self.fail(Reason::UNSPECIFIED_REASON);
        }
        if self.peer_keys.done() {
            return self.send_keys();
        }
        self.state = State::WaitKeys;
        Step::default()
    }

    /// Our keys (after the responder's), and the end.
    fn send_keys(&mut self) -> Step {
        // We never agree to distribute an LTK as initiator (`start`).
        let step = our_keys(
            self.ours,
            self.legacy,
            ([0; 16], 0, [0; 8]),
            &self.irk,
            self.initiator,
        );
        self.finish(step)
    }

    fn finish(&mut self, mut step: Step) -> Step {
        self.state = State::Paired;
        let (key, storable) = match (self.legacy, self.peer_keys.ltk) {
            (false, _) => ((self.key, 0, [0; 8]), true),
            (true, Some(ltk)) => ((ltk, self.peer_keys.ediv, self.peer_keys.rand), true),
            (true, None) => ((self.key, 0, [0; 8]), false),
        };
        step.outcome = Some(paired(
            &self.preq,
            &self.pres,
            key,
            self.kind != Kind::JustWorks,
            storable,
            self.legacy,
            &self.peer_keys,
        ));
        step
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
    //! Our two roles pairing with each other: `smp::tests`.
    use super::*;
    use crate::smp::pdu::IoCapability;
    use crate::smp::testdata::{
        hex, le, ADDRESS_A as A, ADDRESS_B as B, NA, NB, PRIVATE_A, PRIVATE_B,
    };

    const CB: &str = "6bab385318d9cea1ba9fc6b57775ff3a";
    const LTK: &str = "69867911 69d7cd23 980522b5 94750a38";
    const JUST_WORKS: Config = Config::new(IoCapability::NoInputNoOutput, false);
    const YES_NO: Config = Config::new(IoCapability::DisplayYesNo, true);

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
                ediv: 0,
                rand: [0; 8],
                peer_identity: None,
                peer_irk: None,
                secure_connections: true,
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
        assert!(n <= 352, "{n}");
    }

    #[test]
    fn sc_just_works_as_initiator() {
        // NoInputNoOutput, no OOB, Bonding | SC, 16, no keys (both).
        let mut s = to_random(
            JUST_WORKS,
            [0x01, 0x03, 0x00, 0x09, 0x10, 0x02, 0x03],
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
            [0x01, 0x01, 0x00, 0x0D, 0x10, 0x02, 0x03],
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
        let jw_preq = [0x01, 0x03, 0x00, 0x09, 0x10, 0x02, 0x03];
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
        let yn_preq = [0x01, 0x01, 0x00, 0x0D, 0x10, 0x02, 0x03];
        let mut s = to_random(YES_NO, yn_preq, [0x02, 0x01, 0x00, 0x0D, 0x10, 0x00, 0x00]);
        s.on_pdu(&bytes(&Pdu::PairingRandom(le(NB))));
        failed(&s.user_confirm(false), Reason::NUMERIC_COMPARISON_FAILED);
        // A legacy responder in Secure Connections Only mode; a 6-octet
        // key; a 17-octet one; keys we did not ask for; a responder with
        // no IO when we need MITM.
        let sc_only = Config {
            sc_only: true,
            ..JUST_WORKS
        };
        for (config, pres, reason) in [
            (
                sc_only,
                [0x02, 0x03, 0x00, 0x01, 0x10, 0, 0],
                Reason::AUTHENTICATION_REQUIREMENTS,
            ),
            (
                JUST_WORKS,
                [0x02, 0x03, 0x00, 0x09, 0x06, 0, 0],
                Reason::ENCRYPTION_KEY_SIZE,
            ),
            (
                JUST_WORKS,
                [0x02, 0x03, 0x00, 0x09, 0x11, 0, 0],
                Reason::INVALID_PARAMETERS,
            ),
            (
                JUST_WORKS,
                [0x02, 0x03, 0x00, 0x09, 0x10, 0x04, 0],
                Reason::INVALID_PARAMETERS,
            ),
            (
                JUST_WORKS,
                [0x02, 0x03, 0x00, 0x09, 0x10, 0, 0x04],
                Reason::INVALID_PARAMETERS,
            ),
        ] {
            let mut s = Initiator::new(config, key(PRIVATE_A), le(NA), A, B);
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
}
