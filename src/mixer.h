// mixer.h -- the model mixed with the plain coder's model (src/mixer.c), the
// internal part the model coder (src/lmcodec.c) drives. Not installed; not
// public.
#ifndef LMIC_MIXER_H
#define LMIC_MIXER_H

#include "lmic.h"
#include "plainmodel.h"

typedef struct lmic_mixer_ lmic_mixer_;

// One stream's mixing state (about 60 KB). NULL when out of memory.
lmic_mixer_ *lmic_mixer_new_(void);
void lmic_mixer_free_(lmic_mixer_ *x);
// Starts a stream: its tokens are the residual tokens of `spec` (mid/side
// ignored) of a chunk of `frames` frames, from token `start` of the chunk.
void lmic_mixer_reset_(lmic_mixer_ *x, const lmic_pcm_spec *spec, size_t frames, size_t start);
// The CDF (257 entries) for the stream's next token, from the model's
// log-probabilities logp (V) and the plain model.
void lmic_mixer_cdf_(lmic_mixer_ *x, const float *logp, uint32_t *cdf);
// The next token was `token`: the weights and the plain model learn.
void lmic_mixer_update_(lmic_mixer_ *x, int token);

#endif
