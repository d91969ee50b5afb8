// bench_cmd.c -- `lmic bench DIR...`: lmic beside flac, wavpack, xz and gzip
// on the same WAV files, in the same run (zstd's `-b`, with named peers).
//
// Each DIR is a category; its *.wav files, in byte order of their names (with
// --files K an even spread of at most K of them, as bench/codec_speed.sh's
// MAXFILES), are each compressed and decompressed by
//   lmic     this very binary (/proc/self/exe) as `lmic compress` and `lmic
//            decompress`: the whole CLI as a user runs it, process start and
//            model load included in its times;
//   flac     flac -8 --no-padding --no-seektable; flac -d
//   wavpack  wavpack -hhx6; wvunpack
//   xz       xz -9e; xz -d              (on the WAV file's bytes)
//   gzip     gzip -9 -n; gzip -d        (on the WAV file's bytes)
// Every tool is started with posix_spawnp (found in PATH, no shell), one at a
// time, and timed by the wall clock. Every decode is checked before anything
// is reported: lmic, xz and gzip must give the WAV back byte for byte, flac
// and wavpack its samples (rate, channels, width, frame count and every
// sample). A tool that fails or a decode that differs ends the run: one line,
// exit 1. A tool that is not installed is named and its codec left out.
//
// Per category and codec: compression rate (compressed / WAV bytes, whole
// files, every byte counted), bits per sample, x real time of encode and
// decode (audio seconds / wall seconds) and, for lmic, the paper's adjusted
// rate: the model's parameters counted at 2 bytes each against the category.
// A table on stdout; --csv FILE one row per (category, codec); --plot DIR
// gnuplot PNGs.
#include "bench_cmd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audio_io.h"
#include "cli.h"
#include "codec_cmd.h"
#include "lmic.h"

extern char **environ;

static const char *bench_usage_ =
    "usage: lmic bench DIR... [--csv FILE] [--plot DIR] [--threads N] [--model M]\n"
    "                  [--files K] [--codecs lmic,flac,wavpack,xz,gzip]\n"
    "  Each DIR is a category: its *.wav files are compressed and decompressed by\n"
    "  lmic and by flac -8, wavpack -hhx6, xz -9e and gzip -9, every decode verified.\n"
    "  --csv FILE    one row per category and codec (FILE is replaced)\n"
    "  --plot DIR    gnuplot PNGs: rates.png, bps-lmic-vs-flac.png\n"
    "  --threads N   lmic's threads (default 1; the other tools use one)\n"
    "  --model M     lmic's model (default: the built-in one)\n"
    "  --files K     an even spread of at most K files per category\n"
    "  --codecs L    which codecs to run (default: all)\n";

// --- the codecs

enum { C_LMIC, C_FLAC, C_WAVPACK, C_XZ, C_GZIP, NCODEC };

typedef struct {
    const char *name;       // in --codecs and the CSV
    const char *label;      // in the table and the plots
    const char *command;    // how it is run, for the CSV
    const char *enc, *dec;  // the executables it needs (NULL: this binary)
    const char *ext;        // of the compressed file
    int by_samples;         // its decode is compared by samples, else by bytes
} codec_def;

static const codec_def codecs_[NCODEC] = {
    {"lmic", "lmic", "lmic compress -q; lmic decompress -q", NULL, NULL, "lmic", 0},
    {"flac", "flac -8", "flac -8 --no-padding --no-seektable; flac -d", "flac", "flac", "flac", 1},
    {"wavpack", "wavpack -hhx6", "wavpack -hhx6; wvunpack", "wavpack", "wvunpack", "wv", 1},
    {"xz", "xz -9e", "xz -9e; xz -d", "xz", "xz", "xz", 0},
    {"gzip", "gzip -9", "gzip -9 -n; gzip -d", "gzip", "gzip", "gz", 0},
};

typedef struct {
    double bytes, enc_s, dec_s;  // summed over the category's files
} totals;

typedef struct {
    const char *dir;
    char name[256];            // the directory's last component
    int files;
    double wav_bytes, seconds, samples;
    int rate[2], channels[2], bits[2];  // the smallest and largest of the files
    int floats;                // files with float samples
    totals t[NCODEC];
    double load[3];            // /proc/loadavg when the category finished
} category;

typedef struct {
    int cat;
    double samples, bytes[NCODEC];
} file_result;

typedef struct {
    char self[4096];          // this binary, for the lmic rows
    char threads[16];
    const char *model_path;   // NULL: the built-in model
    char model_desc[512], fingerprint[33];
    size_t params;
    int use[NCODEC];          // asked for and installed
    char version[NCODEC][128];
    category *cats;
    int ncats;
    file_result *res;
    size_t nres, capres;
} bench;

// --- scratch directory, removed at exit (also after die_)

static char tmp_[4096];
static out_file *csv_pending_;  // an uncommitted --csv file, removed at exit

static void cleanup_(void) {
    if (csv_pending_) { out_abort_(csv_pending_); csv_pending_ = NULL; }
    if (!tmp_[0]) return;
    DIR *d = opendir(tmp_);
    if (d) {
        struct dirent *e;
        char p[4400];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", tmp_, e->d_name);
                unlink(p);
            }
        closedir(d);
    }
    rmdir(tmp_);
    tmp_[0] = 0;
}

static void tmp_path_(char *p, size_t n, const char *name) {
    snprintf(p, n, "%s/%s", tmp_, name);
}

// --- running tools

static double now_(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Whether `name` is an executable file in PATH.
static int in_path_(const char *name) {
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        char p[4400];
        snprintf(p, sizeof p, "%.*s/%s", (int)(n ? n : 1), n ? path : ".", name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0) return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

// Runs argv (argv[0] found in PATH unless it holds a '/') with standard input
// from `in` (NULL: /dev/null), standard output to `out` (NULL: /dev/null) and
// standard error to the scratch file err.log, and waits for it. Returns its
// exit status (128 + the signal's number if a signal ended it), or -1 with
// errno set if it could not be started. *secs: wall time from start to end.
static int run_(const char *const *argv, const char *in, const char *out, double *secs) {
    char err[4400];
    tmp_path_(err, sizeof err, "err.log");
    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0) { errno = rc; return -1; }
    rc = posix_spawn_file_actions_addopen(&fa, 0, in ? in : "/dev/null", O_RDONLY, 0);
    if (!rc) rc = posix_spawn_file_actions_addopen(&fa, 1, out ? out : "/dev/null",
                                                  O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!rc) rc = posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    double t0 = now_();
    if (!rc) rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) { errno = rc; return -1; }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    *secs = now_() - t0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The first line of a scratch file (err.log, version.txt), at most n - 1 bytes.
static void first_line_(const char *name, char *line, size_t n) {
    char p[4400];
    tmp_path_(p, sizeof p, name);
    line[0] = 0;
    FILE *f = fopen(p, "r");
    if (!f) return;
    if (!fgets(line, (int)n, f)) line[0] = 0;
    fclose(f);
    line[strcspn(line, "\r\n")] = 0;
}

// Runs argv; dies with the tool's first line of stderr if it fails.
static double must_run_(const char *const *argv, const char *in, const char *out, const char *what,
                        const char *file) {
    double secs = 0;
    int rc = run_(argv, in, out, &secs);
    if (rc < 0) die_("%s: %s: cannot run %s: %s", what, file, argv[0], strerror(errno));
    if (rc != 0) {
        char line[300];
        first_line_("err.log", line, sizeof line);
        die_("%s: %s: %s exited with status %d%s%s", what, file, argv[0], rc, line[0] ? ": " : "", line);
    }
    return secs;
}

// Codec k's encode (decode = 0) or decode command for one file: argv and
// where its standard input and output go.
static void codec_cmd_(const bench *b, int k, int decode, const char *wav, const char *enc,
                       const char *dec, const char **argv, const char **in, const char **out) {
    int n = 0;
    *in = *out = NULL;
    switch (k) {
    case C_LMIC:
        argv[n++] = b->self;
        argv[n++] = decode ? "decompress" : "compress";
        argv[n++] = "-q";
        argv[n++] = "-f";
        argv[n++] = "--threads";
        argv[n++] = b->threads;
        if (b->model_path) { argv[n++] = "--model"; argv[n++] = b->model_path; }
        argv[n++] = "-o";
        argv[n++] = decode ? dec : enc;
        argv[n++] = decode ? enc : wav;
        break;
    case C_FLAC:
        argv[n++] = "flac";
        argv[n++] = "-s";
        argv[n++] = "-f";
        if (decode) argv[n++] = "-d";
        else { argv[n++] = "-8"; argv[n++] = "--no-padding"; argv[n++] = "--no-seektable"; }
        argv[n++] = "-o";
        argv[n++] = decode ? dec : enc;
        argv[n++] = decode ? enc : wav;
        break;
    case C_WAVPACK:
        argv[n++] = decode ? "wvunpack" : "wavpack";
        argv[n++] = "-q";
        argv[n++] = "-y";
        if (!decode) argv[n++] = "-hhx6";
        argv[n++] = decode ? enc : wav;
        argv[n++] = "-o";
        argv[n++] = decode ? dec : enc;
        break;
    case C_XZ:
    case C_GZIP:
        argv[n++] = k == C_XZ ? "xz" : "gzip";
        if (decode) argv[n++] = "-d";
        else if (k == C_XZ) argv[n++] = "-9e";
        else { argv[n++] = "-9"; argv[n++] = "-n"; }
        argv[n++] = "-c";
        *in = decode ? enc : wav;
        *out = decode ? dec : enc;
        break;
    }
    argv[n] = NULL;
}

// --- verification

// Dies unless the decoded file `dec` holds exactly the WAV's bytes.
static void check_bytes_(const char *what, const char *file, const lmic_buf *wav, const char *dec) {
    lmic_buf d = {0};
    read_all_(dec, &d);
    if (d.size != wav->size || memcmp(d.data, wav->data, d.size) != 0) {
        size_t i = 0, n = d.size < wav->size ? d.size : wav->size;
        while (i < n && d.data[i] == wav->data[i]) i++;
        if (i == n)
            die_("%s: %s: decoded file has %zu bytes, the WAV %zu", what, file, d.size, wav->size);
        die_("%s: %s: decoded file differs from the WAV at byte %zu", what, file, i);
    }
    lmic_buf_free(&d);
}

// Dies unless the decoded file `dec` holds the same audio as `a`.
static void check_samples_(const char *what, const char *file, const audio_in *a, const char *dec) {
    lmic_buf d = {0};
    read_all_(dec, &d);
    audio_in x;
    char err[600];
    if (audio_read(d.data, d.size, dec, 0, &x, err, sizeof err) != 0)
        die_("%s: %s: decoded file is not readable audio: %s", what, file, err);
    lmic_buf_free(&d);
    if (x.rate != a->rate || x.channels != a->channels || x.bits != a->bits || x.is_float != a->is_float)
        die_("%s: %s: decoded audio is %d Hz, %d ch, %d-bit; the WAV %d Hz, %d ch, %d-bit", what, file,
             x.rate, x.channels, x.bits, a->rate, a->channels, a->bits);
    if (x.frames != a->frames)
        die_("%s: %s: decoded audio has %zu frames, the WAV %zu", what, file, x.frames, a->frames);
    size_t n = a->frames * (size_t)a->channels;
    for (size_t i = 0; i < n; i++)
        if (x.samples[i] != a->samples[i])
            die_("%s: %s: decoded samples differ from the WAV (frame %zu, channel %zu)", what, file,
                 i / (size_t)a->channels, i % (size_t)a->channels);
    audio_free(&x);
}

// --- one file, one category

static void bench_file_(bench *b, category *c, const char *path, int idx, int count) {
    lmic_buf wav = {0};
    read_all_(path, &wav);
    audio_in a;
    char err[600];
    if (audio_read(wav.data, wav.size, path, 0, &a, err, sizeof err) != 0) die_("%s", err);
    int v[3] = {a.rate, a.channels, a.bits}, *lohi[3] = {c->rate, c->channels, c->bits};
    for (int i = 0; i < 3; i++) {
        if (c->files == 0 || v[i] < lohi[i][0]) lohi[i][0] = v[i];
        if (c->files == 0 || v[i] > lohi[i][1]) lohi[i][1] = v[i];
    }
    c->floats += a.is_float != 0;
    if (b->nres == b->capres) {
        b->capres = b->capres ? 2 * b->capres : 64;
        b->res = realloc(b->res, b->capres * sizeof *b->res);
        if (!b->res) die_("out of memory");
    }
    file_result *fr = &b->res[b->nres++];
    memset(fr, 0, sizeof *fr);
    fr->cat = (int)(c - b->cats);
    fr->samples = (double)a.frames * a.channels;
    double secs = a.rate > 0 ? (double)a.frames / a.rate : 0;
    int tty = isatty(2);
    char enc[4400], dec[4400];
    tmp_path_(dec, sizeof dec, "dec.wav");
    for (int k = 0; k < NCODEC; k++) {
        if (!b->use[k]) continue;
        const codec_def *cd = &codecs_[k];
        if (tty) fprintf(stderr, "\rbench: %s %d/%d %-14s", c->name, idx + 1, count, cd->label);
        char name[32];
        snprintf(name, sizeof name, "enc.%s", cd->ext);
        tmp_path_(enc, sizeof enc, name);
        unlink(enc);
        unlink(dec);
        const char *argv[24], *in, *out;
        codec_cmd_(b, k, 0, path, enc, dec, argv, &in, &out);
        double te = must_run_(argv, in, out, cd->label, path);
        struct stat st;
        if (stat(enc, &st) != 0) die_("%s: %s: %s wrote no compressed file", cd->label, path, argv[0]);
        codec_cmd_(b, k, 1, path, enc, dec, argv, &in, &out);
        double td = must_run_(argv, in, out, cd->label, path);
        if (access(dec, F_OK) != 0) die_("%s: %s: %s wrote no decoded file", cd->label, path, argv[0]);
        if (cd->by_samples) check_samples_(cd->label, path, &a, dec);
        else check_bytes_(cd->label, path, &wav, dec);
        c->t[k].bytes += (double)st.st_size;
        c->t[k].enc_s += te;
        c->t[k].dec_s += td;
        fr->bytes[k] = (double)st.st_size;
    }
    c->files++;
    c->wav_bytes += (double)wav.size;
    c->seconds += secs;
    c->samples += fr->samples;
    audio_free(&a);
    lmic_buf_free(&wav);
}

static int cmp_str_(const void *x, const void *y) {
    return strcmp(*(char *const *)x, *(char *const *)y);
}

// The category's *.wav files, sorted; with max > 0 an even spread of at most
// max of them (file i of n is kept when floor(i max / n) != floor((i+1) max / n)).
static char **list_wavs_(const char *dir, int max, int *count) {
    DIR *d = opendir(dir);
    if (!d) die_("%s: %s", dir, strerror(errno));
    char **v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".wav")) continue;
        size_t plen = strlen(dir) + len + 4;
        char *p = malloc(plen);
        if (!p) die_("out of memory");
        // a directory named like an option must not look like one to a tool
        snprintf(p, plen, "%s%s/%s", dir[0] == '-' ? "./" : "", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) { free(p); continue; }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            if (!(v = realloc(v, cap * sizeof *v))) die_("out of memory");
        }
        v[n++] = p;
    }
    closedir(d);
    if (n == 0) die_("%s: no *.wav files", dir);
    qsort(v, n, sizeof *v, cmp_str_);
    if (max > 0 && n > (size_t)max) {
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) {
            if (i * (size_t)max / n != (i + 1) * (size_t)max / n) v[kept++] = v[i];
            else free(v[i]);
        }
        n = kept;
    }
    *count = (int)n;
    return v;
}

static void read_load_(double load[3]) {
    load[0] = load[1] = load[2] = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return;
    if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = load[1] = load[2] = -1;
    fclose(f);
}

// --- report

static double rate_(const category *c, int k) { return 100.0 * c->t[k].bytes / c->wav_bytes; }
static double adjusted_(const bench *b, const category *c) {
    return 100.0 * (c->t[C_LMIC].bytes + 2.0 * (double)b->params) / c->wav_bytes;
}
static double bps_(const category *c, int k) { return 8.0 * c->t[k].bytes / c->samples; }
static double xrt_(double secs, double wall) { return wall > 0 ? secs / wall : 0; }

// RATE/CHANNELS/BITS, each a range when the files differ ("11025-44100/1-2/8"),
// f for float samples (+f when only some files have them).
static void format_(const category *c, char *s, size_t n) {
    const int *v[3] = {c->rate, c->channels, c->bits};
    size_t at = 0;
    for (int i = 0; i < 3 && at < n; i++)
        at += (size_t)snprintf(s + at, n - at, v[i][0] == v[i][1] ? "%s%d" : "%s%d-%d", i ? "/" : "",
                               v[i][0], v[i][1]);
    if (c->floats && at < n) snprintf(s + at, n - at, "%s", c->floats == c->files ? "f" : "+f");
}

static void print_header_(void) {
    printf("%-18s %5s %9s %-17s %-14s %11s %7s %7s %8s %8s %8s\n", "category", "files", "seconds",
           "format", "codec", "bytes", "rate %", "adj. %", "bits/smp", "enc xRT", "dec xRT");
}

static void print_category_(const bench *b, const category *c) {
    char fmt[64];
    format_(c, fmt, sizeof fmt);
    for (int k = 0; k < NCODEC; k++) {
        if (!b->use[k]) continue;
        char adj[32] = "";
        if (k == C_LMIC) snprintf(adj, sizeof adj, "%.2f", adjusted_(b, c));
        printf("%-18s %5d %9.2f %-17s %-14s %11.0f %7.2f %7s %8.3f %8.2f %8.2f\n", c->name, c->files,
               c->seconds, fmt, codecs_[k].label, c->t[k].bytes, rate_(c, k), adj, bps_(c, k),
               xrt_(c->seconds, c->t[k].enc_s), xrt_(c->seconds, c->t[k].dec_s));
    }
    fflush(stdout);
}

// A CSV field, quoted when it must be.
static void csv_str_(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n")) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void cpu_name_(char *s, size_t n) {
    snprintf(s, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            const char *v = strchr(line, ':') + 1;
            while (*v == ' ' || *v == '\t') v++;
            snprintf(s, n, "%s", v);
            s[strcspn(s, "\n")] = 0;
            break;
        }
    fclose(f);
}

static void write_csv_(const bench *b, FILE *f) {
    char cpu[256], date[32];
    cpu_name_(cpu, sizeof cpu);
    time_t t = time(NULL);
    struct tm tm;
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    fputs("category,path,files,wav_bytes,audio_seconds,samples,format,codec,command,compressed_bytes,"
          "rate_pct,adjusted_pct,bits_per_sample,encode_x_realtime,decode_x_realtime,encode_seconds,"
          "decode_seconds,verified,threads,load1,load5,load15,cpus,cpu,model,model_params,"
          "model_fingerprint,lmic_version,tool_version,date_utc\n", f);
    for (int i = 0; i < b->ncats; i++) {
        const category *c = &b->cats[i];
        char fmt[64];
        format_(c, fmt, sizeof fmt);
        for (int k = 0; k < NCODEC; k++) {
            if (!b->use[k]) continue;
            csv_str_(f, c->name); fputc(',', f);
            csv_str_(f, c->dir);
            fprintf(f, ",%d,%.0f,%.3f,%.0f,%s,%s,", c->files, c->wav_bytes, c->seconds, c->samples, fmt,
                    codecs_[k].name);
            csv_str_(f, codecs_[k].command);
            fprintf(f, ",%.0f,%.4f,", c->t[k].bytes, rate_(c, k));
            if (k == C_LMIC) fprintf(f, "%.4f", adjusted_(b, c));
            fprintf(f, ",%.4f,%.3f,%.3f,%.3f,%.3f,%s,%s,%.2f,%.2f,%.2f,%ld,", bps_(c, k),
                    xrt_(c->seconds, c->t[k].enc_s), xrt_(c->seconds, c->t[k].dec_s), c->t[k].enc_s,
                    c->t[k].dec_s, codecs_[k].by_samples ? "samples" : "bytes",
                    k == C_LMIC ? b->threads : "1", c->load[0], c->load[1], c->load[2], ncpu);
            csv_str_(f, cpu); fputc(',', f);
            csv_str_(f, b->model_desc);
            fprintf(f, ",%zu,%s,%s,", b->params, b->fingerprint, LMIC_VERSION_STRING);
            csv_str_(f, b->version[k]);
            fprintf(f, ",%s\n", date);
        }
    }
}

// --- plots

// Writes a scratch file from a printf format; dies on failure.
static FILE *tmp_open_(const char *name, char *path, size_t n) {
    tmp_path_(path, n, name);
    FILE *f = fopen(path, "w");
    if (!f) die_("%s: %s", path, strerror(errno));
    return f;
}

static void tmp_close_(FILE *f, const char *path) {
    if (ferror(f) | (fclose(f) != 0)) die_("%s: write error", path);
}

static void plot_(const bench *b, const char *dir) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) die_("--plot %s: %s", dir, strerror(errno));
    char dat[4400], gp[4400];
    FILE *g = tmp_open_("plot.gp", gp, sizeof gp);
    fprintf(g, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
               "  set terminal pngcairo noenhanced size 960,540\n"
               "} else {\n"
               "  set terminal png noenhanced size 960,540\n"
               "}\n");
    // (a) the compression rate of each codec, clustered by category
    FILE *f = tmp_open_("rates.dat", dat, sizeof dat);
    for (int i = 0; i < b->ncats; i++) {
        fprintf(f, "\"%s\"", b->cats[i].name);
        for (int k = 0; k < NCODEC; k++)
            if (b->use[k]) fprintf(f, " %.4f", rate_(&b->cats[i], k));
        fputc('\n', f);
    }
    tmp_close_(f, dat);
    fprintf(g, "set output '%s/rates.png'\n"
               "set title 'Compression rate by codec (compressed / WAV bytes; lower is better)'\n"
               "set style data histograms\nset style histogram cluster gap 1\n"
               "set style fill solid 0.8 border -1\nset boxwidth 0.9\n"
               "set ylabel 'rate (%%)'\nset yrange [0:*]\nset grid ytics\nset key outside right top\n"
               "plot ", dir);
    for (int k = 0, col = 2; k < NCODEC; k++)
        if (b->use[k]) {
            fprintf(g, "%s'%s' using %d%s title '%s'", col > 2 ? ", " : "", dat, col,
                    col == 2 ? ":xtic(1)" : "", codecs_[k].label);
            col++;
        }
    fputc('\n', g);
    // (b) per-file bits per sample, lmic against flac -8
    int scatter = b->use[C_LMIC] && b->use[C_FLAC];
    if (scatter) {
        double lo = 1e300, hi = -1e300;
        for (size_t i = 0; i < b->nres; i++)
            for (int k = 0; k < 2; k++) {
                double v = 8.0 * b->res[i].bytes[k ? C_FLAC : C_LMIC] / b->res[i].samples;
                if (v < lo) lo = v;
                if (v > hi) hi = v;
            }
        double pad = (hi - lo) * 0.05 + 0.1;
        fprintf(g, "reset\nset output '%s/bps-lmic-vs-flac.png'\n"
                   "set title 'Bits per sample, each file: lmic vs flac -8 (below the line: lmic smaller)'\n"
                   "set xlabel 'flac -8 (bits per sample)'\nset ylabel 'lmic (bits per sample)'\n"
                   "set size square\nset grid\nset key left top\n"
                   "set xrange [%g:%g]\nset yrange [%g:%g]\nplot ",
                dir, lo - pad, hi + pad, lo - pad, hi + pad);
        for (int c = 0; c < b->ncats; c++) {
            char name[32], p[4400];
            snprintf(name, sizeof name, "bps-%d.dat", c);
            f = tmp_open_(name, p, sizeof p);
            for (size_t i = 0; i < b->nres; i++)
                if (b->res[i].cat == c)
                    fprintf(f, "%.5f %.5f\n", 8.0 * b->res[i].bytes[C_FLAC] / b->res[i].samples,
                            8.0 * b->res[i].bytes[C_LMIC] / b->res[i].samples);
            tmp_close_(f, p);
            fprintf(g, "'%s' using 1:2 with points pt 7 ps 1.2 title '%s', ", p, b->cats[c].name);
        }
        fprintf(g, "x with lines lc rgb 'gray40' dt 2 title 'y = x'\n");
    }
    tmp_close_(g, gp);
    const char *argv[] = {"gnuplot", gp, NULL};
    must_run_(argv, NULL, NULL, "gnuplot", gp);
    fprintf(stderr, "lmic: bench: wrote %s/rates.png%s%s%s\n", dir, scatter ? " and " : "",
            scatter ? dir : "", scatter ? "/bps-lmic-vs-flac.png" : " (no lmic vs flac plot: flac is not run)");
}

// --- the command

static void tool_version_(int k, char *v, size_t n) {
    if (k == C_LMIC) { snprintf(v, n, "lmic %s", LMIC_VERSION_STRING); return; }
    char out[4400];
    tmp_path_(out, sizeof out, "version.txt");
    const char *argv[] = {codecs_[k].enc, "--version", NULL};
    double secs;
    v[0] = 0;
    if (run_(argv, NULL, out, &secs) == 0) first_line_("version.txt", v, n);
    if (!v[0]) snprintf(v, n, "%s (version unknown)", codecs_[k].enc);
}

int cmd_bench(int argc, char **argv) {
    bench b;
    memset(&b, 0, sizeof b);
    const char *csv = NULL, *plot = NULL, *codec_list = NULL;
    int max_files = 0, threads = 1;
    const char **dirs = calloc((size_t)argc, sizeof *dirs);
    if (!dirs) die_("out of memory");
    int ndirs = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        char name[64];
        val = split_option_(&a, name, sizeof name);
#define VALUE() (val ? val : (i + 1 < argc ? argv[++i] : (die_usage_("%s needs a value", a), "")))
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(bench_usage_, stdout); return 0; }
        else if (!strcmp(a, "--csv")) csv = VALUE();
        else if (!strcmp(a, "--plot")) plot = VALUE();
        else if (!strcmp(a, "--threads")) threads = (int)parse_int_(a, VALUE(), 1, 256);
        else if (!strcmp(a, "--model")) b.model_path = VALUE();
        else if (!strcmp(a, "--files")) max_files = (int)parse_int_(a, VALUE(), 1, 1 << 30);
        else if (!strcmp(a, "--codecs")) codec_list = VALUE();
        else if (a[0] != '-') dirs[ndirs++] = a;
        else die_usage_("unknown option '%s'", argv[i]);
#undef VALUE
    }
    if (ndirs == 0) die_usage_("bench needs at least one directory of WAV files");
    if (plot && strchr(plot, '\'')) die_usage_("--plot %s: a directory without a ' in its name, please", plot);
    snprintf(b.threads, sizeof b.threads, "%d", threads);

    // which codecs: asked for, and installed
    int asked[NCODEC];
    for (int k = 0; k < NCODEC; k++) asked[k] = codec_list == NULL;
    for (const char *s = codec_list; s && *s;) {
        size_t n = strcspn(s, ",");
        int k = 0;
        while (k < NCODEC && (strlen(codecs_[k].name) != n || strncmp(s, codecs_[k].name, n))) k++;
        if (k == NCODEC)
            die_usage_("--codecs: unknown codec '%.*s' (lmic, flac, wavpack, xz, gzip)", (int)n, s);
        asked[k] = 1;
        s += n + (s[n] == ',');
    }
    for (int k = 0; k < NCODEC; k++) {
        const codec_def *cd = &codecs_[k];
        if (!asked[k]) continue;
        if (cd->enc && (!in_path_(cd->enc) || !in_path_(cd->dec))) {
            fprintf(stderr, "lmic: bench: %s is not installed: %s left out (make deps installs it)\n",
                    !in_path_(cd->enc) ? cd->enc : cd->dec, cd->label);
            continue;
        }
        b.use[k] = 1;
    }
    if (plot && !in_path_("gnuplot")) {
        fprintf(stderr, "lmic: bench: gnuplot is not installed: no plots (make deps installs gnuplot-nox)\n");
        plot = NULL;
    }

    // lmic: this binary and its model
    ssize_t n = readlink("/proc/self/exe", b.self, sizeof b.self - 1);
    if (n <= 0) die_("/proc/self/exe: %s", n < 0 ? strerror(errno) : "empty");
    b.self[n] = 0;
    lmic_model *own = NULL;
    const lmic_model *m;
    if (b.model_path) {
        m = own = load_model_(b.model_path, NULL);
        snprintf(b.model_desc, sizeof b.model_desc, "%s", b.model_path);
    } else {
        const char *name;
        m = default_model(&name);
        snprintf(b.model_desc, sizeof b.model_desc, "built-in: %s", name);
    }
    b.params = lmic_model_num_params(m);
    lmic_model_fingerprint(m, b.fingerprint);
    lmic_model_free(own);

    // scratch space, and the CSV opened now so a bad path fails before the run
    const char *td = getenv("TMPDIR");
    snprintf(tmp_, sizeof tmp_, "%s/lmic-bench-XXXXXX", td && *td ? td : "/tmp");
    if (!mkdtemp(tmp_)) { int e = errno; tmp_[0] = 0; die_("cannot create a scratch directory: %s", strerror(e)); }
    atexit(cleanup_);
    static out_file csv_out;
    if (csv) { out_open_(&csv_out, csv, 1); csv_pending_ = &csv_out; }
    for (int k = 0; k < NCODEC; k++)
        if (b.use[k]) tool_version_(k, b.version[k], sizeof b.version[k]);

    b.cats = calloc((size_t)ndirs, sizeof *b.cats);
    if (!b.cats) die_("out of memory");
    print_header_();
    for (int i = 0; i < ndirs; i++) {
        category *c = &b.cats[b.ncats++];
        c->dir = dirs[i];
        size_t len = strlen(dirs[i]);
        while (len > 1 && dirs[i][len - 1] == '/') len--;
        const char *base = dirs[i] + len;
        while (base > dirs[i] && base[-1] != '/') base--;
        snprintf(c->name, sizeof c->name, "%.*s", (int)(dirs[i] + len - base), base);
        int count;
        char **files = list_wavs_(dirs[i], max_files, &count);
        for (int j = 0; j < count; j++) {
            bench_file_(&b, c, files[j], j, count);
            free(files[j]);
        }
        free(files);
        if (isatty(2)) fprintf(stderr, "\r%60s\r", "");
        read_load_(c->load);
        print_category_(&b, c);
    }
    for (int k = 0; k < NCODEC; k++)
        if (asked[k] && !b.use[k]) printf("(%s: not installed, left out)\n", codecs_[k].label);
    printf("rate = compressed / WAV bytes; xRT = audio seconds / wall seconds");
    if (b.use[C_LMIC])
        printf("; adj. = lmic with its %zu parameters at 2 bytes each; lmic: %s thread%s, model %s",
               b.params, b.threads, threads > 1 ? "s" : "", b.fingerprint);
    printf("\n");
    fflush(stdout);

    if (csv) {
        write_csv_(&b, csv_out.f);
        csv_pending_ = NULL;
        out_commit_(&csv_out);
        fprintf(stderr, "lmic: bench: wrote %s\n", csv);
    }
    if (plot) plot_(&b, plot);
    free(b.res);
    free(b.cats);
    free(dirs);
    return 0;
}
