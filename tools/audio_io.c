// audio_io.c -- audio files <-> samples for the codec commands (audio_io.h).
#include "audio_io.h"

#include <errno.h>
#include <signal.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lmic.h"

static int afail_(char *err, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

static uint32_t get16_(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t get32_(const uint8_t *p) { return get16_(p) | get16_(p + 2) << 16; }

// Defined arithmetic shift right for negative values too.
static int32_t shr_(int32_t v, int s) {
    if (s == 0) return v;
    uint32_t u = (uint32_t)v >> s, sign = 1u << (31 - s);
    return (int32_t)((u ^ sign) - sign);
}

// IEEE float bits <-> an order-preserving signed integer (its own inverse).
static int32_t float_key_(uint32_t u) { return (int32_t)((u & 0x80000000u) ? (u ^ 0x7FFFFFFFu) : u); }
static uint32_t key_bits_(int32_t k) { uint32_t u = (uint32_t)k; return (u & 0x80000000u) ? (u ^ 0x7FFFFFFFu) : u; }

// floor(f * 128), saturated to 8 bits; NaN is 0.
static int32_t float_to_8_(float f) {
    double v = (double)f * 128.0;
    if (!(v == v)) return 0;
    if (v >= 127.0) return 127;
    if (v <= -128.0) return -128;
    int32_t i = (int32_t)v;
    return (double)i > v ? i - 1 : i;
}

void wav_pack(const int32_t *s, size_t n, int bits, int is_float, uint8_t *out) {
    int nb = bits / 8;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = is_float ? key_bits_(s[i]) : (uint32_t)s[i];
        if (bits == 8) u ^= 0x80;  // 8-bit WAV is unsigned
        for (int k = 0; k < nb; k++) out[i * nb + k] = (uint8_t)(u >> (8 * k));
    }
}

static void wav_unpack_(const uint8_t *in, size_t n, int bits, int is_float, int32_t *s) {
    int nb = bits / 8;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = 0;
        for (int k = 0; k < nb; k++) u |= (uint32_t)in[i * nb + k] << (8 * k);
        if (is_float) s[i] = float_key_(u);
        else if (bits == 8) s[i] = (int32_t)u - 128;
        else s[i] = shr_((int32_t)(u << (32 - bits)), 32 - bits);
    }
}

void audio_free(audio_in *a) {
    if (!a) return;
    free(a->samples);
    free(a->prefix);
    free(a->suffix);
    memset(a, 0, sizeof *a);
}

// --- WAV, parsed by hand

// Returns 1 when data is a WAV this parser keeps verbatim (a is filled),
// 0 when it is something else (libsndfile's turn), -1 on damage.
static int parse_wav_(const uint8_t *d, size_t n, const char *name, audio_in *a, char *err,
                      size_t errlen) {
    if (n < 12 || memcmp(d, "RIFF", 4) || memcmp(d + 8, "WAVE", 4)) return 0;
    size_t pos = 12, fmt = 0, fmt_len = 0, data = 0, data_len = 0;
    int have_fmt = 0, have_data = 0;
    while (pos + 8 <= n) {
        uint32_t len = get32_(d + pos + 4);
        if (!memcmp(d + pos, "fmt ", 4) && !have_fmt) {
            fmt = pos + 8; fmt_len = len; have_fmt = 1;
            if (len > n - fmt) return afail_(err, errlen, "%s: truncated WAV fmt chunk", name);
        } else if (!memcmp(d + pos, "data", 4)) {
            data = pos + 8; data_len = len; have_data = 1;
            break;
        }
        // A chunk before the audio that runs past the end: not libsndfile's to
        // decide, since its parser walks such a claim (a LIST of 4 GB takes
        // minutes; fuzz_audio found it).
        if (len > n - pos - 8)
            return afail_(err, errlen, "%s: damaged or truncated WAV: a chunk before the audio claims %u bytes, "
                          "the file holds %zu more", name, len, n - pos - 8);
        pos += 8 + (size_t)len + (len & 1);
    }
    if (!have_fmt || !have_data || fmt_len < 16) return 0;
    uint32_t tag = get16_(d + fmt), ch = get16_(d + fmt + 2), rate = get32_(d + fmt + 4);
    uint32_t align = get16_(d + fmt + 12), bits = get16_(d + fmt + 14);
    if (tag == 0xFFFE) {  // WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID
        if (fmt_len < 40) return 0;
        tag = get16_(d + fmt + 24);
    }
    int is_float = tag == 3;
    if ((tag != 1 && tag != 3) || ch < 1 || ch > LMIC_PCM_MAX_CHANNELS || rate < 1) return 0;
    if (rate > INT32_MAX) return afail_(err, errlen, "%s: unsupported sample rate (%u Hz)", name, rate);
    if (bits != 8 && bits != 16 && bits != 24 && bits != 32) return 0;
    if (is_float && bits != 32) return 0;
    if (align != ch * bits / 8) return 0;
    if (data_len == 0xFFFFFFFFu) return 0;  // a streaming placeholder: libsndfile sizes it
    if (data_len > n - data)
        return afail_(err, errlen, "%s: truncated: the header promises %u bytes of audio, the file holds %zu",
                      name, data_len, n - data);
    size_t frames = data_len / align, payload = frames * align;
    a->rate = (int)rate;
    a->channels = (int)ch;
    a->bits = a->src_bits = (int)bits;
    a->is_float = is_float;
    a->source = LMIC_SOURCE_WAV;
    a->frames = frames;
    a->samples = malloc((frames * ch + 1) * sizeof *a->samples);
    a->prefix_size = data;
    a->suffix_size = n - data - payload;
    a->prefix = malloc(a->prefix_size + 1);
    a->suffix = malloc(a->suffix_size + 1);
    if (!a->samples || !a->prefix || !a->suffix) return afail_(err, errlen, "%s: out of memory", name);
    memcpy(a->prefix, d, a->prefix_size);
    memcpy(a->suffix, d + data + payload, a->suffix_size);
    wav_unpack_(d + data, frames * ch, (int)bits, is_float, a->samples);
    return 1;
}

// --- everything else, through libsndfile reading from memory

typedef struct { const uint8_t *d; sf_count_t n, pos; } memfile;

static sf_count_t vlen_(void *u) { return ((memfile *)u)->n; }
static sf_count_t vseek_(sf_count_t off, int whence, void *u) {
    memfile *m = u;
    sf_count_t p = whence == SEEK_SET ? off : whence == SEEK_CUR ? m->pos + off : m->n + off;
    if (p < 0 || p > m->n) return -1;
    return m->pos = p;
}
static sf_count_t vread_(void *ptr, sf_count_t count, void *u) {
    memfile *m = u;
    if (count > m->n - m->pos) count = m->n - m->pos;
    if (count <= 0) return 0;  // (an empty input has no data pointer at all)
    memcpy(ptr, m->d + m->pos, (size_t)count);
    m->pos += count;
    return count;
}
static sf_count_t vwrite_(const void *ptr, sf_count_t count, void *u) { (void)ptr; (void)count; (void)u; return 0; }
static sf_count_t vtell_(void *u) { return ((memfile *)u)->pos; }

// A canonical 44-byte WAV header (PCM, or IEEE float) for the samples, and
// the pad byte after an odd payload.
static int canonical_wav_(audio_in *a, char *err, size_t errlen, const char *name) {
    free(a->prefix);
    free(a->suffix);
    a->prefix = malloc(LMIC_WAV_CANONICAL_SIZE);
    a->suffix = malloc(1);
    if (!a->prefix || !a->suffix) return afail_(err, errlen, "%s: out of memory", name);
    if (lmic_wav_canonical_header((uint32_t)a->rate, (uint32_t)a->channels, (uint32_t)a->bits,
                                  (uint32_t)a->is_float, (uint64_t)a->frames, a->prefix) != LMIC_OK)
        return afail_(err, errlen, "%s: too much audio for a WAV file (4 GiB)", name);
    a->prefix_size = LMIC_WAV_CANONICAL_SIZE;
    a->suffix[0] = 0;
    a->suffix_size = (size_t)(((uint64_t)a->frames * (uint64_t)a->channels * (uint64_t)(a->bits / 8)) & 1);
    return 0;
}

// libsndfile's header parsers can spin on a hostile file without reading any
// further (a 137-byte WAV whose LIST chunk claims 4 GB keeps sf_open busy for
// minutes, and fuzz_audio keeps finding more), so libsndfile runs in a forked
// child with a CPU-time limit and sends what it decodes through a pipe: a
// file it cannot finish within the limit is refused, never a hang. The limit
// is 5 s plus 10 s per MB of input: decoding, even of Opus, runs far faster.
// The child sends a head, then blocks of (frames, samples), a block of 0
// frames, and a tail; it never returns to the caller.

enum { SND_BLOCK = 1 << 16, SND_ERR = 400 };
typedef struct {
    int32_t ok, rate, channels, bits, src_bits, is_float;
    int64_t frames;
    char err[SND_ERR];
} snd_head;  // the head (ok: the audio follows) and the tail (ok: all of it came)

static int put_(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}
static int get_(int fd, void *p, size_t n) {
    char *c = p;
    while (n) {
        ssize_t k = read(fd, c, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

// The child: decode d with libsndfile, send everything to fd.
static void sndfile_child_(const uint8_t *d, size_t n, int depth8, int fd) {
    SF_VIRTUAL_IO vio = {vlen_, vseek_, vread_, vwrite_, vtell_};
    memfile mf = {d, (sf_count_t)n, 0};
    SF_INFO info;
    memset(&info, 0, sizeof info);
    snd_head h;
    memset(&h, 0, sizeof h);
    SNDFILE *sf = sf_open_virtual(&vio, SFM_READ, &info, &mf);
    if (!sf) {
        snprintf(h.err, SND_ERR, "cannot read audio: %s", sf_strerror(NULL));
        put_(fd, &h, sizeof h);
        return;
    }
    int sub = info.format & SF_FORMAT_SUBMASK;
    int bits = 16, is_float = 0, is_double = sub == SF_FORMAT_DOUBLE;
    switch (sub) {
    case SF_FORMAT_PCM_S8: case SF_FORMAT_PCM_U8: bits = 8; break;
    case SF_FORMAT_PCM_24: bits = 24; break;
    case SF_FORMAT_PCM_32: bits = 32; break;
    case SF_FORMAT_FLOAT: bits = 32; is_float = 1; break;
    default: break;  // companded, ADPCM, lossy: 16 bits
    }
    // The header's frame count is a claim: check it against what a WAV can
    // hold; the parent's memory then follows the audio that really decodes.
    if (info.channels < 1 || info.channels > LMIC_PCM_MAX_CHANNELS || info.samplerate < 1 || info.frames < 0)
        snprintf(h.err, SND_ERR, "unsupported audio (%d channels, %d Hz)", info.channels, info.samplerate);
    else if (is_double && !depth8)
        snprintf(h.err, SND_ERR, "64-bit float audio has no lossless 32-bit form (--depth 8 reduces it)");
    else if ((uint64_t)info.frames >
             (0xFFFFFFFFull - 64) / (uint64_t)info.channels / (uint64_t)((depth8 ? 8 : bits) / 8))
        snprintf(h.err, SND_ERR, "too much audio for a WAV file (%lld frames of %d channels claimed)",
                 (long long)info.frames, info.channels);
    else
        h.ok = 1;
    h.rate = info.samplerate;
    h.channels = info.channels;
    h.src_bits = is_double ? 64 : bits;
    h.bits = depth8 ? 8 : bits;
    h.is_float = depth8 ? 0 : is_float;
    h.frames = info.frames;
    if (put_(fd, &h, sizeof h) != 0 || !h.ok) { sf_close(sf); return; }
    size_t C = (size_t)info.channels, F = (size_t)info.frames, got = 0;
    int32_t *s = malloc(SND_BLOCK * C * sizeof *s);
    float *f = malloc(SND_BLOCK * C * sizeof *f);
    uint32_t k = 0;
    snd_head t;
    memset(&t, 0, sizeof t);
    while (s && f && got < F) {
        sf_count_t want = (sf_count_t)(F - got < SND_BLOCK ? F - got : SND_BLOCK);
        sf_count_t r = (is_float || is_double) ? sf_readf_float(sf, f, want) : sf_readf_int(sf, s, want);
        if (r <= 0) break;
        for (size_t i = 0; i < (size_t)r * C; i++) {
            if (is_float || is_double) {
                uint32_t u;
                memcpy(&u, &f[i], 4);
                s[i] = depth8 ? float_to_8_(f[i]) : float_key_(u);
            } else {
                s[i] = shr_(s[i], 32 - (depth8 ? 8 : bits));
            }
        }
        k = (uint32_t)r;
        if (put_(fd, &k, 4) || put_(fd, s, (size_t)r * C * sizeof *s)) goto out;
        got += (size_t)r;
        if (r < want) break;
    }
    if (!s || !f)
        snprintf(t.err, SND_ERR, "out of memory");
    else if (got != F || sf_error(sf) != SF_ERR_NO_ERROR)
        snprintf(t.err, SND_ERR, "read error or truncated audio (%zu of %zu frames): %s", got, F, sf_strerror(sf));
    else
        t.ok = 1;
    k = 0;
    if (put_(fd, &k, 4) == 0) put_(fd, &t, sizeof t);
out:
    free(s);
    free(f);
    sf_close(sf);
}

// The parent: fork the child, take in its samples, and say how it ended.
static int read_sndfile_(const uint8_t *d, size_t n, const char *name, int depth8, audio_in *a,
                         char *err, size_t errlen) {
    int p[2];
    if (pipe(p) != 0) return afail_(err, errlen, "%s: cannot make a pipe: %s", name, strerror(errno));
    unsigned limit = 5 + (unsigned)(n / 100000);
    if (errlen) err[0] = 0;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return afail_(err, errlen, "%s: cannot fork: %s", name, strerror(errno));
    }
    if (pid == 0) {
        close(p[0]);
        struct rlimit cpu = {limit, limit + 1}, core = {0, 0};
        setrlimit(RLIMIT_CORE, &core);
        setrlimit(RLIMIT_CPU, &cpu);
        sndfile_child_(d, n, depth8, p[1]);
        _exit(0);
    }
    close(p[1]);
    int rc = -1, fd = p[0];
    snd_head h, t;
    memset(&t, 0, sizeof t);
    if (get_(fd, &h, sizeof h) != 0) goto reap;
    h.err[SND_ERR - 1] = 0;
    if (!h.ok) { afail_(err, errlen, "%s: %s", name, h.err); goto reap; }
    size_t C = (size_t)h.channels, F = (size_t)h.frames, cap = 0, got = 0;
    for (;;) {
        uint32_t k;
        if (get_(fd, &k, 4) != 0) goto reap;
        if (k == 0) break;
        if (k > SND_BLOCK || k > F - got) {
            afail_(err, errlen, "%s: libsndfile's reader broke its protocol", name);
            goto reap;
        }
        if (got + k > cap) {
            size_t ncap = cap ? 2 * cap : SND_BLOCK;
            if (ncap > F) ncap = F;
            int32_t *ns = realloc(a->samples, (ncap * C + 1) * sizeof *ns);
            if (!ns) { afail_(err, errlen, "%s: out of memory", name); goto reap; }
            a->samples = ns;
            cap = ncap;
        }
        if (get_(fd, a->samples + got * C, k * C * sizeof *a->samples) != 0) goto reap;
        got += k;
    }
    if (get_(fd, &t, sizeof t) != 0) goto reap;
    t.err[SND_ERR - 1] = 0;
    if (!t.ok) { afail_(err, errlen, "%s: %s", name, t.err); goto reap; }
    if (!a->samples && !(a->samples = malloc(sizeof *a->samples))) {
        afail_(err, errlen, "%s: out of memory", name);
        goto reap;
    }
    a->rate = h.rate;
    a->channels = h.channels;
    a->src_bits = h.src_bits;
    a->bits = h.bits;
    a->is_float = h.is_float;
    a->frames = F;
    a->source = LMIC_SOURCE_CONVERTED;
    rc = 0;
reap:
    close(fd);  // a child still writing gets SIGPIPE
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    int clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (rc == 0 && !clean) rc = -1;
    if (rc != 0 && !err[0]) {  // the child stopped without saying why
        if (WIFSIGNALED(st) && (WTERMSIG(st) == SIGXCPU || WTERMSIG(st) == SIGKILL))
            afail_(err, errlen, "%s: libsndfile did not finish reading it within %u s of CPU time "
                   "(a damaged or hostile file?)", name, limit);
        else if (WIFSIGNALED(st))
            afail_(err, errlen, "%s: libsndfile crashed reading it (signal %d)", name, WTERMSIG(st));
        else
            afail_(err, errlen, "%s: libsndfile crashed reading it (exit %d)", name,
                   WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    return rc == 0 ? canonical_wav_(a, err, errlen, name) : -1;
}

int audio_read(const uint8_t *data, size_t n, const char *name, int depth8, audio_in *a,
               char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    // A damaged WAV is refused here even for --depth 8, before libsndfile
    // sees it (see parse_wav_).
    int r = parse_wav_(data, n, name, a, err, errlen);
    if (r == 1 && depth8) r = 0;
    if (r == 0) {
        audio_free(a);
        // A WAV that the hand parser took would also do for --depth 8, but
        // libsndfile's reading gives the same high bits and one code path.
        r = read_sndfile_(data, n, name, depth8, a, err, errlen) == 0 ? 1 : -1;
    }
    if (r < 0) { audio_free(a); return -1; }
    return 0;
}
