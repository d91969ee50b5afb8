// fuzz_container.c -- libFuzzer target: any bytes as an .lmic file, decoded
// the whole way, as `lmic decompress` does (tools/codec_cmd.c):
// lmic_file_read_header, the window and payload bounds, every LM chunk's
// predictor parameters (lmic_pred_read), lmic_audio_decompress in groups
// (predictors restored, the LM stepper over the windows), every index
// entry's CRC-32 (payload, then the chunks' sample tokens), the WAV sample
// bytes and their MD5. No input may read out of bounds, allocate without
// limit, hang or trip a sanitizer.
//
// The header CRC is recomputed before a second parse (when the header size
// field is in range), so that mutations reach the fields and the index
// instead of dying at the checksum; the checksum itself is tested by
// tests/corrupt.py. Seeds: .lmic files that `make fuzz-run` makes at run
// time with `lmic compress --model fuzz/tiny.lmm` (fuzz/container_seeds.sh;
// the format changes, so none are checked in). The model is fuzz/tiny.lmm
// (context 64), linked in.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

#define MAX_TOKENS (1 << 15)  // larger inputs are skipped: runs stay fast
#define GROUP LMIC_LM_BATCH   // chunks per lmic_audio_decompress call, as the CLI

static uint32_t get32_(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// WAV sample bytes of n samples (as tools/audio_io.c's wav_pack, which this
// target does not link).
static void pack_(const int32_t *s, size_t n, int bits, uint8_t *out) {
    int nb = bits / 8;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)s[i];
        if (bits == 8) u ^= 0x80;
        for (int k = 0; k < nb; k++) out[i * nb + k] = (uint8_t)(u >> (8 * k));
    }
}

static void decode_(const uint8_t *data, size_t size) {
    const lmic_model *m = fuzz_tiny_model();
    size_t ctx = (size_t)lmic_model_get_config(m)->context;
    lmic_file_info fi;
    size_t hs;
    if (lmic_file_read_header(data, size, &fi, &hs) != LMIC_OK) return;
    FUZZ_CHECK(hs <= size);
    uint8_t *tok = NULL, *mode = NULL, *pcm = NULL;
    size_t *len = NULL, *sz = NULL, *nfr = NULL;
    int32_t *samp = NULL;
    uint64_t nch = lmic_file_chunks(&fi);
    size_t fb = (size_t)lmic_pcm_frame_bytes(&fi.spec);
    if ((size_t)fi.window + fi.overlap > ctx || fi.frames > MAX_TOKENS / fb) goto done;
    // Payloads inside the file and filling it, predictor parameters readable
    // (the CLI's checks).
    size_t poff = hs;
    for (uint64_t e = 0; e < fi.nentries; e++) {
        if (fi.entry[e].size > size - poff) goto done;
        if (fi.entry[e].mode == LMIC_CHUNK_LM) {
            lmic_pred pr[LMIC_PCM_MAX_CHANNELS];
            size_t used;
            int coder;
            if (lmic_audio_chunk_head(data + poff, (size_t)fi.entry[e].size, (int)fi.channels, pr, &coder,
                                      &used) != LMIC_OK)
                goto done;
            FUZZ_CHECK(used <= fi.entry[e].size && coder >= 0 && coder <= 4);
        }
        poff += (size_t)fi.entry[e].size;
    }
    if (poff != size) goto done;
    size_t ntok = (size_t)fi.frames * fb;
    tok = malloc(ntok + 1);
    mode = malloc(nch + 1);
    len = malloc((nch + 1) * sizeof *len);
    sz = malloc((nch + 1) * sizeof *sz);
    nfr = malloc((nch + 1) * sizeof *nfr);
    FUZZ_CHECK(tok && mode && len && sz && nfr);
    uint64_t c = 0;
    size_t sum = 0;
    for (uint64_t e = 0; e < fi.nentries; e++)
        for (uint32_t k = 0; k < fi.entry[e].count; k++, c++) {
            len[c] = lmic_file_chunk_tokens(&fi, c);
            FUZZ_CHECK(len[c] >= 1 && len[c] % fb == 0);
            nfr[c] = len[c] / fb;
            mode[c] = fi.entry[e].mode;
            sz[c] = mode[c] == LMIC_CHUNK_RAW ? len[c] : (size_t)fi.entry[e].size;
            sum += len[c];
        }
    FUZZ_CHECK(c == nch && sum == ntok);
    size_t nsamp = (size_t)fi.frames * fi.channels, pcm_bytes = nsamp * (fi.bits / 8);
    samp = malloc((nsamp + 1) * sizeof *samp);
    pcm = malloc(pcm_bytes + 1);
    FUZZ_CHECK(samp && pcm);
    lmic_audio_params ap = {fi.spec, {fi.window, fi.overlap}, 0};
    size_t toff = 0, pos = hs;
    for (c = 0; c < nch;) {
        size_t g = nch - c < GROUP ? (size_t)(nch - c) : GROUP, gb = 0, gt = 0;
        for (size_t k = 0; k < g; k++) { gb += sz[c + k]; gt += len[c + k]; }
        FUZZ_CHECK(gb <= size - pos);
        int32_t *x = samp + (size_t)c * fi.frames_per_chunk * fi.channels;
        if (lmic_audio_decompress(m, &ap, data + pos, sz + c, mode + c, nfr + c, g, 1, x) != LMIC_OK) goto done;
        for (size_t k = 0, t = 0; k < g; t += len[c + k], k++)  // per chunk: planar is within a chunk
            FUZZ_CHECK(lmic_pcm_encode(&fi.spec, x + k * fi.frames_per_chunk * fi.channels, nfr[c + k],
                                       tok + toff + t) == LMIC_OK);
        c += g;
        pos += gb;
        toff += gt;
    }
    // Every entry's CRC (payload bytes, then sample tokens), as the CLI.
    size_t epos = hs, etok = 0;
    c = 0;
    for (uint64_t e = 0; e < fi.nentries; e++) {
        size_t n = 0;
        for (uint32_t k = 0; k < fi.entry[e].count; k++) n += len[c + k];
        uint32_t crc = lmic_crc32(lmic_crc32(0, data + epos, (size_t)fi.entry[e].size), tok + etok, n);
        if (crc != fi.entry[e].crc) goto done;
        epos += (size_t)fi.entry[e].size;
        etok += n;
        c += fi.entry[e].count;
    }
    pack_(samp, nsamp, (int)fi.bits, pcm);
    lmic_md5 md5;
    uint8_t dig[16];
    lmic_md5_init(&md5);
    lmic_md5_update(&md5, pcm, pcm_bytes);
    lmic_md5_final(&md5, dig);
    (void)memcmp(dig, fi.md5, 16);  // a mismatch is the CLI's error; either way no crash
done:
    free(tok); free(mode); free(len); free(sz); free(nfr); free(samp); free(pcm);
    lmic_file_info_free(&fi);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    decode_(data, size);  // as given: the header CRC must hold
    if (size < 16) return 0;
    uint32_t H = get32_(data + 12);
    if (H < 8 || H > size) return 0;
    uint8_t *copy = malloc(size);
    FUZZ_CHECK(copy);
    memcpy(copy, data, size);
    uint32_t crc = lmic_crc32(0, copy, H - 4);
    for (int i = 0; i < 4; i++) copy[H - 4 + i] = (uint8_t)(crc >> (8 * i));
    if (memcmp(copy + H - 4, data + H - 4, 4) != 0) decode_(copy, size);
    free(copy);
    return 0;
}
