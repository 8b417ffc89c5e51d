"""QuecPython's `ble` module as mpble's firmware provides it (BLE GATT
server and client). Reference: ../shared/reference/quecpython-ble-api.md;
mpble's choices where the vendor is silent: docs/DECISIONS.md.

Every call is positional-only and returns 0 on success or -1 on failure
(wrong types raise TypeError naming the argument); results arrive later as
events, each a tuple `(event_id, status, ...)` passed to the callback given
to serverInit()/clientInit(). Addresses are 6 bytes LSB first (HCI order).

Names starting with `mpble` are mpble's own diagnostics, not QuecPython's.

Checked against the firmware by python-tests/test_stubs.py.
"""

from typing import Any, Callable, Optional, Tuple, Union

_Buffer = Union[bytes, bytearray, memoryview]
_Callback = Callable[[Tuple[Any, ...]], Any]

# -- common ----------------------------------------------------------------------------------

def gattStart() -> int:
    """Start the BLE stack; event 0 reports the result (status 0 = up)."""

def gattStop() -> int:
    """Stop the stack (links end, advertising stops); event 1 follows."""

def getStatus() -> int:
    """1 from gattStart() until the stop completes, else 0."""

def getPublicAddr() -> Union[bytes, int]:
    """The controller's public address, 6 bytes LSB first (-1 before event 0)."""

# -- server (peripheral) ---------------------------------------------------------------------

def serverInit(user_cb: _Callback, /) -> int:
    """Register the server's event callback (called with one tuple)."""

def serverRelease() -> int:
    """Forget the server callback and its resources."""

def setLocalName(code: int, name: Union[str, _Buffer], /) -> int:
    """GAP device name: code 0 UTF-8, 1 GBK; 1..29 bytes."""

def setAdvParam(
    min_adv: int,
    max_adv: int,
    adv_type: int,
    addr_type: int,
    channel: int,
    filter_policy: int,
    discov_mode: int,
    no_br_edr: int,
    enable_adv: int,
    /,
) -> int:
    """Advertising parameters: intervals 0x20..0x4000 (x 0.625 ms), adv_type
    0..4, own addr_type 0 public / 1 random, channel 1/2/4/7,
    filter_policy 0..3, discov_mode 1 limited / 2 general, no_br_edr 0/1,
    enable_adv 0/1."""

def setAdvData(data: _Buffer, /) -> int:
    """Advertising data, 1..31 bytes of AD structures."""

def setAdvRspData(data: _Buffer, /) -> int:
    """Scan response data, 1..31 bytes of AD structures."""

def addService(primary: int, server_id: int, uuid_type: int, uuid_s: int, uuid_l: _Buffer, /) -> int:
    """Add a service: primary 1 (else secondary); uuid_type 1 = 16-bit
    uuid_s, 0 = 128-bit uuid_l (<= 16 bytes)."""

def addChara(server_id: int, chara_id: int, chara_prop: int, uuid_type: int, uuid_s: int, uuid_l: _Buffer, /) -> int:
    """Add a characteristic declaration (chara_prop 0x00..0xFF)."""

def addCharaValue(
    server_id: int, chara_id: int, permission: int, uuid_type: int, uuid_s: int, uuid_l: _Buffer, value: _Buffer, /
) -> int:
    """Add the characteristic's value attribute (permission 0x0000..0x0FFF)."""

def changeCharaValue(server_id: int, chara_id: int, value: _Buffer, /) -> int:
    """Replace a characteristic's stored value."""

def addCharaDesc(
    server_id: int, chara_id: int, permission: int, uuid_type: int, uuid_s: int, uuid_l: _Buffer, value: _Buffer, /
) -> int:
    """Add a descriptor (0x2902 becomes a real per-link CCCD)."""

def addOrClearService(option: int, mode: int, /) -> int:
    """option 1 commits the table, 0 deletes it; mode 1 keeps the default
    GAP/GATT services (user services from handle 16), 0 drops them."""

def sendNotification(connect_id: int, attr_handle: int, value: _Buffer, /) -> int:
    """Handle Value Notification of a value handle; event 25 follows."""

def sendIndication(connect_id: int, attr_handle: int, value: _Buffer, /) -> int:
    """Handle Value Indication; event 25 once the client confirms."""

def advStart() -> int:
    """Start advertising."""

def advStop() -> int:
    """Stop advertising."""

# -- client (central) ------------------------------------------------------------------------

def clientInit(user_cb: _Callback, /) -> int:
    """Register the client's event callback (called with one tuple)."""

def clientRelease() -> int:
    """Forget the client callback."""

def setScanParam(scan_mode: int, interval: int, scan_window: int, filter_policy: int, addr_type: int, /) -> int:
    """scan_mode 0 passive / 1 active; interval and window 0x0004..0x4000
    (x 0.625 ms); filter_policy 0..3; own addr_type 0/1."""

def scanStart() -> int:
    """Start scanning; each report is event 19."""

def scanStop() -> int:
    """Stop scanning."""

def setScanFilter(act: int, /) -> int:
    """1 (default): one report per device per scan; 0: every packet."""

def connect(addr_type: int, addr: _Buffer, /) -> int:
    """Connect to a 6-byte address (LSB first) of type 0 public / 1 random;
    event 16, then 26."""

def cancelConnect(addr: _Buffer, /) -> int:
    """Cancel a pending connect to this address."""

def disconnect(connect_id: int, /) -> int:
    """End a link; event 17."""

def discoverAllService(connect_id: int, /) -> int:
    """Primary service discovery; one event 27 per service."""

def discoverByUUID(connect_id: int, uuid_type: int, uuid_s: int, uuid_l: _Buffer, /) -> int:
    """Discover primary services by UUID; event 27."""

def discoverAllIncludes(connect_id: int, start_handle: int, end_handle: int, /) -> int:
    """Included services in a range; event 28, then 37."""

def discoverAllChara(connect_id: int, start_handle: int, end_handle: int, /) -> int:
    """Characteristics in a range; event 28, then (37, 0, 0x0A)."""

def discoverAllCharaDesc(connect_id: int, start_handle: int, end_handle: int, /) -> int:
    """Descriptors in a range; event 29."""

def readCharaByUUID(
    connect_id: int, start_handle: int, end_handle: int, uuid_type: int, uuid_s: int, uuid_l: _Buffer, /
) -> int:
    """Read By Type in a range; event 33."""

def readCharaByHandle(connect_id: int, handle: int, offset: int, is_long: int, /) -> int:
    """Read (is_long 1: Read Blob continuation); event 32."""

def readCharaDesc(connect_id: int, handle: int, is_long: int, /) -> int:
    """Read a descriptor; event 36."""

def readMultiChara(connect_id: int, handles: _Buffer, /) -> int:
    """Read Multiple of concatenated little-endian u16 handles; event 34."""

def writeChara(connect_id: int, handle: int, offset: int, is_long: int, data: _Buffer, /) -> int:
    """Write Request (is_long 1: prepared writes); event 30."""

def writeCharaNoRsp(connect_id: int, handle: int, data: _Buffer, /) -> int:
    """Write Command; event 31."""

def writeCharaDesc(connect_id: int, handle: int, data: _Buffer, /) -> int:
    """Write a descriptor; event 35."""

def exchangeMtu(connect_id: int, mtu_size: int, /) -> int:
    """ATT Exchange MTU; event 20."""

# -- SMP: pairing and bonds (both roles) -----------------------------------------------------
#
# Events: 64 (connect_id, pair_mode, pin) when the pairing method is known
# (pair_mode 5 Secure Connections Just Works, pin 0: pairing goes on by
# itself; 6 Numeric Comparison, pin = the six digits to compare: answer with
# smpUserConfirm), and 63 (status) when the link's security ends: 0 once it
# is encrypted, after a pairing or from a stored bond; otherwise the Pairing
# Failed reason or the HCI status of the failed encryption.

def smpSetConfig(io_cap: int, auth_req: int, passkey: int, timeout: int, /) -> int:
    """Pairing parameters for pairings that start later: io_cap 0 DisplayOnly,
    1 DisplayYesNo, 2 KeyboardOnly, 3 NoInputNoOutput (default), 4
    KeyboardDisplay; auth_req bits 0 bonding, 2 MITM, 3 Secure Connections
    (default 9); passkey 0..999999 (default 123456); timeout 1..65535 in
    100 ms units (default 160). Out of range: -1, nothing changes."""

def smpGetConfig() -> Union[Tuple[int, int, int, int], int]:
    """(io_cap, auth_req, passkey, timeout)."""

def smpStartPair(connect_id: int, /) -> int:
    """As central: pair (Pairing Request); as peripheral: ask the central to
    (Security Request). Events 64, then 63."""

def smpUserConfirm(connect_id: int, pair_operation: int, pin: int, /) -> int:
    """Answer event 64: 0 cancel (pairing fails, the link drops), 1 accept,
    2 accept with pin (0..999999). Accepting when nothing waits (Just Works)
    returns 0 and does nothing."""

def smpGetPairedDevInfo() -> Union[list, int]:
    """The bonded peers' addresses (6 bytes, LSB first, as event 16 gives
    them), oldest bond first; at most 10 (the oldest makes room)."""

def smpRemovePairedDev(addr: _Buffer, /) -> int:
    """Forget the bond of addr; -1 if there is none."""

def smpCleanPairedDev() -> int:
    """Forget every bond."""

# -- mpble's own (not QuecPython's) ----------------------------------------------------------

def mpbleSnoop(path: Optional[str], /) -> int:
    """Not QuecPython's: start a btsnoop capture of the HCI traffic into
    `path` (replacing a running one); None stops it. 0, or -1 with the
    reason printed."""

def mpbleStats() -> dict[str, int]:
    """Not QuecPython's: every drop counter of the stack (README
    "Diagnostics"), the same dict as Bluetooth().mpble_stats()."""
