# Runs on the firmware built against fake_core.c (tools/check-port.sh), with
# a controller that stops reading from us until it has sent us BLOB bytes.
# The fake core hands out KIB KiB for the controller at once: writes that
# blocked with the port lock held would deadlock both sides. The BLOB bytes
# are a pattern the fake core checks as it takes them, 4 KiB a millisecond,
# so they also fill and drain the port's receive ring many times.
import ble, utime

KIB = 8192
done = []


def cb(args):
    if args[0] == 98:
        done.append(args)


print("serverInit", ble.serverInit(cb))
print("gattStart", ble.gattStart())
t0 = utime.ticks_ms()
while ble.getPublicAddr() == -1 and utime.ticks_diff(utime.ticks_ms(), t0) < 2000:
    utime.sleep_ms(10)
t0 = utime.ticks_ms()
print("bulk", ble.sendNotification(77, KIB, b""))
print("bulk call returned")
while not done and utime.ticks_diff(utime.ticks_ms(), t0) < 15000:
    utime.sleep_ms(10)
print("bulk", "delivered" if done else "NOT delivered", "in", utime.ticks_diff(utime.ticks_ms(), t0), "ms")
# The pattern the controller sent meanwhile: bytes the core saw, first bad.
print("blob", done[0][1] if done else -1, done[0][2] if done else -1)
