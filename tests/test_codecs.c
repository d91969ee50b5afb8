// test_codecs.c -- the classical compressors behind lmic_codec (src/codecs.c):
// round trips over a grid, agreement with the command-line tools (gzip, xz,
// flac), PNG shape, error paths, damaged input, and silence on stdout/stderr.
#include "lmic.h"
#include "test.h"

#include <fcntl.h>
#include <stdarg.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define NCODECS 5
static const char *const names_[NCODECS] = {"gzip", "lzma2", "lzma2-9e", "png", "flac"};

// --- helpers

// Test signals. Seeds are fixed; every generator is lmic_rng_next.
enum { SIG_RANDOM, SIG_SINE, SIG_TEXT, SIG_TRIANGLE, SIG_MIXED };

static void signal_(int kind, uint8_t *x, size_t n, uint64_t seed) {
    static const char *words[] = {"the ", "compression ", "of ", "audio ", "is ", "a ",
                                  "language ", "model ", "and ", "bytes, ", "predict. ", "\n"};
    uint64_t s = seed;
    size_t i = 0;
    switch (kind) {
    case SIG_RANDOM:
        for (; i < n; i++) x[i] = (uint8_t)lmic_rng_next(&s);
        break;
    case SIG_SINE:  // a 440 Hz tone at 16 kHz with a little noise, like an 8-bit WAV
        for (; i < n; i++)
            x[i] = (uint8_t)(128 + lround(90 * sin(2 * 3.14159265358979323846 * 440.0 * (double)i / 16000.0)) +
                             (int)(lmic_rng_next(&s) % 5) - 2);
        break;
    case SIG_TEXT:
        while (i < n) {
            const char *w = words[lmic_rng_next(&s) % (sizeof words / sizeof words[0])];
            for (; *w && i < n; w++) x[i++] = (uint8_t)*w;
        }
        break;
    case SIG_TRIANGLE:  // period 200, slope 1: trivially predictable
        for (; i < n; i++) x[i] = (uint8_t)(28 + (i % 200 < 100 ? i % 200 : 200 - i % 200));
        break;
    case SIG_MIXED:  // sine, text and noise in turn, 4096 bytes each
        for (; i < n; i += 4096) {
            size_t k = n - i < 4096 ? n - i : 4096;
            signal_((int)(i / 4096 % 3), x + i, k, seed + i);
        }
        break;
    }
}

static const lmic_codec *codec_(const char *name) { return lmic_codec_find(name); }

// Compresses and decompresses `in`, both appended after a prefix that must
// survive. Returns 0 on success; prints why and returns 1 otherwise.
// *csize receives the compressed size.
static int roundtrip_(const lmic_codec *c, const uint8_t *in, size_t n,
                      const lmic_codec_params *p, size_t *csize) {
    static const uint8_t prefix[3] = {'a', 'b', 'c'};
    lmic_buf z = {0}, d = {0};
    int bad = 1;
    lmic_status st;
    if (lmic_buf_append(&z, prefix, 3) || lmic_buf_append(&d, prefix, 3)) goto done;
    if ((st = c->compress(in, n, p, &z)) != LMIC_OK) {
        fprintf(stderr, "  %s: compress(%zu bytes): %s\n", c->name, n, lmic_strerror(st));
        goto done;
    }
    if ((st = c->decompress(z.data + 3, z.size - 3, p, &d)) != LMIC_OK) {
        fprintf(stderr, "  %s: decompress(%zu bytes of %zu): %s\n", c->name, z.size - 3, n,
                lmic_strerror(st));
        goto done;
    }
    if (memcmp(z.data, prefix, 3) || memcmp(d.data, prefix, 3)) {
        fprintf(stderr, "  %s: the bytes before the output changed\n", c->name);
        goto done;
    }
    if (d.size - 3 != n || (n && memcmp(d.data + 3, in, n))) {
        fprintf(stderr, "  %s: %zu bytes came back as %zu different ones\n", c->name, n,
                d.size - 3);
        goto done;
    }
    if (csize) *csize = z.size - 3;
    bad = 0;
done:
    lmic_buf_free(&z);
    lmic_buf_free(&d);
    return bad;
}

static int write_file_(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    int bad = fwrite(p, 1, n, f) != n;
    return fclose(f) != 0 || bad;
}

static int read_file_(const char *path, lmic_buf *b) {
    FILE *f = fopen(path, "rb");
    if (!f) return 1;
    uint8_t tmp[65536];
    size_t k;
    int bad = 0;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (lmic_buf_append(b, tmp, k)) bad = 1;
    return fclose(f) != 0 || bad;
}

// Runs a shell command (paths under test_tmpdir(), which has no quotes).
static int sh_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh_(const char *fmt, ...) {
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    fflush(stdout);
    fflush(stderr);
    int r = system(cmd);
    if (r != 0) fprintf(stderr, "  command failed (%d): %s\n", r, cmd);
    return r;
}

static void path_(char *buf, size_t size, const char *name) {
    snprintf(buf, size, "%s/%s", test_tmpdir(), name);
}

// Sends stdout and stderr to a file between quiet_begin_ and quiet_end_, which
// returns how many bytes were written there: the library must print nothing.
static int saved_fd_[2] = {-1, -1};

static void quiet_begin_(void) {
    char p[512];
    path_(p, sizeof p, "quiet.txt");
    fflush(stdout);
    fflush(stderr);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return;
    saved_fd_[0] = dup(1);
    saved_fd_[1] = dup(2);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
}

static long quiet_end_(void) {
    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < 2; i++)
        if (saved_fd_[i] >= 0) {
            dup2(saved_fd_[i], i + 1);
            close(saved_fd_[i]);
            saved_fd_[i] = -1;
        }
    char p[512];
    path_(p, sizeof p, "quiet.txt");
    struct stat sb;
    return stat(p, &sb) == 0 ? (long)sb.st_size : -1;
}

static uint32_t be32_(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

// --- the table

static void test_codec_table(void) {
    int n = -1;
    const lmic_codec *all = lmic_codec_all(&n);
    CHECK(n == NCODECS);
    for (int i = 0; i < NCODECS; i++) {
        CHECKF(strcmp(all[i].name, names_[i]) == 0, "codec %d is %s", i, all[i].name);
        CHECK(lmic_codec_find(names_[i]) == &all[i]);
        CHECK(all[i].description && all[i].description[0]);
        CHECK(strchr(all[i].description, '\n') == NULL);
        CHECK(all[i].compress && all[i].decompress);
    }
    CHECK(lmic_codec_find("zstd") == NULL);
    CHECK(lmic_codec_find("") == NULL);
    CHECK(lmic_codec_find(NULL) == NULL);
}

// --- round trips

static void test_codec_roundtrip_grid(void) {
    static uint8_t x[100000];
    struct { int kind; size_t n; } cases[] = {
        {SIG_RANDOM, 0},     {SIG_RANDOM, 1},   {SIG_RANDOM, 2},     {SIG_RANDOM, 2048},
        {SIG_SINE, 2048},    {SIG_TEXT, 2048},  {SIG_TEXT, 5000},    {SIG_MIXED, 100000},
        {SIG_RANDOM, 2039},  {SIG_SINE, 2039},  {SIG_TRIANGLE, 4096}, {SIG_SINE, 1001},
    };
    for (int c = 0; c < NCODECS; c++) {
        const lmic_codec *co = codec_(names_[c]);
        CHECK(co);
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            signal_(cases[k].kind, x, cases[k].n, 1000 + k);
            if (cases[k].n == 0 && strcmp(co->name, "png") == 0) continue;  // below
            size_t cs;
            CHECKF(roundtrip_(co, x, cases[k].n, NULL, &cs) == 0, "%s, case %zu", co->name, k);
        }
    }
    // PNG cannot hold an image without pixels: empty input is an argument error,
    // and the output buffer is left as it was.
    lmic_buf b = {0};
    CHECK_OK(lmic_buf_append(&b, "xy", 2));
    CHECK(codec_("png")->compress(x, 0, NULL, &b) == LMIC_ERR_ARG);
    CHECK(b.size == 2);
    lmic_buf_free(&b);
}

// Every level each codec accepts round trips; the others are argument errors.
static void test_codec_levels(void) {
    static uint8_t x[3000];
    signal_(SIG_SINE, x, sizeof x, 7);
    int hi[NCODECS] = {9, 9, 9, 9, 8};
    for (int c = 0; c < NCODECS; c++) {
        const lmic_codec *co = codec_(names_[c]);
        for (int level = -1; level <= hi[c] + 1; level++) {
            lmic_codec_params p = {.level = level};
            if (level >= 0 && level <= hi[c]) {
                CHECKF(roundtrip_(co, x, sizeof x, &p, NULL) == 0, "%s level %d", co->name, level);
            } else {
                lmic_buf b = {0};
                lmic_status st = co->compress(x, sizeof x, &p, &b);
                CHECKF(st == LMIC_ERR_ARG, "%s level %d: %d", co->name, level, st);
                CHECK(b.size == 0);
                lmic_buf_free(&b);
            }
        }
    }
}

// On a trivially predictable signal and on silence every codec must shrink the
// input at least 20 times (they get 50..1000x here), except FLAC on the
// triangle: its Rice codes cost at least one bit per sample unless a whole
// subframe is constant, so 8x is its limit there.
static void test_codec_compresses(void) {
    static uint8_t x[100000];
    for (int sig = 0; sig < 2; sig++) {
        if (sig == 0) signal_(SIG_TRIANGLE, x, sizeof x, 0);
        else memset(x, 128, sizeof x);
        for (int c = 0; c < NCODECS; c++) {
            size_t cs = 0;
            CHECK(roundtrip_(codec_(names_[c]), x, sizeof x, NULL, &cs) == 0);
            size_t limit = sig == 0 && c == 4 ? sizeof x / 7 : sizeof x / 20;
            CHECKF(cs < limit, "%s: %zu bytes of %s became %zu", names_[c], sizeof x,
                   sig ? "silence" : "triangle", cs);
        }
    }
    // ... and random bytes cannot shrink: this would catch a codec that drops data.
    signal_(SIG_RANDOM, x, 2048, 3);
    for (int c = 0; c < NCODECS; c++) {
        size_t cs = 0;
        CHECK(roundtrip_(codec_(names_[c]), x, 2048, NULL, &cs) == 0);
        CHECKF(cs > 2048, "%s: random 2048 bytes became %zu", names_[c], cs);
    }
}

// The paper counts each codec's header once, measured as the output for one
// zero byte. Every codec must produce it silently. The sizes are fixed by the
// formats (gzip 10 + 3 + 8; xz 12 + block + index + 12; PNG 8 + IHDR 25 +
// IDAT 12+10 + IEND 12); FLAC's includes libFLAC's vendor string, so only its
// frame part (after the zero-sample stream) is pinned loosely.
static void test_codec_one_zero_byte(void) {
    const uint8_t zero = 0;
    size_t size[NCODECS] = {0}, empty_flac = 0;
    lmic_status st[NCODECS], st_empty;
    lmic_buf b = {0};
    quiet_begin_();
    for (int c = 0; c < NCODECS; c++) {
        b.size = 0;
        st[c] = codec_(names_[c])->compress(&zero, 1, NULL, &b);
        size[c] = b.size;
    }
    b.size = 0;
    st_empty = codec_("flac")->compress(NULL, 0, NULL, &b);
    empty_flac = b.size;
    long printed = quiet_end_();
    lmic_buf_free(&b);
    CHECKF(printed == 0, "the codecs printed %ld bytes", printed);
    for (int c = 0; c < NCODECS; c++) CHECKF(st[c] == LMIC_OK, "%s: %d", names_[c], st[c]);
    CHECK_OK(st_empty);
    CHECKF(size[0] == 21, "gzip: %zu", size[0]);
    CHECKF(size[1] == 60, "lzma2: %zu", size[1]);
    CHECKF(size[2] == 60, "lzma2-9e: %zu", size[2]);
    CHECKF(size[3] == 67, "png: %zu", size[3]);
    // fLaC + STREAMINFO (4 + 4 + 34) + VORBIS_COMMENT (4 + 4 + vendor + 4);
    // then one frame of one sample: header, a verbatim or constant subframe, CRC.
    CHECKF(empty_flac >= 54 && empty_flac <= 150, "flac, no samples: %zu", empty_flac);
    CHECKF(size[4] > empty_flac && size[4] <= empty_flac + 16, "flac: %zu after %zu", size[4],
           empty_flac);
    for (int c = 0; c < NCODECS; c++) {
        const uint8_t one = 0;
        CHECK(roundtrip_(codec_(names_[c]), &one, 1, NULL, NULL) == 0);
    }
}

// --- FLAC parameters

// STREAMINFO starts at byte 8 of a file that begins with it (as ours do).
typedef struct {
    unsigned min_block, max_block, min_frame, max_frame, rate, channels, bits;
    uint64_t total;
    int md5_zero;
} flac_info_;

static int streaminfo_(const uint8_t *f, size_t n, flac_info_ *si) {
    if (n < 42 || memcmp(f, "fLaC", 4) || (f[4] & 0x7f) != 0 || be32_(f + 4) % (1u << 24) != 34)
        return 1;
    const uint8_t *p = f + 8;
    si->min_block = (unsigned)p[0] << 8 | p[1];
    si->max_block = (unsigned)p[2] << 8 | p[3];
    si->min_frame = (unsigned)p[4] << 16 | (unsigned)p[5] << 8 | p[6];
    si->max_frame = (unsigned)p[7] << 16 | (unsigned)p[8] << 8 | p[9];
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[10 + i];
    si->rate = (unsigned)(v >> 44);
    si->channels = (unsigned)(v >> 41 & 7) + 1;
    si->bits = (unsigned)(v >> 36 & 31) + 1;
    si->total = v & ((1ull << 36) - 1);
    si->md5_zero = 1;
    for (int i = 0; i < 16; i++) si->md5_zero &= p[18 + i] == 0;
    return 0;
}

static void test_codec_flac_formats(void) {
    static uint8_t x[2 * 2 * 30011];
    struct { int bits, channels, rate; size_t frames; } cases[] = {
        {8, 1, 0, 2048},      {8, 1, 8000, 1},     {8, 1, 44100, 4097},  {8, 2, 96000, 3001},
        {16, 1, 16000, 2048}, {16, 1, 8000, 1},    {16, 1, 44100, 30011}, {16, 2, 44100, 12345},
        {16, 2, 96000, 4096}, {16, 2, 8000, 4095}, {8, 3, 48000, 999},   {16, 8, 22050, 513},
        {16, 2, 44100, 0},
    };
    const lmic_codec *flac = codec_("flac");
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        lmic_codec_params p = {.bits = cases[k].bits, .channels = cases[k].channels,
                               .sample_rate = cases[k].rate};
        size_t n = cases[k].frames * (size_t)cases[k].channels * (size_t)(cases[k].bits / 8);
        CHECK(n <= sizeof x);
        signal_(k % 2 ? SIG_SINE : SIG_RANDOM, x, n, 50 + k);
        CHECKF(roundtrip_(flac, x, n, &p, NULL) == 0, "case %zu", k);

        // The header is rewritten at the end, as in a file: the totals, the MD5
        // and the frame sizes are there.
        lmic_buf b = {0};
        CHECK_OK(flac->compress(x, n, &p, &b));
        flac_info_ si;
        CHECK(streaminfo_(b.data, b.size, &si) == 0);
        lmic_buf_free(&b);
        CHECK(si.rate == (unsigned)(cases[k].rate ? cases[k].rate : 16000));
        CHECK(si.channels == (unsigned)cases[k].channels);
        CHECK(si.bits == (unsigned)cases[k].bits);
        CHECK(si.total == cases[k].frames);
        CHECK(si.max_block == 4096);  // level 8
        if (cases[k].frames) {
            CHECK(!si.md5_zero);
            CHECK(si.min_frame > 0 && si.min_frame <= si.max_frame);
        }
    }
}

static void test_codec_flac_bad_params(void) {
    const lmic_codec *flac = codec_("flac");
    static uint8_t x[4096];
    signal_(SIG_SINE, x, sizeof x, 9);
    lmic_buf b = {0};
    CHECK_OK(lmic_buf_append(&b, "keep", 4));
    struct { lmic_codec_params p; size_t n; } bad[] = {
        {{.bits = 16}, 2047},                  // half a sample
        {{.bits = 16, .channels = 2}, 4094},   // half a frame
        {{.bits = 8, .channels = 3}, 4096},    // 4096 % 3 != 0
        {{.bits = 12}, 4096},
        {{.bits = 24}, 4095},
        {{.channels = 9}, 4095},
        {{.channels = -1}, 4096},
        {{.sample_rate = -8000}, 4096},
        {{.sample_rate = 2000000}, 4096},
        {{.level = 9}, 4096},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        lmic_status st = flac->compress(x, bad[k].n, &bad[k].p, &b);
        CHECKF(st == LMIC_ERR_ARG, "case %zu: %d", k, st);
        CHECK(b.size == 4 && memcmp(b.data, "keep", 4) == 0);
    }

    // A 16-bit stereo stream read as anything else is a format error.
    lmic_codec_params p16 = {.bits = 16, .channels = 2, .sample_rate = 44100};
    CHECK_OK(flac->compress(x, sizeof x, &p16, &b));
    const uint8_t *z = b.data + 4;
    size_t zn = b.size - 4;
    lmic_buf d = {0};
    lmic_codec_params wrong[] = {
        {.bits = 8, .channels = 2}, {.bits = 16, .channels = 1}, {0}, {.bits = 16, .channels = 4},
    };
    for (size_t k = 0; k < sizeof wrong / sizeof wrong[0]; k++) {
        lmic_status st = flac->decompress(z, zn, &wrong[k], &d);
        CHECKF(st == LMIC_ERR_FORMAT, "case %zu: %d", k, st);
        CHECK(d.size == 0);
    }
    // The rate does not change the bytes, so it is not checked.
    lmic_codec_params other_rate = {.bits = 16, .channels = 2, .sample_rate = 8000};
    CHECK_OK(flac->decompress(z, zn, &other_rate, &d));
    CHECK(d.size == sizeof x && memcmp(d.data, x, sizeof x) == 0);
    lmic_buf_free(&b);
    lmic_buf_free(&d);
}

// --- agreement with the command-line tools

// gzip: `gzip -dc` reads ours; we read `gzip -9 -n`'s; the headers are equal
// byte for byte (mtime 0, XFL 2, OS 3), the deflate data need not be (gzip
// has its own deflate).
static void test_codec_gzip_tool(void) {
    static uint8_t x[50000];
    char zp[512], rp[512], op[512];
    path_(zp, sizeof zp, "t.gz");
    path_(rp, sizeof rp, "t.raw");
    path_(op, sizeof op, "t.out");
    const lmic_codec *gz = codec_("gzip");
    for (int kind = 0; kind < 3; kind++) {
        size_t n = kind == 0 ? 0 : kind == 1 ? 2048 : sizeof x;
        signal_(kind == 2 ? SIG_MIXED : SIG_SINE, x, n, 77);
        lmic_buf b = {0}, o = {0}, t = {0}, d = {0};
        CHECK_OK(gz->compress(x, n, NULL, &b));
        CHECK(b.size >= 18);
        static const uint8_t head[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3};
        CHECK(memcmp(b.data, head, 10) == 0);
        CHECK(write_file_(zp, b.data, b.size) == 0);
        CHECK(sh_("gzip -t %s && gzip -dc %s > %s", zp, zp, op) == 0);
        CHECK(read_file_(op, &o) == 0);
        CHECK(o.size == n && (n == 0 || memcmp(o.data, x, n) == 0));

        CHECK(write_file_(rp, x, n) == 0);
        CHECK(sh_("gzip -9 -n -c < %s > %s", rp, zp) == 0);
        CHECK(read_file_(zp, &t) == 0);
        CHECK(t.size >= 10 && memcmp(t.data, head, 10) == 0);
        CHECK_OK(gz->decompress(t.data, t.size, NULL, &d));
        CHECK(d.size == n && (n == 0 || memcmp(d.data, x, n) == 0));
        lmic_buf_free(&b);
        lmic_buf_free(&o);
        lmic_buf_free(&t);
        lmic_buf_free(&d);
    }
}

// xz: ours is byte for byte what single-threaded `xz -6` / `xz -9e` writes
// (the same liblzma presets and check); each side reads the other's.
static void test_codec_xz_tool(void) {
    static uint8_t x[50000];
    char zp[512], rp[512], op[512];
    path_(zp, sizeof zp, "t.xz");
    path_(rp, sizeof rp, "t.raw");
    path_(op, sizeof op, "t.out");
    const char *opt[2] = {"-6", "-9e"};
    for (int e = 0; e < 2; e++) {
        const lmic_codec *xz = codec_(names_[1 + e]);
        for (int kind = 0; kind < 3; kind++) {
            size_t n = kind == 0 ? 0 : kind == 1 ? 2048 : sizeof x;
            signal_(kind == 2 ? SIG_MIXED : SIG_SINE, x, n, 78);
            lmic_buf b = {0}, o = {0}, t = {0}, d = {0};
            CHECK_OK(xz->compress(x, n, NULL, &b));
            CHECK(write_file_(zp, b.data, b.size) == 0);
            CHECK(sh_("xz -t %s && xz -dc %s > %s", zp, zp, op) == 0);
            CHECK(read_file_(op, &o) == 0);
            CHECK(o.size == n && (n == 0 || memcmp(o.data, x, n) == 0));

            CHECK(write_file_(rp, x, n) == 0);
            CHECK(sh_("xz -T1 %s -c < %s > %s", opt[e], rp, zp) == 0);
            CHECK(read_file_(zp, &t) == 0);
            CHECKF(t.size == b.size && memcmp(t.data, b.data, b.size) == 0,
                   "%s: xz %s wrote %zu bytes, we %zu", xz->name, opt[e], t.size, b.size);
            CHECK_OK(xz->decompress(t.data, t.size, NULL, &d));
            CHECK(d.size == n && (n == 0 || memcmp(d.data, x, n) == 0));
            lmic_buf_free(&b);
            lmic_buf_free(&o);
            lmic_buf_free(&t);
            lmic_buf_free(&d);
        }
    }
}

// flac: the tool tests (MD5) and decodes ours to the same raw bytes, and ours
// is byte for byte what `flac -8 --no-padding --no-seektable` writes (same
// libFLAC). We also read the tool's default output (padding and seek table).
static void test_codec_flac_tool(void) {
    static uint8_t x[2 * 2 * 20000];
    char zp[512], rp[512], op[512];
    path_(zp, sizeof zp, "t.flac");
    path_(rp, sizeof rp, "t.raw");
    path_(op, sizeof op, "t.out");
    const lmic_codec *flac = codec_("flac");
    struct { int bits, channels, rate; size_t frames; } cases[] = {
        {8, 1, 16000, 2048}, {8, 1, 16000, 20000}, {16, 1, 44100, 4097}, {16, 2, 96000, 20000},
    };
    const char *raw = "--force-raw-format --endian=big --sign=unsigned";
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        lmic_codec_params p = {.bits = cases[k].bits, .channels = cases[k].channels,
                               .sample_rate = cases[k].rate};
        size_t n = cases[k].frames * (size_t)(cases[k].channels * cases[k].bits / 8);
        signal_(SIG_SINE, x, n, 90 + k);
        lmic_buf b = {0}, o = {0}, t = {0}, d = {0};
        CHECK_OK(flac->compress(x, n, &p, &b));
        CHECK(write_file_(zp, b.data, b.size) == 0);
        CHECK(sh_("flac -s -t %s && flac -s -d -f %s -o %s %s", zp, raw, op, zp) == 0);
        CHECK(read_file_(op, &o) == 0);
        CHECKF(o.size == n && memcmp(o.data, x, n) == 0, "case %zu", k);

        CHECK(write_file_(rp, x, n) == 0);
        CHECK(sh_("flac -s -f -8 --no-padding --no-seektable %s --channels=%d --bps=%d "
                  "--sample-rate=%d -o %s %s",
                  raw, cases[k].channels, cases[k].bits, cases[k].rate, zp, rp) == 0);
        CHECK(read_file_(zp, &t) == 0);
        CHECKF(t.size == b.size && memcmp(t.data, b.data, b.size) == 0,
               "case %zu: flac -8 wrote %zu bytes, we %zu", k, t.size, b.size);

        CHECK(sh_("flac -s -f -8 %s --channels=%d --bps=%d --sample-rate=%d -o %s %s", raw,
                  cases[k].channels, cases[k].bits, cases[k].rate, zp, rp) == 0);
        t.size = 0;
        CHECK(read_file_(zp, &t) == 0);
        CHECK(t.size > b.size);  // the padding block
        CHECK_OK(flac->decompress(t.data, t.size, &p, &d));
        CHECK(d.size == n && memcmp(d.data, x, n) == 0);
        lmic_buf_free(&b);
        lmic_buf_free(&o);
        lmic_buf_free(&t);
        lmic_buf_free(&d);
    }
}

// --- PNG shape

// The image is a = the largest divisor of n not above round(sqrt(n)) pixels
// wide and n / a tall, 8-bit gray, and holds only IHDR, IDAT... and IEND.
static void test_codec_png_shape(void) {
    static uint8_t x[100000];
    struct { size_t n; uint32_t w, h; } cases[] = {
        {2048, 32, 64}, {2039, 1, 2039}, {1, 1, 1},     {2, 1, 2},    {1001, 13, 77},
        {100000, 250, 400}, {4096, 64, 64}, {6, 2, 3}, {12, 3, 4}, {99991, 1, 99991},
    };
    const lmic_codec *png = codec_("png");
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t n = cases[k].n;
        signal_(SIG_SINE, x, n, 5);
        lmic_buf b = {0};
        CHECK_OK(png->compress(x, n, NULL, &b));
        CHECK(b.size > 8 + 25 + 12);
        CHECK(memcmp(b.data, "\x89PNG\r\n\x1a\n", 8) == 0);
        CHECK(be32_(b.data + 8) == 13 && memcmp(b.data + 12, "IHDR", 4) == 0);
        CHECKF(be32_(b.data + 16) == cases[k].w && be32_(b.data + 20) == cases[k].h,
               "%zu bytes: %u x %u", n, be32_(b.data + 16), be32_(b.data + 20));
        CHECK(b.data[24] == 8 && b.data[25] == 0);                    // 8-bit gray
        CHECK(b.data[26] == 0 && b.data[27] == 0 && b.data[28] == 0);  // no interlace
        size_t at = 8;
        int chunks = 0;
        while (at + 12 <= b.size) {
            uint32_t len = be32_(b.data + at);
            const uint8_t *type = b.data + at + 4;
            CHECK(memcmp(type, chunks == 0 ? "IHDR" : "IDAT", 4) == 0 ||
                  (chunks > 1 && memcmp(type, "IEND", 4) == 0));
            at += 12 + (size_t)len;
            chunks++;
        }
        CHECK(at == b.size && memcmp(b.data + b.size - 8, "IEND", 4) == 0);
        CHECK(roundtrip_(png, x, n, NULL, NULL) == 0);
        lmic_buf_free(&b);
    }
}

// Rewrites the IHDR of a PNG and fixes its CRC.
static void png_set_ihdr_(uint8_t *f, uint32_t w, uint32_t h, uint8_t depth, uint8_t color,
                          uint8_t interlace) {
    uint8_t *p = f + 16;
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(w >> (24 - 8 * i));
    for (int i = 0; i < 4; i++) p[4 + i] = (uint8_t)(h >> (24 - 8 * i));
    p[8] = depth;
    p[9] = color;
    p[12] = interlace;
    uint32_t crc = (uint32_t)crc32(0, f + 12, 17);
    for (int i = 0; i < 4; i++) f[29 + i] = (uint8_t)(crc >> (24 - 8 * i));
}

// Images lmic does not write are format errors, and a huge claimed size is
// refused before anything is allocated for it.
static void test_codec_png_rejects(void) {
    static uint8_t x[2048];
    signal_(SIG_SINE, x, sizeof x, 6);
    const lmic_codec *png = codec_("png");
    lmic_buf b = {0}, d = {0};
    CHECK_OK(png->compress(x, sizeof x, NULL, &b));
    struct { uint32_t w, h; uint8_t depth, color, interlace; lmic_status want; } cases[] = {
        {32, 64, 16, 0, 0, LMIC_ERR_FORMAT},          // 16-bit gray
        {32, 64, 8, 2, 0, LMIC_ERR_FORMAT},           // RGB
        {32, 64, 8, 4, 0, LMIC_ERR_FORMAT},           // gray + alpha
        {32, 64, 4, 0, 0, LMIC_ERR_FORMAT},           // 4-bit gray
        {32, 64, 8, 0, 1, LMIC_ERR_FORMAT},           // interlaced
        {0x7fffffff, 0x7fffffff, 8, 0, 0, LMIC_ERR_FORMAT},  // 2^62 pixels
        {65536, 32769, 8, 0, 0, LMIC_ERR_FORMAT},     // just over 2^31 pixels
        {64, 32, 8, 0, 0, LMIC_OK},                   // another shape of the same pixels
        {32, 65, 8, 0, 0, LMIC_ERR_CORRUPT},          // a row short
        {65536, 32768, 8, 0, 0, LMIC_ERR_CORRUPT},    // 2^31 pixels claimed, 2048 there
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        lmic_buf f = {0};
        CHECK_OK(lmic_buf_append(&f, b.data, b.size));
        png_set_ihdr_(f.data, cases[k].w, cases[k].h, cases[k].depth, cases[k].color,
                      cases[k].interlace);
        d.size = 0;
        quiet_begin_();
        lmic_status st = png->decompress(f.data, f.size, NULL, &d);
        long printed = quiet_end_();
        lmic_buf_free(&f);
        CHECKF(printed == 0, "libpng printed %ld bytes", printed);
        if (cases[k].want == LMIC_OK && cases[k].w == 64) {
            // Rows of 64 filtered as rows of 32 decode to other bytes or fail;
            // either way no crash and no lies about the size.
            CHECK(st != LMIC_OK || d.size == sizeof x);
            continue;
        }
        CHECKF(st == cases[k].want, "case %zu: %d", k, st);
        CHECK(d.size == 0);
    }
    lmic_buf_free(&b);
    lmic_buf_free(&d);
}

// --- damaged input

// Every codec's decoder, given a compressed buffer with one byte changed, must
// fail or return exactly the original (a byte no check covers, e.g. gzip's
// mtime or FLAC's STREAMINFO frame-size hints); cut short anywhere, it must
// fail. On failure the output keeps its old size. Nothing is printed.
// Positions: the first and last 32 bytes and about 96 drawn between them
// (every position with LMIC_TEST_LONG=1: xz decoders allocate the whole
// dictionary per call, which costs minutes under ASan).
static int tried_(size_t i, size_t n, uint64_t *rng) {
    if (getenv("LMIC_TEST_LONG") || n <= 160 || i < 32 || i >= n - 32) return 1;
    return lmic_rng_next(rng) % (n - 64) < 96;
}

static void test_codec_corrupt(void) {
    static uint8_t x[2048];
    uint64_t rng = 2024;
    struct { const char *name; lmic_codec_params p; int kind; } cases[] = {
        {"gzip", {0}, SIG_SINE},     {"lzma2", {0}, SIG_SINE},  // lzma2-9e: same decoder
        {"lzma2", {0}, SIG_TEXT},    {"png", {0}, SIG_SINE},
        {"png", {0}, SIG_RANDOM},    {"flac", {0}, SIG_SINE},
        {"flac", {.bits = 16, .channels = 2}, SIG_RANDOM},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const lmic_codec *co = codec_(cases[k].name);
        const lmic_codec_params *p = &cases[k].p;
        signal_(cases[k].kind, x, sizeof x, 300 + k);
        lmic_buf z = {0}, f = {0}, d = {0};
        CHECK_OK(co->compress(x, sizeof x, p, &z));
        CHECK_OK(lmic_buf_append(&d, "pre", 3));
        int bad_flip = -1, bad_cut = -1, changed_ok = 0;
        size_t bad_size = 0;
        quiet_begin_();
        for (size_t i = 0; i < z.size && bad_flip < 0; i++) {
            if (!tried_(i, z.size, &rng)) continue;
            for (int rep = 0; rep < 2; rep++) {
                f.size = 0;
                if (lmic_buf_append(&f, z.data, z.size)) break;
                f.data[i] ^= rep == 0 ? 0x01 : (uint8_t)(1 + lmic_rng_next(&rng) % 255);
                d.size = 3;
                lmic_status st = co->decompress(f.data, f.size, p, &d);
                if (st == LMIC_OK) {
                    changed_ok++;
                    if (d.size != 3 + sizeof x || memcmp(d.data + 3, x, sizeof x))
                        bad_flip = (int)i;
                } else if (d.size != 3) {
                    bad_flip = (int)i, bad_size = d.size;
                }
            }
        }
        for (size_t len = 0; len < z.size && bad_cut < 0; len++) {
            if (!tried_(len, z.size, &rng)) continue;
            d.size = 3;
            lmic_status st = co->decompress(z.data, len, p, &d);
            if (st == LMIC_OK || d.size != 3) bad_cut = (int)len, bad_size = d.size;
        }
        long printed = quiet_end_();
        if (getenv("LMIC_TEST_VERBOSE"))
            printf("  %s: %zu bytes, %d changed buffers decoded (correctly)\n", co->name,
                   z.size, changed_ok);
        CHECKF(bad_flip < 0, "%s: byte %d changed: decoded wrongly or left %zu bytes",
               co->name, bad_flip, bad_size);
        CHECKF(bad_cut < 0, "%s: cut to %d of %zu bytes: not an error (%zu)", co->name,
               bad_cut, z.size, bad_size);
        CHECKF(printed == 0, "%s: printed %ld bytes", co->name, printed);
        CHECK(memcmp(d.data, "pre", 3) == 0);
        lmic_buf_free(&z);
        lmic_buf_free(&f);
        lmic_buf_free(&d);
    }
}

// Bytes after the one stream each decoder reads are refused, a second gzip
// member included.
static void test_codec_trailing_bytes(void) {
    static uint8_t x[1000];
    signal_(SIG_SINE, x, sizeof x, 8);
    for (int c = 0; c < NCODECS; c++) {
        const lmic_codec *co = codec_(names_[c]);
        lmic_buf z = {0}, d = {0};
        CHECK_OK(co->compress(x, sizeof x, NULL, &z));
        size_t n1 = z.size;
        CHECK_OK(co->compress(x, sizeof x, NULL, &z));  // the same stream twice
        quiet_begin_();
        lmic_status twice = co->decompress(z.data, z.size, NULL, &d);
        size_t twice_size = d.size;
        lmic_status junk = co->decompress(z.data, n1 + 1, NULL, &d);
        size_t junk_size = d.size;
        long printed = quiet_end_();
        CHECKF(twice != LMIC_OK && twice_size == 0, "%s: two streams: %d", co->name, twice);
        CHECKF(junk != LMIC_OK && junk_size == 0, "%s: one junk byte: %d", co->name, junk);
        CHECK(printed == 0);
        lmic_buf_free(&z);
        lmic_buf_free(&d);
    }
}

// Random bytes, bare or behind each format's magic, are errors, quietly.
static void test_codec_garbage(void) {
    static const struct { const char *magic; size_t n; } magics[] = {
        {"", 0}, {"\x1f\x8b\x08\x00", 4}, {"\xfd" "7zXZ\x00\x00\x01", 8},
        {"\x89PNG\r\n\x1a\n", 8}, {"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR", 16},
        {"fLaC", 4}, {"fLaC\x80\x00\x00\x22", 8},
    };
    static uint8_t x[600];
    uint64_t rng = 99;
    int bad_codec = -1;
    size_t bad_len = 0, bad_magic = 0;
    lmic_buf d = {0};
    quiet_begin_();
    for (size_t m = 0; m < sizeof magics / sizeof magics[0] && bad_codec < 0; m++) {
        for (size_t len = 0; len <= 512 && bad_codec < 0; len += 1 + len / 8) {
            memcpy(x, magics[m].magic, magics[m].n);
            for (size_t i = magics[m].n; i < magics[m].n + len; i++)
                x[i] = (uint8_t)lmic_rng_next(&rng);
            for (int c = 0; c < NCODECS; c++) {
                d.size = 0;
                lmic_status st = codec_(names_[c])->decompress(x, magics[m].n + len, NULL, &d);
                if (st == LMIC_OK || d.size != 0) {
                    bad_codec = c, bad_len = len, bad_magic = m;
                    break;
                }
            }
        }
    }
    long printed = quiet_end_();
    lmic_buf_free(&d);
    CHECKF(bad_codec < 0, "%s accepted %zu random bytes after magic %zu",
           bad_codec >= 0 ? names_[bad_codec] : "", bad_len, bad_magic);
    CHECK(printed == 0);
}

void test_codecs(void) {
    RUN(test_codec_table);
    RUN(test_codec_roundtrip_grid);
    RUN(test_codec_levels);
    RUN(test_codec_compresses);
    RUN(test_codec_one_zero_byte);
    RUN(test_codec_flac_formats);
    RUN(test_codec_flac_bad_params);
    RUN(test_codec_gzip_tool);
    RUN(test_codec_xz_tool);
    RUN(test_codec_flac_tool);
    RUN(test_codec_png_shape);
    RUN(test_codec_png_rejects);
    RUN(test_codec_corrupt);
    RUN(test_codec_trailing_bytes);
    RUN(test_codec_garbage);
}
