//! Vendor API semantics on top of the host. The adapters share the core and
//! never reach into each other.
//!
//! [`Stack`] owns the host and the adapters. After every input (controller
//! bytes, time, an API call) it hands each new host event to the adapters
//! at once, so their state machines move in step with the host; what they
//! produce waits in one bounded queue for the port to call Python.
pub mod event;
pub mod pycom;
pub mod quecpython;

#[cfg(test)]
mod tests;

use crate::config;
use crate::host::{Host, HostState};
use event::{MpbleEvent, MpbleState};
use heapless::Deque;
use quecpython::QuecPython;

pub struct Stack {
    pub host: Host,
    pub qpy: QuecPython,
    out: Deque<MpbleEvent, { config::EVENT_QUEUE }>,
    /// Events the port had no room for (never dropped silently).
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
            qpy: QuecPython::new(),
            out: Deque::new(),
            events_dropped: 0,
        }
    }

    /// Soft reset: forget everything.
    pub fn reset(&mut self) {
        self.host.reset();
        self.qpy = QuecPython::new();
        self.out.clear();
    }

    fn queue(&mut self, ev: Option<MpbleEvent>) {
        if let Some(ev) = ev {
            if self.out.push_back(ev).is_err() {
                self.events_dropped = self.events_dropped.wrapping_add(1);
            }
        }
    }

    /// Hands the host's new events to the adapters.
    fn dispatch(&mut self) {
        while let Some(ev) = self.host.core.pop_event() {
            let Stack {
                host,
                qpy,
                out,
                events_dropped,
            } = self;
            qpy.on_host_event(&ev, &host.core, &mut |e| {
                if out.push_back(e).is_err() {
                    *events_dropped = events_dropped.wrapping_add(1);
                }
            });
        }
        // Client calls queued behind a finished one start now.
        let target = self.qpy.target();
        let Stack {
            host,
            qpy,
            out,
            events_dropped,
        } = self;
        qpy.client.pump(&mut host.core, target, &mut |e| {
            if out.push_back(e).is_err() {
                *events_dropped = events_dropped.wrapping_add(1);
            }
        });
    }

    pub fn start(&mut self, now: u32) -> i32 {
        let r = self.host.core.start(now);
        self.dispatch();
        quecpython::result(r.map(|_| ()))
    }

    /// The transport to the controller failed: every link ends and the
    /// host stops (QuecPython events 17, then 1 with a non-zero status).
    pub fn transport_lost(&mut self, now: u32) {
        self.host.transport_lost(now);
        self.dispatch();
    }

    pub fn state(&self) -> MpbleState {
        match self.host.state() {
            HostState::Off => MpbleState::Off,
            HostState::Starting => MpbleState::Starting,
            HostState::Ready | HostState::Stopping => MpbleState::Ready,
            HostState::Failed => MpbleState::Failed,
        }
    }

    /// Takes controller bytes while the event queue has room for what the
    /// next packet may produce; returns how many bytes it took. The caller
    /// keeps the rest and offers it again once Python has drained events,
    /// so a peer that floods writes is slowed by flow control instead of
    /// having its data dropped (ARCHITECTURE rule 5).
    pub fn h4_rx(&mut self, data: &[u8], now: u32) -> usize {
        let mut used = 0;
        while used < data.len() && self.event_room() >= config::EVENTS_PER_PACKET_MAX {
            used += self.host.h4_rx_one(&data[used..], now);
            self.dispatch();
        }
        used
    }

    /// Events waiting for Python.
    pub fn event_count(&self) -> usize {
        self.out.len()
    }

    /// Free slots in the event queue.
    pub fn event_room(&self) -> usize {
        config::EVENT_QUEUE - self.out.len()
    }

    pub fn h4_tx(&mut self, out: &mut [u8]) -> usize {
        self.host.core.h4_tx(out)
    }

    pub fn tick(&mut self, now: u32) {
        self.host.core.tick(now);
        self.dispatch();
    }

    pub fn next_timeout_ms(&self, now: u32) -> u32 {
        self.host.core.next_timeout_ms(now)
    }

    pub fn pop_event(&mut self) -> Option<MpbleEvent> {
        self.out.pop_front()
    }

    pub fn public_addr(&self) -> Option<[u8; 6]> {
        self.host.core.controller().map(|i| i.bd_addr)
    }

    // -- QuecPython calls that need the host --------------------------------

    pub fn qpy_gatt_start(&mut self, now: u32) -> i32 {
        if self.qpy.role() == quecpython::Role::None {
            return -1;
        }
        self.start(now)
    }

    pub fn qpy_gatt_stop(&mut self, now: u32) -> i32 {
        let r = self.host.core.stop(now);
        self.dispatch();
        quecpython::result(r)
    }

    /// `getStatus()`: 1 while the stack runs (bring-up counts: the client
    /// demo polls right after `gattStart` and quits on 0), else 0.
    pub fn qpy_get_status(&self) -> i32 {
        match self.host.state() {
            HostState::Starting | HostState::Ready | HostState::Stopping => 1,
            HostState::Off | HostState::Failed => 0,
        }
    }

    pub fn qpy_set_local_name(&mut self, code: i64, name: &[u8]) -> i32 {
        self.qpy.set_local_name(&mut self.host.core.db, code, name)
    }

    pub fn qpy_set_adv_param(&mut self, p: [i64; 9]) -> i32 {
        self.qpy.set_adv_param(&mut self.host.core, p)
    }

    pub fn qpy_set_adv_data(&mut self, d: &[u8], scan_response: bool) -> i32 {
        self.qpy.set_adv_data(&mut self.host.core, d, scan_response)
    }

    pub fn qpy_change_chara_value(&mut self, server_id: i64, chara_id: i64, v: &[u8]) -> i32 {
        self.qpy
            .change_chara_value(&mut self.host.core.db, server_id, chara_id, v)
    }

    pub fn qpy_add_or_clear_service(&mut self, option: i64, mode: i64) -> i32 {
        self.qpy
            .add_or_clear_service(&mut self.host.core.db, option, mode)
    }

    /// `sendNotification` / `sendIndication`. A notification's event 25
    /// follows once it is queued for the controller; an indication's when
    /// the peer confirms it (Vol 3 Part F 3.4.7.2). A second indication
    /// before the confirmation is refused (-1), and the first is not lost.
    pub fn qpy_send(
        &mut self,
        indicate: bool,
        connect_id: i64,
        attr_handle: i64,
        v: &[u8],
        now: u32,
    ) -> i32 {
        if !(0..config::MAX_CONNECTIONS as i64).contains(&connect_id)
            || !(1..=0xFFFF).contains(&attr_handle)
        {
            return -1;
        }
        let r = self.host.core.send_handle_value(
            connect_id as usize,
            attr_handle as u16,
            v,
            indicate,
            now,
        );
        if r.is_ok() && !indicate {
            let ev = self.qpy.send_end();
            self.queue(ev);
        }
        self.dispatch();
        quecpython::result(r)
    }

    pub fn qpy_set_scan_param(&mut self, p: [i64; 5]) -> i32 {
        self.qpy.set_scan_param(&mut self.host.core, p)
    }

    pub fn qpy_scan(&mut self, enable: bool) -> i32 {
        let r = self.qpy.scan(&mut self.host.core, enable);
        self.dispatch();
        r
    }

    pub fn qpy_connect(&mut self, addr_type: i64, addr: &[u8]) -> i32 {
        let r = self.qpy.connect(&mut self.host.core, addr_type, addr);
        self.dispatch();
        r
    }

    pub fn qpy_cancel_connect(&mut self, addr: &[u8]) -> i32 {
        let r = self.qpy.cancel_connect(&mut self.host.core, addr);
        self.dispatch();
        r
    }

    pub fn qpy_disconnect(&mut self, connect_id: i64) -> i32 {
        let r = self.qpy.disconnect(&mut self.host.core, connect_id);
        self.dispatch();
        r
    }

    /// A QuecPython client GATT call: `f` gets the client side of the
    /// adapter and the host.
    pub fn qpy_client(
        &mut self,
        f: impl FnOnce(&mut quecpython::client::Client, &mut crate::host::HostCore) -> i32,
    ) -> i32 {
        let r = f(&mut self.qpy.client, &mut self.host.core);
        self.dispatch();
        r
    }

    /// `writeCharaNoRsp`: event 31 follows once the Write Command is queued
    /// for the controller.
    pub fn qpy_write_no_rsp(&mut self, connect_id: i64, handle: i64, data: &[u8]) -> i32 {
        let r = self
            .qpy
            .client
            .write_no_rsp(&mut self.host.core, connect_id, handle, data);
        if r == 0 {
            if let Some(target) = self.qpy.target() {
                let mut ev = MpbleEvent::new(target);
                if ev
                    .int(quecpython::event_id::BLE_GATT_CHARA_WRITE_WITHOUT_RSP_IND)
                    .and_then(|e| e.int(0))
                    .is_ok()
                {
                    self.queue(Some(ev));
                }
            }
        }
        self.dispatch();
        r
    }

    pub fn qpy_adv_enable(&mut self, on: bool) -> i32 {
        let r = self.host.core.advertise(on);
        self.dispatch();
        quecpython::result(r)
    }
}
