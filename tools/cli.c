// cli.c -- what the lmic commands share (cli.h).
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void die_usage_(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lmic: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'lmic --help')\n");
    va_end(ap);
    exit(2);
}

void die_(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lmic: error: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

const char *split_option_(const char **a, char *buf, size_t cap) {
    const char *s = *a, *eq = strchr(s, '=');
    if (s[0] != '-' || s[1] != '-' || !eq || (size_t)(eq - s) >= cap) return NULL;
    memcpy(buf, s, (size_t)(eq - s));
    buf[eq - s] = 0;
    *a = buf;
    return eq + 1;
}

long long parse_int_(const char *opt, const char *s, long long lo, long long hi) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        die_usage_("%s: '%s' is not an integer in [%lld, %lld]", opt, s, lo, hi);
    return v;
}

// --- output files: written to PATH.tmp-XXXXXX and renamed into place only
// when complete, so a failure never leaves a partial file ("-" = stdout).

void out_open_(out_file *o, const char *path, int force) {
    memset(o, 0, sizeof *o);
    o->path = path;
    if (!strcmp(path, "-")) { o->f = stdout; o->is_stdout = 1; return; }
    struct stat st;
    if (!force && stat(path, &st) == 0) die_("%s: file exists (use -f to overwrite)", path);
    snprintf(o->tmp, sizeof o->tmp, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(o->tmp);
    mode_t mask = umask(0);
    umask(mask);
    if (fd < 0 || fchmod(fd, 0666 & ~mask) != 0 || !(o->f = fdopen(fd, "wb"))) {
        int e = errno;
        if (fd >= 0) { close(fd); unlink(o->tmp); }
        die_("%s: cannot create: %s", path, strerror(e));
    }
}

// Removes the temporary file after a failure.
void out_abort_(out_file *o) {
    if (o->is_stdout) return;
    fclose(o->f);
    unlink(o->tmp);
}

// Flushes, closes and renames into place; on failure dies with the reason.
void out_commit_(out_file *o) {
    if (o->is_stdout) {
        if (fflush(stdout) != 0) die_("standard output: write error: %s", strerror(errno));
        return;
    }
    int bad = ferror(o->f);
    bad |= fclose(o->f) != 0;
    if (bad || rename(o->tmp, o->path) != 0) {
        int e = errno;
        unlink(o->tmp);
        die_("%s: write error: %s", o->path, strerror(e));
    }
}

const char *model_error_(lmic_status st) {
    switch (st) {
    case LMIC_ERR_FORMAT: return "not an lmic model file";
    case LMIC_ERR_UNSUPPORTED: return "unsupported model file version or storage type";
    case LMIC_ERR_CORRUPT: return "corrupt or truncated model file (checksum or contents do not match)";
    default: return lmic_strerror(st);
    }
}

// Reads and loads a model file; exits with one line on any failure.
lmic_model *load_model_(const char *path, int *f16) {
    FILE *f = fopen(path, "rb");
    if (!f) die_("%s: %s", path, strerror(errno));
    lmic_buf b = {0};
    uint8_t tmp[1 << 16];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (lmic_buf_append(&b, tmp, n) != LMIC_OK) { fclose(f); die_("%s: out of memory", path); }
    int bad = ferror(f);
    fclose(f);
    if (bad) die_("%s: read error", path);
    lmic_model *m;
    lmic_status st = lmic_model_load(b.data, b.size, &m);
    if (f16) *f16 = b.size > 16 && b.data[12] == 1;
    lmic_buf_free(&b);
    if (st != LMIC_OK) die_("%s: %s", path, model_error_(st));
    return m;
}


void parse_layout_(const char *opt, const char *v, lmic_layout *layout, int *channel) {
    if (!strcmp(v, "interleave")) *layout = LMIC_LAYOUT_INTERLEAVE;
    else if (!strcmp(v, "planar")) *layout = LMIC_LAYOUT_PLANAR;
    else if (!strncmp(v, "channel:", 8)) {
        *layout = LMIC_LAYOUT_CHANNEL;
        *channel = (int)parse_int_(opt, v + 8, 0, LMIC_PCM_MAX_CHANNELS - 1);
    } else die_usage_("%s %s: use interleave, planar or channel:N", opt, v);
}

int parse_stereo_(const char *v) {
    if (!strcmp(v, "ms")) return 1;
    if (!strcmp(v, "lr")) return 0;
    die_usage_("--stereo %s: use ms or lr", v);
}

int parse_positions_(const char *v) {
    if (!strcmp(v, "sinusoidal")) return LMIC_POS_SINUSOIDAL;
    if (!strcmp(v, "rotary")) return LMIC_POS_ROTARY;
    die_usage_("--positions %s: use sinusoidal or rotary", v);
}

int parse_norm_(const char *v) {
    if (!strcmp(v, "post")) return LMIC_NORM_POST;
    if (!strcmp(v, "pre")) return LMIC_NORM_PRE;
    die_usage_("--norm %s: use post or pre", v);
}

// --- data options

int parse_predict_(const char *v) {
    if (!strcmp(v, "none")) return -1;
    if (!strcmp(v, "fast")) return LMIC_PRED_EFFORT_FAST;
    if (!strcmp(v, "normal")) return LMIC_PRED_EFFORT_NORMAL;
    if (!strcmp(v, "high")) return LMIC_PRED_EFFORT_HIGH;
    die_usage_("--predict %s: use none, fast, normal or high", v);
}

int parse_loader_option_(const char *a, const char *val, int argc, char **argv, int *i,
                         loader_opts *lo) {
#define VALUE() (val ? val : (*i + 1 < argc ? argv[++*i] : (die_usage_("%s needs a value", a), "")))
    if (!strcmp(a, "--data")) {
        const char *v = VALUE();
        if (loader_parse_kind(v, &lo->kind) != 0)
            die_usage_("--data %s: use text, image, librispeech, audio or random", v);
    } else if (!strcmp(a, "--path")) {
        lo->path = VALUE();
    } else if (!strcmp(a, "--chunk-size")) {
        lo->chunk_size = (size_t)parse_int_(a, VALUE(), 1, 1 << 30);
    } else if (!strcmp(a, "--num-chunks")) {
        lo->num_chunks = parse_int_(a, VALUE(), 0, (long long)1 << 50);
    } else if (!strcmp(a, "--keep-partial")) {
        lo->keep_partial = 1;
    } else if (!strcmp(a, "--depth")) {
        const char *v = VALUE();
        lo->depth = !strcmp(v, "native") ? 0 : (int)parse_int_(a, v, 8, 16);
        if (lo->depth != 0 && lo->depth != 8 && lo->depth != 16)
            die_usage_("--depth %s: use 8, 16 or native", v);
    } else if (!strcmp(a, "--layout")) {
        parse_layout_(a, VALUE(), &lo->layout, &lo->channel);
    } else if (!strcmp(a, "--stereo")) {
        lo->mid_side = parse_stereo_(VALUE());
    } else if (!strcmp(a, "--predict")) {
        lo->predict = parse_predict_(VALUE()) + 1;
    } else {
        return 0;
    }
    return 1;
#undef VALUE
}

// --- model shape options

void model_shape_init_(model_shape *s) {
    memset(s, 0, sizeof *s);
    s->positions = s->norm = -1;
}

int parse_model_option_(const char *a, const char *val, int argc, char **argv, int *i, model_shape *s) {
#define VALUE() (val ? val : (*i + 1 < argc ? argv[++*i] : (die_usage_("%s needs a value", a), "")))
    if (!strcmp(a, "--preset")) s->preset = VALUE();
    else if (!strcmp(a, "--d-model")) s->d_model = (int)parse_int_(a, VALUE(), 1, 8192);
    else if (!strcmp(a, "--layers")) s->layers = (int)parse_int_(a, VALUE(), 1, 256);
    else if (!strcmp(a, "--heads")) s->heads = (int)parse_int_(a, VALUE(), 1, 256);
    else if (!strcmp(a, "--widening")) s->widening = (int)parse_int_(a, VALUE(), 1, 64);
    else if (!strcmp(a, "--context")) s->context = (int)parse_int_(a, VALUE(), 1, 65536);
    else if (!strcmp(a, "--positions")) s->positions = parse_positions_(VALUE());
    else if (!strcmp(a, "--norm")) s->norm = parse_norm_(VALUE());
    else return 0;
    s->given = 1;
    return 1;
#undef VALUE
}

lmic_model_config model_shape_config_(const model_shape *s) {
    lmic_model_config c;
    if (lmic_model_preset(s->preset ? s->preset : "200k", &c) != LMIC_OK)
        die_usage_("--preset %s: use dm-default, 200k, 800k or 3.2m", s->preset);
    if (s->d_model) c.d_model = s->d_model;
    if (s->layers) c.n_layers = s->layers;
    if (s->heads) c.n_heads = s->heads;
    if (s->widening) c.widening = s->widening;
    if (s->context) c.context = s->context;
    if (s->positions >= 0) c.positions = s->positions;
    if (s->norm >= 0) c.norm = s->norm;
    if (lmic_model_config_check(&c) != LMIC_OK)
        die_usage_("this model configuration is not valid (d_model %d, layers %d, heads %d, widening %d, "
                   "context %d)", c.d_model, c.n_layers, c.n_heads, c.widening, c.context);
    return c;
}

// --- files

void read_all_(const char *path, lmic_buf *b) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) die_("%s: %s", path, strerror(errno));
    uint8_t tmp[1 << 16];
    size_t n;
    b->size = 0;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (lmic_buf_append(b, tmp, n) != LMIC_OK) die_("%s: out of memory", path);
    int bad = ferror(f);
    if (f != stdin) fclose(f);
    if (bad) die_("%s: read error", path);
}
