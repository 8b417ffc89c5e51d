//! HCI ACL Data packets (Core spec Vol 4 Part E 5.4.2), host-to-controller
//! data flow control (Vol 4 Part E 4.1.1) and the queue of outbound L2CAP
//! PDUs that waits for controller buffers.

use super::h4::{H4Tx, TxFull};
use crate::bytes::Reader;
use crate::config;
use crate::l2cap::BASIC_HEADER_LEN;
use crate::ring::ByteRing;

/// Packet_Boundary_Flag 0b00: first non-automatically-flushable packet of a
/// higher layer message. The only "first" value LE allows host to
/// controller (Vol 4 Part E 5.4.2).
pub const PB_FIRST_NON_FLUSHABLE: u8 = 0b00;
/// Packet_Boundary_Flag 0b01: continuing fragment.
pub const PB_CONTINUING: u8 = 0b01;
/// Packet_Boundary_Flag 0b10: first automatically-flushable packet (what
/// controllers send to the host).
pub const PB_FIRST_FLUSHABLE: u8 = 0b10;

/// Connection_Handle is 12 bits (Vol 4 Part E 5.4.2).
pub const HANDLE_MASK: u16 = 0x0FFF;

/// The 4-byte HCI ACL Data packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AclHeader {
    pub handle: u16,
    pub pb: u8,
    pub bc: u8,
    pub len: u16,
}

impl AclHeader {
    /// Split an ACL packet (as `H4Packet::Acl` gives it) into header and
    /// data. `None` if shorter than a header or if the data length differs
    /// from Data_Total_Length.
    pub fn parse(packet: &[u8]) -> Option<(AclHeader, &[u8])> {
        let (hdr, data) = packet.split_first_chunk::<4>()?;
        let mut r = Reader::new(hdr);
        let hf = r.u16().ok()?;
        let len = r.u16().ok()?;
        if data.len() != usize::from(len) {
            return None;
        }
        Some((
            AclHeader {
                handle: hf & HANDLE_MASK,
                pb: ((hf >> 12) & 0b11) as u8,
                bc: ((hf >> 14) & 0b11) as u8,
                len,
            },
            data,
        ))
    }

    pub fn encode(&self) -> [u8; 4] {
        let hf = (self.handle & HANDLE_MASK)
            | (u16::from(self.pb & 0b11) << 12)
            | (u16::from(self.bc & 0b11) << 14);
        let [a, b] = hf.to_le_bytes();
        let [c, d] = self.len.to_le_bytes();
        [a, b, c, d]
    }
}

/// Packets in flight on one link; a slot is free when `count` is 0 (no
/// sentinel handle, so a new `AclFlow` is all zeros and the core's static
/// stays in `.bss`).
#[derive(Debug, Clone, Copy)]
struct InFlight {
    handle: u16,
    count: u16,
}

/// Host-to-controller ACL flow control (Vol 4 Part E 4.1.1): the host may
/// have at most Total_Num_(LE_)ACL_Data_Packets packets in the controller;
/// Number Of Completed Packets gives credits back.
pub struct AclFlow {
    packet_len: u16,
    total: u16,
    free: u16,
    links: [InFlight; config::MAX_CONNECTIONS],
}

impl Default for AclFlow {
    fn default() -> Self {
        Self::new()
    }
}

impl AclFlow {
    /// Unconfigured: `can_send()` is false until `configure`.
    pub const fn new() -> Self {
        Self {
            packet_len: 0,
            total: 0,
            free: 0,
            links: [InFlight {
                handle: 0,
                count: 0,
            }; config::MAX_CONNECTIONS],
        }
    }

    /// Set the controller's buffer sizes (from LE Read Buffer Size or Read
    /// Buffer Size) and forget all in-flight packets.
    pub fn configure(&mut self, acl_data_packet_length: u16, total_num_acl_data_packets: u16) {
        *self = Self::new();
        self.packet_len = acl_data_packet_length;
        self.total = total_num_acl_data_packets;
        self.free = total_num_acl_data_packets;
    }

    /// A packet may be sent now (a controller buffer is free).
    pub fn can_send(&self) -> bool {
        self.packet_len > 0 && self.free > 0
    }

    /// Largest ACL data length the controller accepts.
    pub fn packet_len(&self) -> usize {
        usize::from(self.packet_len)
    }

    /// Controller buffers free now.
    pub fn free_buffers(&self) -> u16 {
        self.free
    }

    /// Total controller buffers.
    pub fn total_buffers(&self) -> u16 {
        self.total
    }

    /// Packets sent on `handle` and not yet completed.
    pub fn in_flight(&self, handle: u16) -> u16 {
        self.slot(handle).map_or(0, |i| self.links[i].count)
    }

    fn slot(&self, handle: u16) -> Option<usize> {
        let handle = handle & HANDLE_MASK;
        self.links
            .iter()
            .position(|l| l.count > 0 && l.handle == handle)
    }

    /// One ACL packet was handed to the controller on `handle`. (Inline,
    /// as `on_completed`: one call site, once per ACL packet.)
    #[inline]
    pub fn on_sent(&mut self, handle: u16) {
        self.free = self.free.saturating_sub(1);
        let handle = handle & HANDLE_MASK;
        let i = match self.slot(handle) {
            Some(i) => Some(i),
            None => self.links.iter().position(|l| l.count == 0),
        };
        // With more links than MAX_CONNECTIONS the credit cannot be tracked
        // per handle; it is then only returned by a later `configure`.
        if let Some(l) = i.and_then(|i| self.links.get_mut(i)) {
            l.handle = handle;
            l.count = l.count.saturating_add(1);
        }
    }

    /// Number Of Completed Packets reported `count` for `handle`
    /// (Vol 4 Part E 7.7.19). Only packets we know are in flight are
    /// credited back, so a confused controller cannot inflate the credit.
    #[inline]
    pub fn on_completed(&mut self, handle: u16, count: u16) {
        let Some(i) = self.slot(handle) else {
            return;
        };
        let Some(l) = self.links.get_mut(i) else {
            return;
        };
        let n = count.min(l.count);
        l.count -= n;
        self.free = self.free.saturating_add(n).min(self.total);
    }

    /// The link is gone: the controller flushed its queued packets and
    /// sends no Number Of Completed Packets for them (Vol 4 Part E 4.3), so
    /// their credits come back now.
    pub fn on_disconnected(&mut self, handle: u16) {
        let Some(i) = self.slot(handle) else {
            return;
        };
        let Some(l) = self.links.get_mut(i) else {
            return;
        };
        let n = l.count;
        l.count = 0;
        self.free = self.free.saturating_add(n).min(self.total);
    }
}

/// Number of full-size L2CAP PDUs (4-byte basic header + L2CAP_PDU_MAX) the
/// outbound queue can hold at once. Small PDUs pack more tightly: the queue
/// is a byte ring with a 4-byte record header per PDU.
pub const ACL_TX_QUEUE_PDUS: usize = 4;
const RECORD_HDR: usize = 4;
const PDU_MAX: usize = BASIC_HEADER_LEN + config::L2CAP_PDU_MAX;
const RING: usize = ACL_TX_QUEUE_PDUS * (RECORD_HDR + PDU_MAX);

/// Outbound L2CAP PDUs waiting for controller buffers, fragmented into ACL
/// packets of the controller's size as credits allow.
///
/// Each PDU is one record in a byte ring: Connection_Handle (2 octets),
/// PDU length (2 octets), then the PDU.
pub struct AclTxQueue {
    ring: ByteRing<RING>,
    /// Bytes of the head PDU already sent.
    sent: usize,
}

impl Default for AclTxQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl AclTxQueue {
    pub const fn new() -> Self {
        Self {
            ring: ByteRing::new(),
            sent: 0,
        }
    }

    pub fn reset(&mut self) {
        self.ring.clear();
        self.sent = 0;
    }

    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Free ring bytes; a PDU of n bytes needs n + 4.
    pub fn free(&self) -> usize {
        self.ring.free()
    }

    /// Whether a PDU of `pdu_len` bytes would be accepted now.
    pub fn can_push(&self, pdu_len: usize) -> bool {
        pdu_len <= PDU_MAX && pdu_len + RECORD_HDR <= self.free()
    }

    /// Queue a whole L2CAP PDU (basic header included) for `handle`.
    /// Refused, with nothing queued, when it is longer than
    /// 4 + `config::L2CAP_PDU_MAX` or there is no room.
    pub fn push(&mut self, handle: u16, l2cap_pdu: &[u8]) -> Result<(), TxFull> {
        self.push_record(handle, [], l2cap_pdu, &[])
    }

    /// Queues the B-frame (Vol 3 Part A 3.1) carrying `a` then `b` on
    /// channel `cid` for `handle`, its basic header written here: the
    /// payload is copied once, straight into the queue. Refused as
    /// [`AclTxQueue::push`] refuses the whole frame.
    pub fn push_frame(&mut self, handle: u16, cid: u16, a: &[u8], b: &[u8]) -> Result<(), TxFull> {
        // (A length beyond u16 is cut here, and refused by `push_record`.)
        let [p0, p1] = ((a.len() + b.len()) as u16).to_le_bytes();
        let [c0, c1] = cid.to_le_bytes();
        self.push_record(handle, [p0, p1, c0, c1], a, b)
    }

    /// One record: its header, then the PDU `head`, `a`, `b`, written in
    /// place and committed at once (all or nothing).
    fn push_record<const K: usize>(
        &mut self,
        handle: u16,
        head: [u8; K],
        a: &[u8],
        b: &[u8],
    ) -> Result<(), TxFull> {
        let pdu_len = K + a.len() + b.len();
        if !self.can_push(pdu_len) {
            return Err(TxFull);
        }
        let [h0, h1] = (handle & HANDLE_MASK).to_le_bytes();
        let [l0, l1] = (pdu_len as u16).to_le_bytes();
        let mut w = self.ring.writer();
        w.put_array([h0, h1, l0, l1])?;
        w.put_array(head)?;
        w.put(a)?;
        w.put(b)?;
        let n = w.written();
        self.ring.commit(n);
        Ok(())
    }

    /// (handle, pdu length) of the record at the front.
    #[inline]
    fn front_record(&self) -> (u16, usize) {
        let [h0, h1, l0, l1] = self.ring.reader().read_array().unwrap_or([0; 4]);
        (
            u16::from_le_bytes([h0, h1]),
            usize::from(u16::from_le_bytes([l0, l1])),
        )
    }

    fn pop_record(&mut self, pdu_len: usize) {
        self.ring.discard(RECORD_HDR + pdu_len);
        self.sent = 0;
    }

    /// Moves the first `n` bytes to the back of the ring, in order.
    fn requeue_front(&mut self, n: usize) {
        let mut chunk = [0u8; 64];
        let mut left = n;
        while left > 0 {
            let want = left.min(chunk.len());
            // `get` rather than indexing: no panic path (and no core::fmt)
            // in the firmware.
            let k = self.ring.pop_into(chunk.get_mut(..want).unwrap_or(&mut []));
            if k == 0 {
                break;
            }
            // Cannot fail: popping just freed k bytes.
            let _ = self.ring.push_slice(chunk.get(..k).unwrap_or(&[]));
            left -= k;
        }
    }

    /// Send as many ACL fragments as controller credits and `tx` room
    /// allow: PB=00 for a PDU's first fragment, PB=01 after (Vol 4 Part E
    /// 5.4.2). Stops mid-PDU when out of credits and resumes there.
    #[inline]
    pub fn pump(&mut self, flow: &mut AclFlow, tx: &mut H4Tx) {
        // The usual case (the host pumps after every input and call), tested
        // where it is called: the loop below costs a frame to enter.
        if self.ring.is_empty() || !flow.can_send() {
            return;
        }
        self.send_queued(flow, tx);
    }

    /// [`AclTxQueue::pump`] with PDUs queued and a credit.
    fn send_queued(&mut self, flow: &mut AclFlow, tx: &mut H4Tx) {
        while !self.ring.is_empty() && flow.can_send() {
            let (handle, pdu_len) = self.front_record();
            if pdu_len == 0 {
                // Nothing to send for an empty record (never pushed by a
                // correct L2CAP layer, which always has a 4-byte header).
                self.pop_record(0);
                continue;
            }
            let remaining = pdu_len.saturating_sub(self.sent);
            let n = remaining.min(flow.packet_len());
            if n == 0 {
                break;
            }
            let pb = if self.sent == 0 {
                PB_FIRST_NON_FLUSHABLE
            } else {
                PB_CONTINUING
            };
            let (a, b) = self.ring.slices(RECORD_HDR + self.sent, n);
            if tx.push_acl_parts(handle, pb, a, b).is_err() {
                break;
            }
            flow.on_sent(handle);
            self.sent += n;
            if self.sent >= pdu_len {
                self.pop_record(pdu_len);
            }
        }
    }

    /// Forget every queued PDU for `handle` (the link is gone), including a
    /// partly sent one. The other PDUs keep their order: each record is
    /// either dropped or moved to the back, once round the ring.
    pub fn drop_handle(&mut self, handle: u16) {
        let handle = handle & HANDLE_MASK;
        let total = self.ring.len();
        let mut seen = 0;
        let mut first = true;
        let mut sent = self.sent;
        while seen < total {
            let (h, l) = self.front_record();
            let rec = (RECORD_HDR + l).min(total - seen);
            if h == handle {
                if first {
                    sent = 0;
                }
                self.ring.discard(rec);
            } else {
                self.requeue_front(rec);
            }
            first = false;
            seen += rec;
        }
        self.sent = if self.ring.is_empty() { 0 } else { sent };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Pop every ACL packet out of tx as (handle, pb, data).
    fn drain(tx: &mut H4Tx) -> Vec<(u16, u8, Vec<u8>)> {
        let mut bytes = vec![0u8; config::H4_TX_BUFFER];
        let n = tx.pop_into(&mut bytes);
        bytes.truncate(n);
        let mut out = Vec::new();
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            assert_eq!(rest[0], crate::hci::h4::H4_ACL);
            let len = u16::from_le_bytes([rest[3], rest[4]]) as usize;
            let (h, data) = AclHeader::parse(&rest[1..5 + len]).unwrap();
            out.push((h.handle, h.pb, data.to_vec()));
            rest = &rest[5 + len..];
        }
        out
    }

    #[test]
    fn hci_acl_header_roundtrip() {
        // Handle 0x040, PB=10, BC=00, 7 bytes: as Bumble's controller sends
        // an L2CAP ATT PDU to the host.
        let pkt = [
            0x40, 0x20, 0x07, 0x00, 0x03, 0x00, 0x04, 0x00, 0x02, 0x00, 0x02,
        ];
        let (h, data) = AclHeader::parse(&pkt).unwrap();
        assert_eq!(
            h,
            AclHeader {
                handle: 0x040,
                pb: PB_FIRST_FLUSHABLE,
                bc: 0,
                len: 7
            }
        );
        assert_eq!(data, &pkt[4..]);
        assert_eq!(h.encode(), [0x40, 0x20, 0x07, 0x00]);
        assert!(AclHeader::parse(&pkt[..10]).is_none());
        assert!(AclHeader::parse(&[0x40, 0x20, 0x00]).is_none());
    }

    #[test]
    fn push_frame_queues_what_push_queues_for_the_framed_pdu() {
        let value: Vec<u8> = (0..100).collect();
        let pieces: [(&[u8], &[u8]); 4] = [
            (&[0x1B, 0x03, 0x00], &value),
            (&value, &[]),
            (&[], &[]),
            (&[0x01], &[0x02, 0x03]),
        ];
        for (a, b) in pieces {
            let mut framed = vec![0u8; 4 + a.len() + b.len()];
            let payload = [a, b].concat();
            let n = crate::l2cap::write_basic_frame(0x0004, &payload, &mut framed).unwrap();
            let (mut q1, mut q2) = (AclTxQueue::new(), AclTxQueue::new());
            q1.push(0x41, &framed[..n]).unwrap();
            q2.push_frame(0x41, 0x0004, a, b).unwrap();
            assert_eq!(q1.ring.as_slices(), q2.ring.as_slices());
        }
        // Refused whole, as `push` refuses the framed PDU.
        let mut q = AclTxQueue::new();
        let big = vec![0u8; config::L2CAP_PDU_MAX];
        assert_eq!(q.push_frame(0x41, 4, &big, &[0]), Err(TxFull));
        let mut n = 0;
        while q.push_frame(0x41, 4, &big, &[]).is_ok() {
            n += 1;
        }
        assert_eq!(n, ACL_TX_QUEUE_PDUS);
        assert_eq!(q.push_frame(0x41, 4, &[1], &[]), Err(TxFull));
    }

    #[test]
    fn hci_acl_flow_credits() {
        let mut f = AclFlow::new();
        assert!(!f.can_send());
        f.configure(27, 2);
        assert!(f.can_send());
        f.on_sent(0x40);
        f.on_sent(0x41);
        assert!(!f.can_send());
        f.on_completed(0x99, 5); // unknown handle: ignored
        assert!(!f.can_send());
        f.on_completed(0x40, 5); // only 1 was in flight on 0x40
        assert_eq!(f.free_buffers(), 1);
        f.on_disconnected(0x41);
        assert_eq!(f.free_buffers(), 2);
        f.on_completed(0x41, 1); // already returned
        assert_eq!(f.free_buffers(), 2);
    }

    #[test]
    fn hci_acl_fragment_100_byte_pdu_into_27_byte_packets() {
        let mut q = AclTxQueue::new();
        let mut flow = AclFlow::new();
        let mut tx = H4Tx::new();
        flow.configure(27, 3);
        // L2CAP basic header (len 96, CID 0x0004) + 96 bytes of ATT.
        let mut pdu = vec![96, 0, 0x04, 0x00];
        pdu.extend((0..96).map(|i| i as u8));
        q.push(0x40, &pdu).unwrap();
        q.pump(&mut flow, &mut tx);
        let first = drain(&mut tx);
        assert_eq!(first.len(), 3);
        assert_eq!(first[0], (0x40, PB_FIRST_NON_FLUSHABLE, pdu[..27].to_vec()));
        assert_eq!(first[1], (0x40, PB_CONTINUING, pdu[27..54].to_vec()));
        assert_eq!(first[2], (0x40, PB_CONTINUING, pdu[54..81].to_vec()));
        assert!(!q.is_empty());
        assert!(!flow.can_send());
        // No credit: nothing moves.
        q.pump(&mut flow, &mut tx);
        assert!(tx.is_empty());
        flow.on_completed(0x40, 1);
        q.pump(&mut flow, &mut tx);
        let rest = drain(&mut tx);
        assert_eq!(rest, vec![(0x40, PB_CONTINUING, pdu[81..].to_vec())]);
        assert!(q.is_empty());
        assert_eq!(flow.in_flight(0x40), 3);
    }

    #[test]
    fn hci_acl_tx_stops_when_h4_full_and_resumes() {
        let mut q = AclTxQueue::new();
        let mut flow = AclFlow::new();
        let mut tx = H4Tx::new();
        flow.configure(251, 1000);
        let pdu = [0x5Au8; PDU_MAX];
        let mut pushed = 0;
        while q.push(0x01, &pdu).is_ok() {
            pushed += 1;
        }
        assert_eq!(pushed, ACL_TX_QUEUE_PDUS);
        assert_eq!(q.push(0x01, &[0; PDU_MAX + 1]), Err(TxFull));
        // Leave less room in tx than one fragment.
        tx.push_acl(0x0F, 0, &vec![0; config::H4_TX_BUFFER - 5 - 100])
            .unwrap();
        q.pump(&mut flow, &mut tx);
        assert!(tx.free() < 256);
        assert!(!q.is_empty());
        let mut total = 0;
        loop {
            let pk = drain(&mut tx);
            if pk.is_empty() {
                break;
            }
            total += pk
                .iter()
                .filter(|p| p.0 == 0x01)
                .map(|p| p.2.len())
                .sum::<usize>();
            q.pump(&mut flow, &mut tx);
        }
        assert_eq!(total, pushed * PDU_MAX);
        assert!(q.is_empty());
    }

    #[test]
    fn hci_acl_drop_handle() {
        let mut q = AclTxQueue::new();
        let mut flow = AclFlow::new();
        let mut tx = H4Tx::new();
        flow.configure(4, 1);
        q.push(0x01, &[1; 10]).unwrap();
        q.push(0x02, &[2; 5]).unwrap();
        q.push(0x01, &[3; 3]).unwrap();
        q.push(0x03, &[4; 2]).unwrap();
        q.pump(&mut flow, &mut tx); // first fragment of handle 1's PDU
        assert_eq!(drain(&mut tx), vec![(0x01, 0, vec![1; 4])]);
        q.drop_handle(0x01);
        flow.on_disconnected(0x01);
        flow.configure(27, 8);
        q.pump(&mut flow, &mut tx);
        assert_eq!(
            drain(&mut tx),
            vec![(0x02, 0, vec![2; 5]), (0x03, 0, vec![4; 2])]
        );
        assert!(q.is_empty());
    }
    /// Dropping a link keeps the other links' PDUs whole and in order,
    /// also when the records wrap around the end of the ring and the head
    /// PDU (kept) is partly sent.
    #[test]
    fn hci_acl_drop_handle_across_the_wrap_keeps_order() {
        let mut q = AclTxQueue::new();
        let mut flow = AclFlow::new();
        let mut tx = H4Tx::new();
        // Three full PDUs in front of `a` are sent whole (one credit
        // each), so the records pushed after `a` wrap round the ring.
        let filler = [0u8; PDU_MAX];
        for _ in 0..ACL_TX_QUEUE_PDUS - 1 {
            q.push(0x09, &filler).unwrap();
        }
        // Lengths as parts of a full PDU (300, 200... with the unix 521).
        let l = |n: usize| n * PDU_MAX / 521;
        let a: Vec<u8> = (0..l(300)).map(|i| i as u8).collect();
        let b = vec![0xBB; l(200)];
        let c: Vec<u8> = (0..l(400)).map(|i| (i * 7) as u8).collect();
        let d = vec![0xDD; l(100)];
        let e: Vec<u8> = (0..l(500)).map(|i| (i * 3) as u8).collect();
        q.push(0x01, &a).unwrap();
        flow.configure(PDU_MAX as u16, (ACL_TX_QUEUE_PDUS - 1) as u16);
        // (A small H4 buffer takes them in turns.)
        let mut sent = 0;
        while sent < ACL_TX_QUEUE_PDUS - 1 {
            q.pump(&mut flow, &mut tx);
            let k = drain(&mut tx).len();
            assert!(k > 0);
            sent += k;
        }
        assert_eq!(sent, ACL_TX_QUEUE_PDUS - 1);
        q.push(0x02, &b).unwrap();
        q.push(0x01, &c).unwrap();
        q.push(0x02, &d).unwrap();
        q.push(0x01, &e).unwrap();
        assert!(!q.ring.as_slices().1.is_empty(), "the records wrap");
        // One 64-byte fragment of `a` goes out, then its link survives.
        flow.configure(64, 1);
        q.pump(&mut flow, &mut tx);
        assert_eq!(drain(&mut tx), vec![(0x01, 0, a[..64].to_vec())]);
        q.drop_handle(0x02);
        flow.configure(251, 1000);
        q.pump(&mut flow, &mut tx);
        let mut got: Vec<(u16, u8, Vec<u8>)> = Vec::new();
        loop {
            let pk = drain(&mut tx);
            if pk.is_empty() {
                break;
            }
            got.extend(pk);
            q.pump(&mut flow, &mut tx);
        }
        assert!(q.is_empty());
        // Reassemble per PDU: PB=00 starts one.
        let mut pdus: Vec<Vec<u8>> = vec![a[..64].to_vec()];
        for (h, pb, data) in got {
            assert_eq!(h, 0x01);
            if pb == PB_FIRST_NON_FLUSHABLE {
                pdus.push(data);
            } else {
                pdus.last_mut().unwrap().extend(data);
            }
        }
        assert_eq!(pdus, vec![a, c, e]);
    }
}
