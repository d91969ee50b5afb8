// dump_residuals.c -- residuals and predictions of WAV files, as the
// compressor's front end makes them, for bench/tokenise_experiment.py.
//
// Each file is cut into chunks of CODEC_DEFAULT_CHUNK frames (tools/codec_cmd.h,
// as `lmic compress` cuts them); per chunk lmic_pred_choose at effort normal, then
// lmic_pred_apply (as lmic_audio_compress does). Only 16-bit mono files are
// used (others are skipped with a note on stderr). Writes
//   PREFIX.res.i16    residual r[t] (int16, little-endian)
//   PREFIX.pred.i16   prediction p[t] = x[t] - r[t] wrapped to 16 bits (int16)
//   PREFIX.chunks.i64 the first sample of every chunk, then the total (int64)
// and stops after the chunk that reaches MAX_SAMPLES samples (0: no limit).
//
// Build (after `make B=/tmp/btok`):
//   cc -O2 -std=c11 -Iinclude -Itools bench/dump_residuals.c /tmp/btok/tools/audio_io.o
//     /tmp/btok/liblmic.a $(pkg-config --libs sndfile) -lz -lm -fopenmp -o /tmp/btok/dump_residuals
// Usage: dump_residuals PREFIX MAX_SAMPLES FILE.wav...
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio_io.h"
#include "codec_cmd.h"
#include "lmic.h"

#define CHUNK CODEC_DEFAULT_CHUNK

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc(sz > 0 ? (size_t)sz : 1);
    if (d && fread(d, 1, (size_t)sz, f) != (size_t)sz) {
        free(d);
        d = NULL;
    }
    fclose(f);
    *n = (size_t)sz;
    return d;
}

static FILE *open_out(const char *prefix, const char *suffix) {
    char path[4096];
    snprintf(path, sizeof path, "%s%s", prefix, suffix);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    return f;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s PREFIX MAX_SAMPLES FILE.wav...\n", argv[0]);
        return 2;
    }
    const char *prefix = argv[1];
    int64_t max = atoll(argv[2]);
    FILE *fr = open_out(prefix, ".res.i16"), *fp = open_out(prefix, ".pred.i16"),
         *fc = open_out(prefix, ".chunks.i64");
    int64_t total = 0;
    int files = 0, chunks = 0;
    static int32_t res[CHUNK];
    static int16_t r16[CHUNK], p16[CHUNK];
    for (int i = 3; i < argc && (max == 0 || total < max); i++) {
        size_t n;
        uint8_t *data = slurp(argv[i], &n);
        if (!data) {
            perror(argv[i]);
            continue;
        }
        audio_in a;
        char err[512];
        if (audio_read(data, n, argv[i], 0, &a, err, sizeof err) != 0) {
            fprintf(stderr, "skip: %s\n", err);
            free(data);
            continue;
        }
        free(data);
        if (a.channels != 1 || a.bits != 16 || a.is_float) {
            fprintf(stderr, "skip: %s: not 16-bit mono\n", argv[i]);
            audio_free(&a);
            continue;
        }
        files++;
        for (size_t f0 = 0; f0 < a.frames && (max == 0 || total < max); f0 += CHUNK) {
            size_t m = a.frames - f0 < CHUNK ? a.frames - f0 : CHUNK;
            const int32_t *x = a.samples + f0;
            lmic_pred pr;
            if (lmic_pred_choose(x, m, 1, 16, LMIC_PRED_EFFORT_NORMAL, &pr) != LMIC_OK ||
                lmic_pred_apply(&pr, x, m, 1, 16, res) != LMIC_OK) {
                fprintf(stderr, "%s: predictor failed\n", argv[i]);
                return 1;
            }
            for (size_t t = 0; t < m; t++) {
                r16[t] = (int16_t)(uint16_t)(uint32_t)res[t];  // already wrapped to 16 bits
                p16[t] = (int16_t)(uint16_t)((uint32_t)x[t] - (uint32_t)res[t]);
            }
            fwrite(&total, sizeof total, 1, fc);
            fwrite(r16, sizeof *r16, m, fr);
            fwrite(p16, sizeof *p16, m, fp);
            total += (int64_t)m;
            chunks++;
        }
        audio_free(&a);
    }
    fwrite(&total, sizeof total, 1, fc);
    fclose(fr);
    fclose(fp);
    fclose(fc);
    fprintf(stderr, "%s: %d files, %d chunks, %lld samples\n", prefix, files, chunks, (long long)total);
    return 0;
}
