// wrap.h -- `bits`-bit two's-complement values in 32-bit integers, the
// internal part that tokenisation, prediction and the plain coder share.
// Not installed; not public.
#ifndef LMIC_WRAP_H
#define LMIC_WRAP_H

#include <stdint.h>

// The low `bits` bits set (1 <= bits <= 32).
static inline uint32_t lmic_mask_(int bits) { return bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1u; }

// The low `bits` bits of u, sign-extended: two's-complement wrap, no UB.
static inline int32_t lmic_sext_(uint32_t u, int bits) {
    u &= lmic_mask_(bits);
    uint32_t sign = 1u << (bits - 1);
    return (int32_t)((u ^ sign) - sign);
}

#endif
