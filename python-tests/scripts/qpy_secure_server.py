# A QuecPython `ble` peripheral with one characteristic that needs an
# encrypted link to be read (ours, not a vendor demo), for
# test_smp_pairing.py. One service 0xFFF0 with one characteristic 0xFFF1,
# readable, its value permission READ | READ_ENCRYPTION (0x0001 | 0x0010,
# the QuecPython permission bits of src/att/db.rs AttPermissions); the
# default GAP/GATT services are removed, so the handles are: 1 service,
# 2 declaration, 3 value. Every event is printed as EVENT <id> <status>;
# event 64 (pairing prompt) also as PROMPT <connect_id> <pair_mode> <pin>.
import ble
import utime

NAME = 'mpble-secure'
ZERO16 = bytearray(16)
SECRET = b'secret-value'
ready = []


def cb(args):
    eid, status = args[0], args[1]
    print('EVENT', eid, status)
    if eid == 64:
        print('PROMPT', args[2], args[3], args[4])
    if eid == 0 and status == 0:
        r = []
        r.append(ble.setLocalName(0, NAME))
        r.append(ble.setAdvParam(0x20, 0x20, 0, 0, 7, 0, 2, 1, 1))
        r.append(ble.setAdvData(bytearray([2, 0x01, 0x06, len(NAME) + 1, 0x09]) + NAME.encode()))
        r.append(ble.addService(1, 1, 1, 0xFFF0, ZERO16))
        r.append(ble.addChara(1, 1, 0x02, 1, 0xFFF1, ZERO16))
        r.append(ble.addCharaValue(1, 1, 0x0001 | 0x0010, 1, 0xFFF1, ZERO16, bytearray(SECRET)))
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
