// test_modelfile.c -- presets, initialisation, the model file and MD5.
#include "lmic.h"
#include "test.h"

static void test_md5_rfc1321_vectors(void) {
    static const struct { const char *in, *hex; } v[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        for (size_t split = 0; split <= strlen(v[i].in); split += 7) {  // any update pattern
            lmic_md5 c;
            uint8_t d[16];
            char hex[33];
            lmic_md5_init(&c);
            lmic_md5_update(&c, v[i].in, split);
            lmic_md5_update(&c, v[i].in + split, strlen(v[i].in) - split);
            lmic_md5_final(&c, d);
            for (int k = 0; k < 16; k++) snprintf(hex + 2 * k, 3, "%02x", d[k]);
            CHECKF(strcmp(hex, v[i].hex) == 0, "md5(%s) = %s", v[i].in, hex);
        }
    }
}

static void test_model_presets(void) {
    lmic_model_config c;
    CHECK_OK(lmic_model_preset("dm-default", &c));
    CHECK(lmic_model_config_params(&c) == 231936);  // the reference model's count
    CHECK_OK(lmic_model_config_check(&c));
    const char *names[] = {"200k", "800k", "3.2m"};
    const size_t lo[] = {150000, 700000, 3000000}, hi[] = {300000, 900000, 3400000};
    for (int i = 0; i < 3; i++) {
        CHECK_OK(lmic_model_preset(names[i], &c));
        CHECK_OK(lmic_model_config_check(&c));
        size_t n = lmic_model_config_params(&c);
        CHECKF(n >= lo[i] && n <= hi[i], "%s has %zu", names[i], n);
    }
    CHECK(lmic_model_preset("7b", &c) == LMIC_ERR_ARG);
    CHECK_OK(lmic_model_preset("200k", &c));
    c.n_heads = 3;  // does not divide 64
    CHECK(lmic_model_config_check(&c) == LMIC_ERR_ARG);
    c.n_heads = 4;
    c.context = 0;
    CHECK(lmic_model_config_check(&c) == LMIC_ERR_ARG);
    c.context = 16;
    c.d_model = 1 << 20;
    CHECK(lmic_model_config_check(&c) == LMIC_ERR_ARG);
}

static lmic_model_config tiny_(int positions, int norm) {
    lmic_model_config c = {16, 2, 2, 4, 32, positions, norm};
    return c;
}

static void test_model_random_is_seeded(void) {
    lmic_model_config c = tiny_(LMIC_POS_SINUSOIDAL, LMIC_NORM_POST);
    lmic_model *a, *b, *d;
    CHECK_OK(lmic_model_new_random(&c, 1, &a));
    CHECK_OK(lmic_model_new_random(&c, 1, &b));
    CHECK_OK(lmic_model_new_random(&c, 2, &d));
    char fa[33], fb[33], fd[33];
    lmic_model_fingerprint(a, fa);
    lmic_model_fingerprint(b, fb);
    lmic_model_fingerprint(d, fd);
    CHECK(strcmp(fa, fb) == 0 && strcmp(fa, fd) != 0);
    CHECK(lmic_model_num_params(a) == lmic_model_config_params(&c));
    lmic_model_free(a);
    lmic_model_free(b);
    lmic_model_free(d);
    // Pinned: the initialiser is part of what `lmic model new --seed` means.
    c = (lmic_model_config){64, 4, 8, 4, 2048, 0, 0};
    CHECK_OK(lmic_model_new_random(&c, 0, &a));
    lmic_model_fingerprint(a, fa);
    printf("  dm-default seed 0 fingerprint %s\n", fa);
    lmic_model_free(a);
}

static void test_model_file_roundtrip(void) {
    for (int variant = 0; variant < 3; variant++) {
        lmic_model_config c = tiny_(variant == 1 ? LMIC_POS_ROTARY : LMIC_POS_SINUSOIDAL,
                                    variant == 2 ? LMIC_NORM_PRE : LMIC_NORM_POST);
        lmic_model *m, *r;
        CHECK_OK(lmic_model_new_random(&c, 7, &m));
        lmic_buf b = {0};
        CHECK_OK(lmic_model_save(m, 0, &b));
        CHECK(b.size == 68 + 4 * lmic_model_num_params(m) + 4);
        CHECK_OK(lmic_model_load(b.data, b.size, &r));
        char f1[33], f2[33];
        lmic_model_fingerprint(m, f1);
        lmic_model_fingerprint(r, f2);
        CHECK(strcmp(f1, f2) == 0);
        CHECK(memcmp(lmic_model_get_config(r), &c, sizeof c) == 0);
        // Saving the loaded model gives the same bytes.
        lmic_buf b2 = {0};
        CHECK_OK(lmic_model_save(r, 0, &b2));
        CHECK(b2.size == b.size && memcmp(b.data, b2.data, b.size) == 0);
        lmic_model_free(r);
        // float16: half the weight bytes, a new fingerprint, stable on resave.
        lmic_buf h = {0}, h2 = {0};
        CHECK_OK(lmic_model_save(m, 1, &h));
        CHECK(h.size == 68 + 2 * lmic_model_num_params(m) + 4);
        CHECK_OK(lmic_model_load(h.data, h.size, &r));
        lmic_model_fingerprint(r, f2);
        CHECK(strcmp(f1, f2) != 0);
        CHECK_OK(lmic_model_save(r, 1, &h2));
        CHECK(h2.size == h.size && memcmp(h.data, h2.data, h.size) == 0);
        lmic_model_free(r);
        lmic_model_free(m);
        lmic_buf_free(&b);
        lmic_buf_free(&b2);
        lmic_buf_free(&h);
        lmic_buf_free(&h2);
    }
}

static void test_model_file_refuses_damage(void) {
    lmic_model_config c = tiny_(LMIC_POS_SINUSOIDAL, LMIC_NORM_POST);
    lmic_model *m, *r = NULL;
    CHECK_OK(lmic_model_new_random(&c, 3, &m));
    lmic_buf b = {0};
    CHECK_OK(lmic_model_save(m, 0, &b));
    lmic_model_free(m);
    // Every single-bit flip anywhere in the file is refused.
    uint64_t rng = 99;
    for (int k = 0; k < 2000; k++) {
        size_t pos = k < 72 * 8 ? (size_t)k / 8 : (size_t)(lmic_rng_next(&rng) % b.size);
        uint8_t bit = (uint8_t)(1u << (k % 8));
        b.data[pos] ^= bit;
        lmic_status st = lmic_model_load(b.data, b.size, &r);
        b.data[pos] ^= bit;
        CHECKF(st != LMIC_OK && r == NULL, "flip at %zu accepted", pos);
    }
    // Truncation at every length, and an extra byte.
    for (size_t n = 0; n < b.size; n += (n < 100 ? 1 : 97)) {
        CHECK(lmic_model_load(b.data, n, &r) != LMIC_OK && r == NULL);
    }
    CHECK_OK(lmic_buf_append(&b, "x", 1));
    CHECK(lmic_model_load(b.data, b.size, &r) == LMIC_ERR_CORRUPT);
    b.size--;
    // Foreign, future, hostile.
    CHECK(lmic_model_load((const uint8_t *)"RIFF....WAVEfmt ", 16, &r) == LMIC_ERR_FORMAT);
    b.data[8] = 2;  // version 2
    CHECK(lmic_model_load(b.data, b.size, &r) == LMIC_ERR_UNSUPPORTED);
    b.data[8] = 1;
    b.data[16] = 0; b.data[17] = 0; b.data[18] = 0; b.data[19] = 0x40;  // d_model 2^30
    CHECK(lmic_model_load(b.data, b.size, &r) == LMIC_ERR_CORRUPT);
    lmic_buf_free(&b);
}

static void test_f16_conversion_exact_cases(void) {
    // Values exactly representable in float16 survive; others round to nearest.
    lmic_model_config c = tiny_(LMIC_POS_SINUSOIDAL, LMIC_NORM_POST);
    lmic_model *m, *r;
    CHECK_OK(lmic_model_new_random(&c, 5, &m));
    lmic_buf h = {0};
    CHECK_OK(lmic_model_save(m, 1, &h));
    CHECK_OK(lmic_model_load(h.data, h.size, &r));
    // Read the weights back through a float32 save and compare with the source.
    lmic_buf a = {0}, b = {0};
    CHECK_OK(lmic_model_save(m, 0, &a));
    CHECK_OK(lmic_model_save(r, 0, &b));
    size_t n = lmic_model_num_params(m);
    for (size_t i = 0; i < n; i++) {
        float x, y;
        memcpy(&x, a.data + 68 + 4 * i, 4);
        memcpy(&y, b.data + 68 + 4 * i, 4);
        float err = x > y ? x - y : y - x, ax = x < 0 ? -x : x;
        CHECKF(err <= ax * (1.0f / 2048) + 6e-8f, "param %zu: %g -> %g", i, x, y);
    }
    lmic_model_free(m);
    lmic_model_free(r);
    lmic_buf_free(&h);
    lmic_buf_free(&a);
    lmic_buf_free(&b);
}

void test_modelfile(void) {
    RUN(test_md5_rfc1321_vectors);
    RUN(test_model_presets);
    RUN(test_model_random_is_seeded);
    RUN(test_model_file_roundtrip);
    RUN(test_model_file_refuses_damage);
    RUN(test_f16_conversion_exact_cases);
}
