//! The whole host behind the C ABI: any byte stream from the controller
//! (HCI events and ACL data, in any fragmentation) must not panic,
//! overflow or wedge the stack. The stack is already started and
//! connected, as the QuecPython server demo's (a peer's client talks to
//! our server) or as the client demo's (our client has discoveries and
//! reads queued, so the bytes answer them), so they reach every layer:
//! H4 -> HCI events / ACL -> L2CAP -> ATT server or GATT client /
//! signaling / SMP -> GATT database -> QuecPython event tuples. With bit 6
//! of the first byte the Pycom adapter runs too: a characteristic whose
//! reads wait for Python (answered between offers, as the port does), and
//! Pycom's client operations and notification subscription on the link.
//!
//! The fuzzer respects flow as the port does (it offers bytes again until
//! `h4_rx` takes them, Python drains events between offers, the controller
//! keeps up with what the host sends), so nothing accepted may be lost:
//! every counter of lost events and frames stays 0 (`Firmware::lost`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpble::api::quecpython::calls::QpyCalls;
use mpble::api::Firmware;
use mpble::uuid::Uuid;
use mpble::testing::{
    le_connection_complete, le_connection_complete_role, register_demo_service, ScriptedController,
};

const LINK: u16 = 0x0040;
const PEER: [u8; 6] = [1, 2, 3, 4, 5, 6];

fn started(client: bool, pycom: bool) -> (Box<Firmware>, ScriptedController) {
    let mut stack = Box::new(Firmware::new());
    let mut ctrl = ScriptedController::new([0x01, 0x00, 0xEE, 0xFF, 0xC0, 0xF0]);
    if pycom {
        stack.call(|f| f.pycom.activate(f.stack.core(), 200));
    }
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

fn connected_demo_server(pycom: bool) -> (Box<Firmware>, ScriptedController) {
    let (mut stack, mut ctrl) = started(false, pycom);
    register_demo_service(&mut stack, 1);
    if pycom {
        // After the QuecPython table: a service whose characteristic's
        // reads wait for Python, and which notifies subscribers.
        stack.call(|f| {
            let db = &mut f.stack.core().db;
            assert_eq!(f.pycom.add_service(db, Uuid::Uuid16(0xAA00), true), 0);
            assert_eq!(
                f.pycom
                    .add_characteristic(db, 0, Uuid::Uuid16(0xAA01), 0x11, 0x1A, b"v"),
                0
            );
            f.pycom.set_char_trigger(db, 0, 8 | 16 | 128);
        });
    }
    assert_eq!(stack.qpy_adv_enable(true), 0);
    feed(&mut stack, &le_connection_complete(LINK, PEER), 1);
    ctrl.settle(&mut stack, 1);
    while stack.pop_event().is_some() {}
    (stack, ctrl)
}

fn connected_client(pycom: bool) -> (Box<Firmware>, ScriptedController) {
    let (mut stack, mut ctrl) = started(true, pycom);
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

/// What a Pycom script does between offers: answers deferred reads (the
/// port's dispatcher calls the handler and replies), keeps one client
/// operation running, sets a value that notifies subscribers.
fn pycom_app(stack: &mut Firmware, client: bool, now: u32) {
    use mpble::api::pycom::{err, ClientOp};
    for conn in 0..4 {
        stack.call(|f| f.pycom.read_reply(f.stack.core(), conn, Ok(Some(b"pycom"))));
    }
    if client {
        let generation = stack.pycom.link_generation(0).unwrap_or(0);
        stack.call(|f| {
            if f.pycom.client_status() != err::PENDING {
                let op = match now % 3 {
                    0 => ClientOp::Services,
                    1 => ClientOp::Characteristics { start: 1, end: 0xFFFF },
                    _ => ClientOp::Read { handle: 3 },
                };
                let _ = f.pycom.client_start(f.stack.core(), 0, generation, op);
            }
        });
    } else {
        stack.call(|f| {
            let mask = f.pycom.set_char_value(&mut f.stack.core().db, 0, b"tick");
            if mask > 0 {
                let _ = f.pycom.notify(f.stack.core(), 0, mask as u32, now);
            }
        });
    }
}

fuzz_target!(|input: &[u8]| {
    // The first byte picks the role (bit 7) and the chunk size, so the H4
    // parser sees the stream cut at every kind of boundary.
    let Some((&split, bytes)) = input.split_first() else {
        return;
    };
    let client = split & 0x80 != 0;
    let pycom = split & 0x40 != 0;
    let (mut stack, mut ctrl) = if client {
        connected_client(pycom)
    } else {
        connected_demo_server(pycom)
    };
    if pycom && client {
        let generation = stack.pycom.link_generation(0).unwrap_or(0);
        stack.call(|f| f.pycom.subscribe(0, generation, 3, true));
    }
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
        if pycom {
            pycom_app(&mut stack, client, now);
        }
        now = now.wrapping_add(250);
        stack.tick(now);
        drain(&mut stack);
        assert_nothing_lost(&stack);
    }
    exchange(&mut stack, &mut ctrl, now);
    assert_nothing_lost(&stack);
});
