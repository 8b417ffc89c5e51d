# QuecPython's `osTimer` for a port without threads (frozen into the
# bare-metal firmware; the unix firmware has ../_ostimer.py, the same API
# on a thread). `import osTimer` gives the built-in type of
# micropython-port/modostimer.c, whose constructor returns OsTimer().
#
#     t = osTimer(); t.start(ms, cyclic, callback); t.stop(); t.delete_timer()
#
# An armed timer keeps one function in MicroPython's scheduler that checks
# the clock and schedules itself again until the deadline, then calls
# callback(timer) there: on the main thread, between bytecodes or where the
# REPL waits, like the BLE callbacks. While a timer is armed the board
# polls instead of sleeping (docs/DECISIONS.md); an idle board with no
# timer armed sleeps as before.
import micropython
import time


class OsTimer:
    def __init__(self):
        self._gen = 0
        self._deleted = False
        self._deadline = 0
        self._period = 0
        self._cyclic = False
        self._callback = None
        self._poll_ref = self._poll  # one bound method, allocated once

    def start(self, period, cyclic, callback):
        if not callable(callback):
            raise TypeError("callback must be callable")
        period = int(period)
        if period < 0 or cyclic not in (0, 1, False, True):
            raise ValueError("period >= 0, cyclic 0 or 1")
        self._deleted = False
        self._gen += 1
        self._period = period
        self._cyclic = bool(cyclic)
        self._callback = callback
        self._deadline = time.ticks_add(time.ticks_ms(), period)
        micropython.schedule(self._poll_ref, self._gen)
        return 0

    def _poll(self, gen):
        if gen != self._gen or self._deleted:
            return
        if time.ticks_diff(self._deadline, time.ticks_ms()) > 0:
            micropython.schedule(self._poll_ref, gen)
            return
        if self._cyclic:
            self._deadline = time.ticks_add(self._deadline, self._period)
            micropython.schedule(self._poll_ref, gen)
        else:
            self._gen += 1
        self._callback(self)

    def stop(self):
        self._gen += 1
        return 0

    def delete_timer(self):
        self._gen += 1
        self._deleted = True
        return 0
