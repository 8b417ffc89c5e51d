# mpble: top-level entry points.
#
#   make / make firmware   Rust staticlib + MicroPython unix port -> build/unix/micropython
#   make firmware-qemu     thumbv7m staticlib + MicroPython qemu port (MPS2_AN385,
#                          Cortex-M3) -> build/qemu-mps2/firmware.elf, and its
#                          launcher build/qemu-mps2/micropython (README "Bare metal")
#   make demo [DEMOS=dir]  run tools/demo.py on the vendor demos (default ../shared/demos):
#                          the QuecPython pair, then each Pycom example against its Bumble
#                          peer, saying for each whether it did its job
#                          (DEMO_ARGS="--only pycom" or "--only quecpython" for one vendor)
#   make test              everything CI checks (setup, build of both firmwares,
#                          cargo test/clippy/fmt (also --features mcu), no_std build, header check,
#                          fuzz, pytest with the qemu tests)
#   make bench             speed and memory of the core (benches/), then issue 7's
#                          workloads end to end: cost per operation and callback
#                          latency (tools/bench_e2e.py)
#   make size              flash and static RAM of the core on a Cortex-M3
#                          (thumbv7m, LTO, gc-sections), by layer, and what the
#                          module adds to the qemu firmware (tools/size.py)
#   make check-port        the C port against a fake core (part of make test)
#   make clean / distclean
#
# MICROPY_DIR=/path/to/micropython-1.25.0 uses that tree instead of the Debian
# source package (tools/get-micropython.sh).

ROOT        := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD_DIR   := $(ROOT)/build
FIRMWARE    := $(BUILD_DIR)/unix/micropython
MP_BUILD    := $(BUILD_DIR)/mp-unix
RUST_LIB    := $(ROOT)/target/release/libmpble.a
VENV_PY     := $(ROOT)/.venv/bin/python
DEMOS       ?= $(ROOT)/../shared/demos
CARGO       ?= cargo
NO_STD_TARGET := thumbv7m-none-eabi
# 30 s per target in `make test` is a smoke run that keeps the whole suite
# well under 30 minutes; fuzz longer by hand: make fuzz FUZZ_SECONDS=600.
FUZZ_SECONDS  ?= 30

# The unix port, built out of tree, with our user C module and without the
# parts the Debian source package strips (btree, ffi and ssl need the libs
# in lib/). Our own frozen manifest replaces the port's (which needs
# micropython-lib): asyncio plus the shims the vendor demos import.
# _thread stays on.
# GIT_CEILING_DIRECTORIES keeps MicroPython's version header from describing
# this repository (build/ lives inside it) instead of v1.25.0.
MP_UNIX_FLAGS := \
	BUILD=$(MP_BUILD) \
	USER_C_MODULES=$(ROOT) \
	MPBLE_LIB=$(RUST_LIB) \
	FROZEN_MANIFEST=$(ROOT)/micropython-port/shims/manifest.py \
	MPY_LIB_DIR=$(ROOT)/micropython-port/shims \
	MICROPY_PY_BTREE=0 \
	MICROPY_PY_FFI=0 \
	MICROPY_PY_SSL=0 \
	MICROPY_PY_THREAD=1

.DEFAULT_GOAL := firmware
.PHONY: all firmware firmware-qemu firmware-qemu-nomodule rust-lib rust-lib-thumb demo test setup bench size clean distclean header-check check-port \
	fuzz pytest \
	cargo-checks FORCE

all: firmware

firmware: $(FIRMWARE)

# cargo and MicroPython's make both know their own dependencies, so they run
# every time (each is a quick no-op when nothing changed); the copy only
# happens when the linked binary changed.
rust-lib:
	$(CARGO) build --release

# mpy-cross (for the frozen shims) is built first, in the tree's own
# mpy-cross/build where makemanifest.py looks for it; left to the unix
# build it would inherit our BUILD= and share its generated headers.
$(FIRMWARE): rust-lib FORCE
	@mp="$$($(ROOT)/tools/get-micropython.sh)" && \
	$(MAKE) -C "$$mp/mpy-cross" BUILD=build USER_C_MODULES= && \
	GIT_CEILING_DIRECTORIES=$(BUILD_DIR) $(MAKE) -C "$$mp/ports/unix" $(MP_UNIX_FLAGS)
	@mkdir -p $(dir $@)
	@if ! cmp -s $(MP_BUILD)/micropython $@; then \
		cp $(MP_BUILD)/micropython $@.tmp && mv -f $@.tmp $@ && echo "firmware: $@"; \
	fi

# The qemu port (board MPS2_AN385) with the same user C module; micropython.mk
# picks the bare-metal HAL there. Our bare-metal manifest replaces the port's
# own (which needs micropython-lib): the shims the vendor demos import, with
# a cooperative `_thread` (the port has no threads); mpy-cross first, as for
# unix.
QEMU_DIR      := $(BUILD_DIR)/qemu-mps2
QEMU_FIRMWARE := $(QEMU_DIR)/firmware.elf
QEMU_LAUNCHER := $(QEMU_DIR)/micropython
MP_QEMU_BUILD := $(BUILD_DIR)/mp-qemu
RUST_LIB_THUMB := $(ROOT)/target/$(NO_STD_TARGET)/release/libmpble.a
MP_QEMU_FLAGS := \
	BOARD=MPS2_AN385 \
	BUILD=$(MP_QEMU_BUILD) \
	USER_C_MODULES=$(ROOT) \
	MPBLE_LIB=$(QEMU_DIR)/libmpble.a \
	FROZEN_MANIFEST=$(ROOT)/micropython-port/shims/manifest_qemu.py \
	MPY_LIB_DIR=$(ROOT)/micropython-port/shims

# The core's objects carry ARM unwind tables (.ARM.exidx) that the port's
# linker script does not place; nothing unwinds (panic = "abort"), so the
# copy linked into the firmware drops them.
rust-lib-thumb:
	$(CARGO) build --release --lib --target $(NO_STD_TARGET)
	@mkdir -p $(QEMU_DIR)
	@arm-none-eabi-objcopy --remove-section='.ARM.exidx*' --remove-section='.ARM.extab*' \
		$(RUST_LIB_THUMB) $(QEMU_DIR)/libmpble.a.tmp
	@if cmp -s $(QEMU_DIR)/libmpble.a.tmp $(QEMU_DIR)/libmpble.a; then \
		rm $(QEMU_DIR)/libmpble.a.tmp; else mv $(QEMU_DIR)/libmpble.a.tmp $(QEMU_DIR)/libmpble.a; fi

firmware-qemu: $(QEMU_FIRMWARE) $(QEMU_LAUNCHER)

$(QEMU_FIRMWARE): rust-lib-thumb FORCE
	@command -v arm-none-eabi-gcc >/dev/null || $(ROOT)/tools/setup.sh
	@mp="$$($(ROOT)/tools/get-micropython.sh)" && \
	$(MAKE) -C "$$mp/mpy-cross" BUILD=build USER_C_MODULES= && \
	GIT_CEILING_DIRECTORIES="$$(dirname "$$mp")" $(MAKE) -C "$$mp/ports/qemu" $(MP_QEMU_FLAGS)
	@mkdir -p $(dir $@)
	@if ! cmp -s $(MP_QEMU_BUILD)/firmware.elf $@; then \
		cp $(MP_QEMU_BUILD)/firmware.elf $@.tmp && mv -f $@.tmp $@ && echo "firmware: $@"; \
	fi

# The same qemu port without the module (USER_C_MODULES empty): the stock
# firmware, for `make size`'s firmware row (what the module adds).
QEMU_NOMOD_DIR      := $(BUILD_DIR)/qemu-mps2-nomodule
QEMU_NOMOD_FIRMWARE := $(QEMU_NOMOD_DIR)/firmware.elf
MP_QEMU_NOMOD_BUILD := $(BUILD_DIR)/mp-qemu-nomodule

firmware-qemu-nomodule: $(QEMU_NOMOD_FIRMWARE)

$(QEMU_NOMOD_FIRMWARE): FORCE
	@command -v arm-none-eabi-gcc >/dev/null || $(ROOT)/tools/setup.sh
	@mp="$$($(ROOT)/tools/get-micropython.sh)" && \
	GIT_CEILING_DIRECTORIES="$$(dirname "$$mp")" $(MAKE) -C "$$mp/ports/qemu" \
		BOARD=MPS2_AN385 BUILD=$(MP_QEMU_NOMOD_BUILD) USER_C_MODULES= FROZEN_MANIFEST=
	@mkdir -p $(dir $@)
	@if ! cmp -s $(MP_QEMU_NOMOD_BUILD)/firmware.elf $@; then \
		cp $(MP_QEMU_NOMOD_BUILD)/firmware.elf $@.tmp && mv -f $@.tmp $@ && echo "firmware: $@"; \
	fi

# The launcher gives the qemu board the unix firmware's interface (REPL on
# stdin/stdout, MPBLE_HCI=tcp:HOST:PORT); see micropython-port/qemu/launcher.py.
$(QEMU_LAUNCHER): $(ROOT)/micropython-port/qemu/launcher.py $(ROOT)/Makefile
	@mkdir -p $(dir $@)
	@printf '#!/bin/sh\n# Written by make firmware-qemu.\nexec python3 %s --kernel %s "$$@"\n' \
		"$(ROOT)/micropython-port/qemu/launcher.py" "$(QEMU_FIRMWARE)" > $@
	@chmod +x $@

setup:
	$(ROOT)/tools/setup.sh

demo: firmware
	@test -x $(VENV_PY) || $(ROOT)/tools/setup.sh
	$(VENV_PY) $(ROOT)/tools/demo.py $(DEMOS) $(DEMO_ARGS)

# Order matters: the header check needs build.rs to have run (cargo build),
# the pytest stage needs the firmware.
test: setup
	$(MAKE) firmware
	$(MAKE) firmware-qemu
	$(MAKE) cargo-checks
	$(MAKE) header-check
	$(MAKE) check-port
	$(MAKE) fuzz
	$(MAKE) pytest

cargo-checks:
	$(CARGO) test
	$(CARGO) test --features mcu
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --all-targets --features std -- -D warnings
	$(CARGO) clippy --all-targets --features mcu -- -D warnings
	$(CARGO) fmt --check
	cd $(ROOT)/fuzz && $(CARGO) fmt --check
	$(CARGO) build --release --lib --target $(NO_STD_TARGET)

# include/mpble.h is committed so the C side builds without cargo; build.rs
# rewrites it on every cargo build, so a diff here means the committed copy
# is stale.
header-check:
	@cd $(ROOT) && if ! git diff --exit-code -- include/mpble.h; then \
		echo "header-check: include/mpble.h differs from what build.rs generates" \
		     "from src/ffi.rs; commit the regenerated header." >&2; \
		exit 1; \
	fi
	@echo "header-check: include/mpble.h is up to date"

# The C port's plumbing against a fake core (no Rust, no Bumble).
check-port:
	$(ROOT)/tools/check-port.sh

# Each fuzz target runs FUZZ_SECONDS; any crash fails the build.
fuzz:
	bash $(ROOT)/fuzz/run.sh $(FUZZ_SECONDS)

# Two passes: every test with unix boards, then again with qemu boards
# (`--board qemu`) but for what python-tests/qemu_not_applicable.txt names.
QEMU_PASS_ARGS = $(shell sed -e '/^\#/d' -e '/^$$/d' -e 's/[[:space:]].*//' \
	$(ROOT)/python-tests/qemu_not_applicable.txt | \
	sed -e '/::/s|^|--deselect |' -e '/::/!s|^|--ignore=python-tests/|')

pytest: firmware firmware-qemu
	@test -x $(VENV_PY) || $(ROOT)/tools/setup.sh
	cd $(ROOT) && $(VENV_PY) -m pytest python-tests -v
	cd $(ROOT) && $(VENV_PY) -m pytest python-tests -v --board qemu $(QEMU_PASS_ARGS)

# Speed and memory goals (benches/host.rs), then the firmware end to end on
# the virtual air (tools/bench_e2e.py: issue 7's workloads, cost per
# operation and callback latency, README "End-to-end benchmark"; no
# pass/fail); with valgrind installed, also instructions per operation
# (--callgrind). Not part of make test.
# BENCH_ARGS overrides, e.g. BENCH_ARGS="--reps 1 --workloads write,idle".
BENCH_ARGS ?= $(if $(shell command -v callgrind_control 2>/dev/null),--callgrind)
bench: firmware
	$(CARGO) bench --features std
	@test -x $(VENV_PY) || $(ROOT)/tools/setup.sh
	cd $(ROOT) && $(VENV_PY) tools/bench_e2e.py --firmware $(FIRMWARE) $(BENCH_ARGS)

# Footprint goals (tools/size.py, README "Footprint"); not part of make test.
# Needs binutils-arm-none-eabi (tools/setup.sh installs it). The firmware
# row compares the qemu firmware with and without the module.
size: firmware-qemu firmware-qemu-nomodule
	@command -v arm-none-eabi-ld >/dev/null || $(ROOT)/tools/setup.sh
	CARGO=$(CARGO) python3 $(ROOT)/tools/size.py \
		--firmware $(QEMU_FIRMWARE) --firmware-without $(QEMU_NOMOD_FIRMWARE)

clean:
	$(CARGO) clean
	rm -rf $(MP_BUILD) $(BUILD_DIR)/mp-unix-fake $(BUILD_DIR)/fake-core $(BUILD_DIR)/unix \
		$(MP_QEMU_BUILD) $(QEMU_DIR) $(MP_QEMU_NOMOD_BUILD) $(QEMU_NOMOD_DIR)

# Also forgets the MicroPython source tree and the venv.
distclean: clean
	rm -rf $(BUILD_DIR) $(ROOT)/.venv

FORCE:
