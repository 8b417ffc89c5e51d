//! The host on its own (no vendor adapter), driven with byte vectors
//! against a scripted controller: the ATT request timer of the GATT client.

extern crate std;

use crate::config::ATT_TRANSACTION_TIMEOUT_MS;
use crate::gatt::client::{ClientEvent, ProcedureKind, ERROR_TIMEOUT};
use crate::hci::command::opcode;
use crate::host::{Host, HostEvent, HostState};
use crate::l2cap::CID_ATT;
use crate::testing::{acl_frame, le_connection_complete_role, H4Endpoint, ScriptedController};
use std::boxed::Box;
use std::vec::Vec;

const BD_ADDR: [u8; 6] = [0x03, 0x00, 0xEE, 0xFF, 0xC0, 0xF0];
const PEER: [u8; 6] = [0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F];
const LINK: u16 = 0x0042;
const ROLE_CENTRAL: u8 = 0x00;

fn events(host: &mut Host) -> Vec<HostEvent> {
    core::iter::from_fn(|| host.core.pop_event()).collect()
}

/// A started host with one link in `role` (HCI role byte), at time 1000,
/// everything sent so far and every event forgotten.
fn connected(role: u8) -> (Box<Host>, ScriptedController) {
    let mut host = Box::new(Host::new());
    let mut ctrl = ScriptedController::new(BD_ADDR);
    host.core.start(0).unwrap();
    ctrl.settle(&mut host, 0);
    assert_eq!(host.state(), HostState::Ready);
    host.h4_rx(&le_connection_complete_role(LINK, PEER, role), 1_000);
    ctrl.settle(&mut host, 1_000);
    assert_eq!(
        events(&mut host),
        std::vec![HostEvent::Started, HostEvent::Connected { conn: 0 }]
    );
    ctrl.sent.clear();
    (host, ctrl)
}

/// The peer sends one ATT PDU at `now`; returns what the host sent on ATT.
fn peer_att(host: &mut Host, ctrl: &mut ScriptedController, pdu: &[u8], now: u32) -> Vec<Vec<u8>> {
    host.h4_rx(&acl_frame(LINK, CID_ATT, pdu), now);
    ctrl.settle(host, now);
    ctrl.take_l2cap(CID_ATT)
}

fn read_timed_out() -> HostEvent {
    HostEvent::GattClient {
        conn: 0,
        event: ClientEvent::Done {
            procedure: ProcedureKind::ReadByHandle,
            att_error: ERROR_TIMEOUT,
            handle: 0,
        },
    }
}

/// Runs the timers at `now`; true if the host then sent HCI Disconnect.
fn disconnects_at(host: &mut Host, ctrl: &mut ScriptedController, now: u32) -> bool {
    host.core.tick(now);
    ctrl.settle(host, now);
    ctrl.take_commands().contains(&opcode::DISCONNECT)
}

/// Starts a Read Request for handle 3 at `now` (the peer never answers it).
fn start_read(host: &mut Host, ctrl: &mut ScriptedController, now: u32, long: bool) {
    host.core.tick(now);
    host.core
        .gatt_client_request(0, |c, out| c.read_by_handle(3, 0, long, out))
        .unwrap();
    ctrl.settle(host, now);
    assert_eq!(
        ctrl.take_l2cap(CID_ATT),
        std::vec![std::vec![0x0A, 0x03, 0x00]]
    );
}

// -- ATT transaction timer (Vol 3 Part F 3.3.3) -------------------------------

#[test]
fn indications_do_not_keep_an_unanswered_request_alive() {
    // The timer starts when a request is sent and stops at its response; a
    // Handle Value Confirmation is no request, so the server's indications
    // every 10 s must not restart it.
    let (mut host, mut ctrl) = connected(ROLE_CENTRAL);
    let t0 = 2_000;
    start_read(&mut host, &mut ctrl, t0, false);
    for k in 1..=2u32 {
        let now = t0 + 10_000 * k;
        assert!(!disconnects_at(&mut host, &mut ctrl, now));
        let cfm = peer_att(&mut host, &mut ctrl, &[0x1D, 0x05, 0x00, k as u8], now);
        assert_eq!(cfm, std::vec![std::vec![0x1E]], "confirmed at {now}");
        assert_eq!(
            events(&mut host),
            std::vec![HostEvent::GattClient {
                conn: 0,
                event: ClientEvent::Indication { handle: 5 }
            }]
        );
        assert_eq!(
            host.core.next_timeout_ms(now),
            t0 + ATT_TRANSACTION_TIMEOUT_MS - now,
            "the request's deadline stays where it was"
        );
    }
    assert!(!disconnects_at(&mut host, &mut ctrl, t0 + 29_999));
    assert!(events(&mut host).is_empty());
    // 30 s after the request: the transaction failed, the link is dropped.
    assert!(disconnects_at(&mut host, &mut ctrl, t0 + 30_000));
    assert_eq!(events(&mut host), std::vec![read_timed_out()]);
}

#[test]
fn a_write_command_does_not_restart_the_request_timer() {
    // A Write Command may go out while a request is outstanding (Vol 3
    // Part F 3.3.2) but is not a request either.
    let (mut host, mut ctrl) = connected(ROLE_CENTRAL);
    let t0 = 2_000;
    start_read(&mut host, &mut ctrl, t0, false);
    host.core.tick(t0 + 20_000);
    host.core
        .gatt_client_request(0, |c, out| c.write_without_response(7, &[0x01], out))
        .unwrap();
    ctrl.settle(&mut host, t0 + 20_000);
    assert_eq!(
        ctrl.take_l2cap(CID_ATT),
        std::vec![std::vec![0x52, 0x07, 0x00, 0x01]]
    );
    assert!(!disconnects_at(&mut host, &mut ctrl, t0 + 29_999));
    assert!(disconnects_at(&mut host, &mut ctrl, t0 + 30_000));
    assert_eq!(events(&mut host), std::vec![read_timed_out()]);
}

#[test]
fn the_next_request_of_a_procedure_starts_its_own_30_s() {
    // A long read: each Read Blob Request is a new transaction.
    let (mut host, mut ctrl) = connected(ROLE_CENTRAL);
    let t0 = 2_000;
    start_read(&mut host, &mut ctrl, t0, true);
    let t1 = t0 + 20_000;
    let mut part = std::vec![0x0B];
    part.extend_from_slice(&[0xAA; 22]);
    assert_eq!(
        peer_att(&mut host, &mut ctrl, &part, t1),
        std::vec![std::vec![0x0C, 0x03, 0x00, 22, 0x00]]
    );
    events(&mut host);
    assert_eq!(host.core.next_timeout_ms(t1), ATT_TRANSACTION_TIMEOUT_MS);
    assert!(!disconnects_at(&mut host, &mut ctrl, t1 + 29_999));
    assert!(disconnects_at(&mut host, &mut ctrl, t1 + 30_000));
}
