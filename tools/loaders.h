// loaders.h -- data -> fixed-size byte chunks, as the paper's data loaders.
//
// A loader walks a file or a directory tree (sorted by path, so the order is
// the same everywhere) and yields chunks of at most `chunk_size` bytes:
//   text         any file, consecutive chunks
//   image        PNG / PGM / PPM, gray (RGB -> truncated mean), 32-row patches
//   librispeech  speech as the paper: 8-bit (high byte + 128), mono
//   audio        anything libsndfile reads, any depth, layout, mid/side
//   random       seeded pseudo-random bytes
// A recording's final partial chunk is dropped unless keep_partial is set.
// Audio chunks always hold whole frames (chunk_size rounded down).
#ifndef LMIC_LOADERS_H
#define LMIC_LOADERS_H

#include <stddef.h>
#include <stdint.h>

#include "lmic.h"

typedef enum {
    DATA_TEXT,
    DATA_IMAGE,
    DATA_LIBRISPEECH,
    DATA_AUDIO,
    DATA_RANDOM,
} data_kind;

#define LOADER_DEFAULT_CHUNK 2048
#define LOADER_DEFAULT_RANDOM_CHUNKS 128

typedef struct {
    data_kind kind;
    const char *path;        // file or directory (unused by DATA_RANDOM)
    size_t chunk_size;       // bytes per chunk (0 = LOADER_DEFAULT_CHUNK)
    long long num_chunks;    // stop after this many chunks; < 0 = all
    int keep_partial;        // keep each recording's final short chunk
    int depth;               // audio: 0 = native, 8 or 16 (the paper's reduction)
    lmic_layout layout;      // audio: token layout
    int channel;             // audio: channel kept by LMIC_LAYOUT_CHANNEL
    int mid_side;            // audio: lossless mid/side (stereo only)
    int predict;             // audio: 0 = the samples; else each chunk's
                             // residuals under lmic_pred_choose at effort
                             // predict - 1, as lmic compress codes them
    uint64_t seed;           // random
} loader_opts;

// What the current chunk is: the codecs that read samples (FLAC) need it.
typedef struct {
    const char *file;        // source file, or "random"
    int sample_rate;         // Hz (16000 for non-audio data, as the paper)
    int channels;            // channels interleaved in the chunk's tokens
    int bits;                // bits per token sample (8 for non-audio data)
    int frame_bytes;         // bytes per frame in the chunk
    int interleaved;         // the chunk's samples are frame-interleaved
} chunk_meta;

typedef struct loader loader;

// Opens a loader. Returns NULL on failure, with a one-line reason ("PATH:
// why") in err. The loader keeps pointers to o->path: keep it alive.
loader *loader_open(const loader_opts *o, char *err, size_t errlen);
// Next chunk: returns 1 and sets *data/*n/*meta (valid until the next call),
// 0 at the end, -1 on error (loader_error says why; the loader is then done).
int loader_next(loader *L, const uint8_t **data, size_t *n, chunk_meta *meta);
const char *loader_error(const loader *L);
void loader_free(loader *L);

// Parses "text", "image", ... into *kind; returns 0, or -1 if unknown.
int loader_parse_kind(const char *s, data_kind *kind);
const char *loader_kind_name(data_kind kind);

#endif
