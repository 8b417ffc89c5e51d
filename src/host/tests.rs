//! The host on its own (no vendor adapter), driven with byte vectors
//! against a scripted controller: the ATT request timer of the GATT client
//! and the LE signaling answers.

extern crate std;

use crate::config::ATT_TRANSACTION_TIMEOUT_MS;
use crate::gatt::client::{ClientEvent, ProcedureKind, ERROR_TIMEOUT};
use crate::hci::command::opcode;
use crate::host::{ConnSlot, Host, HostEvent, HostState};
use crate::l2cap::{CID_ATT, CID_LE_SIGNALING};
use crate::testing::{acl_frame, le_connection_complete_role, H4Endpoint, ScriptedController};
use std::boxed::Box;
use std::vec::Vec;

const BD_ADDR: [u8; 6] = [0x03, 0x00, 0xEE, 0xFF, 0xC0, 0xF0];
const PEER: [u8; 6] = [0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F];
const LINK: u16 = 0x0042;
const ROLE_CENTRAL: u8 = 0x00;
const ROLE_PERIPHERAL: u8 = 0x01;

fn slot0() -> ConnSlot {
    ConnSlot::new(0).unwrap()
}

fn events(host: &mut Host) -> Vec<HostEvent> {
    core::iter::from_fn(|| host.core.pop_event()).collect()
}

/// The security configuration of `smpSetConfig` (io_capability,
/// auth_req, passkey), with the 600 s timeout every test here uses.
fn configure_security(host: &mut Host, io_capability: u8, auth_req: u8, passkey: u32) {
    host.core.set_security_config(crate::host::SecurityConfig {
        io_capability,
        auth_req,
        passkey,
        timeout: 600,
    });
}

/// The host's next events are exactly: security on the first link is
/// complete, status 0.
fn assert_security_complete(host: &mut Host) {
    assert_eq!(
        events(host),
        std::vec![HostEvent::SecurityComplete {
            conn: slot0(),
            status: 0
        }]
    );
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
        std::vec![HostEvent::Started, HostEvent::Connected { conn: slot0() }]
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
        request: None,
        conn: slot0(),
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
        .gatt_client_request(slot0(), |c, out| c.read_by_handle(3, 0, long, out))
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
                request: None,
                conn: slot0(),
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
        .gatt_client_request(slot0(), |c, out| c.write_without_response(7, &[0x01], out))
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

// -- LE signaling: Connection Parameter Update Request (Vol 3 Part A 4.20) ----

/// The request's C-frame payload: code 0x12, identifier, length 8, then
/// interval min, interval max, latency, timeout, each little-endian.
fn update_request(identifier: u8, p: [u16; 4]) -> Vec<u8> {
    let mut v = std::vec![0x12, identifier, 0x08, 0x00];
    for x in p {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v
}

/// Sends the request from the peer; returns the signaling answer and the
/// LE Connection Update commands' parameters the host sent.
fn ask_update(
    host: &mut Host,
    ctrl: &mut ScriptedController,
    identifier: u8,
    p: [u16; 4],
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    host.h4_rx(
        &acl_frame(LINK, CID_LE_SIGNALING, &update_request(identifier, p)),
        3_000,
    );
    ctrl.settle(host, 3_000);
    let answers = ctrl.take_l2cap(CID_LE_SIGNALING);
    let updates = ctrl
        .commands()
        .into_iter()
        .filter(|(op, _)| *op == opcode::LE_CONNECTION_UPDATE)
        .map(|(_, params)| params)
        .collect();
    ctrl.sent.clear();
    (answers, updates)
}

/// Boundary values on each side of every limit: interval 6..=3200 with
/// min <= max, latency 0..=499, timeout 10..=3200, and timeout * 10 ms >
/// (1 + latency) * interval max * 1.25 ms * 2.
const UPDATE_CASES: [([u16; 4], bool); 21] = [
    ([6, 6, 0, 10], true),
    ([5, 6, 0, 10], false),
    ([5, 5, 0, 10], false),
    ([3200, 3200, 0, 3200], true),
    ([3199, 3201, 0, 3200], false),
    ([3201, 3201, 0, 3200], false),
    ([40, 40, 0, 100], true),
    ([41, 40, 0, 100], false),
    ([6, 6, 499, 3200], true),
    ([6, 6, 500, 3200], false),
    ([6, 6, 0xFFFF, 3200], false),
    ([6, 6, 0, 9], false),
    ([6, 6, 0, 0], false),
    ([6, 6, 0, 3201], false),
    ([6, 6, 0, 0xFFFF], false),
    // 100 ms is not larger than (1 + 0) * 50 ms * 2; 110 ms is.
    ([40, 40, 0, 10], false),
    ([40, 40, 0, 11], true),
    // (1 + 4) * 100 ms * 2 = 1000 ms: 1000 refused, 1010 accepted.
    ([24, 80, 4, 100], false),
    ([24, 80, 4, 101], true),
    // The demo-like request Bumble's peripherals send: 30-50 ms, 0, 5 s.
    ([0x18, 0x28, 0, 0x01F4], true),
    ([0x0C80, 0x0C80, 499, 0x0C80], false),
];

#[test]
fn as_central_in_range_parameters_are_accepted_and_applied() {
    let (mut host, mut ctrl) = connected(ROLE_CENTRAL);
    for (i, (p, ok)) in UPDATE_CASES.into_iter().enumerate() {
        let id = 0x20 + i as u8;
        let (answers, updates) = ask_update(&mut host, &mut ctrl, id, p);
        // Connection Parameter Update Response (Vol 3 Part A 4.21): code
        // 0x13, the request's identifier, length 2, result 0 accepted or
        // 1 rejected.
        let result = if ok { 0x00 } else { 0x01 };
        assert_eq!(
            answers,
            std::vec![std::vec![0x13, id, 0x02, 0x00, result, 0x00]],
            "{p:?}"
        );
        if ok {
            // LE Connection Update (Vol 4 Part E 7.8.18): handle, the
            // four values, CE lengths 0.
            let mut cmd = std::vec::Vec::from(LINK.to_le_bytes());
            for x in p {
                cmd.extend_from_slice(&x.to_le_bytes());
            }
            cmd.extend_from_slice(&[0, 0, 0, 0]);
            assert_eq!(updates, std::vec![cmd], "{p:?}");
        } else {
            assert!(updates.is_empty(), "{p:?} must not reach the controller");
        }
    }
}

#[test]
fn as_peripheral_the_request_gets_command_reject() {
    // "If an LE Peripheral receives a Connection Parameter Update Request
    // it shall respond with a Command Reject with reason 0x0000 (Command
    // not understood)" (Vol 3 Part A 4.20), whatever the parameters.
    let (mut host, mut ctrl) = connected(ROLE_PERIPHERAL);
    for (i, (p, _)) in UPDATE_CASES.into_iter().enumerate() {
        let id = 0x40 + i as u8;
        let (answers, updates) = ask_update(&mut host, &mut ctrl, id, p);
        assert_eq!(
            answers,
            std::vec![std::vec![0x01, id, 0x02, 0x00, 0x00, 0x00]],
            "{p:?}"
        );
        assert!(updates.is_empty());
    }
    // The link still serves ATT afterwards: an Exchange MTU Request is
    // answered.
    assert_eq!(
        peer_att(&mut host, &mut ctrl, &[0x02, 0x17, 0x00], 3_001).len(),
        1
    );
}

// -- L2CAP routing (Vol 3 Part A 2.1) and command answers -----------------------

#[test]
fn l2cap_frames_go_by_channel_and_att_by_direction() {
    let (mut host, mut ctrl) = connected(ROLE_PERIPHERAL);
    // A request goes to our ATT server: Exchange MTU is answered with our
    // ATT_MTU_MAX (517 unix, 247 microcontroller).
    let [lo, hi] = (crate::config::ATT_MTU_MAX as u16).to_le_bytes();
    assert_eq!(
        peer_att(&mut host, &mut ctrl, &[0x02, 0xF7, 0x00], 2_000),
        std::vec![std::vec![0x03, lo, hi]]
    );
    // A notification from the peer's server goes to our GATT client.
    peer_att(&mut host, &mut ctrl, &[0x1B, 0x03, 0x00, 0x42], 2_000);
    let evs = events(&mut host);
    assert!(evs.iter().any(|e| matches!(
        e,
        HostEvent::GattClient {
            event: ClientEvent::Notification { handle: 3 },
            ..
        }
    )));
    // SMP goes to the Security Manager: a legacy Pairing Request (no SC
    // flag) gets the Pairing Response of LE legacy pairing (Bonding, our
    // SC flag, no keys asked) once LE Rand has made the session.
    host.h4_rx(
        &acl_frame(LINK, 0x0006, &[0x01, 0x03, 0, 1, 16, 0, 0]),
        2_000,
    );
    ctrl.settle(&mut host, 2_000);
    assert_eq!(
        ctrl.take_l2cap(0x0006),
        std::vec![std::vec![0x02, 0x03, 0x00, 0x09, 0x10, 0x00, 0x00]]
    );
    // An unknown channel is counted, never answered.
    let before = host.core.stats.unknown_cid;
    host.h4_rx(&acl_frame(LINK, 0x0077, &[1, 2, 3]), 2_000);
    assert_eq!(host.core.stats.unknown_cid, before + 1);
    // ACL for a handle we do not know is counted too.
    host.h4_rx(&acl_frame(LINK + 1, CID_ATT, &[0x0A, 0x01, 0x00]), 2_000);
    assert_eq!(host.core.stats.unknown_handle, 1);
}

#[test]
fn a_command_answer_goes_back_to_its_issuer() {
    let (mut host, mut ctrl) = connected(ROLE_PERIPHERAL);
    events(&mut host);
    // GAP: advertising that the controller refuses is reported and no
    // longer believed on.
    ctrl.silent.push(opcode::LE_SET_ADVERTISING_ENABLE);
    host.core.advertise(true).unwrap();
    ctrl.settle(&mut host, 2_000);
    assert!(host.core.gap.adv.enabled);
    host.h4_rx(
        &crate::testing::command_complete(opcode::LE_SET_ADVERTISING_ENABLE, &[0x0C]),
        2_000,
    );
    assert!(!host.core.gap.adv.enabled);
    assert_eq!(
        events(&mut host),
        std::vec![HostEvent::CommandFailed {
            opcode: opcode::LE_SET_ADVERTISING_ENABLE,
            status: 0x0C
        }]
    );
    // The host's own Disconnect: a failure is reported as such, and the
    // link stays until the controller says otherwise.
    ctrl.silent.push(opcode::DISCONNECT);
    host.core.disconnect(slot0()).unwrap();
    ctrl.settle(&mut host, 2_000);
    host.h4_rx(
        &crate::testing::command_status(opcode::DISCONNECT, 0x02),
        2_000,
    );
    assert_eq!(
        events(&mut host),
        std::vec![HostEvent::CommandFailed {
            opcode: opcode::DISCONNECT,
            status: 0x02
        }]
    );
    assert!(host.core.connection(slot0()).is_some());
}

/// LE Remote Connection Parameter Request (Vol 4 Part E 7.7.65.6).
fn remote_param_request(p: [u16; 4]) -> Vec<u8> {
    let mut v = std::vec![0x04, 0x3E, 11, 0x06];
    v.extend_from_slice(&LINK.to_le_bytes());
    for x in p {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v
}

#[test]
fn the_link_layers_parameter_request_is_checked_like_l2caps() {
    let (mut host, mut ctrl) = connected(ROLE_PERIPHERAL);
    host.h4_rx(&remote_param_request([6, 12, 0, 100]), 2_000);
    ctrl.settle(&mut host, 2_000);
    let cmds = ctrl.commands();
    assert_eq!(
        cmds.last().map(|c| c.0),
        Some(opcode::LE_REMOTE_CONNECTION_PARAMETER_REQUEST_REPLY)
    );
    // Interval 5 (< 7.5 ms): refused, Unacceptable Connection Parameters.
    ctrl.sent.clear();
    host.h4_rx(&remote_param_request([5, 12, 0, 100]), 2_000);
    ctrl.settle(&mut host, 2_000);
    let cmds = ctrl.commands();
    assert_eq!(
        cmds.last(),
        Some(&(
            opcode::LE_REMOTE_CONNECTION_PARAMETER_REQUEST_NEGATIVE_REPLY,
            std::vec![0x42, 0x00, 0x3B]
        ))
    );
}

// -- Security Manager (Vol 3 Part H) ------------------------------------------

use crate::hci::command::opcode::{
    LE_ENABLE_ENCRYPTION, LE_LONG_TERM_KEY_REQUEST_NEGATIVE_REPLY as LTK_NEGATIVE,
    LE_LONG_TERM_KEY_REQUEST_REPLY as LTK_REPLY, LE_RAND,
};
use crate::host::{Prompt, UserAnswer};
use crate::l2cap::CID_SMP;
use crate::smp::crypto::{KeyPair, LeAddress, PublicKey};
use crate::smp::initiator::{Initiator, Outcome};
use crate::smp::pdu::AuthReq;
use crate::smp::pdu::{IoCapability, Pdu, Reason};
use crate::smp::responder::Config;
use crate::smp::responder::Responder;
use crate::testing::{encryption_change, le_long_term_key_request};

/// Our own initiator session plays the central: Just Works, a fixed key
/// pair (the P-256 sample private key A of Vol 3 Part H D.1) and Na.
fn central() -> Initiator {
    let mut private = [0u8; 32];
    // Any valid scalar will do; this one is below n.
    private[0] = 0x3F;
    private[31] = 0x1D;
    let config = Config::new(IoCapability::NoInputNoOutput, false);
    let peer = LeAddress {
        kind: 0,
        addr: PEER,
    };
    let ours = LeAddress {
        kind: 0,
        addr: BD_ADDR,
    };
    let keys = KeyPair::from_private_key(&private).unwrap();
    Initiator::new(config, keys, [0xA5; 16], peer, ours)
}

fn pdu_bytes(pdu: &Pdu) -> Vec<u8> {
    let mut out = [0u8; 80];
    let n = pdu.write(&mut out).unwrap();
    out[..n].to_vec()
}

/// The peer sends SMP PDUs at `now`; returns what the host sent on SMP.
fn peer_smp(
    host: &mut Host,
    ctrl: &mut ScriptedController,
    pdus: &[Pdu],
    now: u32,
) -> Vec<Vec<u8>> {
    for pdu in pdus {
        host.h4_rx(&acl_frame(LINK, CID_SMP, &pdu_bytes(pdu)), now);
    }
    ctrl.settle(host, now);
    ctrl.take_l2cap(CID_SMP)
}

/// Adds what `s` produced to `step` (sends, outcome, key, prompts).
fn merge(step: &mut crate::smp::session::Step, s: crate::smp::session::Step) {
    step.send.extend(s.send);
    step.outcome = step.outcome.or(s.outcome);
    step.encrypt = step.encrypt.or(s.encrypt);
    step.display_passkey = step.display_passkey.or(s.display_passkey);
    step.enter_passkey |= s.enter_passkey;
}

/// Runs the pairing between `central` and the host until it ends;
/// returns the central's outcome. When the central has its key, it
/// encrypts the link: the host must answer the LTK Request (EDIV 0, Rand
/// 0) with the same key; then the key distribution phase runs. A passkey
/// the host shows is typed into the central; one the central shows is
/// typed into the host (`host_types`, or what the central shows).
fn pair_with(
    host: &mut Host,
    ctrl: &mut ScriptedController,
    central: &mut Initiator,
    t0: u32,
    bonding: bool,
    host_types: Option<u32>,
) -> Outcome {
    pair_with_events(
        host,
        ctrl,
        central,
        t0,
        bonding,
        host_types,
        &mut Vec::new(),
    )
}

/// [`pair_with`], keeping the host's events other than the prompts in
/// `seen`.
fn pair_with_events(
    host: &mut Host,
    ctrl: &mut ScriptedController,
    central: &mut Initiator,
    t0: u32,
    bonding: bool,
    host_types: Option<u32>,
    seen: &mut Vec<HostEvent>,
) -> Outcome {
    let mut step = central.start(bonding);
    let mut central_shows = step.display_passkey;
    let mut encrypted = false;
    for round in 0..100 {
        let now = t0 + round;
        if let Some(outcome) = step.outcome {
            // The central's last keys go to the host too.
            let sent: Vec<Pdu> = step.send.iter().cloned().collect();
            assert!(peer_smp(host, ctrl, &sent, now).is_empty());
            return outcome;
        }
        central_shows = central_shows.or(step.display_passkey);
        let sent: Vec<Pdu> = step.send.iter().cloned().collect();
        let encrypt = step.encrypt.filter(|_| !encrypted);
        let mut answers = peer_smp(host, ctrl, &sent, now);
        step = Default::default();
        if let Some(key) = encrypt {
            encrypted = true;
            host.h4_rx(&le_long_term_key_request(LINK, [0; 8], 0), now);
            ctrl.settle(host, now);
            let mut expected = LINK.to_le_bytes().to_vec();
            expected.extend_from_slice(&key);
            assert_eq!(
                ctrl.commands().last(),
                Some(&(LTK_REPLY, expected)),
                "the LTK Request is answered with the pairing's key"
            );
            host.h4_rx(&encryption_change(LINK, 0, 1), now);
            ctrl.settle(host, now);
            answers.extend(ctrl.take_l2cap(CID_SMP));
            merge(&mut step, central.encryption_changed(true));
        }
        for a in answers {
            let s = central.on_pdu(&a);
            merge(&mut step, s);
        }
        central_shows = central_shows.or(step.display_passkey);
        for ev in events(host) {
            match ev {
                HostEvent::PairingPrompt {
                    prompt: Prompt::DisplayPasskey(passkey),
                    ..
                } => merge(&mut step, central.passkey_entered(Some(passkey))),
                HostEvent::PairingPrompt {
                    conn,
                    prompt: Prompt::EnterPasskey,
                    ..
                } => {
                    let typed = host_types.or(central_shows).unwrap_or(0);
                    host.core
                        .smp_user_confirm(conn, UserAnswer::Passkey(typed))
                        .unwrap();
                    ctrl.settle(host, now);
                    for a in ctrl.take_l2cap(CID_SMP) {
                        merge(&mut step, central.on_pdu(&a));
                    }
                }
                other => seen.push(other),
            }
        }
    }
    panic!("pairing never ended");
}

fn pair(host: &mut Host, ctrl: &mut ScriptedController, central: &mut Initiator) -> Outcome {
    pair_with(host, ctrl, central, 2_000, true, None)
}

#[test]
fn as_peripheral_sc_just_works_pairs_and_the_ltk_encrypts_the_link() {
    let (mut host, mut ctrl) = connected(ROLE_PERIPHERAL);
    assert_eq!(
        host.core.connection(slot0()).unwrap().keys.local,
        LeAddress {
            kind: 0,
            addr: BD_ADDR
        }
    );
    let mut central = central();
    let outcome = pair(&mut host, &mut ctrl, &mut central);
    let Outcome::Paired {
        ltk,
        key_size,
        authenticated,
        bonded,
        ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    // Both asked for bonding.
    assert_eq!((key_size, authenticated, bonded), (16, false, true));
    // The key pair and Nb came from the controller: 6 LE Rand of 8 octets.
    let rands = ctrl
        .commands()
        .iter()
        .filter(|(op, _)| *op == LE_RAND)
        .count();
    assert_eq!(rands, 6);
    // The central starts encryption: EDIV and Rand 0 for an SC key.
    host.h4_rx(&le_long_term_key_request(LINK, [0; 8], 0), 3_000);
    ctrl.settle(&mut host, 3_000);
    let mut expected = LINK.to_le_bytes().to_vec();
    expected.extend_from_slice(&ltk);
    assert_eq!(
        ctrl.commands().last(),
        Some(&(LTK_REPLY, expected)),
        "the LTK Request is answered with the pairing's key"
    );
    host.h4_rx(&encryption_change(LINK, 0, 1), 3_000);
    let sec = host.core.connection(slot0()).unwrap().security;
    assert!(sec.encrypted);
    assert!(!sec.authenticated, "Just Works has no MITM protection");
    assert_eq!(sec.key_size, 16);
    // A key with EDIV/Rand (a legacy key we never made) is refused.
    ctrl.sent.clear();
    host.h4_rx(&le_long_term_key_request(LINK, [1; 8], 7), 3_000);
    ctrl.settle(&mut host, 3_000);
    assert_eq!(
        ctrl.commands(),
        std::vec![(LTK_NEGATIVE, LINK.to_le_bytes().to_vec())]
    );
}

#[test]
fn without_pairing_the_ltk_request_gets_the_negative_reply() {
    let (mut host, mut ctrl) = connected(ROLE_PERIPHERAL);
    host.h4_rx(&le_long_term_key_request(LINK, [0; 8], 0), 2_000);
    ctrl.settle(&mut host, 2_000);
    assert_eq!(
        ctrl.commands(),
        std::vec![(LTK_NEGATIVE, LINK.to_le_bytes().to_vec())]
    );
}

#[test]
fn an_off_curve_public_key_fails_pairing_and_the_link_can_pair_again() {
    let (mut host, mut ctrl) = connected(ROLE_PERIPHERAL);
    let mut central = central();
    let request: Vec<Pdu> = central.start(true).send.iter().cloned().collect();
    let rsp = peer_smp(&mut host, &mut ctrl, &request, 2_000);
    assert_eq!(rsp.len(), 1);
    assert_eq!(rsp[0][0], crate::smp::pdu::PAIRING_RESPONSE);
    // (1, 1) is not on P-256 (CVE-2018-5383).
    let mut bad = PublicKey {
        x: [0; 32],
        y: [0; 32],
    };
    bad.x[0] = 1;
    bad.y[0] = 1;
    let rsp = peer_smp(&mut host, &mut ctrl, &[Pdu::PairingPublicKey(bad)], 2_001);
    assert_eq!(
        rsp,
        std::vec![pdu_bytes(&Pdu::PairingFailed(Reason::DHKEY_CHECK_FAILED))]
    );
    // No key came of it. A new Pairing Request at once is refused with
    // Repeated Attempts (2.3.6: the peer waits 1 s after one failure);
    // after the wait the link pairs.
    assert!(!host.core.connection(slot0()).unwrap().keys.has_ltk);
    let mut central = self::central();
    let request: Vec<Pdu> = central.start(true).send.iter().cloned().collect();
    assert_eq!(
        peer_smp(&mut host, &mut ctrl, &request, 2_500),
        std::vec![pdu_bytes(&Pdu::PairingFailed(Reason::REPEATED_ATTEMPTS))]
    );
    let mut central = self::central();
    assert!(matches!(
        pair_with(&mut host, &mut ctrl, &mut central, 3_001, true, None),
        Outcome::Paired { .. }
    ));
}

#[test]
fn the_smp_timeout_ends_pairing_silently_and_closes_smp_on_the_link() {
    let (mut host, mut ctrl) = connected(ROLE_PERIPHERAL);
    let mut central = central();
    let request: Vec<Pdu> = central.start(true).send.iter().cloned().collect();
    assert_eq!(peer_smp(&mut host, &mut ctrl, &request, 2_000).len(), 1);
    // The timer restarted with our Pairing Response (Vol 3 Part H 3.4).
    assert_eq!(host.core.next_timeout_ms(2_000), 30_000);
    host.core.tick(31_999);
    ctrl.settle(&mut host, 31_999);
    host.core.tick(32_000);
    ctrl.settle(&mut host, 32_000);
    assert!(
        ctrl.take_l2cap(CID_SMP).is_empty(),
        "no Pairing Failed on a timeout"
    );
    assert_eq!(host.core.next_timeout_ms(32_000), u32::MAX);
    assert!(host.core.connection(slot0()).unwrap().keys.smp_closed);
    // No further SMP procedure on this link: a new request is dropped.
    let mut central = self::central();
    let request: Vec<Pdu> = central.start(true).send.iter().cloned().collect();
    assert!(peer_smp(&mut host, &mut ctrl, &request, 33_000).is_empty());
}

/// Our own responder session plays the peripheral (Just Works unless
/// `config` says otherwise).
fn peripheral(config: Config) -> Responder {
    let mut private = [0u8; 32];
    private[0] = 0x51;
    private[31] = 0x2C;
    let keys = KeyPair::from_private_key(&private).unwrap();
    let central = LeAddress {
        kind: 0,
        addr: BD_ADDR,
    };
    let ours = LeAddress {
        kind: 0,
        addr: PEER,
    };
    Responder::new(config, keys, [0x5A; 16], central, ours)
}

/// Runs the host's pairing as initiator against `peer`, starting from the
/// SMP PDUs the host has sent; returns the peer's outcome and the numbers
/// the host asked its user to compare.
fn pair_as_central(
    host: &mut Host,
    ctrl: &mut ScriptedController,
    peer: &mut Responder,
    from_host: Vec<Vec<u8>>,
    confirm: bool,
) -> Option<Outcome> {
    pair_as_central_typing(host, ctrl, peer, from_host, confirm, None)
}

/// [`pair_as_central`], where the host's user types `host_types` (or what
/// the peer shows) when asked for a passkey, and the peer's user types
/// what the host shows. When the host starts encryption (LE Enable
/// Encryption) the peer's key must be the same; the Encryption Change
/// then runs the key distribution phase on both.
fn pair_as_central_typing(
    host: &mut Host,
    ctrl: &mut ScriptedController,
    peer: &mut Responder,
    mut from_host: Vec<Vec<u8>>,
    confirm: bool,
    host_types: Option<u32>,
) -> Option<Outcome> {
    let mut outcome = None;
    let (mut peer_key, mut peer_shows, mut encrypted) = (None, None, false);
    for round in 0..100 {
        let now = 2_000 + round;
        let mut to_host = Vec::new();
        for pdu in from_host.drain(..) {
            let step = peer.on_pdu(&pdu);
            to_host.extend(step.send.iter().cloned());
            outcome = outcome.or(step.outcome);
            peer_key = peer_key.or(step.encrypt);
            peer_shows = peer_shows.or(step.display_passkey);
            if step.compare.is_some() {
                let s = peer.user_confirm(true);
                to_host.extend(s.send.iter().cloned());
                outcome = outcome.or(s.outcome);
            }
        }
        from_host = peer_smp(host, ctrl, &to_host, now);
        if outcome.is_some() && (encrypted || peer_key.is_none()) {
            return outcome;
        }
        for ev in events(host) {
            match ev {
                HostEvent::PairingPrompt {
                    conn,
                    prompt: Prompt::Compare(_),
                    ..
                } => {
                    let answer = if confirm {
                        UserAnswer::Accept
                    } else {
                        UserAnswer::Reject
                    };
                    host.core.smp_user_confirm(conn, answer).unwrap();
                    ctrl.settle(host, now);
                    from_host.extend(ctrl.take_l2cap(CID_SMP));
                }
                HostEvent::PairingPrompt {
                    conn,
                    prompt: Prompt::EnterPasskey,
                    ..
                } => {
                    let typed = host_types.or(peer_shows).unwrap_or(0);
                    host.core
                        .smp_user_confirm(conn, UserAnswer::Passkey(typed))
                        .unwrap();
                    ctrl.settle(host, now);
                    from_host.extend(ctrl.take_l2cap(CID_SMP));
                }
                HostEvent::PairingPrompt {
                    prompt: Prompt::DisplayPasskey(passkey),
                    ..
                } => {
                    let s = peer.passkey_entered(Some(passkey));
                    outcome = outcome.or(s.outcome);
                    from_host.extend(s.send.iter().map(pdu_bytes));
                }
                _ => {}
            }
        }
        let started = enable_encryption(ctrl);
        if let (Some(key), Some(params), false) = (peer_key, started.last(), encrypted) {
            // LE Enable Encryption: handle, Rand 0, EDIV 0, the key.
            assert_eq!(&params[12..], &key, "the host encrypts with the peer's key");
            encrypted = true;
            host.h4_rx(&encryption_change(LINK, 0, 1), now);
            ctrl.settle(host, now);
            let s = peer.encryption_changed(true);
            outcome = outcome.or(s.outcome);
            let sent: Vec<Pdu> = s.send.iter().cloned().collect();
            from_host.extend(peer_smp(host, ctrl, &sent, now));
        }
    }
    outcome
}

fn enable_encryption(ctrl: &ScriptedController) -> Vec<Vec<u8>> {
    ctrl.commands()
        .into_iter()
        .filter(|(op, _)| *op == LE_ENABLE_ENCRYPTION)
        .map(|(_, p)| p)
        .collect()
}

#[test]
fn as_central_a_security_request_pairs_bonds_and_the_bond_encrypts_the_next_link() {
    let (mut host, mut ctrl) = connected(ROLE_CENTRAL);
    // 3.6.7: the peripheral asks for security (bonding, SC); we have no
    // bond, so we pair: 6 LE Rand, then our Pairing Request.
    let from_host = peer_smp(
        &mut host,
        &mut ctrl,
        &[Pdu::SecurityRequest(AuthReq::BONDING | AuthReq::SC)],
        2_000,
    );
    assert_eq!(from_host.len(), 1);
    assert_eq!(from_host[0][0], 0x01, "a Pairing Request: {from_host:?}");
    let rands = ctrl
        .commands()
        .iter()
        .filter(|(op, _)| *op == LE_RAND)
        .count();
    assert_eq!(rands, 6);
    let mut peer = peripheral(Config::new(IoCapability::NoInputNoOutput, false));
    let outcome = pair_as_central(&mut host, &mut ctrl, &mut peer, from_host, true);
    let Some(Outcome::Paired { ltk, bonded, .. }) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(bonded);
    // Just Works was announced, and the host encrypts with the LTK, EDIV 0
    // and Rand 0 (2.4.4.1).
    let mut expected = LINK.to_le_bytes().to_vec();
    expected.extend_from_slice(&[0; 10]);
    expected.extend_from_slice(&ltk);
    assert_eq!(enable_encryption(&ctrl), std::vec![expected.clone()]);
    // The Encryption Change ran the key distribution phase (identities
    // both ways) and the pairing completed on an encrypted link.
    assert!(host.core.connection(slot0()).unwrap().security.encrypted);
    let bond = *host.core.bonds.iter().next().unwrap();
    assert_eq!(
        bond.peer,
        LeAddress {
            kind: 0,
            addr: PEER
        }
    );
    assert_eq!(bond.ltk, ltk);
    assert!(host.core.bonds.dirty());

    // The link drops and comes back: the bond's key encrypts it at once,
    // without an SMP PDU.
    host.h4_rx(&crate::testing::disconnection_complete(LINK, 0x13), 4_000);
    ctrl.settle(&mut host, 4_000);
    let _ = events(&mut host);
    ctrl.sent.clear();
    host.h4_rx(
        &le_connection_complete_role(LINK, PEER, ROLE_CENTRAL),
        5_000,
    );
    ctrl.settle(&mut host, 5_000);
    assert_eq!(enable_encryption(&ctrl), std::vec![expected]);
    assert!(ctrl.take_l2cap(CID_SMP).is_empty(), "no pairing");
    host.h4_rx(&encryption_change(LINK, 0, 1), 5_100);
    assert_eq!(
        events(&mut host),
        std::vec![
            HostEvent::Connected { conn: slot0() },
            HostEvent::SecurityComplete {
                conn: slot0(),
                status: 0
            }
        ]
    );
    assert!(host.core.connection(slot0()).unwrap().security.encrypted);
}

#[test]
fn as_peripheral_the_bond_answers_the_ltk_request_of_a_later_link() {
    let (mut host, mut ctrl) = connected(ROLE_PERIPHERAL);
    let mut central = central();
    let Outcome::Paired { ltk, .. } = pair(&mut host, &mut ctrl, &mut central) else {
        panic!("no pairing");
    };
    assert_eq!(host.core.bonds.len(), 1);
    host.h4_rx(&crate::testing::disconnection_complete(LINK, 0x13), 4_000);
    ctrl.settle(&mut host, 4_000);
    host.h4_rx(
        &le_connection_complete_role(LINK, PEER, ROLE_PERIPHERAL),
        5_000,
    );
    ctrl.settle(&mut host, 5_000);
    ctrl.sent.clear();
    host.h4_rx(&le_long_term_key_request(LINK, [0; 8], 0), 5_100);
    ctrl.settle(&mut host, 5_100);
    let mut expected = LINK.to_le_bytes().to_vec();
    expected.extend_from_slice(&ltk);
    assert_eq!(ctrl.commands(), std::vec![(LTK_REPLY, expected)]);
    let _ = events(&mut host);
    host.h4_rx(&encryption_change(LINK, 0, 1), 5_200);
    assert_security_complete(&mut host);
}

#[test]
fn numeric_comparison_waits_for_the_user_and_a_no_drops_the_link() {
    let (mut host, mut ctrl) = connected(ROLE_CENTRAL);
    configure_security(&mut host, 4, 0x0D, 123_456);
    host.core.smp_start_pair(slot0()).unwrap();
    ctrl.settle(&mut host, 2_000);
    let from_host = ctrl.take_l2cap(CID_SMP);
    let mut peer = peripheral(Config::new(IoCapability::KeyboardDisplay, true));
    let outcome = pair_as_central(&mut host, &mut ctrl, &mut peer, from_host, false);
    assert_eq!(
        outcome,
        Some(Outcome::Failed {
            reason: Reason::NUMERIC_COMPARISON_FAILED,
            local: false
        })
    );
    // The link is dropped with Authentication Failure (0x05).
    let disconnect = ctrl
        .commands()
        .into_iter()
        .find(|(op, _)| *op == opcode::DISCONNECT);
    let mut expected = LINK.to_le_bytes().to_vec();
    expected.push(0x05);
    assert_eq!(disconnect, Some((opcode::DISCONNECT, expected)));
    assert!(enable_encryption(&ctrl).is_empty());
    assert!(host.core.bonds.is_empty());
}

#[test]
fn numeric_comparison_accepted_shows_the_peers_number_and_bonds() {
    let (mut host, mut ctrl) = connected(ROLE_CENTRAL);
    configure_security(&mut host, 4, 0x0D, 123_456);
    host.core.smp_start_pair(slot0()).unwrap();
    ctrl.settle(&mut host, 2_000);
    let from_host = ctrl.take_l2cap(CID_SMP);
    let mut peer = peripheral(Config::new(IoCapability::KeyboardDisplay, true));
    let outcome = pair_as_central(&mut host, &mut ctrl, &mut peer, from_host, true);
    let Some(Outcome::Paired { authenticated, .. }) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(authenticated);
    assert!(host.core.bonds.iter().next().unwrap().authenticated);
    assert_eq!(enable_encryption(&ctrl).len(), 1);
}

#[test]
fn a_disconnection_frees_the_session_for_the_next_link() {
    let (mut host, mut ctrl) = connected(ROLE_PERIPHERAL);
    let mut central = central();
    let request: Vec<Pdu> = central.start(true).send.iter().cloned().collect();
    assert_eq!(peer_smp(&mut host, &mut ctrl, &request, 2_000).len(), 1);
    host.h4_rx(&crate::testing::disconnection_complete(LINK, 0x13), 2_500);
    ctrl.settle(&mut host, 2_500);
    assert_eq!(host.core.next_timeout_ms(2_500), u32::MAX);
    host.h4_rx(
        &le_connection_complete_role(LINK, PEER, ROLE_PERIPHERAL),
        3_000,
    );
    ctrl.settle(&mut host, 3_000);
    let mut central = self::central();
    assert!(matches!(
        pair(&mut host, &mut ctrl, &mut central),
        Outcome::Paired { .. }
    ));
}

#[test]
fn att_security_errors_follow_the_pairing_state() {
    use crate::att::db::{fixture, AttPermissions as P};
    use crate::uuid::Uuid;
    let (mut host, mut ctrl) = connected(ROLE_PERIPHERAL);
    fixture::service(&mut host.core.db, 0x1234);
    let perms = P::READ | P::READ_ENCRYPTION;
    let vh = fixture::characteristic(
        &mut host.core.db,
        0x02,
        Uuid::Uuid16(0xBBBB),
        perms,
        &[0x42],
        1,
    );
    let mitm = P::READ | P::READ_AUTHENTICATED_MITM;
    let mh = fixture::characteristic(
        &mut host.core.db,
        0x02,
        Uuid::Uuid16(0xCCCC),
        mitm,
        &[0x43],
        1,
    );
    let read = |h: u16| std::vec![0x0A, h as u8, (h >> 8) as u8];
    let error = |h: u16, code: u8| std::vec![std::vec![0x01, 0x0A, h as u8, (h >> 8) as u8, code]];
    // No LTK for the link: the client must pair, Insufficient
    // Authentication (Vol 3 Part C 10.3.1.1).
    assert_eq!(
        peer_att(&mut host, &mut ctrl, &read(vh), 2_000),
        error(vh, 0x05)
    );
    // Without bonding no keys are distributed: the pairing ends before
    // the link is encrypted.
    let mut central = central();
    assert!(matches!(
        pair_with(&mut host, &mut ctrl, &mut central, 2_000, false, None),
        Outcome::Paired { .. }
    ));
    // Paired, not yet encrypted: an LTK exists, so Insufficient Encryption
    // (the client should encrypt, not pair again).
    assert_eq!(
        peer_att(&mut host, &mut ctrl, &read(vh), 3_000),
        error(vh, 0x0F)
    );
    host.h4_rx(&encryption_change(LINK, 0, 1), 3_000);
    assert_eq!(
        peer_att(&mut host, &mut ctrl, &read(vh), 3_000),
        std::vec![std::vec![0x0B, 0x42]]
    );
    // A Just Works key does not satisfy MITM: Insufficient Authentication.
    assert_eq!(
        peer_att(&mut host, &mut ctrl, &read(mh), 3_000),
        error(mh, 0x05)
    );
}

#[test]
fn pairings_run_side_by_side_up_to_the_session_pool() {
    use crate::config::{MAX_CONNECTIONS, SMP_SESSIONS};
    let (mut host, mut ctrl) = connected(ROLE_PERIPHERAL);
    let links = (SMP_SESSIONS + 1).min(MAX_CONNECTIONS);
    for i in 1..links {
        let peer = [0x10 + i as u8, 0, 0, 0, 0, 0];
        host.h4_rx(
            &le_connection_complete_role(LINK + i as u16, peer, ROLE_PERIPHERAL),
            1_500,
        );
    }
    ctrl.settle(&mut host, 1_500);
    let request = pdu_bytes(&central().start(true).send[0]);
    for i in 0..links {
        host.h4_rx(&acl_frame(LINK + i as u16, CID_SMP, &request), 2_000);
    }
    ctrl.settle(&mut host, 2_000);
    let answers: Vec<(u16, Vec<u8>)> = ctrl
        .sent
        .iter()
        .filter_map(|s| match s {
            crate::testing::Sent::L2cap {
                handle,
                cid,
                payload,
            } if *cid == CID_SMP => Some((*handle, payload.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), links);
    for i in 0..links {
        let (_, pdu) = answers.iter().find(|(h, _)| *h == LINK + i as u16).unwrap();
        if i < SMP_SESSIONS {
            assert_eq!(pdu[0], crate::smp::pdu::PAIRING_RESPONSE, "link {i}");
        } else {
            // Every session is lent: Pairing Failed, Unspecified Reason.
            assert_eq!(pdu, &std::vec![0x05, 0x08], "link {i}");
        }
    }
}

/// Passkey Entry as peripheral (Secure Connections): the host shows the
/// configured passkey (event 64 mode 7), the central's user types it, and
/// the bond is authenticated.
#[test]
fn as_peripheral_sc_passkey_the_host_displays() {
    let (mut host, mut ctrl) = connected(ROLE_PERIPHERAL);
    configure_security(&mut host, 0, 0x0D, 654_321);
    let mut private = [0u8; 32];
    private[0] = 0x3F;
    private[31] = 0x1D;
    let keys = KeyPair::from_private_key(&private).unwrap();
    let peer = LeAddress {
        kind: 0,
        addr: PEER,
    };
    let ours = LeAddress {
        kind: 0,
        addr: BD_ADDR,
    };
    let config = Config::new(IoCapability::KeyboardOnly, true);
    let mut central = Initiator::new(config, keys, [0xA5; 16], peer, ours);
    let outcome = pair_with(&mut host, &mut ctrl, &mut central, 2_000, true, None);
    let Outcome::Paired {
        authenticated,
        bonded,
        secure_connections,
        ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(authenticated && bonded && secure_connections);
    let bond = *host.core.bonds.iter().next().unwrap();
    assert!(bond.authenticated && bond.secure_connections);
    let sec = host.core.connection(slot0()).unwrap().security;
    assert!(sec.encrypted && sec.authenticated);
}

/// LE legacy pairing as peripheral (the central does not set SC): Just
/// Works, the STK encrypts the link, then we distribute our LTK with its
/// EDIV and Rand, which answer the LTK Request of a later link (and EDIV
/// 0 / Rand 0 no longer do).
#[test]
fn as_peripheral_legacy_just_works_distributes_an_ltk_for_the_next_link() {
    let (mut host, mut ctrl) = connected(ROLE_PERIPHERAL);
    let mut private = [0u8; 32];
    private[0] = 0x3F;
    private[31] = 0x1D;
    let keys = KeyPair::from_private_key(&private).unwrap();
    let peer = LeAddress {
        kind: 0,
        addr: PEER,
    };
    let ours = LeAddress {
        kind: 0,
        addr: BD_ADDR,
    };
    let config = Config {
        secure_connections: false,
        ..Config::new(IoCapability::NoInputNoOutput, false)
    };
    let mut central = Initiator::new(config, keys, [0xA5; 16], peer, ours);
    let outcome = pair(&mut host, &mut ctrl, &mut central);
    let Outcome::Paired {
        ltk,
        ediv,
        rand,
        bonded,
        secure_connections,
        peer_identity,
        ..
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(bonded && !secure_connections);
    assert_eq!(peer_identity, Some(ours), "the host gave its identity");
    let bond = *host.core.bonds.iter().next().unwrap();
    assert_eq!((bond.ltk, bond.ediv, bond.rand), (ltk, ediv, rand));
    assert!(!bond.secure_connections);
    host.h4_rx(&crate::testing::disconnection_complete(LINK, 0x13), 4_000);
    ctrl.settle(&mut host, 4_000);
    host.h4_rx(
        &le_connection_complete_role(LINK, PEER, ROLE_PERIPHERAL),
        5_000,
    );
    ctrl.settle(&mut host, 5_000);
    ctrl.sent.clear();
    host.h4_rx(&le_long_term_key_request(LINK, [0; 8], 0), 5_100);
    ctrl.settle(&mut host, 5_100);
    assert_eq!(
        ctrl.commands(),
        std::vec![(LTK_NEGATIVE, LINK.to_le_bytes().to_vec())]
    );
    ctrl.sent.clear();
    host.h4_rx(&le_long_term_key_request(LINK, rand, ediv), 5_200);
    ctrl.settle(&mut host, 5_200);
    let mut expected = LINK.to_le_bytes().to_vec();
    expected.extend_from_slice(&ltk);
    assert_eq!(ctrl.commands(), std::vec![(LTK_REPLY, expected)]);
}

/// LE legacy Passkey Entry as central: our user types what the peripheral
/// shows (event 64 mode 3, `smp_user_confirm` with the passkey); the STK encrypts the link
/// (EDIV 0, Rand 0), and the bond keeps the peripheral's distributed LTK
/// with its EDIV and Rand, which encrypt the next link.
#[test]
fn as_central_legacy_passkey_the_host_types() {
    let (mut host, mut ctrl) = connected(ROLE_CENTRAL);
    configure_security(&mut host, 2, 0x05, 0);
    host.core.smp_start_pair(slot0()).unwrap();
    ctrl.settle(&mut host, 2_000);
    let from_host = ctrl.take_l2cap(CID_SMP);
    let mut peer = peripheral(Config {
        secure_connections: false,
        passkey: Some(7),
        ..Config::new(IoCapability::DisplayOnly, true)
    });
    let outcome = pair_as_central_typing(&mut host, &mut ctrl, &mut peer, from_host, true, None);
    let Some(Outcome::Paired {
        ltk,
        ediv,
        rand,
        authenticated,
        secure_connections,
        ..
    }) = outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(authenticated && !secure_connections);
    let starts = enable_encryption(&ctrl);
    assert_eq!(starts.len(), 1);
    assert_eq!(&starts[0][2..12], &[0; 10], "the STK: EDIV 0, Rand 0");
    let bond = *host.core.bonds.iter().next().unwrap();
    assert_eq!((bond.ltk, bond.ediv, bond.rand), (ltk, ediv, rand));
    assert!(bond.authenticated);
    host.h4_rx(&crate::testing::disconnection_complete(LINK, 0x13), 4_000);
    ctrl.settle(&mut host, 4_000);
    ctrl.sent.clear();
    host.h4_rx(
        &le_connection_complete_role(LINK, PEER, ROLE_CENTRAL),
        5_000,
    );
    ctrl.settle(&mut host, 5_000);
    let mut expected = LINK.to_le_bytes().to_vec();
    expected.extend_from_slice(&rand);
    expected.extend_from_slice(&ediv.to_le_bytes());
    expected.extend_from_slice(&ltk);
    assert_eq!(enable_encryption(&ctrl), std::vec![expected]);
}

/// The host as central (KeyboardOnly, SC, MITM, bonding) pairs with a
/// DisplayOnly peripheral showing 111111, its user typing `typed`.
fn as_central_sc_typing_wrong_passkey(
    typed: u32,
) -> (Box<Host>, ScriptedController, Option<Outcome>) {
    let (mut host, mut ctrl) = connected(ROLE_CENTRAL);
    configure_security(&mut host, 2, 0x0D, 0);
    host.core.smp_start_pair(slot0()).unwrap();
    ctrl.settle(&mut host, 2_000);
    let from_host = ctrl.take_l2cap(CID_SMP);
    let mut peer = peripheral(Config {
        passkey: Some(111_111),
        ..Config::new(IoCapability::DisplayOnly, true)
    });
    let outcome = pair_as_central_typing(
        &mut host,
        &mut ctrl,
        &mut peer,
        from_host,
        true,
        Some(typed),
    );
    (host, ctrl, outcome)
}

/// A wrong passkey typed by the host's user (as central, SC): the peer
/// finds the confirm value wrong; no key, no bond, and the peer must wait
/// before pairing again is no concern of ours (we are central).
#[test]
fn as_central_sc_wrong_passkey_fails_without_a_key() {
    let (host, ctrl, outcome) = as_central_sc_typing_wrong_passkey(111_110);
    assert_eq!(
        outcome,
        Some(Outcome::Failed {
            reason: Reason::CONFIRM_VALUE_FAILED,
            local: true
        })
    );
    assert!(enable_encryption(&ctrl).is_empty());
    assert!(host.core.bonds.is_empty());
    assert!(!host.core.connection(slot0()).unwrap().keys.has_ltk);
}

#[test]
fn insufficient_encryption_with_a_bond_encrypts_and_reads_again_once() {
    use crate::gatt::queue::{Procedure, Request};
    let (mut host, mut ctrl) = connected(ROLE_CENTRAL);
    // A bond with the peer, as an earlier pairing would have left it.
    host.core.bonds.insert(crate::host::Bond {
        peer: LeAddress {
            kind: 0,
            addr: PEER,
        },
        ltk: [0x77; 16],
        ediv: 0,
        rand: [0; 8],
        key_size: 16,
        authenticated: false,
        secure_connections: true,
        peer_irk: None,
    });
    let read = Request {
        procedure: Procedure::Read {
            handle: 3,
            offset: 0,
            long: false,
        },
        owner: 1,
        tag: 0,
    };
    host.core.gatt_submit(slot0(), read, &[]).unwrap();
    ctrl.settle(&mut host, 2_000);
    assert_eq!(ctrl.take_l2cap(CID_ATT), std::vec![std::vec![0x0A, 3, 0]]);
    ctrl.sent.clear();
    // Error Response: Read Request, handle 3, Insufficient Encryption.
    let sent = peer_att(&mut host, &mut ctrl, &[0x01, 0x0A, 3, 0, 0x0F], 2_100);
    assert!(sent.is_empty(), "held, not sent again yet: {sent:?}");
    assert_eq!(enable_encryption(&ctrl).len(), 1, "the bond's key encrypts");
    assert!(
        !events(&mut host)
            .iter()
            .any(|e| matches!(e, HostEvent::GattClient { .. })),
        "no result yet"
    );
    // Encrypted: the same Read Request goes out again, and its answer ends
    // the procedure.
    host.h4_rx(&encryption_change(LINK, 0, 1), 2_200);
    ctrl.settle(&mut host, 2_200);
    assert_eq!(ctrl.take_l2cap(CID_ATT), std::vec![std::vec![0x0A, 3, 0]]);
    let _ = peer_att(&mut host, &mut ctrl, &[0x0B, 0x42], 2_300);
    let evs = events(&mut host);
    assert!(
        evs.iter().any(|e| matches!(
            e,
            HostEvent::GattClient {
                event: ClientEvent::Done { att_error: 0, .. },
                ..
            }
        )),
        "{evs:?}"
    );
    // Once per link: a second refusal is reported as it is.
    host.core.gatt_submit(slot0(), read, &[]).unwrap();
    ctrl.settle(&mut host, 2_400);
    ctrl.sent.clear();
    let _ = peer_att(&mut host, &mut ctrl, &[0x01, 0x0A, 3, 0, 0x05], 2_500);
    let evs = events(&mut host);
    assert!(
        evs.iter().any(|e| matches!(
            e,
            HostEvent::GattClient {
                event: ClientEvent::Done {
                    att_error: 0x05,
                    ..
                },
                ..
            }
        )),
        "{evs:?}"
    );
}

#[test]
fn insufficient_encryption_without_a_bond_is_reported() {
    let (mut host, mut ctrl) = connected(ROLE_CENTRAL);
    start_read(&mut host, &mut ctrl, 2_000, false);
    let _ = peer_att(&mut host, &mut ctrl, &[0x01, 0x0A, 3, 0, 0x0F], 2_100);
    assert!(enable_encryption(&ctrl).is_empty());
}

#[test]
fn a_key_refresh_ends_a_pairing_on_an_encrypted_link_like_an_encryption_change() {
    let (mut host, mut ctrl) = connected(ROLE_PERIPHERAL);
    let mut central = central();
    let _ = pair(&mut host, &mut ctrl, &mut central);
    host.h4_rx(&le_long_term_key_request(LINK, [0; 8], 0), 3_000);
    host.h4_rx(&encryption_change(LINK, 0, 1), 3_000);
    let _ = events(&mut host);
    // Encryption Key Refresh Complete (7.7.39): status 0, the handle.
    let mut refresh = std::vec![0x04, 0x30, 3, 0x00];
    refresh.extend_from_slice(&LINK.to_le_bytes());
    host.h4_rx(&refresh, 3_100);
    assert_security_complete(&mut host);
    assert!(host.core.connection(slot0()).unwrap().security.encrypted);
}

/// A second pairing on a link encrypted by the first (no bonding, so no
/// key distribution: the outcome comes with the new key): security is
/// complete once the controller has refreshed the key (Encryption Key
/// Refresh Complete), reported once, not already when the pairing ends on
/// the link still encrypted with the old key.
#[test]
fn a_pairing_on_an_encrypted_link_completes_at_the_key_refresh_once() {
    let (mut host, mut ctrl) = connected(ROLE_PERIPHERAL);
    let mut central = central();
    let _ = pair_with(&mut host, &mut ctrl, &mut central, 2_000, false, None);
    host.h4_rx(&le_long_term_key_request(LINK, [0; 8], 0), 2_500);
    host.h4_rx(&encryption_change(LINK, 0, 1), 2_500);
    ctrl.settle(&mut host, 2_500);
    assert!(host.core.connection(slot0()).unwrap().security.encrypted);
    let _ = events(&mut host);
    let mut central = self::central();
    let mut evs = Vec::new();
    let outcome = pair_with_events(
        &mut host,
        &mut ctrl,
        &mut central,
        3_000,
        false,
        None,
        &mut evs,
    );
    assert!(matches!(outcome, Outcome::Paired { .. }), "{outcome:?}");
    evs.extend(events(&mut host));
    assert!(
        !evs.iter()
            .any(|e| matches!(e, HostEvent::SecurityComplete { .. })),
        "complete before the new key is in use: {evs:?}"
    );
    let mut refresh = std::vec![0x04, 0x30, 3, 0x00];
    refresh.extend_from_slice(&LINK.to_le_bytes());
    host.h4_rx(&refresh, 3_500);
    assert_security_complete(&mut host);
}

/// Repeated attempts as central (Vol 3 Part H 2.3.6): after a pairing with
/// a peripheral failed (a wrong passkey), its Security Request is answered
/// with Pairing Failed / Repeated Attempts until the wait is over; then we
/// pair again (a Pairing Request).
#[test]
fn as_central_a_security_request_after_a_failure_waits() {
    let (mut host, mut ctrl, outcome) = as_central_sc_typing_wrong_passkey(5);
    assert!(
        matches!(outcome, Some(Outcome::Failed { .. })),
        "{outcome:?}"
    );
    let request = [Pdu::SecurityRequest(AuthReq::BONDING | AuthReq::SC)];
    assert_eq!(
        peer_smp(&mut host, &mut ctrl, &request, 2_500),
        std::vec![pdu_bytes(&Pdu::PairingFailed(Reason::REPEATED_ATTEMPTS))]
    );
    let from_host = peer_smp(&mut host, &mut ctrl, &request, 3_200);
    assert_eq!(from_host.len(), 1);
    assert_eq!(from_host[0][0], 0x01, "a Pairing Request: {from_host:?}");
}
