// codecs.c -- the classical compressors of the paper's Table 1 behind lmic_codec:
// gzip (zlib), LZMA2 (liblzma, xz container), PNG (libpng) and FLAC (libFLAC).
//
// Each codec is configured as the paper's reference code configures it (Python's
// gzip.compress(compresslevel=9), lzma.compress(), PIL's PNG with optimize=True),
// so that sizes are comparable with Table 1; FLAC uses libFLAC at level 8 where
// the reference used ffmpeg's encoder (see flac_compress_).
//
// Decisions that lmic.h leaves to this file:
//  - `p` may be NULL: all defaults.
//  - p->level: gzip and png 1..9 (zlib level, default 9); lzma2 1..9 (xz preset,
//    default 6); lzma2-9e 1..9 (preset | EXTREME, default 9); flac 1..8 (default
//    8). Level 0 cannot be asked for, since 0 means "default". Others: LMIC_ERR_ARG.
//  - Decompressors accept exactly one stream/member/image and nothing after it:
//    trailing bytes (a second gzip member, xz stream padding, bytes after IEND or
//    after the last FLAC frame) are LMIC_ERR_FORMAT or LMIC_ERR_CORRUPT.
//  - Output size is not limited by the decompressors except where noted (PNG:
//    at most 2^31 pixels); memory grows with the data actually decoded, not
//    with a size a header merely claims (PNG allocates one row up front, at
//    most 2^31 bytes; xz allocates the dictionary its header names, at most
//    1 GiB).
//  - No codec library prints: zlib and liblzma never do, libpng gets an error and
//    warning handler that records, libFLAC reports through callbacks only.
#include "lmic.h"

#include <FLAC/stream_decoder.h>
#include <FLAC/stream_encoder.h>
#include <limits.h>
#include <lzma.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define FAIL(s) do { st = (s); goto fail; } while (0)

// Smallest free space handed to a streaming codec's output.
#define OUT_WINDOW ((size_t)1 << 16)

// Makes at least OUT_WINDOW bytes free at the end of `out` and returns the free
// space, capped at `max` (zlib counts in uInt).
static lmic_status out_window_(lmic_buf *out, size_t max, uint8_t **next, size_t *avail) {
    lmic_status st = lmic_buf_reserve(out, OUT_WINDOW);
    if (st != LMIC_OK) return st;
    *next = out->data + out->size;
    *avail = out->cap - out->size < max ? out->cap - out->size : max;
    return LMIC_OK;
}

// The level in p, or `def` when p is NULL or p->level is 0; LMIC_ERR_ARG when
// outside lo..hi.
static lmic_status level_(const lmic_codec_params *p, int def, int lo, int hi, int *level) {
    *level = p && p->level ? p->level : def;
    return *level >= lo && *level <= hi ? LMIC_OK : LMIC_ERR_ARG;
}

// ----------------------------------------------------------------------------
// gzip: zlib deflate in gzip framing, windowBits 15, memLevel 8. The output is
// byte for byte Python's gzip.compress(data, 9, mtime=0) (the paper's reference
// with a fixed time). The 10-byte header (mtime 0, no name, XFL 2, OS 3) is
// also what `gzip -9 -n` writes, but the gzip tool has its own deflate, whose
// blocks differ: its sizes are within about 1% of zlib's, either way.

static lmic_status gzip_compress_(const uint8_t *in, size_t n, const lmic_codec_params *p,
                                  lmic_buf *out) {
    size_t size0 = out->size;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    int live = 0;
    int level;
    lmic_status st = level_(p, 9, 1, 9, &level);
    if (st != LMIC_OK) return st;

    // windowBits 15 + 16: gzip framing; memLevel 8 as gzip and Python use.
    int r = deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (r != Z_OK) FAIL(r == Z_MEM_ERROR ? LMIC_ERR_NOMEM : LMIC_ERR_CODEC);
    live = 1;
    const uint8_t *next_in = in;
    size_t left = n;
    for (;;) {
        if (zs.avail_in == 0 && left) {  // avail_in is a uInt: feed in pieces
            size_t k = left < UINT_MAX ? left : UINT_MAX;
            zs.next_in = (Bytef *)next_in;
            zs.avail_in = (uInt)k;
            next_in += k;
            left -= k;
        }
        uint8_t *o;
        size_t avail;
        if ((st = out_window_(out, UINT_MAX, &o, &avail)) != LMIC_OK) goto fail;
        zs.next_out = o;
        zs.avail_out = (uInt)avail;
        r = deflate(&zs, left == 0 ? Z_FINISH : Z_NO_FLUSH);
        out->size += avail - zs.avail_out;
        if (r == Z_STREAM_END) break;
        if (r != Z_OK && r != Z_BUF_ERROR) FAIL(LMIC_ERR_CODEC);
    }
    deflateEnd(&zs);
    return LMIC_OK;
fail:
    if (live) deflateEnd(&zs);
    out->size = size0;
    return st;
}

// One gzip member, nothing after it. Bad magic: LMIC_ERR_FORMAT; a data or
// CRC error, or input that ends early: LMIC_ERR_CORRUPT.
static lmic_status gzip_decompress_(const uint8_t *in, size_t n, const lmic_codec_params *p,
                                    lmic_buf *out) {
    (void)p;
    size_t size0 = out->size;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    int live = 0;
    lmic_status st = LMIC_OK;

    if (n < 2 || in[0] != 0x1f || in[1] != 0x8b) FAIL(LMIC_ERR_FORMAT);
    int r = inflateInit2(&zs, 15 + 16);  // gzip framing only
    if (r != Z_OK) FAIL(r == Z_MEM_ERROR ? LMIC_ERR_NOMEM : LMIC_ERR_CODEC);
    live = 1;
    const uint8_t *next_in = in;
    size_t left = n;
    for (;;) {
        if (zs.avail_in == 0 && left) {
            size_t k = left < UINT_MAX ? left : UINT_MAX;
            zs.next_in = (Bytef *)next_in;
            zs.avail_in = (uInt)k;
            next_in += k;
            left -= k;
        }
        uint8_t *o;
        size_t avail;
        if ((st = out_window_(out, UINT_MAX, &o, &avail)) != LMIC_OK) goto fail;
        zs.next_out = o;
        zs.avail_out = (uInt)avail;
        r = inflate(&zs, Z_NO_FLUSH);
        out->size += avail - zs.avail_out;
        if (r == Z_STREAM_END) break;
        if (r == Z_MEM_ERROR) FAIL(LMIC_ERR_NOMEM);
        if (r == Z_DATA_ERROR || r == Z_NEED_DICT) FAIL(LMIC_ERR_CORRUPT);
        // Z_BUF_ERROR with output space left means the input ran out.
        if (r == Z_BUF_ERROR && zs.avail_in == 0 && left == 0) FAIL(LMIC_ERR_CORRUPT);
        if (r != Z_OK && r != Z_BUF_ERROR) FAIL(LMIC_ERR_CODEC);
    }
    if (zs.avail_in != 0 || left != 0) FAIL(LMIC_ERR_FORMAT);  // a second member, or junk
    inflateEnd(&zs);
    return LMIC_OK;
fail:
    if (live) inflateEnd(&zs);
    out->size = size0;
    return st;
}

// ----------------------------------------------------------------------------
// LZMA2 in the xz container, CRC64 check: what `xz -6` / `xz -9e` and Python's
// lzma.compress() write (single-threaded, one block).

// Decoder memory limit: far above preset 9's 65 MiB, far below harm.
#define LZMA_MEMLIMIT ((uint64_t)1 << 30)

static lmic_status lzma_run_(lzma_stream *zs, lmic_buf *out, int decoding) {
    for (;;) {
        uint8_t *o;
        size_t avail;
        lmic_status st = out_window_(out, SIZE_MAX, &o, &avail);
        if (st != LMIC_OK) return st;
        zs->next_out = o;
        zs->avail_out = avail;
        lzma_ret r = lzma_code(zs, LZMA_FINISH);
        out->size += avail - zs->avail_out;
        switch (r) {
        case LZMA_OK: continue;
        case LZMA_STREAM_END: return LMIC_OK;
        case LZMA_MEM_ERROR: return LMIC_ERR_NOMEM;
        case LZMA_FORMAT_ERROR: return LMIC_ERR_FORMAT;
        case LZMA_DATA_ERROR:   // damaged data or a failed check
        case LZMA_BUF_ERROR:    // the input ended early
            return decoding ? LMIC_ERR_CORRUPT : LMIC_ERR_CODEC;
        case LZMA_OPTIONS_ERROR:      // a filter or flag this liblzma lacks
        case LZMA_UNSUPPORTED_CHECK:  // a check this liblzma cannot verify
        case LZMA_MEMLIMIT_ERROR:     // needs more than LZMA_MEMLIMIT
            return decoding ? LMIC_ERR_UNSUPPORTED : LMIC_ERR_ARG;
        default: return LMIC_ERR_CODEC;
        }
    }
}

static lmic_status xz_compress_(const uint8_t *in, size_t n, uint32_t preset, lmic_buf *out) {
    size_t size0 = out->size;
    lzma_stream zs = LZMA_STREAM_INIT;
    lmic_status st = LMIC_OK;
    lzma_ret r = lzma_easy_encoder(&zs, preset, LZMA_CHECK_CRC64);
    if (r != LZMA_OK) FAIL(r == LZMA_MEM_ERROR ? LMIC_ERR_NOMEM : LMIC_ERR_CODEC);
    zs.next_in = in;
    zs.avail_in = n;
    if ((st = lzma_run_(&zs, out, 0)) != LMIC_OK) goto fail;
    lzma_end(&zs);
    return LMIC_OK;
fail:
    lzma_end(&zs);  // safe on a stream that was never initialised
    out->size = size0;
    return st;
}

static lmic_status lzma2_compress_(const uint8_t *in, size_t n, const lmic_codec_params *p,
                                   lmic_buf *out) {
    int level;
    lmic_status st = level_(p, 6, 1, 9, &level);
    return st != LMIC_OK ? st : xz_compress_(in, n, (uint32_t)level, out);
}

static lmic_status lzma2_9e_compress_(const uint8_t *in, size_t n, const lmic_codec_params *p,
                                      lmic_buf *out) {
    int level;
    lmic_status st = level_(p, 9, 1, 9, &level);
    return st != LMIC_OK ? st : xz_compress_(in, n, (uint32_t)level | LZMA_PRESET_EXTREME, out);
}

// One xz stream, nothing after it (no stream padding, no second stream).
// Bad magic: LMIC_ERR_FORMAT; damage or truncation: LMIC_ERR_CORRUPT; a valid
// stream needing more than 1 GiB or an unknown filter or check:
// LMIC_ERR_UNSUPPORTED.
static lmic_status lzma2_decompress_(const uint8_t *in, size_t n, const lmic_codec_params *p,
                                     lmic_buf *out) {
    (void)p;
    size_t size0 = out->size;
    lzma_stream zs = LZMA_STREAM_INIT;
    lmic_status st = LMIC_OK;
    lzma_ret r = lzma_stream_decoder(&zs, LZMA_MEMLIMIT, LZMA_TELL_UNSUPPORTED_CHECK);
    if (r != LZMA_OK) FAIL(r == LZMA_MEM_ERROR ? LMIC_ERR_NOMEM : LMIC_ERR_CODEC);
    zs.next_in = in;
    zs.avail_in = n;
    if ((st = lzma_run_(&zs, out, 1)) != LMIC_OK) goto fail;
    if (zs.avail_in != 0) FAIL(LMIC_ERR_FORMAT);  // bytes after the stream
    lzma_end(&zs);
    return LMIC_OK;
fail:
    lzma_end(&zs);
    out->size = size0;
    return st;
}

// ----------------------------------------------------------------------------
// PNG: the n bytes as one 8-bit grayscale image, width a and height n / a where
// a is the largest divisor of n not above round(sqrt(n)) -- the paper's
// _get_the_two_closest_factors with PIL's size = (width, height) = (a, n / a).
// So 2048 bytes are 32 x 64 and a prime n is one pixel wide.
//
// As PIL with optimize=True (Pillow's ZipEncode.c): zlib level 9, memLevel 9,
// strategy Z_FILTERED, and per row the filter whose output has the least sum of
// absolute values (PIL took that heuristic from libpng; we use libpng's own).
// One pass: no second try without filters, which the reference does not make
// either. No chunks but IHDR, IDAT and IEND.
//
// n == 0 is LMIC_ERR_ARG: a PNG image cannot have zero rows or columns.
// n > 2^31 is LMIC_ERR_ARG too, matching the decoder's pixel bound.

#define PNG_MAX_PIXELS ((uint64_t)1 << 31)

typedef struct {
    lmic_buf *out;           // compress: where the file goes
    const uint8_t *in;       // decompress: the file
    size_t n, pos;
    lmic_status st;          // why the last longjmp happened, if not libpng's error
} png_io_;

// libpng calls these instead of printing. An error must not return (libpng would
// then print and abort), so it jumps back to the setjmp in png_encode_/png_decode_.
static void png_error_(png_structp png, png_const_charp msg) {
    (void)msg;
    png_longjmp(png, 1);
}

static void png_warning_(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void png_write_(png_structp png, png_bytep data, size_t len) {
    png_io_ *io = png_get_io_ptr(png);
    if (lmic_buf_append(io->out, data, len) != LMIC_OK) {
        io->st = LMIC_ERR_NOMEM;
        png_error(png, "out of memory");
    }
}

static void png_flush_(png_structp png) { (void)png; }

static void png_read_(png_structp png, png_bytep data, size_t len) {
    png_io_ *io = png_get_io_ptr(png);
    if (len > io->n - io->pos) {
        io->st = LMIC_ERR_CORRUPT;  // the file ends inside a chunk
        png_error(png, "truncated");
    }
    memcpy(data, io->in + io->pos, len);
    io->pos += len;
}

// The setjmp lives alone in these two helpers, with nothing in them modified
// after it, so no local is clobbered by the longjmp (C11 7.13.2.1).
static lmic_status png_encode_(png_structp png, png_infop info, png_io_ *io,
                               const uint8_t *in, uint32_t w, uint32_t h, int level) {
    if (setjmp(png_jmpbuf(png))) return io->st != LMIC_OK ? io->st : LMIC_ERR_CODEC;
    png_set_write_fn(png, io, png_write_, png_flush_);
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);  // default: 10^6
    png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_ALL_FILTERS);
    png_set_compression_level(png, level);
    png_set_compression_mem_level(png, 9);
    png_set_compression_strategy(png, Z_FILTERED);
    // One IDAT for up to 1 MiB of compressed data instead of one per 8 KiB.
    size_t zbuf = (size_t)w * h + h + 1024;
    png_set_compression_buffer_size(png, zbuf < ((size_t)1 << 20) ? zbuf : (size_t)1 << 20);
    png_write_info(png, info);
    for (uint32_t y = 0; y < h; y++) png_write_row(png, in + (size_t)y * w);
    png_write_end(png, NULL);
    return LMIC_OK;
}

static lmic_status png_decode_(png_structp png, png_infop info, png_io_ *io, lmic_buf *out) {
    if (setjmp(png_jmpbuf(png))) return io->st != LMIC_OK ? io->st : LMIC_ERR_CORRUPT;
    png_set_read_fn(png, io, png_read_);
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);  // any bad CRC fails
    png_set_benign_errors(png, 0);  // e.g. a bad zlib checksum after the last row
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, color, interlace;
    if (!png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL))
        return LMIC_ERR_FORMAT;
    if (depth != 8 || color != PNG_COLOR_TYPE_GRAY || interlace != PNG_INTERLACE_NONE)
        return LMIC_ERR_FORMAT;
    if ((uint64_t)w * h > PNG_MAX_PIXELS) return LMIC_ERR_FORMAT;
    png_start_read_image(png);
    // Row by row, so memory follows the rows that really decode, not the IHDR's
    // height.
    for (png_uint_32 y = 0; y < h; y++) {
        if (lmic_buf_reserve(out, w) != LMIC_OK) return LMIC_ERR_NOMEM;
        png_read_row(png, out->data + out->size, NULL);
        out->size += w;
    }
    png_read_end(png, NULL);  // reads up to IEND, checking every CRC
    if (io->pos != io->n) return LMIC_ERR_FORMAT;  // bytes after IEND
    return LMIC_OK;
}

static lmic_status png_compress_(const uint8_t *in, size_t n, const lmic_codec_params *p,
                                 lmic_buf *out) {
    size_t size0 = out->size;
    png_structp png = NULL;
    png_infop info = NULL;
    png_io_ io = {.out = out};
    int level;
    lmic_status st = level_(p, 9, 1, 9, &level);
    if (st != LMIC_OK) return st;
    if (n == 0 || n > PNG_MAX_PIXELS) return LMIC_ERR_ARG;

    size_t a = (size_t)llround(sqrt((double)n));  // exact for n <= 2^31
    while (n % a) a--;
    if (n / a > PNG_UINT_31_MAX) FAIL(LMIC_ERR_ARG);  // a prime above 2^31 - 1
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_error_, png_warning_);
    if (!png) FAIL(LMIC_ERR_NOMEM);
    info = png_create_info_struct(png);
    if (!info) FAIL(LMIC_ERR_NOMEM);
    if ((st = png_encode_(png, info, &io, in, (uint32_t)a, (uint32_t)(n / a), level)) != LMIC_OK)
        goto fail;
    png_destroy_write_struct(&png, &info);
    return LMIC_OK;
fail:
    if (png) png_destroy_write_struct(&png, info ? &info : NULL);
    out->size = size0;
    return st;
}

// One 8-bit grayscale, non-interlaced image of at most 2^31 pixels, its rows
// appended in order; nothing after IEND. Other PNGs: LMIC_ERR_FORMAT; bad CRCs,
// bad zlib data, truncation: LMIC_ERR_CORRUPT.
static lmic_status png_decompress_(const uint8_t *in, size_t n, const lmic_codec_params *p,
                                   lmic_buf *out) {
    (void)p;
    size_t size0 = out->size;
    png_structp png = NULL;
    png_infop info = NULL;
    png_io_ io = {.in = in, .n = n};
    lmic_status st = LMIC_OK;

    if (n < 8 || png_sig_cmp(in, 0, 8) != 0) FAIL(LMIC_ERR_FORMAT);
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, png_error_, png_warning_);
    if (!png) FAIL(LMIC_ERR_NOMEM);
    info = png_create_info_struct(png);
    if (!info) FAIL(LMIC_ERR_NOMEM);
    if ((st = png_decode_(png, info, &io, out)) != LMIC_OK) goto fail;
    png_destroy_read_struct(&png, &info, NULL);
    return LMIC_OK;
fail:
    if (png) png_destroy_read_struct(&png, info ? &info : NULL, NULL);
    out->size = size0;
    return st;
}

// ----------------------------------------------------------------------------
// FLAC: the bytes are PCM. bits 8: one byte b per sample, value b - 128;
// bits 16: two bytes per sample, value ((b0 << 8) | b1) - 32768. Channels are
// interleaved. The byte count must be a whole number of frames.
//
// libFLAC at level 8 (`flac -8`), streamable subset, no verify. The paper's
// reference ran ffmpeg's FLAC encoder at compression_level 12 on 8-bit data
// (which ffmpeg widens to 16 bits); sizes differ a little from Table 1's.
// The encoder writes to memory with seek and tell, so libFLAC rewrites
// STREAMINFO at the end as in a file: total samples, MD5, min/max frame size.
// libFLAC always writes a VORBIS_COMMENT block with its vendor string (about
// 44 bytes, part of the per-stream header cost); no padding, no seek table.
// Zero bytes give a valid stream of zero samples.
//
// Decoding checks that the stream has the channels and bits of `p` (else
// LMIC_ERR_FORMAT; the sample rate is not checked, as it does not change the
// bytes), and verifies the MD5 and the total sample count (LMIC_ERR_CORRUPT).

typedef struct {
    int rate, channels, bits, level;
} flac_spec_;

static lmic_status flac_spec_get_(const lmic_codec_params *p, flac_spec_ *s) {
    s->rate = p && p->sample_rate ? p->sample_rate : 16000;
    s->channels = p && p->channels ? p->channels : 1;
    s->bits = p && p->bits ? p->bits : 8;
    lmic_status st = level_(p, 8, 1, 8, &s->level);
    if (st != LMIC_OK) return st;
    if (s->rate < 1 || (unsigned)s->rate > FLAC__MAX_SAMPLE_RATE) return LMIC_ERR_ARG;
    if (s->channels < 1 || s->channels > (int)FLAC__MAX_CHANNELS) return LMIC_ERR_ARG;
    if (s->bits != 8 && s->bits != 16) return LMIC_ERR_ARG;
    return LMIC_OK;
}

// The encoder's output: a file in memory that starts at out->data + base.
typedef struct {
    lmic_buf *out;
    size_t base, pos;  // pos is relative to base
    lmic_status st;
} flac_sink_;

static FLAC__StreamEncoderWriteStatus flac_write_(const FLAC__StreamEncoder *enc,
                                                  const FLAC__byte buffer[], size_t bytes,
                                                  uint32_t samples, uint32_t frame, void *client) {
    (void)enc;
    (void)samples;
    (void)frame;
    flac_sink_ *s = client;
    size_t at = s->base + s->pos;  // <= out->size: seek checks it
    if (bytes > s->out->size - at && lmic_buf_reserve(s->out, bytes - (s->out->size - at)) != LMIC_OK) {
        s->st = LMIC_ERR_NOMEM;
        return FLAC__STREAM_ENCODER_WRITE_STATUS_FATAL_ERROR;
    }
    if (bytes) memcpy(s->out->data + at, buffer, bytes);
    s->pos += bytes;
    if (s->base + s->pos > s->out->size) s->out->size = s->base + s->pos;
    return FLAC__STREAM_ENCODER_WRITE_STATUS_OK;
}

static FLAC__StreamEncoderSeekStatus flac_seek_(const FLAC__StreamEncoder *enc,
                                                FLAC__uint64 offset, void *client) {
    (void)enc;
    flac_sink_ *s = client;
    if (offset > s->out->size - s->base) return FLAC__STREAM_ENCODER_SEEK_STATUS_ERROR;
    s->pos = (size_t)offset;
    return FLAC__STREAM_ENCODER_SEEK_STATUS_OK;
}

static FLAC__StreamEncoderTellStatus flac_tell_(const FLAC__StreamEncoder *enc,
                                                FLAC__uint64 *offset, void *client) {
    (void)enc;
    *offset = ((flac_sink_ *)client)->pos;
    return FLAC__STREAM_ENCODER_TELL_STATUS_OK;
}

// Frames converted per call to the encoder.
#define FLAC_BLOCK 4096

static lmic_status flac_compress_(const uint8_t *in, size_t n, const lmic_codec_params *p,
                                  lmic_buf *out) {
    size_t size0 = out->size;
    FLAC__StreamEncoder *enc = NULL;
    FLAC__int32 *pcm = NULL;  // pcm is (FLAC_BLOCK, channels)
    flac_sink_ sink = {.out = out, .base = out->size};
    flac_spec_ s;
    lmic_status st = flac_spec_get_(p, &s);
    if (st != LMIC_OK) return st;
    size_t sb = (size_t)s.bits / 8, fb = sb * (size_t)s.channels;  // bytes per sample, frame
    if (n % fb) return LMIC_ERR_ARG;
    size_t frames = n / fb;

    enc = FLAC__stream_encoder_new();
    pcm = malloc(FLAC_BLOCK * fb / sb * sizeof *pcm);
    if (!enc || !pcm) FAIL(LMIC_ERR_NOMEM);
    if (!FLAC__stream_encoder_set_channels(enc, (uint32_t)s.channels) ||
        !FLAC__stream_encoder_set_bits_per_sample(enc, (uint32_t)s.bits) ||
        !FLAC__stream_encoder_set_sample_rate(enc, (uint32_t)s.rate) ||
        !FLAC__stream_encoder_set_compression_level(enc, (uint32_t)s.level) ||
        !FLAC__stream_encoder_set_total_samples_estimate(enc, frames))
        FAIL(LMIC_ERR_CODEC);
    FLAC__StreamEncoderInitStatus is =
        FLAC__stream_encoder_init_stream(enc, flac_write_, flac_seek_, flac_tell_, NULL, &sink);
    if (is != FLAC__STREAM_ENCODER_INIT_STATUS_OK) {
        if (is == FLAC__STREAM_ENCODER_INIT_STATUS_ENCODER_ERROR) {
            FLAC__StreamEncoderState es = FLAC__stream_encoder_get_state(enc);
            FAIL(sink.st != LMIC_OK ? sink.st
                 : es == FLAC__STREAM_ENCODER_MEMORY_ALLOCATION_ERROR ? LMIC_ERR_NOMEM
                                                                      : LMIC_ERR_CODEC);
        }
        FAIL(LMIC_ERR_ARG);  // an invalid rate or a rate outside the subset
    }
    for (size_t f0 = 0; f0 < frames; f0 += FLAC_BLOCK) {
        size_t k = frames - f0 < FLAC_BLOCK ? frames - f0 : FLAC_BLOCK;
        const uint8_t *b = in + f0 * fb;
        size_t ns = k * (size_t)s.channels;
        if (s.bits == 8)
            for (size_t i = 0; i < ns; i++) pcm[i] = (FLAC__int32)b[i] - 128;
        else
            for (size_t i = 0; i < ns; i++)
                pcm[i] = (FLAC__int32)(((uint32_t)b[2 * i] << 8) | b[2 * i + 1]) - 32768;
        if (!FLAC__stream_encoder_process_interleaved(enc, pcm, (uint32_t)k)) goto fail_state;
    }
    if (!FLAC__stream_encoder_finish(enc)) goto fail_state;  // rewrites STREAMINFO
    FLAC__stream_encoder_delete(enc);
    free(pcm);
    return LMIC_OK;
fail_state:
    st = sink.st != LMIC_OK ? sink.st
         : FLAC__stream_encoder_get_state(enc) == FLAC__STREAM_ENCODER_MEMORY_ALLOCATION_ERROR
             ? LMIC_ERR_NOMEM
             : LMIC_ERR_CODEC;
fail:
    FLAC__stream_encoder_delete(enc);  // NULL-safe; may still write through sink
    free(pcm);
    out->size = size0;
    return st;
}

typedef struct {
    const uint8_t *in;
    size_t n, pos;
    lmic_buf *out;
    int channels, bits;
    int got_info;
    uint64_t total;    // STREAMINFO's total samples per channel (0: unknown)
    uint64_t decoded;  // samples per channel written so far
    lmic_status st;
} flac_source_;

static FLAC__StreamDecoderReadStatus flac_read_(const FLAC__StreamDecoder *dec,
                                                FLAC__byte buffer[], size_t *bytes,
                                                void *client) {
    (void)dec;
    flac_source_ *s = client;
    size_t k = s->n - s->pos < *bytes ? s->n - s->pos : *bytes;
    *bytes = k;
    if (k == 0) return FLAC__STREAM_DECODER_READ_STATUS_END_OF_STREAM;
    memcpy(buffer, s->in + s->pos, k);
    s->pos += k;
    return FLAC__STREAM_DECODER_READ_STATUS_CONTINUE;
}

static FLAC__StreamDecoderWriteStatus flac_dwrite_(const FLAC__StreamDecoder *dec,
                                                   const FLAC__Frame *frame,
                                                   const FLAC__int32 *const buffer[],
                                                   void *client) {
    (void)dec;
    flac_source_ *s = client;
    if (s->st != LMIC_OK) return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT;
    // Every frame, not only STREAMINFO: the frame header rules the layout.
    if (!s->got_info || (int)frame->header.channels != s->channels ||
        (int)frame->header.bits_per_sample != s->bits) {
        s->st = LMIC_ERR_FORMAT;
        return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT;
    }
    size_t k = frame->header.blocksize, C = (size_t)s->channels, sb = (size_t)s->bits / 8;
    if (lmic_buf_reserve(s->out, k * C * sb) != LMIC_OK) {
        s->st = LMIC_ERR_NOMEM;
        return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT;
    }
    FLAC__int32 lo = -(1 << (s->bits - 1)), hi = (1 << (s->bits - 1)) - 1;
    uint8_t *o = s->out->data + s->out->size;
    for (size_t i = 0; i < k; i++) {
        for (size_t c = 0; c < C; c++) {
            FLAC__int32 v = buffer[c][i];
            if (v < lo || v > hi) {  // only a hostile stream decodes out of range
                s->st = LMIC_ERR_CORRUPT;
                return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT;
            }
            uint32_t u = (uint32_t)(v - lo);
            if (sb == 1) {
                *o++ = (uint8_t)u;
            } else {
                *o++ = (uint8_t)(u >> 8);
                *o++ = (uint8_t)u;
            }
        }
    }
    s->out->size += k * C * sb;
    s->decoded += k;
    return FLAC__STREAM_DECODER_WRITE_STATUS_CONTINUE;
}

static void flac_metadata_(const FLAC__StreamDecoder *dec, const FLAC__StreamMetadata *m,
                           void *client) {
    (void)dec;
    flac_source_ *s = client;
    if (m->type != FLAC__METADATA_TYPE_STREAMINFO) return;
    s->got_info = 1;
    s->total = m->data.stream_info.total_samples;
    if ((int)m->data.stream_info.channels != s->channels ||
        (int)m->data.stream_info.bits_per_sample != s->bits)
        if (s->st == LMIC_OK) s->st = LMIC_ERR_FORMAT;
}

static void flac_derror_(const FLAC__StreamDecoder *dec, FLAC__StreamDecoderErrorStatus e,
                         void *client) {
    (void)dec;
    (void)e;  // lost sync, bad header, CRC mismatch, unparseable: all damage
    flac_source_ *s = client;
    if (s->st == LMIC_OK) s->st = LMIC_ERR_CORRUPT;
}

static lmic_status flac_decompress_(const uint8_t *in, size_t n, const lmic_codec_params *p,
                                    lmic_buf *out) {
    size_t size0 = out->size;
    FLAC__StreamDecoder *dec = NULL;
    flac_spec_ spec;
    lmic_status st = flac_spec_get_(p, &spec);
    if (st != LMIC_OK) return st;
    flac_source_ s = {.in = in, .n = n, .out = out, .channels = spec.channels, .bits = spec.bits};

    if (n < 4 || memcmp(in, "fLaC", 4) != 0) FAIL(LMIC_ERR_FORMAT);
    dec = FLAC__stream_decoder_new();
    if (!dec) FAIL(LMIC_ERR_NOMEM);
    if (!FLAC__stream_decoder_set_md5_checking(dec, true)) FAIL(LMIC_ERR_CODEC);
    FLAC__StreamDecoderInitStatus is = FLAC__stream_decoder_init_stream(
        dec, flac_read_, NULL, NULL, NULL, NULL, flac_dwrite_, flac_metadata_, flac_derror_, &s);
    if (is != FLAC__STREAM_DECODER_INIT_STATUS_OK)
        FAIL(is == FLAC__STREAM_DECODER_INIT_STATUS_MEMORY_ALLOCATION_ERROR ? LMIC_ERR_NOMEM
                                                                             : LMIC_ERR_CODEC);
    FLAC__bool ok = FLAC__stream_decoder_process_until_end_of_stream(dec);
    if (s.st != LMIC_OK) FAIL(s.st);
    FLAC__StreamDecoderState ds = FLAC__stream_decoder_get_state(dec);
    if (!ok || ds != FLAC__STREAM_DECODER_END_OF_STREAM)
        FAIL(ds == FLAC__STREAM_DECODER_MEMORY_ALLOCATION_ERROR ? LMIC_ERR_NOMEM
                                                                : LMIC_ERR_CORRUPT);
    if (!FLAC__stream_decoder_finish(dec)) FAIL(LMIC_ERR_CORRUPT);  // MD5 mismatch
    if (s.st != LMIC_OK) FAIL(s.st);
    if (!s.got_info) FAIL(LMIC_ERR_CORRUPT);  // ended inside the metadata
    if (s.total != 0 && s.decoded != s.total) FAIL(LMIC_ERR_CORRUPT);
    FLAC__stream_decoder_delete(dec);
    return LMIC_OK;
fail:
    FLAC__stream_decoder_delete(dec);  // NULL-safe
    out->size = size0;
    return st;
}

// ----------------------------------------------------------------------------
// The table.

static const lmic_codec codecs_[] = {
    {"gzip", "zlib deflate level 9, gzip framing (Python gzip.compress)",
     gzip_compress_, gzip_decompress_},
    {"lzma2", "liblzma LZMA2 preset 6, xz container, CRC64 (xz -6)",
     lzma2_compress_, lzma2_decompress_},
    {"lzma2-9e", "liblzma LZMA2 preset 9 extreme, xz container, CRC64 (xz -9e)",
     lzma2_9e_compress_, lzma2_decompress_},
    {"png", "libpng 8-bit gray, near-square image, zlib level 9, adaptive filters",
     png_compress_, png_decompress_},
    {"flac", "libFLAC level 8 on 8- or 16-bit PCM bytes (flac -8)",
     flac_compress_, flac_decompress_},
};

const lmic_codec *lmic_codec_find(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof codecs_ / sizeof codecs_[0]; i++)
        if (strcmp(codecs_[i].name, name) == 0) return &codecs_[i];
    return NULL;
}

const lmic_codec *lmic_codec_all(int *count) {
    if (count) *count = (int)(sizeof codecs_ / sizeof codecs_[0]);
    return codecs_;
}
