//! The bond table: what pairing with bonding leaves behind (Vol 3 Part H
//! 2.4.1, 3.6), kept in RAM with a fixed capacity and handed to the port as
//! one versioned blob to store, so bonds survive a restart of the firmware.
//!
//! The core stays sans-IO: it never reads or writes the store itself. The
//! port imports the blob it stored ([`Bonds::import`]) when BLE starts and
//! exports it ([`Bonds::export`]) whenever [`Bonds::dirty`] says the table
//! changed (a bond added or removed).
//!
//! A bond is keyed by the peer's identity address (its public or static
//! random address, or the identity address it distributed, 3.6.5); a peer
//! using resolvable private addresses is found through its IRK (ah, 2.2.2).
//! The table holds [`config::BONDS`] bonds (the QuecPython API promises
//! 10); when it is full the oldest bond (the one stored first) makes room
//! for the new one (docs/DECISIONS.md).
//!
//! The blob (little-endian):
//! - header, 8 octets: magic `MPBK`, format version (1), record length,
//!   record count, 0;
//! - then each record ([`RECORD_LEN`] octets): flags, peer address type,
//!   peer address (6), key size, LTK (16), EDIV (2), Rand (8), peer IRK
//!   (16), sequence number (4), and a CRC-32 of those octets (4).
//!
//! Each record carries its own CRC, so a record damaged in the store is
//! dropped alone and a blob cut short keeps every whole record before the
//! cut. A header with another magic or version imports nothing.

use crate::config;
use crate::smp::crypto::{ah, LeAddress, U128};

/// The format version [`Bonds::export`] writes and [`Bonds::import`] reads.
pub const VERSION: u8 = 1;
const MAGIC: [u8; 4] = *b"MPBK";
const HEADER_LEN: usize = 8;
/// The octets of one record, its CRC included.
pub const RECORD_LEN: usize = 59;
const BODY_LEN: usize = RECORD_LEN - 4;
/// The largest blob: every bond of a full table.
pub const BLOB_MAX: usize = HEADER_LEN + config::BONDS * RECORD_LEN;

const FLAG_AUTHENTICATED: u8 = 0x01;
const FLAG_SECURE_CONNECTIONS: u8 = 0x02;
const FLAG_IRK: u8 = 0x04;

/// One bonded peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bond {
    /// The peer's identity address (type 0 public, 1 static random).
    pub peer: LeAddress,
    /// LSB first, cut to `key_size`. For Secure Connections one key serves
    /// both roles (2.4.4.1); for a legacy bond it is the key the peer
    /// distributed, which we use as central with `ediv` and `rand`.
    pub ltk: U128,
    pub ediv: u16,
    pub rand: [u8; 8],
    pub key_size: u8,
    /// Made with MITM protection.
    pub authenticated: bool,
    pub secure_connections: bool,
    /// The peer's IRK, when it distributed one (3.6.4).
    pub peer_irk: Option<U128>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    used: bool,
    /// Order of storing: the smallest is the oldest bond.
    seq: u32,
    bond: Bond,
}

const EMPTY: Slot = Slot {
    used: false,
    seq: 0,
    bond: Bond {
        peer: LeAddress {
            kind: 0,
            addr: [0; 6],
        },
        ltk: [0; 16],
        ediv: 0,
        rand: [0; 8],
        key_size: 0,
        authenticated: false,
        secure_connections: false,
        peer_irk: None,
    },
};

/// Why a blob imported nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportError {
    /// Not a bond blob (magic), or shorter than its header.
    NotBonds,
    /// A version this firmware does not read.
    Version(u8),
}

/// The bond table.
pub struct Bonds {
    slots: [Slot; config::BONDS],
    next_seq: u32,
    /// Changed since the last export.
    dirty: bool,
    /// The port imported its store (or found none) since the last reset.
    loaded: bool,
}

impl Default for Bonds {
    fn default() -> Self {
        Self::new()
    }
}

/// CRC-32 (IEEE 802.3, reflected, as zlib's `crc32`), bit by bit: a
/// table would cost 1 KB of flash for a few hundred octets per save.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// A resolvable private address (Vol 6 Part B 1.3.2.2): random, the two
/// most significant bits 0b01.
fn is_resolvable(a: &LeAddress) -> bool {
    a.kind & 1 == 1 && a.addr[5] >> 6 == 0b01
}

impl Bonds {
    pub const fn new() -> Self {
        Bonds {
            slots: [EMPTY; config::BONDS],
            next_seq: 0,
            dirty: false,
            loaded: false,
        }
    }

    /// Forgets every bond (soft reset: the port imports them again).
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.used).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bonds, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Bond> {
        let mut order: heapless::Vec<(u32, usize), { config::BONDS }> = heapless::Vec::new();
        for (i, s) in self.slots.iter().enumerate() {
            if s.used {
                let _ = order.push((s.seq, i));
            }
        }
        order.sort_unstable();
        order
            .into_iter()
            .filter_map(move |(_, i)| self.slots.get(i).map(|s| &s.bond))
    }

    fn position(&self, peer: &LeAddress) -> Option<usize> {
        let kind = peer.kind & 1;
        if let Some(i) = self
            .slots
            .iter()
            .position(|s| s.used && s.bond.peer.kind == kind && s.bond.peer.addr == peer.addr)
        {
            return Some(i);
        }
        if !is_resolvable(peer) {
            return None;
        }
        // prand in the upper three octets, hash in the lower (LSB first).
        let prand = [peer.addr[3], peer.addr[4], peer.addr[5]];
        let hash = [peer.addr[0], peer.addr[1], peer.addr[2]];
        self.slots
            .iter()
            .position(|s| s.used && s.bond.peer_irk.is_some_and(|irk| ah(&irk, &prand) == hash))
    }

    /// The bond of the peer at `peer` (its identity address, or a private
    /// address its IRK resolves).
    pub fn find(&self, peer: &LeAddress) -> Option<&Bond> {
        self.position(peer)
            .and_then(|i| self.slots.get(i))
            .map(|s| &s.bond)
    }

    /// Stores `bond`, replacing the peer's earlier one; when the table is
    /// full, the oldest bond makes room.
    pub fn insert(&mut self, mut bond: Bond) {
        bond.peer.kind &= 1;
        let i = self
            .position(&bond.peer)
            .or_else(|| self.slots.iter().position(|s| !s.used))
            .or_else(|| {
                self.slots
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, s)| s.seq)
                    .map(|(i, _)| i)
            });
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        if let Some(s) = i.and_then(|i| self.slots.get_mut(i)) {
            *s = Slot {
                used: true,
                seq,
                bond,
            };
            self.dirty = true;
        }
    }

    /// Forgets the bond of `peer`; false if there was none.
    pub fn remove(&mut self, peer: &LeAddress) -> bool {
        match self.position(peer).and_then(|i| self.slots.get_mut(i)) {
            Some(s) => {
                *s = EMPTY;
                self.dirty = true;
                true
            }
            None => false,
        }
    }

    /// Forgets every bond.
    pub fn clear(&mut self) {
        if !self.is_empty() {
            self.dirty = true;
        }
        for s in self.slots.iter_mut() {
            *s = EMPTY;
        }
    }

    /// The table changed since the last [`Bonds::export`].
    pub fn dirty(&self) -> bool {
        self.dirty
    }

    /// The port has imported its store since the last reset.
    pub fn loaded(&self) -> bool {
        self.loaded
    }

    /// The port found no store (a first start): nothing to import.
    pub fn mark_loaded(&mut self) {
        self.loaded = true;
    }

    /// Writes the table as a blob into `out` and clears [`Bonds::dirty`];
    /// returns its length, or 0 if `out` is shorter than the blob
    /// ([`BLOB_MAX`] always suffices).
    pub fn export(&mut self, out: &mut [u8]) -> usize {
        let count = self.len();
        let len = HEADER_LEN + count * RECORD_LEN;
        let Some(blob) = out.get_mut(..len) else {
            return 0;
        };
        blob[..4].copy_from_slice(&MAGIC);
        blob[4] = VERSION;
        blob[5] = RECORD_LEN as u8;
        blob[6] = count as u8;
        blob[7] = 0;
        let mut at = HEADER_LEN;
        for s in self.slots.iter().filter(|s| s.used) {
            if let Some(r) = blob.get_mut(at..at + RECORD_LEN) {
                write_record(s, r);
            }
            at += RECORD_LEN;
        }
        self.dirty = false;
        len
    }

    /// Replaces the table with the bonds in `blob` (an export of this or
    /// an earlier run). Records whose CRC does not match are dropped, and
    /// so is a record cut short at the end; beyond the capacity the newest
    /// are kept. Returns how many bonds were imported. Marks the table
    /// loaded either way.
    pub fn import(&mut self, blob: &[u8]) -> Result<usize, ImportError> {
        self.loaded = true;
        let header = blob.get(..HEADER_LEN).ok_or(ImportError::NotBonds)?;
        if header[..4] != MAGIC {
            return Err(ImportError::NotBonds);
        }
        if header[4] != VERSION {
            return Err(ImportError::Version(header[4]));
        }
        let record_len = usize::from(header[5]);
        if record_len != RECORD_LEN {
            return Err(ImportError::Version(header[4]));
        }
        for s in self.slots.iter_mut() {
            *s = EMPTY;
        }
        let body = blob.get(HEADER_LEN..).unwrap_or(&[]);
        let mut max_seq: Option<u32> = None;
        for r in body.chunks_exact(RECORD_LEN).take(usize::from(header[6])) {
            let Some(slot) = read_record(r) else {
                continue;
            };
            max_seq = Some(max_seq.map_or(slot.seq, |m| m.max(slot.seq)));
            // A duplicate peer keeps the newer record; a full table the
            // newer bonds.
            let i = self
                .position(&slot.bond.peer)
                .or_else(|| self.slots.iter().position(|s| !s.used))
                .or_else(|| {
                    self.slots
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, s)| s.seq)
                        .map(|(i, _)| i)
                });
            if let Some(s) = i.and_then(|i| self.slots.get_mut(i)) {
                if !s.used || s.seq <= slot.seq {
                    *s = slot;
                }
            }
        }
        self.next_seq = max_seq.map_or(0, |m| m.wrapping_add(1));
        self.dirty = false;
        Ok(self.len())
    }
}

fn write_record(s: &Slot, r: &mut [u8]) {
    let b = &s.bond;
    let mut flags = 0;
    if b.authenticated {
        flags |= FLAG_AUTHENTICATED;
    }
    if b.secure_connections {
        flags |= FLAG_SECURE_CONNECTIONS;
    }
    if b.peer_irk.is_some() {
        flags |= FLAG_IRK;
    }
    let mut body = [0u8; BODY_LEN];
    body[0] = flags;
    body[1] = b.peer.kind;
    body[2..8].copy_from_slice(&b.peer.addr);
    body[8] = b.key_size;
    body[9..25].copy_from_slice(&b.ltk);
    body[25..27].copy_from_slice(&b.ediv.to_le_bytes());
    body[27..35].copy_from_slice(&b.rand);
    body[35..51].copy_from_slice(&b.peer_irk.unwrap_or([0; 16]));
    body[51..55].copy_from_slice(&s.seq.to_le_bytes());
    if let Some(d) = r.get_mut(..BODY_LEN) {
        d.copy_from_slice(&body);
    }
    if let Some(d) = r.get_mut(BODY_LEN..RECORD_LEN) {
        d.copy_from_slice(&crc32(&body).to_le_bytes());
    }
}

fn read_record(r: &[u8]) -> Option<Slot> {
    let body: &[u8; BODY_LEN] = r.get(..BODY_LEN)?.try_into().ok()?;
    let crc: [u8; 4] = r.get(BODY_LEN..RECORD_LEN)?.try_into().ok()?;
    if crc32(body) != u32::from_le_bytes(crc) {
        return None;
    }
    let flags = body[0];
    let kind = body[1];
    let key_size = body[8];
    if kind > 1 || !(7..=16).contains(&key_size) {
        return None;
    }
    let mut addr = [0u8; 6];
    addr.copy_from_slice(&body[2..8]);
    let mut ltk = [0u8; 16];
    ltk.copy_from_slice(&body[9..25]);
    let mut rand = [0u8; 8];
    rand.copy_from_slice(&body[27..35]);
    let mut irk = [0u8; 16];
    irk.copy_from_slice(&body[35..51]);
    Some(Slot {
        used: true,
        seq: u32::from_le_bytes([body[51], body[52], body[53], body[54]]),
        bond: Bond {
            peer: LeAddress { kind, addr },
            ltk,
            ediv: u16::from_le_bytes([body[25], body[26]]),
            rand,
            key_size,
            authenticated: flags & FLAG_AUTHENTICATED != 0,
            secure_connections: flags & FLAG_SECURE_CONNECTIONS != 0,
            peer_irk: (flags & FLAG_IRK != 0).then_some(irk),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bond(n: u8) -> Bond {
        Bond {
            peer: LeAddress {
                kind: n & 1,
                addr: [n, 0x11, 0x22, 0x33, 0x44, 0xC5],
            },
            ltk: [n; 16],
            ediv: 0,
            rand: [0; 8],
            key_size: 16,
            authenticated: n.is_multiple_of(3),
            secure_connections: true,
            peer_irk: None,
        }
    }

    fn exported(b: &mut Bonds) -> heapless::Vec<u8, BLOB_MAX> {
        let mut out = [0u8; BLOB_MAX];
        let n = b.export(&mut out);
        heapless::Vec::from_slice(&out[..n]).unwrap()
    }

    #[test]
    fn crc32_is_zlibs() {
        // zlib.crc32(b"123456789") == 0xCBF43926 (the CRC-32 check value).
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn round_trip_keeps_every_field_and_the_order() {
        let mut b = Bonds::new();
        for n in 1..=4 {
            b.insert(bond(n));
        }
        let mut irk_bond = bond(9);
        irk_bond.peer_irk = Some([0xA5; 16]);
        irk_bond.ediv = 0x1234;
        irk_bond.rand = [1, 2, 3, 4, 5, 6, 7, 8];
        irk_bond.key_size = 7;
        b.insert(irk_bond);
        assert!(b.dirty());
        let blob = exported(&mut b);
        assert!(!b.dirty());
        assert_eq!(blob.len(), HEADER_LEN + 5 * RECORD_LEN);
        assert_eq!(&blob[..8], b"MPBK\x01\x3b\x05\x00");

        let mut c = Bonds::new();
        assert!(!c.loaded());
        assert_eq!(c.import(&blob), Ok(5));
        assert!(c.loaded() && !c.dirty());
        let a: heapless::Vec<Bond, 10> = b.iter().copied().collect();
        let z: heapless::Vec<Bond, 10> = c.iter().copied().collect();
        assert_eq!(a, z);
        assert_eq!(z[4], irk_bond);
        // Exporting again gives the same octets (sequence numbers kept).
        assert_eq!(exported(&mut c), blob);
    }

    #[test]
    fn a_full_table_replaces_its_oldest_bond() {
        let mut b = Bonds::new();
        for n in 1..=11 {
            b.insert(bond(n));
        }
        assert_eq!(b.len(), config::BONDS);
        assert!(b.find(&bond(1).peer).is_none(), "the oldest went");
        for n in 2..=11 {
            assert_eq!(b.find(&bond(n).peer), Some(&bond(n)));
        }
        // Pairing again with a bonded peer (2, now the oldest) replaces its
        // bond in place and makes it the newest: the next new peer pushes
        // out 3 instead.
        let mut again = bond(2);
        again.ltk = [0xEE; 16];
        b.insert(again);
        assert_eq!(b.len(), config::BONDS);
        b.insert(bond(12));
        assert!(b.find(&bond(3).peer).is_none());
        assert_eq!(b.find(&bond(2).peer).unwrap().ltk, [0xEE; 16]);
        // The order survives a round trip: after import, 4 is the oldest.
        let blob = exported(&mut b);
        let mut c = Bonds::new();
        assert_eq!(c.import(&blob), Ok(config::BONDS));
        c.insert(bond(13));
        assert!(c.find(&bond(4).peer).is_none());
        assert!(c.find(&bond(2).peer).is_some());
    }

    #[test]
    fn a_corrupt_record_is_dropped_alone() {
        let mut b = Bonds::new();
        for n in 1..=3 {
            b.insert(bond(n));
        }
        let mut blob = exported(&mut b);
        // One bit of the second record's LTK flips.
        blob[HEADER_LEN + RECORD_LEN + 12] ^= 0x01;
        let mut c = Bonds::new();
        assert_eq!(c.import(&blob), Ok(2));
        assert!(c.find(&bond(1).peer).is_some());
        assert!(c.find(&bond(2).peer).is_none());
        assert!(c.find(&bond(3).peer).is_some());
    }

    #[test]
    fn a_blob_cut_short_keeps_the_whole_records() {
        let mut b = Bonds::new();
        for n in 1..=3 {
            b.insert(bond(n));
        }
        let blob = exported(&mut b);
        let mut c = Bonds::new();
        assert_eq!(c.import(&blob[..blob.len() - 1]), Ok(2));
        assert!(c.find(&bond(3).peer).is_none());
        assert_eq!(c.import(&blob[..HEADER_LEN + 5]), Ok(0));
        assert_eq!(c.import(&blob[..3]), Err(ImportError::NotBonds));
    }

    #[test]
    fn another_version_or_magic_imports_nothing() {
        let mut b = Bonds::new();
        b.insert(bond(1));
        let mut blob = exported(&mut b);
        let mut c = Bonds::new();
        c.insert(bond(5));
        blob[4] = 2;
        assert_eq!(c.import(&blob), Err(ImportError::Version(2)));
        // The table is left as it was.
        assert!(c.find(&bond(5).peer).is_some());
        blob[4] = VERSION;
        blob[0] = b'X';
        assert_eq!(c.import(&blob), Err(ImportError::NotBonds));
        assert!(c.loaded());
    }

    #[test]
    fn more_records_than_capacity_keep_the_newest() {
        // A blob from a firmware with room for 12: hand-made, 12 records.
        let mut big = [0u8; HEADER_LEN + 12 * RECORD_LEN];
        big[..8].copy_from_slice(b"MPBK\x01\x3b\x0c\x00");
        for n in 0..12u8 {
            let s = Slot {
                used: true,
                seq: u32::from(n),
                bond: bond(n + 1),
            };
            let at = HEADER_LEN + usize::from(n) * RECORD_LEN;
            write_record(&s, &mut big[at..at + RECORD_LEN]);
        }
        let mut c = Bonds::new();
        assert_eq!(c.import(&big), Ok(config::BONDS));
        assert!(c.find(&bond(1).peer).is_none());
        assert!(c.find(&bond(2).peer).is_none());
        assert!(c.find(&bond(12).peer).is_some());
    }

    #[test]
    fn remove_and_clear_mark_the_table_dirty() {
        let mut b = Bonds::new();
        b.insert(bond(1));
        b.insert(bond(2));
        let _ = exported(&mut b);
        assert!(!b.remove(&bond(7).peer));
        assert!(!b.dirty());
        assert!(b.remove(&bond(1).peer));
        assert!(b.dirty());
        let _ = exported(&mut b);
        b.clear();
        assert!(b.dirty() && b.is_empty());
        let blob = exported(&mut b);
        assert_eq!(blob.len(), HEADER_LEN);
    }

    #[test]
    fn a_private_address_resolves_through_the_irk() {
        let mut b = Bonds::new();
        let irk = [0x0F; 16];
        let mut with_irk = bond(2);
        with_irk.peer_irk = Some(irk);
        b.insert(with_irk);
        let prand = [0x12, 0x34, 0x56 & 0x3F | 0x40];
        let hash = ah(&irk, &prand);
        let rpa = LeAddress {
            kind: 1,
            addr: [hash[0], hash[1], hash[2], prand[0], prand[1], prand[2]],
        };
        assert_eq!(b.find(&rpa), Some(&with_irk));
        let mut other = rpa;
        other.addr[0] ^= 1;
        assert!(b.find(&other).is_none());
    }
}
