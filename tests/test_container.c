// test_container.c -- the LM compressor (src/lmcodec.c) and the .lmic
// header and index (src/container.c).
#include <stdint.h>

#include "lmic.h"
#include "test.h"

// A tiny random model whose output biases favour the bytes 0, 1 and 2, so
// that it compresses such data: saved, patched (bout, fingerprint, CRC) and
// loaded again.
static lmic_model *tiny_model_(int context, uint64_t seed) {
    lmic_model_config c = {16, 1, 2, 4, context, LMIC_POS_SINUSOIDAL, LMIC_NORM_POST};
    lmic_model *m = NULL, *m2 = NULL;
    lmic_buf b = {0};
    if (lmic_model_new_random(&c, seed, &m) != LMIC_OK || lmic_model_save(m, 0, &b) != LMIC_OK)
        goto done;
    size_t N = lmic_model_num_params(m);
    uint8_t *bout = b.data + 68 + 4 * (N - LMIC_VOCAB);
    for (int v = 0; v < 3; v++) {
        float f = 6.0f;
        memcpy(bout + 4 * v, &f, 4);
    }
    lmic_md5 md5;
    lmic_md5_init(&md5);
    lmic_md5_update(&md5, b.data + 16, 28);
    lmic_md5_update(&md5, b.data + 68, 4 * N);
    lmic_md5_final(&md5, b.data + 52);
    uint32_t crc = lmic_crc32(0, b.data, b.size - 4);
    for (int i = 0; i < 4; i++) b.data[b.size - 4 + i] = (uint8_t)(crc >> (8 * i));
    lmic_model_load(b.data, b.size, &m2);
done:
    lmic_buf_free(&b);
    lmic_model_free(m);
    return m2;
}

// Chunks of mixed lengths (more than one decoder batch, a partial one, runs
// of equal lengths and lone ones), skewed bytes (LM mode) and random bytes
// (raw mode): decompress(compress(x)) == x, 1 and 3 threads alike.
static void test_lm_roundtrip(void) {
    lmic_model *m = tiny_model_(64, 7);
    CHECK(m);
    enum { N = 37 };
    size_t len[N], total = 0;
    for (int i = 0; i < N; i++) {
        len[i] = i < 20 ? 64 : (i % 5 == 0 ? 1 : 17 + (size_t)i);
        total += len[i];
    }
    uint8_t *tok = malloc(total), *back = malloc(total);
    CHECK(tok && back);
    uint64_t rng = 99;
    size_t off = 0;
    for (int i = 0; i < N; i++) {
        for (size_t t = 0; t < len[i]; t++) {
            uint64_t r = lmic_rng_next(&rng);
            // Chunks 3 and 30 are random; the rest use a handful of values.
            tok[off + t] = (i == 3 || i == 30) ? (uint8_t)r : (uint8_t)(r % 3);
        }
        off += len[i];
    }
    size_t size[N], size2[N];
    uint8_t mode[N], mode2[N];
    lmic_buf out = {0}, out2 = {0};
    CHECK_OK(lmic_lm_compress(m, tok, len, N, 1, &out, size, mode));
    CHECK_OK(lmic_lm_compress(m, tok, len, N, 3, &out2, size2, mode2));
    CHECK(out.size == out2.size && memcmp(out.data, out2.data, out.size) == 0);
    int raw = 0, lm = 0;
    for (int i = 0; i < N; i++) {
        if (mode[i] == LMIC_CHUNK_RAW) { raw++; CHECK(size[i] == len[i]); }
        else { lm++; CHECK(size[i] < len[i]); }
    }
    CHECKF(raw >= 2 && lm >= 20, "raw %d lm %d", raw, lm);
    for (int threads = 1; threads <= 3; threads += 2) {
        memset(back, 0xAA, total);
        CHECK_OK(lmic_lm_decompress(m, out.data, size, mode, len, N, threads, back));
        CHECK(memcmp(back, tok, total) == 0);
    }
    // A raw chunk whose size is not its length is refused.
    size[3]--;
    CHECK(lmic_lm_decompress(m, out.data, size, mode, len, N, 1, back) == LMIC_ERR_CORRUPT);
    // A chunk longer than the context is refused.
    size_t big = 65;
    CHECK(lmic_lm_compress(m, tok, &big, 1, 1, &out, size, mode) == LMIC_ERR_ARG);
    lmic_buf_free(&out);
    lmic_buf_free(&out2);
    free(tok);
    free(back);
    lmic_model_free(m);
}

// The reference for windows: each window scored alone by lmic_model_forward
// on [p re-read tokens, n coded tokens], its rows fed to one encoder.
static size_t ref_window_code_(const lmic_model *m, const lmic_lm_windows *w, const uint8_t *tok,
                               size_t L, uint8_t *code) {
    lmic_encoder *enc = lmic_encoder_new();
    float *logp = malloc((w->window + w->overlap) * LMIC_VOCAB * sizeof *logp);
    uint32_t cdf[LMIC_VOCAB + 1];
    for (size_t s = 0; s < L; s += w->window) {
        size_t p = s == 0 ? 0 : w->overlap, n = L - s < w->window ? L - s : w->window;
        lmic_model_forward(m, tok + s - p, 1, (int)(p + n), 1, logp);
        for (size_t t = 0; t < n; t++) {
            lmic_cdf_from_logp(logp + (p + t) * LMIC_VOCAB, cdf);
            lmic_encoder_encode(enc, cdf, LMIC_VOCAB, tok[s + t]);
        }
    }
    lmic_encoder_finish(enc);
    size_t n;
    const uint8_t *d = lmic_encoder_data(enc, &n);
    memcpy(code, d, n);
    lmic_encoder_free(enc);
    free(logp);
    return n;
}

// Chunks longer than the context, coded in windows with and without
// overlap: the streams are the reference's byte for byte, the same for 1
// and 3 threads, and decode back (chunks of unequal lengths share batches).
static void test_lm_windows(void) {
    lmic_model *m = tiny_model_(64, 11);
    CHECK(m);
    enum { N = 21 };
    size_t len[N], total = 0;
    for (int i = 0; i < N; i++) {
        len[i] = i < 18 ? 300 : (i == 18 ? 1 : 77 + 100 * (size_t)(i - 18));
        total += len[i];
    }
    uint8_t *tok = malloc(total), *back = malloc(total), *ref = malloc(4096);
    CHECK(tok && back && ref);
    uint64_t rng = 5;
    for (size_t t = 0; t < total; t++) {
        uint64_t r = lmic_rng_next(&rng);
        tok[t] = (uint8_t)(t % 7 == 0 ? r : r % 3);
    }
    const lmic_lm_windows ws[] = {{1, 0}, {64, 0}, {40, 24}, {32, 32}, {13, 5}};
    for (size_t k = 0; k < sizeof ws / sizeof *ws; k++) {
        const lmic_lm_windows *w = &ws[k];
        size_t size[N], size3[N];
        lmic_buf out = {0}, out3 = {0};
        CHECK_OK(lmic_lm_encode(m, w, NULL, tok, len, N, 1, &out, size));
        CHECK_OK(lmic_lm_encode(m, w, NULL, tok, len, N, 3, &out3, size3));
        CHECK(out.size == out3.size && memcmp(out.data, out3.data, out.size) == 0);
        const uint8_t *code[N];
        size_t off = 0, toff = 0;
        int same = 1;
        for (int i = 0; i < N; i++) {
            code[i] = out.data + off;
            size_t rn = ref_window_code_(m, w, tok + toff, len[i], ref);
            same &= rn == size[i] && memcmp(ref, code[i], rn) == 0;
            off += size[i];
            toff += len[i];
        }
        CHECKF(same, "window %zu overlap %zu: streams differ from the reference", w->window, w->overlap);
        for (int threads = 1; threads <= 3; threads += 2) {
            memset(back, 0xAA, total);
            CHECK_OK(lmic_lm_decode(m, w, NULL, code, size, len, N, threads, back));
            CHECKF(memcmp(back, tok, total) == 0, "window %zu overlap %zu threads %d", w->window,
                   w->overlap, threads);
        }
        lmic_buf_free(&out);
        lmic_buf_free(&out3);
    }
    // Windows the model cannot hold are refused.
    size_t size[N];
    lmic_buf out = {0};
    lmic_lm_windows bad[] = {{0, 0}, {65, 0}, {40, 25}, {10, 11}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        CHECK(lmic_lm_encode(m, &bad[k], NULL, tok, len, N, 1, &out, size) == LMIC_ERR_ARG);
    CHECK(out.size == 0);
    free(tok);
    free(back);
    free(ref);
    lmic_model_free(m);
}

static void test_crc32(void) {
    CHECK(lmic_crc32(0, "123456789", 9) == 0xCBF43926u);
    CHECK(lmic_crc32(lmic_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u);
}

static lmic_file_info sample_info_(lmic_index_entry *e) {
    static const uint8_t prefix[44] = "RIFF....WAVEfmt ";
    static const uint8_t suffix[3] = {1, 2, 3};
    lmic_file_info fi;
    memset(&fi, 0, sizeof fi);
    for (int i = 0; i < 16; i++) fi.model[i] = (uint8_t)i, fi.md5[i] = (uint8_t)(255 - i);
    fi.sample_rate = 44100;
    fi.channels = 2;
    fi.bits = 16;
    fi.frames = 1001;
    fi.src_bits = 16;
    fi.spec = (lmic_pcm_spec){2, 16, LMIC_LAYOUT_PLANAR, 0, 1};
    fi.frames_per_chunk = 250;  // 5 chunks, the last of 1 frame
    fi.window = 512;
    fi.overlap = 128;
    fi.prefix = prefix;
    fi.prefix_size = sizeof prefix;
    fi.suffix = suffix;
    fi.suffix_size = sizeof suffix;
    // 5 chunks: LM, a raw run of 3, LM (the last chunk: 1 frame, 4 tokens).
    e[0] = (lmic_index_entry){1, LMIC_CHUNK_LM, 700, 0x11111111u};
    e[1] = (lmic_index_entry){3, LMIC_CHUNK_RAW, 3000, 0x22222222u};
    e[2] = (lmic_index_entry){1, LMIC_CHUNK_LM, 3, 0x33333333u};
    fi.entry = e;
    fi.nentries = 3;
    return fi;
}

static void test_header_roundtrip(void) {
    lmic_index_entry e[3];
    lmic_file_info fi = sample_info_(e);
    CHECK(lmic_file_chunks(&fi) == 5);
    CHECK(lmic_file_chunk_tokens(&fi, 0) == 1000 && lmic_file_chunk_tokens(&fi, 4) == 4);
    lmic_buf b = {0};
    CHECK_OK(lmic_file_write_header(&fi, &b));
    lmic_file_info r;
    size_t hs;
    CHECK_OK(lmic_file_read_header(b.data, b.size, &r, &hs));
    CHECK(hs == b.size);
    CHECK(memcmp(r.model, fi.model, 16) == 0 && memcmp(r.md5, fi.md5, 16) == 0);
    CHECK(r.sample_rate == 44100 && r.channels == 2 && r.bits == 16 && r.frames == 1001);
    CHECK(r.spec.layout == LMIC_LAYOUT_PLANAR && r.spec.mid_side == 1);
    CHECK(r.window == 512 && r.overlap == 128);
    CHECK(r.prefix_size == 44 && memcmp(r.prefix, fi.prefix, 44) == 0);
    CHECK(r.suffix_size == 3 && memcmp(r.suffix, fi.suffix, 3) == 0);
    CHECK(r.nentries == 3);
    for (int i = 0; i < 3; i++)
        CHECK(r.entry[i].count == e[i].count && r.entry[i].mode == e[i].mode &&
              r.entry[i].size == e[i].size && r.entry[i].crc == e[i].crc);
    lmic_file_info_free(&r);
    // Every single-bit flip and every truncation is refused.
    for (size_t i = 0; i < b.size; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b.data[i] ^= (uint8_t)(1 << bit);
            lmic_status st = lmic_file_read_header(b.data, b.size, &r, &hs);
            b.data[i] ^= (uint8_t)(1 << bit);
            CHECKF(st != LMIC_OK, "flip byte %zu bit %d accepted", i, bit);
        }
    }
    for (size_t n = 0; n < b.size; n++)
        CHECKF(lmic_file_read_header(b.data, n, &r, &hs) != LMIC_OK, "truncated to %zu accepted", n);
    // A foreign file and a newer version say so.
    CHECK(lmic_file_read_header((const uint8_t *)"RIFF1234WAVE", 12, &r, &hs) == LMIC_ERR_FORMAT);
    b.data[8] = LMIC_FILE_VERSION + 1;
    CHECK(lmic_file_read_header(b.data, b.size, &r, &hs) == LMIC_ERR_UNSUPPORTED);
    // Entries that do not cover the chunks are not written.
    fi.nentries = 2;
    CHECK(lmic_file_write_header(&fi, &b) == LMIC_ERR_ARG);
    // A raw run that ends with the short last chunk: 3 full chunks + 4 tokens.
    e[1] = (lmic_index_entry){4, LMIC_CHUNK_RAW, 3004, 0x44444444u};
    b.size = 0;
    CHECK_OK(lmic_file_write_header(&fi, &b));
    CHECK_OK(lmic_file_read_header(b.data, b.size, &r, &hs));
    CHECK(r.nentries == 2 && r.entry[1].count == 4 && r.entry[1].size == 3004);
    lmic_file_info_free(&r);
    e[1].size = 3000;  // sizes that disagree with the chunks are refused
    CHECK(lmic_file_write_header(&fi, &b) == LMIC_ERR_ARG);
    lmic_buf_free(&b);
}

// A canonical WAV header costs one byte in the file, and comes back intact;
// one that differs in any byte is stored as it is.
static void test_header_canonical_wav(void) {
    lmic_index_entry e[3];
    lmic_file_info fi = sample_info_(e);
    uint8_t wav[LMIC_WAV_CANONICAL_SIZE];
    CHECK_OK(lmic_wav_canonical_header(fi.sample_rate, fi.channels, fi.bits, 0, fi.frames, wav));
    CHECK(memcmp(wav, "RIFF", 4) == 0 && wav[4] == (36 + 4004) % 256 && wav[22] == 2 &&
          wav[34] == 16 && memcmp(wav + 36, "data", 4) == 0 && wav[40] == 4004 % 256);
    lmic_buf stored = {0}, flagged = {0};
    CHECK_OK(lmic_file_write_header(&fi, &stored));  // sample_info_'s prefix is not canonical
    fi.prefix = wav;
    CHECK_OK(lmic_file_write_header(&fi, &flagged));
    CHECK(flagged.size == stored.size - LMIC_WAV_CANONICAL_SIZE);
    lmic_file_info r;
    size_t hs;
    CHECK_OK(lmic_file_read_header(flagged.data, flagged.size, &r, &hs));
    CHECK(r.prefix_size == LMIC_WAV_CANONICAL_SIZE && memcmp(r.prefix, wav, sizeof wav) == 0);
    lmic_file_info_free(&r);
    wav[30] ^= 1;  // the byte rate off by a little: stored
    stored.size = 0;
    CHECK_OK(lmic_file_write_header(&fi, &stored));
    CHECK(stored.size == flagged.size + LMIC_WAV_CANONICAL_SIZE);
    CHECK_OK(lmic_file_read_header(stored.data, stored.size, &r, &hs));
    CHECK(r.prefix_size == LMIC_WAV_CANONICAL_SIZE && memcmp(r.prefix, wav, sizeof wav) == 0);
    lmic_file_info_free(&r);
    // Audio too long for a WAV has no canonical header.
    CHECK(lmic_wav_canonical_header(44100, 2, 16, 0, (uint64_t)1 << 30, wav) == LMIC_ERR_ARG);
    lmic_buf_free(&stored);
    lmic_buf_free(&flagged);
}

void test_container(void) {
    RUN(test_crc32);
    RUN(test_lm_roundtrip);
    RUN(test_lm_windows);
    RUN(test_header_roundtrip);
    RUN(test_header_canonical_wav);
}
