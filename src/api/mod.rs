//! The seam between the vendor-neutral core and the vendor APIs.
//!
//! - [`Stack`] is the core as every API sees it: the sans-IO host and the
//!   queue of callback tuples waiting for Python. Its calls return a Rust
//!   `Result`; it knows no vendor.
//! - An [`Adapter`] is one vendor API (`quecpython/`, `pycom/`): its
//!   argument rules, its return conventions (QuecPython's 0/-1, Pycom's
//!   exceptions, decided in the C port from the adapter's result) and its
//!   callback tuples. An adapter is handed every host event as it happens
//!   and turns the ones it cares about into tuples; its calls get the
//!   `Stack` to act on.
//! - [`Firmware`] is the composition root the C ABI drives: the stack and
//!   one field per adapter. After every input (controller bytes, time, an
//!   API call) it hands each new host event to every adapter at once, so
//!   their state machines move in step with the host.
//!
//! Adding an API (MicroPython's own `bluetooth` module is the likely
//! third): write `api/<name>/` implementing [`Adapter`], add its field to
//! [`Firmware`] and one line to [`Firmware::dispatch`], and give it its
//! `mpble_<name>_*` functions in `ffi.rs`. The other adapters do not change.
pub mod event;
pub mod pycom;
pub mod quecpython;
pub mod stats;

#[cfg(test)]
mod tests;

use crate::config;
use crate::host::{Host, HostCore, HostError, HostEvent, HostState};
use crate::time::Instant;
use event::{EventQueue, MpbleEvent, MpbleState};
use pycom::Pycom;
use quecpython::QuecPython;

/// One vendor API over the core.
pub trait Adapter {
    /// A host event happened: emit the callback tuples it means for this
    /// API, if any. `core` is the host as the event left it. `emit` says
    /// whether the tuple found room (a refused one is counted).
    fn on_host_event(
        &mut self,
        ev: &HostEvent,
        core: &HostCore,
        emit: &mut dyn FnMut(&MpbleEvent) -> bool,
    );

    /// After each host event, and on every tick: act on the host for what
    /// the events asked and no Python code will do (answer a deferred read
    /// whose tuple found no room, restart advertising, end a timed scan).
    /// Returns whether it may have acted on the host (and so armed a timer
    /// the next timeout must count).
    fn poll(&mut self, _core: &mut HostCore, _now: u32) -> bool {
        false
    }

    /// Milliseconds until `poll` has something to do at `now`, if ever.
    fn next_timeout_ms(&self, _now: u32) -> Option<u32> {
        None
    }

    /// Soft reset: forget everything.
    fn reset(&mut self);
}

/// The vendor-neutral core: the host and the callback tuples waiting for
/// the port to call Python.
pub struct Stack {
    pub host: Host,
    /// Tuples for Python, packed in one byte ring (`config::EVENT_BYTES`).
    out: EventQueue<{ config::EVENT_BYTES }>,
    /// Tuples the queue had no room for (never dropped silently).
    pub events_dropped: u32,
}

impl Default for Stack {
    fn default() -> Self {
        Self::new()
    }
}

impl Stack {
    pub const fn new() -> Self {
        Stack {
            host: Host::new(),
            out: EventQueue::new(),
            events_dropped: 0,
        }
    }

    /// Soft reset: forget everything.
    pub fn reset(&mut self) {
        self.host.reset();
        self.out.clear();
        self.events_dropped = 0;
    }

    /// The host, for the adapters' calls.
    pub fn core(&mut self) -> &mut HostCore {
        &mut self.host.core
    }

    /// Queues a callback tuple for Python; counted if there is no room.
    pub fn emit(&mut self, ev: &MpbleEvent) {
        if self.out.push(ev).is_err() {
            self.events_dropped = self.events_dropped.wrapping_add(1);
        }
    }

    /// Starts controller bring-up.
    pub fn start(&mut self, now: u32) -> Result<(), HostError> {
        self.host.core.start(now)
    }

    /// Drops every link and resets the controller; `HostEvent::Stopped`
    /// follows.
    pub fn stop(&mut self, now: u32) -> Result<(), HostError> {
        self.host.core.stop(now)
    }

    /// Life cycle as the port sees it.
    pub fn state(&self) -> MpbleState {
        match self.host.state() {
            HostState::Off => MpbleState::Off,
            HostState::Starting => MpbleState::Starting,
            HostState::Ready | HostState::Stopping => MpbleState::Ready,
            HostState::Failed => MpbleState::Failed,
        }
    }

    /// Tuples waiting for Python.
    pub fn event_count(&self) -> usize {
        self.out.len()
    }

    /// Free bytes in the tuple queue.
    pub fn event_room(&self) -> usize {
        self.out.free()
    }

    /// Whether `ev` would fit in the tuple queue now.
    pub fn has_room_for(&self, ev: &MpbleEvent) -> bool {
        ev.queued_len() <= self.out.free()
    }

    /// Whether the tuple queue has room for whatever one packet from the
    /// controller may produce (`config::EVENT_BYTES_PER_PACKET`): the
    /// flow-control rule of [`Firmware::h4_rx`].
    pub fn takes_packet(&self) -> bool {
        self.out.free() >= config::EVENT_BYTES_PER_PACKET
    }

    pub fn pop_event(&mut self) -> Option<MpbleEvent> {
        self.out.pop()
    }

    /// Takes the oldest tuple out into `out` (see [`EventQueue::pop_into`]).
    pub fn pop_event_into(&mut self, out: &mut MpbleEvent) -> bool {
        self.out.pop_into(out)
    }

    pub fn h4_tx(&mut self, out: &mut [u8]) -> usize {
        self.host.core.h4_tx(out)
    }

    pub fn next_timeout_ms(&self, now: u32) -> u32 {
        self.host.core.next_timeout_ms(now)
    }

    pub fn public_addr(&self) -> Option<[u8; 6]> {
        self.host.core.controller().map(|i| i.bd_addr)
    }
}

/// What the C ABI drives: the stack and the adapters over it.
pub struct Firmware {
    pub stack: Stack,
    pub qpy: QuecPython,
    pub pycom: Pycom,
    /// Callback latency as the port measures it (README "Diagnostics").
    pub latency: stats::LatencyHistogram,
    /// The host's next timer deadline, as last computed.
    host_timer: HostTimer,
}

/// The host's next timer deadline ([`HostCore::next_deadline`]), kept
/// between the port's calls: the port ticks the core before every call and
/// asks for the next timeout after it, and most of those find no timer
/// due. Valid from its computation until the next input or call, any of
/// which may arm a timer; a timer stopped meanwhile only makes it early,
/// and an early deadline costs one full `tick`, never a missed one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HostTimer {
    /// To be computed again (first, so that a new `Firmware` is all zeros).
    Unknown,
    /// No timer runs.
    Idle,
    At(Instant),
}

impl Default for Firmware {
    fn default() -> Self {
        Self::new()
    }
}

impl Firmware {
    pub const fn new() -> Self {
        Firmware {
            stack: Stack::new(),
            qpy: QuecPython::new(),
            pycom: Pycom::new(),
            latency: stats::LatencyHistogram::new(),
            host_timer: HostTimer::Unknown,
        }
    }

    /// Soft reset: forget everything.
    pub fn reset(&mut self) {
        self.stack.reset();
        self.qpy.reset();
        self.pycom.reset();
        self.latency = stats::LatencyHistogram::new();
        self.host_timer = HostTimer::Unknown;
    }

    /// Something may have armed a host timer: the deadline is computed
    /// again when next needed.
    pub fn timers_changed(&mut self) {
        self.host_timer = HostTimer::Unknown;
    }

    /// [`HostCore::next_deadline`], computed once per change.
    fn host_deadline(&mut self) -> Option<Instant> {
        match self.host_timer {
            HostTimer::Idle => None,
            HostTimer::At(d) => Some(d),
            HostTimer::Unknown => {
                let d = self.stack.host.core.next_deadline();
                self.host_timer = d.map_or(HostTimer::Idle, HostTimer::At);
                d
            }
        }
    }

    /// Hands the host's new events to every adapter.
    #[inline]
    fn dispatch(&mut self) {
        // Most ticks and many packets (credits, command answers) raise no
        // host event: tested here, the loop below costs a frame to enter.
        if self.stack.host.core.has_events() {
            self.dispatch_events();
        }
    }

    fn dispatch_events(&mut self) {
        let Firmware {
            stack, qpy, pycom, ..
        } = self;
        while let Some(ev) = stack.host.core.pop_event() {
            let Stack {
                host,
                out,
                events_dropped,
            } = &mut *stack;
            let mut emit = |e: &MpbleEvent| {
                let queued = out.push(e).is_ok();
                if !queued {
                    *events_dropped = events_dropped.wrapping_add(1);
                }
                queued
            };
            qpy.on_host_event(&ev, &host.core, &mut emit);
            pycom.on_host_event(&ev, &host.core, &mut emit);
            let now = host.core.now_ms();
            qpy.poll(&mut host.core, now);
            pycom.poll(&mut host.core, now);
        }
    }

    /// Runs one API call on the stack, then hands the host events it
    /// caused to the adapters.
    pub fn call<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        let r = f(self);
        self.after_call();
        r
    }

    /// What follows every API call, out of line: `call` is instantiated
    /// once per call of the C ABI.
    fn after_call(&mut self) {
        self.dispatch();
        self.timers_changed();
    }

    /// Takes controller bytes while the tuple queue has room for what the
    /// next packet may produce (`config::EVENT_BYTES_PER_PACKET` free
    /// bytes); returns how many bytes it took. The caller keeps the rest
    /// and offers it again once Python has drained events, so a peer that
    /// floods writes is slowed by flow control instead of having its data
    /// dropped (ARCHITECTURE rule 5).
    pub fn h4_rx(&mut self, data: &[u8], now: u32) -> usize {
        let mut used = 0;
        while used < data.len() && self.stack.takes_packet() {
            used += self.stack.host.h4_rx_one(&data[used..], now);
            self.dispatch();
        }
        self.timers_changed();
        used
    }

    /// The transport to the controller failed: every link ends and the
    /// host stops (QuecPython events 17, then 1 with a non-zero status).
    pub fn transport_lost(&mut self, now: u32) {
        self.stack.host.transport_lost(now);
        self.dispatch();
        self.timers_changed();
    }

    /// Time has passed: timers run. The host's run only when one is due
    /// (most ticks, one before every call of the port, find none).
    pub fn tick(&mut self, now: u32) {
        let due = self
            .host_deadline()
            .is_some_and(|d| d.is_reached(Instant::from_ms(now)));
        if due {
            self.stack.host.core.tick(now);
            self.timers_changed();
        } else {
            self.stack.host.core.set_now(now);
        }
        let q = self.qpy.poll(&mut self.stack.host.core, now);
        let p = self.pycom.poll(&mut self.stack.host.core, now);
        self.dispatch();
        if q || p {
            self.timers_changed();
        }
    }

    // The port's view, forwarded.

    pub fn state(&self) -> MpbleState {
        self.stack.state()
    }

    pub fn event_count(&self) -> usize {
        self.stack.event_count()
    }

    pub fn event_room(&self) -> usize {
        self.stack.event_room()
    }

    pub fn takes_packet(&self) -> bool {
        self.stack.takes_packet()
    }

    pub fn pop_event(&mut self) -> Option<MpbleEvent> {
        self.stack.pop_event()
    }

    pub fn pop_event_into(&mut self, out: &mut MpbleEvent) -> bool {
        self.stack.pop_event_into(out)
    }

    pub fn h4_tx(&mut self, out: &mut [u8]) -> usize {
        let (n, armed) = self.stack.host.core.h4_tx_timed(out);
        if armed {
            self.timers_changed();
        }
        n
    }

    pub fn next_timeout_ms(&mut self, now: u32) -> u32 {
        let host = self
            .host_deadline()
            .map_or(u32::MAX, |d| d.ms_until(Instant::from_ms(now)));
        // Plain calls, no iterator over the adapters: the port asks after
        // every call.
        let qpy = self.qpy.next_timeout_ms(now).unwrap_or(u32::MAX);
        let pycom = self.pycom.next_timeout_ms(now).unwrap_or(u32::MAX);
        host.min(qpy).min(pycom)
    }

    pub fn public_addr(&self) -> Option<[u8; 6]> {
        self.stack.public_addr()
    }

    /// Tuples the queue had no room for.
    pub fn events_dropped(&self) -> u32 {
        self.stack.events_dropped
    }
}
