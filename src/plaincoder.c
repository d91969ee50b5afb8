// plaincoder.c -- predictor residuals coded without the model: an adaptive
// context coder in the manner of Monkey's Audio and sac, on lmic's
// arithmetic coder.
//
// Each residual r (a `bits`-bit two's-complement value) becomes
// u = zig-zag(r) = 2r for r >= 0, -2r - 1 for r < 0 (u < 2^bits), coded as
//   1. its bit length n (0 for u = 0), from three adaptive frequency tables,
//      each chosen by one view of the channel's recent magnitude: running
//      sums a_j <- a_j - a_j/2^s_j + u (s = 3, 5, 2: about the last 8, 32
//      and 4 samples), quantised to half-octaves; the three distributions
//      are averaged (plainmodel.h, plain_freqs_);
//   2. for n >= 2, the two bits below the leading one, each with an adaptive
//      binary probability (by n, and by n and the first bit);
//   3. the remaining n - 3 bits as they are (uniform).
// Laplacian residuals spend most of their information in n; the two bits
// after it capture the decay inside an octave. Everything is integer
// arithmetic, so every build codes the same bits (rule 1). The state starts
// afresh per call (per chunk): chunks stay independent.
//
// Measured on the dev corpus (whole categories, 4096-frame chunks): a sum
// forgetting 1/8 beat 1/16 by 0.1 %; splitting the contexts further by the
// previous residual's size (2 or 3 ways) lost 0.2-0.4 % (tables learn slower
// than they gain within a chunk); halving at 4096 instead of 8192 lost 0.05 %.
// Averaging a second table on a slow sum (1/32) gained 0.07-0.10 points in
// every category, a third on a fast sum (1/4) 0.01-0.12 more (1/16 or 1/64
// for the slow one, or the fast one at half weight: a little worse).
// Coding n instead as binary decisions (n > k?) with a PAQ-style logistic
// mixer of seven adaptive contexts (each sum's half-octave, two pairs of
// them, the previous n, the last sample's size) plus these averaged tables,
// and an APM after it, did not pay: on 59 dev speech16k files (982k
// residuals of bench/dump_residuals.c, simulated offline) n cost 2.611
// bits/sample here and 2.611-2.627 there, whatever the mixer's rate; a
// 1-second chunk is too short for more contexts to learn.
#include "lmic.h"
#include "wrap.h"
#include "plainmodel.h"

#include <stdlib.h>
#include <string.h>

#define RETURN_IF(cond, st) do { if (cond) return (st); } while (0)

// The table for symbols 0..bits of context k, as a CDF.
static void cdf_(const plain_model_ *m, const plain_chan_ *ch, int bits, uint32_t *cdf) {
    uint32_t F[PLAIN_NS_];
    plain_freqs_(m, ch, bits, F);
    cdf[0] = 0;
    for (int s = 0; s <= bits; s++) cdf[s + 1] = cdf[s] + F[s];
}

// uni[i] = i: the CDF of up to 8 bits stored as they are.
static void uniform_cdf_(uint32_t *uni) {
    for (uint32_t i = 0; i <= 256; i++) uni[i] = i;
}

// --- encoder

lmic_status lmic_plain_encode(const int32_t *res, size_t n, int channels, int bits, lmic_buf *out,
                              size_t *size) {
    RETURN_IF(!out || !size || (n && !res) || channels < 1 || channels > LMIC_PCM_MAX_CHANNELS ||
              bits < 1 || bits > 32, LMIC_ERR_ARG);
    size_t out0 = out->size;
    lmic_status st = LMIC_OK;
    plain_model_ *m = malloc(sizeof *m);
    plain_chan_ *a = calloc((size_t)channels, sizeof *a);  // a is (C): running sums
    lmic_encoder *enc = lmic_encoder_new();
    if (!m || !a || !enc) { st = LMIC_ERR_NOMEM; goto done; }
    plain_init_(m);
    uint32_t cdf[PLAIN_NS_ + 1], uni[257];
    uniform_cdf_(uni);
    for (size_t t = 0; t < n; t++) {
        for (int c = 0; c < channels; c++) {
            // The low `bits` bits, as a signed value (residuals are wrapped
            // to `bits` bits already; this only guards the range).
            uint32_t u = plain_zigzag_(lmic_sext_((uint32_t)res[t * (size_t)channels + c], bits));
            int nb = plain_bitlen_(u), left = nb - 1;  // left: bits below the leading one
            cdf_(m, &a[c], bits, cdf);
            if ((st = lmic_encoder_encode(enc, cdf, bits + 1, nb)) != LMIC_OK) goto done;
            if (left >= 1) {
                int b1 = (int)((u >> (left - 1)) & 1), bc = plain_bctx_(&a[c], nb);
                uint32_t pc[3] = {0, m->p1[nb][bc], PLAIN_PROB_ONE_};
                if ((st = lmic_encoder_encode(enc, pc, 2, b1)) != LMIC_OK) goto done;
                left--;
                if (left >= 1) {
                    int b2 = (int)((u >> (left - 1)) & 1);
                    uint32_t pd[3] = {0, m->p2[nb][bc][b1], PLAIN_PROB_ONE_};
                    if ((st = lmic_encoder_encode(enc, pd, 2, b2)) != LMIC_OK) goto done;
                    left--;
                }
                while (left > 0) {  // the rest, up to 8 bits at a time
                    int g = left < 8 ? left : 8;
                    left -= g;
                    int v = (int)((u >> left) & ((1u << g) - 1));
                    if ((st = lmic_encoder_encode(enc, uni, 1 << g, v)) != LMIC_OK) goto done;
                }
            }
            plain_learn_(m, &a[c], u);
        }
    }
    if ((st = lmic_encoder_finish(enc)) != LMIC_OK) goto done;
    size_t cs;
    const uint8_t *code = lmic_encoder_data(enc, &cs);
    if ((st = lmic_buf_append(out, code, cs)) != LMIC_OK) goto done;
    *size = cs;
done:
    if (st != LMIC_OK) out->size = out0;
    free(m);
    free(a);
    lmic_encoder_free(enc);
    return st;
}

// --- decoder

lmic_status lmic_plain_decode(const uint8_t *code, size_t size, size_t n, int channels, int bits,
                              int32_t *res) {
    RETURN_IF((size && !code) || (n && !res) || channels < 1 || channels > LMIC_PCM_MAX_CHANNELS ||
              bits < 1 || bits > 32, LMIC_ERR_ARG);
    lmic_status st = LMIC_OK;
    plain_model_ *m = malloc(sizeof *m);
    plain_chan_ *a = calloc((size_t)channels, sizeof *a);
    lmic_decoder *dec = lmic_decoder_new(code, size);
    if (!m || !a || !dec) { st = LMIC_ERR_NOMEM; goto done; }
    plain_init_(m);
    uint32_t cdf[PLAIN_NS_ + 1], uni[257];
    uniform_cdf_(uni);
    for (size_t t = 0; t < n; t++) {
        for (int c = 0; c < channels; c++) {
            int nb;
            cdf_(m, &a[c], bits, cdf);
            if ((st = lmic_decoder_decode(dec, cdf, bits + 1, &nb)) != LMIC_OK) goto done;
            uint32_t u = nb ? 1u : 0u;
            int left = nb - 1;
            if (left >= 1) {
                int b1, b2, bc = plain_bctx_(&a[c], nb);
                uint32_t pc[3] = {0, m->p1[nb][bc], PLAIN_PROB_ONE_};
                if ((st = lmic_decoder_decode(dec, pc, 2, &b1)) != LMIC_OK) goto done;
                u = (u << 1) | (uint32_t)b1;
                left--;
                if (left >= 1) {
                    uint32_t pd[3] = {0, m->p2[nb][bc][b1], PLAIN_PROB_ONE_};
                    if ((st = lmic_decoder_decode(dec, pd, 2, &b2)) != LMIC_OK) goto done;
                    u = (u << 1) | (uint32_t)b2;
                    left--;
                }
                while (left > 0) {
                    int g = left < 8 ? left : 8, v;
                    left -= g;
                    if ((st = lmic_decoder_decode(dec, uni, 1 << g, &v)) != LMIC_OK) goto done;
                    u = (u << g) | (uint32_t)v;
                }
            }
            res[t * (size_t)channels + c] = plain_unzigzag_(u);
            plain_learn_(m, &a[c], u);
        }
    }
done:
    free(m);
    free(a);
    lmic_decoder_free(dec);
    return st;
}
