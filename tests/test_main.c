// test_main.c -- runs every unit test; exits non-zero if any failed.
// Usage: test_lmic [NAME-SUBSTRING]
#include "test.h"

#include <unistd.h>

int test_failed_, test_passed_count_, test_failed_count_;
const char *test_filter_;
static char tmpdir_[256];

const char *test_tmpdir(void) { return tmpdir_; }

void test_util(void);
void test_coder(void);
void test_pcm(void);
void test_predict(void);
void test_plaincoder(void);
void test_codecs(void);
void test_loaders(void);
void test_modelfile(void);
void test_model(void);
void test_train(void);
void test_container(void);

int main(int argc, char **argv) {
    if (argc > 1) test_filter_ = argv[1];
    snprintf(tmpdir_, sizeof tmpdir_, "/tmp/lmic-test-XXXXXX");
    if (!mkdtemp(tmpdir_)) { perror("mkdtemp"); return 2; }

    test_util();
    test_coder();
    test_pcm();
    test_predict();
    test_plaincoder();
    test_codecs();
    test_loaders();
    test_modelfile();
    test_model();
    test_train();
    test_container();

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir_);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir_);
    printf("unit: %d passed, %d failed\n", test_passed_count_, test_failed_count_);
    return test_failed_count_ ? 1 : 0;
}
