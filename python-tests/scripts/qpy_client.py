# A QuecPython `ble` central for test_qpy_client.py (ours, not a vendor
# demo). It registers a client callback, starts BLE, waits for the start
# event and returns to the REPL; the test then calls the client functions one
# by one. The callback does nothing but record and print every event, on one
# line, as
#   EV|<id>|<status>|<field>|...
# where an int field is printed in decimal, a str field as s<text> and a
# bytes-like field as h<hex>, so the test can rebuild the exact tuple.
import ble
import utime
import binascii

evs = []


def fmt(args):
    out = []
    for x in args:
        if isinstance(x, int):
            out.append(str(x))
        elif isinstance(x, str):
            out.append('s' + x)
        else:
            out.append('h' + binascii.hexlify(bytes(x)).decode())
    return '|'.join(out)


def cb(args):
    evs.append(args)
    # one print call: the whole line leaves at once
    print('EV|' + fmt(args))


def wait_ev(eid, ms=3000):
    t0 = utime.ticks_ms()
    while utime.ticks_diff(utime.ticks_ms(), t0) < ms:
        for e in evs:
            if e[0] == eid:
                return e
        utime.sleep_ms(10)
    return None


print('INIT', ble.clientInit(cb))
print('START', ble.gattStart())
print('READY' if wait_ev(0, 5000) is not None else 'NOT READY')
print('STATUS', ble.getStatus())
