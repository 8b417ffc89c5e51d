# `_thread` for a port without threads (frozen into the bare-metal firmware
# only; the unix firmware has the real module). Not a general thread
# library: enough for the vendor demos' pattern, a worker that loops
# forever taking messages from a queue.Queue that BLE callbacks fill:
#
#     def worker():
#         while True:
#             msg = q.get()      # blocks until a callback puts something
#             handle(msg)
#     _thread.start_new_thread(worker, ())
#
# A started function runs on the main thread until it would block on a
# lock (Queue.get on an empty queue): that run ends there (the lock raises
# _WouldBlock through it) and the function runs again from the top when a
# lock is released (a put, usually in a BLE callback), once no `with` block
# of a lock is open: so a put's own critical section is never interrupted.
# A worker whose state lives outside its loop is restarted with that state
# fresh; the demos' workers keep theirs in globals. Blocking on a lock
# outside a worker waits in sleep_ms, so callbacks keep running
# (docs/DECISIONS.md).
import time

_tasks = []  # [function, args] still running
_current = None  # the task being run, while it runs
_depth = 0  # open `with lock:` blocks
_wanted = False  # a lock was released: the tasks may go on


class _WouldBlock(BaseException):
    pass


class error(Exception):
    pass


def _run():
    global _current, _wanted
    while _wanted and _current is None and _depth == 0:
        _wanted = False
        for task in list(_tasks):
            _current = task
            try:
                task[0](*task[1])
                _tasks.remove(task)  # returned: done
            except _WouldBlock:
                pass
            except SystemExit:
                _tasks.remove(task)
            except Exception as e:
                _tasks.remove(task)
                print("Unhandled exception in thread started by", task[0])
                import sys

                sys.print_exception(e)
            finally:
                _current = None


def _wake():
    global _wanted
    _wanted = True
    _run()


def start_new_thread(function, args, kwargs=None):
    if kwargs:
        raise TypeError("kwargs are not supported")
    _tasks.append([function, tuple(args)])
    _wake()
    return len(_tasks)


def get_ident():
    return 1 if _current is None else 2


def stack_size(size=None):
    return 0


def exit():
    raise SystemExit


class LockType:
    def __init__(self):
        self._locked = False

    def acquire(self, waitflag=1, timeout=-1):
        if not self._locked:
            self._locked = True
            return True
        if not waitflag:
            return False
        if _current is not None:
            raise _WouldBlock()
        start = time.ticks_ms()
        while self._locked:
            if timeout >= 0 and time.ticks_diff(time.ticks_ms(), start) >= timeout * 1000:
                return False
            time.sleep_ms(1)
        self._locked = True
        return True

    def release(self):
        if not self._locked:
            raise RuntimeError("release unlocked lock")
        self._locked = False
        _wake()

    def locked(self):
        return self._locked

    def __enter__(self):
        global _depth
        r = self.acquire()
        _depth += 1
        return r

    def __exit__(self, *exc):
        global _depth
        _depth -= 1
        self.release()


def allocate_lock():
    return LockType()
