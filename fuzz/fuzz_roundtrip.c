// fuzz_roundtrip.c -- libFuzzer target: any bytes as audio, compressed and
// decompressed as `lmic compress` and `lmic decompress` do, through the
// library: chunks of frames, lmic_audio_compress (predictors, residual
// tokens, the LM coder over windows, raw fallback), the index (an entry per
// LM chunk, one per run of raw chunks, CRC-32 of payload and sample tokens),
// lmic_file_write_header; then lmic_file_read_header, lmic_audio_decompress
// and the CRCs. Everything must come back exactly: header fields, index,
// samples.
//
// Input: 4 setting bytes, then the samples, little-endian, interleaved (at
// most MAX_FRAMES frames).
//   byte 0: channels 1-4 (bits 0-1); predictor none/fast/normal/high (bits 2-3)
//   byte 1: width 8/16/24/32 (bits 0-1); planar (2); one channel, if mono (3);
//           mid/side, if stereo (4); an untrained model (5): the tiny model's
//           shape from lmic_model_new_random, instead of fuzz/tiny.lmm;
//           the coder auto/lm/plain/mix (bits 6-7)
//   byte 2: frames per chunk, 1-128
//   byte 3: the model's window (any of 1..64 tokens) and overlap
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

#define MAX_FRAMES 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    int ch = 1 + (data[0] & 3), nb = 1 + (data[1] & 3), bits = 8 * nb;
    int predict = ((data[0] >> 2) & 3) - 1;  // -1 none, or an lmic_pred_effort
    int coder = (data[1] >> 6) & 3;           // an lmic_entropy
    lmic_pcm_spec spec = {ch, bits, LMIC_LAYOUT_INTERLEAVE, 0, 0};
    if (data[1] & 4) spec.layout = LMIC_LAYOUT_PLANAR;
    if ((data[1] & 8) && ch == 1) spec.layout = LMIC_LAYOUT_CHANNEL;
    if ((data[1] & 16) && ch == 2) spec.mid_side = 1;
    const lmic_model *m = (data[1] & 32) ? fuzz_random_model() : fuzz_tiny_model();
    size_t ctx = (size_t)lmic_model_get_config(m)->context, fb = (size_t)lmic_pcm_frame_bytes(&spec);
    size_t fpc = 1 + data[2] % 128;
    size_t win = 1 + (data[3] & 63) % ctx, ovl = (data[3] >> 6) * win / 4;
    if (win + ovl > ctx) ovl = ctx - win;
    FUZZ_CHECK(lmic_pcm_check(&spec) == LMIC_OK);
    data += 4;
    size -= 4;
    size_t frames = size / ((size_t)ch * nb);
    if (frames > MAX_FRAMES) frames = MAX_FRAMES;
    size_t nsamp = frames * (size_t)ch;
    int32_t *samp = malloc((nsamp + 1) * sizeof *samp), *back = malloc((nsamp + 1) * sizeof *back);
    uint8_t *tok = malloc(frames * fb + 1);
    FUZZ_CHECK(samp && back && tok);
    for (size_t i = 0; i < nsamp; i++) {  // sign-extended little-endian samples
        uint32_t u = 0;
        for (int k = 0; k < nb; k++) u |= (uint32_t)data[i * nb + k] << (8 * k);
        uint32_t sign = 1u << (bits - 1);
        samp[i] = bits == 32 ? (int32_t)u : (int32_t)((u ^ sign) - sign);
    }
    lmic_file_info fi;
    memset(&fi, 0, sizeof fi);
    fi.sample_rate = 44100;
    fi.channels = (uint32_t)ch;
    fi.bits = fi.src_bits = (uint32_t)bits;
    fi.frames = frames;
    fi.spec = spec;
    fi.frames_per_chunk = (uint32_t)fpc;
    fi.window = (uint32_t)win;
    fi.overlap = (uint32_t)ovl;
    for (int i = 0; i < 16; i++) fi.md5[i] = fi.model[i] = (uint8_t)i;
    size_t nch = (size_t)lmic_file_chunks(&fi);
    size_t *len = malloc((nch + 1) * sizeof *len), *nfr = malloc((nch + 1) * sizeof *nfr);
    size_t *sz = malloc((nch + 1) * sizeof *sz), *sz2 = malloc((nch + 1) * sizeof *sz2);
    uint8_t *mode = malloc(nch + 1), *mode2 = malloc(nch + 1);
    lmic_index_entry *ent = malloc((nch + 1) * sizeof *ent);
    FUZZ_CHECK(len && nfr && sz && sz2 && mode && mode2 && ent);
    for (size_t c = 0; c < nch; c++) {
        len[c] = lmic_file_chunk_tokens(&fi, c);
        nfr[c] = len[c] / fb;
    }
    for (size_t c = 0, t = 0; c < nch; t += len[c], c++)  // the sample tokens, chunk by chunk
        FUZZ_CHECK(lmic_pcm_encode(&spec, samp + c * fpc * ch, nfr[c], tok + t) == LMIC_OK);
    lmic_audio_params ap = {spec, {win, ovl}, 0};
    lmic_buf payload = {0}, file = {0};
    FUZZ_CHECK(lmic_audio_compress(m, &ap, predict, coder, samp, nfr, nch, 1, &payload, sz, mode) == LMIC_OK);
    // The index, as tools/codec_cmd.c builds it.
    size_t ne = 0, poff = 0, toff = 0;
    for (size_t c = 0; c < nch; c++) {
        FUZZ_CHECK(sz[c] <= len[c] && (mode[c] == LMIC_CHUNK_LM || sz[c] == len[c]));  // no chunk grows
        if (!(mode[c] == LMIC_CHUNK_RAW && ne && ent[ne - 1].mode == LMIC_CHUNK_RAW))
            ent[ne++] = (lmic_index_entry){0, mode[c], 0, 0};
        ent[ne - 1].count++;
        ent[ne - 1].size += sz[c];
    }
    for (size_t e = 0, c = 0; e < ne; e++) {  // CRC: the payload, then the sample tokens
        size_t n = 0;
        for (uint32_t k = 0; k < ent[e].count; k++) n += len[c + k];
        ent[e].crc = lmic_crc32(lmic_crc32(0, payload.data + poff, (size_t)ent[e].size), tok + toff, n);
        poff += (size_t)ent[e].size;
        toff += n;
        c += ent[e].count;
    }
    fi.entry = ent;
    fi.nentries = ne;
    FUZZ_CHECK(lmic_file_write_header(&fi, &file) == LMIC_OK);
    FUZZ_CHECK(lmic_buf_append(&file, payload.data, payload.size) == LMIC_OK);
    // Back.
    lmic_file_info g;
    size_t hs;
    FUZZ_CHECK(lmic_file_read_header(file.data, file.size, &g, &hs) == LMIC_OK);
    FUZZ_CHECK(hs + payload.size == file.size && g.frames == fi.frames && g.nentries == ne);
    FUZZ_CHECK(g.frames_per_chunk == fi.frames_per_chunk && g.channels == fi.channels && g.bits == fi.bits);
    FUZZ_CHECK(g.window == fi.window && g.overlap == fi.overlap);
    FUZZ_CHECK(!memcmp(&g.spec, &fi.spec, sizeof g.spec) && lmic_file_chunks(&g) == nch);
    for (size_t e = 0, c = 0; e < ne; e++) {
        FUZZ_CHECK(g.entry[e].count == ent[e].count && g.entry[e].mode == ent[e].mode &&
                   g.entry[e].size == ent[e].size && g.entry[e].crc == ent[e].crc);
        for (uint32_t k = 0; k < g.entry[e].count; k++, c++) {
            mode2[c] = g.entry[e].mode;
            sz2[c] = mode2[c] == LMIC_CHUNK_RAW ? lmic_file_chunk_tokens(&g, c) : (size_t)g.entry[e].size;
            FUZZ_CHECK(sz2[c] == sz[c] && mode2[c] == mode[c]);
        }
    }
    lmic_audio_params ap2 = {g.spec, {g.window, g.overlap}, 0};
    FUZZ_CHECK(lmic_audio_decompress(m, &ap2, file.data + hs, sz2, mode2, nfr, nch, 1, back) == LMIC_OK);
    FUZZ_CHECK(memcmp(samp, back, nsamp * sizeof *samp) == 0);
    lmic_file_info_free(&g);
    lmic_buf_free(&payload);
    lmic_buf_free(&file);
    free(samp); free(back); free(tok); free(len); free(nfr); free(sz); free(sz2); free(mode); free(mode2);
    free(ent);
    return 0;
}
