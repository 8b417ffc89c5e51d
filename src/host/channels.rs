//! L2CAP routing on each link (Core spec Vol 3 Part A): B-frames are
//! recombined and handed by channel to ATT (our server, or our GATT client
//! for the PDUs a peer's server sends), LE signaling or SMP; and the ATT
//! side of the host: notifications and indications, GATT client
//! procedures, and the 30 s ATT transaction timers (Vol 3 Part F 3.3.3).

use super::{
    ConnSlot, HostCore, HostError, HostEvent, HostState, Issuer, Role, REMOTE_USER_TERMINATED,
};
use crate::att::pdu::ATT_HANDLE_VALUE_CFM;
use crate::att::server::{self as att_server, ServerEvent};
use crate::att::AttHandle;
use crate::config;
use crate::gatt::client::{self as gatt_client, ClientError, ClientEvent, GattClient};
use crate::gatt::queue::{Procedure, QueueError, Request};
use crate::hci::acl::AclHeader;
use crate::hci::command::{self, ConnectionParameters};
use crate::hci::h4::TxFull;
use crate::hci::ConnHandle;
use crate::l2cap::{self, signaling};
use crate::time::Instant;

impl HostCore {
    /// An ATT transaction unanswered for 30 s (an indication without its
    /// confirmation, or our client's request without its response) fails:
    /// no more ATT PDUs may go to that peer (Vol 3 Part F 3.3.3), so the
    /// link is dropped rather than left half alive.
    pub(super) fn expire_att_transactions(&mut self, now_ms: u32) {
        let now = Instant::from_ms(now_ms);
        for conn in ConnSlot::all() {
            let Some(c) = self.conns.get_mut(conn) else {
                continue;
            };
            if c.att_dead {
                continue;
            }
            let indication = c.att.indication_pending() && c.indication_deadline.is_reached(now);
            let request = c.client.busy() && c.client_deadline.is_reached(now);
            if !indication && !request {
                continue;
            }
            c.att_dead = true;
            let handle = c.handle;
            let done = if request { c.client.on_timeout() } else { None };
            let cmd = command::disconnect(handle.0, REMOTE_USER_TERMINATED);
            let _ = self.cmds.submit(Issuer::Host, cmd);
            if let Some(event) = done {
                let request = self.procedures.finish(conn.index());
                self.push_event(HostEvent::GattClient {
                    conn,
                    request,
                    event,
                });
            }
        }
    }

    /// The earliest deadline of the ATT transactions in progress (plain
    /// loops: this runs after nearly every input and call).
    pub(super) fn att_deadline(&self) -> Option<Instant> {
        let mut best: Option<Instant> = None;
        for (_, c) in self.conns.iter() {
            if c.att_dead {
                continue;
            }
            if c.att.indication_pending() {
                best = Instant::earliest_of(best, Some(c.indication_deadline));
            }
            if c.client.busy() {
                best = Instant::earliest_of(best, Some(c.client_deadline));
            }
        }
        best
    }

    /// Sends a Handle Value Notification (Vol 3 Part F 3.4.7.1), or an
    /// Indication when `indicate` (one outstanding per link, 3.4.7.2).
    pub fn send_handle_value(
        &mut self,
        conn: ConnSlot,
        handle: AttHandle,
        value: &[u8],
        indicate: bool,
        now_ms: u32,
    ) -> Result<(), HostError> {
        if self.state != HostState::Ready {
            return Err(HostError::NotReady);
        }
        self.now_ms = now_ms;
        let Some(c) = self.conns.get_mut(conn) else {
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
        // The whole value fits (checked above): opcode and handle, then
        // the value, go straight into the transmit queue.
        let header = att_server::handle_value_header(indicate, handle.0);
        self.send_l2cap_parts(link, l2cap::CID_ATT, &header, value)?;
        if indicate {
            if let Some(c) = self.conns.get_mut(conn) {
                let _ = c.att.begin_indication();
                c.indication_deadline =
                    Instant::from_ms(now_ms).add_ms(config::ATT_TRANSACTION_TIMEOUT_MS);
            }
        }
        Ok(())
    }

    /// Answers the read a `GattReadRequest` announced: `value` is the whole
    /// value (`None`: the one in the attribute table now), or `Err(code)`
    /// for an ATT Error Response. `NoConnection` when nothing waits on that
    /// link (it dropped, or the read was answered).
    pub fn gatt_read_reply(
        &mut self,
        conn: ConnSlot,
        value: Result<Option<&[u8]>, u8>,
    ) -> Result<(), HostError> {
        let Some(c) = self.conns.get_mut(conn) else {
            return Err(HostError::NoConnection);
        };
        let Some(handle) = c.att.deferred_read() else {
            return Err(HostError::NoConnection);
        };
        let link = c.handle;
        let stored = self.db.value_for(conn.index(), handle).unwrap_or(&[]);
        let value = match value {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Ok(stored),
            Err(code) => Err(code),
        };
        let mut rsp = [0u8; config::ATT_MTU_MAX];
        let n = att_server::deferred_read_response(&mut c.att, value, &mut rsp)
            .ok_or(HostError::NoConnection)?;
        self.send_reply(link, l2cap::CID_ATT, rsp.get(..n).unwrap_or(&[]));
        Ok(())
    }

    /// Starts a GATT client procedure on a link: `start` writes its first
    /// request (a `GattClient` method), which is sent at once and timed
    /// (30 s, Vol 3 Part F 3.3.3).
    pub fn gatt_client_request(
        &mut self,
        conn: ConnSlot,
        start: impl FnOnce(&mut GattClient, &mut [u8]) -> Result<usize, ClientError>,
    ) -> Result<(), HostError> {
        if self.state != HostState::Ready {
            return Err(HostError::NotReady);
        }
        let Some(c) = self.conns.get_mut(conn) else {
            return Err(HostError::NoConnection);
        };
        if c.att_dead {
            return Err(HostError::NoConnection);
        }
        let was_busy = c.client.busy();
        let n = start(&mut c.client, &mut self.pdu_out).map_err(|e| match e {
            ClientError::Busy => HostError::Busy,
            ClientError::TooLong => HostError::TooLong,
            ClientError::InvalidArgument => HostError::InvalidArgument,
            ClientError::TimedOut => HostError::NoConnection,
        })?;
        // Only a request that starts a transaction starts its 30 s: a Write
        // Command sent while a request is outstanding must not extend that
        // request's timer (Vol 3 Part F 3.3.3).
        if !was_busy && c.client.busy() {
            c.client_deadline =
                Instant::from_ms(self.now_ms).add_ms(config::ATT_TRANSACTION_TIMEOUT_MS);
        }
        let link = c.handle;
        if n > 0 {
            self.queue_pdu_out(link, l2cap::CID_ATT, n)
                .map_err(|_| HostError::QueueFull)?;
        }
        Ok(())
    }

    /// Runs a GATT client procedure on a link, now if its bearer is idle,
    /// else after those already waiting (Vol 3 Part F 3.3.2: one request
    /// at a time). `data` is the write value or the Read Multiple handle
    /// list, copied in. A procedure started at once that the GATT client
    /// refuses (bad range, too long for the MTU) is refused here; one
    /// refused later, when its turn comes, ends with a `Done` event.
    pub fn gatt_submit(
        &mut self,
        conn: ConnSlot,
        request: Request,
        data: &[u8],
    ) -> Result<(), HostError> {
        match self.connection(conn) {
            Some(c) if !c.att_dead => {}
            _ => return Err(HostError::NoConnection),
        }
        let request = self
            .procedures
            .prepare(request, data)
            .map_err(|_| HostError::QueueFull)?;
        if !self.procedures.is_idle(conn.index()) {
            return self
                .procedures
                .push(conn.index(), request)
                .map_err(|e| match e {
                    QueueError::Full => HostError::QueueFull,
                    QueueError::NoLink => HostError::NoConnection,
                });
        }
        let started = self.start_procedure(conn, request);
        if started.is_err() {
            self.procedures.release(request);
        }
        started
    }

    /// Sends the first request of `request`'s procedure.
    pub(super) fn start_procedure(
        &mut self,
        conn: ConnSlot,
        request: Request,
    ) -> Result<(), HostError> {
        // Only a write and Read Multiple carry data: the others start
        // without copying it out of the pool (onto a zeroed stack array).
        let procedure = request.procedure;
        if matches!(
            procedure,
            Procedure::ReadMultiple { .. } | Procedure::Write { .. }
        ) {
            let mut data = [0u8; config::ATT_VALUE_MAX];
            let value = self.procedures.data(&request);
            let n = value.len().min(data.len());
            data[..n].copy_from_slice(&value[..n]);
            let data = &data[..n];
            self.gatt_client_request(conn, |c, out| first_request(c, procedure, data, out))?;
        } else {
            self.gatt_client_request(conn, |c, out| first_request(c, procedure, &[], out))?;
        }
        self.procedures.set_running(conn.index(), request);
        Ok(())
    }

    /// Starts what waits on an idle link. A procedure the GATT client
    /// refuses when its turn comes ends at once with Unlikely Error, as a
    /// malformed response would end it.
    pub(super) fn start_next_procedure(&mut self, conn: ConnSlot) {
        while let Some(request) = self.procedures.next(conn.index()) {
            if self.start_procedure(conn, request).is_ok() {
                return;
            }
            self.procedures.release(request);
            self.push_event(HostEvent::GattClient {
                conn,
                request: Some(request),
                event: ClientEvent::Done {
                    procedure: request.procedure.kind(),
                    att_error: gatt_client::ERROR_INVALID_RESPONSE,
                    handle: 0,
                },
            });
        }
    }

    /// The last ATT PDU our GATT client received (opcode first): the
    /// response a `ClientEvent::Results` refers to.
    pub fn client_pdu(&self) -> &[u8] {
        &self.client_rx[..self.client_rx_len.min(self.client_rx.len())]
    }

    /// Queues one frame for the controller; a full queue refuses it (the
    /// caller tells whoever asked).
    fn send_l2cap(&mut self, link: ConnHandle, cid: u16, payload: &[u8]) -> Result<(), HostError> {
        self.send_l2cap_parts(link, cid, payload, &[])
    }

    /// [`HostCore::send_l2cap`] with the payload in two pieces (a header
    /// and a value), framed in the transmit queue itself.
    fn send_l2cap_parts(
        &mut self,
        link: ConnHandle,
        cid: u16,
        a: &[u8],
        b: &[u8],
    ) -> Result<(), HostError> {
        if a.len() + b.len() > config::L2CAP_PDU_MAX {
            return Err(HostError::TooLong);
        }
        let res = self.acl_tx.push_frame(link.0, cid, a, b);
        self.pump();
        res.map_err(|_| HostError::QueueFull)
    }

    /// [`HostCore::send_l2cap`] of the first `n` bytes of `pdu_out` (which
    /// always fit a frame). Written out rather than a call: the bytes are
    /// borrowed from `self`, which `send_l2cap` takes mutably.
    fn queue_pdu_out(&mut self, link: ConnHandle, cid: u16, n: usize) -> Result<(), TxFull> {
        let pdu = self.pdu_out.get(..n).unwrap_or(&[]);
        let res = self.acl_tx.push_frame(link.0, cid, pdu, &[]);
        self.pump();
        res
    }

    /// [`HostCore::send_reply`] of the first `n` bytes of `pdu_out`.
    fn send_pdu_out(&mut self, link: ConnHandle, cid: u16, n: usize) {
        if self.queue_pdu_out(link, cid, n).is_err() {
            self.stats.tx_dropped = self.stats.tx_dropped.wrapping_add(1);
        }
    }

    /// Queues a frame the host sends on its own (a response, a
    /// confirmation, our client's next request): no one can be told if it
    /// finds no room, so it is counted in `stats.tx_dropped`.
    pub(super) fn send_reply(&mut self, link: ConnHandle, cid: u16, payload: &[u8]) {
        if self.send_l2cap(link, cid, payload).is_err() {
            self.stats.tx_dropped = self.stats.tx_dropped.wrapping_add(1);
        }
    }

    pub(super) fn on_acl(&mut self, bytes: &[u8]) {
        let Some((header, data)) = AclHeader::parse(bytes) else {
            self.stats.bad_acl = self.stats.bad_acl.wrapping_add(1);
            return;
        };
        let Some(conn) = self.conns.by_handle(ConnHandle(header.handle)) else {
            self.stats.unknown_handle = self.stats.unknown_handle.wrapping_add(1);
            return;
        };
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        if let Some(frame) = c.reassembler.whole(header.pb, data) {
            // A frame in one packet is read where it is, in the H4
            // parser's buffer: nothing to copy out of the host.
            self.on_l2cap(conn, frame.cid, frame.payload);
            return;
        }
        // Copy the frame out of the reassembler so the channel handlers
        // may borrow the rest of the host.
        let mut pdu = [0u8; config::L2CAP_PDU_MAX];
        let (cid, len) = match c.reassembler.push(header.pb, data) {
            Ok(Some(frame)) => {
                let n = frame.payload.len().min(pdu.len());
                if let (Some(dst), Some(src)) = (pdu.get_mut(..n), frame.payload.get(..n)) {
                    dst.copy_from_slice(src);
                }
                (frame.cid, n)
            }
            Ok(None) => return,
            Err(_) => {
                self.stats.l2cap_errors = self.stats.l2cap_errors.wrapping_add(1);
                return;
            }
        };
        self.on_l2cap(conn, cid, pdu.get(..len).unwrap_or(&[]));
    }

    fn on_l2cap(&mut self, conn: ConnSlot, cid: u16, pdu: &[u8]) {
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        let link = c.handle;
        // Responses are written into `pdu_out` (see `send_pdu_out`).
        match cid {
            l2cap::CID_ATT
                if pdu
                    .first()
                    .is_some_and(|&op| gatt_client::is_for_client(op)) =>
            {
                let unexpected = c.client.unexpected();
                // A running Write Long reads its value from the procedure
                // pool, where it stays until the procedure ends.
                let running = self.procedures.running(conn.index());
                let value = running
                    .as_ref()
                    .map_or(&[][..], |r| self.procedures.data(r));
                let step = c.client.on_pdu(pdu, value, &mut self.pdu_out);
                let ignored = c.client.unexpected().wrapping_sub(unexpected);
                self.stats.gatt_client_unexpected =
                    self.stats.gatt_client_unexpected.wrapping_add(ignored);
                let n = pdu.len().min(self.client_rx.len());
                if let (Some(dst), Some(src)) = (self.client_rx.get_mut(..n), pdu.get(..n)) {
                    dst.copy_from_slice(src);
                }
                self.client_rx_len = n;
                if step.request_len > 0 {
                    // The next request of the procedure starts a new
                    // transaction and its 30 s; a Handle Value Confirmation
                    // is not a request and leaves the outstanding one's
                    // timer alone (Vol 3 Part F 3.3.3).
                    if self.pdu_out[0] != ATT_HANDLE_VALUE_CFM {
                        c.client_deadline = Instant::from_ms(self.now_ms)
                            .add_ms(config::ATT_TRANSACTION_TIMEOUT_MS);
                    }
                    self.send_pdu_out(link, l2cap::CID_ATT, step.request_len);
                }
                for &event in step.events.iter() {
                    if let ClientEvent::Done {
                        att_error, handle, ..
                    } = event
                    {
                        // Insufficient Authentication / Encryption on a
                        // link we can encrypt: encrypt, then run the
                        // procedure again (security.rs).
                        if self.retry_after_encryption(conn, att_error, handle) {
                            continue;
                        }
                    }
                    if let ClientEvent::MtuExchanged { mtu } = event {
                        // One ATT bearer per link: client and server share
                        // its MTU (Vol 3 Part F 3.4.2).
                        if let Some(c) = self.conns.get_mut(conn) {
                            c.att.set_mtu(mtu);
                        }
                        self.push_event(HostEvent::MtuExchanged { conn, mtu });
                    }
                    let request = match event {
                        // These end the running procedure.
                        ClientEvent::Done { .. } | ClientEvent::MtuExchanged { .. } => {
                            self.procedures.finish(conn.index())
                        }
                        ClientEvent::Results { .. } => self.procedures.running(conn.index()),
                        ClientEvent::Notification { .. } | ClientEvent::Indication { .. } => None,
                    };
                    self.push_event(HostEvent::GattClient {
                        conn,
                        request,
                        event,
                    });
                }
                self.start_next_procedure(conn);
            }
            l2cap::CID_ATT => {
                let security = c.security;
                let outcome = att_server::handle_pdu(
                    &mut c.att,
                    &mut self.db,
                    conn.index(),
                    security,
                    pdu,
                    &mut self.pdu_out,
                );
                self.stats.att_events_dropped =
                    self.stats.att_events_dropped.wrapping_add(outcome.dropped);
                if outcome.response_len > 0 {
                    self.send_pdu_out(link, l2cap::CID_ATT, outcome.response_len);
                }
                for ev in outcome.events.iter() {
                    let ev = match *ev {
                        ServerEvent::MtuExchanged { mtu } => {
                            if let Some(c) = self.conns.get_mut(conn) {
                                c.client.set_mtu(mtu);
                            }
                            HostEvent::MtuExchanged { conn, mtu }
                        }
                        ServerEvent::Read { handle } => HostEvent::GattRead {
                            conn,
                            handle: AttHandle(handle),
                        },
                        ServerEvent::ReadRequest { handle, offset } => HostEvent::GattReadRequest {
                            conn,
                            handle: AttHandle(handle),
                            offset,
                        },
                        ServerEvent::Write {
                            handle,
                            with_response,
                        } => HostEvent::GattWrite {
                            conn,
                            handle: AttHandle(handle),
                            with_response,
                        },
                        ServerEvent::IndicationConfirmed => HostEvent::IndicationConfirmed { conn },
                    };
                    self.push_event(ev);
                }
            }
            l2cap::CID_LE_SIGNALING => {
                let role = c.role;
                let outcome = signaling::handle(pdu, &mut self.pdu_out);
                if outcome.response_len > 0 {
                    self.send_pdu_out(link, l2cap::CID_LE_SIGNALING, outcome.response_len);
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
            l2cap::CID_SMP => self.on_smp(conn, pdu),
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
    fn on_conn_param_request(&mut self, link: ConnHandle, role: Role, identifier: u8, p: [u16; 4]) {
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
        self.send_reply(link, l2cap::CID_LE_SIGNALING, rsp.get(..n).unwrap_or(&[]));
        if accepted {
            let params =
                ConnectionParameters::requested(interval_min, interval_max, latency, timeout);
            let cmd = command::le_connection_update(link.0, &params);
            let _ = self.cmds.submit(Issuer::Host, cmd);
        }
    }
}

/// Writes the first request of `procedure` (`data`: its value or handle
/// list) into `out`.
fn first_request(
    c: &mut GattClient,
    procedure: Procedure,
    data: &[u8],
    out: &mut [u8],
) -> Result<usize, ClientError> {
    match procedure {
        Procedure::ExchangeMtu { mtu } => c.exchange_mtu(mtu, out),
        Procedure::DiscoverAllPrimaryServices => c.discover_all_primary_services(out),
        Procedure::DiscoverPrimaryServiceByUuid { uuid } => {
            c.discover_primary_service_by_uuid(uuid, out)
        }
        Procedure::FindIncludedServices { start, end } => c.find_included_services(start, end, out),
        Procedure::DiscoverAllCharacteristics { start, end } => {
            c.discover_all_characteristics(start, end, out)
        }
        Procedure::DiscoverAllDescriptors { start, end } => {
            c.discover_all_descriptors(start, end, out)
        }
        Procedure::Read {
            handle,
            offset,
            long,
        } => c.read_by_handle(handle, offset, long, out),
        Procedure::ReadByUuid { start, end, uuid } => c.read_by_uuid(start, end, uuid, out),
        Procedure::ReadMultiple { .. } => c.read_multiple(data, out),
        Procedure::Write {
            handle,
            offset,
            long,
            ..
        } => {
            if long || offset != 0 {
                c.write_long(handle, offset, data, out)
            } else {
                c.write(handle, data, out)
            }
        }
    }
}
