// trainer.c -- lmic_trainer: the training loop's state and one step of it
// (forward, backward, gradient clipping, Adam), the batch sampler, and
// checkpoints (docs/format.md).
//
// Everything that decides a weight is deterministic: the gradients (see
// backprop.c), the clipping norm (one serial sum in double, index order), the
// learning-rate schedule (double arithmetic and lmic's own cosine), Adam
// (elementwise float; threads split elements only), and the sampler (the
// trainer's own splitmix64 state, saved in checkpoints). So a run resumed
// from a checkpoint reaches the bits an uninterrupted run reaches.
#include <math.h>  // sqrt, sqrtf only: correctly rounded
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "train_internal.h"

#define CKPT_MAGIC "LMICCKPT"
#define CKPT_VERSION 1u
#define CKPT_HEADER_BYTES 88

struct lmic_trainer {
    lmic_train_config tc;
    lmic_model *m;            // the weights being trained (owned)
    float *mem;               // one allocation: grads, adam_m, adam_v
    float *grads;             // (num_params,) d loss / d params of the last batch
    float *adam_m, *adam_v;   // (num_params,) Adam's moments
    bp_ctx *bp;
    int64_t step;             // updates done
    uint64_t rng;             // the sampler's state
    int fp_stale;             // the model's fingerprint needs recomputing
};

void lmic_train_config_default(lmic_train_config *tc) {
    memset(tc, 0, sizeof *tc);
    tc->batch = 32;
    tc->seq = 2048;
    tc->threads = 1;
    tc->lr = 1e-4f;
    tc->beta1 = 0.9f;
    tc->beta2 = 0.999f;
    tc->eps = 1e-8f;
}

static int config_ok_(const lmic_train_config *tc, const lmic_model_config *mc) {
    return tc->batch >= 1 && tc->batch <= 65536 && tc->seq >= 1 && tc->seq <= mc->context &&
           tc->threads >= 1 && tc->threads <= 1024 && tc->lr >= 0.0f && tc->beta1 >= 0.0f &&
           tc->beta1 < 1.0f && tc->beta2 >= 0.0f && tc->beta2 < 1.0f && tc->eps > 0.0f &&
           tc->warmup >= 0 && tc->cosine_steps >= 0 && tc->clip >= 0.0f;
}

// A deep copy through the model file: the copy is exactly the original.
static lmic_status copy_model_(const lmic_model *src, lmic_model **out) {
    lmic_buf b = {0};
    lmic_status st = lmic_model_save(src, 0, &b);
    if (st == LMIC_OK) st = lmic_model_load(b.data, b.size, out);
    lmic_buf_free(&b);
    return st;
}

// Allocates everything but the model. m must be set.
static lmic_status alloc_(lmic_trainer *t) {
    const size_t P = t->m->num_params;
    t->mem = calloc(3 * P, sizeof(float));
    if (!t->mem) return LMIC_ERR_NOMEM;
    t->grads = t->mem;
    t->adam_m = t->grads + P;
    t->adam_v = t->adam_m + P;
    return bp_new_(&t->m->cfg, t->tc.batch, t->tc.seq, t->tc.threads, &t->bp);
}

lmic_status lmic_trainer_new(const lmic_model *init, const lmic_train_config *tc,
                             lmic_trainer **out) {
    *out = NULL;
    if (!init || !tc || !config_ok_(tc, &init->cfg)) return LMIC_ERR_ARG;
    lmic_trainer *t = calloc(1, sizeof *t);
    if (!t) return LMIC_ERR_NOMEM;
    t->tc = *tc;
    t->rng = tc->seed;
    lmic_status st = copy_model_(init, &t->m);
    if (st == LMIC_OK) st = alloc_(t);
    if (st != LMIC_OK) { lmic_trainer_free(t); return st; }
    *out = t;
    return LMIC_OK;
}

void lmic_trainer_free(lmic_trainer *t) {
    if (!t) return;
    bp_free_(t->bp);
    free(t->mem);
    lmic_model_free(t->m);
    free(t);
}

const lmic_train_config *lmic_trainer_get_config(const lmic_trainer *t) { return &t->tc; }
int64_t lmic_trainer_step_count(const lmic_trainer *t) { return t->step; }

static void put32_(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

const lmic_model *lmic_trainer_model(lmic_trainer *t) {
    if (t->fp_stale) {
        lmic_model_refingerprint_(t->m);
        t->fp_stale = 0;
    }
    return t->m;
}

lmic_status lmic_trainer_gradients(lmic_trainer *t, const uint8_t *tokens, double *loss,
                                   const float **grads) {
    if (!t || !tokens) return LMIC_ERR_ARG;
    const double l = bp_forward_(t->bp, t->m, tokens);
    bp_backward_(t->bp, t->m, t->grads);
    if (loss) *loss = l;
    if (grads) *grads = t->grads;
    return LMIC_OK;
}

// x^n in double by repeated squaring: IEEE operations only, so the same on
// every machine (pow() is libm's and need not be).
static double powi_(double x, int64_t n) {
    double r = 1.0;
    while (n > 0) {
        if (n & 1) r *= x;
        x *= x;
        n >>= 1;
    }
    return r;
}

// The learning rate of update number s (0-based): linear warm-up over the
// first `warmup` updates (lr (s+1)/warmup), then, with cosine_steps, a cosine
// from lr down to 0 at update cosine_steps.
static double lr_at_(const lmic_train_config *tc, int64_t s) {
    if (s < tc->warmup) return (double)tc->lr * (double)(s + 1) / (double)tc->warmup;
    if (tc->cosine_steps > tc->warmup) {
        double p = (double)(s - tc->warmup) / (double)(tc->cosine_steps - tc->warmup);
        if (p > 1.0) p = 1.0;
        return (double)tc->lr * 0.5 * (1.0 + lmic_cos_(3.141592653589793 * p));
    }
    return (double)tc->lr;
}

lmic_status lmic_trainer_step(lmic_trainer *t, const uint8_t *tokens, lmic_train_stats *stats) {
    double loss;
    lmic_status st = lmic_trainer_gradients(t, tokens, &loss, NULL);
    if (st != LMIC_OK) return st;
    const size_t P = t->m->num_params;
    float *g = t->grads, *pm = t->adam_m, *pv = t->adam_v, *w = t->m->params;
    // Global gradient norm: one sum in index order, in double.
    double ss = 0.0;
    for (size_t i = 0; i < P; i++) ss += (double)g[i] * (double)g[i];
    const double norm = sqrt(ss);
    float gscale = 1.0f;
    if (t->tc.clip > 0.0f && norm > (double)t->tc.clip) gscale = (float)((double)t->tc.clip / norm);
    // Adam (Kingma & Ba): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    // w -= lr (m / (1 - b1^k)) / (sqrt(v / (1 - b2^k)) + eps), k = step + 1.
    const int64_t k = t->step + 1;
    const float lr = (float)lr_at_(&t->tc, t->step);
    const float b1 = t->tc.beta1, b2 = t->tc.beta2, eps = t->tc.eps;
    const float bc1 = (float)(1.0 - powi_((double)b1, k)), bc2 = (float)(1.0 - powi_((double)b2, k));
    const float ob1 = 1.0f - b1, ob2 = 1.0f - b2;
    const int nth = t->tc.threads;
    (void)nth;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nth) schedule(static) if (nth > 1 && P > 65536)
#endif
    for (int64_t i = 0; i < (int64_t)P; i++) {
        const float gi = g[i] * gscale;
        const float mi = b1 * pm[i] + ob1 * gi;
        const float vi = b2 * pv[i] + ob2 * (gi * gi);
        pm[i] = mi;
        pv[i] = vi;
        w[i] -= lr * ((mi / bc1) / (sqrtf(vi / bc2) + eps));
    }
    t->step++;
    t->fp_stale = 1;
    if (stats) {
        stats->loss = loss;
        stats->grad_norm = norm;
        stats->lr = lr;
    }
    return LMIC_OK;
}

// --- the batch sampler

lmic_status lmic_trainer_sample(lmic_trainer *t, const uint8_t *data, const size_t *seg_end,
                                const size_t *seg_align, size_t nseg, uint8_t *tokens) {
    if (!t || !data || !seg_end || !tokens) return LMIC_ERR_ARG;
    const size_t T = (size_t)t->tc.seq;
    uint64_t W = 0;  // windows: starts s = beg + j * align with s + T <= the segment's end
    for (size_t i = 0, beg = 0; i < nseg; beg = seg_end[i], i++) {
        const size_t align = seg_align ? seg_align[i] : 1;
        if (seg_end[i] < beg || align < 1) return LMIC_ERR_ARG;
        if (seg_end[i] - beg >= T) W += (seg_end[i] - beg - T) / align + 1;
    }
    if (W == 0) return LMIC_ERR_ARG;
    // Uniform in [0, W) without modulo bias: reject the top partial range.
    const uint64_t limit = UINT64_MAX - UINT64_MAX % W;
    for (int b = 0; b < t->tc.batch; b++) {
        uint64_t u;
        do u = lmic_rng_next(&t->rng); while (u >= limit);
        u %= W;
        for (size_t i = 0, beg = 0; i < nseg; beg = seg_end[i], i++) {
            const size_t len = seg_end[i] - beg;
            if (len < T) continue;
            const size_t align = seg_align ? seg_align[i] : 1;
            const uint64_t nw = (len - T) / align + 1;
            if (u < nw) {
                memcpy(tokens + (size_t)b * T, data + beg + u * align, T);
                break;
            }
            u -= nw;
        }
    }
    return LMIC_OK;
}

// --- checkpoints (docs/format.md)

static void put64_(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32_(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64_(const uint8_t *p) { return get32_(p) | (uint64_t)get32_(p + 4) << 32; }
static uint32_t fbits_(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bitsf_(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static uint32_t crc_(const uint8_t *p, size_t n) {
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < n; off += 1u << 30) {
        size_t k = n - off < (1u << 30) ? n - off : (1u << 30);
        crc = crc32(crc, p + off, (uInt)k);
    }
    return (uint32_t)crc;
}

lmic_status lmic_trainer_save(lmic_trainer *t, lmic_buf *out) {
    const size_t start = out->size, P = t->m->num_params;
    uint8_t h[CKPT_HEADER_BYTES];
    const lmic_train_config *c = &t->tc;
    memcpy(h, CKPT_MAGIC, 8);
    put32_(h + 8, CKPT_VERSION);
    put32_(h + 12, (uint32_t)c->batch);
    put32_(h + 16, (uint32_t)c->seq);
    put32_(h + 20, fbits_(c->lr));
    put32_(h + 24, fbits_(c->beta1));
    put32_(h + 28, fbits_(c->beta2));
    put32_(h + 32, fbits_(c->eps));
    put64_(h + 36, (uint64_t)c->warmup);
    put64_(h + 44, (uint64_t)c->cosine_steps);
    put32_(h + 52, fbits_(c->clip));
    put64_(h + 56, c->seed);
    put64_(h + 64, (uint64_t)t->step);
    put64_(h + 72, t->rng);
    lmic_status st = lmic_buf_append(out, h, sizeof h);
    if (st != LMIC_OK) return st;
    const size_t mstart = out->size;
    st = lmic_model_save(lmic_trainer_model(t), 0, out);
    if (st == LMIC_OK) st = lmic_buf_reserve(out, 8 * P + 4);
    if (st != LMIC_OK) { out->size = start; return st; }
    put64_(out->data + start + 80, (uint64_t)(out->size - mstart));
    uint8_t *p = out->data + out->size;
    for (size_t i = 0; i < P; i++) put32_(p + 4 * i, fbits_(t->adam_m[i]));
    p += 4 * P;
    for (size_t i = 0; i < P; i++) put32_(p + 4 * i, fbits_(t->adam_v[i]));
    out->size += 8 * P;
    put32_(out->data + out->size, crc_(out->data + start, out->size - start));
    out->size += 4;
    return LMIC_OK;
}

lmic_status lmic_trainer_load(const uint8_t *data, size_t size, int threads, lmic_trainer **out) {
    *out = NULL;
    if (!data || size < 8 || memcmp(data, CKPT_MAGIC, 8) != 0) return LMIC_ERR_FORMAT;
    if (size < CKPT_HEADER_BYTES + 4) return LMIC_ERR_CORRUPT;
    if (get32_(data + 8) != CKPT_VERSION) return LMIC_ERR_UNSUPPORTED;
    if (crc_(data, size - 4) != get32_(data + size - 4)) return LMIC_ERR_CORRUPT;
    if (threads < 1) return LMIC_ERR_ARG;
    lmic_train_config c;
    memset(&c, 0, sizeof c);
    c.batch = (int)get32_(data + 12);
    c.seq = (int)get32_(data + 16);
    c.threads = threads;
    c.lr = bitsf_(get32_(data + 20));
    c.beta1 = bitsf_(get32_(data + 24));
    c.beta2 = bitsf_(get32_(data + 28));
    c.eps = bitsf_(get32_(data + 32));
    c.warmup = (int64_t)get64_(data + 36);
    c.cosine_steps = (int64_t)get64_(data + 44);
    c.clip = bitsf_(get32_(data + 52));
    c.seed = get64_(data + 56);
    const uint64_t msize = get64_(data + 80);
    if (msize > size - CKPT_HEADER_BYTES - 4) return LMIC_ERR_CORRUPT;
    lmic_model *m;
    lmic_status st = lmic_model_load(data + CKPT_HEADER_BYTES, (size_t)msize, &m);
    if (st != LMIC_OK) return LMIC_ERR_CORRUPT;
    const size_t P = m->num_params;
    if (size != CKPT_HEADER_BYTES + msize + 8 * P + 4 || !config_ok_(&c, &m->cfg)) {
        lmic_model_free(m);
        return LMIC_ERR_CORRUPT;
    }
    lmic_trainer *t = calloc(1, sizeof *t);
    if (!t) { lmic_model_free(m); return LMIC_ERR_NOMEM; }
    t->tc = c;
    t->m = m;
    t->step = (int64_t)get64_(data + 64);
    t->rng = get64_(data + 72);
    st = alloc_(t);
    if (st != LMIC_OK) { lmic_trainer_free(t); return st; }
    const uint8_t *p = data + CKPT_HEADER_BYTES + msize;
    for (size_t i = 0; i < P; i++) t->adam_m[i] = bitsf_(get32_(p + 4 * i));
    p += 4 * P;
    for (size_t i = 0; i < P; i++) t->adam_v[i] = bitsf_(get32_(p + 4 * i));
    *out = t;
    return LMIC_OK;
}
