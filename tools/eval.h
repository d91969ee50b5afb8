// eval.h -- the paper's Table 1 for classical codecs: each compressor on the
// whole stream and chunk by chunk (header counted once), every decode verified.
#ifndef LMIC_EVAL_H
#define LMIC_EVAL_H

#include <stdio.h>

#include "loaders.h"

typedef struct {
    const char *compressors;  // comma-separated codec names
    const char *data_name;    // for the report
    int json;                 // JSON instead of a table
    int progress;             // progress bar on stderr when it is a terminal
    const lmic_model *model;  // for the "lm" compressor (NULL: not available)
    // For the "lmic" compressor (lmic's audio codec): its model, loaded only
    // when that row runs (NULL: not available).
    const lmic_model *(*codec_model)(void);
    int threads;              // for "lm" and "lmic", >= 1
} eval_opts;

// Reads every chunk from L, runs the codecs, prints the report to out.
// Returns 0, or -1 with a one-line reason in err.
int eval_run(loader *L, const eval_opts *e, FILE *out, char *err, size_t errlen);

#endif
