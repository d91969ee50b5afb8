// mathf.h -- lmic's own elementary functions, the internal part: the float32
// kernels that the model's loops call. Not installed; not public.
//
// They are static inline and branch-free (bit masks, not jumps) so that a
// loop calling them vectorises (the model marks such loops `omp simd`); a vectorised lane performs exactly the scalar
// function's IEEE operations, so the bits do not depend on whether, or how
// wide, the compiler vectorised. Only + - * /, comparisons and bit moves:
// no libm, no reliance on FMA (the Makefile builds with -ffp-contract=off).
// lmic_expf() (mathf.c) is lmic_expf_k_(): one definition of exp.
#ifndef LMIC_MATHF_H
#define LMIC_MATHF_H

#include <stdint.h>
#include <string.h>

static inline uint32_t lmic_fbits_(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float lmic_bitsf_(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

// exp(x), float32, within 1.05 ulp (measured over every float; see
// tests/test_model.c). exp(-inf) = 0,
// exp(+inf) = +inf, exp(NaN) = NaN; results underflow through the subnormals
// to 0 and overflow to +inf as the true values do.
//
// x = n ln2 + r with |r| <= ln2/2 (Cody-Waite: ln2 = LN2_HI + LN2_LO, LN2_HI
// with 16 significant bits so that n * LN2_HI is exact for |n| < 256 and, by
// Sterbenz's lemma, so is x - n * LN2_HI); exp(r) = 1 + r + r^2 q(r) with q a
// degree-4 Chebyshev fit of (e^r - 1 - r) / r^2; then two exact scalings by
// 2^n1 and 2^n2 (n1 + n2 = n), each a normal float, so that the only rounding
// of the scaling is the last one (into the subnormals when the result is tiny).
static inline float lmic_expf_k_(float x) {
    // Adding 1.5 * 2^23 rounds x / ln2 to an integer, to nearest even, and
    // leaves it in the low mantissa bits of t.
    const float t = x * 0x1.715476p+0f + 0x1.8p23f;
    const float n = t - 0x1.8p23f;
    const float r = (x - n * 0x1.62e4p-1f) - n * 0x1.7f7d1cp-20f;
    const float q = 0x1p-1f + r * (0x1.5554dcp-3f + r * (0x1.55551ap-5f +
                    r * (0x1.120b6cp-7f + r * 0x1.6d1106p-10f)));
    const float p = 1.0f + (r + (r * r) * q);
    const int32_t ni = (int32_t)(lmic_fbits_(t) - 0x4b400000u);  // n as an integer
    const int32_t n1 = ni / 2, n2 = ni - n1;  // each in [-75, 65] for x in [-104, 89]
    const float s1 = lmic_bitsf_((uint32_t)(n1 + 127) << 23);
    const float s2 = lmic_bitsf_((uint32_t)(n2 + 127) << 23);
    const float y = (p * s1) * s2;
    // Below -104 the result rounds to 0, above 89 it overflows (and the
    // scale factors above are garbage). The fix-up is done with bit masks:
    // clamps or selects let compilers split the loop into per-case code
    // paths that no longer vectorise. A NaN fails both tests and stays NaN.
    const uint32_t lo = 0u - (uint32_t)(x < -104.0f);  // all ones when true
    const uint32_t hi = 0u - (uint32_t)(x > 89.0f);
    return lmic_bitsf_((lmic_fbits_(y) & ~(lo | hi)) | (hi & 0x7f800000u));
}

// The tanh-form GELU of jax.nn.gelu (approximate=True):
//   0.5 x (1 + tanh(y)),  y = sqrt(2/pi) (x + 0.044715 x^3),
// evaluated through the identity 0.5 (1 + tanh(y)) = 1 / (1 + exp(-2y)):
// the same function, with one exp and no cancellation where tanh(y) is near
// -1 (large negative x), so it is also the more accurate evaluation.
// -2 sqrt(2/pi) = -0x1.988454p+0 in float (float(sqrt(2/pi)) = 0x1.988454p-1,
// doubled exactly).
static inline float lmic_geluf_(float x) {
    const float u = x + 0.044715f * ((x * x) * x);
    return x / (1.0f + lmic_expf_k_(-0x1.988454p+0f * u));
}

#endif
