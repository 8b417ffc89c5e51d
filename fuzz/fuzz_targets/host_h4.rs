//! The whole host behind the C ABI: any byte stream from the controller
//! (HCI events and ACL data, in any fragmentation) must not panic,
//! overflow or wedge the stack. The stack is already started and
//! connected, as the QuecPython server demo's (a peer's client talks to
//! our server) or as the client demo's (our client has discoveries and
//! reads queued, so the bytes answer them), so they reach every layer:
//! H4 -> HCI events / ACL -> L2CAP -> ATT server or GATT client /
//! signaling / SMP -> GATT database -> QuecPython event tuples.
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

fn connected_demo_server() -> (Box<Firmware>, ScriptedController) {
    let (mut stack, mut ctrl) = started(false);
    register_demo_service(&mut stack, 1);
    assert_eq!(stack.qpy_adv_enable(true), 0);
    stack.h4_rx(&le_connection_complete(LINK, PEER), 1);
    ctrl.settle(&mut stack, 1);
    while stack.pop_event().is_some() {}
    (stack, ctrl)
}

fn connected_client() -> (Box<Firmware>, ScriptedController) {
    let (mut stack, mut ctrl) = started(true);
    assert_eq!(stack.qpy_scan(true), 0);
    assert_eq!(stack.qpy_connect(0, &PEER), 0);
    ctrl.settle(&mut stack, 1);
    stack.h4_rx(&le_connection_complete_role(LINK, PEER, 0), 1);
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
        let mut rest = piece;
        while !rest.is_empty() {
            let used = stack.h4_rx(rest, now);
            rest = &rest[used..];
            // Python drains what the packets produced, so the rest fits.
            while stack.pop_event().is_some() {}
        }
        // The controller takes what the host sends; its answers (command
        // completions, returned ACL credits) go back in.
        let answers = ctrl.exchange(&mut stack);
        stack.h4_rx(&answers, now);
        // The app keeps sending, as the demos do.
        if client {
            let _ = stack.qpy_write_no_rsp(0, 3, b"99");
            let _ = stack.qpy_client(|c, h| c.read_by_handle(h, 0, 3, 0, 1));
        } else {
            let _ = stack.qpy_send(false, 0, 18, b"99999", now);
        }
        now = now.wrapping_add(250);
        stack.tick(now);
        while let Some(ev) = stack.pop_event() {
            assert!(usize::from(ev.n_args) <= ev.args.len());
            assert!(usize::from(ev.data_len) <= ev.data.len());
        }
    }
    assert_eq!(
        stack.events_dropped(),
        0,
        "flow control must never drop an event"
    );
});
