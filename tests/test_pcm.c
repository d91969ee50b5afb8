// test_pcm.c -- tokenisation of PCM samples: exact bytes, layouts, mid/side.
#include "lmic.h"
#include "test.h"

static lmic_pcm_spec spec_(int ch, int bits, lmic_layout layout, int channel, int ms) {
    lmic_pcm_spec s = {ch, bits, layout, channel, ms};
    return s;
}

static void test_pcm_offset_binary_msb_first(void) {
    lmic_pcm_spec s = spec_(1, 24, LMIC_LAYOUT_INTERLEAVE, 0, 0);
    int32_t x[4] = {-1, 0, -8388608, 8388607};
    uint8_t b[12];
    CHECK_OK(lmic_pcm_encode(&s, x, 4, b));
    const uint8_t want[12] = {0x7F, 0xFF, 0xFF, 0x80, 0x00, 0x00,
                              0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF};
    CHECK(memcmp(b, want, 12) == 0);
    // 8-bit: the unsigned byte of WAV and of the paper (x + 128).
    s.bits = 8;
    int32_t y[3] = {-128, 0, 127};
    CHECK_OK(lmic_pcm_encode(&s, y, 3, b));
    CHECK(b[0] == 0 && b[1] == 128 && b[2] == 255);
    CHECK(lmic_pcm_sample_bytes(&s) == 1);
    s.bits = 12;  // odd widths take whole bytes
    CHECK(lmic_pcm_sample_bytes(&s) == 2);
}

static void test_pcm_layouts(void) {
    // Two frames of stereo 16-bit: L0=1 R0=2 L1=3 R1=4.
    int32_t x[4] = {1, 2, 3, 4};
    uint8_t b[8];
    lmic_pcm_spec s = spec_(2, 16, LMIC_LAYOUT_INTERLEAVE, 0, 0);
    CHECK(lmic_pcm_frame_bytes(&s) == 4);
    CHECK_OK(lmic_pcm_encode(&s, x, 2, b));
    const uint8_t il[8] = {0x80, 1, 0x80, 2, 0x80, 3, 0x80, 4};
    CHECK(memcmp(b, il, 8) == 0);
    s.layout = LMIC_LAYOUT_PLANAR;
    CHECK_OK(lmic_pcm_encode(&s, x, 2, b));
    const uint8_t pl[8] = {0x80, 1, 0x80, 3, 0x80, 2, 0x80, 4};
    CHECK(memcmp(b, pl, 8) == 0);
    s.layout = LMIC_LAYOUT_CHANNEL;
    s.channel = 1;
    CHECK(lmic_pcm_frame_bytes(&s) == 2);
    CHECK_OK(lmic_pcm_encode(&s, x, 2, b));
    const uint8_t c1[4] = {0x80, 2, 0x80, 4};
    CHECK(memcmp(b, c1, 4) == 0);
}

// Every (L, R) pair of 8-bit samples survives mid/side, and where nothing
// wraps, M and S are exactly FLAC's: M = floor((L+R)/2), S = L-R.
static void test_pcm_mid_side_exhaustive_8bit(void) {
    lmic_pcm_spec s = spec_(2, 8, LMIC_LAYOUT_INTERLEAVE, 0, 1);
    static int32_t x[65536 * 2], y[65536 * 2];
    static uint8_t b[65536 * 2];
    for (int l = -128; l < 128; l++)
        for (int r = -128; r < 128; r++) {
            int i = (l + 128) * 256 + (r + 128);
            x[2 * i] = l;
            x[2 * i + 1] = r;
        }
    CHECK_OK(lmic_pcm_encode(&s, x, 65536, b));
    CHECK_OK(lmic_pcm_decode(&s, b, 65536, y));
    CHECK(memcmp(x, y, sizeof x) == 0);
    int l = 100, r = -27, i = (l + 128) * 256 + (r + 128);
    int mid = (l + r) >> 1, side = l - r;
    CHECK(b[2 * i] == mid + 128 && b[2 * i + 1] == side + 128);
}

static void test_pcm_roundtrip_grid(void) {
    const int bits[] = {8, 16, 24, 32, 12};
    const int chans[] = {1, 2, 6};
    const size_t lens[] = {1, 7, 512};
    static int32_t x[512 * 6], y[512 * 6];
    static uint8_t b[512 * 6 * 4];
    uint64_t rng = 42;
    for (int bi = 0; bi < 5; bi++)
        for (int ci = 0; ci < 3; ci++)
            for (int li = 0; li < 3; li++)
                for (int lay = 0; lay < 2; lay++)
                    for (int ms = 0; ms < 2; ms++) {
                        int C = chans[ci], nb = bits[bi];
                        if (ms && C != 2) continue;
                        lmic_pcm_spec s = spec_(C, nb, (lmic_layout)lay, 0, ms);
                        size_t n = lens[li];
                        for (size_t k = 0; k < n * (size_t)C; k++) {
                            uint64_t v = lmic_rng_next(&rng);
                            int32_t full = (int32_t)(uint32_t)v;
                            x[k] = nb == 32 ? full : full >> (32 - nb);
                            if (v >> 62 == 0) x[k] = (k & 1) ? (int32_t)-((int64_t)1 << (nb - 1)) : 0;
                        }
                        CHECK_OK(lmic_pcm_encode(&s, x, n, b));
                        CHECK_OK(lmic_pcm_decode(&s, b, n, y));
                        CHECKF(memcmp(x, y, n * (size_t)C * 4) == 0,
                               "bits %d ch %d n %zu layout %d ms %d", nb, C, n, lay, ms);
                    }
}

static void test_pcm_rejects_bad_specs(void) {
    lmic_pcm_spec s = spec_(1, 16, LMIC_LAYOUT_INTERLEAVE, 0, 1);
    CHECK(lmic_pcm_check(&s) == LMIC_ERR_ARG);  // mid/side needs stereo
    s = spec_(0, 16, LMIC_LAYOUT_INTERLEAVE, 0, 0);
    CHECK(lmic_pcm_check(&s) == LMIC_ERR_ARG);
    s = spec_(2, 33, LMIC_LAYOUT_INTERLEAVE, 0, 0);
    CHECK(lmic_pcm_check(&s) == LMIC_ERR_ARG);
    s = spec_(2, 16, LMIC_LAYOUT_CHANNEL, 2, 0);
    CHECK(lmic_pcm_check(&s) == LMIC_ERR_ARG);
    s = spec_(2, 16, (lmic_layout)7, 0, 0);
    CHECK(lmic_pcm_check(&s) == LMIC_ERR_ARG);
    CHECK(lmic_pcm_check(NULL) == LMIC_ERR_ARG);
}

void test_pcm(void) {
    RUN(test_pcm_offset_binary_msb_first);
    RUN(test_pcm_layouts);
    RUN(test_pcm_mid_side_exhaustive_8bit);
    RUN(test_pcm_roundtrip_grid);
    RUN(test_pcm_rejects_bad_specs);
}
