//! The `ble` calls as one-liners on a [`Firmware`], for tests and host
//! tools (the fuzz targets, the benches): each runs the adapter's call
//! through [`Firmware::call`], as the C ABI does.

use crate::api::Firmware;

pub trait QpyCalls {
    fn qpy_gatt_start(&mut self, now: u32) -> i32;
    fn qpy_gatt_stop(&mut self, now: u32) -> i32;
    fn qpy_get_status(&self) -> i32;
    fn qpy_set_local_name(&mut self, code: i64, name: &[u8]) -> i32;
    fn qpy_set_adv_param(&mut self, p: [i64; 9]) -> i32;
    fn qpy_set_adv_data(&mut self, d: &[u8], scan_response: bool) -> i32;
    fn qpy_change_chara_value(&mut self, server_id: i64, chara_id: i64, v: &[u8]) -> i32;
    fn qpy_add_or_clear_service(&mut self, option: i64, mode: i64) -> i32;
    fn qpy_send(&mut self, indicate: bool, conn: i64, handle: i64, v: &[u8], now: u32) -> i32;
    fn qpy_set_scan_param(&mut self, p: [i64; 5]) -> i32;
    fn qpy_scan(&mut self, enable: bool) -> i32;
    fn qpy_connect(&mut self, addr_type: i64, addr: &[u8]) -> i32;
    fn qpy_cancel_connect(&mut self, addr: &[u8]) -> i32;
    fn qpy_disconnect(&mut self, connect_id: i64) -> i32;
    fn qpy_client(
        &mut self,
        f: impl FnOnce(&mut super::client::Client, &mut crate::host::HostCore) -> i32,
    ) -> i32;
    fn qpy_write_no_rsp(&mut self, connect_id: i64, handle: i64, data: &[u8]) -> i32;
    fn qpy_adv_enable(&mut self, on: bool) -> i32;
}

impl QpyCalls for Firmware {
    fn qpy_gatt_start(&mut self, now: u32) -> i32 {
        self.call(|f| f.qpy.gatt_start(&mut f.stack, now))
    }
    fn qpy_gatt_stop(&mut self, now: u32) -> i32 {
        self.call(|f| f.qpy.gatt_stop(&mut f.stack, now))
    }
    fn qpy_get_status(&self) -> i32 {
        self.qpy.get_status(&self.stack)
    }
    fn qpy_set_local_name(&mut self, code: i64, name: &[u8]) -> i32 {
        self.call(|f| f.qpy.set_local_name(&mut f.stack.host.core.db, code, name))
    }
    fn qpy_set_adv_param(&mut self, p: [i64; 9]) -> i32 {
        self.call(|f| f.qpy.set_adv_param(f.stack.core(), p))
    }
    fn qpy_set_adv_data(&mut self, d: &[u8], scan_response: bool) -> i32 {
        self.call(|f| f.qpy.set_adv_data(f.stack.core(), d, scan_response))
    }
    fn qpy_change_chara_value(&mut self, server_id: i64, chara_id: i64, v: &[u8]) -> i32 {
        self.call(|f| {
            f.qpy
                .change_chara_value(&mut f.stack.host.core.db, server_id, chara_id, v)
        })
    }
    fn qpy_add_or_clear_service(&mut self, option: i64, mode: i64) -> i32 {
        self.call(|f| {
            f.qpy
                .add_or_clear_service(&mut f.stack.host.core.db, option, mode)
        })
    }
    fn qpy_send(&mut self, indicate: bool, conn: i64, handle: i64, v: &[u8], now: u32) -> i32 {
        self.call(|f| f.qpy.send(&mut f.stack, indicate, conn, handle, v, now))
    }
    fn qpy_set_scan_param(&mut self, p: [i64; 5]) -> i32 {
        self.call(|f| f.qpy.set_scan_param(f.stack.core(), p))
    }
    fn qpy_scan(&mut self, enable: bool) -> i32 {
        self.call(|f| f.qpy.scan(f.stack.core(), enable))
    }
    fn qpy_connect(&mut self, addr_type: i64, addr: &[u8]) -> i32 {
        self.call(|f| f.qpy.connect(f.stack.core(), addr_type, addr))
    }
    fn qpy_cancel_connect(&mut self, addr: &[u8]) -> i32 {
        self.call(|f| f.qpy.cancel_connect(f.stack.core(), addr))
    }
    fn qpy_disconnect(&mut self, connect_id: i64) -> i32 {
        self.call(|f| f.qpy.disconnect(f.stack.core(), connect_id))
    }
    fn qpy_client(
        &mut self,
        g: impl FnOnce(&mut super::client::Client, &mut crate::host::HostCore) -> i32,
    ) -> i32 {
        self.call(|f| g(&mut f.qpy.client, f.stack.core()))
    }
    fn qpy_write_no_rsp(&mut self, connect_id: i64, handle: i64, data: &[u8]) -> i32 {
        self.call(|f| f.qpy.write_no_rsp(&mut f.stack, connect_id, handle, data))
    }
    fn qpy_adv_enable(&mut self, on: bool) -> i32 {
        self.call(|f| f.qpy.adv_enable(&mut f.stack, on))
    }
}
