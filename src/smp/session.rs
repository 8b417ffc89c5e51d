//! What both pairing roles share (Vol 3 Part H 2.3.5.6): the outcome of a
//! pairing, what one input produced, our configuration, and the checks on
//! the peer's public key.

use super::crypto::{KeyPair, PublicKey, U128};
use super::pdu::{AuthReq, IoCapability, Pdu, Reason};
use heapless::Vec;

/// How pairing ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The initiator's DHKey check matched. The controller gets `ltk` in
    /// LE Long Term Key Request Reply when the central starts encryption
    /// with EDIV 0 and Rand 0 (Vol 3 Part H 2.4.4.1, Secure Connections).
    Paired {
        /// LSB first, already cut to `key_size` octets (2.3.4).
        ltk: U128,
        key_size: u8,
        /// MITM protection: Numeric Comparison yes, Just Works no.
        authenticated: bool,
        /// Both asked for bonding: the LTK is to be stored.
        bonded: bool,
    },
    /// Pairing failed: `local` when we sent Pairing Failed with `reason`,
    /// otherwise the peer's reason.
    Failed { reason: Reason, local: bool },
    /// No SMP PDU for [`SMP_TIMEOUT_MS`] while pairing (3.4): nothing is
    /// sent, and no further SMP procedure may run on this link until it
    /// is reconnected (the host's rule to keep).
    TimedOut,
}

/// What one PDU produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// PDUs to send on CID 0x0006, in order (at most two: our public key
    /// is followed at once by our confirm value, C.2.2.2).
    pub send: Vec<Pdu, 2>,
    pub outcome: Option<Outcome>,
    /// Numeric Comparison: show these six digits (0..=999999, shown with
    /// leading zeros) and call [`Responder::user_confirm`] with the user's
    /// yes or no (2.3.5.6.2).
    pub compare: Option<u32>,
}

/// What we tell the peer about ourselves (3.5.1, 3.5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub io_capability: IoCapability,
    /// Ask for MITM protection: a pairing that would be Just Works fails
    /// with Authentication Requirements (2.3.5.1).
    pub mitm: bool,
}

/// The SMP timeout (Vol 3 Part H 3.4): 30 s without an SMP PDU going
/// either way while a pairing runs. The host keeps the timer (it has the
/// clock) and calls the session's `timed_out`.
pub const SMP_TIMEOUT_MS: u32 = 30_000;

/// The smallest key size we accept (3.5.1: 7 to 16 octets).
pub const MIN_KEY_SIZE: u8 = 7;
/// The largest key size, and what we offer.
pub const MAX_KEY_SIZE: u8 = 16;

/// Checks the peer's public key and computes the DHKey (2.3.5.6.1), or
/// the reason pairing fails:
/// - a key off the curve (CVE-2018-5383) ends pairing before it is used,
///   with DHKey Check Failed;
/// - our own public key reflected back is refused with Unspecified Reason,
///   as Zephyr does.
pub(super) fn dh_key_with(keys: &KeyPair, peer: &PublicKey) -> Result<[u8; 32], Reason> {
    if !peer.is_on_curve() {
        return Err(Reason::DHKEY_CHECK_FAILED);
    }
    if peer.x == keys.public().x {
        return Err(Reason::UNSPECIFIED_REASON);
    }
    keys.dh_key(peer).map_err(|_| Reason::DHKEY_CHECK_FAILED)
}

/// A step sending one PDU.
pub(super) fn send(pdu: Pdu) -> Step {
    let mut send = Vec::new();
    let _ = send.push(pdu);
    Step {
        send,
        ..Step::default()
    }
}

/// The step of a pairing we end ourselves: Pairing Failed with `reason`
/// (3.5.5).
pub(super) fn failed(reason: Reason) -> Step {
    let mut step = send(Pdu::PairingFailed(reason));
    step.outcome = Some(Outcome::Failed {
        reason,
        local: true,
    });
    step
}

/// What a pairing yields once both DHKey checks agreed: the LTK cut to the
/// key size both sides accept, keeping its least significant octets
/// (2.3.4), and bonded when both Pairing Request and Response asked for it.
pub(super) fn paired(
    preq: &[u8; 7],
    pres: &[u8; 7],
    mut ltk: U128,
    authenticated: bool,
) -> Outcome {
    let key_size = preq[4].min(pres[4]);
    for o in ltk.iter_mut().skip(usize::from(key_size)) {
        *o = 0;
    }
    Outcome::Paired {
        ltk,
        key_size,
        authenticated,
        bonded: preq[3] & pres[3] & AuthReq::BONDING.bits() != 0,
    }
}

/// Compares two check values without an early exit, so the time taken
/// does not tell how many leading octets matched.
pub(super) fn ct_eq(a: &U128, b: &U128) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
