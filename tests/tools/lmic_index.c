// lmic_index.c -- prints an .lmic file's layout for the robustness tests
// (tests/corrupt.py): through the library's own reader, so the tests follow
// the container format of this checkout. Output, one line each:
//   header SIZE                      header and index bytes (payloads start here)
//   entry OFFSET SIZE COUNT MODE     each index entry's payload (MODE 0 = LM, 1 = raw)
//   chunk OFFSET SIZE MODE           each chunk's payload (a raw run's chunks one by one)
// Exits 1 with a message when the file does not parse.
#include <stdio.h>
#include <stdlib.h>

#include "lmic.h"

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: lmic_index FILE.lmic\n"); return 2; }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    lmic_buf b = {0};
    unsigned char tmp[1 << 16];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (lmic_buf_append(&b, tmp, n) != LMIC_OK) return 1;
    fclose(f);
    lmic_file_info fi;
    size_t hs;
    lmic_status st = lmic_file_read_header(b.data, b.size, &fi, &hs);
    if (st != LMIC_OK) { fprintf(stderr, "%s: %s\n", argv[1], lmic_strerror(st)); return 1; }
    printf("header %zu\n", hs);
    size_t off = hs;
    for (uint64_t e = 0; e < fi.nentries; e++) {
        printf("entry %zu %llu %u %u\n", off, (unsigned long long)fi.entry[e].size, fi.entry[e].count,
               fi.entry[e].mode);
        off += (size_t)fi.entry[e].size;
    }
    off = hs;
    for (uint64_t e = 0, c = 0; e < fi.nentries; e++)
        for (uint32_t k = 0; k < fi.entry[e].count; k++, c++) {
            size_t n = fi.entry[e].mode == LMIC_CHUNK_RAW ? lmic_file_chunk_tokens(&fi, c) : (size_t)fi.entry[e].size;
            printf("chunk %zu %zu %u\n", off, n, fi.entry[e].mode);
            off += n;
        }
    lmic_file_info_free(&fi);
    lmic_buf_free(&b);
    return 0;
}
