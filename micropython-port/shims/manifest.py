# Frozen into the unix firmware (FROZEN_MANIFEST): the modules the vendor
# demos import that stock MicroPython lacks, plus asyncio as the unix
# port's own manifest has it. Paths are relative to this file.
include("$(MPY_DIR)/extmod/asyncio")
module("checkNet.py")
module("queue.py")
module("_ostimer.py")
