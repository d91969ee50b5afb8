// mathf.c -- lmic's own transcendental functions: float32 exp and log for the
// model (public: lmic_expf, lmic_logf), and double sin, cos, exp and log for
// the position tables and the random initialisation (model_internal.h).
//
// Why not libm: libm's results differ between libraries, versions and CPUs
// (and compilers may vectorise calls into yet another implementation), and
// the decoder must recompute the encoder's probabilities bit for bit. These
// use only + - * /, comparisons and bit manipulation, each operation written
// in a fixed order (the Makefile builds with -ffp-contract=off, so no build
// fuses a*b+c), so every IEEE-754 machine computes the same bits.
//
// Method, for all of them: range reduction to a small interval (Cody-Waite,
// with the constant split so that the large products are exact), a
// polynomial there, and the reconstruction by building exponent bits.
// Accuracy (measured against glibc; tests/test_model.c keeps checking):
// expf within 1.05 ulp and logf within 0.86 ulp over every float; the
// doubles within about 1 ulp (sin and cos: absolute error <= 2.3e-16 for
// |x| < 1e5, degrading slowly above 2^20; NaN for |x| >= 2^50).
#include <math.h>  // INFINITY and NAN only: no libm call in this file
#include <stdint.h>
#include <string.h>

#include "mathf.h"
#include "model_internal.h"

// --- float32 (public)

float lmic_expf(float x) { return lmic_expf_k_(x); }

// log(x) = e ln2 + log(m), x = m 2^e with m in [sqrt(1/2), sqrt(2)).
// With f = m - 1 (exact) and s = f / (2 + f), log(m) = 2 atanh(s)
// = f - f^2/2 + s (f^2/2 + R(s^2)), R(z) = 2z/3 + 2z^2/5 + 2z^3/7 + 2z^4/9
// (|s| < 0.172, so the next term is below 1e-9 of the result): the form of
// FreeBSD's e_logf.c, which keeps the largest terms exact.
float lmic_logf(float x) {
    if (x != x) return x;                   // NaN
    if (x < 0.0f) return NAN;
    if (x == 0.0f) return -INFINITY;
    if (x == INFINITY) return x;
    uint32_t u = lmic_fbits_(x);
    int e = 0;
    if (u < 0x00800000u) {                  // subnormal: scale into the normals
        x *= 0x1p25f;
        u = lmic_fbits_(x);
        e = -25;
    }
    e += (int)(u >> 23) - 127;
    float m = lmic_bitsf_((u & 0x007fffffu) | 0x3f800000u);  // [1, 2)
    if (m > 0x1.6a09e6p+0f) {               // > sqrt(2): halve (exact)
        m *= 0.5f;
        e += 1;
    }
    const float f = m - 1.0f;               // exact (Sterbenz)
    const float s = f / (2.0f + f);
    const float z = s * s;
    const float R = z * (0x1.555556p-1f + z * (0x1.99999ap-2f + z * (0x1.24924ap-2f +
                    z * 0x1.c71c72p-3f)));
    const float hfsq = 0.5f * (f * f);
    const float ef = (float)e;
    // ln2 = 0x1.62e4p-1 + 0x1.7f7d1cp-20: e * (the first) is exact for |e| < 256.
    return ef * 0x1.62e4p-1f - ((hfsq - (s * (hfsq + R) + ef * 0x1.7f7d1cp-20f)) - f);
}

// --- double (internal)

static uint64_t dbits_(double x) {
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static double bitsd_(uint64_t u) {
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

// 2^k for -1022 <= k <= 1023, by building the exponent.
static double pow2_(int k) { return bitsd_((uint64_t)(k + 1023) << 52); }

// ln2 = LN2_HI + LN2_LO; LN2_HI has 32 significant bits, so n * LN2_HI is
// exact for |n| < 2^21.
#define LN2_HI 0x1.62e42feep-1
#define LN2_LO 0x1.a39ef35793c76p-33

// exp(x) = 2^n exp(r), |r| <= ln2/2, exp(r) by its Taylor series to r^13 (the
// first omitted term is below 5e-18).
double lmic_exp_(double x) {
    if (x != x) return x;
    if (x > 0x1.62e42fefa39efp+9) return INFINITY;  // ln(DBL_MAX) = 709.78...
    if (x < -745.2) return 0.0;                     // below ln(2^-1075): rounds to 0
    const double fn = (x * 0x1.71547652b82fep+0 + 0x1.8p52) - 0x1.8p52;  // round(x / ln2)
    const double r = (x - fn * LN2_HI) - fn * LN2_LO;
    double q = 1.0 / 6227020800.0;                  // 1/13!
    q = 1.0 / 479001600.0 + r * q;
    q = 1.0 / 39916800.0 + r * q;
    q = 1.0 / 3628800.0 + r * q;
    q = 1.0 / 362880.0 + r * q;
    q = 1.0 / 40320.0 + r * q;
    q = 1.0 / 5040.0 + r * q;
    q = 1.0 / 720.0 + r * q;
    q = 1.0 / 120.0 + r * q;
    q = 1.0 / 24.0 + r * q;
    q = 1.0 / 6.0 + r * q;
    q = 0.5 + r * q;
    const double p = 1.0 + (r + (r * r) * q);
    const int n = (int)fn, n1 = n / 2, n2 = n - n1;  // n in [-1075, 1024]: halves are normal
    return (p * pow2_(n1)) * pow2_(n2);
}

// log(x) = e ln2 + 2 atanh(s), as lmic_logf with the series to z^11 (the
// first omitted term is below 1e-18 of the result).
double lmic_log_(double x) {
    if (x != x) return x;
    if (x < 0.0) return NAN;
    if (x == 0.0) return -INFINITY;
    if (x == INFINITY) return x;
    uint64_t u = dbits_(x);
    int e = 0;
    if (u < 0x0010000000000000ull) {        // subnormal
        x *= 0x1p54;
        u = dbits_(x);
        e = -54;
    }
    e += (int)(u >> 52) - 1023;
    double m = bitsd_((u & 0x000fffffffffffffull) | 0x3ff0000000000000ull);  // [1, 2)
    if (m > 0x1.6a09e667f3bcdp+0) {         // > sqrt(2)
        m *= 0.5;
        e += 1;
    }
    const double f = m - 1.0;
    const double s = f / (2.0 + f);
    const double z = s * s;
    double R = 2.0 / 23.0;
    R = 2.0 / 21.0 + z * R;
    R = 2.0 / 19.0 + z * R;
    R = 2.0 / 17.0 + z * R;
    R = 2.0 / 15.0 + z * R;
    R = 2.0 / 13.0 + z * R;
    R = 2.0 / 11.0 + z * R;
    R = 2.0 / 9.0 + z * R;
    R = 2.0 / 7.0 + z * R;
    R = 2.0 / 5.0 + z * R;
    R = 2.0 / 3.0 + z * R;
    R = z * R;
    const double hfsq = 0.5 * (f * f);
    const double ed = (double)e;
    return ed * LN2_HI - ((hfsq - (s * (hfsq + R) + ed * LN2_LO)) - f);
}

// sin and cos of |r| <= pi/4 (plus rounding), Taylor series to r^17 and r^18
// (the first omitted terms are below 1e-19).
static double sin_k_(double r) {
    const double z = r * r;
    double q = 1.0 / 355687428096000.0;     // 1/17!
    q = -1.0 / 1307674368000.0 + z * q;
    q = 1.0 / 6227020800.0 + z * q;
    q = -1.0 / 39916800.0 + z * q;
    q = 1.0 / 362880.0 + z * q;
    q = -1.0 / 5040.0 + z * q;
    q = 1.0 / 120.0 + z * q;
    q = -1.0 / 6.0 + z * q;
    return r + (r * z) * q;
}

static double cos_k_(double r) {
    const double z = r * r;
    double q = -1.0 / 6402373705728000.0;   // -1/18!
    q = 1.0 / 20922789888000.0 + z * q;
    q = -1.0 / 87178291200.0 + z * q;
    q = 1.0 / 479001600.0 + z * q;
    q = -1.0 / 3628800.0 + z * q;
    q = 1.0 / 40320.0 + z * q;
    q = -1.0 / 720.0 + z * q;
    q = 1.0 / 24.0 + z * q;
    const double hz = 0.5 * z;
    return (1.0 - hz) + (z * z) * q;
}

// x = n pi/2 + r, |r| <= pi/4 (plus rounding); returns r, *quadrant = n mod 4.
// pi/2 = P1 + P2 + P3 with P1, P2 of 33 significant bits: for |n| < 2^20,
// n * P1 and n * P2 are exact and x - n * P1 is exact (Sterbenz), so r is
// good to about 1e-16 absolute. Needs |x| < 2^50.
static double reduce_(double x, int *quadrant) {
    const double fn = (x * 0x1.45f306dc9c883p-1 + 0x1.8p52) - 0x1.8p52;  // round(x * 2/pi)
    double r = x - fn * 0x1.921fb544p+0;
    r = r - fn * 0x1.0b4611a6p-34;
    r = r - fn * 0x1.3198a2e037073p-69;
    *quadrant = (int)((int64_t)fn & 3);
    return r;
}

double lmic_sin_(double x) {
    if (!(x > -0x1p50 && x < 0x1p50)) return NAN;  // NaN, infinities, out of range
    if (x == 0.0) return x;                         // keeps the sign of -0
    int q;
    const double r = reduce_(x, &q);
    switch (q) {
    case 0: return sin_k_(r);
    case 1: return cos_k_(r);
    case 2: return -sin_k_(r);
    default: return -cos_k_(r);
    }
}

double lmic_cos_(double x) {
    if (!(x > -0x1p50 && x < 0x1p50)) return NAN;
    int q;
    const double r = reduce_(x, &q);
    switch (q) {
    case 0: return cos_k_(r);
    case 1: return -sin_k_(r);
    case 2: return -cos_k_(r);
    default: return sin_k_(r);
    }
}
