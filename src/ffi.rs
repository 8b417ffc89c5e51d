//! The C ABI that the MicroPython port (micropython-port/) links against.
//!
//! This is the only file with `extern "C"`, raw pointers and `unsafe`.
//! `build.rs` turns it into `include/mpble.h` with cbindgen.
//!
//! Contract with the port (micropython-port/mpble_port.h states the port's
//! side of it):
//! - Every function may be called from any thread (the VM's, or the
//!   transport's reader, which pumps the core itself), but always with the
//!   port's lock held, so the core sees one caller at a time. The core never
//!   waits for its own lock: [`with_stack`] only tries it, and finding it
//!   taken means the port broke this rule, a bug that is reported (through
//!   `mpble_port_fatal` in the firmware) instead of spun on: a spin could
//!   deadlock with the thread it waits for, or hide the race.
//! - Nothing blocks while the port's lock is held: the port takes from
//!   [`mpble_h4_tx`] only what its transport can queue without blocking;
//!   the rest stays, in order, in the core's H4 transmit buffer.
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

use crate::api::event::{
    MpbleEvent, MpblePycomAdv, MpblePycomAdvert, MpblePycomRecord, MpbleState, MpbleStats,
    MpbleTarget, MpbleValueKind, MPBLE_EVENT_MAX_ARGS,
};
use crate::api::Firmware;
use crate::host::HostError;
use spin::Mutex;

static FIRMWARE: Mutex<Firmware> = Mutex::new(Firmware::new());

/// Runs `f` on the one `Firmware`. The port's lock serialises every
/// caller, so its own lock is always free here; if it is not, two threads
/// are inside the core at once and the port has a bug: stop, never spin.
fn with_stack<R>(f: impl FnOnce(&mut Firmware) -> R) -> R {
    match FIRMWARE.try_lock() {
        Some(mut fw) => f(&mut fw),
        None => concurrent_call(),
    }
}

/// The port called into the core while another call was still inside it.
#[cold]
fn concurrent_call() -> ! {
    const MSG: &str =
        "concurrent call into the core: the port must hold its lock for every mpble_* call";
    #[cfg(not(any(test, feature = "std")))]
    {
        // SAFETY: the port provides `mpble_port_fatal`; MSG is a static buffer.
        unsafe { mpble_port_fatal(MSG.as_ptr(), MSG.len()) }
    }
    #[cfg(any(test, feature = "std"))]
    panic!("{MSG}");
}

/// One API call: the adapter acts on the stack, then the adapters see
/// the host events it caused.
fn call<R>(f: impl FnOnce(&mut Firmware) -> R) -> R {
    with_stack(|fw| fw.call(f))
}

/// A core result as the C ABI returns it: 0, or -1 when refused.
fn status(r: Result<(), HostError>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(_) => -1,
    }
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
    call(|f| status(f.stack.start(now_ms)))
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

/// The transport to the controller failed (its byte stream closed or
/// broke). Call once, after feeding what arrived before the failure: every
/// link ends and the host stops (QuecPython: event 17 for each link, then
/// event 1 with a non-zero status); queued commands and data are dropped.
/// [`mpble_start`] works again once the port has reopened a transport.
#[no_mangle]
pub extern "C" fn mpble_transport_lost(now_ms: u32) {
    with_stack(|s| s.transport_lost(now_ms));
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
    // The event is decoded straight into the port's buffer: no copy of a
    // whole `MpbleEvent` (most of it an unused payload) per pop.
    // SAFETY: `out` is non-null and, per the contract, valid for reads and
    // writes of one `MpbleEvent`, aligned, and used by no one else during
    // the call. A Rust reference needs every field valid for its type, and
    // the port's buffer may hold any bytes: the enum fields (`target`, each
    // value's `kind`) are first written with valid values, through raw
    // pointers (no reference to the buffer exists yet); every other field
    // is an integer or a byte array, valid for any bits.
    let ev = unsafe {
        core::ptr::addr_of_mut!((*out).target).write(MpbleTarget::QpyServer);
        for i in 0..MPBLE_EVENT_MAX_ARGS {
            core::ptr::addr_of_mut!((*out).args[i].kind).write(MpbleValueKind::None);
        }
        &mut *out
    };
    with_stack(|s| s.pop_event_into(ev))
}

/// Fills `out` with every drop counter of the stack (README
/// "Diagnostics"); `out->size` says how much of the struct the core knows.
///
/// # Safety
/// `out` must be null or valid for writes of one `MpbleStats`.
#[no_mangle]
pub unsafe extern "C" fn mpble_stats(out: *mut MpbleStats) {
    if out.is_null() {
        return;
    }
    let stats = with_stack(|s| s.stats());
    // SAFETY: `out` is non-null and, per the contract, writable.
    unsafe { out.write(stats) };
}

/// Records one callback's latency in µs (the port measures it: from the
/// arrival of the packet that caused the event to the start of the Python
/// callback); `mpble_stats` reports count, p50, p99 and max.
#[no_mangle]
pub extern "C" fn mpble_latency_record(us: u32) {
    with_stack(|s| s.latency.record(us));
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
// Bonds and the port's key store (src/host/bonds.rs). The core never touches
// the store: the port imports what it stored when BLE starts, and exports
// the table whenever mpble_bonds_dirty() says it changed.
// ---------------------------------------------------------------------------

/// The largest bond blob: a buffer this long always takes an export.
/// (A literal, so that cbindgen writes it into the header.)
pub const MPBLE_BONDS_BLOB_MAX: usize = 598;
const _: () = assert!(MPBLE_BONDS_BLOB_MAX == crate::host::bonds::BLOB_MAX);

/// The bond table changed since the last [`mpble_bonds_export`].
#[no_mangle]
pub extern "C" fn mpble_bonds_dirty() -> bool {
    with_stack(|f| f.stack.host.core.bonds.dirty())
}

/// The port has imported its store since the last reset (or found none and
/// said so with [`mpble_bonds_import`] of nothing).
#[no_mangle]
pub extern "C" fn mpble_bonds_loaded() -> bool {
    with_stack(|f| f.stack.host.core.bonds.loaded())
}

/// Writes the bond table as a blob into `out` (`cap` bytes, at least
/// [`MPBLE_BONDS_BLOB_MAX`]) and clears the dirty mark; returns its length,
/// or 0 if `cap` is too short.
///
/// # Safety
/// `out` must be valid for writes of `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_bonds_export(out: *mut u8, cap: usize) -> usize {
    if out.is_null() {
        return 0;
    }
    // SAFETY: `out` is non-null and writable for `cap` bytes per contract,
    // owned by the port for the call.
    let out = unsafe { core::slice::from_raw_parts_mut(out, cap) };
    with_stack(|f| f.stack.host.core.bonds.export(out))
}

/// Replaces the bond table with the blob the port stored (`len` 0: no
/// store yet, the table is left empty). Returns how many bonds were
/// imported, or -1 when the blob is not a bond blob of a version this
/// firmware reads. Either way the table counts as loaded.
///
/// # Safety
/// `data` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_bonds_import(data: *const u8, len: usize) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let blob = unsafe { bytes(data, len) };
    with_stack(|f| {
        let bonds = &mut f.stack.host.core.bonds;
        if blob.is_empty() {
            bonds.mark_loaded();
            return 0;
        }
        match bonds.import(blob) {
            Ok(n) => n as i32,
            Err(_) => -1,
        }
    })
}

// ---------------------------------------------------------------------------
// QuecPython `ble` module. Each returns 0 (accepted) or -1 (refused; nothing
// changed), as the vendor firmware does.
// ---------------------------------------------------------------------------

/// `ble.serverInit(cb)`: selects the server role.
#[no_mangle]
pub extern "C" fn mpble_qpy_server_init() -> i32 {
    call(|f| f.qpy.server_init())
}

/// `ble.serverRelease()`.
#[no_mangle]
pub extern "C" fn mpble_qpy_server_release() -> i32 {
    call(|f| f.qpy.server_release())
}

/// `ble.clientInit(cb)`: selects the client role.
#[no_mangle]
pub extern "C" fn mpble_qpy_client_init() -> i32 {
    call(|f| f.qpy.client_init())
}

/// `ble.clientRelease()`.
#[no_mangle]
pub extern "C" fn mpble_qpy_client_release() -> i32 {
    call(|f| f.qpy.client_release())
}

/// `ble.gattStart()`: the port has opened the transport; starts bring-up.
/// Event 0 follows.
#[no_mangle]
pub extern "C" fn mpble_qpy_gatt_start(now_ms: u32) -> i32 {
    call(|f| f.qpy.gatt_start(&mut f.stack, now_ms))
}

/// `ble.gattStop()`. Event 1 follows.
#[no_mangle]
pub extern "C" fn mpble_qpy_gatt_stop(now_ms: u32) -> i32 {
    call(|f| f.qpy.gatt_stop(&mut f.stack, now_ms))
}

/// `ble.getStatus()`: 1 started, 0 stopped.
#[no_mangle]
pub extern "C" fn mpble_qpy_get_status() -> i32 {
    call(|f| f.qpy.get_status(&f.stack))
}

/// `ble.setLocalName(code, name)`.
///
/// # Safety
/// `name` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_qpy_set_local_name(code: i64, name: *const u8, len: usize) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let name = unsafe { bytes(name, len) };
    call(|f| f.qpy.set_local_name(&mut f.stack.host.core.db, code, name))
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
    call(|f| {
        f.qpy.set_adv_param(
            f.stack.core(),
            [
                min_adv,
                max_adv,
                adv_type,
                addr_type,
                channel,
                filter_policy,
                discov_mode,
                no_br_edr,
                enable_adv,
            ],
        )
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
    call(|f| f.qpy.set_adv_data(f.stack.core(), data, false))
}

/// `ble.setAdvRspData(data)`.
///
/// # Safety
/// `data` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_qpy_set_adv_rsp_data(data: *const u8, len: usize) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let data = unsafe { bytes(data, len) };
    call(|f| f.qpy.set_adv_data(f.stack.core(), data, true))
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
    call(|f| {
        f.qpy
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
    call(|f| {
        f.qpy
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
    call(|f| {
        f.qpy.add_chara_attr(
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
    call(|f| {
        f.qpy
            .change_chara_value(&mut f.stack.host.core.db, server_id, chara_id, value)
    })
}

/// `ble.addOrClearService(option, mode)`.
#[no_mangle]
pub extern "C" fn mpble_qpy_add_or_clear_service(option: i64, mode: i64) -> i32 {
    call(|f| {
        f.qpy
            .add_or_clear_service(&mut f.stack.host.core.db, option, mode)
    })
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
    call(|f| {
        f.qpy.send(
            &mut f.stack,
            indicate,
            connect_id,
            attr_handle,
            value,
            now_ms,
        )
    })
}

/// `ble.advStart()`.
#[no_mangle]
pub extern "C" fn mpble_qpy_adv_start() -> i32 {
    call(|f| f.qpy.adv_enable(&mut f.stack, true))
}

/// `ble.advStop()`.
#[no_mangle]
pub extern "C" fn mpble_qpy_adv_stop() -> i32 {
    call(|f| f.qpy.adv_enable(&mut f.stack, false))
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
    call(|f| {
        f.qpy.set_scan_param(
            f.stack.core(),
            [scan_mode, interval, scan_window, filter_policy, addr_type],
        )
    })
}

/// `ble.scanStart()` (`enable` true) and `ble.scanStop()`. Event 19 reports.
#[no_mangle]
pub extern "C" fn mpble_qpy_scan(enable: bool) -> i32 {
    call(|f| f.qpy.scan(f.stack.core(), enable))
}

/// `ble.setScanFilter(act)`.
#[no_mangle]
pub extern "C" fn mpble_qpy_set_scan_filter(act: i64) -> i32 {
    call(|f| f.qpy.set_scan_filter(act))
}

/// `ble.connect(addr_type, addr)`. Event 16 follows.
///
/// # Safety
/// `addr` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_qpy_connect(addr_type: i64, addr: *const u8, len: usize) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let addr = unsafe { bytes(addr, len) };
    call(|f| f.qpy.connect(f.stack.core(), addr_type, addr))
}

/// `ble.cancelConnect(addr)`.
///
/// # Safety
/// `addr` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_qpy_cancel_connect(addr: *const u8, len: usize) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let addr = unsafe { bytes(addr, len) };
    call(|f| f.qpy.cancel_connect(f.stack.core(), addr))
}

/// `ble.disconnect(connect_id)`. Event 17 follows.
#[no_mangle]
pub extern "C" fn mpble_qpy_disconnect(connect_id: i64) -> i32 {
    call(|f| f.qpy.disconnect(f.stack.core(), connect_id))
}

/// `ble.discoverAllService(connect_id)`. Events 27.
#[no_mangle]
pub extern "C" fn mpble_qpy_discover_all_service(connect_id: i64) -> i32 {
    call(|f| {
        f.qpy
            .client
            .discover_all_service(f.stack.core(), connect_id)
    })
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
    call(|f| {
        f.qpy
            .client
            .discover_by_uuid(f.stack.core(), connect_id, uuid_type, uuid_s, uuid_l)
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
    call(|f| {
        let r = f
            .qpy
            .client
            .discover_range(f.stack.core(), which, connect_id, start, end);
        if r != crate::api::quecpython::client::EMPTY_RANGE {
            return r;
        }
        let ev = f
            .qpy
            .target()
            .and_then(crate::api::quecpython::client::empty_descriptors_event);
        if let Some(ev) = ev {
            f.stack.emit(&ev);
        }
        0
    })
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
    call(|f| {
        f.qpy.client.read_by_uuid(
            f.stack.core(),
            connect_id,
            start,
            end,
            uuid_type,
            uuid_s,
            uuid_l,
        )
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
    call(|f| {
        f.qpy
            .client
            .read_by_handle(f.stack.core(), connect_id, handle, offset, is_long)
    })
}

/// `ble.readCharaDesc(connect_id, handle, is_long)`. Event 36.
#[no_mangle]
pub extern "C" fn mpble_qpy_read_chara_desc(connect_id: i64, handle: i64, is_long: i64) -> i32 {
    call(|f| {
        f.qpy
            .client
            .read_desc(f.stack.core(), connect_id, handle, is_long)
    })
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
    call(|f| f.qpy.client.read_multi(f.stack.core(), connect_id, handles))
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
    call(|f| {
        f.qpy.client.write(
            f.stack.core(),
            desc,
            connect_id,
            handle,
            offset,
            is_long,
            data,
        )
    })
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
    call(|f| f.qpy.write_no_rsp(&mut f.stack, connect_id, handle, data))
}

/// `ble.exchangeMtu(connect_id, mtu_size)`. Event 20.
#[no_mangle]
pub extern "C" fn mpble_qpy_exchange_mtu(connect_id: i64, mtu: i64) -> i32 {
    call(|f| f.qpy.client.exchange_mtu(f.stack.core(), connect_id, mtu))
}

/// `ble.smpSetConfig(io_cap, auth_req, passkey, timeout)`.
#[no_mangle]
pub extern "C" fn mpble_qpy_smp_set_config(
    io_cap: i64,
    auth_req: i64,
    passkey: i64,
    timeout: i64,
) -> i32 {
    call(|f| {
        f.qpy
            .smp_set_config(f.stack.core(), io_cap, auth_req, passkey, timeout)
    })
}

/// `ble.smpGetConfig()`: writes `(io_cap, auth_req, passkey, timeout)`.
///
/// # Safety
/// `out` must be valid for writes of 4 `i64`.
#[no_mangle]
pub unsafe extern "C" fn mpble_qpy_smp_get_config(out: *mut i64) -> i32 {
    if out.is_null() {
        return -1;
    }
    let v = with_stack(|f| f.qpy.smp_get_config(&f.stack.host.core));
    // SAFETY: `out` is non-null and writable for 4 values per contract.
    unsafe { core::ptr::copy_nonoverlapping(v.as_ptr(), out, 4) };
    0
}

/// `ble.smpStartPair(connect_id)`.
#[no_mangle]
pub extern "C" fn mpble_qpy_smp_start_pair(connect_id: i64) -> i32 {
    call(|f| f.qpy.smp_start_pair(f.stack.core(), connect_id))
}

/// `ble.smpUserConfirm(connect_id, pair_operation, pin)`.
#[no_mangle]
pub extern "C" fn mpble_qpy_smp_user_confirm(connect_id: i64, operation: i64, pin: i64) -> i32 {
    call(|f| {
        f.qpy
            .smp_user_confirm(f.stack.core(), connect_id, operation, pin)
    })
}

/// `ble.smpGetPairedDevInfo()`: the number of bonds.
#[no_mangle]
pub extern "C" fn mpble_qpy_smp_paired_count() -> i32 {
    with_stack(|f| f.qpy.smp_paired_count(&f.stack.host.core) as i32)
}

/// The address of bond `index` (oldest first), LSB first; 0, or -1.
///
/// # Safety
/// `out` must be valid for writes of 6 bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_qpy_smp_paired_addr(index: usize, out: *mut u8) -> i32 {
    if out.is_null() {
        return -1;
    }
    match with_stack(|f| f.qpy.smp_paired_addr(&f.stack.host.core, index)) {
        Some(addr) => {
            // SAFETY: `out` is non-null and writable for 6 bytes per contract.
            unsafe { core::ptr::copy_nonoverlapping(addr.as_ptr(), out, 6) };
            0
        }
        None => -1,
    }
}

/// `ble.smpRemovePairedDev(addr)`.
///
/// # Safety
/// `addr` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_qpy_smp_remove_paired(addr: *const u8, len: usize) -> i32 {
    // SAFETY: forwarded from this function's own contract.
    let addr = unsafe { bytes(addr, len) };
    call(|f| f.qpy.smp_remove_paired(f.stack.core(), addr))
}

/// `ble.smpCleanPairedDev()`.
#[no_mangle]
pub extern "C" fn mpble_qpy_smp_clean_paired() -> i32 {
    call(|f| f.qpy.smp_clean_paired(f.stack.core()))
}

// ---------------------------------------------------------------------------
// Pycom `network.Bluetooth`. Results are the codes of `api::pycom::err`
// (0 = done); the port turns the others into Pycom's exceptions.
// ---------------------------------------------------------------------------

/// Results of the `mpble_pycom_*` calls (`api::pycom::err`).
pub const MPBLE_PYCOM_PENDING: i32 = -1;
pub const MPBLE_PYCOM_OK: i32 = 0;
pub const MPBLE_PYCOM_BUSY: i32 = 1;
pub const MPBLE_PYCOM_FAILED: i32 = 2;
pub const MPBLE_PYCOM_NOT_CONNECTED: i32 = 3;
pub const MPBLE_PYCOM_NO_MEMORY: i32 = 4;
pub const MPBLE_PYCOM_INVALID: i32 = 5;
pub const MPBLE_PYCOM_NOT_READY: i32 = 6;
pub const MPBLE_PYCOM_AGAIN: i32 = 7;
pub const MPBLE_PYCOM_NOT_LAST_SERVICE: i32 = 8;
pub const MPBLE_PYCOM_TABLE_FULL: i32 = 9;
pub const MPBLE_PYCOM_CONNECT_FAILED: i32 = 10;
pub const MPBLE_PYCOM_TIMED_OUT: i32 = 11;
const _: () = {
    use crate::api::pycom::err;
    assert!(MPBLE_PYCOM_PENDING == err::PENDING && MPBLE_PYCOM_OK == err::OK);
    assert!(MPBLE_PYCOM_BUSY == err::BUSY && MPBLE_PYCOM_FAILED == err::FAILED);
    assert!(MPBLE_PYCOM_NOT_CONNECTED == err::NOT_CONNECTED);
    assert!(MPBLE_PYCOM_NO_MEMORY == err::NO_MEMORY && MPBLE_PYCOM_INVALID == err::INVALID);
    assert!(MPBLE_PYCOM_NOT_READY == err::NOT_READY && MPBLE_PYCOM_AGAIN == err::AGAIN);
    assert!(MPBLE_PYCOM_NOT_LAST_SERVICE == err::NOT_LAST_SERVICE);
    assert!(MPBLE_PYCOM_TABLE_FULL == err::TABLE_FULL);
    assert!(MPBLE_PYCOM_CONNECT_FAILED == err::CONNECT_FAILED);
    assert!(MPBLE_PYCOM_TIMED_OUT == err::TIMED_OUT);
};

/// The first value of each Pycom callback tuple (`api::pycom::tuple`).
pub const MPBLE_PYCOM_TUPLE_BLUETOOTH: i64 = 0;
pub const MPBLE_PYCOM_TUPLE_CHAR: i64 = 1;
pub const MPBLE_PYCOM_TUPLE_READ: i64 = 2;
pub const MPBLE_PYCOM_TUPLE_NOTIFY: i64 = 3;
const _: () = {
    use crate::api::pycom::tuple;
    assert!(
        MPBLE_PYCOM_TUPLE_BLUETOOTH == tuple::BLUETOOTH && MPBLE_PYCOM_TUPLE_CHAR == tuple::CHAR
    );
    assert!(MPBLE_PYCOM_TUPLE_READ == tuple::READ && MPBLE_PYCOM_TUPLE_NOTIFY == tuple::NOTIFY);
};

/// Writes `v` through `out` if it is not null.
///
/// # Safety
/// `out` must be null or valid for one write of `T`.
unsafe fn put<T>(out: *mut T, v: T) {
    if !out.is_null() {
        // SAFETY: non-null and, per the caller's contract, writable.
        unsafe { out.write(v) };
    }
}

/// Copies `src` into `out[..cap]`; returns the bytes copied.
///
/// # Safety
/// `out` must be null or valid for writes of `cap` bytes.
unsafe fn copy_out(src: &[u8], out: *mut u8, cap: usize) -> usize {
    let n = src.len().min(cap);
    if !out.is_null() && n > 0 {
        // SAFETY: `out` is writable for `cap` >= n bytes (caller's contract);
        // `src` is a distinct Rust buffer.
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), out, n) };
    }
    n
}

/// `Bluetooth()` / `init()`: Pycom hears events; `mtu` for `connect()`.
#[no_mangle]
pub extern "C" fn mpble_pycom_activate(mtu: i64) {
    call(|f| f.pycom.activate(f.stack.core(), mtu));
}

/// `Bluetooth(pin=, secure_connections=)` and `set_pin(pin)`: security on
/// with `pin` (0..=999999) as the static passkey; `secure_connections` 1
/// LE Secure Connections, 0 legacy pairing, -1 as before. -1 for a PIN
/// out of range.
#[no_mangle]
pub extern "C" fn mpble_pycom_set_pin(pin: i64, secure_connections: i64) -> i32 {
    let Ok(pin) = u32::try_from(pin) else {
        return -1;
    };
    if pin > 999_999 {
        return -1;
    }
    let sc = match secure_connections {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    };
    call(|f| f.pycom.set_pin(f.stack.core(), pin, sc));
    0
}

/// Whether security is on (a PIN was given): the default permissions of
/// a new characteristic are the encrypted ones.
#[no_mangle]
pub extern "C" fn mpble_pycom_secure() -> bool {
    with_stack(|f| f.pycom.secure())
}

/// Whether `Bluetooth()` is in force.
#[no_mangle]
pub extern "C" fn mpble_pycom_is_active() -> bool {
    with_stack(|f| f.pycom.is_active())
}

/// `deinit()`: Pycom forgets everything and the stack stops (every link
/// dropped, the controller reset; `mpble_state` reads Off once done).
#[no_mangle]
pub extern "C" fn mpble_pycom_deinit(now_ms: u32) {
    call(|f| {
        f.pycom.deactivate();
        let _ = f.stack.stop(now_ms);
    });
}

/// `set_advertisement_params(...)`: -1 for an omitted value.
#[no_mangle]
pub extern "C" fn mpble_pycom_set_adv_params(
    adv_int_min: i64,
    adv_int_max: i64,
    adv_type: i64,
    own_addr_type: i64,
    channel_map: i64,
    adv_filter_policy: i64,
) -> i32 {
    let p = [
        adv_int_min,
        adv_int_max,
        adv_type,
        own_addr_type,
        channel_map,
        adv_filter_policy,
    ];
    call(|f| f.pycom.set_adv_params(f.stack.core(), p))
}

/// `set_advertisement_raw(raw)`.
///
/// # Safety
/// `raw` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_pycom_set_adv_raw(raw: *const u8, len: usize) -> i32 {
    // SAFETY: forwarded from this function's contract.
    let d = unsafe { bytes(raw, len) };
    call(|f| f.pycom.set_adv_raw(f.stack.core(), d))
}

/// `Bluetooth.callback(trigger, ...)`.
#[no_mangle]
pub extern "C" fn mpble_pycom_set_trigger(trigger: u8) {
    call(|f| f.pycom.set_trigger(trigger));
}

/// `Bluetooth.events()`: read and cleared.
#[no_mangle]
pub extern "C" fn mpble_pycom_take_events() -> u8 {
    call(|f| f.pycom.take_events())
}

/// `start_scan(timeout_s)`.
#[no_mangle]
pub extern "C" fn mpble_pycom_start_scan(timeout_s: i64, now_ms: u32) -> i32 {
    call(|f| f.pycom.start_scan(f.stack.core(), timeout_s, now_ms))
}

/// `stop_scan()`.
#[no_mangle]
pub extern "C" fn mpble_pycom_stop_scan() -> i32 {
    call(|f| f.pycom.stop_scan(f.stack.core()))
}

/// `isscanning()`.
#[no_mangle]
pub extern "C" fn mpble_pycom_is_scanning() -> bool {
    with_stack(|f| f.pycom.is_scanning())
}

/// `get_adv()`: pops the oldest report into `out`; false when none.
///
/// # Safety
/// `out` must be null or valid for writes of one `MpblePycomAdv`.
#[no_mangle]
pub unsafe extern "C" fn mpble_pycom_get_adv(out: *mut MpblePycomAdv) -> bool {
    match call(|f| f.pycom.get_adv()) {
        Some(e) => {
            let adv = MpblePycomAdv {
                mac: e.mac,
                addr_type: e.addr_type,
                adv_type: e.adv_type,
                rssi: e.rssi,
                data: e.data,
            };
            // SAFETY: forwarded from this function's contract.
            unsafe { put(out, adv) };
            true
        }
        None => false,
    }
}

/// `resolve_adv_data(data, data_type)`: returns 0 (None), 1 (an int in
/// `*int_out`), 2 (a str) or 3 (bytes), the last two as
/// `data[*offset..*offset + *len]`. Pure: no lock needed, none taken.
///
/// # Safety
/// `data` must be null or valid for reads of `len` bytes; the out pointers
/// null or writable.
#[no_mangle]
pub unsafe extern "C" fn mpble_pycom_resolve(
    data: *const u8,
    len: usize,
    data_type: i64,
    int_out: *mut i32,
    offset: *mut usize,
    found_len: *mut usize,
) -> u8 {
    use crate::api::pycom::adv::{resolve, Resolved};
    // SAFETY: forwarded from this function's contract.
    let d = unsafe { bytes(data, len) };
    let (kind, part) = match resolve(d, data_type) {
        Resolved::None => return 0,
        Resolved::Int(v) => {
            // SAFETY: forwarded from this function's contract.
            unsafe { put(int_out, i32::from(v)) };
            return 1;
        }
        Resolved::Str(p) => (2, p),
        Resolved::Bytes(p) => (3, p),
    };
    let at = part.as_ptr() as usize - d.as_ptr() as usize;
    // SAFETY: forwarded from this function's contract.
    unsafe {
        put(offset, at);
        put(found_len, part.len());
    }
    kind
}

/// `set_advertisement(...)`.
///
/// # Safety
/// `a` must be valid for reads; each of its pointers null or valid for
/// reads of its length.
#[no_mangle]
pub unsafe extern "C" fn mpble_pycom_set_advertisement(a: *const MpblePycomAdvert) -> i32 {
    use crate::api::pycom::adv::{AdvUuid, Advertisement};
    if a.is_null() {
        return crate::api::pycom::err::INVALID;
    }
    // SAFETY: non-null and readable per the contract.
    let a = unsafe { a.read() };
    let opt = |p: *const u8, n: usize| {
        // SAFETY: each pointer is null or readable for its length.
        (!p.is_null()).then(|| unsafe { bytes(p, n) })
    };
    let service_uuid = if a.service_uuid_is_int {
        AdvUuid::Int(a.service_uuid_int)
    } else {
        match opt(a.service_uuid, a.service_uuid_len) {
            Some(list) => AdvUuid::List128(list),
            None => AdvUuid::None,
        }
    };
    let adv = Advertisement {
        name: opt(a.name, a.name_len),
        manufacturer_data: opt(a.manufacturer_data, a.manufacturer_data_len),
        service_data: opt(a.service_data, a.service_data_len),
        service_uuid,
    };
    call(|f| f.pycom.set_advertisement(f.stack.core(), &adv))
}

/// `advertise(enable)`.
#[no_mangle]
pub extern "C" fn mpble_pycom_advertise(on: bool) -> i32 {
    call(|f| f.pycom.advertise(f.stack.core(), on))
}

/// `disconnect_client()`.
#[no_mangle]
pub extern "C" fn mpble_pycom_disconnect_client() {
    call(|f| f.pycom.disconnect_client(f.stack.core()));
}

/// `service(uuid, isprimary)`: `uuid` is 2 or 16 little-endian bytes.
/// Returns the service's index, or minus an error code.
///
/// # Safety
/// `uuid` must be null or valid for reads of `uuid_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_pycom_add_service(
    uuid: *const u8,
    uuid_len: usize,
    primary: bool,
) -> i32 {
    // SAFETY: forwarded from this function's contract.
    let Some(u) = crate::uuid::Uuid::from_le_bytes(unsafe { bytes(uuid, uuid_len) }) else {
        return -crate::api::pycom::err::INVALID;
    };
    call(|f| f.pycom.add_service(&mut f.stack.core().db, u, primary))
}

/// `service.characteristic(uuid, permissions, properties, value)`.
/// Returns the characteristic's index, or minus an error code.
///
/// # Safety
/// `uuid` and `value` must be null or valid for reads of their lengths.
#[no_mangle]
pub unsafe extern "C" fn mpble_pycom_add_characteristic(
    service: usize,
    uuid: *const u8,
    uuid_len: usize,
    permissions: u16,
    properties: u8,
    value: *const u8,
    value_len: usize,
) -> i32 {
    // SAFETY: forwarded from this function's contract.
    let Some(u) = crate::uuid::Uuid::from_le_bytes(unsafe { bytes(uuid, uuid_len) }) else {
        return -crate::api::pycom::err::INVALID;
    };
    // SAFETY: forwarded from this function's contract.
    let v = unsafe { bytes(value, value_len) };
    call(|f| {
        f.pycom.add_characteristic(
            &mut f.stack.core().db,
            service,
            u,
            permissions,
            properties,
            v,
        )
    })
}

/// `characteristic.callback(trigger, ...)`.
#[no_mangle]
pub extern "C" fn mpble_pycom_char_set_trigger(idx: usize, trigger: u8) -> i32 {
    call(|f| {
        f.pycom
            .set_char_trigger(&mut f.stack.core().db, idx, trigger)
    })
}

/// `characteristic.events()`: read and cleared.
#[no_mangle]
pub extern "C" fn mpble_pycom_char_take_events(idx: usize) -> u8 {
    call(|f| f.pycom.take_char_events(idx))
}

/// `characteristic.config()`.
#[no_mangle]
pub extern "C" fn mpble_pycom_char_config(idx: usize) -> u16 {
    with_stack(|f| f.pycom.char_config(idx))
}

/// `characteristic.value()`: copies the stored value into `out`; returns
/// its length (at most `cap`).
///
/// # Safety
/// `out` must be null or valid for writes of `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_pycom_char_value(idx: usize, out: *mut u8, cap: usize) -> usize {
    with_stack(|f| {
        let Some(h) = f.pycom.char_value_handle(idx) else {
            return 0;
        };
        let v = f.stack.host.core.db.value(h).unwrap_or(&[]);
        // SAFETY: forwarded from this function's contract.
        unsafe { copy_out(v, out, cap) }
    })
}

/// `characteristic.value(v)`: stores it; returns the mask of links to send
/// it to with [`mpble_pycom_char_notify`], or minus an error code.
///
/// # Safety
/// `data` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_pycom_char_set_value(
    idx: usize,
    data: *const u8,
    len: usize,
) -> i32 {
    // SAFETY: forwarded from this function's contract.
    let v = unsafe { bytes(data, len) };
    call(|f| f.pycom.set_char_value(&mut f.stack.core().db, idx, v))
}

/// Sends characteristic `idx`'s value to the links in `mask`; returns those
/// that had no room yet (call again once the controller has taken data).
#[no_mangle]
pub extern "C" fn mpble_pycom_char_notify(idx: usize, mask: u32, now_ms: u32) -> u32 {
    call(|f| f.pycom.notify(f.stack.core(), idx, mask, now_ms))
}

/// Answers the deferred read on link `conn`: `status` 0 with `data` (null:
/// the stored value), else an ATT error code.
///
/// # Safety
/// `data` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_pycom_read_reply(
    conn: usize,
    status: u8,
    data: *const u8,
    len: usize,
) -> i32 {
    let value = if status != 0 {
        Err(status)
    } else if data.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded from this function's contract.
        Ok(Some(unsafe { bytes(data, len) }))
    };
    call(|f| f.pycom.read_reply(f.stack.core(), conn, value))
}

/// An int as Pycom encodes it into `out` (4 bytes): big-endian 1/2/4 bytes
/// for initial values and read replies, or the `value(int)` setter's form
/// when `setter`. Returns the length. Pure.
///
/// # Safety
/// `out` must be null or valid for writes of 4 bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_pycom_encode_int(v: i64, setter: bool, out: *mut u8) -> usize {
    let (b, n) = if setter {
        crate::api::pycom::encode_int_setter(v)
    } else {
        crate::api::pycom::encode_int_be(v)
    };
    // SAFETY: forwarded from this function's contract.
    unsafe { copy_out(b.get(..n).unwrap_or(&[]), out, 4) }
}

/// `connect(mac, addr_type=)`: `mac` 6 bytes MSB first; `addr_type` -1
/// when not given (the type the device advertised with).
///
/// # Safety
/// `mac` must be valid for reads of 6 bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_pycom_connect(addr_type: i32, mac: *const u8) -> i32 {
    let addr_type = u8::try_from(addr_type).ok();
    // SAFETY: forwarded from this function's contract.
    let Ok(m) = <[u8; 6]>::try_from(unsafe { bytes(mac, 6) }) else {
        return crate::api::pycom::err::INVALID;
    };
    call(|f| f.pycom.connect(f.stack.core(), addr_type, m))
}

/// Where `connect()` stands: -1 pending, 0 connected (`*value` = the link),
/// or an error code (`*value` = the HCI status for CONNECT_FAILED).
///
/// # Safety
/// `value` must be null or writable.
#[no_mangle]
pub unsafe extern "C" fn mpble_pycom_connect_status(value: *mut usize) -> i32 {
    let (r, v) = with_stack(|f| f.pycom.connect_status());
    // SAFETY: forwarded from this function's contract.
    unsafe { put(value, v) };
    r
}

/// Ends a `connect()`: taken, or given up (a pending one is cancelled).
#[no_mangle]
pub extern "C" fn mpble_pycom_connect_finish() {
    call(|f| f.pycom.connect_finish(f.stack.core()));
}

/// The generation of the live link `conn`, or -1.
#[no_mangle]
pub extern "C" fn mpble_pycom_link_generation(conn: usize) -> i32 {
    with_stack(|f| f.pycom.link_generation(conn).map_or(-1, i32::from))
}

/// ATT_MTU of the live link `conn`, or -1.
#[no_mangle]
pub extern "C" fn mpble_pycom_link_mtu(conn: usize) -> i32 {
    with_stack(|f| {
        f.pycom
            .link_mtu(&f.stack.host.core, conn)
            .map_or(-1, i32::from)
    })
}

/// Exchange MTU has ended on link `conn` (or is not coming).
#[no_mangle]
pub extern "C" fn mpble_pycom_mtu_done(conn: usize) -> bool {
    with_stack(|f| f.pycom.mtu_done(conn))
}

/// The first link where a client is connected to our server, or -1.
#[no_mangle]
pub extern "C" fn mpble_pycom_server_link() -> i32 {
    with_stack(|f| f.pycom.server_link().map_or(-1, |c| c as i32))
}

/// `GATTCConnection.disconnect()`.
#[no_mangle]
pub extern "C" fn mpble_pycom_disconnect(conn: usize, generation: u16) -> i32 {
    call(|f| f.pycom.disconnect(f.stack.core(), conn, generation))
}

/// Starts a client operation: `op` 0 services, 1 characteristics in
/// `a..=b`, 2 descriptors in `a..=b`, 3 read of handle `a`, 4 write of
/// `data` to handle `a`.
///
/// # Safety
/// `data` must be null or valid for reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_pycom_client_start(
    conn: usize,
    generation: u16,
    op: u8,
    a: u16,
    b: u16,
    data: *const u8,
    len: usize,
) -> i32 {
    use crate::api::pycom::ClientOp;
    // SAFETY: forwarded from this function's contract.
    let value = unsafe { bytes(data, len) };
    let op = match op {
        0 => ClientOp::Services,
        1 => ClientOp::Characteristics { start: a, end: b },
        2 => ClientOp::Descriptors { start: a, end: b },
        3 => ClientOp::Read { handle: a },
        4 => ClientOp::Write { handle: a, value },
        _ => return crate::api::pycom::err::INVALID,
    };
    call(|f| f.pycom.client_start(f.stack.core(), conn, generation, op))
}

/// -1 while the client operation runs; then its result, once.
#[no_mangle]
pub extern "C" fn mpble_pycom_client_status() -> i32 {
    call(|f| f.pycom.client_status())
}

/// The caller stopped waiting for the client operation.
#[no_mangle]
pub extern "C" fn mpble_pycom_client_abandon() {
    call(|f| f.pycom.client_abandon());
}

/// Result `i` of the last discovery; false past the end.
///
/// # Safety
/// `out` must be null or valid for writes of one `MpblePycomRecord`.
#[no_mangle]
pub unsafe extern "C" fn mpble_pycom_client_record(i: usize, out: *mut MpblePycomRecord) -> bool {
    let rec = with_stack(|f| f.pycom.client_records().get(i).copied());
    let Some(r) = rec else {
        return false;
    };
    let mut m = MpblePycomRecord {
        handle: r.handle,
        end: r.end,
        properties: r.properties,
        ..MpblePycomRecord::default()
    };
    m.uuid_len = r.uuid.write_le(&mut m.uuid).unwrap_or(0) as u8;
    // SAFETY: forwarded from this function's contract.
    unsafe { put(out, m) };
    true
}

/// The value the last read returned; its length (at most `cap`).
///
/// # Safety
/// `out` must be null or valid for writes of `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpble_pycom_client_value(out: *mut u8, cap: usize) -> usize {
    // SAFETY: forwarded from this function's contract.
    with_stack(|f| unsafe { copy_out(f.pycom.client_value(), out, cap) })
}

/// Notifications of `value_handle` on link `conn` reach Python (or no
/// longer, `on` false).
#[no_mangle]
pub extern "C" fn mpble_pycom_subscribe(
    conn: usize,
    generation: u16,
    value_handle: u16,
    on: bool,
) -> i32 {
    call(|f| f.pycom.subscribe(conn, generation, value_handle, on))
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

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    extern "C" {
        // Bounds of .bss, defined by the linker (GNU ld and lld) on Linux.
        static __bss_start: u8;
        static _end: u8;
    }

    /// The core's state is all zeros when new, so its static sits in
    /// `.bss` (RAM only) and not in `.data` (RAM plus an initial image in
    /// flash; issue 6, section 3). A field whose initial value is not zero
    /// bytes (a sentinel, an `Option`'s niche, a non-zero default) moves the
    /// whole `Firmware` to `.data` and fails this test; `make size` names
    /// the bytes.
    #[test]
    fn the_firmware_static_is_in_bss() {
        let at = core::ptr::addr_of!(super::FIRMWARE) as usize;
        // Only the addresses of the linker's symbols are taken (safe).
        let (start, end) = (
            core::ptr::addr_of!(__bss_start) as usize,
            core::ptr::addr_of!(_end) as usize,
        );
        assert!(
            (start..end).contains(&at),
            "FIRMWARE at {at:#x} is not in .bss ({start:#x}..{end:#x}): some field of \
             Firmware::new() is not zero (make size lists them)"
        );
    }

    /// A call that finds the core busy (the port's lock was not held) is
    /// reported at once, not spun on until the other caller leaves.
    #[test]
    fn a_concurrent_call_is_reported_not_spun_on() {
        let held = super::FIRMWARE.lock();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let r = std::panic::catch_unwind(|| super::with_stack(|s| s.event_count()));
            let _ = tx.send(r.is_err());
        });
        let reported = rx.recv_timeout(Duration::from_secs(2));
        drop(held);
        assert_eq!(
            reported,
            Ok(true),
            "the second caller spun instead of reporting"
        );
    }
}
