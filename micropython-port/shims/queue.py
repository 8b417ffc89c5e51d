# QuecPython's `queue` module, as the vendor demos use it (frozen into the
# firmware; reference §5: ports/quectel/core/queue.py).
#
# Queue(maxsize=100): put() never blocks and returns True, or False (the
# item dropped) once more than maxsize items wait, as the vendor's does;
# get() blocks until an item is there. put() may run in a BLE callback on
# the main thread while get() waits in a _thread worker.
import _thread


class Queue:
    def __init__(self, maxsize=100):
        self.maxsize = maxsize
        self._items = []
        self._lock = _thread.allocate_lock()  # guards _items
        # Held while the queue is empty; get() waits on it, put() opens it.
        self._avail = _thread.allocate_lock()
        self._avail.acquire()

    def put(self, item=None):
        with self._lock:
            if len(self._items) > self.maxsize:
                return False
            self._items.append(item)
            if self._avail.locked():
                self._avail.release()
        return True

    def get(self):
        # _avail may have been opened by put() while this thread held it;
        # every release is checked under _lock, and an empty wake-up just
        # waits again.
        while True:
            self._avail.acquire()
            with self._lock:
                if self._items:
                    item = self._items.pop(0)
                    if self._items and self._avail.locked():
                        self._avail.release()
                    return item

    def empty(self):
        with self._lock:
            return not self._items

    def size(self):
        with self._lock:
            return len(self._items)
