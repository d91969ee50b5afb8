// train_cmd.c -- `lmic train`: loads the training bytes with a data loader,
// samples random windows, steps an lmic_trainer, reports progress, evaluates
// held-back data, writes checkpoints (periodically, at the end, and when
// interrupted by SIGINT or SIGTERM) and the trained model.
//
// Data: every chunk of a file is concatenated back into that file's byte
// stream (chunks are read with keep_partial, so nothing is dropped); a batch
// is `batch` windows of `seq` bytes drawn uniformly, with replacement, from
// all windows that lie inside one file (lmic_trainer_sample). With --predict
// the segments are chunks instead, and windows start on frame boundaries, as
// the compressor's windows do. Validation
// bytes come from --val-path, or are the last --val-frac of the training
// bytes (in the loader's file order, which is sorted by path); validation
// scores non-overlapping seq-byte windows from the start of that data, each
// from a fresh context as the compressor codes chunks.
#include "train_cmd.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "lmic.h"
#include "loaders.h"
#include "progress.h"

static const char *usage_ =
    "usage: lmic train --data KIND --path P [loader options] -o MODEL [options]\n"
    "  model:    --preset 200k|dm-default|800k|3.2m (default 200k) [--context N]\n"
    "            [--d-model C] [--layers L] [--heads NH] [--widening W]\n"
    "            [--positions sinusoidal|rotary] [--norm post|pre], or --model M (start from M)\n"
    "  steps:    --steps N (total updates; with --resume, the total to reach)\n"
    "            --batch B (32)  --seq T (2048)  --lr X (1e-4)  [--warmup W]\n"
    "            [--cosine | --cosine-steps K] [--clip G]  --seed S (0)  --threads N (1)\n"
    "  held out: --val-path P2 | --val-frac F (default 0.05)  [--val-every K (100)]\n"
    "            [--val-windows N (64)]\n"
    "  state:    [--every K] checkpoint every K steps to --checkpoint FILE (MODEL.ckpt);\n"
    "            the end and SIGINT/SIGTERM also write it.  [--resume CKPT] (continues\n"
    "            with the checkpoint's batch, seq, lr, schedule, clip and seed)\n"
    "  output:   [--print-every K (10)] [-f]\n"
    "  loader:   --chunk-size N --num-chunks N --depth 8|16|native --layout L --stereo ms|lr\n"
    "            --predict none|fast|normal|high (audio: train on the residuals that\n"
    "            compress codes; windows then lie inside one chunk, frame-aligned)\n";

static double parse_num_(const char *opt, const char *s, double lo, double hi) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        die_usage_("%s: '%s' is not a number in [%g, %g]", opt, s, lo, hi);
    return v;
}

typedef struct {
    loader_opts lo, vlo;
    const char *model, *out, *ckpt, *resume, *dump_grads;
    model_shape shape;
    int force, have_val;
    const char *tc_opt;  // the last option that sets the training config (--resume ignores it)
    long long steps, every, val_every, val_windows, print_every;
    double val_frac;
    lmic_train_config tc;
    int cosine;
} train_opts;

static void parse_(int argc, char **argv, train_opts *o) {
    memset(o, 0, sizeof *o);
    lmic_train_config_default(&o->tc);
    model_shape_init_(&o->shape);
    o->lo.kind = DATA_LIBRISPEECH;
    o->lo.num_chunks = -1;
    o->lo.layout = LMIC_LAYOUT_INTERLEAVE;
    o->steps = -1;
    o->val_every = 100;
    o->val_windows = 64;
    o->print_every = 10;
    o->val_frac = -1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        char name[64];
        val = split_option_(&a, name, sizeof name);
#define VALUE() (val ? val : (i + 1 < argc ? argv[++i] : (die_usage_("%s needs a value", a), "")))
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_, stdout);
            exit(0);
        } else if (parse_loader_option_(a, val, argc, argv, &i, &o->lo)) {
        } else if (!strcmp(a, "--seed")) {
            o->tc.seed = (uint64_t)parse_int_(a, VALUE(), 0, INT64_MAX);
        } else if (parse_model_option_(a, val, argc, argv, &i, &o->shape)) {
        } else if (!strcmp(a, "--model")) {
            o->model = VALUE();
        } else if (!strcmp(a, "--steps")) {
            o->steps = parse_int_(a, VALUE(), 0, (long long)1 << 40);
        } else if (!strcmp(a, "--batch")) {
            o->tc_opt = "--batch";
            o->tc.batch = (int)parse_int_(a, VALUE(), 1, 65536);
        } else if (!strcmp(a, "--seq")) {
            o->tc_opt = "--seq";
            o->tc.seq = (int)parse_int_(a, VALUE(), 1, 65536);
        } else if (!strcmp(a, "--lr")) {
            o->tc_opt = "--lr";
            o->tc.lr = (float)parse_num_(a, VALUE(), 0, 10);
        } else if (!strcmp(a, "--warmup")) {
            o->tc_opt = "--warmup";
            o->tc.warmup = parse_int_(a, VALUE(), 0, (long long)1 << 40);
        } else if (!strcmp(a, "--cosine")) {
            o->tc_opt = "--cosine";
            o->cosine = 1;
        } else if (!strcmp(a, "--cosine-steps")) {
            o->tc_opt = "--cosine-steps";
            o->tc.cosine_steps = parse_int_(a, VALUE(), 1, (long long)1 << 40);
        } else if (!strcmp(a, "--clip")) {
            o->tc_opt = "--clip";
            o->tc.clip = (float)parse_num_(a, VALUE(), 0, 1e30);
        } else if (!strcmp(a, "--threads")) {
            o->tc.threads = (int)parse_int_(a, VALUE(), 1, 256);
        } else if (!strcmp(a, "--val-path")) {
            o->vlo.path = VALUE();
            o->have_val = 1;
        } else if (!strcmp(a, "--val-frac")) {
            o->val_frac = parse_num_(a, VALUE(), 0, 0.9);
        } else if (!strcmp(a, "--val-every")) {
            o->val_every = parse_int_(a, VALUE(), 0, (long long)1 << 40);
        } else if (!strcmp(a, "--val-windows")) {
            o->val_windows = parse_int_(a, VALUE(), 1, (long long)1 << 30);
        } else if (!strcmp(a, "--every")) {
            o->every = parse_int_(a, VALUE(), 0, (long long)1 << 40);
        } else if (!strcmp(a, "--print-every")) {
            o->print_every = parse_int_(a, VALUE(), 1, (long long)1 << 40);
        } else if (!strcmp(a, "--checkpoint")) {
            o->ckpt = VALUE();
        } else if (!strcmp(a, "--resume")) {
            o->resume = VALUE();
        } else if (!strcmp(a, "--dump-grads")) {  // hidden: tests/gradcheck.sh
            o->dump_grads = VALUE();
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            o->out = VALUE();
        } else if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
            o->force = 1;
        } else {
            die_usage_("unknown option '%s'", argv[i]);
        }
#undef VALUE
    }
    if (!o->out) die_usage_("train needs -o MODEL");
    if (o->steps < 0) die_usage_("train needs --steps N");
    if (!o->lo.path && o->lo.kind != DATA_RANDOM) die_usage_("train needs --path");
    if (o->have_val && o->val_frac >= 0) die_usage_("use --val-path or --val-frac, not both");
    if (!o->have_val && o->val_frac < 0) o->val_frac = 0.05;
    if (o->model && o->shape.given)
        die_usage_("--model M takes its configuration from M");
    if (o->cosine && !o->tc.cosine_steps) o->tc.cosine_steps = o->steps;
    o->lo.seed = o->tc.seed;
    o->lo.keep_partial = 1;  // training uses every byte
    const char *vpath = o->vlo.path;  // validation data: the same options, all of it
    o->vlo = o->lo;
    o->vlo.path = vpath;
    o->vlo.num_chunks = -1;
    o->vlo.seed = o->lo.seed + 1;
}

// --- data: every file's bytes, back to back, and where each file ends

typedef struct {
    lmic_buf bytes;
    size_t *end;    // (n,) segment i is bytes[end[i-1], end[i])
    size_t *align;  // (n,) its windows start a multiple of align[i] after its start
    size_t n, cap;
} dataset;

static void push_end_(dataset *d, size_t end, size_t align) {
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 64;
        d->end = realloc(d->end, d->cap * sizeof *d->end);
        d->align = realloc(d->align, d->cap * sizeof *d->align);
        if (!d->end || !d->align) die_("out of memory");
    }
    d->end[d->n] = end;
    d->align[d->n++] = align;
}

static void load_(const loader_opts *lo, dataset *d) {
    char err[600], file[4096] = "";
    loader *L = loader_open(lo, err, sizeof err);
    if (!L) die_("%s", err);
    const uint8_t *p;
    size_t n;
    chunk_meta meta;
    int r, any = 0;
    size_t align = 1;
    while ((r = loader_next(L, &p, &n, &meta)) == 1) {
        // Residuals restart with every chunk, and lmic compress reads chunks
        // a whole number of frames at a time: with --predict, a chunk is a
        // segment whose windows start on frame boundaries.
        if (any && (lo->predict || strcmp(file, meta.file) != 0)) push_end_(d, d->bytes.size, align);
        align = lo->predict ? (size_t)meta.frame_bytes : 1;
        snprintf(file, sizeof file, "%s", meta.file);
        any = 1;
        if (lmic_buf_append(&d->bytes, p, n) != LMIC_OK) die_("out of memory");
    }
    if (r < 0) die_("%s", loader_error(L));
    if (any) push_end_(d, d->bytes.size, align);
    loader_free(L);
}

// Moves the last `frac` of d's bytes (by file order, splitting a file at the
// cut, or cutting before an aligned segment) into v.
static void split_(dataset *d, double frac, dataset *v) {
    const size_t total = d->bytes.size;
    size_t cut = total - (size_t)((double)total * frac);
    size_t keep = 0;  // segments wholly before the cut
    for (size_t i = 0; i < d->n; i++)
        if (d->end[i] <= cut) keep = i + 1;
    if (keep < d->n && d->align[keep] > 1) cut = keep ? d->end[keep - 1] : 0;
    if (lmic_buf_append(&v->bytes, d->bytes.data + cut, total - cut) != LMIC_OK) die_("out of memory");
    for (size_t i = keep; i < d->n; i++) push_end_(v, d->end[i] - cut, d->align[i]);
    if (keep < d->n && (keep ? d->end[keep - 1] : 0) < cut) d->end[keep++] = cut;  // the split file's head
    d->n = keep;
    d->bytes.size = cut;
}

static void dataset_free_(dataset *d) {
    lmic_buf_free(&d->bytes);
    free(d->end);
    free(d->align);
}

// --- files

static void write_file_(const char *path, const void *data, size_t n) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    mode_t mask = umask(0);
    umask(mask);
    FILE *f = NULL;
    if (fd < 0 || fchmod(fd, 0666 & ~mask) != 0 || !(f = fdopen(fd, "wb")))
        die_("%s: cannot create: %s", path, strerror(errno));
    int ok = fwrite(data, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        die_("%s: write error: %s", path, strerror(e));
    }
}

static void read_file_(const char *path, lmic_buf *b) {
    FILE *f = fopen(path, "rb");
    if (!f) die_("%s: %s", path, strerror(errno));
    uint8_t tmp[1 << 16];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (lmic_buf_append(b, tmp, n) != LMIC_OK) die_("%s: out of memory", path);
    int bad = ferror(f);
    fclose(f);
    if (bad) die_("%s: read error", path);
}

static void save_model_(lmic_trainer *t, const char *path) {
    lmic_buf b = {0};
    lmic_status st = lmic_model_save(lmic_trainer_model(t), 0, &b);
    if (st != LMIC_OK) die_("%s: %s", path, lmic_strerror(st));
    write_file_(path, b.data, b.size);
    lmic_buf_free(&b);
}

static void save_ckpt_(lmic_trainer *t, const char *path) {
    lmic_buf b = {0};
    lmic_status st = lmic_trainer_save(t, &b);
    if (st != LMIC_OK) die_("%s: %s", path, lmic_strerror(st));
    write_file_(path, b.data, b.size);
    lmic_buf_free(&b);
}

// --- validation: bits per byte over non-overlapping windows

static double validate_(lmic_trainer *t, const dataset *v, long long max_windows, int threads) {
    const lmic_train_config *tc = lmic_trainer_get_config(t);
    const int T = tc->seq, B = tc->batch;
    uint8_t *tok = malloc((size_t)B * T);
    float *logp = malloc((size_t)B * T * LMIC_VOCAB * sizeof *logp);
    if (!tok || !logp) die_("out of memory");
    double bits = 0;
    long long nwin = 0;
    int nb = 0;
    for (size_t i = 0, beg = 0; i < v->n && nwin + nb < max_windows; beg = v->end[i], i++) {
        for (size_t s = beg; s + (size_t)T <= v->end[i] && nwin + nb < max_windows; s += (size_t)T) {
            memcpy(tok + (size_t)nb++ * T, v->bytes.data + s, (size_t)T);
            if (nb < B) continue;
            lmic_status st = lmic_model_forward(lmic_trainer_model(t), tok, nb, T, threads, logp);
            if (st != LMIC_OK) die_("validation: %s", lmic_strerror(st));
            for (size_t r = 0; r < (size_t)nb * T; r++) bits -= logp[r * LMIC_VOCAB + tok[r]];
            nwin += nb;
            nb = 0;
        }
    }
    if (nb > 0) {
        lmic_status st = lmic_model_forward(lmic_trainer_model(t), tok, nb, T, threads, logp);
        if (st != LMIC_OK) die_("validation: %s", lmic_strerror(st));
        for (size_t r = 0; r < (size_t)nb * T; r++) bits -= logp[r * LMIC_VOCAB + tok[r]];
        nwin += nb;
    }
    free(tok);
    free(logp);
    return nwin ? bits / log(2.0) / ((double)nwin * T) : NAN;
}

// --- signals: finish the step, write a checkpoint, leave

static volatile sig_atomic_t stop_;
static void on_signal_(int sig) { stop_ = sig; }

static void fmt_time_(double s, char *buf, size_t n) {
    if (!(s >= 0) || s > 1e8) snprintf(buf, n, "?");
    else if (s >= 3600) snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else if (s >= 60) snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(buf, n, "%.0fs", s);
}

int cmd_train(int argc, char **argv) {
    train_opts o;
    parse_(argc, argv, &o);
    struct stat sb;
    if (!o.force && stat(o.out, &sb) == 0) die_("%s: file exists (use -f to overwrite)", o.out);
    char ckpt_default[4200];
    snprintf(ckpt_default, sizeof ckpt_default, "%s.ckpt", o.out);
    const char *ckpt = o.ckpt ? o.ckpt : ckpt_default;

    // the trainer: from a checkpoint, a model file or a preset
    lmic_trainer *t = NULL;
    lmic_status st;
    if (o.resume) {
        lmic_buf b = {0};
        read_file_(o.resume, &b);
        st = lmic_trainer_load(b.data, b.size, o.tc.threads, &t);
        lmic_buf_free(&b);
        if (st != LMIC_OK) die_("%s: %s", o.resume, st == LMIC_ERR_CORRUPT ? "damaged checkpoint (checksum or contents)" :
                                st == LMIC_ERR_FORMAT ? "not an lmic checkpoint" : lmic_strerror(st));
    } else {
        lmic_model *m = NULL;
        if (o.model) {
            lmic_buf b = {0};
            read_file_(o.model, &b);
            st = lmic_model_load(b.data, b.size, &m);
            lmic_buf_free(&b);
            if (st != LMIC_OK) die_("%s: %s", o.model, lmic_strerror(st));
        } else {
            lmic_model_config c = model_shape_config_(&o.shape);
            if ((st = lmic_model_new_random(&c, o.tc.seed, &m)) != LMIC_OK) die_("model: %s", lmic_strerror(st));
        }
        if (o.tc.seq > lmic_model_get_config(m)->context)
            die_usage_("--seq %d exceeds the model's context %d", o.tc.seq, lmic_model_get_config(m)->context);
        st = lmic_trainer_new(m, &o.tc, &t);
        lmic_model_free(m);
        if (st != LMIC_OK) die_("trainer: %s", lmic_strerror(st));
    }
    const lmic_train_config *tc = lmic_trainer_get_config(t);
    const int B = tc->batch, T = tc->seq;
    if (o.resume && o.tc_opt)  // a resumed run must be the run it continues
        fprintf(stderr, "lmic: train: note: %s ignored: --resume continues with the checkpoint's "
                "batch, seq, lr, schedule, clip and seed\n", o.tc_opt);

    // data
    dataset d = {0}, v = {0};
    load_(&o.lo, &d);
    if (o.have_val) load_(&o.vlo, &v);
    else if (o.val_frac > 0) split_(&d, o.val_frac, &v);
    uint8_t *tok = malloc((size_t)B * T);
    if (!tok) die_("out of memory");
    fprintf(stderr, "lmic: train: %zu bytes in %zu files, validation %zu bytes; %zu parameters; "
            "batch %d x seq %d, lr %g, seed %llu, %d threads\n", d.bytes.size, d.n, v.bytes.size,
            lmic_model_num_params(lmic_trainer_model(t)), B, T, (double)tc->lr,
            (unsigned long long)tc->seed, tc->threads);

    if (o.dump_grads) {  // the loss and gradient of the next batch (tests/gradcheck.sh)
        if ((st = lmic_trainer_sample(t, d.bytes.data, d.end, d.align, d.n, tok)) != LMIC_OK)
            die_("no file holds a window of %d bytes", T);
        double loss;
        const float *g;
        lmic_trainer_gradients(t, tok, &loss, &g);
        FILE *f = fopen(o.dump_grads, "wb");
        if (!f) die_("%s: %s", o.dump_grads, strerror(errno));
        const uint32_t hdr[2] = {(uint32_t)B, (uint32_t)T};
        size_t P = lmic_model_num_params(lmic_trainer_model(t));
        int ok = fwrite(hdr, 4, 2, f) == 2 && fwrite(tok, 1, (size_t)B * T, f) == (size_t)B * T &&
                 fwrite(&loss, 8, 1, f) == 1 && fwrite(g, 4, P, f) == P;
        if (fclose(f) != 0 || !ok) die_("%s: write error", o.dump_grads);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal_;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    const int64_t first = lmic_trainer_step_count(t);
    double t0 = now_seconds(), val = NAN, loss_acc = 0;
    int nacc = 0;
    if (v.n && o.val_every) {  // also with --steps 0: the model scored on the held-out data
        val = validate_(t, &v, o.val_windows, tc->threads);
        fprintf(stderr, "step %lld: validation %.4f bits/byte\n", (long long)first, val);
    }
    t0 = now_seconds();
    int64_t s = first;
    while (s < o.steps && !stop_) {
        if ((st = lmic_trainer_sample(t, d.bytes.data, d.end, d.align, d.n, tok)) != LMIC_OK)
            die_("no training file holds a window of %d bytes", T);
        lmic_train_stats ts;
        if ((st = lmic_trainer_step(t, tok, &ts)) != LMIC_OK) die_("step: %s", lmic_strerror(st));
        s++;
        loss_acc += ts.loss;
        nacc++;
        const int do_val = v.n && o.val_every && (s % o.val_every == 0 || s == o.steps);
        if (do_val) val = validate_(t, &v, o.val_windows, tc->threads);
        if (s % o.print_every == 0 || s == o.steps || do_val) {
            const double el = now_seconds() - t0, per = el / (double)(s - first);
            char eta[32];
            fmt_time_(per * (double)(o.steps - s), eta, sizeof eta);
            fprintf(stderr, "step %lld/%lld | loss %.4f bits/byte | lr %.3g | grad norm %.3g | ",
                    (long long)s, o.steps, loss_acc / nacc / log(2.0), (double)ts.lr, ts.grad_norm);
            if (do_val) fprintf(stderr, "val %.4f bits/byte | ", val);
            fprintf(stderr, "%.0f tokens/s | eta %s\n", (double)(s - first) * B * T / el, eta);
            loss_acc = 0;
            nacc = 0;
        }
        if (o.every && s % o.every == 0) save_ckpt_(t, ckpt);
    }
    const double el = now_seconds() - t0;
    save_ckpt_(t, ckpt);
    save_model_(t, o.out);
    char fp[33];
    lmic_model_fingerprint(lmic_trainer_model(t), fp);
    if (stop_)
        fprintf(stderr, "lmic: train: interrupted (signal %d) at step %lld; resume with --resume %s\n",
                (int)stop_, (long long)s, ckpt);
    fprintf(stderr, "lmic: train: %lld steps in %.1f s, %.0f tokens/s; validation %.4f bits/byte; "
            "%s (fingerprint %s), checkpoint %s\n", (long long)(s - first), el,
            s > first ? (double)(s - first) * B * T / el : 0.0, val, o.out, fp, ckpt);
    free(tok);
    dataset_free_(&d);
    dataset_free_(&v);
    lmic_trainer_free(t);
    return 0;
}
