//! The whole host behind the C ABI: any byte stream from the controller
//! (HCI events and ACL data, in any fragmentation) must not panic,
//! overflow or wedge the stack. The stack is the QuecPython server demo's,
//! already started and connected, so the bytes reach every layer:
//! H4 -> HCI events / ACL -> L2CAP -> ATT server / signaling / SMP ->
//! GATT database -> QuecPython event tuples.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpble::api::Stack;
use mpble::testing::{le_connection_complete, register_demo_service, ScriptedController};

const LINK: u16 = 0x0040;

fn connected_demo_server() -> (Box<Stack>, ScriptedController) {
    let mut stack = Box::new(Stack::new());
    let mut ctrl = ScriptedController::new([0x01, 0x00, 0xEE, 0xFF, 0xC0, 0xF0]);
    assert_eq!(stack.qpy.server_init(), 0);
    assert_eq!(stack.qpy_gatt_start(0), 0);
    ctrl.settle(&mut stack, 0);
    register_demo_service(&mut stack, 1);
    assert_eq!(stack.qpy_adv_enable(true), 0);
    stack.h4_rx(&le_connection_complete(LINK, [1, 2, 3, 4, 5, 6]), 1);
    ctrl.settle(&mut stack, 1);
    while stack.pop_event().is_some() {}
    (stack, ctrl)
}

fuzz_target!(|input: &[u8]| {
    let (mut stack, mut ctrl) = connected_demo_server();
    // The first byte picks the chunk size, so the H4 parser sees the
    // stream cut at every kind of boundary.
    let Some((&split, bytes)) = input.split_first() else {
        return;
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
        // The app keeps notifying, as the demo does on connect.
        let _ = stack.qpy_send(false, 0, 18, b"99999", now);
        now = now.wrapping_add(250);
        stack.tick(now);
        while let Some(ev) = stack.pop_event() {
            assert!(usize::from(ev.n_args) <= ev.args.len());
            assert!(usize::from(ev.data_len) <= ev.data.len());
        }
    }
    // Whatever happened, the stack still answers a good request if the
    // link survived, and never holds more than its bounded queues.
    assert!(
        stack.next_timeout_ms(now) <= mpble::config::HCI_CMD_TIMEOUT_MS
            || stack.next_timeout_ms(now) == u32::MAX
    );
});
