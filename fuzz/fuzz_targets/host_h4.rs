//! The whole host behind the C ABI: any byte stream from the controller
//! (HCI events and ACL data, in any fragmentation) must not panic,
//! overflow or wedge the stack. The stack is already started and
//! connected, as the QuecPython server demo's (a peer's client talks to
//! our server) or as the client demo's (our client has discoveries and
//! reads queued, so the bytes answer them), so they reach every layer:
//! H4 -> HCI events / ACL -> L2CAP -> ATT server or GATT client /
//! signaling / SMP -> GATT database -> QuecPython event tuples.
//!
//! The fuzzer respects flow as the port does (it offers bytes again until
//! `h4_rx` takes them, Python drains events between offers, the controller
//! keeps up with what the host sends), so nothing accepted may be lost:
//! every counter of lost events and frames stays 0 (`Firmware::lost`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpble::api::quecpython::calls::QpyCalls;
use mpble::api::Firmware;
use mpble::testing::{
    le_connection_complete, le_connection_complete_role, register_demo_service, ScriptedController,
};

const LINK: u16 = 0x0040;
const PEER: [u8; 6] = [1, 2, 3, 4, 5, 6];

fn started(client: bool) -> (Box<Firmware>, ScriptedController) {
    let mut stack = Box::new(Firmware::new());
    let mut ctrl = ScriptedController::new([0x01, 0x00, 0xEE, 0xFF, 0xC0, 0xF0]);
    if client {
        assert_eq!(stack.qpy.client_init(), 0);
    } else {
        assert_eq!(stack.qpy.server_init(), 0);
    }
    assert_eq!(stack.qpy_gatt_start(0), 0);
    ctrl.settle(&mut stack, 0);
    (stack, ctrl)
}

/// Feeds `bytes` as the port does: only what `h4_rx` takes, Python
/// draining the events between offers, until every byte is in.
fn feed(stack: &mut Firmware, bytes: &[u8], now: u32) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let used = stack.h4_rx(rest, now);
        rest = &rest[used..];
        assert!(used > 0 || stack.event_count() > 0, "no progress");
        // Python drains what the packets produced, so the rest fits.
        drain(stack);
    }
}

/// Python takes every pending event.
fn drain(stack: &mut Firmware) {
    while let Some(ev) = stack.pop_event() {
        assert!(usize::from(ev.n_args) <= ev.args.len());
        assert!(usize::from(ev.data_len) <= ev.data.len());
    }
}

/// The controller takes what the host sends, and its answers (command
/// completions, returned ACL credits) go back in, until it has nothing
/// more to say: a controller that keeps up, so the host's transmit queue
/// drains as a real one does.
fn exchange(stack: &mut Firmware, ctrl: &mut ScriptedController, now: u32) {
    for _ in 0..16 {
        let answers = ctrl.exchange(stack);
        if answers.is_empty() {
            return;
        }
        feed(stack, &answers, now);
    }
}

/// Nothing accepted may be lost: the counters of lost events and frames
/// stay 0 (those of malformed input, bad_events and the like, may grow).
fn assert_nothing_lost(stack: &Firmware) {
    for (name, n) in stack.lost() {
        assert_eq!(n, 0, "{name}: accepted, then lost");
    }
}

fn connected_demo_server() -> (Box<Firmware>, ScriptedController) {
    let (mut stack, mut ctrl) = started(false);
    register_demo_service(&mut stack, 1);
    assert_eq!(stack.qpy_adv_enable(true), 0);
    feed(&mut stack, &le_connection_complete(LINK, PEER), 1);
    ctrl.settle(&mut stack, 1);
    while stack.pop_event().is_some() {}
    (stack, ctrl)
}

fn connected_client() -> (Box<Firmware>, ScriptedController) {
    let (mut stack, mut ctrl) = started(true);
    assert_eq!(stack.qpy_scan(true), 0);
    assert_eq!(stack.qpy_connect(0, &PEER), 0);
    ctrl.settle(&mut stack, 1);
    feed(&mut stack, &le_connection_complete_role(LINK, PEER, 0), 1);
    let z = [0u8; 16];
    assert_eq!(stack.qpy_client(|c, h| c.discover_all_service(h, 0)), 0);
    assert_eq!(
        stack.qpy_client(|c, h| c.discover_range(h, 1, 0, 1, 0xFFFF)),
        0
    );
    assert_eq!(
        stack.qpy_client(|c, h| c.discover_range(h, 2, 0, 1, 0xFFFF)),
        0
    );
    assert_eq!(
        stack.qpy_client(|c, h| c.read_by_uuid(h, 0, 1, 0xFFFF, 1, 0x2A19, &z)),
        0
    );
    ctrl.settle(&mut stack, 1);
    while stack.pop_event().is_some() {}
    (stack, ctrl)
}

fuzz_target!(|input: &[u8]| {
    // The first byte picks the role (bit 7) and the chunk size, so the H4
    // parser sees the stream cut at every kind of boundary.
    let Some((&split, bytes)) = input.split_first() else {
        return;
    };
    let client = split & 0x80 != 0;
    let (mut stack, mut ctrl) = if client {
        connected_client()
    } else {
        connected_demo_server()
    };
    let chunk = usize::from(split % 64) + 1;
    let mut now = 2u32;
    for piece in bytes.chunks(chunk) {
        feed(&mut stack, piece, now);
        exchange(&mut stack, &mut ctrl, now);
        // The app keeps sending, as the demos do.
        if client {
            let _ = stack.qpy_write_no_rsp(0, 3, b"99");
            let _ = stack.qpy_client(|c, h| c.read_by_handle(h, 0, 3, 0, 1));
        } else {
            let _ = stack.qpy_send(false, 0, 18, b"99999", now);
        }
        now = now.wrapping_add(250);
        stack.tick(now);
        drain(&mut stack);
        assert_nothing_lost(&stack);
    }
    exchange(&mut stack, &mut ctrl, now);
    assert_nothing_lost(&stack);
});
