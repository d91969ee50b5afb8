// fuzz_audio.c -- libFuzzer target: any bytes as an audio file, through
// tools/audio_io.c's audio_read, as `lmic compress` reads its input: WAV by
// lmic's own parser, everything else (FLAC, AIFF, ...) by libsndfile in a
// child process; once as is and once with --depth 8. No input may read out
// of bounds, allocate without limit, trip a sanitizer or crash the child; one
// that sends libsndfile spinning is refused at audio_io's CPU-time limit
// (5 s), well within -timeout. What is read must be consistent: a WAV kept
// verbatim must give back its own bytes (prefix, samples packed as the WAV
// stores them, suffix), which is what `lmic decompress` writes.
// Seeds: fuzz/seeds/fuzz_audio/ (small WAV, AIFF and FLAC files).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio_io.h"
#include "fuzz_common.h"

static void read_(const uint8_t *data, size_t size, int depth8) {
    audio_in a;
    char err[700];
    if (audio_read(data, size, "fuzz", depth8, &a, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0] && memchr(err, '\n', strlen(err)) == NULL);  // one line
        // libsndfile runs in a child process: a crash there (or a sanitizer
        // report from our code in it) ends as this error, and is a finding.
        FUZZ_CHECK(strstr(err, "crashed") == NULL);
        return;
    }
    FUZZ_CHECK(a.channels >= 1 && a.channels <= LMIC_PCM_MAX_CHANNELS && a.rate >= 1);
    FUZZ_CHECK(a.bits == 8 || a.bits == 16 || a.bits == 24 || a.bits == 32);
    FUZZ_CHECK(!a.is_float || a.bits == 32);
    FUZZ_CHECK(!depth8 || a.bits == 8);
    size_t nsamp = a.frames * (size_t)a.channels, pcm_bytes = nsamp * (size_t)(a.bits / 8);
    for (size_t i = 0; i < nsamp && !a.is_float; i++)  // samples within `bits` bits
        FUZZ_CHECK(a.samples[i] >= -((int64_t)1 << (a.bits - 1)) && a.samples[i] < (int64_t)1 << (a.bits - 1));
    uint8_t *pcm = malloc(pcm_bytes + 1);
    FUZZ_CHECK(pcm);
    wav_pack(a.samples, nsamp, a.bits, a.is_float, pcm);
    if (a.source == LMIC_SOURCE_WAV) {  // byte for byte
        FUZZ_CHECK(a.prefix_size + pcm_bytes + a.suffix_size == size);
        FUZZ_CHECK(memcmp(a.prefix, data, a.prefix_size) == 0);
        FUZZ_CHECK(memcmp(pcm, data + a.prefix_size, pcm_bytes) == 0);
        FUZZ_CHECK(memcmp(a.suffix, data + a.prefix_size + pcm_bytes, a.suffix_size) == 0);
    } else {  // a canonical WAV header and a pad byte
        FUZZ_CHECK(a.prefix_size == 44 && a.suffix_size == (pcm_bytes & 1));
    }
    free(pcm);
    audio_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    read_(data, size, 0);
    read_(data, size, 1);
    return 0;
}
