// fuzz_container.c -- libFuzzer target: any bytes as an .lmic file.
//
// lmic_file_read_header must refuse or accept without reading out of bounds
// or allocating without limit; when it accepts, every chunk the index
// describes is decoded with a tiny model (context 64) from whatever payload
// bytes follow, as `lmic decompress` would, so the arithmetic decoder and the
// batched stepper see hostile payloads too. Build: `make fuzz`; run:
// build/fuzz/fuzz_container [CORPUS_DIR]. Seeds: any .lmic file made with
// `lmic compress --model M` with any model of context 64 (the fingerprint is
// not checked here; the decoder's model is a tiny random one).
#include <stdlib.h>
#include <string.h>

#include "lmic.h"

static lmic_model *model_;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!model_) {
        // Tiny (C 16, L 1), so that a run decodes many inputs a second.
        lmic_model_config c = {16, 1, 2, 4, 64, LMIC_POS_SINUSOIDAL, LMIC_NORM_POST};
        if (lmic_model_new_random(&c, 1, &model_) != LMIC_OK) abort();
    }
    lmic_file_info fi;
    size_t hs;
    if (lmic_file_read_header(data, size, &fi, &hs) != LMIC_OK) return 0;
    uint64_t nch = lmic_file_chunks(&fi);
    size_t fb = (size_t)lmic_pcm_frame_bytes(&fi.spec);
    // The decoder's limits, as in tools/codec_cmd.c: chunks within the
    // context, payloads within the file (and small enough to decode fast).
    uint64_t need = 0;
    for (uint64_t e = 0; e < fi.nentries; e++) need += fi.entry[e].size;
    if ((uint64_t)fi.frames_per_chunk * fb > 64 || need != size - hs || nch > 64) {
        lmic_file_info_free(&fi);
        return 0;
    }
    size_t len[64], sz[64];
    uint8_t mode[64], tok[64 * 64];
    uint64_t c = 0;
    for (uint64_t e = 0; e < fi.nentries; e++)
        for (uint32_t k = 0; k < fi.entry[e].count; k++, c++) {
            len[c] = lmic_file_chunk_tokens(&fi, c);
            mode[c] = fi.entry[e].mode;
            sz[c] = mode[c] == LMIC_CHUNK_RAW ? len[c] : (size_t)fi.entry[e].size;
        }
    if (lmic_lm_decompress(model_, data + hs, sz, mode, len, (size_t)nch, 1, tok) == LMIC_OK) {
        int32_t samples[64 * 64];
        size_t off = 0;
        for (c = 0; c < nch; c++) {
            lmic_pcm_decode(&fi.spec, tok + off, len[c] / fb, samples);
            off += len[c];
        }
    }
    lmic_file_info_free(&fi);
    return 0;
}
