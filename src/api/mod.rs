//! Vendor API semantics on top of the host. The adapters share the core and
//! never reach into each other.
pub mod pycom;
pub mod quecpython;

use crate::ffi::{MpbleEvent, MpbleState};

/// The host plus the vendor adapters: everything `ffi` drives.
pub struct Stack {
    pub qpy: quecpython::QuecPython,
}

impl Default for Stack {
    fn default() -> Self {
        Self::new()
    }
}

#[allow(clippy::new_without_default)]
impl Stack {
    pub const fn new() -> Self {
        Stack {
            qpy: quecpython::QuecPython::new(),
        }
    }
    pub fn reset(&mut self) {}
    pub fn start(&mut self, _now: u32) -> i32 {
        -1
    }
    pub fn state(&self) -> MpbleState {
        MpbleState::Off
    }
    pub fn h4_rx(&mut self, _data: &[u8], _now: u32) {}
    pub fn h4_tx(&mut self, _out: &mut [u8]) -> usize {
        0
    }
    pub fn tick(&mut self, _now: u32) {}
    pub fn next_timeout_ms(&self, _now: u32) -> u32 {
        u32::MAX
    }
    pub fn pop_event(&mut self) -> Option<MpbleEvent> {
        None
    }
    pub fn public_addr(&self) -> Option<[u8; 6]> {
        None
    }
    pub fn qpy_gatt_start(&mut self, _now: u32) -> i32 {
        -1
    }
    pub fn qpy_gatt_stop(&mut self, _now: u32) -> i32 {
        -1
    }
    pub fn qpy_get_status(&self) -> i32 {
        0
    }
    pub fn qpy_set_local_name(&mut self, _code: i64, _name: &[u8]) -> i32 {
        -1
    }
    pub fn qpy_set_adv_param(&mut self, _p: [i64; 9]) -> i32 {
        -1
    }
    pub fn qpy_set_adv_data(&mut self, _d: &[u8], _rsp: bool) -> i32 {
        -1
    }
    pub fn qpy_change_chara_value(&mut self, _s: i64, _c: i64, _v: &[u8]) -> i32 {
        -1
    }
    pub fn qpy_add_or_clear_service(&mut self, _o: i64, _m: i64) -> i32 {
        -1
    }
    pub fn qpy_send(&mut self, _i: bool, _c: i64, _h: i64, _v: &[u8]) -> i32 {
        -1
    }
    pub fn qpy_adv_enable(&mut self, _on: bool) -> i32 {
        -1
    }
}
