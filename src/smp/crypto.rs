//! The cryptographic toolbox of the Security Manager (Core spec Vol 3
//! Part H 2.2) and P-256 elliptic-curve Diffie-Hellman (2.3.5.6).
//!
//! **Byte order.** The spec writes every value most significant octet
//! first; SMP PDUs and HCI carry them least significant octet first (Vol 3
//! Part H 3.1). Every function here takes and returns values **LSB first**,
//! exactly as they sit in a PDU or an HCI command, and swaps internally; so
//! the state machine hands PDU fields over as they are, and [`e`] is
//! interchangeable with the controller's HCI LE Encrypt (Vol 4 Part E
//! 7.8.22), which takes the same order. Only [`aes_cmac`] works on byte
//! strings in their natural order, as RFC 4493 defines it.
//!
//! **Randomness** is never drawn here: the key pair is made from 32 bytes
//! the caller got (from the controller's HCI LE Rand, Vol 4 Part E 7.8.23),
//! so the core stays sans-IO and every test is deterministic.
//!
//! **Implementation.** AES-128 is RustCrypto's `aes` (constant-time,
//! bitsliced; no tables); AES-CMAC is written here on top of it (RFC 4493
//! section 2.4, twenty lines, checked against the RFC's vectors in D.1);
//! P-256 is RustCrypto's `p256` with only its `arithmetic` feature (no
//! precomputed base-point table, no ECDSA, no std). README "Dependencies"
//! says why.

use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use aes::Aes128;
use p256::elliptic_curve::ff::{Field, PrimeField};
use p256::elliptic_curve::point::AffineCoordinates;
use p256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar};

/// A 128-bit value, LSB first.
pub type U128 = [u8; 16];

/// A device address as `f5` and `f6` take it (Vol 3 Part H 2.2.7: 56 bits,
/// the address type in the most significant octet).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeAddress {
    /// 0x00 public, 0x01 random (the HCI address type of the connection).
    pub kind: u8,
    /// LSB first, as in HCI events.
    pub addr: [u8; 6],
}

impl LeAddress {
    /// The 56-bit value MSB first: type, then the address.
    fn to_be(self) -> [u8; 7] {
        let mut out = [0u8; 7];
        out[0] = self.kind;
        out[1..].copy_from_slice(&rev(self.addr));
        out
    }
}

/// `a` with its octets in the other order.
fn rev<const N: usize>(mut a: [u8; N]) -> [u8; N] {
    a.reverse();
    a
}

/// AES-128 of one block, key and block in FIPS-197 order (MSB first).
fn aes_be(key: &[u8; 16], block: &[u8; 16]) -> [u8; 16] {
    let cipher = Aes128::new(&Array::from(*key));
    let mut b = Array::from(*block);
    cipher.encrypt_block(&mut b);
    b.into()
}

/// The security function e (Vol 3 Part H 2.2.1): AES-128 encryption of
/// `plaintext` with `key`, both and the result LSB first, as HCI LE Encrypt
/// takes them (Vol 4 Part E 7.8.22).
pub fn e(key: &U128, plaintext: &U128) -> U128 {
    rev(aes_be(&rev(*key), &rev(*plaintext)))
}

/// Doubling in GF(2^128) (RFC 4493 2.3, the subkey generation step).
fn dbl(b: [u8; 16]) -> [u8; 16] {
    let v = u128::from_be_bytes(b);
    let r = (v << 1) ^ if v >> 127 == 1 { 0x87 } else { 0 };
    r.to_be_bytes()
}

/// AES-CMAC (RFC 4493 2.4; Vol 3 Part H 2.2.5) of `msg` with `key`, in
/// natural byte order (the key and the MAC as RFC 4493 prints them).
pub fn aes_cmac(key: &[u8; 16], msg: &[u8]) -> [u8; 16] {
    let cipher = Aes128::new(&Array::from(*key));
    let enc = |block: [u8; 16]| -> [u8; 16] {
        let mut b = Array::from(block);
        cipher.encrypt_block(&mut b);
        b.into()
    };
    let k1 = dbl(enc([0; 16]));
    let k2 = dbl(k1);
    // Every block but the last goes through CBC as is; the last is XORed
    // with K1 when complete, padded (10*) and XORed with K2 otherwise (an
    // empty message is one incomplete block).
    let last_len = match msg.len() % 16 {
        0 if !msg.is_empty() => 16,
        n => n,
    };
    let (head, last) = msg.split_at(msg.len() - last_len);
    let mut x = [0u8; 16];
    for block in head.chunks_exact(16) {
        for (xi, mi) in x.iter_mut().zip(block) {
            *xi ^= mi;
        }
        x = enc(x);
    }
    let mut m = [0u8; 16];
    m[..last_len].copy_from_slice(last);
    let sub = if last_len == 16 {
        k1
    } else {
        m[last_len] = 0x80;
        k2
    };
    for ((xi, mi), ki) in x.iter_mut().zip(m).zip(sub) {
        *xi ^= mi ^ ki;
    }
    enc(x)
}

/// AES-CMAC with a key and a result LSB first (the functions below).
fn cmac_le(key: &U128, msg: &[u8]) -> U128 {
    rev(aes_cmac(&rev(*key), msg))
}

/// Copies `parts` one after the other into a `N`-byte message.
fn concat<const N: usize>(parts: &[&[u8]]) -> [u8; N] {
    let mut m = [0u8; N];
    let mut at = 0;
    for p in parts {
        if let Some(d) = m.get_mut(at..at + p.len()) {
            d.copy_from_slice(p);
        }
        at += p.len();
    }
    debug_assert_eq!(at, N);
    m
}

/// The LE Secure Connections confirm value function f4 (Vol 3 Part H
/// 2.2.6): AES-CMAC_X(U || V || Z). `u` and `v` are public-key X
/// coordinates (32 octets), `x` a nonce, `z` 0 for Just Works / Numeric
/// Comparison, 0x80 | passkey bit for Passkey Entry.
pub fn f4(u: &[u8; 32], v: &[u8; 32], x: &U128, z: u8) -> U128 {
    let m: [u8; 65] = concat(&[&rev(*u), &rev(*v), &[z]]);
    cmac_le(x, &m)
}

/// The LE Secure Connections key generation function f5 (Vol 3 Part H
/// 2.2.7): `(MacKey, LTK)` from the DHKey `w`, both nonces and both
/// addresses (`a1` the initiator's, `a2` the responder's).
pub fn f5(w: &[u8; 32], n1: &U128, n2: &U128, a1: LeAddress, a2: LeAddress) -> (U128, U128) {
    const SALT: [u8; 16] = [
        0x6C, 0x88, 0x83, 0x91, 0xAA, 0xF5, 0xA5, 0x38, 0x60, 0x37, 0x0B, 0xDB, 0x5A, 0x60, 0x83,
        0xBE,
    ];
    const KEY_ID: [u8; 4] = *b"btle"; // 0x62746c65
    const LENGTH: [u8; 2] = [0x01, 0x00]; // 256 bits
    let t = aes_cmac(&SALT, &rev(*w));
    let mut m: [u8; 53] = concat(&[
        &[0],
        &KEY_ID,
        &rev(*n1),
        &rev(*n2),
        &a1.to_be(),
        &a2.to_be(),
        &LENGTH,
    ]);
    let mac_key = rev(aes_cmac(&t, &m));
    m[0] = 1;
    let ltk = rev(aes_cmac(&t, &m));
    (mac_key, ltk)
}

/// The LE Secure Connections check value function f6 (Vol 3 Part H
/// 2.2.8): AES-CMAC_W(N1 || N2 || R || IOcap || A1 || A2).
///
/// `io_cap` LSB first is `[IO capability, OOB data flag, AuthReq]`: the
/// octets 1..4 of the sender's Pairing Request or Response as they are.
pub fn f6(
    w: &U128,
    n1: &U128,
    n2: &U128,
    r: &U128,
    io_cap: &[u8; 3],
    a1: LeAddress,
    a2: LeAddress,
) -> U128 {
    let m: [u8; 65] = concat(&[
        &rev(*n1),
        &rev(*n2),
        &rev(*r),
        &rev(*io_cap),
        &a1.to_be(),
        &a2.to_be(),
    ]);
    cmac_le(w, &m)
}

/// The LE Secure Connections numeric comparison value function g2 (Vol 3
/// Part H 2.2.9): AES-CMAC_X(U || V || Y) mod 2^32. The six digits shown
/// are this value mod 10^6 (2.3.5.6.2).
pub fn g2(u: &[u8; 32], v: &[u8; 32], x: &U128, y: &U128) -> u32 {
    let m: [u8; 80] = concat(&[&rev(*u), &rev(*v), &rev(*y)]);
    let mac = aes_cmac(&rev(*x), &m);
    u32::from_be_bytes([mac[12], mac[13], mac[14], mac[15]])
}

/// The random address hash function ah (Vol 3 Part H 2.2.2): e(k, r')
/// mod 2^24, r' = r padded with zeros. `r` and the hash LSB first, as in a
/// resolvable private address (prand in the upper three octets, Vol 6 Part
/// B 1.3.2.2).
pub fn ah(k: &U128, r: &[u8; 3]) -> [u8; 3] {
    let mut rp = [0u8; 16];
    rp[..3].copy_from_slice(r);
    let h = e(k, &rp);
    [h[0], h[1], h[2]]
}

/// The LE legacy pairing confirm value function c1 (Vol 3 Part H 2.2.3).
///
/// `preq`, `pres`: the Pairing Request and Response PDUs (7 octets, code
/// first) as sent; `iat`/`rat`: the initiating/responding device's address
/// type (0 public, 1 random); `ia`/`ra` their addresses, LSB first.
#[allow(clippy::too_many_arguments)] // the spec's own parameter list
pub fn c1(
    k: &U128,
    r: &U128,
    preq: &[u8; 7],
    pres: &[u8; 7],
    iat: u8,
    ia: &[u8; 6],
    rat: u8,
    ra: &[u8; 6],
) -> U128 {
    // p1 = pres || preq || rat' || iat', MSB first: LSB first it starts
    // with iat' and the PDUs sit in their wire order.
    let p1: U128 = concat(&[&[iat & 1, rat & 1], preq, pres]);
    // p2 = padding || ia || ra, MSB first.
    let p2: U128 = concat(&[ra, ia, &[0; 4]]);
    let mut x = *r;
    for (xi, pi) in x.iter_mut().zip(p1) {
        *xi ^= pi;
    }
    let mut y = e(k, &x);
    for (yi, pi) in y.iter_mut().zip(p2) {
        *yi ^= pi;
    }
    e(k, &y)
}

/// The LE legacy pairing key generation function s1 (Vol 3 Part H 2.2.4):
/// the STK, e(k, r1' || r2') with the low 64 bits of each random.
pub fn s1(k: &U128, r1: &U128, r2: &U128) -> U128 {
    // r' = r1' || r2' MSB first, so r2' comes first LSB first.
    let rp: U128 = concat(&[&r2[..8], &r1[..8]]);
    e(k, &rp)
}

/// A P-256 public key as the Pairing Public Key PDU carries it (Vol 3 Part
/// H 3.5.6): X then Y, each 32 octets LSB first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub x: [u8; 32],
    pub y: [u8; 32],
}

/// The peer's public key is not a point of P-256 (or a coordinate is not
/// below the field prime): pairing must fail (CVE-2018-5383, the "invalid
/// curve" attack; Vol 3 Part H 2.3.5.6.1 requires the check).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidPublicKey;

impl PublicKey {
    /// The point, if it lies on the curve: y^2 = x^3 - 3x + b with both
    /// coordinates below p. An uncompressed point given as coordinates can
    /// never be the point at infinity.
    fn to_point(self) -> Result<AffinePoint, InvalidPublicKey> {
        let x = FieldBytes::from(rev(self.x));
        let y = FieldBytes::from(rev(self.y));
        Option::from(AffinePoint::from_coordinates(&x, &y)).ok_or(InvalidPublicKey)
    }

    /// Whether this is a valid P-256 point (see [`InvalidPublicKey`]).
    pub fn is_on_curve(&self) -> bool {
        self.to_point().is_ok()
    }
}

/// Our P-256 key pair for one pairing (Vol 3 Part H 2.3.5.6.1).
///
/// Holds the private key as its 32 octets (LSB first) rather than a field
/// element, so it has no invariant beyond "in [1, n-1]", which
/// [`KeyPair::from_private_key`] checks once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPair {
    private: [u8; 32],
    public: PublicKey,
}

impl KeyPair {
    /// All zeros: not a key pair (zero is not a valid private key, so
    /// [`KeyPair::dh_key`] refuses it). It fills an idle session in a
    /// zero-initialised static until the controller's random octets make
    /// a real one.
    pub const UNSET: KeyPair = KeyPair {
        private: [0; 32],
        public: PublicKey {
            x: [0; 32],
            y: [0; 32],
        },
    };

    /// The key pair whose private key is `private` (LSB first): 32 random
    /// octets from the controller's LE Rand (4 commands of 8). `None` when
    /// they are not a valid private key (zero, or not below the group
    /// order n: a chance of about 2^-32); ask for fresh ones then.
    pub fn from_private_key(private: &[u8; 32]) -> Option<KeyPair> {
        let d = Self::scalar(private)?;
        let p = (ProjectivePoint::GENERATOR * d).to_affine();
        let public = PublicKey {
            x: rev(p.x().into()),
            y: rev(p.y().into()),
        };
        Some(KeyPair {
            private: *private,
            public,
        })
    }

    /// The private half only, the public key left all zeros: for a
    /// pairing that cannot be LE Secure Connections (one side has no SC
    /// bit: legacy pairing), whose session only derives its secrets from
    /// the private octets (`smp::session`). Skips the point multiplication
    /// (~0.3 s on a Cortex-M3). `None` as for [`KeyPair::from_private_key`];
    /// [`KeyPair::dh_key`] works as with the full pair.
    pub fn without_public_key(private: &[u8; 32]) -> Option<KeyPair> {
        Self::scalar(private)?;
        Some(KeyPair {
            private: *private,
            public: KeyPair::UNSET.public,
        })
    }

    fn scalar(private: &[u8; 32]) -> Option<Scalar> {
        let d: Option<Scalar> = Scalar::from_repr(FieldBytes::from(rev(*private))).into();
        d.filter(|d| !bool::from(d.is_zero()))
    }

    /// The private key's octets (LSB first): the session derives its
    /// other secrets from them (`smp::session`), never sends them.
    pub(super) fn private_octets(&self) -> &[u8; 32] {
        &self.private
    }

    /// Our public key, for the Pairing Public Key PDU.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The DHKey (Vol 3 Part H 2.3.5.6.1): the X coordinate of our private
    /// key times the peer's public key, LSB first. Fails for a peer key
    /// that is not on the curve (CVE-2018-5383).
    pub fn dh_key(&self, peer: &PublicKey) -> Result<[u8; 32], InvalidPublicKey> {
        let q = peer.to_point()?;
        // `from_private_key` checked the range; a corrupted private key
        // is reported like a bad peer key rather than panicking.
        let d = Self::scalar(&self.private).ok_or(InvalidPublicKey)?;
        // P-256 has cofactor 1 and d is in [1, n-1]: d * Q is never the
        // point at infinity for a point Q on the curve.
        let s = (ProjectivePoint::from(q) * d).to_affine();
        Ok(rev(s.x().into()))
    }
}

#[cfg(test)]
mod tests {
    //! Sample data of Core spec Vol 3 Part H Appendix D (printed MSB first
    //! there and here; `le` turns them into this module's order), as also
    //! used by Bumble's tests/smp_test.py (google/bumble) and Zephyr's
    //! subsys/bluetooth/host/smp.c self-tests; the AES-CMAC vectors are
    //! RFC 4493's (section 4), which D.1 repeats.
    use super::*;
    use crate::smp::testdata::{
        hex, le, ADDRESS_A as A1, ADDRESS_B as A2, NA, NB, PRIVATE_A as DEBUG_PRIVATE, PRIVATE_B,
    };

    const RFC4493_KEY: &str = "2b7e1516 28aed2a6 abf71588 09cf4f3c";
    const RFC4493_M64: &str = "6bc1bee2 2e409f96 e93d7e11 7393172a ae2d8a57 1e03ac9c 9eb76fac 45af8e51 \
                               30c81c46 a35ce411 e5fbc119 1a0a52ef f69f2445 df4f9b17 ad2b417b e66c3710";

    /// D.1 (RFC 4493 section 4, examples 1-4).
    #[test]
    fn d1_aes_cmac() {
        let k: [u8; 16] = hex(RFC4493_KEY);
        let m: [u8; 64] = hex(RFC4493_M64);
        for (len, mac) in [
            (0, "bb1d6929 e9593728 7fa37d12 9b756746"),
            (16, "070a16b4 6b4d4144 f79bdd9d d04a287c"),
            (40, "dfa66747 de9ae630 30ca3261 1497c827"),
            (64, "51f0bebf 7e3b9d92 fc497417 79363cfe"),
        ] {
            assert_eq!(aes_cmac(&k, &m[..len]), hex::<16>(mac), "length {len}");
        }
    }

    /// e: FIPS-197 appendix C.1 (AES-128), given LSB first.
    #[test]
    fn e_is_aes_128() {
        let k = le("000102030405060708090a0b0c0d0e0f");
        let p = le("00112233445566778899aabbccddeeff");
        assert_eq!(e(&k, &p), le::<16>("69c4e0d86a7b0430d8cdb78070b4c55a"));
    }

    const PKAX: &str = "20b003d2 f297be2c 5e2c83a7 e9f9a5b9 eff49111 acf4fddb cc030148 0e359de6";
    const PKBX: &str = "55188b3d 32f6bb9a 900afcfb eed4e72a 59cb9ac2 f19d7cfb 6b4fdd49 f47fc5fd";
    const DHKEY: &str = "ec0234a3 57c8ad05 341010a6 0a397d9b 99796b13 b4f866f1 868d34f3 73bfa698";

    /// D.2 f4.
    #[test]
    fn d2_f4() {
        let z = f4(&le(PKAX), &le(PKBX), &le(NA), 0x00);
        assert_eq!(z, le::<16>("f2c916f1 07a9bd1c f1eda1be a974872d"));
    }

    /// D.3 f5.
    #[test]
    fn d3_f5() {
        assert_eq!(A1.to_be(), hex::<7>("00561237 37bfce"));
        assert_eq!(A2.to_be(), hex::<7>("00a71370 2dcfc1"));
        let (mac_key, ltk) = f5(&le(DHKEY), &le(NA), &le(NB), A1, A2);
        assert_eq!(mac_key, le::<16>("2965f176 a1084a02 fd3f6a20 ce636e20"));
        assert_eq!(ltk, le::<16>("69867911 69d7cd23 980522b5 94750a38"));
    }

    /// D.4 f6.
    #[test]
    fn d4_f6() {
        let check = f6(
            &le("2965f176 a1084a02 fd3f6a20 ce636e20"),
            &le(NA),
            &le(NB),
            &le("12a3343b b453bb54 08da42d2 0c2d0fc8"),
            &le("010102"),
            A1,
            A2,
        );
        assert_eq!(check, le::<16>("e3c47398 9cd0e8c5 d26c0b09 da958f61"));
    }

    /// D.5 g2.
    #[test]
    fn d5_g2() {
        let v = g2(&le(PKAX), &le(PKBX), &le(NA), &le(NB));
        assert_eq!(v, 0x2f9e_d5ba);
        // The six digits a user compares (2.3.5.6.2).
        assert_eq!(v % 1_000_000, 0x2f9e_d5ba % 1_000_000);
    }

    /// D.6 ah.
    #[test]
    fn d6_ah() {
        let irk = le("ec0234a3 57c8ad05 341010a6 0a397d9b");
        assert_eq!(ah(&irk, &le("708194")), le::<3>("0dfbaa"));
    }

    /// D.7 c1 (the example of 2.2.3).
    #[test]
    fn d7_c1() {
        let confirm = c1(
            &[0; 16],
            &le("5783D52156AD6F0E6388274EC6702EE0"),
            &le("07071000000101"),
            &le("05000800000302"),
            1,
            &le("A1A2A3A4A5A6"),
            0,
            &le("B1B2B3B4B5B6"),
        );
        assert_eq!(confirm, le::<16>("1e1e3fef878988ead2a74dc5bef13b86"));
    }

    /// D.8 s1 (the example of 2.2.4).
    #[test]
    fn d8_s1() {
        let stk = s1(
            &[0; 16],
            &le("000F0E0D0C0B0A091122334455667788"),
            &le("010203040506070899AABBCCDDEEFF00"),
        );
        assert_eq!(stk, le::<16>("9a1fe1f0e8b0f49b5b4216ae796da062"));
    }

    const DEBUG_PUBLIC_X: &str =
        "20b003d2 f297be2c 5e2c83a7 e9f9a5b9 eff49111 acf4fddb cc030148 0e359de6";
    const DEBUG_PUBLIC_Y: &str =
        "dc809c49 652aeb6d 63329abf 5a52155c 766345c2 8fed3024 741c8ed0 1589d28b";
    const PUBLIC_B_X: &str =
        "1ea1f0f0 1faf1d96 09592284 f19e4c00 47b58afd 8615a69f 559077b2 2faaa190";
    const PUBLIC_B_Y: &str =
        "4c55f33e 429dad37 7356703a 9ab85160 472d1130 e28e3676 5f89aff9 15b1214a";

    /// The debug key pair of 2.3.5.6.1 and the P-256 sample data (Vol 2
    /// Part G 7.1.2, "Private A" is the debug key): each side's public key
    /// follows from its private key, and both reach the same DHKey.
    #[test]
    fn p256_debug_keys_give_the_known_dhkey() {
        let a = KeyPair::from_private_key(&le(DEBUG_PRIVATE)).unwrap();
        assert_eq!(a.public().x, le::<32>(DEBUG_PUBLIC_X));
        assert_eq!(a.public().y, le::<32>(DEBUG_PUBLIC_Y));
        let b = KeyPair::from_private_key(&le(PRIVATE_B)).unwrap();
        assert_eq!(b.public().x, le::<32>(PUBLIC_B_X));
        assert_eq!(b.public().y, le::<32>(PUBLIC_B_Y));
        assert_eq!(a.dh_key(b.public()), Ok(le::<32>(DHKEY)));
        assert_eq!(b.dh_key(a.public()), Ok(le::<32>(DHKEY)));
    }

    /// CVE-2018-5383: a peer key off the curve (the attack sends the real
    /// X with Y = 0, or another point of a weak curve) is refused, and so
    /// is a coordinate at or above the field prime.
    #[test]
    fn public_key_off_the_curve_is_refused() {
        let a = KeyPair::from_private_key(&le(DEBUG_PRIVATE)).unwrap();
        let good = PublicKey {
            x: le(PUBLIC_B_X),
            y: le(PUBLIC_B_Y),
        };
        assert!(good.is_on_curve());
        let y_zero = PublicKey { y: [0; 32], ..good };
        assert!(!y_zero.is_on_curve());
        assert_eq!(a.dh_key(&y_zero), Err(InvalidPublicKey));
        let mut flipped = good;
        flipped.y[0] ^= 1;
        assert_eq!(a.dh_key(&flipped), Err(InvalidPublicKey));
        // (0, 0) would be the point at infinity in some encodings.
        assert_eq!(
            a.dh_key(&PublicKey {
                x: [0; 32],
                y: [0; 32]
            }),
            Err(InvalidPublicKey)
        );
        // p itself as X: not a field element.
        let p = le("ffffffff 00000001 00000000 00000000 00000000 ffffffff ffffffff ffffffff");
        assert_eq!(a.dh_key(&PublicKey { x: p, ..good }), Err(InvalidPublicKey));
    }

    /// Private keys outside [1, n-1] are refused, so the caller draws again.
    /// The private half alone: same private octets (so the same derived
    /// secrets), no public key, the same validity rule.
    #[test]
    fn without_public_key() {
        let full = KeyPair::from_private_key(&le(DEBUG_PRIVATE)).unwrap();
        let half = KeyPair::without_public_key(&le(DEBUG_PRIVATE)).unwrap();
        assert_eq!(half.private_octets(), full.private_octets());
        assert_eq!(half.public(), KeyPair::UNSET.public());
        assert!(KeyPair::without_public_key(&[0; 32]).is_none());
        assert!(KeyPair::without_public_key(&[0xFF; 32]).is_none());
    }

    #[test]
    fn private_key_range() {
        assert_eq!(KeyPair::from_private_key(&[0; 32]), None);
        assert_eq!(KeyPair::from_private_key(&[0xff; 32]), None);
        let n = le("ffffffff 00000000 ffffffff ffffffff bce6faad a7179e84 f3b9cac2 fc632551");
        assert_eq!(KeyPair::from_private_key(&n), None);
        let mut n_minus_1 = n;
        n_minus_1[0] -= 1;
        assert!(KeyPair::from_private_key(&n_minus_1).is_some());
        let mut one = [0u8; 32];
        one[0] = 1;
        // 1 * G is G itself.
        let g = KeyPair::from_private_key(&one).unwrap();
        assert_eq!(
            g.public().x,
            le::<32>("6b17d1f2 e12c4247 f8bce6e5 63a440f2 77037d81 2deb33a0 f4a13945 d898c296")
        );
    }
}
