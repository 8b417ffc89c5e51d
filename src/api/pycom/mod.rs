//! Pycom `network.Bluetooth` semantics (shared/reference/pycom-bluetooth-api.md).
//!
//! Only the constructor exists so far: `Bluetooth()` brings the controller
//! up through [`crate::api::Stack::start`] and waits for it in the port.
//! The advertisement FIFO, event bit flags and GATTS/GATTC objects come
//! with the Pycom issue.

use super::event::MpbleEvent;
use super::Adapter;
use crate::host::{HostCore, HostEvent};

/// The Pycom adapter's state (none yet).
#[derive(Default)]
pub struct Pycom;

impl Pycom {
    pub const fn new() -> Self {
        Pycom
    }
}

impl Adapter for Pycom {
    fn on_host_event(
        &mut self,
        _ev: &HostEvent,
        _core: &HostCore,
        _emit: &mut dyn FnMut(MpbleEvent),
    ) {
    }

    fn reset(&mut self) {}
}
