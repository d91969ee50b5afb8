// test_plaincoder.c -- the plain coder: exact round trips over widths,
// channel counts and lengths (extreme values included), its rate on
// Laplacian residuals against their entropy, bad arguments, and damaged
// streams decoding to in-range residuals.
#include "lmic.h"
#include "test.h"

#include <math.h>

// res (n, C) of `bits` bits: kind 0 small two-sided geometric values (scale
// grows with the channel), 1 uniform over the whole range, 2 the extremes
// and zero, 3 silence, 4 the most negative value throughout (the largest u:
// the slow running sum reaches its top context).
static void residuals_(int kind, int32_t *res, size_t n, int C, int bits, uint64_t seed) {
    int64_t hi = bits == 32 ? INT32_MAX : ((int64_t)1 << (bits - 1)) - 1, lo = -hi - 1;
    for (size_t i = 0; i < n * (size_t)C; i++) {
        uint64_t r = lmic_rng_next(&seed);
        int64_t v = 0;
        if (kind == 0) {
            int scale = 1 + (int)(i % (size_t)C) * 3;
            v = (int64_t)(r % (uint64_t)(8 * scale)) - 4 * scale;
        } else if (kind == 1) {
            v = lo + (int64_t)(r % (uint64_t)(hi - lo + 1));
        } else if (kind == 2) {
            v = (r % 3 == 0) ? hi : (r % 3 == 1) ? lo : 0;
        } else if (kind == 4) {
            v = lo;
        }
        if (v > hi) v = hi;
        if (v < lo) v = lo;
        res[i] = (int32_t)v;
    }
}

static void test_plain_round_trip_grid(void) {
    static const int bitss[] = {1, 2, 4, 8, 12, 16, 24, 31, 32};
    static const int chans[] = {1, 2, 6};
    static const size_t lens[] = {1, 2, 777};
    int32_t *x = malloc(777 * 6 * sizeof *x), *y = malloc(777 * 6 * sizeof *y);
    CHECK(x && y);
    for (size_t b = 0; b < sizeof bitss / sizeof *bitss; b++)
        for (size_t c = 0; c < 3; c++)
            for (size_t l = 0; l < 3; l++)
                for (int kind = 0; kind < 5; kind++) {
                    int bits = bitss[b], C = chans[c];
                    size_t n = lens[l];
                    residuals_(kind, x, n, C, bits, 1000 + b * 100 + c * 10 + l);
                    lmic_buf out = {0};
                    size_t size = 0;
                    lmic_status st = lmic_plain_encode(x, n, C, bits, &out, &size);
                    int ok = st == LMIC_OK && size == out.size;
                    if (ok) {
                        memset(y, 0x55, n * (size_t)C * sizeof *y);
                        ok = lmic_plain_decode(out.data, out.size, n, C, bits, y) == LMIC_OK &&
                             memcmp(x, y, n * (size_t)C * sizeof *x) == 0;
                    }
                    lmic_buf_free(&out);
                    if (!ok) { free(x); free(y); }
                    CHECKF(ok, "bits %d, %d channels, %zu frames, kind %d", bits, C, n, kind);
                }
    free(x);
    free(y);
}

// Two-sided geometric residuals (|r| geometric, then a random sign): the
// coder must come within 3 % of their entropy (it learns the scale as it
// goes).
static void test_plain_rate(void) {
    const size_t n = 20000;
    int32_t *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    CHECK(x && y);
    static const double qs[] = {0.5, 0.9, 0.99};
    for (int k = 0; k < 3; k++) {
        double q = qs[k];
        uint64_t seed = 77 + (uint64_t)k;
        for (size_t i = 0; i < n; i++) {  // |r| geometric by inversion, then a sign
            double u = ((double)(lmic_rng_next(&seed) >> 11) + 0.5) / 9007199254740992.0;
            int32_t m = (int32_t)floor(log(u) / log(q));
            x[i] = (lmic_rng_next(&seed) & 1) ? -m : m;
        }
        // Entropy per sample: |r| is geometric, P(m) = (1 - q) q^m, and the
        // sign costs a bit when m > 0 (probability q).
        double h = (-(1 - q) * log2(1 - q) - q * log2(q)) / (1 - q) + q;
        lmic_buf out = {0};
        size_t size;
        CHECK_OK(lmic_plain_encode(x, n, 1, 16, &out, &size));
        CHECK_OK(lmic_plain_decode(out.data, out.size, n, 1, 16, y));
        CHECK(memcmp(x, y, n * sizeof *x) == 0);
        double bits = 8.0 * (double)size / (double)n;
        printf("     q %.2f: %.3f bits/sample, entropy %.3f (%+.1f %%)\n", q, bits, h, 100 * (bits / h - 1));
        lmic_buf_free(&out);
        CHECKF(bits < 1.03 * h + 0.02, "q %.2f: %.3f bits/sample, entropy %.3f", q, bits, h);
    }
    free(x);
    free(y);
}

static void test_plain_args(void) {
    int32_t x[4] = {0, 1, -1, 2}, y[4];
    lmic_buf out = {0};
    size_t size;
    CHECK(lmic_plain_encode(x, 4, 1, 0, &out, &size) == LMIC_ERR_ARG);
    CHECK(lmic_plain_encode(x, 4, 1, 33, &out, &size) == LMIC_ERR_ARG);
    CHECK(lmic_plain_encode(x, 4, 0, 16, &out, &size) == LMIC_ERR_ARG);
    CHECK(lmic_plain_encode(NULL, 4, 1, 16, &out, &size) == LMIC_ERR_ARG);
    CHECK(lmic_plain_encode(x, 4, 1, 16, NULL, &size) == LMIC_ERR_ARG);
    CHECK(lmic_plain_decode(NULL, 3, 4, 1, 16, y) == LMIC_ERR_ARG);
    CHECK(lmic_plain_decode(NULL, 0, 0, 1, 16, NULL) == LMIC_OK);  // nothing to do
    CHECK(out.size == 0);
    // An empty stream is a stream: the decoder reads one-bits past the end.
    CHECK_OK(lmic_plain_decode(NULL, 0, 4, 1, 16, y));
}

// Damage anywhere decodes to residuals within `bits` bits (the container's
// CRCs then report it), never to a crash.
static void test_plain_damaged(void) {
    const size_t n = 3000;
    int32_t *x = malloc(n * 2 * sizeof *x), *y = malloc(n * 2 * sizeof *y);
    CHECK(x && y);
    residuals_(0, x, n, 2, 12, 5);
    lmic_buf out = {0};
    size_t size;
    CHECK_OK(lmic_plain_encode(x, n, 2, 12, &out, &size));
    uint64_t seed = 9;
    int bad = 0, differs = 0;
    for (int trial = 0; trial < 200 && !bad; trial++) {
        uint8_t *d = malloc(out.size);
        memcpy(d, out.data, out.size);
        d[lmic_rng_next(&seed) % out.size] ^= (uint8_t)(1u << (lmic_rng_next(&seed) % 8));
        size_t cut = trial % 4 == 0 ? (size_t)(lmic_rng_next(&seed) % out.size) : out.size;
        if (lmic_plain_decode(d, cut, n, 2, 12, y) != LMIC_OK) bad = 1;
        for (size_t i = 0; i < n * 2; i++) if (y[i] < -2048 || y[i] > 2047) bad = 1;
        differs += memcmp(x, y, n * 2 * sizeof *x) != 0;
        free(d);
    }
    lmic_buf_free(&out);
    free(x);
    free(y);
    CHECK(!bad);
    CHECK(differs > 150);  // damage shows (the CRCs catch the rest)
}

void test_plaincoder(void) {
    RUN(test_plain_round_trip_grid);
    RUN(test_plain_rate);
    RUN(test_plain_args);
    RUN(test_plain_damaged);
}
