"""Pycom `network.Bluetooth`: limits, errors and Pycom's known failures
(issue 8, "Limits and errors" and "Pycom's known failures"), against Bumble
peers (pycom_peers.py) on the virtual air.

Limits and errors
- A fifth simultaneous connection raises OSError (the fifth peer never sees
  a link) and the four links keep working (each read returns its peer's
  own value).
- With the 16-entry advertisement FIFO full, new reports are dropped (the
  16 kept are the oldest: all carry the advertiser's first data, none the
  data it switched to afterwards) and counted in
  `Bluetooth().mpble_stats()['adv_fifo_dropped']`; draining the FIFO lets
  the new data in, and the board still connects.
- Bad argument types and values raise TypeError/ValueError whose message
  names the argument.
- A peer that disappears (hangs up) during `services()` or `read()` makes
  the call raise OSError(ENOTCONN) at once; a peer that goes silent during `read()`
  makes it raise OSError(ETIMEDOUT) at the ATT transaction timeout (30 s,
  Vol 3 Part F 3.3.3), not later; the board then connects to another peer
  and reads.

Blocking calls work inside a callback: a notification handler runs
services(), read() and write().

Pycom's known failures, each a regression test
- `connect(mac, timeout=2000)` to an address nobody uses raises
  TimeoutError / OSError(ETIMEDOUT) after about 2 s (not ~30 s).
- `services()` against a peer whose every ATT response comes 2 s late
  completes (then characteristics() and read() too).
- 200 back-to-back `value()` updates on a subscribed characteristic all
  reach the Bumble central, in order.
- `read()` after a notification returns the fresh value (and `value()`
  holds it).
- A client writing the CCCD triggers the CHAR_SUBSCRIBE_EVENT callback
  (`config()` then gives the CCCD value), on subscribe and unsubscribe.
"""

from __future__ import annotations

import re
import time

import pytest

from bumble.hci import OwnAddressType

from pycom_peers import (
    TEST_CHAR,
    TEST_SERVICE,
    find_chr,
    gate_responses,
    line,
    named_peer,
    pycom_central,
    wait_until,
)
from qpy_common import adv_data_with_name, assert_no_traceback, board_address


def test_fifth_connection_raises_and_four_links_keep_working(air, board):
    peers = [named_peer(air, f"lim{i}", f"value of lim{i}".encode()) for i in range(5)]
    pycom_central(board)
    out = board.exec(
        """\
conns = []
chars = []
for i in range(4):
    c = find_connect('lim%d' % i)
    conns.append(c)
    chars.append(find_char(c, 0xFFE1))
print('FOUR', [c.isconnected() for c in conns])
a = find_adv('lim4')
try:
    c5 = bt.connect(a.mac, timeout=5000)
    print('FIFTH connected', c5.isconnected())
except OSError as e:
    print('FIFTH', type(e).__name__, isinstance(e, OSError))
for ch in chars:
    print('READ', ch.read())
print('STILL', [c.isconnected() for c in conns])
""",
        120,
    )
    lines = out.splitlines()
    assert lines[0] == "FOUR [True, True, True, True]", out
    assert re.fullmatch(r"FIFTH \w+ True", lines[1]), out
    assert lines[2:6] == [f"READ b'value of lim{i}'" for i in range(4)], out
    assert lines[6] == "STILL [True, True, True, True]", out
    assert not peers[4][0].connections, "the fifth peer saw a link"
    for p, _ch in peers[:4]:
        assert len(p.device.connections) == 1
    board.exec("for c in conns:\n    c.disconnect()\n", 10)
    for p, _ch in peers[:4]:
        wait_until(lambda: not p.device.connections, 5, f"{p.name} to see the disconnection")
    assert_no_traceback(board)


def _stats(board) -> dict:
    out = board.exec("print('STATS', sorted(Bluetooth().mpble_stats().items()))", 10)
    m = re.search(r"STATS (\[.*\])", out)
    assert m, out
    import ast

    return dict(ast.literal_eval(m.group(1)))


def test_adv_fifo_full_drops_new_reports_and_counts_them(air, board):
    peer, _ch = named_peer(air, "A", b"x", interval_ms=20)
    board.exec("from network import Bluetooth\nimport time\nbt = Bluetooth()", 10)
    before = _stats(board)
    assert before.get("adv_fifo_dropped") == 0, before
    board.exec("bt.start_scan(-1)\ntime.sleep_ms(1500)", 10)
    full = _stats(board)
    assert full["adv_fifo_dropped"] > 0, full

    # the advertiser switches to the name B; the FIFO is full, so none of it
    # gets in
    async def _switch():
        await peer.device.stop_advertising()
        await peer.device.start_advertising(
            advertising_data=adv_data_with_name(b"B"),
            scan_response_data=adv_data_with_name(b"B"),
            own_address_type=OwnAddressType.RANDOM,
            auto_restart=False,
            advertising_interval_min=20,
            advertising_interval_max=20,
        )

    air.run(_switch(), 5)
    time.sleep(1.0)
    later = _stats(board)
    assert later["adv_fifo_dropped"] > full["adv_fifo_dropped"], (full, later)
    out = board.exec(
        """\
L = bt.get_advertisements()
print('N', len(L))
print('NAMES', sorted(set(bt.resolve_adv_data(a.data, Bluetooth.ADV_NAME_CMPL) for a in L)))
print('MACS', sorted(set(bytes(a.mac) for a in L)), sorted(set(a.addr_type for a in L)))
""",
        10,
    )
    mac = bytes(peer.random_address)[::-1]  # MSB first, as ESP-IDF's bda (reference §2.4)
    assert out.splitlines()[:3] == ["N 16", "NAMES ['A']", f"MACS [{mac!r}] [1]"], out
    # the queue flows again and the stack answers: the new name arrives,
    # the scan stops, and the board connects to the advertiser
    out = board.exec(
        """\
t0 = time.ticks_ms()
a = None
while time.ticks_diff(time.ticks_ms(), t0) < 3000:
    a = bt.get_adv()
    if a and bt.resolve_adv_data(a.data, Bluetooth.ADV_NAME_CMPL) == 'B':
        break
print('NEW', a and bt.resolve_adv_data(a.data, Bluetooth.ADV_NAME_CMPL))
bt.stop_scan()
print('SCANNING', bt.isscanning())
c = bt.connect(a.mac, timeout=5000)
print('CONNECTED', c.isconnected(), [hex(s.uuid()) for s in c.services()][-1])
c.disconnect()
""",
        30,
    )
    assert out.splitlines() == ["NEW B", "SCANNING False", "CONNECTED True 0xffe0"], out
    after = _stats(board)
    # nothing else was lost on the way
    for k, v in after.items():
        if k != "adv_fifo_dropped":
            assert v == before[k], (k, before, after)
    assert_no_traceback(board)


# (call, exception type, argument name the message must contain)
BAD_ARGS = [
    ("bt.start_scan('10')", "TypeError", "timeout"),
    ("bt.start_scan(0)", "ValueError", "timeout"),
    ("bt.resolve_adv_data(123, Bluetooth.ADV_NAME_CMPL)", "TypeError", "data"),
    ("bt.resolve_adv_data(b'', 'name')", "TypeError", "data_type"),
    ("bt.connect(12345)", "TypeError", "addr"),
    ("bt.connect(b'\\x01\\x02\\x03')", "ValueError", "addr"),
    ("bt.connect('zz0000000000')", "ValueError", "addr"),
    ("bt.connect(b'\\x01\\x02\\x03\\x04\\x05\\x06', timeout='soon')", "TypeError", "timeout"),
    ("bt.callback(trigger='all', handler=print)", "TypeError", "trigger"),
    ("bt.set_advertisement(name=123)", "TypeError", "name"),
    ("bt.set_advertisement(name='x', manufacturer_data=42)", "TypeError", "manufacturer_data"),
    ("bt.set_advertisement(name='x', service_uuid=b'12345')", "ValueError", "service_uuid"),
    ("bt.set_advertisement(name='x', service_uuid=1.5)", "TypeError", "service_uuid"),
    ("bt.service(uuid=b'short')", "ValueError", "uuid"),
    ("bt.service(uuid=1.5)", "TypeError", "uuid"),
    ("bt.service(uuid=0xFFE0, nbr_chars='two')", "TypeError", "nbr_chars"),
    ("srv.characteristic(uuid=b'abc')", "ValueError", "uuid"),
    ("srv.characteristic(uuid=[1])", "TypeError", "uuid"),
    ("srv.characteristic(uuid=0xFFE1, value=1.5)", "TypeError", "value"),
    ("srv.characteristic(uuid=0xFFE1, properties='rw')", "TypeError", "properties"),
    ("chr.value(1.5)", "TypeError", "value"),
]


def test_bad_arguments_raise_naming_the_argument(board):
    board.exec(
        """\
from network import Bluetooth
bt = Bluetooth()
srv = bt.service(uuid=0xFFF0, nbr_chars=4)
chr = srv.characteristic(uuid=0xFFF1, value=b'ok')
def chk(src):
    try:
        eval(src)
    except Exception as e:
        print('CHK', type(e).__name__, '|' + str(e))
    else:
        print('CHK none')
""",
        15,
    )
    problems = []
    for src, exc, name in BAD_ARGS:
        out = board.exec(f"chk({src!r})", 10).strip()
        m = re.fullmatch(r"CHK (\w+)(?: \|(.*))?", out)
        if not m or m.group(1) != exc or name not in (m.group(2) or ""):
            problems.append(f"{src}: expected {exc} naming {name!r}, got {out!r}")
    assert not problems, "\n".join(problems)
    # nothing half-done: the good calls still work
    assert board.exec("print(chr.value(), srv.characteristic(uuid=0xFFF2, value=7).value())", 10).strip() == "b'ok' b'\\x07'"
    assert_no_traceback(board)


def _peer_drops(air, peer, seen: list) -> None:
    """Hang the peer up once the board's request has reached it."""
    wait_until(lambda: seen, 20, f"a request to reach {peer.name}")
    for conn in list(peer.device.connections.values()):
        peer.disconnect(conn)


# Each blocking call of a central, and what it waits in when the peer hangs up.
HANG_UP_CALLS = {
    # (set-up after connecting, the call)
    "services": ("", "conn.services()"),
    "read": ("ch = find_char(conn, 0xFFE1)", "ch.read()"),
}


@pytest.mark.parametrize("call", sorted(HANG_UP_CALLS))
def test_peer_hanging_up_during_blocking_call_raises(air, board, call):
    """The peer hangs up while the board's services() or read() waits for
    its answer: the call raises OSError(ENOTCONN) at once, the connection
    says it is gone, and the board goes on to use another peer."""
    setup, expr = HANG_UP_CALLS[call]
    gone, _ = named_peer(air, "gone", b"never read")
    ok, _ = named_peer(air, "ok", b"read me")
    pycom_central(board)
    board.exec(f"import errno\nconn = find_connect('gone')\n{setup}", 20)
    seen = air.call(gate_responses, gone, drop=True)
    pos = board.exec_nowait(
        f"""\
t0 = time.ticks_ms()
try:
    {expr}
    print('CALL returned anyway', 0)
except OSError as e:
    print('CALL', type(e).__name__, (e.args[0] if e.args else None) == errno.ENOTCONN, time.ticks_diff(time.ticks_ms(), t0))
print('ISCONNECTED', conn.isconnected())
"""
    )
    _peer_drops(air, gone, seen)
    m = board.expect(r"CALL (\w+) (\w+) ", 35, since=pos)
    assert m.group(1) != "returned", f"{expr} returned although the peer hung up"
    assert m.group(2) == "True", f"OSError(ENOTCONN) expected: {m.group(0)}"
    board.expect(line("ISCONNECTED False"), 5, since=pos)
    board.wait_prompt(5)
    out = board.exec("c = find_connect('ok')\nprint('READ', find_char(c, 0xFFE1).read())\nc.disconnect()", 30)
    assert out.strip() == "READ b'read me'", out
    assert_no_traceback(board)


def test_silent_peer_read_times_out_with_etimedout(air, board):
    silent, _ = named_peer(air, "silent", b"never read")
    ok, _ = named_peer(air, "ok", b"read me")
    pycom_central(board)
    board.exec("import errno\nconn = find_connect('silent')\nch = find_char(conn, 0xFFE1)", 20)
    air.call(gate_responses, silent, drop=True)
    out = board.exec(
        """\
t0 = time.ticks_ms()
try:
    print('READ returned', ch.read())
except OSError as e:
    print('READ', type(e).__name__, (e.args[0] if e.args else None) == errno.ETIMEDOUT, time.ticks_diff(time.ticks_ms(), t0), e.args)
""",
        60,
    )
    m = re.fullmatch(r"READ (\w+) (\w+) (\d+) .*", out.strip())
    assert m, out
    # the ATT transaction timeout is 30 s (Vol 3 Part F 3.3.3): raised then
    assert m.group(2) == "True", f"OSError(ETIMEDOUT) expected: {out}"
    assert int(m.group(3)) <= 35000, f"raised after {m.group(3)} ms, not at the 30 s ATT timeout"
    out = board.exec("c = find_connect('ok')\nprint('READ', find_char(c, 0xFFE1).read())\nc.disconnect()", 30)
    assert out.strip() == "READ b'read me'", out
    assert_no_traceback(board)


# -- Pycom's known failures ------------------------------------------------------------------


def test_connect_honours_its_timeout(air, board):
    # the air's controllers end a cancelled attempt as the spec says (air.py)
    ok, _ = named_peer(air, "ok", b"read me")
    pycom_central(board)
    out = board.exec(
        """\
import errno
t0 = time.ticks_ms()
try:
    bt.connect(b'\\xc0\\x11\\x22\\x33\\x44\\x55', timeout=2000)
    print('CONNECT returned')
except OSError as e:
    dt = time.ticks_diff(time.ticks_ms(), t0)
    print('CONNECT', type(e).__name__, type(e).__name__ == 'TimeoutError' or (len(e.args) > 0 and e.args[0] == errno.ETIMEDOUT), dt)
""",
        60,
    )
    m = re.fullmatch(r"CONNECT (\w+) (\w+) (\d+)", out.strip())
    assert m, out
    assert m.group(2) == "True", f"TimeoutError or OSError(ETIMEDOUT) expected: {out}"
    # near its 2 s, not Pycom's ~30 s
    assert 1500 <= int(m.group(3)) <= 6000, out
    # the failed attempt left nothing behind: a real connect works
    out = board.exec("c = find_connect('ok')\nprint('READ', find_char(c, 0xFFE1).read())\nc.disconnect()", 30)
    assert out.strip() == "READ b'read me'", out
    assert_no_traceback(board)


def test_services_against_a_slow_peer_completes(air, board):
    slow, _ = named_peer(air, "slow", b"slowly read")
    pycom_central(board)
    board.exec("conn = find_connect('slow')", 30)
    seen = air.call(gate_responses, slow, delay=2.0)
    out = board.exec(
        """\
svcs = conn.services()
print('SERVICES', [hex(s.uuid()) for s in svcs])
chars = [c for s in svcs if s.uuid() == 0xFFE0 for c in s.characteristics()]
print('CHARS', [hex(c.uuid()) for c in chars])
print('READ', chars[0].read())
""",
        120,
    )
    assert out.splitlines() == [
        "SERVICES ['0x1800', '0x1801', '0xffe0']",
        "CHARS ['0xffe1']",
        "READ b'slowly read'",
    ], out
    assert len(seen) >= 3, "the peer answered late at least three requests"
    assert_no_traceback(board)


PYCOM_SERVER = """\
from network import Bluetooth
import time
bt = Bluetooth()
bt.set_advertisement(name='pyserver')
srv = bt.service(uuid=0xFFE0, isprimary=True)
ch = srv.characteristic(uuid=0xFFE1, value=b'start')
bt.advertise(True)
"""


def _connect_and_find(peer, board):
    conn = peer.connect(board_address(board))
    ch = find_chr(peer.discover(conn), TEST_SERVICE, TEST_CHAR)
    return conn, ch


def test_rapid_value_updates_lose_no_notification(board, peer):
    board.exec(PYCOM_SERVER, 15)
    conn, ch = _connect_and_find(peer, board)
    got = peer.subscribe(conn, ch)
    time.sleep(0.5)
    n = 200
    board.exec(f"for i in range({n}):\n    ch.value(('v%03d' % i).encode())\nprint('DONE')", 60)
    want = [f"v{i:03d}".encode() for i in range(n)]
    wait_until(lambda: len([v for v in got if v != b"start"]) >= n, 15, f"{n} notifications")
    time.sleep(0.3)
    values = [v for v in got if v != b"start"]
    assert values == want, f"{len(values)} notifications: first missing {next((w for w in want if w not in values), None)!r}"
    assert_no_traceback(board)


def test_read_after_notification_returns_the_fresh_value(air, board):
    fresh, bumble_ch = named_peer(air, "fresh", b"old value")
    pycom_central(board)
    out = board.exec(
        """\
conn = find_connect('fresh')
ch = find_char(conn, 0xFFE1)
print('R1', ch.read())
def h(c, data):
    print('NTF', data[1])
ch.callback(trigger=Bluetooth.CHAR_NOTIFY_EVENT, handler=h)
""",
        30,
    )
    assert out.strip() == "R1 b'old value'", out

    def subscribed():
        def _get():
            return any(bumble_ch.handle in subs and subs[bumble_ch.handle] for subs in fresh.device.gatt_server.subscribers.values())

        return air.call(_get)

    wait_until(subscribed, 5, "the board to enable notifications in the CCCD")
    pos = board.mark()

    async def _notify():
        bumble_ch.value = b"new value"
        await fresh.device.notify_subscribers(bumble_ch)

    air.run(_notify(), 5)
    board.expect(line("NTF b'new value'"), 5, since=pos)
    out = board.exec("print('V', ch.value())\nprint('R2', ch.read())\nprint('V2', ch.value())", 15)
    assert out.splitlines() == ["V b'new value'", "R2 b'new value'", "V2 b'new value'"], out
    assert_no_traceback(board)


def test_blocking_calls_work_inside_a_callback(air, board):
    """Issue 8: blocking calls work when called from inside a callback. A
    notification handler discovers the services again, reads the
    characteristic and writes it."""
    cb_peer, bumble_ch = named_peer(air, "incb", b"first")
    pycom_central(board)
    board.exec(
        """\
conn = find_connect('incb')
ch = find_char(conn, 0xFFE1)
def h(c, data):
    print('IN_CB', data[1], [hex(s.uuid()) for s in conn.services()][-1], c.read())
    c.write(b'written in a callback')
    print('WROTE')
ch.callback(trigger=Bluetooth.CHAR_NOTIFY_EVENT, handler=h)
""",
        30,
    )

    def subscribed():
        return air.call(lambda: any(subs.get(bumble_ch.handle) for subs in cb_peer.device.gatt_server.subscribers.values()))

    wait_until(subscribed, 5, "the board to enable notifications")
    pos = board.mark()

    async def _notify():
        bumble_ch.value = b"second"
        await cb_peer.device.notify_subscribers(bumble_ch)

    air.run(_notify(), 5)
    board.expect(line("IN_CB b'second' 0xffe0 b'second'"), 15, since=pos)
    board.expect(line("WROTE"), 10, since=pos)
    assert air.call(lambda: bytes(bumble_ch.value)) == b"written in a callback"
    assert_no_traceback(board)


def test_cccd_write_triggers_the_subscribe_callback(board, peer):
    board.exec(
        PYCOM_SERVER
        + """\
def h(c):
    print('SUB', c.events(), c.config())
ch.callback(trigger=Bluetooth.CHAR_SUBSCRIBE_EVENT, handler=h)
""",
        15,
    )
    conn, ch = _connect_and_find(peer, board)
    pos = board.mark()
    peer.subscribe(conn, ch)
    board.expect(line("SUB 128 1"), 5, since=pos)
    pos = board.mark()
    peer.air.run(conn.gatt_client.unsubscribe(ch), 5)
    board.expect(line("SUB 128 0"), 5, since=pos)
    assert_no_traceback(board)
