# QuecPython's `osTimer` (frozen into the unix firmware; reference §5), as
# the SMP client demo uses it:
#
#     t = osTimer()                 # the module itself is callable
#     t.start(1200, 0, callback)    # ms, cyclic 0 (once) or 1, callback(arg)
#     t.stop()
#     t.delete_timer()
#
# start() returns 0 and (re)arms the timer; the callback gets one argument
# (the timer's, as on the vendor firmware: the demo's `pair_timer_callback`
# takes `args` and ignores it). stop() and delete_timer() return 0; a timer
# stopped or deleted before it fires never calls back, even if its
# deadline has passed but the callback has not started yet.
#
# unix: each start() runs a thread that sleeps until the deadline and then
# calls the callback in that thread (the vendor firmware too runs timer
# callbacks outside the main script, and the demos' callbacks only call
# `ble` functions, which take the port's lock). Bare metal has no threads:
# bare_metal/_ostimer.py is the same API on the scheduler.
#
# `import osTimer` must give something callable, which a Python module
# cannot be: the firmware registers a built-in type `osTimer`
# (micropython-port/modostimer.c) whose constructor returns
# `_ostimer.OsTimer()`, the class below.
import _thread
import sys
import time


class OsTimer:
    def __init__(self):
        self._gen = 0  # bumped by every start/stop: older threads give up
        self._lock = _thread.allocate_lock()
        self._deleted = False

    def start(self, period, cyclic, callback):
        if not callable(callback):
            raise TypeError("callback must be callable")
        period = int(period)
        if period < 0 or cyclic not in (0, 1, False, True):
            raise ValueError("period >= 0, cyclic 0 or 1")
        with self._lock:
            self._deleted = False
            self._gen += 1
            gen = self._gen
        _thread.start_new_thread(self._run, (gen, period, bool(cyclic), callback))
        return 0

    def _current(self, gen):
        with self._lock:
            return gen == self._gen and not self._deleted

    def _run(self, gen, period, cyclic, callback):
        deadline = time.ticks_add(time.ticks_ms(), period)
        while True:
            # Sleep in short steps so that a stopped timer's thread ends soon.
            while True:
                left = time.ticks_diff(deadline, time.ticks_ms())
                if left <= 0 or not self._current(gen):
                    break
                time.sleep_ms(min(left, 50))
            if not self._current(gen):
                return
            try:
                callback(self)
            except Exception as e:
                print("osTimer callback raised:")
                sys.print_exception(e)
            if not cyclic:
                return
            deadline = time.ticks_add(deadline, period)

    def stop(self):
        with self._lock:
            self._gen += 1
        return 0

    def delete_timer(self):
        with self._lock:
            self._gen += 1
            self._deleted = True
        return 0

