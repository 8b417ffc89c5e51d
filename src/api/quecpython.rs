//! QuecPython `ble` semantics (stub; being written).
pub struct QuecPython {}
#[allow(clippy::too_many_arguments)]
impl QuecPython {
    pub const fn new() -> Self {
        QuecPython {}
    }
    pub fn server_init(&mut self) -> i32 { -1 }
    pub fn server_release(&mut self) -> i32 { -1 }
    pub fn client_init(&mut self) -> i32 { -1 }
    pub fn client_release(&mut self) -> i32 { -1 }
    pub fn add_service(&mut self, _p: i64, _s: i64, _t: i64, _u: i64, _l: &[u8]) -> i32 { -1 }
    pub fn add_chara(&mut self, _s: i64, _c: i64, _p: i64, _t: i64, _u: i64, _l: &[u8]) -> i32 { -1 }
    pub fn add_chara_attr(&mut self, _d: bool, _s: i64, _c: i64, _p: i64, _t: i64, _u: i64, _l: &[u8], _v: &[u8]) -> i32 { -1 }
}
