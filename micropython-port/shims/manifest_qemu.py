# Frozen into the bare-metal (qemu) firmware: the modules the vendor demos
# import that the port lacks. The port has no threads, so `_thread` is a
# cooperative stand-in (bare_metal/_thread.py). Paths are relative to this
# file.
module("checkNet.py")
module("queue.py")
module("_thread.py", base_path="bare_metal")
module("_ostimer.py", base_path="bare_metal")
