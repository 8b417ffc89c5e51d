/*
 * mpble: the bare-metal key store (mpble_keystore.h): two slots in a flash
 * region (mpble_flash.h), each one page:
 *
 *   magic "MPKS" | sequence number | blob length | CRC-32 of the blob | blob
 *
 * (little-endian 32-bit words). A save goes to the slot that does not
 * hold the newest valid blob: erase, program the blob, then the header
 * last. A load takes the valid slot (magic, length within the page, CRC)
 * with the newer sequence number. A save cut short (reset, power loss)
 * leaves its slot invalid and the other slot, the previous blob, is read:
 * at most the bond being written is lost.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "mpble_flash.h"
#include "mpble_keystore.h"

#define KS_MAGIC 0x534B504Du // "MPKS" little-endian
#define KS_HEADER 16u

static uint32_t ks_word(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void ks_put(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

// CRC-32 (IEEE, reflected; zlib's), as the core's bonds.rs computes it.
static uint32_t ks_crc32(const uint8_t *data, size_t len) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (int b = 0; b < 8; b++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

static const uint8_t *ks_slot(size_t slot) {
    return mpble_flash_base() + slot * mpble_flash_page_size();
}

// Whether a slot holds a complete blob; its sequence number if so.
static bool ks_valid(size_t slot, uint32_t *seq) {
    const uint8_t *p = ks_slot(slot);
    uint32_t len = ks_word(p + 8);
    if (ks_word(p) != KS_MAGIC || len > mpble_flash_page_size() - KS_HEADER) {
        return false;
    }
    if (ks_crc32(p + KS_HEADER, len) != ks_word(p + 12)) {
        return false;
    }
    *seq = ks_word(p + 4);
    return true;
}

// The slot with the newest valid blob, or -1.
static int ks_newest(uint32_t *seq) {
    uint32_t s0 = 0, s1 = 0;
    bool v0 = ks_valid(0, &s0);
    bool v1 = ks_valid(1, &s1);
    if (v0 && v1) {
        // Sequence numbers wrap: newer is ahead by less than half the range.
        bool one_newer = (int32_t)(s1 - s0) > 0;
        *seq = one_newer ? s1 : s0;
        return one_newer ? 1 : 0;
    }
    if (v0 || v1) {
        *seq = v0 ? s0 : s1;
        return v0 ? 0 : 1;
    }
    return -1;
}

const char *mpble_keystore_describe(void) {
    return "flash";
}

int mpble_keystore_load(uint8_t *buf, size_t cap, size_t *len) {
    *len = 0;
    if (mpble_flash_page_count() < 2) {
        return ENODEV;
    }
    uint32_t seq;
    int slot = ks_newest(&seq);
    if (slot < 0) {
        return 0;
    }
    const uint8_t *p = ks_slot((size_t)slot);
    size_t n = ks_word(p + 8);
    if (n > cap) {
        return EFBIG;
    }
    memcpy(buf, p + KS_HEADER, n);
    *len = n;
    return 0;
}

int mpble_keystore_save(const uint8_t *buf, size_t len) {
    if (mpble_flash_page_count() < 2) {
        return ENODEV;
    }
    if (len > mpble_flash_page_size() - KS_HEADER) {
        return EFBIG;
    }
    uint32_t seq = 0;
    int newest = ks_newest(&seq);
    size_t slot = newest == 0 ? 1 : 0;
    int err = mpble_flash_erase(slot);
    if (err == 0) {
        err = mpble_flash_program(slot * mpble_flash_page_size() + KS_HEADER, buf, len);
    }
    if (err == 0) {
        uint8_t header[KS_HEADER];
        ks_put(header, KS_MAGIC);
        ks_put(header + 4, newest < 0 ? 1u : seq + 1u);
        ks_put(header + 8, (uint32_t)len);
        ks_put(header + 12, ks_crc32(buf, len));
        err = mpble_flash_program(slot * mpble_flash_page_size(), header, sizeof(header));
    }
    return err;
}
