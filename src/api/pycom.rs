//! Pycom `network.Bluetooth` semantics (shared/reference/pycom-bluetooth-api.md).
//!
//! Only the constructor exists so far: `Bluetooth()` brings the controller
//! up through [`crate::api::Stack::start`] and waits for it in the port.
//! The advertisement FIFO, event bit flags and GATTS/GATTC objects come
//! with the Pycom issue.
