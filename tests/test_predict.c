// test_predict.c -- the predictor front end: exact round trips for every
// predictor, depth and channel count, parameter bytes (and hostile ones),
// golden residuals, and that prediction really shrinks residuals.
#include "lmic.h"
#include "test.h"

#include <math.h>

// A test signal of n frames (n, C) within `bits` bits.
enum { SIG_SINE_NOISE, SIG_NOISE, SIG_EXTREME, SIG_SILENCE, SIG_STEP };
static void signal_(int kind, int32_t *x, size_t n, int C, int bits, uint64_t seed) {
    int64_t hi = bits == 32 ? INT32_MAX : ((int64_t)1 << (bits - 1)) - 1;
    int64_t lo = -hi - 1;
    for (size_t t = 0; t < n; t++)
        for (int c = 0; c < C; c++) {
            int64_t v = 0;
            uint64_t r = lmic_rng_next(&seed);
            switch (kind) {
            case SIG_SINE_NOISE: {
                double a = 0.6 * (double)hi * sin(0.031 * (double)t + c) +
                           0.2 * (double)hi * sin(0.0071 * (double)t * (c + 1));
                v = (int64_t)llround(a) + (int64_t)(r % 9) - 4;
                break;
            }
            case SIG_NOISE: v = (int64_t)(r & 0xFFFFFFFFu); break;  // wrapped below
            case SIG_EXTREME: v = (r & 1) ? hi : lo; break;
            case SIG_SILENCE: v = 0; break;
            case SIG_STEP: v = ((t / 37) & 1) ? hi : lo + (int64_t)(t % 3); break;
            }
            if (v > hi || v < lo) {  // wrap to bits
                uint32_t u = (uint32_t)(uint64_t)v;
                if (bits < 32) u &= (1u << bits) - 1u;
                uint32_t s = 1u << (bits - 1);
                v = (int32_t)((u ^ s) - s);
            }
            x[t * (size_t)C + (size_t)c] = (int32_t)v;
        }
}

// Predictors of every kind, including extreme LPC coefficients.
#define NCASC 4  // cascade variants
#define NPRED (9 + 2 * NCASC)
static lmic_pred pred_(int i, int c, uint64_t *seed) {
    lmic_pred p = {0};
    if (i == 0) return p;
    if (i <= 4) { p.kind = LMIC_PRED_FIXED; p.order = (uint8_t)i; return p; }
    if (i <= 8) {
        p.kind = LMIC_PRED_LPC;
        p.order = (uint8_t)(i == 5 ? 1 : i == 6 ? 4 : LMIC_PRED_MAX_ORDER);
        p.shift = (uint8_t)(i == 8 ? 31 : i == 7 ? 0 : 12);
        for (int k = 0; k < p.order; k++) {
            uint64_t r = lmic_rng_next(seed);
            p.coef[k] = i == 7 ? ((r & 1) ? 32767 : -32767) : (int32_t)(r % 65535) - 32767;
        }
        if (i == 6) { p.coef[0] = 2 << 12; p.coef[1] = -(1 << 12); p.coef[2] = p.coef[3] = 0; }
        return p;
    }
    p.kind = LMIC_PRED_CASCADE;
    p.order = (uint8_t)((i - 9) / 2);
    p.stereo = (uint8_t)(c > 0 && (i - 9) % 2);
    return p;
}

static void test_predict_round_trip_grid(void) {
    static const int bitss[] = {1, 2, 3, 7, 8, 12, 16, 20, 23, 24, 25, 31, 32};
    static const int chans[] = {1, 2, 6};
    static const size_t ns[] = {0, 1, 2, 7, 777};
    enum { NMAX = 777, CMAX = 6 };
    static int32_t x[NMAX * CMAX], r[NMAX * CMAX], y[NMAX * CMAX];
    uint64_t seed = 42;
    for (size_t bi = 0; bi < sizeof bitss / sizeof bitss[0]; bi++)
        for (size_t ci = 0; ci < 3; ci++)
            for (size_t ni = 0; ni < 5; ni++)
                for (int kind = 0; kind < 5; kind++)
                    for (int pi = 0; pi < NPRED; pi++) {
                        int bits = bitss[bi], C = chans[ci];
                        size_t n = ns[ni];
                        if (n < 777 && kind != SIG_SINE_NOISE && kind != SIG_EXTREME) continue;
                        lmic_pred p[CMAX];
                        for (int c = 0; c < C; c++) p[c] = pred_((pi + c) % NPRED, c, &seed);
                        signal_(kind, x, n, C, bits, seed);
                        memset(y, 0x55, sizeof y);
                        CHECK_OK(lmic_pred_apply(p, x, n, C, bits, r));
                        for (size_t i = 0; i < n * (size_t)C; i++) {
                            int64_t lim = (int64_t)1 << (bits - 1);
                            CHECKF(r[i] >= -lim && r[i] < lim, "bits %d residual %d", bits, r[i]);
                        }
                        CHECK_OK(lmic_pred_restore(p, r, n, C, bits, y));
                        CHECKF(memcmp(x, y, n * (size_t)C * sizeof x[0]) == 0,
                               "bits %d C %d n %zu signal %d pred %d", bits, C, n, kind, pi);
                    }
}

// Residuals outside `bits` bits are wrapped on restore, and invalid
// predictors are refused.
static void test_predict_args(void) {
    int32_t x[4] = {1, -2, 3, -4}, r[4], y[4];
    lmic_pred p = {0};
    p.kind = LMIC_PRED_FIXED;
    p.order = 2;
    CHECK_OK(lmic_pred_apply(&p, x, 4, 1, 8, r));
    r[1] += 256;
    r[3] -= 512;
    CHECK_OK(lmic_pred_restore(&p, r, 4, 1, 8, y));
    CHECK(memcmp(x, y, sizeof x) == 0);
    p.order = 5;
    CHECK(lmic_pred_apply(&p, x, 4, 1, 8, r) == LMIC_ERR_ARG);
    p.kind = 9;
    CHECK(lmic_pred_apply(&p, x, 4, 1, 8, r) == LMIC_ERR_ARG);
    lmic_pred q = {0};
    q.kind = LMIC_PRED_CASCADE;
    q.stereo = 1;  // channel 0 has no channel before it
    CHECK(lmic_pred_apply(&q, x, 4, 1, 8, r) == LMIC_ERR_ARG);
    q.stereo = 0;
    q.order = NCASC;
    CHECK(lmic_pred_apply(&q, x, 4, 1, 8, r) == LMIC_ERR_ARG);
    lmic_pred l = {0};
    l.kind = LMIC_PRED_LPC;
    l.order = 1;
    l.coef[0] = 1 << 15;
    CHECK(lmic_pred_apply(&l, x, 4, 1, 8, r) == LMIC_ERR_ARG);
    lmic_pred z = {0};
    CHECK(lmic_pred_apply(&z, x, 4, 1, 0, r) == LMIC_ERR_ARG);
    CHECK(lmic_pred_apply(&z, x, 4, 1, 33, r) == LMIC_ERR_ARG);
    CHECK(lmic_pred_apply(&z, x, 4, 0, 8, r) == LMIC_ERR_ARG);
}

static void test_predict_write_read(void) {
    uint64_t seed = 7;
    for (int round = 0; round < 200; round++) {
        enum { C = 6 };
        lmic_pred p[C], q[C];
        for (int c = 0; c < C; c++) p[c] = pred_((int)(lmic_rng_next(&seed) % NPRED), c, &seed);
        lmic_buf b = {0};
        CHECK_OK(lmic_buf_append(&b, "x", 1));  // write appends
        CHECK_OK(lmic_pred_write(p, C, &b));
        CHECK_OK(lmic_buf_append(&b, "tail", 4));
        size_t used = 0;
        CHECK_OK(lmic_pred_read(b.data + 1, b.size - 1, C, q, &used));
        CHECK(used == b.size - 5);
        CHECK(memcmp(p, q, sizeof p) == 0);
        // Every truncation is refused.
        for (size_t k = 0; k < used; k++)
            CHECK(lmic_pred_read(b.data + 1, k, C, q, &used) == LMIC_ERR_CORRUPT);
        lmic_buf_free(&b);
    }
    // Compact: a fixed predictor is 2 bytes, LPC 3 + its coefficients.
    lmic_pred f[2] = {{0}};
    f[0].kind = LMIC_PRED_FIXED;
    f[0].order = 2;
    f[1].kind = LMIC_PRED_LPC;
    f[1].order = 2;
    f[1].shift = 10;
    f[1].coef[0] = -1;
    f[1].coef[1] = 300;
    lmic_buf b = {0};
    CHECK_OK(lmic_pred_write(f, 2, &b));
    const uint8_t want[] = {1, 2, 2, 2, 10, 1, 0xD8, 0x04};
    CHECK(b.size == sizeof want && memcmp(b.data, want, sizeof want) == 0);
    lmic_buf_free(&b);
}

// Hostile bytes: never a crash; what parses is valid and writes back the
// same bytes (the encoding is canonical).
static void test_predict_read_hostile(void) {
    uint64_t seed = 99;
    uint8_t buf[64];
    int parsed = 0;
    for (int round = 0; round < 20000; round++) {
        size_t size = (size_t)(lmic_rng_next(&seed) % sizeof buf);
        for (size_t i = 0; i < size; i++) {
            uint64_t r = lmic_rng_next(&seed);
            buf[i] = (uint8_t)((r & 3) == 0 ? (r >> 8) % 5 : r >> 16);  // small values often
        }
        int C = 1 + (int)(lmic_rng_next(&seed) % 3);
        lmic_pred q[3];
        size_t used = 0;
        lmic_status st = lmic_pred_read(buf, size, C, q, &used);
        CHECK(st == LMIC_OK || st == LMIC_ERR_CORRUPT);
        if (st != LMIC_OK) continue;
        parsed++;
        CHECK(used <= size);
        lmic_buf b = {0};
        CHECK_OK(lmic_pred_write(q, C, &b));
        CHECK(b.size == used && memcmp(b.data, buf, used) == 0);
        lmic_buf_free(&b);
    }
    CHECK(parsed > 100);
    uint8_t bad[][4] = {{4}, {1, 0}, {1, 5}, {2, 0, 0}, {2, 33, 0}, {2, 1, 32, 0},
                        {2, 1, 0, 0x80}, {2, 1, 0, 0x80, }, {3, 0, 2}, {3, NCASC, 0}};
    lmic_pred q[2];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(lmic_pred_read(bad[i], 4, 1, q, NULL) == LMIC_ERR_CORRUPT, "case %zu", i);
    uint8_t stereo0[3] = {3, 0, 1};  // stereo on channel 0
    CHECK(lmic_pred_read(stereo0, 3, 1, q, NULL) == LMIC_ERR_CORRUPT);
    uint8_t big[5] = {2, 1, 0, 0x81, 0x00};       // not canonical
    uint8_t big2[6] = {2, 1, 0, 0x80, 0x80, 0x04};  // zig-zag 2^16: |coef| = 2^15, too big
    CHECK(lmic_pred_read(big, 5, 1, q, NULL) == LMIC_ERR_CORRUPT);
    CHECK(lmic_pred_read(big2, 6, 1, q, NULL) == LMIC_ERR_CORRUPT);
}

static double mean_abs_(const int32_t *r, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += fabs((double)r[i]);
    return s / (double)n;
}

// The fast chooser picks a fixed predictor on a smooth signal, and the same
// choice every time.
static void test_predict_choose_fast(void) {
    enum { N = 4096 };
    static int32_t x[N], r[N], y[N];
    lmic_pred p;
    signal_(SIG_SINE_NOISE, x, N, 1, 16, 3);
    CHECK_OK(lmic_pred_choose(x, N, 1, 16, LMIC_PRED_EFFORT_FAST, &p));
    CHECK(p.kind == LMIC_PRED_FIXED);
    CHECK_OK(lmic_pred_apply(&p, x, N, 1, 16, r));
    CHECK(mean_abs_(r, N) < mean_abs_(x, N) / 20);
    CHECK_OK(lmic_pred_restore(&p, r, N, 1, 16, y));
    CHECK(memcmp(x, y, sizeof x) == 0);
    lmic_pred q;
    CHECK_OK(lmic_pred_choose(x, N, 1, 16, LMIC_PRED_EFFORT_FAST, &q));
    CHECK(memcmp(&p, &q, sizeof p) == 0);
    CHECK_OK(lmic_pred_choose(x, 0, 1, 16, LMIC_PRED_EFFORT_FAST, &p));
}

void test_predict(void) {
    RUN(test_predict_round_trip_grid);
    RUN(test_predict_args);
    RUN(test_predict_write_read);
    RUN(test_predict_read_hostile);
    RUN(test_predict_choose_fast);
}
