// loaders.c -- the data loaders: files -> fixed-size byte chunks.
//
// The paper's loaders (enwik9, ImageNet, LibriSpeech, random) plus a general
// audio loader. Files are found by walking the path in sorted order, so every
// machine sees the same chunks in the same order. Audio is streamed through
// libsndfile one chunk of frames at a time and tokenised by lmic_pcm_encode;
// images are read whole (libpng, or PGM/PPM by hand) and cut into patches.
#include "loaders.h"

#include <dirent.h>
#include <errno.h>
#include <png.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define PATCH_ROWS 32  // image patches are 32 rows high, as the paper's 32 x 64

struct loader {
    loader_opts o;
    char err[512];
    char **files;            // sorted list of source files
    size_t nfiles, next_file;
    long long emitted;       // chunks returned so far
    int done;
    uint8_t *chunk;          // (chunk_size,) the chunk handed out
    chunk_meta meta;
    char *cur_name;          // current file's path (owned by files[])
    // text
    FILE *fp;
    // audio
    SNDFILE *snd;
    SF_INFO info;
    int is_float;            // float source: read with sf_readf_float
    int float_bits;          // ...and keep its IEEE bits (native depth)
    lmic_pcm_spec spec;
    size_t frames_per_chunk;
    int32_t *raw;            // (frames_per_chunk, info.channels) from libsndfile
    int32_t *frames;         // (frames_per_chunk, spec.channels) to tokenise
    int32_t *res;            // (frames_per_chunk, spec.channels) residuals (predict)
    long long frames_read;   // of this file so far
    // image
    uint8_t *img;            // (H, W) gray
    size_t H, W, patch_w, next_patch;
    // random
    uint64_t rng;
};

static int fail_(loader *L, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->err, sizeof L->err, fmt, ap);
    va_end(ap);
    L->done = 1;
    return -1;
}

const char *loader_error(const loader *L) { return L->err; }

static const char *kind_names_[] = {"text", "image", "librispeech", "audio", "random"};

int loader_parse_kind(const char *s, data_kind *kind) {
    for (int i = 0; i < 5; i++)
        if (strcmp(s, kind_names_[i]) == 0) { *kind = (data_kind)i; return 0; }
    return -1;
}

const char *loader_kind_name(data_kind kind) {
    return (unsigned)kind < 5 ? kind_names_[kind] : "?";
}

// --- finding files

static const char *audio_exts_[] = {"wav", "wave", "flac", "aif", "aiff", "aifc", "au",
                                    "snd", "caf", "w64", "rf64", "ogg", "oga", "opus",
                                    "voc", "sph", "nist", "htk", "sd2", "mp3", NULL};
static const char *image_exts_[] = {"png", "pgm", "ppm", "pnm", NULL};

static int has_ext_(const char *name, const char **exts) {
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    for (int i = 0; exts[i]; i++)
        if (strcasecmp(dot + 1, exts[i]) == 0) return 1;
    return 0;
}

static int wanted_(data_kind k, const char *name) {
    if (name[0] == '.') return 0;  // hidden files and editor droppings
    if (k == DATA_IMAGE) return has_ext_(name, image_exts_);
    if (k == DATA_AUDIO || k == DATA_LIBRISPEECH) return has_ext_(name, audio_exts_);
    return 1;
}

static int add_file_(loader *L, const char *path) {
    if (L->nfiles % 64 == 0) {
        char **f = realloc(L->files, (L->nfiles + 64) * sizeof *f);
        if (!f) return fail_(L, "out of memory");
        L->files = f;
    }
    if (!(L->files[L->nfiles] = strdup(path))) return fail_(L, "out of memory");
    L->nfiles++;
    return 0;
}

static int walk_(loader *L, const char *dir, int depth) {
    if (depth > 64) return fail_(L, "%s: directories nested too deeply", dir);
    DIR *d = opendir(dir);
    if (!d) return fail_(L, "%s: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (!p) { rc = fail_(L, "out of memory"); break; }
        snprintf(p, n, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0) rc = fail_(L, "%s: %s", p, strerror(errno));
        else if (S_ISDIR(st.st_mode)) rc = walk_(L, p, depth + 1);
        else if (S_ISREG(st.st_mode) && wanted_(L->o.kind, e->d_name)) rc = add_file_(L, p);
        free(p);
    }
    closedir(d);
    return rc;
}

static int cmp_str_(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int find_files_(loader *L) {
    const char *path = L->o.path;
    if (!path || !*path) return fail_(L, "no --path given for data '%s'", loader_kind_name(L->o.kind));
    struct stat st;
    if (stat(path, &st) != 0) return fail_(L, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        if (walk_(L, path, 0) != 0) return -1;
        if (L->nfiles == 0)
            return fail_(L, "%s: no %s files found", path, loader_kind_name(L->o.kind));
        qsort(L->files, L->nfiles, sizeof *L->files, cmp_str_);
        return 0;
    }
    if (!S_ISREG(st.st_mode)) return fail_(L, "%s: not a regular file or directory", path);
    return add_file_(L, path);
}

// --- audio

// Sign-correct arithmetic shift right (C leaves >> of negatives to the
// implementation; this is defined everywhere).
static int32_t shr_(int32_t v, int s) {
    if (s == 0) return v;
    uint32_t u = (uint32_t)v >> s;
    uint32_t sign = 1u << (31 - s);
    return (int32_t)((u ^ sign) - sign);
}

// IEEE float bits -> an order-preserving signed integer (a bijection): the
// token stream of float audio keeps every bit and sorts like the values.
static int32_t float_key_(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return (int32_t)((u & 0x80000000u) ? (u ^ 0x7FFFFFFFu) : u);
}

static int native_bits_(int subtype, int *is_float) {
    *is_float = 0;
    switch (subtype) {
    case SF_FORMAT_PCM_S8: case SF_FORMAT_PCM_U8: return 8;
    case SF_FORMAT_PCM_16: return 16;
    case SF_FORMAT_PCM_24: return 24;
    case SF_FORMAT_PCM_32: return 32;
    case SF_FORMAT_FLOAT: *is_float = 1; return 32;
    case SF_FORMAT_DOUBLE: return 0;  // 64-bit: no native token width
    default: return 16;  // companded, ADPCM and lossy codecs decode to 16 bits
    }
}

// libsndfile quietly shortens a file whose header promises more audio than
// it holds, noting it only in its log ("data : 40000 (should be 15000)"). A
// cut file is damage the user must hear about. Streaming writers' placeholder
// sizes (0, 0xFFFFFFFF) are not promises.
static int truncated_(loader *L, const char *path) {
    char log[8192];
    sf_command(L->snd, SFC_GET_LOG_INFO, log, sizeof log);
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        long long said, real;
        char tag[8];
        if (sscanf(line, "%7s : %lld (should be %lld)", tag, &said, &real) != 3) continue;
        if (strcmp(tag, "data") && strcmp(tag, "SSND")) continue;
        if (said > real && said != 0xFFFFFFFFll && said != 0x7FFFFFFFll && said != 0)
            return fail_(L, "%s: truncated: the header promises %lld bytes of audio, the file holds %lld",
                         path, said, real);
    }
    return 0;
}

static void close_audio_(loader *L) {
    if (L->snd) sf_close(L->snd);
    L->snd = NULL;
    free(L->raw); free(L->frames); free(L->res);
    L->raw = L->frames = L->res = NULL;
}

static int open_audio_(loader *L, const char *path) {
    memset(&L->info, 0, sizeof L->info);
    L->frames_read = 0;
    L->snd = sf_open(path, SFM_READ, &L->info);
    if (!L->snd) return fail_(L, "%s: cannot read audio: %s", path, sf_strerror(NULL));
    SF_INFO *I = &L->info;
    if (I->channels < 1 || I->channels > LMIC_PCM_MAX_CHANNELS)
        return fail_(L, "%s: unsupported channel count %d", path, I->channels);
    if (I->samplerate < 1) return fail_(L, "%s: invalid sample rate %d", path, I->samplerate);
    int is_float, native = native_bits_(I->format & SF_FORMAT_SUBMASK, &is_float);
    int librispeech = L->o.kind == DATA_LIBRISPEECH;
    int depth = librispeech ? 8 : L->o.depth;
    if (depth == 0 && native == 0)
        return fail_(L, "%s: 64-bit float has no native token width; use --depth 16 or 8", path);
    // Float sources are read as floats: kept bit for bit at native depth,
    // else quantised by float_to_int_ (libsndfile's own scaling is not exact).
    L->is_float = is_float || (I->format & SF_FORMAT_SUBMASK) == SF_FORMAT_DOUBLE;
    L->float_bits = is_float && depth == 0;
    lmic_pcm_spec s = {librispeech ? 1 : I->channels, depth ? depth : native,
                       librispeech ? LMIC_LAYOUT_INTERLEAVE : L->o.layout,
                       librispeech ? 0 : L->o.channel, librispeech ? 0 : L->o.mid_side};
    if (s.mid_side && s.channels != 2)
        return fail_(L, "%s: --stereo ms needs 2 channels, the file has %d", path, s.channels);
    if (s.layout == LMIC_LAYOUT_CHANNEL && s.channel >= s.channels)
        return fail_(L, "%s: --layout channel:%d, the file has %d channel%s", path, s.channel,
                     s.channels, s.channels == 1 ? "" : "s");
    if (lmic_pcm_check(&s) != LMIC_OK) return fail_(L, "%s: invalid tokenisation settings", path);
    L->spec = s;
    size_t fb = (size_t)lmic_pcm_frame_bytes(&s);
    L->frames_per_chunk = L->o.chunk_size / fb;
    if (L->frames_per_chunk == 0)
        return fail_(L, "%s: --chunk-size %zu is smaller than one frame (%zu bytes)", path,
                     L->o.chunk_size, fb);
    if (truncated_(L, path)) return -1;
    L->raw = malloc(L->frames_per_chunk * (size_t)I->channels * sizeof *L->raw);
    L->frames = malloc(L->frames_per_chunk * (size_t)s.channels * sizeof *L->frames);
    if (L->o.predict)
        L->res = malloc(L->frames_per_chunk * (size_t)s.channels * sizeof *L->res);
    if (!L->raw || !L->frames || (L->o.predict && !L->res)) return fail_(L, "out of memory");
    L->meta = (chunk_meta){path, I->samplerate, s.layout == LMIC_LAYOUT_CHANNEL ? 1 : s.channels,
                           s.bits, (int)fb, s.layout != LMIC_LAYOUT_PLANAR || s.channels == 1};
    return 0;
}

// A float sample as a left-justified 32-bit integer: floor(f * 2^31),
// saturated, NaN as 0. Exact (a power-of-two scale), so the same everywhere;
// -1.0 becomes the most negative sample, as for integer sources.
static int32_t float_to_int_(float f) {
    double v = (double)f * 2147483648.0;
    if (!(v == v)) return 0;
    if (v >= 2147483647.0) return INT32_MAX;
    if (v <= -2147483648.0) return INT32_MIN;
    int32_t i = (int32_t)v;  // truncates toward zero: step down for negatives
    return (double)i > v ? i - 1 : i;
}

// Reads up to frames_per_chunk frames; returns the count, or -1 on error.
static long long read_audio_(loader *L) {
    SF_INFO *I = &L->info;
    size_t want = L->frames_per_chunk, C = (size_t)I->channels;
    sf_count_t got;
    if (L->is_float) {
        float *f = (float *)L->raw;  // same size as int32_t
        got = sf_readf_float(L->snd, f, (sf_count_t)want);
        for (sf_count_t i = 0; i < got * (sf_count_t)C; i++)
            L->raw[i] = L->float_bits ? float_key_(f[i]) : float_to_int_(f[i]);
    } else {
        got = sf_readf_int(L->snd, L->raw, (sf_count_t)want);
    }
    if (L->float_bits) {
        memcpy(L->frames, L->raw, (size_t)(got > 0 ? got : 0) * C * sizeof *L->raw);
    } else {
        int shift = 32 - L->spec.bits;
        if (L->o.kind == DATA_LIBRISPEECH) {
            // Mean of the channels (floor), then the paper's high byte.
            for (sf_count_t t = 0; t < got; t++) {
                int64_t sum = 0;
                for (size_t c = 0; c < C; c++) sum += L->raw[(size_t)t * C + c];
                int64_t m = sum / (int64_t)C;
                if (sum % (int64_t)C < 0) m--;
                L->frames[t] = shr_((int32_t)m, shift);
            }
        } else {
            for (sf_count_t i = 0; i < got * (sf_count_t)C; i++) L->frames[i] = shr_(L->raw[i], shift);
        }
    }
    if (got < 0 || sf_error(L->snd) != SF_ERR_NO_ERROR)
        return fail_(L, "%s: read error: %s", L->cur_name, sf_strerror(L->snd));
    L->frames_read += got;
    if ((size_t)got < want && L->frames_read < (long long)I->frames)
        return fail_(L, "%s: truncated: the header promises %lld frames, the file holds %lld",
                     L->cur_name, (long long)I->frames, L->frames_read);
    return got;
}

// --- images

static int read_pnm_(loader *L, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return fail_(L, "%s: %s", path, strerror(errno));
    char magic[3] = {0};
    unsigned long w = 0, h = 0, maxval = 0;
    int rc = -1;
    if (fscanf(f, "%2s", magic) != 1 || magic[0] != 'P' || (magic[1] != '5' && magic[1] != '6')) {
        fail_(L, "%s: not a binary PGM/PPM (P5/P6) file", path);
        goto done;
    }
    // Header fields separated by whitespace, with # comments.
    unsigned long *fields[3] = {&w, &h, &maxval};
    for (int i = 0; i < 3; i++) {
        int c;
        while ((c = fgetc(f)) != EOF) {
            if (c == '#') { while ((c = fgetc(f)) != EOF && c != '\n') {} continue; }
            if (c < '0' || c > '9') continue;
            ungetc(c, f);
            break;
        }
        if (fscanf(f, "%lu", fields[i]) != 1) { fail_(L, "%s: truncated PNM header", path); goto done; }
    }
    fgetc(f);  // the single whitespace byte before the raster
    if (w == 0 || h == 0 || w > 1u << 20 || h > 1u << 20 || w * h > (1ul << 30)) {
        fail_(L, "%s: unsupported image size %lux%lu", path, w, h);
        goto done;
    }
    if (maxval == 0 || maxval > 255) {
        fail_(L, "%s: PNM maxval %lu unsupported (8-bit only)", path, maxval);
        goto done;
    }
    size_t ch = magic[1] == '6' ? 3 : 1, n = w * h * ch;
    uint8_t *px = malloc(n);
    L->img = malloc(w * h);
    if (!px || !L->img) { free(px); fail_(L, "out of memory"); goto done; }
    if (fread(px, 1, n, f) != n) { free(px); fail_(L, "%s: truncated image data", path); goto done; }
    for (size_t i = 0; i < w * h; i++)
        L->img[i] = ch == 1 ? px[i] : (uint8_t)((px[3 * i] + px[3 * i + 1] + px[3 * i + 2]) / 3);
    free(px);
    L->W = w; L->H = h;
    rc = 0;
done:
    fclose(f);
    return rc;
}

static void png_error_(png_structp p, png_const_charp msg) {
    loader *L = png_get_error_ptr(p);
    snprintf(L->err, sizeof L->err, "%s", msg);
    png_longjmp(p, 1);
}
static void png_warning_(png_structp p, png_const_charp msg) { (void)p; (void)msg; }

static int read_png_(loader *L, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return fail_(L, "%s: %s", path, strerror(errno));
    png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, L, png_error_, png_warning_);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    uint8_t *volatile rgb = NULL;
    png_bytep *volatile rows = NULL;
    int rc = -1;
    if (!p || !info) { fail_(L, "out of memory"); goto done; }
    L->err[0] = 0;
    if (setjmp(png_jmpbuf(p))) {
        char why[sizeof L->err];
        snprintf(why, sizeof why, "%s", L->err);
        fail_(L, "%s: cannot read PNG: %s", path, why);
        goto done;
    }
    png_init_io(p, f);
    png_set_user_limits(p, 1u << 20, 1u << 20);
    png_read_info(p, info);
    png_uint_32 w = png_get_image_width(p, info), h = png_get_image_height(p, info);
    if ((size_t)w * h > (1ul << 30)) { fail_(L, "%s: image too large", path); goto done; }
    png_set_expand(p);      // palette -> RGB, gray < 8 bits -> 8 bits, tRNS -> alpha
    png_set_strip_16(p);    // 16-bit -> the high byte
    png_set_strip_alpha(p);
    png_read_update_info(p, info);
    int ch = png_get_channels(p, info);
    size_t rowbytes = png_get_rowbytes(p, info);
    rgb = malloc(rowbytes * h);
    rows = malloc(h * sizeof *rows);
    L->img = malloc((size_t)w * h);
    if (!rgb || !rows || !L->img) { fail_(L, "out of memory"); goto done; }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = rgb + y * rowbytes;
    png_read_image(p, rows);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        const uint8_t *q = rgb + i * (size_t)ch;
        // The paper's gray: the mean of R, G, B, truncated.
        L->img[i] = ch >= 3 ? (uint8_t)((q[0] + q[1] + q[2]) / 3) : q[0];
    }
    L->W = w; L->H = h;
    rc = 0;
done:
    free(rgb);
    free(rows);
    png_destroy_read_struct(p ? &p : NULL, info ? &info : NULL, NULL);
    fclose(f);
    return rc;
}

// --- opening files in turn

static void close_file_(loader *L) {
    if (L->fp) fclose(L->fp);
    L->fp = NULL;
    close_audio_(L);
    free(L->img);
    L->img = NULL;
    L->cur_name = NULL;
}

// Opens the next file; returns 1 if one is open, 0 at the end, -1 on error.
static int open_next_(loader *L) {
    close_file_(L);
    if (L->next_file >= L->nfiles) return 0;
    const char *path = L->cur_name = L->files[L->next_file++];
    switch (L->o.kind) {
    case DATA_TEXT:
        if (!(L->fp = fopen(path, "rb"))) return fail_(L, "%s: %s", path, strerror(errno));
        L->meta = (chunk_meta){path, 16000, 1, 8, 1, 1};
        return 1;
    case DATA_IMAGE: {
        int png = has_ext_(path, (const char *[]){"png", NULL});
        if ((png ? read_png_(L, path) : read_pnm_(L, path)) != 0) return -1;
        L->next_patch = 0;
        L->meta = (chunk_meta){path, 16000, 1, 8, 1, 1};
        return 1;
    }
    default:
        return open_audio_(L, path) == 0 ? 1 : -1;
    }
}

// --- the iterator

loader *loader_open(const loader_opts *o, char *err, size_t errlen) {
    loader *L = calloc(1, sizeof *L);
    if (!L) { snprintf(err, errlen, "out of memory"); return NULL; }
    L->o = *o;
    if (!L->o.chunk_size) L->o.chunk_size = LOADER_DEFAULT_CHUNK;
    size_t cs = L->o.chunk_size;
    if (cs > (1u << 30)) { fail_(L, "--chunk-size %zu is too large", cs); goto fail; }
    if (o->kind == DATA_IMAGE) {
        if (cs % PATCH_ROWS) {
            fail_(L, "--chunk-size %zu: image patches are %d rows, so it must be a multiple of %d",
                  cs, PATCH_ROWS, PATCH_ROWS);
            goto fail;
        }
        L->patch_w = cs / PATCH_ROWS;
    }
    if (o->depth != 0 && o->depth != 8 && o->depth != 16) {
        fail_(L, "--depth %d: use 8, 16 or native", o->depth);
        goto fail;
    }
    if (!(L->chunk = malloc(cs))) { fail_(L, "out of memory"); goto fail; }
    if (o->kind == DATA_RANDOM) {
        L->rng = o->seed;
        if (L->o.num_chunks < 0) L->o.num_chunks = LOADER_DEFAULT_RANDOM_CHUNKS;
        L->meta = (chunk_meta){"random", 16000, 1, 8, 1, 1};
        return L;
    }
    if (find_files_(L) != 0) goto fail;
    return L;
fail:
    snprintf(err, errlen, "%s", L->err);
    loader_free(L);
    return NULL;
}

int loader_next(loader *L, const uint8_t **data, size_t *n, chunk_meta *meta) {
    if (L->done) return L->err[0] ? -1 : 0;
    if (L->o.num_chunks >= 0 && L->emitted >= L->o.num_chunks) { L->done = 1; return 0; }
    size_t cs = L->o.chunk_size;
    if (L->o.kind == DATA_RANDOM) {
        for (size_t i = 0; i < cs; i += 8) {
            uint64_t r = lmic_rng_next(&L->rng);
            for (size_t k = 0; k < 8 && i + k < cs; k++) L->chunk[i + k] = (uint8_t)(r >> (8 * k));
        }
        *data = L->chunk; *n = cs; *meta = L->meta;
        L->emitted++;
        return 1;
    }
    for (;;) {
        if (!L->cur_name) {
            int r = open_next_(L);
            if (r <= 0) { L->done = 1; return r; }
        }
        size_t got = 0;
        if (L->o.kind == DATA_TEXT) {
            got = fread(L->chunk, 1, cs, L->fp);
            if (ferror(L->fp)) return fail_(L, "%s: read error: %s", L->cur_name, strerror(errno));
        } else if (L->o.kind == DATA_IMAGE) {
            size_t per_row = L->W / L->patch_w, nrows = L->H / PATCH_ROWS;
            if (L->next_patch < per_row * nrows) {  // whole patches only, as the paper
                size_t r0 = (L->next_patch / per_row) * PATCH_ROWS;
                size_t c0 = (L->next_patch % per_row) * L->patch_w;
                for (size_t r = 0; r < PATCH_ROWS; r++)
                    memcpy(L->chunk + r * L->patch_w, L->img + (r0 + r) * L->W + c0, L->patch_w);
                L->next_patch++;
                got = cs;
            }
        } else {
            long long f = read_audio_(L);
            if (f < 0) return -1;
            const int32_t *x = L->frames;
            if (L->o.predict && f > 0) {  // the codec's front end, chunk by chunk
                lmic_pred pred[LMIC_PCM_MAX_CHANNELS];
                int C = L->spec.channels;
                if (lmic_pred_choose(x, (size_t)f, C, L->spec.bits, (lmic_pred_effort)(L->o.predict - 1),
                                     pred) != LMIC_OK ||
                    lmic_pred_apply(pred, x, (size_t)f, C, L->spec.bits, L->res) != LMIC_OK)
                    return fail_(L, "%s: prediction failed", L->cur_name);
                x = L->res;
            }
            lmic_pcm_encode(&L->spec, x, (size_t)f, L->chunk);
            got = (size_t)f * (size_t)L->meta.frame_bytes;
            if ((size_t)f == L->frames_per_chunk) cs = got;  // whole frames: rounded down
        }
        if (got == 0 || (got < cs && !L->o.keep_partial)) {
            close_file_(L);  // end of this recording (a short tail is dropped)
            continue;
        }
        *data = L->chunk; *n = got; *meta = L->meta;
        L->emitted++;
        return 1;
    }
}

void loader_free(loader *L) {
    if (!L) return;
    close_file_(L);
    for (size_t i = 0; i < L->nfiles; i++) free(L->files[i]);
    free(L->files);
    free(L->chunk);
    free(L);
}
