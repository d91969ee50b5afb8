// eval.c -- `lmic eval`: the classical half of the paper's Table 1.
//
// As the paper's compress.py: the "whole" rate compresses all chunks joined;
// the "chunked" rate compresses each chunk alone and counts the codec's
// header once (compressed size of a one-frame input, subtracted for every
// chunk but the first). Unlike the paper, every output is decompressed and
// compared before any number is reported.
#include "eval.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "codec_cmd.h"
#include "progress.h"

typedef struct {
    size_t off, n;
    chunk_meta meta;
} chunk_ref;

typedef struct {
    const char *name;
    int ok;                  // 0: not applicable to this data (why in note)
    char note[96];
    size_t header, whole, chunked_sum;
    double chunked_rate, whole_rate, t_chunked, t_whole;
} result;

static int efail_(char *err, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

// The parameters FLAC reads the bytes with; -1 if FLAC cannot take them.
static int params_(const chunk_meta *m, lmic_codec_params *p) {
    memset(p, 0, sizeof *p);
    if (m->bits != 8 && m->bits != 16) return -1;
    p->sample_rate = m->sample_rate;
    p->channels = m->interleaved ? m->channels : 1;
    p->bits = m->bits;
    return 0;
}

// Compresses in[0..n), checks that it decompresses to the same bytes, and
// returns the compressed size in *size and the compression time in *t.
static int code_(const lmic_codec *c, const uint8_t *in, size_t n, const lmic_codec_params *p,
                 lmic_buf *tmp, lmic_buf *back, size_t *size, double *t, char *err, size_t errlen) {
    tmp->size = back->size = 0;
    double t0 = now_seconds();
    lmic_status st = c->compress(in, n, p, tmp);
    *t += now_seconds() - t0;
    if (st != LMIC_OK) return efail_(err, errlen, "%s: compression failed: %s", c->name, lmic_strerror(st));
    st = c->decompress(tmp->data, tmp->size, p, back);
    if (st != LMIC_OK || back->size != n || (n && memcmp(back->data, in, n) != 0))
        return efail_(err, errlen, "%s: decompressed data differs from the input (%s)", c->name,
                      st != LMIC_OK ? lmic_strerror(st) : "wrong bytes");
    *size = tmp->size;
    return 0;
}

static int run_codec_(const lmic_codec *c, const lmic_buf *all, const chunk_ref *ch, size_t nch,
                      int show, result *r, char *err, size_t errlen) {
    lmic_buf tmp = {0}, back = {0};
    int rc = -1;
    memset(r, 0, sizeof *r);
    r->name = c->name;
    r->ok = 1;
    int is_flac = strcmp(c->name, "flac") == 0;
    lmic_codec_params p0;
    if (params_(&ch[0].meta, &p0) != 0) {
        if (is_flac) {
            r->ok = 0;
            snprintf(r->note, sizeof r->note, "n/a: FLAC here takes 8- or 16-bit tokens");
            return 0;
        }
    }
    // Header: one frame of zero bytes, as the paper's compress(b'\0').
    static const uint8_t zeros[64];
    size_t fb = (size_t)ch[0].meta.frame_bytes;
    double tdummy = 0;
    if (fb > sizeof zeros) fb = 1;
    if (code_(c, zeros, fb, &p0, &tmp, &back, &r->header, &tdummy, err, errlen)) goto done;
    // Whole stream, when every chunk has the same sample shape (the rate is
    // only a label in the FLAC header: the first chunk's is used).
    int same = 1;
    for (size_t i = 1; i < nch && same; i++) {
        lmic_codec_params p;
        same = params_(&ch[i].meta, &p) == 0 && p.channels == p0.channels && p.bits == p0.bits;
    }
    if (!is_flac || same) {
        if (code_(c, all->data, all->size, &p0, &tmp, &back, &r->whole, &r->t_whole, err, errlen))
            goto done;
        r->whole_rate = (double)r->whole / (double)all->size;
    } else {
        r->whole_rate = -1;  // mixed rates or layouts: no single FLAC stream
    }
    progress pr;
    progress_start(&pr, c->name, (double)nch, show);
    for (size_t i = 0; i < nch; i++) {
        lmic_codec_params p;
        size_t sz;
        if (params_(&ch[i].meta, &p) != 0 && is_flac) {
            progress_end(&pr);
            r->ok = 0;
            snprintf(r->note, sizeof r->note, "n/a: FLAC here takes 8- or 16-bit tokens");
            rc = 0;
            goto done;
        }
        if (code_(c, all->data + ch[i].off, ch[i].n, &p, &tmp, &back, &sz, &r->t_chunked, err,
                  errlen)) {
            progress_end(&pr);
            goto done;
        }
        r->chunked_sum += sz;
        progress_update(&pr, (double)(i + 1));
    }
    progress_end(&pr);
    double counted = (double)r->chunked_sum - (double)r->header * (double)(nch - 1);
    r->chunked_rate = counted / (double)all->size;
    rc = 0;
done:
    lmic_buf_free(&tmp);
    lmic_buf_free(&back);
    return rc;
}

// A row without a header or a whole-stream rate (the model rows).
static void model_row_(result *r, const char *name) {
    memset(r, 0, sizeof *r);
    r->name = name;
    r->ok = 1;
    r->whole_rate = -1;
}

// The paper's LM row: every chunk coded alone by lmic_lm_compress (a chunk
// the model would expand is stored raw, as in .lmic files), no header, no
// whole-stream rate; every chunk decoded back and compared.
static int run_lm_(const eval_opts *e, const lmic_buf *all, const chunk_ref *ch, size_t nch,
                   result *r, char *err, size_t errlen) {
    model_row_(r, "lm");
    int ctx = lmic_model_get_config(e->model)->context;
    size_t *len = malloc(nch * sizeof *len), *size = malloc(nch * sizeof *size);
    uint8_t *mode = malloc(nch), *back = malloc(all->size + 1);
    lmic_buf out = {0};
    int rc = -1;
    if (!len || !size || !mode || !back) { efail_(err, errlen, "out of memory"); goto done; }
    for (size_t i = 0; i < nch; i++) {
        len[i] = ch[i].n;
        if (ch[i].n > (size_t)ctx) {
            efail_(err, errlen, "lm: chunks of %zu bytes exceed the model's context of %d (use --chunk-size)",
                   ch[i].n, ctx);
            goto done;
        }
    }
    double t0 = now_seconds();
    lmic_status st = lmic_lm_compress(e->model, all->data, len, nch, e->threads, &out, size, mode);
    r->t_chunked = now_seconds() - t0;
    if (st != LMIC_OK) { efail_(err, errlen, "lm: compression failed: %s", lmic_strerror(st)); goto done; }
    st = lmic_lm_decompress(e->model, out.data, size, mode, len, nch, e->threads, back);
    if (st != LMIC_OK || memcmp(back, all->data, all->size) != 0) {
        efail_(err, errlen, "lm: decompressed data differs from the input (%s)",
               st != LMIC_OK ? lmic_strerror(st) : "wrong bytes");
        goto done;
    }
    r->chunked_sum = out.size;
    r->chunked_rate = (double)out.size / (double)all->size;
    rc = 0;
done:
    free(len); free(size); free(mode); free(back);
    lmic_buf_free(&out);
    return rc;
}

// lmic's own audio codec, every chunk alone: the predictor front end, then
// the plain coder or the built-in model mixed with its model, whichever is
// shorter (lmic compress's --coder auto), each chunk's tokens read as the
// loader's samples (8 or 16 bits, channels interleaved). A payload counts in full
// (predictor parameters, coder byte, stream); one as long as its chunk is
// the chunk as it is (nothing shrank it), so the sizes alone, which every
// row leaves uncounted, tell the decoder which is which. Every chunk is
// decoded back and compared.
static int run_audio_(const eval_opts *e, const lmic_buf *all, const chunk_ref *ch, size_t nch,
                      result *r, char *err, size_t errlen) {
    model_row_(r, "lmic");
    const lmic_model *m = e->codec_model();
    int ctx = lmic_model_get_config(m)->context;
    size_t maxn = 0;
    for (size_t i = 0; i < nch; i++) maxn = ch[i].n > maxn ? ch[i].n : maxn;
    lmic_buf out = {0};
    int32_t *x = malloc((maxn + 1) * sizeof *x), *y = malloc((maxn + 1) * sizeof *y);
    uint8_t *back = malloc(maxn + 1);
    int rc = -1;
    if (!x || !y || !back) { efail_(err, errlen, "out of memory"); goto done; }
    double t0 = now_seconds();
    for (size_t i = 0; i < nch; i++) {
        const chunk_meta *mt = &ch[i].meta;
        if (mt->bits != 8 && mt->bits != 16) {
            r->ok = 0;
            snprintf(r->note, sizeof r->note, "n/a: lmic here takes 8- or 16-bit tokens");
            rc = 0;
            goto done;
        }
        // The tokens as samples: offset binary, most significant byte first.
        lmic_pcm_spec spec = {mt->interleaved ? mt->channels : 1, mt->bits, LMIC_LAYOUT_INTERLEAVE, 0, 0};
        size_t fb = (size_t)lmic_pcm_frame_bytes(&spec), nf = ch[i].n / fb;
        if (nf * fb != ch[i].n || nf == 0) {
            efail_(err, errlen, "lmic: a chunk of %zu bytes is not whole frames of %zu", ch[i].n, fb);
            goto done;
        }
        size_t win = model_window(ctx, 0, fb);
        lmic_audio_params ap = {spec, {win, 0}, 0};
        const uint8_t *in = all->data + ch[i].off;
        lmic_status st = lmic_pcm_decode(&spec, in, nf, x);
        size_t size, off = out.size;
        uint8_t mode;
        if (st == LMIC_OK)
            st = lmic_audio_compress(m, &ap, LMIC_PRED_EFFORT_NORMAL, LMIC_ENTROPY_AUTO, x, &nf, 1,
                                     e->threads, &out, &size, &mode);
        if (st != LMIC_OK) { efail_(err, errlen, "lmic: compression failed: %s", lmic_strerror(st)); goto done; }
        if (mode != LMIC_CHUNK_LM) {  // stored: the chunk's bytes as they are
            size = ch[i].n;
            out.size = off;
        } else if (size >= ch[i].n) {
            efail_(err, errlen, "lmic: a coded chunk did not shrink");
            goto done;
        } else {
            st = lmic_audio_decompress(m, &ap, out.data + off, &size, &mode, &nf, 1, e->threads, y);
            if (st == LMIC_OK) st = lmic_pcm_encode(&spec, y, nf, back);
            if (st != LMIC_OK || memcmp(back, in, ch[i].n) != 0) {
                efail_(err, errlen, "lmic: decompressed data differs from the input (%s)",
                       st != LMIC_OK ? lmic_strerror(st) : "wrong bytes");
                goto done;
            }
        }
        r->chunked_sum += size;
    }
    r->t_chunked = now_seconds() - t0;
    r->chunked_rate = (double)r->chunked_sum / (double)all->size;
    rc = 0;
done:
    free(x);
    free(y);
    free(back);
    lmic_buf_free(&out);
    return rc;
}

static void print_table_(FILE *out, const eval_opts *e, const result *rs, int nr, size_t nch,
                         size_t raw) {
    fprintf(out, "data: %s, %zu chunks, %zu bytes\n", e->data_name, nch, raw);
    fprintf(out, "%-10s %9s %9s %12s %12s %7s %9s\n", "compressor", "chunked%", "whole%",
            "chunked B", "whole B", "header", "MB/s");
    for (int i = 0; i < nr; i++) {
        const result *r = &rs[i];
        if (!r->ok) { fprintf(out, "%-10s %s\n", r->name, r->note); continue; }
        double counted = r->chunked_rate * (double)raw;
        char whole[16] = "n/a", wholeb[16] = "n/a";
        if (r->whole_rate >= 0) {
            snprintf(whole, sizeof whole, "%.2f", 100 * r->whole_rate);
            snprintf(wholeb, sizeof wholeb, "%zu", r->whole);
        }
        fprintf(out, "%-10s %9.2f %9s %12.0f %12s %7zu %9.2f\n", r->name, 100 * r->chunked_rate,
                whole, counted, wholeb, r->header,
                r->t_chunked > 0 ? (double)raw / 1e6 / r->t_chunked : 0.0);
    }
}

static void print_json_(FILE *out, const eval_opts *e, const result *rs, int nr, size_t nch,
                        size_t raw) {
    fprintf(out, "{\"data\": \"%s\", \"chunks\": %zu, \"raw_bytes\": %zu, \"compressors\": [",
            e->data_name, nch, raw);
    for (int i = 0; i < nr; i++) {
        const result *r = &rs[i];
        fprintf(out, "%s\n  {\"name\": \"%s\", ", i ? "," : "", r->name);
        if (!r->ok) { fprintf(out, "\"applicable\": false, \"note\": \"%s\"}", r->note); continue; }
        fprintf(out, "\"applicable\": true, \"chunked_rate\": %.6f, \"chunked_bytes\": %.0f, "
                     "\"chunk_bytes_sum\": %zu, \"header_bytes\": %zu, ",
                r->chunked_rate, r->chunked_rate * (double)raw, r->chunked_sum, r->header);
        if (r->whole_rate >= 0)
            fprintf(out, "\"whole_rate\": %.6f, \"whole_bytes\": %zu, ", r->whole_rate, r->whole);
        else
            fprintf(out, "\"whole_rate\": null, \"whole_bytes\": null, ");
        fprintf(out, "\"chunked_seconds\": %.6f, \"whole_seconds\": %.6f}", r->t_chunked,
                r->t_whole);
    }
    fprintf(out, "\n]}\n");
}

int eval_run(loader *L, const eval_opts *e, FILE *out, char *err, size_t errlen) {
    // Resolve every row's name before reading any data: a classical codec,
    // the language model ("lm") or lmic's audio codec ("lmic").
    struct { const lmic_codec *codec; int lmic; } rows[16];  // codec NULL, lmic 0: "lm"
    int nc = 0;
    char names[256];
    snprintf(names, sizeof names, "%s", e->compressors);
    for (char *save = NULL, *tok = strtok_r(names, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        const lmic_codec *c = lmic_codec_find(tok);
        int lm = !c && !strcmp(tok, "lm"), lmic = !c && !strcmp(tok, "lmic") && e->codec_model;
        if (lm && !e->model) return efail_(err, errlen, "compressor 'lm' needs --model MODEL");
        if (!c && !lm && !lmic)
            return efail_(err, errlen, "unknown compressor '%s' (known: gzip, lzma2, lzma2-9e, png, flac, lm, lmic)", tok);
        if (nc == 16) return efail_(err, errlen, "too many compressors");
        rows[nc].codec = c;
        rows[nc++].lmic = lmic;
    }
    if (nc == 0) return efail_(err, errlen, "no compressor given");

    lmic_buf all = {0};
    chunk_ref *ch = NULL;
    size_t nch = 0, cap = 0;
    result rs[16];
    int rc = -1;
    const uint8_t *data;
    size_t n;
    chunk_meta meta;
    int r;
    while ((r = loader_next(L, &data, &n, &meta)) == 1) {
        if (nch == cap) {
            cap = cap ? 2 * cap : 1024;
            chunk_ref *c2 = realloc(ch, cap * sizeof *ch);
            if (!c2) { efail_(err, errlen, "out of memory"); goto done; }
            ch = c2;
        }
        ch[nch++] = (chunk_ref){all.size, n, meta};
        if (lmic_buf_append(&all, data, n) != LMIC_OK) { efail_(err, errlen, "out of memory"); goto done; }
    }
    if (r < 0) { efail_(err, errlen, "%s", loader_error(L)); goto done; }
    if (nch == 0) { efail_(err, errlen, "no data: not one whole chunk (try --keep-partial or a smaller --chunk-size)"); goto done; }
    for (int i = 0; i < nc; i++)
        if (rows[i].codec ? run_codec_(rows[i].codec, &all, ch, nch, e->progress, &rs[i], err, errlen)
            : rows[i].lmic ? run_audio_(e, &all, ch, nch, &rs[i], err, errlen)
                           : run_lm_(e, &all, ch, nch, &rs[i], err, errlen)) goto done;
    if (e->json) print_json_(out, e, rs, nc, nch, all.size);
    else print_table_(out, e, rs, nc, nch, all.size);
    rc = 0;
done:
    free(ch);
    lmic_buf_free(&all);
    return rc;
}
