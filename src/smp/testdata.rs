//! Sample data of Core spec Vol 3 Part H Appendix D shared by the SMP
//! tests (the toolbox functions and both pairing roles), and the hex
//! helpers that read it: the spec prints values MSB first, as the
//! constants here are written; [`le`] turns them into the order of PDUs
//! and HCI (least significant octet first).

use super::crypto::LeAddress;

/// Hex (spaces allowed) as written -> bytes in the same order.
pub fn hex<const N: usize>(s: &str) -> [u8; N] {
    let digits: heapless::Vec<u8, 256> = s.bytes().filter(|b| *b != b' ').collect();
    assert_eq!(digits.len(), 2 * N, "{s}");
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(digits.chunks(2)) {
        *o = u8::from_str_radix(core::str::from_utf8(pair).unwrap(), 16).unwrap();
    }
    out
}

/// Hex MSB first -> LSB first.
pub fn le<const N: usize>(s: &str) -> [u8; N] {
    let mut a: [u8; N] = hex(s);
    a.reverse();
    a
}

/// Na of D.2 and Nb of D.3.
pub const NA: &str = "d5cb8454 d177733e ffffb2ec 712baeab";
pub const NB: &str = "a6e8e7cc 25a75f6e 216583f7 ff3dc4cf";
/// The private keys the pairing tests use: A is the debug key pair of
/// 2.3.5.6.1; B is 32 octets of the same sample data (any value below the
/// group order is a private key).
pub const PRIVATE_A: &str =
    "3f49f6d4 a3c55f38 74c9b3e3 d2103f50 4aff607b eb40b799 5899b8a6 cd3c1abd";
pub const PRIVATE_B: &str =
    "55188b3d 32f6bb9a 900afcfb eed4e72a 59cb9ac2 f19d7cfb 6b4fdd49 f47fc5fd";
/// Device A (0x56123737bfce) and B (0xa713702dcfc1), both public.
pub const ADDRESS_A: LeAddress = LeAddress {
    kind: 0x00,
    addr: [0xce, 0xbf, 0x37, 0x37, 0x12, 0x56],
};
pub const ADDRESS_B: LeAddress = LeAddress {
    kind: 0x00,
    addr: [0xc1, 0xcf, 0x2d, 0x70, 0x13, 0xa7],
};
