// fuzz_common.h -- what the fuzz targets share: the tiny model.
//
// fuzz/tiny.lmm (made by fuzz/tiny_model.sh: C 16, L 1, NH 2, context 64,
// trained briefly on speech) is linked into every target as a C array, so a
// run needs no files and the LM-coded chunk path is exercised, not only raw
// chunks. The targets build with libFuzzer (`make fuzz`) and, with
// fuzz/replay.c as main(), as plain programs that `make test` uses to replay
// the seeds and every crash input kept under tests/fuzz/.
#ifndef LMIC_FUZZ_COMMON_H
#define LMIC_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>

#include "lmic.h"

extern const unsigned char lmic_tiny_model_data[];
extern const size_t lmic_tiny_model_size;

// The tiny trained model, loaded once (aborts if the embedded copy is bad:
// that is a build error, not a finding).
static inline const lmic_model *fuzz_tiny_model(void) {
    static lmic_model *m;
    if (!m && lmic_model_load(lmic_tiny_model_data, lmic_tiny_model_size, &m) != LMIC_OK) abort();
    return m;
}

// An untrained model of the same shape (lmic_model_new_random, seed 1): it
// stores almost every chunk raw.
static inline const lmic_model *fuzz_random_model(void) {
    static lmic_model *m;
    lmic_model_config c = {16, 1, 2, 4, 64, LMIC_POS_SINUSOIDAL, LMIC_NORM_POST};
    if (!m && lmic_model_new_random(&c, 1, &m) != LMIC_OK) abort();
    return m;
}

// Fails the run (libFuzzer reports abort() as a crash, with the input).
#define FUZZ_CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
