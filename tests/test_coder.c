// test_coder.c -- the arithmetic coder: round trips, coded length against the
// entropy bound, a classic reference encoder, a golden vector, bad arguments
// and damaged input.
#include "lmic.h"
#include "test.h"

#include <math.h>

// --- helpers

// Random counts (each >= 1) over n symbols summing exactly to `total` (>= n),
// written as a cumulative table cdf[0..n]. `peak` > 0 makes the weights heavy-
// tailed (a few symbols take most of the mass), as a trained model's would be.
static void random_cdf_(uint64_t *rng, uint32_t *cdf, int n, uint32_t total, int peak) {
    static uint64_t w[65536];
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) {
        uint64_t r = lmic_rng_next(rng);
        w[i] = peak ? (r >> 40) >> (lmic_rng_next(rng) % 24) : (r >> 40);
        sum += w[i];
    }
    if (sum == 0) { w[0] = 1; sum = 1; }
    uint64_t spare = total - (uint64_t)n, used = 0;
    cdf[0] = 0;
    for (int i = 0; i < n; i++) {
        uint64_t c = 1 + spare * w[i] / sum;
        used += c;
        cdf[i + 1] = (uint32_t)used;
    }
    // Rounding left total - used counts over: give them to the last symbol.
    cdf[n] = total;
}

// A symbol drawn from the distribution cdf (n symbols).
static int sample_(uint64_t *rng, const uint32_t *cdf, int n) {
    uint32_t u = (uint32_t)(lmic_rng_next(rng) % cdf[n]);
    int lo = 0, hi = n;  // cdf[lo] <= u < cdf[hi]
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (cdf[mid] <= u) lo = mid;
        else hi = mid;
    }
    return lo;
}

// -log2 of the probability of `sym` under cdf.
static double cost_bits_(const uint32_t *cdf, int n, int sym) {
    return -log2((double)(cdf[sym + 1] - cdf[sym]) / (double)cdf[n]);
}

// Encodes syms[0..N) with cdfs[i * stride ...] (stride 0: one table for all),
// decodes them back and compares. Writes the coded size to *bytes.
static void roundtrip_(const uint32_t *cdfs, size_t stride, int n, const int *syms,
                       int N, size_t *bytes) {
    lmic_encoder *enc = lmic_encoder_new();
    CHECK(enc);
    for (int i = 0; i < N; i++)
        CHECK_OK(lmic_encoder_encode(enc, cdfs + (size_t)i * stride, n, syms[i]));
    CHECK_OK(lmic_encoder_finish(enc));
    size_t size;
    const uint8_t *data = lmic_encoder_data(enc, &size);
    CHECK(size == 0 || data[size - 1] != 0xFF);  // trailing 1-bytes are implied
    lmic_decoder *dec = lmic_decoder_new(data, size);
    CHECK(dec);
    for (int i = 0; i < N; i++) {
        int s = -1;
        CHECK_OK(lmic_decoder_decode(dec, cdfs + (size_t)i * stride, n, &s));
        CHECKF(s == syms[i], "symbol %d of %d: got %d, want %d", i, N, s, syms[i]);
    }
    CHECK(lmic_decoder_consumed(dec) >= size);
    *bytes = size;
    lmic_decoder_free(dec);
    lmic_encoder_free(enc);
}

// Checks that `bytes` is within 4 bytes + 0.01% of the ideal `bits`, and not
// more than 2 bytes below it (only a lucky ending can save bits: pending 1s
// dropped with the trailing 0xFF bytes; the odds of saving k bits are ~2^-k).
static double worst_over_, least_over_;  // extremes of (coded - ideal) in bits
static void check_length_(size_t bytes, double ideal_bits) {
    double coded = 8.0 * (double)bytes;
    if (coded - ideal_bits > worst_over_) worst_over_ = coded - ideal_bits;
    if (coded - ideal_bits < least_over_) least_over_ = coded - ideal_bits;
    CHECKF(coded <= ideal_bits + 32 + 1e-4 * ideal_bits,
           "coded %.0f bits, ideal %.1f", coded, ideal_bits);
    CHECKF(coded >= ideal_bits - 16, "coded %.0f bits, ideal %.1f", coded, ideal_bits);
}

// --- 1, 3: random distributions, symbols drawn from them

static void test_coder_random_distributions(void) {
    static uint32_t cdf[257];
    static int syms[1000];
    const uint32_t totals[] = {256, 300, 1000, 4096, 1u << 16, 1u << 20, 1u << 24};
    worst_over_ = -1e9;
    least_over_ = 1e9;
    for (int t = 0; t < (int)(sizeof totals / sizeof totals[0]); t++)
        for (uint64_t seed = 1; seed <= 40; seed++) {
            uint64_t rng = seed * 1000 + (uint64_t)t;
            random_cdf_(&rng, cdf, 256, totals[t], (int)(seed & 1));
            int N = 200 + (int)(lmic_rng_next(&rng) % 800);
            double ideal = 0;
            for (int i = 0; i < N; i++) {
                syms[i] = sample_(&rng, cdf, 256);
                ideal += cost_bits_(cdf, 256, syms[i]);
            }
            size_t bytes = 0;
            roundtrip_(cdf, 0, 256, syms, N, &bytes);
            if (test_failed_) { fprintf(stderr, "  total %u seed %llu\n", totals[t],
                                        (unsigned long long)seed); return; }
            check_length_(bytes, ideal);
            if (test_failed_) return;
        }
    printf("     random tables: %.1f to %.1f bits over the ideal\n", least_over_, worst_over_);
}

// A fresh table for every symbol, as a model's predictions are.
static void test_coder_table_per_symbol(void) {
    enum { N = 3000, n = 256 };
    static uint32_t cdfs[N * (n + 1)];
    static int syms[N];
    uint64_t rng = 77;
    double ideal = 0;
    for (int i = 0; i < N; i++) {
        uint32_t *c = cdfs + (size_t)i * (n + 1);
        uint32_t total = (uint32_t)(n + lmic_rng_next(&rng) % ((1u << 24) - n + 1));
        random_cdf_(&rng, c, n, total, i & 1);
        syms[i] = sample_(&rng, c, n);
        ideal += cost_bits_(c, n, syms[i]);
    }
    size_t bytes = 0;
    roundtrip_(cdfs, n + 1, n, syms, N, &bytes);
    if (test_failed_) return;
    worst_over_ = 0;
    check_length_(bytes, ideal);
    printf("     %d symbols, one table each: %zu bytes, ideal %.1f, %.1f bits over\n",
           N, bytes, ideal / 8, worst_over_);
}

// --- 2: skew, carries and long pending-bit runs

// One symbol with all the mass but 255 counts; the others count 1.
static void skewed_cdf_(uint32_t *cdf, uint32_t total, int likely) {
    cdf[0] = 0;
    for (int i = 0; i < 256; i++)
        cdf[i + 1] = cdf[i] + (i == likely ? total - 255 : 1);
}

static void test_coder_extreme_skew(void) {
    static uint32_t cdf[257];
    static int syms[20000];
    const uint32_t totals[] = {512, 1u << 16, 1u << 24};
    for (int t = 0; t < 3; t++)
        for (uint64_t seed = 1; seed <= 10; seed++) {
            uint64_t rng = seed;
            int likely = (int)(lmic_rng_next(&rng) % 256);
            skewed_cdf_(cdf, totals[t], likely);
            // Mostly the likely symbol, a rare symbol now and then (1 in 2^k).
            int N = 20000, k = (int)(seed % 8) + 2;
            double ideal = 0;
            for (int i = 0; i < N; i++) {
                uint64_t r = lmic_rng_next(&rng);
                syms[i] = (r & ((1u << k) - 1)) ? likely : (int)((r >> 32) % 256);
                ideal += cost_bits_(cdf, 256, syms[i]);
            }
            size_t bytes = 0;
            roundtrip_(cdf, 0, 256, syms, N, &bytes);
            if (test_failed_) return;
            // Rare 1-count symbols at total 2^24 lose up to total/2^30/ln 2 bits
            // each to rounding (header), more than 0.01% of their 24 bits.
            double slack = 32 + N * (double)totals[t] / 1073741824.0 / log(2.0);
            CHECKF(8.0 * bytes <= ideal + slack, "%zu bytes, ideal %.1f bits", bytes, ideal);
        }
}

// A long run of the likely symbol: the interval shrinks by a hair each time,
// so bits are decided rarely and the state sits near carries for a long time.
static void test_coder_long_run_of_likely_symbol(void) {
    static uint32_t cdf[257];
    static int syms[200000];
    for (int likely = 0; likely < 256; likely += 255) {
        skewed_cdf_(cdf, 1u << 24, likely);
        int N = 200000;
        for (int i = 0; i < N; i++) syms[i] = likely;
        syms[N / 2] = likely ? 0 : 255;  // one surprise in the middle
        double ideal = 0;
        for (int i = 0; i < N; i++) ideal += cost_bits_(cdf, 256, syms[i]);
        size_t bytes = 0;
        roundtrip_(cdf, 0, 256, syms, N, &bytes);
        if (test_failed_) return;
        CHECKF(8.0 * bytes <= ideal + 32, "%zu bytes, ideal %.1f bits", bytes, ideal);
    }
}

// A middle symbol whose interval straddles 1/2 by 2^-21 on each side: every
// time it is coded, exactly 20 more bits become pending (E3), undecided until
// a symbol off the middle comes. Runs of up to 2^16 x 20 pending bits.
static void test_coder_long_pending_runs(void) {
    const uint32_t T = 1u << 24;
    const uint32_t cdf[4] = {0, T / 2 - 8, T / 2 + 8, T};
    static int syms[70000];
    const int runs[] = {1, 2, 3, 100, 1000, 65536};
    for (int r = 0; r < 6; r++)
        for (int end = 0; end < 3; end++) {
            int N = 0;
            syms[N++] = 0;
            for (int i = 0; i < runs[r]; i++) syms[N++] = 1;
            // end: 0 or 2 decides the pending bits; 1 leaves them for finish.
            syms[N++] = end;
            size_t bytes = 0;
            roundtrip_(cdf, 0, 3, syms, N, &bytes);
            if (test_failed_) { fprintf(stderr, "  run %d end %d\n", runs[r], end); return; }
            double ideal = 1 + 20.0 * (runs[r] + (end == 1)) + (end != 1);
            CHECKF(8.0 * bytes <= ideal + 32, "%zu bytes, ideal %.1f bits", bytes, ideal);
        }
}

// --- 4, 5: alphabet sizes and short messages

static void test_coder_one_symbol_alphabet(void) {
    // n = 1: probability 1, so a message of any length costs nothing beyond
    // the termination (one byte, 0x7F).
    const uint32_t totals[] = {1, 7, 1u << 24};
    static int syms[5000];
    for (int t = 0; t < 3; t++) {
        const uint32_t cdf[2] = {0, totals[t]};
        size_t bytes = 99;
        roundtrip_(cdf, 0, 1, syms, 5000, &bytes);  // syms are all 0
        if (test_failed_) return;
        CHECK(bytes == 1);
    }
}

static void test_coder_binary_alphabet(void) {
    static int syms[5000];
    uint64_t rng = 5;
    for (int k = 0; k < 20; k++) {
        uint32_t total = 2 + (uint32_t)(lmic_rng_next(&rng) % ((1u << 24) - 1));
        uint32_t c0 = 1 + (uint32_t)(lmic_rng_next(&rng) % (total - 1));
        const uint32_t cdf[3] = {0, c0, total};
        double ideal = 0;
        for (int i = 0; i < 5000; i++) {
            syms[i] = sample_(&rng, cdf, 2);
            ideal += cost_bits_(cdf, 2, syms[i]);
        }
        size_t bytes = 0;
        roundtrip_(cdf, 0, 2, syms, 5000, &bytes);
        if (test_failed_) return;
        check_length_(bytes, ideal);
        if (test_failed_) return;
    }
    // Fair coin: exactly one bit each (plus termination).
    const uint32_t fair[3] = {0, 1, 2};
    for (int i = 0; i < 5000; i++) syms[i] = (int)(lmic_rng_next(&rng) & 1);
    size_t bytes = 0;
    roundtrip_(fair, 0, 2, syms, 5000, &bytes);
    if (test_failed_) return;
    CHECK(bytes <= 5000 / 8 + 1);
}

static void test_coder_large_alphabets(void) {
    static uint32_t cdf[LMIC_CODER_MAX_SYMBOLS + 1];
    static int syms[3000];
    const int sizes[] = {4096, 50000, LMIC_CODER_MAX_SYMBOLS};
    for (int k = 0; k < 3; k++) {
        int n = sizes[k];
        uint64_t rng = 100 + (uint64_t)k;
        random_cdf_(&rng, cdf, n, 1u << 24, k & 1);
        double ideal = 0;
        for (int i = 0; i < 3000; i++) {
            syms[i] = i == 0 ? n - 1 : sample_(&rng, cdf, n);  // and the last symbol
            ideal += cost_bits_(cdf, n, syms[i]);
        }
        size_t bytes = 0;
        roundtrip_(cdf, 0, n, syms, 3000, &bytes);
        if (test_failed_) return;
        check_length_(bytes, ideal);
        if (test_failed_) return;
    }
    // n = total = 2^16: every count 1, the uniform distribution, 16 bits each.
    int n = LMIC_CODER_MAX_SYMBOLS;
    for (int i = 0; i <= n; i++) cdf[i] = (uint32_t)i;
    uint64_t rng = 9;
    for (int i = 0; i < 3000; i++) syms[i] = (int)(lmic_rng_next(&rng) % (uint64_t)n);
    size_t bytes = 0;
    roundtrip_(cdf, 0, n, syms, 3000, &bytes);
    if (test_failed_) return;
    CHECK(bytes <= 3000 * 2 + 1);
}

static void test_coder_empty_and_single(void) {
    // Empty message: just the termination, and decoding 0 symbols is fine.
    lmic_encoder *enc = lmic_encoder_new();
    CHECK(enc);
    CHECK_OK(lmic_encoder_finish(enc));
    size_t size;
    const uint8_t *data = lmic_encoder_data(enc, &size);
    CHECK(size == 1 && data[0] == 0x7F);
    lmic_decoder *dec = lmic_decoder_new(data, size);
    CHECK(dec);
    lmic_decoder_free(dec);
    dec = lmic_decoder_new(NULL, 0);  // no input at all: reads all 1-bits
    CHECK(dec);
    const uint32_t cdf[4] = {0, 5, 6, 100};
    int s = -1;
    CHECK_OK(lmic_decoder_decode(dec, cdf, 3, &s));
    CHECK(s == 2);  // 0xFFFFFFFF falls in the last symbol
    lmic_decoder_free(dec);
    lmic_encoder_free(enc);

    // Each single symbol of a few tables.
    static uint32_t big[257];
    uint64_t rng = 3;
    random_cdf_(&rng, big, 256, 1u << 24, 1);
    for (int sym = 0; sym < 256; sym++) {
        size_t bytes = 0;
        roundtrip_(big, 0, 256, &sym, 1, &bytes);
        if (test_failed_) return;
        CHECK(8.0 * bytes <= cost_bits_(big, 256, sym) + 9);
    }
    for (int sym = 0; sym < 3; sym++) {
        size_t bytes = 0;
        roundtrip_(cdf, 0, 3, &sym, 1, &bytes);
        if (test_failed_) return;
    }
}

// reset gives a fresh encoder; trailing 0xFF bytes appended to a stream (the
// ones finish dropped) decode the same.
static void test_coder_reset_and_padding(void) {
    static uint32_t cdf[257];
    static int syms[500];
    uint64_t rng = 11;
    random_cdf_(&rng, cdf, 256, 60000, 0);
    for (int i = 0; i < 500; i++) syms[i] = sample_(&rng, cdf, 256);
    lmic_encoder *a = lmic_encoder_new(), *b = lmic_encoder_new();
    CHECK(a && b);
    for (int i = 0; i < 300; i++) CHECK_OK(lmic_encoder_encode(a, cdf, 256, syms[499 - i]));
    CHECK_OK(lmic_encoder_finish(a));
    lmic_encoder_reset(a);
    for (int i = 0; i < 500; i++) {
        CHECK_OK(lmic_encoder_encode(a, cdf, 256, syms[i]));
        CHECK_OK(lmic_encoder_encode(b, cdf, 256, syms[i]));
    }
    CHECK_OK(lmic_encoder_finish(a));
    CHECK_OK(lmic_encoder_finish(b));
    size_t na, nb;
    const uint8_t *da = lmic_encoder_data(a, &na), *db = lmic_encoder_data(b, &nb);
    CHECK(na == nb && memcmp(da, db, na) == 0);

    uint8_t padded[2000];
    CHECK(na + 8 <= sizeof padded);
    memcpy(padded, da, na);
    memset(padded + na, 0xFF, 8);
    lmic_decoder *dec = lmic_decoder_new(padded, na + 8);
    CHECK(dec);
    for (int i = 0; i < 500; i++) {
        int s = -1;
        CHECK_OK(lmic_decoder_decode(dec, cdf, 256, &s));
        CHECK(s == syms[i]);
    }
    lmic_decoder_free(dec);
    lmic_encoder_free(a);
    lmic_encoder_free(b);
}

// The decoder's first window is the first 4 bytes, and its first symbol is the
// s with floor(2^32 cdf[s] / T) <= window < floor(2^32 cdf[s+1] / T): check
// both sides of every boundary, where an off-by-one in the search would show
// (random streams land exactly on a boundary only about once in 2^26 symbols).
static void test_coder_decoder_boundaries(void) {
    static uint32_t cdf[257];
    uint64_t rng = 31;
    for (int k = 0; k < 20; k++) {
        int n = 2 + (int)(lmic_rng_next(&rng) % 255);
        uint32_t total = (uint32_t)n + (uint32_t)(lmic_rng_next(&rng) % ((1u << 24) - n + 1));
        random_cdf_(&rng, cdf, n, total, k & 1);
        for (int s = 1; s < n; s++) {
            uint64_t b = (1ull << 32) * cdf[s] / total;
            for (int side = 0; side < 2; side++) {
                uint64_t v = b - (uint64_t)side;  // b belongs to s, b - 1 to s - 1
                uint8_t in[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                                 (uint8_t)v};
                lmic_decoder *dec = lmic_decoder_new(in, 4);
                CHECK(dec);
                int got = -1;
                lmic_status st = lmic_decoder_decode(dec, cdf, n, &got);
                lmic_decoder_free(dec);
                CHECK_OK(st);
                CHECKF(got == s - side, "table %d: window 0x%08llx gave %d, want %d", k,
                       (unsigned long long)v, got, s - side);
            }
        }
    }
}

// --- a classic reference encoder (Witten, Neal and Cleary 1987)

// The textbook formulation: E1/E2 halves and E3 "subtract a quarter, double",
// bits collected one per byte, packed at the end. The library's "remove the
// second digit" must produce exactly the same bits.
static size_t reference_encode_(const uint32_t *cdf, int n, const int *syms, int N,
                                uint8_t *out, uint8_t *bits) {
    const uint64_t HALF = 1ull << 31, QUARTER = 1ull << 30;
    uint64_t low = 0, high = (1ull << 32) - 1, follow = 0;
    size_t nb = 0;
    for (int i = 0; i < N; i++) {
        uint64_t range = high - low + 1;
        high = low + range * cdf[syms[i] + 1] / cdf[n] - 1;
        low = low + range * cdf[syms[i]] / cdf[n];
        for (;;) {
            if (high < HALF) {
                bits[nb++] = 0;
                for (; follow > 0; follow--) bits[nb++] = 1;
            } else if (low >= HALF) {
                bits[nb++] = 1;
                for (; follow > 0; follow--) bits[nb++] = 0;
                low -= HALF;
                high -= HALF;
            } else if (low >= QUARTER && high < HALF + QUARTER) {
                follow++;
                low -= QUARTER;
                high -= QUARTER;
            } else {
                break;
            }
            low = 2 * low;
            high = 2 * high + 1;
        }
    }
    bits[nb++] = 0;
    for (; follow > 0; follow--) bits[nb++] = 1;
    while (nb % 8) bits[nb++] = 1;
    size_t size = nb / 8;
    for (size_t k = 0; k < size; k++) {
        out[k] = 0;
        for (int j = 0; j < 8; j++) out[k] = (uint8_t)(out[k] << 1 | bits[8 * k + j]);
    }
    while (size > 0 && out[size - 1] == 0xFF) size--;
    return size;
}

static void test_coder_matches_reference(void) {
    static uint32_t cdf[257];
    static int syms[2000];
    static uint8_t ref[8000], bits[64000];
    for (uint64_t seed = 1; seed <= 60; seed++) {
        uint64_t rng = seed * 7919;
        int n = 2 + (int)(lmic_rng_next(&rng) % 255);
        uint32_t total = (uint32_t)n + (uint32_t)(lmic_rng_next(&rng) % ((1u << 24) - n + 1));
        random_cdf_(&rng, cdf, n, total, (int)(seed & 1));
        int N = 1 + (int)(lmic_rng_next(&rng) % 2000);
        for (int i = 0; i < N; i++) syms[i] = sample_(&rng, cdf, n);
        size_t nref = reference_encode_(cdf, n, syms, N, ref, bits);

        lmic_encoder *enc = lmic_encoder_new();
        CHECK(enc);
        for (int i = 0; i < N; i++) CHECK_OK(lmic_encoder_encode(enc, cdf, n, syms[i]));
        CHECK_OK(lmic_encoder_finish(enc));
        size_t size;
        const uint8_t *data = lmic_encoder_data(enc, &size);
        CHECKF(size == nref && memcmp(data, ref, size) == 0, "seed %llu: %zu vs %zu bytes",
               (unsigned long long)seed, size, nref);
        lmic_encoder_free(enc);
    }
}

// --- 7: golden vector

// Encodes msg[0..N) with tables[i] (n[i] symbols) and compares with want.
static void golden_(const uint32_t *const *tables, const int *n, const int *msg, int N,
                    const uint8_t *want, size_t want_size) {
    lmic_encoder *enc = lmic_encoder_new();
    CHECK(enc);
    for (int i = 0; i < N; i++) CHECK_OK(lmic_encoder_encode(enc, tables[i], n[i], msg[i]));
    CHECK_OK(lmic_encoder_finish(enc));
    size_t size;
    const uint8_t *data = lmic_encoder_data(enc, &size);
    int same = size == want_size && memcmp(data, want, size) == 0;
    if (!same) {
        fprintf(stderr, "  got %zu bytes:", size);
        for (size_t i = 0; i < size; i++) fprintf(stderr, " 0x%02X,", data[i]);
        fputc('\n', stderr);
    }
    lmic_encoder_free(enc);
    CHECK(same);
}

// The bytes of fixed messages under fixed tables. CHANGING THESE BYTES CHANGES
// THE BITSTREAM: every existing .lmic file would no longer decode. If this test
// fails, the coder is wrong, not the constants (unless a new format version is
// being introduced on purpose). The constants were also reproduced by the
// paper's reference coder (arithmetic_coder.py, base 2, precision 32) with its
// intervals computed as low + range * cdf[s] // total.
static void test_coder_golden(void) {
    // 1. Two tables in turn: a small total, and 2^24 with 1-count symbols.
    const uint32_t small[7] = {0, 1, 3, 8, 108, 300, 301};
    const uint32_t big[5] = {0, 1, 16777000, 16777100, 16777216};
    const int msg[48] = {3, 4, 3, 0, 5, 2, 3, 3, 1, 4, 4, 3, 3, 3, 2, 0,
                         1, 1, 1, 1, 1, 1, 1, 1, 0, 3, 2, 1, 1, 1, 0, 1,
                         4, 4, 4, 4, 3, 3, 3, 3, 5, 0, 1, 2, 3, 4, 5, 3};
    const uint8_t want[45] = {
        0x5B, 0x92, 0x25, 0xC9, 0xA8, 0x65, 0xF2, 0x01, 0x2A, 0x7B, 0x9B, 0x83,
        0x05, 0x01, 0x22, 0xD7, 0x8B, 0x3E, 0x0E, 0x6E, 0x3B, 0x13, 0x71, 0x13,
        0xAB, 0x0B, 0x60, 0xB5, 0x1A, 0xFD, 0x98, 0xE3, 0xC9, 0x5A, 0x57, 0xB3,
        0x95, 0x40, 0x0B, 0x6B, 0x96, 0xD8, 0x5C, 0x74, 0xEF};
    const uint32_t *tables[48];
    int n[48], sym[48];
    for (int i = 0; i < 48; i++) {
        int b = i % 3 == 2;
        tables[i] = b ? big : small;
        n[i] = b ? 4 : 6;
        sym[i] = b ? msg[i] % 4 : msg[i];
    }
    golden_(tables, n, sym, 48, want, sizeof want);
    if (test_failed_) return;

    // 2. Pending bits: the middle symbol of `mid` leaves 20 bits pending each
    // time; the 2 decides 100 of them, finish writes the last 60 (as 1s,
    // which become dropped 0xFF bytes).
    const uint32_t T = 1u << 24;
    const uint32_t mid[4] = {0, T / 2 - 8, T / 2 + 8, T};
    const int msg2[10] = {0, 1, 1, 1, 1, 1, 2, 1, 1, 1};
    const uint8_t want2[17] = {0x3F, 0xFF, 0xFB, 0xFF, 0xBF, 0xFF, 0xFB, 0xFF, 0xFF,
                               0xBF, 0xFF, 0xFC, 0x01, 0xFF, 0xA0, 0x1F, 0xF7};
    for (int i = 0; i < 10; i++) { tables[i] = mid; n[i] = 3; }
    golden_(tables, n, msg2, 10, want2, sizeof want2);
    if (test_failed_) return;

    // 3. The empty message.
    const uint8_t want3[1] = {0x7F};
    golden_(tables, n, msg2, 0, want3, 1);
}

// --- 6: invalid arguments

static void test_coder_rejects_bad_arguments(void) {
    const uint32_t good[4] = {0, 10, 11, 20};
    const uint32_t start1[4] = {1, 10, 11, 20};   // cdf[0] != 0
    const uint32_t zero[4] = {0, 10, 10, 20};     // a zero-count symbol
    const uint32_t down[4] = {0, 10, 9, 20};      // decreasing
    const uint32_t huge[3] = {0, 10, LMIC_CODER_MAX_TOTAL + 1};
    const uint32_t max[3] = {0, 10, LMIC_CODER_MAX_TOTAL};  // the limit is fine
    static uint32_t wide[LMIC_CODER_MAX_SYMBOLS + 2];
    for (int i = 0; i < LMIC_CODER_MAX_SYMBOLS + 2; i++) wide[i] = (uint32_t)i;

    lmic_encoder *enc = lmic_encoder_new();
    CHECK(enc);
    CHECK_OK(lmic_encoder_encode(enc, good, 3, 1));
    CHECK(lmic_encoder_encode(enc, good, 0, 0) == LMIC_ERR_ARG);
    CHECK(lmic_encoder_encode(enc, good, -1, 0) == LMIC_ERR_ARG);
    CHECK(lmic_encoder_encode(enc, wide, LMIC_CODER_MAX_SYMBOLS + 1, 0) == LMIC_ERR_ARG);
    CHECK(lmic_encoder_encode(enc, NULL, 3, 0) == LMIC_ERR_ARG);
    CHECK(lmic_encoder_encode(enc, start1, 3, 1) == LMIC_ERR_ARG);
    CHECK(lmic_encoder_encode(enc, zero, 3, 0) == LMIC_ERR_ARG);
    CHECK(lmic_encoder_encode(enc, down, 3, 0) == LMIC_ERR_ARG);
    CHECK(lmic_encoder_encode(enc, huge, 2, 0) == LMIC_ERR_ARG);
    CHECK(lmic_encoder_encode(enc, good, 3, -1) == LMIC_ERR_ARG);
    CHECK(lmic_encoder_encode(enc, good, 3, 3) == LMIC_ERR_ARG);
    CHECK(lmic_encoder_encode(NULL, good, 3, 0) == LMIC_ERR_ARG);
    // Rejected calls left no trace: the stream holds exactly what succeeded.
    CHECK_OK(lmic_encoder_encode(enc, max, 2, 1));
    CHECK_OK(lmic_encoder_encode(enc, wide, LMIC_CODER_MAX_SYMBOLS, 12345));
    CHECK_OK(lmic_encoder_encode(enc, good, 3, 2));
    CHECK_OK(lmic_encoder_finish(enc));
    CHECK(lmic_encoder_encode(enc, good, 3, 0) == LMIC_ERR_ARG);  // after finish
    CHECK(lmic_encoder_finish(enc) == LMIC_ERR_ARG);
    CHECK(lmic_encoder_finish(NULL) == LMIC_ERR_ARG);

    size_t size;
    const uint8_t *data = lmic_encoder_data(enc, &size);
    lmic_decoder *dec = lmic_decoder_new(data, size);
    CHECK(dec);
    int s = -7;
    CHECK_OK(lmic_decoder_decode(dec, good, 3, &s));
    CHECK(s == 1);
    s = -7;
    CHECK(lmic_decoder_decode(dec, good, 0, &s) == LMIC_ERR_ARG);
    CHECK(lmic_decoder_decode(dec, wide, LMIC_CODER_MAX_SYMBOLS + 1, &s) == LMIC_ERR_ARG);
    CHECK(lmic_decoder_decode(dec, NULL, 3, &s) == LMIC_ERR_ARG);
    CHECK(lmic_decoder_decode(dec, start1, 3, &s) == LMIC_ERR_ARG);
    CHECK(lmic_decoder_decode(dec, zero, 3, &s) == LMIC_ERR_ARG);
    CHECK(lmic_decoder_decode(dec, down, 3, &s) == LMIC_ERR_ARG);
    CHECK(lmic_decoder_decode(dec, huge, 2, &s) == LMIC_ERR_ARG);
    CHECK(lmic_decoder_decode(dec, good, 3, NULL) == LMIC_ERR_ARG);
    CHECK(lmic_decoder_decode(NULL, good, 3, &s) == LMIC_ERR_ARG);
    CHECK(s == -7);
    CHECK_OK(lmic_decoder_decode(dec, max, 2, &s));
    CHECK(s == 1);
    CHECK_OK(lmic_decoder_decode(dec, wide, LMIC_CODER_MAX_SYMBOLS, &s));
    CHECK(s == 12345);
    CHECK_OK(lmic_decoder_decode(dec, good, 3, &s));
    CHECK(s == 2);
    lmic_decoder_free(dec);

    CHECK(lmic_decoder_new(NULL, 5) == NULL);
    CHECK(lmic_decoder_consumed(NULL) == 0);
    CHECK(lmic_encoder_data(NULL, &size) == NULL && size == 0);
    lmic_encoder_free(enc);
    lmic_encoder_free(NULL);
    lmic_decoder_free(NULL);
    lmic_encoder_reset(NULL);
}

// --- 8: damaged input

// Random bytes and truncated streams decode to in-range symbols (or a clean
// LMIC_ERR_CORRUPT); nothing reads outside the input (run under ASan).
static void test_coder_garbage_input(void) {
    static uint32_t cdf[257];
    static uint8_t junk[64];
    uint64_t rng = 2024;
    for (int k = 0; k < 300; k++) {
        size_t len = (size_t)(lmic_rng_next(&rng) % 65);
        for (size_t i = 0; i < len; i++) junk[i] = (uint8_t)lmic_rng_next(&rng);
        if (k % 4 == 0) memset(junk, k % 8 ? 0x00 : 0xFF, len);
        lmic_decoder *dec = lmic_decoder_new(len ? junk : NULL, len);
        CHECK(dec);
        for (int i = 0; i < 400; i++) {
            int n = 1 + (int)(lmic_rng_next(&rng) % 256);
            uint32_t total = (uint32_t)n + (uint32_t)(lmic_rng_next(&rng) % (1u << 20));
            random_cdf_(&rng, cdf, n, total, i & 1);
            int s = -1;
            lmic_status st = lmic_decoder_decode(dec, cdf, n, &s);
            CHECK(st == LMIC_OK || st == LMIC_ERR_CORRUPT);
            if (st != LMIC_OK) break;
            CHECK(s >= 0 && s < n);
        }
        lmic_decoder_free(dec);
    }

    // A real stream cut at every length, and with one bit flipped.
    static int syms[600];
    random_cdf_(&rng, cdf, 256, 1u << 16, 1);
    for (int i = 0; i < 600; i++) syms[i] = sample_(&rng, cdf, 256);
    lmic_encoder *enc = lmic_encoder_new();
    CHECK(enc);
    for (int i = 0; i < 600; i++) CHECK_OK(lmic_encoder_encode(enc, cdf, 256, syms[i]));
    CHECK_OK(lmic_encoder_finish(enc));
    size_t size;
    const uint8_t *data = lmic_encoder_data(enc, &size);
    static uint8_t copy[4096];
    CHECK(size <= sizeof copy);
    for (size_t cut = 0; cut <= size; cut++) {
        memcpy(copy, data, size);
        if (cut < size) copy[cut] ^= (uint8_t)(1u << (cut % 8));
        for (int pass = 0; pass < 2; pass++) {
            // pass 0: truncated (exact-size heap copy, so ASan sees overreads);
            // pass 1: full length, one bit flipped.
            size_t len = pass ? size : cut;
            uint8_t *buf = malloc(len ? len : 1);
            CHECK(buf);
            memcpy(buf, pass ? copy : data, len);
            lmic_decoder *dec = lmic_decoder_new(buf, len);
            if (!dec) { free(buf); CHECK(dec); }
            int ok = 1;
            for (int i = 0; i < 600 && ok; i++) {
                int s = -1;
                lmic_status st = lmic_decoder_decode(dec, cdf, 256, &s);
                ok = st == LMIC_OK && s >= 0 && s < 256;
                if (!ok && st != LMIC_ERR_CORRUPT) {
                    lmic_decoder_free(dec);
                    free(buf);
                    CHECKF(0, "cut %zu pass %d: status %d symbol %d", cut, pass, st, s);
                }
            }
            lmic_decoder_free(dec);
            free(buf);
        }
    }
    lmic_encoder_free(enc);
}

void test_coder(void) {
    RUN(test_coder_random_distributions);
    RUN(test_coder_table_per_symbol);
    RUN(test_coder_extreme_skew);
    RUN(test_coder_long_run_of_likely_symbol);
    RUN(test_coder_long_pending_runs);
    RUN(test_coder_one_symbol_alphabet);
    RUN(test_coder_binary_alphabet);
    RUN(test_coder_large_alphabets);
    RUN(test_coder_empty_and_single);
    RUN(test_coder_reset_and_padding);
    RUN(test_coder_decoder_boundaries);
    RUN(test_coder_matches_reference);
    RUN(test_coder_golden);
    RUN(test_coder_rejects_bad_arguments);
    RUN(test_coder_garbage_input);
}
