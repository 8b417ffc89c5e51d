"""QuecPython's `osTimer` (the SMP client demo's fallback timer): the
built-in type `osTimer` (micropython-port/modostimer.c) over the frozen
shim `_ostimer` (a thread on unix, the scheduler on bare metal).

`import osTimer; t = osTimer()`; `t.start(ms, cyclic, cb)` returns 0 and
calls `cb(t)` after ms (once, or every ms while cyclic); `stop()` and
`delete_timer()` return 0 and cancel a timer that has not fired; a new
`start` re-arms it. The callbacks run while the main script sleeps.
"""

from __future__ import annotations

import re

CODE = """
import osTimer, time
log = []
t0 = time.ticks_ms()
def cb(name):
    return lambda arg: log.append((name, time.ticks_diff(time.ticks_ms(), t0), arg is timers[name]))
timers = {n: osTimer() for n in ('once', 'stopped', 'deleted', 'cyclic', 'rearmed')}
r = [timers['once'].start(200, 0, cb('once')),
     timers['stopped'].start(100, 0, cb('stopped')),
     timers['deleted'].start(100, 0, cb('deleted')),
     timers['cyclic'].start(100, 1, cb('cyclic')),
     timers['rearmed'].start(100, 0, cb('rearmed'))]
r.append(timers['stopped'].stop())
r.append(timers['deleted'].delete_timer())
r.append(timers['rearmed'].start(300, 0, cb('rearmed')))
time.sleep_ms(450)
r.append(timers['cyclic'].stop())
n = len(log)
time.sleep_ms(300)
print('R', r, type(timers['once']).__name__)
print('N', n == len(log))
for e in log:
    print('E', e[0], e[1], e[2])
"""


def test_os_timer(board):
    out = board.exec(CODE, timeout=20)
    assert "R [0, 0, 0, 0, 0, 0, 0, 0, 0]" in out, out
    assert "N True" in out, "a stopped cyclic timer fired again"
    events = [(m.group(1), int(m.group(2)), m.group(3)) for m in re.finditer(r"(?m)^E (\w+) (\d+) (\w+)\r?$", out)]
    names = [e[0] for e in events]
    assert "stopped" not in names and "deleted" not in names, events
    assert names.count("once") == 1 and names.count("rearmed") == 1, events
    # cyclic every 100 ms for ~450 ms: 3 or 4 calls
    assert 3 <= names.count("cyclic") <= 5, events
    for name, at, same in events:
        assert same == "True", f"{name}: the callback gets the timer"
    once = [at for n, at, _ in events if n == "once"][0]
    rearmed = [at for n, at, _ in events if n == "rearmed"][0]
    assert 180 <= once < 450, once
    assert 280 <= rearmed < 600, f"re-armed to 300 ms, fired at {rearmed}"
