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

#include "bench_cmd.h"
#include "cli.h"
#include "codec_cmd.h"
#include "eval.h"
#include "lmic.h"
#include "loaders.h"
#include "pred_cmd.h"
#include "score.h"
#include "train_cmd.h"

// A macro's value as a string literal (the usage text prints defaults).
#define STR2_(x) #x
#define STR_(x) STR2_(x)

#define DEFAULT_DATA DATA_LIBRISPEECH
#define DEFAULT_PATH "samples/speech16k"
#define DEFAULT_COMPRESSORS "gzip,lzma2,png,flac"

static const char *usage_ =
    "lmic " LMIC_VERSION_STRING " -- language modelling is compression, for audio\n"
    "\n"
    "usage: lmic COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  compress    FILE... -> FILE.lmic (WAV, FLAC, AIFF, ...; a WAV is restored byte for byte)\n"
    "  decompress  FILE.lmic... -> FILE      test FILE.lmic...: decode and verify, write nothing\n"
    "  info        FILE.lmic...: the header, chunks and sizes\n"
    "           [-o OUT] [-c] [-f] [--threads N] [--model M] [--depth native|8]\n"
    "           [--layout interleave|planar] [--stereo ms|lr] [-v] [-q]  (- = stdin/stdout)\n"
    "           compress: [--predict none|fast|normal|high] (normal) [--chunk FRAMES] (" STR_(CODEC_DEFAULT_CHUNK) ")\n"
    "           [--coder auto|mix|lm|plain] (mix: the model mixed with the plain coder's\n"
    "           adaptive model; auto: per chunk, the shorter of mix and plain; plain never\n"
    "           runs the model) [--adapt[=STEPS[,LR_SHIFT]]] (the model learns as it\n"
    "           codes: STEPS (1) Adam steps at lr 2^-LR_SHIFT (12) after each segment; slow)\n"
    "           [--window TOKENS] (" STR_(CODEC_DEFAULT_WINDOW) ", at most the model's context) [--overlap TOKENS] (0);\n"
    "           stereo is coded as mid/side unless --stereo lr\n"
    "  eval     compress data with classical codecs, the paper's Table 1\n"
    "           [--compressor gzip,lzma2,lzma2-9e,png,flac,lm,lmic] [--json] [--no-progress]\n"
    "           (lm: the paper's LM row, needs --model M [--threads N]; lmic: lmic's\n"
    "           audio codec, front end + built-in model, on each chunk alone)\n"
    "  chunks   write the loader's byte stream to a file: -o FILE (- = stdout) [-f]\n"
    "  score    bits per byte of a model on data: --model M [--threads N] [--batch B]\n"
    "           [--incremental] [--dump-cdf FILE] [--dump-logp FILE] [--json]\n"
    "  model new   a randomly initialised model: --preset P [--seed S]\n"
    "              [--positions sinusoidal|rotary] [--norm post|pre] [--context N]\n"
    "              [--d-model C] [--layers L] [--heads NH] [--widening W]\n"
    "              [--f16] -o MODEL   (presets: dm-default, 200k, 800k, 3.2m)\n"
    "  model convert MODEL -o OUT [--f16]: the same weights, stored as float16 or float32\n"
    "  model info  MODEL: its config, parameter count and fingerprint\n"
    "  train    train a model on data: --steps N -o MODEL [...] (lmic train --help)\n"
    "  bench    DIR...: lmic beside flac -8, wavpack -hhx6, xz -9e and gzip -9 on each\n"
    "           directory's *.wav, every decode verified (lmic bench --help)\n"
    "           [--csv FILE] [--plot DIR] [--threads N] [--model M] [--files K] [--codecs L]\n"
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
    "  --predict E          audio: each chunk's predictor residuals, as compress\n"
    "                       codes them: none | fast | normal | high (default none)\n"
    "  --seed S             random data seed (default 0)\n"
    "\n"
    "  -h, --help           this text;  -V, --version  the version\n";

typedef struct {
    loader_opts lo;
    const char *compressors;
    const char *out;
    int json, force, progress;
    // model and score
    const char *model, *dump_cdf, *dump_logp;
    model_shape shape;
    int f16, threads, batch, incremental;
    const char *positional;  // one non-option argument (model info)
} cli_opts;

// Parses the options shared by the data commands; exits on a usage error.
static void parse_(int argc, char **argv, int first, cli_opts *o) {
    memset(o, 0, sizeof *o);
    model_shape_init_(&o->shape);
    o->threads = 1;
    o->batch = 16;
    o->lo.kind = DEFAULT_DATA;
    o->lo.num_chunks = -1;
    o->lo.layout = LMIC_LAYOUT_INTERLEAVE;
    o->compressors = DEFAULT_COMPRESSORS;
    o->progress = 1;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        // Options with a value take it from the next argument or after '='.
        const char *val = NULL;
        char name[64];
        val = split_option_(&a, name, sizeof name);
#define VALUE() (val ? val : (i + 1 < argc ? argv[++i] : (die_usage_("%s needs a value", a), "")))
        if (parse_loader_option_(a, val, argc, argv, &i, &o->lo)) {
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
        } else if (!strcmp(a, "--model")) {
            o->model = VALUE();
        } else if (parse_model_option_(a, val, argc, argv, &i, &o->shape)) {
        } else if (!strcmp(a, "--f16")) {
            o->f16 = 1;
        } else if (!strcmp(a, "--threads")) {
            o->threads = (int)parse_int_(a, VALUE(), 1, 256);
        } else if (!strcmp(a, "--batch")) {
            o->batch = (int)parse_int_(a, VALUE(), 1, 1024);
        } else if (!strcmp(a, "--incremental")) {
            o->incremental = 1;
        } else if (!strcmp(a, "--dump-cdf")) {
            o->dump_cdf = VALUE();
        } else if (!strcmp(a, "--dump-logp")) {
            o->dump_logp = VALUE();
        } else if (a[0] != '-' && !o->positional) {
            o->positional = a;
        } else {
            die_usage_("unknown option '%s'", argv[i]);
        }
#undef VALUE
    }
    if (!o->lo.path && o->lo.kind != DATA_RANDOM) {
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

static const lmic_model *builtin_model_(void) { return default_model(NULL); }

static int cmd_eval_(int argc, char **argv) {
    cli_opts o;
    parse_(argc, argv, 2, &o);
    if (o.positional) die_usage_("unexpected argument '%s'", o.positional);
    if (o.out) die_usage_("eval prints its report; -o is not an eval option");
    loader *L = open_loader_(&o);
    char name[600];
    snprintf(name, sizeof name, "%s:%s", loader_kind_name(o.lo.kind),
             o.lo.kind == DATA_RANDOM ? "seeded" : o.lo.path);
    lmic_model *m = o.model ? load_model_(o.model, NULL) : NULL;
    eval_opts e = {o.compressors, name, o.json, o.progress, m, builtin_model_, o.threads};
    char err[600];
    int rc = eval_run(L, &e, stdout, err, sizeof err);
    loader_free(L);
    lmic_model_free(m);
    if (rc != 0) die_("%s", err);
    return 0;
}

static int cmd_chunks_(int argc, char **argv) {
    cli_opts o;
    parse_(argc, argv, 2, &o);
    if (o.positional) die_usage_("unexpected argument '%s'", o.positional);
    if (!o.out) die_usage_("chunks needs -o FILE (- for standard output)");
    if (strcmp(o.out, "-") && !o.force && access(o.out, F_OK) == 0)
        die_("%s: file exists (use -f to overwrite)", o.out);
    loader *L = open_loader_(&o);
    out_file out;
    out_open_(&out, o.out, o.force);
    const uint8_t *data;
    size_t n, total = 0;
    long long count = 0;
    chunk_meta meta;
    int r;
    while ((r = loader_next(L, &data, &n, &meta)) == 1) {
        if (fwrite(data, 1, n, out.f) != n) break;
        total += n;
        count++;
    }
    if (r != 0) {
        char msg[700];
        snprintf(msg, sizeof msg, "%s", r < 0 ? loader_error(L) : strerror(errno));
        out_abort_(&out);
        loader_free(L);
        if (r < 0) die_("%s", msg);
        die_("%s: write error: %s", o.out, msg);
    }
    loader_free(L);
    out_commit_(&out);
    fprintf(stderr, "lmic: %lld chunks, %zu bytes -> %s\n", count, total,
            out.is_stdout ? "standard output" : o.out);
    return 0;
}

// --- models

// Writes m to `path` (float16 with f16) and returns the fingerprint of the
// model the file holds: float16 storage has its own.
static void save_model_file_(const lmic_model *m, int f16, const char *path, int force, char fp[33]) {
    lmic_buf b = {0};
    lmic_status st = lmic_model_save(m, f16, &b);
    if (st != LMIC_OK) die_("%s: %s", path, lmic_strerror(st));
    out_file out;
    out_open_(&out, path, force);
    if (fwrite(b.data, 1, b.size, out.f) != b.size) {
        int e = errno;
        out_abort_(&out);
        die_("%s: write error: %s", path, strerror(e));
    }
    out_commit_(&out);
    lmic_model *saved;
    if ((st = lmic_model_load(b.data, b.size, &saved)) != LMIC_OK) die_("%s: %s", path, lmic_strerror(st));
    lmic_model_fingerprint(saved, fp);
    lmic_model_free(saved);
    lmic_buf_free(&b);
}

static int cmd_model_(int argc, char **argv) {
    if (argc < 3) die_usage_("model needs a subcommand: new, convert or info");
    cli_opts o;
    parse_(argc, argv, 3, &o);
    if (!strcmp(argv[2], "new")) {
        if (!o.out) die_usage_("model new needs -o MODEL");
        if (o.positional) die_usage_("unexpected argument '%s'", o.positional);
        lmic_model_config c = model_shape_config_(&o.shape);
        lmic_model *m;
        lmic_status st = lmic_model_new_random(&c, o.lo.seed, &m);
        if (st != LMIC_OK) die_("model new: %s", lmic_strerror(st));
        char fp[33];
        save_model_file_(m, o.f16, o.out, o.force, fp);
        fprintf(stderr, "lmic: %s: %zu parameters, seed %llu, fingerprint %s\n", o.out,
                lmic_model_num_params(m), (unsigned long long)o.lo.seed, fp);
        lmic_model_free(m);
        return 0;
    }
    if (!strcmp(argv[2], "convert")) {
        if (!o.positional || !o.out) die_usage_("model convert needs a model file and -o MODEL [--f16]");
        lmic_model *m = load_model_(o.positional, NULL);
        char fp[33];
        save_model_file_(m, o.f16, o.out, o.force, fp);
        fprintf(stderr, "lmic: %s: %s storage, fingerprint %s\n", o.out, o.f16 ? "float16" : "float32", fp);
        lmic_model_free(m);
        return 0;
    }
    if (!strcmp(argv[2], "info")) {
        if (!o.positional) die_usage_("model info needs a model file");
        int f16;
        lmic_model *m = load_model_(o.positional, &f16);
        const lmic_model_config *c = lmic_model_get_config(m);
        char fp[33];
        lmic_model_fingerprint(m, fp);
        printf("model:       %s\n", o.positional);
        printf("fingerprint: %s\n", fp);
        printf("parameters:  %zu\n", lmic_model_num_params(m));
        printf("config:      d_model %d, layers %d, heads %d, widening %d, context %d\n",
               c->d_model, c->n_layers, c->n_heads, c->widening, c->context);
        printf("positions:   %s\n", c->positions == LMIC_POS_ROTARY ? "rotary" : "sinusoidal");
        printf("norm:        %s\n", c->norm == LMIC_NORM_PRE ? "pre-LN" : "post-LN");
        printf("storage:     %s\n", f16 ? "float16" : "float32");
        lmic_model_free(m);
        return 0;
    }
    die_usage_("unknown model subcommand '%s' (new, convert, info)", argv[2]);
    return 2;
}

static FILE *open_dump_(const char *path, const char *what) {
    if (!path) return NULL;
    FILE *f = fopen(path, "wb");
    if (!f) die_("%s %s: %s", what, path, strerror(errno));
    return f;
}

static int cmd_score_(int argc, char **argv) {
    cli_opts o;
    parse_(argc, argv, 2, &o);
    if (o.positional) die_usage_("unexpected argument '%s'", o.positional);
    if (!o.model) die_usage_("score needs --model MODEL");
    lmic_model *m = load_model_(o.model, NULL);
    loader *L = open_loader_(&o);
    score_opts so = {o.threads, o.batch, o.incremental, o.json, o.progress,
                     open_dump_(o.dump_cdf, "--dump-cdf"), open_dump_(o.dump_logp, "--dump-logp")};
    char err[600];
    int rc = score_run(L, m, &so, stdout, err, sizeof err);
    int dump_bad = 0;
    if (so.dump_cdf) dump_bad |= fclose(so.dump_cdf) != 0;
    if (so.dump_logp) dump_bad |= fclose(so.dump_logp) != 0;
    loader_free(L);
    lmic_model_free(m);
    if (rc != 0) die_("%s", err);
    if (dump_bad) die_("write error on a dump file");
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
        const char *name;
        char fp[33];
        lmic_model_fingerprint(default_model(&name), fp);
        printf("lmic %s\n", LMIC_VERSION_STRING);
        printf("built-in model: %s, fingerprint %s\n", name, fp);
        return 0;
    }
    if (!strcmp(cmd, "eval")) return cmd_eval_(argc, argv);
    if (!strcmp(cmd, "chunks")) return cmd_chunks_(argc, argv);
    if (!strcmp(cmd, "score")) return cmd_score_(argc, argv);
    if (!strcmp(cmd, "model")) return cmd_model_(argc, argv);
    if (!strcmp(cmd, "train")) return cmd_train(argc, argv);
    if (!strcmp(cmd, "compress")) return cmd_compress(argc, argv);
    if (!strcmp(cmd, "decompress") || !strcmp(cmd, "test")) return cmd_decompress(argc, argv);
    if (!strcmp(cmd, "info")) return cmd_info(argc, argv);
    if (!strcmp(cmd, "predict-stats")) return cmd_predict_stats(argc, argv);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc, argv);
    die_usage_("unknown command '%s'", cmd);
    return 2;
}
