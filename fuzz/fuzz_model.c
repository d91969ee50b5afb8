// fuzz_model.c -- libFuzzer target: any bytes as a model file
// (lmic_model_load, docs/format.md). No input may read out of bounds,
// allocate more than the file's own size promises, or trip a sanitizer. A
// model that loads is then run: a whole-sequence forward pass and a few
// KV-cache steps on its weights, whatever they are (NaN, infinities, huge
// values), and every row of log-probabilities must still give a valid
// integer CDF (lmic_cdf_from_logp), as the decoder relies on.
//
// For float32 files the CRC-32 and the fingerprint (MD5 of the config and
// the weights) are recomputed before a second load, so that mutations reach
// the dimensions and the weights instead of dying at the checksums.
// Seeds: fuzz/seeds/fuzz_model/ (small models; lmic model new makes more).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz_common.h"

#define HEADER 68  // magic 8, version 4, dtype 4, config 28, params 8, md5 16

static void run_(const uint8_t *data, size_t size) {
    lmic_model *m;
    if (lmic_model_load(data, size, &m) != LMIC_OK) return;
    const lmic_model_config *c = lmic_model_get_config(m);
    FUZZ_CHECK(lmic_model_config_check(c) == LMIC_OK);
    FUZZ_CHECK(size >= HEADER + 4 + 2 * lmic_model_num_params(m));
    int T = c->context < 8 ? c->context : 8;
    uint8_t tok[8] = {0, 255, 128, 1, 7, 200, 64, 3};
    float *logp = malloc((size_t)T * LMIC_VOCAB * sizeof *logp);  // (1, T, V)
    uint32_t cdf[LMIC_VOCAB + 1];
    FUZZ_CHECK(logp);
    if (lmic_model_forward(m, tok, 1, T, 1, logp) == LMIC_OK) {
        for (int t = 0; t < T; t++) {
            lmic_cdf_from_logp(logp + (size_t)t * LMIC_VOCAB, cdf);
            FUZZ_CHECK(cdf[0] == 0 && cdf[LMIC_VOCAB] <= LMIC_CODER_MAX_TOTAL);
            for (int v = 0; v < LMIC_VOCAB; v++) FUZZ_CHECK(cdf[v] < cdf[v + 1]);
        }
    }
    lmic_stepper *s = lmic_stepper_new(m, 1);
    if (s) {
        for (int t = 0; t < T; t++) {
            if (lmic_stepper_step(s, tok + t, 1, logp) != LMIC_OK) break;
            lmic_cdf_from_logp(logp, cdf);
            for (int v = 0; v < LMIC_VOCAB; v++) FUZZ_CHECK(cdf[v] < cdf[v + 1]);
        }
        lmic_stepper_free(s);
    }
    free(logp);
    lmic_model_free(m);
}

static void put32_(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    run_(data, size);
    // float32 only: the fingerprint is over float32 weights, which are then
    // the file's own bytes.
    if (size < HEADER + 4 || memcmp(data, "LMICMODL", 8) || data[12] != 0) return 0;
    uint8_t *copy = malloc(size);
    FUZZ_CHECK(copy);
    memcpy(copy, data, size);
    lmic_md5 md5;
    lmic_md5_init(&md5);
    lmic_md5_update(&md5, copy + 16, 28);
    lmic_md5_update(&md5, copy + HEADER, (size - 4 - HEADER) / 4 * 4);
    lmic_md5_final(&md5, copy + 52);
    put32_(copy + size - 4, (uint32_t)crc32(0L, copy, (uInt)(size - 4)));
    run_(copy, size);
    free(copy);
    return 0;
}
