// audio_io.h -- audio files <-> samples for `lmic compress` and `decompress`.
//
// WAV files (PCM 8/16/24/32-bit, IEEE float 32, WAVE_FORMAT_EXTENSIBLE) are
// parsed here, byte by byte, so that everything around the samples (the
// RIFF and fmt headers, LIST, bext and any other chunk, a pad byte, a
// trailing partial frame) is kept verbatim and the file can be rebuilt
// byte-identically. Everything else libsndfile reads (FLAC, AIFF, ...) is
// decoded by libsndfile, in a forked child with a CPU-time limit (a file
// that sends its parser spinning is an error, not a hang), and given a
// canonical WAV header instead.
#ifndef LMIC_AUDIO_IO_H
#define LMIC_AUDIO_IO_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int rate, channels;
    int bits;            // 8, 16, 24 or 32 (the WAV's sample width)
    int is_float;        // IEEE float32 samples, held as order-preserving keys
    int src_bits;        // the source's sample width before --depth 8
    int source;          // lmic_source_kind
    size_t frames;
    int32_t *samples;    // (frames, channels), right-justified, signed
    uint8_t *prefix, *suffix;  // the WAV bytes before and after the samples
    size_t prefix_size, suffix_size;
} audio_in;

// Reads an audio file held in memory. depth8: reduce every sample to its
// high 8 bits (floats: floor(x * 128), saturated), giving an 8-bit WAV.
// Returns 0, or -1 with a one-line reason ("NAME: why") in err.
int audio_read(const uint8_t *data, size_t n, const char *name, int depth8, audio_in *a,
               char *err, size_t errlen);
void audio_free(audio_in *a);

// Bytes per sample in the WAV payload: bits / 8.
// Packs n samples as the WAV stores them (little-endian; 8-bit unsigned;
// float keys back to IEEE bits) into out (n * bits / 8 bytes).
void wav_pack(const int32_t *samples, size_t n, int bits, int is_float, uint8_t *out);

#endif
