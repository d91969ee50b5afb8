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
    int32_t big[2] = {0, 128};  // outside 8 bits
    CHECK(lmic_pred_apply(&z, big, 2, 1, 8, r) == LMIC_ERR_ARG);
    big[1] = -129;
    CHECK(lmic_pred_apply(&z, big, 2, 1, 8, r) == LMIC_ERR_ARG);
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

// LPC (effort normal) leaves a sine + noise a residual far below NONE's and
// below the best fixed predictor's; the cascade (effort high) does too.
static void test_predict_lpc_shrinks(void) {
    enum { N = 8192 };
    static int32_t x[N], r[N], y[N];
    uint64_t seed = 11;
    for (size_t t = 0; t < N; t++) {  // two partials and white noise of +-64
        double a = 9000.0 * sin(0.05 * (double)t) + 4000.0 * sin(0.31 * (double)t + 1.0);
        x[t] = (int32_t)lround(a) + (int32_t)(lmic_rng_next(&seed) % 129) - 64;
    }
    lmic_pred p, f;
    CHECK_OK(lmic_pred_apply(&(lmic_pred){0}, x, N, 1, 16, r));
    double none = mean_abs_(r, N);
    CHECK_OK(lmic_pred_choose(x, N, 1, 16, LMIC_PRED_EFFORT_FAST, &f));
    CHECK_OK(lmic_pred_apply(&f, x, N, 1, 16, r));
    double fixed = mean_abs_(r, N);
    CHECK_OK(lmic_pred_choose_among(x, N, 1, 16, LMIC_PRED_EFFORT_NORMAL,
                                    1u << LMIC_PRED_LPC, &p));
    CHECK(p.kind == LMIC_PRED_LPC);
    CHECK_OK(lmic_pred_apply(&p, x, N, 1, 16, r));
    double lpc = mean_abs_(r, N);
    CHECKF(lpc < none / 50 && lpc < fixed / 1.5 && lpc < 60, "none %.1f fixed %.1f lpc %.1f",
           none, fixed, lpc);
    CHECK_OK(lmic_pred_restore(&p, r, N, 1, 16, y));
    CHECK(memcmp(x, y, sizeof x) == 0);
    CHECK_OK(lmic_pred_choose_among(x, N, 1, 16, LMIC_PRED_EFFORT_HIGH,
                                    1u << LMIC_PRED_CASCADE, &p));
    CHECK(p.kind == LMIC_PRED_CASCADE);
    CHECK_OK(lmic_pred_apply(&p, x, N, 1, 16, r));
    double casc = mean_abs_(r, N);
    CHECKF(casc < none / 50 && casc < fixed / 1.5, "none %.1f fixed %.1f cascade %.1f", none,
           fixed, casc);
}

// The cascade's stereo taps help when channel 1 follows channel 0.
static void test_predict_cascade_stereo(void) {
    enum { N = 8192 };
    static int32_t x[2 * N], r[2 * N];
    uint64_t seed = 5;
    int32_t v = 0;
    for (size_t t = 0; t < N; t++) {  // a random walk, and 0.8 of it plus a little noise
        v += (int32_t)(lmic_rng_next(&seed) % 201) - 100;
        if (v > 30000 || v < -30000) v /= 2;
        x[2 * t] = v;
        x[2 * t + 1] = v * 4 / 5 + (int32_t)(lmic_rng_next(&seed) % 5) - 2;
    }
    lmic_pred p[2] = {{0}, {0}};
    p[0].kind = p[1].kind = LMIC_PRED_CASCADE;
    CHECK_OK(lmic_pred_apply(p, x, N, 2, 16, r));
    double mono = 0, stereo = 0;
    for (size_t t = N / 2; t < N; t++) mono += fabs((double)r[2 * t + 1]);
    p[1].stereo = 1;
    CHECK_OK(lmic_pred_apply(p, x, N, 2, 16, r));
    for (size_t t = N / 2; t < N; t++) stereo += fabs((double)r[2 * t + 1]);
    CHECKF(stereo < mono / 4, "mono %.0f stereo %.0f", mono, stereo);
}

// FNV-1a of the residuals, so that any change to the arithmetic is caught.
static uint64_t hash_(const int32_t *r, size_t n) {
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)r[i];
        for (int b = 0; b < 4; b++) { h ^= (u >> (8 * b)) & 0xFF; h *= 0x100000001b3u; }
    }
    return h;
}

// Integer-only test audio (no libm, so the golden input is the same
// everywhere): white noise through two one-pole low-passes, channel 1 a
// mix of channel 0 and its own noise, scaled to `bits` (8..24) and clipped.
static void golden_signal_(int32_t *x, size_t n, int bits) {
    uint64_t seed = 1234;
    int64_t a[2] = {0, 0}, b[2] = {0, 0};
    for (size_t t = 0; t < n; t++)
        for (int c = 0; c < 2; c++) {
            int64_t w = (int64_t)(lmic_rng_next(&seed) >> 48) - 32768;  // 16-bit noise
            a[c] += (w * 16 - a[c]) / 8;
            b[c] += (a[c] - b[c]) / 8;
            int64_t v = c == 0 ? b[0] : (b[0] * 3 + b[1]) / 4;
            v = bits >= 16 ? v * (1 << (bits - 16)) / 4 : v / (1 << (16 - bits)) / 4;
            int64_t hi = ((int64_t)1 << (bits - 1)) - 1;
            v = v > hi ? hi : v < -hi - 1 ? -hi - 1 : v;  // clipped, as loud audio is
            x[t * 2 + (size_t)c] = (int32_t)v;
        }
}

static void test_predict_golden(void) {
    enum { N = 3000, C = 2 };
    static int32_t x[N * C], r[N * C];
    static const int bitss[3] = {8, 16, 24};
    // One row per depth: NONE, FIXED 2, LPC 3, every cascade variant (stereo
    // on channel 1). Update only for a deliberate change of the arithmetic
    // (and of docs/format.md); the failure prints the new values.
    static const uint64_t want[3][3 + NCASC] = {
        {0x294675835370c4a3u, 0xe84cc491aeff3adeu, 0xa900471b04ae7ceau,
         0xdd1c5ed3a6d5a2b4u, 0xa3b1a0aeb2e4b8e7u, 0xb642bb46454d38e1u,
         0xf9c0881e86fb89afu},
        {0x1850d471cbbf19d9u, 0x9cc25ec9222d6edfu, 0xf22e6e3a3e000283u,
         0x71741b56d2201a85u, 0x2c367894eefea0c9u, 0x9536613867a85223u,
         0xb45bd4b654e664f4u},
        {0xf7c093c506050219u, 0x900ee34f0f1efc5cu, 0x4a7151a5e53ce38du,
         0xb6a29a2fa2b0f544u, 0x08ee099e997d4daeu, 0x960e7e88d32144b8u,
         0xf4d4a0a5b21fc962u},
    };
    int bad = 0;
    for (int b = 0; b < 3; b++) {
        golden_signal_(x, N, bitss[b]);
        for (int i = 0; i < 3 + NCASC; i++) {
            uint64_t seed = 1;
            int pi = i == 0 ? 0 : i == 1 ? 2 : 9 + 2 * (i - 3) + 1;
            lmic_pred p[C] = {pred_(pi, 0, &seed), pred_(pi, 1, &seed)};
            if (i == 2) {  // LPC order 3, Q10
                lmic_pred l = {0};
                l.kind = LMIC_PRED_LPC;
                l.order = 3;
                l.shift = 10;
                l.coef[0] = 1900;
                l.coef[1] = -1100;
                l.coef[2] = 180;
                p[0] = p[1] = l;
            }
            CHECK_OK(lmic_pred_apply(p, x, N, C, bitss[b], r));
            uint64_t h = hash_(r, N * C);
            if (h != want[b][i]) {
                fprintf(stderr, "  golden bits %d predictor %d: 0x%016llxu\n", bitss[b], i,
                        (unsigned long long)h);
                bad = 1;
            }
        }
    }
    CHECK(!bad);
}

void test_predict(void) {
    RUN(test_predict_round_trip_grid);
    RUN(test_predict_args);
    RUN(test_predict_write_read);
    RUN(test_predict_read_hostile);
    RUN(test_predict_choose_fast);
    RUN(test_predict_lpc_shrinks);
    RUN(test_predict_cascade_stereo);
    RUN(test_predict_golden);
}
