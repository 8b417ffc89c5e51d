//! What both pairing roles share (Vol 3 Part H 2.3.5.6): the outcome of a
//! pairing, what one input produced, our configuration, and the checks on
//! the peer's public key.

use super::crypto::{aes_cmac, c1, e, KeyPair, LeAddress, PublicKey, U128};
use super::pdu::{AuthReq, IoCapability, KeyDistribution, Pdu, Reason};
use heapless::Vec;

/// How pairing ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Pairing (and the key distribution that followed it) completed.
    /// `ltk` is the key that encrypts this link again in these roles:
    /// - LE Secure Connections: the LTK of f5, EDIV 0 and Rand 0 (2.4.4.1);
    /// - LE legacy pairing: the LTK the responder distributed with its
    ///   `ediv` and `rand` (3.6.2, 3.6.3), the same on both sides; if the
    ///   responder distributed none, the STK with EDIV 0 and Rand 0, and
    ///   `bonded` is false (an STK is for this connection only, 2.4.4.2).
    Paired {
        /// LSB first, already cut to `key_size` octets (2.3.4).
        ltk: U128,
        key_size: u8,
        /// MITM protection: Numeric Comparison and Passkey Entry yes,
        /// Just Works no.
        authenticated: bool,
        /// Both asked for bonding (and there is a key worth storing): the
        /// keys are to be stored.
        bonded: bool,
        /// EDIV and Rand of `ltk` (zero for Secure Connections), as the
        /// central gives them in LE Enable Encryption and the peripheral
        /// gets them in the LE Long Term Key Request.
        ediv: u16,
        rand: [u8; 8],
        /// The peer's identity address, if it distributed it (3.6.5).
        peer_identity: Option<LeAddress>,
        /// The peer's IRK, if it distributed it (3.6.4).
        peer_irk: Option<U128>,
        /// LE Secure Connections (false: LE legacy pairing).
        secure_connections: bool,
    },
    /// Pairing failed: `local` when we sent Pairing Failed with `reason`,
    /// otherwise the peer's reason.
    Failed { reason: Reason, local: bool },
    /// No SMP PDU for [`SMP_TIMEOUT_MS`] while pairing (3.4): nothing is
    /// sent, and no further SMP procedure may run on this link until it
    /// is reconnected (the host's rule to keep).
    TimedOut,
}

/// The most PDUs one step sends: our keys in the key distribution phase
/// (Encryption Information, Central Identification, Identity Information,
/// Identity Address Information; 3.6.1).
pub const STEP_PDUS: usize = 4;

/// What one input produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// PDUs to send on CID 0x0006, in order.
    pub send: Vec<Pdu, STEP_PDUS>,
    pub outcome: Option<Outcome>,
    /// Numeric Comparison: show these six digits (0..=999999, shown with
    /// leading zeros) and call the session's `user_confirm` with the
    /// user's yes or no (2.3.5.6.2).
    pub compare: Option<u32>,
    /// Passkey Entry, we display: show these six digits (0..=999999, with
    /// leading zeros); the peer's user types them (2.3.5.3, 2.3.5.6.3).
    pub display_passkey: Option<u32>,
    /// Passkey Entry, we input: ask our user for the six digits the peer
    /// shows and call the session's `passkey_entered` (None: the user
    /// gave up, Pairing Failed / Passkey Entry Failed).
    pub enter_passkey: bool,
    /// The key to encrypt the link with now (the STK of legacy pairing or
    /// the LTK of Secure Connections, cut to the key size), with EDIV 0
    /// and Rand 0 (2.4.4): the initiator starts encryption with it (LE
    /// Enable Encryption), the responder answers the coming LE Long Term
    /// Key Request with it. The host then calls the session's
    /// `encryption_changed` from the Encryption Change event, and the key
    /// distribution phase runs (3.6.1).
    pub encrypt: Option<U128>,
}

/// What we tell the peer about ourselves (3.5.1, 3.5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub io_capability: IoCapability,
    /// Ask for MITM protection: a pairing that would be Just Works fails
    /// with Authentication Requirements (2.3.5.1).
    pub mitm: bool,
    /// Responder: answer a request for bonding with bonding (and agree to
    /// distribute keys); without it the keys are not distributed. The
    /// initiator takes bonding from `Initiator::start`.
    pub bonding: bool,
    /// Set the SC bit (LE Secure Connections when the peer sets it too;
    /// otherwise LE legacy pairing, 2.3.5.1).
    pub secure_connections: bool,
    /// Secure Connections Only mode (2.3.5.1): a peer without SC fails
    /// pairing with Authentication Requirements instead of falling back
    /// to LE legacy pairing.
    pub sc_only: bool,
    /// Passkey Entry when we display: this fixed passkey (0..=999999;
    /// larger values are taken modulo 10^6), or None for a random one
    /// from the session's random octets.
    pub passkey: Option<u32>,
}

impl Config {
    /// Secure Connections with bonding, no fixed passkey: what the
    /// sessions did before `bonding`, `secure_connections` and `passkey`
    /// existed.
    pub const fn new(io_capability: IoCapability, mitm: bool) -> Config {
        Config {
            io_capability,
            mitm,
            bonding: true,
            secure_connections: true,
            sc_only: false,
            passkey: None,
        }
    }

    /// All zeros (DisplayOnly, nothing asked): the configuration of an
    /// idle session in a zero-initialised static.
    pub const ZERO: Config = Config {
        io_capability: IoCapability::DisplayOnly,
        mitm: false,
        bonding: false,
        secure_connections: false,
        sc_only: false,
        passkey: None,
    };
}

/// Octets of LE Rand a session is made from: the P-256 private key (32)
/// and the nonce (16; Na or Nb of Secure Connections, Mrand or Srand of
/// legacy pairing). Everything else random (the 20 nonce pairs of
/// Passkey Entry, a random passkey, the legacy LTK, EDIV and Rand we
/// distribute) comes from AES-128 keyed with a secret derived from the
/// private key (see [`Derive`]), so a pairing costs six LE Rand commands
/// whatever its method.
pub const RANDOM_LEN: usize = 32 + 16;

/// The rounds of Secure Connections Passkey Entry: one per passkey bit
/// (2.3.5.6.3).
pub const PASSKEY_ROUNDS: u8 = 20;

/// The largest passkey (six decimal digits).
pub const PASSKEY_MAX: u32 = 999_999;

/// Values a session draws from its secret (an AES-128 key made from the
/// private key with AES-CMAC, so that the derived values say nothing of
/// the key and the key nothing of them): block `label || i || 0...`
/// encrypted. AES as a PRF in counter mode: a value sent in the clear
/// (the nonces) reveals nothing of the others (the passkey, the LTK).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Derive(U128);

impl Derive {
    pub(super) fn new(keys: &KeyPair) -> Derive {
        let private = keys.private_octets();
        let mut key = [0u8; 16];
        key.copy_from_slice(&private[16..]);
        Derive(aes_cmac(&key, &private[..16]))
    }

    pub(super) fn value(&self, label: u8, i: u8) -> U128 {
        let mut block = [0u8; 16];
        block[0] = label;
        block[1] = i;
        e(&self.0, &block)
    }

    /// Nai / Nbi of Passkey Entry round `round` (2.3.5.6.3).
    pub(super) fn nonce(&self, round: u8) -> U128 {
        self.value(b'N', round)
    }

    /// A random passkey, 0..=999999 (the bias of 2^32 mod 10^6 is below
    /// one part in 4000).
    pub(super) fn passkey(&self) -> u32 {
        let v = self.value(b'P', 0);
        u32::from_le_bytes([v[0], v[1], v[2], v[3]]) % (PASSKEY_MAX + 1)
    }

    /// The legacy LTK, EDIV and Rand the responder distributes (3.6.2,
    /// 3.6.3; the spec leaves how they are made to us, 2.4.2.3 being one
    /// way).
    pub(super) fn legacy_keys(&self) -> (U128, u16, [u8; 8]) {
        let ltk = self.value(b'L', 0);
        let v = self.value(b'E', 0);
        let mut rand = [0u8; 8];
        rand.copy_from_slice(&v[2..10]);
        (ltk, u16::from_le_bytes([v[0], v[1]]), rand)
    }
}

/// The passkey a configuration displays.
pub(super) fn display_passkey(config: &Config, derive: &Derive) -> u32 {
    match config.passkey {
        Some(p) => p % (PASSKEY_MAX + 1),
        None => derive.passkey(),
    }
}

/// The passkey as a 128-bit value: TK of legacy pairing (2.3.5.3) and ra
/// = rb of Secure Connections f6 (2.3.5.6.5), LSB first.
pub(super) fn passkey_value(passkey: u32) -> U128 {
    let mut r = [0u8; 16];
    r[..4].copy_from_slice(&passkey.to_le_bytes());
    r
}

/// c1 of legacy pairing (2.2.3) with TK = the passkey, for nonce `r`,
/// over the Pairing Request and Response (`pairing`) and the initiator's
/// and responder's addresses (`addresses`): Mconfirm/Sconfirm (2.3.5.5).
pub(super) fn legacy_confirm(
    passkey: u32,
    r: &U128,
    pairing: [&[u8; 7]; 2],
    addresses: [LeAddress; 2],
) -> U128 {
    let [preq, pres] = pairing;
    let [ia, ra] = addresses;
    c1(
        &passkey_value(passkey),
        r,
        preq,
        pres,
        ia.kind,
        &ia.addr,
        ra.kind,
        &ra.addr,
    )
}

/// z of round `round` in Secure Connections Passkey Entry: 0x80 | bit
/// `round` of the passkey (2.3.5.6.3).
pub(super) fn passkey_z(passkey: u32, round: u8) -> u8 {
    0x80 | ((passkey >> round) & 1) as u8
}

/// The key distribution phase (3.6.1) as one side sees the other's keys:
/// which PDUs are still to come, in their order, and what came.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct PeerKeys {
    /// Bits of the PDUs still to come: [`Self::ENC_INFO`]...
    expect: u8,
    pub ltk: Option<U128>,
    pub ediv: u16,
    pub rand: [u8; 8],
    pub irk: Option<U128>,
    pub identity: Option<LeAddress>,
}

impl PeerKeys {
    /// Nothing expected, nothing received.
    pub(super) const NONE: PeerKeys = PeerKeys {
        expect: 0,
        ltk: None,
        ediv: 0,
        rand: [0; 8],
        irk: None,
        identity: None,
    };
    const ENC_INFO: u8 = 1;
    const CENTRAL_ID: u8 = 2;
    const ID_INFO: u8 = 4;
    const ID_ADDR: u8 = 8;

    /// What a peer that distributes `keys` sends: EncKey is an LTK with
    /// EDIV and Rand in legacy pairing only (Secure Connections ignores
    /// the bit, 3.6.1); SignKey and LinkKey are never agreed to.
    pub(super) fn expecting(keys: KeyDistribution, legacy: bool) -> PeerKeys {
        let mut expect = 0;
        if legacy && keys.contains(KeyDistribution::ENC_KEY) {
            expect |= Self::ENC_INFO | Self::CENTRAL_ID;
        }
        if keys.contains(KeyDistribution::ID_KEY) {
            expect |= Self::ID_INFO | Self::ID_ADDR;
        }
        PeerKeys {
            expect,
            ..PeerKeys::default()
        }
    }

    pub(super) fn done(&self) -> bool {
        self.expect == 0
    }

    /// One key distribution PDU from the peer; the reason to fail if it is
    /// not the next one expected (the order is fixed, 3.6.1).
    pub(super) fn receive(&mut self, pdu: &Pdu) -> Result<(), Reason> {
        let (bit, ok) = match *pdu {
            Pdu::EncryptionInformation(ltk) => {
                self.ltk = Some(ltk);
                (Self::ENC_INFO, true)
            }
            Pdu::CentralIdentification { ediv, rand } => {
                self.ediv = ediv;
                self.rand = rand.to_le_bytes();
                (Self::CENTRAL_ID, true)
            }
            Pdu::IdentityInformation(irk) => {
                self.irk = Some(irk);
                (Self::ID_INFO, true)
            }
            // The identity address must be public or static random (its
            // two top bits set, Vol 6 Part B 1.3.2.1).
            Pdu::IdentityAddressInformation { kind, addr } => {
                self.identity = Some(LeAddress { kind, addr });
                (Self::ID_ADDR, kind == 0 || addr[5] & 0xC0 == 0xC0)
            }
            _ => (0, false),
        };
        // The next one is the lowest bit still expected.
        if bit == 0 || self.expect & bit == 0 || self.expect & (bit - 1) != 0 {
            return Err(Reason::UNSPECIFIED_REASON);
        }
        if !ok {
            return Err(Reason::INVALID_PARAMETERS);
        }
        self.expect &= !bit;
        Ok(())
    }
}

/// Whether a PDU belongs to the key distribution phase.
pub(super) fn is_key_pdu(pdu: &Pdu) -> bool {
    matches!(
        pdu,
        Pdu::EncryptionInformation(_)
            | Pdu::CentralIdentification { .. }
            | Pdu::IdentityInformation(_)
            | Pdu::IdentityAddressInformation { .. }
            | Pdu::SigningInformation(_)
    )
}

/// Our keys as the key distribution phase sends them, in the order of
/// 3.6.1: in legacy pairing with EncKey the LTK (Encryption Information)
/// and its EDIV and Rand (Central Identification); with IdKey our IRK
/// (Identity Information) and identity address (Identity Address
/// Information). We never distribute a CSRK (no signed writes here).
pub(super) fn our_keys(
    keys: KeyDistribution,
    legacy: bool,
    enc: (U128, u16, [u8; 8]),
    irk: &U128,
    identity: LeAddress,
) -> Step {
    let mut step = Step::default();
    if legacy && keys.contains(KeyDistribution::ENC_KEY) {
        let _ = step.send.push(Pdu::EncryptionInformation(enc.0));
        let _ = step.send.push(Pdu::CentralIdentification {
            ediv: enc.1,
            rand: u64::from_le_bytes(enc.2),
        });
    }
    if keys.contains(KeyDistribution::ID_KEY) {
        let _ = step.send.push(Pdu::IdentityInformation(*irk));
        let _ = step.send.push(Pdu::IdentityAddressInformation {
            kind: identity.kind & 1,
            addr: identity.addr,
        });
    }
    step
}

/// `key` cut to `key_size` octets, keeping its least significant ones
/// (2.3.4).
pub(super) fn cut(mut key: U128, key_size: u8) -> U128 {
    for o in key.iter_mut().skip(usize::from(key_size)) {
        *o = 0;
    }
    key
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

/// What a pairing yields: the key (already cut to the key size both
/// sides accept, 2.3.4) with its EDIV and Rand, the peer's identity, and
/// bonded when both Pairing Request and Response asked for it and
/// `storable` (not a legacy STK).
pub(super) fn paired(
    preq: &[u8; 7],
    pres: &[u8; 7],
    key: (U128, u16, [u8; 8]),
    authenticated: bool,
    storable: bool,
    legacy: bool,
    peer: &PeerKeys,
) -> Outcome {
    let key_size = preq[4].min(pres[4]);
    Outcome::Paired {
        ltk: cut(key.0, key_size),
        key_size,
        authenticated,
        bonded: storable && preq[3] & pres[3] & AuthReq::BONDING.bits() != 0,
        ediv: key.1,
        rand: key.2,
        peer_identity: peer.identity,
        peer_irk: peer.irk,
        secure_connections: !legacy,
    }
}

/// Compares two check values without an early exit, so the time taken
/// does not tell how many leading octets matched.
pub(super) fn ct_eq(a: &U128, b: &U128) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
