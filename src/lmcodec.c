// lmcodec.c -- the language-model compressor: chunks of tokens <-> payloads.
//
// Encoder: chunks of equal length are scored together by one whole-sequence
// forward pass; each row of log-probabilities becomes an integer CDF that
// drives the arithmetic coder. Decoder: the chunks of a batch share one
// KV-cache stepper; at each position every lane's previous token goes in and
// one row of log-probabilities per lane comes out, which the lane's decoder
// turns into the next token. Rule 1: the forward pass and the stepper give
// the same float bits (the library's guarantee), and lmic_cdf_from_logp is
// integer arithmetic on lmic's own exp, so both sides build the same CDFs.
#include "lmic.h"

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

// --- encoder

// Codes one chunk of T tokens with its (T, V) log-probabilities; appends the
// payload (or the raw tokens, when the code is no shorter) to out.
static lmic_status code_chunk_(lmic_encoder *enc, const uint8_t *tok, size_t T,
                               const float *logp, lmic_buf *out, size_t *size, uint8_t *mode) {
    uint32_t cdf[LMIC_VOCAB + 1];
    lmic_status st;
    lmic_encoder_reset(enc);
    for (size_t t = 0; t < T; t++) {
        lmic_cdf_from_logp(logp + t * LMIC_VOCAB, cdf);
        if ((st = lmic_encoder_encode(enc, cdf, LMIC_VOCAB, tok[t])) != LMIC_OK) return st;
    }
    if ((st = lmic_encoder_finish(enc)) != LMIC_OK) return st;
    size_t n;
    const uint8_t *code = lmic_encoder_data(enc, &n);
    if (n >= T) {  // the model would expand this chunk: keep the tokens
        *mode = LMIC_CHUNK_RAW;
        *size = T;
        return lmic_buf_append(out, tok, T);
    }
    *mode = LMIC_CHUNK_LM;
    *size = n;
    return lmic_buf_append(out, code, n);
}

lmic_status lmic_lm_compress(const lmic_model *m, const uint8_t *tokens, const size_t *len,
                             size_t n, int threads, lmic_buf *out, size_t *size, uint8_t *mode) {
    RETURN_IF(!m || (n && (!tokens || !len || !out || !size || !mode)) || threads < 1,
              LMIC_ERR_ARG);
    size_t ctx = (size_t)lmic_model_get_config(m)->context;
    for (size_t i = 0; i < n; i++) RETURN_IF(len[i] < 1 || len[i] > ctx, LMIC_ERR_ARG);
    size_t out0 = out->size;
    lmic_status st = LMIC_OK;
    lmic_encoder *enc = lmic_encoder_new();
    // logp is (B, T, V) for the largest batch this call will run.
    size_t maxT = 0;
    for (size_t i = 0; i < n; i++) if (len[i] > maxT) maxT = len[i];
    float *logp = n ? malloc((size_t)LMIC_LM_BATCH * maxT * LMIC_VOCAB * sizeof *logp) : NULL;
    if (!enc || (n && !logp)) { st = LMIC_ERR_NOMEM; goto fail; }
    size_t i = 0, off = 0;
    while (i < n) {
        // A batch: up to LMIC_LM_BATCH consecutive chunks of one length.
        size_t T = len[i], B = 1;
        while (B < LMIC_LM_BATCH && i + B < n && len[i + B] == T) B++;
        st = lmic_model_forward(m, tokens + off, (int)B, (int)T, threads, logp);
        if (st != LMIC_OK) goto fail;
        for (size_t b = 0; b < B; b++) {
            st = code_chunk_(enc, tokens + off + b * T, T, logp + b * T * LMIC_VOCAB, out,
                             &size[i + b], &mode[i + b]);
            if (st != LMIC_OK) goto fail;
        }
        i += B;
        off += B * T;
    }
    lmic_encoder_free(enc);
    free(logp);
    return LMIC_OK;
fail:
    out->size = out0;
    lmic_encoder_free(enc);
    free(logp);
    return st;
}

// --- decoder

// Decodes the LM chunks idx[0..B) in one stepper: lane b decodes chunk idx[b].
// Lanes whose chunk has ended keep stepping on a 0 token (their rows are
// ignored), so chunks of different lengths share the batch.
static lmic_status decode_batch_(lmic_stepper *s, const int *idx, int B, const uint8_t *payload,
                                 const size_t *poff, const size_t *size, const size_t *len,
                                 const size_t *toff, int threads, uint8_t *tokens, float *logp) {
    lmic_decoder *dec[LMIC_LM_BATCH] = {0};
    uint8_t prev[LMIC_LM_BATCH] = {0};
    lmic_status st = LMIC_OK;
    size_t T = 0;
    for (int b = 0; b < B; b++) {
        int i = idx[b];
        if (len[i] > T) T = len[i];
        dec[b] = lmic_decoder_new(payload + poff[i], size[i]);
        if (!dec[b]) { st = LMIC_ERR_NOMEM; goto done; }
    }
    lmic_stepper_reset(s);
    uint32_t cdf[LMIC_VOCAB + 1];
    for (size_t t = 0; t < T; t++) {
        if ((st = lmic_stepper_step(s, prev, threads, logp)) != LMIC_OK) goto done;
        for (int b = 0; b < B; b++) {
            int i = idx[b];
            if (t >= len[i]) { prev[b] = 0; continue; }
            lmic_cdf_from_logp(logp + (size_t)b * LMIC_VOCAB, cdf);
            int sym;
            if ((st = lmic_decoder_decode(dec[b], cdf, LMIC_VOCAB, &sym)) != LMIC_OK) goto done;
            tokens[toff[i] + t] = prev[b] = (uint8_t)sym;
        }
    }
done:
    for (int b = 0; b < B; b++) lmic_decoder_free(dec[b]);
    return st;
}

lmic_status lmic_lm_decompress(const lmic_model *m, const uint8_t *payload, const size_t *size,
                               const uint8_t *mode, const size_t *len, size_t n, int threads,
                               uint8_t *tokens) {
    RETURN_IF(!m || (n && (!size || !mode || !len || !tokens)) || threads < 1, LMIC_ERR_ARG);
    size_t ctx = (size_t)lmic_model_get_config(m)->context;
    lmic_status st = LMIC_OK;
    size_t *poff = malloc((n + 1) * sizeof *poff), *toff = malloc((n + 1) * sizeof *toff);
    float *logp = malloc((size_t)LMIC_LM_BATCH * LMIC_VOCAB * sizeof *logp);  // (B, V)
    lmic_stepper *s = NULL;
    if (!poff || !toff || !logp) { st = LMIC_ERR_NOMEM; goto done; }
    // Offsets, and the raw chunks copied straight through.
    size_t nlm = 0;
    poff[0] = toff[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (len[i] < 1 || len[i] > ctx || mode[i] > LMIC_CHUNK_RAW) { st = LMIC_ERR_ARG; goto done; }
        if (mode[i] == LMIC_CHUNK_RAW) {
            if (size[i] != len[i]) { st = LMIC_ERR_CORRUPT; goto done; }
            memcpy(tokens + toff[i], payload + poff[i], len[i]);
        } else {
            nlm++;
        }
        poff[i + 1] = poff[i] + size[i];
        toff[i + 1] = toff[i] + len[i];
    }
    if (nlm == 0) goto done;
    int lanes = nlm < LMIC_LM_BATCH ? (int)nlm : LMIC_LM_BATCH;
    if (!(s = lmic_stepper_new(m, lanes))) { st = LMIC_ERR_NOMEM; goto done; }
    int idx[LMIC_LM_BATCH], B = 0;
    for (size_t i = 0; i < n; i++) {
        if (mode[i] != LMIC_CHUNK_LM) continue;
        idx[B++] = (int)i;
        if (B == lanes || i + 1 == n) {
            st = decode_batch_(s, idx, B, payload, poff, size, len, toff, threads, tokens, logp);
            if (st != LMIC_OK) goto done;
            B = 0;
        }
    }
    if (B > 0) st = decode_batch_(s, idx, B, payload, poff, size, len, toff, threads, tokens, logp);
done:
    lmic_stepper_free(s);
    free(poff);
    free(toff);
    free(logp);
    return st;
}
