/*
 * mpble: the page HAL under the bare-metal key store (keystore_flash.c): a
 * region of NOR-like flash, erased a page at a time to all 0xFF, programmed
 * by clearing bits, read through memory. A board provides these four; the
 * qemu board backs them with RAM (qemu/mps2_flash.c).
 */
#ifndef MICROPY_INCLUDED_MPBLE_FLASH_H
#define MICROPY_INCLUDED_MPBLE_FLASH_H

#include <stddef.h>
#include <stdint.h>

// Bytes per erasable page; pages in the region (at least 2: one per slot).
size_t mpble_flash_page_size(void);
size_t mpble_flash_page_count(void);

// The region's first byte, readable as memory.
const uint8_t *mpble_flash_base(void);

// Erases one page to 0xFF. Returns 0 or a positive errno.
int mpble_flash_erase(size_t page);

// Programs len bytes at offset from the region's start (only clears bits:
// the bytes must have been erased). Returns 0 or a positive errno.
int mpble_flash_program(size_t offset, const uint8_t *data, size_t len);

#endif // MICROPY_INCLUDED_MPBLE_FLASH_H
