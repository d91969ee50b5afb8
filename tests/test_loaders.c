// test_loaders.c -- the data loaders on files written here, byte by byte.
//
// Each test writes real files (WAV/FLAC/AIFF through libsndfile, PNG through
// libpng, PGM by hand) into the run's scratch directory and checks the exact
// chunks the loader yields against the definitions in loaders.h and lmic.h.
#include <png.h>
#include <sndfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lmic.h"
#include "loaders.h"
#include "test.h"

static char path_buf_[8][512];
static const char *tmp_path_(int slot, const char *name) {
    snprintf(path_buf_[slot], sizeof path_buf_[slot], "%s/%s", test_tmpdir(), name);
    return path_buf_[slot];
}

// Writes frames (nframes, channels) of left-justified int32 samples.
static int write_audio_(const char *path, int format, int rate, int channels,
                        const int32_t *x, sf_count_t nframes) {
    SF_INFO info = {0};
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    if (!f) return -1;
    sf_count_t w = sf_writef_int(f, x, nframes);
    sf_close(f);
    return w == nframes ? 0 : -1;
}

static loader_opts opts_(data_kind kind, const char *path) {
    loader_opts o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.path = path;
    o.num_chunks = -1;
    return o;
}

// Concatenates every chunk into out (cap bytes); returns bytes or -1.
static long long drain_(const loader_opts *o, uint8_t *out, size_t cap, int *nchunks,
                        size_t *first_len) {
    char err[600];
    loader *L = loader_open(o, err, sizeof err);
    if (!L) { fprintf(stderr, "  loader_open: %s\n", err); return -1; }
    const uint8_t *d;
    size_t n, total = 0;
    chunk_meta m;
    int r, k = 0;
    while ((r = loader_next(L, &d, &n, &m)) == 1) {
        if (k == 0 && first_len) *first_len = n;
        if (total + n > cap) { loader_free(L); return -1; }
        memcpy(out + total, d, n);
        total += n;
        k++;
    }
    if (r < 0) fprintf(stderr, "  loader_next: %s\n", loader_error(L));
    loader_free(L);
    if (nchunks) *nchunks = k;
    return r < 0 ? -1 : (long long)total;
}

// The loader's error for these options, or "" if it succeeded.
static const char *error_of_(const loader_opts *o) {
    static char err[600];
    err[0] = 0;
    loader *L = loader_open(o, err, sizeof err);
    if (!L) return err;
    const uint8_t *d;
    size_t n;
    chunk_meta m;
    int r;
    while ((r = loader_next(L, &d, &n, &m)) == 1) {}
    if (r < 0) snprintf(err, sizeof err, "%s", loader_error(L));
    loader_free(L);
    return err;
}

static void test_loader_wav16_stereo_layouts(void) {
    enum { N = 1000 };
    static int32_t x[N * 2];
    for (int t = 0; t < N; t++) {
        x[2 * t] = (int32_t)((uint32_t)(t * 37 - 18000) << 16);      // left
        x[2 * t + 1] = (int32_t)((uint32_t)(12000 - t * 23) << 16);  // right
    }
    const char *p = tmp_path_(0, "st16.wav");
    CHECK(write_audio_(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, x, N) == 0);
    static uint8_t got[N * 4], want[N * 4];
    loader_opts o = opts_(DATA_AUDIO, p);
    o.keep_partial = 1;
    int nch;
    size_t first;
    // interleave: L0 R0 L1 R1, 16-bit offset binary, big-endian.
    CHECK(drain_(&o, got, sizeof got, &nch, &first) == N * 4);
    CHECK(nch == 2 && first == 2048);  // 512 whole frames, then 488
    for (int t = 0; t < N; t++)
        for (int c = 0; c < 2; c++) {
            uint16_t u = (uint16_t)((x[2 * t + c] >> 16) + 32768);
            want[4 * t + 2 * c] = (uint8_t)(u >> 8);
            want[4 * t + 2 * c + 1] = (uint8_t)u;
        }
    CHECK(memcmp(got, want, N * 4) == 0);
    // planar within each chunk: the first chunk starts with 512 left samples.
    o.layout = LMIC_LAYOUT_PLANAR;
    CHECK(drain_(&o, got, sizeof got, &nch, &first) == N * 4);
    for (int t = 0; t < 512; t++) {
        CHECK(got[2 * t] == want[4 * t] && got[2 * t + 1] == want[4 * t + 1]);
        CHECK(got[1024 + 2 * t] == want[4 * t + 2]);
    }
    // channel:1 only the right channel, 1024 samples per chunk.
    o.layout = LMIC_LAYOUT_CHANNEL;
    o.channel = 1;
    CHECK(drain_(&o, got, sizeof got, &nch, &first) == N * 2);
    CHECK(nch == 1 && first == N * 2);
    for (int t = 0; t < N; t++) CHECK(got[2 * t] == want[4 * t + 2]);
    // the last partial chunk is dropped by default.
    o.layout = LMIC_LAYOUT_INTERLEAVE;
    o.keep_partial = 0;
    CHECK(drain_(&o, got, sizeof got, &nch, NULL) == 2048 && nch == 1);
    // chunks hold whole frames: 2047 bytes round down to 511 frames.
    o.chunk_size = 2047;
    o.keep_partial = 1;
    CHECK(drain_(&o, got, sizeof got, &nch, &first) == N * 4 && first == 2044);
    CHECK(memcmp(got, want, N * 4) == 0);
    // mid/side: frame 0's tokens are M = floor((L+R)/2), S = L - R.
    o.chunk_size = 0;
    o.mid_side = 1;
    CHECK(drain_(&o, got, sizeof got, &nch, NULL) == N * 4);
    int l = x[0] >> 16, r = x[1] >> 16;
    int m = ((l + r) >> 1) + 32768, s = (l - r) + 32768;
    CHECK(got[0] == (m >> 8) && got[1] == (m & 255) && got[2] == (s >> 8) && got[3] == (s & 255));
}

static void test_loader_depths_and_formats(void) {
    enum { N = 700 };
    static int32_t x[N];
    uint64_t rng = 7;
    for (int t = 0; t < N; t++) x[t] = (int32_t)(lmic_rng_next(&rng) & 0xFFFFFF00u);  // 24 bits
    static uint8_t got[N * 4], want[N * 4];
    const char *p24 = tmp_path_(0, "m24.wav");
    CHECK(write_audio_(p24, SF_FORMAT_WAV | SF_FORMAT_PCM_24, 48000, 1, x, N) == 0);
    loader_opts o = opts_(DATA_AUDIO, p24);
    o.keep_partial = 1;
    // native 24-bit: 3 bytes, offset binary, MSB first.
    CHECK(drain_(&o, got, sizeof got, NULL, NULL) == N * 3);
    for (int t = 0; t < N; t++) {
        uint32_t u = ((uint32_t)x[t] >> 8) ^ 0x800000u;
        want[3 * t] = (uint8_t)(u >> 16);
        want[3 * t + 1] = (uint8_t)(u >> 8);
        want[3 * t + 2] = (uint8_t)u;
    }
    CHECK(memcmp(got, want, N * 3) == 0);
    // --depth 16 keeps the high 16 bits; --depth 8 the high byte + 128.
    o.depth = 16;
    CHECK(drain_(&o, got, sizeof got, NULL, NULL) == N * 2);
    for (int t = 0; t < N; t++) CHECK(got[2 * t] == want[3 * t] && got[2 * t + 1] == want[3 * t + 1]);
    o.depth = 8;
    CHECK(drain_(&o, got, sizeof got, NULL, NULL) == N);
    for (int t = 0; t < N; t++) CHECK(got[t] == want[3 * t]);
    // The same samples as FLAC and AIFF give the same tokens as WAV.
    const char *pf = tmp_path_(1, "m24.flac"), *pa = tmp_path_(2, "m24.aiff");
    CHECK(write_audio_(pf, SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 48000, 1, x, N) == 0);
    CHECK(write_audio_(pa, SF_FORMAT_AIFF | SF_FORMAT_PCM_24, 48000, 1, x, N) == 0);
    o.depth = 0;
    static uint8_t other[N * 4];
    o.path = pf;
    CHECK(drain_(&o, other, sizeof other, NULL, NULL) == N * 3);
    CHECK(memcmp(other, want, N * 3) == 0);
    o.path = pa;
    CHECK(drain_(&o, other, sizeof other, NULL, NULL) == N * 3);
    CHECK(memcmp(other, want, N * 3) == 0);
    // 8-bit WAV (unsigned on disk): the tokens are the file's own bytes.
    const char *p8 = tmp_path_(3, "m8.wav");
    CHECK(write_audio_(p8, SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 11025, 1, x, N) == 0);
    o.path = p8;
    CHECK(drain_(&o, got, sizeof got, NULL, NULL) == N);
    FILE *f = fopen(p8, "rb");
    CHECK(f != NULL);
    fseek(f, -N, SEEK_END);
    size_t rd = fread(other, 1, N, f);
    fclose(f);
    CHECK(rd == N && memcmp(got, other, N) == 0);
    // 32-bit integer: 4 bytes.
    const char *p32 = tmp_path_(4, "m32.wav");
    CHECK(write_audio_(p32, SF_FORMAT_WAV | SF_FORMAT_PCM_32, 96000, 1, x, N) == 0);
    o.path = p32;
    CHECK(drain_(&o, got, sizeof got, NULL, NULL) == N * 4);
    CHECK(got[0] == (((uint32_t)x[0] ^ 0x80000000u) >> 24));
}

static void test_loader_float_keeps_every_bit(void) {
    enum { N = 6 };
    float v[N] = {-1.0f, -0.5f, -0.0f, 0.0f, 1e-30f, 0.75f};
    SF_INFO info = {0};
    info.samplerate = 8000;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    const char *p = tmp_path_(0, "f32.wav");
    SNDFILE *f = sf_open(p, SFM_WRITE, &info);
    CHECK(f != NULL);
    CHECK(sf_writef_float(f, v, N) == N);
    sf_close(f);
    loader_opts o = opts_(DATA_AUDIO, p);
    o.keep_partial = 1;
    uint8_t got[64];
    CHECK(drain_(&o, got, sizeof got, NULL, NULL) == N * 4);
    // Order-preserving: tokens sort like the values, and -0 sits just below +0.
    for (int i = 0; i + 1 < N; i++) CHECK(memcmp(got + 4 * i, got + 4 * i + 4, 4) < 0);
    uint32_t keys[N];
    for (int i = 0; i < N; i++)
        keys[i] = (uint32_t)got[4 * i] << 24 | (uint32_t)got[4 * i + 1] << 16 |
                  (uint32_t)got[4 * i + 2] << 8 | got[4 * i + 3];
    CHECK(keys[3] - keys[2] == 1);
    // Every bit comes back: undo the key and compare with the floats.
    for (int i = 0; i < N; i++) {
        uint32_t u = keys[i] ^ 0x80000000u;
        if (u & 0x80000000u) u ^= 0x7FFFFFFFu;
        CHECK(memcmp(&u, &v[i], 4) == 0);
    }
    o.depth = 16;  // reduced: the float scaled to 16 bits (lossy, like the paper)
    CHECK(drain_(&o, got, sizeof got, NULL, NULL) == N * 2);
    CHECKF(got[0] == 0x00 && got[1] == 0x00, "%02x%02x %02x%02x", got[0], got[1], got[10], got[11]);  // -1.0 -> -32768
    CHECK(got[10] == 0xE0 && got[11] == 0x00);       // 0.75 -> 24576
}

static void test_loader_librispeech_is_the_papers(void) {
    // Stereo 16-bit: mean of the channels (floor), then the high byte + 128.
    enum { N = 3000 };
    static int32_t x[N * 2];
    uint64_t rng = 11;
    for (int i = 0; i < N * 2; i++) x[i] = (int32_t)(lmic_rng_next(&rng) & 0xFFFF0000u);
    const char *p = tmp_path_(0, "ls.flac");
    CHECK(write_audio_(p, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 2, x, N) == 0);
    loader_opts o = opts_(DATA_LIBRISPEECH, p);
    static uint8_t got[N];
    int nch;
    CHECK(drain_(&o, got, sizeof got, &nch, NULL) == 2048 && nch == 1);  // partial dropped
    for (int t = 0; t < 2048; t++) {
        int l = x[2 * t] >> 16, r = x[2 * t + 1] >> 16;
        int sum = l + r, mean = sum >= 0 ? sum / 2 : -((-sum + 1) / 2);
        CHECKF(got[t] == (uint8_t)((mean >> 8) + 128), "t=%d", t);
    }
}

static void test_loader_directory_order_and_limits(void) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s/tree", test_tmpdir());
    mkdir(dir, 0755);
    char sub[700];
    snprintf(sub, sizeof sub, "%s/b_sub", dir);
    mkdir(sub, 0755);
    static int32_t x[4096];
    char p[800];
    // Files named out of order; each is constant so its chunks say who it is.
    const char *names[3] = {"c.wav", "a.wav", "b_sub/z.wav"};
    const int level[3] = {3, 1, 2};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 4096; i++) x[i] = (int32_t)((uint32_t)level[k] << 24);
        snprintf(p, sizeof p, "%s/%s", dir, names[k]);
        CHECK(write_audio_(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, x, 2048 + 5) == 0);
    }
    snprintf(p, sizeof p, "%s/notes.txt", dir);  // not audio: skipped in a walk
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    fputs("hello", f);
    fclose(f);
    loader_opts o = opts_(DATA_AUDIO, dir);
    static uint8_t got[8 * 4096];
    int nch;
    CHECK(drain_(&o, got, sizeof got, &nch, NULL) == 3 * 4096 && nch == 6);
    // Sorted by path: a.wav, b_sub/z.wav, c.wav.
    CHECK(got[0] == 129 && got[4096] == 130 && got[8192] == 131);
    o.num_chunks = 3;
    CHECK(drain_(&o, got, sizeof got, &nch, NULL) == 3 * 2048 && nch == 3);
}

static void test_loader_text_and_random(void) {
    const char *p = tmp_path_(0, "text.txt");
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    for (int i = 0; i < 5000; i++) fputc('a' + i % 26, f);
    fclose(f);
    loader_opts o = opts_(DATA_TEXT, p);
    static uint8_t got[8192];
    int nch;
    CHECK(drain_(&o, got, sizeof got, &nch, NULL) == 4096 && nch == 2);
    for (int i = 0; i < 4096; i++) CHECK(got[i] == 'a' + i % 26);
    o.keep_partial = 1;
    CHECK(drain_(&o, got, sizeof got, &nch, NULL) == 5000 && nch == 3);
    o.chunk_size = 100;
    o.num_chunks = 7;
    CHECK(drain_(&o, got, sizeof got, &nch, NULL) == 700 && nch == 7);

    static uint8_t r1[4 * 2048], r2[4 * 2048];
    loader_opts r = opts_(DATA_RANDOM, NULL);
    r.num_chunks = 4;
    r.seed = 5;
    CHECK(drain_(&r, r1, sizeof r1, &nch, NULL) == 4 * 2048 && nch == 4);
    CHECK(drain_(&r, r2, sizeof r2, NULL, NULL) == 4 * 2048);
    CHECK(memcmp(r1, r2, sizeof r1) == 0);  // seeded: the same bytes again
    r.seed = 6;
    CHECK(drain_(&r, r2, sizeof r2, NULL, NULL) == 4 * 2048);
    CHECK(memcmp(r1, r2, sizeof r1) != 0);
    int hist[256] = {0};  // roughly uniform: every value present
    for (size_t i = 0; i < sizeof r1; i++) hist[r1[i]]++;
    for (int v = 0; v < 256; v++) CHECK(hist[v] > 0);
}

static int write_png_rgb_(const char *path, int w, int h, const uint8_t *rgb) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    if (setjmp(png_jmpbuf(p))) { png_destroy_write_struct(&p, &info); fclose(f); return -1; }
    png_init_io(p, f);
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(p, info);
    for (int y = 0; y < h; y++) png_write_row(p, rgb + (size_t)y * w * 3);
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    fclose(f);
    return 0;
}

static void test_loader_images(void) {
    // A 70 x 130 RGB PNG: 2 x 2 whole 32 x 64 patches (rest dropped).
    enum { W = 130, H = 70 };
    static uint8_t rgb[W * H * 3], gray[W * H];
    uint64_t rng = 3;
    for (int i = 0; i < W * H * 3; i++) rgb[i] = (uint8_t)lmic_rng_next(&rng);
    for (int i = 0; i < W * H; i++) gray[i] = (uint8_t)((rgb[3 * i] + rgb[3 * i + 1] + rgb[3 * i + 2]) / 3);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/img", test_tmpdir());
    mkdir(dir, 0755);
    char p[700];
    snprintf(p, sizeof p, "%s/a.png", dir);
    CHECK(write_png_rgb_(p, W, H, rgb) == 0);
    static uint8_t got[8 * 2048];
    loader_opts o = opts_(DATA_IMAGE, dir);
    int nch;
    CHECK(drain_(&o, got, sizeof got, &nch, NULL) == 4 * 2048 && nch == 4);
    // Patch 1 is rows 0..31, columns 64..127; row r of it starts at r * 64.
    for (int r = 0; r < 32; r++)
        CHECK(memcmp(got + 2048 + r * 64, gray + r * W + 64, 64) == 0);
    // Patch 2 is rows 32..63, columns 0..63.
    CHECK(memcmp(got + 2 * 2048, gray + 32 * W, 64) == 0);
    // The same gray pixels as a PGM give the same patches.
    snprintf(p, sizeof p, "%s/b.pgm", dir);
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    fprintf(f, "P5\n# a comment\n%d %d\n255\n", W, H);
    fwrite(gray, 1, sizeof gray, f);
    fclose(f);
    static uint8_t both[16 * 2048];
    CHECK(drain_(&o, both, sizeof both, &nch, NULL) == 8 * 2048 && nch == 8);
    CHECK(memcmp(both, both + 4 * 2048, 4 * 2048) == 0);
}

static void test_loader_bad_inputs(void) {
    loader_opts o = opts_(DATA_AUDIO, "/nonexistent/x.wav");
    CHECK(strstr(error_of_(&o), "/nonexistent/x.wav: No such file") != NULL);
    // Not audio, named .wav.
    const char *p = tmp_path_(0, "fake.wav");
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    fputs("this is not a RIFF file at all, just some text", f);
    fclose(f);
    o.path = p;
    CHECK(strstr(error_of_(&o), "cannot read audio") != NULL);
    // A WAV cut short: the header promises more than the file holds.
    static int32_t x[20000];
    const char *w = tmp_path_(1, "trunc.wav");
    CHECK(write_audio_(w, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, x, 20000) == 0);
    CHECK(truncate(w, 44 + 15000) == 0);
    o.path = w;
    const char *e = error_of_(&o);
    CHECKF(strstr(e, "trunc.wav: truncated") != NULL, "%s", e);
    // A FLAC cut short.
    const char *fl = tmp_path_(2, "trunc.flac");
    for (int i = 0; i < 20000; i++) x[i] = (int32_t)((uint32_t)(i * 7919) << 16);
    CHECK(write_audio_(fl, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, x, 20000) == 0);
    struct stat st;
    CHECK(stat(fl, &st) == 0);
    CHECK(truncate(fl, st.st_size / 2) == 0);
    o.path = fl;
    e = error_of_(&o);
    CHECKF(strstr(e, "trunc.flac") != NULL, "%s", e);
    // Settings the file cannot take.
    const char *m = tmp_path_(3, "mono.wav");
    CHECK(write_audio_(m, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, x, 100) == 0);
    o.path = m;
    o.mid_side = 1;
    CHECK(strstr(error_of_(&o), "needs 2 channels") != NULL);
    o.mid_side = 0;
    o.layout = LMIC_LAYOUT_CHANNEL;
    o.channel = 1;
    CHECK(strstr(error_of_(&o), "channel:1") != NULL);
    o.layout = LMIC_LAYOUT_INTERLEAVE;
    o.chunk_size = 1;
    CHECK(strstr(error_of_(&o), "smaller than one frame") != NULL);
    o.chunk_size = 0;
    o.depth = 12;
    CHECK(strstr(error_of_(&o), "--depth 12") != NULL);
    // 64-bit float has no native width.
    const char *d = tmp_path_(4, "f64.wav");
    CHECK(write_audio_(d, SF_FORMAT_WAV | SF_FORMAT_DOUBLE, 16000, 1, x, 100) == 0);
    o = opts_(DATA_AUDIO, d);
    CHECK(strstr(error_of_(&o), "64-bit float") != NULL);
    // An empty directory and an image directory with no images.
    char dir[600];
    snprintf(dir, sizeof dir, "%s/empty", test_tmpdir());
    mkdir(dir, 0755);
    o = opts_(DATA_AUDIO, dir);
    CHECK(strstr(error_of_(&o), "no audio files found") != NULL);
    o = opts_(DATA_IMAGE, test_tmpdir());
    o.chunk_size = 100;
    CHECK(strstr(error_of_(&o), "multiple of 32") != NULL);
    // A PNG that is not one.
    const char *g = tmp_path_(5, "bad.png");
    f = fopen(g, "wb");
    CHECK(f != NULL);
    fputs("\x89PNG\r\n\x1a\n garbage", f);
    fclose(f);
    o = opts_(DATA_IMAGE, g);
    CHECK(strstr(error_of_(&o), "cannot read PNG") != NULL);
    o = opts_(DATA_TEXT, NULL);
    CHECK(strstr(error_of_(&o), "no --path") != NULL);
}

void test_loaders(void) {
    RUN(test_loader_wav16_stereo_layouts);
    RUN(test_loader_depths_and_formats);
    RUN(test_loader_float_keeps_every_bit);
    RUN(test_loader_librispeech_is_the_papers);
    RUN(test_loader_directory_order_and_limits);
    RUN(test_loader_text_and_random);
    RUN(test_loader_images);
    RUN(test_loader_bad_inputs);
}
