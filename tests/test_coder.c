#include "test.h"
void test_coder(void) {}
