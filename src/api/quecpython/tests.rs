//! The QuecPython client (central) calls driven end to end through the
//! host, against a scripted controller and a scripted GATT server: the
//! request bytes on air and the event tuples the client demo parses.

extern crate std;

use crate::api::quecpython::calls::QpyCalls;
use crate::api::Firmware;
use crate::gatt::server::GattServer;
use crate::hci::command::opcode;
use crate::l2cap::CID_ATT;
use crate::testing::{
    acl_frame, drain_events, ints, le_advertising_report, le_connection_complete_role,
    register_demo_service, ScriptedController, V,
};
use std::boxed::Box;
use std::vec::Vec;

const BD_ADDR: [u8; 6] = [0x02, 0x00, 0xEE, 0xFF, 0xC0, 0xF0];
const SERVER: [u8; 6] = [0x01, 0xD0, 0xA2, 0xB0, 0x00, 0x00];
const LINK: u16 = 0x0041;

fn events(stack: &mut Firmware) -> Vec<Vec<V>> {
    drain_events(stack).into_iter().map(|(_, v)| v).collect()
}

fn raw(id: i64, body: &[u8]) -> Vec<V> {
    std::vec![
        V::I(id),
        V::I(0),
        V::I(body.len() as i64),
        V::B(body.to_vec())
    ]
}

/// A started client (`clientInit` + `gattStart` + event 0), its bring-up
/// commands forgotten.
fn started_client() -> (Box<Firmware>, ScriptedController) {
    let mut stack = Box::new(Firmware::new());
    let mut ctrl = ScriptedController::new(BD_ADDR);
    assert_eq!(stack.qpy.client_init(), 0);
    assert_eq!(stack.qpy_gatt_start(0), 0);
    ctrl.settle(&mut stack, 1);
    assert_eq!(events(&mut stack), std::vec![ints(&[0, 0])]);
    ctrl.take_commands();
    (stack, ctrl)
}

/// A started client connected to SERVER as central, events drained.
fn connected() -> (Box<Firmware>, ScriptedController) {
    let (mut stack, mut ctrl) = started_client();
    assert_eq!(stack.qpy_connect(0, &SERVER), 0);
    ctrl.settle(&mut stack, 2);
    stack.h4_rx(&le_connection_complete_role(LINK, SERVER, 0x00), 3);
    ctrl.settle(&mut stack, 3);
    (stack, ctrl)
}

/// The server answers: feed one ATT PDU, return what the client sent next.
fn server_says(stack: &mut Firmware, ctrl: &mut ScriptedController, pdu: &[u8]) -> Vec<Vec<u8>> {
    stack.h4_rx(&acl_frame(LINK, CID_ATT, pdu), 4);
    ctrl.settle(stack, 4);
    ctrl.take_l2cap(CID_ATT)
}

#[test]
fn scan_reports_once_per_device_with_the_demo_layout() {
    let (mut stack, mut ctrl) = started_client();
    assert_eq!(stack.qpy_set_scan_param([1, 0x100, 0x50, 0, 0]), 0);
    assert_eq!(
        stack.qpy_set_scan_param([1, 0x50, 0x100, 0, 0]),
        -1,
        "window > interval"
    );
    assert_eq!(stack.qpy_scan(true), 0);
    ctrl.settle(&mut stack, 2);
    let cmds = ctrl.commands();
    let params = cmds
        .iter()
        .find(|(o, _)| *o == opcode::LE_SET_SCAN_PARAMETERS)
        .unwrap();
    // Active, 0x0100, 0x0050, public, accept all (Vol 4 Part E 7.8.10).
    assert_eq!(
        params.1,
        std::vec![0x01, 0x00, 0x01, 0x50, 0x00, 0x00, 0x00]
    );

    let mut adv = std::vec![0x02, 0x01, 0x05, 0x0C, 0x09];
    adv.extend_from_slice(b"Quectel_ble");
    stack.h4_rx(&le_advertising_report(SERVER, &adv), 3);
    stack.h4_rx(&le_advertising_report(SERVER, &adv), 3);
    let evs = events(&mut stack);
    assert_eq!(evs.len(), 1, "setScanFilter(1): one report per device");
    assert_eq!(
        evs[0],
        std::vec![
            V::I(19),
            V::I(0),
            V::I(0),
            V::S(b"Quectel_ble".to_vec()),
            V::I(0),
            V::B(SERVER.to_vec()),
            V::I(-50),
            V::I(adv.len() as i64),
            V::B(adv.clone()),
        ]
    );
    assert_eq!(stack.qpy.set_scan_filter(0), 0);
    stack.h4_rx(&le_advertising_report(SERVER, &adv), 3);
    stack.h4_rx(&le_advertising_report(SERVER, &adv), 3);
    assert_eq!(
        events(&mut stack).len(),
        2,
        "setScanFilter(0): every packet"
    );
}

/// H4 bytes of one LE Advertising Report event with `n` reports (Vol 4
/// Part E 7.7.65.2): ADV_NONCONN_IND, no data, device `i` at address
/// [i, 0, 0, 0, 0, 0xC0].
fn advertising_reports(n: u8) -> Vec<u8> {
    let mut v = std::vec![0x04, 0x3E, 2 + 10 * n, 0x02, n];
    for i in 0..n {
        v.extend_from_slice(&[0x03, 0x00, i, 0, 0, 0, 0, 0xC0, 0, (-60i8) as u8]);
    }
    v
}

/// One LE Advertising Report event carries up to 25 reports, each a scan
/// event (issue 6, section 2.2): flow control must keep room for all of
/// them, so none is dropped even when the queue is nearly full.
#[test]
fn twenty_five_reports_in_one_event_all_arrive() {
    let (mut stack, mut ctrl) = started_client();
    assert_eq!(stack.qpy.set_scan_filter(0), 0);
    assert_eq!(stack.qpy_scan(true), 0);
    ctrl.settle(&mut stack, 2);
    // Fill the queue with single reports while flow control takes them.
    let one = le_advertising_report(SERVER, &[]);
    let mut queued = 0;
    while stack.h4_rx(&one, 3) == one.len() {
        queued += 1;
    }
    assert!(queued > 0 && stack.event_count() == queued);
    let burst = advertising_reports(25);
    assert_eq!(burst.len(), 3 + 2 + 250);
    let mut rest = &burst[..];
    let mut got = events(&mut stack);
    while !rest.is_empty() {
        let n = stack.h4_rx(rest, 4);
        rest = &rest[n..];
        got.extend(events(&mut stack));
        assert!(n > 0 || got.len() >= queued, "no progress");
    }
    assert_eq!(stack.events_dropped(), 0);
    assert_eq!(stack.stack.host.core.stats.events_dropped, 0);
    let scans: Vec<_> = got[queued..].iter().map(|e| e[5].clone()).collect();
    let want: Vec<_> = (0..25u8)
        .map(|i| V::B(std::vec![i, 0, 0, 0, 0, 0xC0]))
        .collect();
    assert_eq!(scans, want, "25 scan events, in order");
    assert!(got.iter().all(|e| e[0] == V::I(19)));
}

#[test]
fn connect_reports_16_then_26() {
    let (mut stack, mut ctrl) = started_client();
    assert_eq!(
        stack.qpy_connect(0, &SERVER[..5]),
        -1,
        "addr must be 6 bytes"
    );
    assert_eq!(stack.qpy_connect(2, &SERVER), -1, "addr_type 0 or 1");
    assert_eq!(stack.qpy_connect(0, &SERVER), 0);
    ctrl.settle(&mut stack, 2);
    let cmds = ctrl.commands();
    let cc = cmds
        .iter()
        .find(|(o, _)| *o == opcode::LE_CREATE_CONNECTION)
        .unwrap();
    assert_eq!(
        &cc.1[5..12],
        &[0x00, 0x01, 0xD0, 0xA2, 0xB0, 0x00, 0x00],
        "peer type and address"
    );
    stack.h4_rx(&le_connection_complete_role(LINK, SERVER, 0x00), 3);
    assert_eq!(
        events(&mut stack),
        std::vec![
            std::vec![V::I(16), V::I(0), V::I(0), V::B(SERVER.to_vec())],
            ints(&[26, 0]),
        ]
    );
}

#[test]
fn the_client_demo_discovery_sequence() {
    let (mut stack, mut ctrl) = connected();
    events(&mut stack);
    ctrl.take_l2cap(CID_ATT);

    // discoverAllService: Read By Group Type 0x0001-0xFFFF, 0x2800.
    assert_eq!(stack.qpy_client(|c, h| c.discover_all_service(h, 0)), 0);
    ctrl.settle(&mut stack, 4);
    assert_eq!(
        ctrl.take_l2cap(CID_ATT),
        std::vec![std::vec![0x10, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x28]]
    );
    // One service 0x180F at 1-4, then the next request from 5.
    let next = server_says(
        &mut stack,
        &mut ctrl,
        &[0x11, 0x06, 0x01, 0x00, 0x04, 0x00, 0x0F, 0x18],
    );
    assert_eq!(
        next,
        std::vec![std::vec![0x10, 0x05, 0x00, 0xFF, 0xFF, 0x00, 0x28]]
    );
    assert_eq!(events(&mut stack), std::vec![ints(&[27, 0, 1, 4, 0x180F])]);

    // The demo asks for characteristics from the 27 handler, while service
    // discovery still runs: the call is queued, not refused.
    assert_eq!(stack.qpy_client(|c, h| c.discover_range(h, 1, 0, 1, 4)), 0);
    ctrl.settle(&mut stack, 4);
    assert!(ctrl.take_l2cap(CID_ATT).is_empty(), "one request at a time");
    // Attribute Not Found ends service discovery silently (no 37) and the
    // queued characteristic discovery starts.
    let next = server_says(&mut stack, &mut ctrl, &[0x01, 0x10, 0x05, 0x00, 0x0A]);
    assert_eq!(
        next,
        std::vec![std::vec![0x08, 0x01, 0x00, 0x04, 0x00, 0x03, 0x28]]
    );
    assert!(events(&mut stack).is_empty());

    // Characteristic 0x2A19 at 2 (value 3, properties 0x32): event 28 with
    // the raw body, then Attribute Not Found -> (37, 0, 0x0A).
    let body = [0x07, 0x02, 0x00, 0x32, 0x03, 0x00, 0x19, 0x2A];
    let mut rsp = std::vec![0x09];
    rsp.extend_from_slice(&body);
    let next = server_says(&mut stack, &mut ctrl, &rsp);
    assert_eq!(
        next,
        std::vec![std::vec![0x08, 0x03, 0x00, 0x04, 0x00, 0x03, 0x28]]
    );
    assert_eq!(events(&mut stack), std::vec![raw(28, &body)]);
    server_says(&mut stack, &mut ctrl, &[0x01, 0x08, 0x03, 0x00, 0x0A]);
    assert_eq!(events(&mut stack), std::vec![ints(&[37, 0, 0x0A])]);

    // Descriptors of the last characteristic: range 4-4 covered by one
    // response, so no 37.
    assert_eq!(stack.qpy_client(|c, h| c.discover_range(h, 2, 0, 4, 4)), 0);
    ctrl.settle(&mut stack, 4);
    assert_eq!(
        ctrl.take_l2cap(CID_ATT),
        std::vec![std::vec![0x04, 0x04, 0x00, 0x04, 0x00]]
    );
    let next = server_says(&mut stack, &mut ctrl, &[0x05, 0x01, 0x04, 0x00, 0x02, 0x29]);
    assert!(next.is_empty());
    assert_eq!(
        events(&mut stack),
        std::vec![raw(29, &[0x01, 0x04, 0x00, 0x02, 0x29])]
    );

    // readCharaByUUID(0, 2, 3, 1, 0x2A19, zeros): Read By Type.
    let z = [0u8; 16];
    assert_eq!(
        stack.qpy_client(|c, h| c.read_by_uuid(h, 0, 2, 3, 1, 0x2A19, &z)),
        0
    );
    ctrl.settle(&mut stack, 4);
    assert_eq!(
        ctrl.take_l2cap(CID_ATT),
        std::vec![std::vec![0x08, 0x02, 0x00, 0x03, 0x00, 0x19, 0x2A]]
    );
    server_says(&mut stack, &mut ctrl, &[0x09, 0x03, 0x03, 0x00, 0x64]);
    assert_eq!(
        events(&mut stack),
        std::vec![raw(33, &[0x03, 0x03, 0x00, 0x64])]
    );
}

#[test]
fn reads_writes_notifications_and_errors() {
    let (mut stack, mut ctrl) = connected();
    events(&mut stack);
    ctrl.take_l2cap(CID_ATT);

    // A read the server refuses: (37, 0, 0x02 Read Not Permitted).
    assert_eq!(stack.qpy_client(|c, h| c.read_by_handle(h, 0, 5, 0, 0)), 0);
    ctrl.settle(&mut stack, 4);
    assert_eq!(
        ctrl.take_l2cap(CID_ATT),
        std::vec![std::vec![0x0A, 0x05, 0x00]]
    );
    server_says(&mut stack, &mut ctrl, &[0x01, 0x0A, 0x05, 0x00, 0x02]);
    assert_eq!(events(&mut stack), std::vec![ints(&[37, 0, 0x02])]);

    // writeChara: Write Request, then (30, 0); an error gives (30, code).
    assert_eq!(
        stack.qpy_client(|c, h| c.write(h, false, 0, 3, 0, 0, &[0x40, 0x00])),
        0
    );
    ctrl.settle(&mut stack, 4);
    assert_eq!(
        ctrl.take_l2cap(CID_ATT),
        std::vec![std::vec![0x12, 0x03, 0x00, 0x40, 0x00]]
    );
    server_says(&mut stack, &mut ctrl, &[0x13]);
    assert_eq!(events(&mut stack), std::vec![ints(&[30, 0])]);
    assert_eq!(
        stack.qpy_client(|c, h| c.write(h, true, 0, 4, 0, 0, &[0x01, 0x00])),
        0
    );
    ctrl.settle(&mut stack, 4);
    ctrl.take_l2cap(CID_ATT);
    server_says(&mut stack, &mut ctrl, &[0x01, 0x12, 0x04, 0x00, 0x03]);
    assert_eq!(events(&mut stack), std::vec![ints(&[35, 0x03])]);

    // writeCharaNoRsp: Write Command, event 31 at once.
    assert_eq!(stack.qpy_write_no_rsp(0, 3, &[0x20, 0x00]), 0);
    ctrl.settle(&mut stack, 4);
    assert_eq!(
        ctrl.take_l2cap(CID_ATT),
        std::vec![std::vec![0x52, 0x03, 0x00, 0x20, 0x00]]
    );
    assert_eq!(events(&mut stack), std::vec![ints(&[31, 0])]);

    // A notification: (23, 0, len, handle LE + value); an indication is
    // confirmed and reported as 24.
    server_says(&mut stack, &mut ctrl, &[0x1B, 0x03, 0x00, 0x39, 0x39]);
    assert_eq!(
        events(&mut stack),
        std::vec![raw(23, &[0x03, 0x00, 0x39, 0x39])]
    );
    let cfm = server_says(&mut stack, &mut ctrl, &[0x1D, 0x03, 0x00, 0x41]);
    assert_eq!(cfm, std::vec![std::vec![0x1E]]);
    assert_eq!(events(&mut stack), std::vec![raw(24, &[0x03, 0x00, 0x41])]);

    // exchangeMtu(0, 247): (20, 0, conn handle, 247).
    assert_eq!(stack.qpy_client(|c, h| c.exchange_mtu(h, 0, 247)), 0);
    ctrl.settle(&mut stack, 4);
    assert_eq!(
        ctrl.take_l2cap(CID_ATT),
        std::vec![std::vec![0x02, 0xF7, 0x00]]
    );
    server_says(&mut stack, &mut ctrl, &[0x03, 0x05, 0x02]);
    assert_eq!(
        events(&mut stack),
        std::vec![ints(&[20, 0, LINK as i64, 247])]
    );

    // A long read at MTU 247: parts of 246 bytes until a short one.
    assert_eq!(stack.qpy_client(|c, h| c.read_by_handle(h, 0, 3, 0, 1)), 0);
    ctrl.settle(&mut stack, 4);
    assert_eq!(
        ctrl.take_l2cap(CID_ATT),
        std::vec![std::vec![0x0A, 0x03, 0x00]]
    );
    let mut part = std::vec![0x0B];
    part.extend_from_slice(&[0xAA; 246]);
    let next = server_says(&mut stack, &mut ctrl, &part);
    assert_eq!(next, std::vec![std::vec![0x0C, 0x03, 0x00, 246, 0x00]]);
    server_says(&mut stack, &mut ctrl, &[0x0D, 0xBB]);
    assert_eq!(
        events(&mut stack),
        std::vec![raw(32, &[0xAA; 246]), raw(32, &[0xBB])]
    );
}

#[test]
fn client_calls_check_their_arguments() {
    let (mut stack, _ctrl) = connected();
    let z = [0u8; 16];
    assert_eq!(
        stack.qpy_client(|c, h| c.discover_all_service(h, 9)),
        -1,
        "no such link"
    );
    assert_eq!(
        stack.qpy_client(|c, h| c.discover_range(h, 1, 0, 0x1_0000, 4)),
        -1
    );
    assert_eq!(
        stack.qpy_client(|c, h| c.discover_by_uuid(h, 0, 2, 0x180F, &z)),
        -1
    );
    assert_eq!(
        stack.qpy_client(|c, h| c.read_by_handle(h, 0, 3, 0, 2)),
        -1,
        "is_long 0/1"
    );
    assert_eq!(
        stack.qpy_client(|c, h| c.read_multi(h, 0, &[3, 0])),
        -1,
        "two handles or more"
    );
    assert_eq!(
        stack.qpy_client(|c, h| c.exchange_mtu(h, 0, 22)),
        -1,
        "MTU below 23"
    );
    assert_eq!(
        stack.qpy_client(|c, h| c.write(h, false, 0, 3, 0, 0, &[0; 513])),
        -1
    );
}

#[test]
fn calls_left_queued_at_gatt_stop_do_not_block_the_next_start() {
    let (mut stack, mut ctrl) = connected();
    events(&mut stack);
    assert_eq!(stack.qpy_client(|c, h| c.discover_all_service(h, 0)), 0);
    assert_eq!(
        stack.qpy_client(|c, h| c.discover_range(h, 1, 0, 1, 4)),
        0,
        "queued"
    );
    // Stop with the request unanswered: the controller reset drops the link.
    assert_eq!(stack.qpy_gatt_stop(5), 0);
    ctrl.settle(&mut stack, 5);
    assert_eq!(events(&mut stack).last(), Some(&ints(&[1, 0])));
    // Start again, reconnect: a new call goes out at once.
    assert_eq!(stack.qpy_gatt_start(6), 0);
    ctrl.settle(&mut stack, 6);
    assert_eq!(stack.qpy_connect(0, &SERVER), 0);
    ctrl.settle(&mut stack, 7);
    stack.h4_rx(&le_connection_complete_role(LINK, SERVER, 0x00), 7);
    ctrl.settle(&mut stack, 7);
    ctrl.take_l2cap(CID_ATT);
    assert_eq!(stack.qpy_client(|c, h| c.read_by_handle(h, 0, 3, 0, 0)), 0);
    ctrl.settle(&mut stack, 8);
    assert_eq!(
        ctrl.take_l2cap(CID_ATT),
        std::vec![std::vec![0x0A, 0x03, 0x00]]
    );
}

/// Defect: the pool of queued write values freed from its head, assuming
/// calls finish in order. A write refused after storing its bytes (its
/// link is down) freed the bytes of a write still queued on another link,
/// and the next stored value overwrote them: the peer received wrong data.
#[test]
fn a_refused_write_never_frees_the_bytes_of_a_queued_one() {
    let (mut stack, mut ctrl) = connected();
    events(&mut stack);
    ctrl.take_l2cap(CID_ATT);
    // A read is outstanding, so the next write waits in the queue.
    assert_eq!(stack.qpy_client(|c, h| c.read_by_handle(h, 0, 5, 0, 0)), 0);
    // Sizes as parts of the pool (100, 500, 400 of the unix 1024 bytes).
    let part = |n: usize| n * crate::config::GATT_CLIENT_POOL / 1024;
    let first = std::vec![0x11u8; part(100)];
    assert_eq!(
        stack.qpy_client(|c, h| c.write(h, false, 0, 3, 0, 1, &first)),
        0
    );
    // Link 1 is down: refused, -1, after its bytes were stored.
    assert_eq!(
        stack.qpy_client(|c, h| c.write(h, false, 1, 3, 0, 1, &std::vec![0x22; part(100)])),
        -1
    );
    // The app queues another write; its value must not land on the first.
    assert_eq!(
        stack.qpy_client(|c, h| c.write(h, false, 0, 3, 0, 1, &std::vec![0x33; part(500)])),
        0
    );
    assert_eq!(
        stack.qpy_client(|c, h| c.write(h, false, 0, 3, 0, 1, &std::vec![0x44; part(400)])),
        0
    );
    ctrl.settle(&mut stack, 4);
    ctrl.take_l2cap(CID_ATT);
    // The read completes; the first write starts with a Prepare Write
    // Request carrying the first MTU-5 bytes of ITS value.
    let sent = server_says(&mut stack, &mut ctrl, &[0x0B, 0x01]);
    assert_eq!(sent.len(), 1, "{sent:02x?}");
    assert_eq!(sent[0][0], 0x16, "Prepare Write Request");
    assert_eq!(&sent[0][5..], &first[..18], "the queued write's own bytes");
}

// -- registration across gattStop / gattStart (issue 6, defect 8) -----------

/// The attributes a peer's Find Information 0x0001-0xFFFF walks, as
/// (handle, 16-bit type), asked through ATT like a client would.
fn table_seen_by_peer(
    stack: &mut Firmware,
    ctrl: &mut ScriptedController,
    now: u32,
) -> Vec<(u16, u16)> {
    let mut seen = Vec::new();
    let mut start = 1u16;
    loop {
        let mut req = std::vec![0x04];
        req.extend_from_slice(&start.to_le_bytes());
        req.extend_from_slice(&[0xFF, 0xFF]);
        stack.h4_rx(&acl_frame(LINK, CID_ATT, &req), now);
        ctrl.settle(stack, now);
        let rsp = ctrl.take_l2cap(CID_ATT).pop().expect("an answer");
        if rsp[0] == 0x01 {
            assert_eq!(
                rsp,
                std::vec![0x01, 0x04, start as u8, (start >> 8) as u8, 0x0A]
            );
            return seen;
        }
        // Find Information Response, format 1: handle + 16-bit UUID pairs.
        assert_eq!(&rsp[..2], &[0x05, 0x01]);
        for pair in rsp[2..].chunks(4) {
            let h = u16::from_le_bytes([pair[0], pair[1]]);
            seen.push((h, u16::from_le_bytes([pair[2], pair[3]])));
            start = h + 1;
        }
    }
}

#[test]
fn registering_again_after_stop_and_start_gives_one_table() {
    // The demos register in their event-0 handler, so every start
    // registers the same service again; each call must return 0 and the
    // table must hold each attribute once (docs/DECISIONS.md).
    let mut stack = Box::new(Firmware::new());
    let mut ctrl = ScriptedController::new(BD_ADDR);
    assert_eq!(stack.qpy.server_init(), 0);
    for run in 0..3u32 {
        let t = 100 * run;
        assert_eq!(stack.qpy_gatt_start(t), 0);
        ctrl.settle(&mut stack, t);
        assert_eq!(events(&mut stack), std::vec![ints(&[0, 0])], "run {run}");
        register_demo_service(&mut stack, 0);
        assert_eq!(stack.qpy_change_chara_value(1, 1, b"\x64"), 0);
        stack.h4_rx(&le_connection_complete_role(LINK, SERVER, 0x01), t + 1);
        ctrl.settle(&mut stack, t + 1);
        assert_eq!(
            table_seen_by_peer(&mut stack, &mut ctrl, t + 2),
            std::vec![(1, 0x2800), (2, 0x2803), (3, 0x2A19), (4, 0x2902)],
            "run {run}: one service, one characteristic, one CCCD"
        );
        events(&mut stack);
        assert_eq!(stack.qpy_gatt_stop(t + 3), 0);
        ctrl.settle(&mut stack, t + 3);
        assert_eq!(events(&mut stack).last(), Some(&ints(&[1, 0])));
        assert!(
            stack.stack.host.core.db.is_empty(),
            "a stop forgets the table"
        );
        assert_eq!(
            stack.qpy_change_chara_value(1, 1, b"\x64"),
            -1,
            "and the registrations"
        );
    }
}

#[test]
fn release_in_the_stop_handler_then_init_and_start_again() {
    // The newer official server demo calls serverRelease once event 1
    // arrives; the 2021 one right after gattStop, before event 1.
    let mut stack = Box::new(Firmware::new());
    let mut ctrl = ScriptedController::new(BD_ADDR);
    for (run, release_before_event_1) in [(0u32, false), (1, true), (2, false)] {
        let t = 100 * run;
        assert_eq!(stack.qpy.server_init(), 0);
        assert_eq!(stack.qpy_gatt_start(t), 0);
        ctrl.settle(&mut stack, t);
        register_demo_service(&mut stack, 1);
        assert_eq!(stack.stack.host.core.db.cccd_for_value(18), Some(19));
        assert_eq!(stack.stack.host.core.db.uuid(20), None, "run {run}");
        assert_eq!(stack.qpy_gatt_stop(t + 1), 0);
        if release_before_event_1 {
            assert_eq!(stack.qpy.server_release(), 0);
        }
        ctrl.settle(&mut stack, t + 1);
        events(&mut stack);
        assert_eq!(stack.qpy.server_release(), 0);
        assert!(stack.stack.host.core.db.is_empty());
    }
}

#[test]
fn a_second_cccd_on_one_characteristic_is_refused() {
    let (mut stack, _ctrl) = started_client();
    assert_eq!(stack.qpy.client_release(), 0);
    assert_eq!(stack.qpy.server_init(), 0);
    let z = [0u8; 16];
    register_demo_service(&mut stack, 0);
    let cccd = |s: &mut Firmware| {
        s.qpy
            .add_chara_attr(true, 1, 1, 0x0003, 1, 0x2902, &z, &[0u8; 2])
    };
    assert_eq!(cccd(&mut stack), -1, "one CCCD per characteristic");
    // The 128-bit form of 0x2902 is the same descriptor.
    let mut long = [
        0xFB, 0x34, 0x9B, 0x5F, 0x80, 0x00, 0x00, 0x80, 0x00, 0x10, 0x00, 0x00, 0x02, 0x29, 0x00,
        0x00,
    ];
    assert_eq!(
        stack
            .qpy
            .add_chara_attr(true, 1, 1, 0x0003, 0, 0, &long, &[0u8; 2]),
        -1
    );
    long[12] = 0x08; // 0x2908 Report Reference: may repeat
    assert_eq!(
        stack
            .qpy
            .add_chara_attr(true, 1, 1, 0x0003, 0, 0, &long, &[1, 1]),
        0
    );
    assert_eq!(stack.qpy_add_or_clear_service(1, 0), 0);
    let db = &stack.stack.host.core.db;
    assert!(db.is_cccd(4));
    assert_eq!(db.uuid(5).and_then(|u| u.as_u16()), Some(0x2908));
    assert_eq!(db.uuid(6), None);
}

/// One Find By Type Value Response at ATT_MTU 247 carries 61 service
/// records, one event 27 each: every one reaches Python, none is dropped
/// (the tuples wait packed in the event ring, 14 bytes each).
#[test]
fn a_full_discovery_response_reaches_python_whole() {
    let (mut stack, mut ctrl) = connected();
    events(&mut stack);
    ctrl.take_l2cap(CID_ATT);
    assert_eq!(stack.qpy_client(|c, h| c.exchange_mtu(h, 0, 247)), 0);
    ctrl.settle(&mut stack, 4);
    ctrl.take_l2cap(CID_ATT);
    server_says(&mut stack, &mut ctrl, &[0x03, 0xF7, 0x00]);
    events(&mut stack);
    let z = [0u8; 16];
    assert_eq!(
        stack.qpy_client(|c, h| c.discover_by_uuid(h, 0, 1, 0x180F, &z)),
        0
    );
    ctrl.settle(&mut stack, 4);
    assert_eq!(ctrl.take_l2cap(CID_ATT)[0][0], 0x06, "Find By Type Value");
    // 61 records (found handle, group end) of 4 bytes: 1 + 244 bytes.
    let mut rsp = std::vec![0x07];
    for i in 0..61u16 {
        rsp.extend_from_slice(&(0x100 + 4 * i).to_le_bytes());
        rsp.extend_from_slice(&(0x103 + 4 * i).to_le_bytes());
    }
    // Python drains the 61 tuples before the controller's next packet
    // (its Number Of Completed Packets) is offered, as the port does.
    stack.h4_rx(&acl_frame(LINK, CID_ATT, &rsp), 4);
    let got = events(&mut stack);
    ctrl.settle(&mut stack, 4);
    let services: Vec<_> = got.iter().filter(|e| e[0] == V::I(27)).collect();
    assert_eq!(services.len(), 61);
    assert_eq!(
        *services[60],
        ints(&[27, 0, 0x100 + 4 * 60, 0x103 + 4 * 60, 0x180F])
    );
    assert_eq!(stack.events_dropped(), 0);
}

#[test]
fn smp_calls_check_their_ranges_and_report_events_63_and_64() {
    let (mut stack, mut ctrl) = connected();
    let _ = events(&mut stack);
    let f = &mut *stack;
    // Defaults (reference §2.4), then the ranges: -1 and nothing changes.
    assert_eq!(
        f.qpy.smp_get_config(&f.stack.host.core),
        [3, 9, 123_456, 160]
    );
    for (io, auth, passkey, timeout) in [
        (5, 9, 0, 160),
        (-1, 9, 0, 160),
        (4, 16, 0, 160),
        (4, 9, 1_000_000, 160),
        (4, 9, -1, 160),
        (4, 9, 0, 0),
        (4, 9, 0, 0x1_0000),
    ] {
        let core = f.stack.core();
        assert_eq!(f.qpy.smp_set_config(core, io, auth, passkey, timeout), -1);
    }
    assert_eq!(
        f.qpy.smp_get_config(&f.stack.host.core),
        [3, 9, 123_456, 160]
    );
    let core = f.stack.core();
    assert_eq!(f.qpy.smp_set_config(core, 4, 13, 654_321, 600), 0);
    assert_eq!(
        f.qpy.smp_get_config(&f.stack.host.core),
        [4, 13, 654_321, 600]
    );
    let core = f.stack.core();
    assert_eq!(f.qpy.smp_user_confirm(core, 0, 3, 0), -1, "operation 0..2");
    assert_eq!(f.qpy.smp_user_confirm(core, 0, 1, 1_000_000), -1, "pin");
    assert_eq!(f.qpy.smp_user_confirm(core, 3, 1, 0), -1, "no such link");
    assert_eq!(
        f.qpy.smp_user_confirm(core, 0, 1, 0),
        0,
        "nothing waits: harmless"
    );
    assert_eq!(f.qpy.smp_start_pair(core, 2), -1, "no such link");
    assert_eq!(f.qpy.smp_remove_paired(core, &[1, 2, 3]), -1, "6 bytes");
    assert_eq!(f.qpy.smp_remove_paired(core, &SERVER), -1, "no bond");
    assert_eq!(f.qpy.smp_clean_paired(core), 0);
    assert_eq!(f.qpy.smp_paired_count(&f.stack.host.core), 0);
    // smpStartPair on the link: a pairing starts (LE Rand), a second one
    // is refused while it runs.
    assert_eq!(stack.qpy.smp_start_pair(stack.stack.core(), 0), 0);
    assert_eq!(stack.qpy.smp_start_pair(stack.stack.core(), 0), -1);
    ctrl.settle(&mut stack, 4);
    // The peer refuses: Pairing Failed, Pairing Not Supported -> (63, 5).
    stack.h4_rx(&acl_frame(LINK, 0x0006, &[0x05, 0x05]), 5);
    ctrl.settle(&mut stack, 5);
    assert_eq!(events(&mut stack), std::vec![ints(&[63, 5])]);
}
