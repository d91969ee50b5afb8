// codec_cmd.c -- `lmic compress | decompress | test | info`, in the habits of
// flac and xz: inputs are kept, outputs appear only when complete (a
// temporary file renamed into place), nothing is overwritten without -f.
//
// A file is handled whole in memory: read, tokenised into chunks of at most
// the model's context (whole frames), coded in groups of chunks (so the
// progress bar moves), then written. Decoding verifies every chunk's CRC-32
// as it goes and the MD5 of all samples at the end before anything is
// written, so damage never produces an output file.
#include "codec_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audio_io.h"
#include "cli.h"
#include "progress.h"

// Chunks per library call (the progress bar's step): a full decoder batch
// for every thread.
#define GROUP ((uint64_t)LMIC_LM_BATCH * (uint64_t)o->threads)

// The model file built into the binary (generated from models/default.lmm).
extern const unsigned char lmic_default_model_data[];
extern const size_t lmic_default_model_size;
#define DEFAULT_MODEL_NAME "models/default.lmm (C 64, L 2, context 1024; 9500 steps on train-corpus speech residuals; float16)"

typedef struct {
    const char *out, *model;
    int to_stdout, force, threads, depth8, verbose, quiet, progress;
    lmic_layout layout;
    int channel, mid_side;
    int chunk, window, overlap, predict;  // 0: the defaults above; predict: effort or -1
    int coder;                            // lmic_entropy
    int adapt;                            // 0, or an lmic_adapt_byte
    const char **inputs;
    int ninputs;
} codec_opts;

static void parse_codec_(int argc, char **argv, codec_opts *o) {
    memset(o, 0, sizeof *o);
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = nproc < 1 ? 1 : (nproc > 8 ? 8 : (int)nproc);
    o->progress = 1;
    o->predict = LMIC_PRED_EFFORT_NORMAL;
    o->overlap = -1;
    o->mid_side = -1;  // stereo: mid/side unless --stereo lr
    o->inputs = calloc((size_t)argc, sizeof *o->inputs);
    if (!o->inputs) die_("out of memory");
    int only_files = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        char name[64];
        if (!only_files) val = split_option_(&a, name, sizeof name);
#define VALUE() (val ? val : (i + 1 < argc ? argv[++i] : (die_usage_("%s needs a value", a), "")))
        if (only_files || a[0] != '-' || !strcmp(a, "-")) {
            o->inputs[o->ninputs++] = a;
        } else if (!strcmp(a, "--")) {
            only_files = 1;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            o->out = VALUE();
        } else if (!strcmp(a, "-c") || !strcmp(a, "--stdout")) {
            o->to_stdout = 1;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
            o->force = 1;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            o->verbose = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--no-progress")) {
            o->progress = 0;
        } else if (!strcmp(a, "--threads")) {
            o->threads = (int)parse_int_(a, VALUE(), 1, 256);
        } else if (!strcmp(a, "--model")) {
            o->model = VALUE();
        } else if (!strcmp(a, "--depth")) {
            const char *v = VALUE();
            if (!strcmp(v, "8")) o->depth8 = 1;
            else if (!strcmp(v, "native")) o->depth8 = 0;
            else die_usage_("--depth %s: use native or 8", v);
        } else if (!strcmp(a, "--layout")) {
            parse_layout_(a, VALUE(), &o->layout, &o->channel);
        } else if (!strcmp(a, "--stereo")) {
            o->mid_side = parse_stereo_(VALUE());
        } else if (!strcmp(a, "--chunk")) {
            o->chunk = (int)parse_int_(a, VALUE(), 1, 1 << 20);
        } else if (!strcmp(a, "--window")) {
            o->window = (int)parse_int_(a, VALUE(), 1, LMIC_FILE_MAX_WINDOW);
        } else if (!strcmp(a, "--overlap")) {
            o->overlap = (int)parse_int_(a, VALUE(), 0, LMIC_FILE_MAX_WINDOW);
        } else if (!strcmp(a, "--predict")) {
            const char *v = VALUE();
            if (!strcmp(v, "none")) o->predict = -1;
            else if (!strcmp(v, "fast")) o->predict = LMIC_PRED_EFFORT_FAST;
            else if (!strcmp(v, "normal")) o->predict = LMIC_PRED_EFFORT_NORMAL;
            else if (!strcmp(v, "high")) o->predict = LMIC_PRED_EFFORT_HIGH;
            else die_usage_("--predict %s: use none, fast, normal or high", v);
        } else if (!strcmp(a, "--coder")) {
            const char *v = VALUE();
            if (!strcmp(v, "auto")) o->coder = LMIC_ENTROPY_AUTO;
            else if (!strcmp(v, "lm")) o->coder = LMIC_ENTROPY_LM;
            else if (!strcmp(v, "plain")) o->coder = LMIC_ENTROPY_PLAIN;
            else if (!strcmp(v, "mix")) o->coder = LMIC_ENTROPY_MIX;
            else die_usage_("--coder %s: use auto, mix, lm or plain", v);
        } else if (!strcmp(a, "--adapt")) {  // --adapt[=STEPS[,LR_SHIFT]]
            int steps = LMIC_ADAPT_STEPS_DEFAULT, shift = LMIC_ADAPT_LR_SHIFT_DEFAULT;
            char extra;
            if (val && sscanf(val, "%d,%d%c", &steps, &shift, &extra) != 2 &&
                sscanf(val, "%d%c", &steps, &extra) != 1)
                die_usage_("--adapt=%s: use --adapt, --adapt=STEPS or --adapt=STEPS,LR_SHIFT", val);
            if ((o->adapt = lmic_adapt_byte(steps, shift)) < 0)
                die_usage_("--adapt=%s: steps 1..15 per segment, learning rate 2^-LR_SHIFT with LR_SHIFT 6..21", val);
        } else {
            die_usage_("unknown option '%s'", argv[i]);
        }
#undef VALUE
    }
    if (o->ninputs == 0) die_usage_("%s needs an input file (- for standard input)", argv[1]);
    if (o->out && o->ninputs > 1) die_usage_("-o names one output, but %d inputs were given", o->ninputs);
    if (o->out && o->to_stdout) die_usage_("-o and -c both name the output");
}

// --- models

size_t model_window(int ctx, size_t want, size_t fb) {
    size_t w = want ? want : (ctx < CODEC_DEFAULT_WINDOW ? (size_t)ctx : CODEC_DEFAULT_WINDOW);
    return w < fb ? fb : w / fb * fb;
}

static void hex_to_bytes_(const char hex[33], uint8_t out[16]) {
    for (int i = 0; i < 16; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static void bytes_to_hex_(const uint8_t in[16], char hex[33]) {
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", in[i]);
}

const lmic_model *default_model(const char **name) {
    static lmic_model *m;
    if (name) *name = DEFAULT_MODEL_NAME;
    if (!m) {
        lmic_status st = lmic_model_load(lmic_default_model_data, lmic_default_model_size, &m);
        if (st != LMIC_OK) die_("the built-in model: %s", model_error_(st));
    }
    return m;
}

static lmic_model *user_model_;
static const lmic_model *get_model_(const codec_opts *o, const char **name) {
    if (!o->model) return default_model(name);
    if (!user_model_) user_model_ = load_model_(o->model, NULL);
    *name = o->model;
    return user_model_;
}

// --- files


static int exists_(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

// Writes parts to the output path ("-" = stdout) through a temporary file.
static void write_out_(const char *path, int force, const uint8_t *const *part, const size_t *n,
                       int nparts) {
    out_file out;
    out_open_(&out, path, force);
    for (int i = 0; i < nparts; i++) {
        if (n[i] && fwrite(part[i], 1, n[i], out.f) != n[i]) {
            int e = errno;
            out_abort_(&out);
            die_("%s: write error: %s", strcmp(path, "-") ? path : "standard output", strerror(e));
        }
    }
    out_commit_(&out);
}

static const char *display_(const char *path) { return strcmp(path, "-") ? path : "standard input"; }

// --- compress

static void compress_one_(const codec_opts *o, const char *in) {
    // The output name first, so that a refusal costs no work.
    char outbuf[4200];
    const char *out = o->out;
    if (o->to_stdout || (!out && !strcmp(in, "-"))) out = "-";
    if (!out) {
        snprintf(outbuf, sizeof outbuf, "%s.lmic", in);
        out = outbuf;
    }
    if (strcmp(out, "-") && !o->force && exists_(out)) die_("%s: file exists (use -f to overwrite)", out);
    if (!strcmp(out, "-") && isatty(STDOUT_FILENO) && !o->force)
        die_("compressed data not written to a terminal (use -f to force)");
    double t0 = now_seconds();
    const char *mname;
    const lmic_model *m = get_model_(o, &mname);
    int ctx = lmic_model_get_config(m)->context;
    lmic_buf src = {0};
    read_all_(in, &src);
    audio_in a;
    char err[700];
    if (audio_read(src.data, src.size, display_(in), o->depth8, &a, err, sizeof err) != 0) die_("%s", err);
    if (o->depth8 && !o->quiet)
        fprintf(stderr, "lmic: warning: %s: --depth 8 keeps the high 8 bits of each sample: "
                        "lossy, it decompresses to an 8-bit WAV\n", display_(in));
    lmic_file_info fi;
    memset(&fi, 0, sizeof fi);
    char fp[33];
    lmic_model_fingerprint(m, fp);
    hex_to_bytes_(fp, fi.model);
    fi.sample_rate = (uint32_t)a.rate;
    fi.channels = (uint32_t)a.channels;
    fi.bits = (uint32_t)a.bits;
    fi.is_float = (uint32_t)a.is_float;
    fi.frames = a.frames;
    fi.source = o->depth8 ? LMIC_SOURCE_CONVERTED : (uint32_t)a.source;
    fi.depth = o->depth8 ? 8 : 0;
    fi.src_bits = (uint32_t)a.src_bits;
    int ms = o->mid_side < 0 ? a.channels == 2 : o->mid_side;
    fi.spec = (lmic_pcm_spec){a.channels, a.bits, o->layout, o->channel, ms};
    if (o->mid_side > 0 && a.channels != 2)
        die_("%s: --stereo ms needs 2 channels, the file has %d", display_(in), a.channels);
    if (o->layout == LMIC_LAYOUT_CHANNEL && a.channels != 1)
        die_("%s: --layout channel:N codes one channel only, which is not lossless for %d channels "
             "(use interleave or planar)", display_(in), a.channels);
    if (o->layout == LMIC_LAYOUT_CHANNEL && o->channel != 0)
        die_("%s: --layout channel:%d, the file has 1 channel", display_(in), o->channel);
    if (lmic_pcm_check(&fi.spec) != LMIC_OK) die_("%s: invalid tokenisation settings", display_(in));
    size_t fb = (size_t)lmic_pcm_frame_bytes(&fi.spec);
    if (fb > (size_t)ctx)
        die_("%s: one frame is %zu bytes, more than the model's context of %d", display_(in), fb, ctx);
    if (o->window > ctx) die_("--window %d: more than the model's context of %d", o->window, ctx);
    size_t win = model_window(ctx, (size_t)o->window, fb);
    // The overlap is a whole number of frames too.
    size_t ovl = o->overlap >= 0 ? (size_t)o->overlap / fb * fb : 0;
    if (ovl > win || win + ovl > (size_t)ctx)
        die_("--overlap %zu: window %zu + overlap must fit the model's context of %d, overlap <= window",
             ovl, win, ctx);
    fi.window = (uint32_t)win;
    fi.overlap = (uint32_t)ovl;
    fi.frames_per_chunk = (uint32_t)(o->chunk ? o->chunk : CODEC_DEFAULT_CHUNK);
    if ((uint64_t)fi.frames_per_chunk * fb > (1u << 30))
        die_("--chunk %u: chunks of %llu bytes are too large", fi.frames_per_chunk,
             (unsigned long long)fi.frames_per_chunk * fb);
    fi.prefix = a.prefix;
    fi.prefix_size = a.prefix_size;
    fi.suffix = a.suffix;
    fi.suffix_size = a.suffix_size;
    // The samples as the WAV stores them: their MD5 goes in the header.
    size_t nsamp = a.frames * (size_t)a.channels, pcm_bytes = nsamp * (size_t)(a.bits / 8);
    uint8_t *pcm = malloc(pcm_bytes + 1);
    uint64_t nch = lmic_file_chunks(&fi);
    size_t ntok = a.frames * fb;
    uint8_t *tok = malloc(ntok + 1), *mode = malloc(nch + 1);
    size_t *len = malloc((nch + 1) * sizeof *len), *size = malloc((nch + 1) * sizeof *size);
    lmic_index_entry *ent = malloc((nch + 1) * sizeof *ent);
    if (!pcm || !tok || !mode || !len || !size || !ent) die_("%s: out of memory", display_(in));
    wav_pack(a.samples, nsamp, a.bits, a.is_float, pcm);
    lmic_md5 md5;
    lmic_md5_init(&md5);
    lmic_md5_update(&md5, pcm, pcm_bytes);
    lmic_md5_final(&md5, fi.md5);
    size_t off = 0;
    for (uint64_t c = 0; c < nch; c++) {
        len[c] = lmic_file_chunk_tokens(&fi, c);
        size_t f0 = (size_t)c * fi.frames_per_chunk;
        lmic_pcm_encode(&fi.spec, a.samples + f0 * (size_t)a.channels, len[c] / fb, tok + off);
        off += len[c];
    }
    // Code the chunks.
    lmic_buf payload = {0};
    lmic_audio_params ap = {fi.spec, {win, ovl}, o->adapt};
    size_t *nfr = malloc((nch + 1) * sizeof *nfr);
    if (!nfr) die_("%s: out of memory", display_(in));
    for (uint64_t c = 0; c < nch; c++) nfr[c] = len[c] / fb;
    progress pr;
    progress_start(&pr, "compress", (double)ntok, o->progress && !o->quiet);
    off = 0;
    for (uint64_t c = 0; c < nch; c += GROUP) {
        size_t g = nch - c < GROUP ? (size_t)(nch - c) : GROUP;
        const int32_t *x = a.samples + (size_t)c * fi.frames_per_chunk * (size_t)a.channels;
        lmic_status st = lmic_audio_compress(m, &ap, o->predict, o->coder, x, nfr + c, g, o->threads, &payload,
                                             size + c, mode + c);
        if (st != LMIC_OK) die_("%s: compression failed: %s", display_(in), lmic_strerror(st));
        for (size_t k = 0; k < g; k++) off += len[c + k];
        progress_update(&pr, (double)off);
    }
    free(nfr);
    progress_end(&pr);
    // The index: one entry per LM chunk, one per run of raw chunks.
    // An entry's CRC covers its payload bytes, then its tokens: damage to
    // either is found, even in bits the arithmetic decoder never reads.
    size_t ne = 0, nraw = 0, poff = 0, eoff = 0, etok = 0;
    off = 0;
    for (uint64_t c = 0; c <= nch; c++) {
        int join = c < nch && mode[c] == LMIC_CHUNK_RAW && ne > 0 &&
                   ent[ne - 1].mode == LMIC_CHUNK_RAW && ent[ne - 1].count < UINT32_MAX;
        if (!join && ne > 0) {  // close the previous entry
            lmic_index_entry *e = &ent[ne - 1];
            e->crc = lmic_crc32(lmic_crc32(0, payload.data + poff, e->size), tok + eoff, etok);
            poff += e->size;
            eoff += etok;
            etok = 0;
        }
        if (c == nch) break;
        if (!join) ent[ne++] = (lmic_index_entry){0, mode[c], 0, 0};
        ent[ne - 1].count++;
        ent[ne - 1].size += size[c];
        etok += len[c];
        nraw += mode[c] == LMIC_CHUNK_RAW;
    }
    fi.entry = ent;
    fi.nentries = ne;
    lmic_buf head = {0};
    lmic_status st = lmic_file_write_header(&fi, &head);
    if (st != LMIC_OK) die_("%s: cannot write the header: %s", display_(in), lmic_strerror(st));
    const uint8_t *parts[2] = {head.data, payload.data};
    size_t sizes[2] = {head.size, payload.size};
    write_out_(out, o->force, parts, sizes, 2);
    double dt = now_seconds() - t0, secs = a.rate ? (double)a.frames / a.rate : 0;
    size_t total = head.size + payload.size;
    if (!o->quiet) {
        fprintf(stderr, "lmic: %s -> %s: %zu -> %zu bytes (%.2f %%), %.3f bits/sample, %.2f s (%.2fx real time)\n",
                display_(in), strcmp(out, "-") ? out : "standard output", src.size, total,
                src.size ? 100.0 * (double)total / (double)src.size : 0.0,
                nsamp ? 8.0 * (double)total / (double)nsamp : 0.0, dt, dt > 0 ? secs / dt : 0.0);
        if (o->verbose)
            fprintf(stderr, "lmic:   %d Hz, %d ch, %d-bit%s, %zu frames; %llu chunks of <= %u frames "
                            "(%llu LM, %zu raw), windows of %zu + %zu tokens; model %s (%s)\n",
                    a.rate, a.channels, a.bits, a.is_float ? " float" : "", a.frames,
                    (unsigned long long)nch, fi.frames_per_chunk, (unsigned long long)(nch - nraw),
                    nraw, win, ovl, mname, fp);
    }
    lmic_buf_free(&head);
    lmic_buf_free(&payload);
    lmic_buf_free(&src);
    free(pcm); free(tok); free(mode); free(len); free(size); free(ent);
    audio_free(&a);
}

int cmd_compress(int argc, char **argv) {
    codec_opts o;
    parse_codec_(argc, argv, &o);
    for (int i = 0; i < o.ninputs; i++) compress_one_(&o, o.inputs[i]);
    free(o.inputs);
    lmic_model_free(user_model_);
    return 0;
}

// --- decompress and test

static const char *read_error_(lmic_status st) {
    switch (st) {
    case LMIC_ERR_FORMAT: return "not an .lmic file";
    case LMIC_ERR_UNSUPPORTED: return "written by a newer lmic (unknown container version)";
    case LMIC_ERR_CORRUPT: return "the header or chunk index is damaged or truncated (header CRC mismatch)";
    default: return lmic_strerror(st);
    }
}

// Names chunks first..first+count-1 for an error message.
static void chunk_name_(char *s, size_t n, uint64_t first, uint32_t count, uint64_t nch) {
    if (count == 1) snprintf(s, n, "chunk %llu of %llu", (unsigned long long)first, (unsigned long long)nch);
    else snprintf(s, n, "chunks %llu-%llu of %llu (stored raw)", (unsigned long long)first,
                  (unsigned long long)(first + count - 1), (unsigned long long)nch);
}

// Decodes and verifies `in`; writes the WAV to `out` unless out is NULL.
// default_name: `out` is IN without ".lmic"; a file that was not a WAV (x.flac)
// then comes back as x.wav, since that is what it now holds.
static void decompress_one_(const codec_opts *o, const char *in, const char *out, int default_name) {
    double t0 = now_seconds();
    const char *name = display_(in);
    lmic_buf src = {0};
    read_all_(in, &src);
    lmic_file_info fi;
    size_t hs;
    lmic_status st = lmic_file_read_header(src.data, src.size, &fi, &hs);
    if (st != LMIC_OK) die_("%s: %s", name, read_error_(st));
    char outbuf[4200];
    if (out && default_name && fi.source == LMIC_SOURCE_CONVERTED) {
        const char *slash = strrchr(out, '/'), *dot = strrchr(out, '.');
        int keep = dot && dot > (slash ? slash : out) ? (int)(dot - out) : (int)strlen(out);
        snprintf(outbuf, sizeof outbuf, "%.*s.wav", keep, out);
        out = outbuf;
    }
    if (out && strcmp(out, "-") && !o->force && exists_(out))
        die_("%s: file exists (use -f to overwrite)", out);
    const char *mname;
    const lmic_model *m = get_model_(o, &mname);
    char fp[33], want[33];
    lmic_model_fingerprint(m, fp);
    bytes_to_hex_(fi.model, want);
    if (strcmp(fp, want))
        die_("%s: compressed with model %s, but the model in use (%s) is %s (use --model)", name,
             want, mname, fp);
    int ctx = lmic_model_get_config(m)->context;
    size_t fb = (size_t)lmic_pcm_frame_bytes(&fi.spec);
    if ((size_t)fi.window + fi.overlap > (size_t)ctx)
        die_("%s: windows of %u + %u tokens exceed the model's context of %d", name, fi.window,
             fi.overlap, ctx);
    uint64_t nch = lmic_file_chunks(&fi);
    // Payloads must lie inside the file, and fill it. (This also bounds what
    // a hostile header can make us allocate: every chunk costs a token in a
    // raw run or 5 index bytes.)
    size_t poff = hs;
    uint64_t c = 0;
    char cn[128];
    for (uint64_t e = 0; e < fi.nentries; e++) {
        const lmic_index_entry *x = &fi.entry[e];
        if (x->size > src.size - poff) {
            chunk_name_(cn, sizeof cn, c, x->count, nch);
            die_("%s: truncated: %s %s incomplete (%zu of %llu bytes)", name, cn, x->count == 1 ? "is" : "are",
                 src.size - poff, (unsigned long long)x->size);
        }
        if (x->mode == LMIC_CHUNK_LM) {  // its predictor parameters and coder must parse
            lmic_pred pr[LMIC_PCM_MAX_CHANNELS];
            size_t used;
            int coder;
            if (lmic_audio_chunk_head(src.data + poff, (size_t)x->size, (int)fi.channels, pr, &coder, &used) !=
                LMIC_OK) {
                chunk_name_(cn, sizeof cn, c, 1, nch);
                die_("%s: %s is damaged (unreadable predictor parameters or coder)", name, cn);
            }
        }
        poff += (size_t)x->size;
        c += x->count;
    }
    if (poff != src.size) die_("%s: %zu unexpected bytes after the last chunk", name, src.size - poff);
    size_t ntok = (size_t)fi.frames * fb;
    uint8_t *tok = malloc(ntok + 1), *mode = malloc(nch + 1);
    size_t *len = malloc((nch + 1) * sizeof *len), *size = malloc((nch + 1) * sizeof *size);
    if (!tok || !mode || !len || !size) die_("%s: out of memory", name);
    c = 0;
    for (uint64_t e = 0; e < fi.nentries; e++) {
        const lmic_index_entry *x = &fi.entry[e];
        for (uint32_t k = 0; k < x->count; k++, c++) {
            len[c] = lmic_file_chunk_tokens(&fi, c);
            mode[c] = x->mode;
            size[c] = x->mode == LMIC_CHUNK_RAW ? len[c] : (size_t)x->size;
        }
    }
    // Decode in groups, checking each entry's CRC as soon as its chunks are
    // in: the CRC covers the payload, then the chunks' sample tokens.
    size_t nsamp = (size_t)fi.frames * fi.channels, pcm_bytes = nsamp * (fi.bits / 8);
    int32_t *samp = malloc((nsamp + 1) * sizeof *samp);
    uint8_t *pcm = malloc(pcm_bytes + 1);
    size_t *nfr = malloc((nch + 1) * sizeof *nfr);
    if (!samp || !pcm || !nfr) die_("%s: out of memory", name);
    for (c = 0; c < nch; c++) nfr[c] = len[c] / fb;
    lmic_audio_params ap = {fi.spec, {fi.window, fi.overlap}, 0};
    progress pr;
    progress_start(&pr, out ? "decompress" : "test", (double)ntok, o->progress && !o->quiet);
    size_t toff = 0, pos = hs;
    uint64_t e = 0, ce = 0;  // the next entry to check, its first chunk
    size_t etoff = 0, epos = hs;  // ... its first token and payload byte
    for (c = 0; c < nch;) {
        size_t g = nch - c < GROUP ? (size_t)(nch - c) : GROUP, gbytes = 0, gtok = 0;
        for (size_t k = 0; k < g; k++) { gbytes += size[c + k]; gtok += len[c + k]; }
        int32_t *x = samp + (size_t)c * fi.frames_per_chunk * fi.channels;
        st = lmic_audio_decompress(m, &ap, src.data + pos, size + c, mode + c, nfr + c, g, o->threads, x);
        if (st != LMIC_OK) die_("%s: decoding failed: %s", name, lmic_strerror(st));
        for (size_t k = 0, t = 0; k < g; t += len[c + k], k++)  // per chunk: planar is within a chunk
            lmic_pcm_encode(&fi.spec, x + k * fi.frames_per_chunk * fi.channels, len[c + k] / fb, tok + toff + t);
        c += g;
        pos += gbytes;
        toff += gtok;
        for (; e < fi.nentries && ce + fi.entry[e].count <= c; e++) {
            size_t n = 0;
            for (uint32_t k = 0; k < fi.entry[e].count; k++) n += len[ce + k];
            uint32_t crc = lmic_crc32(0, src.data + epos, (size_t)fi.entry[e].size);
            epos += (size_t)fi.entry[e].size;
            if (lmic_crc32(crc, tok + etoff, n) != fi.entry[e].crc) {
                progress_end(&pr);
                chunk_name_(cn, sizeof cn, ce, fi.entry[e].count, nch);
                die_("%s: %s %s damaged (CRC mismatch)", name, cn, fi.entry[e].count == 1 ? "is" : "are");
            }
            etoff += n;
            ce += fi.entry[e].count;
        }
        progress_update(&pr, (double)toff);
    }
    progress_end(&pr);
    // The WAV's sample bytes; their MD5 must match.
    wav_pack(samp, nsamp, (int)fi.bits, (int)fi.is_float, pcm);
    lmic_md5 md5;
    uint8_t dig[16];
    lmic_md5_init(&md5);
    lmic_md5_update(&md5, pcm, pcm_bytes);
    lmic_md5_final(&md5, dig);
    if (memcmp(dig, fi.md5, 16)) die_("%s: the decoded samples do not match the stored MD5", name);
    if (out) {
        const uint8_t *parts[3] = {fi.prefix, pcm, fi.suffix};
        size_t sizes[3] = {(size_t)fi.prefix_size, pcm_bytes, (size_t)fi.suffix_size};
        write_out_(out, o->force, parts, sizes, 3);
    }
    double dt = now_seconds() - t0, secs = fi.sample_rate ? (double)fi.frames / fi.sample_rate : 0;
    if (!o->quiet) {
        size_t wav = (size_t)(fi.prefix_size + fi.suffix_size) + pcm_bytes;
        if (out)
            fprintf(stderr, "lmic: %s -> %s: %zu -> %zu bytes, %.2f s (%.2fx real time)\n", name,
                    strcmp(out, "-") ? out : "standard output", src.size, wav, dt, dt > 0 ? secs / dt : 0.0);
        else
            fprintf(stderr, "lmic: %s: ok (%llu chunks, %zu bytes of WAV, every CRC and the MD5 match), "
                            "%.2f s (%.2fx real time)\n", name, (unsigned long long)nch, wav, dt,
                    dt > 0 ? secs / dt : 0.0);
    }
    lmic_file_info_free(&fi);
    lmic_buf_free(&src);
    free(tok); free(mode); free(len); free(size); free(samp); free(pcm); free(nfr);
}

int cmd_decompress(int argc, char **argv) {
    int test = !strcmp(argv[1], "test");
    codec_opts o;
    parse_codec_(argc, argv, &o);
    if (test && (o.out || o.to_stdout)) die_usage_("test writes nothing: -o and -c do not apply");
    if (o.depth8 || o.layout || o.mid_side >= 0)
        die_usage_("--depth, --layout and --stereo are read from the .lmic file");
    for (int i = 0; i < o.ninputs; i++) {
        const char *in = o.inputs[i];
        if (test) { decompress_one_(&o, in, NULL, 0); continue; }
        char outbuf[4200];
        const char *out = o.out;
        if (o.to_stdout || (!out && !strcmp(in, "-"))) out = "-";
        if (!out) {
            size_t n = strlen(in);
            if (n <= 5 || strcmp(in + n - 5, ".lmic"))
                die_("%s: the name does not end in .lmic (use -o to name the output)", in);
            snprintf(outbuf, sizeof outbuf, "%.*s", (int)(n - 5), in);
            out = outbuf;
        }
        decompress_one_(&o, in, out, out == outbuf);
    }
    free(o.inputs);
    lmic_model_free(user_model_);
    return 0;
}

// --- info

int cmd_info(int argc, char **argv) {
    codec_opts o;
    parse_codec_(argc, argv, &o);
    for (int i = 0; i < o.ninputs; i++) {
        const char *name = display_(o.inputs[i]);
        lmic_buf src = {0};
        read_all_(o.inputs[i], &src);
        lmic_file_info fi;
        size_t hs;
        lmic_status st = lmic_file_read_header(src.data, src.size, &fi, &hs);
        if (st != LMIC_OK) die_("%s: %s", name, read_error_(st));
        char fp[33], dfp[33];
        bytes_to_hex_(fi.model, fp);
        const char *dname;
        lmic_model_fingerprint(default_model(&dname), dfp);
        // Coded chunks by coder (from each payload's head, where it lies
        // inside the file; coders 3 and 4 are 0 and 2 adapted); the rest
        // are raw.
        uint64_t nch = lmic_file_chunks(&fi), ncoded[3] = {0, 0, 0}, nadapt = 0, nbad = 0, payload = 0;
        for (uint64_t e = 0; e < fi.nentries; e++) {
            if (fi.entry[e].mode == LMIC_CHUNK_LM) {
                lmic_pred pr[LMIC_PCM_MAX_CHANNELS];
                size_t used;
                int coder;
                if (fi.entry[e].size <= src.size - hs && payload <= src.size - hs - fi.entry[e].size &&
                    lmic_audio_chunk_head(src.data + hs + payload, (size_t)fi.entry[e].size,
                                          (int)fi.channels, pr, &coder, &used) == LMIC_OK) {
                    nadapt += coder >= 3;
                    ncoded[coder == 3 ? 0 : coder == 4 ? 2 : coder]++;
                } else {
                    nbad++;
                }
            }
            payload += fi.entry[e].size;
        }
        static const char *layouts[] = {"interleave", "planar", "channel"};
        uint64_t raw = (uint64_t)fi.frames * fi.channels * (fi.bits / 8) + fi.prefix_size + fi.suffix_size;
        printf("file:        %s\n", name);
        printf("version:     %d\n", LMIC_FILE_VERSION);
        printf("model:       %s%s\n", fp, strcmp(fp, dfp) ? "" : " (the built-in model)");
        printf("audio:       %u Hz, %u channel%s, %u-bit %s, %llu frames (%.3f s)\n", fi.sample_rate,
               fi.channels, fi.channels == 1 ? "" : "s", fi.bits, fi.is_float ? "float" : "integer",
               (unsigned long long)fi.frames, fi.sample_rate ? (double)fi.frames / fi.sample_rate : 0.0);
        printf("source:      %s\n", fi.depth == 8 ? "reduced to 8 bits (--depth 8, lossy)"
                                    : fi.source == LMIC_SOURCE_WAV ? "WAV, restored byte for byte"
                                    : "converted to WAV (same samples)");
        if (fi.depth == 8) printf("source bits: %u\n", fi.src_bits);
        printf("tokens:      %s%s, %u frames per chunk (%zu bytes)\n", layouts[fi.spec.layout],
               fi.spec.mid_side ? ", mid/side" : "", fi.frames_per_chunk,
               (size_t)fi.frames_per_chunk * (size_t)lmic_pcm_frame_bytes(&fi.spec));
        printf("chunks:      %llu (%llu by the model, %llu by the plain coder, %llu by both mixed, "
               "%llu stored raw", (unsigned long long)nch, (unsigned long long)ncoded[0],
               (unsigned long long)ncoded[1], (unsigned long long)ncoded[2],
               (unsigned long long)(nch - ncoded[0] - ncoded[1] - ncoded[2] - nbad));
        if (nbad) printf(", %llu unreadable", (unsigned long long)nbad);
        printf(")\n");
        if (nadapt) printf("adapted:     %llu chunks (the model learns as it codes)\n", (unsigned long long)nadapt);
        printf("wav extra:   %llu bytes before the samples, %llu after\n",
               (unsigned long long)fi.prefix_size, (unsigned long long)fi.suffix_size);
        printf("sizes:       header+index %zu, payload %llu, file %zu; WAV %llu (%.2f %%)\n", hs,
               (unsigned long long)payload, src.size, (unsigned long long)raw,
               raw ? 100.0 * (double)src.size / (double)raw : 0.0);
        char md5[33];
        bytes_to_hex_(fi.md5, md5);
        printf("samples md5: %s\n", md5);
        lmic_file_info_free(&fi);
        lmic_buf_free(&src);
    }
    free(o.inputs);
    return 0;
}
