// tokenise_train.c -- issue 6, question 1 with lmic's own trainer and model:
// offset binary vs zig-zag residual tokens at an equal training budget.
//
// Reads bench/dump_residuals.c's DATA/train.* and DATA/dev.*, tokenises the
// residuals (offset: u = r + 32768; zigzag: u = 2r for r >= 0, -2r-1 for
// r < 0; then u >> 8, u & 255, MSB first), trains a fresh model (C 64, L 2,
// NH 4, widening 4, context 256, sinusoidal, post-LN: models/default.lmm's
// shape at the coder's window of 256 tokens) with lmic_trainer_step on
// batches from lmic_trainer_sample (windows of 256 tokens inside one chunk,
// starting on a sample boundary; the held-out last 5% of the train chunks
// excluded), Adam lr 2e-3 (betas 0.9/0.999), warm-up 5% of the steps, cosine
// to 0 at the last step, clip 1. The model's random init and the sampler's
// seed are both SEED, so two schemes with one seed see the same windows.
//
// Evaluation, as bench/tokenise_experiment.py: N_DEV windows of 128 samples
// (256 tokens) taken evenly (window j*W/N of the W tiled ones) from the dev
// chunks, and N_HELD from the held-out train chunks, scored from a fresh
// context (lmic_model_forward; the coder's windows, overlap 0). Appends one
// JSON line to OUT.
//
// Build (after `make B=/tmp/btok`):
//   cc -O2 -std=c11 -Iinclude bench/tokenise_train.c /tmp/btok/liblmic.a -lz -lm -fopenmp
//     -o /tmp/btok/tokenise_train
// Usage: tokenise_train DATA offset|zigzag SEED STEPS OUT.jsonl [N_DEV N_HELD]
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lmic.h"

#define S 128      // samples per window
#define T (2 * S)  // tokens per window
#define BATCH 32

typedef struct {
    int16_t *r;
    int64_t *ch;  // chunk starts, then the total
    size_t n, nch;
} dump;

static void *slurp(const char *dir, const char *name, const char *suf, size_t *bytes) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, suf);
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *d = malloc((size_t)sz + 1);
    if (!d || fread(d, 1, (size_t)sz, f) != (size_t)sz) {
        fprintf(stderr, "%s: read failed\n", path);
        exit(1);
    }
    fclose(f);
    *bytes = (size_t)sz;
    return d;
}

static dump load(const char *dir, const char *name) {
    dump d;
    size_t b;
    d.r = slurp(dir, name, ".res.i16", &b);
    d.n = b / 2;
    d.ch = slurp(dir, name, ".chunks.i64", &b);
    d.nch = b / 8 - 1;
    if ((size_t)d.ch[d.nch] != d.n) {
        fprintf(stderr, "%s: inconsistent dump\n", name);
        exit(1);
    }
    return d;
}

static void tokenise(const dump *d, int zigzag, uint8_t *tok) {
    for (size_t i = 0; i < d->n; i++) {
        int32_t r = d->r[i];
        uint32_t u = zigzag ? (r >= 0 ? 2u * (uint32_t)r : (uint32_t)(-2 * r - 1)) : (uint32_t)(r + 32768);
        tok[2 * i] = (uint8_t)(u >> 8);
        tok[2 * i + 1] = (uint8_t)u;
    }
}

// Window starts (samples) tiled over chunks [lo, hi), then n of them evenly.
static size_t eval_starts(const dump *d, size_t lo, size_t hi, size_t n, int64_t **out) {
    size_t w = 0;
    for (size_t c = lo; c < hi; c++) w += (size_t)(d->ch[c + 1] - d->ch[c]) / S;
    int64_t *all = malloc((w + 1) * sizeof *all);
    size_t k = 0;
    for (size_t c = lo; c < hi; c++)
        for (int64_t s = d->ch[c]; s + S <= d->ch[c + 1]; s += S) all[k++] = s;
    if (n > w) n = w;
    int64_t *st = malloc((n + 1) * sizeof *st);
    for (size_t j = 0; j < n; j++) st[j] = all[(size_t)((uint64_t)j * w / n)];
    free(all);
    *out = st;
    return n;
}

typedef struct {
    double bpb, hi, lo, bps, late_bps;
} scores;

static scores evaluate(const lmic_model *m, const uint8_t *tok, const int64_t *st, size_t n) {
    enum { EB = 32 };
    static double pos[T];
    memset(pos, 0, sizeof pos);
    uint8_t *x = malloc((size_t)EB * T);
    float *logp = malloc((size_t)EB * T * 256 * sizeof *logp);
    for (size_t j = 0; j < n; j += EB) {
        int b = (int)(n - j < EB ? n - j : EB);
        for (int i = 0; i < b; i++) memcpy(x + (size_t)i * T, tok + 2 * st[j + i], T);
        if (lmic_model_forward(m, x, b, T, 1, logp) != LMIC_OK) {
            fprintf(stderr, "forward failed\n");
            exit(1);
        }
        for (int i = 0; i < b; i++)
            for (int t = 0; t < T; t++)
                pos[t] -= logp[((size_t)i * T + t) * 256 + x[(size_t)i * T + t]];
    }
    free(x);
    free(logp);
    scores s = {0};
    double hi = 0, lo = 0, lhi = 0, llo = 0;
    for (int t = 0; t < T; t++) {
        double v = pos[t] / (double)n / log(2.0);
        if (t % 2 == 0) hi += v; else lo += v;
        if (t >= T / 2) { if (t % 2 == 0) lhi += v; else llo += v; }
    }
    s.hi = hi / S;
    s.lo = lo / S;
    s.bps = s.hi + s.lo;
    s.bpb = s.bps / 2;
    s.late_bps = (lhi + llo) / (S / 2);
    return s;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s DATA offset|zigzag SEED STEPS OUT.jsonl [N_DEV N_HELD]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1], *scheme = argv[2], *outp = argv[5];
    int zigzag = strcmp(scheme, "zigzag") == 0;
    if (!zigzag && strcmp(scheme, "offset") != 0) {
        fprintf(stderr, "scheme: offset or zigzag\n");
        return 2;
    }
    uint64_t seed = strtoull(argv[3], NULL, 10);
    int64_t steps = atoll(argv[4]);
    size_t ndev = argc > 6 ? (size_t)atoll(argv[6]) : 4096, nheld = argc > 7 ? (size_t)atoll(argv[7]) : 1024;

    dump tr = load(dir, "train"), dv = load(dir, "dev");
    size_t held0 = tr.nch - (tr.nch / 20 > 0 ? tr.nch / 20 : 1);  // chunks [held0, nch) held out
    uint8_t *trt = malloc(2 * tr.n + 1), *dvt = malloc(2 * dv.n + 1);
    tokenise(&tr, zigzag, trt);
    tokenise(&dv, zigzag, dvt);
    size_t *seg_end = malloc(held0 * sizeof *seg_end), *seg_align = malloc(held0 * sizeof *seg_align);
    for (size_t c = 0; c < held0; c++) {
        seg_end[c] = 2 * (size_t)tr.ch[c + 1];
        seg_align[c] = 2;
    }
    int64_t *dst, *hst;
    ndev = eval_starts(&dv, 0, dv.nch, ndev, &dst);
    nheld = eval_starts(&tr, held0, tr.nch, nheld, &hst);

    lmic_model_config mc = {.d_model = 64, .n_layers = 2, .n_heads = 4, .widening = 4, .context = T,
                            .positions = LMIC_POS_SINUSOIDAL, .norm = LMIC_NORM_POST};
    lmic_model *m0;
    lmic_train_config tc;
    lmic_train_config_default(&tc);
    tc.batch = BATCH;
    tc.seq = T;
    tc.threads = 1;
    tc.lr = 2e-3f;
    tc.warmup = steps / 20 > 0 ? steps / 20 : 1;
    tc.cosine_steps = steps;
    tc.clip = 1.0f;
    tc.seed = seed;
    lmic_trainer *tr_;
    if (lmic_model_new_random(&mc, seed, &m0) != LMIC_OK || lmic_trainer_new(m0, &tc, &tr_) != LMIC_OK) {
        fprintf(stderr, "model/trainer failed\n");
        return 1;
    }
    lmic_model_free(m0);
    uint8_t *batch = malloc((size_t)BATCH * T);
    double t0 = now(), run = 0;
    int64_t n_run = 0;
    for (int64_t i = 0; i < steps; i++) {
        lmic_train_stats st;
        if (lmic_trainer_sample(tr_, trt, seg_end, seg_align, held0, batch) != LMIC_OK ||
            lmic_trainer_step(tr_, batch, &st) != LMIC_OK) {
            fprintf(stderr, "step failed\n");
            return 1;
        }
        run += st.loss;
        n_run++;
        if ((i + 1) % 100 == 0 || i + 1 == steps) {
            fprintf(stderr, "%s seed %llu step %lld/%lld train %.4f bits/byte lr %.2e %.0fs\n", scheme,
                    (unsigned long long)seed, (long long)(i + 1), (long long)steps, run / n_run / log(2.0),
                    st.lr, now() - t0);
            if (i + 1 < steps) run = 0, n_run = 0;
        }
    }
    double train_s = now() - t0, t1 = now();
    const lmic_model *m = lmic_trainer_model(tr_);
    scores d = evaluate(m, dvt, dst, ndev), h = evaluate(m, trt, hst, nheld);
    double eval_s = now() - t1;
    char line[2048];
    snprintf(line, sizeof line,
             "{\"impl\": \"lmic-c\", \"variant\": \"%s\", \"seed\": %llu, \"steps\": %lld, \"batch\": %d, "
             "\"tokens\": %lld, \"params\": %zu, \"train_s\": %.1f, \"final_train_bpb\": %.6f, "
             "\"dev\": {\"bpb\": %.6f, \"hi\": %.6f, \"lo\": %.6f, \"bps\": %.6f, \"late_bps\": %.6f}, "
             "\"held\": {\"bpb\": %.6f, \"hi\": %.6f, \"lo\": %.6f, \"bps\": %.6f, \"late_bps\": %.6f}, "
             "\"n_dev\": %zu, \"n_held\": %zu, \"eval_s\": %.1f}",
             scheme, (unsigned long long)seed, (long long)steps, BATCH, (long long)steps * BATCH * T,
             lmic_model_num_params(m), train_s, run / n_run / log(2.0), d.bpb, d.hi, d.lo, d.bps, d.late_bps,
             h.bpb, h.hi, h.lo, h.bps, h.late_bps, ndev, nheld, eval_s);
    puts(line);
    FILE *f = fopen(outp, "a");
    if (f) {
        fprintf(f, "%s\n", line);
        fclose(f);
    }
    lmic_trainer_free(tr_);
    return 0;
}
