#include "test.h"
void test_codecs(void) {}
