"""Pycom's `network.Bluetooth` (BLE) as mpble's firmware provides it.
Reference: ../shared/reference/pycom-bluetooth-api.md (section numbers
below are its); mpble's choices where Pycom's docs and firmware disagree:
docs/DECISIONS.md.

The five GATT types are not attributes of the firmware's `network` module
(as on Pycom's firmware: they cannot be constructed, only returned by
Bluetooth.connect(), .services(), .characteristics(), Bluetooth.service()
and GATTSService.characteristic()); they are declared here so that editors
know what those calls return.

UUIDs (§9.4): int for 16- and 32-bit UUIDs, 16 bytes (given byte for byte
as the little-endian 128-bit UUID) for 128-bit ones.

Names starting with `mpble` are mpble's own diagnostics, not Pycom's.

Checked against the firmware by python-tests/test_stubs.py.
"""

from typing import Any, Callable, Final, List, NamedTuple, Optional, Tuple, Union

_Buffer = Union[bytes, bytearray, memoryview]
_UUID = Union[int, bytes, str]

class _Adv(NamedTuple):
    """One advertising report (§2.4): `mac` 6 bytes (MSB first, as
    ubinascii.hexlify prints addresses), `addr_type` PUBLIC_ADDR..,
    `adv_type` CONN_ADV.., `rssi` dBm, `data` the advertising data
    followed by the scan response's (parse it with resolve_adv_data)."""

    mac: bytes
    addr_type: int
    adv_type: int
    rssi: int
    data: bytes

class Bluetooth:
    """The BLE radio: a singleton (every Bluetooth() is the same object)."""

    # advertisement types (adv_type of get_adv())
    CONN_ADV: Final = 0
    CONN_DIR_ADV: Final = 1
    DISC_ADV: Final = 2
    NON_CONN_ADV: Final = 3
    SCAN_RSP: Final = 4
    # address types
    PUBLIC_ADDR: Final = 0
    RANDOM_ADDR: Final = 1
    PUBLIC_RPA_ADDR: Final = 2
    RANDOM_RPA_ADDR: Final = 3
    # AD types for resolve_adv_data()
    ADV_FLAG: Final = 1
    ADV_16SRV_PART: Final = 2
    ADV_T16SRV_CMPL: Final = 3
    ADV_32SRV_PART: Final = 4
    ADV_32SRV_CMPL: Final = 5
    ADV_128SRV_PART: Final = 6
    ADV_128SRV_CMPL: Final = 7
    ADV_NAME_SHORT: Final = 8
    ADV_NAME_CMPL: Final = 9
    ADV_TX_PWR: Final = 10
    ADV_DEV_CLASS: Final = 13
    ADV_SERVICE_DATA: Final = 22
    ADV_APPEARANCE: Final = 25
    ADV_ADV_INT: Final = 26
    ADV_32SERVICE_DATA: Final = 32
    ADV_128SERVICE_DATA: Final = 33
    ADV_MANUFACTURER_DATA: Final = 255
    # characteristic properties
    PROP_BROADCAST: Final = 1
    PROP_READ: Final = 2
    PROP_WRITE_NR: Final = 4
    PROP_WRITE: Final = 8
    PROP_NOTIFY: Final = 16
    PROP_INDICATE: Final = 32
    PROP_AUTH: Final = 64
    PROP_EXT_PROP: Final = 128
    # attribute permissions (undocumented by Pycom)
    PERM_READ: Final = 1
    PERM_READ_ENCRYPTED: Final = 2
    PERM_READ_ENC_MITM: Final = 4
    PERM_WRITE: Final = 16
    PERM_WRITE_ENCRYPTED: Final = 32
    PERM_WRITE_ENC_MITM: Final = 64
    PERM_WRITE_SIGNED: Final = 128
    PERM_WRITE_SIGNED_MITM: Final = 256
    # CCCD values (GATTSCharacteristic.config())
    CHAR_CONFIG_NOTIFY: Final = 1
    CHAR_CONFIG_INDICATE: Final = 2
    # event / trigger bits
    NEW_ADV_EVENT: Final = 1
    CLIENT_CONNECTED: Final = 2
    CLIENT_DISCONNECTED: Final = 4
    CHAR_READ_EVENT: Final = 8
    CHAR_WRITE_EVENT: Final = 16
    CHAR_NOTIFY_EVENT: Final = 32
    CHAR_SUBSCRIBE_EVENT: Final = 128
    # antenna
    INT_ANT: Final = 0
    EXT_ANT: Final = 1
    MAN_ANT: Final = 2
    # set_advertisement_params()
    ADV_TYPE_IND: Final = 0
    ADV_TYPE_DIRECT_IND_HIGH: Final = 1
    ADV_TYPE_SCAN_IND: Final = 2
    ADV_TYPE_NONCONN_IND: Final = 3
    ADV_TYPE_DIRECT_IND_LOW: Final = 4
    ADV_BLE_ADDR_TYPE_PUBLIC: Final = 0
    ADV_BLE_ADDR_TYPE_RANDOM: Final = 1
    ADV_BLE_ADDR_TYPE_RPA_PUBLIC: Final = 2
    ADV_BLE_ADDR_TYPE_RPA_RANDOM: Final = 3
    ADV_CHNL_37: Final = 1
    ADV_CHNL_38: Final = 2
    ADV_CHNL_39: Final = 4
    ADV_CHNL_ALL: Final = 7
    ADV_FILTER_ALLOW_SCAN_ANY_CON_ANY: Final = 0
    ADV_FILTER_ALLOW_SCAN_WLST_CON_ANY: Final = 1
    ADV_FILTER_ALLOW_SCAN_ANY_CON_WLST: Final = 2
    ADV_FILTER_ALLOW_SCAN_WLST_CON_WLST: Final = 3
    # tx_power() types and levels
    TX_PWR_CONN: Final = 0
    TX_PWR_ADV: Final = 9
    TX_PWR_SCAN: Final = 10
    TX_PWR_DEFAULT: Final = 11
    TX_PWR_N12: Final = 0
    TX_PWR_N9: Final = 1
    TX_PWR_N6: Final = 2
    TX_PWR_N3: Final = 3
    TX_PWR_0: Final = 4
    TX_PWR_P3: Final = 5
    TX_PWR_P6: Final = 6
    TX_PWR_P9: Final = 7
    # the docs' mode (§13 item 2): accepted and ignored
    BLE: Final = 0
    timeout: type[OSError]
    """The exception connect() raises when its timeout expires (TimeoutError, an OSError)."""

    def __init__(
        self,
        id: int = 0,
        *,
        mode: int = 0,
        antenna: Optional[int] = None,
        modem_sleep: Optional[bool] = None,
        pin: Optional[int] = None,
        privacy: bool = True,
        secure_connections: bool = True,
        mtu: int = 200,
    ) -> None:
        """Start the radio (first time) and return the singleton; keywords
        re-run init(). `id` must be 0."""
    def init(
        self,
        *,
        mode: int = 0,
        antenna: Optional[int] = None,
        modem_sleep: Optional[bool] = None,
        pin: Optional[int] = None,
        privacy: bool = True,
        secure_connections: bool = True,
        mtu: int = 200,
    ) -> None:
        """Start (or restart after deinit()) the radio."""
    def deinit(self) -> None:
        """Disconnect every link and stop the radio."""
    def start_scan(self, timeout: int, /) -> None:
        """Scan for `timeout` s (-1: until stop_scan()). Clears the FIFO."""
    def stop_scan(self) -> None: ...
    def isscanning(self) -> bool: ...
    def get_adv(self) -> Optional[_Adv]:
        """The oldest report of the 16-entry FIFO (new reports are dropped
        while it is full), or None."""
    def get_advertisements(self) -> List[_Adv]:
        """Every report in the FIFO, oldest first; empties it."""
    def resolve_adv_data(self, data: _Buffer, data_type: int, /) -> Union[str, bytes, int, None]:
        """The first AD structure of `data_type` (ADV_*) in `data`: str for
        names, int for flags and TX power, bytes otherwise; None if absent."""
    def connect(self, addr: Union[_Buffer, str], *, timeout: Optional[int] = None, addr_type: Optional[int] = None) -> GATTCConnection:
        """Connect (blocking) to a 6-byte address (adv.mac) or its 12 hex
        digits; `timeout` in ms raises TimeoutError (OSError ETIMEDOUT).
        At most 4 links."""
    def callback(self, trigger: Optional[int], handler: Optional[Callable[[Any], Any]] = None, arg: Any = None) -> None:
        """Call handler(arg) (arg defaults to this object) on the trigger
        bits NEW_ADV_EVENT, CLIENT_CONNECTED, CLIENT_DISCONNECTED."""
    def events(self) -> int:
        """The event bits since the last call (then cleared)."""
    def set_advertisement(
        self,
        *,
        name: Optional[str] = None,
        manufacturer_data: Optional[Union[_Buffer, str]] = None,
        service_data: Optional[Union[_Buffer, str]] = None,
        service_uuid: Optional[_UUID] = None,
    ) -> None:
        """Advertising data (name) and scan response (the rest)."""
    def set_advertisement_params(
        self,
        *,
        adv_int_min: int = ...,
        adv_int_max: int = ...,
        adv_type: int = ...,
        own_addr_type: int = ...,
        channel_map: int = ...,
        adv_filter_policy: int = ...,
    ) -> None:
        """Parameters for the next advertise(True); omitted ones are kept."""
    def set_advertisement_raw(self, raw_data: Optional[_Buffer], /) -> None:
        """Raw advertising data (AD structures)."""
    def advertise(self, enable: bool, /) -> None:
        """Start or stop advertising (restarted after a client leaves)."""
    def service(self, uuid: _UUID, *, isprimary: bool = True, nbr_chars: int = 1, start: bool = True) -> GATTSService:
        """Add a GATT service to the local server."""
    def disconnect_client(self) -> None:
        """Disconnect the client of the local server, if any."""
    def tx_power(self, type: int, level: Optional[int] = None, /) -> Optional[int]:
        """Get (dBm) or set (TX_PWR_N12..TX_PWR_P9) the power of a TX_PWR_* type."""
    def modem_sleep(self, enable: Optional[bool] = None, /) -> Optional[bool]: ...
    def set_pin(self, pin: int, /) -> None:
        """Static passkey for pairing (raises OSError until pairing lands)."""
    def nvram_erase(self) -> None: ...
    def gatts_mtu(self) -> Optional[int]:
        """The ATT MTU of the local server's client link, or None."""
    def mpble_snoop(self, path: Optional[str], /) -> None:
        """Not Pycom's: start a btsnoop capture of the HCI traffic into
        `path` (replacing a running one); None stops it. OSError if the
        file cannot be opened."""
    def mpble_stats(self) -> dict[str, int]:
        """Not Pycom's: every drop counter of the stack (README
        "Diagnostics"), e.g. 'adv_fifo_dropped'."""

class GATTSService:
    """A service of the local GATT server (Bluetooth.service())."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def characteristic(
        self,
        *,
        uuid: _UUID,
        permissions: Optional[int] = None,
        properties: Optional[int] = None,
        value: Union[int, str, _Buffer, None] = None,
    ) -> GATTSCharacteristic:
        """Add a characteristic (default properties READ|WRITE|NOTIFY); an
        int value is stored big-endian in 1, 2 or 4 bytes."""

class GATTSCharacteristic:
    """A characteristic of the local GATT server."""

    def value(self, value: Union[int, str, _Buffer, None] = ..., /) -> Optional[bytes]:
        """Get the stored value, or set it and notify/indicate every
        subscribed client."""
    def callback(
        self,
        trigger: Optional[int],
        handler: Optional[Callable[..., Any]] = None,
        arg: Any = None,
    ) -> None:
        """Call handler on CHAR_READ_EVENT, CHAR_WRITE_EVENT,
        CHAR_SUBSCRIBE_EVENT: handler(arg) if it takes one argument,
        handler(arg, (event, data)) if two. A read handler's return value
        (int, str or bytes) is the Read Response."""
    def events(self) -> int:
        """The event bits since the last call (then cleared)."""
    def config(self) -> int:
        """The client's CCCD value: 0, CHAR_CONFIG_NOTIFY, CHAR_CONFIG_INDICATE."""

class GATTCConnection:
    """A link made by Bluetooth.connect() (the board is the central)."""

    def disconnect(self) -> None: ...
    def isconnected(self) -> bool: ...
    def services(self) -> List[GATTCService]:
        """Discover the peer's primary services (blocking)."""
    def get_mtu(self) -> Optional[int]:
        """The link's ATT MTU (None once closed)."""

class GATTCService:
    """A service of the peer (GATTCConnection.services())."""

    def isprimary(self) -> bool: ...
    def uuid(self) -> Union[int, bytes]: ...
    def instance(self) -> int: ...
    def characteristics(self) -> List[GATTCCharacteristic]:
        """Discover the service's characteristics (blocking)."""

class GATTCCharacteristic:
    """A characteristic of the peer (GATTCService.characteristics())."""

    def uuid(self) -> Union[int, bytes]: ...
    def instance(self) -> int: ...
    def properties(self) -> int:
        """PROP_* bits as discovered."""
    def read(self) -> bytes:
        """Read the whole value (blocking)."""
    def value(self) -> bytes:
        """The value of the last read() or notification."""
    def write(self, value: Union[_Buffer, str], /) -> None:
        """Write Request (blocking)."""
    def read_descriptor(self, uuid: int, /) -> Optional[bytes]:
        """Read this characteristic's descriptor of 16-bit `uuid`, or None."""
    def callback(
        self,
        trigger: Optional[int],
        handler: Optional[Callable[..., Any]] = None,
        arg: Any = None,
    ) -> None:
        """CHAR_NOTIFY_EVENT only: subscribe (the CCCD is written) and call
        handler(arg) or handler(arg, (event, value)) per notification."""
