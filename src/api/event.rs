//! Events for Python, in the form the C port turns into callback tuples.
//!
//! The vendor adapters decide the tuple layout (which ids, which slots,
//! ints or bytes); the port only converts each value to a Python object.
//! These types cross the C ABI (`include/mpble.h`).

use crate::config;

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

/// The event's payload did not fit (`MPBLE_EVENT_DATA_MAX` or the number
/// of values); the adapter reports it instead of truncating silently.
#[derive(Debug, PartialEq, Eq)]
pub struct EventFull;

impl MpbleEvent {
    pub const fn new(target: MpbleTarget) -> Self {
        MpbleEvent {
            target,
            n_args: 0,
            args: [NONE_VALUE; MPBLE_EVENT_MAX_ARGS],
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
}
