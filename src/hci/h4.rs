//! UART (H4) transport framing: one packet indicator byte before each HCI
//! packet (Core spec Vol 4 Part A 2).
//!
//! [`H4Parser`] turns an arbitrarily fragmented byte stream from the
//! controller into whole HCI Event and ACL packets; [`H4Tx`] is the ring of
//! framed bytes waiting to be written to the controller.

use crate::bytes::le_u16_at;
use crate::config;
use crate::ring::{ByteRing, RingFull};

/// HCI Command packet indicator (Vol 4 Part A 2, table 2.1).
pub const H4_COMMAND: u8 = 0x01;
/// HCI ACL Data packet indicator.
pub const H4_ACL: u8 = 0x02;
/// HCI Synchronous (SCO) Data packet indicator.
pub const H4_SCO: u8 = 0x03;
/// HCI Event packet indicator.
pub const H4_EVENT: u8 = 0x04;
/// HCI ISO Data packet indicator.
pub const H4_ISO: u8 = 0x05;

/// One complete packet handed out by [`H4Parser::feed`]. The slice borrows
/// the parser's buffer and is only valid inside the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H4Packet<'a> {
    /// Event code, Parameter_Total_Length, parameters (Vol 4 Part E 5.4.4).
    Event(&'a [u8]),
    /// 4-byte ACL header followed by its data (Vol 4 Part E 5.4.2).
    Acl(&'a [u8]),
}

/// Counters of what the parser threw away (it never fails: bad input is
/// counted and skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct H4Stats {
    /// ACL packets longer than `config::ACL_RX_PAYLOAD_MAX`, skipped.
    pub oversize_dropped: u32,
    /// Bytes that were not a known packet indicator where one was expected.
    pub bad_indicator: u32,
    /// SCO and ISO packets (the host is LE data only), skipped.
    pub sco_iso_dropped: u32,
}

const EVENT_HEADER: usize = 2;
const ACL_HEADER: usize = 4;
const SCO_HEADER: usize = 3;
const ISO_HEADER: usize = 4;
/// An event is at most 2 + 255 bytes; an ACL packet we keep is at most
/// 4 + ACL_RX_PAYLOAD_MAX.
const EVENT_MAX: usize = EVENT_HEADER + 255;
const ACL_MAX: usize = ACL_HEADER + config::ACL_RX_PAYLOAD_MAX;
const RX_BUF: usize = if EVENT_MAX > ACL_MAX {
    EVENT_MAX
} else {
    ACL_MAX
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Event,
    Acl,
    Sco,
    Iso,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for a packet indicator.
    Indicator,
    /// Collecting `Kind`'s header into `buf[..filled]`.
    Header(Kind),
    /// Collecting a body into `buf` until `filled == total`.
    Body(Kind),
    /// Discarding this many more bytes (oversize ACL, SCO, ISO).
    Skip(usize),
}

/// Streaming H4 deframer. Feed it any fragmentation of the controller's
/// byte stream; it calls back once per complete Event or ACL packet.
pub struct H4Parser {
    state: State,
    buf: [u8; RX_BUF],
    filled: usize,
    total: usize,
    /// Packets emitted so far (wrapping); lets `feed_one` stop after one.
    packets: u32,
    stats: H4Stats,
}

impl Default for H4Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl H4Parser {
    pub const fn new() -> Self {
        Self {
            state: State::Indicator,
            buf: [0; RX_BUF],
            filled: 0,
            total: 0,
            packets: 0,
            stats: H4Stats {
                oversize_dropped: 0,
                bad_indicator: 0,
                sco_iso_dropped: 0,
            },
        }
    }

    /// Forget any partial packet (e.g. after the transport reconnects).
    /// Counters are kept.
    pub fn reset(&mut self) {
        self.state = State::Indicator;
        self.filled = 0;
        self.total = 0;
    }

    pub fn stats(&self) -> H4Stats {
        self.stats
    }

    /// Consume `bytes`, calling `on_packet` for each packet completed.
    pub fn feed(&mut self, bytes: &[u8], on_packet: &mut dyn FnMut(H4Packet<'_>)) {
        self.feed_inner(bytes, on_packet, false);
    }

    /// Consumes `bytes` up to the end of the next complete packet (calling
    /// `on_packet` once at most) and returns how many bytes it took, so a
    /// caller can stop between packets when it has no room for what the
    /// next one may produce.
    pub fn feed_one(&mut self, bytes: &[u8], on_packet: &mut dyn FnMut(H4Packet<'_>)) -> usize {
        self.feed_inner(bytes, on_packet, true)
    }

    fn feed_inner(
        &mut self,
        bytes: &[u8],
        on_packet: &mut dyn FnMut(H4Packet<'_>),
        one: bool,
    ) -> usize {
        let mut rest = bytes;
        let packets = self.packets;
        while let Some((&first, tail)) = rest.split_first() {
            if one && self.packets != packets {
                break;
            }
            match self.state {
                State::Indicator => {
                    if let Some((n, kind)) = whole_packet(rest) {
                        // The usual case: the whole packet is in the input;
                        // it is handed on from there, not copied.
                        let pkt = rest.get(1..n).unwrap_or(&[]);
                        rest = rest.get(n..).unwrap_or(&[]);
                        self.packets = self.packets.wrapping_add(1);
                        match kind {
                            Kind::Event => on_packet(H4Packet::Event(pkt)),
                            _ => on_packet(H4Packet::Acl(pkt)),
                        }
                        continue;
                    }
                    rest = tail;
                    let kind = match first {
                        H4_EVENT => Kind::Event,
                        H4_ACL => Kind::Acl,
                        H4_SCO => Kind::Sco,
                        H4_ISO => Kind::Iso,
                        _ => {
                            // Not a packet start: resynchronise byte by byte
                            // (Vol 4 Part A 2 gives H4 no other recovery).
                            self.stats.bad_indicator = self.stats.bad_indicator.wrapping_add(1);
                            continue;
                        }
                    };
                    self.filled = 0;
                    self.state = State::Header(kind);
                }
                State::Header(kind) => {
                    let need = header_len(kind);
                    let take = need.saturating_sub(self.filled).min(rest.len());
                    let (chunk, tail) = rest.split_at(take);
                    if let Some(dst) = self.buf.get_mut(self.filled..self.filled + take) {
                        dst.copy_from_slice(chunk);
                    }
                    self.filled += take;
                    rest = tail;
                    if self.filled >= need {
                        self.header_done(kind, on_packet);
                    }
                }
                State::Body(kind) => {
                    let take = self.total.saturating_sub(self.filled).min(rest.len());
                    let (chunk, tail) = rest.split_at(take);
                    if let Some(dst) = self.buf.get_mut(self.filled..self.filled + take) {
                        dst.copy_from_slice(chunk);
                    }
                    self.filled += take;
                    rest = tail;
                    if self.filled >= self.total {
                        self.emit(kind, on_packet);
                    }
                }
                State::Skip(n) => {
                    let take = n.min(rest.len());
                    rest = rest.get(take..).unwrap_or(&[]);
                    let left = n - take;
                    self.state = if left == 0 {
                        State::Indicator
                    } else {
                        State::Skip(left)
                    };
                }
            }
        }
        bytes.len() - rest.len()
    }

    /// The header of `kind` is in `buf[..header_len(kind)]`: decide whether
    /// to keep the body or skip it.
    fn header_done(&mut self, kind: Kind, on_packet: &mut dyn FnMut(H4Packet<'_>)) {
        let b = |i: usize| usize::from(self.buf.get(i).copied().unwrap_or(0));
        let le16 = |i: usize| usize::from(le_u16_at(&self.buf, i).unwrap_or(0));
        match kind {
            Kind::Event => {
                // Vol 4 Part E 5.4.4: Parameter_Total_Length is one octet.
                self.total = EVENT_HEADER + b(1);
                self.state = State::Body(kind);
            }
            Kind::Acl => {
                // Vol 4 Part E 5.4.2: Data_Total_Length is 16 bits.
                let len = le16(2);
                if len > config::ACL_RX_PAYLOAD_MAX {
                    // Bumble forwards whole L2CAP PDUs in one ACL packet;
                    // one we cannot hold is skipped without buffering it.
                    self.stats.oversize_dropped = self.stats.oversize_dropped.wrapping_add(1);
                    self.state = State::Skip(len);
                    return;
                }
                self.total = ACL_HEADER + len;
                self.state = State::Body(kind);
            }
            Kind::Sco => {
                // Vol 4 Part E 5.4.3: Data_Total_Length is one octet.
                self.stats.sco_iso_dropped = self.stats.sco_iso_dropped.wrapping_add(1);
                self.state = State::Skip(b(2));
            }
            Kind::Iso => {
                // Vol 4 Part E 5.4.5: ISO_Data_Load_Length is 14 bits.
                self.stats.sco_iso_dropped = self.stats.sco_iso_dropped.wrapping_add(1);
                self.state = State::Skip(le16(2) & 0x3FFF);
            }
        }
        if self.state == State::Skip(0) {
            self.state = State::Indicator;
        } else if let State::Body(k) = self.state {
            if self.filled >= self.total {
                self.emit(k, on_packet);
            }
        }
    }

    fn emit(&mut self, kind: Kind, on_packet: &mut dyn FnMut(H4Packet<'_>)) {
        self.state = State::Indicator;
        self.packets = self.packets.wrapping_add(1);
        let Some(pkt) = self.buf.get(..self.total) else {
            return;
        };
        match kind {
            Kind::Event => on_packet(H4Packet::Event(pkt)),
            Kind::Acl => on_packet(H4Packet::Acl(pkt)),
            Kind::Sco | Kind::Iso => {}
        }
        self.filled = 0;
        self.total = 0;
    }
}

/// Length (indicator included) and kind of the Event or ACL packet at the
/// start of `bytes`, when all of it is there and the parser would keep it
/// (an ACL packet too long for the host's buffers takes the slow path,
/// which skips it).
fn whole_packet(bytes: &[u8]) -> Option<(usize, Kind)> {
    let (n, kind) = match *bytes.first()? {
        // Vol 4 Part E 5.4.4: Parameter_Total_Length is one octet.
        H4_EVENT => (1 + EVENT_HEADER + usize::from(*bytes.get(2)?), Kind::Event),
        // Vol 4 Part E 5.4.2: Data_Total_Length is 16 bits.
        H4_ACL => {
            let len = usize::from(le_u16_at(bytes, 3)?);
            if len > config::ACL_RX_PAYLOAD_MAX {
                return None;
            }
            (1 + ACL_HEADER + len, Kind::Acl)
        }
        _ => return None,
    };
    (n <= bytes.len()).then_some((n, kind))
}

fn header_len(kind: Kind) -> usize {
    match kind {
        Kind::Event => EVENT_HEADER,
        Kind::Acl => ACL_HEADER,
        Kind::Sco => SCO_HEADER,
        Kind::Iso => ISO_HEADER,
    }
}

/// The ring had no room for the whole packet; nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxFull;

impl From<RingFull> for TxFull {
    fn from(_: RingFull) -> Self {
        TxFull
    }
}

/// Ring of H4-framed bytes for the controller, `config::H4_TX_BUFFER` long.
/// Packets are written whole or not at all, so the stream never carries a
/// torn packet.
pub struct H4Tx {
    ring: ByteRing<{ config::H4_TX_BUFFER }>,
}

impl Default for H4Tx {
    fn default() -> Self {
        Self::new()
    }
}

impl H4Tx {
    pub const fn new() -> Self {
        Self {
            ring: ByteRing::new(),
        }
    }

    pub fn reset(&mut self) {
        self.ring.clear();
    }

    /// Bytes that can still be pushed.
    pub fn free(&self) -> usize {
        self.ring.free()
    }

    /// Bytes waiting to be popped.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Frame an HCI Command packet (Vol 4 Part E 5.4.1). `params` longer
    /// than 255 bytes cannot be framed and is refused as `TxFull`.
    pub fn push_command(&mut self, opcode: u16, params: &[u8]) -> Result<(), TxFull> {
        let plen = u8::try_from(params.len()).map_err(|_| TxFull)?;
        let [lo, hi] = opcode.to_le_bytes();
        Ok(self
            .ring
            .push_parts(&[&[H4_COMMAND, lo, hi, plen], params])?)
    }

    /// Frame an HCI ACL Data packet (Vol 4 Part E 5.4.2) with
    /// Broadcast_Flag 00 (point-to-point).
    pub fn push_acl(&mut self, handle: u16, pb: u8, data: &[u8]) -> Result<(), TxFull> {
        self.push_acl_parts(handle, pb, data, &[])
    }

    /// As [`push_acl`](Self::push_acl), with the data given in two pieces
    /// (used when the data wraps around another ring).
    pub fn push_acl_parts(
        &mut self,
        handle: u16,
        pb: u8,
        a: &[u8],
        b: &[u8],
    ) -> Result<(), TxFull> {
        let total = a.len().checked_add(b.len()).ok_or(TxFull)?;
        let len = u16::try_from(total).map_err(|_| TxFull)?;
        let hdr = super::acl::AclHeader {
            handle,
            pb,
            bc: 0,
            len,
        }
        .encode();
        // In place: a packet is one commit.
        let [h0, h1, h2, h3] = hdr;
        let mut w = self.ring.writer();
        w.put_array([H4_ACL, h0, h1, h2, h3])?;
        w.put(a)?;
        w.put(b)?;
        let n = w.written();
        self.ring.commit(n);
        Ok(())
    }

    /// Move up to `out.len()` bytes out of the ring; returns how many.
    pub fn pop_into(&mut self, out: &mut [u8]) -> usize {
        self.ring.pop_into(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::hex;
    use std::vec::Vec;

    /// xorshift32: deterministic chunk sizes without the rand crate.
    pub(crate) struct Prng(u32);
    impl Prng {
        pub(crate) fn next(&mut self) -> u32 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            self.0 = x;
            x
        }
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Owned {
        Event(Vec<u8>),
        Acl(Vec<u8>),
    }

    fn collect(p: &mut H4Parser, chunks: &[&[u8]]) -> Vec<Owned> {
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, &mut |pkt| match pkt {
                H4Packet::Event(e) => out.push(Owned::Event(e.to_vec())),
                H4Packet::Acl(a) => out.push(Owned::Acl(a.to_vec())),
            });
        }
        out
    }

    /// A stream mixing a Command Complete for HCI_Reset (Vol 4 Part E
    /// 7.7.14, as Bumble 0.0.236 sends it), an ACL packet carrying an ATT
    /// Exchange MTU Request, a SCO packet, an ISO packet and a
    /// Number Of Completed Packets event.
    fn stream() -> Vec<u8> {
        let mut s = Vec::new();
        s.extend_from_slice(&[0x04, 0x0E, 0x04, 0x01, 0x03, 0x0C, 0x00]);
        s.extend_from_slice(&[
            0x02, 0x40, 0x00, 0x07, 0x00, 0x03, 0x00, 0x04, 0x00, 0x02, 0x00, 0x02,
        ]);
        s.extend_from_slice(&[0x03, 0x01, 0x00, 0x02, 0xAA, 0xBB]);
        s.extend_from_slice(&[0x05, 0x01, 0x00, 0x03, 0xC0, 1, 2, 3]);
        s.extend_from_slice(&[0x04, 0x13, 0x05, 0x01, 0x40, 0x00, 0x01, 0x00]);
        s
    }

    fn expected() -> Vec<Owned> {
        vec![
            Owned::Event(vec![0x0E, 0x04, 0x01, 0x03, 0x0C, 0x00]),
            Owned::Acl(vec![
                0x40, 0x00, 0x07, 0x00, 0x03, 0x00, 0x04, 0x00, 0x02, 0x00, 0x02,
            ]),
            Owned::Event(vec![0x13, 0x05, 0x01, 0x40, 0x00, 0x01, 0x00]),
        ]
    }

    #[test]
    fn hci_h4_all_at_once() {
        let mut p = H4Parser::new();
        let s = stream();
        assert_eq!(collect(&mut p, &[&s]), expected());
        assert_eq!(p.stats().sco_iso_dropped, 2);
        assert_eq!(p.stats().bad_indicator, 0);
    }

    /// A packet that arrives whole is handed on from the input itself
    /// (no copy); one cut across feeds is collected first.
    #[test]
    fn hci_h4_whole_packets_are_not_copied() {
        let s = stream();
        let range = s.as_ptr_range();
        let mut p = H4Parser::new();
        let mut from_input = 0;
        p.feed(&s, &mut |pkt| {
            let (H4Packet::Event(b) | H4Packet::Acl(b)) = pkt;
            assert!(range.contains(&b.as_ptr()));
            from_input += 1;
        });
        assert_eq!(from_input, expected().len());
        let (a, b) = s.split_at(2);
        let mut copied = 0;
        p.feed(a, &mut |_| panic!("not whole yet"));
        p.feed(b, &mut |pkt| {
            if copied == 0 {
                let (H4Packet::Event(x) | H4Packet::Acl(x)) = pkt;
                assert!(!range.contains(&x.as_ptr()), "the first was cut");
            }
            copied += 1;
        });
        assert_eq!(copied, expected().len());
    }

    #[test]
    fn hci_h4_byte_at_a_time() {
        let mut p = H4Parser::new();
        let s = stream();
        let chunks: Vec<&[u8]> = s.chunks(1).collect();
        assert_eq!(collect(&mut p, &chunks), expected());
    }

    #[test]
    fn hci_h4_random_chunkings() {
        let s = stream();
        let mut rng = Prng(0x1234_5678);
        for _ in 0..500 {
            let mut p = H4Parser::new();
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut rest = &s[..];
            while !rest.is_empty() {
                let n = (rng.next() as usize % 9).min(rest.len());
                let (a, b) = rest.split_at(n);
                chunks.push(a);
                rest = b;
            }
            assert_eq!(collect(&mut p, &chunks), expected());
        }
    }

    #[test]
    fn hci_h4_oversize_acl_skipped_then_event_parses() {
        let big = config::ACL_RX_PAYLOAD_MAX + 100;
        let mut s = vec![0x02, 0x40, 0x00, big as u8, (big >> 8) as u8];
        s.extend(std::iter::repeat_n(0x04u8, big)); // bytes that look like indicators
        s.extend_from_slice(&[0x04, 0x0E, 0x04, 0x01, 0x03, 0x0C, 0x00]);
        for chunk in [1usize, 7, 64, 5000] {
            let mut p = H4Parser::new();
            let chunks: Vec<&[u8]> = s.chunks(chunk).collect();
            assert_eq!(
                collect(&mut p, &chunks),
                vec![Owned::Event(vec![0x0E, 0x04, 0x01, 0x03, 0x0C, 0x00])]
            );
            assert_eq!(p.stats().oversize_dropped, 1);
        }
        // The largest ACL we keep is still delivered whole.
        let max = config::ACL_RX_PAYLOAD_MAX;
        let mut s = vec![0x02, 0x41, 0x00, max as u8, (max >> 8) as u8];
        s.extend((0..max).map(|i| i as u8));
        let mut p = H4Parser::new();
        let got = collect(&mut p, &[&s]);
        assert_eq!(got, vec![Owned::Acl(s[1..].to_vec())]);
    }

    #[test]
    fn hci_h4_bad_indicator_resync() {
        let mut s = vec![0x00, 0xFF, 0x06];
        s.extend_from_slice(&[0x04, 0x0E, 0x04, 0x01, 0x03, 0x0C, 0x00]);
        let mut p = H4Parser::new();
        assert_eq!(
            collect(&mut p, &[&s]),
            vec![Owned::Event(vec![0x0E, 0x04, 0x01, 0x03, 0x0C, 0x00])]
        );
        assert_eq!(p.stats().bad_indicator, 3);
    }

    #[test]
    fn hci_h4_empty_event_and_acl() {
        // Zero-length bodies complete right after the header.
        let s = [0x04, 0x1A, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00];
        let mut p = H4Parser::new();
        assert_eq!(
            collect(&mut p, &[&s]),
            vec![
                Owned::Event(vec![0x1A, 0x00]),
                Owned::Acl(vec![0x01, 0x00, 0x00, 0x00])
            ]
        );
    }

    #[test]
    fn hci_h4_never_panics_on_noise() {
        let mut rng = Prng(99);
        let mut p = H4Parser::new();
        let mut n = 0usize;
        for _ in 0..2000 {
            let buf: Vec<u8> = (0..(rng.next() % 300)).map(|_| rng.next() as u8).collect();
            p.feed(&buf, &mut |_| n += 1);
        }
        assert!(n > 0);
    }

    #[test]
    fn hci_h4_tx_command_and_acl_framing() {
        let mut tx = H4Tx::new();
        tx.push_command(0x0C03, &[]).unwrap();
        tx.push_acl(0x0040, 0b00, &[1, 2, 3]).unwrap();
        tx.push_acl(0x0040, 0b01, &[4]).unwrap();
        let mut out = [0u8; 64];
        let n = tx.pop_into(&mut out);
        assert_eq!(
            &out[..n],
            &[
                0x01, 0x03, 0x0C, 0x00, // HCI_Reset
                0x02, 0x40, 0x00, 0x03, 0x00, 1, 2, 3, // PB=00
                0x02, 0x40, 0x10, 0x01, 0x00, 4, // PB=01
            ]
        );
        assert!(tx.is_empty());
    }

    #[test]
    fn hci_h4_tx_full_is_atomic_and_wraps() {
        let mut tx = H4Tx::new();
        // Four packets of `rec` bytes (1005 with the unix buffer) leave 76
        // bytes free.
        let rec = config::H4_TX_BUFFER / 4 - 19;
        let data = vec![0xA5u8; rec - 5];
        let mut pushed = 0;
        while tx.push_acl(1, 0, &data).is_ok() {
            pushed += 1;
        }
        assert_eq!(pushed, config::H4_TX_BUFFER / rec);
        assert_eq!(tx.free(), config::H4_TX_BUFFER - pushed * rec);
        // Drain part, then push across the wrap point, then check bytes.
        let drained = rec * 3 / 2;
        let mut sink = vec![0u8; drained.max(333)];
        assert_eq!(tx.pop_into(&mut sink[..drained]), drained);
        tx.push_command(0x2008, &[7; 32]).unwrap();
        let mut all = Vec::new();
        loop {
            let n = tx.pop_into(&mut sink[..333]);
            if n == 0 {
                break;
            }
            all.extend_from_slice(&sink[..n]);
        }
        assert_eq!(all.len(), pushed * rec - drained + 36);
        assert_eq!(
            &all[all.len() - 36..all.len() - 32],
            &[0x01, 0x08, 0x20, 32]
        );
        assert!(all[all.len() - 32..].iter().all(|&b| b == 7));
        assert_eq!(tx.push_command(0x0C03, &[0; 256]), Err(TxFull));
    }

    #[test]
    fn feed_one_stops_after_each_packet() {
        // Two events back to back (Command Complete for Reset, then a
        // Number Of Completed Packets), then half of a third.
        let stream = hex("040e0401030c00041305014000010004050400");
        let mut p = H4Parser::new();
        let mut got = vec![];
        let n1 = p.feed_one(&stream, &mut |pkt| got.push(format!("{pkt:?}")));
        assert_eq!(n1, 7);
        assert_eq!(got.len(), 1);
        let n2 = p.feed_one(&stream[n1..], &mut |pkt| got.push(format!("{pkt:?}")));
        assert_eq!(n2, 8);
        assert_eq!(got.len(), 2);
        // The rest is an incomplete packet: all taken, nothing emitted.
        let n3 = p.feed_one(&stream[n1 + n2..], &mut |pkt| got.push(format!("{pkt:?}")));
        assert_eq!(n3, stream.len() - n1 - n2);
        assert_eq!(got.len(), 2);
    }
}
