#include "test.h"
void test_loaders(void) {}
