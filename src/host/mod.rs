//! The sans-IO BLE host: bytes in, bytes out, events out.
//!
//! `Host` never reads a socket, sleeps or allocates. The caller feeds it
//! what the controller sent ([`Host::h4_rx_one`]), takes what it wants sent
//! ([`HostCore::h4_tx`]), tells it the time ([`HostCore::tick`]) and pops
//! [`HostEvent`]s. Everything above (the vendor APIs) is driven by those
//! events; everything below (HCI, L2CAP, ATT, GATT) is called from here.
//!
//! The host is split by responsibility:
//! - [`conn`]: the table of links, by slot and by HCI handle;
//! - [`commands`]: HCI commands and the part of the host each answer goes
//!   back to;
//! - [`gap`]: GAP procedures (advertising, scanning, connecting);
//! - `channels`: L2CAP routing to ATT (server and our GATT client), LE
//!   signaling and SMP, and the ATT transaction timers;
//! - `security`: the Security Manager's pairing sessions and link keys;
//! - [`bonds`]: the bond table, exported to the port's key store;
//! - this file: the life cycle (bring-up, stop) and HCI event dispatch.

pub mod bonds;
mod channels;
pub mod commands;
pub mod conn;
pub mod gap;
mod security;
#[cfg(test)]
mod tests;

pub use bonds::{Bond, Bonds};
pub use commands::Issuer;
pub use conn::{ConnSlot, Connection, Role};
pub use security::{LinkKeys, Prompt, SecurityConfig, Smp, UserAnswer};

use crate::att::db::AttributeDb;
use crate::att::AttHandle;
use crate::config;
use crate::gap::AdvReportEvent;
use crate::gatt::client::ClientEvent;
use crate::gatt::queue::{ProcedureQueue, Request};
use crate::hci::acl::{AclFlow, AclTxQueue};
use crate::hci::bringup::{BringUp, BringUpError, BringUpStep, ControllerInfo};
use crate::hci::command::{self, opcode, Command, ConnectionParameters};
use crate::hci::event::{self, AdvReport, ConnectionComplete, Event, LeEvent};
use crate::hci::h4::{H4Packet, H4Parser, H4Tx};
use crate::hci::ConnHandle;
use crate::l2cap::signaling;
use crate::time::Instant;
use commands::Commands;
use conn::Connections;
use gap::Gap;
use heapless::Deque;

/// HCI error code Remote User Terminated Connection (Vol 1 Part F 2.14),
/// the reason we give when the application stops BLE.
const REMOTE_USER_TERMINATED: u8 = 0x13;
/// HCI error code Connection Timeout (Vol 1 Part F 1.3, code 0x08): the
/// reason a link ends with when the controller that held it is gone. The
/// peer's controller sees the same, a supervision timeout.
pub const CONNECTION_TIMEOUT: u8 = 0x08;
/// Unacceptable Connection Parameters (Vol 1 Part F 2.59).
const UNACCEPTABLE_CONNECTION_PARAMETERS: u8 = 0x3B;
/// Connection Rejected due to Limited Resources (Vol 1 Part F 2.15): no
/// slot is left for a new link.
const LIMITED_RESOURCES: u8 = 0x0D;

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

/// What happened, for the API adapters. Values live in the host (the
/// attribute table, the connection table), so events are small and `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostEvent {
    Started,
    StartFailed(BringUpError),
    /// The host is `Off`. `status` 0: `stop` finished; otherwise the HCI
    /// error code of what stopped it (Connection Timeout when the transport
    /// to the controller failed, see [`HostCore::transport_lost`]).
    Stopped {
        status: u8,
    },
    Connected {
        conn: ConnSlot,
    },
    /// LE Create Connection failed (Command Status or Connection Complete
    /// with an error).
    ConnectFailed {
        status: u8,
    },
    /// An advertising report while scanning.
    AdvReport(AdvReportEvent),
    Disconnected {
        conn: ConnSlot,
        handle: ConnHandle,
        peer_address_type: u8,
        peer_address: [u8; 6],
        reason: u8,
        /// The host ended the link itself because the transport to its
        /// controller failed; no Disconnection Complete came.
        lost: bool,
    },
    ConnectionUpdated {
        conn: ConnSlot,
        status: u8,
    },
    MtuExchanged {
        conn: ConnSlot,
        mtu: u16,
    },
    GattRead {
        conn: ConnSlot,
        handle: AttHandle,
    },
    /// A peer reads a value the application answers itself
    /// ([`crate::att::db::AttributeDb::set_deferred_read`]): nothing has
    /// been sent; answer with [`HostCore::gatt_read_reply`] before the
    /// peer's 30 s ATT timeout (Vol 3 Part F 3.3.3).
    GattReadRequest {
        conn: ConnSlot,
        handle: AttHandle,
        offset: u16,
    },
    GattWrite {
        conn: ConnSlot,
        handle: AttHandle,
        with_response: bool,
    },
    IndicationConfirmed {
        conn: ConnSlot,
    },
    /// Our GATT client's progress on a link: `request` is the procedure
    /// the event belongs to (none for notifications and indications). For
    /// `Results`, the response PDU is [`HostCore::client_pdu`] until the
    /// next packet is handled.
    GattClient {
        conn: ConnSlot,
        request: Option<Request>,
        event: ClientEvent,
    },
    /// A pairing method is known: what to show or ask the user. For
    /// [`Prompt::Compare`] the pairing waits for
    /// [`HostCore::smp_user_confirm`]; Just Works goes on by itself.
    PairingPrompt {
        conn: ConnSlot,
        prompt: Prompt,
        /// LE Secure Connections (else legacy pairing): the vendor's
        /// pair_mode tells them apart.
        secure_connections: bool,
    },
    /// The link's security procedure ended: status 0 when the link is
    /// encrypted (after pairing, or with a bond's key); otherwise the
    /// Pairing Failed reason (Vol 3 Part H 3.5.5, ours or the peer's;
    /// 0x08 Unspecified Reason for the SMP timeout) or the HCI status of a
    /// failed encryption (e.g. 0x06 PIN or Key Missing).
    SecurityComplete {
        conn: ConnSlot,
        status: u8,
    },
    /// A command the application caused failed in the controller.
    CommandFailed {
        opcode: u16,
        status: u8,
    },
}

/// Counters for input the host dropped (ARCHITECTURE rule 6: malformed
/// input becomes a dropped packet with a counter), and for what it accepted
/// and then lost (zero unless a bound in `config` is wrong).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostStats {
    /// HCI events that did not parse.
    pub bad_events: u32,
    /// ACL packets with a bad header.
    pub bad_acl: u32,
    /// ACL packets for a handle that is not a link of ours.
    pub unknown_handle: u32,
    /// B-frames that did not recombine (Vol 3 Part A 7.2).
    pub l2cap_errors: u32,
    /// L2CAP frames on a channel we do not serve.
    pub unknown_cid: u32,
    /// Frames the host sent on its own (responses, confirmations, our
    /// client's next request) that the ACL transmit queue had no room for;
    /// an API call that finds no room is refused instead, not counted.
    pub tx_dropped: u32,
    /// Host events the host's queue had no room for.
    pub events_dropped: u32,
    /// ATT server events its per-PDU list had no room for.
    pub att_events_dropped: u32,
    /// PDUs our GATT client ignored (unexpected responses, malformed
    /// notifications), over every link that ever was.
    pub gatt_client_unexpected: u32,
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
    cmds: Commands,
    bringup: BringUp,
    info: Option<ControllerInfo>,
    acl_flow: AclFlow,
    acl_tx: AclTxQueue,
    conns: Connections,
    events: Deque<HostEvent, { config::HOST_EVENT_QUEUE }>,
    pub db: AttributeDb,
    /// GATT client procedures waiting for each link's bearer.
    procedures: ProcedureQueue,
    pub gap: Gap,
    /// Pairing sessions, lent to links while they pair.
    smp: security::Smp,
    /// Bonds: kept across stop and start (only a soft reset forgets them;
    /// the port imports them from its store again).
    pub bonds: Bonds,
    pub stats: HostStats,
    /// One outbound ATT or signaling PDU (a response, our client's
    /// request), written in place and then framed into the ACL queue:
    /// no zeroed array on the stack per packet.
    pdu_out: [u8; config::ATT_MTU_MAX],
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
        Host {
            rx: H4Parser::new(),
            core: HostCore {
                state: HostState::Off,
                now_ms: 0,
                tx: H4Tx::new(),
                cmds: Commands::new(),
                bringup: BringUp::new(),
                info: None,
                acl_flow: AclFlow::new(),
                acl_tx: AclTxQueue::new(),
                conns: Connections::new(),
                events: Deque::new(),
                db: AttributeDb::new(),
                procedures: ProcedureQueue::new(),
                gap: Gap::new(),
                smp: security::Smp::new(),
                bonds: Bonds::new(),
                stats: HostStats {
                    bad_events: 0,
                    bad_acl: 0,
                    unknown_handle: 0,
                    l2cap_errors: 0,
                    unknown_cid: 0,
                    tx_dropped: 0,
                    events_dropped: 0,
                    att_events_dropped: 0,
                    gatt_client_unexpected: 0,
                },
                pdu_out: [0; config::ATT_MTU_MAX],
                client_rx: [0; config::ATT_MTU_MAX],
                client_rx_len: 0,
            },
        }
    }

    /// Forgets everything, including the attribute table and advertising data.
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
        c.conns.clear();
        c.events.clear();
        c.db.clear();
        c.procedures.reset();
        c.smp = security::Smp::new();
        c.bonds.reset();
        c.gap = Gap::new();
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

    /// See [`HostCore::transport_lost`]; a packet cut short by the failure
    /// is forgotten too.
    pub fn transport_lost(&mut self, now_ms: u32) {
        self.rx.reset();
        self.core.transport_lost(now_ms);
    }

    pub fn h4_stats(&self) -> crate::hci::h4::H4Stats {
        self.rx.stats()
    }

    pub fn state(&self) -> HostState {
        self.core.state()
    }
}

impl HostCore {
    pub fn state(&self) -> HostState {
        self.state
    }

    /// The time of the last input or tick.
    pub fn now_ms(&self) -> u32 {
        self.now_ms
    }

    pub fn controller(&self) -> Option<&ControllerInfo> {
        self.info.as_ref()
    }

    /// Whether [`HostCore::pop_event`] has an event to give.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    pub fn pop_event(&mut self) -> Option<HostEvent> {
        self.events.pop_front()
    }

    /// Bytes for the controller, H4 framed.
    pub fn h4_tx(&mut self, out: &mut [u8]) -> usize {
        self.h4_tx_timed(out).0
    }

    /// [`HostCore::h4_tx`], and whether it sent an HCI command (which
    /// arms that command's timeout).
    pub fn h4_tx_timed(&mut self, out: &mut [u8]) -> (usize, bool) {
        let armed = self.pump();
        (self.tx.pop_into(out), armed)
    }

    /// Runs timers: a command without Command Complete/Status in time fails
    /// (Vol 4 Part E 4.4 leaves the timeout to the host); ATT transactions
    /// time out (Vol 3 Part F 3.3.3).
    pub fn tick(&mut self, now_ms: u32) {
        self.now_ms = now_ms;
        while let Some((op, issuer)) = self.cmds.poll_timeout(now_ms) {
            if self.bringup.waiting_for() == Some(op) {
                let step = self.bringup.on_timeout(op);
                self.on_bringup_step(step);
            } else {
                // 0xFF: no status came; the issuer learns it failed.
                self.on_command_result(issuer, op, 0xFF, &[]);
            }
        }
        self.expire_att_transactions(now_ms);
        self.expire_smp(now_ms);
        self.pump();
    }

    /// Milliseconds until `tick` is needed, `u32::MAX` when no timer runs.
    pub fn next_timeout_ms(&self, now_ms: u32) -> u32 {
        self.next_deadline()
            .map_or(u32::MAX, |d| d.ms_until(Instant::from_ms(now_ms)))
    }

    /// The earliest deadline of the host's timers (HCI commands, ATT
    /// transactions, SMP), if one runs: `tick` has nothing to do before it.
    pub fn next_deadline(&self) -> Option<Instant> {
        // Plain calls, no iterator over the three: this runs after nearly
        // every input and call.
        let cmds = self.cmds.next_deadline().map(Instant::from_ms);
        let att = Instant::earliest_of(cmds, self.att_deadline());
        Instant::earliest_of(att, self.smp.next_deadline())
    }

    /// The time moves on with no timer due (see [`HostCore::next_deadline`]):
    /// what the next call starts is timed from `now_ms`.
    pub fn set_now(&mut self, now_ms: u32) {
        self.now_ms = now_ms;
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
        self.conns.clear();
        self.procedures.reset();
        self.smp.reset();
        self.gap.controller_reset();
        self.bringup = BringUp::new();
        self.bringup
            .start(self.cmds.queue())
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
                self.push_event(HostEvent::Stopped { status: 0 });
                return Ok(());
            }
            _ => return Err(HostError::NotReady),
        }
        // Pushed one by one: `collect` into a heapless Vec has a formatted
        // panic for overflow (it cannot overflow here).
        let mut handles = heapless::Vec::<_, { config::MAX_CONNECTIONS }>::new();
        for (_, c) in self.conns.iter() {
            let _ = handles.push(c.handle);
        }
        for handle in handles {
            let cmd = command::disconnect(handle.0, REMOTE_USER_TERMINATED);
            let _ = self.cmds.submit(Issuer::Host, cmd);
        }
        self.gap.stop(&mut self.cmds);
        if self.cmds.submit(Issuer::Stop, command::reset()).is_err() {
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
        self.conns.clear();
        self.procedures.reset();
        self.smp.reset();
        // A stop ends the GATT server with the links: the next start
        // serves only what is registered again (docs/DECISIONS.md).
        self.db.clear();
        self.state = HostState::Off;
        self.push_event(HostEvent::Stopped { status: 0 });
    }

    /// The transport to the controller failed (its byte stream closed):
    /// the controller and every link it held are out of reach. Each link
    /// ends as on a Disconnection Complete, with reason Connection Timeout;
    /// queued commands and ACL data are dropped; the host is `Off` and
    /// reports `Stopped` with that status. During bring-up nothing is
    /// undone: the outstanding command times out and `StartFailed` follows,
    /// as when no controller answers. `start` works again once a
    /// controller answers.
    pub fn transport_lost(&mut self, now_ms: u32) {
        self.now_ms = now_ms;
        if !matches!(self.state, HostState::Ready | HostState::Stopping) {
            return;
        }
        for conn in ConnSlot::all() {
            let Some(c) = self.conns.remove(conn) else {
                continue;
            };
            self.db.reset_connection(conn.index());
            self.procedures.link_down(conn.index());
            self.smp.link_down(conn);
            self.push_event(HostEvent::Disconnected {
                conn,
                handle: c.handle,
                peer_address_type: c.peer_address_type,
                peer_address: c.peer_address,
                reason: CONNECTION_TIMEOUT,
                lost: true,
            });
        }
        self.tx.reset();
        self.cmds.reset();
        self.acl_tx.reset();
        self.acl_flow = AclFlow::new();
        self.gap.controller_reset();
        self.state = HostState::Off;
        self.push_event(HostEvent::Stopped {
            status: CONNECTION_TIMEOUT,
        });
    }

    /// Queues a command; its answer goes back to `issuer`.
    fn submit(&mut self, issuer: Issuer, cmd: Command) -> Result<(), HostError> {
        if self.state != HostState::Ready {
            return Err(HostError::NotReady);
        }
        self.cmds
            .submit(issuer, cmd)
            .map_err(|_| HostError::QueueFull)?;
        self.pump();
        Ok(())
    }

    fn ready(&self) -> Result<(), HostError> {
        match self.state {
            HostState::Ready => Ok(()),
            _ => Err(HostError::NotReady),
        }
    }

    /// Starts or stops advertising with `self.gap.adv` (see [`Gap::advertise`]).
    pub fn advertise(&mut self, enable: bool) -> Result<(), HostError> {
        self.ready()?;
        let random = self.static_random_address();
        let r = self.gap.advertise(&mut self.cmds, enable, random);
        self.pump();
        r
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
        let r = self.gap.refresh_adv_data(&mut self.cmds, scan_response);
        self.pump();
        r
    }

    /// Starts or stops scanning with `self.gap.scan.params`.
    pub fn set_scanning(&mut self, enable: bool) -> Result<(), HostError> {
        self.ready()?;
        let r = self.gap.set_scanning(&mut self.cmds, enable);
        self.pump();
        r
    }

    /// Connects to a peripheral as central (see [`Gap::connect`]).
    pub fn connect(
        &mut self,
        peer_address_type: u8,
        peer_address: [u8; 6],
    ) -> Result<(), HostError> {
        self.ready()?;
        if self.conns.is_full() {
            return Err(HostError::QueueFull);
        }
        let r = self
            .gap
            .connect(&mut self.cmds, peer_address_type, peer_address);
        self.pump();
        r
    }

    /// Cancels a pending connect (LE Create Connection Cancel, 7.8.13).
    pub fn cancel_connect(&mut self) -> Result<(), HostError> {
        self.ready()?;
        let r = self.gap.cancel_connect(&mut self.cmds);
        self.pump();
        r
    }

    /// Drops a link (HCI Disconnect, reason Remote User Terminated).
    pub fn disconnect(&mut self, conn: ConnSlot) -> Result<(), HostError> {
        let handle = self.connection(conn).ok_or(HostError::NoConnection)?.handle;
        self.submit(
            Issuer::Host,
            command::disconnect(handle.0, REMOTE_USER_TERMINATED),
        )
    }

    pub fn connection(&self, conn: ConnSlot) -> Option<&Connection> {
        self.conns.get(conn)
    }

    fn push_event(&mut self, ev: HostEvent) {
        if self.events.push_back(ev).is_err() {
            self.stats.events_dropped = self.stats.events_dropped.wrapping_add(1);
        }
    }

    /// Moves queued commands and ACL data into the H4 transmit buffer as
    /// the controller's credits allow.
    /// Returns whether a command was sent (its timeout is armed).
    fn pump(&mut self) -> bool {
        let sent = self.cmds.pump(&mut self.tx, self.now_ms);
        self.acl_tx.pump(&mut self.acl_flow, &mut self.tx);
        sent
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
                let issuer = self.cmds.on_answer(num_hci_command_packets, op);
                if self.bringup.waiting_for() == Some(op) {
                    let step =
                        self.bringup
                            .on_command_complete(op, return_parameters, self.cmds.queue());
                    self.on_bringup_step(step);
                } else {
                    // Return_Parameters start with Status for every
                    // command we send after bring-up (Vol 4 Part E 7).
                    let status = return_parameters.first().copied().unwrap_or(0);
                    let rest = return_parameters.get(1..).unwrap_or(&[]);
                    self.on_command_result(issuer, op, status, rest);
                }
            }
            Event::CommandStatus {
                status,
                num_hci_command_packets,
                opcode: op,
            } => {
                let issuer = self.cmds.on_answer(num_hci_command_packets, op);
                if self.bringup.waiting_for() == Some(op) {
                    let step = self.bringup.on_command_status(op, status);
                    self.on_bringup_step(step);
                } else {
                    self.on_command_result(issuer, op, status, &[]);
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
                let handle = ConnHandle(handle);
                let Some(conn) = self.conns.by_handle(handle) else {
                    return;
                };
                if let Some(c) = self.conns.remove(conn) {
                    self.acl_flow.on_disconnected(handle.0);
                    self.acl_tx.drop_handle(handle.0);
                    self.db.reset_connection(conn.index());
                    self.procedures.link_down(conn.index());
                    self.smp.link_down(conn);
                    self.push_event(HostEvent::Disconnected {
                        conn,
                        handle,
                        peer_address_type: c.peer_address_type,
                        peer_address: c.peer_address,
                        reason,
                        lost: false,
                    });
                }
            }
            Event::EncryptionChange {
                status,
                handle,
                enabled,
            } => self.on_encryption_change(handle, status, enabled),
            // An encrypted link encrypted again with a new key (a pairing
            // on an encrypted link, Vol 6 Part B 5.1.3.2): the same end.
            Event::EncryptionKeyRefreshComplete { status, handle } => {
                self.on_encryption_change(handle, status, 1)
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

    /// The answer to a command (Command Complete's status and the rest of
    /// its return parameters, or Command Status), for whoever issued it.
    fn on_command_result(&mut self, issuer: Issuer, op: u16, status: u8, params: &[u8]) {
        match issuer {
            Issuer::Stop if op == opcode::RESET && self.state == HostState::Stopping => {
                self.finish_stop();
            }
            Issuer::Gap => {
                if let Some(ev) = self.gap.on_command_result(op, status) {
                    self.push_event(ev);
                }
            }
            Issuer::Security(conn) => self.on_security_result(conn, op, status, params),
            Issuer::Host | Issuer::Stop => {
                if status != 0 {
                    self.push_event(HostEvent::CommandFailed { opcode: op, status });
                }
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
                if let Some(conn) = self.conns.by_handle(ConnHandle(handle)) {
                    if let Some(c) = self.conns.get_mut(conn) {
                        if status == 0 {
                            c.interval = interval;
                            c.latency = latency;
                            c.supervision_timeout = supervision_timeout;
                        }
                    }
                    self.push_event(HostEvent::ConnectionUpdated { conn, status });
                }
            }
            LeEvent::LongTermKeyRequest {
                handle,
                random_number,
                encrypted_diversifier,
            } => self.on_ltk_request(handle, random_number, encrypted_diversifier),
            LeEvent::RemoteConnectionParameterRequest {
                handle,
                interval_min,
                interval_max,
                latency,
                timeout,
            } => {
                // Accept what the peer asks when it is within the ranges
                // of Vol 4 Part E 7.8.31 (the vendor APIs have no hook to
                // refuse it); refuse it otherwise with Unacceptable
                // Connection Parameters (0x3B, 7.8.32), as the L2CAP
                // request is refused (Vol 3 Part A 4.20).
                let ok = signaling::connection_parameters_acceptable(
                    interval_min,
                    interval_max,
                    latency,
                    timeout,
                );
                let cmd = if ok {
                    let params = ConnectionParameters::requested(
                        interval_min,
                        interval_max,
                        latency,
                        timeout,
                    );
                    command::le_remote_connection_parameter_request_reply(handle, &params)
                } else {
                    command::le_remote_connection_parameter_request_negative_reply(
                        handle,
                        UNACCEPTABLE_CONNECTION_PARAMETERS,
                    )
                };
                let _ = self.cmds.submit(Issuer::Host, cmd);
            }
            _ => {}
        }
    }

    fn on_adv_report(&mut self, r: &AdvReport<'_>) {
        if !self.gap.scan.enabled {
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
        let central = cc.role == 0;
        if let Some(ev) = self.gap.on_connection_complete(cc.status, central) {
            self.push_event(ev);
        }
        if cc.status != 0 {
            return;
        }
        let role = if central {
            Role::Central
        } else {
            Role::Peripheral
        };
        let mut c = Connection::new(ConnHandle(cc.handle), role);
        c.peer_address_type = cc.peer_address_type;
        c.peer_address = cc.peer_address;
        c.interval = cc.interval;
        c.latency = cc.latency;
        c.supervision_timeout = cc.supervision_timeout;
        c.keys.local = self.local_address(role);
        match self.conns.insert(c) {
            Some(conn) => {
                self.db.reset_connection(conn.index());
                self.push_event(HostEvent::Connected { conn });
                self.on_link_up(conn);
            }
            None => {
                // No room: refuse the link rather than half-track it.
                let cmd = command::disconnect(cc.handle, LIMITED_RESOURCES);
                let _ = self.cmds.submit(Issuer::Host, cmd);
            }
        }
    }
}
