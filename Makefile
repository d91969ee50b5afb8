# lmic -- one GNU Makefile. The compiler flags are part of the bitstream
# contract (rule 1: decoding never diverges), so they live here, in one place:
# no -ffast-math / -Ofast, and -ffp-contract=off so no build fuses a*b+c.

CC       ?= cc
OPT      ?= -O3 -march=native  # bit-identical to any other build (rule 1); `make OPT=-O2` for a portable binary
PKGS     := sndfile flac zlib liblzma libpng
DETFLAGS := -ffp-contract=off -fno-fast-math
CFLAGS   ?= $(OPT) -g
# Flags lmic always needs; they come after CFLAGS, so `make CFLAGS=...` (a
# sanitizer build, say) cannot drop them or undo the determinism flags.
LMIC_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Iinclude $(DETFLAGS) -fopenmp
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS   += $(PKG_LIBS) -lm -fopenmp

B        ?= build
LIB_SRC  := $(wildcard src/*.c) $(wildcard src/train/*.c)
TOOL_SRC := $(filter-out tools/lmic.c,$(wildcard tools/*.c))
TEST_SRC := $(wildcard tests/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
TOOL_OBJ := $(TOOL_SRC:%.c=$(B)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(B)/%.o)

# Tests reach into tools/ (the loaders); the library itself never does.
$(TEST_OBJ): LMIC_CFLAGS += -Itools

.PHONY: all test test-long deps clean bench fuzz

all: $(B)/lmic $(B)/test_lmic

$(B)/%.o: %.c $(wildcard include/*.h) $(wildcard tools/*.h) $(wildcard tests/*.h) $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LMIC_CFLAGS) -c $< -o $@

$(B)/liblmic.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

# The built-in model: models/default.lmm as a C array (od and awk, no other
# generator), linked into the tool.
MODEL_OBJ := $(B)/gen/default_model.o
$(B)/gen/default_model.c: models/default.lmm
	@mkdir -p $(dir $@)
	@{ echo '// generated from $< by the Makefile: do not edit'; \
	  echo '#include <stddef.h>'; \
	  echo 'const unsigned char lmic_default_model_data[] = {'; \
	  od -An -v -tu1 $< | awk '{ s = ""; for (i = 1; i <= NF; i++) s = s $$i ","; print s }'; \
	  echo '};'; \
	  echo 'const size_t lmic_default_model_size = sizeof lmic_default_model_data;'; } > $@.tmp
	@mv $@.tmp $@

$(MODEL_OBJ): $(B)/gen/default_model.c
	$(CC) $(CFLAGS) $(LMIC_CFLAGS) -c $< -o $@

$(B)/lmic: $(B)/tools/lmic.o $(TOOL_OBJ) $(MODEL_OBJ) $(B)/liblmic.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/test_lmic: $(TEST_OBJ) $(TOOL_OBJ) $(MODEL_OBJ) $(B)/liblmic.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# libFuzzer targets (clang): `make fuzz`, then $(B)/fuzz/NAME [CORPUS_DIR].
FUZZ_BIN := $(patsubst fuzz/%.c,$(B)/fuzz/%,$(wildcard fuzz/*.c))
fuzz: $(FUZZ_BIN)
$(B)/fuzz/%: fuzz/%.c $(LIB_SRC) $(wildcard include/*.h) $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	clang -O1 -g -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) $(LMIC_CFLAGS) -Wno-pass-failed $< $(LIB_SRC) -o $@ $(LDLIBS)

# All tests: unit tests, then the CLI tests. Exits non-zero on any failure.
test: all
	@bash tests/run.sh $(B)

# Longer checks that do not fit CI's budget.
test-long: all
	@LMIC_TEST_LONG=1 bash tests/run.sh $(B)

bench: all
	@bash bench/eval_vs_cli.sh

# Installs the Debian packages lmic needs (run as root, or with sudo).
DEB_PKGS := build-essential pkg-config libsndfile1-dev libflac-dev zlib1g-dev \
            liblzma-dev libpng-dev flac xz-utils gzip python3 \
            clang libomp-14-dev python3-torch python3-numpy
deps:
	@bash .ci/deps.sh $(DEB_PKGS)

clean:
	rm -rf $(B)
