//! mpble: a Bluetooth Low Energy host that MicroPython links as a static
//! library.
//!
//! The core is sans-IO (see `host`): bytes from the controller go in, bytes
//! for the controller and events for Python come out, and time is given by
//! the caller. Layers depend downwards only:
//! `hci` <- `l2cap` <- `att` <- `gatt` <- `gap`/`host` <- `api` <- `ffi`.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
// `unsafe` lives only in the C ABI (ffi.rs, which allows it); anywhere
// else it is a compile error.
#![deny(unsafe_code)]
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod bytes;
pub mod config;
pub mod ring;
pub mod time;
pub mod uuid;

pub mod api;
pub mod att;
pub mod ffi;
pub mod gap;
pub mod gatt;
pub mod hci;
pub mod host;
pub mod l2cap;
pub mod smp;

#[cfg(any(test, feature = "std"))]
pub mod testing;
