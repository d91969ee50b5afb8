// score.c -- `lmic score`: bits per byte of a model on data.
//
// Chunks are scored independently, each from a fresh context (BOS at its
// start), as the paper's LM compressor codes them. Chunks of equal length are
// batched into one forward call (or stepped together through the KV cache
// with --incremental: both give the same bits, which the cross-build tests
// prove with --dump-cdf). Each chunk is then really arithmetic-coded with the
// integer CDFs, so the reported rate counts every byte the coder emits.
#include "score.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"

#define MAX_BATCH 1024

typedef struct {
    const char *file;
    double bytes, ideal_bits, cdf_bits, coded_bytes;
    long long chunks;
} tally;

typedef struct {
    const lmic_model *m;
    const score_opts *o;
    lmic_stepper *st;
    int st_batch;
    lmic_encoder *enc;
    uint8_t *tok;          // (batch, T) pending chunks
    const char **file;     // (batch,) their source files
    int nb, T;
    float *logp;           // (batch, T, V)
    tally *files;          // per source file, in order
    size_t nfiles;
    tally total;
} scorer;

static int sfail_(char *err, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

static void put32_(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

// Log-probabilities of the pending chunks into S->logp.
static lmic_status predict_(scorer *S) {
    int nb = S->nb, T = S->T;
    if (!S->o->incremental) return lmic_model_forward(S->m, S->tok, nb, T, S->o->threads, S->logp);
    if (S->st_batch != nb) {
        lmic_stepper_free(S->st);
        S->st_batch = 0;
        if (!(S->st = lmic_stepper_new(S->m, nb))) return LMIC_ERR_NOMEM;
        S->st_batch = nb;
    }
    lmic_stepper_reset(S->st);
    uint8_t prev[MAX_BATCH];
    float *row = S->logp + (size_t)nb * T * LMIC_VOCAB;  // spare room after the rows
    for (int t = 0; t < T; t++) {
        for (int b = 0; b < nb; b++) prev[b] = t ? S->tok[(size_t)b * T + t - 1] : 0;
        lmic_status s = lmic_stepper_step(S->st, prev, S->o->threads, row);
        if (s != LMIC_OK) return s;
        for (int b = 0; b < nb; b++)
            memcpy(S->logp + ((size_t)b * T + t) * LMIC_VOCAB, row + (size_t)b * LMIC_VOCAB,
                   LMIC_VOCAB * sizeof *row);
    }
    return LMIC_OK;
}

static tally *file_tally_(scorer *S, const char *file) {
    if (S->nfiles && strcmp(S->files[S->nfiles - 1].file, file) == 0) return &S->files[S->nfiles - 1];
    if (S->nfiles % 64 == 0) {
        tally *t = realloc(S->files, (S->nfiles + 64) * sizeof *t);
        if (!t) return NULL;
        S->files = t;
    }
    tally *t = &S->files[S->nfiles++];
    memset(t, 0, sizeof *t);
    t->file = file;
    return t;
}

// Scores and codes the pending batch.
static int flush_(scorer *S, char *err, size_t errlen) {
    if (S->nb == 0) return 0;
    lmic_status st = predict_(S);
    if (st != LMIC_OK) return sfail_(err, errlen, "model: %s", lmic_strerror(st));
    uint32_t cdf[LMIC_VOCAB + 1];
    uint8_t raw[(LMIC_VOCAB + 1) * 4];
    for (int b = 0; b < S->nb; b++) {
        tally *ft = file_tally_(S, S->file[b]);
        if (!ft) return sfail_(err, errlen, "out of memory");
        double ideal = 0, cbits = 0;
        lmic_encoder_reset(S->enc);
        for (int t = 0; t < S->T; t++) {
            const float *lp = S->logp + ((size_t)b * S->T + t) * LMIC_VOCAB;
            int v = S->tok[(size_t)b * S->T + t];
            uint32_t total = lmic_cdf_from_logp(lp, cdf);
            ideal -= (double)lp[v] / 0.69314718055994531;  // ln 2
            cbits -= log2((double)(cdf[v + 1] - cdf[v]) / (double)total);
            if ((st = lmic_encoder_encode(S->enc, cdf, LMIC_VOCAB, v)) != LMIC_OK)
                return sfail_(err, errlen, "coder: %s", lmic_strerror(st));
            if (S->o->dump_cdf) {
                for (int k = 0; k <= LMIC_VOCAB; k++) put32_(raw + 4 * k, cdf[k]);
                if (fwrite(raw, 4, LMIC_VOCAB + 1, S->o->dump_cdf) != LMIC_VOCAB + 1)
                    return sfail_(err, errlen, "--dump-cdf: write error");
            }
            if (S->o->dump_logp) {
                uint8_t fb[LMIC_VOCAB * 4];
                for (int k = 0; k < LMIC_VOCAB; k++) {
                    uint32_t u;
                    memcpy(&u, &lp[k], 4);
                    put32_(fb + 4 * k, u);
                }
                if (fwrite(fb, 4, LMIC_VOCAB, S->o->dump_logp) != LMIC_VOCAB)
                    return sfail_(err, errlen, "--dump-logp: write error");
            }
        }
        if ((st = lmic_encoder_finish(S->enc)) != LMIC_OK)
            return sfail_(err, errlen, "coder: %s", lmic_strerror(st));
        size_t coded;
        lmic_encoder_data(S->enc, &coded);
        tally *ts[2] = {ft, &S->total};
        for (int k = 0; k < 2; k++) {
            ts[k]->bytes += S->T;
            ts[k]->ideal_bits += ideal;
            ts[k]->cdf_bits += cbits;
            ts[k]->coded_bytes += (double)coded;
            ts[k]->chunks++;
        }
    }
    S->nb = 0;
    return 0;
}

static void print_line_(FILE *out, const tally *t, int json, int last) {
    double bpb = t->bytes > 0 ? t->ideal_bits / t->bytes : 0;
    double cbpb = t->bytes > 0 ? t->cdf_bits / t->bytes : 0;
    double rate = t->bytes > 0 ? 100.0 * t->coded_bytes / t->bytes : 0;
    if (json) {
        fprintf(out, "  {\"file\": \"%s\", \"chunks\": %lld, \"bytes\": %.0f, \"bits_per_byte\": %.6f, "
                     "\"cdf_bits_per_byte\": %.6f, \"coded_bytes\": %.0f, \"rate\": %.6f}%s\n",
                t->file, t->chunks, t->bytes, bpb, cbpb, t->coded_bytes, rate / 100, last ? "" : ",");
    } else {
        fprintf(out, "%-40s %7lld %10.0f %9.4f %9.4f %10.0f %8.2f\n", t->file, t->chunks, t->bytes,
                bpb, cbpb, t->coded_bytes, rate);
    }
}

int score_run(loader *L, const lmic_model *m, const score_opts *o, FILE *out, char *err,
              size_t errlen) {
    const lmic_model_config *cfg = lmic_model_get_config(m);
    scorer S;
    memset(&S, 0, sizeof S);
    S.m = m;
    S.o = o;
    int B = o->batch < 1 ? 1 : (o->batch > MAX_BATCH ? MAX_BATCH : o->batch);
    int rc = -1, r;
    S.enc = lmic_encoder_new();
    S.tok = malloc((size_t)B * cfg->context);
    S.file = malloc((size_t)B * sizeof *S.file);
    S.logp = malloc(((size_t)B * cfg->context + (size_t)B) * LMIC_VOCAB * sizeof *S.logp);
    if (!S.enc || !S.tok || !S.file || !S.logp) { sfail_(err, errlen, "out of memory"); goto done; }
    const uint8_t *data;
    size_t n;
    chunk_meta meta;
    progress pr;
    progress_start(&pr, "score", 0, o->progress);
    while ((r = loader_next(L, &data, &n, &meta)) == 1) {
        if (n > (size_t)cfg->context) {
            sfail_(err, errlen, "chunks of %zu bytes exceed the model's context of %d (use --chunk-size)",
                   n, cfg->context);
            goto done;
        }
        if (S.nb == B || (S.nb && (int)n != S.T)) {
            if (flush_(&S, err, errlen)) goto done;
            progress_update(&pr, S.total.bytes);
        }
        S.T = (int)n;
        memcpy(S.tok + (size_t)S.nb * n, data, n);
        S.file[S.nb++] = meta.file;
    }
    if (r < 0) { sfail_(err, errlen, "%s", loader_error(L)); goto done; }
    if (flush_(&S, err, errlen)) goto done;
    progress_end(&pr);
    if (S.total.chunks == 0) {
        sfail_(err, errlen, "no data: not one whole chunk (try --keep-partial or a smaller --chunk-size)");
        goto done;
    }
    S.total.file = "TOTAL";
    if (o->json) {
        char fp[33];
        lmic_model_fingerprint(m, fp);
        fprintf(out, "{\"model\": \"%s\", \"files\": [\n", fp);
        for (size_t i = 0; i < S.nfiles; i++) print_line_(out, &S.files[i], 1, i + 1 == S.nfiles);
        fprintf(out, "], \"total\":\n");
        print_line_(out, &S.total, 1, 1);
        fprintf(out, "}\n");
    } else {
        fprintf(out, "%-40s %7s %10s %9s %9s %10s %8s\n", "file", "chunks", "bytes", "bits/B",
                "cdf b/B", "coded B", "rate%");
        for (size_t i = 0; i < S.nfiles; i++) print_line_(out, &S.files[i], 0, 0);
        print_line_(out, &S.total, 0, 1);
    }
    rc = 0;
done:
    lmic_stepper_free(S.st);
    lmic_encoder_free(S.enc);
    free(S.tok);
    free(S.file);
    free(S.logp);
    free(S.files);
    return rc;
}
