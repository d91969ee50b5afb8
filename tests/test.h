// test.h -- the unit-test harness: one runner (test_main.c), many files.
//
// A test is a `static void f(void)`; CHECK stops it at the first failure and
// prints file:line and the expression. Each tests/test_<module>.c exports
// `void test_<module>(void)` that RUNs its tests; test_main.c calls them all.
#ifndef LMIC_TEST_H
#define LMIC_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int test_failed_;       // set by CHECK in the running test
extern int test_passed_count_, test_failed_count_;
extern const char *test_filter_;  // run only tests whose name contains this

#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    test_failed_ = 1; return; } } while (0)

// CHECK with a printf-style explanation.
#define CHECKF(cond, ...) do { if (!(cond)) { \
    fprintf(stderr, "  %s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); \
    test_failed_ = 1; return; } } while (0)

#define CHECK_OK(expr) do { int st_ = (int)(expr); if (st_ != 0) { \
    fprintf(stderr, "  %s:%d: %s returned %d\n", __FILE__, __LINE__, #expr, st_); \
    test_failed_ = 1; return; } } while (0)

#define RUN(fn) do { \
    if (test_filter_ && !strstr(#fn, test_filter_)) break; \
    test_failed_ = 0; fn(); \
    if (test_failed_) { test_failed_count_++; printf("FAIL %s\n", #fn); } \
    else { test_passed_count_++; printf("ok   %s\n", #fn); } \
    fflush(stdout); } while (0)

// A scratch directory for this run (created by test_main.c, removed at exit).
const char *test_tmpdir(void);

#endif
