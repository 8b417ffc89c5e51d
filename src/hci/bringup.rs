//! Controller bring-up: reset the controller, learn what it is and what it
//! can do, size ACL flow control, and unmask the events the host handles.
//!
//! Driven by the host: it feeds Command Complete / Command Status events
//! and command timeouts in; each step queues the next command.

use super::command::{self, opcode, CommandQueue, QueueFull};
use crate::bytes::le_u16_at;

/// Vol 4 Part E 7.3.1 Set_Event_Mask bits the host handles.
pub mod event_mask {
    pub const DISCONNECTION_COMPLETE: u64 = 1 << 4;
    pub const ENCRYPTION_CHANGE: u64 = 1 << 7;
    pub const READ_REMOTE_VERSION_INFORMATION_COMPLETE: u64 = 1 << 11;
    pub const HARDWARE_ERROR: u64 = 1 << 15;
    pub const DATA_BUFFER_OVERFLOW: u64 = 1 << 25;
    pub const ENCRYPTION_KEY_REFRESH_COMPLETE: u64 = 1 << 47;
    pub const LE_META: u64 = 1 << 61;

    pub const HOST: u64 = DISCONNECTION_COMPLETE
        | ENCRYPTION_CHANGE
        | READ_REMOTE_VERSION_INFORMATION_COMPLETE
        | HARDWARE_ERROR
        | DATA_BUFFER_OVERFLOW
        | ENCRYPTION_KEY_REFRESH_COMPLETE
        | LE_META;
}

/// Vol 4 Part E 7.8.1 LE_Event_Mask bits (bit n = subevent n + 1).
pub mod le_event_mask {
    pub const CONNECTION_COMPLETE: u64 = 1 << 0;
    pub const ADVERTISING_REPORT: u64 = 1 << 1;
    pub const CONNECTION_UPDATE_COMPLETE: u64 = 1 << 2;
    pub const READ_REMOTE_FEATURES_COMPLETE: u64 = 1 << 3;
    pub const LONG_TERM_KEY_REQUEST: u64 = 1 << 4;
    pub const REMOTE_CONNECTION_PARAMETER_REQUEST: u64 = 1 << 5;
    pub const DATA_LENGTH_CHANGE: u64 = 1 << 6;
    pub const ENHANCED_CONNECTION_COMPLETE: u64 = 1 << 9;
    pub const PHY_UPDATE_COMPLETE: u64 = 1 << 11;
    /// Bumble's controller reports scans only with this event
    /// (VIRTUAL-AIR.md).
    pub const EXTENDED_ADVERTISING_REPORT: u64 = 1 << 12;

    pub const HOST: u64 = CONNECTION_COMPLETE
        | ADVERTISING_REPORT
        | CONNECTION_UPDATE_COMPLETE
        | READ_REMOTE_FEATURES_COMPLETE
        | LONG_TERM_KEY_REQUEST
        | REMOTE_CONNECTION_PARAMETER_REQUEST
        | DATA_LENGTH_CHANGE
        | ENHANCED_CONNECTION_COMPLETE
        | PHY_UPDATE_COMPLETE
        | EXTENDED_ADVERTISING_REPORT;
}

/// What bring-up learned about the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControllerInfo {
    /// LSB first, as in HCI.
    pub bd_addr: [u8; 6],
    pub hci_version: u8,
    pub hci_revision: u16,
    pub lmp_version: u8,
    pub manufacturer: u16,
    pub lmp_subversion: u16,
    /// Supported_Commands bit field (Vol 4 Part E 6.27).
    pub supported_commands: [u8; 64],
    /// LMP_Features page 0 (Vol 2 Part C 3.3).
    pub lmp_features: [u8; 8],
    /// LE_Features (Vol 6 Part B 4.6).
    pub le_features: u64,
    /// From LE Read Buffer Size, or Read Buffer Size when the controller
    /// shares BR/EDR buffers.
    pub acl_data_packet_length: u16,
    pub total_num_acl_data_packets: u16,
}

impl ControllerInfo {
    pub const fn empty() -> Self {
        Self {
            bd_addr: [0; 6],
            hci_version: 0,
            hci_revision: 0,
            lmp_version: 0,
            manufacturer: 0,
            lmp_subversion: 0,
            supported_commands: [0; 64],
            lmp_features: [0; 8],
            le_features: 0,
            acl_data_packet_length: 0,
            total_num_acl_data_packets: 0,
        }
    }

    /// LE feature bit `bit` (Vol 6 Part B 4.6).
    pub fn le_feature(&self, bit: u32) -> bool {
        bit < 64 && self.le_features & (1u64 << bit) != 0
    }

    /// Supported_Commands octet `octet`, bit `bit` (Vol 4 Part E 6.27).
    pub fn supports_command(&self, octet: usize, bit: u8) -> bool {
        bit < 8
            && self
                .supported_commands
                .get(octet)
                .is_some_and(|o| o & (1 << bit) != 0)
    }

    /// LE Encryption (bit 0).
    pub fn supports_le_encryption(&self) -> bool {
        self.le_feature(0)
    }
    /// Connection Parameters Request procedure (bit 1).
    pub fn supports_connection_parameters_request(&self) -> bool {
        self.le_feature(1)
    }
    /// LE Data Packet Length Extension (bit 5).
    pub fn supports_data_length_extension(&self) -> bool {
        self.le_feature(5)
    }
    /// LL Privacy (bit 6).
    pub fn supports_ll_privacy(&self) -> bool {
        self.le_feature(6)
    }
    /// LE 2M PHY (bit 8).
    pub fn supports_le_2m_phy(&self) -> bool {
        self.le_feature(8)
    }
    /// LE Coded PHY (bit 11).
    pub fn supports_le_coded_phy(&self) -> bool {
        self.le_feature(11)
    }
    /// LE Extended Advertising (bit 12).
    pub fn supports_extended_advertising(&self) -> bool {
        self.le_feature(12)
    }
    /// HCI_LE_Set_Data_Length (Supported_Commands octet 33 bit 6).
    pub fn supports_le_set_data_length(&self) -> bool {
        self.supports_command(33, 6)
    }
    /// HCI_LE_Set_PHY (Supported_Commands octet 35 bit 6).
    pub fn supports_le_set_phy(&self) -> bool {
        self.supports_command(35, 6)
    }
}

impl Default for ControllerInfo {
    fn default() -> Self {
        Self::empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BringUpError {
    /// No Command Complete/Status within HCI_CMD_TIMEOUT_MS.
    Timeout { opcode: u16 },
    /// Non-zero status (Vol 1 Part F error code). Status 0x07 (Memory
    /// Capacity Exceeded) is also used when the host's own command queue
    /// refused the next command.
    CommandFailed { opcode: u16, status: u8 },
    /// Return parameters too short.
    BadResponse { opcode: u16 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BringUpStep {
    /// Not a bring-up command, or bring-up is not running.
    NotMine,
    InProgress,
    Done(ControllerInfo),
    Failed(BringUpError),
}

/// Memory Capacity Exceeded (Vol 1 Part F 2.7).
const MEMORY_CAPACITY_EXCEEDED: u8 = 0x07;

/// Bring-up state machine. The sequence is Reset, Read Local Version
/// Information, Read Local Supported Commands, Read Local Supported
/// Features, Read BD_ADDR, LE Read Local Supported Features, LE Read
/// Buffer Size [v1] (falling back to Read Buffer Size), Set Event Mask,
/// LE Set Event Mask. Optional commands (LE Set PHY, LE Set Data Length)
/// are left to the host afterwards so they cannot block bring-up.
pub struct BringUp {
    /// The bring-up command awaiting its answer, if running.
    waiting: Option<u16>,
    info: ControllerInfo,
}

impl Default for BringUp {
    fn default() -> Self {
        Self::new()
    }
}

impl BringUp {
    pub const fn new() -> Self {
        Self {
            waiting: None,
            info: ControllerInfo::empty(),
        }
    }

    /// Begin (or restart) bring-up by queueing HCI_Reset. The caller
    /// should have reset `cmds` so Reset goes out with the initial credit.
    pub fn start(&mut self, cmds: &mut CommandQueue) -> Result<(), QueueFull> {
        self.info = ControllerInfo::empty();
        self.waiting = None;
        cmds.submit(command::reset())?;
        self.waiting = Some(opcode::RESET);
        Ok(())
    }

    pub fn is_running(&self) -> bool {
        self.waiting.is_some()
    }

    /// The bring-up command now awaited.
    pub fn waiting_for(&self) -> Option<u16> {
        self.waiting
    }

    fn fail(&mut self, e: BringUpError) -> BringUpStep {
        self.waiting = None;
        BringUpStep::Failed(e)
    }

    /// Queue `cmd` as the next step.
    fn next(&mut self, cmd: command::Command, cmds: &mut CommandQueue) -> BringUpStep {
        let op = cmd.opcode;
        match cmds.submit(cmd) {
            Ok(()) => {
                self.waiting = Some(op);
                BringUpStep::InProgress
            }
            Err(QueueFull) => self.fail(BringUpError::CommandFailed {
                opcode: op,
                status: MEMORY_CAPACITY_EXCEEDED,
            }),
        }
    }

    pub fn on_command_complete(
        &mut self,
        opcode: u16,
        return_parameters: &[u8],
        cmds: &mut CommandQueue,
    ) -> BringUpStep {
        if self.waiting != Some(opcode) {
            return BringUpStep::NotMine;
        }
        let bad = BringUpError::BadResponse { opcode };
        let Some((&status, rp)) = return_parameters.split_first() else {
            return self.fail(bad);
        };
        if status != 0 {
            return self.fail(BringUpError::CommandFailed { opcode, status });
        }
        let u16_at = |i: usize| le_u16_at(rp, i);
        let info = &mut self.info;
        let next = match opcode {
            opcode::RESET => command::read_local_version_information(),
            opcode::READ_LOCAL_VERSION_INFORMATION => {
                // Vol 4 Part E 7.4.1: HCI_Version, HCI_Subversion,
                // LMP_Version, Company_Identifier, LMP_Subversion.
                let (Some(&hv), Some(hr), Some(&lv), Some(m), Some(ls)) =
                    (rp.first(), u16_at(1), rp.get(3), u16_at(4), u16_at(6))
                else {
                    return self.fail(bad);
                };
                info.hci_version = hv;
                info.hci_revision = hr;
                info.lmp_version = lv;
                info.manufacturer = m;
                info.lmp_subversion = ls;
                command::read_local_supported_commands()
            }
            opcode::READ_LOCAL_SUPPORTED_COMMANDS => {
                let Some(c) = rp.first_chunk::<64>() else {
                    return self.fail(bad);
                };
                info.supported_commands = *c;
                command::read_local_supported_features()
            }
            opcode::READ_LOCAL_SUPPORTED_FEATURES => {
                let Some(f) = rp.first_chunk::<8>() else {
                    return self.fail(bad);
                };
                info.lmp_features = *f;
                command::read_bd_addr()
            }
            opcode::READ_BD_ADDR => {
                let Some(a) = rp.first_chunk::<6>() else {
                    return self.fail(bad);
                };
                info.bd_addr = *a;
                command::le_read_local_supported_features()
            }
            opcode::LE_READ_LOCAL_SUPPORTED_FEATURES => {
                let Some(f) = rp.first_chunk::<8>() else {
                    return self.fail(bad);
                };
                info.le_features = u64::from_le_bytes(*f);
                command::le_read_buffer_size()
            }
            opcode::LE_READ_BUFFER_SIZE => {
                // Vol 4 Part E 7.8.2: LE_ACL_Data_Packet_Length (2),
                // Total_Num_LE_ACL_Data_Packets (1). Zero in either means
                // the controller shares its BR/EDR buffers: ask Read
                // Buffer Size instead.
                let (Some(len), Some(&total)) = (u16_at(0), rp.get(2)) else {
                    return self.fail(bad);
                };
                if len == 0 || total == 0 {
                    command::read_buffer_size()
                } else {
                    info.acl_data_packet_length = len;
                    info.total_num_acl_data_packets = total.into();
                    command::set_event_mask(event_mask::HOST)
                }
            }
            opcode::READ_BUFFER_SIZE => {
                // Vol 4 Part E 7.4.5: ACL_Data_Packet_Length (2),
                // Synchronous_Data_Packet_Length (1),
                // Total_Num_ACL_Data_Packets (2), ...
                let (Some(len), Some(total)) = (u16_at(0), u16_at(3)) else {
                    return self.fail(bad);
                };
                if len == 0 || total == 0 {
                    // No way to send data at all.
                    return self.fail(bad);
                }
                info.acl_data_packet_length = len;
                info.total_num_acl_data_packets = total;
                command::set_event_mask(event_mask::HOST)
            }
            opcode::SET_EVENT_MASK => command::le_set_event_mask(le_event_mask::HOST),
            opcode::LE_SET_EVENT_MASK => {
                self.waiting = None;
                return BringUpStep::Done(self.info);
            }
            _ => return BringUpStep::NotMine,
        };
        self.next(next, cmds)
    }

    /// A Command Status for a bring-up command with an error fails it; a
    /// success status (unexpected for these commands) just waits on.
    pub fn on_command_status(&mut self, opcode: u16, status: u8) -> BringUpStep {
        if self.waiting != Some(opcode) {
            return BringUpStep::NotMine;
        }
        if status != 0 {
            return self.fail(BringUpError::CommandFailed { opcode, status });
        }
        BringUpStep::InProgress
    }

    /// `CommandQueue::poll_timeout` gave up on `opcode`.
    pub fn on_timeout(&mut self, opcode: u16) -> BringUpStep {
        if self.waiting != Some(opcode) {
            return BringUpStep::NotMine;
        }
        self.fail(BringUpError::Timeout { opcode })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use crate::hci::event::{self, Event};
    use crate::hci::h4::H4Tx;
    use std::vec::Vec;

    use crate::testing::hex;

    /// Command Complete events (H4 indicator stripped) captured from a
    /// bumble 0.0.236 Controller with public address F0:F1:F2:F3:F4:F5.
    fn bumble_answer(op: u16) -> Option<Vec<u8>> {
        Some(hex(match op {
            opcode::RESET => "0e0401030c00",
            opcode::READ_LOCAL_VERSION_INFORMATION => "0e0c0101100009000009ffff0000",
            opcode::READ_LOCAL_SUPPORTED_COMMANDS => {
                concat!(
                    "0e44010210",
                    "002000800300c000000000e4000000a822000000000000040000f7ffff7f",
                    "00000030f0f9ff01008004002000000000000000000000000000000000000000000000"
                )
            }
            opcode::READ_LOCAL_SUPPORTED_FEATURES => "0e0c010310000000000060000080",
            opcode::READ_BD_ADDR => "0e0a01091000f5f4f3f2f1f0",
            opcode::LE_READ_LOCAL_SUPPORTED_FEATURES => "0e0c01032000ff79010000000000",
            opcode::LE_READ_BUFFER_SIZE => "0e07010220001b0040",
            opcode::READ_BUFFER_SIZE => "0e0b010510001b000040000000",
            opcode::SET_EVENT_MASK => "0e0401010c00",
            opcode::LE_SET_EVENT_MASK => "0e0401012000",
            _ => return None,
        }))
    }

    /// Drive bring-up against `answer` until it finishes or `max_ms` pass
    /// in 100 ms ticks. Returns the final step and the opcodes sent.
    fn run(answer: &dyn Fn(u16) -> Option<Vec<u8>>, max_ms: u32) -> (BringUpStep, Vec<u16>) {
        let mut cmds = CommandQueue::new();
        let mut tx = H4Tx::new();
        let mut b = BringUp::new();
        let mut sent = Vec::new();
        b.start(&mut cmds).unwrap();
        let mut now = 0u32;
        while now <= max_ms {
            cmds.pump(&mut tx, now);
            let mut buf = [0u8; 600];
            let n = tx.pop_into(&mut buf);
            let mut rest = &buf[..n];
            let mut events = Vec::new();
            while let [0x01, lo, hi, len, tail @ ..] = rest {
                let op = u16::from_le_bytes([*lo, *hi]);
                sent.push(op);
                if let Some(e) = answer(op) {
                    events.push(e);
                }
                rest = &tail[*len as usize..];
            }
            for e in events {
                let step = match event::parse(&e).unwrap() {
                    Event::CommandComplete {
                        num_hci_command_packets,
                        opcode,
                        return_parameters,
                    } => {
                        cmds.on_command_complete_or_status(num_hci_command_packets, opcode);
                        b.on_command_complete(opcode, return_parameters, &mut cmds)
                    }
                    Event::CommandStatus {
                        status,
                        num_hci_command_packets,
                        opcode,
                    } => {
                        cmds.on_command_complete_or_status(num_hci_command_packets, opcode);
                        b.on_command_status(opcode, status)
                    }
                    _ => BringUpStep::NotMine,
                };
                if matches!(step, BringUpStep::Done(_) | BringUpStep::Failed(_)) {
                    return (step, sent);
                }
            }
            while let Some(op) = cmds.poll_timeout(now) {
                let step = b.on_timeout(op);
                if matches!(step, BringUpStep::Failed(_)) {
                    return (step, sent);
                }
            }
            now += 100;
        }
        (BringUpStep::InProgress, sent)
    }

    #[test]
    fn hci_bringup_bumble_full_sequence() {
        let (step, sent) = run(&bumble_answer, 10_000);
        let BringUpStep::Done(info) = step else {
            panic!("{step:?}");
        };
        assert_eq!(
            sent,
            vec![
                opcode::RESET,
                opcode::READ_LOCAL_VERSION_INFORMATION,
                opcode::READ_LOCAL_SUPPORTED_COMMANDS,
                opcode::READ_LOCAL_SUPPORTED_FEATURES,
                opcode::READ_BD_ADDR,
                opcode::LE_READ_LOCAL_SUPPORTED_FEATURES,
                opcode::LE_READ_BUFFER_SIZE,
                opcode::SET_EVENT_MASK,
                opcode::LE_SET_EVENT_MASK,
            ]
        );
        assert_eq!(info.bd_addr, [0xF5, 0xF4, 0xF3, 0xF2, 0xF1, 0xF0]);
        assert_eq!(info.acl_data_packet_length, 27);
        assert_eq!(info.total_num_acl_data_packets, 64);
        assert_eq!(info.hci_version, 9);
        assert_eq!(info.manufacturer, 0xFFFF);
        assert_eq!(info.le_features, 0x0001_79FF);
        assert!(info.supports_extended_advertising());
        assert!(info.supports_le_2m_phy());
        assert_eq!(info.lmp_features, [0, 0, 0, 0, 0x60, 0, 0, 0x80]);
        assert_eq!(info.supported_commands[0], 0x20);
        assert!(info.supports_le_set_data_length());
    }

    #[test]
    fn hci_bringup_le_buffer_size_zero_falls_back() {
        // A controller sharing BR/EDR buffers: LE Read Buffer Size answers
        // 0/0, Read Buffer Size gives 27 bytes x 64 (bumble's answer).
        let answer = |op| {
            if op == opcode::LE_READ_BUFFER_SIZE {
                Some(hex("0e0701022000000000"))
            } else {
                bumble_answer(op)
            }
        };
        let (step, sent) = run(&answer, 10_000);
        let BringUpStep::Done(info) = step else {
            panic!("{step:?}");
        };
        assert_eq!(
            sent[6..8],
            [opcode::LE_READ_BUFFER_SIZE, opcode::READ_BUFFER_SIZE]
        );
        assert_eq!(info.acl_data_packet_length, 27);
        assert_eq!(info.total_num_acl_data_packets, 64);
    }

    #[test]
    fn hci_bringup_silent_controller_times_out() {
        let (step, sent) = run(&|_| None, config::HCI_CMD_TIMEOUT_MS * 3);
        assert_eq!(
            step,
            BringUpStep::Failed(BringUpError::Timeout {
                opcode: opcode::RESET
            })
        );
        assert_eq!(sent, vec![opcode::RESET]);
    }

    #[test]
    fn hci_bringup_error_status_fails() {
        // Read BD_ADDR answered with Unspecified Error (0x1F).
        let answer = |op| {
            if op == opcode::READ_BD_ADDR {
                Some(hex("0e040109101f"))
            } else {
                bumble_answer(op)
            }
        };
        let (step, _) = run(&answer, 10_000);
        assert_eq!(
            step,
            BringUpStep::Failed(BringUpError::CommandFailed {
                opcode: opcode::READ_BD_ADDR,
                status: 0x1F
            })
        );
        // Truncated return parameters.
        let answer = |op| {
            if op == opcode::LE_READ_BUFFER_SIZE {
                Some(hex("0e05010220001b"))
            } else {
                bumble_answer(op)
            }
        };
        let (step, _) = run(&answer, 10_000);
        assert_eq!(
            step,
            BringUpStep::Failed(BringUpError::BadResponse {
                opcode: opcode::LE_READ_BUFFER_SIZE
            })
        );
    }

    #[test]
    fn hci_bringup_command_status_error() {
        let answer = |op| {
            if op == opcode::READ_LOCAL_VERSION_INFORMATION {
                // Command Status: Unknown HCI Command (0x01).
                Some(hex("0f0401010110"))
            } else {
                bumble_answer(op)
            }
        };
        let (step, _) = run(&answer, 10_000);
        assert_eq!(
            step,
            BringUpStep::Failed(BringUpError::CommandFailed {
                opcode: opcode::READ_LOCAL_VERSION_INFORMATION,
                status: 0x01
            })
        );
    }

    #[test]
    fn hci_bringup_ignores_foreign_completes() {
        let mut cmds = CommandQueue::new();
        let mut b = BringUp::new();
        assert_eq!(
            b.on_command_complete(opcode::RESET, &[0], &mut cmds),
            BringUpStep::NotMine
        );
        b.start(&mut cmds).unwrap();
        assert!(b.is_running());
        assert_eq!(
            b.on_command_complete(opcode::LE_SET_SCAN_ENABLE, &[0], &mut cmds),
            BringUpStep::NotMine
        );
        assert_eq!(b.on_timeout(opcode::LE_SET_PHY), BringUpStep::NotMine);
        assert_eq!(
            b.on_command_complete(opcode::RESET, &[], &mut cmds),
            BringUpStep::Failed(BringUpError::BadResponse {
                opcode: opcode::RESET
            })
        );
        assert!(!b.is_running());
    }

    #[test]
    fn hci_bringup_event_masks() {
        // Vol 4 Part E 7.3.1 / 7.8.1 bit positions.
        assert_eq!(event_mask::HOST, 0x2000_8000_0200_8890);
        assert_eq!(le_event_mask::HOST, 0x0000_0000_0000_1A7F);
    }
}
