//! One pairing as responder (the peripheral), sans-IO: LE Secure
//! Connections Just Works, Numeric Comparison (2.3.5.6.2, C.2.2) and
//! Passkey Entry (2.3.5.6.3, C.2.3), LE legacy pairing Just Works and
//! Passkey Entry (2.3.5.2-2.3.5.5), then the key distribution phase (3.6.1).
//!
//! Wired to the host by `host::security`. A session is made per pairing
//! with what the host fetched beforehand (a key pair and the nonce, from
//! the controller's LE Rand: [`RANDOM_LEN`] octets, and the link's two
//! addresses); it is fed each SMP PDU of the link and answers with the
//! PDUs to send and, at the end, the outcome:
//!
//! 1. Pairing Request -> Pairing Response (the method is chosen from both,
//!    2.3.5.1);
//! 2. the method's exchange; a step then carries `encrypt`, the key for
//!    the coming LE Long Term Key Request (the STK, or the LTK of Secure
//!    Connections);
//! 3. [`Responder::encryption_changed`] (the link is encrypted): we send
//!    our keys first, then receive the initiator's (3.6.1), and the
//!    outcome comes. Secure Connections with no keys to distribute ends at
//!    once, with `encrypt` and the outcome in one step.
//!
//! When it has ended (paired or failed) it answers nothing more: the host
//! starts a new session for a new Pairing Request. Not here: OOB, keypress
//! notifications (received ones are ignored), the repeated-attempts
//! back-off (the host keeps [`super::attempts::Attempts`]). The 30 s SMP
//! timer (3.4) is the host's; it calls [`Responder::timed_out`].

use super::crypto::{f4, f5, f6, g2, s1, KeyPair, LeAddress, PublicKey, U128};
use super::method::{self, Method, Passkey};
use super::pdu::{AuthReq, KeyDistribution, PairingParams, Pdu, Reason};
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
    /// Waiting for the Pairing Request.
    Idle,
    /// Secure Connections: Pairing Response sent; waiting for the
    /// initiator's public key.
    WaitPublicKey,
    /// Waiting for the initiator's confirm value: Mconfirm (legacy) or Cai
    /// of this Passkey Entry round (Secure Connections); when our user
    /// types the passkey, also for [`Responder::passkey_entered`] (a
    /// confirm value that comes first waits).
    WaitConfirm,
    /// Our confirm value sent; waiting for the initiator's nonce (Na, Nai
    /// or Mrand).
    WaitRandom,
    /// Nb sent; waiting for the initiator's DHKey check Ea and, for
    /// Numeric Comparison, for our user's answer ([`Responder::user_confirm`]).
    WaitDhKeyCheck,
    /// The key (STK or LTK) is ready for the LE Long Term Key Request;
    /// waiting for [`Responder::encryption_changed`].
    WaitEncryption,
    /// Our keys sent; waiting for the initiator's.
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

/// One pairing as responder: 352 bytes on a 32-bit target (the key pair
/// 96, the DHKey and the peer's X 64, nonces and confirm values; see the
/// `session_size` test).
#[derive(Clone, Debug)]
pub struct Responder {
    state: State,
    config: Config,
    kind: Kind,
    /// LE legacy pairing rather than Secure Connections.
    legacy: bool,
    /// Passkey Entry round (Secure Connections), 0..20.
    round: u8,
    /// Numeric Comparison: our user said yes (always, for the others).
    confirmed: bool,
    /// The passkey (or TK 0 for legacy Just Works), once known.
    passkey: Option<u32>,
    /// A confirm value waiting for our user's passkey (WaitConfirm), then
    /// the one being checked (WaitRandom); Ea when it came before our
    /// user's answer (WaitDhKeyCheck).
    held: Option<U128>,
    keys: KeyPair,
    /// Nb (Srand in legacy); Nbi of the round in Passkey Entry.
    nb: U128,
    /// The initiator's (central's) address: A in f5/f6, ia in c1.
    initiator: LeAddress,
    /// Ours: B in f5/f6, ra in c1, our identity address.
    responder: LeAddress,
    preq: [u8; 7],
    pres: [u8; 7],
    dh_key: [u8; 32],
    peer_x: [u8; 32],
    na: U128,
    /// The STK or LTK the link is encrypted with.
    key: U128,
    /// Our IRK, distributed with IdKey ([`Responder::set_irk`]).
    irk: U128,
    peer_keys: PeerKeys,
}

impl Responder {
    /// A session for the next Pairing Request. `keys` and `nb` must be
    /// fresh for each pairing (2.3.5.6.1 allows a key pair to be reused
    /// only until a pairing fails or completes; we do not reuse it).
    pub const fn new(
        config: Config,
        keys: KeyPair,
        nb: U128,
        initiator: LeAddress,
        responder: LeAddress,
    ) -> Self {
        Responder {
            state: State::Idle,
            config,
            kind: Kind::JustWorks,
            legacy: false,
            round: 0,
            confirmed: false,
            passkey: None,
            held: None,
            keys,
            nb,
            initiator,
            responder,
            preq: [0; 7],
            pres: [0; 7],
            dh_key: [0; 32],
            peer_x: [0; 32],
            na: [0; 16],
            key: [0; 16],
            irk: [0; 16],
            peer_keys: PeerKeys::NONE,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Our IRK for the key distribution phase (Identity Information,
    /// 3.6.4); all zeros unless set (we use no resolvable private address,
    /// docs/DECISIONS.md).
    pub fn set_irk(&mut self, irk: U128) {
        self.irk = irk;
    }

    /// What we answer a Pairing Request with: our IO capability, no OOB
    /// data, SC and MITM as configured, bonding if both want it, and the
    /// keys to distribute: of those asked, IdKey both ways and (legacy
    /// only) our EncKey; never SignKey or LinkKey.
    fn response_params(&self, request: &PairingParams) -> PairingParams {
        let mut auth_req = AuthReq::empty();
        auth_req.set(AuthReq::SC, self.config.secure_connections);
        auth_req.set(AuthReq::MITM, self.config.mitm);
        let bonding = self.config.bonding && request.auth_req.contains(AuthReq::BONDING);
        auth_req.set(AuthReq::BONDING, bonding);
        let sc = self.config.secure_connections && request.auth_req.contains(AuthReq::SC);
        let (ours, theirs) = if !bonding {
            (KeyDistribution::empty(), KeyDistribution::empty())
        } else if sc {
            // EncKey means nothing in Secure Connections (3.6.1).
            (KeyDistribution::ID_KEY, KeyDistribution::ID_KEY)
        } else {
            (
                KeyDistribution::ID_KEY | KeyDistribution::ENC_KEY,
                KeyDistribution::ID_KEY,
            )
        };
        PairingParams {
            io_capability: self.config.io_capability,
            oob_data_present: false,
            auth_req,
            max_key_size: MAX_KEY_SIZE,
            initiator_keys: request.initiator_keys & theirs,
            responder_keys: request.responder_keys & ours,
        }
    }

    /// The values drawn from our secret (cheap to remake: one AES-CMAC).
    fn derive(&self) -> Derive {
        Derive::new(&self.keys)
    }

    fn ended(&self) -> bool {
        matches!(self.state, State::Paired | State::Failed)
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
            // Keypress notifications belong to Passkey Entry; nothing to
            // answer (3.5.8).
            (_, Pdu::PairingKeypressNotification(_)) => Step::default(),
            (State::Idle, Pdu::PairingRequest(request)) => self.on_request(&request),
            (State::WaitPublicKey, Pdu::PairingPublicKey(key)) => self.on_public_key(&key),
            (State::WaitConfirm, Pdu::PairingConfirm(c)) if self.held.is_none() => {
                self.held = Some(c);
                match self.passkey {
                    Some(_) => self.send_confirm(),
                    // Our user has not typed the passkey yet.
                    None => Step::default(),
                }
            }
            (State::WaitRandom, Pdu::PairingRandom(n)) => self.on_random(&n),
            // Ea may come before our user answers; it waits (2.3.5.6.5:
            // Eb only after both).
            (State::WaitDhKeyCheck, Pdu::PairingDhKeyCheck(ea)) if self.held.is_none() => {
                self.held = Some(ea);
                if self.confirmed {
                    self.on_dhkey_check(&ea)
                } else {
                    Step::default()
                }
            }
            (State::WaitKeys, ref p) if is_key_pdu(p) => match self.peer_keys.receive(p) {
                Err(reason) => self.fail(reason),
                Ok(()) if self.peer_keys.done() => self.finish(Step::default()),
                Ok(()) => Step::default(),
            },
            // A PDU of pairing out of its place (Zephyr answers the same).
            _ => self.fail(Reason::UNSPECIFIED_REASON),
        }
    }

    fn on_request(&mut self, request: &PairingParams) -> Step {
        if request.max_key_size < MIN_KEY_SIZE {
            return self.fail(Reason::ENCRYPTION_KEY_SIZE);
        }
        if request.max_key_size > MAX_KEY_SIZE {
            return self.fail(Reason::INVALID_PARAMETERS);
        }
        let response = self.response_params(request);
        let selection = method::select(request, &response);
        self.legacy = !selection.secure_connections;
        if self.legacy && self.config.sc_only {
            return self.fail(Reason::AUTHENTICATION_REQUIREMENTS);
        }
        let mut step = send(Pdu::PairingResponse(response));
        match selection.method {
            Method::JustWorks if self.config.mitm => {
                return self.fail(Reason::AUTHENTICATION_REQUIREMENTS)
            }
            Method::JustWorks => {
                self.kind = Kind::JustWorks;
                self.confirmed = true;
                // Legacy Just Works: TK = 0 (2.3.5.2).
                self.passkey = Some(0);
            }
            // Table 2.8 gives it only when both set SC.
            Method::NumericComparison => self.kind = Kind::NumericComparison,
            // The initiator has our OOB data; we have none of its.
            Method::OutOfBand => return self.fail(Reason::OOB_NOT_AVAILABLE),
            Method::PasskeyEntry(who) => {
                self.kind = Kind::Passkey;
                self.confirmed = true;
                if who == Passkey::ResponderDisplays {
                    let p = display_passkey(&self.config, &self.derive());
                    self.passkey = Some(p);
                    step.display_passkey = Some(p);
                } else {
                    step.enter_passkey = true;
                }
            }
        }
        self.preq = request.to_pdu(super::pdu::PAIRING_REQUEST);
        self.pres = response.to_pdu(super::pdu::PAIRING_RESPONSE);
        self.peer_keys = PeerKeys::expecting(response.initiator_keys, self.legacy);
        self.state = if self.legacy {
            State::WaitConfirm
        } else {
            State::WaitPublicKey
        };
        step
    }

    fn on_public_key(&mut self, key: &PublicKey) -> Step {
        self.dh_key = match dh_key_with(&self.keys, key) {
            Ok(d) => d,
            Err(reason) => return self.fail(reason),
        };
        self.peer_x = key.x;
        let mut step = send(Pdu::PairingPublicKey(*self.keys.public()));
        if self.kind == Kind::Passkey {
            // The initiator's Ca1 comes first (C.2.3).
            self.state = State::WaitConfirm;
            return step;
        }
        // Cb = f4(PKbx, PKax, Nb, 0) (2.3.5.6.2).
        let cb = f4(&self.keys.public().x, &self.peer_x, &self.nb, 0);
        self.state = State::WaitRandom;
        let _ = step.send.push(Pdu::PairingConfirm(cb));
        step
    }

    /// Answers the initiator's confirm value (in `held`) with ours:
    /// Sconfirm (legacy) or Cbi (Passkey Entry).
    fn send_confirm(&mut self) -> Step {
        let Some(passkey) = self.passkey else {
            return Step::default();
        };
        let confirm = if self.legacy {
            legacy_confirm(
                passkey,
                &self.nb,
                [&self.preq, &self.pres],
                [self.initiator, self.responder],
            )
        } else {
            // A fresh Nbi each round (2.3.5.6.3).
            self.nb = self.derive().nonce(self.round);
            let z = passkey_z(passkey, self.round);
            f4(&self.keys.public().x, &self.peer_x, &self.nb, z)
        };
        self.state = State::WaitRandom;
        send(Pdu::PairingConfirm(confirm))
    }

    fn on_random(&mut self, n: &U128) -> Step {
        self.na = *n;
        match (self.kind, self.legacy, self.passkey) {
            (_, true, Some(passkey)) => {
                // Mconfirm must be c1 of Mrand (2.3.5.5).
                let expected = legacy_confirm(
                    passkey,
                    n,
                    [&self.preq, &self.pres],
                    [self.initiator, self.responder],
                );
                if !self.held.is_some_and(|c| ct_eq(&c, &expected)) {
                    return self.fail(Reason::CONFIRM_VALUE_FAILED);
                }
                self.held = None;
                // STK = s1(TK, Srand, Mrand), cut to the key size.
                let stk = s1(&passkey_value(passkey), &self.nb, &self.na);
                self.key = cut(stk, self.key_size());
                self.state = State::WaitEncryption;
                let mut step = send(Pdu::PairingRandom(self.nb));
                step.encrypt = Some(self.key);
                step
            }
            (Kind::Passkey, false, Some(passkey)) => {
                // Cai = f4(PKax, PKbx, Nai, rbi) (2.3.5.6.3).
                let z = passkey_z(passkey, self.round);
                let expected = f4(&self.peer_x, &self.keys.public().x, n, z);
                if !self.held.is_some_and(|c| ct_eq(&c, &expected)) {
                    return self.fail(Reason::CONFIRM_VALUE_FAILED);
                }
                self.held = None;
                self.round += 1;
                self.state = if self.round == PASSKEY_ROUNDS {
                    State::WaitDhKeyCheck
                } else {
                    State::WaitConfirm
                };
                send(Pdu::PairingRandom(self.nb))
            }
            (_, false, _) => {
                self.state = State::WaitDhKeyCheck;
                // Nb at once (C.2.2.2); for Numeric Comparison both users
                // now compare Va = Vb = g2(PKax, PKbx, Na, Nb) mod 10^6.
                let mut step = send(Pdu::PairingRandom(self.nb));
                if self.kind == Kind::NumericComparison {
                    let v = g2(&self.peer_x, &self.keys.public().x, &self.na, &self.nb);
                    step.compare = Some(v % 1_000_000);
                }
                step
            }
            // Legacy without a passkey cannot be in WaitRandom.
            _ => self.fail(Reason::UNSPECIFIED_REASON),
        }
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

    /// r of f6: the passkey for Passkey Entry, zero otherwise (2.3.5.6.5).
    fn f6_r(&self) -> U128 {
        match (self.kind, self.passkey) {
            (Kind::Passkey, Some(p)) => passkey_value(p),
            _ => [0; 16],
        }
    }

    fn on_dhkey_check(&mut self, ea: &U128) -> Step {
        let (a, b) = (self.initiator, self.responder);
        let (mac_key, ltk) = f5(&self.dh_key, &self.na, &self.nb, a, b);
        let io_a = [self.preq[1], self.preq[2], self.preq[3]];
        let io_b = [self.pres[1], self.pres[2], self.pres[3]];
        let r = self.f6_r();
        let expected = f6(&mac_key, &self.na, &self.nb, &r, &io_a, a, b);
        if !ct_eq(&expected, ea) {
            return self.fail(Reason::DHKEY_CHECK_FAILED);
        }
        let eb = f6(&mac_key, &self.nb, &self.na, &r, &io_b, b, a);
        self.key = cut(ltk, self.key_size());
        self.state = State::WaitEncryption;
        let mut step = send(Pdu::PairingDhKeyCheck(eb));
        step.encrypt = Some(self.key);
        if self.nothing_to_distribute() {
            return self.finish(step);
        }
        step
    }

    /// Secure Connections with no keys either way: done once the checks
    /// agree (the LTK needs no distribution).
    fn nothing_to_distribute(&self) -> bool {
        !self.legacy
            && self.peer_keys.done()
            && !KeyDistribution::from_bits_retain(self.pres[6]).contains(KeyDistribution::ID_KEY)
    }

    /// The link is encrypted (`on`) with the key of [`Step::encrypt`], or
    /// encryption failed. We send our keys first (3.6.1), then wait for
    /// the initiator's. Ignored in any other state.
    pub fn encryption_changed(&mut self, on: bool) -> Step {
        if self.state != State::WaitEncryption {
            return Step::default();
        }
        if !on {
            return self.fail(Reason::UNSPECIFIED_REASON);
        }
        let ours = KeyDistribution::from_bits_retain(self.pres[6]);
        let step = our_keys(
            ours,
            self.legacy,
            self.legacy_keys(),
            &self.irk,
            self.responder,
        );
        if self.peer_keys.done() {
            return self.finish(step);
        }
        self.state = State::WaitKeys;
        step
    }

    /// The legacy LTK we distribute, cut to the key size (2.4.2.3).
    fn legacy_keys(&self) -> (U128, u16, [u8; 8]) {
        let (ltk, ediv, rand) = self.derive().legacy_keys();
        (cut(ltk, self.key_size()), ediv, rand)
    }

    /// Ends the pairing with the outcome, in `step`.
    fn finish(&mut self, mut step: Step) -> Step {
        self.state = State::Paired;
        let distributed =
            KeyDistribution::from_bits_retain(self.pres[6]).contains(KeyDistribution::ENC_KEY);
        let (key, storable) = if !self.legacy {
            ((self.key, 0, [0; 8]), true)
        } else if distributed {
            (self.legacy_keys(), true)
        } else {
            ((self.key, 0, [0; 8]), false)
        };
        let authenticated = self.kind != Kind::JustWorks;
        step.outcome = Some(paired(
            &self.preq,
            &self.pres,
            key,
            authenticated,
            storable,
            self.legacy,
            &self.peer_keys,
        ));
        step
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
    /// once the initiator's has come; no fails pairing with Numeric
    /// Comparison Failed (3.5.5). Ignored unless a comparison is pending.
    pub fn user_confirm(&mut self, accept: bool) -> Step {
        if self.state != State::WaitDhKeyCheck || self.confirmed {
            return Step::default();
        }
        if !accept {
            return self.fail(Reason::NUMERIC_COMPARISON_FAILED);
        }
        self.confirmed = true;
        match self.held {
            Some(ea) => self.on_dhkey_check(&ea),
            None => Step::default(),
        }
    }

    /// Our user typed the passkey the initiator shows (`Some(0..=999999)`)
    /// or gave up (`None`, or a value out of range): Pairing Failed /
    /// Passkey Entry Failed (3.5.5). Ignored unless [`Step::enter_passkey`]
    /// asked for it and it is still pending.
    pub fn passkey_entered(&mut self, passkey: Option<u32>) -> Step {
        if self.kind != Kind::Passkey
            || self.passkey.is_some()
            || !matches!(self.state, State::WaitPublicKey | State::WaitConfirm)
        {
            return Step::default();
        }
        match passkey.filter(|p| *p <= PASSKEY_MAX) {
            None => self.fail(Reason::PASSKEY_ENTRY_FAILED),
            Some(p) => {
                self.passkey = Some(p);
                if self.state == State::WaitConfirm && self.held.is_some() {
                    self.send_confirm()
                } else {
                    Step::default()
                }
            }
        }
    }

    fn fail(&mut self, reason: Reason) -> Step {
        self.state = State::Failed;
        failed(reason)
    }
}

#[cfg(test)]
mod tests {
    //! The exchange of C.2.2 with the spec's sample data: the initiator is
    //! "A" of Appendix D (the debug key pair of 2.3.5.6.1, Na of D.2,
    //! address 0x56123737bfce), we are "B" (private key B of the P-256
    //! sample data, Nb of D.3, address 0xa713702dcfc1), both public.
    //! Cb, Ea, Eb and the LTK were computed with Bumble's own crypto
    //! (bumble.crypto f4/f5/f6 and EccKey, an independent implementation)
    //! for these inputs; MacKey and the LTK equal D.3's.
    use super::*;
    use crate::smp::pdu::IoCapability;
    use crate::smp::testdata::{
        hex, le, ADDRESS_A as A, ADDRESS_B as B, NA, NB, PRIVATE_A, PRIVATE_B,
    };

    /// NoInputNoOutput, no OOB, Bonding | MITM | SC | CT2, 16, no keys.
    const PREQ: [u8; 7] = [0x01, 0x03, 0x00, 0x2D, 0x10, 0x00, 0x00];

    fn session() -> Responder {
        let keys = KeyPair::from_private_key(&le(PRIVATE_B)).unwrap();
        Responder::new(JUST_WORKS, keys, le(NB), A, B)
    }

    const JUST_WORKS: Config = Config::new(IoCapability::NoInputNoOutput, false);
    const YES_NO: Config = Config::new(IoCapability::DisplayYesNo, true);
    /// DisplayYesNo, no OOB, Bonding | MITM | SC | CT2, 16, no keys.
    const PREQ_NC: [u8; 7] = [0x01, 0x01, 0x00, 0x2D, 0x10, 0x00, 0x00];

    /// A Numeric Comparison session up to the number shown.
    fn nc_to_compare() -> Responder {
        let keys = KeyPair::from_private_key(&le(PRIVATE_B)).unwrap();
        let mut s = Responder::new(YES_NO, keys, le(NB), A, B);
        let step = s.on_pdu(&PREQ_NC);
        // DisplayYesNo, no OOB, Bonding | MITM | SC, 16, no keys.
        assert_eq!(
            bytes(&step.send[0]).as_slice(),
            &[0x02, 0x01, 0x00, 0x0D, 0x10, 0x00, 0x00]
        );
        let step = s.on_pdu(&bytes(&Pdu::PairingPublicKey(initiator_key())));
        assert_eq!(
            step.send[1],
            Pdu::PairingConfirm(hex("6bab385318d9cea1ba9fc6b57775ff3a"))
        );
        assert_eq!(step.compare, None);
        let step = s.on_pdu(&bytes(&Pdu::PairingRandom(le(NA))));
        assert_eq!(step.send.as_slice(), &[Pdu::PairingRandom(le(NB))]);
        // g2 computed by Bumble for these keys and nonces.
        assert_eq!(step.compare, Some(706570));
        s
    }

    const EA_NC: &str = "2c80c64c950bd7de08bd59d29109b532";
    const EB_NC: &str = "d73fad0d358365a7584f689543af9f3d";

    fn nc_paired(step: &Step) {
        assert_eq!(step.send.as_slice(), &[Pdu::PairingDhKeyCheck(hex(EB_NC))]);
        assert_eq!(
            step.outcome,
            Some(Outcome::Paired {
                ltk: le("69867911 69d7cd23 980522b5 94750a38"),
                key_size: 16,
                authenticated: true,
                bonded: true,
                ediv: 0,
                rand: [0; 8],
                peer_identity: None,
                peer_irk: None,
                secure_connections: true,
            })
        );
    }

    #[test]
    fn numeric_comparison_user_first() {
        let mut s = nc_to_compare();
        assert_eq!(s.user_confirm(true), Step::default());
        nc_paired(&s.on_pdu(&bytes(&Pdu::PairingDhKeyCheck(hex(EA_NC)))));
        assert_eq!(s.user_confirm(true), Step::default());
    }

    #[test]
    fn numeric_comparison_check_first() {
        let mut s = nc_to_compare();
        assert_eq!(
            s.on_pdu(&bytes(&Pdu::PairingDhKeyCheck(hex(EA_NC)))),
            Step::default()
        );
        nc_paired(&s.user_confirm(true));
    }

    #[test]
    fn numeric_comparison_refused() {
        let mut s = nc_to_compare();
        failed(&s.user_confirm(false), Reason::NUMERIC_COMPARISON_FAILED);
        // Too early: nothing to confirm yet.
        let keys = KeyPair::from_private_key(&le(PRIVATE_B)).unwrap();
        let mut s = Responder::new(YES_NO, keys, le(NB), A, B);
        assert_eq!(s.user_confirm(false), Step::default());
        assert_eq!(s.state(), State::Idle);
    }

    /// We ask for MITM: a NoInputNoOutput initiator would make it Just
    /// Works, in Secure Connections and in legacy pairing.
    #[test]
    fn methods_we_refuse() {
        let keys = KeyPair::from_private_key(&le(PRIVATE_B)).unwrap();
        let mut s = Responder::new(YES_NO, keys, le(NB), A, B);
        failed(&s.on_pdu(&PREQ), Reason::AUTHENTICATION_REQUIREMENTS);
        let mut legacy = PREQ;
        legacy[3] = 0x01;
        let mut s = Responder::new(YES_NO, keys, le(NB), A, B);
        failed(&s.on_pdu(&legacy), Reason::AUTHENTICATION_REQUIREMENTS);
    }

    fn initiator_key() -> PublicKey {
        *KeyPair::from_private_key(&le(PRIVATE_A)).unwrap().public()
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

    /// Runs the exchange up to our Pairing Random.
    fn to_dhkey_check(s: &mut Responder) {
        let step = s.on_pdu(&PREQ);
        assert_eq!(step.send.len(), 1);
        assert_eq!(
            bytes(&step.send[0]).as_slice(),
            // NoInputNoOutput, no OOB, Bonding | SC, 16, no keys.
            &[0x02, 0x03, 0x00, 0x09, 0x10, 0x00, 0x00]
        );
        let step = s.on_pdu(&bytes(&Pdu::PairingPublicKey(initiator_key())));
        let our_key = *KeyPair::from_private_key(&le(PRIVATE_B)).unwrap().public();
        assert_eq!(
            step.send.as_slice(),
            &[
                Pdu::PairingPublicKey(our_key),
                Pdu::PairingConfirm(hex("6bab385318d9cea1ba9fc6b57775ff3a")),
            ]
        );
        let step = s.on_pdu(&bytes(&Pdu::PairingRandom(le(NA))));
        assert_eq!(step.send.as_slice(), &[Pdu::PairingRandom(le(NB))]);
        assert_eq!(s.state(), State::WaitDhKeyCheck);
    }

    #[test]
    fn sc_just_works_as_responder() {
        let mut s = session();
        to_dhkey_check(&mut s);
        let ea = Pdu::PairingDhKeyCheck(hex("69dc679c1dd32e5a4bf2ddeccd547e9c"));
        let step = s.on_pdu(&bytes(&ea));
        assert_eq!(
            step.send.as_slice(),
            &[Pdu::PairingDhKeyCheck(hex(
                "c0509525f371ff94a825859705879a67"
            ))]
        );
        assert_eq!(
            step.outcome,
            Some(Outcome::Paired {
                ltk: le("69867911 69d7cd23 980522b5 94750a38"),
                key_size: 16,
                authenticated: false,
                bonded: true,
                ediv: 0,
                rand: [0; 8],
                peer_identity: None,
                peer_irk: None,
                secure_connections: true,
            })
        );
        assert_eq!(s.state(), State::Paired);
        // Ended: nothing more is answered.
        assert_eq!(s.on_pdu(&PREQ), Step::default());
    }

    #[test]
    fn wrong_dhkey_check_fails() {
        let mut s = session();
        to_dhkey_check(&mut s);
        let mut ea: U128 = hex("69dc679c1dd32e5a4bf2ddeccd547e9c");
        ea[15] ^= 0x80;
        failed(
            &s.on_pdu(&bytes(&Pdu::PairingDhKeyCheck(ea))),
            Reason::DHKEY_CHECK_FAILED,
        );
        assert_eq!(s.state(), State::Failed);
    }

    /// CVE-2018-5383: the attack's key (the real X, Y = 0) is refused
    /// before any multiplication, with DHKey Check Failed.
    #[test]
    fn invalid_curve_key_fails() {
        let mut s = session();
        s.on_pdu(&PREQ);
        let bad = PublicKey {
            y: [0; 32],
            ..initiator_key()
        };
        failed(
            &s.on_pdu(&bytes(&Pdu::PairingPublicKey(bad))),
            Reason::DHKEY_CHECK_FAILED,
        );
    }

    #[test]
    fn reflected_public_key_fails() {
        let mut s = session();
        s.on_pdu(&PREQ);
        let ours = *KeyPair::from_private_key(&le(PRIVATE_B)).unwrap().public();
        failed(
            &s.on_pdu(&bytes(&Pdu::PairingPublicKey(ours))),
            Reason::UNSPECIFIED_REASON,
        );
    }

    #[test]
    fn request_refusals() {
        // Legacy pairing (no SC bit) in Secure Connections Only mode.
        let mut legacy = PREQ;
        legacy[3] = 0x05;
        let keys = KeyPair::from_private_key(&le(PRIVATE_B)).unwrap();
        let sc_only = Config {
            sc_only: true,
            ..JUST_WORKS
        };
        failed(
            &Responder::new(sc_only, keys, le(NB), A, B).on_pdu(&legacy),
            Reason::AUTHENTICATION_REQUIREMENTS,
        );
        // Key sizes outside 7..=16.
        let mut small = PREQ;
        small[4] = 6;
        failed(&session().on_pdu(&small), Reason::ENCRYPTION_KEY_SIZE);
        let mut big = PREQ;
        big[4] = 17;
        failed(&session().on_pdu(&big), Reason::INVALID_PARAMETERS);
        // The initiator has OOB data from us, which we never gave.
        let mut oob = PREQ;
        oob[2] = 0x01;
        failed(&session().on_pdu(&oob), Reason::OOB_NOT_AVAILABLE);
        // Malformed: the parser's reason.
        failed(&session().on_pdu(&PREQ[..6]), Reason::INVALID_PARAMETERS);
    }

    #[test]
    fn key_size_shortens_the_ltk() {
        let mut s = session();
        let mut preq = PREQ;
        preq[4] = 7;
        assert_eq!(s.on_pdu(&preq).send.len(), 1);
        // Ea depends on the request's octets: recompute it for this one
        // with the initiator's view (f5/f6 are checked against the spec).
        let dh = KeyPair::from_private_key(&le(PRIVATE_A))
            .unwrap()
            .dh_key(KeyPair::from_private_key(&le(PRIVATE_B)).unwrap().public())
            .unwrap();
        s.on_pdu(&bytes(&Pdu::PairingPublicKey(initiator_key())));
        s.on_pdu(&bytes(&Pdu::PairingRandom(le(NA))));
        let (mac, _) = f5(&dh, &le(NA), &le(NB), A, B);
        let ea = f6(
            &mac,
            &le(NA),
            &le(NB),
            &[0; 16],
            &[preq[1], preq[2], preq[3]],
            A,
            B,
        );
        let step = s.on_pdu(&bytes(&Pdu::PairingDhKeyCheck(ea)));
        let Some(Outcome::Paired { ltk, key_size, .. }) = step.outcome else {
            panic!("{step:?}")
        };
        assert_eq!(key_size, 7);
        let full: U128 = le("69867911 69d7cd23 980522b5 94750a38");
        assert_eq!(&ltk[..7], &full[..7]);
        assert_eq!(&ltk[7..], &[0; 9]);
    }

    /// 3.4: the timer ends a running pairing silently; an ended one stays
    /// as it was.
    #[test]
    fn timeout() {
        let mut s = nc_to_compare();
        let step = s.timed_out();
        assert!(step.send.is_empty());
        assert_eq!(step.outcome, Some(Outcome::TimedOut));
        assert_eq!(s.state(), State::Failed);
        assert_eq!(
            s.on_pdu(&bytes(&Pdu::PairingDhKeyCheck(hex(EA_NC)))),
            Step::default()
        );
        assert_eq!(s.timed_out(), Step::default());
        // Idle (no Pairing Request yet) counts as running: the host only
        // arms the timer once pairing starts.
        let mut s = session();
        assert_eq!(s.timed_out().outcome, Some(Outcome::TimedOut));
    }

    /// One session per pairing link: keep it small (README "Footprint").
    #[test]
    fn session_size() {
        let n = core::mem::size_of::<Responder>();
        std::println!("Responder: {n} bytes");
        assert!(n <= 352, "{n}");
    }

    #[test]
    fn peer_failure_and_out_of_order() {
        let mut s = session();
        s.on_pdu(&PREQ);
        let step = s.on_pdu(&[0x05, 0x08]);
        assert!(step.send.is_empty());
        assert_eq!(
            step.outcome,
            Some(Outcome::Failed {
                reason: Reason::UNSPECIFIED_REASON,
                local: false
            })
        );
        // A Pairing Random before the public key.
        let mut s = session();
        s.on_pdu(&PREQ);
        failed(
            &s.on_pdu(&bytes(&Pdu::PairingRandom(le(NA)))),
            Reason::UNSPECIFIED_REASON,
        );
        // An unknown code.
        failed(&session().on_pdu(&[0x20]), Reason::COMMAND_NOT_SUPPORTED);
        // Keypress notifications are ignored.
        let mut s = session();
        s.on_pdu(&PREQ);
        assert_eq!(s.on_pdu(&[0x0E, 0x00]), Step::default());
        assert_eq!(s.state(), State::WaitPublicKey);
    }
}
