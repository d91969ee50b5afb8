// coder.c -- the arithmetic coder: base 2, 32-bit state, integer CDFs.
//
// This follows the paper's reference coder (Deletang et al., arithmetic_coder.py
// with base 2 and precision 32) so that lmic's bitstream is the design the
// paper measured, but it is driven by integer cumulative frequencies instead of
// float probabilities: every step is exact 64-bit integer arithmetic, so an
// encoder and a decoder built with any compiler or flags agree bit for bit.
//
// State: the interval [low, high] (both inclusive) inside a 32-bit window.
// After each symbol the interval is normalised in two steps:
//   1. while low and high share their top bit, that bit is decided: emit it,
//      then the pending bits (its opposite), and shift the window left;
//   2. while low = 01... and high = 10... (the interval straddles the middle
//      narrowly, "underflow"), the second bit is undecided but is known to be
//      the opposite of the next decided bit: count it as pending and remove it
//      from low and high (keeping the top bit).
// Afterwards low < 2^31 <= high and high - low + 1 > 2^30, which with
// total <= 2^24 gives every symbol a sub-interval of at least 63 values.
//
// Termination: emit low's top bit (always 0) and the pending bits as 1s, so
// the code continues 0111...; the decoder reads 1-bits past the end of its
// input, so the value it sees in the final window is 0x7FFFFFFF, which lies in
// [low, high] because low < 2^31 <= high. The last byte is padded with 1-bits
// and trailing 0xFF bytes are dropped, since the decoder would supply them.
#include "lmic.h"

#include <stdlib.h>
#include <string.h>

#define TOP_ (UINT64_C(1) << 31)       // the window's top bit ("half")
#define QUARTER_ (UINT64_C(1) << 30)
#define MASK_ ((UINT64_C(1) << 32) - 1)

struct lmic_encoder {
    uint64_t low, high;  // inclusive bounds, 32-bit values
    uint64_t pending;    // underflow bits waiting for the next decided bit
    lmic_buf out;        // complete bytes
    unsigned acc;        // bits of the partial byte, most significant first
    int nacc;            // number of bits in acc, 0..7
    int finished;
};

struct lmic_decoder {
    const uint8_t *data;
    size_t size;
    uint64_t low, high;  // inclusive bounds, 32-bit values, as the encoder's
    uint64_t code;       // the 32 bits of the code under the window
    uint64_t bitpos;     // bits read so far, including those past the end
};

// --- shared by encoder and decoder

// Checks a cumulative table: O(n), every call, because a bad table from a
// model would otherwise desynchronise the decoder without any error.
static int table_ok_(const uint32_t *cdf, int n) {
    if (!cdf || n < 1 || n > LMIC_CODER_MAX_SYMBOLS) return 0;
    if (cdf[0] != 0 || cdf[n] > LMIC_CODER_MAX_TOTAL) return 0;
    // No early exit: valid tables (the common case) are read to the end
    // anyway, and the branch-free loop can vectorise (GCC 12 does at -O3).
    unsigned bad = 0;
    for (int i = 0; i < n; i++) bad |= cdf[i] >= cdf[i + 1];
    return !bad;
}

// floor(range * c / total). range <= 2^32 and c <= total <= 2^24, so the
// product fits in 64 bits. Encoder and decoder both call this one function
// so that their boundaries cannot differ.
static uint64_t scale_(uint64_t range, uint32_t c, uint32_t total) {
    return range * c / total;
}

// The sub-interval of symbol s of [*low, *high].
static void narrow_(uint64_t *low, uint64_t *high, const uint32_t *cdf, int n, int s) {
    uint64_t range = *high - *low + 1;
    uint32_t total = cdf[n];
    *high = *low + scale_(range, cdf[s + 1], total) - 1;
    *low = *low + scale_(range, cdf[s], total);
}

// --- encoder

static void put_bit_(lmic_encoder *enc, unsigned bit) {
    enc->acc = (enc->acc << 1) | bit;
    if (++enc->nacc == 8) {
        enc->out.data[enc->out.size++] = (uint8_t)enc->acc;
        enc->acc = 0;
        enc->nacc = 0;
    }
}

// `count` copies of `bit`; pending runs can be long, so whole bytes go at once.
static void put_run_(lmic_encoder *enc, unsigned bit, uint64_t count) {
    while (count > 0 && enc->nacc != 0) { put_bit_(enc, bit); count--; }
    size_t bytes = (size_t)(count / 8);
    memset(enc->out.data + enc->out.size, bit ? 0xFF : 0x00, bytes);
    enc->out.size += bytes;
    for (count %= 8; count > 0; count--) put_bit_(enc, bit);
}

// Makes room for `bits` more bits before the state changes, so that an
// encode either fails with nothing changed or cannot fail at all.
static lmic_status reserve_bits_(lmic_encoder *enc, uint64_t bits) {
    if (bits / 8 >= SIZE_MAX / 2) return LMIC_ERR_NOMEM;
    return lmic_buf_reserve(&enc->out, (size_t)(bits / 8) + 1);
}

lmic_encoder *lmic_encoder_new(void) {
    lmic_encoder *enc = calloc(1, sizeof *enc);
    if (!enc) return NULL;
    lmic_encoder_reset(enc);
    return enc;
}

void lmic_encoder_free(lmic_encoder *enc) {
    if (!enc) return;
    lmic_buf_free(&enc->out);
    free(enc);
}

void lmic_encoder_reset(lmic_encoder *enc) {
    if (!enc) return;
    enc->low = 0;
    enc->high = MASK_;
    enc->pending = 0;
    enc->out.size = 0;
    enc->acc = 0;
    enc->nacc = 0;
    enc->finished = 0;
}

lmic_status lmic_encoder_encode(lmic_encoder *enc, const uint32_t *cdf, int n, int sym) {
    if (!enc || enc->finished || !table_ok_(cdf, n) || sym < 0 || sym >= n)
        return LMIC_ERR_ARG;
    // A sub-interval has at least 63 values and normalisation stops once the
    // range exceeds 2^30, so at most 25 shifts emit bits, plus the pending ones.
    lmic_status st = reserve_bits_(enc, enc->pending + 32);
    if (st != LMIC_OK) return st;

    uint64_t low = enc->low, high = enc->high;
    narrow_(&low, &high, cdf, n, sym);
    while (((low ^ high) & TOP_) == 0) {
        unsigned bit = (unsigned)(low >> 31);
        put_bit_(enc, bit);
        put_run_(enc, bit ^ 1, enc->pending);
        enc->pending = 0;
        low = (low << 1) & MASK_;
        high = ((high << 1) & MASK_) | 1;
    }
    // Now low < 2^31 <= high. Removing the second bit of low = 01x and
    // high = 10y is 2 * (v - 2^30): it keeps the top bit and the straddle.
    while (low >= QUARTER_ && high < TOP_ + QUARTER_) {
        enc->pending++;
        low = (low - QUARTER_) << 1;
        high = ((high - QUARTER_) << 1) | 1;
    }
    enc->low = low;
    enc->high = high;
    return LMIC_OK;
}

lmic_status lmic_encoder_finish(lmic_encoder *enc) {
    if (!enc || enc->finished) return LMIC_ERR_ARG;
    lmic_status st = reserve_bits_(enc, enc->pending + 16);
    if (st != LMIC_OK) return st;
    // low's top bit is 0 after normalisation; followed by 1s (the pending
    // bits, then the decoder's padding) the code is 0x7FFFFFFF in the window.
    put_bit_(enc, (unsigned)(enc->low >> 31));
    put_run_(enc, 1, enc->pending);
    enc->pending = 0;
    while (enc->nacc != 0) put_bit_(enc, 1);
    while (enc->out.size > 0 && enc->out.data[enc->out.size - 1] == 0xFF) enc->out.size--;
    enc->finished = 1;
    return LMIC_OK;
}

const uint8_t *lmic_encoder_data(const lmic_encoder *enc, size_t *size) {
    if (!enc) {
        if (size) *size = 0;
        return NULL;
    }
    if (size) *size = enc->out.size;
    return enc->out.data;
}

// --- decoder

// The next input bit; 1 past the end, which is how the encoder's dropped
// trailing 1-bits come back.
static uint64_t get_bit_(lmic_decoder *dec) {
    uint64_t i = dec->bitpos >> 3;
    uint64_t bit = 1;
    if (i < dec->size) bit = (dec->data[i] >> (7 - (dec->bitpos & 7))) & 1;
    dec->bitpos++;
    return bit;
}

lmic_decoder *lmic_decoder_new(const uint8_t *data, size_t size) {
    if (!data && size > 0) return NULL;
    lmic_decoder *dec = calloc(1, sizeof *dec);
    if (!dec) return NULL;
    dec->data = data;
    dec->size = size;
    dec->low = 0;
    dec->high = MASK_;
    for (int i = 0; i < 32; i++) dec->code = (dec->code << 1) | get_bit_(dec);
    return dec;
}

void lmic_decoder_free(lmic_decoder *dec) {
    free(dec);
}

lmic_status lmic_decoder_decode(lmic_decoder *dec, const uint32_t *cdf, int n, int *sym) {
    if (!dec || !sym || !table_ok_(cdf, n)) return LMIC_ERR_ARG;
    // The normalisation below keeps low <= code <= high for every input; this
    // check guards the arithmetic should that invariant ever be broken.
    if (dec->code < dec->low || dec->code > dec->high) return LMIC_ERR_CORRUPT;

    // The symbol s with low + scale(cdf[s]) <= code < low + scale(cdf[s+1]),
    // found with the encoder's own boundaries (never a division of code, which
    // could round differently). Invariant: scale(cdf[lo]) <= target < scale(cdf[hi]).
    uint64_t range = dec->high - dec->low + 1;
    uint64_t target = dec->code - dec->low;
    int lo = 0, hi = n;
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        if (scale_(range, cdf[mid], cdf[n]) <= target) lo = mid;
        else hi = mid;
    }

    uint64_t low = dec->low, high = dec->high, code = dec->code;
    narrow_(&low, &high, cdf, n, lo);
    while (((low ^ high) & TOP_) == 0) {
        low = (low << 1) & MASK_;
        high = ((high << 1) & MASK_) | 1;
        code = ((code << 1) & MASK_) | get_bit_(dec);
    }
    while (low >= QUARTER_ && high < TOP_ + QUARTER_) {
        low = (low - QUARTER_) << 1;
        high = ((high - QUARTER_) << 1) | 1;
        code = ((code - QUARTER_) << 1) | get_bit_(dec);
    }
    dec->low = low;
    dec->high = high;
    dec->code = code;
    *sym = lo;
    return LMIC_OK;
}

size_t lmic_decoder_consumed(const lmic_decoder *dec) {
    if (!dec) return 0;
    return (size_t)((dec->bitpos + 7) / 8);
}
