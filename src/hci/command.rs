//! HCI commands (Core spec Vol 4 Part E 7) and command flow control by
//! Num_HCI_Command_Packets (Vol 4 Part E 4.4).

use super::h4::H4Tx;
use crate::bytes::{Overflow, Writer};
use crate::config;
use crate::time::Instant;
use heapless::{Deque, Vec};

/// Opcodes: OGF << 10 | OCF (Vol 4 Part E 5.4.1).
pub mod opcode {
    /// No operation: Command Complete/Status with this opcode only carries
    /// a new Num_HCI_Command_Packets (Vol 4 Part E 7.7.14).
    pub const NOP: u16 = 0x0000;
    // Link Control (OGF 0x01)
    pub const DISCONNECT: u16 = 0x0406;
    pub const READ_REMOTE_VERSION_INFORMATION: u16 = 0x041D;
    // Controller & Baseband (OGF 0x03)
    pub const SET_EVENT_MASK: u16 = 0x0C01;
    pub const RESET: u16 = 0x0C03;
    // Informational (OGF 0x04)
    pub const READ_LOCAL_VERSION_INFORMATION: u16 = 0x1001;
    pub const READ_LOCAL_SUPPORTED_COMMANDS: u16 = 0x1002;
    pub const READ_LOCAL_SUPPORTED_FEATURES: u16 = 0x1003;
    pub const READ_BUFFER_SIZE: u16 = 0x1005;
    pub const READ_BD_ADDR: u16 = 0x1009;
    // LE Controller (OGF 0x08)
    pub const LE_SET_EVENT_MASK: u16 = 0x2001;
    pub const LE_READ_BUFFER_SIZE: u16 = 0x2002;
    pub const LE_READ_LOCAL_SUPPORTED_FEATURES: u16 = 0x2003;
    pub const LE_SET_RANDOM_ADDRESS: u16 = 0x2005;
    pub const LE_SET_ADVERTISING_PARAMETERS: u16 = 0x2006;
    pub const LE_READ_ADVERTISING_PHYSICAL_CHANNEL_TX_POWER: u16 = 0x2007;
    pub const LE_SET_ADVERTISING_DATA: u16 = 0x2008;
    pub const LE_SET_SCAN_RESPONSE_DATA: u16 = 0x2009;
    pub const LE_SET_ADVERTISING_ENABLE: u16 = 0x200A;
    pub const LE_SET_SCAN_PARAMETERS: u16 = 0x200B;
    pub const LE_SET_SCAN_ENABLE: u16 = 0x200C;
    pub const LE_CREATE_CONNECTION: u16 = 0x200D;
    pub const LE_CREATE_CONNECTION_CANCEL: u16 = 0x200E;
    pub const LE_READ_FILTER_ACCEPT_LIST_SIZE: u16 = 0x200F;
    pub const LE_CONNECTION_UPDATE: u16 = 0x2013;
    pub const LE_READ_REMOTE_FEATURES: u16 = 0x2016;
    pub const LE_RAND: u16 = 0x2018;
    pub const LE_ENABLE_ENCRYPTION: u16 = 0x2019;
    pub const LE_LONG_TERM_KEY_REQUEST_REPLY: u16 = 0x201A;
    pub const LE_LONG_TERM_KEY_REQUEST_NEGATIVE_REPLY: u16 = 0x201B;
    pub const LE_REMOTE_CONNECTION_PARAMETER_REQUEST_REPLY: u16 = 0x2020;
    pub const LE_REMOTE_CONNECTION_PARAMETER_REQUEST_NEGATIVE_REPLY: u16 = 0x2021;
    pub const LE_SET_DATA_LENGTH: u16 = 0x2022;
    pub const LE_READ_PHY: u16 = 0x2030;
    pub const LE_SET_DEFAULT_PHY: u16 = 0x2031;
    pub const LE_SET_PHY: u16 = 0x2032;
}

/// One HCI command: opcode and parameters (Vol 4 Part E 5.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub opcode: u16,
    /// At most the longest parameters the host sends
    /// (`config::HCI_CMD_PARAMS_SENT_MAX`), not the 255 bytes HCI allows.
    pub params: Vec<u8, { config::HCI_CMD_PARAMS_SENT_MAX }>,
}

impl Command {
    /// A command with these parameters; parameters beyond
    /// `config::HCI_CMD_PARAMS_SENT_MAX` are cut off.
    pub fn new(opcode: u16, params: &[u8]) -> Self {
        let n = params.len().min(config::HCI_CMD_PARAMS_SENT_MAX);
        let mut v = Vec::new();
        let _ = v.extend_from_slice(params.get(..n).unwrap_or(&[]));
        Self { opcode, params: v }
    }

    const fn empty(opcode: u16) -> Self {
        Self {
            opcode,
            params: Vec::new(),
        }
    }
}

/// A command whose parameters `fields` writes, little-endian (Vol 4 Part E
/// 5.2). Every builder below writes a fixed layout of at most
/// `config::HCI_CMD_PARAMS_SENT_MAX` bytes (tested), so the writer never
/// runs out of room.
///
/// `fields` is a `dyn` so that this function is compiled once, not once
/// per builder.
fn build(opcode: u16, fields: &dyn Fn(&mut Writer<'_>) -> Result<(), Overflow>) -> Command {
    let mut params = Vec::new();
    let _ = params.resize_default(config::HCI_CMD_PARAMS_SENT_MAX);
    let mut w = Writer::new(&mut params);
    let fits = fields(&mut w).is_ok();
    debug_assert!(fits, "HCI command 0x{opcode:04X}: parameters overflow");
    let n = w.len();
    params.truncate(n);
    Command { opcode, params }
}

/// HCI_Disconnect (Vol 4 Part E 7.1.6).
pub fn disconnect(handle: u16, reason: u8) -> Command {
    build(opcode::DISCONNECT, &|w| {
        w.put_u16(handle)?;
        w.put_u8(reason)?;
        Ok(())
    })
}

/// HCI_Read_Remote_Version_Information (Vol 4 Part E 7.1.23).
pub fn read_remote_version_information(handle: u16) -> Command {
    build(opcode::READ_REMOTE_VERSION_INFORMATION, &|w| {
        w.put_u16(handle)?;
        Ok(())
    })
}

/// HCI_Set_Event_Mask (Vol 4 Part E 7.3.1).
pub fn set_event_mask(mask: u64) -> Command {
    build(opcode::SET_EVENT_MASK, &|w| {
        w.put_u64(mask)?;
        Ok(())
    })
}

/// HCI_Reset (Vol 4 Part E 7.3.2).
pub fn reset() -> Command {
    Command::empty(opcode::RESET)
}

/// HCI_Read_Local_Version_Information (Vol 4 Part E 7.4.1).
pub fn read_local_version_information() -> Command {
    Command::empty(opcode::READ_LOCAL_VERSION_INFORMATION)
}

/// HCI_Read_Local_Supported_Commands (Vol 4 Part E 7.4.2).
pub fn read_local_supported_commands() -> Command {
    Command::empty(opcode::READ_LOCAL_SUPPORTED_COMMANDS)
}

/// HCI_Read_Local_Supported_Features (Vol 4 Part E 7.4.3).
pub fn read_local_supported_features() -> Command {
    Command::empty(opcode::READ_LOCAL_SUPPORTED_FEATURES)
}

/// HCI_Read_Buffer_Size (Vol 4 Part E 7.4.5).
pub fn read_buffer_size() -> Command {
    Command::empty(opcode::READ_BUFFER_SIZE)
}

/// HCI_Read_BD_ADDR (Vol 4 Part E 7.4.6).
pub fn read_bd_addr() -> Command {
    Command::empty(opcode::READ_BD_ADDR)
}

/// HCI_LE_Set_Event_Mask (Vol 4 Part E 7.8.1).
pub fn le_set_event_mask(mask: u64) -> Command {
    build(opcode::LE_SET_EVENT_MASK, &|w| {
        w.put_u64(mask)?;
        Ok(())
    })
}

/// HCI_LE_Read_Buffer_Size [v1] (Vol 4 Part E 7.8.2).
pub fn le_read_buffer_size() -> Command {
    Command::empty(opcode::LE_READ_BUFFER_SIZE)
}

/// HCI_LE_Read_Local_Supported_Features (Vol 4 Part E 7.8.3).
pub fn le_read_local_supported_features() -> Command {
    Command::empty(opcode::LE_READ_LOCAL_SUPPORTED_FEATURES)
}

/// HCI_LE_Set_Random_Address (Vol 4 Part E 7.8.4); address LSB first.
pub fn le_set_random_address(address: [u8; 6]) -> Command {
    build(opcode::LE_SET_RANDOM_ADDRESS, &|w| {
        w.put_slice(&address)?;
        Ok(())
    })
}

/// Parameters of HCI_LE_Set_Advertising_Parameters (Vol 4 Part E 7.8.5).
/// Intervals in 0.625 ms units; `advertising_type` 0 ADV_IND,
/// 1 ADV_DIRECT_IND (high duty), 2 ADV_SCAN_IND, 3 ADV_NONCONN_IND,
/// 4 ADV_DIRECT_IND (low duty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvertisingParameters {
    pub interval_min: u16,
    pub interval_max: u16,
    pub advertising_type: u8,
    pub own_address_type: u8,
    pub peer_address_type: u8,
    pub peer_address: [u8; 6],
    pub channel_map: u8,
    pub filter_policy: u8,
}

impl Default for AdvertisingParameters {
    /// The spec's defaults: 1.28 s, ADV_IND, public, all channels.
    fn default() -> Self {
        Self {
            interval_min: 0x0800,
            interval_max: 0x0800,
            advertising_type: 0,
            own_address_type: 0,
            peer_address_type: 0,
            peer_address: [0; 6],
            channel_map: 0x07,
            filter_policy: 0,
        }
    }
}

pub fn le_set_advertising_parameters(p: &AdvertisingParameters) -> Command {
    build(opcode::LE_SET_ADVERTISING_PARAMETERS, &|w| {
        w.put_u16(p.interval_min)?;
        w.put_u16(p.interval_max)?;
        w.put_u8(p.advertising_type)?;
        w.put_u8(p.own_address_type)?;
        w.put_u8(p.peer_address_type)?;
        w.put_slice(&p.peer_address)?;
        w.put_u8(p.channel_map)?;
        w.put_u8(p.filter_policy)?;
        Ok(())
    })
}

/// Data_Length then 31 octets, zero padded (Vol 4 Part E 7.8.7, 7.8.8).
/// Data longer than 31 bytes is cut to 31; callers validate first.
fn adv_data(opcode: u16, data: &[u8]) -> Command {
    let n = data.len().min(config::ADV_DATA_MAX);
    let data = data.get(..n).unwrap_or(&[]);
    let pad = [0u8; config::ADV_DATA_MAX];
    build(opcode, &|w| {
        w.put_u8(n as u8)?
            .put_slice(data)?
            .put_slice(pad.get(n..).unwrap_or(&[]))?;
        Ok(())
    })
}

/// HCI_LE_Set_Advertising_Data (Vol 4 Part E 7.8.7).
pub fn le_set_advertising_data(data: &[u8]) -> Command {
    adv_data(opcode::LE_SET_ADVERTISING_DATA, data)
}

/// HCI_LE_Set_Scan_Response_Data (Vol 4 Part E 7.8.8).
pub fn le_set_scan_response_data(data: &[u8]) -> Command {
    adv_data(opcode::LE_SET_SCAN_RESPONSE_DATA, data)
}

/// HCI_LE_Set_Advertising_Enable (Vol 4 Part E 7.8.9).
pub fn le_set_advertising_enable(enable: bool) -> Command {
    build(opcode::LE_SET_ADVERTISING_ENABLE, &|w| {
        w.put_u8(enable.into())?;
        Ok(())
    })
}

/// Parameters of HCI_LE_Set_Scan_Parameters (Vol 4 Part E 7.8.10).
/// `scan_type` 0 passive, 1 active; interval/window in 0.625 ms units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanParameters {
    pub scan_type: u8,
    pub interval: u16,
    pub window: u16,
    pub own_address_type: u8,
    pub filter_policy: u8,
}

impl Default for ScanParameters {
    /// The spec's defaults: passive, 10 ms interval and window.
    fn default() -> Self {
        Self {
            scan_type: 0,
            interval: 0x0010,
            window: 0x0010,
            own_address_type: 0,
            filter_policy: 0,
        }
    }
}

pub fn le_set_scan_parameters(p: &ScanParameters) -> Command {
    build(opcode::LE_SET_SCAN_PARAMETERS, &|w| {
        w.put_u8(p.scan_type)?;
        w.put_u16(p.interval)?;
        w.put_u16(p.window)?;
        w.put_u8(p.own_address_type)?;
        w.put_u8(p.filter_policy)?;
        Ok(())
    })
}

/// HCI_LE_Set_Scan_Enable (Vol 4 Part E 7.8.11).
pub fn le_set_scan_enable(enable: bool, filter_duplicates: bool) -> Command {
    build(opcode::LE_SET_SCAN_ENABLE, &|w| {
        w.put_u8(enable.into())?;
        w.put_u8(filter_duplicates.into())?;
        Ok(())
    })
}

/// Connection parameters shared by LE Create Connection, LE Connection
/// Update and the Remote Connection Parameter Request Reply. Intervals in
/// 1.25 ms units, timeout in 10 ms units, CE lengths in 0.625 ms units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionParameters {
    pub interval_min: u16,
    pub interval_max: u16,
    pub max_latency: u16,
    pub supervision_timeout: u16,
    pub min_ce_length: u16,
    pub max_ce_length: u16,
}

impl ConnectionParameters {
    /// What a peer asked for (L2CAP Connection Parameter Update Request or
    /// the LL's Remote Connection Parameter Request), with no preference
    /// for the connection event length.
    pub const fn requested(
        interval_min: u16,
        interval_max: u16,
        latency: u16,
        timeout: u16,
    ) -> Self {
        Self {
            interval_min,
            interval_max,
            max_latency: latency,
            supervision_timeout: timeout,
            min_ce_length: 0,
            max_ce_length: 0,
        }
    }
}

impl Default for ConnectionParameters {
    /// 30-50 ms interval, no latency, 4 s supervision timeout.
    fn default() -> Self {
        Self {
            interval_min: 24,
            interval_max: 40,
            max_latency: 0,
            supervision_timeout: 400,
            min_ce_length: 0,
            max_ce_length: 0,
        }
    }
}

/// The six fields of [`ConnectionParameters`] in their HCI order.
fn put_connection_parameters(w: &mut Writer<'_>, p: &ConnectionParameters) -> Result<(), Overflow> {
    w.put_u16(p.interval_min)?
        .put_u16(p.interval_max)?
        .put_u16(p.max_latency)?
        .put_u16(p.supervision_timeout)?
        .put_u16(p.min_ce_length)?
        .put_u16(p.max_ce_length)?;
    Ok(())
}

/// Parameters of HCI_LE_Create_Connection (Vol 4 Part E 7.8.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateConnection {
    pub scan_interval: u16,
    pub scan_window: u16,
    pub initiator_filter_policy: u8,
    pub peer_address_type: u8,
    pub peer_address: [u8; 6],
    pub own_address_type: u8,
    pub connection: ConnectionParameters,
}

pub fn le_create_connection(p: &CreateConnection) -> Command {
    build(opcode::LE_CREATE_CONNECTION, &|w| {
        w.put_u16(p.scan_interval)?;
        w.put_u16(p.scan_window)?;
        w.put_u8(p.initiator_filter_policy)?;
        w.put_u8(p.peer_address_type)?;
        w.put_slice(&p.peer_address)?;
        w.put_u8(p.own_address_type)?;
        put_connection_parameters(w, &p.connection)?;
        Ok(())
    })
}

/// HCI_LE_Create_Connection_Cancel (Vol 4 Part E 7.8.13).
pub fn le_create_connection_cancel() -> Command {
    Command::empty(opcode::LE_CREATE_CONNECTION_CANCEL)
}

/// HCI_LE_Connection_Update (Vol 4 Part E 7.8.18).
pub fn le_connection_update(handle: u16, p: &ConnectionParameters) -> Command {
    build(opcode::LE_CONNECTION_UPDATE, &|w| {
        w.put_u16(handle)?;
        put_connection_parameters(w, p)?;
        Ok(())
    })
}

/// HCI_LE_Read_Remote_Features (Vol 4 Part E 7.8.21).
pub fn le_read_remote_features(handle: u16) -> Command {
    build(opcode::LE_READ_REMOTE_FEATURES, &|w| {
        w.put_u16(handle)?;
        Ok(())
    })
}

/// HCI_LE_Rand (Vol 4 Part E 7.8.23).
pub fn le_rand() -> Command {
    Command::empty(opcode::LE_RAND)
}

/// HCI_LE_Enable_Encryption (Vol 4 Part E 7.8.24); keys LSB first.
pub fn le_enable_encryption(
    handle: u16,
    random_number: [u8; 8],
    encrypted_diversifier: u16,
    long_term_key: [u8; 16],
) -> Command {
    build(opcode::LE_ENABLE_ENCRYPTION, &|w| {
        w.put_u16(handle)?;
        w.put_slice(&random_number)?;
        w.put_u16(encrypted_diversifier)?;
        w.put_slice(&long_term_key)?;
        Ok(())
    })
}

/// HCI_LE_Long_Term_Key_Request_Reply (Vol 4 Part E 7.8.25).
pub fn le_long_term_key_request_reply(handle: u16, long_term_key: [u8; 16]) -> Command {
    build(opcode::LE_LONG_TERM_KEY_REQUEST_REPLY, &|w| {
        w.put_u16(handle)?;
        w.put_slice(&long_term_key)?;
        Ok(())
    })
}

/// HCI_LE_Long_Term_Key_Request_Negative_Reply (Vol 4 Part E 7.8.26).
pub fn le_long_term_key_request_negative_reply(handle: u16) -> Command {
    build(opcode::LE_LONG_TERM_KEY_REQUEST_NEGATIVE_REPLY, &|w| {
        w.put_u16(handle)?;
        Ok(())
    })
}

/// HCI_LE_Remote_Connection_Parameter_Request_Reply (Vol 4 Part E 7.8.31).
pub fn le_remote_connection_parameter_request_reply(
    handle: u16,
    p: &ConnectionParameters,
) -> Command {
    build(opcode::LE_REMOTE_CONNECTION_PARAMETER_REQUEST_REPLY, &|w| {
        w.put_u16(handle)?;
        put_connection_parameters(w, p)?;
        Ok(())
    })
}

/// HCI_LE_Remote_Connection_Parameter_Request_Negative_Reply
/// (Vol 4 Part E 7.8.32).
pub fn le_remote_connection_parameter_request_negative_reply(handle: u16, reason: u8) -> Command {
    build(
        opcode::LE_REMOTE_CONNECTION_PARAMETER_REQUEST_NEGATIVE_REPLY,
        &|w| {
            w.put_u16(handle)?;
            w.put_u8(reason)?;
            Ok(())
        },
    )
}

/// HCI_LE_Set_Data_Length (Vol 4 Part E 7.8.33).
pub fn le_set_data_length(handle: u16, tx_octets: u16, tx_time: u16) -> Command {
    build(opcode::LE_SET_DATA_LENGTH, &|w| {
        w.put_u16(handle)?;
        w.put_u16(tx_octets)?;
        w.put_u16(tx_time)?;
        Ok(())
    })
}

/// HCI_LE_Set_PHY (Vol 4 Part E 7.8.49). Bumble's controller never answers
/// it (VIRTUAL-AIR.md): only the command timeout ends it there.
pub fn le_set_phy(
    handle: u16,
    all_phys: u8,
    tx_phys: u8,
    rx_phys: u8,
    phy_options: u16,
) -> Command {
    build(opcode::LE_SET_PHY, &|w| {
        w.put_u16(handle)?;
        w.put_u8(all_phys)?;
        w.put_u8(tx_phys)?;
        w.put_u8(rx_phys)?;
        w.put_u16(phy_options)?;
        Ok(())
    })
}

/// The command queue was full; the command was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull;

#[derive(Debug, Clone, Copy)]
struct Outstanding {
    opcode: u16,
    deadline: Instant,
}

/// Commands waiting for the controller's Num_HCI_Command_Packets credit,
/// and the commands sent and not yet answered (Vol 4 Part E 4.4).
pub struct CommandQueue {
    queue: Deque<Command, { config::HCI_CMD_QUEUE }>,
    outstanding: Vec<Outstanding, { config::HCI_CMD_QUEUE }>,
    /// The credit minus one, wrapping (0 is a credit of 1, 255 of 0), so
    /// that a new queue is all zeros and the core's static stays in `.bss`.
    credit_less_one: u8,
}

impl Default for CommandQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl CommandQueue {
    /// Credit 1: after power-on or Reset the host may send one command
    /// (Vol 4 Part E 4.4).
    pub const fn new() -> Self {
        Self {
            queue: Deque::new(),
            outstanding: Vec::new(),
            credit_less_one: 0,
        }
    }

    pub fn reset(&mut self) {
        self.queue.clear();
        self.outstanding.clear();
        self.set_credit(1);
    }

    /// Removes outstanding command `i`, keeping the others in order.
    /// (`heapless::Vec::remove` would bring a formatted panic, and with it
    /// `core::fmt`, into the firmware.)
    fn take_outstanding(&mut self, i: usize) -> Option<Outstanding> {
        let o = *self.outstanding.get(i)?;
        if let Some(tail) = self.outstanding.get_mut(i..) {
            for j in 1..tail.len() {
                if let Some(&next) = tail.get(j) {
                    if let Some(prev) = tail.get_mut(j - 1) {
                        *prev = next;
                    }
                }
            }
        }
        self.outstanding.pop();
        Some(o)
    }

    fn set_credit(&mut self, credit: u8) {
        self.credit_less_one = credit.wrapping_sub(1);
    }

    /// Queue a command to be sent when credit allows.
    pub fn submit(&mut self, cmd: Command) -> Result<(), QueueFull> {
        self.queue.push_back(cmd).map_err(|_| QueueFull)
    }

    /// Commands queued and not yet sent.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Commands the controller may accept now.
    pub fn credit(&self) -> u8 {
        self.credit_less_one.wrapping_add(1)
    }

    /// Move queued commands into `tx` while credit, room to track them and
    /// room in `tx` remain. Each sent command must be answered by
    /// `now_ms + HCI_CMD_TIMEOUT_MS`. Returns whether it sent one.
    #[inline]
    pub fn pump(&mut self, tx: &mut H4Tx, now_ms: u32) -> bool {
        // The usual case (the host pumps after every input and call), tested
        // where it is called: the loop below costs a frame to enter.
        if self.queue.is_empty() {
            return false;
        }
        self.send_queued(tx, now_ms)
    }

    /// [`CommandQueue::pump`] with commands queued.
    fn send_queued(&mut self, tx: &mut H4Tx, now_ms: u32) -> bool {
        let mut sent = false;
        while self.credit() > 0 && !self.outstanding.is_full() {
            let Some(cmd) = self.queue.front() else {
                break;
            };
            if tx.push_command(cmd.opcode, &cmd.params).is_err() {
                break;
            }
            let opcode = cmd.opcode;
            self.queue.pop_front();
            self.set_credit(self.credit() - 1);
            let _ = self.outstanding.push(Outstanding {
                opcode,
                deadline: Instant::from_ms(now_ms).add_ms(config::HCI_CMD_TIMEOUT_MS),
            });
            sent = true;
        }
        sent
    }

    /// A Command Complete or Command Status arrived: its
    /// Num_HCI_Command_Packets is the new credit, and it answers the oldest
    /// outstanding command with this opcode (opcode 0x0000 only updates
    /// the credit, Vol 4 Part E 7.7.14).
    pub fn on_command_complete_or_status(&mut self, num_hci_command_packets: u8, opcode: u16) {
        self.set_credit(num_hci_command_packets);
        if opcode == opcode::NOP {
            return;
        }
        if let Some(i) = self.outstanding.iter().position(|o| o.opcode == opcode) {
            self.take_outstanding(i);
        }
    }

    /// The opcode of one outstanding command whose deadline has passed; it
    /// is forgotten, so each is reported once. The controller's credit for
    /// it is presumed lost with it, so credit is restored to at least 1 or
    /// a controller that swallows a command (Bumble and LE Set PHY) would
    /// block all later commands.
    pub fn poll_timeout(&mut self, now_ms: u32) -> Option<u16> {
        let i = self
            .outstanding
            .iter()
            .position(|o| o.deadline.is_reached(Instant::from_ms(now_ms)))?;
        let o = self.take_outstanding(i)?;
        if self.credit() == 0 {
            self.set_credit(1);
        }
        Some(o.opcode)
    }

    /// The earliest deadline of an outstanding command.
    pub fn next_deadline(&self) -> Option<u32> {
        let mut best = None;
        for o in self.outstanding.iter() {
            best = Instant::earliest_of(best, Some(o.deadline));
        }
        best.map(Instant::as_ms)
    }

    /// Commands sent and not yet answered.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// Whether `opcode` was sent and is not yet answered.
    pub fn is_outstanding(&self, opcode: u16) -> bool {
        self.outstanding.iter().any(|o| o.opcode == opcode)
    }

    /// Nothing queued and nothing awaiting an answer.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.outstanding.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec as StdVec;

    fn bytes(c: &Command) -> StdVec<u8> {
        let mut tx = H4Tx::new();
        tx.push_command(c.opcode, &c.params).unwrap();
        let mut out = vec![0u8; 300];
        let n = tx.pop_into(&mut out);
        out.truncate(n);
        out
    }

    use crate::testing::hex;

    #[test]
    fn hci_command_encodings() {
        // Bytes accepted by Bumble 0.0.236's controller (captured TX lines),
        // except the Set Event Mask line, which is computed from
        // Vol 4 Part E 7.3.1 for the mask bring-up uses.
        assert_eq!(bytes(&reset()), hex("01030c00"));
        assert_eq!(
            bytes(&set_event_mask(0x2000_8000_0200_8890)),
            hex("01010c089088000200800020")
        );
        assert_eq!(
            bytes(&le_set_event_mask(0x1A7F)),
            hex("010120087f1a000000000000")
        );
        assert_eq!(
            bytes(&le_set_scan_parameters(&ScanParameters {
                scan_type: 1,
                ..Default::default()
            })),
            hex("010b200701100010000000")
        );
        assert_eq!(bytes(&le_set_scan_enable(true, false)), hex("010c20020100"));
        let cc = CreateConnection {
            scan_interval: 0x10,
            scan_window: 0x10,
            initiator_filter_policy: 0,
            peer_address_type: 1,
            peer_address: [0xC5, 0xC4, 0xC3, 0xC2, 0xC1, 0xC0],
            own_address_type: 0,
            connection: ConnectionParameters {
                interval_min: 0x18,
                interval_max: 0x28,
                max_latency: 0,
                supervision_timeout: 0x48,
                min_ce_length: 0,
                max_ce_length: 0,
            },
        };
        assert_eq!(
            bytes(&le_create_connection(&cc)),
            hex("010d2019100010000001c5c4c3c2c1c000180028000000480000000000")
        );
        assert_eq!(
            bytes(&le_set_data_length(0, 251, 0x0848)),
            hex("012220060000fb004808")
        );
        assert_eq!(bytes(&disconnect(0, 0x13)), hex("01060403000013"));
        assert_eq!(
            bytes(&le_set_phy(0, 0, 2, 2, 0)),
            hex("0132200700000002020000")
        );
    }

    #[test]
    fn hci_command_advertising() {
        let p = AdvertisingParameters {
            interval_min: 0x00A0,
            interval_max: 0x00F0,
            ..Default::default()
        };
        assert_eq!(
            bytes(&le_set_advertising_parameters(&p)),
            hex("0106200fa000f0000000000000000000000700")
        );
        // Flags + short name "mp": length byte first, then 31 padded bytes.
        let c = le_set_advertising_data(&[2, 0x01, 0x06, 3, 0x08, b'm', b'p']);
        assert_eq!(c.params.len(), 32);
        assert_eq!(&c.params[..8], &[7, 2, 0x01, 0x06, 3, 0x08, b'm', b'p']);
        assert!(c.params[8..].iter().all(|&b| b == 0));
        assert_eq!(le_set_scan_response_data(&[0xAA; 40]).params[0], 31);
        assert_eq!(bytes(&le_set_advertising_enable(true)), hex("010a200101"));
        assert_eq!(
            bytes(&le_long_term_key_request_reply(0x40, [0x11; 16]))[..6],
            hex("011a20124000")[..]
        );
    }

    /// Every command the host builds fits the queue's parameter slots
    /// whole: the longest are exactly as long as the spec says.
    #[test]
    fn hci_command_longest_parameters_fit() {
        assert_eq!(le_set_advertising_data(&[0xAA; 31]).params.len(), 32);
        assert_eq!(le_set_scan_response_data(&[0xAA; 31]).params.len(), 32);
        assert_eq!(le_enable_encryption(1, [0; 8], 0, [0; 16]).params.len(), 28);
        let cc = CreateConnection {
            scan_interval: 0x10,
            scan_window: 0x10,
            initiator_filter_policy: 0,
            peer_address_type: 0,
            peer_address: [0; 6],
            own_address_type: 0,
            connection: ConnectionParameters::default(),
        };
        assert_eq!(le_create_connection(&cc).params.len(), 25);
        assert_eq!(
            le_set_advertising_parameters(&AdvertisingParameters::default())
                .params
                .len(),
            15
        );
        assert_eq!(
            le_remote_connection_parameter_request_reply(1, &ConnectionParameters::default())
                .params
                .len(),
            14
        );
    }

    #[test]
    fn hci_command_queue_credit() {
        let mut q = CommandQueue::new();
        // All zeros when new (the core's static stays in .bss), credit 1.
        assert_eq!((q.credit_less_one, q.credit()), (0, 1));
        q.on_command_complete_or_status(255, opcode::NOP);
        assert_eq!(q.credit(), 255);
        q.on_command_complete_or_status(1, opcode::NOP);
        let mut tx = H4Tx::new();
        q.submit(reset()).unwrap();
        q.submit(read_bd_addr()).unwrap();
        q.submit(read_buffer_size()).unwrap();
        q.pump(&mut tx, 0);
        // Initial credit is 1.
        assert_eq!(tx.len(), 4);
        assert_eq!(q.outstanding(), 1);
        q.pump(&mut tx, 0);
        assert_eq!(tx.len(), 4);
        // NOP with credit 0 (controller busy) releases nothing.
        q.on_command_complete_or_status(0, opcode::NOP);
        q.pump(&mut tx, 1);
        assert_eq!(q.outstanding(), 1);
        // Command Complete for Reset with 2 credits: both remaining go.
        q.on_command_complete_or_status(2, opcode::RESET);
        assert_eq!(q.outstanding(), 0);
        q.pump(&mut tx, 2);
        assert_eq!(q.outstanding(), 2);
        assert_eq!(tx.len(), 12);
        assert!(!q.is_idle());
        q.on_command_complete_or_status(1, opcode::READ_BUFFER_SIZE);
        q.on_command_complete_or_status(1, opcode::READ_BD_ADDR);
        assert!(q.is_idle());
        for _ in 0..config::HCI_CMD_QUEUE {
            q.submit(reset()).unwrap();
        }
        assert_eq!(q.submit(reset()), Err(QueueFull));
    }

    #[test]
    fn hci_command_queue_timeout_wraps() {
        let mut q = CommandQueue::new();
        let mut tx = H4Tx::new();
        let t0 = u32::MAX - 100; // deadline wraps past zero
        q.submit(le_set_phy(1, 0, 2, 2, 0)).unwrap();
        q.submit(reset()).unwrap();
        q.pump(&mut tx, t0);
        let deadline = t0.wrapping_add(config::HCI_CMD_TIMEOUT_MS);
        assert_eq!(q.next_deadline(), Some(deadline));
        assert_eq!(q.poll_timeout(t0), None);
        assert_eq!(q.poll_timeout(deadline.wrapping_sub(1)), None);
        assert_eq!(q.poll_timeout(deadline), Some(opcode::LE_SET_PHY));
        assert_eq!(q.poll_timeout(deadline + 5), None);
        assert_eq!(q.next_deadline(), None);
        // The lost credit is restored, so Reset still goes out.
        q.pump(&mut tx, deadline);
        assert_eq!(q.outstanding(), 1);
        assert!(q.is_outstanding(opcode::RESET));
    }
}
