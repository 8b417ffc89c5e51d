"""Interoperability nobody else has (issue 8): a board using Pycom's API as
central against a board using QuecPython's API as peripheral, both our
firmware, on the same virtual air.

1. The vendor QuecPython peripheral demo `ble_server.py`, UNCHANGED, on one
   board (table 1..4: service 0x180F, declaration props 0x32, value 0x2A19
   = 244 zero bytes, CCCD; no GAP/GATT services). A Pycom board finds it by
   name, connects (`connect(adv.mac, timeout=)`), lists its one service
   (0x180F, primary) and its characteristic (0x2A19, properties 0x32), and
   `read()` returns the whole 244-byte value, which takes long reads (Read
   Blob) at any MTU the Pycom side can have (<= 200, reference §12).
2. Our QuecPython server (`scripts/qpy_notify_server.py`) notifies b'N000',
   b'N001', ... once a second on handle 3. The Pycom board subscribes with
   `char.callback(Bluetooth.CHAR_NOTIFY_EVENT, handler)`: the CCCD (handle
   4) gets 01 00 (notifications, reference §5.1), and a two-argument handler
   gets `(char, (32, value))` for each notification, in order, none lost,
   `char.value()` holding that value; then a one-argument handler (older
   firmware's form, §8.2) gets the char, whose value() is the new value.
3. Pycom on both boards: UUIDs and int/str value encodings survive the
   trip (§9), a write reaches the server, value(bytes) reaches the client;
   and value(int) is big-endian like every other int (a separate test).
"""

from __future__ import annotations

import re

from pycom_peers import line, pycom_central, wait_until
from qpy_common import assert_no_traceback, att_pdus_to_board, scripts_dir, start_demo


def test_pycom_central_reads_quecpython_server_demo(two_boards):
    server, client = two_boards
    spos = start_demo(server)
    pycom_central(client)
    out = client.exec(
        """\
conn = find_connect('Quectel_ble')
print('CONNECTED', conn.isconnected())
for s in conn.services():
    print('SVC', hex(s.uuid()), s.isprimary())
    for c in s.characteristics():
        print('CHR', hex(c.uuid()), hex(c.properties()))
        if c.uuid() == 0x2A19:
            v = c.read()
            print('VALUE', type(v).__name__, len(v), v == bytes(244))
conn.disconnect()
""",
        40,
    )
    assert out.splitlines() == [
        "CONNECTED True",
        "SVC 0x180f True",
        "CHR 0x2a19 0x32",
        "VALUE bytes 244 True",
    ], out
    server.expect(line("[callback] ble connect successful."), 5, since=spos)
    # the demo's disconnect handler runs when the Pycom side hangs up
    server.expect(line("[callback] ble disconnect successful."), 5, since=spos)
    wait_until(lambda: client.eval("conn.isconnected()") == "False", 5, "isconnected() False after disconnect()")
    assert_no_traceback(client)
    assert_no_traceback(server)


SERVER = scripts_dir() / "qpy_notify_server.py"


def test_pycom_central_subscribes_to_quecpython_notifications(two_boards):
    server, client = two_boards
    spos = server.run_file(SERVER)
    server.expect(line("READY"), 10, since=spos)
    pycom_central(client)
    client.exec(
        """\
conn = find_connect('mpble-ntf')
ch = find_char(conn, 0xFFF1)
got = []
def h2(c, data):
    got.append(data[1])
    print('NTF2', data[0], data[1], c is ch, c.value() == data[1])
ch.callback(trigger=Bluetooth.CHAR_NOTIFY_EVENT, handler=h2)
print('SUBSCRIBED')
""",
        20,
    )
    # the CCCD write the board made for the user: Write Request, handle 4, 01 00
    writes = wait_until(lambda: [p for p in att_pdus_to_board(server.slot, 0x12) if p[1:3] == b"\x04\x00"], 5, "a CCCD write")
    assert writes == [b"\x12\x04\x00\x01\x00"], writes

    # four notifications in the two-argument handler (the REPL is idle:
    # callbacks run there)
    # Whole lines only: a handler may still be printing the last one.
    NTF2_RE = re.compile(r"NTF2 (\d+) b'(N\d{3})' (\w+) (\w+)\r?\n")
    NTF1_RE = re.compile(r"NTF1 (\w+) b'(N\d{3})'\r?\n")
    wait_until(lambda: len(NTF2_RE.findall(client.transcript)) >= 4, 10, "four notifications")
    pos = client.mark()
    # then the one-argument form
    client.exec(
        """\
def h1(c):
    print('NTF1', c is ch, c.value())
ch.callback(trigger=Bluetooth.CHAR_NOTIFY_EVENT, handler=h1)
""",
        10,
    )
    wait_until(lambda: len(NTF1_RE.findall(client.transcript, pos)) >= 2, 10, "two notifications in the one-argument handler")
    server.expect(line("DONE"), 15, since=spos)

    sent = re.findall(r"SENT bytearray\(b'(N\d{3})'\)", server.transcript[spos:])
    assert "NOT SENT" not in server.transcript[spos:]
    ntf2 = NTF2_RE.findall(client.transcript)
    ntf1 = NTF1_RE.findall(client.transcript)
    assert len(ntf2) >= 4 and len(ntf1) >= 2, (ntf2, ntf1)
    assert all(e == "32" and same == "True" and fresh == "True" for e, _v, same, fresh in ntf2), ntf2
    assert all(same == "True" for same, _v in ntf1), ntf1
    # every value the handlers saw is one the server sent, in order, with no
    # gap: from the first one after subscribing to the last one received
    seen = [v for _e, v, _s, _f in ntf2] + [v for _s, v in ntf1]
    first = sent.index(seen[0])
    assert seen == sent[first : first + len(seen)], (seen, sent)
    assert_no_traceback(client)
    assert_no_traceback(server)


V1234 = bytes([0x12, 0x34])
V12345678 = bytes([0x12, 0x34, 0x56, 0x78])
VABCD = bytes([0xAB, 0xCD])
VF2 = bytes([0xF2])


PYCOM_SERVER = """\
from network import Bluetooth
bt = Bluetooth()
bt.set_advertisement(name='pyserver')
s1 = bt.service(uuid=b'1234567890123456', nbr_chars=3)
c1 = s1.characteristic(uuid=b'ab34567890123456', value=0x1234)
c2 = s1.characteristic(uuid=0x2A19, value=0x12345678)
c3 = s1.characteristic(uuid=0xFFE1, value='text')
bt.advertise(True)
print('VALUES', c1.value(), c2.value(), c3.value())
"""

PYCOM_CLIENT = """\
conn = find_connect('pyserver')
svcs = conn.services()
print('SVCS', [s.uuid() for s in svcs])
s = [s for s in svcs if s.uuid() == b'1234567890123456'][0]
chars = s.characteristics()
print('CHARS', [c.uuid() for c in chars])
print('READS', [c.read() for c in chars])
"""


def pycom_pair(two_boards):
    """A Pycom server (PYCOM_SERVER) and a Pycom central connected to it,
    having read its three characteristics."""
    server, client = two_boards
    out = server.exec(PYCOM_SERVER, 15)
    assert out.strip() == f"VALUES {V1234!r} {V12345678!r} b'text'", out
    pycom_central(client)
    out = client.exec(PYCOM_CLIENT, 30)
    lines = out.splitlines()
    assert lines[0].startswith("SVCS [") and "b'1234567890123456'" in lines[0], out
    assert lines[1] == "CHARS [b'ab34567890123456', 10777, 65505]", out
    assert lines[2] == f"READS [{V1234!r}, {V12345678!r}, b'text']", out
    return server, client


def test_pycom_central_against_pycom_server(two_boards):
    """Pycom on both sides (reference §9): UUIDs given to service() and
    characteristic() come back identical from uuid() on the other board
    (128-bit as the same 16 bytes, 16-bit as ints); initial int values are
    big-endian in 1, 2 or 4 bytes (§9.1); str values are their bytes; a
    write lands in the server's value(); value(bytes) on the server is what
    the client reads next."""
    server, client = pycom_pair(two_boards)
    client.exec("chars[2].write(b'from pycom')", 15)
    assert server.exec("print('V', c3.value())", 10).strip() == "V b'from pycom'"
    server.exec("c1.value(b'set by server')", 10)
    assert client.exec("print('R', chars[0].read())", 15).strip() == "R b'set by server'"
    client.exec("conn.disconnect()", 10)
    assert_no_traceback(client)
    assert_no_traceback(server)


def test_pycom_server_value_int_is_big_endian(two_boards):
    """GATTSCharacteristic.value(int) stores the int as the initial value
    does: big-endian in 1, 2 or 4 bytes. The issue asks for Pycom's int
    encodings with big-endian ints and does not copy the firmware's plain
    bugs; the firmware's setter is little-endian and cuts anything above
    0xFFFF to 2 bytes (reference §9.1, §13 item 9: value(0x12345678) stores
    78 56, losing half the int)."""
    server, client = pycom_pair(two_boards)
    server.exec("c1.value(0xABCD)\nc2.value(0x12345678)\nc3.value(0xF2)", 10)
    out = client.exec("print('READS', [c.read() for c in chars])", 15)
    assert out.strip() == f"READS [{VABCD!r}, {V12345678!r}, {VF2!r}]", out
    assert server.exec("print('V', c1.value(), c2.value(), c3.value())", 10).strip() == f"V {VABCD!r} {V12345678!r} {VF2!r}"
    client.exec("conn.disconnect()", 10)
    assert_no_traceback(client)
    assert_no_traceback(server)
