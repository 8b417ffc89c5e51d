# A QuecPython `ble` peripheral that echoes (ours, not a vendor demo), for
# test_latency.py. One service 0xFFE0 with one characteristic 0xFFE1,
# writable without response and notifiable, plus its CCCD; handles:
# 1 service, 2 declaration, 3 value, 4 CCCD. The write callback sends every
# value written to handle 3 straight back as a notification of handle 3
# (a write of the CCCD is not echoed).
# With SAY set to True the callback also prints one line per write:
#   CB <n> <hex of the value>
# It sets everything up in the start event, prints 'READY' and returns (the
# caller decides what the main thread does next).
import ble
import utime

NAME = 'mpble-echo'
ZERO16 = bytearray(16)
ready = []
conn = [0]
SAY = False
ECHOED = [0]


def cb(args):
    eid, status = args[0], args[1]
    if eid == 21 and args[4] == 3:
        data = bytes(args[3])
        ble.sendNotification(conn[0], 3, data)
        ECHOED[0] += 1
        if SAY:
            print('CB', ECHOED[0], data.hex())
    elif eid == 16:
        conn[0] = args[2]
    elif eid == 0 and status == 0:
        r = []
        r.append(ble.setLocalName(0, NAME))
        r.append(ble.setAdvParam(0x20, 0x20, 0, 0, 7, 0, 2, 1, 1))
        r.append(ble.setAdvData(bytearray([2, 0x01, 0x06, len(NAME) + 1, 0x09]) + NAME.encode()))
        r.append(ble.addService(1, 1, 1, 0xFFE0, ZERO16))
        r.append(ble.addChara(1, 1, 0x04 | 0x10, 1, 0xFFE1, ZERO16))
        r.append(ble.addCharaValue(1, 1, 0x0001 | 0x0002, 1, 0xFFE1, ZERO16, bytearray(20)))
        r.append(ble.addCharaDesc(1, 1, 0x0001 | 0x0002, 1, 0x2902, ZERO16, bytearray(2)))
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
