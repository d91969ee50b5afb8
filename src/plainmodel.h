// plainmodel.h -- the plain coder's adaptive model (src/plaincoder.c), the
// internal part that the model mixer (src/mixer.c) shares: the same tables,
// contexts and updates, so both see one definition. Not installed; not
// public. docs/format.md, "Plain stream", is its specification.
#ifndef LMIC_PLAINMODEL_H
#define LMIC_PLAINMODEL_H

#include <stdint.h>

#define PLAIN_NK_ 76              // magnitude contexts: half-octaves of a < 2^38
#define PLAIN_NS_ 33              // bit lengths 0..32
#define PLAIN_NB_ 3               // contexts of the two bits below the leading one
#define PLAIN_NT_ 3               // bit-length tables, one per running sum
#define PLAIN_FREQ_INC_ 24        // adaptive table: increment per symbol,
#define PLAIN_FREQ_LIMIT_ 8192    // halving when the total passes this
#define PLAIN_PROB_ONE_ 65536u    // binary probabilities are Q16, adapting by 1/32
#define PLAIN_PROB_SHIFT_ 5

// Running sum j forgets 1/2^shift[j] per sample: a medium (about the last 8
// samples), a slow (32) and a fast (4) view of the channel's magnitude.
static const int plain_shift_[PLAIN_NT_] = {3, 5, 2};

typedef struct {
    uint32_t freq[PLAIN_NT_][PLAIN_NK_][PLAIN_NS_];  // bit-length counts by table and context
    uint32_t total[PLAIN_NT_][PLAIN_NK_];
    uint32_t p1[PLAIN_NS_][PLAIN_NB_];    // P(first bit below the leading one = 0), by n and plain_bctx_
    uint32_t p2[PLAIN_NS_][PLAIN_NB_][2]; // P(second bit = 0), by n, plain_bctx_ and the first bit
} plain_model_;

typedef struct {
    uint64_t a[PLAIN_NT_];                // a channel's running sums, one per table
} plain_chan_;

static inline int plain_bitlen_(uint64_t x) {
    int n = 0;
    while (x) { n++; x >>= 1; }
    return n;
}

// Half-octave of the running sum a: 0 for a = 0, else 2L - 1 + (the bit
// below a's leading one), L = bitlen(a).
static inline int plain_context_(uint64_t a) {
    int L = plain_bitlen_(a);
    if (L < 2) return L;
    return 2 * L - 1 + (int)((a >> (L - 2)) & 1);
}

static inline void plain_init_(plain_model_ *m) {
    for (int j = 0; j < PLAIN_NT_; j++)
        for (int k = 0; k < PLAIN_NK_; k++) {
            // A prior around the bit length that the context's mean implies
            // (a is 2^shift x the mean, so about bitlen(a) - shift), so that
            // the first samples of a chunk are not coded from a flat table.
            int c = k / 2 - plain_shift_[j];
            uint32_t t = 0;
            for (int s = 0; s < PLAIN_NS_; s++) {
                int d = s > c ? s - c : c - s;
                m->freq[j][k][s] = 1 + (d < 3 ? 32u >> (2 * d) : 0);
                t += m->freq[j][k][s];
            }
            m->total[j][k] = t;
        }
    for (int n = 0; n < PLAIN_NS_; n++) {
        for (int b = 0; b < PLAIN_NB_; b++) {
            m->p1[n][b] = PLAIN_PROB_ONE_ / 2;
            m->p2[n][b][0] = m->p2[n][b][1] = PLAIN_PROB_ONE_ / 2;
        }
    }
}

static inline void plain_update_prob_(uint32_t *p, int bit) {
    if (bit) *p -= *p >> PLAIN_PROB_SHIFT_;
    else *p += (PLAIN_PROB_ONE_ - *p) >> PLAIN_PROB_SHIFT_;
    if (*p < 64) *p = 64;
    if (*p > PLAIN_PROB_ONE_ - 64) *p = PLAIN_PROB_ONE_ - 64;
}

// The context of the bits below the leading one of a bit length n: n below,
// at or above the length the first running sum implies (its half-octave / 2
// - 3).
static inline int plain_bctx_(const plain_chan_ *ch, int n) {
    int d = n - (plain_context_(ch->a[0]) / 2 - plain_shift_[0]);
    return d < 0 ? 0 : d == 0 ? 1 : 2;
}

// F[0..bits]: the frequencies that code the bit length n in channel state
// ch: the three tables' distributions (each in the context of its running
// sum) averaged, each scaled to 2^15, plus 1. sum F < 2^17.
static inline void plain_freqs_(const plain_model_ *m, const plain_chan_ *ch, int bits, uint32_t *F) {
    for (int s = 0; s <= bits; s++) F[s] = 1;
    for (int j = 0; j < PLAIN_NT_; j++) {
        int k = plain_context_(ch->a[j]);
        const uint32_t *f = m->freq[j][k];
        uint64_t r = ((uint64_t)1 << 32) / m->total[j][k];
        for (int s = 0; s <= bits; s++) F[s] += (uint32_t)((f[s] * r) >> 17);
    }
}

// After a residual with zig-zag value u has been coded in channel state ch:
// the tables and the sums learn from it.
static inline void plain_learn_(plain_model_ *m, plain_chan_ *ch, uint32_t u) {
    int n = plain_bitlen_(u);
    for (int j = 0; j < PLAIN_NT_; j++) {
        int k = plain_context_(ch->a[j]);
        uint32_t *f = m->freq[j][k], *t = &m->total[j][k];
        f[n] += PLAIN_FREQ_INC_;
        *t += PLAIN_FREQ_INC_;
        if (*t > PLAIN_FREQ_LIMIT_) {
            uint32_t sum = 0;
            for (int i = 0; i < PLAIN_NS_; i++) {
                f[i] = (f[i] + 1) / 2;
                sum += f[i];
            }
            *t = sum;
        }
    }
    if (n >= 2) {
        int b1 = (int)((u >> (n - 2)) & 1);
        int bc = plain_bctx_(ch, n);
        plain_update_prob_(&m->p1[n][bc], b1);
        if (n >= 3) plain_update_prob_(&m->p2[n][bc][b1], (int)((u >> (n - 3)) & 1));
    }
    for (int j = 0; j < PLAIN_NT_; j++) ch->a[j] = ch->a[j] - (ch->a[j] >> plain_shift_[j]) + u;
}

static inline uint32_t plain_zigzag_(int32_t r) {
    return r >= 0 ? (uint32_t)r << 1 : (((uint32_t)-(r + 1)) << 1) | 1u;
}
static inline int32_t plain_unzigzag_(uint32_t u) {
    return (u & 1u) ? -(int32_t)(u >> 1) - 1 : (int32_t)(u >> 1);
}

#endif
