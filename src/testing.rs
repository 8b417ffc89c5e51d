//! Test support: a scripted controller and a scripted peer at the HCI
//! boundary, so the whole host can be driven with byte vectors.
//!
//! Compiled for `cargo test` and for host tools (feature `std`, used by
//! the fuzz targets); never in the firmware.

extern crate std;

use crate::api::event::{MpbleEvent, MpbleTarget, MpbleValueKind};
use crate::api::quecpython::calls::QpyCalls;
use crate::api::Firmware;
use crate::hci::command::opcode;
use crate::host::Host;
use core::cell::Cell;
use std::boxed::Box;
use std::collections::BTreeMap;
use std::vec::Vec;

/// Bytes from a hex string ("040e04..."), for byte vectors in tests.
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digits"))
        .collect()
}

/// H4 bytes of a Command Complete event (Vol 4 Part E 7.7.14).
pub fn command_complete(op: u16, return_parameters: &[u8]) -> Vec<u8> {
    let mut v = std::vec![0x04, 0x0E, (3 + return_parameters.len()) as u8, 1];
    v.extend_from_slice(&op.to_le_bytes());
    v.extend_from_slice(return_parameters);
    v
}

/// H4 bytes of a Command Status event (Vol 4 Part E 7.7.15).
pub fn command_status(op: u16, status: u8) -> Vec<u8> {
    let mut v = std::vec![0x04, 0x0F, 4, status, 1];
    v.extend_from_slice(&op.to_le_bytes());
    v
}

/// H4 bytes of an LE Connection Complete event (Vol 4 Part E 7.7.65.1)
/// where we are the peripheral (role 1) and the peer a public address.
pub fn le_connection_complete(handle: u16, peer: [u8; 6]) -> Vec<u8> {
    le_connection_complete_role(handle, peer, 0x01)
}

/// The same with our role given: 0 central, 1 peripheral.
pub fn le_connection_complete_role(handle: u16, peer: [u8; 6], role: u8) -> Vec<u8> {
    let mut v = std::vec![0x04, 0x3E, 19, 0x01, 0x00];
    v.extend_from_slice(&handle.to_le_bytes());
    v.push(role);
    v.push(0x00); // Peer_Address_Type: public
    v.extend_from_slice(&peer);
    v.extend_from_slice(&0x0018u16.to_le_bytes()); // interval 30 ms
    v.extend_from_slice(&0u16.to_le_bytes()); // latency
    v.extend_from_slice(&0x0048u16.to_le_bytes()); // timeout 720 ms
    v.push(0x00);
    v
}

/// H4 bytes of an LE Advertising Report with one report (Vol 4 Part E
/// 7.7.65.2): ADV_IND from a public address, RSSI -50.
pub fn le_advertising_report(addr: [u8; 6], data: &[u8]) -> Vec<u8> {
    let mut v = std::vec![0x04, 0x3E, (12 + data.len()) as u8, 0x02, 1, 0x00, 0x00];
    v.extend_from_slice(&addr);
    v.push(data.len() as u8);
    v.extend_from_slice(data);
    v.push((-50i8) as u8);
    v
}

/// H4 bytes of a Disconnection Complete event (Vol 4 Part E 7.7.5).
pub fn disconnection_complete(handle: u16, reason: u8) -> Vec<u8> {
    let mut v = std::vec![0x04, 0x05, 4, 0x00];
    v.extend_from_slice(&handle.to_le_bytes());
    v.push(reason);
    v
}

/// H4 bytes of an LE Long Term Key Request event (Vol 4 Part E 7.7.65.5).
pub fn le_long_term_key_request(handle: u16, rand: [u8; 8], ediv: u16) -> Vec<u8> {
    let mut v = std::vec![0x04, 0x3E, 13, 0x05];
    v.extend_from_slice(&handle.to_le_bytes());
    v.extend_from_slice(&rand);
    v.extend_from_slice(&ediv.to_le_bytes());
    v
}

/// H4 bytes of an Encryption Change event (Vol 4 Part E 7.7.8).
pub fn encryption_change(handle: u16, status: u8, enabled: u8) -> Vec<u8> {
    let mut v = std::vec![0x04, 0x08, 4, status];
    v.extend_from_slice(&handle.to_le_bytes());
    v.push(enabled);
    v
}

/// H4 bytes of Number Of Completed Packets for one handle (7.7.19).
pub fn completed_packets(handle: u16, count: u16) -> Vec<u8> {
    let mut v = std::vec![0x04, 0x13, 5, 1];
    v.extend_from_slice(&handle.to_le_bytes());
    v.extend_from_slice(&count.to_le_bytes());
    v
}

/// H4 bytes of one ACL packet carrying a whole B-frame (how Bumble's
/// controller delivers a peer's PDU, VIRTUAL-AIR.md).
pub fn acl_frame(handle: u16, cid: u16, payload: &[u8]) -> Vec<u8> {
    let l2cap_len = payload.len() as u16;
    let acl_len = l2cap_len + 4;
    let mut v = std::vec![0x02];
    v.extend_from_slice(&(handle | (0b10 << 12)).to_le_bytes());
    v.extend_from_slice(&acl_len.to_le_bytes());
    v.extend_from_slice(&l2cap_len.to_le_bytes());
    v.extend_from_slice(&cid.to_le_bytes());
    v.extend_from_slice(payload);
    v
}

/// What a [`ScriptedController`] talks to: the whole [`Firmware`] (host and
/// adapters) or the bare [`Host`], for tests of the core on its own.
pub trait H4Endpoint {
    /// Bytes for the controller, H4 framed (0: nothing to send).
    fn h4_tx(&mut self, out: &mut [u8]) -> usize;
    /// Bytes from the controller.
    fn h4_rx(&mut self, bytes: &[u8], now: u32);
}

impl H4Endpoint for Firmware {
    fn h4_tx(&mut self, out: &mut [u8]) -> usize {
        Firmware::h4_tx(self, out)
    }
    fn h4_rx(&mut self, bytes: &[u8], now: u32) {
        // A test that lets flow control refuse bytes must drain events and
        // offer the rest itself, as the port does; none may vanish here.
        let used = Firmware::h4_rx(self, bytes, now);
        assert_eq!(used, bytes.len(), "flow control held bytes back");
    }
}

impl H4Endpoint for Host {
    fn h4_tx(&mut self, out: &mut [u8]) -> usize {
        self.core.h4_tx(out)
    }
    fn h4_rx(&mut self, bytes: &[u8], now: u32) {
        let mut used = 0;
        while used < bytes.len() {
            let n = self.h4_rx_one(&bytes[used..], now);
            if n == 0 {
                break;
            }
            used += n;
        }
    }
}

impl<T: H4Endpoint + ?Sized> H4Endpoint for Box<T> {
    fn h4_tx(&mut self, out: &mut [u8]) -> usize {
        (**self).h4_tx(out)
    }
    fn h4_rx(&mut self, bytes: &[u8], now: u32) {
        (**self).h4_rx(bytes, now)
    }
}

/// What the host sent, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Command {
        opcode: u16,
        params: Vec<u8>,
    },
    /// A whole L2CAP B-frame, recombined from ACL fragments.
    L2cap {
        handle: u16,
        cid: u16,
        payload: Vec<u8>,
    },
}

/// A controller that answers every command at once with success and
/// records what the host sent. Its ACL buffers are 27 bytes, 64 of them,
/// as Bumble's.
pub struct ScriptedController {
    pub bd_addr: [u8; 6],
    pub acl_len: u16,
    pub acl_num: u8,
    /// Commands it never answers (to test timeouts).
    pub silent: Vec<u16>,
    pub sent: Vec<Sent>,
    /// State of the generator that answers LE Rand (splitmix64, so runs
    /// are repeatable).
    pub rand_state: Cell<u64>,
    pending_acl: BTreeMap<u16, Vec<u8>>,
    raw: Vec<u8>,
}

impl ScriptedController {
    pub fn new(bd_addr: [u8; 6]) -> Self {
        ScriptedController {
            bd_addr,
            acl_len: 27,
            acl_num: 64,
            silent: Vec::new(),
            sent: Vec::new(),
            rand_state: Cell::new(0x5EED),
            pending_acl: BTreeMap::new(),
            raw: Vec::new(),
        }
    }

    fn answer(&self, op: u16) -> Option<Vec<u8>> {
        if self.silent.contains(&op) {
            return None;
        }
        let params: Vec<u8> = match op {
            opcode::READ_LOCAL_VERSION_INFORMATION => {
                std::vec![0, 0x0C, 0, 0, 0x0C, 0xFF, 0xFF, 0, 0]
            }
            opcode::READ_LOCAL_SUPPORTED_COMMANDS => {
                let mut v = std::vec![0u8; 65];
                v[1..].fill(0xFF);
                v
            }
            opcode::READ_LOCAL_SUPPORTED_FEATURES | opcode::LE_READ_LOCAL_SUPPORTED_FEATURES => {
                std::vec![0, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0]
            }
            opcode::READ_BD_ADDR => {
                let mut v = std::vec![0];
                v.extend_from_slice(&self.bd_addr);
                v
            }
            opcode::LE_READ_BUFFER_SIZE => {
                let mut v = std::vec![0];
                v.extend_from_slice(&self.acl_len.to_le_bytes());
                v.push(self.acl_num);
                v
            }
            opcode::LE_RAND => {
                let mut z = self.rand_state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
                self.rand_state.set(z);
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                let mut v = std::vec![0];
                v.extend_from_slice(&z.to_le_bytes());
                v
            }
            // Commands answered by Command Status (Vol 4 Part E 7.1.6, 7.8.12).
            opcode::DISCONNECT | opcode::LE_CREATE_CONNECTION | opcode::LE_CONNECTION_UPDATE => {
                return Some(command_status(op, 0));
            }
            _ => std::vec![0],
        };
        Some(command_complete(op, &params))
    }

    /// Takes everything the host wants to send, records it, and returns
    /// the controller's answers (H4 bytes).
    pub fn exchange<E: H4Endpoint + ?Sized>(&mut self, stack: &mut E) -> Vec<u8> {
        let mut buf = [0u8; 512];
        loop {
            let n = stack.h4_tx(&mut buf);
            if n == 0 {
                break;
            }
            self.raw.extend_from_slice(&buf[..n]);
        }
        let mut answers = Vec::new();
        loop {
            match self.raw.first() {
                Some(0x01) if self.raw.len() >= 4 => {
                    let len = 4 + self.raw[3] as usize;
                    if self.raw.len() < len {
                        break;
                    }
                    let op = u16::from_le_bytes([self.raw[1], self.raw[2]]);
                    let params = self.raw[4..len].to_vec();
                    self.raw.drain(..len);
                    self.sent.push(Sent::Command { opcode: op, params });
                    if let Some(a) = self.answer(op) {
                        answers.extend(a);
                    }
                }
                Some(0x02) if self.raw.len() >= 5 => {
                    let len = 5 + u16::from_le_bytes([self.raw[3], self.raw[4]]) as usize;
                    if self.raw.len() < len {
                        break;
                    }
                    let hf = u16::from_le_bytes([self.raw[1], self.raw[2]]);
                    let handle = hf & 0x0FFF;
                    let pb = (hf >> 12) & 0b11;
                    let data = self.raw[5..len].to_vec();
                    self.raw.drain(..len);
                    // Give the buffer straight back, as a fast controller would.
                    answers.extend(completed_packets(handle, 1));
                    let acc = self.pending_acl.entry(handle).or_default();
                    if pb != 0b01 {
                        acc.clear();
                    }
                    acc.extend_from_slice(&data);
                    if acc.len() >= 4 {
                        let l2len = u16::from_le_bytes([acc[0], acc[1]]) as usize;
                        if acc.len() >= 4 + l2len {
                            let cid = u16::from_le_bytes([acc[2], acc[3]]);
                            let payload = acc[4..4 + l2len].to_vec();
                            acc.clear();
                            self.sent.push(Sent::L2cap {
                                handle,
                                cid,
                                payload,
                            });
                        }
                    }
                }
                Some(_) if self.raw.len() < 5 => break,
                Some(other) => panic!("host sent an unknown H4 packet type {other:#04x}"),
                None => break,
            }
        }
        answers
    }

    /// Runs host and controller until the host has nothing more to say.
    pub fn settle<E: H4Endpoint + ?Sized>(&mut self, stack: &mut E, now: u32) {
        for _ in 0..64 {
            let answers = self.exchange(stack);
            if answers.is_empty() {
                return;
            }
            stack.h4_rx(&answers, now);
        }
        panic!("host and controller never settled");
    }

    /// The L2CAP frames the host sent on `cid`, oldest first, and forgets them.
    pub fn take_l2cap(&mut self, cid: u16) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        self.sent.retain(|s| match s {
            Sent::L2cap {
                cid: c, payload, ..
            } if *c == cid => {
                out.push(payload.clone());
                false
            }
            _ => true,
        });
        out
    }

    /// The commands the host sent, with their parameters, oldest first.
    pub fn commands(&self) -> Vec<(u16, Vec<u8>)> {
        self.sent
            .iter()
            .filter_map(|s| match s {
                Sent::Command { opcode, params } => Some((*opcode, params.clone())),
                _ => None,
            })
            .collect()
    }

    /// The opcodes of the commands the host sent, and forgets them.
    pub fn take_commands(&mut self) -> Vec<u16> {
        let mut out = Vec::new();
        self.sent.retain(|s| match s {
            Sent::Command { opcode, .. } => {
                out.push(*opcode);
                false
            }
            _ => true,
        });
        out
    }
}

/// Registers the battery service exactly as
/// shared/demos/quecpython/ble_server.py does, and commits it with the
/// default GAP/GATT services removed (`mode` 0) or kept (1).
pub fn register_demo_service(stack: &mut Firmware, mode: i64) {
    let zeros = [0u8; 16];
    assert_eq!(stack.qpy_set_local_name(0, b"Quectel_ble"), 0);
    assert_eq!(stack.qpy.add_service(1, 1, 1, 0x180F, &zeros), 0);
    assert_eq!(stack.qpy.add_chara(1, 1, 0x32, 1, 0x2A19, &zeros), 0);
    assert_eq!(
        stack
            .qpy
            .add_chara_attr(false, 1, 1, 0x0003, 1, 0x2A19, &zeros, &[0u8; 244]),
        0
    );
    assert_eq!(
        stack
            .qpy
            .add_chara_attr(true, 1, 1, 0x0003, 1, 0x2902, &zeros, &[0u8; 4]),
        0
    );
    assert_eq!(stack.qpy_add_or_clear_service(1, mode), 0);
}

/// An event value, comparable in tests: ints as `I`, bytes as `B`, str as `S`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum V {
    I(i64),
    B(Vec<u8>),
    S(Vec<u8>),
    /// Python `None`.
    N,
}

/// The values of an event's tuple.
pub fn values(ev: &MpbleEvent) -> Vec<V> {
    ev.values()
        .iter()
        .map(|v| match v.kind {
            MpbleValueKind::Int => V::I(v.int_value),
            MpbleValueKind::Bytes => V::B(ev.data_of(v).to_vec()),
            MpbleValueKind::Str => V::S(ev.data_of(v).to_vec()),
            MpbleValueKind::None => V::N,
        })
        .collect()
}

/// Every event waiting for Python, with its target callback.
pub fn drain_events(stack: &mut Firmware) -> Vec<(MpbleTarget, Vec<V>)> {
    let mut out = Vec::new();
    while let Some(ev) = stack.pop_event() {
        out.push((ev.target, values(&ev)));
    }
    out
}

/// An all-int tuple.
pub fn ints(v: &[i64]) -> Vec<V> {
    v.iter().map(|&i| V::I(i)).collect()
}
