// lmic.c -- the command-line tool. It owns the terminal: every failure is one
// line on stderr ("lmic: error: ...") and a non-zero exit (2 for a usage
// error, 1 for anything else); output files appear only when complete.
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval.h"
#include "lmic.h"
#include "loaders.h"

#define DEFAULT_DATA DATA_LIBRISPEECH
#define DEFAULT_PATH "samples/speech16k"
#define DEFAULT_COMPRESSORS "gzip,lzma2,png,flac"

static const char *usage_ =
    "lmic " LMIC_VERSION_STRING " -- language modelling is compression, for audio\n"
    "\n"
    "usage: lmic COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  eval     compress data with classical codecs, the paper's Table 1\n"
    "           [--compressor gzip,lzma2,lzma2-9e,png,flac] [--json] [--no-progress]\n"
    "  chunks   write the loader's byte stream to a file: -o FILE (- = stdout) [-f]\n"
    "\n"
    "data options (eval, chunks):\n"
    "  --data KIND          text | image | librispeech | audio | random\n"
    "                       (default librispeech)\n"
    "  --path P             a file or a directory tree (default " DEFAULT_PATH ")\n"
    "  --chunk-size N       bytes per chunk (default 2048; audio: whole frames)\n"
    "  --num-chunks N       stop after N chunks (default: all; random: 128)\n"
    "  --keep-partial       keep each recording's last short chunk\n"
    "  --depth 8|16|native  audio sample depth in the tokens (default native)\n"
    "  --layout L           interleave | planar | channel:N (default interleave)\n"
    "  --stereo ms|lr       lossless mid/side, or left/right as stored (default lr)\n"
    "  --seed S             random data seed (default 0)\n"
    "\n"
    "  -h, --help           this text;  -V, --version  the version\n";

static void die_usage_(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lmic: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'lmic --help')\n");
    va_end(ap);
    exit(2);
}

static void die_(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lmic: error: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static long long parse_int_(const char *opt, const char *s, long long lo, long long hi) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        die_usage_("%s: '%s' is not an integer in [%lld, %lld]", opt, s, lo, hi);
    return v;
}

typedef struct {
    loader_opts lo;
    const char *compressors;
    const char *out;
    int json, force, progress;
} cli_opts;

// Parses the options shared by the data commands; exits on a usage error.
static void parse_(int argc, char **argv, cli_opts *o) {
    memset(o, 0, sizeof *o);
    o->lo.kind = DEFAULT_DATA;
    o->lo.num_chunks = -1;
    o->lo.layout = LMIC_LAYOUT_INTERLEAVE;
    o->compressors = DEFAULT_COMPRESSORS;
    o->progress = 1;
    int have_path = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        // Options with a value take it from the next argument or after '='.
        const char *val = NULL;
        char name[64];
        const char *eq = strchr(a, '=');
        if (a[0] == '-' && a[1] == '-' && eq && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = 0;
            val = eq + 1;
            a = name;
        }
#define VALUE() (val ? val : (i + 1 < argc ? argv[++i] : (die_usage_("%s needs a value", a), "")))
        if (!strcmp(a, "--data")) {
            const char *v = VALUE();
            if (loader_parse_kind(v, &o->lo.kind) != 0)
                die_usage_("--data %s: use text, image, librispeech, audio or random", v);
        } else if (!strcmp(a, "--path")) {
            o->lo.path = VALUE();
            have_path = 1;
        } else if (!strcmp(a, "--chunk-size")) {
            o->lo.chunk_size = (size_t)parse_int_(a, VALUE(), 1, 1 << 30);
        } else if (!strcmp(a, "--num-chunks")) {
            o->lo.num_chunks = parse_int_(a, VALUE(), 0, (long long)1 << 50);
        } else if (!strcmp(a, "--keep-partial")) {
            o->lo.keep_partial = 1;
        } else if (!strcmp(a, "--depth")) {
            const char *v = VALUE();
            o->lo.depth = !strcmp(v, "native") ? 0 : (int)parse_int_(a, v, 8, 16);
            if (o->lo.depth != 0 && o->lo.depth != 8 && o->lo.depth != 16)
                die_usage_("--depth %s: use 8, 16 or native", v);
        } else if (!strcmp(a, "--layout")) {
            const char *v = VALUE();
            if (!strcmp(v, "interleave")) o->lo.layout = LMIC_LAYOUT_INTERLEAVE;
            else if (!strcmp(v, "planar")) o->lo.layout = LMIC_LAYOUT_PLANAR;
            else if (!strncmp(v, "channel:", 8)) {
                o->lo.layout = LMIC_LAYOUT_CHANNEL;
                o->lo.channel = (int)parse_int_(a, v + 8, 0, LMIC_PCM_MAX_CHANNELS - 1);
            } else die_usage_("--layout %s: use interleave, planar or channel:N", v);
        } else if (!strcmp(a, "--stereo")) {
            const char *v = VALUE();
            if (!strcmp(v, "ms")) o->lo.mid_side = 1;
            else if (!strcmp(v, "lr")) o->lo.mid_side = 0;
            else die_usage_("--stereo %s: use ms or lr", v);
        } else if (!strcmp(a, "--seed")) {
            o->lo.seed = (uint64_t)parse_int_(a, VALUE(), 0, INT64_MAX);
        } else if (!strcmp(a, "--compressor")) {
            o->compressors = VALUE();
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            o->out = VALUE();
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--no-progress")) {
            o->progress = 0;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
            o->force = 1;
        } else {
            die_usage_("unknown option '%s'", argv[i]);
        }
#undef VALUE
    }
    if (!have_path && o->lo.kind != DATA_RANDOM) {
        if (o->lo.kind != DEFAULT_DATA)
            die_usage_("--data %s needs --path", loader_kind_name(o->lo.kind));
        o->lo.path = DEFAULT_PATH;
    }
}

static loader *open_loader_(const cli_opts *o) {
    char err[600];
    loader *L = loader_open(&o->lo, err, sizeof err);
    if (!L) die_("%s", err);
    return L;
}

static int cmd_eval_(int argc, char **argv) {
    cli_opts o;
    parse_(argc, argv, &o);
    if (o.out) die_usage_("eval prints its report; -o is not an eval option");
    loader *L = open_loader_(&o);
    char name[600];
    snprintf(name, sizeof name, "%s:%s", loader_kind_name(o.lo.kind),
             o.lo.kind == DATA_RANDOM ? "seeded" : o.lo.path);
    eval_opts e = {o.compressors, name, o.json, o.progress};
    char err[600];
    int rc = eval_run(L, &e, stdout, err, sizeof err);
    loader_free(L);
    if (rc != 0) die_("%s", err);
    return 0;
}

// Writes the byte stream to a temporary file beside the output, renamed into
// place only when complete, so a failure never leaves a partial file.
static int cmd_chunks_(int argc, char **argv) {
    cli_opts o;
    parse_(argc, argv, &o);
    if (!o.out) die_usage_("chunks needs -o FILE (- for standard output)");
    int to_stdout = !strcmp(o.out, "-");
    struct stat st;
    if (!to_stdout && !o.force && stat(o.out, &st) == 0)
        die_("%s: file exists (use -f to overwrite)", o.out);
    loader *L = open_loader_(&o);
    char tmp[4200];
    FILE *f = stdout;
    if (!to_stdout) {
        snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", o.out);
        int fd = mkstemp(tmp);
        mode_t mask = umask(0);
        umask(mask);
        if (fd < 0 || fchmod(fd, 0666 & ~mask) != 0 || !(f = fdopen(fd, "wb"))) {
            loader_free(L);
            die_("%s: cannot create: %s", o.out, strerror(errno));
        }
    }
    const uint8_t *data;
    size_t n, total = 0;
    long long count = 0;
    chunk_meta meta;
    int r;
    while ((r = loader_next(L, &data, &n, &meta)) == 1) {
        if (fwrite(data, 1, n, f) != n) break;
        total += n;
        count++;
    }
    int werr = r == 1 || ferror(f);
    int cerr = to_stdout ? fflush(f) != 0 : fclose(f) != 0;
    if (r < 0 || werr || cerr) {
        const char *why = r < 0 ? loader_error(L) : strerror(errno);
        char msg[700];
        snprintf(msg, sizeof msg, "%s", why);
        if (!to_stdout) unlink(tmp);
        loader_free(L);
        if (r < 0) die_("%s", msg);
        die_("%s: write error: %s", o.out, msg);
    }
    loader_free(L);
    if (!to_stdout && rename(tmp, o.out) != 0) {
        unlink(tmp);
        die_("%s: cannot rename into place: %s", o.out, strerror(errno));
    }
    fprintf(stderr, "lmic: %lld chunks, %zu bytes -> %s\n", count, total,
            to_stdout ? "standard output" : o.out);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) { fputs(usage_, stderr); return 2; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(usage_, stdout);
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("lmic %s\n", LMIC_VERSION_STRING);
        return 0;
    }
    if (!strcmp(cmd, "eval")) return cmd_eval_(argc, argv);
    if (!strcmp(cmd, "chunks")) return cmd_chunks_(argc, argv);
    die_usage_("unknown command '%s'", cmd);
    return 2;
}
