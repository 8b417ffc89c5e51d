//! The Security Manager wired to the host (Vol 3 Part H): per-link keys,
//! the pairing sessions, their randomness from the controller and their
//! 30 s timer.
//!
//! What runs today: LE Secure Connections pairing with our side as
//! responder (peripheral), Just Works or Numeric Comparison as the
//! `smp::responder` session decides, and the LE Long Term Key Request
//! answered with the key it made. Not yet: the initiator role, legacy
//! pairing, Passkey Entry, key distribution and bonds that outlive the
//! link, the repeated-attempts back-off (2.3.6).
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

use super::{ConnSlot, HostCore, Issuer, Role};
use crate::config;
use crate::hci::command::{self, opcode};
use crate::hci::ConnHandle;
use crate::l2cap;
use crate::smp;
use crate::smp::crypto::{KeyPair, LeAddress, U128};
use crate::smp::pdu::{IoCapability, Pdu, Reason, PAIRING_REQUEST};
use crate::smp::responder::{Config, Outcome, Responder, Step, SMP_TIMEOUT_MS};
use crate::time::Instant;

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
        }
    }
}

/// Octets of LE Rand a pairing needs: the private key, then Nb.
const RANDOM_LEN: usize = 32 + 16;

/// Where a session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not lent to any link.
    Free,
    /// A Pairing Request came; LE Rand is being asked for the key pair and
    /// the nonce.
    Gathering,
    /// The responder session runs.
    Pairing,
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
    responder: Responder,
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
            responder: Responder::new(config, KeyPair::UNSET, [0; 16], addr, addr),
        }
    }
}

/// The pool of sessions.
pub struct Smp {
    sessions: [SmpSession; config::SMP_SESSIONS],
}

/// What we tell the peer about ourselves (3.5.2): Just Works, as the
/// vendor APIs have no IO capability to set yet. A constant rather than a
/// field: NoInputNoOutput is 3, and a non-zero field would move the
/// firmware's static from .bss to .data.
/// Without bonding, no keys are distributed, and legacy pairing is
/// refused (Secure Connections Only): neither the key distribution phase
/// nor the STK is wired yet.
const RESPONDER_CONFIG: Config = Config {
    bonding: false,
    sc_only: true,
    ..Config::new(IoCapability::NoInputNoOutput, false)
};

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
        }
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
        self.sessions
            .iter()
            .filter(|s| s.phase != Phase::Free)
            .map(|s| s.deadline)
            .reduce(Instant::earliest)
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

    /// An SMP PDU from the link's peer (CID 0x0006).
    pub(super) fn on_smp(&mut self, conn: ConnSlot, pdu: &[u8]) {
        let Some(c) = self.conns.get(conn) else {
            return;
        };
        let (link, role, closed) = (c.handle, c.role, c.keys.smp_closed);
        if closed {
            return;
        }
        let now = Instant::from_ms(self.now_ms);
        if let Some(s) = self.smp.session_mut(conn) {
            // 3.4: the timer restarts with each SMP PDU.
            s.deadline = now.add_ms(SMP_TIMEOUT_MS);
            match s.phase {
                Phase::Pairing => {
                    let step = s.responder.on_pdu(pdu);
                    self.apply_smp_step(conn, link, step);
                }
                // The peer gave up before we answered.
                Phase::Gathering if pdu.first() == Some(&smp::PAIRING_FAILED) => {
                    s.phase = Phase::Free;
                }
                // Nothing else may come before our Pairing Response.
                Phase::Gathering => {
                    s.phase = Phase::Free;
                    self.send_pairing_failed(link, Reason::UNSPECIFIED_REASON);
                }
                Phase::Free => {}
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
        if op != opcode::LE_RAND {
            if status != 0 {
                self.push_event(super::HostEvent::CommandFailed { opcode: op, status });
            }
            return;
        }
        let Some(link) = self.conns.get(conn).map(|c| c.handle) else {
            return;
        };
        let (initiator, local) = match self.conns.get(conn) {
            Some(c) => (
                LeAddress {
                    // Identity types 0x02/0x03 (7.7.65.10) are 0/1 here.
                    kind: c.peer_address_type & 0x01,
                    addr: c.peer_address,
                },
                c.keys.local,
            ),
            None => return,
        };
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
        let mut nb = [0u8; 16];
        private.copy_from_slice(&s.random[..32]);
        nb.copy_from_slice(&s.random[32..]);
        let Some(keys) = KeyPair::from_private_key(&private) else {
            // Not below the group order (chance ~2^-32): ask again.
            s.random_len = 0;
            self.ask_random(conn, link);
            return;
        };
        s.responder = Responder::new(RESPONDER_CONFIG, keys, nb, initiator, local);
        s.phase = Phase::Pairing;
        let preq = s.preq;
        let step = s.responder.on_pdu(&preq);
        self.apply_smp_step(conn, link, step);
    }

    /// Sends what a session's step produced and records its outcome.
    fn apply_smp_step(&mut self, conn: ConnSlot, link: ConnHandle, step: Step) {
        let now = Instant::from_ms(self.now_ms);
        for pdu in step.send.iter() {
            self.send_smp(link, pdu);
        }
        if let Some(s) = self.smp.session_mut(conn) {
            if !step.send.is_empty() {
                // 3.4: the timer restarts when an SMP PDU is queued.
                s.deadline = now.add_ms(SMP_TIMEOUT_MS);
            }
        }
        let Some(outcome) = step.outcome else {
            return;
        };
        self.smp.link_down(conn);
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        match outcome {
            Outcome::Paired {
                ltk,
                key_size,
                authenticated,
                ..
            } => {
                // Bonds are not stored yet: the key lives with the link.
                c.keys.has_ltk = true;
                c.keys.ltk = ltk;
                c.keys.key_size = key_size;
                c.keys.authenticated = authenticated;
                c.security.has_ltk = true;
            }
            Outcome::Failed { .. } => {}
            Outcome::TimedOut => c.keys.smp_closed = true,
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
            let _ = s.responder.timed_out();
            s.phase = Phase::Free;
            if let Some(c) = ConnSlot::new(usize::from(link)).and_then(|l| self.conns.get_mut(l)) {
                c.keys.smp_closed = true;
            }
        }
    }

    /// The controller asks for the key to encrypt a link we are peripheral
    /// of (Vol 4 Part E 7.7.65.5). Secure Connections keys have EDIV 0 and
    /// Rand 0 (Vol 3 Part H 2.4.4.1); anything else, or no key, gets the
    /// negative reply (7.8.26) and the central learns the key is missing.
    pub(super) fn on_ltk_request(&mut self, handle: u16, rand: [u8; 8], ediv: u16) {
        let conn = self.conns.by_handle(ConnHandle(handle));
        let key = conn
            .and_then(|s| self.conns.get(s))
            .filter(|c| c.keys.has_ltk && rand == [0; 8] && ediv == 0)
            .map(|c| c.keys.ltk);
        let issuer = conn.map_or(Issuer::Host, Issuer::Security);
        let cmd = match key {
            Some(ltk) => command::le_long_term_key_request_reply(handle, ltk),
            None => command::le_long_term_key_request_negative_reply(handle),
        };
        let _ = self.cmds.submit(issuer, cmd);
    }
}
