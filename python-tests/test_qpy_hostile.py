"""A hostile central against the vendor QuecPython server demo.

The board runs shared/demos/quecpython/ble_server.py unchanged (table: 1
service 0x180F, 2 characteristic declaration, 3 value 0x2A19 (244 bytes,
read|write), 4 CCCD). A Bumble central sends malformed and unexpected ATT
PDUs with raw L2CAP (CID 4) and checks the exact answer the Core spec asks
for; after every bad PDU a good Read Request of handle 1 must still be
answered with Read Response 0B 0F 18.

Error Response: Vol 3 Part F 3.4.1.1 (01, request opcode in error, handle in
error LE, error code; handle 0x0000 when no handle applies). A PDU with the
Command Flag (bit 6) set that the server does not support is ignored
(3.3.1, 3.4.8); an unsupported request gets Request Not Supported (0x06).
Codes: 0x01 Invalid Handle, 0x03 Write Not Permitted, 0x04 Invalid PDU,
0x06 Request Not Supported, 0x07 Invalid Offset, 0x0A Attribute Not Found,
0x0D Invalid Attribute Value Length, 0x10 Unsupported Group Type.
"""

from __future__ import annotations

from qpy_common import (
    GOOD_READ,
    GOOD_READ_RSP,
    assert_no_traceback,
    board_conn_handle,
    connect_to_demo,
    err_rsp,
    line,
    lines_in_order,
    start_demo,
)

VALUE_LEN = 244
NO_RESPONSE = None


def h(s: str) -> bytes:
    return bytes.fromhex(s.replace(" ", ""))


# (what, PDU, expected answer or NO_RESPONSE, optional (follow-up request, answer))
DEFAULT_MTU_CASES = [
    ("empty ATT PDU", b"", NO_RESPONSE, None),
    ("truncated Read Request (1 handle byte)", h("0A 01"), err_rsp(0x0A, 0, 0x04), None),
    ("truncated Write Request (no handle)", h("12 03"), err_rsp(0x12, 0, 0x04), None),
    ("truncated Find Information Request", h("04 01 00 FF"), err_rsp(0x04, 0, 0x04), None),
    ("Read By Group Type with a 3-byte UUID", h("10 0100 FFFF 002800"), err_rsp(0x10, 0, 0x04), None),
    ("unknown request 0x1F", h("1F 0100"), err_rsp(0x1F, 0, 0x06), None),
    ("unknown request 0x22", h("22"), err_rsp(0x22, 0, 0x06), None),
    ("unknown command 0x7F (command flag)", h("7F 0102"), NO_RESPONSE, None),
    ("unknown command 0xFF (command flag)", h("FF"), NO_RESPONSE, None),
    ("Read handle 0", h("0A 0000"), err_rsp(0x0A, 0x0000, 0x01), None),
    ("Read handle 0x0100 (beyond the table)", h("0A 0001"), err_rsp(0x0A, 0x0100, 0x01), None),
    ("Read handle 0xFFFF", h("0A FFFF"), err_rsp(0x0A, 0xFFFF, 0x01), None),
    ("Read Blob handle 0x0100", h("0C 0001 0000"), err_rsp(0x0C, 0x0100, 0x01), None),
    ("Read Multiple with a handle beyond the table", h("0E 0100 0001"), err_rsp(0x0E, 0x0100, 0x01), None),
    ("Find Information reversed range 5..1", h("04 0500 0100"), err_rsp(0x04, 5, 0x01), None),
    ("Find Information start handle 0", h("04 0000 FFFF"), err_rsp(0x04, 0, 0x01), None),
    ("Find Information beyond the table", h("04 0001 FFFF"), err_rsp(0x04, 0x0100, 0x0A), None),
    ("Find By Type Value reversed range", h("06 0400 0100 0028 0F18"), err_rsp(0x06, 4, 0x01), None),
    ("Read By Type reversed range", h("08 0400 0100 0328"), err_rsp(0x08, 4, 0x01), None),
    ("Read By Type beyond the table", h("08 0001 FFFF 0328"), err_rsp(0x08, 0x0100, 0x0A), None),
    ("Read By Group Type reversed range", h("10 0400 0100 0028"), err_rsp(0x10, 4, 0x01), None),
    ("Read By Group Type, non-group type 0x2803", h("10 0100 FFFF 0328"), err_rsp(0x10, 1, 0x10), None),
    ("Read By Group Type beyond the table", h("10 0500 FFFF 0028"), err_rsp(0x10, 5, 0x0A), None),
    ("Write to the characteristic declaration (read-only)", h("12 0200 00"), err_rsp(0x12, 2, 0x03),
     (h("0A 0200"), h("0B 32 0300 192A"))),
    ("Write to handle 0", h("12 0000 01"), err_rsp(0x12, 0, 0x01), None),
    ("Write beyond the table", h("12 0001 01"), err_rsp(0x12, 0x0100, 0x01), None),
    ("Write Command to the declaration (no response, no change)", h("52 0200 FF"), NO_RESPONSE,
     (h("0A 0200"), h("0B 32 0300 192A"))),
    ("Prepare Write to the declaration", h("16 0200 0000 01"), err_rsp(0x16, 2, 0x03), None),
    ("CCCD write of 3 bytes", h("12 0400 010000"), err_rsp(0x12, 4, 0x0D), (h("0A 0400"), h("0B 0000"))),
    ("Execute Write (write) with nothing queued", h("18 01"), h("19"), None),
    ("Execute Write (cancel) with nothing queued", h("18 00"), h("19"), None),
    ("unexpected Handle Value Confirmation", h("1E"), NO_RESPONSE, None),
    ("a Read Response sent to the server", h("0B 0102"), NO_RESPONSE, None),
    ("Signed Write Command without a key (ignored)", h("D2 0300 4142") + bytes(12), NO_RESPONSE,
     (h("0A 0300"), h("0B") + bytes(22))),
]


def _exchange(peer, conn, pdu: bytes, expected, timeout: float = 2.0):
    """Send one hostile PDU; returns None if the answer is right, else text."""
    try:
        if expected is NO_RESPONSE:
            peer.att_send(conn, pdu)
            # Anything the board answered to `pdu` would arrive before the
            # answer to this good request.
            got = peer.att_raw(conn, GOOD_READ, timeout)
            if got != GOOD_READ_RSP:
                return f"expected no answer, then {GOOD_READ_RSP.hex()}; got {got.hex()}"
            return None
        got = peer.att_raw(conn, pdu, timeout)
        if got != expected:
            return f"got {got.hex()}, expected {expected.hex()}"
        return None
    except TimeoutError as e:
        return f"no answer ({e})"


def _run_cases(peer, conn, cases) -> list[str]:
    failures = []
    for what, pdu, expected, follow in cases:
        problem = _exchange(peer, conn, pdu, expected)
        if problem:
            failures.append(f"{what} [{pdu.hex()}]: {problem}")
        if follow:
            req, want = follow
            problem = _exchange(peer, conn, req, want)
            if problem:
                failures.append(f"{what} [{pdu.hex()}], then {req.hex()}: {problem}")
        problem = _exchange(peer, conn, GOOD_READ, GOOD_READ_RSP)
        if problem:
            failures.append(f"{what} [{pdu.hex()}], then the good read: {problem}")
    return failures


def test_hostile_pdus_at_default_mtu(air, board, peer):
    pos = start_demo(board)
    conn = connect_to_demo(peer, board, pos)
    assert peer.att_raw(conn, GOOD_READ, 3) == GOOD_READ_RSP

    failures = _run_cases(peer, conn, DEFAULT_MTU_CASES)

    # Exchange MTU with a Client Rx MTU of 10 (below the LE minimum 23): the
    # server still answers with its own Rx MTU (517 = 05 02), and ATT_MTU
    # stays max(23, min(10, 517)) = 23 (Vol 3 Part F 3.4.2.2, Part G 5.2.1),
    # so a read of the 244-byte value returns 22 bytes.
    mark = len(board.transcript)
    problem = _exchange(peer, conn, h("02 0A00"), h("03 0502"))
    if problem:
        failures.append(f"Exchange MTU with client MTU 10: {problem}")
    problem = _exchange(peer, conn, h("0A 0300"), h("0B") + bytes(22))
    if problem:
        failures.append(f"read after Exchange MTU 10 (ATT_MTU must stay 23): {problem}")
    problem = _exchange(peer, conn, GOOD_READ, GOOD_READ_RSP)
    if problem:
        failures.append(f"good read after Exchange MTU 10: {problem}")

    assert not failures, "\n".join(failures)
    handle = board_conn_handle(air, board)
    board.expect(line(f"[callback] handle = {handle:#06x}, ble_mtu = 23"), 5, since=mark)
    assert board.alive
    assert_no_traceback(board)
    # nothing the central sent stopped the demo
    assert "ble_gatt_close" not in board.transcript[pos:]


def test_hostile_writes_after_mtu_517(board, peer):
    pos = start_demo(board)
    conn = connect_to_demo(peer, board, pos)
    assert peer.exchange_mtu(conn, 517) == 517
    failures = []

    def check(what, pdu, expected):
        problem = _exchange(peer, conn, pdu, expected)
        if problem:
            failures.append(f"{what} [{pdu[:8].hex()}.. {len(pdu)} bytes]: {problem}")
        problem = _exchange(peer, conn, GOOD_READ, GOOD_READ_RSP)
        if problem:
            failures.append(f"{what}, then the good read: {problem}")

    read3 = h("0A 0300")
    check("read the whole value", read3, h("0B") + bytes(VALUE_LEN))
    # The value holds at most 244 bytes (docs/DECISIONS.md): longer writes
    # get Invalid Attribute Value Length (Vol 3 Part F 3.4.5.1) and change
    # nothing.
    check("Write Request of 300 bytes", h("12 0300") + b"\xaa" * 300, err_rsp(0x12, 3, 0x0D))
    check("Write Request of 245 bytes", h("12 0300") + b"\xaa" * 245, err_rsp(0x12, 3, 0x0D))
    check("value unchanged", read3, h("0B") + bytes(VALUE_LEN))
    check("Write Command of 300 bytes (ignored)", h("52 0300") + b"\xbb" * 300, NO_RESPONSE)
    check("value unchanged after the Write Command", read3, h("0B") + bytes(VALUE_LEN))

    mark = len(board.transcript)
    check("Write Request of 244 bytes", h("12 0300") + b"\x5a" * VALUE_LEN, h("13"))
    check("value written", read3, h("0B") + b"\x5a" * VALUE_LEN)

    # Queued writes adding up to 300 bytes: the Prepare Writes are echoed,
    # the Execute fails with Invalid Attribute Value Length and the queue is
    # discarded (Vol 3 Part F 3.4.6.3).
    check("Prepare Write 200 bytes at 0", h("16 0300 0000") + b"\xc3" * 200, h("17 0300 0000") + b"\xc3" * 200)
    check("Prepare Write 100 bytes at 200", h("16 0300 C800") + b"\xc3" * 100, h("17 0300 C800") + b"\xc3" * 100)
    check("Execute Write of 300 queued bytes", h("18 01"), err_rsp(0x18, 3, 0x0D))
    check("value unchanged after the failed Execute", read3, h("0B") + b"\x5a" * VALUE_LEN)
    check("Execute Write again: queue was discarded", h("18 01"), h("19"))
    # A prepared offset beyond the value's length: Invalid Offset at Execute.
    check("Prepare Write at offset 245", h("16 0300 F500 01"), h("17 0300 F500 01"))
    check("Execute Write with offset 245", h("18 01"), err_rsp(0x18, 3, 0x07))
    check("value unchanged after Invalid Offset", read3, h("0B") + b"\x5a" * VALUE_LEN)

    assert not failures, "\n".join(failures)
    lines_in_order(
        board,
        [line("len=244, data:" + repr(b"\x5a" * VALUE_LEN)), line("attr_handle = 0x0003")],
        mark,
    )
    # exactly one write event: refused writes are not reported
    assert board.transcript[pos:].count("[callback] ble recv successful.") == 1
    assert board.alive
    assert_no_traceback(board)
