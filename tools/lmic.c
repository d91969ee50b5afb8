#include "lmic.h"
#include <stdio.h>
int main(void) { printf("lmic %s\n", LMIC_VERSION_STRING); return 0; }
