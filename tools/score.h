// score.h -- `lmic score`: what a model would achieve on data, measured by
// actually arithmetic-coding every chunk with the model's integer CDFs.
#ifndef LMIC_SCORE_H
#define LMIC_SCORE_H

#include <stdio.h>

#include "lmic.h"
#include "loaders.h"

typedef struct {
    int threads;           // >= 1
    int batch;             // chunks per forward call
    int incremental;       // use the KV-cache stepper instead of whole sequences
    int json;
    int progress;
    FILE *dump_cdf;        // every CDF, 257 little-endian uint32 per position, or NULL
    FILE *dump_logp;       // every log-probability row, 256 little-endian float32, or NULL
} score_opts;

// Scores every chunk of L with m; prints per-file and total lines to out.
// Returns 0, or -1 with a one-line reason in err.
int score_run(loader *L, const lmic_model *m, const score_opts *o, FILE *out, char *err,
              size_t errlen);

#endif
