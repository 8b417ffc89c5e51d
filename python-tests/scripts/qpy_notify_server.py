# A QuecPython `ble` peripheral that notifies once a second (ours, for
# test_pycom_interop.py), in the vendor demo's style: set up in the start
# event. One service 0xFFF0 with a read|notify characteristic 0xFFF1 and its
# CCCD, default GAP/GATT services removed: handles 1 service, 2 declaration,
# 3 value, 4 CCCD. Advertises the Complete Local Name 'mpble-ntf'.
# Once a central is connected it sends COUNT notifications on handle 3, one
# a second, values b'N000', b'N001', ..., printing 'SENT <value>' for each
# the stack took, then returns to the REPL (the link stays up).
import ble
import utime

NAME = 'mpble-ntf'
COUNT = 15
ZERO16 = bytearray(16)
state = {'ready': False, 'conn': None}


def cb(args):
    eid, status = args[0], args[1]
    if eid in (16, 17):
        print('EV', eid, status, args[2])
        state['conn'] = args[2] if eid == 16 else None
    else:
        print('EV', eid, status)
    if eid == 0 and status == 0 and not state['ready']:
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
        state['ready'] = True


print('INIT', ble.serverInit(cb))
print('START', ble.gattStart())
t0 = utime.ticks_ms()
while not state['ready'] and utime.ticks_diff(utime.ticks_ms(), t0) < 5000:
    utime.sleep_ms(20)
print('READY' if state['ready'] else 'NOT READY')
t0 = utime.ticks_ms()
while state['conn'] is None and utime.ticks_diff(utime.ticks_ms(), t0) < 30000:
    utime.sleep_ms(20)
n = 0
while n < COUNT and state['conn'] is not None:
    utime.sleep_ms(1000)
    value = bytearray(('N%03d' % n).encode())
    if ble.sendNotification(state['conn'], 3, value) == 0:
        print('SENT', value)
    else:
        print('NOT SENT', value)
    n += 1
print('DONE')
