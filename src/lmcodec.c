// lmcodec.c -- the language-model coder: chunks of tokens <-> coded streams.
//
// Each chunk is one arithmetic-coded stream. The model reads a chunk in
// windows of `window` tokens, its context restarting at each window; a
// window may first re-read the last `overlap` tokens of the one before
// (context it does not code). Windows are independent model sequences, so
// the encoder scores many at once with whole-sequence forward passes (equal
// lengths batched) and feeds each row to its chunk's encoder in order. The
// decoder steps up to LMIC_LM_BATCH chunks together through one KV-cache
// stepper, one lane per chunk, all lanes restarting at the same window
// boundaries. Rule 1: the forward pass and the stepper give the same float
// bits (the library's guarantee) and lmic_cdf_from_logp is integer
// arithmetic on lmic's own exp, so both sides build the same CDFs.
#include "lmic.h"
#include "mixer.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define RETURN_IF(cond, st) do { if (cond) return (st); } while (0)

uint32_t lmic_crc32(uint32_t crc, const void *data, size_t n) {
    const uint8_t *p = data;
    uLong c = crc;
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

static int windows_ok_(const lmic_model *m, const lmic_lm_windows *w) {
    size_t ctx = (size_t)lmic_model_get_config(m)->context;
    return w && w->window >= 1 && w->overlap <= w->window && w->window + w->overlap <= ctx;
}

// Window k of a chunk of L tokens: it codes tokens [s, s + n) after
// re-reading the p tokens before s.
typedef struct { size_t s, n, p; } window_;
static window_ window_at_(const lmic_lm_windows *w, size_t L, size_t k) {
    window_ r;
    r.s = k * w->window;
    r.n = L - r.s < w->window ? L - r.s : w->window;
    r.p = k == 0 ? 0 : w->overlap;
    return r;
}
static size_t num_windows_(const lmic_lm_windows *w, size_t L) { return (L + w->window - 1) / w->window; }

// --- encoder

// Codes chunks [0, n) on `threads` threads inside each forward pass.
// With `mix`, chunk i (of this range) is the stream that mix->frames[i0 + i]
// and mix->start[i0 + i] describe.
static lmic_status encode_range_(const lmic_model *m, const lmic_lm_windows *w, const lmic_lm_mix *mix,
                                 size_t i0, const uint8_t *tokens, const size_t *len, size_t n,
                                 int threads, lmic_buf *out, size_t *size) {
    size_t out0 = out->size, T = w->window + w->overlap;
    lmic_status st = LMIC_OK;
    // in is (B, T) model input; logp is (B, T, V); enc[b] is the open
    // encoder of the chunk whose window sits in row b.
    uint8_t *in = malloc((size_t)LMIC_LM_BATCH * T);
    float *logp = malloc((size_t)LMIC_LM_BATCH * T * LMIC_VOCAB * sizeof *logp);
    lmic_encoder *enc = lmic_encoder_new();
    size_t *off = malloc((n + 1) * sizeof *off);
    lmic_mixer_ *mx = mix ? lmic_mixer_new_() : NULL;  // the open chunk's mixer
    if (!in || !logp || !enc || !off || (mix && !mx)) { st = LMIC_ERR_NOMEM; goto fail; }
    off[0] = 0;
    for (size_t i = 0; i < n; i++) off[i + 1] = off[i] + len[i];
    // Windows in order, chunk by chunk. A batch is up to LMIC_LM_BATCH
    // consecutive windows of one sequence length, all from the same chunk or
    // from consecutive chunks; the encoder follows the rows in order and
    // closes each chunk's stream after its last window.
    size_t i = 0, k = 0;  // the next window: chunk i, window k
    uint32_t cdf[LMIC_VOCAB + 1];
    lmic_encoder_reset(enc);
    while (i < n) {
        size_t bi[LMIC_LM_BATCH], bk[LMIC_LM_BATCH];
        int B = 0;
        size_t ci = i, ck = k, Tb = 0;
        while (B < LMIC_LM_BATCH && ci < n) {
            window_ x = window_at_(w, len[ci], ck);
            if (B > 0 && x.p + x.n != Tb) break;
            Tb = x.p + x.n;
            memcpy(in + (size_t)B * Tb, tokens + off[ci] + x.s - x.p, Tb);
            bi[B] = ci; bk[B] = ck; B++;
            if (++ck == num_windows_(w, len[ci])) { ci++; ck = 0; }
        }
        if ((st = lmic_model_forward(m, in, B, (int)Tb, threads, logp)) != LMIC_OK) goto fail;
        for (int b = 0; b < B; b++) {
            window_ x = window_at_(w, len[bi[b]], bk[b]);
            const uint8_t *tok = tokens + off[bi[b]] + x.s;
            if (mx && bk[b] == 0) lmic_mixer_reset_(mx, &mix->spec, mix->frames[i0 + bi[b]], mix->start[i0 + bi[b]]);
            for (size_t t = 0; t < x.n; t++) {
                const float *lp = logp + ((size_t)b * Tb + x.p + t) * LMIC_VOCAB;
                if (mx) lmic_mixer_cdf_(mx, lp, cdf);
                else lmic_cdf_from_logp(lp, cdf);
                if ((st = lmic_encoder_encode(enc, cdf, LMIC_VOCAB, tok[t])) != LMIC_OK) goto fail;
                if (mx) lmic_mixer_update_(mx, tok[t]);
            }
            if (bk[b] + 1 == num_windows_(w, len[bi[b]])) {  // the chunk is done
                if ((st = lmic_encoder_finish(enc)) != LMIC_OK) goto fail;
                const uint8_t *code = lmic_encoder_data(enc, &size[bi[b]]);
                if ((st = lmic_buf_append(out, code, size[bi[b]])) != LMIC_OK) goto fail;
                lmic_encoder_reset(enc);
            }
        }
        i = ci;
        k = ck;
    }
    goto done;
fail:
    out->size = out0;
done:
    free(in);
    free(logp);
    lmic_encoder_free(enc);
    free(off);
    lmic_mixer_free_(mx);
    return st;
}

// Threads split the chunks into contiguous groups, each coded by one thread
// alone: no thread ever waits on another inside a forward pass (barriers per
// layer cost dearly on a busy machine). Every chunk's stream is the same
// whatever the grouping (the forward pass does not depend on the batch).
static int mix_ok_(const lmic_lm_mix *mix, size_t n) {
    return !mix || (lmic_pcm_check(&mix->spec) == LMIC_OK && (n == 0 || (mix->frames && mix->start)));
}

lmic_status lmic_lm_encode(const lmic_model *m, const lmic_lm_windows *w, const lmic_lm_mix *mix,
                           const uint8_t *tokens, const size_t *len, size_t n, int threads,
                           lmic_buf *out, size_t *size) {
    RETURN_IF(!m || !windows_ok_(m, w) || (n && (!tokens || !len || !out || !size)) || threads < 1 ||
              !mix_ok_(mix, n), LMIC_ERR_ARG);
    for (size_t i = 0; i < n; i++) RETURN_IF(len[i] < 1, LMIC_ERR_ARG);
    if (n == 0) return LMIC_OK;
    const size_t G = (size_t)threads < n ? (size_t)threads : n;
    if (G == 1) return encode_range_(m, w, mix, 0, tokens, len, n, threads, out, size);
    lmic_buf *part = calloc(G, sizeof *part);
    size_t *first = malloc((G + 1) * sizeof *first), *toff = malloc((G + 1) * sizeof *toff);
    lmic_status st = LMIC_OK;
    if (!part || !first || !toff) { st = LMIC_ERR_NOMEM; goto done; }
    for (size_t g = 0; g <= G; g++) first[g] = n * g / G;
    toff[0] = 0;
    for (size_t g = 0; g < G; g++) {
        toff[g + 1] = toff[g];
        for (size_t i = first[g]; i < first[g + 1]; i++) toff[g + 1] += len[i];
    }
    #pragma omp parallel for schedule(static, 1) num_threads((int)G)
    for (size_t g = 0; g < G; g++) {
        lmic_status s = encode_range_(m, w, mix, first[g], tokens + toff[g], len + first[g],
                                      first[g + 1] - first[g], 1, &part[g], size + first[g]);
        if (s != LMIC_OK) {
            #pragma omp critical
            st = s;
        }
    }
    size_t out0 = out->size;
    for (size_t g = 0; g < G && st == LMIC_OK; g++) st = lmic_buf_append(out, part[g].data, part[g].size);
    if (st != LMIC_OK) out->size = out0;
done:
    for (size_t g = 0; part && g < G; g++) lmic_buf_free(&part[g]);
    free(part);
    free(first);
    free(toff);
    return st;
}

// --- decoder

// Decodes chunks idx[0..B) in one stepper, lane b decoding chunk idx[b].
// All lanes restart at the same window boundaries; a lane whose chunk has
// ended (or whose window is shorter) steps on 0 tokens and its rows are
// ignored.
static lmic_status decode_batch_(lmic_stepper *s, const lmic_lm_windows *w, const lmic_lm_mix *mix,
                                 lmic_mixer_ **mx, const int *idx, int B, const uint8_t *const *code,
                                 const size_t *size, const size_t *len, const size_t *toff, int threads,
                                 uint8_t *tokens, float *logp) {
    lmic_decoder *dec[LMIC_LM_BATCH] = {0};
    uint8_t prev[LMIC_LM_BATCH] = {0};
    lmic_status st = LMIC_OK;
    size_t L = 0;
    for (int b = 0; b < B; b++) {
        if (len[idx[b]] > L) L = len[idx[b]];
        dec[b] = lmic_decoder_new(code[idx[b]], size[idx[b]]);
        if (!dec[b]) { st = LMIC_ERR_NOMEM; goto done; }
        if (mix) lmic_mixer_reset_(mx[b], &mix->spec, mix->frames[idx[b]], mix->start[idx[b]]);
    }
    uint32_t cdf[LMIC_VOCAB + 1];
    for (size_t k = 0; k < num_windows_(w, L); k++) {
        window_ x = window_at_(w, L, k);  // s and p are the same for every lane
        lmic_stepper_reset(s);
        for (size_t t = 0; t < x.p + w->window && x.s + t < L + x.p; t++) {
            // Step t predicts sequence position t, i.e. token x.s - x.p + t,
            // having been given the token before it.
            for (int b = 0; b < B; b++) {
                size_t q = x.s - x.p + t;  // the token this step predicts
                prev[b] = t == 0 || q - 1 >= len[idx[b]] ? 0 : tokens[toff[idx[b]] + q - 1];
            }
            if ((st = lmic_stepper_step(s, prev, threads, logp)) != LMIC_OK) goto done;
            if (t < x.p) continue;  // re-read context: nothing to decode
            for (int b = 0; b < B; b++) {
                size_t q = x.s - x.p + t;
                if (q >= len[idx[b]]) continue;
                if (mix) lmic_mixer_cdf_(mx[b], logp + (size_t)b * LMIC_VOCAB, cdf);
                else lmic_cdf_from_logp(logp + (size_t)b * LMIC_VOCAB, cdf);
                int sym;
                if ((st = lmic_decoder_decode(dec[b], cdf, LMIC_VOCAB, &sym)) != LMIC_OK) goto done;
                tokens[toff[idx[b]] + q] = (uint8_t)sym;
                if (mix) lmic_mixer_update_(mx[b], sym);
            }
        }
    }
done:
    for (int b = 0; b < B; b++) lmic_decoder_free(dec[b]);
    return st;
}

lmic_status lmic_lm_decode(const lmic_model *m, const lmic_lm_windows *w, const lmic_lm_mix *mix,
                           const uint8_t *const *code, const size_t *size, const size_t *len, size_t n,
                           int threads, uint8_t *tokens) {
    RETURN_IF(!m || !windows_ok_(m, w) || (n && (!code || !size || !len || !tokens)) || threads < 1 ||
              !mix_ok_(mix, n), LMIC_ERR_ARG);
    for (size_t i = 0; i < n; i++) RETURN_IF(len[i] < 1 || (size[i] && !code[i]), LMIC_ERR_ARG);
    if (n == 0) return LMIC_OK;
    // Batches of `lanes` chunks, spread over the threads so that each has
    // one at least when there are enough chunks; a batch runs on one thread
    // (no barriers per step) unless there is only one batch.
    size_t per = (n + (size_t)threads - 1) / (size_t)threads;
    const int lanes = per < LMIC_LM_BATCH ? (int)per : LMIC_LM_BATCH;
    const size_t nb = (n + (size_t)lanes - 1) / (size_t)lanes;
    const int outer = nb < (size_t)threads ? (int)nb : threads, inner = outer == 1 ? threads : 1;
    size_t *toff = malloc((n + 1) * sizeof *toff);
    if (!toff) return LMIC_ERR_NOMEM;
    toff[0] = 0;
    for (size_t i = 0; i < n; i++) toff[i + 1] = toff[i] + len[i];
    lmic_status st = LMIC_OK;
    #pragma omp parallel num_threads(outer)
    {
        float *logp = malloc((size_t)lanes * LMIC_VOCAB * sizeof *logp);  // (B, V)
        lmic_stepper *s = lmic_stepper_new(m, lanes);
        lmic_mixer_ *mx[LMIC_LM_BATCH] = {0};  // the lanes' mixers
        lmic_status ts = logp && s ? LMIC_OK : LMIC_ERR_NOMEM;
        for (int b = 0; mix && b < lanes; b++)
            if (!(mx[b] = lmic_mixer_new_())) ts = LMIC_ERR_NOMEM;
        #pragma omp for schedule(dynamic, 1)
        for (size_t k = 0; k < nb; k++) {
            if (ts != LMIC_OK) continue;
            int idx[LMIC_LM_BATCH];
            size_t i = k * (size_t)lanes;
            int B = n - i < (size_t)lanes ? (int)(n - i) : lanes;
            for (int b = 0; b < B; b++) idx[b] = (int)(i + (size_t)b);
            ts = decode_batch_(s, w, mix, mx, idx, B, code, size, len, toff, inner, tokens, logp);
        }
        if (ts != LMIC_OK) {
            #pragma omp critical
            st = ts;
        }
        lmic_stepper_free(s);
        free(logp);
        for (int b = 0; b < lanes; b++) lmic_mixer_free_(mx[b]);
    }
    free(toff);
    return st;
}

// --- chunks that are never expanded

lmic_status lmic_lm_compress(const lmic_model *m, const uint8_t *tokens, const size_t *len,
                             size_t n, int threads, lmic_buf *out, size_t *size, uint8_t *mode) {
    RETURN_IF(!m || (n && (!tokens || !len || !out || !size || !mode)) || threads < 1,
              LMIC_ERR_ARG);
    size_t ctx = (size_t)lmic_model_get_config(m)->context;
    for (size_t i = 0; i < n; i++) RETURN_IF(len[i] < 1 || len[i] > ctx, LMIC_ERR_ARG);
    lmic_lm_windows w = {ctx, 0};
    lmic_buf code = {0};
    size_t out0 = out->size, off = 0, coff = 0;
    lmic_status st = lmic_lm_encode(m, &w, NULL, tokens, len, n, threads, &code, size);
    for (size_t i = 0; st == LMIC_OK && i < n; i++) {
        if (size[i] >= len[i]) {  // the model would expand this chunk: keep the tokens
            mode[i] = LMIC_CHUNK_RAW;
            st = lmic_buf_append(out, tokens + off, len[i]);
            coff += size[i];
            size[i] = len[i];
        } else {
            mode[i] = LMIC_CHUNK_LM;
            st = lmic_buf_append(out, code.data + coff, size[i]);
            coff += size[i];
        }
        off += len[i];
    }
    if (st != LMIC_OK) out->size = out0;
    lmic_buf_free(&code);
    return st;
}

lmic_status lmic_lm_decompress(const lmic_model *m, const uint8_t *payload, const size_t *size,
                               const uint8_t *mode, const size_t *len, size_t n, int threads,
                               uint8_t *tokens) {
    RETURN_IF(!m || (n && (!size || !mode || !len || !tokens)) || threads < 1, LMIC_ERR_ARG);
    size_t ctx = (size_t)lmic_model_get_config(m)->context;
    lmic_lm_windows w = {ctx, 0};
    lmic_status st = LMIC_OK;
    // The LM chunks, gathered; the raw ones copied straight through.
    const uint8_t **code = malloc((n + 1) * sizeof *code);
    size_t *csize = malloc((n + 1) * sizeof *csize), *clen = malloc((n + 1) * sizeof *clen);
    size_t *ctoff = malloc((n + 1) * sizeof *ctoff);
    uint8_t *ctok = NULL;
    if (!code || !csize || !clen || !ctoff) { st = LMIC_ERR_NOMEM; goto done; }
    size_t nlm = 0, poff = 0, toff = 0, lmtok = 0;
    for (size_t i = 0; i < n; i++) {
        if (len[i] < 1 || len[i] > ctx || mode[i] > LMIC_CHUNK_RAW) { st = LMIC_ERR_ARG; goto done; }
        if (mode[i] == LMIC_CHUNK_RAW) {
            if (size[i] != len[i]) { st = LMIC_ERR_CORRUPT; goto done; }
            memcpy(tokens + toff, payload + poff, len[i]);
        } else {
            code[nlm] = payload + poff;
            csize[nlm] = size[i];
            clen[nlm] = len[i];
            ctoff[nlm++] = toff;
            lmtok += len[i];
        }
        poff += size[i];
        toff += len[i];
    }
    if (nlm == 0) goto done;
    if (!(ctok = malloc(lmtok))) { st = LMIC_ERR_NOMEM; goto done; }
    if ((st = lmic_lm_decode(m, &w, NULL, code, csize, clen, nlm, threads, ctok)) != LMIC_OK) goto done;
    for (size_t j = 0, o = 0; j < nlm; o += clen[j], j++) memcpy(tokens + ctoff[j], ctok + o, clen[j]);
done:
    free(code); free(csize); free(clen); free(ctoff); free(ctok);
    return st;
}
