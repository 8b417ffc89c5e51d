//! One pairing as responder (the peripheral): LE Secure Connections Just
//! Works and Numeric Comparison (Vol 3 Part H 2.3.5.6.2, message sequence
//! C.2.2), sans-IO.
//!
//! Wired to the host by `host::security`. A session is made per pairing
//! with what the host fetched beforehand (a key pair and the nonce Nb, both from the
//! controller's LE Rand, and the link's two addresses); it is fed each SMP
//! PDU of the link and answers with the PDUs to send and, at the end, the
//! outcome. When it has ended (paired or failed) it answers nothing more:
//! the host starts a new session for a new Pairing Request.
//!
//! Not here yet: legacy pairing, Passkey Entry, OOB, key distribution
//! (none is asked: the Secure Connections LTK needs none) and the
//! repeated-attempts back-off (2.3.6). The 30 s SMP timer (3.4) is the
//! host's; it calls [`Responder::timed_out`].

use super::crypto::{f4, f5, f6, g2, KeyPair, LeAddress, PublicKey, U128};
use super::method::{self, Method};
use super::pdu::{AuthReq, KeyDistribution, PairingParams, Pdu, Reason};
use super::session::{ct_eq, dh_key_with, failed, paired, send};
pub use super::session::{Config, Outcome, Step, MAX_KEY_SIZE, MIN_KEY_SIZE, SMP_TIMEOUT_MS};

/// Where the session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for the Pairing Request.
    Idle,
    /// Pairing Response sent; waiting for the initiator's public key.
    WaitPublicKey,
    /// Our public key and confirm value sent; waiting for Na.
    WaitRandom,
    /// Nb sent; waiting for the initiator's DHKey check Ea and, for
    /// Numeric Comparison, for our user's answer ([`Responder::user_confirm`]).
    WaitDhKeyCheck,
    /// Eb sent: the LTK is ready for the LE Long Term Key Request.
    Paired,
    Failed,
}

/// One LE Secure Connections pairing as responder.
#[derive(Clone, Debug)]
pub struct Responder {
    state: State,
    config: Config,
    /// Numeric Comparison rather than Just Works.
    compare: bool,
    /// Our user said yes (always, for Just Works).
    confirmed: bool,
    /// Ea when it came before our user's answer.
    ea: Option<U128>,
    keys: KeyPair,
    nb: U128,
    /// The initiator's (central's) address: A in f5/f6.
    initiator: LeAddress,
    /// Ours: B in f5/f6.
    responder: LeAddress,
    preq: [u8; 7],
    pres: [u8; 7],
    dh_key: [u8; 32],
    peer_x: [u8; 32],
    na: U128,
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
            compare: false,
            confirmed: false,
            ea: None,
            keys,
            nb,
            initiator,
            responder,
            preq: [0; 7],
            pres: [0; 7],
            dh_key: [0; 32],
            peer_x: [0; 32],
            na: [0; 16],
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// What we answer a Pairing Request with: our IO capability, no OOB
    /// data, Secure Connections, MITM if configured, bonding if the
    /// initiator asks for it, no keys to distribute.
    fn response_params(&self, request: &PairingParams) -> PairingParams {
        let mitm = if self.config.mitm {
            AuthReq::MITM
        } else {
            AuthReq::empty()
        };
        PairingParams {
            io_capability: self.config.io_capability,
            oob_data_present: false,
            auth_req: AuthReq::SC | mitm | (request.auth_req & AuthReq::BONDING),
            max_key_size: MAX_KEY_SIZE,
            initiator_keys: KeyDistribution::empty(),
            responder_keys: KeyDistribution::empty(),
        }
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
            // Keypress notifications belong to Passkey Entry; nothing to
            // answer (3.5.8).
            (_, Pdu::PairingKeypressNotification(_)) => Step::default(),
            (State::Idle, Pdu::PairingRequest(request)) => self.on_request(&request),
            (State::WaitPublicKey, Pdu::PairingPublicKey(key)) => self.on_public_key(&key),
            (State::WaitRandom, Pdu::PairingRandom(na)) => {
                self.na = na;
                self.state = State::WaitDhKeyCheck;
                // Nb at once (C.2.2.2); for Numeric Comparison both users
                // now compare Va = Vb = g2(PKax, PKbx, Na, Nb) mod 10^6.
                let mut step = send(Pdu::PairingRandom(self.nb));
                if self.compare {
                    let v = g2(&self.peer_x, &self.keys.public().x, &self.na, &self.nb);
                    step.compare = Some(v % 1_000_000);
                }
                step
            }
            // Ea may come before our user answers; it waits (2.3.5.6.5:
            // Eb only after both).
            (State::WaitDhKeyCheck, Pdu::PairingDhKeyCheck(ea)) if self.ea.is_none() => {
                self.ea = Some(ea);
                if self.confirmed {
                    self.on_dhkey_check(&ea)
                } else {
                    Step::default()
                }
            }
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
        if !selection.secure_connections {
            // Legacy pairing is not built yet: refuse it as a device in
            // Secure Connections Only mode does (2.3.5.1).
            return self.fail(Reason::AUTHENTICATION_REQUIREMENTS);
        }
        match selection.method {
            Method::JustWorks if self.config.mitm => {
                return self.fail(Reason::AUTHENTICATION_REQUIREMENTS)
            }
            Method::JustWorks => self.confirmed = true,
            Method::NumericComparison => self.compare = true,
            // The initiator has our OOB data; we have none of its.
            Method::OutOfBand => return self.fail(Reason::OOB_NOT_AVAILABLE),
            // Passkey Entry is not built yet.
            Method::PasskeyEntry(_) => return self.fail(Reason::AUTHENTICATION_REQUIREMENTS),
        }
        self.preq = request.to_pdu(super::pdu::PAIRING_REQUEST);
        self.pres = response.to_pdu(super::pdu::PAIRING_RESPONSE);
        self.state = State::WaitPublicKey;
        send(Pdu::PairingResponse(response))
    }

    fn on_public_key(&mut self, key: &PublicKey) -> Step {
        self.dh_key = match dh_key_with(&self.keys, key) {
            Ok(d) => d,
            Err(reason) => return self.fail(reason),
        };
        self.peer_x = key.x;
        // Cb = f4(PKbx, PKax, Nb, 0) (2.3.5.6.2).
        let cb = f4(&self.keys.public().x, &self.peer_x, &self.nb, 0);
        self.state = State::WaitRandom;
        let mut step = send(Pdu::PairingPublicKey(*self.keys.public()));
        let _ = step.send.push(Pdu::PairingConfirm(cb));
        step
    }

    fn on_dhkey_check(&mut self, ea: &U128) -> Step {
        let (a, b) = (self.initiator, self.responder);
        let (mac_key, ltk) = f5(&self.dh_key, &self.na, &self.nb, a, b);
        let io_a = [self.preq[1], self.preq[2], self.preq[3]];
        let io_b = [self.pres[1], self.pres[2], self.pres[3]];
        // Just Works: r is zero (2.3.5.6.5).
        let expected = f6(&mac_key, &self.na, &self.nb, &[0; 16], &io_a, a, b);
        if !ct_eq(&expected, ea) {
            return self.fail(Reason::DHKEY_CHECK_FAILED);
        }
        let eb = f6(&mac_key, &self.nb, &self.na, &[0; 16], &io_b, b, a);
        self.state = State::Paired;
        let mut step = send(Pdu::PairingDhKeyCheck(eb));
        step.outcome = Some(paired(&self.preq, &self.pres, ltk, self.compare));
        step
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
        match self.ea {
            Some(ea) => self.on_dhkey_check(&ea),
            None => Step::default(),
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

    /// NoInputNoOutput, no OOB, Bonding | MITM | SC | CT2, 16, all keys.
    const PREQ: [u8; 7] = [0x01, 0x03, 0x00, 0x2D, 0x10, 0x0F, 0x0F];

    fn session() -> Responder {
        let keys = KeyPair::from_private_key(&le(PRIVATE_B)).unwrap();
        Responder::new(JUST_WORKS, keys, le(NB), A, B)
    }

    const JUST_WORKS: Config = Config {
        io_capability: IoCapability::NoInputNoOutput,
        mitm: false,
    };
    const YES_NO: Config = Config {
        io_capability: IoCapability::DisplayYesNo,
        mitm: true,
    };
    /// DisplayYesNo, no OOB, Bonding | MITM | SC | CT2, 16, all keys.
    const PREQ_NC: [u8; 7] = [0x01, 0x01, 0x00, 0x2D, 0x10, 0x0F, 0x0F];

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
    /// Works; Passkey Entry is not built yet.
    #[test]
    fn methods_we_refuse() {
        let keys = KeyPair::from_private_key(&le(PRIVATE_B)).unwrap();
        let mut s = Responder::new(YES_NO, keys, le(NB), A, B);
        failed(&s.on_pdu(&PREQ), Reason::AUTHENTICATION_REQUIREMENTS);
        let mut s = Responder::new(YES_NO, keys, le(NB), A, B);
        let mut keyboard = PREQ_NC;
        keyboard[1] = 0x02;
        failed(&s.on_pdu(&keyboard), Reason::AUTHENTICATION_REQUIREMENTS);
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
        // Legacy pairing (no SC bit).
        let mut legacy = PREQ;
        legacy[3] = 0x05;
        failed(
            &session().on_pdu(&legacy),
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
        assert!(n <= 256, "{n}");
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
