//! The Pycom adapter driven through the host against a scripted
//! controller: the seed example's server (deferred reads, writes,
//! subscriptions, notifications) and a client's discovery, as bytes on air
//! and callback tuples.

extern crate std;

use super::{bits, err, tuple, ClientOp};
use crate::api::Firmware;
use crate::l2cap::CID_ATT;
use crate::testing::{
    acl_frame, disconnection_complete, drain_events, le_connection_complete_role,
    ScriptedController, V,
};
use crate::uuid::Uuid;
use std::boxed::Box;
use std::vec;
use std::vec::Vec;

const BD_ADDR: [u8; 6] = [0x02, 0x00, 0xEE, 0xFF, 0xC0, 0xF0];
const PEER: [u8; 6] = [0x01, 0xD0, 0xA2, 0xB0, 0x00, 0x00];
const LINK: u16 = 0x0041;

fn started() -> (Box<Firmware>, ScriptedController) {
    let mut fw = Box::new(Firmware::new());
    let mut ctrl = ScriptedController::new(BD_ADDR);
    fw.call(|f| f.pycom.activate(f.stack.core(), 200));
    assert_eq!(fw.call(|f| f.stack.start(0)), Ok(()));
    ctrl.settle(&mut *fw, 1);
    ctrl.take_commands();
    (fw, ctrl)
}

fn tuples(fw: &mut Firmware) -> Vec<Vec<V>> {
    drain_events(fw).into_iter().map(|(_, v)| v).collect()
}

fn att(fw: &mut Firmware, ctrl: &mut ScriptedController, pdu: &[u8]) -> Vec<Vec<u8>> {
    fw.h4_rx(&acl_frame(LINK, CID_ATT, pdu), 5);
    ctrl.settle(fw, 5);
    ctrl.take_l2cap(CID_ATT)
}

/// `gatts_advertise_and_services.py`'s chr1: 128-bit service and
/// characteristic, initial value 5, a handler on READ and WRITE.
fn seed_server(fw: &mut Firmware) -> (usize, u16) {
    let svc = fw.call(|f| {
        f.pycom.add_service(
            &mut f.stack.core().db,
            Uuid::Uuid128(*b"1234567890123456"),
            true,
        )
    });
    assert_eq!(svc, 0);
    let props = 2 | 8 | 16;
    let chr = fw.call(|f| {
        f.pycom.add_characteristic(
            &mut f.stack.core().db,
            0,
            Uuid::Uuid128(*b"ab34567890123456"),
            0x11,
            props,
            &[5],
        )
    });
    assert_eq!(chr, 0);
    let trigger = bits::CHAR_READ_EVENT | bits::CHAR_WRITE_EVENT;
    assert_eq!(
        fw.call(|f| f.pycom.set_char_trigger(&mut f.stack.core().db, 0, trigger)),
        err::OK
    );
    (0, fw.pycom.char_value_handle(0).unwrap())
}

#[test]
fn a_read_waits_for_the_handler_and_answers_with_its_value() {
    let (mut fw, mut ctrl) = started();
    fw.call(|f| f.pycom.set_trigger(bits::CLIENT_CONNECTED));
    let (idx, vh) = seed_server(&mut fw);
    fw.h4_rx(&le_connection_complete_role(LINK, PEER, 0x01), 2);
    ctrl.settle(&mut *fw, 2);
    assert_eq!(
        tuples(&mut fw),
        vec![vec![
            V::I(tuple::BLUETOOTH),
            V::I(bits::CLIENT_CONNECTED.into())
        ]]
    );
    assert_eq!(fw.call(|f| f.pycom.take_events()), bits::CLIENT_CONNECTED);
    let [lo, hi] = vh.to_le_bytes();
    // Read Request: nothing on air until the handler answers.
    assert!(att(&mut fw, &mut ctrl, &[0x0A, lo, hi]).is_empty());
    assert_eq!(
        tuples(&mut fw),
        vec![vec![V::I(tuple::READ), V::I(idx as i64), V::I(0)]]
    );
    fw.call(|f| f.pycom.read_reply(f.stack.core(), 0, Ok(Some(b"ABC DEF"))));
    ctrl.settle(&mut *fw, 6);
    assert_eq!(ctrl.take_l2cap(CID_ATT), vec![b"\x0BABC DEF".to_vec()]);
    // A handler returning None: the stored value.
    att(&mut fw, &mut ctrl, &[0x0A, lo, hi]);
    tuples(&mut fw);
    fw.call(|f| f.pycom.read_reply(f.stack.core(), 0, Ok(None)));
    ctrl.settle(&mut *fw, 6);
    assert_eq!(ctrl.take_l2cap(CID_ATT), vec![vec![0x0B, 5]]);
    // A write: stored first, then the handler gets the bytes.
    let rsp = att(&mut fw, &mut ctrl, &[0x12, lo, hi, b'h', b'i']);
    assert_eq!(rsp, vec![vec![0x13]]);
    assert_eq!(
        tuples(&mut fw),
        vec![vec![
            V::I(tuple::CHAR),
            V::I(idx as i64),
            V::I(bits::CHAR_WRITE_EVENT.into()),
            V::B(b"hi".to_vec())
        ]]
    );
    assert_eq!(
        fw.call(|f| f.pycom.take_char_events(idx)),
        bits::CHAR_READ_EVENT | bits::CHAR_WRITE_EVENT
    );
    assert_eq!(fw.call(|f| f.pycom.take_char_events(idx)), 0);
}

/// A read whose tuple cannot reach Python (no handler armed) is answered
/// at once with the stored value, never left to the peer's timeout.
#[test]
fn a_read_nobody_handles_is_answered_at_once() {
    let (mut fw, mut ctrl) = started();
    let (_, vh) = seed_server(&mut fw);
    fw.h4_rx(&le_connection_complete_role(LINK, PEER, 0x01), 2);
    ctrl.settle(&mut *fw, 2);
    // Deferred in the table, but the adapter has no handler for it.
    fw.pycom.chars[0].trigger = 0;
    let [lo, hi] = vh.to_le_bytes();
    assert_eq!(
        att(&mut fw, &mut ctrl, &[0x0A, lo, hi]),
        vec![vec![0x0B, 5]]
    );
}

/// A client subscribes (CCCD 0x0001): the SUBSCRIBE handler runs and
/// `config()` says so; `value(x)` then notifies that client, and only it.
#[test]
fn value_updates_notify_subscribed_clients() {
    let (mut fw, mut ctrl) = started();
    let (idx, vh) = seed_server(&mut fw);
    fw.call(|f| {
        f.pycom
            .set_char_trigger(&mut f.stack.core().db, idx, bits::CHAR_SUBSCRIBE_EVENT)
    });
    fw.h4_rx(&le_connection_complete_role(LINK, PEER, 0x01), 2);
    ctrl.settle(&mut *fw, 2);
    // Nobody subscribed: stored only.
    assert_eq!(
        fw.call(|f| f.pycom.set_char_value(&mut f.stack.core().db, idx, b"a")),
        0
    );
    let [lo, hi] = (vh + 1).to_le_bytes();
    assert_eq!(
        att(&mut fw, &mut ctrl, &[0x12, lo, hi, 1, 0]),
        vec![vec![0x13]]
    );
    assert_eq!(
        tuples(&mut fw),
        vec![vec![
            V::I(tuple::CHAR),
            V::I(idx as i64),
            V::I(bits::CHAR_SUBSCRIBE_EVENT.into()),
            V::N
        ]]
    );
    assert_eq!(fw.pycom.char_config(idx), 1);
    let mask = fw.call(|f| f.pycom.set_char_value(&mut f.stack.core().db, idx, b"xyz"));
    assert_eq!(mask, 1);
    assert_eq!(fw.call(|f| f.pycom.notify(f.stack.core(), idx, 1, 7)), 0);
    ctrl.settle(&mut *fw, 7);
    let [vl, vhh] = vh.to_le_bytes();
    assert_eq!(
        ctrl.take_l2cap(CID_ATT),
        vec![vec![0x1B, vl, vhh, b'x', b'y', b'z']]
    );
    // The client leaves: CLIENT_DISCONNECTED is counted.
    fw.h4_rx(&disconnection_complete(LINK, 0x13), 8);
    assert_eq!(
        fw.call(|f| f.pycom.take_events()),
        bits::CLIENT_CONNECTED | bits::CLIENT_DISCONNECTED
    );
}

/// As central: Discover All Primary Services until Attribute Not Found,
/// records kept for the port; a link that drops ends the operation with
/// NOT_CONNECTED.
#[test]
fn services_are_discovered_and_a_lost_link_ends_the_wait() {
    let (mut fw, mut ctrl) = started();
    let mac = [0x00, 0x00, 0xB0, 0xA2, 0xD0, 0x01];
    assert_eq!(
        fw.call(|f| f.pycom.connect(f.stack.core(), Some(0), mac)),
        err::OK
    );
    assert_eq!(fw.pycom.connect_status().0, err::PENDING);
    fw.h4_rx(&le_connection_complete_role(LINK, PEER, 0x00), 2);
    ctrl.settle(&mut *fw, 2);
    assert_eq!(fw.pycom.connect_status(), (err::OK, 0));
    // Exchange MTU first (the client asks for its MTU, 200).
    assert_eq!(ctrl.take_l2cap(CID_ATT), vec![vec![0x02, 200, 0]]);
    att(&mut fw, &mut ctrl, &[0x03, 100, 0]);
    assert!(fw.pycom.mtu_done(0));
    fw.call(|f| f.pycom.connect_finish(f.stack.core()));
    let generation = fw.pycom.link_generation(0).unwrap();
    assert_eq!(
        fw.call(|f| f
            .pycom
            .client_start(f.stack.core(), 0, generation, ClientOp::Services)),
        err::OK
    );
    ctrl.settle(&mut *fw, 4);
    assert_eq!(
        ctrl.take_l2cap(CID_ATT),
        vec![vec![0x10, 1, 0, 0xFF, 0xFF, 0x00, 0x28]]
    );
    let next = att(
        &mut fw,
        &mut ctrl,
        &[0x11, 6, 1, 0, 5, 0, 0x0D, 0x18, 6, 0, 9, 0, 0x0A, 0x18],
    );
    assert_eq!(next, vec![vec![0x10, 10, 0, 0xFF, 0xFF, 0x00, 0x28]]);
    assert_eq!(fw.call(|f| f.pycom.client_status()), err::PENDING);
    att(&mut fw, &mut ctrl, &[0x01, 0x10, 10, 0, 0x0A]);
    assert_eq!(fw.call(|f| f.pycom.client_status()), err::OK);
    let recs = fw.pycom.client_records();
    assert_eq!(recs.len(), 2);
    assert_eq!(
        (recs[0].handle, recs[0].end, recs[0].uuid),
        (1, 5, Uuid::Uuid16(0x180D))
    );
    assert_eq!(
        (recs[1].handle, recs[1].end, recs[1].uuid),
        (6, 9, Uuid::Uuid16(0x180A))
    );
    // A read, and the peer vanishes before answering.
    let read = ClientOp::Read { handle: 3 };
    assert_eq!(
        fw.call(|f| f.pycom.client_start(f.stack.core(), 0, generation, read)),
        err::OK
    );
    fw.h4_rx(&disconnection_complete(LINK, 0x08), 9);
    assert_eq!(fw.call(|f| f.pycom.client_status()), err::NOT_CONNECTED);
    assert_eq!(fw.pycom.link_generation(0), None);
    assert_eq!(
        fw.call(|f| f.pycom.client_start(f.stack.core(), 0, generation, read)),
        err::NOT_CONNECTED
    );
}
