// train_internal.h -- the training forward and backward pass (backprop.c),
// used by the trainer (trainer.c). Not installed; not public. The decode path
// never includes this.
#ifndef LMIC_TRAIN_INTERNAL_H
#define LMIC_TRAIN_INTERNAL_H

#include "../model_internal.h"

typedef struct bp_ctx bp_ctx;

// Activation and gradient memory for batches of B sequences of T tokens of a
// model with config cfg (T <= cfg->context), run on nth threads.
lmic_status bp_new_(const lmic_model_config *cfg, int B, int T, int nth, bp_ctx **out);
void bp_free_(bp_ctx *c);

// The forward pass over tokens (B, T), keeping every activation the backward
// pass needs. Returns the loss: the mean over the B*T positions of
// -ln p(token), i.e. the per-sequence mean log-loss averaged over the batch.
// The operations are those of lmic_model_forward (src/forward.c), in the same
// order, so the log-probabilities agree with it.
double bp_forward_(bp_ctx *c, const lmic_model *m, const uint8_t *tokens);

// The backward pass after bp_forward_ on the same tokens: grads (num_params,
// the parameters' layout) receives d loss / d params (overwritten).
void bp_backward_(bp_ctx *c, const lmic_model *m, float *grads);

#endif
