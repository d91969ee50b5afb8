#include "test.h"
void test_pcm(void) {}
