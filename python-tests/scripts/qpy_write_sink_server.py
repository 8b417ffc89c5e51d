# A QuecPython `ble` peripheral whose callback is slow (ours, not a vendor
# demo), for test_qpy_flood.py. One service 0xFFE0 with one characteristic
# 0xFFE1 writable with and without response; handles: 1 service,
# 2 declaration, 3 value. Every write event is recorded in WRITES (the
# data bytes) after a 20 ms pause, as a callback doing real work would.
import ble
import utime

NAME = 'mpble-sink'
ZERO16 = bytearray(16)
WRITES = []
ready = []


def cb(args):
    eid, status = args[0], args[1]
    if eid == 21:
        utime.sleep_ms(20)
        WRITES.append(bytes(args[3]))
    elif eid == 0 and status == 0:
        r = []
        r.append(ble.setLocalName(0, NAME))
        r.append(ble.setAdvParam(0x20, 0x20, 0, 0, 7, 0, 2, 1, 1))
        r.append(ble.setAdvData(bytearray([2, 0x01, 0x06, len(NAME) + 1, 0x09]) + NAME.encode()))
        r.append(ble.addService(1, 1, 1, 0xFFE0, ZERO16))
        r.append(ble.addChara(1, 1, 0x04 | 0x08, 1, 0xFFE1, ZERO16))
        r.append(ble.addCharaValue(1, 1, 0x0001 | 0x0002, 1, 0xFFE1, ZERO16, bytearray(4)))
        r.append(ble.addOrClearService(1, 0))
        r.append(ble.advStart())
        print('SETUP', r)
        ready.append(1)


print('INIT', ble.serverInit(cb))
print('START', ble.gattStart())
t0 = utime.ticks_ms()
while not ready and utime.ticks_diff(utime.ticks_ms(), t0) < 5000:
    utime.sleep_ms(20)
print('READY' if ready else 'NOT READY')
