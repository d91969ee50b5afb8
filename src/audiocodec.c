// audiocodec.c -- chunks of PCM frames <-> chunk payloads: the predictor
// front end, then the LM coder.
//
// An LM chunk's payload is its predictors' parameters (lmic_pred_write) and
// then one arithmetic-coded stream of the residuals' tokens (lmic_lm_encode).
// A chunk whose payload would be no shorter than its sample tokens is stored
// as those tokens instead (LMIC_CHUNK_RAW), so no chunk ever grows. With
// mid/side, the predictors see (M, S) rather than (L, R) (it predicts
// better), and the residuals are tokenised as they are.
#include "lmic.h"

#include <stdlib.h>
#include <string.h>

#define RETURN_IF(cond, st) do { if (cond) return (st); } while (0)

static int params_ok_(const lmic_audio_params *p) {
    return p && lmic_pcm_check(&p->spec) == LMIC_OK &&
           (p->spec.layout != LMIC_LAYOUT_CHANNEL || p->spec.channels == 1);
}

lmic_status lmic_audio_compress(const lmic_model *m, const lmic_audio_params *p, int predict,
                                const int32_t *frames, const size_t *nframes, size_t n, int threads,
                                lmic_buf *out, size_t *size, uint8_t *mode) {
    RETURN_IF(!m || !params_ok_(p) || (n && (!frames || !nframes || !out || !size || !mode)) ||
              threads < 1 || predict < -1 || predict > LMIC_PRED_EFFORT_HIGH, LMIC_ERR_ARG);
    for (size_t i = 0; i < n; i++) RETURN_IF(nframes[i] < 1, LMIC_ERR_ARG);
    const int C = p->spec.channels;
    const size_t fb = (size_t)lmic_pcm_frame_bytes(&p->spec);
    lmic_pcm_spec rspec = p->spec;  // the residuals' tokenisation
    rspec.mid_side = 0;
    size_t out0 = out ? out->size : 0, total = 0;
    for (size_t i = 0; i < n; i++) total += nframes[i];
    lmic_status st = LMIC_OK;
    // foff[i]: chunk i's first frame; len[i]: its tokens; pred is (n, C);
    // res is (total, C) residuals; tok is their tokens.
    size_t *foff = malloc((n + 1) * sizeof *foff), *len = malloc((n + 1) * sizeof *len);
    size_t *code_size = malloc((n + 1) * sizeof *code_size);
    lmic_pred *pred = malloc((n * (size_t)C + 1) * sizeof *pred);
    int32_t *res = malloc((total * (size_t)C + 1) * sizeof *res);
    int32_t *ms = p->spec.mid_side ? malloc((total * (size_t)C + 1) * sizeof *ms) : NULL;
    uint8_t *tok = malloc(total * fb + 1);
    lmic_buf code = {0}, head = {0};
    if (!foff || !len || !code_size || !pred || !res || !tok || (p->spec.mid_side && !ms)) {
        st = LMIC_ERR_NOMEM;
        goto fail;
    }
    if (ms) {
        memcpy(ms, frames, total * (size_t)C * sizeof *ms);
        lmic_pcm_mid_side(ms, total, p->spec.bits, 0);
    }
    foff[0] = 0;
    for (size_t i = 0; i < n; i++) {
        foff[i + 1] = foff[i] + nframes[i];
        len[i] = nframes[i] * fb;
    }
    // The front end: chunks are independent, so they spread over threads.
    lmic_status pst = LMIC_OK;
    #pragma omp parallel for schedule(dynamic) num_threads(threads)
    for (size_t i = 0; i < n; i++) {
        const int32_t *x = (ms ? ms : frames) + foff[i] * (size_t)C;
        lmic_pred *pr = pred + i * (size_t)C;
        lmic_status s = LMIC_OK;
        if (predict < 0) memset(pr, 0, (size_t)C * sizeof *pr);  // LMIC_PRED_NONE
        else s = lmic_pred_choose(x, nframes[i], C, p->spec.bits, (lmic_pred_effort)predict, pr);
        if (s == LMIC_OK) s = lmic_pred_apply(pr, x, nframes[i], C, p->spec.bits, res + foff[i] * (size_t)C);
        if (s == LMIC_OK) s = lmic_pcm_encode(&rspec, res + foff[i] * (size_t)C, nframes[i], tok + foff[i] * fb);
        if (s != LMIC_OK) {
            #pragma omp critical
            pst = s;
        }
    }
    if ((st = pst) != LMIC_OK) goto fail;
    if ((st = lmic_lm_encode(m, &p->windows, tok, len, n, threads, &code, code_size)) != LMIC_OK) goto fail;
    size_t coff = 0;
    for (size_t i = 0; i < n; i++) {
        head.size = 0;
        if ((st = lmic_pred_write(pred + i * (size_t)C, C, &head)) != LMIC_OK) goto fail;
        if (head.size + code_size[i] < len[i]) {
            mode[i] = LMIC_CHUNK_LM;
            size[i] = head.size + code_size[i];
            st = lmic_buf_append(out, head.data, head.size);
            if (st == LMIC_OK) st = lmic_buf_append(out, code.data + coff, code_size[i]);
        } else {  // the model would expand this chunk: keep its sample tokens
            mode[i] = LMIC_CHUNK_RAW;
            size[i] = len[i];
            st = lmic_buf_reserve(out, len[i]);
            if (st == LMIC_OK) st = lmic_pcm_encode(&p->spec, frames + foff[i] * (size_t)C, nframes[i],
                                                    out->data + out->size);
            if (st == LMIC_OK) out->size += len[i];
        }
        if (st != LMIC_OK) goto fail;
        coff += code_size[i];
    }
    goto done;
fail:
    if (out) out->size = out0;
done:
    free(foff); free(len); free(code_size); free(pred); free(res); free(ms); free(tok);
    lmic_buf_free(&code);
    lmic_buf_free(&head);
    return st;
}

lmic_status lmic_audio_decompress(const lmic_model *m, const lmic_audio_params *p,
                                  const uint8_t *payload, const size_t *size, const uint8_t *mode,
                                  const size_t *nframes, size_t n, int threads, int32_t *frames) {
    RETURN_IF(!m || !params_ok_(p) || (n && (!payload || !size || !mode || !nframes || !frames)) ||
              threads < 1, LMIC_ERR_ARG);
    const int C = p->spec.channels;
    const size_t fb = (size_t)lmic_pcm_frame_bytes(&p->spec);
    lmic_pcm_spec rspec = p->spec;  // the residuals' tokenisation
    rspec.mid_side = 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        RETURN_IF(nframes[i] < 1 || mode[i] > LMIC_CHUNK_RAW, LMIC_ERR_ARG);
        total += nframes[i];
    }
    lmic_status st = LMIC_OK;
    // The LM chunks gathered: j-th has code[j], csize[j], clen[j] tokens, and
    // is chunk which[j]; ctok holds their residual tokens in order.
    size_t *which = malloc((n + 1) * sizeof *which), *csize = malloc((n + 1) * sizeof *csize);
    size_t *clen = malloc((n + 1) * sizeof *clen), *foff = malloc((n + 1) * sizeof *foff);
    const uint8_t **code = malloc((n + 1) * sizeof *code);
    lmic_pred *pred = malloc((n * (size_t)C + 1) * sizeof *pred);
    uint8_t *ctok = malloc(total * fb + 1);
    int32_t *res = NULL;
    if (!which || !csize || !clen || !foff || !code || !pred || !ctok) { st = LMIC_ERR_NOMEM; goto done; }
    size_t nlm = 0, poff = 0, maxf = 0;
    foff[0] = 0;
    for (size_t i = 0; i < n; i++) {
        foff[i + 1] = foff[i] + nframes[i];
        if (nframes[i] > maxf) maxf = nframes[i];
        if (mode[i] == LMIC_CHUNK_RAW) {
            if (size[i] != nframes[i] * fb) { st = LMIC_ERR_CORRUPT; goto done; }
            lmic_pcm_decode(&p->spec, payload + poff, nframes[i], frames + foff[i] * (size_t)C);
        } else {
            size_t used;
            st = lmic_pred_read(payload + poff, size[i], C, pred + i * (size_t)C, &used);
            if (st != LMIC_OK) goto done;
            which[nlm] = i;
            code[nlm] = payload + poff + used;
            csize[nlm] = size[i] - used;
            clen[nlm++] = nframes[i] * fb;
        }
        poff += size[i];
    }
    if (nlm == 0) goto done;
    if ((st = lmic_lm_decode(m, &p->windows, code, csize, clen, nlm, threads, ctok)) != LMIC_OK) goto done;
    if (!(res = malloc((maxf * (size_t)C + 1) * sizeof *res))) { st = LMIC_ERR_NOMEM; goto done; }
    for (size_t j = 0, t = 0; j < nlm; t += clen[j], j++) {
        size_t i = which[j];
        int32_t *x = frames + foff[i] * (size_t)C;
        lmic_pcm_decode(&rspec, ctok + t, nframes[i], res);
        st = lmic_pred_restore(pred + i * (size_t)C, res, nframes[i], C, p->spec.bits, x);
        if (st != LMIC_OK) goto done;
        if (p->spec.mid_side) lmic_pcm_mid_side(x, nframes[i], p->spec.bits, 1);
    }
done:
    free(which); free(csize); free(clen); free(foff); free(code); free(pred); free(ctok); free(res);
    return st;
}
