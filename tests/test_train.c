// test_train.c -- training: the training forward equals lmic_model_forward,
// gradients equal central finite differences (every parameter tensor, every
// option combination), training learns, determinism (same seed -> same bits,
// 1 vs 2 threads), checkpoint resume equivalence, damaged checkpoints refused,
// the sampler's windows.
#include "lmic.h"
#include "test.h"
#include "../src/model_internal.h"

#include <math.h>
#include <stdint.h>

// A tiny model with every parameter random (biases and gains too, so that a
// bias or gain bug cannot hide behind lmic's 0 / 1 initialisation).
static lmic_model *tiny_(int positions, int norm, uint64_t seed) {
    lmic_model_config c = {16, 2, 2, 4, 32, positions, norm};
    lmic_model *m = NULL;
    if (lmic_model_new_random(&c, seed, &m) != LMIC_OK) return NULL;
    uint64_t rng = seed ^ 0x5eed;
    const int C = c.d_model, F = C * c.widening;
    for (int l = 0; l < c.n_layers; l++) {
        lmic_layer *y = &m->layer[l];
        for (int i = 0; i < C; i++) {
            y->ln1_g[i] = 0.7f + 0.6f * (float)(lmic_rng_next(&rng) >> 40) / 16777216.0f;
            y->ln2_g[i] = 0.7f + 0.6f * (float)(lmic_rng_next(&rng) >> 40) / 16777216.0f;
            y->ln1_b[i] = 0.2f * ((float)(lmic_rng_next(&rng) >> 40) / 16777216.0f - 0.5f);
            y->ln2_b[i] = 0.2f * ((float)(lmic_rng_next(&rng) >> 40) / 16777216.0f - 0.5f);
            y->b2[i] = 0.2f * ((float)(lmic_rng_next(&rng) >> 40) / 16777216.0f - 0.5f);
        }
        for (int i = 0; i < F; i++) y->b1[i] = 0.4f * ((float)(lmic_rng_next(&rng) >> 40) / 16777216.0f - 0.5f);
    }
    if (m->lnf_g)
        for (int i = 0; i < C; i++) {
            m->lnf_g[i] = 0.7f + 0.6f * (float)(lmic_rng_next(&rng) >> 40) / 16777216.0f;
            m->lnf_b[i] = 0.2f * ((float)(lmic_rng_next(&rng) >> 40) / 16777216.0f - 0.5f);
        }
    for (int i = 0; i < LMIC_VOCAB; i++) m->bout[i] = 0.4f * ((float)(lmic_rng_next(&rng) >> 40) / 16777216.0f - 0.5f);
    // The fingerprint of the new weights (model.c's definition), then a round
    // trip through the file, which checks it.
    lmic_md5 md;
    uint8_t buf[28];
    const int cv[7] = {c.d_model, c.n_layers, c.n_heads, c.widening, c.context, c.positions, c.norm};
    lmic_md5_init(&md);
    for (int i = 0; i < 7; i++)
        for (int j = 0; j < 4; j++) buf[4 * i + j] = (uint8_t)((uint32_t)cv[i] >> (8 * j));
    lmic_md5_update(&md, buf, 28);
    for (size_t i = 0; i < m->num_params; i++) {
        uint32_t u;
        memcpy(&u, &m->params[i], 4);
        for (int j = 0; j < 4; j++) buf[j] = (uint8_t)(u >> (8 * j));
        lmic_md5_update(&md, buf, 4);
    }
    lmic_md5_final(&md, m->fingerprint);
    lmic_buf b = {0};
    lmic_model *m2 = NULL;
    if (lmic_model_save(m, 0, &b) == LMIC_OK) lmic_model_load(b.data, b.size, &m2);
    lmic_buf_free(&b);
    lmic_model_free(m);
    return m2;
}

static void tokens_(uint8_t *t, size_t n, uint64_t seed) {
    uint64_t rng = seed;
    for (size_t i = 0; i < n; i++) t[i] = (uint8_t)(lmic_rng_next(&rng) >> 56);
}

// The loss of m on tokens (B, T) through the inference path, in double.
static double ref_loss_(const lmic_model *m, const uint8_t *tok, int B, int T) {
    float *lp = malloc((size_t)B * T * LMIC_VOCAB * sizeof *lp);
    if (!lp || lmic_model_forward(m, tok, B, T, 1, lp) != LMIC_OK) { free(lp); return NAN; }
    double s = 0.0;
    for (int r = 0; r < B * T; r++) s -= lp[(size_t)r * LMIC_VOCAB + tok[r]];
    free(lp);
    return s / (B * T);
}

static lmic_train_config tc_(int B, int T, int threads) {
    lmic_train_config tc;
    lmic_train_config_default(&tc);
    tc.batch = B, tc.seq = T, tc.threads = threads, tc.seed = 99;
    return tc;
}

static void test_train_loss_equals_forward(void) {
    for (int k = 0; k < 4; k++) {
        lmic_model *m = tiny_(k & 1, k >> 1, 11 + k);
        CHECK(m);
        uint8_t tok[3 * 29];
        tokens_(tok, sizeof tok, k);
        lmic_train_config tc = tc_(3, 29, 2);
        lmic_trainer *t;
        CHECK_OK(lmic_trainer_new(m, &tc, &t));
        double loss;
        CHECK_OK(lmic_trainer_gradients(t, tok, &loss, NULL));
        const double ref = ref_loss_(m, tok, 3, 29);
        lmic_trainer_free(t);
        lmic_model_free(m);
        if (getenv("LMIC_TEST_VERBOSE")) fprintf(stderr, "  config %d: training loss - forward loss = %.3g\n", k, loss - ref);
        CHECKF(fabs(loss - ref) <= 1e-5, "config %d: training loss %.9f, forward %.9f", k, loss, ref);
    }
}

// Central differences D(h) = (L(w + h) - L(w - h)) / 2h, extrapolated
// (Richardson: (4 D(h) - D(2h)) / 3, error O(h^4)), h a tenth of the
// tensor's RMS in [1e-3, 1e-2]: the float rounding of the loss (~1e-7) then
// costs ~1e-5 (h = 1e-2) and the truncation error is below that, on every entry of small tensors and 24 entries of large ones (the
// largest-gradient entries among them). Per tensor: |fd - g| / |g| over the
// checked entries (vector 2-norms) <= 1e-2, or, where the gradient is tiny,
// |fd - g| within the differences' noise (~1e-7 / h per entry from the
// loss's float rounding; the floor is 3e-7 / h sqrt(entries)).
static void test_train_gradcheck_finite_differences(void) {
    const int B = 2, T = 13;
    for (int k = 0; k < 4; k++) {
        lmic_model *m = tiny_(k & 1, k >> 1, 21 + k);
        CHECK(m);
        uint8_t tok[2 * 13];
        tokens_(tok, sizeof tok, 100 + k);
        lmic_train_config tc = tc_(B, T, 1);
        lmic_trainer *t;
        CHECK_OK(lmic_trainer_new(m, &tc, &t));
        lmic_model_free(m);
        lmic_model *tm = (lmic_model *)lmic_trainer_model(t);  // perturbed in place below
        const float *g;
        double loss;
        CHECK_OK(lmic_trainer_gradients(t, tok, &loss, &g));
        // tensors by their offsets in the layout
        const lmic_model_config *c = &tm->cfg;
        const float *starts[80];
        size_t lens[80];
        int nt = 0;
        const size_t C = (size_t)c->d_model, F = C * (size_t)c->widening;
#define T_(p, n) (starts[nt] = (p), lens[nt] = (n), nt++)
        T_(tm->wte, 256 * C);
        for (int l = 0; l < c->n_layers; l++) {
            lmic_layer *y = &tm->layer[l];
            T_(y->wq, C * C); T_(y->wk, C * C); T_(y->wv, C * C); T_(y->wo, C * C);
            T_(y->ln1_g, C); T_(y->ln1_b, C); T_(y->w1, C * F); T_(y->b1, F);
            T_(y->w2, F * C); T_(y->b2, C); T_(y->ln2_g, C); T_(y->ln2_b, C);
        }
        if (tm->lnf_g) { T_(tm->lnf_g, C); T_(tm->lnf_b, C); }
        T_(tm->wout, C * 256); T_(tm->bout, 256);
#undef T_
        double worst = 0.0;
        for (int ti = 0; ti < nt; ti++) {
            const size_t off = (size_t)(starts[ti] - tm->params), n = lens[ti];
            size_t idx[32];
            int ni = 0;
            if (n <= 32) {
                for (size_t i = 0; i < n; i++) idx[ni++] = off + i;
            } else {
                size_t best = off;  // the largest gradient, then spread entries
                for (size_t i = off; i < off + n; i++) best = fabsf(g[i]) > fabsf(g[best]) ? i : best;
                idx[ni++] = best;
                for (int j = 0; j < 23; j++) idx[ni++] = off + (size_t)j * 7919 % n;
            }
            // h: a tenth of the tensor's RMS, in [1e-3, 1e-2]. The embeddings
            // (std 0.02) need small steps: a norm right after them makes the
            // loss strongly curved in them.
            double rms = 0.0;
            for (size_t i = off; i < off + n; i++) rms += (double)tm->params[i] * tm->params[i];
            rms = sqrt(rms / (double)n);
            const float h0 = (float)(0.1 * rms < 1e-3 ? 1e-3 : 0.1 * rms > 1e-2 ? 1e-2 : 0.1 * rms);
            double dd = 0.0, gg = 0.0;
            for (int j = 0; j < ni; j++) {
                float *w = &tm->params[idx[j]];
                const float w0 = *w;
                double D[2];
                for (int u = 0; u < 2; u++) {
                    const float h = u ? 2.0f * h0 : h0;
                    *w = w0 + h;
                    const double lp = ref_loss_(tm, tok, B, T);
                    *w = w0 - h;
                    const double lm = ref_loss_(tm, tok, B, T);
                    *w = w0;
                    D[u] = (lp - lm) / ((double)(w0 + h) - (double)(w0 - h));
                }
                const double fd = (4.0 * D[0] - D[1]) / 3.0;  // Richardson: error O(h^4)
                // LMIC_GRADCHECK_TENSOR=i prints tensor i's entries (debugging)
                const char *dbg = getenv("LMIC_GRADCHECK_TENSOR");
                if (dbg && ti == atoi(dbg))
                    fprintf(stderr, "    config %d tensor %d entry %zu: fd %.6g g %.6g (D(h) %.6g, D(2h) %.6g)\n",
                            k, ti, idx[j], fd, (double)g[idx[j]], D[0], D[1]);
                dd += (fd - g[idx[j]]) * (fd - g[idx[j]]);
                gg += (double)g[idx[j]] * g[idx[j]];
            }
            const double rel = sqrt(dd) / (sqrt(gg) + 1e-30);
            const double floor = 3e-7 / h0 * sqrt((double)ni);  // ~3 sigma of the loss's rounding
            if (sqrt(gg) > 10.0 * floor && rel > worst) worst = rel;  // well above the noise
            CHECKF(sqrt(dd) <= floor || rel <= 1e-2,
                   "config %d tensor %d (offset %zu): |fd - g| %.3g, |g| %.3g, relative %.3g", k, ti,
                   off, sqrt(dd), sqrt(gg), rel);
        }
        if (getenv("LMIC_TEST_VERBOSE"))
            fprintf(stderr, "  gradcheck config %d (pos %d norm %d): worst relative error %.2e (tensors with |g| > 10 x noise)\n", k,
                    k & 1, k >> 1, worst);
        lmic_trainer_free(t);
    }
}

// A stream with period 7 is learnable: the loss falls well below ln 256.
static void test_train_learns_pattern(void) {
    lmic_model_config c = {32, 2, 4, 4, 64, LMIC_POS_SINUSOIDAL, LMIC_NORM_POST};
    lmic_model *m;
    CHECK_OK(lmic_model_new_random(&c, 5, &m));
    uint8_t data[4096];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)("lmic-LM"[i % 7] + (i / 7) % 3);
    size_t seg = sizeof data;
    lmic_train_config tc = tc_(8, 48, 2);
    tc.lr = 3e-3f;
    lmic_trainer *t;
    CHECK_OK(lmic_trainer_new(m, &tc, &t));
    lmic_model_free(m);
    uint8_t tok[8 * 48];
    double first = 0, last = 0;
    for (int s = 0; s < 50; s++) {
        lmic_train_stats st;
        CHECK_OK(lmic_trainer_sample(t, data, &seg, NULL, 1, tok));
        CHECK_OK(lmic_trainer_step(t, tok, &st));
        if (s == 0) first = st.loss;
        last = st.loss;
    }
    lmic_trainer_free(t);
    CHECKF(last < 0.4 * first, "loss %.3f -> %.3f after 50 steps", first, last);
}

// Runs `steps` steps of a fresh trainer (or of *tp if set) on a fixed stream.
static lmic_status run_(lmic_trainer *t, int steps) {
    static uint8_t data[3000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * i % 251 + (i % 13 == 0));
    const size_t seg[3] = {1000, 1010, 3000};  // the middle segment is too short for a window
    const lmic_train_config *tc = lmic_trainer_get_config(t);
    uint8_t *tok = malloc((size_t)tc->batch * tc->seq);
    lmic_status st = tok ? LMIC_OK : LMIC_ERR_NOMEM;
    for (int s = 0; s < steps && st == LMIC_OK; s++) {
        st = lmic_trainer_sample(t, data, seg, NULL, 3, tok);
        if (st == LMIC_OK) st = lmic_trainer_step(t, tok, NULL);
    }
    free(tok);
    return st;
}

static lmic_trainer *trainer_(int positions, int norm, int threads) {
    lmic_model *m = tiny_(positions, norm, 3);
    if (!m) return NULL;
    lmic_train_config tc = tc_(3, 24, threads);
    tc.lr = 1e-3f;
    tc.warmup = 2;
    tc.cosine_steps = 10;
    tc.clip = 0.5f;
    lmic_trainer *t = NULL;
    lmic_trainer_new(m, &tc, &t);
    lmic_model_free(m);
    return t;
}

static int same_weights_(lmic_trainer *a, lmic_trainer *b) {
    const lmic_model *ma = lmic_trainer_model(a), *mb = lmic_trainer_model(b);
    lmic_buf ba = {0}, bb = {0};
    int same = lmic_model_save(ma, 0, &ba) == LMIC_OK && lmic_model_save(mb, 0, &bb) == LMIC_OK &&
               ba.size == bb.size && memcmp(ba.data, bb.data, ba.size) == 0;
    lmic_buf_free(&ba);
    lmic_buf_free(&bb);
    return same;
}

static void test_train_deterministic_threads(void) {
    for (int k = 0; k < 4; k++) {
        lmic_trainer *a = trainer_(k & 1, k >> 1, 1), *b = trainer_(k & 1, k >> 1, 1),
                     *c = trainer_(k & 1, k >> 1, 2);
        CHECK(a && b && c);
        CHECK_OK(run_(a, 6));
        CHECK_OK(run_(b, 6));
        CHECK_OK(run_(c, 6));
        const lmic_model *ma = lmic_trainer_model(a);
        int changed = 0;
        lmic_model *m0 = tiny_(k & 1, k >> 1, 3);
        CHECK(m0);
        changed = memcmp(m0->params, ma->params, ma->num_params * sizeof(float)) != 0;
        lmic_model_free(m0);
        int ab = same_weights_(a, b), ac = same_weights_(a, c);
        lmic_trainer_free(a);
        lmic_trainer_free(b);
        lmic_trainer_free(c);
        CHECKF(changed, "config %d: training did not change the weights", k);
        CHECKF(ab, "config %d: same seed, different weights", k);
        CHECKF(ac, "config %d: 1 vs 2 threads, different weights", k);
    }
}

static void test_train_resume_equivalence(void) {
    for (int k = 0; k < 4; k++) {
        lmic_trainer *a = trainer_(k & 1, k >> 1, 1), *b = trainer_(k & 1, k >> 1, 2), *r = NULL;
        CHECK(a && b);
        CHECK_OK(run_(a, 8));
        CHECK_OK(run_(b, 4));
        lmic_buf ck = {0};
        CHECK_OK(lmic_trainer_save(b, &ck));
        lmic_trainer_free(b);
        CHECK_OK(lmic_trainer_load(ck.data, ck.size, 1, &r));
        lmic_buf_free(&ck);
        CHECK(lmic_trainer_step_count(r) == 4);
        CHECK_OK(run_(r, 4));
        int same = same_weights_(a, r);
        lmic_trainer_free(a);
        lmic_trainer_free(r);
        CHECKF(same, "config %d: 8 steps != 4 + checkpoint + 4", k);
    }
}

static void test_train_damaged_checkpoint(void) {
    lmic_trainer *t = trainer_(0, 0, 1), *r = NULL;
    CHECK(t);
    CHECK_OK(run_(t, 1));
    lmic_buf ck = {0};
    CHECK_OK(lmic_trainer_save(t, &ck));
    lmic_trainer_free(t);
    CHECK_OK(lmic_trainer_load(ck.data, ck.size, 1, &r));
    lmic_trainer_free(r);
    r = NULL;
    const size_t at[] = {9, 13, 40, 70, 90, 200, ck.size / 2, ck.size - 10, ck.size - 1};
    for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
        ck.data[at[i]] ^= 0x10;
        lmic_status st = lmic_trainer_load(ck.data, ck.size, 1, &r);
        ck.data[at[i]] ^= 0x10;
        CHECKF(st == LMIC_ERR_CORRUPT || st == LMIC_ERR_UNSUPPORTED, "flip at %zu: status %d", at[i], st);
        CHECK(r == NULL);
    }
    CHECK(lmic_trainer_load(ck.data, ck.size - 1, 1, &r) == LMIC_ERR_CORRUPT);
    CHECK(lmic_trainer_load(ck.data, 50, 1, &r) == LMIC_ERR_CORRUPT);
    ck.data[0] ^= 1;
    CHECK(lmic_trainer_load(ck.data, ck.size, 1, &r) == LMIC_ERR_FORMAT);
    lmic_buf_free(&ck);
}

static void test_train_sampler_windows(void) {
    lmic_trainer *t = trainer_(0, 0, 1);
    CHECK(t);
    uint8_t data[100];
    for (int i = 0; i < 100; i++) data[i] = (uint8_t)i;
    const size_t seg[4] = {30, 40, 40, 100};  // [0,30) [30,40) (short) [] [40,100)
    uint8_t tok[3 * 24];
    int seen0 = 0, seen2 = 0;
    for (int k = 0; k < 200; k++) {
        CHECK_OK(lmic_trainer_sample(t, data, seg, NULL, 4, tok));
        for (int b = 0; b < 3; b++) {
            const uint8_t *w = tok + b * 24;
            for (int j = 1; j < 24; j++) CHECK(w[j] == w[0] + j);  // consecutive bytes
            CHECK(w[0] + 24 <= 30 || (w[0] >= 40 && w[0] + 24 <= 100));
            seen0 |= w[0] < 30;
            seen2 |= w[0] >= 40;
        }
    }
    CHECK(seen0 && seen2);
    // Aligned: starts 0, 3, 6 in [0, 30) (align 3) and 40, 45, ..., 75 in
    // [40, 100) (align 5), every one of them drawn.
    const size_t align[4] = {3, 1, 1, 5};
    int seen[100] = {0};
    for (int k = 0; k < 400; k++) {
        CHECK_OK(lmic_trainer_sample(t, data, seg, align, 4, tok));
        for (int b = 0; b < 3; b++) {
            int s0 = tok[b * 24];
            CHECKF((s0 < 30 && s0 % 3 == 0 && s0 + 24 <= 30) || (s0 >= 40 && (s0 - 40) % 5 == 0 && s0 + 24 <= 100),
                   "start %d", s0);
            seen[s0] = 1;
        }
    }
    int drawn = 0;
    for (int s0 = 0; s0 < 100; s0++) drawn += seen[s0];
    CHECKF(drawn == 3 + 8, "%d distinct aligned starts", drawn);
    const size_t zero[4] = {1, 1, 0, 1};
    CHECK(lmic_trainer_sample(t, data, seg, zero, 4, tok) == LMIC_ERR_ARG);
    const size_t tiny[1] = {10};
    CHECK(lmic_trainer_sample(t, data, tiny, NULL, 1, tok) == LMIC_ERR_ARG);
    lmic_trainer_free(t);
}

void test_train(void) {
    RUN(test_train_loss_equals_forward);
    RUN(test_train_gradcheck_finite_differences);
    RUN(test_train_learns_pattern);
    RUN(test_train_deterministic_threads);
    RUN(test_train_resume_equivalence);
    RUN(test_train_damaged_checkpoint);
    RUN(test_train_sampler_windows);
}
