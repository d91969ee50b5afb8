// fuzz_roundtrip.c -- libFuzzer target: any bytes as audio, compressed and
// decompressed as `lmic compress` and `lmic decompress` do, through the
// library: tokens (lmic_pcm_encode), chunks of at most the context,
// lmic_lm_compress, the index (an entry per LM chunk, one per run of raw
// chunks, CRC-32 of payload and tokens), lmic_file_write_header; then
// lmic_file_read_header, lmic_lm_decompress, the CRCs and lmic_pcm_decode.
// Everything must come back exactly: header fields, tokens and samples.
//
// Input: byte 0 picks channels (1-4), byte 1 the sample width (8/16/24/32),
// the layout (interleave, planar, one channel when mono), mid/side (stereo)
// and the model (fuzz/tiny.lmm, trained, or an untrained
// lmic_model_new_random of the same shape); the rest are the samples,
// little-endian, interleaved (at most 16 chunks of context 64).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

#define MAX_CHUNKS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    int ch = 1 + data[0] % 4, nb = 1 + (data[1] & 3), bits = 8 * nb;
    lmic_pcm_spec spec = {ch, bits, LMIC_LAYOUT_INTERLEAVE, 0, 0};
    if (data[1] & 4) spec.layout = LMIC_LAYOUT_PLANAR;
    if ((data[1] & 8) && ch == 1) spec.layout = LMIC_LAYOUT_CHANNEL;
    if ((data[1] & 16) && ch == 2) spec.mid_side = 1;
    const lmic_model *m = (data[1] & 32) ? fuzz_random_model() : fuzz_tiny_model();
    size_t ctx = (size_t)lmic_model_get_config(m)->context, fb = (size_t)lmic_pcm_frame_bytes(&spec);
    FUZZ_CHECK(lmic_pcm_check(&spec) == LMIC_OK && fb <= ctx);
    data += 2;
    size -= 2;
    size_t fpc = ctx / fb, frames = size / ((size_t)ch * nb);
    if (frames > MAX_CHUNKS * fpc) frames = MAX_CHUNKS * fpc;
    size_t nsamp = frames * (size_t)ch;
    int32_t *samp = malloc((nsamp + 1) * sizeof *samp), *back = malloc((nsamp + 1) * sizeof *back);
    uint8_t *tok = malloc(frames * fb + 1), *tok2 = malloc(frames * fb + 1);
    FUZZ_CHECK(samp && back && tok && tok2);
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
    for (int i = 0; i < 16; i++) fi.md5[i] = fi.model[i] = (uint8_t)i;
    uint64_t nch = lmic_file_chunks(&fi);
    size_t len[MAX_CHUNKS], sz[MAX_CHUNKS];
    uint8_t mode[MAX_CHUNKS];
    size_t off = 0;
    for (uint64_t c = 0; c < nch; c++) {
        len[c] = lmic_file_chunk_tokens(&fi, c);
        FUZZ_CHECK(lmic_pcm_encode(&spec, samp + c * fpc * ch, len[c] / fb, tok + off) == LMIC_OK);
        off += len[c];
    }
    lmic_buf payload = {0}, file = {0};
    FUZZ_CHECK(lmic_lm_compress(m, tok, len, (size_t)nch, 1, &payload, sz, mode) == LMIC_OK);
    // The index, as tools/codec_cmd.c builds it.
    lmic_index_entry ent[MAX_CHUNKS];
    size_t ne = 0, poff = 0, toff = 0;
    for (uint64_t c = 0; c < nch; c++) {
        FUZZ_CHECK(sz[c] <= len[c]);  // no chunk grows
        if (!(mode[c] == LMIC_CHUNK_RAW && ne && ent[ne - 1].mode == LMIC_CHUNK_RAW))
            ent[ne++] = (lmic_index_entry){0, mode[c], 0, 0};
        lmic_index_entry *e = &ent[ne - 1];
        e->count++;
        e->size += sz[c];
        e->crc = lmic_crc32(e->crc, payload.data + poff, sz[c]);  // payloads first ...
        poff += sz[c];
    }
    for (size_t e = 0, c = 0; e < ne; e++) {  // ... then the tokens
        size_t n = 0;
        for (uint32_t k = 0; k < ent[e].count; k++) n += len[c + k];
        ent[e].crc = lmic_crc32(ent[e].crc, tok + toff, n);
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
    FUZZ_CHECK(!memcmp(&g.spec, &fi.spec, sizeof g.spec) && lmic_file_chunks(&g) == nch);
    for (size_t e = 0; e < ne; e++)
        FUZZ_CHECK(g.entry[e].count == ent[e].count && g.entry[e].mode == ent[e].mode &&
                   g.entry[e].size == ent[e].size && g.entry[e].crc == ent[e].crc);
    size_t sz2[MAX_CHUNKS], len2[MAX_CHUNKS];
    uint8_t mode2[MAX_CHUNKS];
    for (size_t e = 0, c = 0; e < g.nentries; e++)
        for (uint32_t k = 0; k < g.entry[e].count; k++, c++) {
            len2[c] = lmic_file_chunk_tokens(&g, c);
            mode2[c] = g.entry[e].mode;
            sz2[c] = mode2[c] == LMIC_CHUNK_RAW ? len2[c] : (size_t)g.entry[e].size;
            FUZZ_CHECK(len2[c] == len[c] && sz2[c] == sz[c] && mode2[c] == mode[c]);
        }
    FUZZ_CHECK(lmic_lm_decompress(m, file.data + hs, sz2, mode2, len2, (size_t)nch, 1, tok2) == LMIC_OK);
    FUZZ_CHECK(memcmp(tok, tok2, frames * fb) == 0);
    off = 0;
    for (uint64_t c = 0; c < nch; c++) {
        FUZZ_CHECK(lmic_pcm_decode(&spec, tok2 + off, len[c] / fb, back + c * fpc * ch) == LMIC_OK);
        off += len[c];
    }
    FUZZ_CHECK(memcmp(samp, back, nsamp * sizeof *samp) == 0);
    lmic_file_info_free(&g);
    lmic_buf_free(&payload);
    lmic_buf_free(&file);
    free(samp); free(back); free(tok); free(tok2);
    return 0;
}
