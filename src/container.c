// container.c -- the .lmic file's header and chunk index (docs/format.md).
//
// Writing serialises lmic_file_info; reading parses it back and trusts
// nothing before the header CRC matches and every field is consistent, so a
// damaged or hostile file never makes the reader allocate much or index out
// of bounds. The payloads that follow the index are the tools' business.
#include "lmic.h"
#include "varint.h"

#include <stdlib.h>
#include <string.h>

#define RETURN_IF(cond, st) do { if (cond) return (st); } while (0)

static const uint8_t magic_[8] = {'L', 'M', 'I', 'C', 'F', 'I', 'L', 'E'};
#define FIXED_SIZE 48  // bytes before the varint fields
#define MAX_FRAMES ((uint64_t)1 << 48)

// The varint fields after the MD5, in file order (docs/format.md). Those
// before F_PREFIX are 32-bit but for F_FRAMES.
enum {
    F_RATE, F_CHANNELS, F_BITS, F_FLOAT, F_FRAMES, F_SOURCE, F_DEPTH, F_SRC_BITS, F_LAYOUT,
    F_CHANNEL, F_MID_SIDE, F_CHUNK, F_WINDOW, F_OVERLAP,
    F_PREFIX,  // 0: the canonical WAV header; else its size + 1, the bytes stored
    F_SUFFIX, F_ENTRIES, NFIELDS_
};

static void put32_(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint32_t get32_(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t lmic_file_chunks(const lmic_file_info *fi) {
    if (fi->frames_per_chunk == 0) return 0;
    return (fi->frames + fi->frames_per_chunk - 1) / fi->frames_per_chunk;
}

size_t lmic_file_chunk_tokens(const lmic_file_info *fi, uint64_t chunk) {
    uint64_t first = chunk * fi->frames_per_chunk;
    if (first >= fi->frames) return 0;
    uint64_t f = fi->frames - first;
    if (f > fi->frames_per_chunk) f = fi->frames_per_chunk;
    return (size_t)f * (size_t)lmic_pcm_frame_bytes(&fi->spec);
}

// Tokens in chunks first .. first+count-1 (in range): every chunk but the
// file's last is full. O(1), so a hostile run count costs nothing.
static uint64_t run_tokens_(const lmic_file_info *fi, uint64_t first, uint64_t count) {
    uint64_t full = (uint64_t)lmic_file_chunk_tokens(fi, 0), last = lmic_file_chunks(fi) - 1;
    if (first + count - 1 < last) return count * full;
    return (count - 1) * full + lmic_file_chunk_tokens(fi, last);
}

// The fields that do not depend on the index are consistent.
static int fields_ok_(const lmic_file_info *fi) {
    if (fi->channels < 1 || fi->channels > LMIC_PCM_MAX_CHANNELS) return 0;
    if (fi->bits != 8 && fi->bits != 16 && fi->bits != 24 && fi->bits != 32) return 0;
    if (fi->is_float > 1 || (fi->is_float && fi->bits != 32)) return 0;
    if (fi->source > LMIC_SOURCE_CONVERTED || (fi->depth != 0 && fi->depth != 8)) return 0;
    if (fi->depth == 8 && fi->bits != 8) return 0;
    if (fi->src_bits < 1 || fi->src_bits > 64) return 0;
    if (fi->frames > MAX_FRAMES || fi->frames_per_chunk < 1) return 0;
    if (fi->spec.channels != (int)fi->channels || fi->spec.bits != (int)fi->bits) return 0;
    if (fi->spec.layout == LMIC_LAYOUT_CHANNEL && fi->channels != 1) return 0;  // lossless only
    if (lmic_pcm_check(&fi->spec) != LMIC_OK) return 0;
    if ((uint64_t)fi->frames_per_chunk * (uint64_t)lmic_pcm_frame_bytes(&fi->spec) > (1u << 30)) return 0;
    if (fi->window < 1 || fi->window > LMIC_FILE_MAX_WINDOW || fi->overlap > fi->window) return 0;
    return 1;
}

lmic_status lmic_wav_canonical_header(uint32_t rate, uint32_t channels, uint32_t bits,
                                      uint32_t is_float, uint64_t frames,
                                      uint8_t h[LMIC_WAV_CANONICAL_SIZE]) {
    RETURN_IF(channels < 1 || channels > 0xFFFF || (bits != 8 && bits != 16 && bits != 24 && bits != 32),
              LMIC_ERR_ARG);
    uint64_t align = (uint64_t)channels * (bits / 8);
    RETURN_IF(align > 0xFFFF || frames > (0xFFFFFFFFull - 64) / align ||
                  (uint64_t)rate * align > 0xFFFFFFFFull,
              LMIC_ERR_ARG);
    uint64_t payload = frames * align, pad = payload & 1;
    memcpy(h, "RIFF", 4);
    put32_(h + 4, (uint32_t)(36 + payload + pad));
    memcpy(h + 8, "WAVEfmt ", 8);
    put32_(h + 16, 16);
    uint32_t fmt = is_float ? 3 : 1;
    h[20] = (uint8_t)fmt, h[21] = 0;
    h[22] = (uint8_t)channels, h[23] = (uint8_t)(channels >> 8);
    put32_(h + 24, rate);
    put32_(h + 28, (uint32_t)(rate * align));
    h[32] = (uint8_t)align, h[33] = (uint8_t)(align >> 8);
    h[34] = (uint8_t)bits, h[35] = 0;
    memcpy(h + 36, "data", 4);
    put32_(h + 40, (uint32_t)payload);
    return LMIC_OK;
}

// 1 when the WAV prefix is the canonical header for fi's fields (the file
// then stores a 0 instead of its 44 bytes).
static int prefix_canonical_(const lmic_file_info *fi) {
    uint8_t h[LMIC_WAV_CANONICAL_SIZE];
    return fi->prefix_size == LMIC_WAV_CANONICAL_SIZE &&
           lmic_wav_canonical_header(fi->sample_rate, fi->channels, fi->bits, fi->is_float,
                                     fi->frames, h) == LMIC_OK &&
           memcmp(h, fi->prefix, sizeof h) == 0;
}

lmic_status lmic_file_write_header(const lmic_file_info *fi, lmic_buf *out) {
    RETURN_IF(!fi || !out || !fields_ok_(fi), LMIC_ERR_ARG);
    RETURN_IF((fi->prefix_size && !fi->prefix) || (fi->suffix_size && !fi->suffix), LMIC_ERR_ARG);
    RETURN_IF(fi->nentries && !fi->entry, LMIC_ERR_ARG);
    // The entries must cover every chunk, and a raw entry's size is its tokens.
    uint64_t nch = lmic_file_chunks(fi), c = 0;
    for (uint64_t e = 0; e < fi->nentries; e++) {
        const lmic_index_entry *x = &fi->entry[e];
        RETURN_IF(x->count < 1 || x->mode > LMIC_CHUNK_RAW || c + x->count > nch, LMIC_ERR_ARG);
        RETURN_IF(x->mode == LMIC_CHUNK_LM && (x->count != 1 || x->size == 0 ||
                                               x->size >= lmic_file_chunk_tokens(fi, c)),
                  LMIC_ERR_ARG);
        RETURN_IF(x->mode == LMIC_CHUNK_RAW && x->size != run_tokens_(fi, c, x->count), LMIC_ERR_ARG);
        c += x->count;
    }
    RETURN_IF(c != nch, LMIC_ERR_ARG);
    size_t out0 = out->size;
    uint8_t h[FIXED_SIZE];
    memcpy(h, magic_, 8);
    put32_(h + 8, LMIC_FILE_VERSION);
    put32_(h + 12, 0);  // the header size, filled in below
    memcpy(h + 16, fi->model, 16);
    memcpy(h + 32, fi->md5, 16);
    int canonical = prefix_canonical_(fi);
    uint64_t field[NFIELDS_];
    field[F_RATE] = fi->sample_rate;
    field[F_CHANNELS] = fi->channels;
    field[F_BITS] = fi->bits;
    field[F_FLOAT] = fi->is_float;
    field[F_FRAMES] = fi->frames;
    field[F_SOURCE] = fi->source;
    field[F_DEPTH] = fi->depth;
    field[F_SRC_BITS] = fi->src_bits;
    field[F_LAYOUT] = (uint64_t)fi->spec.layout;
    field[F_CHANNEL] = (uint64_t)fi->spec.channel;
    field[F_MID_SIDE] = fi->spec.mid_side != 0;
    field[F_CHUNK] = fi->frames_per_chunk;
    field[F_WINDOW] = fi->window;
    field[F_OVERLAP] = fi->overlap;
    field[F_PREFIX] = canonical ? 0 : fi->prefix_size + 1;
    field[F_SUFFIX] = fi->suffix_size;
    field[F_ENTRIES] = fi->nentries;
    lmic_status st;
    if ((st = lmic_buf_append(out, h, sizeof h)) != LMIC_OK) goto fail;
    for (int i = 0; i < NFIELDS_; i++)
        if ((st = lmic_varint_put_(out, field[i])) != LMIC_OK) goto fail;
    if (!canonical && (st = lmic_buf_append(out, fi->prefix, fi->prefix_size)) != LMIC_OK) goto fail;
    if ((st = lmic_buf_append(out, fi->suffix, fi->suffix_size)) != LMIC_OK) goto fail;
    for (uint64_t e = 0; e < fi->nentries; e++) {
        const lmic_index_entry *x = &fi->entry[e];
        uint64_t v = x->mode == LMIC_CHUNK_LM ? x->size << 1 : ((uint64_t)x->count << 1) | 1;
        uint8_t crc[4];
        put32_(crc, x->crc);
        if ((st = lmic_varint_put_(out, v)) != LMIC_OK) goto fail;
        if ((st = lmic_buf_append(out, crc, 4)) != LMIC_OK) goto fail;
    }
    size_t hsize = out->size - out0 + 4;
    if (hsize > UINT32_MAX) { st = LMIC_ERR_ARG; goto fail; }
    put32_(out->data + out0 + 12, (uint32_t)hsize);
    uint8_t crc[4];
    put32_(crc, lmic_crc32(0, out->data + out0, out->size - out0));
    if ((st = lmic_buf_append(out, crc, 4)) != LMIC_OK) goto fail;
    return LMIC_OK;
fail:
    out->size = out0;
    return st;
}

void lmic_file_info_free(lmic_file_info *fi) {
    if (!fi) return;
    free(fi->entry);
    fi->entry = NULL;
    fi->nentries = 0;
}

lmic_status lmic_file_read_header(const uint8_t *data, size_t size, lmic_file_info *fi,
                                  size_t *header_size) {
    RETURN_IF(!fi || !header_size || (size && !data), LMIC_ERR_ARG);
    memset(fi, 0, sizeof *fi);
    RETURN_IF(size < 8 || memcmp(data, magic_, 8) != 0, LMIC_ERR_FORMAT);
    RETURN_IF(size < 16, LMIC_ERR_CORRUPT);
    RETURN_IF(get32_(data + 8) != LMIC_FILE_VERSION, LMIC_ERR_UNSUPPORTED);
    uint32_t H = get32_(data + 12);
    RETURN_IF(H < FIXED_SIZE + NFIELDS_ + 4 || H > size, LMIC_ERR_CORRUPT);
    RETURN_IF(lmic_crc32(0, data, H - 4) != get32_(data + H - 4), LMIC_ERR_CORRUPT);
    memcpy(fi->model, data + 16, 16);
    memcpy(fi->md5, data + 32, 16);
    size_t end = H - 4, pos = FIXED_SIZE;
    uint64_t v[NFIELDS_];
    for (int i = 0; i < NFIELDS_; i++)
        RETURN_IF(lmic_varint_get_(data, end, &pos, &v[i]) != 0, LMIC_ERR_CORRUPT);
    for (int i = 0; i < F_PREFIX; i++)
        RETURN_IF(i != F_FRAMES && v[i] > UINT32_MAX, LMIC_ERR_CORRUPT);
    fi->sample_rate = (uint32_t)v[F_RATE];
    fi->channels = (uint32_t)v[F_CHANNELS];
    fi->bits = (uint32_t)v[F_BITS];
    fi->is_float = (uint32_t)v[F_FLOAT];
    fi->frames = v[F_FRAMES];
    fi->source = (uint32_t)v[F_SOURCE];
    fi->depth = (uint32_t)v[F_DEPTH];
    fi->src_bits = (uint32_t)v[F_SRC_BITS];
    RETURN_IF(v[F_LAYOUT] > LMIC_LAYOUT_CHANNEL || v[F_CHANNEL] >= LMIC_PCM_MAX_CHANNELS ||
                  v[F_MID_SIDE] > 1,
              LMIC_ERR_CORRUPT);
    fi->spec = (lmic_pcm_spec){(int)(fi->channels <= LMIC_PCM_MAX_CHANNELS ? fi->channels : 0),
                               (int)(fi->bits <= 32 ? fi->bits : 0), (lmic_layout)v[F_LAYOUT],
                               (int)v[F_CHANNEL], (int)v[F_MID_SIDE]};
    fi->frames_per_chunk = (uint32_t)v[F_CHUNK];
    fi->window = (uint32_t)v[F_WINDOW];
    fi->overlap = (uint32_t)v[F_OVERLAP];
    fi->suffix_size = v[F_SUFFIX];
    fi->nentries = v[F_ENTRIES];
    RETURN_IF(!fields_ok_(fi), LMIC_ERR_CORRUPT);
    if (v[F_PREFIX] == 0) {  // the canonical header, rebuilt from the fields
        RETURN_IF(lmic_wav_canonical_header(fi->sample_rate, fi->channels, fi->bits, fi->is_float,
                                            fi->frames, fi->wav_header) != LMIC_OK,
                  LMIC_ERR_CORRUPT);
        fi->prefix = fi->wav_header;
        fi->prefix_size = LMIC_WAV_CANONICAL_SIZE;
    } else {
        RETURN_IF(v[F_PREFIX] - 1 > end - pos, LMIC_ERR_CORRUPT);
        fi->prefix = data + pos;
        fi->prefix_size = v[F_PREFIX] - 1;
        pos += (size_t)fi->prefix_size;
    }
    RETURN_IF(fi->suffix_size > end - pos, LMIC_ERR_CORRUPT);
    fi->suffix = data + pos;
    pos += (size_t)fi->suffix_size;
    uint64_t nch = lmic_file_chunks(fi);
    // Every entry takes at least 5 bytes: this bounds the allocation.
    RETURN_IF(fi->nentries > nch || fi->nentries > (end - pos) / 5, LMIC_ERR_CORRUPT);
    if (fi->nentries) {
        fi->entry = calloc((size_t)fi->nentries, sizeof *fi->entry);
        RETURN_IF(!fi->entry, LMIC_ERR_NOMEM);
    }
    uint64_t c = 0;
    for (uint64_t e = 0; e < fi->nentries; e++) {
        lmic_index_entry *x = &fi->entry[e];
        uint64_t v;
        if (lmic_varint_get_(data, end, &pos, &v) != 0 || end - pos < 4) goto corrupt;
        x->crc = get32_(data + pos);
        pos += 4;
        x->mode = (uint8_t)(v & 1);
        if (x->mode == LMIC_CHUNK_LM) {
            x->count = 1;
            x->size = v >> 1;
            if (c >= nch || x->size == 0 || x->size >= lmic_file_chunk_tokens(fi, c)) goto corrupt;
        } else {
            if ((v >> 1) < 1 || (v >> 1) > nch - c || (v >> 1) > UINT32_MAX) goto corrupt;
            x->count = (uint32_t)(v >> 1);
            x->size = run_tokens_(fi, c, x->count);
        }
        c += x->count;
    }
    if (c != nch || pos != end) goto corrupt;
    *header_size = H;
    return LMIC_OK;
corrupt:
    lmic_file_info_free(fi);
    return LMIC_ERR_CORRUPT;
}
