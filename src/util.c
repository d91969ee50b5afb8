// util.c -- status names, the growable byte buffer, the seeded generator.
#include "lmic.h"

#include <stdlib.h>
#include <string.h>

const char *lmic_strerror(lmic_status s) {
    switch (s) {
    case LMIC_OK: return "success";
    case LMIC_ERR_NOMEM: return "out of memory";
    case LMIC_ERR_ARG: return "invalid argument";
    case LMIC_ERR_IO: return "input/output error";
    case LMIC_ERR_FORMAT: return "unrecognised or invalid format";
    case LMIC_ERR_CORRUPT: return "corrupt data";
    case LMIC_ERR_UNSUPPORTED: return "unsupported";
    case LMIC_ERR_CODEC: return "codec library failure";
    }
    return "unknown error";
}

// --- lmic_buf

lmic_status lmic_buf_reserve(lmic_buf *b, size_t n) {
    if (n <= b->cap - b->size) return LMIC_OK;
    if (n > SIZE_MAX / 2 - b->size) return LMIC_ERR_NOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->size < n) cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) return LMIC_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return LMIC_OK;
}

lmic_status lmic_buf_append(lmic_buf *b, const void *p, size_t n) {
    if (n == 0) return LMIC_OK;
    lmic_status st = lmic_buf_reserve(b, n);
    if (st != LMIC_OK) return st;
    memcpy(b->data + b->size, p, n);
    b->size += n;
    return LMIC_OK;
}

void lmic_buf_free(lmic_buf *b) {
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->size = b->cap = 0;
}

// --- splitmix64 (Steele, Lea, Flood 2014): one 64-bit state, full period.

uint64_t lmic_rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
