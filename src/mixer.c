// mixer.c -- the model's token probabilities mixed with the plain coder's
// adaptive model (coder 2 of an audio chunk; docs/format.md "Mixed stream").
//
// The model sees residual bytes; the plain model (src/plainmodel.h) knows the
// recent magnitude of each channel and the shape of its residuals. For each
// token the plain model's distribution over the residual is turned into the
// distribution of that byte given the sample's bytes before it (the mass of
// the residuals each byte value leaves possible), and the two are mixed
// geometrically: p(v) is proportional to p_lm(v)^w0 · p_plain(v)^w1, with
// weights per byte position that learn online by gradient descent on the
// code length (as PAQ's logistic mixing does for bits): after token x,
// w_i += RATE_ (ln p_i(x) - E_p[ln p_i]).
//
// The per-value arithmetic is float32 with lmic's own exp and log, the sums
// are double in value order, and nothing depends on the thread or the batch,
// so encoder and decoder build the same CDFs (rule 1).
#include "mixer.h"
#include "mathf.h"
#include "wrap.h"

#include <stdlib.h>
#include <string.h>

// The weights' learning rate (per token, on a gradient in nats). On 20 dev
// speech files (680 KB) with the built-in model and segments of 16 windows,
// 1/500, 1/100, 1/33 and 1/10 gave 372,395 / 372,134 / 372,181 / 374,593
// bytes in a double-precision trial, 1/128 as here 372,164 (container v4's
// linear mixing with fixed-share weights: 373,095; the plain coder alone
// 373,027). Starting weights of (0.35, 0.75) or (0.4, 0.6) were no better.
#define RATE_ (1.0 / 128)
// ln of the plain model's probabilities below this is taken at it: values
// the plain model rules out (beyond the sample's range) stay possible.
#define FLOOR_ 1e-30f
// The model's log-probabilities are taken no lower than this.
#define LOGP_MIN_ (-80.0f)

struct lmic_mixer_ {
    plain_model_ pm;
    plain_chan_ a[LMIC_PCM_MAX_CHANNELS];  // the channels' running sums
    int C, bits, B;                     // channels, bits, bytes per sample
    int planar;
    size_t frames;                      // the chunk's frames (planar: a channel's span)
    size_t q;                           // the next token's index in the chunk
    int skip;                           // 1 while in a sample begun before the stream
    uint64_t prefix;                    // the current sample's bytes so far
    double w[4][2];                     // weights (model, plain) by byte position
    double pp[256];                     // the plain model's distribution of the token
    float lm[256], lp[256];             // ln of the model's and the plain model's
    double p[256];                      // the mixed distribution
    // The plain model's probability of one u in each block, for the
    // current channel's context: level n, first and second bit below the
    // leading one (levels 0..2 use pb[n][0][0], pb[2][b1][0]).
    double pb[PLAIN_NS_][2][2];
    // cum[n][par]: the mass of the u of parity par in the levels below n
    // (n = 0 .. bits + 1).
    double cum[PLAIN_NS_ + 1][2];
};

lmic_mixer_ *lmic_mixer_new_(void) { return malloc(sizeof(lmic_mixer_)); }
void lmic_mixer_free_(lmic_mixer_ *x) { free(x); }

void lmic_mixer_reset_(lmic_mixer_ *x, const lmic_pcm_spec *spec, size_t frames, size_t start) {
    plain_init_(&x->pm);
    memset(x->a, 0, sizeof x->a);
    x->C = spec->layout == LMIC_LAYOUT_CHANNEL ? 1 : spec->channels;
    x->bits = spec->bits;
    x->B = (spec->bits + 7) / 8;
    x->planar = spec->layout == LMIC_LAYOUT_PLANAR;
    x->frames = frames;
    x->q = start;
    x->skip = start % (size_t)x->B != 0;
    x->prefix = 0;
    for (int j = 0; j < 4; j++) x->w[j][0] = x->w[j][1] = 0.5;
}

// The channel of token q.
static int channel_(const lmic_mixer_ *x, size_t q) {
    if (x->planar) return (int)(q / (x->frames * (size_t)x->B));
    return (int)((q / (size_t)x->B) % (size_t)x->C);
}

// pb for the plain model in context k: P(n) from the table (symbols 0..bits),
// then the bits below the leading one, then 2^-(n-3) for the rest.
static void blocks_(lmic_mixer_ *x, const plain_chan_ *ch) {
    const plain_model_ *m = &x->pm;
    uint32_t F[PLAIN_NS_];
    plain_freqs_(m, ch, x->bits, F);
    double z = 0;
    for (int s = 0; s <= x->bits; s++) z += (double)F[s];
    double scale = 1.0;  // 2^-(n-3) for n >= 3
    for (int n = 0; n <= x->bits; n++) {
        double pn = (double)F[n] / z;
        if (n <= 1) {
            x->pb[n][0][0] = pn;
            continue;
        }
        const int bc = plain_bctx_(ch, n);
        double q1 = (double)m->p1[n][bc] / PLAIN_PROB_ONE_;  // P(b1 = 0)
        if (n == 2) {
            x->pb[2][0][0] = pn * q1;
            x->pb[2][1][0] = pn * (1.0 - q1);
            continue;
        }
        for (int b1 = 0; b1 < 2; b1++) {
            double q2 = (double)m->p2[n][bc][b1] / PLAIN_PROB_ONE_;  // P(b2 = 0 | b1)
            double p1 = b1 ? 1.0 - q1 : q1;
            x->pb[n][b1][0] = pn * p1 * q2 * scale;
            x->pb[n][b1][1] = pn * p1 * (1.0 - q2) * scale;
        }
        scale *= 0.5;
    }
    // Each level's mass by parity: u = 0 even, u = 1 odd, u = 2 + b1 has
    // parity b1, u = 4 + 2 b1 + b2 parity b2; from n = 4 on every block
    // holds 2^(n-4) values of each parity.
    x->cum[0][0] = x->cum[0][1] = 0;
    double half = 1.0;  // 2^(n-4)
    for (int n = 0; n <= x->bits; n++) {
        double e, o;
        if (n == 0) { e = x->pb[0][0][0]; o = 0; }
        else if (n == 1) { e = 0; o = x->pb[1][0][0]; }
        else if (n == 2) { e = x->pb[2][0][0]; o = x->pb[2][1][0]; }
        else if (n == 3) { e = x->pb[3][0][0] + x->pb[3][1][0]; o = x->pb[3][0][1] + x->pb[3][1][1]; }
        else {
            e = o = (x->pb[n][0][0] + x->pb[n][0][1] + x->pb[n][1][0] + x->pb[n][1][1]) * half;
            half *= 2.0;
        }
        x->cum[n + 1][0] = x->cum[n][0] + e;
        x->cum[n + 1][1] = x->cum[n][1] + o;
    }
}

// P(u) for one value.
static double one_(const lmic_mixer_ *x, uint64_t u) {
    int n = plain_bitlen_(u);
    if (n <= 1) return x->pb[n][0][0];
    if (n == 2) return x->pb[2][u & 1][0];
    return x->pb[n][(u >> (n - 2)) & 1][(u >> (n - 3)) & 1];
}

// How many integers of parity `par` lie in [a, e) (a <= e).
static uint64_t count_(uint64_t a, uint64_t e, int par) {
    return ((e + 1 - (uint64_t)par) >> 1) - ((a + 1 - (uint64_t)par) >> 1);
}

// G(lim, par): the plain model's mass of the u < lim of parity par: the
// levels below lim's, then the blocks of its level that start below lim.
static double below_(const lmic_mixer_ *x, uint64_t lim, int par) {
    if (lim == 0) return 0;
    int n = plain_bitlen_(lim - 1);  // the level of lim - 1, the last u counted
    if (n > x->bits) return x->cum[x->bits + 1][par];
    double g = x->cum[n][par];
    if (n <= 2) {  // levels 0..2: the values one by one
        for (uint64_t u = n ? (uint64_t)1 << (n - 1) : 0; u < lim; u++)
            if ((int)(u & 1) == par) g += one_(x, u);
        return g;
    }
    uint64_t lo = (uint64_t)1 << (n - 1), S = (uint64_t)1 << (n - 3);
    for (int blk = 0; blk < 4; blk++) {
        uint64_t bs = lo + (uint64_t)blk * S, be = bs + S;
        if (lim <= bs) break;
        uint64_t c = count_(bs, lim < be ? lim : be, par);
        if (c) g += (double)c * x->pb[n][blk >> 1][blk & 1];
    }
    return g;
}

// The plain model's mass of the residuals r0 <= r <= r1 (u = 2r for r >= 0,
// -2r - 1 for r < 0).
static double mass_(const lmic_mixer_ *x, int64_t r0, int64_t r1) {
    double m = 0;
    if (r1 >= 0) {
        int64_t a = r0 > 0 ? r0 : 0;
        m += below_(x, 2 * (uint64_t)r1 + 1, 0) - below_(x, 2 * (uint64_t)a, 0);
    }
    if (r0 < 0) {
        int64_t b = r1 < -1 ? r1 : -1;
        m += below_(x, (uint64_t)(-2 * r0), 1) - below_(x, (uint64_t)(-2 * b - 1), 1);
    }
    return m;
}

void lmic_mixer_cdf_(lmic_mixer_ *x, const float *logp, uint32_t *cdf) {
    int j = (int)(x->q % (size_t)x->B), c = channel_(x, x->q);
    if (j == 0) { x->skip = 0; x->prefix = 0; }
    if (x->skip) {  // a sample begun before this stream: the model alone
        lmic_cdf_from_logp(logp, cdf);
        return;
    }
    // The plain model learns only when a sample is complete: its blocks
    // serve all of a sample's bytes.
    if (j == 0) blocks_(x, &x->a[c]);
    // Token v leaves the offset-binary values [(P·256 + v) << s, ... + 2^s),
    // those within [0, 2^bits); residual = value - 2^(bits-1).
    int s = 8 * (x->B - 1 - j);
    int64_t half = (int64_t)1 << (x->bits - 1), top = ((int64_t)1 << x->bits) - 1;
    double z = 0;
    for (int v = 0; v < 256; v++) {
        int64_t o0 = (int64_t)(((x->prefix << 8) | (uint64_t)v) << s);
        int64_t o1 = o0 + ((int64_t)1 << s) - 1;
        double p = 0;
        if (o0 <= top && s == 0) p = one_(x, plain_zigzag_((int32_t)(o0 - half)));
        else if (o0 <= top) p = mass_(x, o0 - half, (o1 < top ? o1 : top) - half);
        x->pp[v] = p;
        z += p;
    }
    for (int v = 0; v < 256; v++) x->pp[v] = z > 0 ? x->pp[v] / z : 1.0 / 256;
    const float w0 = (float)x->w[j][0], w1 = (float)x->w[j][1];
    float t[256], m = -1e30f;  // the mixture's log-probabilities, unnormalised; their largest
    for (int v = 0; v < 256; v++) {
        const float a = logp[v] > LOGP_MIN_ ? logp[v] : LOGP_MIN_;
        const float b = (float)x->pp[v];
        x->lm[v] = a;
        x->lp[v] = lmic_logf(b > FLOOR_ ? b : FLOOR_);
        t[v] = w0 * x->lm[v] + w1 * x->lp[v];
        if (t[v] > m) m = t[v];
    }
    double zz = 0;
    for (int v = 0; v < 256; v++) {
        x->p[v] = (double)lmic_expf_k_(t[v] - m);
        zz += x->p[v];
    }
    cdf[0] = 0;
    for (int v = 0; v < 256; v++) {
        x->p[v] /= zz;
        cdf[v + 1] = cdf[v] + 1 + (uint32_t)(x->p[v] * 8388608.0);
    }
}

void lmic_mixer_update_(lmic_mixer_ *x, int token) {
    size_t q = x->q++;
    int j = (int)(q % (size_t)x->B);
    if (j == 0) { x->skip = 0; x->prefix = 0; }
    if (x->skip) return;
    double e0 = 0, e1 = 0;  // the expected ln p_i under the mixture
    for (int v = 0; v < 256; v++) {
        e0 += x->p[v] * (double)x->lm[v];
        e1 += x->p[v] * (double)x->lp[v];
    }
    x->w[j][0] += RATE_ * ((double)x->lm[token] - e0);
    x->w[j][1] += RATE_ * ((double)x->lp[token] - e1);
    x->prefix = (x->prefix << 8) | (uint64_t)token;
    if (j == x->B - 1) {  // the sample is complete: the plain model learns its residual
        int32_t r = lmic_sext_((uint32_t)(x->prefix - ((uint64_t)1 << (x->bits - 1))), x->bits);
        plain_learn_(&x->pm, &x->a[channel_(x, q)], plain_zigzag_(r));
    }
}
