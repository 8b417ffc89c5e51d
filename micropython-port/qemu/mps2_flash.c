/*
 * mpble: the qemu board's "flash" for the key store (mpble_flash.h): two
 * 1 KB pages of RAM with NOR semantics (erase to 0xFF, program clears
 * bits). QEMU's MPS2 model keeps no flash across runs, so bonds last as
 * long as the QEMU process: a soft reset (Ctrl-D) keeps them (RAM is not
 * cleared), a new QEMU starts with none. A real board maps these four
 * functions onto its flash controller and a reserved region.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "mpble_flash.h"

#define FLASH_PAGE 1024u
#define FLASH_PAGES 2u

static uint8_t flash_region[FLASH_PAGE * FLASH_PAGES];
static bool flash_inited;

static void flash_init(void) {
    if (!flash_inited) {
        // Fresh flash reads erased.
        memset(flash_region, 0xFF, sizeof(flash_region));
        flash_inited = true;
    }
}

size_t mpble_flash_page_size(void) {
    return FLASH_PAGE;
}

size_t mpble_flash_page_count(void) {
    return FLASH_PAGES;
}

const uint8_t *mpble_flash_base(void) {
    flash_init();
    return flash_region;
}

int mpble_flash_erase(size_t page) {
    flash_init();
    if (page >= FLASH_PAGES) {
        return EINVAL;
    }
    memset(flash_region + page * FLASH_PAGE, 0xFF, FLASH_PAGE);
    return 0;
}

int mpble_flash_program(size_t offset, const uint8_t *data, size_t len) {
    flash_init();
    if (offset > sizeof(flash_region) || len > sizeof(flash_region) - offset) {
        return EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        flash_region[offset + i] &= data[i];
    }
    return 0;
}
