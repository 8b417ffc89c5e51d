# A QuecPython `ble` peripheral for tools/bench_e2e.py (ours, not a vendor
# demo): issue 7's workloads 1 (write flood), 2 (notifications) and 4 (idle).
# One service 0xFFE0 with one characteristic 0xFFE1, writable without
# response and notifiable, plus its CCCD; handles: 1 service,
# 2 declaration, 3 value, 4 CCCD. It sets everything up in the start event,
# advertises, prints 'READY' and returns to the REPL.
#
# Workload 1: set WANT[0] to the number of writes to expect and SIZE[0] to
# their length. The write callback counts each write of handle 3 and checks
# it: SIZE[0] bytes, the first two bytes the write's index (LE). When
# WANT[0] have arrived it prints, once,
#   GOT <count> <bad>
# (bad: writes of the wrong length or out of order).
#
# Workload 2: notify(n, size) sends n notifications of `size` bytes of
# handle 3 to the connected central, the first two bytes the index (LE);
# a call refused because the queue is full (-1) is retried after
# utime.sleep_ms(1) (and counted). It prints
#   SENT <n> <refused>
import ble
import utime

NAME = 'mpble-bench'
ZERO16 = bytearray(16)
ready = []
conn = [0]
WANT = [0]
SIZE = [128]
GOT = [0, 0]  # writes, bad writes


def cb(args):
    eid, status = args[0], args[1]
    if eid == 21 and args[4] == 3:
        data = args[3]
        n = GOT[0]
        if len(data) != SIZE[0] or data[0] != n & 0xFF or data[1] != (n >> 8) & 0xFF:
            GOT[1] += 1
        n += 1
        GOT[0] = n
        if n == WANT[0]:
            print('GOT', n, GOT[1])
    elif eid == 16:
        conn[0] = args[2]
    elif eid == 0 and status == 0:
        r = []
        r.append(ble.setLocalName(0, NAME))
        r.append(ble.setAdvParam(0x20, 0x20, 0, 0, 7, 0, 2, 1, 1))
        r.append(ble.setAdvData(bytearray([2, 0x01, 0x06, len(NAME) + 1, 0x09]) + NAME.encode()))
        r.append(ble.addService(1, 1, 1, 0xFFE0, ZERO16))
        r.append(ble.addChara(1, 1, 0x04 | 0x10, 1, 0xFFE1, ZERO16))
        r.append(ble.addCharaValue(1, 1, 0x0001 | 0x0002, 1, 0xFFE1, ZERO16, bytearray(SIZE[0])))
        r.append(ble.addCharaDesc(1, 1, 0x0001 | 0x0002, 1, 0x2902, ZERO16, bytearray(2)))
        r.append(ble.addOrClearService(1, 0))
        r.append(ble.advStart())
        print('SETUP', r)
        ready.append(1)


def notify(n, size):
    buf = bytearray(size)
    refused = 0
    i = 0
    while i < n:
        buf[0] = i & 0xFF
        buf[1] = (i >> 8) & 0xFF
        if ble.sendNotification(conn[0], 3, buf) == 0:
            i += 1
        else:
            refused += 1
            utime.sleep_ms(1)
    print('SENT', i, refused)


print('INIT', ble.serverInit(cb))
print('START', ble.gattStart())
t0 = utime.ticks_ms()
while not ready and utime.ticks_diff(utime.ticks_ms(), t0) < 5000:
    utime.sleep_ms(20)
print('READY' if ready else 'NOT READY')
