// replay.c -- main() for a fuzz target built without libFuzzer: runs
// LLVMFuzzerTestOneInput once on every file named (directories: every file
// in them). `make test` replays the seeds and tests/fuzz/<target>/ this way
// with the normal (and the sanitizer) builds. Exits 0 when every input ran;
// a finding aborts, as under libFuzzer.
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

static int replay_file_(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return -1; }
    lmic_buf b = {0};
    uint8_t tmp[1 << 16];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (lmic_buf_append(&b, tmp, n) != LMIC_OK) { fclose(f); return -1; }
    fclose(f);
    // A copy of exactly `size` bytes, so that the sanitizers see overreads;
    // an empty file is NULL, as the CLI's buffer of an empty input is.
    uint8_t *copy = malloc(b.size ? b.size : 1);
    if (!copy) return -1;
    if (b.size) memcpy(copy, b.data, b.size);
    LLVMFuzzerTestOneInput(b.size ? copy : NULL, b.size);
    free(copy);
    lmic_buf_free(&b);
    return 0;
}

int main(int argc, char **argv) {
    int n = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) { perror(argv[i]); bad++; continue; }
        if (!S_ISDIR(st.st_mode)) { bad += replay_file_(argv[i]) != 0; n++; continue; }
        struct dirent **ent;
        int k = scandir(argv[i], &ent, NULL, alphasort);
        if (k < 0) { perror(argv[i]); bad++; continue; }
        for (int j = 0; j < k; j++) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", argv[i], ent[j]->d_name);
            if (ent[j]->d_name[0] != '.' && stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
                bad += replay_file_(p) != 0;
                n++;
            }
            free(ent[j]);
        }
        free(ent);
    }
    printf("%s: replayed %d inputs%s\n", argv[0], n, bad ? ", some unreadable" : "");
    return bad ? 1 : 0;
}
