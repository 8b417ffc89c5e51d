"""Pycom `network.Bluetooth` mechanics, on both kinds of board (unix and the
bare-metal qemu board), against Bumble peers on the same virtual air:

- handlers are called in the form they take (reference §8.2): one argument,
  or the newer `(chr, (event, data))`;
- a read handler that raises answers the read with ATT Unlikely Error at
  once (Vol 3 Part F 3.4.1.1, code 0x0E) instead of leaving the client to
  its 30 s ATT timeout, and the board keeps serving;
- blocking calls (connect, services) work from inside a callback: the wait
  runs the port's idle loop and needs no second thread;
- deinit() stops the radio, calls then raise, and init() starts it again.

The four seed examples, interoperability, limits and Pycom's known failures
are in test_pycom_demos.py, test_pycom_interop.py and test_pycom_limits.py.
"""

from __future__ import annotations

import pytest
from bumble.att import ATT_Error
from bumble.core import AdvertisingData

from qpy_common import assert_no_traceback, board_address

KINDS = ["unix", "qemu"]


@pytest.fixture(params=KINDS)
def any_board(request, air, make_board):
    return make_board(air.add_controller(), kind=request.param)


SERVER = """
from network import Bluetooth
bt = Bluetooth()
bt.set_advertisement(name='api')
srv = bt.service(uuid=0xAA00)
c1 = srv.characteristic(uuid=0xAA01, value=b'one')
c2 = srv.characteristic(uuid=0xAA02, value=b'two')
seen = []
def two(chr, data):
    ev, value = data
    seen.append((ev, value))
    if ev == Bluetooth.CHAR_READ_EVENT:
        return b'from-two'
def boom(chr):
    raise ValueError('handler failed')
c1.callback(trigger=Bluetooth.CHAR_READ_EVENT | Bluetooth.CHAR_WRITE_EVENT, handler=two)
c2.callback(trigger=Bluetooth.CHAR_READ_EVENT, handler=boom)
bt.advertise(True)
print('READY')
"""


def test_handler_forms_and_a_failing_read_handler(any_board, peer):
    b = any_board
    pos = b.exec_nowait(SERVER, timeout=20)
    b.expect("READY", 20, since=pos)
    conn = peer.connect(board_address(b), timeout=10)
    c1 = peer.find_characteristic(conn, "AA01")
    c2 = peer.find_characteristic(conn, "AA02")
    # Two-argument handler: called as handler(chr, (event, data)), its
    # return value is the Read Response.
    assert peer.read(conn, c1.handle) == b"from-two"
    peer.write(conn, c1.handle, b"xyz")
    # The write was answered by the stack; its callback runs next.
    out = b.exec(
        "import time\nt = time.ticks_ms()\n"
        "while len(seen) < 2 and time.ticks_diff(time.ticks_ms(), t) < 3000:\n"
        "    time.sleep_ms(10)\nprint('SEEN', seen)",
        10,
    )
    assert "SEEN [(8, None), (16, b'xyz')]" in out, out
    # A handler that raises: the client gets Unlikely Error now.
    with pytest.raises(ATT_Error) as e:
        peer.read(conn, c2.handle, timeout=10)
    assert e.value.error_code == 0x0E
    # ... and the board keeps serving.
    assert peer.read(conn, c1.handle) == b"from-two"
    assert "ValueError: handler failed" in b.text


BLOCKING_IN_CALLBACK = """
from network import Bluetooth
import time
bt = Bluetooth()
done = []
def on_adv(b):
    if done:
        return
    a = b.get_adv()
    if a is None or b.resolve_adv_data(a.data, Bluetooth.ADV_NAME_CMPL) != 'target':
        return
    done.append(1)
    b.stop_scan()
    c = b.connect(a.mac, timeout=5000)
    print('SERVICES', sorted(s.uuid() for s in c.services()))
    c.disconnect()
bt.callback(trigger=Bluetooth.NEW_ADV_EVENT, handler=on_adv)
bt.start_scan(10)
t = time.ticks_ms()
while not done and time.ticks_diff(time.ticks_ms(), t) < 10000:
    time.sleep_ms(10)
"""


def test_blocking_calls_inside_a_callback(any_board, peer):
    adv = bytes(
        AdvertisingData(
            [(AdvertisingData.FLAGS, b"\x06"), (AdvertisingData.COMPLETE_LOCAL_NAME, b"target")]
        )
    )
    peer.advertise(adv)
    out = any_board.exec(BLOCKING_IN_CALLBACK, timeout=30)
    # Bumble's own GAP and GATT services, found from inside the handler.
    assert "SERVICES [6144, 6145]" in out, out
    assert_no_traceback(any_board)


def test_deinit_then_init_again(any_board):
    out = any_board.exec(
        "from network import Bluetooth\n"
        "bt = Bluetooth()\n"
        "bt.deinit()\n"
        "try:\n"
        "    bt.start_scan(1)\n"
        "except OSError as e:\n"
        "    print('REFUSED', e.errno)\n"
        "bt.init()\n"
        "bt.start_scan(1)\n"
        "print('SCANNING', bt.isscanning())\n"
        "print('SAME', Bluetooth() is bt)\n",
        timeout=30,
    )
    assert "REFUSED 19" in out  # ENODEV: not initialised
    assert "SCANNING True" in out
    assert "SAME True" in out
