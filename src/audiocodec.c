// audiocodec.c -- chunks of PCM frames <-> chunk payloads: the predictor
// front end, then the LM coder.
//
// A coded chunk's payload is its predictors' parameters (lmic_pred_write),
// a coder byte, and one arithmetic-coded stream: of the residuals' tokens
// under the model (lmic_lm_encode), or of the residuals themselves under the
// plain coder (lmic_plain_encode), or of the tokens under the model mixed
// with the plain coder's model (src/mixer.c). With LMIC_ENTROPY_AUTO the
// encoder codes every chunk plain and mixed and keeps the mixed stream only
// if it is at least 1/512 shorter (the model is slow to decode). A chunk whose payload would be
// no shorter than its sample tokens is stored as those tokens instead
// (LMIC_CHUNK_RAW), so no chunk ever grows. With mid/side, the predictors
// see (M, S) rather than (L, R) (it predicts better), and the residuals are
// tokenised as they are.
#include "lmic.h"
#include "varint.h"

#include <stdlib.h>
#include <string.h>

#define RETURN_IF(cond, st) do { if (cond) return (st); } while (0)

static int params_ok_(const lmic_audio_params *p) {
    return p && lmic_pcm_check(&p->spec) == LMIC_OK &&
           (p->spec.layout != LMIC_LAYOUT_CHANNEL || p->spec.channels == 1);
}

// The coder byte: 3 and 4 are 0 and 2 with online adaptation.
enum { CODER_LM_ = 0, CODER_PLAIN_ = 1, CODER_MIX_ = 2, CODER_LM_ADAPT_ = 3, CODER_MIX_ADAPT_ = 4 };

// What auto asks of the model: to save at least 1/512 of a chunk's plain stream.
#define AUTO_MARGIN_ 512

// An adaptation byte: steps (its low 4 bits) 1 .. 15, any learning-rate shift.
static int adapt_ok_(int ab) { return ab > 0 && ab <= 255 && (ab & 15) != 0; }

// The bytes of chunk i's segment streams (without their sizes).
static size_t seg_bytes_(const size_t *ssize, const size_t *sfirst, size_t i) {
    size_t b = 0;
    for (size_t j = sfirst[i]; j < sfirst[i + 1]; j++) b += ssize[j];
    return b;
}

lmic_status lmic_audio_chunk_head(const uint8_t *payload, size_t size, int channels, lmic_pred *pred,
                                  int *coder, size_t *used) {
    RETURN_IF(!payload || !pred || !coder || !used, LMIC_ERR_ARG);
    size_t u;
    lmic_status st = lmic_pred_read(payload, size, channels, pred, &u);
    if (st != LMIC_OK) return st;
    RETURN_IF(u >= size || payload[u] > CODER_MIX_ADAPT_, LMIC_ERR_CORRUPT);
    *coder = payload[u++];
    if (*coder >= CODER_LM_ADAPT_) {  // the adaptation byte
        RETURN_IF(u >= size || !adapt_ok_(payload[u]), LMIC_ERR_CORRUPT);
        u++;
    }
    *used = u;
    return LMIC_OK;
}

// --- online adaptation (lmic.h, docs/format.md "Online adaptation")

// Codes (code NULL) or decodes one chunk's k model segments (slen[j] tokens
// each, one after another in tok) with the model adapting between them as
// the adaptation byte ab says. Encoding appends the segment streams to out
// and their sizes to size[0..k); decoding reads code[j] (size[j] bytes) into
// tok. mix (NULL: none) describes the k segments. One thread: chunks are what
// threads split.
static lmic_status adapt_chunk_(const lmic_model *m, const lmic_lm_windows *w, const lmic_lm_mix *mix, int ab,
                                size_t k, const size_t *slen, uint8_t *tok, const uint8_t *const *code,
                                size_t *size, lmic_buf *out) {
    lmic_trainer *t = NULL;
    lmic_status st = LMIC_OK;
    if (k > 1) {
        lmic_train_config tc;
        lmic_train_config_default(&tc);
        tc.batch = LMIC_LM_SEGMENT_WINDOWS;
        tc.seq = (int)w->window;
        tc.lr = 1.0f / (float)(1u << ((ab >> 4) + 6));
        st = lmic_trainer_new(m, &tc, &t);
    }
    size_t off = 0;
    for (size_t j = 0; j < k && st == LMIC_OK; off += slen[j], j++) {
        const lmic_model *mj = t ? lmic_trainer_model(t) : m;
        lmic_lm_mix mx;
        if (mix) {
            mx = *mix;
            mx.frames += j;
            mx.start += j;
        }
        st = code ? lmic_lm_decode(mj, w, mix ? &mx : NULL, code + j, size + j, slen + j, 1, 1, tok + off)
                  : lmic_lm_encode(mj, w, mix ? &mx : NULL, tok + off, slen + j, 1, 1, out, size + j);
        // Every segment but the last is LMIC_LM_SEGMENT_WINDOWS whole windows:
        // one batch of (LMIC_LM_SEGMENT_WINDOWS, window) tokens.
        for (int s = 0; st == LMIC_OK && j + 1 < k && s < (ab & 15); s++) st = lmic_trainer_step(t, tok + off, NULL);
    }
    lmic_trainer_free(t);
    return st;
}

lmic_status lmic_audio_compress(const lmic_model *m, const lmic_audio_params *p, int predict, int coder,
                                const int32_t *frames, const size_t *nframes, size_t n, int threads,
                                lmic_buf *out, size_t *size, uint8_t *mode) {
    RETURN_IF(!m || !params_ok_(p) || (n && (!frames || !nframes || !out || !size || !mode)) ||
              threads < 1 || predict < -1 || predict > LMIC_PRED_EFFORT_HIGH ||
              coder < LMIC_ENTROPY_AUTO || coder > LMIC_ENTROPY_MIX ||
              (p->adapt != 0 && !adapt_ok_(p->adapt)), LMIC_ERR_ARG);
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
    // code_size[i]: chunk i's model stream; psize[i] its plain stream, in
    // plain[i] (SIZE_MAX: not coded that way).
    size_t *code_size = malloc((n + 1) * sizeof *code_size), *psize = malloc((n + 1) * sizeof *psize);
    lmic_buf *plain = calloc(n + 1, sizeof *plain);
    lmic_pred *pred = malloc((n * (size_t)C + 1) * sizeof *pred);
    int32_t *res = malloc((total * (size_t)C + 1) * sizeof *res);
    int32_t *ms = p->spec.mid_side ? malloc((total * (size_t)C + 1) * sizeof *ms) : NULL;
    // The model's input; the plain coder reads the residuals themselves.
    uint8_t *tok = coder != LMIC_ENTROPY_PLAIN ? malloc(total * fb + 1) : NULL;
    lmic_buf code = {0}, head = {0};
    // The model's segments: lengths, sizes, and for the mixer each one's
    // chunk frames and first token.
    size_t *slen = NULL, *ssize = NULL, *sfirst = NULL, *sfr = NULL, *sst = NULL;
    if (!foff || !len || !code_size || !psize || !plain || !pred || !res ||
        (coder != LMIC_ENTROPY_PLAIN && !tok) || (p->spec.mid_side && !ms)) {
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
        if (s == LMIC_OK && tok) s = lmic_pcm_encode(&rspec, res + foff[i] * (size_t)C, nframes[i], tok + foff[i] * fb);
        code_size[i] = psize[i] = SIZE_MAX;
        if (s == LMIC_OK && (coder == LMIC_ENTROPY_AUTO || coder == LMIC_ENTROPY_PLAIN))
            s = lmic_plain_encode(res + foff[i] * (size_t)C, nframes[i], C, p->spec.bits, &plain[i], &psize[i]);
        if (s != LMIC_OK) {
            #pragma omp critical
            pst = s;
        }
    }
    if ((st = pst) != LMIC_OK) goto fail;
    // The model codes each chunk as segments of LMIC_LM_SEGMENT_WINDOWS
    // windows, each its own stream (so that the decoder can step them side
    // by side); chunk i's are segments sfirst[i] .. sfirst[i + 1] - 1.
    const int mixed = coder == LMIC_ENTROPY_AUTO || coder == LMIC_ENTROPY_MIX;
    if (coder != LMIC_ENTROPY_PLAIN) {
        size_t seg = LMIC_LM_SEGMENT_WINDOWS * p->windows.window, nseg = 0;
        for (size_t i = 0; i < n; i++) nseg += (len[i] + seg - 1) / seg;
        if (!(slen = malloc((nseg + 1) * sizeof *slen)) || !(ssize = malloc((nseg + 1) * sizeof *ssize)) ||
            !(sfirst = malloc((n + 1) * sizeof *sfirst)) || !(sfr = malloc((nseg + 1) * sizeof *sfr)) ||
            !(sst = malloc((nseg + 1) * sizeof *sst))) {
            st = LMIC_ERR_NOMEM;
            goto fail;
        }
        for (size_t i = 0, j = 0; i < n; i++) {
            sfirst[i] = j;
            for (size_t t = 0; t < len[i]; t += seg, j++) {
                slen[j] = len[i] - t < seg ? len[i] - t : seg;
                sfr[j] = nframes[i];
                sst[j] = t;
            }
            sfirst[i + 1] = j;
        }
        lmic_lm_mix mix = {rspec, sfr, sst};
        if (!p->adapt) {
            st = lmic_lm_encode(m, &p->windows, mixed ? &mix : NULL, tok, slen, nseg, threads, &code, ssize);
        } else {  // chunk by chunk, each on one thread, its streams in part[i]
            lmic_buf *part = calloc(n + 1, sizeof *part);
            if (!part) { st = LMIC_ERR_NOMEM; goto fail; }
            #pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
            for (size_t i = 0; i < n; i++) {
                lmic_lm_mix mi = {rspec, sfr + sfirst[i], sst + sfirst[i]};
                lmic_status s = adapt_chunk_(m, &p->windows, mixed ? &mi : NULL, p->adapt, sfirst[i + 1] - sfirst[i],
                                             slen + sfirst[i], tok + foff[i] * fb, NULL, ssize + sfirst[i], &part[i]);
                if (s != LMIC_OK) {
                    #pragma omp critical
                    st = s;
                }
            }
            for (size_t i = 0; i < n && st == LMIC_OK; i++) st = lmic_buf_append(&code, part[i].data, part[i].size);
            for (size_t i = 0; i < n; i++) lmic_buf_free(&part[i]);
            free(part);
        }
        if (st != LMIC_OK) goto fail;
        for (size_t i = 0; i < n; i++) {  // the stream: the segments' sizes but the last's, then theirs
            code_size[i] = 0;
            for (size_t j = sfirst[i]; j < sfirst[i + 1]; j++)
                code_size[i] += ssize[j] + (j + 1 < sfirst[i + 1] ? lmic_varint_size_(ssize[j]) : 0);
        }
    }
    size_t coff = 0;
    for (size_t i = 0; i < n; i++) {
        head.size = 0;
        if ((st = lmic_pred_write(pred + i * (size_t)C, C, &head)) != LMIC_OK) goto fail;
        // Auto mixes a chunk only where that saves 1/AUTO_MARGIN_ of its plain
        // stream: the model takes 5-10 times the plain coder's time to decode.
        int use_plain = psize[i] <= code_size[i] ||
                        (psize[i] != SIZE_MAX && psize[i] - code_size[i] < psize[i] / AUTO_MARGIN_);
        size_t cs = use_plain ? psize[i] : code_size[i];
        uint8_t cb[2] = {use_plain ? CODER_PLAIN_ : mixed ? CODER_MIX_ : CODER_LM_, (uint8_t)p->adapt};
        size_t nb = 1;
        if (!use_plain && p->adapt) cb[0] = mixed ? CODER_MIX_ADAPT_ : CODER_LM_ADAPT_, nb = 2;
        if (cs < len[i] && head.size + nb + cs < len[i]) {
            mode[i] = LMIC_CHUNK_LM;
            size[i] = head.size + nb + cs;
            st = lmic_buf_append(out, head.data, head.size);
            if (st == LMIC_OK) st = lmic_buf_append(out, cb, nb);
            if (use_plain) {
                if (st == LMIC_OK) st = lmic_buf_append(out, plain[i].data, cs);
            } else {
                for (size_t j = sfirst[i]; st == LMIC_OK && j + 1 < sfirst[i + 1]; j++)
                    st = lmic_varint_put_(out, ssize[j]);
                if (st == LMIC_OK) st = lmic_buf_append(out, code.data + coff, seg_bytes_(ssize, sfirst, i));
            }
        } else {  // the model would expand this chunk: keep its sample tokens
            mode[i] = LMIC_CHUNK_RAW;
            size[i] = len[i];
            st = lmic_buf_reserve(out, len[i]);
            if (st == LMIC_OK) st = lmic_pcm_encode(&p->spec, frames + foff[i] * (size_t)C, nframes[i],
                                                    out->data + out->size);
            if (st == LMIC_OK) out->size += len[i];
        }
        if (st != LMIC_OK) goto fail;
        if (code_size[i] != SIZE_MAX) coff += seg_bytes_(ssize, sfirst, i);
    }
    goto done;
fail:
    if (out) out->size = out0;
done:
    free(foff); free(len); free(code_size); free(psize); free(pred); free(res); free(ms); free(tok);
    free(slen); free(ssize); free(sfirst); free(sfr); free(sst);
    for (size_t i = 0; plain && i < n; i++) lmic_buf_free(&plain[i]);
    free(plain);
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
    for (size_t i = 0; i < n; i++) RETURN_IF(nframes[i] < 1 || mode[i] > LMIC_CHUNK_RAW, LMIC_ERR_ARG);
    lmic_status st = LMIC_OK;
    // The coded chunks: chunk i's stream is code[i], csize[i] bytes, coded
    // by coder[i]. The model's segments gathered: the j-th is lcode[j],
    // lsize[j] bytes, clen[j] tokens; ctok holds their residual tokens in
    // order, chunk i's from tokoff[i].
    size_t *csize = malloc((n + 1) * sizeof *csize), *foff = malloc((n + 1) * sizeof *foff);
    size_t *tokoff = malloc((n + 1) * sizeof *tokoff), *sfirst = malloc((n + 1) * sizeof *sfirst);
    const uint8_t **code = malloc((n + 1) * sizeof *code);
    lmic_pred *pred = malloc((n * (size_t)C + 1) * sizeof *pred);
    int *coder = malloc((n + 1) * sizeof *coder);
    uint8_t *ctok = NULL;
    // The model's streams are segments (at most nseg), gathered in lcode,
    // lsize and clen.
    size_t seg = LMIC_LM_SEGMENT_WINDOWS * p->windows.window, nseg = 0;
    for (size_t i = 0; i < n; i++) nseg += (nframes[i] * fb + seg - 1) / seg;
    const uint8_t **lcode = malloc((nseg + 1) * sizeof *lcode);
    size_t *lsize = malloc((nseg + 1) * sizeof *lsize), *clen = malloc((nseg + 1) * sizeof *clen);
    size_t *mfr = malloc((nseg + 1) * sizeof *mfr), *mst = malloc((nseg + 1) * sizeof *mst);
    if (!csize || !foff || !tokoff || !sfirst || !code || !lcode || !pred || !coder || !lsize || !clen || !mfr || !mst) {
        st = LMIC_ERR_NOMEM;
        goto done;
    }
    size_t poff = 0, maxf = 0, ltok = 0;
    foff[0] = 0;
    for (size_t i = 0; i < n; i++) {
        foff[i + 1] = foff[i] + nframes[i];
        if (nframes[i] > maxf) maxf = nframes[i];
        coder[i] = -1;
        if (mode[i] == LMIC_CHUNK_RAW) {
            if (size[i] != nframes[i] * fb) { st = LMIC_ERR_CORRUPT; goto done; }
            lmic_pcm_decode(&p->spec, payload + poff, nframes[i], frames + foff[i] * (size_t)C);
        } else {
            size_t used;
            st = lmic_audio_chunk_head(payload + poff, size[i], C, pred + i * (size_t)C, &coder[i], &used);
            if (st != LMIC_OK) goto done;
            code[i] = payload + poff + used;
            csize[i] = size[i] - used;
            if (coder[i] != CODER_PLAIN_) ltok += nframes[i] * fb;
        }
        poff += size[i];
    }
    if (!(ctok = malloc(ltok + 1))) { st = LMIC_ERR_NOMEM; goto done; }
    // The model's chunks, kind by kind (pure, mixed, and both adapted): their
    // segments' sizes (all but the last), then their streams. A kind without
    // adaptation is one decoder call; an adapted chunk decodes alone (its
    // model is its own), chunks spread over threads.
    ltok = 0;
    static const int kinds[] = {CODER_LM_, CODER_MIX_, CODER_LM_ADAPT_, CODER_MIX_ADAPT_};
    for (size_t ki = 0; ki < sizeof kinds / sizeof kinds[0]; ki++) {
        const int kind = kinds[ki], mixed = kind == CODER_MIX_ || kind == CODER_MIX_ADAPT_;
        size_t nlm = 0, base = ltok;
        for (size_t i = 0; i < n; i++) {
            if (coder[i] != kind) continue;
            sfirst[i] = nlm;
            size_t L = nframes[i] * fb, k = (L + seg - 1) / seg, pos = 0, left;
            uint64_t v;
            for (size_t j = 0; j + 1 < k; j++) {
                if (lmic_varint_get_(code[i], csize[i], &pos, &v) != 0 || v > csize[i]) {
                    st = LMIC_ERR_CORRUPT;
                    goto done;
                }
                lsize[nlm + j] = (size_t)v;
            }
            left = csize[i] - pos;
            for (size_t j = 0; j + 1 < k; j++) {
                if (lsize[nlm + j] > left) { st = LMIC_ERR_CORRUPT; goto done; }
                left -= lsize[nlm + j];
            }
            lsize[nlm + k - 1] = left;
            tokoff[i] = ltok;
            for (size_t j = 0; j < k; j++) {
                lcode[nlm + j] = code[i] + pos;
                pos += lsize[nlm + j];
                clen[nlm + j] = L - j * seg < seg ? L - j * seg : seg;
                mfr[nlm + j] = nframes[i];
                mst[nlm + j] = j * seg;
            }
            nlm += k;
            ltok += L;
        }
        lmic_lm_mix mix = {rspec, mfr, mst};
        if (nlm == 0) continue;
        if (kind < CODER_LM_ADAPT_) {
            st = lmic_lm_decode(m, &p->windows, mixed ? &mix : NULL, lcode, lsize, clen, nlm, threads, ctok + base);
        } else {
            #pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
            for (size_t i = 0; i < n; i++) {
                if (coder[i] != kind) continue;
                const size_t j = sfirst[i], k = (nframes[i] * fb + seg - 1) / seg;
                lmic_lm_mix mi = {rspec, mfr + j, mst + j};
                lmic_status s = adapt_chunk_(m, &p->windows, mixed ? &mi : NULL, code[i][-1], k, clen + j,
                                             ctok + tokoff[i], lcode + j, lsize + j, NULL);
                if (s != LMIC_OK) {
                    #pragma omp critical
                    st = s;
                }
            }
        }
        if (st != LMIC_OK) goto done;
    }
    // Residuals -> samples, chunk by chunk over threads (the plain coder's
    // chunks decode here too).
    lmic_status pst = LMIC_OK;
    #pragma omp parallel num_threads(threads)
    {
        int32_t *res = malloc((maxf * (size_t)C + 1) * sizeof *res);
        #pragma omp for schedule(dynamic)
        for (size_t i = 0; i < n; i++) {
            if (coder[i] < 0) continue;
            int32_t *x = frames + foff[i] * (size_t)C;
            lmic_status s = res ? LMIC_OK : LMIC_ERR_NOMEM;
            if (s == LMIC_OK && coder[i] == CODER_PLAIN_)
                s = lmic_plain_decode(code[i], csize[i], nframes[i], C, p->spec.bits, res);
            else if (s == LMIC_OK)
                s = lmic_pcm_decode(&rspec, ctok + tokoff[i], nframes[i], res);
            if (s == LMIC_OK) s = lmic_pred_restore(pred + i * (size_t)C, res, nframes[i], C, p->spec.bits, x);
            if (s == LMIC_OK && p->spec.mid_side) lmic_pcm_mid_side(x, nframes[i], p->spec.bits, 1);
            if (s != LMIC_OK) {
                #pragma omp critical
                pst = s;
            }
        }
        free(res);
    }
    st = pst;
done:
    free(csize); free(clen); free(foff); free(tokoff); free(sfirst); free(code); free(lcode);
    free(pred); free(coder); free(ctok); free(lsize); free(mfr); free(mst);
    return st;
}
