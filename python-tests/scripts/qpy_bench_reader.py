# A QuecPython `ble` central for tools/bench_e2e.py (ours, not a vendor
# demo): issue 7's workload 3, sequential reads by the client. It registers
# a client callback, starts BLE, waits for the start event and returns to
# the REPL (prints 'READY').
#
# link(addr) connects to the peripheral at `addr` (6 bytes LSB first,
# random address), waits for the connection and asks for ATT_MTU 247; it
# prints 'LINK <connected> <mtu>'.
#
# reads(n, handle, size) reads `handle` n times, one Read Request at a
# time: the callback of each Read Response (event 32) checks that the
# value has `size` bytes and sends the next request, so the main thread is
# free (at the REPL) meanwhile. After the n-th it prints, once,
#   READS <count> <bad>
# (bad: values of the wrong length, reads refused or answered with an error).
import ble
import utime

ev = {}
R = [0, 0, 0, 0, 0]  # count, wanted, handle, size, bad


def cb(args):
    eid = args[0]
    if eid == 32:
        R[0] += 1
        if args[1] != 0 or args[2] != R[3]:
            R[4] += 1
        if R[0] < R[1]:
            if ble.readCharaByHandle(0, R[2], 0, 0) != 0:
                R[4] += 1
                print('READS', R[0], R[4])
        else:
            print('READS', R[0], R[4])
    else:
        ev[eid] = args


def wait_ev(eid, ms=5000):
    t0 = utime.ticks_ms()
    while eid not in ev and utime.ticks_diff(utime.ticks_ms(), t0) < ms:
        utime.sleep_ms(10)
    return ev.get(eid)


def link(addr):
    ble.connect(1, addr)
    c = wait_ev(16)
    m = None
    if c is not None and ble.exchangeMtu(0, 247) == 0:
        m = wait_ev(20)
    print('LINK', c is not None, m[3] if m else 0)


def reads(n, handle, size):
    R[0], R[1], R[2], R[3], R[4] = 0, n, handle, size, 0
    if ble.readCharaByHandle(0, handle, 0, 0) != 0:
        print('READS', 0, 1)


print('INIT', ble.clientInit(cb))
print('START', ble.gattStart())
print('READY' if wait_ev(0) is not None else 'NOT READY')
