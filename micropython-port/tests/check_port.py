# Runs on the firmware built against fake_core.c (tools/check-port.sh).
import ble, utime
from network import Bluetooth

got = []

def cb(args):
    got.append(args)
    if args[0] == 99 and args[1] == 2:
        raise ValueError("raised on purpose by a callback")
    if args[0] == 0:
        # Callbacks may call back into the API.
        print("in-callback setAdvData ->", ble.setAdvData(b"\x02\x01\x05"))

print("serverInit", ble.serverInit(cb))
print("gattStart", ble.gattStart())
utime.sleep(0.5)
print("events", got)
print("addr", ble.getPublicAddr(), "status", ble.getStatus())
print("advStart", ble.advStart())
utime.sleep_ms(100)
print("events", got)
bt = Bluetooth()
print("bluetooth", type(bt).__name__, bt is Bluetooth(mtu=100))
qs, ps = ble.mpbleStats(), bt.mpble_stats()
print("stats", qs["bad_events"], ps["bad_events"], qs == ps, len(qs))
print("serverRelease", ble.serverRelease())
print("advStop", ble.advStop())
utime.sleep_ms(100)
print("events after release", len(got))
