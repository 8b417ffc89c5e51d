//! Events for Python, in the form the C port turns into callback tuples.
//!
//! The vendor adapters decide the tuple layout (which ids, which slots,
//! ints or bytes); the port only converts each value to a Python object.
//! These types cross the C ABI (`include/mpble.h`).

use crate::config;
use crate::ring::{ByteRing, RingFull, RingReader};

/// Maximum number of values in one event tuple.
pub const MPBLE_EVENT_MAX_ARGS: usize = 9;
/// Bytes of payload one event can carry (shared by its byte/str values):
/// a whole ATT value plus room for a name.
pub const MPBLE_EVENT_DATA_MAX: usize = 600;
const _: () = assert!(MPBLE_EVENT_DATA_MAX >= config::EVENT_DATA_MAX + 32);

/// Kind of one value of an event tuple.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MpbleValueKind {
    /// `int_value` holds the value.
    Int = 0,
    /// `data[offset..offset+len]` as a Python `bytes`.
    Bytes = 1,
    /// `data[offset..offset+len]` (UTF-8) as a Python `str`.
    Str = 2,
    /// Python `None`.
    None = 3,
}

/// One value of an event tuple.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MpbleValue {
    pub kind: MpbleValueKind,
    pub int_value: i64,
    pub offset: u16,
    pub len: u16,
}

/// Which Python callback an event is for.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MpbleTarget {
    /// The callback given to QuecPython `ble.serverInit`.
    QpyServer = 1,
    /// The callback given to QuecPython `ble.clientInit`.
    QpyClient = 2,
    /// Pycom `Bluetooth.callback` (args: [trigger bits]).
    PycomBluetooth = 3,
}

/// An event for Python: the port calls the target's callback with one
/// tuple made of `args[..n_args]`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MpbleEvent {
    pub target: MpbleTarget,
    pub n_args: u8,
    pub args: [MpbleValue; MPBLE_EVENT_MAX_ARGS],
    pub data_len: u16,
    pub data: [u8; MPBLE_EVENT_DATA_MAX],
}

/// Life cycle of the host as the port sees it.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MpbleState {
    /// Not started, or stopped.
    Off = 0,
    /// Controller bring-up in progress.
    Starting = 1,
    /// Controller answered; the stack is running.
    Ready = 2,
    /// Bring-up failed (the controller did not answer or refused).
    Failed = 3,
}

/// An unused slot of an event (private, so it stays out of the C header).
const NONE_VALUE: MpbleValue = MpbleValue {
    kind: MpbleValueKind::None,
    int_value: 0,
    offset: 0,
    len: 0,
};

/// What the slots past `n_args` hold in a new event: never read (neither
/// `values` nor the port looks past `n_args`), and all zeros so that a new
/// event is one `memset`, not one store per field of every slot.
const UNUSED_VALUE: MpbleValue = MpbleValue {
    kind: MpbleValueKind::Int,
    int_value: 0,
    offset: 0,
    len: 0,
};

/// The event's payload did not fit (`MPBLE_EVENT_DATA_MAX` or the number
/// of values); the adapter reports it instead of truncating silently.
#[derive(Debug, PartialEq, Eq)]
pub struct EventFull;

impl MpbleEvent {
    pub const fn new(target: MpbleTarget) -> Self {
        MpbleEvent {
            target,
            n_args: 0,
            args: [UNUSED_VALUE; MPBLE_EVENT_MAX_ARGS],
            data_len: 0,
            data: [0; MPBLE_EVENT_DATA_MAX],
        }
    }

    fn push_value(&mut self, v: MpbleValue) -> Result<&mut Self, EventFull> {
        let slot = self.args.get_mut(self.n_args as usize).ok_or(EventFull)?;
        *slot = v;
        self.n_args += 1;
        Ok(self)
    }

    /// Appends an int value.
    pub fn int(&mut self, v: i64) -> Result<&mut Self, EventFull> {
        self.push_value(MpbleValue {
            kind: MpbleValueKind::Int,
            int_value: v,
            offset: 0,
            len: 0,
        })
    }

    fn blob(&mut self, kind: MpbleValueKind, b: &[u8]) -> Result<&mut Self, EventFull> {
        let start = self.data_len as usize;
        let end = start.checked_add(b.len()).ok_or(EventFull)?;
        if end > MPBLE_EVENT_DATA_MAX || self.n_args as usize >= MPBLE_EVENT_MAX_ARGS {
            return Err(EventFull);
        }
        self.data[start..end].copy_from_slice(b);
        self.data_len = end as u16;
        self.push_value(MpbleValue {
            kind,
            int_value: 0,
            offset: start as u16,
            len: b.len() as u16,
        })
    }

    /// Appends a `bytes` value.
    pub fn bytes(&mut self, b: &[u8]) -> Result<&mut Self, EventFull> {
        self.blob(MpbleValueKind::Bytes, b)
    }

    /// Appends `None`.
    pub fn none(&mut self) -> Result<&mut Self, EventFull> {
        self.push_value(NONE_VALUE)
    }

    /// Appends a `str` value; `s` must be UTF-8 (the port checks again).
    pub fn str(&mut self, s: &[u8]) -> Result<&mut Self, EventFull> {
        self.blob(MpbleValueKind::Str, s)
    }

    /// The values, for tests and for the port's reference.
    pub fn values(&self) -> &[MpbleValue] {
        &self.args[..(self.n_args as usize).min(MPBLE_EVENT_MAX_ARGS)]
    }

    /// Bytes of a Bytes/Str value.
    pub fn data_of(&self, v: &MpbleValue) -> &[u8] {
        let start = v.offset as usize;
        let end = start + v.len as usize;
        self.data.get(start..end).unwrap_or(&[])
    }

    /// Bytes this event takes in an [`EventQueue`].
    pub fn queued_len(&self) -> usize {
        let mut n = RECORD_HEADER;
        for v in self.values() {
            n += 1 + match v.kind {
                MpbleValueKind::Int => int_len(v.int_value),
                MpbleValueKind::Bytes | MpbleValueKind::Str => 2 + self.data_of(v).len(),
                MpbleValueKind::None => 0,
            };
        }
        n
    }
}

/// Target and value count of a queued record.
const RECORD_HEADER: usize = 2;

/// Bytes that hold `v`'s magnitude: a negative `v` is stored as `!v`
/// (non-negative) with a flag in the tag, so that 0 takes no byte, -128..=255
/// one, and a 16-bit handle two.
fn int_len(v: i64) -> usize {
    let m = if v < 0 { !v } else { v } as u64;
    (64 - m.leading_zeros() as usize).div_ceil(8)
}

/// Tag bit: the int's stored bytes are `!v`.
const TAG_NEGATIVE: u8 = 0x40;

/// The event queue had no room for the event; nothing was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull;

impl From<RingFull> for QueueFull {
    fn from(_: RingFull) -> Self {
        QueueFull
    }
}

/// Callback tuples waiting for Python, packed one after the other in one
/// byte ring of `N` bytes (issue 6, section 3), instead of a whole
/// [`MpbleEvent`] (a full ATT value of payload) reserved per event.
///
/// A record is `target, n_args`, then each value: a tag byte (kind in
/// bits 0-1; for an int, in bits 2-5 how many bytes follow, and bit 6 set
/// when they hold `!v` of a negative `v`), then an int's bytes
/// (little-endian, as few as hold it), or a
/// bytes/str value's length (u16, little-endian) and its bytes. Small ints
/// (ids, statuses, handles) take 1 to 3 bytes; a tuple costs what it
/// carries.
///
/// [`EventQueue::new`] is all zeros, like the rest of the core's state.
pub struct EventQueue<const N: usize> {
    ring: ByteRing<N>,
    count: usize,
}

impl<const N: usize> Default for EventQueue<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> EventQueue<N> {
    pub const fn new() -> Self {
        EventQueue {
            ring: ByteRing::new(),
            count: 0,
        }
    }

    /// Forgets every event.
    pub fn clear(&mut self) {
        self.ring.clear();
        self.count = 0;
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Free bytes.
    pub fn free(&self) -> usize {
        self.ring.free()
    }

    /// Queues `ev` whole, or nothing when its record does not fit.
    ///
    /// The record is written in place, into the ring's free space, in one
    /// pass (no size computed first, no byte copied twice), and stored by
    /// one commit at the end: one that runs out of room is never stored.
    pub fn push(&mut self, ev: &MpbleEvent) -> Result<(), QueueFull> {
        let values = ev.values();
        let mut w = self.ring.writer();
        // Headers in place (`put_array`) or byte by byte, the payload by
        // copy: a call to copy 1 to 3 bytes costs more than the bytes.
        w.put_array([ev.target as u8, values.len() as u8])?;
        for v in values {
            let kind = v.kind as u8;
            match v.kind {
                MpbleValueKind::Int => {
                    let n = int_len(v.int_value);
                    let (mut m, sign) = if v.int_value < 0 {
                        (!v.int_value as u64, TAG_NEGATIVE)
                    } else {
                        (v.int_value as u64, 0)
                    };
                    // Tag and magnitude, little-endian, as few bytes as hold it.
                    w.byte(kind | sign | (n as u8) << 2)?;
                    for _ in 0..n {
                        w.byte(m as u8)?;
                        m >>= 8;
                    }
                }
                MpbleValueKind::Bytes | MpbleValueKind::Str => {
                    let data = ev.data_of(v);
                    let [l0, l1] = (data.len() as u16).to_le_bytes();
                    w.put_array([kind, l0, l1])?;
                    w.put(data)?;
                }
                MpbleValueKind::None => w.byte(kind)?,
            }
        }
        let n = w.written();
        self.ring.commit(n);
        self.count += 1;
        Ok(())
    }

    /// Takes the oldest event out, rebuilt with its payload in `data`.
    pub fn pop(&mut self) -> Option<MpbleEvent> {
        let mut ev = MpbleEvent::new(MpbleTarget::QpyServer);
        self.pop_into(&mut ev).then_some(ev)
    }

    /// Takes the oldest event out into `out` (its values and the payload
    /// they use; the rest of `out.data` is left as it was, so nothing is
    /// cleared or copied twice); false, with `out` unspecified, when there
    /// is none.
    pub fn pop_into(&mut self, out: &mut MpbleEvent) -> bool {
        if self.count == 0 {
            return false;
        }
        let mut r = self.ring.reader();
        match decode(&mut r, out) {
            Some(()) => {
                let len = r.read_len();
                self.ring.discard(len);
                self.count -= 1;
                true
            }
            None => {
                // Only records written by `push` are in the ring; should
                // one not decode, nothing after it can be trusted.
                self.clear();
                false
            }
        }
    }
}

/// Rebuilds the record at the front of `r` into `ev`.
fn decode(r: &mut RingReader<'_>, ev: &mut MpbleEvent) -> Option<()> {
    let [target, n_args] = r.read_array()?;
    ev.target = match target {
        1 => MpbleTarget::QpyServer,
        2 => MpbleTarget::QpyClient,
        3 => MpbleTarget::PycomBluetooth,
        _ => return None,
    };
    let MpbleEvent { args, data, .. } = &mut *ev;
    let mut data_len = 0usize;
    // Straight into the slots: the record was checked when it was pushed.
    for slot in args.get_mut(..usize::from(n_args))? {
        let tag = r.byte()?;
        *slot = match tag & 3 {
            0 => {
                let n = u32::from((tag >> 2) & 0x0F);
                if n > 8 {
                    return None;
                }
                let mut m = 0u64;
                for i in 0..n {
                    m |= u64::from(r.byte()?) << (8 * i);
                }
                let m = m as i64;
                MpbleValue {
                    kind: MpbleValueKind::Int,
                    int_value: if tag & TAG_NEGATIVE != 0 { !m } else { m },
                    offset: 0,
                    len: 0,
                }
            }
            k @ (1 | 2) => {
                let len = usize::from(u16::from_le_bytes(r.read_array()?));
                let start = data_len;
                r.read(data.get_mut(start..start + len)?)?;
                data_len = start + len;
                MpbleValue {
                    kind: if k == 1 {
                        MpbleValueKind::Bytes
                    } else {
                        MpbleValueKind::Str
                    },
                    int_value: 0,
                    offset: start as u16,
                    len: len as u16,
                }
            }
            _ => NONE_VALUE,
        };
    }
    ev.n_args = n_args;
    ev.data_len = data_len as u16;
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints_event(vals: &[i64]) -> MpbleEvent {
        let mut ev = MpbleEvent::new(MpbleTarget::QpyClient);
        for &v in vals {
            ev.int(v).unwrap();
        }
        ev
    }

    fn same(a: &MpbleEvent, b: &MpbleEvent) -> bool {
        a.target == b.target
            && a.values().len() == b.values().len()
            && a.values().iter().zip(b.values()).all(|(x, y)| {
                x.kind == y.kind && x.int_value == y.int_value && a.data_of(x) == b.data_of(y)
            })
    }

    #[test]
    fn event_queue_round_trips_every_kind_of_value() {
        let mut q = EventQueue::<256>::new();
        let edge = [
            0,
            1,
            -1,
            127,
            128,
            -128,
            -129,
            0xFFFF,
            -50,
            i64::from(u32::MAX),
            i64::MIN,
            i64::MAX,
        ];
        let a = ints_event(&edge[..9]);
        let b = ints_event(&edge[9..]);
        let mut c = MpbleEvent::new(MpbleTarget::QpyServer);
        c.int(19)
            .unwrap()
            .str(b"name")
            .unwrap()
            .bytes(&[1, 2, 3])
            .unwrap();
        c.push_value(NONE_VALUE).unwrap();
        c.bytes(&[]).unwrap();
        for ev in [&a, &b, &c] {
            q.push(ev).unwrap();
        }
        assert_eq!(q.len(), 3);
        for ev in [&a, &b, &c] {
            assert!(same(&q.pop().unwrap(), ev));
        }
        assert!(q.pop().is_none());
        assert_eq!(q.free(), 256);
    }

    /// Small ints take the bytes they need: a tuple costs what it carries.
    #[test]
    fn event_queue_packs_small_ints() {
        assert_eq!(ints_event(&[]).queued_len(), 2);
        assert_eq!(ints_event(&[0]).queued_len(), 3);
        assert_eq!(ints_event(&[17, -50]).queued_len(), 6);
        assert_eq!(ints_event(&[0x1234]).queued_len(), 5);
        assert_eq!(ints_event(&[0xFFFF, 255, -256]).queued_len(), 2 + 3 + 2 + 2);
        assert_eq!(ints_event(&[i64::MIN]).queued_len(), 11);
    }

    /// A full queue refuses an event whole and keeps the others; records
    /// that wrap round the ring come back intact.
    #[test]
    fn event_queue_full_refuses_whole_and_wraps() {
        let mut q = EventQueue::<40>::new();
        let mut big = MpbleEvent::new(MpbleTarget::QpyServer);
        big.int(30).unwrap().bytes(&[0xAB; 20]).unwrap(); // 2 + 2 + 23 = 27
        assert_eq!(big.queued_len(), 27);
        q.push(&big).unwrap();
        assert_eq!(q.push(&big), Err(QueueFull));
        assert_eq!((q.len(), q.free()), (1, 13));
        let small = ints_event(&[1, 2, 3]);
        q.push(&small).unwrap();
        assert!(same(&q.pop().unwrap(), &big));
        // This one wraps past the end of the buffer.
        q.push(&big).unwrap();
        assert!(same(&q.pop().unwrap(), &small));
        assert!(same(&q.pop().unwrap(), &big));
        assert!(q.is_empty());
    }

    /// Records written in place and decoded into a reused event agree
    /// with a model queue, wherever they start and wrap in the ring, and
    /// a refused push leaves the queue as it was.
    #[test]
    fn event_queue_in_place_matches_a_model() {
        use std::collections::VecDeque;
        let mut q = EventQueue::<61>::new();
        let mut model: VecDeque<MpbleEvent> = VecDeque::new();
        let mut x = 0x1234_5678u32;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        // One `out` for every pop: stale payload from the last must not show.
        let mut out = MpbleEvent::new(MpbleTarget::PycomBluetooth);
        out.bytes(&[0xEE; 40]).unwrap();
        for _ in 0..20_000 {
            if rnd() % 3 != 0 {
                let mut ev = MpbleEvent::new(MpbleTarget::QpyClient);
                for _ in 0..rnd() % 5 {
                    let _ = match rnd() % 4 {
                        0 => ev.int(i64::from(rnd() as i32) >> (rnd() % 32)),
                        1 => ev.bytes(&vec![rnd() as u8; (rnd() % 12) as usize]),
                        2 => ev.str(b"ab"),
                        _ => ev.none(),
                    };
                }
                let fits = ev.queued_len() <= q.free();
                let before = (q.len(), q.free());
                assert_eq!(q.push(&ev).is_ok(), fits);
                if fits {
                    model.push_back(ev);
                } else {
                    assert_eq!((q.len(), q.free()), before);
                }
            } else {
                let got = q.pop_into(&mut out);
                match model.pop_front() {
                    Some(want) => {
                        assert!(got);
                        assert!(same(&out, &want));
                        assert_eq!(out.data_len, want.data_len);
                    }
                    None => assert!(!got),
                }
            }
            assert_eq!(q.len(), model.len());
            let used: usize = model.iter().map(MpbleEvent::queued_len).sum();
            assert_eq!(q.free(), 61 - used);
        }
    }

    /// The tuple shapes `config::EVENT_BYTES_PER_PACKET` is computed from,
    /// at their largest values.
    #[test]
    fn event_queue_sizes_behind_the_flow_control_rule() {
        // Server read/write (QuecPython 21/22): id, status, len, value,
        // handle, 16-bit UUID, 128-bit UUID.
        let value = [0u8; config::ATT_VALUE_MAX];
        let mut rw = MpbleEvent::new(MpbleTarget::QpyServer);
        rw.int(22)
            .unwrap()
            .int(0)
            .unwrap()
            .int(value.len() as i64)
            .unwrap();
        rw.bytes(&value)
            .unwrap()
            .int(0xFFFF)
            .unwrap()
            .int(0xFFFF)
            .unwrap();
        rw.bytes(&[0xFF; 16]).unwrap();
        assert!(rw.queued_len() <= config::EVENT_TUPLE_WITH_VALUE + value.len());
        // Service discovery (27): one tuple per 4-byte record, <= 4 bytes
        // per byte of the PDU.
        let svc = ints_event(&[27, 0, 0xFFFF, 0xFFFF, 0xFFFF]);
        assert_eq!(svc.queued_len(), 14);
        // Scan report (19): 28 bytes beside its name and data.
        let mut scan = MpbleEvent::new(MpbleTarget::QpyClient);
        scan.int(19).unwrap().int(0).unwrap().int(4).unwrap();
        scan.str(&[])
            .unwrap()
            .int(1)
            .unwrap()
            .bytes(&[0xFF; 6])
            .unwrap();
        scan.int(-127).unwrap().int(0).unwrap().bytes(&[]).unwrap();
        assert!(scan.queued_len() <= 28);
        // 25 reports in one 255-byte LE Advertising Report: each report is
        // 10 bytes beside its data, the name comes from the data.
        let n = 25;
        let data = 253 - 10 * n;
        assert!(n * 28 + 2 * data <= 720);
        const { assert!(720 <= config::EVENT_BYTES_PER_PACKET) };
    }
}

/// Every counter of something the stack dropped, for `ble.mpbleStats()`
/// and Pycom `Bluetooth().mpble_stats()` (README "Diagnostics").
///
/// Two kinds: input that was malformed and is counted, not served (these
/// may grow on a bad link or controller), and what was accepted and then
/// lost for want of room (these stay 0 unless a bound in `config` is
/// wrong). Fields are only ever appended (issue 7 adds callback latency),
/// so `size` tells a port which of them its core fills.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MpbleStats {
    /// `sizeof(MpbleStats)` as the core was built.
    pub size: u32,
    /// HCI events that did not parse (malformed).
    pub bad_events: u32,
    /// ACL packets with a bad header (malformed).
    pub bad_acl: u32,
    /// ACL packets for a connection handle that is not ours.
    pub unknown_handle: u32,
    /// L2CAP B-frames that did not recombine (malformed).
    pub l2cap_errors: u32,
    /// L2CAP frames on a channel the host does not serve.
    pub unknown_cid: u32,
    /// Frames the host sent on its own (ATT responses, confirmations...)
    /// that the ACL transmit queue had no room for (lost).
    pub tx_dropped: u32,
    /// Host events its queue had no room for (lost).
    pub host_events_dropped: u32,
    /// ATT server events its per-PDU list had no room for (lost).
    pub att_events_dropped: u32,
    /// ATT PDUs our GATT client ignored (unexpected or malformed).
    pub gatt_client_unexpected: u32,
    /// H4: ACL packets longer than the host's buffers, skipped.
    pub h4_oversize_dropped: u32,
    /// H4: bytes that were not a packet indicator where one was expected.
    pub h4_bad_indicator: u32,
    /// H4: SCO and ISO packets, skipped (the host is LE data only).
    pub h4_sco_iso_dropped: u32,
    /// Callback tuples the queue for Python had no room for (lost).
    pub events_dropped: u32,
    /// QuecPython tuples that did not fit an event's payload (lost).
    pub qpy_events_dropped: u32,
    /// Pycom tuples that found no room (lost; a deferred read is then
    /// answered with the stored value).
    pub pycom_events_dropped: u32,
    /// Pycom: advertising reports dropped because the 16-entry `get_adv()`
    /// FIFO was full (the firmware drops new ones too).
    pub adv_fifo_dropped: u32,
    /// Callbacks timed since start: from the arrival of the controller
    /// packet that caused the event to the start of its Python callback
    /// (the port measures, [`crate::api::stats::LatencyHistogram`] keeps).
    pub cb_latency_count: u32,
    /// Median of those times in µs (upper edge of its histogram bucket,
    /// at most 12.5 % high); 0 while none was timed.
    pub cb_latency_p50_us: u32,
    /// 99th percentile in µs, the same way.
    pub cb_latency_p99_us: u32,
    /// The longest, exact, in µs.
    pub cb_latency_max_us: u32,
}

/// One Pycom `get_adv()` report (`api::pycom::adv::AdvEntry`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MpblePycomAdv {
    /// MSB first.
    pub mac: [u8; 6],
    pub addr_type: u8,
    pub adv_type: u8,
    pub rssi: i8,
    /// Advertising data then scan response, zero padded.
    pub data: [u8; 62],
}

/// One result of a Pycom client discovery (`api::pycom::Record`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MpblePycomRecord {
    /// Service start, characteristic declaration or descriptor handle.
    pub handle: u16,
    /// Service end group handle, or characteristic value handle.
    pub end: u16,
    pub properties: u8,
    /// 2 or 16.
    pub uuid_len: u8,
    /// Little-endian, as on air.
    pub uuid: [u8; 16],
}

/// `set_advertisement(...)`'s arguments; a null pointer is an omitted one.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MpblePycomAdvert {
    pub name: *const u8,
    pub name_len: usize,
    pub manufacturer_data: *const u8,
    pub manufacturer_data_len: usize,
    pub service_data: *const u8,
    pub service_data_len: usize,
    /// 128-bit UUIDs (a multiple of 16 bytes), or null.
    pub service_uuid: *const u8,
    pub service_uuid_len: usize,
    /// An int UUID, used when `service_uuid_is_int`.
    pub service_uuid_int: u32,
    pub service_uuid_is_int: bool,
}
