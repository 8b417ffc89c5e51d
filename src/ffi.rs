//! The C ABI that the MicroPython port (micropython-port/) links against.
//!
//! This is the only file with `extern "C"`, raw pointers and `unsafe`.
//! `build.rs` turns it into `include/mpble.h` with cbindgen.
//!
//! Contract with the port:
//! - Every function is called from the MicroPython VM thread only (the port
//!   holds the GIL), so the core sees one caller at a time; the spin lock
//!   below only guards against misuse.
//! - The port feeds controller bytes with [`mpble_h4_rx`], writes out what
//!   [`mpble_h4_tx`] hands it, calls [`mpble_tick`] when
//!   [`mpble_next_timeout_ms`] says so, and after each of those (and after
//!   each API call) drains [`mpble_event_pop`] into Python callbacks.
//! - Integer arguments arrive as `i64` so that out-of-range Python ints are
//!   seen (and refused) by the Rust validation instead of being truncated.

// The crate denies `unsafe_code` (lib.rs); this file alone may use it,
// because a C ABI needs `#[no_mangle]` exports and raw pointers. Every
// `unsafe` block here carries a SAFETY comment.
#![allow(unsafe_code)]

use crate::api::event::{MpbleEvent, MpbleState};
use crate::api::Stack;
use spin::Mutex;

static STACK: Mutex<Stack> = Mutex::new(Stack::new());

fn with_stack<R>(f: impl FnOnce(&mut Stack) -> R) -> R {
    f(&mut STACK.lock())
}

/// Borrows `len` bytes at `ptr` as a slice; a null pointer is an empty slice.
///
/// # Safety
/// `ptr` must be null or valid for reads of `len` bytes for the call.
unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the caller (the C port) passes a buffer it owns, valid for
        // `len` bytes, that outlives this call (a Python buffer it holds).
        unsafe { core::slice::from_raw_parts(ptr, len) }
    }
}

// ---------------------------------------------------------------------------
// Transport and time (port -> core)
// ---------------------------------------------------------------------------

/// Forgets every piece of state (soft reset of the VM).
#[no_mangle]
pub extern "C" fn mpble_reset() {
    with_stack(|s| s.reset());
}

/// Starts controller bring-up (HCI Reset, reads, event masks). The port has
/// already opened the transport. Returns 0, or -1 if already started.
#[no_mangle]
pub extern "C" fn mpble_start(now_ms: u32) -> i32 {
    with_stack(|s| s.start(now_ms))
}

/// The host's life-cycle state.
#[no_mangle]
pub extern "C" fn mpble_state() -> MpbleState {
    with_stack(|s| s.state())
}

/// Bytes that arrived from the controller, H4 framed, in any fragmentation.
/// Returns how many were taken: fewer than `len` while the event queue is
/// too full for what the next packet may produce. The port keeps the rest
/// and offers it again after draining events to Python.
///
/// # Safety
/// `data` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_h4_rx(data: *const u8, len: usize, now_ms: u32) -> usize {
    // SAFETY: forwarded from this function's own contract.
    let data = unsafe { bytes(data, len) };
    with_stack(|s| s.h4_rx(data, now_ms))
}

/// Copies up to `cap` H4-framed bytes for the controller into `buf`;
/// returns how many. The port writes them out in order.
///
/// # Safety
/// `buf` must be valid for writes of `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_h4_tx(buf: *mut u8, cap: usize) -> usize {
    if buf.is_null() || cap == 0 {
        return 0;
    }
    // SAFETY: the port passes a writable buffer of `cap` bytes it owns.
    let out = unsafe { core::slice::from_raw_parts_mut(buf, cap) };
    with_stack(|s| s.h4_tx(out))
}

/// Time has passed: runs command timeouts and other timers.
#[no_mangle]
pub extern "C" fn mpble_tick(now_ms: u32) {
    with_stack(|s| s.tick(now_ms));
}

/// Milliseconds until [`mpble_tick`] is needed, or `u32::MAX` if no timer runs.
#[no_mangle]
pub extern "C" fn mpble_next_timeout_ms(now_ms: u32) -> u32 {
    with_stack(|s| s.next_timeout_ms(now_ms))
}

/// How many events wait for Python.
#[no_mangle]
pub extern "C" fn mpble_event_count() -> usize {
    with_stack(|s| s.event_count())
}

/// Moves the oldest pending event into `out`; false when there is none.
///
/// # Safety
/// `out` must be valid for writes of one `MpbleEvent`.
#[no_mangle]
pub unsafe extern "C" fn mpble_event_pop(out: *mut MpbleEvent) -> bool {
    if out.is_null() {
        return false;
    }
    match with_stack(|s| s.pop_event()) {
        Some(ev) => {
            // SAFETY: `out` is non-null and, per the contract, writable.
            unsafe { out.write(ev) };
            true
        }
        None => false,
    }
}

/// Copies the controller's BD_ADDR (LSB first, as in HCI) into `out`;
/// returns 0, or -1 before bring-up has read it.
///
/// # Safety
/// `out` must be valid for writes of 6 bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_public_addr(out: *mut u8) -> i32 {
    if out.is_null() {
        return -1;
    }
    match with_stack(|s| s.public_addr()) {
        Some(addr) => {
            // SAFETY: `out` is non-null and writable for 6 bytes per contract.
            unsafe { core::ptr::copy_nonoverlapping(addr.as_ptr(), out, 6) };
            0
        }
        None => -1,
    }
}

// ---------------------------------------------------------------------------
// QuecPython `ble` module. Each returns 0 (accepted) or -1 (refused; nothing
// changed), as the vendor firmware does.
// ---------------------------------------------------------------------------

/// `ble.serverInit(cb)`: selects the server role.
#[no_mangle]
pub extern "C" fn mpble_qpy_server_init() -> i32 {
    with_stack(|s| s.qpy.server_init())
}

/// `ble.serverRelease()`.
#[no_mangle]
pub extern "C" fn mpble_qpy_server_release() -> i32 {
    with_stack(|s| s.qpy.server_release())
}

/// `ble.clientInit(cb)`: selects the client role.
#[no_mangle]
pub extern "C" fn mpble_qpy_client_init() -> i32 {
    with_stack(|s| s.qpy.client_init())
}

/// `ble.clientRelease()`.
#[no_mangle]
pub extern "C" fn mpble_qpy_client_release() -> i32 {
    with_stack(|s| s.qpy.client_release())
}

/// `ble.gattStart()`: the port has opened the transport; starts bring-up.
/// Event 0 follows.
#[no_mangle]
pub extern "C" fn mpble_qpy_gatt_start(now_ms: u32) -> i32 {
    with_stack(|s| s.qpy_gatt_start(now_ms))
}

/// `ble.gattStop()`. Event 1 follows.
#[no_mangle]
pub extern "C" fn mpble_qpy_gatt_stop(now_ms: u32) -> i32 {
    with_stack(|s| s.qpy_gatt_stop(now_ms))
}

/// `ble.getStatus()`: 1 started, 0 stopped.
#[no_mangle]
pub extern "C" fn mpble_qpy_get_status() -> i32 {
    with_stack(|s| s.qpy_get_status())
}

/// `ble.setLocalName(code, name)`.
///
/// # Safety
/// `name` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_qpy_set_local_name(code: i64, name: *const u8, len: usize) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let name = unsafe { bytes(name, len) };
    with_stack(|s| s.qpy_set_local_name(code, name))
}

/// `ble.setAdvParam(min_adv, max_adv, adv_type, addr_type, channel,
/// filter_policy, discov_mode, no_br_edr, enable_adv)`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn mpble_qpy_set_adv_param(
    min_adv: i64,
    max_adv: i64,
    adv_type: i64,
    addr_type: i64,
    channel: i64,
    filter_policy: i64,
    discov_mode: i64,
    no_br_edr: i64,
    enable_adv: i64,
) -> i32 {
    with_stack(|s| {
        s.qpy_set_adv_param([
            min_adv,
            max_adv,
            adv_type,
            addr_type,
            channel,
            filter_policy,
            discov_mode,
            no_br_edr,
            enable_adv,
        ])
    })
}

/// `ble.setAdvData(data)`.
///
/// # Safety
/// `data` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_qpy_set_adv_data(data: *const u8, len: usize) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let data = unsafe { bytes(data, len) };
    with_stack(|s| s.qpy_set_adv_data(data, false))
}

/// `ble.setAdvRspData(data)`.
///
/// # Safety
/// `data` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_qpy_set_adv_rsp_data(data: *const u8, len: usize) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let data = unsafe { bytes(data, len) };
    with_stack(|s| s.qpy_set_adv_data(data, true))
}

/// `ble.addService(primary, server_id, uuid_type, uuid_s, uuid_l)`.
///
/// # Safety
/// `uuid_l` must be null or valid for reads of `uuid_l_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_qpy_add_service(
    primary: i64,
    server_id: i64,
    uuid_type: i64,
    uuid_s: i64,
    uuid_l: *const u8,
    uuid_l_len: usize,
) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let uuid_l = unsafe { bytes(uuid_l, uuid_l_len) };
    with_stack(|s| {
        s.qpy
            .add_service(primary, server_id, uuid_type, uuid_s, uuid_l)
    })
}

/// `ble.addChara(server_id, chara_id, chara_prop, uuid_type, uuid_s, uuid_l)`.
///
/// # Safety
/// `uuid_l` must be null or valid for reads of `uuid_l_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_qpy_add_chara(
    server_id: i64,
    chara_id: i64,
    chara_prop: i64,
    uuid_type: i64,
    uuid_s: i64,
    uuid_l: *const u8,
    uuid_l_len: usize,
) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let uuid_l = unsafe { bytes(uuid_l, uuid_l_len) };
    with_stack(|s| {
        s.qpy
            .add_chara(server_id, chara_id, chara_prop, uuid_type, uuid_s, uuid_l)
    })
}

/// `ble.addCharaValue(...)` (`is_desc` false) and `ble.addCharaDesc(...)`
/// (`is_desc` true): `(server_id, chara_id, permission, uuid_type, uuid_s,
/// uuid_l, value)`.
///
/// # Safety
/// `uuid_l` and `value` must be null or valid for reads of their lengths.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn mpble_qpy_add_chara_attr(
    is_desc: bool,
    server_id: i64,
    chara_id: i64,
    permission: i64,
    uuid_type: i64,
    uuid_s: i64,
    uuid_l: *const u8,
    uuid_l_len: usize,
    value: *const u8,
    value_len: usize,
) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let (uuid_l, value) = unsafe { (bytes(uuid_l, uuid_l_len), bytes(value, value_len)) };
    with_stack(|s| {
        s.qpy.add_chara_attr(
            is_desc, server_id, chara_id, permission, uuid_type, uuid_s, uuid_l, value,
        )
    })
}

/// `ble.changeCharaValue(server_id, chara_id, value)`.
///
/// # Safety
/// `value` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_qpy_change_chara_value(
    server_id: i64,
    chara_id: i64,
    value: *const u8,
    len: usize,
) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let value = unsafe { bytes(value, len) };
    with_stack(|s| s.qpy_change_chara_value(server_id, chara_id, value))
}

/// `ble.addOrClearService(option, mode)`.
#[no_mangle]
pub extern "C" fn mpble_qpy_add_or_clear_service(option: i64, mode: i64) -> i32 {
    with_stack(|s| s.qpy_add_or_clear_service(option, mode))
}

/// `ble.sendNotification(connect_id, attr_handle, value)` (`indicate`
/// false) and `ble.sendIndication(...)` (`indicate` true).
///
/// # Safety
/// `value` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_qpy_send(
    indicate: bool,
    connect_id: i64,
    attr_handle: i64,
    value: *const u8,
    len: usize,
    now_ms: u32,
) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let value = unsafe { bytes(value, len) };
    with_stack(|s| s.qpy_send(indicate, connect_id, attr_handle, value, now_ms))
}

/// `ble.advStart()`.
#[no_mangle]
pub extern "C" fn mpble_qpy_adv_start() -> i32 {
    with_stack(|s| s.qpy_adv_enable(true))
}

/// `ble.advStop()`.
#[no_mangle]
pub extern "C" fn mpble_qpy_adv_stop() -> i32 {
    with_stack(|s| s.qpy_adv_enable(false))
}

// ---------------------------------------------------------------------------
// QuecPython `ble` client (central) functions, reference §2.3.
// ---------------------------------------------------------------------------

/// `ble.setScanParam(scan_mode, interval, scan_window, filter_policy, addr_type)`.
#[no_mangle]
pub extern "C" fn mpble_qpy_set_scan_param(
    scan_mode: i64,
    interval: i64,
    scan_window: i64,
    filter_policy: i64,
    addr_type: i64,
) -> i32 {
    with_stack(|s| {
        s.qpy_set_scan_param([scan_mode, interval, scan_window, filter_policy, addr_type])
    })
}

/// `ble.scanStart()` (`enable` true) and `ble.scanStop()`. Event 19 reports.
#[no_mangle]
pub extern "C" fn mpble_qpy_scan(enable: bool) -> i32 {
    with_stack(|s| s.qpy_scan(enable))
}

/// `ble.setScanFilter(act)`.
#[no_mangle]
pub extern "C" fn mpble_qpy_set_scan_filter(act: i64) -> i32 {
    with_stack(|s| s.qpy.set_scan_filter(act))
}

/// `ble.connect(addr_type, addr)`. Event 16 follows.
///
/// # Safety
/// `addr` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_qpy_connect(addr_type: i64, addr: *const u8, len: usize) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let addr = unsafe { bytes(addr, len) };
    with_stack(|s| s.qpy_connect(addr_type, addr))
}

/// `ble.cancelConnect(addr)`.
///
/// # Safety
/// `addr` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_qpy_cancel_connect(addr: *const u8, len: usize) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let addr = unsafe { bytes(addr, len) };
    with_stack(|s| s.qpy_cancel_connect(addr))
}

/// `ble.disconnect(connect_id)`. Event 17 follows.
#[no_mangle]
pub extern "C" fn mpble_qpy_disconnect(connect_id: i64) -> i32 {
    with_stack(|s| s.qpy_disconnect(connect_id))
}

/// `ble.discoverAllService(connect_id)`. Events 27.
#[no_mangle]
pub extern "C" fn mpble_qpy_discover_all_service(connect_id: i64) -> i32 {
    with_stack(|s| s.qpy_client(|c, h| c.discover_all_service(h, connect_id)))
}

/// `ble.discoverByUUID(connect_id, uuid_type, uuid_s, uuid_l)`. Events 27.
///
/// # Safety
/// `uuid_l` must be null or valid for reads of `uuid_l_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_qpy_discover_by_uuid(
    connect_id: i64,
    uuid_type: i64,
    uuid_s: i64,
    uuid_l: *const u8,
    uuid_l_len: usize,
) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let uuid_l = unsafe { bytes(uuid_l, uuid_l_len) };
    with_stack(|s| {
        s.qpy_client(|c, h| c.discover_by_uuid(h, connect_id, uuid_type, uuid_s, uuid_l))
    })
}

/// `ble.discoverAllIncludes` (`which` 0), `ble.discoverAllChara` (1) and
/// `ble.discoverAllCharaDesc` (2): `(connect_id, start_handle, end_handle)`.
#[no_mangle]
pub extern "C" fn mpble_qpy_discover_range(
    which: u8,
    connect_id: i64,
    start: i64,
    end: i64,
) -> i32 {
    with_stack(|s| s.qpy_client(|c, h| c.discover_range(h, which, connect_id, start, end)))
}

/// `ble.readCharaByUUID(connect_id, start_handle, end_handle, uuid_type,
/// uuid_s, uuid_l)`. Event 33.
///
/// # Safety
/// `uuid_l` must be null or valid for reads of `uuid_l_len` bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn mpble_qpy_read_chara_by_uuid(
    connect_id: i64,
    start: i64,
    end: i64,
    uuid_type: i64,
    uuid_s: i64,
    uuid_l: *const u8,
    uuid_l_len: usize,
) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let uuid_l = unsafe { bytes(uuid_l, uuid_l_len) };
    with_stack(|s| {
        s.qpy_client(|c, h| c.read_by_uuid(h, connect_id, start, end, uuid_type, uuid_s, uuid_l))
    })
}

/// `ble.readCharaByHandle(connect_id, handle, offset, is_long)`. Event 32.
#[no_mangle]
pub extern "C" fn mpble_qpy_read_chara_by_handle(
    connect_id: i64,
    handle: i64,
    offset: i64,
    is_long: i64,
) -> i32 {
    with_stack(|s| s.qpy_client(|c, h| c.read_by_handle(h, connect_id, handle, offset, is_long)))
}

/// `ble.readCharaDesc(connect_id, handle, is_long)`. Event 36.
#[no_mangle]
pub extern "C" fn mpble_qpy_read_chara_desc(connect_id: i64, handle: i64, is_long: i64) -> i32 {
    with_stack(|s| s.qpy_client(|c, h| c.read_desc(h, connect_id, handle, is_long)))
}

/// `ble.readMultiChara(connect_id, handles)`. Event 34.
///
/// # Safety
/// `handles` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_qpy_read_multi_chara(
    connect_id: i64,
    handles: *const u8,
    len: usize,
) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let handles = unsafe { bytes(handles, len) };
    with_stack(|s| s.qpy_client(|c, h| c.read_multi(h, connect_id, handles)))
}

/// `ble.writeChara(connect_id, handle, offset, is_long, data)` (`desc`
/// false, event 30) and `ble.writeCharaDesc(connect_id, handle, data)`
/// (`desc` true, offset 0, not long, event 35).
///
/// # Safety
/// `data` must be null or valid for reads of `len` bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn mpble_qpy_write_chara(
    desc: bool,
    connect_id: i64,
    handle: i64,
    offset: i64,
    is_long: i64,
    data: *const u8,
    len: usize,
) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let data = unsafe { bytes(data, len) };
    with_stack(|s| s.qpy_client(|c, h| c.write(h, desc, connect_id, handle, offset, is_long, data)))
}

/// `ble.writeCharaNoRsp(connect_id, handle, data)`. Event 31.
///
/// # Safety
/// `data` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_qpy_write_chara_no_rsp(
    connect_id: i64,
    handle: i64,
    data: *const u8,
    len: usize,
) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let data = unsafe { bytes(data, len) };
    with_stack(|s| s.qpy_write_no_rsp(connect_id, handle, data))
}

/// `ble.exchangeMtu(connect_id, mtu_size)`. Event 20.
#[no_mangle]
pub extern "C" fn mpble_qpy_exchange_mtu(connect_id: i64, mtu: i64) -> i32 {
    with_stack(|s| s.qpy_client(|c, h| c.exchange_mtu(h, connect_id, mtu)))
}

// ---------------------------------------------------------------------------
// Runtime support for the no_std staticlib.
// ---------------------------------------------------------------------------

#[cfg(not(any(test, feature = "std")))]
extern "C" {
    /// Provided by the port: report a fatal internal error and stop. Reached
    /// only on a bug in the core (input never panics, ARCHITECTURE rule 6).
    fn mpble_port_fatal(msg: *const u8, len: usize) -> !;
}

#[cfg(not(any(test, feature = "std")))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    const MSG: &[u8] = b"mpble: internal error (Rust panic)";
    // SAFETY: the port provides `mpble_port_fatal`; MSG is a static buffer.
    unsafe { mpble_port_fatal(MSG.as_ptr(), MSG.len()) }
}
