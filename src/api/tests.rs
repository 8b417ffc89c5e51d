//! The QuecPython adapter driven end to end through the host, against a
//! scripted controller and a scripted peer (bytes per the Core spec).

extern crate std;

use super::event::MpbleTarget;
use super::quecpython::calls::QpyCalls;
use super::Firmware;
use crate::hci::command::opcode;
use crate::l2cap::CID_ATT;
use crate::testing::{
    acl_frame, disconnection_complete, drain_events, ints, le_connection_complete,
    register_demo_service, ScriptedController, V,
};
use std::boxed::Box;
use std::vec::Vec;

const BD_ADDR: [u8; 6] = [0x01, 0x00, 0xEE, 0xFF, 0xC0, 0xF0];
const PEER: [u8; 6] = [0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F];
const LINK: u16 = 0x0040;

fn events(stack: &mut Firmware) -> Vec<(MpbleTarget, Vec<V>)> {
    drain_events(stack)
}

/// A started server, as `serverInit` + `gattStart` + event 0 leave it.
fn started() -> (Box<Firmware>, ScriptedController) {
    let mut stack = Box::new(Firmware::new());
    let mut ctrl = ScriptedController::new(BD_ADDR);
    assert_eq!(stack.qpy.server_init(), 0);
    assert_eq!(stack.qpy_gatt_start(0), 0);
    ctrl.settle(&mut stack, 1);
    assert_eq!(
        events(&mut stack),
        std::vec![(MpbleTarget::QpyServer, ints(&[0, 0]))]
    );
    (stack, ctrl)
}

fn connect(stack: &mut Firmware, ctrl: &mut ScriptedController) {
    stack.h4_rx(&le_connection_complete(LINK, PEER), 2);
    ctrl.settle(stack, 2);
}

fn att(stack: &mut Firmware, ctrl: &mut ScriptedController, pdu: &[u8]) -> Vec<Vec<u8>> {
    stack.h4_rx(&acl_frame(LINK, CID_ATT, pdu), 3);
    ctrl.settle(stack, 3);
    ctrl.take_l2cap(CID_ATT)
}

#[test]
fn start_reports_event_0_and_the_controller_address() {
    let (stack, mut ctrl) = started();
    assert_eq!(stack.public_addr(), Some(BD_ADDR));
    assert_eq!(stack.qpy_get_status(), 1);
    let cmds = ctrl.take_commands();
    assert_eq!(cmds.first(), Some(&opcode::RESET));
    assert!(cmds.contains(&opcode::READ_BD_ADDR));
    assert!(cmds.contains(&opcode::LE_SET_EVENT_MASK));
}

#[test]
fn a_silent_controller_fails_start_within_the_command_timeout() {
    let mut stack = Box::new(Firmware::new());
    let mut ctrl = ScriptedController::new(BD_ADDR);
    ctrl.silent.push(opcode::RESET);
    stack.qpy.server_init();
    assert_eq!(stack.qpy_gatt_start(0), 0);
    ctrl.settle(&mut stack, 0);
    assert!(events(&mut stack).is_empty());
    let wait = stack.next_timeout_ms(0);
    assert!(wait <= crate::config::HCI_CMD_TIMEOUT_MS);
    stack.tick(wait);
    assert_eq!(
        events(&mut stack),
        std::vec![(MpbleTarget::QpyServer, ints(&[0, 1]))]
    );
    assert_eq!(stack.qpy_get_status(), 0);
    assert_eq!(stack.public_addr(), None);
}

#[test]
fn gatt_start_needs_a_role_and_events_after_release_are_dropped() {
    let mut stack = Box::new(Firmware::new());
    assert_eq!(stack.qpy_gatt_start(0), -1);
    let (mut stack, mut ctrl) = started();
    assert_eq!(stack.qpy.client_init(), -1, "one role at a time");
    assert_eq!(stack.qpy_gatt_stop(5), 0);
    assert_eq!(stack.qpy.server_release(), 0);
    ctrl.settle(&mut stack, 5);
    assert!(events(&mut stack).is_empty());
    assert_eq!(stack.qpy_get_status(), 0);
}

#[test]
fn demo_table_with_default_services_removed_starts_at_handle_1() {
    let (mut stack, _ctrl) = started();
    register_demo_service(&mut stack, 0);
    let db = &stack.stack.host.core.db;
    assert_eq!(db.uuid(1), Some(crate::uuid::Uuid::Uuid16(0x2800)));
    assert_eq!(db.value(1), Some(&[0x0F, 0x18][..]));
    // Characteristic declaration: properties 0x32, value handle 3, UUID 0x2A19.
    assert_eq!(db.value(2), Some(&[0x32, 0x03, 0x00, 0x19, 0x2A][..]));
    assert_eq!(db.value(3).map(|v| v.len()), Some(244));
    assert!(db.is_cccd(4));
    assert_eq!(db.uuid(5), None);
}

#[test]
fn demo_table_with_default_services_kept_starts_at_handle_16() {
    let (mut stack, _ctrl) = started();
    register_demo_service(&mut stack, 1);
    let db = &stack.stack.host.core.db;
    assert_eq!(db.value(1), Some(&[0x00, 0x18][..]), "GAP service first");
    assert_eq!(db.value(16), Some(&[0x0F, 0x18][..]));
    assert_eq!(db.value(17), Some(&[0x32, 18, 0x00, 0x19, 0x2A][..]));
    assert!(db.is_cccd(19));
    // The GAP Device Name is the name given to setLocalName.
    assert_eq!(db.value(3), Some(&b"Quectel_ble"[..]));
}

#[test]
fn advertising_sends_the_apps_bytes_verbatim() {
    let (mut stack, mut ctrl) = started();
    ctrl.take_commands();
    let mut adv = std::vec![0x02, 0x01, 0x05, 0x0C, 0x09];
    adv.extend_from_slice(b"Quectel_ble");
    let rsp = adv[3..].to_vec();
    assert_eq!(
        stack.qpy_set_adv_param([0x300, 0x320, 0, 0, 7, 0, 2, 1, 1]),
        0
    );
    assert_eq!(stack.qpy_set_adv_data(&adv, false), 0);
    assert_eq!(stack.qpy_set_adv_data(&rsp, true), 0);
    assert_eq!(stack.qpy_adv_enable(true), 0);
    ctrl.settle(&mut stack, 2);
    let sent = ctrl.commands();
    let find = |op| {
        sent.iter()
            .rev()
            .find(|(o, _)| *o == op)
            .map(|(_, p)| p.clone())
            .unwrap()
    };
    // LE Set Advertising Parameters (7.8.5): 0x300, 0x320, ADV_IND, public, ..., ch 37-39.
    assert_eq!(
        find(opcode::LE_SET_ADVERTISING_PARAMETERS),
        std::vec![0x00, 0x03, 0x20, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07, 0]
    );
    let data = find(opcode::LE_SET_ADVERTISING_DATA);
    assert_eq!(data[0] as usize, adv.len());
    assert_eq!(&data[1..1 + adv.len()], &adv[..]);
    let sr = find(opcode::LE_SET_SCAN_RESPONSE_DATA);
    assert_eq!(&sr[1..1 + rsp.len()], &rsp[..]);
    assert_eq!(find(opcode::LE_SET_ADVERTISING_ENABLE), std::vec![1]);
}

#[test]
fn out_of_range_arguments_return_minus_one_and_change_nothing() {
    let (mut stack, _ctrl) = started();
    let before = stack.stack.host.core.gap.adv.params();
    assert_eq!(
        stack.qpy_set_adv_param([0x1F, 0x320, 0, 0, 7, 0, 2, 1, 1]),
        -1
    );
    assert_eq!(
        stack.qpy_set_adv_param([0x300, 0x4001, 0, 0, 7, 0, 2, 1, 1]),
        -1
    );
    assert_eq!(
        stack.qpy_set_adv_param([0x300, 0x320, 5, 0, 7, 0, 2, 1, 1]),
        -1
    );
    assert_eq!(
        stack.qpy_set_adv_param([0x300, 0x320, 0, 0, 3, 0, 2, 1, 1]),
        -1
    );
    assert_eq!(
        stack.qpy_set_adv_param([0x300, 0x320, 0, 0, 7, 0, 2, 2, 1]),
        -1
    );
    assert_eq!(stack.stack.host.core.gap.adv.params(), before);
    assert_eq!(stack.qpy_set_adv_data(&[0u8; 32], false), -1);
    assert_eq!(stack.qpy_set_adv_data(&[], false), -1);
    assert!(stack.stack.host.core.gap.adv.data.is_empty());
    assert_eq!(stack.qpy_set_local_name(2, b"x"), -1);
    assert_eq!(stack.qpy_set_local_name(0, &[b'a'; 30]), -1);
    assert_eq!(stack.qpy_set_local_name(0, b""), -1);
    let z = [0u8; 16];
    assert_eq!(stack.qpy.add_service(1, 0x1_0000, 1, 0x180F, &z), -1);
    assert_eq!(stack.qpy.add_service(1, 1, 2, 0x180F, &z), -1);
    assert_eq!(stack.qpy.add_service(1, 1, 1, 0x180F, &[0u8; 17]), -1);
    assert_eq!(
        stack.qpy.add_chara(9, 1, 0x02, 1, 0x2A19, &z),
        -1,
        "unknown service"
    );
    assert_eq!(stack.qpy.add_service(1, 1, 1, 0x180F, &z), 0);
    assert_eq!(
        stack.qpy.add_service(1, 1, 1, 0x180F, &z),
        -1,
        "duplicate server_id"
    );
    assert_eq!(stack.qpy.add_chara(1, 1, 0x100, 1, 0x2A19, &z), -1);
    assert_eq!(
        stack
            .qpy
            .add_chara_attr(false, 1, 1, 3, 1, 0x2A19, &z, &[0]),
        -1,
        "no chara"
    );
    assert_eq!(stack.qpy.add_chara(1, 1, 0x02, 1, 0x2A19, &z), 0);
    assert_eq!(
        stack
            .qpy
            .add_chara_attr(false, 1, 1, 0x1000, 1, 0x2A19, &z, &[0]),
        -1
    );
    assert_eq!(stack.qpy_add_or_clear_service(2, 0), -1);
    assert_eq!(stack.qpy_add_or_clear_service(1, 2), -1);
    assert_eq!(stack.qpy_send(false, 0, 3, b"x", 3), -1, "no connection");
}

#[test]
fn connect_notify_write_mtu_and_disconnect_follow_the_demo_tuples() {
    let (mut stack, mut ctrl) = started();
    register_demo_service(&mut stack, 0);
    connect(&mut stack, &mut ctrl);
    assert_eq!(
        events(&mut stack),
        std::vec![(
            MpbleTarget::QpyServer,
            std::vec![V::I(16), V::I(0), V::I(0), V::B(PEER.to_vec())]
        )]
    );

    // The demo notifies on connect, before the peer could enable the CCCD.
    assert_eq!(stack.qpy_send(false, 0, 3, b"99999", 3), 0);
    ctrl.settle(&mut stack, 3);
    assert_eq!(
        ctrl.take_l2cap(CID_ATT),
        std::vec![std::vec![0x1B, 0x03, 0x00, 0x39, 0x39, 0x39, 0x39, 0x39]]
    );
    assert_eq!(
        events(&mut stack),
        std::vec![(MpbleTarget::QpyServer, ints(&[25, 0]))]
    );

    // ATT_EXCHANGE_MTU_REQ 247 -> RSP with our ATT_MTU_MAX (517 unix, 247
    // microcontroller); ATT_MTU = 247.
    let [lo, hi] = (crate::config::ATT_MTU_MAX as u16).to_le_bytes();
    assert_eq!(
        att(&mut stack, &mut ctrl, &[0x02, 0xF7, 0x00]),
        std::vec![std::vec![0x03, lo, hi]]
    );
    assert_eq!(
        events(&mut stack),
        std::vec![(MpbleTarget::QpyServer, ints(&[20, 0, LINK as i64, 247]))]
    );

    // ATT_WRITE_REQ to handle 3.
    assert_eq!(
        att(&mut stack, &mut ctrl, &[0x12, 0x03, 0x00, 0x31, 0x32]),
        std::vec![std::vec![0x13]]
    );
    let mut expected = std::vec![
        V::I(21),
        V::I(0),
        V::I(2),
        V::B(b"12".to_vec()),
        V::I(3),
        V::I(0x2A19)
    ];
    expected.push(V::B(std::vec![0; 16]));
    assert_eq!(
        events(&mut stack),
        std::vec![(MpbleTarget::QpyServer, expected)]
    );

    // CCCD write: reported as event 21 on handle 4, uuid 0x2902.
    assert_eq!(
        att(&mut stack, &mut ctrl, &[0x12, 0x04, 0x00, 0x01, 0x00]),
        std::vec![std::vec![0x13]]
    );
    let evs = events(&mut stack);
    assert_eq!(
        evs[0].1[..6],
        [
            V::I(21),
            V::I(0),
            V::I(2),
            V::B(std::vec![1, 0]),
            V::I(4),
            V::I(0x2902)
        ]
    );

    // A read is reported as event 22 with the value.
    let rsp = att(&mut stack, &mut ctrl, &[0x0A, 0x03, 0x00]);
    assert_eq!(rsp[0][0], 0x0B);
    assert_eq!(&rsp[0][1..], b"12");
    assert_eq!(
        events(&mut stack)[0].1[..4],
        [V::I(22), V::I(0), V::I(2), V::B(b"12".to_vec())]
    );

    stack.h4_rx(&disconnection_complete(LINK, 0x13), 4);
    assert_eq!(
        events(&mut stack),
        std::vec![(
            MpbleTarget::QpyServer,
            std::vec![V::I(17), V::I(0), V::I(0), V::B(PEER.to_vec())]
        )]
    );
    assert_eq!(
        stack.stack.host.core.db.cccd(0, 4),
        0,
        "CCCD forgotten with the link"
    );
}

#[test]
fn one_indication_at_a_time_and_send_end_after_confirmation() {
    let (mut stack, mut ctrl) = started();
    register_demo_service(&mut stack, 0);
    connect(&mut stack, &mut ctrl);
    events(&mut stack);
    assert_eq!(stack.qpy_send(true, 0, 3, b"A", 3), 0);
    assert_eq!(
        stack.qpy_send(true, 0, 3, b"B", 3),
        -1,
        "second indication refused"
    );
    ctrl.settle(&mut stack, 3);
    assert_eq!(
        ctrl.take_l2cap(CID_ATT),
        std::vec![std::vec![0x1D, 0x03, 0x00, b'A']]
    );
    assert!(
        events(&mut stack).is_empty(),
        "no send end before the confirmation"
    );
    assert!(att(&mut stack, &mut ctrl, &[0x1E]).is_empty());
    assert_eq!(
        events(&mut stack),
        std::vec![(MpbleTarget::QpyServer, ints(&[25, 0]))]
    );
    assert_eq!(stack.qpy_send(true, 0, 3, b"B", 3), 0);
}

#[test]
fn gatt_stop_drops_links_resets_the_controller_and_reports_event_1() {
    let (mut stack, mut ctrl) = started();
    register_demo_service(&mut stack, 0);
    connect(&mut stack, &mut ctrl);
    events(&mut stack);
    ctrl.take_commands();
    assert_eq!(stack.qpy_gatt_stop(10), 0);
    ctrl.settle(&mut stack, 10);
    let cmds = ctrl.take_commands();
    assert_eq!(cmds.first(), Some(&opcode::DISCONNECT));
    assert_eq!(cmds.last(), Some(&opcode::RESET));
    assert_eq!(
        events(&mut stack),
        std::vec![(MpbleTarget::QpyServer, ints(&[1, 0]))]
    );
    assert_eq!(stack.qpy_get_status(), 0);
    assert_eq!(stack.qpy_gatt_stop(11), -1, "already stopped");
}

#[test]
fn change_chara_value_is_seen_by_the_next_read() {
    let (mut stack, mut ctrl) = started();
    register_demo_service(&mut stack, 0);
    assert_eq!(stack.qpy_change_chara_value(1, 1, b"\x64"), 0);
    assert_eq!(stack.qpy_change_chara_value(1, 2, b"\x64"), -1);
    connect(&mut stack, &mut ctrl);
    assert_eq!(
        att(&mut stack, &mut ctrl, &[0x0A, 0x03, 0x00]),
        std::vec![std::vec![0x0B, 0x64]]
    );
}

#[test]
fn random_own_address_is_set_before_advertising() {
    let mut stack = Box::new(Firmware::new());
    let mut ctrl = ScriptedController::new([0x01, 0x02, 0x03, 0x04, 0x05, 0x12]);
    stack.qpy.server_init();
    stack.qpy_gatt_start(0);
    ctrl.settle(&mut stack, 1);
    ctrl.take_commands();
    ctrl.sent.clear();
    assert_eq!(
        stack.qpy_set_adv_param([0x30, 0x30, 0, 1, 7, 0, 2, 1, 1]),
        0
    );
    assert_eq!(stack.qpy_adv_enable(true), 0);
    ctrl.settle(&mut stack, 2);
    let sent = ctrl.commands();
    assert_eq!(sent[0].0, opcode::LE_SET_RANDOM_ADDRESS);
    // Static random: the two most significant bits set (Vol 6 Part B 1.3.2.1).
    assert_eq!(sent[0].1, std::vec![0x01, 0x02, 0x03, 0x04, 0x05, 0xD2]);
    assert_eq!(sent[1].0, opcode::LE_SET_ADVERTISING_PARAMETERS);
    assert_eq!(sent[1].1[5], 0x01, "Own_Address_Type random");
}

#[test]
fn an_indication_never_confirmed_drops_the_link_after_30_s() {
    let (mut stack, mut ctrl) = started();
    register_demo_service(&mut stack, 0);
    connect(&mut stack, &mut ctrl);
    events(&mut stack);
    ctrl.take_commands();
    // No timer runs, and the tick before the call finds none: the
    // indication's timer, armed by the call, still counts (the deadline is
    // kept between calls, and a call makes it stale).
    assert_eq!(stack.next_timeout_ms(1_000), u32::MAX);
    stack.tick(1_000);
    assert_eq!(stack.qpy_send(true, 0, 3, b"A", 1_000), 0);
    assert_eq!(
        stack.next_timeout_ms(1_000),
        crate::config::ATT_TRANSACTION_TIMEOUT_MS
    );
    ctrl.settle(&mut stack, 1_000);
    assert_eq!(
        stack.next_timeout_ms(1_000),
        crate::config::ATT_TRANSACTION_TIMEOUT_MS
    );
    stack.tick(30_999);
    assert!(ctrl.exchange(&mut stack).is_empty(), "not before 30 s");
    stack.tick(31_000);
    ctrl.settle(&mut stack, 31_000);
    assert_eq!(ctrl.take_commands(), std::vec![opcode::DISCONNECT]);
    // Nothing more goes out on that bearer (Vol 3 Part F 3.3.3).
    assert_eq!(stack.qpy_send(false, 0, 3, b"B", 31_001), -1);
    stack.h4_rx(&disconnection_complete(LINK, 0x16), 31_002);
    assert_eq!(events(&mut stack)[0].1[0], V::I(17));
    assert_eq!(stack.next_timeout_ms(31_002), u32::MAX);
}

#[test]
fn a_write_flood_waits_for_room_instead_of_dropping_events() {
    let (mut stack, mut ctrl) = started();
    register_demo_service(&mut stack, 0);
    connect(&mut stack, &mut ctrl);
    events(&mut stack);
    // Write Commands (Vol 3 Part F 3.4.5.3) in one burst, more events
    // than the queue holds (each tuple takes over 20 bytes).
    let n = (crate::config::EVENT_BYTES / 20) as u16;
    let mut burst = Vec::new();
    for i in 0..n {
        let [a, b] = i.to_le_bytes();
        burst.extend(acl_frame(LINK, CID_ATT, &[0x52, 0x03, 0x00, a, b]));
    }
    let used = stack.h4_rx(&burst, 3);
    assert!(
        used < burst.len(),
        "the stack must stop before its queue overflows"
    );
    // It stopped because one more packet might not fit, not after dropping.
    assert!(!stack.takes_packet());
    assert_eq!(stack.events_dropped(), 0);
    // Python drains; the port offers the rest again.
    let mut seen = events(&mut stack);
    let mut rest = &burst[used..];
    while !rest.is_empty() {
        let n = stack.h4_rx(rest, 4);
        assert!(n > 0);
        rest = &rest[n..];
        seen.extend(events(&mut stack));
    }
    let data: Vec<_> = seen.iter().map(|(_, v)| v[3].clone()).collect();
    let expected: Vec<_> = (0..n).map(|i| V::B(i.to_le_bytes().to_vec())).collect();
    assert_eq!(data, expected, "every write reported once, in order");
    assert_eq!(stack.events_dropped(), 0);
}

#[test]
fn a_lost_controller_ends_every_link_and_stops_with_a_status() {
    const PEER2: [u8; 6] = [0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F];
    let (mut stack, mut ctrl) = started();
    register_demo_service(&mut stack, 0);
    connect(&mut stack, &mut ctrl);
    stack.h4_rx(&le_connection_complete(LINK + 1, PEER2), 2);
    ctrl.settle(&mut stack, 2);
    assert_eq!(events(&mut stack).len(), 2, "two links up");
    // A notification and a command are waiting for the controller when
    // it goes away: neither may be sent later to another controller.
    assert_eq!(stack.qpy_send(false, 0, 3, b"lost", 3), 0);
    assert_eq!(stack.qpy_adv_enable(true), 0);
    events(&mut stack);

    stack.transport_lost(4);
    // Every link ends (event 17 carries Connection Timeout, 0x08), then
    // the stack reports that it stopped, with the same non-zero status.
    assert_eq!(
        events(&mut stack),
        std::vec![
            (
                MpbleTarget::QpyServer,
                std::vec![V::I(17), V::I(0x08), V::I(0), V::B(PEER.to_vec())]
            ),
            (
                MpbleTarget::QpyServer,
                std::vec![V::I(17), V::I(0x08), V::I(1), V::B(PEER2.to_vec())]
            ),
            (MpbleTarget::QpyServer, ints(&[1, 0x08])),
        ]
    );
    assert_eq!(stack.qpy_get_status(), 0);
    assert_eq!(stack.state(), super::event::MpbleState::Off);
    let mut buf = [0u8; 64];
    assert_eq!(stack.h4_tx(&mut buf), 0, "queued commands and data dropped");
    assert_eq!(stack.qpy_send(false, 0, 3, b"x", 5), -1, "sends refused");
    assert_eq!(stack.qpy_send(true, 1, 3, b"x", 5), -1);
    assert_eq!(stack.qpy_gatt_stop(5), -1, "already stopped");
    assert!(events(&mut stack).is_empty(), "no event 25 for lost data");
    assert_eq!(stack.next_timeout_ms(5), u32::MAX, "no timer left running");

    // A controller answers again (the port reopened the transport): the
    // next start works from a clean slate.
    let mut ctrl = ScriptedController::new(BD_ADDR);
    assert_eq!(stack.qpy_gatt_start(6), 0);
    ctrl.settle(&mut stack, 6);
    assert_eq!(
        events(&mut stack),
        std::vec![(MpbleTarget::QpyServer, ints(&[0, 0]))]
    );
    assert_eq!(ctrl.take_commands().first(), Some(&opcode::RESET));
    assert_eq!(stack.qpy_get_status(), 1);
}

/// A call whose event has no room in the queue for Python (callbacks have
/// not run for a while) is refused (-1), not accepted with its event lost.
#[test]
fn a_send_with_no_room_for_its_event_is_refused_not_lost() {
    let (mut stack, mut ctrl) = started();
    register_demo_service(&mut stack, 0);
    connect(&mut stack, &mut ctrl);
    let filler = super::event::MpbleEvent::new(MpbleTarget::QpyServer);
    while stack.stack.has_room_for(&filler) {
        stack.stack.emit(&filler);
    }
    assert_eq!(stack.qpy_send(false, 0, 3, b"9", 3), -1);
    assert_eq!(stack.events_dropped(), 0);
    assert!(ctrl.take_l2cap(CID_ATT).is_empty(), "nothing sent");
    stack.pop_event();
    assert_eq!(stack.qpy_send(false, 0, 3, b"9", 3), 0);
    assert_eq!(stack.events_dropped(), 0);
}
