# A small QuecPython `ble` peripheral for test_qpy_lost_controller.py (ours,
# not a vendor demo), in the vendor demo's style: everything is set up in
# the start event. One service 0xFFF0 with a read|notify characteristic
# 0xFFF1 and its CCCD, default GAP/GATT services removed: handles 1 service,
# 2 declaration, 3 value, 4 CCCD. Set up on the first start only (a later
# start after a lost controller just reports its event). Prints
#   EV <id> <status> [<connect_id>]
# for every event, 'READY' once advertising, and returns to the REPL.
import ble
import utime

NAME = 'mpble-lost'
ZERO16 = bytearray(16)
ready = []


def cb(args):
    eid, status = args[0], args[1]
    if eid in (16, 17):
        print('EV', eid, status, args[2])
    else:
        print('EV', eid, status)
    if eid == 0 and status == 0 and not ready:
        r = []
        r.append(ble.setLocalName(0, NAME))
        r.append(ble.setAdvParam(0x20, 0x20, 0, 0, 7, 0, 2, 1, 1))
        adv = bytearray([2, 0x01, 0x06, len(NAME) + 1, 0x09]) + NAME.encode()
        r.append(ble.setAdvData(adv))
        r.append(ble.addService(1, 1, 1, 0xFFF0, ZERO16))
        r.append(ble.addChara(1, 1, 0x02 | 0x10, 1, 0xFFF1, ZERO16))
        r.append(ble.addCharaValue(1, 1, 0x0001, 1, 0xFFF1, ZERO16, bytearray(b'init')))
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
