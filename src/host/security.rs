//! The Security Manager wired to the host (Vol 3 Part H): per-link keys,
//! the pairing sessions, their randomness from the controller and their
//! 30 s timer.
//!
//! What runs today: pairing in both roles with every method the `smp`
//! sessions run (LE Secure Connections Just Works, Numeric Comparison and
//! Passkey Entry; LE legacy Just Works and Passkey Entry): as responder
//! (peripheral) on a Pairing Request, as initiator (central) on the
//! application's request ([`HostCore::smp_start_pair`]) or a peripheral's
//! Security Request (3.6.7); the user's part through
//! [`HostEvent::PairingPrompt`] and [`HostCore::smp_user_confirm`] (a
//! yes, a no, or the passkey typed); encryption with the key a session
//! hands out (the STK or the Secure Connections LTK: LE Enable Encryption
//! as central, the LE Long Term Key Request answered as peripheral), then
//! the key distribution phase from the Encryption Change; bonds in
//! [`Bonds`], used to encrypt a link again without pairing: as central on
//! connect, as peripheral in the LTK Request (a legacy bond by its EDIV
//! and Rand). [`HostEvent::SecurityComplete`] reports each encryption
//! (after pairing, once the keys are distributed, or from a bond) and
//! each failure. A peer whose pairing failed waits before its next
//! Pairing Request is accepted (`smp::attempts`, 2.3.6).
//!
//! A pairing is short and rare, so sessions (about 250 bytes each) are a
//! small pool ([`config::SMP_SESSIONS`]) lent to a link for the length of
//! one pairing; what outlives it (the LTK, ~20 bytes) stays in the link's
//! [`LinkKeys`]. When every session is lent, a further Pairing Request is
//! refused with Unspecified Reason (docs/DECISIONS.md).
//!
//! Randomness: a session needs 48 random octets, the private key (32) and
//! the nonce Nb (16), asked of the controller with LE Rand (Vol 4 Part E
//! 7.8.23, 8 octets each) one at a time when the Pairing Request comes;
//! the request is answered once they are in. On unix P-256 takes about a
//! millisecond; on a Cortex-M3 making the key pair takes ~0.3 s (README,
//! Footprint), inside the host's call, which delays the Pairing Response
//! and everything else the host does by as much (well within the 30 s SMP
//! timeout; computing it ahead of time is future work).

use super::bonds::Bond;
use super::{ConnSlot, HostCore, HostError, HostEvent, Issuer, Role};
use crate::config;
use crate::hci::command::{self, opcode};
use crate::hci::ConnHandle;
use crate::l2cap;
use crate::smp;
use crate::smp::attempts::Attempts;
use crate::smp::crypto::{KeyPair, LeAddress, U128};
use crate::smp::initiator::{self, Initiator};
use crate::smp::method::{self, Method};
use crate::smp::pdu::{AuthReq, IoCapability, Pdu, Reason, PAIRING_REQUEST, SECURITY_REQUEST};
use crate::smp::responder::{self, Config, Outcome, Responder, Step, SMP_TIMEOUT_MS};
use crate::time::Instant;

/// HCI error code Authentication Failure (Vol 1 Part F 2.6): the reason
/// we drop a link whose pairing our user cancelled.
const AUTHENTICATION_FAILURE: u8 = 0x05;

/// What the application configured for pairing (QuecPython
/// `smpSetConfig`): IO capability (3.5.1 values 0..=4), the AuthReq bits
/// we ask for (bit 0 bonding, bit 2 MITM, bit 3 Secure Connections), the
/// passkey we display (Passkey Entry, 0..=999999) and a timeout in 100 ms
/// units that is reported back but does not replace the SMP timer (3.4
/// fixes it at 30 s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecurityConfig {
    pub io_capability: u8,
    pub auth_req: u8,
    pub passkey: u32,
    pub timeout: u16,
}

impl SecurityConfig {
    /// The defaults of the QuecPython reference (§2.4): NoInputNoOutput,
    /// bonding with Secure Connections, passkey 123456, 16 s.
    pub const DEFAULT: SecurityConfig = SecurityConfig {
        io_capability: 3,
        auth_req: 0x09,
        passkey: 123_456,
        timeout: 160,
    };

    pub fn bonding(&self) -> bool {
        self.auth_req & AuthReq::BONDING.bits() != 0
    }

    pub fn mitm(&self) -> bool {
        self.auth_req & AuthReq::MITM.bits() != 0
    }

    /// Secure Connections asked (AuthReq bit 3); without it we pair with
    /// LE legacy pairing.
    pub fn secure_connections(&self) -> bool {
        self.auth_req & AuthReq::SC.bits() != 0
    }

    fn session_config(&self) -> Config {
        Config {
            io_capability: IoCapability::from_u8(self.io_capability)
                .unwrap_or(IoCapability::NoInputNoOutput),
            mitm: self.mitm(),
            bonding: self.bonding(),
            secure_connections: self.secure_connections(),
            sc_only: false,
            // The passkey we display is the configured one (QuecPython
            // smpSetConfig's passkey, Pycom's pin).
            passkey: Some(self.passkey),
        }
    }
}

/// What the user is asked when a pairing method is known (QuecPython
/// event 64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prompt {
    /// Just Works: nothing to check; pairing goes on without an answer.
    JustWorks,
    /// Numeric Comparison: show the six digits; pairing waits for
    /// [`HostCore::smp_user_confirm`].
    Compare(u32),
    /// Passkey Entry, we display: show the passkey; the peer's user types
    /// it.
    DisplayPasskey(u32),
    /// Passkey Entry, we enter: pairing waits for
    /// [`HostCore::smp_user_confirm`] with [`UserAnswer::Passkey`] (for the
    EnterPasskey,
}

/// The user's answer to a [`Prompt`] (QuecPython `smpUserConfirm`'s
/// operation 0, 1 or 2 with its pin).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserAnswer {
    Reject,
    Accept,
    /// The passkey the user typed (0..=999999) when asked
    /// ([`Prompt::EnterPasskey`]); otherwise an acceptance.
    Passkey(u32),
}

/// What a link keeps of security between pairings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkKeys {
    /// Our address on this link, B of f5/f6 as responder (2.2.7).
    pub local: LeAddress,
    /// Pairing made `ltk` for this link.
    pub has_ltk: bool,
    /// LSB first, already cut to `key_size` (2.3.4).
    pub ltk: U128,
    pub key_size: u8,
    /// Made with MITM protection (Numeric Comparison).
    pub authenticated: bool,
    /// A pairing timed out: no further SMP procedure on this link until it
    /// is reconnected (3.4); SMP PDUs are dropped.
    pub smp_closed: bool,
    /// We asked the controller to encrypt (as central), and no Encryption
    /// Change has come yet.
    pub encrypting: bool,
    /// Our GATT client's running procedure got Insufficient Authentication
    /// or Encryption and waits for the link's encryption to run again
    /// (once per link); the error and handle to report if it fails.
    pub retry_waiting: bool,
    pub retried: bool,
    pub retry_error: u8,
    pub retry_handle: u16,
}

impl LinkKeys {
    pub const fn new() -> Self {
        LinkKeys {
            local: LeAddress {
                kind: 0,
                addr: [0; 6],
            },
            has_ltk: false,
            ltk: [0; 16],
            key_size: 0,
            authenticated: false,
            smp_closed: false,
            encrypting: false,
            retry_waiting: false,
            retried: false,
            retry_error: 0,
            retry_handle: 0,
        }
    }

    /// Takes a bond's key for this link.
    fn use_bond(&mut self, bond: &Bond) {
        self.has_ltk = true;
        self.ltk = bond.ltk;
        self.key_size = bond.key_size;
        self.authenticated = bond.authenticated;
    }
}

/// Octets of LE Rand a pairing needs, as the sessions define them: the
/// private key, then our nonce (Na as initiator, Nb as responder); every
/// other random value of a pairing is derived from them.
const RANDOM_LEN: usize = smp::session::RANDOM_LEN;

/// Where a session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not lent to any link.
    Free,
    /// A Pairing Request came (or, as initiator, our user or the peer's
    /// Security Request asked to pair); LE Rand is being asked for the key
    /// pair and the nonce.
    Gathering,
    /// The session runs.
    Pairing,
}

/// The session of one role.
// The two are about the same size; boxing is not an option without a heap.
#[allow(clippy::large_enum_variant)]
enum Engine {
    Responder(Responder),
    Initiator(Initiator),
}

/// One pairing in progress.
pub struct SmpSession {
    phase: Phase,
    /// The slot of the link it is lent to.
    link: u8,
    /// The Pairing Request, kept while randomness is gathered.
    preq: [u8; 7],
    random: [u8; RANDOM_LEN],
    random_len: u8,
    /// When the SMP timer runs out (3.4).
    deadline: Instant,
    /// We pair as initiator (central).
    initiator: bool,
    /// The Pairing Response, once known, to tell the user the method.
    pres: [u8; 7],
    /// The user was told the method (event 64).
    prompted: bool,
    /// Passkey Entry: our user was asked for the passkey and has not
    /// answered.
    wants_passkey: bool,
    engine: Engine,
}

impl SmpSession {
    const fn new() -> Self {
        let addr = LeAddress {
            kind: 0,
            addr: [0; 6],
        };
        // DisplayOnly is 0: a free session is all zeros.
        let config = Config::ZERO;
        SmpSession {
            phase: Phase::Free,
            link: 0,
            preq: [0; 7],
            random: [0; RANDOM_LEN],
            random_len: 0,
            deadline: Instant::from_ms(0),
            initiator: false,
            pres: [0; 7],
            prompted: false,
            wants_passkey: false,
            engine: Engine::Responder(Responder::new(config, KeyPair::UNSET, [0; 16], addr, addr)),
        }
    }
}

impl SmpSession {
    fn on_pdu(&mut self, pdu: &[u8]) -> Step {
        match &mut self.engine {
            Engine::Responder(r) => r.on_pdu(pdu),
            Engine::Initiator(i) => i.on_pdu(pdu),
        }
    }

    fn user_confirm(&mut self, accept: bool) -> Step {
        match &mut self.engine {
            Engine::Responder(r) => r.user_confirm(accept),
            Engine::Initiator(i) => i.user_confirm(accept),
        }
    }

    fn timed_out(&mut self) -> Step {
        match &mut self.engine {
            Engine::Responder(r) => r.timed_out(),
            Engine::Initiator(i) => i.timed_out(),
        }
    }

    fn passkey_entered(&mut self, passkey: Option<u32>) -> Step {
        match &mut self.engine {
            Engine::Responder(r) => r.passkey_entered(passkey),
            Engine::Initiator(i) => i.passkey_entered(passkey),
        }
    }

    fn encryption_changed(&mut self, on: bool) -> Step {
        match &mut self.engine {
            Engine::Responder(r) => r.encryption_changed(on),
            Engine::Initiator(i) => i.encryption_changed(on),
        }
    }

    /// The session handed out its key and waits for the link's encryption.
    fn waits_encryption(&self) -> bool {
        match &self.engine {
            Engine::Responder(r) => r.state() == responder::State::WaitEncryption,
            Engine::Initiator(i) => i.state() == initiator::State::WaitEncryption,
        }
    }

    /// (key size, authenticated) of the key the session hands out.
    fn strength(&self) -> (u8, bool) {
        match &self.engine {
            Engine::Responder(r) => (r.key_size(), r.authenticated()),
            Engine::Initiator(i) => (i.key_size(), i.authenticated()),
        }
    }
}

/// The pool of sessions, and the configuration they start with.
pub struct Smp {
    sessions: [SmpSession; config::SMP_SESSIONS],
    /// `smpSetConfig` was called: `config` holds it. Until then the
    /// defaults apply ([`SecurityConfig::DEFAULT`]); kept this way so that
    /// the static is all zeros (.bss, no image in flash).
    configured: bool,
    config: SecurityConfig,
    /// Peers whose pairing failed lately (Vol 3 Part H 2.3.6).
    attempts: Attempts<ATTEMPT_PEERS>,
}

/// Peers the repeated-attempts back-off remembers (12 bytes each).
const ATTEMPT_PEERS: usize = 4;

impl Default for Smp {
    fn default() -> Self {
        Self::new()
    }
}

/// The empty session, for array initialisers.
const FREE: SmpSession = SmpSession::new();

impl Smp {
    pub const fn new() -> Self {
        Smp {
            sessions: [FREE; config::SMP_SESSIONS],
            configured: false,
            config: SecurityConfig {
                io_capability: 0,
                auth_req: 0,
                passkey: 0,
                timeout: 0,
            },
            attempts: Attempts::new(),
        }
    }

    /// The configuration pairings start with.
    pub fn config(&self) -> SecurityConfig {
        if self.configured {
            self.config
        } else {
            SecurityConfig::DEFAULT
        }
    }

    /// Sets the configuration for pairings that start from now on.
    pub fn set_config(&mut self, config: SecurityConfig) {
        self.config = config;
        self.configured = true;
    }

    /// Ends every session (the links are gone).
    pub fn reset(&mut self) {
        for s in self.sessions.iter_mut() {
            s.phase = Phase::Free;
        }
    }

    /// Ends the session of a link that is gone.
    pub fn link_down(&mut self, conn: ConnSlot) {
        if let Some(s) = self.session_mut(conn) {
            s.phase = Phase::Free;
        }
    }

    fn session_mut(&mut self, conn: ConnSlot) -> Option<&mut SmpSession> {
        self.sessions
            .iter_mut()
            .find(|s| s.phase != Phase::Free && usize::from(s.link) == conn.index())
    }

    /// When the next SMP timer runs out.
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut best = None;
        for s in self.sessions.iter() {
            if s.phase != Phase::Free {
                best = Instant::earliest_of(best, Some(s.deadline));
            }
        }
        best
    }
}

impl HostCore {
    /// Our address as a link's peer sees it: the advertising own address
    /// (we are peripheral) or the public one, recorded when the link comes
    /// up for f5/f6 (Vol 3 Part H 2.2.7).
    pub(super) fn local_address(&self, role: Role) -> LeAddress {
        let public = self.info.as_ref().map(|i| i.bd_addr).unwrap_or([0; 6]);
        // Our LE Create Connection uses the public address.
        let own_type = match role {
            Role::Peripheral => self.gap.adv.params().own_address_type,
            Role::Central => 0x00,
        };
        match (own_type, self.static_random_address()) {
            (0x01, Some(addr)) => LeAddress { kind: 1, addr },
            _ => LeAddress {
                kind: 0,
                addr: public,
            },
        }
    }

    /// The peer's address on a link, as the bonds key it (identity types
    /// 0x02/0x03 of 7.7.65.10 are 0/1 here).
    fn peer_of(&self, conn: ConnSlot) -> Option<LeAddress> {
        self.conns.get(conn).map(|c| LeAddress {
            kind: c.peer_address_type & 0x01,
            addr: c.peer_address,
        })
    }

    /// The pairing configuration (QuecPython `smpGetConfig`).
    pub fn security_config(&self) -> SecurityConfig {
        self.smp.config()
    }

    /// Sets the pairing configuration for pairings that start from now on
    /// (QuecPython `smpSetConfig`; the caller checked the ranges).
    pub fn set_security_config(&mut self, config: SecurityConfig) {
        self.smp.set_config(config);
    }

    /// A link came up: as central with a bonded peer, encrypt it with the
    /// bond's key at once (Vol 3 Part H 2.4.4.1 / Vol 6 Part B 5.1.3), so
    /// the peer need not pair again.
    pub(super) fn on_link_up(&mut self, conn: ConnSlot) {
        let Some(c) = self.conns.get(conn) else {
            return;
        };
        if c.role != Role::Central {
            return;
        }
        let Some(peer) = self.peer_of(conn) else {
            return;
        };
        if let Some(bond) = self.bonds.find(&peer).copied() {
            self.encrypt_with_bond(conn, &bond);
        }
    }

    /// As central: LE Enable Encryption with a bond's key.
    fn encrypt_with_bond(&mut self, conn: ConnSlot, bond: &Bond) {
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        c.keys.use_bond(bond);
        c.security.has_ltk = true;
        let (handle, ltk, ediv, rand) = (c.handle, bond.ltk, bond.ediv, bond.rand);
        self.start_encryption(conn, handle, ltk, ediv, rand);
    }

    fn start_encryption(
        &mut self,
        conn: ConnSlot,
        handle: ConnHandle,
        ltk: U128,
        ediv: u16,
        rand: [u8; 8],
    ) {
        let cmd = command::le_enable_encryption(handle.0, rand, ediv, ltk);
        if self.cmds.submit(Issuer::Security(conn), cmd).is_ok() {
            if let Some(c) = self.conns.get_mut(conn) {
                c.keys.encrypting = true;
            }
        } else {
            self.push_event(HostEvent::SecurityComplete {
                conn,
                status: Reason::UNSPECIFIED_REASON.0,
            });
        }
        self.pump();
    }

    /// The controller reports the link's encryption (Vol 4 Part E 7.7.8):
    /// on, with the key we gave or started with, completes security
    /// (`SecurityComplete` status 0, whether after pairing or from a
    /// bond); a failure reports its HCI status.
    pub(super) fn on_encryption_change(&mut self, handle: u16, status: u8, enabled: u8) {
        let Some(conn) = self.conns.by_handle(ConnHandle(handle)) else {
            return;
        };
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        let on = status == 0 && enabled != 0;
        let was_encrypting = c.keys.encrypting;
        c.keys.encrypting = false;
        c.security.encrypted = on;
        // The controller encrypted with the key we gave (the only one we
        // have): its strength is the pairing's (Vol 3 Part H 2.3.4).
        let paired = on && c.keys.has_ltk;
        c.security.authenticated = paired && c.keys.authenticated;
        c.security.key_size = if paired { c.keys.key_size } else { 0 };
        let retry = core::mem::take(&mut c.keys.retry_waiting);
        let (error, handle) = (c.keys.retry_error, c.keys.retry_handle);
        // A pairing waiting for this: the key distribution phase runs now
        // (3.6.1), and its outcome completes security.
        let link = c.handle;
        if let Some(s) = self
            .smp
            .session_mut(conn)
            .filter(|s| s.phase == Phase::Pairing && s.waits_encryption())
        {
            let step = s.encryption_changed(on);
            self.apply_smp_step(conn, link, step);
            self.pump();
        } else if on {
            self.push_event(HostEvent::SecurityComplete { conn, status: 0 });
        } else if status != 0 && was_encrypting {
            self.push_event(HostEvent::SecurityComplete { conn, status });
        }
        if retry {
            self.retry_procedure(conn, on, error, handle);
        }
    }

    /// Our GATT client's procedure got Insufficient Authentication (0x05)
    /// or Insufficient Encryption (0x0F) (Vol 3 Part F 3.4.1.1) on a link
    /// we are central of and could encrypt (a bond of the peer, or the
    /// encryption already under way): start the encryption and hold the
    /// procedure, to run it again once the link is encrypted (Vol 3 Part C
    /// 10.3.1.1: the client "may" encrypt and retry). Once per link, and
    /// only for procedures of one request (reads and short writes), so
    /// that no result is reported twice. Returns whether it held it.
    pub(super) fn retry_after_encryption(
        &mut self,
        conn: ConnSlot,
        att_error: u8,
        handle: u16,
    ) -> bool {
        use crate::att::pdu::error;
        use crate::gatt::queue::Procedure;
        if att_error != error::INSUFFICIENT_AUTHENTICATION
            && att_error != error::INSUFFICIENT_ENCRYPTION
        {
            return false;
        }
        let one_request = match self.procedures.running(conn.index()).map(|r| r.procedure) {
            Some(Procedure::Read { offset, long, .. }) => offset == 0 && !long,
            Some(Procedure::Write { offset, long, .. }) => offset == 0 && !long,
            Some(Procedure::ReadMultiple { .. }) => true,
            _ => false,
        };
        let Some(c) = self.conns.get(conn) else {
            return false;
        };
        if !one_request || c.role != Role::Central || c.security.encrypted || c.keys.retried {
            return false;
        }
        let encrypting = c.keys.encrypting;
        let bond = self
            .peer_of(conn)
            .and_then(|p| self.bonds.find(&p).copied());
        if !encrypting {
            match bond {
                Some(b) => self.encrypt_with_bond(conn, &b),
                None => return false,
            }
        }
        let Some(c) = self.conns.get_mut(conn) else {
            return false;
        };
        if !c.keys.encrypting {
            return false;
        }
        c.keys.retried = true;
        c.keys.retry_waiting = true;
        c.keys.retry_error = att_error;
        c.keys.retry_handle = handle;
        true
    }

    /// The held procedure's link is encrypted (run it again) or not (end
    /// it with the error it had).
    fn retry_procedure(&mut self, conn: ConnSlot, encrypted: bool, error: u8, handle: u16) {
        let Some(request) = self.procedures.running(conn.index()) else {
            return;
        };
        if encrypted && self.start_procedure(conn, request).is_ok() {
            return;
        }
        let request = self.procedures.finish(conn.index()).unwrap_or(request);
        self.push_event(HostEvent::GattClient {
            conn,
            request: Some(request),
            event: crate::gatt::client::ClientEvent::Done {
                procedure: request.procedure.kind(),
                att_error: error,
                handle,
            },
        });
        self.start_next_procedure(conn);
    }

    /// QuecPython `smpStartPair`: as central, sends a Pairing Request (once
    /// the randomness is in); as peripheral, a Security Request asking the
    /// central to pair (3.6.7). Busy while a pairing runs on the link.
    pub fn smp_start_pair(&mut self, conn: ConnSlot) -> Result<(), HostError> {
        self.ready()?;
        let c = self.conns.get(conn).ok_or(HostError::NoConnection)?;
        if c.keys.smp_closed || self.smp.session_mut(conn).is_some() {
            return Err(HostError::Busy);
        }
        let (role, link) = (c.role, c.handle);
        let config = self.smp.config();
        if role == Role::Peripheral {
            let mut auth = AuthReq::from_bits_retain(config.auth_req) & !AuthReq::KEYPRESS;
            auth.remove(AuthReq::CT2);
            self.send_smp(link, &Pdu::SecurityRequest(auth));
            self.pump();
            return Ok(());
        }
        self.start_initiator(conn, link)
    }

    /// Lends a session to `conn` for a pairing as initiator and starts
    /// gathering its randomness.
    fn start_initiator(&mut self, conn: ConnSlot, link: ConnHandle) -> Result<(), HostError> {
        let now = Instant::from_ms(self.now_ms);
        let Some(s) = self
            .smp
            .sessions
            .iter_mut()
            .find(|s| s.phase == Phase::Free)
        else {
            return Err(HostError::Busy);
        };
        s.phase = Phase::Gathering;
        s.initiator = true;
        s.link = conn.index() as u8;
        s.random_len = 0;
        s.deadline = now.add_ms(SMP_TIMEOUT_MS);
        self.ask_random(conn, link);
        Ok(())
    }

    /// QuecPython `smpUserConfirm`: the user's answer to a prompt. `accept`
    /// false fails the pairing (Numeric Comparison Failed, 3.5.5) and drops
    /// the link (Authentication Failure). With no comparison pending (Just
    /// Works goes on by itself, or the pairing has ended) an acceptance
    /// does nothing and is not an error.
    pub fn smp_user_confirm(
        &mut self,
        conn: ConnSlot,
        answer: UserAnswer,
    ) -> Result<(), HostError> {
        let accept = answer != UserAnswer::Reject;
        let c = self.conns.get(conn).ok_or(HostError::NoConnection)?;
        let link = c.handle;
        let pairing = self
            .smp
            .session_mut(conn)
            .filter(|s| s.phase == Phase::Pairing);
        let step = match pairing {
            // A cancel while our user was to type the passkey: Passkey
            // Entry Failed (3.5.5).
            Some(s) if !accept && s.wants_passkey => {
                s.wants_passkey = false;
                s.passkey_entered(None)
            }
            // The passkey our user typed ([`Prompt::EnterPasskey`]); an
            // acceptance without one leaves the pairing waiting for it.
            Some(s) if s.wants_passkey => match answer {
                UserAnswer::Passkey(p) => {
                    s.wants_passkey = false;
                    s.passkey_entered(Some(p))
                }
                _ => Step::default(),
            },
            Some(s) => s.user_confirm(accept),
            None if accept => return Ok(()),
            None => {
                // Cancelled while the randomness was gathered, or with no
                // pairing at all: the link goes.
                if let Some(s) = self.smp.session_mut(conn) {
                    s.phase = Phase::Free;
                    self.send_pairing_failed(link, Reason::UNSPECIFIED_REASON);
                }
                return self.submit(
                    Issuer::Host,
                    command::disconnect(link.0, AUTHENTICATION_FAILURE),
                );
            }
        };
        self.apply_smp_step(conn, link, step);
        if !accept {
            let _ = self.submit(
                Issuer::Host,
                command::disconnect(link.0, AUTHENTICATION_FAILURE),
            );
        }
        self.pump();
        Ok(())
    }

    /// An SMP PDU from the link's peer (CID 0x0006).
    pub(super) fn on_smp(&mut self, conn: ConnSlot, pdu: &[u8]) {
        let Some(c) = self.conns.get(conn) else {
            return;
        };
        let (link, role, closed, encrypted) =
            (c.handle, c.role, c.keys.smp_closed, c.security.encrypted);
        if closed {
            return;
        }
        let now = Instant::from_ms(self.now_ms);
        if let Some(s) = self.smp.session_mut(conn) {
            // 3.4: the timer restarts with each SMP PDU.
            s.deadline = now.add_ms(SMP_TIMEOUT_MS);
            match s.phase {
                Phase::Pairing => {
                    if s.initiator && pdu.first() == Some(&smp::pdu::PAIRING_RESPONSE) {
                        if let Some(d) = pdu.get(..7) {
                            s.pres.copy_from_slice(d);
                        }
                    }
                    let step = s.on_pdu(pdu);
                    self.apply_smp_step(conn, link, step);
                }
                // A Security Request while we gather for our own pairing.
                Phase::Gathering if s.initiator && pdu.first() == Some(&SECURITY_REQUEST) => {}
                // The peer gave up before we answered.
                Phase::Gathering if pdu.first() == Some(&smp::PAIRING_FAILED) => {
                    s.phase = Phase::Free;
                    self.push_event(HostEvent::SecurityComplete {
                        conn,
                        status: pdu.get(1).copied().unwrap_or(0x08),
                    });
                }
                // Nothing else may come before our Pairing Request or
                // Response.
                Phase::Gathering => {
                    s.phase = Phase::Free;
                    self.send_pairing_failed(link, Reason::UNSPECIFIED_REASON);
                    self.push_event(HostEvent::SecurityComplete {
                        conn,
                        status: Reason::UNSPECIFIED_REASON.0,
                    });
                }
                Phase::Free => {}
            }
            return;
        }
        if role == Role::Central && pdu.first() == Some(&SECURITY_REQUEST) && pdu.len() == 2 {
            // 3.6.7: the peripheral asks us to secure the link. With a
            // bond good enough for what it asks, encrypt with it;
            // otherwise pair. Nothing to do on a link already encrypted
            // or being encrypted.
            let c = self.conns.get(conn);
            if encrypted || c.is_some_and(|c| c.keys.encrypting) {
                return;
            }
            let wants_mitm = pdu.get(1).is_some_and(|a| a & AuthReq::MITM.bits() != 0);
            let bond = self
                .peer_of(conn)
                .and_then(|p| self.bonds.find(&p).copied())
                .filter(|b| b.authenticated || !wants_mitm);
            match bond {
                Some(b) => self.encrypt_with_bond(conn, &b),
                // 2.3.6: a peer whose pairing failed lately waits before
                // we answer its Security Request with a pairing.
                None if self
                    .peer_of(conn)
                    .is_some_and(|p| self.smp.attempts.wait_ms(p, now) > 0) =>
                {
                    self.send_pairing_failed(link, Reason::REPEATED_ATTEMPTS);
                }
                None => {
                    if self.start_initiator(conn, link).is_err() {
                        self.send_pairing_failed(link, Reason::UNSPECIFIED_REASON);
                    }
                }
            }
            return;
        }
        let request = pdu.first() == Some(&PAIRING_REQUEST) && pdu.len() == 7;
        if role != Role::Peripheral || !request {
            // No pairing runs and none starts: the stateless answers.
            let mut rsp = [0u8; 2];
            let n = smp::handle(pdu, &mut rsp);
            if n > 0 {
                self.send_reply(link, l2cap::CID_SMP, rsp.get(..n).unwrap_or(&[]));
            }
            return;
        }
        // 2.3.6: a peer whose pairing failed lately waits before it may
        // try again.
        if let Some(peer) = self.peer_of(conn) {
            if self.smp.attempts.wait_ms(peer, now) > 0 {
                self.send_pairing_failed(link, Reason::REPEATED_ATTEMPTS);
                return;
            }
        }
        let Some(s) = self
            .smp
            .sessions
            .iter_mut()
            .find(|s| s.phase == Phase::Free)
        else {
            self.send_pairing_failed(link, Reason::UNSPECIFIED_REASON);
            return;
        };
        s.phase = Phase::Gathering;
        s.initiator = false;
        s.link = conn.index() as u8;
        s.preq.copy_from_slice(pdu);
        s.random_len = 0;
        s.deadline = now.add_ms(SMP_TIMEOUT_MS);
        self.ask_random(conn, link);
    }

    /// Asks the controller for the next 8 random octets.
    fn ask_random(&mut self, conn: ConnSlot, link: ConnHandle) {
        if self
            .cmds
            .submit(Issuer::Security(conn), command::le_rand())
            .is_err()
        {
            self.smp.link_down(conn);
            self.send_pairing_failed(link, Reason::UNSPECIFIED_REASON);
            self.push_event(HostEvent::SecurityComplete {
                conn,
                status: Reason::UNSPECIFIED_REASON.0,
            });
        }
        self.pump();
    }

    /// The answer to a command a link's security sent.
    pub(super) fn on_security_result(
        &mut self,
        conn: ConnSlot,
        op: u16,
        status: u8,
        params: &[u8],
    ) {
        if op == opcode::LE_ENABLE_ENCRYPTION && status != 0 {
            // Refused by our controller (Command Status): no Encryption
            // Change will come.
            if let Some(c) = self.conns.get_mut(conn) {
                c.keys.encrypting = false;
            }
            self.push_event(HostEvent::SecurityComplete { conn, status });
            return;
        }
        if op != opcode::LE_RAND {
            if status != 0 {
                self.push_event(HostEvent::CommandFailed { opcode: op, status });
            }
            return;
        }
        let Some(link) = self.conns.get(conn).map(|c| c.handle) else {
            return;
        };
        let (Some(peer), Some(local)) = (
            self.peer_of(conn),
            self.conns.get(conn).map(|c| c.keys.local),
        ) else {
            return;
        };
        let config = self.smp.config();
        let Some(s) = self.smp.session_mut(conn) else {
            return;
        };
        if s.phase != Phase::Gathering {
            return;
        }
        let Some(octets) = params.get(..8).filter(|_| status == 0) else {
            // No randomness, no pairing.
            s.phase = Phase::Free;
            self.send_pairing_failed(link, Reason::UNSPECIFIED_REASON);
            self.push_event(HostEvent::SecurityComplete {
                conn,
                status: Reason::UNSPECIFIED_REASON.0,
            });
            return;
        };
        let at = usize::from(s.random_len);
        if let Some(dst) = s.random.get_mut(at..at + 8) {
            dst.copy_from_slice(octets);
            s.random_len += 8;
        }
        if usize::from(s.random_len) < RANDOM_LEN {
            self.ask_random(conn, link);
            return;
        }
        let mut private = [0u8; 32];
        let mut nonce = [0u8; 16];
        private.copy_from_slice(&s.random[..32]);
        nonce.copy_from_slice(&s.random[32..]);
        // LE legacy pairing for sure (our request or configuration, or the
        // peer's request, without SC): no public key to make.
        let peer_sc = s.initiator || s.preq[3] & AuthReq::SC.bits() != 0;
        let make = if config.secure_connections() && peer_sc {
            KeyPair::from_private_key
        } else {
            KeyPair::without_public_key
        };
        let Some(keys) = make(&private) else {
            // Not below the group order (chance ~2^-32): ask again.
            s.random_len = 0;
            self.ask_random(conn, link);
            return;
        };
        s.phase = Phase::Pairing;
        s.prompted = false;
        s.wants_passkey = false;
        s.pres = [0; 7];
        let step = if s.initiator {
            // We are A of f5/f6, the peripheral B.
            let mut i = Initiator::new(config.session_config(), keys, nonce, local, peer);
            let step = i.start(config.bonding());
            if let Some(Pdu::PairingRequest(p)) = step.send.first() {
                s.preq = p.to_pdu(PAIRING_REQUEST);
            }
            s.engine = Engine::Initiator(i);
            step
        } else {
            s.engine = Engine::Responder(Responder::new(
                config.session_config(),
                keys,
                nonce,
                peer,
                local,
            ));
            let preq = s.preq;
            let step = s.on_pdu(&preq);
            if let Some(Pdu::PairingResponse(p)) = step.send.first() {
                s.pres = p.to_pdu(smp::pdu::PAIRING_RESPONSE);
            }
            step
        };
        self.apply_smp_step(conn, link, step);
    }

    /// Sends what a session's step produced, tells the user what to check
    /// (event 64), encrypts with the key it handed out, and records the
    /// outcome (a bond, the repeated-attempts count, event 63).
    fn apply_smp_step(&mut self, conn: ConnSlot, link: ConnHandle, step: Step) {
        let now = Instant::from_ms(self.now_ms);
        for pdu in step.send.iter() {
            self.send_smp(link, pdu);
        }
        let mut prompts: heapless::Vec<(Prompt, bool), 2> = heapless::Vec::new();
        let mut encrypt = None;
        if let Some(s) = self.smp.session_mut(conn) {
            if !step.send.is_empty() {
                // 3.4: the timer restarts when an SMP PDU is queued.
                s.deadline = now.add_ms(SMP_TIMEOUT_MS);
            }
            // The method is known once both Pairing Request and Response
            // are: as responder when ours goes out, as initiator when the
            // peer's came (and the pairing goes on).
            let selection = match (Pdu::parse(&s.preq), Pdu::parse(&s.pres)) {
                (Ok(Pdu::PairingRequest(req)), Ok(Pdu::PairingResponse(rsp))) => {
                    Some(method::select(&req, &rsp))
                }
                _ => None,
            };
            let sc = selection.is_none_or(|m| m.secure_connections);
            if let Some(m) = selection.filter(|_| !s.prompted && step.outcome.is_none()) {
                s.prompted = true;
                if m.method == Method::JustWorks {
                    let _ = prompts.push((Prompt::JustWorks, sc));
                }
            }
            if let Some(passkey) = step.display_passkey {
                let _ = prompts.push((Prompt::DisplayPasskey(passkey), sc));
            }
            if step.enter_passkey {
                s.wants_passkey = true;
                let _ = prompts.push((Prompt::EnterPasskey, sc));
            }
            if let Some(key) = step.encrypt {
                let (key_size, authenticated) = s.strength();
                encrypt = Some((key, key_size, authenticated, s.initiator));
            }
        }
        for (prompt, secure_connections) in prompts {
            self.push_event(HostEvent::PairingPrompt {
                conn,
                prompt,
                secure_connections,
            });
        }
        if let Some(n) = step.compare {
            // Numeric Comparison exists only with Secure Connections.
            self.push_event(HostEvent::PairingPrompt {
                conn,
                prompt: Prompt::Compare(n),
                secure_connections: true,
            });
        }
        if let Some((key, key_size, authenticated, initiator)) = encrypt {
            // The STK (legacy) or LTK (Secure Connections) of this
            // pairing, with EDIV 0 and Rand 0 (2.4.4): the peripheral
            // answers the LTK Request with it, the central starts
            // encryption with it.
            if let Some(c) = self.conns.get_mut(conn) {
                c.keys.has_ltk = true;
                c.keys.ltk = key;
                c.keys.key_size = key_size;
                c.keys.authenticated = authenticated;
                c.security.has_ltk = true;
            }
            if initiator {
                self.start_encryption(conn, link, key, 0, [0; 8]);
            }
        }
        let Some(outcome) = step.outcome else {
            return;
        };
        self.smp.link_down(conn);
        let bonding = self.smp.config().bonding();
        let peer = self.peer_of(conn);
        if let Some(peer) = peer {
            match outcome {
                Outcome::Paired { .. } => self.smp.attempts.paired(peer),
                Outcome::Failed { .. } => self.smp.attempts.failed(peer, now),
                Outcome::TimedOut => {}
            }
        }
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        match outcome {
            // `..`: key distribution adds fields (docs: SMP-CONTRACT).
            Outcome::Paired {
                ltk,
                key_size,
                authenticated,
                bonded,
                ediv,
                rand,
                peer_identity,
                peer_irk,
                secure_connections,
            } => {
                // The key that encrypts this link again: for legacy
                // pairing the LTK the peripheral distributed (the link
                // runs on the STK until then).
                c.keys.has_ltk = true;
                c.keys.ltk = ltk;
                c.keys.key_size = key_size;
                c.keys.authenticated = authenticated;
                c.security.has_ltk = true;
                let encrypted = c.security.encrypted;
                if bonded && bonding {
                    // Keyed by the identity address when the peer connects
                    // with a resolvable private address (random, top bits
                    // 0b01, Vol 6 Part B 1.3.2.2) and gave the IRK that
                    // resolves it; otherwise by the address it connects
                    // with, which it will use again (docs/DECISIONS.md).
                    let irk = peer_irk.filter(|k| *k != [0; 16]);
                    let private = peer.is_some_and(|p| p.kind == 1 && p.addr[5] >> 6 == 0b01);
                    let peer = match (irk, peer_identity) {
                        (Some(_), Some(id)) if private => Some(id),
                        _ => peer,
                    };
                    if let Some(peer) = peer {
                        self.bonds.insert(Bond {
                            peer,
                            ltk,
                            ediv,
                            rand,
                            key_size,
                            authenticated,
                            secure_connections,
                            peer_irk: irk,
                        });
                    }
                }
                // After the key distribution phase the link is encrypted
                // already: pairing is complete now (event 63). Otherwise
                // (the key was handed out in this very step, even on a
                // link encrypted with an older key) the Encryption Change
                // or Key Refresh will say it.
                if encrypted && encrypt.is_none() {
                    self.push_event(HostEvent::SecurityComplete { conn, status: 0 });
                }
            }
            Outcome::Failed { reason, .. } => {
                self.push_event(HostEvent::SecurityComplete {
                    conn,
                    status: reason.0,
                });
            }
            Outcome::TimedOut => {
                c.keys.smp_closed = true;
                self.push_event(HostEvent::SecurityComplete {
                    conn,
                    status: Reason::UNSPECIFIED_REASON.0,
                });
            }
        }
    }

    fn send_smp(&mut self, link: ConnHandle, pdu: &Pdu) {
        let mut out = [0u8; 65];
        if let Ok(n) = pdu.write(&mut out) {
            self.send_reply(link, l2cap::CID_SMP, out.get(..n).unwrap_or(&[]));
        }
    }

    fn send_pairing_failed(&mut self, link: ConnHandle, reason: Reason) {
        self.send_smp(link, &Pdu::PairingFailed(reason));
    }

    /// Runs the SMP timers (3.4): a pairing without an SMP PDU for 30 s
    /// fails silently and closes SMP on its link.
    pub(super) fn expire_smp(&mut self, now_ms: u32) {
        let now = Instant::from_ms(now_ms);
        for i in 0..config::SMP_SESSIONS {
            let Some(s) = self.smp.sessions.get_mut(i) else {
                continue;
            };
            if s.phase == Phase::Free || !s.deadline.is_reached(now) {
                continue;
            }
            let link = s.link;
            if s.phase == Phase::Pairing {
                let _ = s.timed_out();
            }
            s.phase = Phase::Free;
            let Some(conn) = ConnSlot::new(usize::from(link)) else {
                continue;
            };
            if let Some(c) = self.conns.get_mut(conn) {
                c.keys.smp_closed = true;
                self.push_event(HostEvent::SecurityComplete {
                    conn,
                    status: Reason::UNSPECIFIED_REASON.0,
                });
            }
        }
    }

    /// The controller asks for the key to encrypt a link we are peripheral
    /// of (Vol 4 Part E 7.7.65.5): the key this link's pairing made, or
    /// the bond of the peer. Secure Connections keys have EDIV 0 and Rand
    /// 0 (Vol 3 Part H 2.4.4.1); a legacy bond's key must match both.
    /// Anything else, or no key, gets the negative reply (7.8.26) and the
    /// central learns the key is missing.
    pub(super) fn on_ltk_request(&mut self, handle: u16, rand: [u8; 8], ediv: u16) {
        let conn = self.conns.by_handle(ConnHandle(handle));
        let paired = conn
            .and_then(|s| self.conns.get(s))
            .filter(|c| c.keys.has_ltk && rand == [0; 8] && ediv == 0)
            .map(|c| c.keys.ltk);
        let bonded = conn
            .and_then(|s| self.peer_of(s))
            .and_then(|p| self.bonds.find(&p).copied())
            .filter(|b| b.ediv == ediv && b.rand == rand);
        let key = match (paired, bonded, conn) {
            (Some(ltk), _, _) => Some(ltk),
            (None, Some(b), Some(conn)) => {
                if let Some(c) = self.conns.get_mut(conn) {
                    c.keys.use_bond(&b);
                    c.security.has_ltk = true;
                }
                Some(b.ltk)
            }
            _ => None,
        };
        let issuer = conn.map_or(Issuer::Host, Issuer::Security);
        let cmd = match key {
            Some(ltk) => command::le_long_term_key_request_reply(handle, ltk),
            None => command::le_long_term_key_request_negative_reply(handle),
        };
        let _ = self.cmds.submit(issuer, cmd);
    }
}
