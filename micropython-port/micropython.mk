# mpble user C module (make-based ports, e.g. unix, qemu).
#
#   make USER_C_MODULES=<repo root> MPBLE_LIB=<path to libmpble.a> ...
#
# MPBLE_LIB defaults to the host release build of the Rust core.
MPBLE_MOD_DIR := $(USERMOD_DIR)
MPBLE_ROOT := $(abspath $(MPBLE_MOD_DIR)/..)
MPBLE_LIB ?= $(MPBLE_ROOT)/target/release/libmpble.a

SRC_USERMOD_C += $(MPBLE_MOD_DIR)/modble.c
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/modnetwork_bt.c
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/network_bt_gatts.c
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/network_bt_gattc.c
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/mpble_port.c
# `osTimer` (QuecPython): a built-in type over the frozen shim _ostimer.py.
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/modostimer.c
# The transport (mpble_hal.h) is per port: MPBLE_PORT defaults to the
# directory MicroPython's make runs in (ports/unix, ports/qemu).
MPBLE_PORT ?= $(notdir $(CURDIR))
ifeq ($(MPBLE_PORT),qemu)
# Bare metal, board MPS2_AN385: H4 on the second CMSDK UART, and the board
# glue the stock qemu port lacks (interrupts, clock, sleeps, time module);
# see qemu/mps2_port.c.
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/hal_cmsdk_uart.c
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/qemu/mps2_port.c
# Bonds: the two-slot flash store over the board's page HAL (RAM on qemu).
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/keystore_flash.c
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/qemu/mps2_flash.c
# The port's atomic sections are empty (it takes no interrupts); ours call
# the scheduler from interrupt handlers.
CFLAGS_USERMOD += -include $(MPBLE_MOD_DIR)/qemu/mps2_atomic.h
# No C library is linked (-nostdlib): no stdio to flush.
CFLAGS_USERMOD += -DMPBLE_PORT_NO_STDIO=1
# Reading the REPL sleeps in WFI and runs the scheduler (the port spins).
LDFLAGS_USERMOD += -Wl,--wrap=mp_hal_stdin_rx_chr
# The port's link line puts LDFLAGS before the objects, where an archive
# resolves nothing; its LIBS come after them (libgcc, again after the core
# for the core's own helper calls).
$(BUILD)/firmware.elf: LIBS += $(MPBLE_LIB) $(shell $(CC) $(CFLAGS) -print-libgcc-file-name)
$(BUILD)/firmware.elf: $(MPBLE_LIB)
else
# unix: the shared part, H4 over TCP or a serial device, and the btsnoop
# capture.
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/hal_unix.c
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/hal_unix_tcp.c
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/hal_unix_tty.c
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/hal_unix_snoop.c
# Bonds: one file, replaced atomically (MPBLE_BONDS).
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/hal_unix_keystore.c
# The main thread's waits (the REPL's read, time.sleep's select,
# mp_hal_delay_ms) also wait for the reader's wake-up, an eventfd that
# cannot be missed, instead of a signal; see hal_unix_wait.c.
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/hal_unix_wait.c
LDFLAGS_USERMOD += -Wl,--wrap=mp_hal_stdin_rx_chr -Wl,--wrap=select -Wl,--wrap=mp_hal_delay_ms
# hal_unix.c tracks the port's Ctrl-C handler and the REPL's terminal mode
# instead of asking the kernel before every callback pass.
LDFLAGS_USERMOD += -Wl,--wrap=mp_hal_set_interrupt_char -Wl,--wrap=mp_hal_stdio_mode_raw -Wl,--wrap=mp_hal_stdio_mode_orig
# Each thread's VM state from a __thread variable instead of a pthread key
# (MP_STATE_THREAD, about 30 lookups per callback); see hal_unix_thread.c.
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/hal_unix_thread.c
LDFLAGS_USERMOD += -Wl,--wrap=mp_thread_get_state -Wl,--wrap=mp_thread_set_state
LDFLAGS_USERMOD += $(MPBLE_LIB)
endif

CFLAGS_USERMOD += -I$(MPBLE_MOD_DIR) -I$(MPBLE_ROOT)/include
# Tear-down (mpble_port.h): mp_deinit() calls mpble_port_deinit() when the
# process exits, so the transport's reader thread is stopped and joined
# before the VM goes away. The unix port defines no MICROPY_PORT_DEINIT_FUNC
# of its own. The qemu port has soft reset (Ctrl-D): its main() calls
# mp_deinit() on every soft reset, so the same hook tears the module down
# there (ports/qemu defines no MICROPY_PORT_DEINIT_FUNC either).
CFLAGS_USERMOD += '-DMICROPY_PORT_DEINIT_FUNC=do { extern void mpble_port_deinit(void); mpble_port_deinit(); } while (0)'
# py/runtime.c holds mp_deinit(): rebuild it when this hook changes (make
# does not track flags).
$(BUILD)/py/runtime.o: $(MPBLE_MOD_DIR)/micropython.mk

# Relink when the Rust core changes (MicroPython's link rule only knows its
# own objects).
ifneq ($(PROG),)
$(BUILD)/$(PROG): $(MPBLE_LIB)
endif
