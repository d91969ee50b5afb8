// varint.h -- LEB128 varints (7 bits a byte, low groups first, high bit =
// more), the internal part shared by the container, the predictor records
// and the model streams' segment sizes. Not installed; not public.
#ifndef LMIC_VARINT_H
#define LMIC_VARINT_H

#include "lmic.h"

static inline lmic_status lmic_varint_put_(lmic_buf *b, uint64_t v) {
    uint8_t tmp[10];
    int n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7F);
        v >>= 7;
        if (v) tmp[n] |= 0x80;
        n++;
    } while (v);
    return lmic_buf_append(b, tmp, (size_t)n);
}

// The bytes lmic_varint_put_ writes for v.
static inline size_t lmic_varint_size_(uint64_t v) {
    size_t n = 1;
    while (v >>= 7) n++;
    return n;
}

// Reads a varint from p[*pos..end) into *v; -1 when it runs past end or
// overflows 64 bits.
static inline int lmic_varint_get_(const uint8_t *p, size_t end, size_t *pos, uint64_t *v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= end) return -1;
        uint8_t c = p[(*pos)++];
        r |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80)) { *v = r; return 0; }
    }
    return -1;
}

#endif
