// pcm.c -- PCM samples <-> the byte tokens a model sees.
//
// The token stream is what lmic compresses, so this mapping is part of the
// format: offset binary, most significant byte first, whole frames per block,
// three layouts and an optional lossless mid/side. Integer-only, so it is the
// same on every machine. See lmic.h for the definitions.
#include "lmic.h"
#include "wrap.h"

#include <stdlib.h>

lmic_status lmic_pcm_check(const lmic_pcm_spec *s) {
    if (!s) return LMIC_ERR_ARG;
    if (s->channels < 1 || s->channels > LMIC_PCM_MAX_CHANNELS) return LMIC_ERR_ARG;
    if (s->bits < 1 || s->bits > 32) return LMIC_ERR_ARG;
    if (s->layout != LMIC_LAYOUT_INTERLEAVE && s->layout != LMIC_LAYOUT_PLANAR &&
        s->layout != LMIC_LAYOUT_CHANNEL)
        return LMIC_ERR_ARG;
    if (s->layout == LMIC_LAYOUT_CHANNEL && (s->channel < 0 || s->channel >= s->channels))
        return LMIC_ERR_ARG;
    if (s->mid_side && s->channels != 2) return LMIC_ERR_ARG;
    return LMIC_OK;
}

int lmic_pcm_sample_bytes(const lmic_pcm_spec *s) { return (s->bits + 7) / 8; }

int lmic_pcm_frame_bytes(const lmic_pcm_spec *s) {
    int ch = s->layout == LMIC_LAYOUT_CHANNEL ? 1 : s->channels;
    return ch * lmic_pcm_sample_bytes(s);
}


// FLAC's mid/side as a lifting step, wrapped to `bits` bits so both outputs
// stay one sample wide: S = L - R, M = R + (S >> 1). Inverting the steps in
// reverse order recovers (L, R) exactly, whatever wrapped.
static void ms_forward_(int32_t l, int32_t r, int bits, int32_t *m, int32_t *s) {
    int32_t side = lmic_sext_((uint32_t)l - (uint32_t)r, bits);
    *s = side;
    *m = lmic_sext_((uint32_t)r + (uint32_t)(side >> 1), bits);
}
static void ms_inverse_(int32_t m, int32_t s, int bits, int32_t *l, int32_t *r) {
    int32_t right = lmic_sext_((uint32_t)m - (uint32_t)(s >> 1), bits);
    *r = right;
    *l = lmic_sext_((uint32_t)s + (uint32_t)right, bits);
}

static void put_(uint8_t *p, int32_t x, int bits, int nbytes) {
    uint32_t u = ((uint32_t)x + (1u << (bits - 1))) & lmic_mask_(bits);  // offset binary
    for (int i = nbytes - 1; i >= 0; i--) { p[i] = (uint8_t)u; u >>= 8; }
}
static int32_t get_(const uint8_t *p, int bits, int nbytes) {
    uint32_t u = 0;
    for (int i = 0; i < nbytes; i++) u = (u << 8) | p[i];
    return lmic_sext_(u - (1u << (bits - 1)), bits);
}

// Byte offset of (frame t, channel c) in a block of n frames.
static size_t offset_(const lmic_pcm_spec *s, size_t n, size_t t, int c) {
    size_t sb = (size_t)lmic_pcm_sample_bytes(s);
    switch (s->layout) {
    case LMIC_LAYOUT_PLANAR: return ((size_t)c * n + t) * sb;
    case LMIC_LAYOUT_CHANNEL: return t * sb;
    default: return (t * (size_t)s->channels + (size_t)c) * sb;
    }
}

lmic_status lmic_pcm_mid_side(int32_t *frames, size_t n, int bits, int inverse) {
    if (bits < 1 || bits > 32 || (n && !frames)) return LMIC_ERR_ARG;
    for (size_t t = 0; t < n; t++) {
        int32_t *f = frames + 2 * t;  // f is (2,)
        if (inverse) ms_inverse_(f[0], f[1], bits, &f[0], &f[1]);
        else ms_forward_(f[0], f[1], bits, &f[0], &f[1]);
    }
    return LMIC_OK;
}

lmic_status lmic_pcm_encode(const lmic_pcm_spec *s, const int32_t *frames, size_t n,
                            uint8_t *out) {
    if (lmic_pcm_check(s) != LMIC_OK || (n && (!frames || !out))) return LMIC_ERR_ARG;
    int C = s->channels, sb = lmic_pcm_sample_bytes(s);
    for (size_t t = 0; t < n; t++) {
        const int32_t *f = frames + t * (size_t)C;  // f is (C,)
        int32_t ms[2];
        if (s->mid_side) { ms_forward_(f[0], f[1], s->bits, &ms[0], &ms[1]); f = ms; }
        if (s->layout == LMIC_LAYOUT_CHANNEL) {
            put_(out + offset_(s, n, t, 0), f[s->channel], s->bits, sb);
            continue;
        }
        for (int c = 0; c < C; c++) put_(out + offset_(s, n, t, c), f[c], s->bits, sb);
    }
    return LMIC_OK;
}

lmic_status lmic_pcm_decode(const lmic_pcm_spec *s, const uint8_t *in, size_t n,
                            int32_t *frames) {
    if (lmic_pcm_check(s) != LMIC_OK || (n && (!frames || !in))) return LMIC_ERR_ARG;
    int C = s->channels, sb = lmic_pcm_sample_bytes(s);
    for (size_t t = 0; t < n; t++) {
        if (s->layout == LMIC_LAYOUT_CHANNEL) {
            frames[t] = get_(in + offset_(s, n, t, 0), s->bits, sb);
            continue;
        }
        int32_t *f = frames + t * (size_t)C;  // f is (C,)
        for (int c = 0; c < C; c++) f[c] = get_(in + offset_(s, n, t, c), s->bits, sb);
        if (s->mid_side) ms_inverse_(f[0], f[1], s->bits, &f[0], &f[1]);
    }
    return LMIC_OK;
}
