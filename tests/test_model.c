// test_model.c -- inference: lmic's own exp/log (and the double sin, cos,
// exp, log) against libm; the forward pass against a plain double-precision
// reference written here from the paper's transformer.py; bit-exactness
// across batch sizes, thread counts and whole-sequence vs stepper; the
// integer CDF; bad arguments; golden hashes of the outputs.
#include "lmic.h"
#include "test.h"
#include "../src/model_internal.h"

#include <math.h>
#include <stdint.h>

// --- helpers

static float bitsf_(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// |y - ref| in units of the last place of a float at ref (subnormal ulp at
// the bottom).
static double ulp_err_(float y, double ref) {
    int e;
    frexp(fabs(ref), &e);
    double ulp = ldexp(1.0, e - 24);
    if (ulp < 0x1p-149) ulp = 0x1p-149;
    return fabs((double)y - ref) / ulp;
}

// Uniform in [-a, a), from the seeded generator (no libm, so the golden
// hashes below depend on lmic alone).
static float unif_(uint64_t *rng, double a) {
    return (float)((((double)(lmic_rng_next(rng) >> 11) * 0x1p-53) * 2.0 - 1.0) * a);
}

static void fill_(uint64_t *rng, float *w, size_t n, double a, double centre) {
    for (size_t i = 0; i < n; i++) w[i] = (float)centre + unif_(rng, a);
}

// A model of config (C, L, NH, context, positions, norm), widening 4, with
// every parameter random (not lmic's initialiser: biases and norm parameters
// must not be 0 and 1, or the reference comparison could not see them).
static lmic_model *model_(int C, int L, int NH, int ctx, int positions, int norm, uint64_t seed) {
    lmic_model_config cfg = {C, L, NH, 4, ctx, positions, norm};
    lmic_model *m = NULL;
    if (lmic_model_new_random(&cfg, seed, &m) != LMIC_OK) return NULL;
    uint64_t rng = seed ^ 0x5eed;
    const size_t F = (size_t)C * 4;
    const double s3 = sqrt(3.0);  // uniform(-a, a) has std a / sqrt(3)
    fill_(&rng, m->wte, (size_t)LMIC_VOCAB * C, 0.5 * s3, 0.0);
    for (int l = 0; l < L; l++) {
        lmic_layer *y = &m->layer[l];
        float *sq[4] = {y->wq, y->wk, y->wv, y->wo};
        for (int k = 0; k < 4; k++) fill_(&rng, sq[k], (size_t)C * C, s3 / sqrt((double)C), 0.0);
        fill_(&rng, y->w1, (size_t)C * F, s3 / sqrt((double)C), 0.0);
        fill_(&rng, y->w2, F * C, s3 / sqrt((double)F), 0.0);
        fill_(&rng, y->b1, F, 0.2, 0.0);
        fill_(&rng, y->b2, C, 0.2, 0.0);
        fill_(&rng, y->ln1_g, C, 0.2, 1.0);
        fill_(&rng, y->ln1_b, C, 0.2, 0.0);
        fill_(&rng, y->ln2_g, C, 0.2, 1.0);
        fill_(&rng, y->ln2_b, C, 0.2, 0.0);
    }
    if (m->lnf_g) {
        fill_(&rng, m->lnf_g, C, 0.2, 1.0);
        fill_(&rng, m->lnf_b, C, 0.2, 0.0);
    }
    fill_(&rng, m->wout, (size_t)C * LMIC_VOCAB, 2.0 * s3 / sqrt((double)C), 0.0);
    fill_(&rng, m->bout, LMIC_VOCAB, 0.5, 0.0);
    return m;
}

static void tokens_(uint64_t *rng, uint8_t *tok, size_t n) {
    for (size_t i = 0; i < n; i++) tok[i] = (uint8_t)(lmic_rng_next(rng) >> 56);
}

// The configurations every test runs: odd shapes on purpose (head sizes 6,
// 12, 8, 16, 2 and 2; widths that are not multiples of 16; contexts that are
// not multiples of 8, and above one tile of 64 keys) so that every vector
// and remainder path of the kernels runs, with SSE (4 lanes) and AVX (8).
typedef struct { const char *name; int C, L, NH, ctx, positions, norm; } mcfg_;
static const mcfg_ cfgs_[] = {
    {"sinusoidal post-LN", 24, 2, 4, 16, LMIC_POS_SINUSOIDAL, LMIC_NORM_POST},
    {"rotary post-LN", 24, 2, 2, 21, LMIC_POS_ROTARY, LMIC_NORM_POST},
    {"sinusoidal pre-LN", 40, 2, 5, 16, LMIC_POS_SINUSOIDAL, LMIC_NORM_PRE},
    {"rotary pre-LN", 64, 2, 4, 100, LMIC_POS_ROTARY, LMIC_NORM_PRE},
    {"tiny rotary pre-LN", 6, 1, 3, 5, LMIC_POS_ROTARY, LMIC_NORM_PRE},
    {"C2 sinusoidal", 2, 1, 1, 130, LMIC_POS_SINUSOIDAL, LMIC_NORM_POST},
};
#define NCFG (int)(sizeof cfgs_ / sizeof *cfgs_)

static lmic_model *cfg_model_(int i) {
    const mcfg_ *c = &cfgs_[i];
    return model_(c->C, c->L, c->NH, c->ctx, c->positions, c->norm, 100 + (uint64_t)i);
}

// --- (a) lmic's exp and log

static void test_model_expf_logf(void) {
    double me = 0, ml = 0;
    float we = 0, wl = 0;
    // Every 61st float: all exponents, and mantissas of every residue.
    for (uint64_t u = 0; u < 0x100000000ull; u += 61) {
        const float x = bitsf_((uint32_t)u);
        if (x != x) continue;
        if (x > -104.0f && x < 88.7f) {
            const double e = ulp_err_(lmic_expf(x), exp((double)x));
            if (e > me) { me = e; we = x; }
        }
        if (x > 0.0f && x < INFINITY) {
            const double e = ulp_err_(lmic_logf(x), log((double)x));
            if (e > ml) { ml = e; wl = x; }
        }
    }
    printf("     expf max %.3f ulp (at %a), logf max %.3f ulp (at %a)\n", me, we, ml, wl);
    CHECKF(me <= 1.1, "expf error %g ulp at %a", me, we);
    CHECKF(ml <= 1.0, "logf error %g ulp at %a", ml, wl);

    CHECK(lmic_expf(-INFINITY) == 0.0f);
    CHECK(lmic_expf(INFINITY) == INFINITY);
    CHECK(lmic_expf(NAN) != lmic_expf(NAN));
    CHECK(lmic_expf(0.0f) == 1.0f && lmic_expf(-0.0f) == 1.0f);
    CHECK(lmic_expf(1000.0f) == INFINITY && lmic_expf(-1000.0f) == 0.0f);
    const float big = bitsf_(0x42b17217);  // the largest x with a finite exp(x)
    CHECK(lmic_expf(big) < INFINITY && ulp_err_(lmic_expf(big), exp((double)big)) <= 1.0);
    CHECK(lmic_expf(bitsf_(0x42b17218)) == INFINITY);
    CHECK(lmic_expf(-103.9f) > 0.0f && lmic_expf(-103.9f) < 0x1p-148f);  // subnormal
    CHECK(lmic_logf(0.0f) == -INFINITY && lmic_logf(-0.0f) == -INFINITY);
    CHECK(lmic_logf(-1.0f) != lmic_logf(-1.0f));
    CHECK(lmic_logf(NAN) != lmic_logf(NAN));
    CHECK(lmic_logf(INFINITY) == INFINITY);
    CHECK(lmic_logf(1.0f) == 0.0f);
    CHECK(fabs(lmic_logf(bitsf_(1)) - log(0x1p-149)) < 1e-5);
}

// The double functions for the position tables and the initialiser.
static void test_model_double_math(void) {
    uint64_t rng = 7;
    double es = 0, ec = 0, ee = 0, el = 0;
    for (int i = 0; i < 300000; i++) {
        const double u = (double)(lmic_rng_next(&rng) >> 11) * 0x1p-53;
        const double range = i % 3 == 0 ? 1e5 : i % 3 == 1 ? 2048.0 : 7.0;
        const double x = (2.0 * u - 1.0) * range;
        double d = fabs(lmic_sin_(x) - sin(x));
        if (d > es) es = d;
        d = fabs(lmic_cos_(x) - cos(x));
        if (d > ec) ec = d;
        const double xe = (2.0 * u - 1.0) * 700.0;
        d = fabs(lmic_exp_(xe) - exp(xe)) / exp(xe);
        if (d > ee) ee = d;
        const double xl = i % 2 ? exp(xe) : 0.25 + 2.0 * u;
        if (xl != 1.0) {
            d = fabs(lmic_log_(xl) - log(xl)) / fabs(log(xl));
            if (d > el) el = d;
        }
    }
    printf("     sin %.2g cos %.2g (absolute), exp %.2g log %.2g (relative)\n", es, ec, ee, el);
    CHECK(es < 1e-15 && ec < 1e-15 && ee < 1e-15 && el < 1e-15);
    CHECK(lmic_exp_(-INFINITY) == 0.0 && lmic_exp_(INFINITY) == INFINITY);
    CHECK(lmic_exp_(710.0) == INFINITY && lmic_exp_(-746.0) == 0.0);
    CHECK(lmic_exp_(-745.0) > 0.0);  // the smallest subnormal
    CHECK(lmic_exp_(0.0) == 1.0 && lmic_log_(1.0) == 0.0);
    CHECK(lmic_log_(0.0) == -INFINITY && lmic_log_(-1.0) != lmic_log_(-1.0));
    CHECK(fabs(lmic_log_(4.9e-324) - log(4.9e-324)) < 1e-12);
    CHECK(lmic_sin_(INFINITY) != lmic_sin_(INFINITY) && lmic_cos_(NAN) != lmic_cos_(NAN));
    CHECK(lmic_sin_(0.0) == 0.0 && lmic_cos_(0.0) == 1.0 && signbit(lmic_sin_(-0.0)));
    CHECK(lmic_sin_(1e-300) == 1e-300);
}

// --- position tables

static void test_model_tables(void) {
    lmic_model *m = model_(64, 1, 4, 2048, LMIC_POS_SINUSOIDAL, LMIC_NORM_POST, 1);
    CHECK(m && m->pos && !m->rope_cos);
    // The reference's table, with libm: C/2 + 1 sines, then C/2 - 1 cosines.
    double md = 0;
    for (int t = 0; t < 2048; t++) {
        for (int j = 0; j < 64; j++) {
            const int k = j < 33 ? j : j - 33;
            const double a = t * pow(1e4, -(double)(2 * k) / 64.0);
            const float want = (float)(j < 33 ? sin(a) : cos(a));
            const double d = fabs((double)m->pos[t * 64 + j] - want);
            if (d > md) md = d;
        }
    }
    lmic_model_free(m);
    CHECKF(md <= 6e-8, "sinusoid table differs by %g", md);
    m = model_(64, 1, 4, 2048, LMIC_POS_ROTARY, LMIC_NORM_POST, 1);
    CHECK(m && !m->pos && m->rope_cos && m->rope_sin);
    md = 0;
    for (int t = 0; t < 2048; t++) {
        for (int i = 0; i < 8; i++) {
            const double a = t * pow(1e4, -2.0 * i / 16.0);
            const double d1 = fabs((double)m->rope_cos[t * 8 + i] - (float)cos(a));
            const double d2 = fabs((double)m->rope_sin[t * 8 + i] - (float)sin(a));
            if (d1 > md) md = d1;
            if (d2 > md) md = d2;
        }
    }
    lmic_model_free(m);
    CHECKF(md <= 6e-8, "rotary tables differ by %g", md);
}

// --- (d) a plain double-precision reference, straight from transformer.py

static void ref_layernorm_(double *x, const float *g, const float *b, int C) {
    double mean = 0, var = 0;
    for (int c = 0; c < C; c++) mean += x[c];
    mean /= C;
    for (int c = 0; c < C; c++) var += (x[c] - mean) * (x[c] - mean);
    var /= C;
    for (int c = 0; c < C; c++) x[c] = (x[c] - mean) / sqrt(var + 1e-5) * g[c] + b[c];
}

// h (T, OUT) = x (T, IN) W + b
static void ref_linear_(double *h, const double *x, const float *W, const float *b, int T, int IN,
                        int OUT) {
    for (int t = 0; t < T; t++) {
        for (int o = 0; o < OUT; o++) {
            double s = b ? b[o] : 0.0;
            for (int i = 0; i < IN; i++) s += x[t * IN + i] * W[i * OUT + o];
            h[t * OUT + o] = s;
        }
    }
}

// One sequence: logp (T, 256).
static void ref_forward_(const lmic_model *m, const uint8_t *tok, int T, double *logp) {
    const lmic_model_config *c = lmic_model_get_config(m);
    const int C = c->d_model, NH = c->n_heads, hs = C / NH, F = 4 * C;
    const int pre = c->norm == LMIC_NORM_PRE, rot = c->positions == LMIC_POS_ROTARY;
    double *h = calloc((size_t)T * C, sizeof *h), *a = calloc((size_t)T * C, sizeof *a);
    double *q = calloc((size_t)T * C, sizeof *q), *k = calloc((size_t)T * C, sizeof *k);
    double *v = calloc((size_t)T * C, sizeof *v), *o = calloc((size_t)T * C, sizeof *o);
    double *f = calloc((size_t)T * F, sizeof *f), *w = calloc((size_t)T, sizeof *w);
    for (int t = 0; t < T; t++) {
        const int in = t ? tok[t - 1] : 0;  // shift_right: BOS = 0
        for (int j = 0; j < C; j++) {
            double e = m->wte[in * C + j] * sqrt((double)C);
            if (!rot) {
                const int nf = C / 2 + 1, kk = j < nf ? j : j - nf;
                const double ang = t * pow(1e4, -(double)(2 * kk) / C);
                e += (float)(j < nf ? sin(ang) : cos(ang));
            }
            h[t * C + j] = e;
        }
    }
    for (int l = 0; l < c->n_layers; l++) {
        const lmic_layer *y = &m->layer[l];
        memcpy(a, h, (size_t)T * C * sizeof *a);
        if (pre)
            for (int t = 0; t < T; t++) ref_layernorm_(a + t * C, y->ln1_g, y->ln1_b, C);
        ref_linear_(q, a, y->wq, NULL, T, C, C);
        ref_linear_(k, a, y->wk, NULL, T, C, C);
        ref_linear_(v, a, y->wv, NULL, T, C, C);
        if (rot) {
            for (int t = 0; t < T; t++) {
                for (int hh = 0; hh < NH; hh++) {
                    for (int i = 0; i < hs / 2; i++) {
                        const double ang = t * pow(1e4, -2.0 * i / hs);
                        const double cs = cos(ang), sn = sin(ang);
                        double *vecs[2] = {q + t * C + hh * hs, k + t * C + hh * hs};
                        for (int z = 0; z < 2; z++) {
                            const double x1 = vecs[z][i], x2 = vecs[z][i + hs / 2];
                            vecs[z][i] = x1 * cs - x2 * sn;
                            vecs[z][i + hs / 2] = x2 * cs + x1 * sn;
                        }
                    }
                }
            }
        }
        for (int t = 0; t < T; t++) {
            for (int hh = 0; hh < NH; hh++) {
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j <= t; j++) {
                    double s = 0;
                    for (int i = 0; i < hs; i++) s += q[t * C + hh * hs + i] * k[j * C + hh * hs + i];
                    w[j] = s / sqrt((double)hs);
                    if (w[j] > mx) mx = w[j];
                }
                for (int j = 0; j <= t; j++) sum += (w[j] = exp(w[j] - mx));
                for (int i = 0; i < hs; i++) {
                    double s = 0;
                    for (int j = 0; j <= t; j++) s += w[j] / sum * v[j * C + hh * hs + i];
                    o[t * C + hh * hs + i] = s;
                }
            }
        }
        ref_linear_(a, o, y->wo, NULL, T, C, C);
        for (int i = 0; i < T * C; i++) h[i] += a[i];
        if (!pre)
            for (int t = 0; t < T; t++) ref_layernorm_(h + t * C, y->ln1_g, y->ln1_b, C);
        memcpy(a, h, (size_t)T * C * sizeof *a);
        if (pre)
            for (int t = 0; t < T; t++) ref_layernorm_(a + t * C, y->ln2_g, y->ln2_b, C);
        ref_linear_(f, a, y->w1, y->b1, T, C, F);
        for (int i = 0; i < T * F; i++) {
            const double x = f[i];
            f[i] = 0.5 * x * (1.0 + tanh(sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
        }
        ref_linear_(a, f, y->w2, y->b2, T, F, C);
        for (int i = 0; i < T * C; i++) h[i] += a[i];
        if (!pre)
            for (int t = 0; t < T; t++) ref_layernorm_(h + t * C, y->ln2_g, y->ln2_b, C);
    }
    if (pre)
        for (int t = 0; t < T; t++) ref_layernorm_(h + t * C, m->lnf_g, m->lnf_b, C);
    for (int t = 0; t < T; t++) {
        double mx = -INFINITY, s = 0;
        for (int o2 = 0; o2 < 256; o2++) {
            double z = m->bout[o2];
            for (int i = 0; i < C; i++) z += h[t * C + i] * m->wout[i * 256 + o2];
            logp[t * 256 + o2] = z;
            if (z > mx) mx = z;
        }
        for (int o2 = 0; o2 < 256; o2++) s += exp(logp[t * 256 + o2] - mx);
        for (int o2 = 0; o2 < 256; o2++) logp[t * 256 + o2] -= mx + log(s);
    }
    free(h); free(a); free(q); free(k); free(v); free(o); free(f); free(w);
}

static void test_model_vs_reference(void) {
    for (int ci = 0; ci < NCFG; ci++) {
        lmic_model *m = cfg_model_(ci);
        CHECK(m);
        const int B = 2, T = cfgs_[ci].ctx;
        uint8_t tok[2 * 160];
        uint64_t rng = 11 + (uint64_t)ci;
        tokens_(&rng, tok, (size_t)B * T);
        float *lp = malloc((size_t)B * T * 256 * sizeof *lp);
        double *ref = malloc((size_t)T * 256 * sizeof *ref);
        CHECK(lp && ref);
        CHECK_OK(lmic_model_forward(m, tok, B, T, 1, lp));
        double md = 0, mp = 0, ms = 0;
        for (int b = 0; b < B; b++) {
            ref_forward_(m, tok + b * T, T, ref);
            for (int i = 0; i < T * 256; i++) {
                const double d = fabs(lp[b * T * 256 + i] - ref[i]);
                if (d > md) md = d;
                if (ref[i] > mp) mp = ref[i];
            }
            // (e) every row is a distribution
            for (int t = 0; t < T; t++) {
                double s = 0;
                for (int v = 0; v < 256; v++) s += exp(lp[(b * T + t) * 256 + v]);
                if (fabs(s - 1) > ms) ms = fabs(s - 1);
            }
        }
        printf("     %-20s max |logp - ref| %.2g (max log p %.2f), max |sum p - 1| %.2g\n",
               cfgs_[ci].name, md, mp, ms);
        free(lp);
        free(ref);
        lmic_model_free(m);
        CHECKF(md < 1e-4, "%s: forward differs from the reference by %g", cfgs_[ci].name, md);
        CHECKF(ms < 1e-4, "%s: probabilities sum to 1 +- %g", cfgs_[ci].name, ms);
        CHECKF(mp > -1.0, "%s: the test model is too flat to test much", cfgs_[ci].name);
    }
}

// --- (b) batch size and threads do not change a bit

static void test_model_batch_threads(void) {
    for (int ci = 0; ci < NCFG; ci++) {
        lmic_model *m = cfg_model_(ci);
        CHECK(m);
        const int ctx = cfgs_[ci].ctx;
        const int Ts[2] = {ctx, ctx - 3};
        for (int ti = 0; ti < 2; ti++) {
            const int T = Ts[ti];
            uint8_t tok[8 * 160];
            uint64_t rng = 21 + (uint64_t)ci;
            tokens_(&rng, tok, (size_t)8 * T);
            const size_t row = (size_t)T * 256;
            float *one = malloc(8 * row * sizeof *one), *lp = malloc(8 * row * sizeof *lp);
            CHECK(one && lp);
            for (int b = 0; b < 8; b++) CHECK_OK(lmic_model_forward(m, tok + b * T, 1, T, 1, one + b * row));
            const int Bs[3] = {1, 3, 8};
            for (int bi = 0; bi < 3; bi++) {
                for (int th = 1; th <= 2; th++) {
                    const int B = Bs[bi];
                    memset(lp, 0xff, (size_t)B * row * sizeof *lp);
                    CHECK_OK(lmic_model_forward(m, tok, B, T, th, lp));
                    CHECKF(memcmp(lp, one, (size_t)B * row * sizeof *lp) == 0,
                           "%s: T %d B %d threads %d differs from B 1 threads 1", cfgs_[ci].name, T, B, th);
                }
            }
            free(one);
            free(lp);
        }
        lmic_model_free(m);
    }
}

// --- (c) the stepper gives the forward pass's bits at every position

static void test_model_stepper(void) {
    for (int ci = 0; ci < NCFG; ci++) {
        lmic_model *m = cfg_model_(ci);
        CHECK(m);
        const int T = cfgs_[ci].ctx;
        const int Bs[3] = {1, 5, 20};
        for (int bi = 0; bi < 3; bi++) {
            const int B = Bs[bi];
            uint8_t *tok = malloc((size_t)B * T), prev[20];
            float *want = malloc((size_t)B * T * 256 * sizeof *want), got[20 * 256];
            CHECK(tok && want);
            uint64_t rng = 31 + (uint64_t)ci;
            tokens_(&rng, tok, (size_t)B * T);
            CHECK_OK(lmic_model_forward(m, tok, B, T, 2, want));
            lmic_stepper *s = lmic_stepper_new(m, B);
            CHECK(s);
            for (int th = 1; th <= 2; th++) {
                lmic_stepper_reset(s);
                for (int t = 0; t < T; t++) {
                    CHECK(lmic_stepper_pos(s) == t);
                    for (int b = 0; b < B; b++) prev[b] = t ? tok[b * T + t - 1] : 0xAB;  // ignored at 0
                    CHECK_OK(lmic_stepper_step(s, t ? prev : NULL, th, got));
                    for (int b = 0; b < B; b++)
                        CHECKF(memcmp(got + b * 256, want + ((size_t)b * T + t) * 256, 256 * sizeof(float)) == 0,
                               "%s: B %d threads %d: stepper differs at b %d t %d", cfgs_[ci].name, B, th, b, t);
                }
                // (g) the context is full
                CHECK(lmic_stepper_step(s, prev, th, got) == LMIC_ERR_ARG);
                CHECK(lmic_stepper_pos(s) == T);
            }
            lmic_stepper_free(s);
            free(tok);
            free(want);
        }
        lmic_model_free(m);
    }
}

// --- (f) log-probabilities -> integer CDF

static void check_cdf_(const float *logp, const uint32_t *cdf, uint32_t total, int *bad) {
    *bad = 1;
    CHECK(cdf[0] == 0 && cdf[256] == total && total <= LMIC_CODER_MAX_TOTAL);
    for (int v = 0; v < 256; v++) {
        CHECK(cdf[v + 1] > cdf[v]);  // every count >= 1
        // The vectorised loop gives the scalar function's bits.
        float p = lmic_expf(logp[v]) * (float)LMIC_CDF_SCALE;
        p = p >= 0.0f ? (p < (float)LMIC_CDF_SCALE ? p : (float)LMIC_CDF_SCALE) : 0.0f;
        CHECK(cdf[v + 1] - cdf[v] == 1u + (uint32_t)p);
    }
    *bad = 0;
}

static void test_model_cdf(void) {
    uint32_t cdf[257];
    int bad;
    for (int sharp = 0; sharp < 2; sharp++) {
        lmic_model *m = cfg_model_(0);
        CHECK(m);
        if (sharp)  // a confident model: most mass on few symbols
            for (size_t i = 0; i < (size_t)24 * 256; i++) m->wout[i] *= 6.0f;
        const int B = 8, T = 16;
        uint8_t tok[8 * 16];
        uint64_t rng = 41;
        tokens_(&rng, tok, sizeof tok);
        float *lp = malloc((size_t)B * T * 256 * sizeof *lp);
        CHECK(lp);
        CHECK_OK(lmic_model_forward(m, tok, B, T, 1, lp));
        // The expected cost of a byte drawn from each row's distribution p:
        // with the integer CDF, sum p log2(total / count), and ideally, the
        // entropy sum p log2(1 / p).
        double cost = 0, ideal = 0;
        const int n = B * T;
        for (int r = 0; r < n; r++) {
            const float *l = lp + (size_t)r * 256;
            const uint32_t total = lmic_cdf_from_logp(l, cdf);
            check_cdf_(l, cdf, total, &bad);
            if (bad) break;
            for (int v = 0; v < 256; v++) {
                const double p = exp((double)l[v]);
                cost += p * -log2((double)(cdf[v + 1] - cdf[v]) / total);
                ideal += p * -(double)l[v] / 0.69314718055994530942;
            }
        }
        free(lp);
        lmic_model_free(m);
        if (bad) return;
        printf("     %s model: integer CDF %.5f bits/byte, ideal %.5f\n", sharp ? "sharp" : "plain",
               cost / n, ideal / n);
        CHECK(fabs(cost - ideal) / n < 0.01);
    }
    // Extreme rows: a certainty, -inf, NaN, a uniform row.
    float l[256];
    for (int v = 0; v < 256; v++) l[v] = v == 7 ? 0.0f : -INFINITY;
    uint32_t total = lmic_cdf_from_logp(l, cdf);
    check_cdf_(l, cdf, total, &bad);
    if (bad) return;
    CHECK(total == LMIC_CDF_SCALE + 256);
    for (int v = 0; v < 256; v++) l[v] = v == 3 ? NAN : -5.5451774f;  // log(1/256)
    total = lmic_cdf_from_logp(l, cdf);
    check_cdf_(l, cdf, total, &bad);
    if (bad) return;
    CHECK(cdf[4] - cdf[3] == 1);
}

// --- (g) bad arguments

static void test_model_args(void) {
    lmic_model *m = cfg_model_(0);
    CHECK(m);
    uint8_t tok[64] = {0};
    float lp[64 * 256];
    CHECK(lmic_model_forward(m, tok, 1, 17, 1, lp) == LMIC_ERR_ARG);  // T > context
    CHECK(lmic_model_forward(m, tok, 1, 0, 1, lp) == LMIC_ERR_ARG);
    CHECK(lmic_model_forward(m, tok, 0, 4, 1, lp) == LMIC_ERR_ARG);
    CHECK(lmic_model_forward(m, tok, -1, 4, 1, lp) == LMIC_ERR_ARG);
    CHECK(lmic_model_forward(m, tok, 1, 4, 0, lp) == LMIC_ERR_ARG);
    CHECK(lmic_model_forward(m, NULL, 1, 4, 1, lp) == LMIC_ERR_ARG);
    CHECK(lmic_model_forward(m, tok, 1, 4, 1, NULL) == LMIC_ERR_ARG);
    CHECK(lmic_model_forward(NULL, tok, 1, 4, 1, lp) == LMIC_ERR_ARG);
    CHECK_OK(lmic_model_forward(m, tok, 1, 16, 1, lp));
    CHECK_OK(lmic_model_forward(m, tok, 1, 1, 1000, lp));  // more threads than rows
    CHECK(lmic_stepper_new(m, 0) == NULL && lmic_stepper_new(NULL, 1) == NULL);
    lmic_stepper *s = lmic_stepper_new(m, 2);
    CHECK(s);
    CHECK(lmic_stepper_step(s, NULL, 0, lp) == LMIC_ERR_ARG);
    CHECK(lmic_stepper_step(s, NULL, 1, NULL) == LMIC_ERR_ARG);
    CHECK_OK(lmic_stepper_step(s, NULL, 1, lp));
    CHECK(lmic_stepper_step(s, NULL, 1, lp) == LMIC_ERR_ARG);  // prev needed after position 0
    CHECK(lmic_stepper_pos(s) == 1);
    lmic_stepper_free(s);
    lmic_stepper_free(NULL);
    lmic_model_free(m);
}

// --- golden hashes: the same bits on every build and machine (rule 1)

static void md5_hex_(const void *p, size_t n, char hex[33]) {
    lmic_md5 c;
    uint8_t d[16];
    lmic_md5_init(&c);
    lmic_md5_update(&c, p, n);
    lmic_md5_final(&c, d);
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

// To be changed only with the bitstream: a new value means old files no
// longer decode (and the container's version must say so).
static const char GOLDEN_MATH_[] = "ec937ba8c361e0e3edad74396fba0348";
static const char *const golden_logp_[NCFG] = {
    "13721ae4bdfc4471502322092064f3c1", "52e491d224f25a6212117c33f2376921",
    "86c8fbfd93e6f2068564ade944e8ded2", "453d91b174898dff582dc5e7a0d88579",
    "14603f3b8f7cd57c7e68782167277214", "3321d6053abbc68005fccd5c0ef699d5"};

static void test_model_golden(void) {
    // lmic_expf and lmic_logf on every 4099th float, as little-endian bits.
    lmic_md5 c;
    uint8_t d[16];
    char hex[33];
    lmic_md5_init(&c);
    for (uint64_t u = 0; u < 0x100000000ull; u += 4099) {
        const float x = bitsf_((uint32_t)u);
        const float y[2] = {lmic_expf(x), lmic_logf(x)};
        uint8_t b[8];
        for (int k = 0; k < 2; k++) {
            uint32_t w = 0x7fc00000u;  // NaN payloads are not part of the contract
            if (y[k] == y[k]) memcpy(&w, &y[k], 4);
            for (int i = 0; i < 4; i++) b[4 * k + i] = (uint8_t)(w >> (8 * i));
        }
        lmic_md5_update(&c, b, 8);
    }
    lmic_md5_final(&c, d);
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    printf("     expf/logf sweep md5 %s\n", hex);
    CHECKF(strcmp(hex, GOLDEN_MATH_) == 0, "expf/logf changed: md5 %s", hex);

    // The log-probabilities of each test configuration (little-endian host
    // assumed: the hash is of the float array's bytes).
    for (int ci = 0; ci < NCFG; ci++) {
        lmic_model *m = cfg_model_(ci);
        CHECK(m);
        const int B = 3, T = cfgs_[ci].ctx;
        uint8_t tok[3 * 160];
        uint64_t rng = 51 + (uint64_t)ci;
        tokens_(&rng, tok, (size_t)B * T);
        float *lp = malloc((size_t)B * T * 256 * sizeof *lp);
        CHECK(lp);
        CHECK_OK(lmic_model_forward(m, tok, B, T, 2, lp));
        md5_hex_(lp, (size_t)B * T * 256 * sizeof *lp, hex);
        free(lp);
        lmic_model_free(m);
        printf("     %-20s logp md5 %s\n", cfgs_[ci].name, hex);
        CHECKF(strcmp(hex, golden_logp_[ci]) == 0, "%s: log-probabilities changed", cfgs_[ci].name);
    }
}

void test_model(void) {
    RUN(test_model_expf_logf);
    RUN(test_model_double_math);
    RUN(test_model_tables);
    RUN(test_model_vs_reference);
    RUN(test_model_batch_threads);
    RUN(test_model_stepper);
    RUN(test_model_cdf);
    RUN(test_model_args);
    RUN(test_model_golden);
}
