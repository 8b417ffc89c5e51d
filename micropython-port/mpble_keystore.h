/*
 * mpble: the key store, where the port keeps the core's bond table (one blob,
 * src/host/bonds.rs) across restarts of the firmware.
 *
 * The core never calls the store: mpble_port.c imports the blob when BLE
 * starts (mpble_port_open) and saves it, on the main thread and without the
 * port lock, whenever the core says its bonds changed (mpble_bonds_dirty).
 * A save replaces the whole blob atomically: a crash or power cut in the
 * middle leaves the previous blob readable, so it loses at most the bond
 * being written, never the others.
 *
 * One implementation per platform:
 * - unix (hal_unix_keystore.c): a file named by MPBLE_BONDS (default
 *   mpble-bonds.bin next to the firmware; empty: no store, bonds live in
 *   RAM only), replaced with write-to-temporary + fsync + rename;
 * - bare metal (keystore_flash.c): two slots in a flash region, each a
 *   header (magic, sequence number, length, CRC-32) and the blob, written
 *   alternately over a small page HAL (mpble_flash.h); the qemu board's
 *   "flash" is RAM (QEMU's MPS2 flash does not persist).
 */
#ifndef MICROPY_INCLUDED_MPBLE_KEYSTORE_H
#define MICROPY_INCLUDED_MPBLE_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

// Reads the stored blob into buf (cap bytes): *len is its length, 0 when
// nothing is stored yet. Returns 0, or a positive errno (*len is then 0).
int mpble_keystore_load(uint8_t *buf, size_t cap, size_t *len);

// Replaces the stored blob with len bytes of buf, atomically. Returns 0,
// or a positive errno (the previous blob is still there).
int mpble_keystore_save(const uint8_t *buf, size_t len);

// Names the store for messages (the file's path, or "flash").
const char *mpble_keystore_describe(void);

#endif // MICROPY_INCLUDED_MPBLE_KEYSTORE_H
