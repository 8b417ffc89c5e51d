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
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/mpble_port.c
# The transport is per platform; only the unix one exists so far: the
# shared part, H4 over TCP or a serial device, and the btsnoop capture.
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/hal_unix.c
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/hal_unix_tcp.c
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/hal_unix_tty.c
SRC_USERMOD_C += $(MPBLE_MOD_DIR)/hal_unix_snoop.c

CFLAGS_USERMOD += -I$(MPBLE_MOD_DIR) -I$(MPBLE_ROOT)/include
# Tear-down (mpble_port.h): mp_deinit() calls mpble_port_deinit() when the
# process exits, so the transport's reader thread is stopped and joined
# before the VM goes away. The unix port defines no MICROPY_PORT_DEINIT_FUNC
# of its own; a port with soft reset calls mpble_port_deinit() from its
# soft-reset path instead.
CFLAGS_USERMOD += '-DMICROPY_PORT_DEINIT_FUNC=do { extern void mpble_port_deinit(void); mpble_port_deinit(); } while (0)'
# py/runtime.c holds mp_deinit(): rebuild it when this hook changes (make
# does not track flags).
$(BUILD)/py/runtime.o: $(MPBLE_MOD_DIR)/micropython.mk
LDFLAGS_USERMOD += $(MPBLE_LIB)

# Relink when the Rust core changes (MicroPython's link rule only knows its
# own objects).
ifneq ($(PROG),)
$(BUILD)/$(PROG): $(MPBLE_LIB)
endif
