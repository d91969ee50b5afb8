// model_internal.h -- the model's memory layout, shared by model.c (files,
// initialisation) and forward.c (inference). Not installed; not public.
//
// All parameters live in one float array (llm.c's malloc_and_point_parameters)
// in the file's order, which docs/format.md documents:
//
//   wte    (V, C)              token embeddings
//   per layer l = 0 .. L-1:
//     wq, wk, wv, wo (C, C)    attention projections, stored (in, out)
//     ln1_g, ln1_b (C)         norm after attention (post-LN) or before (pre-LN)
//     w1 (C, F), b1 (F)        feed-forward in, F = widening * C
//     w2 (F, C), b2 (C)        feed-forward out
//     ln2_g, ln2_b (C)
//   lnf_g, lnf_b (C)           final norm: pre-LN only
//   wout (C, V), bout (V)      output layer
//
// Linear weights are (in, out), as the reference's haiku Linear: y = x W + b.
#ifndef LMIC_MODEL_INTERNAL_H
#define LMIC_MODEL_INTERNAL_H

#include "lmic.h"

typedef struct {
    float *wq, *wk, *wv, *wo;  // (C, C) each
    float *ln1_g, *ln1_b;      // (C,)
    float *w1, *b1;            // (C, F), (F,)
    float *w2, *b2;            // (F, C), (C,)
    float *ln2_g, *ln2_b;      // (C,)
} lmic_layer;

#define LMIC_MAX_LAYERS 64

struct lmic_model {
    lmic_model_config cfg;
    size_t num_params;
    float *params;             // (num_params,) one allocation
    float *wte;                // (V, C)
    lmic_layer layer[LMIC_MAX_LAYERS];
    float *lnf_g, *lnf_b;      // (C,), NULL unless pre-LN
    float *wout, *bout;        // (C, V), (V,)
    float *pos;                // (context, C) sinusoidal table, or NULL (rotary)
    float *rope_cos, *rope_sin;  // (context, C/NH/2) rotary tables, or NULL
    uint8_t fingerprint[16];
};

// Points the named tensors into m->params by the layout above; allocates and
// fills the position tables. m->cfg must be set and checked.
lmic_status lmic_model_bind_(lmic_model *m);

// Recomputes m->fingerprint from the config and weights (after they change).
void lmic_model_refingerprint_(lmic_model *m);

// Allocates and fills m->pos or m->rope_cos/m->rope_sin (forward.c).
lmic_status lmic_model_tables_(lmic_model *m);

// Deterministic double-precision sin, cos and exp (lmic's own, for the
// position tables and initialisation: the same on every build).
double lmic_sin_(double x);
double lmic_cos_(double x);
double lmic_exp_(double x);
double lmic_log_(double x);

#endif
