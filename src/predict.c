// predict.c -- the lossless predictor front end: samples <-> residuals.
//
// Each channel of a chunk is predicted alone (the cascade may also look at
// channel c-1, which is restored first). r[t] = x[t] - pred[t] wrapped to
// `bits` bits, so residuals are one sample wide and the map is a bijection.
// apply and restore run the same predictor code on the same samples (the
// original ones when applying, the restored ones when restoring), with
// integer arithmetic: int64 accumulators, floor shifts written out (no
// implementation-defined >> of negatives), clamps where a value could grow,
// so there is no overflow and every build gives the same residuals (rule 1).
// The one exception, the cascade's least-squares stage O, works in double
// precision with IEEE + - * / in a fixed order, and its output is rounded and
// clamped to an integer before anything else sees it.
//
// lmic_pred_choose is encoder-only; it may use floating point because its
// result is stored (lmic_pred_write). docs/format.md ("Predictor
// parameters") is the decoder's contract for everything here.
#include "lmic.h"
#include "wrap.h"
#include "varint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define E_ 2.718281828459045
#define M_PI_ 3.141592653589793

// --- integer helpers

// The low `bits` bits of v, sign-extended.
static int32_t wrap_(int64_t v, int bits) { return lmic_sext_((uint32_t)(uint64_t)v, bits); }

// floor(v / 2^s) for 0 <= s < 63, whatever the sign of v.
static int64_t asr_(int64_t v, int s) { return v < 0 ? ~(~v >> s) : v >> s; }

// round(v / 2^s), halves up; s >= 1.
static int64_t rshr_(int64_t v, int s) { return asr_(v + ((int64_t)1 << (s - 1)), s); }

static int64_t clamp_(int64_t v, int64_t lim) { return v > lim ? lim : v < -lim ? -lim : v; }

// --- the backward-adaptive cascade
//
// All stages work on a working scale: the samples shifted so that full scale
// is about 2^22 (left for bits < 22, right for more), which makes the fixed-
// point step sizes mean the same for every depth. Stage values are clamped to
// +-2^CASC_LIM, weights to +-2^CASC_WLIM, so every int64 sum stays clear of
// overflow (256 taps * 2^25 * 2^26 = 2^59).

#define CASC_SCALE 22
#define CASC_LIM 25
#define CASC_WLIM 26
#define CASC_NA_MAX 32   // stage A: NLMS on the channel's own past
#define CASC_NS_MAX 16   // stage A: taps on channel c-1 (current and past)
#define CASC_NB_MAX 256  // stage B: sign-sign LMS
#define CASC_NC_MAX 32   // stage C: NLMS
#define CASC_NE_MAX 16   // stage E: NLMS
#define BLPC_K_MAX 32    // stage L: backward-adaptive LPC
#define BLPC_W_MAX 2048
#define BIAS_NCTX 9      // stage D: contexts
#define MIX_MU 8         // stage M: NLMS step 2^-8

typedef struct {
    int lk, lw, lu, wn;   // stage L: order (0: a fixed 31/32 first difference
                          // instead), window, refit interval, white noise 2^-wn
    int na, ns, nb, nc, ne;  // taps per stage (ns only when stereo)
    int mu_a, mu_c, mu_e;    // NLMS step 2^-mu
    int shift_b;          // stage B weights are Q(shift_b)
    int on;               // stage O: taps (0: none)
    double olambda;       // stage O: forgetting factor
} casc_variant;

// The variants a CASCADE predictor's order byte names (docs/format.md).
static const casc_variant casc_variants_[] = {
    // lk   lw   lu  wn  na  ns   nb  nc  ne mu_a mu_c mu_e shift_b on olambda
    {32,  384,  64, 10,  8,  4, 256, 32, 16,   5,   3,   4, 13, 32, 0.994},  // 0: short window (speech)
    {32, 1024, 256, 10,  8,  4, 256, 32,  0,   3,   3,   0, 13, 32, 0.998},  // 1: long window (music)
    {16,  256,  64, 10,  8,  4,   0,  0,  0,   5,   6,   0, 13,  0, 0},      // 2: cheaper: no long filter
    {32, 2048, 512, 10,  8,  4, 256, 32,  0,   3,   3,   0, 13, 32, 0.998},  // 3: longest window
};
#define CASC_VARIANTS ((int)(sizeof casc_variants_ / sizeof casc_variants_[0]))

static int bitlen_(uint64_t v) {
    int n = 0;
    while (v) { n++; v >>= 1; }
    return n;
}

// Stage L: LPC refitted every `u` samples from the last `w` samples (the
// decoder has them too): a parabolic window, autocorrelation, Levinson-Durbin
// in fixed point. Coefficients Q20.
typedef struct {
    int k, w, u, wn;
    int pos;        // ring index of the oldest of the last w samples
    long count;     // samples seen
    int32_t ring[2 * BLPC_W_MAX];  // each sample at i and i + w
    int32_t win[BLPC_W_MAX];       // Q15, oldest first
    int32_t a[BLPC_K_MAX];         // Q20
} blpc_;

static void blpc_init_(blpc_ *f, int k, int w, int u, int wn) {
    memset(f, 0, sizeof *f);
    f->k = k, f->w = w, f->u = u, f->wn = wn;
    // Two half parabolas meeting at the peak P = 3w/4 (oldest first):
    // rising slowly over the old samples, falling fast after the peak.
    int64_t P = (int64_t)w * 3 / 4, Q = w - P;
    for (int i = 0; i < w; i++) {
        int64_t d = i < P ? P - i : i + 1 - P, D = i < P ? P : Q;
        f->win[i] = (int32_t)(((D * D - d * d + d) << 15) / (D * D));
    }
}

static int64_t blpc_predict_(const blpc_ *f) {
    if (!f->k) return 0;
    const int32_t *x = f->ring + f->pos + f->w - 1;  // x[0] newest, x[-j] older
    int64_t acc = 0;
    for (int j = 0; j < f->k; j++) acc += (int64_t)f->a[j] * x[-j];
    return clamp_(rshr_(acc, 20), (int64_t)1 << CASC_LIM);
}

static void blpc_refit_(blpc_ *f) {
    int w = f->w, K = f->k;
    int64_t R[BLPC_K_MAX + 1];
    int32_t y[BLPC_W_MAX];  // windowed, oldest first
    const int32_t *x = f->ring + f->pos;
    for (int i = 0; i < w; i++) y[i] = (int32_t)rshr_((int64_t)x[i] * f->win[i], 15);
    for (int k = 0; k <= K; k++) {
        int64_t s = 0;
        for (int i = k; i < w; i++) s += (int64_t)y[i] * y[i - k];
        R[k] = s;
    }
    memset(f->a, 0, sizeof f->a);
    if (R[0] <= 0) return;
    // Normalise so that 2^29 <= R[0] < 2^30 (|R[k]| <= R[0] always).
    int L = bitlen_((uint64_t)R[0]);
    for (int k = 0; k <= K; k++) R[k] = L > 30 ? asr_(R[k], L - 30) : R[k] * ((int64_t)1 << (30 - L));
    R[0] += R[0] >> f->wn;  // white-noise correction: conditioning
    int64_t a[BLPC_K_MAX] = {0}, tmp[BLPC_K_MAX], e = R[0];
    const int64_t alim = (int64_t)1 << 26, klim = ((int64_t)1 << 20) - 1024;
    for (int i = 0; i < K; i++) {
        int64_t acc = R[i + 1] * ((int64_t)1 << 20);
        for (int j = 0; j < i; j++) acc -= a[j] * R[i - j];
        if (e <= 0) break;
        int64_t k = acc / e;
        if (k > klim || k < -klim) break;  // unstable: keep order i
        for (int j = 0; j < i; j++) tmp[j] = clamp_(a[j] - rshr_(k * a[i - 1 - j], 20), alim);
        memcpy(a, tmp, (size_t)i * sizeof a[0]);
        a[i] = k;
        e -= rshr_(rshr_(k * k, 20) * e, 20);
    }
    for (int j = 0; j < K; j++) f->a[j] = (int32_t)a[j];
}

static void blpc_update_(blpc_ *f, int32_t x) {
    if (!f->k) return;
    f->ring[f->pos] = f->ring[f->pos + f->w] = x;
    f->pos = f->pos + 1 == f->w ? 0 : f->pos + 1;
    f->count++;
    // Refit early and often at the start (16, 32, 64, ... samples), then
    // every u samples.
    if ((f->count < f->u && f->count >= 16 && (f->count & (f->count - 1)) == 0) ||
        (f->count % f->u) == 0)
        blpc_refit_(f);
}

// Stage O: least squares on the last n working-scale samples, in double
// precision, refitted every OLS_REFIT samples from a covariance that forgets
// by lambda a sample and weighs each sample by 1 / (running |error| + 2^7),
// which leans the fit toward least absolute error (sac's OLS stage does the
// same). The fit is an LDL^T factorisation, no square root. Every operation
// is an IEEE + - * / in the order written here and in docs/format.md, so
// every build computes the same bits (rule 1: -ffp-contract=off, no libm).
#define OLS_N_MAX 32
#define OLS_REFIT 16
#define OLS_ADD 128.0   // 2 in 16-bit units
#define OLS_NU 1.0      // regularisation added to the diagonal
typedef struct {
    int n, m;              // taps; updates since the last refit
    double lambda, esum, pred;
    double x[OLS_N_MAX];   // x[0] newest
    double w[OLS_N_MAX];
    double b[OLS_N_MAX];
    double cov[OLS_N_MAX][OLS_N_MAX];  // lower triangle
    double L[OLS_N_MAX][OLS_N_MAX];    // unit lower triangle (below the diagonal)
    double d[OLS_N_MAX];
} ols_;

static void ols_init_(ols_ *f, int n, double lambda) {
    memset(f, 0, sizeof *f);
    f->n = n;
    f->lambda = lambda;
}

// The prediction, rounded to working units and clamped (0 if not finite:
// the weights can be huge after a nearly singular fit). The update's error
// is against this value, so no NaN or infinity ever enters the covariance.
static int64_t ols_predict_(ols_ *f) {
    double p = 0.0;
    for (int i = 0; i < f->n; i++) p += f->w[i] * f->x[i];
    const int64_t lim = (int64_t)1 << CASC_LIM;
    int64_t q;
    if (!(p > -(double)lim)) q = p == p ? -lim : 0;
    else if (!(p < (double)lim)) q = lim;
    else q = p >= 0.0 ? (int64_t)(p + 0.5) : -(int64_t)(0.5 - p);
    f->pred = (double)q;
    return q;
}

// w = (cov + nu I)^-1 b; w is kept when a pivot is not positive.
static void ols_refit_(ols_ *f) {
    int n = f->n;
    double t[OLS_N_MAX];
    for (int j = 0; j < n; j++) {
        double dj = f->cov[j][j] + OLS_NU;
        for (int k = 0; k < j; k++) {
            t[k] = f->L[j][k] * f->d[k];
            dj -= f->L[j][k] * t[k];
        }
        if (!(dj > 0.0)) return;
        f->d[j] = dj;
        for (int i = j + 1; i < n; i++) {
            double s = f->cov[i][j];
            for (int k = 0; k < j; k++) s -= f->L[i][k] * t[k];
            f->L[i][j] = s / dj;
        }
    }
    double y[OLS_N_MAX];
    for (int i = 0; i < n; i++) {
        double s = f->b[i];
        for (int k = 0; k < i; k++) s -= f->L[i][k] * y[k];
        y[i] = s;
    }
    for (int i = n - 1; i >= 0; i--) {
        double s = y[i] / f->d[i];
        for (int k = i + 1; k < n; k++) s -= f->L[k][i] * f->w[k];
        f->w[i] = s;
    }
}

static void ols_update_(ols_ *f, double v) {
    double e = v - f->pred;
    f->esum = 0.6 * f->esum + 0.4 * (e < 0.0 ? -e : e);
    double g = (1.0 - f->lambda) / (f->esum + OLS_ADD);
    for (int j = 0; j < f->n; j++) {
        double xj = f->x[j];
        for (int i = 0; i <= j; i++) f->cov[j][i] = f->lambda * f->cov[j][i] + g * (xj * f->x[i]);
        f->b[j] = f->lambda * f->b[j] + g * (xj * v);
    }
    if (++f->m == OLS_REFIT) {
        f->m = 0;
        ols_refit_(f);
    }
    memmove(f->x + 1, f->x, (size_t)(f->n - 1) * sizeof f->x[0]);
    f->x[0] = v;
}

// One NLMS stage: predicts its input from its past (and extra inputs).
// Weights are Q16. h[0] is the newest input.
typedef struct {
    int n;                   // taps
    int mu;                  // step 2^-mu
    int32_t h[CASC_NA_MAX + CASC_NS_MAX];
    int32_t w[CASC_NA_MAX + CASC_NS_MAX];
    int64_t pow;             // sum of h^2 over the taps, kept exactly
} nlms_;

// Sign-sign LMS (Monkey's Audio's NN filter): weights Q(shift), steps that
// shrink as an input ages.
typedef struct {
    int n, shift;
    int32_t h[CASC_NB_MAX];  // h[0] newest
    int32_t d[CASC_NB_MAX];  // adaptation step per tap (sign of its input)
    int32_t w[CASC_NB_MAX];
    int64_t avg;             // running mean of |input|
} sslms_;

typedef struct {
    int up, down;        // working scale: x << up >> down
    int stereo;
    int32_t prev;        // prefilter state: last working-scale sample
    int32_t prev_o;      // same for channel c-1
    blpc_ l, lo;         // stage L on this channel and on channel c-1
    ols_ o;              // stage O (o.n = 0: none)
    nlms_ a;
    int na;              // of a.n, the taps on the own past (the rest: c-1)
    sslms_ b;
    nlms_ c;
    nlms_ e;             // stage E: NLMS on stage C's error (variant 0 only)
    nlms_ mix;           // stage M: weights of pA, pB, pC, pE (Q16, start 1)
                         // and of pO - pL (start 0)
    int64_t pm;          // pL + stage M's weighted sum
    int64_t bias[BIAS_NCTX];  // stage D: running mean of the final error by context, Q8
    int ctx;             // stage D's context for the current sample
    int e1;              // sign of the last final error (-1, 0, 1)
    // Predictions made for the current sample, kept for the update.
    int64_t p0, pa, pb, pc, pe, po, pd;
} casc_;

static int64_t nlms_predict_(const nlms_ *f) {
    int64_t acc = 0;
    for (int i = 0; i < f->n; i++) acc += (int64_t)f->w[i] * f->h[i];
    return clamp_(rshr_(acc, 16), (int64_t)1 << CASC_LIM);
}

// w += mu * e * h / (pow + eps) in Q16: the division is done once, as a
// 15-bit reciprocal with an exponent, so nothing overflows int64.
static void nlms_update_(nlms_ *f, int64_t e) {
    e = clamp_(e, (int64_t)1 << CASC_LIM);
    if (e == 0) return;
    uint64_t z = (uint64_t)f->pow + (1u << 14);
    int L = bitlen_(z), sz = L > 15 ? L - 15 : 0;
    int64_t inv = ((int64_t)1 << 46) / (int64_t)(z >> sz);  // 2^31..2^32
    int64_t g = asr_(e * inv, 20);                           // |g| < 2^38
    int s = 10 + f->mu + sz;
    for (int i = 0; i < f->n; i++) {
        int64_t dw = s < 62 ? rshr_(g * f->h[i], s) : 0;
        f->w[i] = (int32_t)clamp_((int64_t)f->w[i] + dw, (int64_t)1 << CASC_WLIM);
    }
}

// Shifts v in as the newest of taps [lo, hi) of f's history.
static void nlms_push_(nlms_ *f, int lo, int hi, int32_t v) {
    if (hi <= lo) return;
    int64_t old = f->h[hi - 1];
    f->pow -= old * old;
    memmove(f->h + lo + 1, f->h + lo, (size_t)(hi - lo - 1) * sizeof f->h[0]);
    f->h[lo] = v;
    f->pow += (int64_t)v * v;
}

static int64_t sslms_predict_(const sslms_ *f) {
    int64_t acc = 0;
    for (int i = 0; i < f->n; i++) acc += (int64_t)f->w[i] * f->h[i];
    return clamp_(rshr_(acc, f->shift), (int64_t)1 << CASC_LIM);
}

static void sslms_update_(sslms_ *f, int64_t e, int32_t in) {
    if (e > 0)
        for (int i = 0; i < f->n; i++) f->w[i] += f->d[i];
    else if (e < 0)
        for (int i = 0; i < f->n; i++) f->w[i] -= f->d[i];
    for (int i = 0; i < f->n; i++) f->w[i] = (int32_t)clamp_(f->w[i], (int64_t)1 << CASC_WLIM);
    // Age the steps (halved at ages 1, 2 and 8, as Monkey's Audio), then
    // shift the new input in with a step by its size against the average.
    size_t m = f->n > 1 ? (size_t)f->n - 1 : 0;
    if (m > CASC_NB_MAX - 1) m = CASC_NB_MAX - 1;
    memmove(f->h + 1, f->h, m * sizeof f->h[0]);
    memmove(f->d + 1, f->d, m * sizeof f->d[0]);
    f->d[1] /= 2;
    if (f->n > 2) f->d[2] /= 2;
    if (f->n > 8) f->d[8] /= 2;
    int64_t a = in < 0 ? -(int64_t)in : in;
    int32_t step = a > 3 * f->avg ? 32 : 3 * a > 4 * f->avg ? 16 : a > 0 ? 8 : 0;
    f->d[0] = in > 0 ? step : -step;
    f->h[0] = in;
    f->avg += (a - f->avg) / 16;
}

static void casc_init_(casc_ *s, int variant, int stereo, int bits) {
    const casc_variant *v = &casc_variants_[variant];
    memset(s, 0, sizeof *s);
    s->up = bits < CASC_SCALE ? CASC_SCALE - bits : 0;
    s->down = bits > CASC_SCALE ? bits - CASC_SCALE : 0;
    s->stereo = stereo;
    blpc_init_(&s->l, v->lk, v->lw, v->lu, v->wn);
    if (stereo) blpc_init_(&s->lo, v->lk, v->lw, v->lu, v->wn);
    s->na = v->na;
    s->a.n = v->na + (stereo ? v->ns : 0);
    s->a.mu = v->mu_a;
    s->b.n = v->nb;
    s->b.shift = v->shift_b;
    s->c.n = v->nc;
    s->c.mu = v->mu_c;
    s->e.n = v->ne;
    s->e.mu = v->mu_e;
    ols_init_(&s->o, v->on, v->olambda);
    s->mix.n = v->on ? 5 : 4;
    s->mix.mu = MIX_MU;
    for (int i = 0; i < 4; i++) s->mix.w[i] = 1 << 16;
}

// The working-scale value of a sample (exact for bits <= 22).
static int32_t casc_in_(const casc_ *s, int32_t x) {
    return (int32_t)(s->down ? asr_(x, s->down) : (int64_t)x * ((int64_t)1 << s->up));
}

// Stage L's prediction (or the fixed first difference's) of the next sample.
static int64_t stage_l_(const blpc_ *l, int32_t prev) {
    return l->k ? blpc_predict_(l) : rshr_((int64_t)prev * 31, 5);
}

// The prediction of the current sample, in sample units. `other` is channel
// c-1's current sample (stereo only). Stage inputs depend only on the past,
// so the decoder computes the same value before it knows x.
static int64_t casc_predict_(casc_ *s, int32_t other) {
    int64_t lim = (int64_t)1 << CASC_LIM;
    if (s->stereo) {
        int32_t o = casc_in_(s, other);
        int32_t o1 = (int32_t)clamp_((int64_t)o - stage_l_(&s->lo, s->prev_o), lim);
        nlms_push_(&s->a, s->na, s->a.n, o1);
        blpc_update_(&s->lo, o);
        s->prev_o = o;
    }
    s->p0 = stage_l_(&s->l, s->prev);
    s->pa = nlms_predict_(&s->a);
    s->pb = s->b.n ? sslms_predict_(&s->b) : 0;
    s->pc = s->c.n ? nlms_predict_(&s->c) : 0;
    int32_t *h = s->mix.h;
    s->pe = s->e.n ? nlms_predict_(&s->e) : 0;
    s->po = s->o.n ? clamp_(ols_predict_(&s->o) - s->p0, lim) : 0;
    h[0] = (int32_t)s->pa, h[1] = (int32_t)s->pb, h[2] = (int32_t)s->pc, h[3] = (int32_t)s->pe;
    h[4] = (int32_t)s->po;
    s->mix.pow = 0;
    for (int i = 0; i < s->mix.n; i++) s->mix.pow += (int64_t)h[i] * h[i];
    int64_t q = s->pm = s->p0 + nlms_predict_(&s->mix);
    int up = q > s->prev ? 2 : q < s->prev ? 0 : 1;
    s->ctx = 3 * up + s->e1 + 1;
    s->pd = rshr_(s->bias[s->ctx], 8);
    int64_t p = q + s->pd;  // working scale
    if (s->down) return p * ((int64_t)1 << s->down);
    return s->up ? rshr_(p, s->up) : p;
}

// Feeds the true current sample to every stage.
static void casc_update_(casc_ *s, int32_t x) {
    int32_t xs = casc_in_(s, x);
    int64_t lim = (int64_t)1 << CASC_LIM;
    int32_t s1 = (int32_t)clamp_((int64_t)xs - s->p0, lim);
    s->prev = xs;
    blpc_update_(&s->l, xs);
    if (s->o.n) ols_update_(&s->o, (double)xs);
    int64_t s2 = clamp_(s1 - s->pa, lim);
    int64_t s3 = clamp_(s2 - s->pb, lim);
    int64_t s4 = clamp_(s3 - s->pc, lim);
    int64_t em = clamp_((int64_t)xs - s->pm, lim);
    int64_t e = em - s->pd;
    nlms_update_(&s->mix, em);
    nlms_update_(&s->a, s2);
    nlms_push_(&s->a, 0, s->na, s1);
    if (s->b.n) sslms_update_(&s->b, s3, (int32_t)s2);
    if (s->c.n) {
        nlms_update_(&s->c, s4);
        nlms_push_(&s->c, 0, s->c.n, (int32_t)s3);
    }
    if (s->e.n) {
        nlms_update_(&s->e, clamp_(s4 - s->pe, lim));
        nlms_push_(&s->e, 0, s->e.n, (int32_t)s4);
    }
    int64_t *b = &s->bias[s->ctx];
    *b = clamp_(*b + asr_(clamp_(e, lim) * 256 - *b, 5), lim << 8);
    s->e1 = e > 0 ? 1 : e < 0 ? -1 : 0;
}

// --- apply and restore

static lmic_status check_pred_(const lmic_pred *p, int c) {
    switch (p->kind) {
    case LMIC_PRED_NONE: return LMIC_OK;
    case LMIC_PRED_FIXED: return p->order >= 1 && p->order <= 4 ? LMIC_OK : LMIC_ERR_ARG;
    case LMIC_PRED_LPC:
        if (p->order < 1 || p->order > LMIC_PRED_MAX_ORDER || p->shift > 31) return LMIC_ERR_ARG;
        for (int k = 0; k < p->order; k++)
            if (p->coef[k] <= -(1 << 15) || p->coef[k] >= (1 << 15)) return LMIC_ERR_ARG;
        return LMIC_OK;
    case LMIC_PRED_CASCADE:
        if (p->order >= CASC_VARIANTS || p->stereo > 1 || (p->stereo && c == 0)) return LMIC_ERR_ARG;
        return LMIC_OK;
    default: return LMIC_ERR_ARG;
    }
}

// One channel c of n frames. X is the sample array ((n, C), read when
// applying, written when restoring), R the residuals (the other way round).
// `s` is scratch state for a CASCADE predictor.
static void run_channel_(const lmic_pred *p, int32_t *X, int32_t *R, size_t n, int C, int c,
                         int bits, int restore, casc_ *s) {
    const size_t sC = (size_t)C;
#define XS(t) X[(size_t)(t) * sC + (size_t)c]
#define STEP(pred)                                                        \
    do {                                                                  \
        int64_t pr_ = (pred);                                             \
        if (restore) XS(t) = wrap_((int64_t)R[t * sC + c] + pr_, bits);   \
        else R[t * sC + c] = wrap_((int64_t)XS(t) - pr_, bits);           \
    } while (0)
    switch (p->kind) {
    case LMIC_PRED_NONE:
        for (size_t t = 0; t < n; t++) STEP(0);
        break;
    case LMIC_PRED_FIXED: {
        // FLAC's polynomials; earlier samples count as 0.
        static const int64_t k[5][4] = {
            {0, 0, 0, 0}, {1, 0, 0, 0}, {2, -1, 0, 0}, {3, -3, 1, 0}, {4, -6, 4, -1}};
        const int64_t *q = k[p->order];
        for (size_t t = 0; t < n; t++) {
            int64_t pr = 0;
            for (int j = 0; j < p->order && (size_t)j < t; j++) pr += q[j] * XS(t - 1 - j);
            STEP(pr);
        }
        break;
    }
    case LMIC_PRED_LPC: {
        int o = p->order;
        for (size_t t = 0; t < n; t++) {
            int64_t acc = 0;
            if (t >= (size_t)o) {
                for (int j = 0; j < o; j++) acc += (int64_t)p->coef[j] * XS(t - 1 - j);
            } else {
                for (int j = 0; (size_t)j < t; j++) acc += (int64_t)p->coef[j] * XS(t - 1 - j);
            }
            STEP(asr_(acc, p->shift));
        }
        break;
    }
    case LMIC_PRED_CASCADE: {
        casc_init_(s, p->order, p->stereo, bits);
        for (size_t t = 0; t < n; t++) {
            int32_t other = p->stereo ? X[t * sC + (size_t)c - 1] : 0;
            STEP(casc_predict_(s, other));
            casc_update_(s, XS(t));
        }
        break;
    }
    }
#undef STEP
#undef XS
}

static lmic_status run_(const lmic_pred *pred, int32_t *X, int32_t *R, size_t n, int channels,
                        int bits, int restore) {
    if (!pred || channels < 1 || bits < 1 || bits > 32 || (n && (!X || !R))) return LMIC_ERR_ARG;
    int need_state = 0;
    for (int c = 0; c < channels; c++) {
        if (check_pred_(&pred[c], c) != LMIC_OK) return LMIC_ERR_ARG;
        need_state |= pred[c].kind == LMIC_PRED_CASCADE;
    }
    if (!restore) {  // the decoder sees wrapped samples: so must the encoder
        int64_t lim = (int64_t)1 << (bits - 1);
        for (size_t i = 0; i < n * (size_t)channels; i++)
            if (X[i] < -lim || X[i] >= lim) return LMIC_ERR_ARG;
    }
    casc_ *s = NULL;
    if (need_state && !(s = malloc(sizeof *s))) return LMIC_ERR_NOMEM;
    for (int c = 0; c < channels; c++) run_channel_(&pred[c], X, R, n, channels, c, bits, restore, s);
    free(s);
    return LMIC_OK;
}

lmic_status lmic_pred_apply(const lmic_pred *pred, const int32_t *frames, size_t n, int channels,
                            int bits, int32_t *res) {
    return run_(pred, (int32_t *)frames, res, n, channels, bits, 0);
}

lmic_status lmic_pred_restore(const lmic_pred *pred, const int32_t *res, size_t n, int channels,
                              int bits, int32_t *frames) {
    return run_(pred, frames, (int32_t *)res, n, channels, bits, 1);
}

// --- parameters in bytes

lmic_status lmic_pred_write(const lmic_pred *pred, int channels, lmic_buf *out) {
    if (!pred || !out || channels < 1) return LMIC_ERR_ARG;
    for (int c = 0; c < channels; c++)
        if (check_pred_(&pred[c], c) != LMIC_OK) return LMIC_ERR_ARG;
    size_t size0 = out->size;
    lmic_status st = LMIC_OK;
    for (int c = 0; c < channels && st == LMIC_OK; c++) {
        const lmic_pred *p = &pred[c];
        uint8_t h[3] = {p->kind, p->order, 0};
        switch (p->kind) {
        case LMIC_PRED_NONE: st = lmic_buf_append(out, h, 1); break;
        case LMIC_PRED_FIXED: st = lmic_buf_append(out, h, 2); break;
        case LMIC_PRED_LPC:
            h[2] = p->shift;
            st = lmic_buf_append(out, h, 3);
            for (int k = 0; k < p->order && st == LMIC_OK; k++) {
                uint32_t u = (uint32_t)p->coef[k];
                st = lmic_varint_put_(out, (u << 1) ^ (uint32_t)(p->coef[k] < 0 ? -1 : 0));  // zig-zag
            }
            break;
        case LMIC_PRED_CASCADE:
            h[2] = p->stereo;
            st = lmic_buf_append(out, h, 3);
            break;
        }
    }
    if (st != LMIC_OK) out->size = size0;
    return st;
}

lmic_status lmic_pred_read(const uint8_t *p, size_t size, int channels, lmic_pred *pred,
                           size_t *used) {
    if ((!p && size) || !pred || channels < 1) return LMIC_ERR_ARG;
    size_t pos = 0;
#define BYTE(v) do { if (pos >= size) return LMIC_ERR_CORRUPT; (v) = p[pos++]; } while (0)
    for (int c = 0; c < channels; c++) {
        lmic_pred *q = &pred[c];
        memset(q, 0, sizeof *q);
        BYTE(q->kind);
        switch (q->kind) {
        case LMIC_PRED_NONE: break;
        case LMIC_PRED_FIXED: BYTE(q->order); break;
        case LMIC_PRED_LPC:
            BYTE(q->order);
            BYTE(q->shift);
            if (q->order < 1 || q->order > LMIC_PRED_MAX_ORDER) return LMIC_ERR_CORRUPT;
            for (int k = 0; k < q->order; k++) {
                // A zig-zag varint of at most 3 bytes, canonical (no
                // trailing zero group), below 2^16.
                uint32_t u = 0;
                for (int i = 0;; i++) {
                    uint8_t b;
                    BYTE(b);
                    if (i > 0 && b == 0) return LMIC_ERR_CORRUPT;
                    u |= (uint32_t)(b & 0x7F) << (7 * i);
                    if (!(b & 0x80)) break;
                    if (i == 2) return LMIC_ERR_CORRUPT;
                }
                if (u >= (1u << 16)) return LMIC_ERR_CORRUPT;
                q->coef[k] = (int32_t)(u >> 1) ^ -(int32_t)(u & 1);
            }
            break;
        case LMIC_PRED_CASCADE:
            BYTE(q->order);
            BYTE(q->stereo);
            break;
        default: return LMIC_ERR_CORRUPT;
        }
        if (check_pred_(q, c) != LMIC_OK) return LMIC_ERR_CORRUPT;
    }
#undef BYTE
    if (used) *used = pos;
    return LMIC_OK;
}

// --- choosing (encoder only; floating point allowed)

// Estimated bits of residuals r[t * C] (t < n): a Laplace code whose scale
// follows the mean |r| of each block of 256, as an adaptive Rice coder would.
static double cost_(const int32_t *r, size_t n, int C) {
    double bits = 0;
    for (size_t t0 = 0; t0 < n; t0 += 256) {
        size_t m = n - t0 < 256 ? n - t0 : 256;
        double sum = 0;
        for (size_t t = t0; t < t0 + m; t++) sum += fabs((double)r[t * (size_t)C]);
        double mean = sum / (double)m;
        // Entropy of a discretised Laplace of mean |r| b is about log2(2e b)
        // for large b; log2(1 + 2e b) stays sensible near 0.
        bits += (double)m * log2(1.0 + 2.0 * E_ * mean);
    }
    return bits;
}

// NONE and FIXED orders 1..max_order.
static lmic_status choose_fixed_(const int32_t *frames, size_t n, int C, int c, int bits,
                                 int max_order, int32_t *res, lmic_pred *best, double *best_cost) {
    for (int order = 0; order <= max_order; order++) {
        lmic_pred p = {0};
        p.kind = order ? LMIC_PRED_FIXED : LMIC_PRED_NONE;
        p.order = (uint8_t)order;
        run_channel_(&p, (int32_t *)frames, res, n, C, c, bits, 0, NULL);
        double cost = cost_(res + c, n, C) + (order ? 16 : 8);  // + its parameter bytes
        if (cost < *best_cost) { *best_cost = cost; *best = p; }
    }
    return LMIC_OK;
}

// Quantised LPC as FLAC computes it: a Tukey(0.5) window, autocorrelation,
// Levinson-Durbin in double, coefficients quantised to `precision` bits with
// the rounding error fed forward. Orders are ranked by the bits the
// Levinson error predicts, and the best `tries` are quantised and measured
// on the real residual (plus their coefficients' bits).
static lmic_status choose_lpc_(const int32_t *frames, size_t n, int C, int c, int bits,
                               int max_order, int tries, int32_t *res, lmic_pred *best,
                               double *best_cost) {
    if (n < 2 * (size_t)max_order + 2) max_order = (int)(n / 2) - 1;
    if (max_order < 1) return LMIC_OK;
    int K = max_order;
    double *xw = malloc(n * sizeof *xw);
    if (!xw) return LMIC_ERR_NOMEM;
    size_t np = n / 4;  // Tukey(0.5): cosine tapers over a quarter at each end
    for (size_t t = 0; t < n; t++) {
        double w = 1.0;
        if (t < np) w = 0.5 - 0.5 * cos(M_PI_ * (double)t / (double)np);
        else if (t >= n - np) w = 0.5 - 0.5 * cos(M_PI_ * (double)(n - 1 - t) / (double)np);
        xw[t] = w * (double)frames[t * (size_t)C + (size_t)c];
    }
    double R[LMIC_PRED_MAX_ORDER + 1];
    for (int k = 0; k <= K; k++) {
        double s = 0;
        for (size_t t = (size_t)k; t < n; t++) s += xw[t] * xw[t - (size_t)k];
        R[k] = s;
    }
    free(xw);
    if (!(R[0] > 0)) return LMIC_OK;
    R[0] *= 1.0 + 1e-10;  // keep the system well conditioned
    // Levinson-Durbin: lpc[o - 1] are the order-o coefficients, err[o - 1] its error.
    double a[LMIC_PRED_MAX_ORDER] = {0}, lpc[LMIC_PRED_MAX_ORDER][LMIC_PRED_MAX_ORDER], err[LMIC_PRED_MAX_ORDER];
    double e = R[0];
    for (int i = 0; i < K; i++) {
        double acc = R[i + 1];
        for (int j = 0; j < i; j++) acc -= a[j] * R[i - j];
        double k = acc / e;
        double tmp[LMIC_PRED_MAX_ORDER];
        for (int j = 0; j < i; j++) tmp[j] = a[j] - k * a[i - 1 - j];
        memcpy(a, tmp, (size_t)i * sizeof a[0]);
        a[i] = k;
        e *= 1.0 - k * k;
        if (!(e > 0)) e = R[0] * 1e-12;
        memcpy(lpc[i], a, sizeof a);
        err[i] = e;
    }
    // Rank orders by estimated bits: n/2 log2(error per sample) + 16 per coefficient.
    int order_by[LMIC_PRED_MAX_ORDER];
    double est[LMIC_PRED_MAX_ORDER];
    for (int o = 1; o <= K; o++) {
        double v = err[o - 1] / (double)n;
        est[o - 1] = 0.5 * (double)n * log2(v > 1e-3 ? v : 1e-3) + 16.0 * o;
        order_by[o - 1] = o;
    }
    for (int i = 1; i < K; i++)  // insertion sort, stable: ties keep the lower order
        for (int j = i; j > 0 && est[order_by[j] - 1] < est[order_by[j - 1] - 1]; j--) {
            int t = order_by[j]; order_by[j] = order_by[j - 1]; order_by[j - 1] = t;
        }
    const int precision = 15;  // |coef| <= 2^14
    for (int i = 0; i < tries && i < K; i++) {
        int o = order_by[i];
        double cmax = 0;
        for (int j = 0; j < o; j++) cmax = fmax(cmax, fabs(lpc[o - 1][j]));
        if (!(cmax > 0)) continue;
        int log2cmax;
        (void)frexp(cmax, &log2cmax);
        int shift = precision - log2cmax - 1;
        if (shift < 0) continue;
        if (shift > 31) shift = 31;
        lmic_pred p = {0};
        p.kind = LMIC_PRED_LPC;
        p.order = (uint8_t)o;
        p.shift = (uint8_t)shift;
        double q_err = 0;
        const long qmax = (1L << (precision - 1)) - 1, qmin = -qmax - 1;
        for (int j = 0; j < o; j++) {
            q_err += lpc[o - 1][j] * ldexp(1.0, shift);
            long q = lround(q_err);
            if (q > qmax) q = qmax;
            if (q < qmin) q = qmin;
            q_err -= (double)q;
            p.coef[j] = (int32_t)q;
        }
        run_channel_(&p, (int32_t *)frames, res, n, C, c, bits, 0, NULL);
        double cost = cost_(res + c, n, C) + 24.0 + 16.0 * o;
        if (cost < *best_cost) { *best_cost = cost; *best = p; }
    }
    return LMIC_OK;
}

// The cascade variants worth trying at each effort, best guess first: at
// normal 0, 1 and 3 (stereo taps where there can be), at high all, with and
// without stereo taps. Trying variant 3 at normal cost about 20 % more
// encode time for 0.00-0.04 points (whole dev, plain coder). Running
// variants 0, 1 and 3 side by side and mixing their predictions sample by
// sample (p0 + w1 (p1 - p0) + w3 (p3 - p0), NLMS weights) would save 0.02-
// 0.04 % of the plain coder's bytes over this choice (59 dev speech16k
// files, simulated offline) for three times the decoding work: the
// variants err alike. Nor would a per-file search of variant 0's settings
// pay: of 17 one-at-a-time changes (olambda 0.990-0.998, mu_a 4/6, mu_c
// 2/4, mu_e 3/5, shift_b 12/14, lw 256-768, nb 32/128), the best for each
// of those 59 files would save 0.07 % (plain coder), before the bytes that
// name it.
static lmic_status choose_casc_(const int32_t *frames, size_t n, int C, int c, int bits,
                                lmic_pred_effort effort, int32_t *res, casc_ *state,
                                lmic_pred *best, double *best_cost) {
    for (int v = 0; v < CASC_VARIANTS; v++)
        for (int stereo = c > 0; stereo >= 0; stereo--) {
            if (effort != LMIC_PRED_EFFORT_HIGH && ((!stereo && c > 0) || v == 2)) continue;
            lmic_pred p = {0};
            p.kind = LMIC_PRED_CASCADE;
            p.order = (uint8_t)v;
            p.stereo = (uint8_t)stereo;
            run_channel_(&p, (int32_t *)frames, res, n, C, c, bits, 0, state);
            double cost = cost_(res + c, n, C) + 24.0;
            if (cost < *best_cost) { *best_cost = cost; *best = p; }
        }
    return LMIC_OK;
}

lmic_status lmic_pred_choose_among(const int32_t *frames, size_t n, int channels, int bits,
                                   lmic_pred_effort effort, unsigned kinds, lmic_pred *pred) {
    if ((!frames && n) || !pred || channels < 1 || bits < 1 || bits > 32 ||
        effort < LMIC_PRED_EFFORT_FAST || effort > LMIC_PRED_EFFORT_HIGH)
        return LMIC_ERR_ARG;
    int32_t *res = malloc((n ? n : 1) * (size_t)channels * sizeof *res);
    casc_ *state = NULL;
    if (effort >= LMIC_PRED_EFFORT_NORMAL && (kinds & (1u << LMIC_PRED_CASCADE)))
        state = malloc(sizeof *state);
    lmic_status st = LMIC_ERR_NOMEM;
    if (!res || (effort >= LMIC_PRED_EFFORT_NORMAL && (kinds & (1u << LMIC_PRED_CASCADE)) && !state))
        goto fail;
    st = LMIC_OK;
    for (int c = 0; c < channels; c++) {
        double best_cost = INFINITY;
        memset(&pred[c], 0, sizeof pred[c]);  // NONE whatever `kinds` says
        choose_fixed_(frames, n, channels, c, bits, kinds & (1u << LMIC_PRED_FIXED) ? 4 : 0, res,
                      &pred[c], &best_cost);
        if (effort >= LMIC_PRED_EFFORT_NORMAL && (kinds & (1u << LMIC_PRED_LPC)) &&
            (st = choose_lpc_(frames, n, channels, c, bits, LMIC_PRED_MAX_ORDER,
                              effort == LMIC_PRED_EFFORT_HIGH ? 8 : 3, res, &pred[c],
                              &best_cost)) != LMIC_OK)
            break;
        if (state)
            choose_casc_(frames, n, channels, c, bits, effort, res, state, &pred[c], &best_cost);
    }
fail:
    free(state);
    free(res);
    return st;
}

lmic_status lmic_pred_choose(const int32_t *frames, size_t n, int channels, int bits,
                             lmic_pred_effort effort, lmic_pred *pred) {
    return lmic_pred_choose_among(frames, n, channels, bits, effort, ~0u, pred);
}
