//! The sans-IO BLE host: bytes in, bytes out, events out.
//!
//! `Host` never reads a socket, sleeps or allocates. The caller feeds it
//! what the controller sent ([`Host::h4_rx`]), takes what it wants sent
//! ([`Host::h4_tx`]), tells it the time ([`Host::tick`]) and pops
//! [`HostEvent`]s. Everything above (the vendor APIs) is driven by those
//! events; everything below (HCI, L2CAP, ATT, GATT) is called from here.

use crate::att::pdu::ATT_HANDLE_VALUE_CFM;
use crate::att::server::{self as att_server, AttBearer, LinkSecurity, ServerEvent};
use crate::config;
use crate::gap::{AdvReportEvent, Advertiser, Scanner};
use crate::gatt::client::{self as gatt_client, ClientError, ClientEvent, GattClient};
use crate::gatt::db::AttributeDb;
use crate::hci::acl::{AclFlow, AclHeader, AclTxQueue};
use crate::hci::bringup::{BringUp, BringUpError, BringUpStep, ControllerInfo};
use crate::hci::command::{
    self, opcode, Command, CommandQueue, ConnectionParameters, CreateConnection,
};
use crate::hci::event::{self, AdvReport, ConnectionComplete, Event, LeEvent};
use crate::hci::h4::{H4Packet, H4Parser, H4Tx};
use crate::l2cap::{self, signaling, Reassembler};
use crate::smp;
use heapless::Deque;

/// HCI error code Remote User Terminated Connection (Vol 1 Part F 2.14),
/// the reason we give when the application stops BLE.
const REMOTE_USER_TERMINATED: u8 = 0x13;

/// Whether `deadline` has passed at `now` on the wrapping millisecond clock
/// (a deadline in the past reads as a huge wrapped distance).
fn expired(deadline: u32, now: u32) -> bool {
    now.wrapping_sub(deadline) < u32::MAX / 2
}

/// Life cycle of the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostState {
    Off,
    Starting,
    Ready,
    /// `stop` was called: links are being dropped and the controller reset.
    Stopping,
    Failed,
}

/// GAP role of our side of a link (Vol 4 Part E 7.7.65.1 Role).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Central,
    Peripheral,
}

/// What happened, for the API adapters. Values live in the host (the GATT
/// database, the connection table), so events are small and `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostEvent {
    Started,
    StartFailed(BringUpError),
    Stopped,
    Connected {
        conn: usize,
    },
    /// LE Create Connection failed (Command Status or Connection Complete
    /// with an error).
    ConnectFailed {
        status: u8,
    },
    /// An advertising report while scanning.
    AdvReport(AdvReportEvent),
    Disconnected {
        conn: usize,
        handle: u16,
        peer_address_type: u8,
        peer_address: [u8; 6],
        reason: u8,
    },
    ConnectionUpdated {
        conn: usize,
        status: u8,
    },
    MtuExchanged {
        conn: usize,
        mtu: u16,
    },
    GattRead {
        conn: usize,
        handle: u16,
    },
    GattWrite {
        conn: usize,
        handle: u16,
        with_response: bool,
    },
    IndicationConfirmed {
        conn: usize,
    },
    /// Our GATT client's progress on a link. For `Results`, the response
    /// PDU is [`HostCore::client_pdu`] until the next packet is handled.
    GattClient {
        conn: usize,
        event: ClientEvent,
    },
    /// A command the application caused failed in the controller.
    CommandFailed {
        opcode: u16,
        status: u8,
    },
}

/// One LE link.
pub struct Connection {
    pub handle: u16,
    pub role: Role,
    pub peer_address_type: u8,
    pub peer_address: [u8; 6],
    /// Connection interval in 1.25 ms units (Vol 4 Part E 7.7.65.1).
    pub interval: u16,
    pub latency: u16,
    /// Supervision timeout in 10 ms units.
    pub supervision_timeout: u16,
    pub security: LinkSecurity,
    pub att: AttBearer,
    /// When the outstanding indication's transaction times out.
    indication_deadline: u32,
    /// The ATT bearer timed out: nothing more may be sent on it
    /// (Vol 3 Part F 3.3.3) and the link is being dropped.
    att_dead: bool,
    /// Our GATT client on this link, and when its outstanding request
    /// times out (Vol 3 Part F 3.3.3).
    pub client: GattClient,
    client_deadline: u32,
    reassembler: Reassembler,
}

impl Connection {
    const fn new() -> Self {
        Connection {
            handle: 0,
            role: Role::Peripheral,
            peer_address_type: 0,
            peer_address: [0; 6],
            interval: 0,
            latency: 0,
            supervision_timeout: 0,
            security: LinkSecurity {
                encrypted: false,
                authenticated: false,
                key_size: 0,
            },
            att: AttBearer::new(),
            indication_deadline: 0,
            att_dead: false,
            client: GattClient::new(),
            client_deadline: 0,
            reassembler: Reassembler::new(),
        }
    }
}

/// Counters for input the host dropped (ARCHITECTURE rule 6: malformed
/// input becomes a dropped packet with a counter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostStats {
    pub bad_events: u32,
    pub bad_acl: u32,
    pub unknown_handle: u32,
    pub l2cap_errors: u32,
    pub unknown_cid: u32,
    pub tx_dropped: u32,
    pub events_dropped: u32,
}

/// A request the host could not take: the caller gets -1 / an exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostError {
    NotReady,
    InvalidArgument,
    NoConnection,
    Busy,
    TooLong,
    QueueFull,
}

/// Everything but the H4 receive parser, so the parser can call back into
/// it while it borrows its own buffer.
pub struct HostCore {
    state: HostState,
    now_ms: u32,
    tx: H4Tx,
    cmds: CommandQueue,
    bringup: BringUp,
    info: Option<ControllerInfo>,
    acl_flow: AclFlow,
    acl_tx: AclTxQueue,
    conns: [Option<Connection>; config::MAX_CONNECTIONS],
    events: Deque<HostEvent, { config::EVENT_QUEUE }>,
    pub db: AttributeDb,
    pub adv: Advertiser,
    pub scan: Scanner,
    /// An LE Create Connection is pending (we are the initiator).
    connecting: bool,
    pub stats: HostStats,
    /// Scratch for one outbound L2CAP frame (header + ATT_MTU_MAX).
    frame: [u8; 4 + config::L2CAP_PDU_MAX],
    /// The last ATT PDU our GATT client received (see `client_pdu`).
    client_rx: [u8; config::ATT_MTU_MAX],
    client_rx_len: usize,
}

pub struct Host {
    rx: H4Parser,
    pub core: HostCore,
}

impl Default for Host {
    fn default() -> Self {
        Self::new()
    }
}

impl Host {
    pub const fn new() -> Self {
        const NO_CONN: Option<Connection> = None;
        Host {
            rx: H4Parser::new(),
            core: HostCore {
                state: HostState::Off,
                now_ms: 0,
                tx: H4Tx::new(),
                cmds: CommandQueue::new(),
                bringup: BringUp::new(),
                info: None,
                acl_flow: AclFlow::new(),
                acl_tx: AclTxQueue::new(),
                conns: [NO_CONN; config::MAX_CONNECTIONS],
                events: Deque::new(),
                db: AttributeDb::new(),
                adv: Advertiser::new(),
                scan: Scanner::new(),
                connecting: false,
                stats: HostStats {
                    bad_events: 0,
                    bad_acl: 0,
                    unknown_handle: 0,
                    l2cap_errors: 0,
                    unknown_cid: 0,
                    tx_dropped: 0,
                    events_dropped: 0,
                },
                frame: [0; 4 + config::L2CAP_PDU_MAX],
                client_rx: [0; config::ATT_MTU_MAX],
                client_rx_len: 0,
            },
        }
    }

    /// Forgets everything, including the GATT database and advertising data.
    pub fn reset(&mut self) {
        self.rx.reset();
        let c = &mut self.core;
        c.state = HostState::Off;
        c.tx.reset();
        c.cmds.reset();
        c.bringup = BringUp::new();
        c.info = None;
        c.acl_flow = AclFlow::new();
        c.acl_tx.reset();
        c.conns = Default::default();
        c.events.clear();
        c.db.clear();
        c.adv = Advertiser::new();
        c.scan = Scanner::new();
        c.connecting = false;
        c.stats = HostStats::default();
    }

    /// Takes bytes from the controller up to the end of the next complete
    /// packet and returns how many it took: one packet's worth of events
    /// at a time, so the caller can stop while it has no room for them.
    pub fn h4_rx_one(&mut self, bytes: &[u8], now_ms: u32) -> usize {
        let core = &mut self.core;
        core.now_ms = now_ms;
        let used = self
            .rx
            .feed_one(bytes, &mut |packet| core.on_packet(packet));
        core.pump();
        used
    }

    pub fn h4_stats(&self) -> crate::hci::h4::H4Stats {
        self.rx.stats()
    }
}

impl HostCore {
    pub fn state(&self) -> HostState {
        self.state
    }

    pub fn controller(&self) -> Option<&ControllerInfo> {
        self.info.as_ref()
    }

    pub fn pop_event(&mut self) -> Option<HostEvent> {
        self.events.pop_front()
    }

    /// Bytes for the controller, H4 framed.
    pub fn h4_tx(&mut self, out: &mut [u8]) -> usize {
        self.pump();
        self.tx.pop_into(out)
    }

    /// Runs timers: a command without Command Complete/Status in time fails
    /// (Vol 4 Part E 4.4 leaves the timeout to the host).
    pub fn tick(&mut self, now_ms: u32) {
        self.now_ms = now_ms;
        while let Some(op) = self.cmds.poll_timeout(now_ms) {
            if self.bringup.is_running() {
                let step = self.bringup.on_timeout(op);
                self.on_bringup_step(step);
            } else if self.state == HostState::Stopping && op == opcode::RESET {
                self.finish_stop();
            } else {
                self.push_event(HostEvent::CommandFailed {
                    opcode: op,
                    status: 0xFF,
                });
            }
        }
        self.expire_indications(now_ms);
        self.pump();
    }

    /// An indication unconfirmed for 30 s fails its ATT transaction: no
    /// more ATT PDUs may go to that peer (Vol 3 Part F 3.3.3), so the link
    /// is dropped rather than left half alive.
    fn expire_indications(&mut self, now_ms: u32) {
        for conn in 0..self.conns.len() {
            let Some(c) = self.conns[conn].as_mut() else {
                continue;
            };
            if c.att_dead {
                continue;
            }
            let indication = c.att.indication_pending() && expired(c.indication_deadline, now_ms);
            let request = c.client.busy() && expired(c.client_deadline, now_ms);
            if !indication && !request {
                continue;
            }
            c.att_dead = true;
            let handle = c.handle;
            let done = if request { c.client.on_timeout() } else { None };
            let _ = self
                .cmds
                .submit(command::disconnect(handle, REMOTE_USER_TERMINATED));
            if let Some(event) = done {
                self.push_event(HostEvent::GattClient { conn, event });
            }
        }
    }

    /// Milliseconds until `tick` is needed, `u32::MAX` when no timer runs.
    pub fn next_timeout_ms(&self, now_ms: u32) -> u32 {
        let indications = self
            .conns
            .iter()
            .flatten()
            .filter(|c| !c.att_dead)
            .flat_map(|c| {
                let ind = c.att.indication_pending().then_some(c.indication_deadline);
                let req = c.client.busy().then_some(c.client_deadline);
                ind.into_iter().chain(req)
            });
        self.cmds
            .next_deadline()
            .into_iter()
            .chain(indications)
            .map(|deadline| {
                if expired(deadline, now_ms) {
                    0
                } else {
                    deadline.wrapping_sub(now_ms)
                }
            })
            .min()
            .unwrap_or(u32::MAX)
    }

    /// Starts controller bring-up.
    pub fn start(&mut self, now_ms: u32) -> Result<(), HostError> {
        if matches!(self.state, HostState::Starting | HostState::Ready) {
            return Err(HostError::Busy);
        }
        self.now_ms = now_ms;
        self.tx.reset();
        self.cmds.reset();
        self.acl_tx.reset();
        self.conns = Default::default();
        self.adv.enabled = false;
        self.scan.enabled = false;
        self.connecting = false;
        self.bringup = BringUp::new();
        self.bringup
            .start(&mut self.cmds)
            .map_err(|_| HostError::QueueFull)?;
        self.state = HostState::Starting;
        self.pump();
        Ok(())
    }

    /// Drops every link, stops advertising and resets the controller;
    /// `HostEvent::Stopped` follows.
    pub fn stop(&mut self, now_ms: u32) -> Result<(), HostError> {
        self.now_ms = now_ms;
        match self.state {
            HostState::Ready => {}
            HostState::Starting | HostState::Failed => {
                // Nothing is running in the controller worth undoing.
                self.cmds.reset();
                self.bringup = BringUp::new();
                self.db.clear();
                self.state = HostState::Off;
                self.push_event(HostEvent::Stopped);
                return Ok(());
            }
            _ => return Err(HostError::NotReady),
        }
        for c in self.conns.iter().flatten() {
            let _ = self
                .cmds
                .submit(command::disconnect(c.handle, REMOTE_USER_TERMINATED));
        }
        if self.adv.enabled {
            let _ = self.cmds.submit(command::le_set_advertising_enable(false));
            self.adv.enabled = false;
        }
        if self.scan.enabled {
            let _ = self.cmds.submit(command::le_set_scan_enable(false, false));
            self.scan.enabled = false;
        }
        if self.connecting {
            let _ = self.cmds.submit(command::le_create_connection_cancel());
            self.connecting = false;
        }
        if self.cmds.submit(command::reset()).is_err() {
            self.finish_stop();
            return Ok(());
        }
        self.state = HostState::Stopping;
        self.pump();
        Ok(())
    }

    fn finish_stop(&mut self) {
        self.cmds.reset();
        self.acl_tx.reset();
        self.conns = Default::default();
        // A stop ends the GATT server with the links: the next start
        // serves only what is registered again (docs/DECISIONS.md).
        self.db.clear();
        self.state = HostState::Off;
        self.push_event(HostEvent::Stopped);
    }

    /// Queues an HCI command the application asked for.
    pub fn command(&mut self, cmd: Command) -> Result<(), HostError> {
        if self.state != HostState::Ready {
            return Err(HostError::NotReady);
        }
        self.cmds.submit(cmd).map_err(|_| HostError::QueueFull)?;
        self.pump();
        Ok(())
    }

    /// Sends the advertising parameters, data and scan response, then
    /// enables advertising (Vol 6 Part B 4.4.2; legacy commands only, since
    /// a host must not mix legacy and extended advertising commands,
    /// Vol 4 Part E 3.1.1).
    pub fn advertise(&mut self, enable: bool) -> Result<(), HostError> {
        if self.state != HostState::Ready {
            return Err(HostError::NotReady);
        }
        if enable {
            if self.adv.enabled {
                // Parameters cannot change while advertising (7.8.5).
                self.command(command::le_set_advertising_enable(false))?;
            }
            if self.adv.params.own_address_type == 0x01 {
                let addr = self.static_random_address().ok_or(HostError::NotReady)?;
                self.command(command::le_set_random_address(addr))?;
            }
            self.command(command::le_set_advertising_parameters(&self.adv.params))?;
            self.command(command::le_set_advertising_data(&self.adv.data))?;
            self.command(command::le_set_scan_response_data(&self.adv.scan_response))?;
        }
        self.command(command::le_set_advertising_enable(enable))?;
        self.adv.enabled = enable;
        Ok(())
    }

    /// Our random static address (Vol 6 Part B 1.3.2.1): the public address
    /// with the two most significant bits set, so it is stable for this
    /// controller and differs from any public address.
    pub fn static_random_address(&self) -> Option<[u8; 6]> {
        let mut addr = self.info.as_ref()?.bd_addr;
        // LSB first: byte 5 holds the most significant bits.
        addr[5] |= 0xC0;
        Some(addr)
    }

    /// Updates advertising or scan response data, live if advertising.
    pub fn refresh_adv_data(&mut self, scan_response: bool) -> Result<(), HostError> {
        if self.state != HostState::Ready {
            return Ok(());
        }
        if scan_response {
            self.command(command::le_set_scan_response_data(&self.adv.scan_response))
        } else {
            self.command(command::le_set_advertising_data(&self.adv.data))
        }
    }

    /// Starts or stops scanning with `self.scan.params` (Vol 6 Part D 4.2:
    /// parameters are set while the scanner is off).
    pub fn set_scanning(&mut self, enable: bool) -> Result<(), HostError> {
        if self.state != HostState::Ready {
            return Err(HostError::NotReady);
        }
        if enable {
            if self.scan.enabled {
                self.command(command::le_set_scan_enable(false, false))?;
            }
            self.command(command::le_set_scan_parameters(&self.scan.params))?;
        }
        // Duplicate filtering is the adapter's (the vendor API decides).
        self.command(command::le_set_scan_enable(enable, false))?;
        self.scan.enabled = enable;
        Ok(())
    }

    /// Connects to a peripheral as central (LE Create Connection, Vol 4
    /// Part E 7.8.12): 30-50 ms interval, no latency, 5 s supervision
    /// timeout, scanning for it at 60 ms / 30 ms.
    pub fn connect(
        &mut self,
        peer_address_type: u8,
        peer_address: [u8; 6],
    ) -> Result<(), HostError> {
        if self.state != HostState::Ready {
            return Err(HostError::NotReady);
        }
        if self.connecting {
            return Err(HostError::Busy);
        }
        if self.conns.iter().all(|c| c.is_some()) {
            return Err(HostError::QueueFull);
        }
        let cmd = command::le_create_connection(&CreateConnection {
            scan_interval: 0x0060,
            scan_window: 0x0030,
            initiator_filter_policy: 0x00,
            peer_address_type,
            peer_address,
            own_address_type: self.adv.params.own_address_type,
            connection: ConnectionParameters {
                interval_min: 0x0018,
                interval_max: 0x0028,
                max_latency: 0,
                supervision_timeout: 0x01F4,
                min_ce_length: 0,
                max_ce_length: 0,
            },
        });
        self.command(cmd)?;
        self.connecting = true;
        Ok(())
    }

    /// Cancels a pending connect (LE Create Connection Cancel, 7.8.13).
    pub fn cancel_connect(&mut self) -> Result<(), HostError> {
        if !self.connecting {
            return Err(HostError::NoConnection);
        }
        self.command(command::le_create_connection_cancel())?;
        self.connecting = false;
        Ok(())
    }

    /// Drops a link (HCI Disconnect, reason Remote User Terminated).
    pub fn disconnect(&mut self, conn: usize) -> Result<(), HostError> {
        let handle = self.connection(conn).ok_or(HostError::NoConnection)?.handle;
        self.command(command::disconnect(handle, REMOTE_USER_TERMINATED))
    }

    pub fn connection(&self, conn: usize) -> Option<&Connection> {
        self.conns.get(conn).and_then(|c| c.as_ref())
    }

    fn conn_by_handle(&self, handle: u16) -> Option<usize> {
        self.conns
            .iter()
            .position(|c| matches!(c, Some(c) if c.handle == handle))
    }

    /// Sends a Handle Value Notification (Vol 3 Part F 3.4.7.1), or an
    /// Indication when `indicate` (one outstanding per link, 3.4.7.2).
    pub fn send_handle_value(
        &mut self,
        conn: usize,
        handle: u16,
        value: &[u8],
        indicate: bool,
        now_ms: u32,
    ) -> Result<(), HostError> {
        if self.state != HostState::Ready {
            return Err(HostError::NotReady);
        }
        self.now_ms = now_ms;
        let Some(Some(c)) = self.conns.get_mut(conn) else {
            return Err(HostError::NoConnection);
        };
        if c.att_dead {
            return Err(HostError::NoConnection);
        }
        let mtu = c.att.mtu();
        if value.len() + 3 > mtu as usize {
            return Err(HostError::TooLong);
        }
        if indicate && c.att.indication_pending() {
            return Err(HostError::Busy);
        }
        let link = c.handle;
        let mut pdu = [0u8; config::ATT_MTU_MAX];
        let n = if indicate {
            att_server::write_indication(handle, value, mtu, &mut pdu)
        } else {
            att_server::write_notification(handle, value, mtu, &mut pdu)
        };
        self.send_l2cap(link, l2cap::CID_ATT, &pdu[..n])?;
        if indicate {
            if let Some(Some(c)) = self.conns.get_mut(conn) {
                let _ = c.att.begin_indication();
                c.indication_deadline = now_ms.wrapping_add(config::ATT_TRANSACTION_TIMEOUT_MS);
            }
        }
        Ok(())
    }

    /// Starts a GATT client procedure on a link: `start` writes its first
    /// request (a `GattClient` method), which is sent at once and timed
    /// (30 s, Vol 3 Part F 3.3.3).
    pub fn gatt_client_request(
        &mut self,
        conn: usize,
        start: impl FnOnce(&mut GattClient, &mut [u8]) -> Result<usize, ClientError>,
    ) -> Result<(), HostError> {
        if self.state != HostState::Ready {
            return Err(HostError::NotReady);
        }
        let Some(Some(c)) = self.conns.get_mut(conn) else {
            return Err(HostError::NoConnection);
        };
        if c.att_dead {
            return Err(HostError::NoConnection);
        }
        let mut pdu = [0u8; config::ATT_MTU_MAX];
        let was_busy = c.client.busy();
        let n = start(&mut c.client, &mut pdu).map_err(|e| match e {
            ClientError::Busy => HostError::Busy,
            ClientError::TooLong => HostError::TooLong,
            ClientError::InvalidArgument => HostError::InvalidArgument,
            ClientError::TimedOut => HostError::NoConnection,
        })?;
        // Only a request that starts a transaction starts its 30 s: a Write
        // Command sent while a request is outstanding must not extend that
        // request's timer (Vol 3 Part F 3.3.3).
        if !was_busy && c.client.busy() {
            c.client_deadline = self.now_ms.wrapping_add(config::ATT_TRANSACTION_TIMEOUT_MS);
        }
        let link = c.handle;
        if n > 0 {
            self.send_l2cap(link, l2cap::CID_ATT, &pdu[..n])?;
        }
        Ok(())
    }

    /// The last ATT PDU our GATT client received (opcode first): the
    /// response a `ClientEvent::Results` refers to.
    pub fn client_pdu(&self) -> &[u8] {
        &self.client_rx[..self.client_rx_len.min(self.client_rx.len())]
    }

    fn send_l2cap(&mut self, link: u16, cid: u16, payload: &[u8]) -> Result<(), HostError> {
        let n =
            l2cap::write_basic_frame(cid, payload, &mut self.frame).ok_or(HostError::TooLong)?;
        let res = self.acl_tx.push(link, &self.frame[..n]);
        self.pump();
        res.map_err(|_| {
            self.stats.tx_dropped += 1;
            HostError::QueueFull
        })
    }

    fn push_event(&mut self, ev: HostEvent) {
        if self.events.push_back(ev).is_err() {
            self.stats.events_dropped = self.stats.events_dropped.wrapping_add(1);
        }
    }

    /// Moves queued commands and ACL data into the H4 transmit buffer as
    /// the controller's credits allow.
    fn pump(&mut self) {
        self.cmds.pump(&mut self.tx, self.now_ms);
        self.acl_tx.pump(&mut self.acl_flow, &mut self.tx);
    }

    fn on_packet(&mut self, packet: H4Packet<'_>) {
        match packet {
            H4Packet::Event(bytes) => match event::parse(bytes) {
                Ok(ev) => self.on_event(ev),
                Err(_) => self.stats.bad_events = self.stats.bad_events.wrapping_add(1),
            },
            H4Packet::Acl(bytes) => self.on_acl(bytes),
        }
    }

    fn on_event(&mut self, ev: Event<'_>) {
        match ev {
            Event::CommandComplete {
                num_hci_command_packets,
                opcode: op,
                return_parameters,
            } => {
                self.cmds
                    .on_command_complete_or_status(num_hci_command_packets, op);
                self.on_command_complete(op, return_parameters);
            }
            Event::CommandStatus {
                status,
                num_hci_command_packets,
                opcode: op,
            } => {
                self.cmds
                    .on_command_complete_or_status(num_hci_command_packets, op);
                if self.bringup.is_running() {
                    let step = self.bringup.on_command_status(op, status);
                    self.on_bringup_step(step);
                } else if status != 0 && op == opcode::LE_CREATE_CONNECTION {
                    self.connecting = false;
                    self.push_event(HostEvent::ConnectFailed { status });
                } else if status != 0 {
                    self.push_event(HostEvent::CommandFailed { opcode: op, status });
                }
            }
            Event::DisconnectionComplete {
                status,
                handle,
                reason,
            } => {
                if status != 0 {
                    return;
                }
                if let Some(conn) = self.conn_by_handle(handle) {
                    if let Some(c) = self.conns[conn].take() {
                        self.acl_flow.on_disconnected(handle);
                        self.acl_tx.drop_handle(handle);
                        self.db.reset_connection(conn);
                        self.push_event(HostEvent::Disconnected {
                            conn,
                            handle,
                            peer_address_type: c.peer_address_type,
                            peer_address: c.peer_address,
                            reason,
                        });
                    }
                }
            }
            Event::EncryptionChange {
                status,
                handle,
                enabled,
            } => {
                if let Some(conn) = self.conn_by_handle(handle) {
                    if let Some(c) = self.conns[conn].as_mut() {
                        c.security.encrypted = status == 0 && enabled != 0;
                    }
                }
            }
            Event::NumberOfCompletedPackets(completed) => {
                for (handle, count) in completed {
                    self.acl_flow.on_completed(handle, count);
                }
            }
            Event::Le(le) => self.on_le_event(le),
            _ => {}
        }
    }

    fn on_command_complete(&mut self, op: u16, params: &[u8]) {
        if self.bringup.is_running() {
            let step = self.bringup.on_command_complete(op, params, &mut self.cmds);
            self.on_bringup_step(step);
            return;
        }
        if op == opcode::RESET && self.state == HostState::Stopping {
            self.finish_stop();
            return;
        }
        // Return_Parameters start with Status for every command we send
        // after bring-up (Vol 4 Part E 7).
        if let Some(&status) = params.first() {
            if status != 0 {
                if op == opcode::LE_SET_ADVERTISING_ENABLE {
                    self.adv.enabled = false;
                }
                self.push_event(HostEvent::CommandFailed { opcode: op, status });
            }
        }
    }

    fn on_bringup_step(&mut self, step: BringUpStep) {
        match step {
            BringUpStep::NotMine | BringUpStep::InProgress => {}
            BringUpStep::Done(info) => {
                self.acl_flow
                    .configure(info.acl_data_packet_length, info.total_num_acl_data_packets);
                self.info = Some(info);
                self.state = HostState::Ready;
                self.push_event(HostEvent::Started);
            }
            BringUpStep::Failed(err) => {
                self.cmds.reset();
                self.bringup = BringUp::new();
                self.state = HostState::Failed;
                self.push_event(HostEvent::StartFailed(err));
            }
        }
    }

    fn on_le_event(&mut self, le: LeEvent<'_>) {
        match le {
            LeEvent::ConnectionComplete(cc) => self.on_connection_complete(&cc),
            LeEvent::AdvertisingReport(reports) => {
                for r in reports {
                    self.on_adv_report(&r);
                }
            }
            LeEvent::ExtendedAdvertisingReport(reports) => {
                for r in reports {
                    self.on_adv_report(&r);
                }
            }
            LeEvent::ConnectionUpdateComplete {
                status,
                handle,
                interval,
                latency,
                supervision_timeout,
            } => {
                if let Some(conn) = self.conn_by_handle(handle) {
                    if let Some(c) = self.conns[conn].as_mut() {
                        if status == 0 {
                            c.interval = interval;
                            c.latency = latency;
                            c.supervision_timeout = supervision_timeout;
                        }
                    }
                    self.push_event(HostEvent::ConnectionUpdated { conn, status });
                }
            }
            LeEvent::LongTermKeyRequest { handle, .. } => {
                // No pairing yet, so no key: Vol 4 Part E 7.8.26.
                let _ = self
                    .cmds
                    .submit(command::le_long_term_key_request_negative_reply(handle));
            }
            LeEvent::RemoteConnectionParameterRequest {
                handle,
                interval_min,
                interval_max,
                latency,
                timeout,
            } => {
                // Accept what the peer asks (Vol 4 Part E 7.8.31); the
                // vendor APIs have no hook to refuse it.
                let params = ConnectionParameters {
                    interval_min,
                    interval_max,
                    max_latency: latency,
                    supervision_timeout: timeout,
                    min_ce_length: 0,
                    max_ce_length: 0,
                };
                let _ = self
                    .cmds
                    .submit(command::le_remote_connection_parameter_request_reply(
                        handle, &params,
                    ));
            }
            _ => {}
        }
    }

    fn on_adv_report(&mut self, r: &AdvReport<'_>) {
        if !self.scan.enabled {
            return;
        }
        let mut ev = AdvReportEvent {
            event_type: r.event_type,
            address_type: r.address_type,
            address: r.address,
            rssi: r.rssi,
            len: 0,
            data: [0; config::ADV_DATA_MAX],
            truncated: r.data.len() > config::ADV_DATA_MAX,
        };
        let n = r.data.len().min(config::ADV_DATA_MAX);
        ev.data[..n].copy_from_slice(&r.data[..n]);
        ev.len = n as u8;
        self.push_event(HostEvent::AdvReport(ev));
    }

    fn on_connection_complete(&mut self, cc: &ConnectionComplete) {
        if cc.status != 0 {
            // Only our own LE Create Connection can fail this way (the
            // other parameters are not valid then, Vol 4 Part E 7.7.65.1).
            if self.connecting {
                self.connecting = false;
                self.push_event(HostEvent::ConnectFailed { status: cc.status });
            }
            return;
        }
        if cc.role == 0 {
            // Our LE Create Connection finished.
            self.connecting = false;
        } else {
            // A connectable advertising set stops when a link is made
            // (Vol 4 Part E 7.8.9).
            self.adv.enabled = false;
        }
        let Some(conn) = self.conns.iter().position(|c| c.is_none()) else {
            // No room: refuse the link rather than half-track it.
            let _ = self.cmds.submit(command::disconnect(
                cc.handle, 0x0D, /* limited resources */
            ));
            return;
        };
        let mut c = Connection::new();
        c.handle = cc.handle;
        c.role = if cc.role == 0 {
            Role::Central
        } else {
            Role::Peripheral
        };
        c.peer_address_type = cc.peer_address_type;
        c.peer_address = cc.peer_address;
        c.interval = cc.interval;
        c.latency = cc.latency;
        c.supervision_timeout = cc.supervision_timeout;
        self.conns[conn] = Some(c);
        self.db.reset_connection(conn);
        self.push_event(HostEvent::Connected { conn });
    }

    fn on_acl(&mut self, bytes: &[u8]) {
        let Some((header, data)) = AclHeader::parse(bytes) else {
            self.stats.bad_acl = self.stats.bad_acl.wrapping_add(1);
            return;
        };
        let Some(conn) = self.conn_by_handle(header.handle) else {
            self.stats.unknown_handle = self.stats.unknown_handle.wrapping_add(1);
            return;
        };
        let Some(c) = self.conns[conn].as_mut() else {
            return;
        };
        // Copy the frame out of the reassembler so the channel handlers
        // may borrow the rest of the host.
        let mut pdu = [0u8; config::L2CAP_PDU_MAX];
        let (cid, len) = match c.reassembler.push(header.pb, data) {
            Ok(Some(frame)) => {
                let n = frame.payload.len().min(pdu.len());
                pdu[..n].copy_from_slice(&frame.payload[..n]);
                (frame.cid, n)
            }
            Ok(None) => return,
            Err(_) => {
                self.stats.l2cap_errors = self.stats.l2cap_errors.wrapping_add(1);
                return;
            }
        };
        self.on_l2cap(conn, cid, &pdu[..len]);
    }

    fn on_l2cap(&mut self, conn: usize, cid: u16, pdu: &[u8]) {
        let Some(Some(c)) = self.conns.get_mut(conn) else {
            return;
        };
        let link = c.handle;
        let mut rsp = [0u8; config::ATT_MTU_MAX];
        match cid {
            l2cap::CID_ATT
                if pdu
                    .first()
                    .is_some_and(|&op| gatt_client::is_for_client(op)) =>
            {
                let step = c.client.on_pdu(pdu, &mut rsp);
                let n = pdu.len().min(self.client_rx.len());
                self.client_rx[..n].copy_from_slice(&pdu[..n]);
                self.client_rx_len = n;
                if step.request_len > 0 {
                    // The next request of the procedure starts a new
                    // transaction and its 30 s; a Handle Value Confirmation
                    // is not a request and leaves the outstanding one's
                    // timer alone (Vol 3 Part F 3.3.3).
                    if rsp[0] != ATT_HANDLE_VALUE_CFM {
                        c.client_deadline =
                            self.now_ms.wrapping_add(config::ATT_TRANSACTION_TIMEOUT_MS);
                    }
                    let _ = self.send_l2cap(link, l2cap::CID_ATT, &rsp[..step.request_len]);
                }
                for &event in step.events.iter() {
                    if let ClientEvent::MtuExchanged { mtu } = event {
                        // One ATT bearer per link: client and server share
                        // its MTU (Vol 3 Part F 3.4.2).
                        if let Some(Some(c)) = self.conns.get_mut(conn) {
                            c.att.set_mtu(mtu);
                        }
                        self.push_event(HostEvent::MtuExchanged { conn, mtu });
                    }
                    self.push_event(HostEvent::GattClient { conn, event });
                }
            }
            l2cap::CID_ATT => {
                let security = c.security;
                let outcome =
                    att_server::handle_pdu(&mut c.att, &mut self.db, conn, security, pdu, &mut rsp);
                if outcome.response_len > 0 {
                    let _ = self.send_l2cap(link, l2cap::CID_ATT, &rsp[..outcome.response_len]);
                }
                for ev in outcome.events.iter() {
                    let ev = match *ev {
                        ServerEvent::MtuExchanged { mtu } => {
                            if let Some(Some(c)) = self.conns.get_mut(conn) {
                                c.client.set_mtu(mtu);
                            }
                            HostEvent::MtuExchanged { conn, mtu }
                        }
                        ServerEvent::Read { handle } => HostEvent::GattRead { conn, handle },
                        ServerEvent::Write {
                            handle,
                            with_response,
                        } => HostEvent::GattWrite {
                            conn,
                            handle,
                            with_response,
                        },
                        ServerEvent::IndicationConfirmed => HostEvent::IndicationConfirmed { conn },
                    };
                    self.push_event(ev);
                }
            }
            l2cap::CID_LE_SIGNALING => {
                let role = c.role;
                let outcome = signaling::handle(pdu, &mut rsp);
                if outcome.response_len > 0 {
                    let _ = self.send_l2cap(
                        link,
                        l2cap::CID_LE_SIGNALING,
                        &rsp[..outcome.response_len],
                    );
                }
                if let Some(signaling::SignalingEvent::ConnectionParameterUpdateRequest {
                    identifier,
                    interval_min,
                    interval_max,
                    latency,
                    timeout,
                }) = outcome.event
                {
                    self.on_conn_param_request(
                        link,
                        role,
                        identifier,
                        [interval_min, interval_max, latency, timeout],
                    );
                }
            }
            l2cap::CID_SMP => {
                let n = smp::handle(pdu, &mut rsp);
                if n > 0 {
                    let _ = self.send_l2cap(link, l2cap::CID_SMP, &rsp[..n]);
                }
            }
            _ => self.stats.unknown_cid = self.stats.unknown_cid.wrapping_add(1),
        }
    }

    /// The peer asked for new connection parameters (Vol 3 Part A 4.20).
    /// Only a central may receive the request: as peripheral we answer
    /// Command Reject "Command not understood", as the spec requires. As
    /// central we refuse parameters outside the request's ranges (result
    /// 0x0001, Vol 3 Part A 4.21) and accept the others, letting the
    /// controller apply them with LE Connection Update (Vol 4 Part E
    /// 7.8.18).
    fn on_conn_param_request(&mut self, link: u16, role: Role, identifier: u8, p: [u16; 4]) {
        let mut rsp = [0u8; 8];
        let [interval_min, interval_max, latency, timeout] = p;
        let accepted = role == Role::Central
            && signaling::connection_parameters_acceptable(
                interval_min,
                interval_max,
                latency,
                timeout,
            );
        let n = match role {
            Role::Peripheral => signaling::write_command_reject(
                identifier,
                signaling::REJECT_COMMAND_NOT_UNDERSTOOD,
                &mut rsp,
            ),
            Role::Central => signaling::write_connection_parameter_update_response(
                identifier,
                if accepted {
                    signaling::CONNECTION_PARAMETERS_ACCEPTED
                } else {
                    signaling::CONNECTION_PARAMETERS_REJECTED
                },
                &mut rsp,
            ),
        };
        let _ = self.send_l2cap(link, l2cap::CID_LE_SIGNALING, &rsp[..n]);
        if accepted {
            let params = ConnectionParameters {
                interval_min,
                interval_max,
                max_latency: latency,
                supervision_timeout: timeout,
                min_ce_length: 0,
                max_ce_length: 0,
            };
            let _ = self
                .cmds
                .submit(command::le_connection_update(link, &params));
        }
    }
}

impl Host {
    pub fn state(&self) -> HostState {
        self.core.state()
    }
}
