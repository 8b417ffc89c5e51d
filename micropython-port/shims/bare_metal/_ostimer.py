# QuecPython's `osTimer` for a port without threads (frozen into the
# bare-metal firmware; the unix firmware has ../_ostimer.py, the same API
# on a thread). `import osTimer` gives the built-in type of
# micropython-port/modostimer.c, whose constructor returns OsTimer().
#
#     t = osTimer(); t.start(ms, cyclic, callback); t.stop(); t.delete_timer()
#
# Armed timers share one function in MicroPython's scheduler (whose queue
# is short on bare metal) that checks the clock, calls callback(timer) for
# each timer due, there, on the main thread (between bytecodes or where
# the REPL waits, like the BLE callbacks), and schedules itself again while
# a timer is armed. So the board polls instead of sleeping while a timer is
# armed (docs/DECISIONS.md); with none armed it sleeps as before.
import micropython
import sys
import time

_armed = []  # OsTimer objects with a deadline
_pending = False  # _poll is in the scheduler's queue


def _kick():
    global _pending
    if _pending or not _armed:
        return
    try:
        micropython.schedule(_poll, None)
        _pending = True
    except RuntimeError:
        # Queue full (a BLE pass waits in it): the next start() or poll
        # tries again.
        pass


def _poll(_):
    global _pending
    _pending = False
    try:
        now = time.ticks_ms()
        for t in list(_armed):
            if time.ticks_diff(t._deadline, now) > 0:
                continue
            if t._cyclic:
                t._deadline = time.ticks_add(t._deadline, t._period)
            else:
                _armed.remove(t)
            try:
                t._callback(t)
            except Exception as e:
                print("osTimer callback raised:")
                sys.print_exception(e)
    finally:
        _kick()


class OsTimer:
    def __init__(self):
        self._deadline = 0
        self._period = 0
        self._cyclic = False
        self._callback = None

    def start(self, period, cyclic, callback):
        if not callable(callback):
            raise TypeError("callback must be callable")
        period = int(period)
        if period < 0 or cyclic not in (0, 1, False, True):
            raise ValueError("period >= 0, cyclic 0 or 1")
        self._period = period
        self._cyclic = bool(cyclic)
        self._callback = callback
        self._deadline = time.ticks_add(time.ticks_ms(), period)
        if self not in _armed:
            _armed.append(self)
        _kick()
        return 0

    def stop(self):
        if self in _armed:
            _armed.remove(self)
        return 0

    def delete_timer(self):
        return self.stop()
