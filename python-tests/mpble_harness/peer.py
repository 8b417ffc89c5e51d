"""A Bumble host peer on the virtual air: an independent, complete BLE host
(a phone running nRF Connect, another gadget) that no one in this project wrote.

All methods that touch Bumble are coroutines that must run in the air's loop;
each has a synchronous twin without the leading ``a`` that test code can call
directly (it goes through ``air.run``), e.g. ``peer.scan(2.0)`` vs
``await peer.ascan(2.0)``.

Raw ATT for hostile tests: ``peer.att_raw(connection, pdu, timeout)`` sends one
ATT PDU on the fixed ATT channel (CID 0x0004) with ``Connection.send_l2cap_pdu``
and returns the raw bytes of the next ATT PDU the board sends back that is not
a notification/indication (or of any PDU, with ``any_pdu=True``). It works by
replacing the Device's fixed-channel handler for CID 4 with a tap that keeps a
raw log of every ATT PDU received (``peer.att_log``) and then hands the PDU to
Bumble (errors Bumble raises while parsing hostile answers are recorded in
``peer.att_parse_errors`` instead of propagating). With
``peer.auto_confirm = False`` indications are only logged, so Bumble does
not confirm them; the test confirms by hand (``att_send(conn, b"\x1e")``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Optional

from bumble import att, hci
from bumble.controller import Controller
from bumble.core import UUID
from bumble.device import Advertisement, Connection, Device, DeviceConfiguration
from bumble.hci import Address, OwnAddressType
from bumble.host import Host
from bumble.transport.common import AsyncPipeSink

ATT_CID = 0x0004
# Server -> client PDUs that arrive unsolicited (Vol 3 Part F 3.4.7)
_ATT_UNSOLICITED = (0x1B, 0x1D)  # Handle Value Notification, Indication


@dataclass
class AdvReport:
    """One advertising report as seen by the peer's host (raw, not merged)."""

    address: Address
    data: bytes
    is_scan_response: bool
    is_connectable: bool
    is_scannable: bool
    is_legacy: bool
    rssi: int
    time: float

    @property
    def address_str(self) -> str:
        return str(address_without_suffix(self.address))


def address_without_suffix(address: Address) -> str:
    # Bumble prints random addresses as 'AA:..:FF' and public ones with '/P'.
    return str(address).split("/")[0]


class Peer:
    def __init__(self, air, public_address: str, random_address: str, name: str) -> None:
        self.air = air
        self.name = name
        self.att_log: list[tuple[float, int, bytes]] = []  # (time, conn handle, pdu)
        self.att_parse_errors: list[str] = []
        self.connections: list[Connection] = []
        self.reports: list[AdvReport] = []  # raw, one per received PDU
        self.advertisements: list[Advertisement] = []  # Bumble-merged
        self._att_waiters: list[tuple[int, bool, asyncio.Future]] = []
        self._scanning_listener = None
        # False: Handle Value Indications are logged but not handed to
        # Bumble, so it does not confirm them (send 0x1E with att_send).
        self.auto_confirm = True

        def _make():
            controller = Controller(f"{name}-ctrl", link=air.link, public_address=public_address)
            config = DeviceConfiguration(name=name)
            device = Device(
                name=name,
                address=Address(random_address, Address.RANDOM_DEVICE_ADDRESS),
                config=config,
                host=Host(controller, AsyncPipeSink(controller)),
            )
            return controller, device

        self.controller, self.device = air.call(_make)
        self.public_address: Address = self.controller.public_address
        self.random_address: Address = self.device.random_address

        # Tap the ATT fixed channel (see module doc).
        self._bumble_att_handler = self.device.on_gatt_pdu
        self.device.l2cap_channel_manager.register_fixed_channel(ATT_CID, self._on_att_pdu)
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)
        self.device.on(self.device.EVENT_ADVERTISEMENT, self._on_advertisement)
        self.device.host.on("advertising_report", self._on_raw_report)

    # -- lifecycle -----------------------------------------------------------

    async def apower_on(self) -> None:
        await self.device.power_on()

    def power_on(self, timeout: float = 10.0) -> None:
        self.air.run(self.apower_on(), timeout)

    async def shutdown(self) -> None:
        for conn in list(self.device.connections.values()):
            try:
                await asyncio.wait_for(conn.disconnect(), 1)
            except Exception:
                pass

    # -- events ------------------------------------------------------------

    def _on_connection(self, connection: Connection) -> None:
        self.connections.append(connection)

    def _on_advertisement(self, adv: Advertisement) -> None:
        # Bumble's accumulator merges an advertisement with its scan response
        # (active scanning): the merged one is flagged is_scan_response and its
        # .data holds both payloads' AD structures.
        self.advertisements.append(adv)

    def _on_raw_report(self, report) -> None:
        # One report per received PDU, straight from the Host (legacy or
        # extended LE Advertising Report; Vol 4 Part E 7.7.65.2 / 7.7.65.13).
        et = int(report.event_type)
        if isinstance(report, hci.HCI_LE_Extended_Advertising_Report_Event.Report):
            connectable, scannable = bool(et & 0x01), bool(et & 0x02)
            scan_rsp, legacy = bool(et & 0x08), bool(et & 0x10)
        else:
            connectable = et in (0, 1)  # ADV_IND, ADV_DIRECT_IND
            scannable = et in (0, 2)  # ADV_IND, ADV_SCAN_IND
            scan_rsp, legacy = et == 4, True
        self.reports.append(
            AdvReport(
                address=report.address,
                data=bytes(report.data),
                is_scan_response=scan_rsp,
                is_connectable=connectable,
                is_scannable=scannable,
                is_legacy=legacy,
                rssi=report.rssi,
                time=time.monotonic(),
            )
        )

    def _on_att_pdu(self, connection_handle: int, pdu: bytes) -> None:
        # Fixed-channel handlers get the connection HANDLE (l2cap.py
        # ChannelManager.on_pdu); Device.on_gatt_pdu maps it to a Connection.
        pdu = bytes(pdu)
        self.att_log.append((time.monotonic(), connection_handle, pdu))
        opcode = pdu[0] if pdu else -1
        consumed = False
        for entry in list(self._att_waiters):
            handle, any_pdu, fut = entry
            if fut.done() or handle != connection_handle:
                continue
            if any_pdu or opcode not in _ATT_UNSOLICITED:
                fut.set_result(pdu)
                self._att_waiters.remove(entry)
                consumed = True
                break
        if consumed and opcode & 1 and opcode not in _ATT_UNSOLICITED:
            # A response to our raw request: Bumble's GATT client has no request
            # pending for it, so do not hand it over.
            return
        if opcode == 0x1D and not self.auto_confirm:
            return
        try:
            self._bumble_att_handler(connection_handle, pdu)
        except Exception as e:  # hostile / malformed PDUs from a board
            self.att_parse_errors.append(f"{pdu.hex()}: {e!r}")

    # -- scanning --------------------------------------------------------------

    async def ascan(self, duration: float = 2.0, active: bool = True, legacy: bool = False) -> list[AdvReport]:
        """Scan for `duration` s; return the raw reports heard (one per PDU,
        also kept in self.reports). Active scanning by default, so scannable
        advertisers are asked for scan responses, which come as separate
        reports with is_scan_response=True (merged ones: self.advertisements)."""
        start = len(self.reports)
        await self.device.start_scanning(active=active, legacy=legacy, filter_duplicates=False)
        try:
            await asyncio.sleep(duration)
        finally:
            await self.device.stop_scanning(legacy=legacy)
        return self.reports[start:]

    def scan(self, duration: float = 2.0, active: bool = True, legacy: bool = False, timeout: Optional[float] = None) -> list[AdvReport]:
        return self.air.run(self.ascan(duration, active, legacy), timeout or duration + 10)

    async def afind(self, address: str | Address, timeout: float = 5.0, active: bool = True) -> AdvReport:
        """Scan until an advertisement from `address` arrives (any address type)."""
        want = address_without_suffix(Address(str(address)) if not isinstance(address, Address) else address)
        start = len(self.reports)
        await self.device.start_scanning(active=active, filter_duplicates=False)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                for r in self.reports[start:]:
                    if address_without_suffix(r.address) == want:
                        return r
                await asyncio.sleep(0.05)
        finally:
            await self.device.stop_scanning()
        raise TimeoutError(f"{self.name}: no advertisement from {want} in {timeout} s")

    def find(self, address, timeout: float = 5.0, active: bool = True) -> AdvReport:
        return self.air.run(self.afind(address, timeout, active), timeout + 10)

    # -- advertising (peer as peripheral) ----------------------------------------

    async def aadvertise(self, advertising_data: bytes = b"", scan_response_data: bytes = b"", own_address_type=OwnAddressType.RANDOM) -> None:
        await self.device.start_advertising(
            advertising_data=advertising_data or None,
            scan_response_data=scan_response_data or None,
            own_address_type=own_address_type,
            auto_restart=False,
        )

    def advertise(self, advertising_data: bytes = b"", scan_response_data: bytes = b"", own_address_type=OwnAddressType.RANDOM, timeout: float = 5.0) -> None:
        self.air.run(self.aadvertise(advertising_data, scan_response_data, own_address_type), timeout)

    async def astop_advertising(self) -> None:
        await self.device.stop_advertising()

    def stop_advertising(self, timeout: float = 5.0) -> None:
        self.air.run(self.astop_advertising(), timeout)

    # -- connections -------------------------------------------------------------

    async def aconnect(self, address: str | Address, timeout: float = 5.0, own_address_type=OwnAddressType.RANDOM) -> Connection:
        """Connect (as central) to `address`: a Bumble Address, or a string
        taken as a PUBLIC address (boards use their public address); pass
        Address(s, Address.RANDOM_DEVICE_ADDRESS) for a random one."""
        if isinstance(address, str):
            address = Address(address, Address.PUBLIC_DEVICE_ADDRESS)
        return await self.device.connect(address, own_address_type=own_address_type, timeout=timeout)

    def connect(self, address, timeout: float = 5.0, own_address_type=OwnAddressType.RANDOM) -> Connection:
        return self.air.run(self.aconnect(address, timeout, own_address_type), timeout + 5)

    async def await_connection(self, timeout: float = 10.0) -> Connection:
        """Wait for the next incoming connection (peer as peripheral)."""
        start = len(self.connections)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.connections) > start:
                return self.connections[start]
            await asyncio.sleep(0.02)
        raise TimeoutError(f"{self.name}: no connection in {timeout} s")

    def wait_connection(self, timeout: float = 10.0) -> Connection:
        return self.air.run(self.await_connection(timeout), timeout + 5)

    def disconnect(self, connection: Connection, timeout: float = 5.0) -> None:
        self.air.run(connection.disconnect(), timeout)

    # -- GATT client -------------------------------------------------------------

    async def adiscover(self, connection: Connection) -> list:
        """Discover all services, their characteristics and descriptors. Returns
        a list of (service, [(characteristic, [descriptor, ...]), ...])."""
        client = connection.gatt_client
        result = []
        services = await client.discover_services()
        for service in services:
            chars = await client.discover_characteristics([], service)
            entry = []
            for ch in chars:
                descs = await client.discover_descriptors(characteristic=ch)
                entry.append((ch, descs))
            result.append((service, entry))
        return result

    def discover(self, connection: Connection, timeout: float = 15.0) -> list:
        return self.air.run(self.adiscover(connection), timeout)

    def find_characteristic(self, connection: Connection, uuid: str | UUID, timeout: float = 15.0):
        """Discover everything (if not done) and return the first characteristic
        proxy with this UUID."""
        uuid = UUID(uuid) if isinstance(uuid, str) else uuid
        for _service, chars in self.discover(connection, timeout):
            for ch, _descs in chars:
                if ch.uuid == uuid:
                    return ch
        raise LookupError(f"no characteristic {uuid}")

    def read(self, connection: Connection, handle: int, long: bool = False, timeout: float = 10.0) -> bytes:
        """Read an attribute by handle; `long=True` continues with Read Blob
        Requests while the value fills the MTU (Vol 3 Part G 4.8.3)."""
        return bytes(self.air.run(connection.gatt_client.read_value(handle, no_long_read=not long), timeout))

    def write(self, connection: Connection, handle: int, value: bytes, with_response: bool = True, timeout: float = 10.0) -> None:
        self.air.run(connection.gatt_client.write_value(handle, bytes(value), with_response=with_response), timeout)

    def subscribe(self, connection: Connection, characteristic, prefer_notify: bool = True, timeout: float = 10.0) -> list:
        """Subscribe (writes the CCCD); returns a list that fills with each
        notified/indicated value (bytes) as it arrives."""
        values: list = []
        self.air.run(
            connection.gatt_client.subscribe(
                characteristic, lambda v: values.append(bytes(v)), prefer_notify=prefer_notify
            ),
            timeout,
        )
        return values

    def exchange_mtu(self, connection: Connection, mtu: int, timeout: float = 10.0) -> int:
        """ATT Exchange MTU (Vol 3 Part F 3.4.2); returns the agreed ATT_MTU."""
        return self.air.run(connection.gatt_client.request_mtu(mtu), timeout)

    # -- raw ATT -----------------------------------------------------------------

    async def aatt_raw(self, connection: Connection, pdu: bytes, timeout: float = 5.0, any_pdu: bool = False) -> bytes:
        fut = asyncio.get_running_loop().create_future()
        self._att_waiters.append((connection.handle, any_pdu, fut))
        try:
            connection.send_l2cap_pdu(ATT_CID, bytes(pdu))
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"no ATT response to {bytes(pdu).hex()} in {timeout} s") from None
        finally:
            self._att_waiters = [w for w in self._att_waiters if w[2] is not fut]

    def att_raw(self, connection: Connection, pdu: bytes, timeout: float = 5.0, any_pdu: bool = False) -> bytes:
        """Send raw ATT PDU bytes; return the raw bytes of the board's answer."""
        return self.air.run(self.aatt_raw(connection, pdu, timeout, any_pdu), timeout + 5)

    def att_send(self, connection: Connection, pdu: bytes) -> None:
        """Send raw ATT PDU bytes without waiting for anything."""

        async def _send():
            connection.send_l2cap_pdu(ATT_CID, bytes(pdu))

        self.air.run(_send(), 5)

    def l2cap_send(self, connection: Connection, cid: int, payload: bytes) -> None:
        """Send one L2CAP PDU on a fixed channel (e.g. signalling 0x0005, SMP 0x0006)."""

        async def _send():
            connection.send_l2cap_pdu(cid, bytes(payload))

        self.air.run(_send(), 5)


# ATT opcodes used by tests (Vol 3 Part F 3.4.8, Table 3.37)
ATT_ERROR_RSP = att.Opcode.ATT_ERROR_RESPONSE
