//! `make bench`: speed and memory of the core, measured without a radio.
//!
//! - memory: the static footprint of the whole stack (it lives in one
//!   `static`, ARCHITECTURE rule 5), against the goal of fitting a 64 KiB
//!   budget on a Cortex-M board next to MicroPython;
//! - H4 parsing: controller bytes per second through the H4 parser;
//! - ATT round trips: Read Requests per second through the whole host
//!   (H4 in -> HCI -> L2CAP -> ATT server -> GATT database -> ACL out),
//!   the cost a GATT client sees on this host, with no air time.
//!
//! Numbers are host CPU cost on this machine; never quote them as
//! over-the-air throughput (VIRTUAL-AIR.md).

use mpble::api::quecpython::calls::QpyCalls;
use mpble::api::Firmware;
use mpble::testing::{
    acl_frame, le_connection_complete, register_demo_service, ScriptedController,
};
use std::time::Instant;

const LINK: u16 = 0x0040;
const MEMORY_GOAL: usize = 64 * 1024;

fn connected() -> (Box<Firmware>, ScriptedController) {
    let mut stack = Box::new(Firmware::new());
    let mut ctrl = ScriptedController::new([1, 2, 3, 4, 5, 6]);
    stack.qpy.server_init();
    stack.qpy_gatt_start(0);
    ctrl.settle(&mut stack, 0);
    register_demo_service(&mut stack, 0);
    stack.h4_rx(&le_connection_complete(LINK, [9; 6]), 1);
    ctrl.settle(&mut stack, 1);
    while stack.pop_event().is_some() {}
    (stack, ctrl)
}

fn main() {
    let size = core::mem::size_of::<Firmware>();
    println!(
        "memory: Firmware is {size} bytes ({:.1} KiB); goal <= {} KiB: {}",
        size as f64 / 1024.0,
        MEMORY_GOAL / 1024,
        if size <= MEMORY_GOAL {
            "met"
        } else {
            "NOT met"
        }
    );

    // H4 parsing: a stream of Number Of Completed Packets events and ACL
    // frames, fed in 64-byte chunks as a UART driver would.
    let (mut stack, _ctrl) = connected();
    let mut stream = Vec::new();
    for i in 0..1000u16 {
        stream.extend(mpble::testing::completed_packets(LINK, 0));
        stream.extend(acl_frame(
            LINK,
            0x0004,
            &[0x52, 0x03, 0x00, (i & 0xFF) as u8],
        ));
    }
    let rounds = 200;
    let t = Instant::now();
    for _ in 0..rounds {
        for chunk in stream.chunks(64) {
            // The stack takes input while its event queue has room; Python
            // drains it between passes, as the port does.
            let mut rest = chunk;
            while !rest.is_empty() {
                let used = stack.h4_rx(rest, 2);
                rest = &rest[used..];
                while stack.pop_event().is_some() {}
            }
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "h4+host: {:.1} MB/s of controller bytes ({} bytes x {rounds})",
        (stream.len() * rounds) as f64 / secs / 1e6,
        stream.len()
    );

    // ATT Read Request round trips through the whole host.
    let (mut stack, mut ctrl) = connected();
    let read = acl_frame(LINK, 0x0004, &[0x0A, 0x03, 0x00]);
    let n = 50_000;
    let t = Instant::now();
    for _ in 0..n {
        stack.h4_rx(&read, 3);
        let answers = ctrl.exchange(&mut stack);
        stack.h4_rx(&answers, 3);
        ctrl.sent.clear();
        while stack.pop_event().is_some() {}
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "att read: {:.0} requests/s through the host ({:.2} us each)",
        n as f64 / secs,
        secs / n as f64 * 1e6
    );
}
