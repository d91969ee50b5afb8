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

.PHONY: all test test-long deps clean bench fuzz fuzz-run asan ubsan

all: $(B)/lmic $(B)/test_lmic

$(B)/%.o: %.c $(wildcard include/*.h) $(wildcard tools/*.h) $(wildcard tests/*.h) $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LMIC_CFLAGS) -c $< -o $@

$(B)/liblmic.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

# The built-in model: models/default.lmm as a C array (od and awk, no other
# generator), linked into the tool. $(call EMBED,SYMBOL) writes $@ from $<.
MODEL_OBJ := $(B)/gen/default_model.o
define EMBED
@mkdir -p $(dir $@)
@{ echo '// generated from $< by the Makefile: do not edit'; \
  echo '#include <stddef.h>'; \
  echo 'const unsigned char $(1)_data[] = {'; \
  od -An -v -tu1 $< | awk '{ s = ""; for (i = 1; i <= NF; i++) s = s $$i ","; print s }'; \
  echo '};'; \
  echo 'const size_t $(1)_size = sizeof $(1)_data;'; } > $@.tmp
@mv $@.tmp $@
endef
$(B)/gen/default_model.c: models/default.lmm
	$(call EMBED,lmic_default_model)
# The fuzz targets' tiny model (fuzz/tiny_model.sh made it).
$(B)/gen/tiny_model.c: fuzz/tiny.lmm
	$(call EMBED,lmic_tiny_model)
$(B)/gen/tiny_model.o: $(B)/gen/tiny_model.c
	$(CC) $(CFLAGS) $(LMIC_CFLAGS) -c $< -o $@

$(MODEL_OBJ): $(B)/gen/default_model.c
	$(CC) $(CFLAGS) $(LMIC_CFLAGS) -c $< -o $@

$(B)/lmic: $(B)/tools/lmic.o $(TOOL_OBJ) $(MODEL_OBJ) $(B)/liblmic.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/test_lmic: $(TEST_OBJ) $(TOOL_OBJ) $(MODEL_OBJ) $(B)/liblmic.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# A test helper: an .lmic file's header size and index entries (tests/corrupt.py).
$(B)/lmic_index: tests/tools/lmic_index.c $(B)/liblmic.a
	$(CC) $(CFLAGS) $(LMIC_CFLAGS) $< $(B)/liblmic.a -o $@ $(LDLIBS)

# --- fuzzing (fuzz/README.md)
# libFuzzer targets, clang with ASan and UBSan: `make fuzz` builds
# $(B)/fuzz/NAME for each fuzz/NAME.c; `make fuzz-run FUZZ_SECONDS=N` runs each
# for N seconds on its seed corpus. The same targets built with $(CC) and
# fuzz/replay.c as main() ($(B)/fuzz-replay/NAME) replay the seeds and the
# crash inputs under tests/fuzz/ in `make test`.
FUZZ_NAMES   := $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_BIN     := $(FUZZ_NAMES:%=$(B)/fuzz/%)
FUZZ_REPLAY  := $(FUZZ_NAMES:%=$(B)/fuzz-replay/%)
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -O2 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Wno-pass-failed
FUZZ_OBJ     := $(patsubst %.c,$(B)/fuzz/obj/%.o,$(LIB_SRC) tools/audio_io.c) $(B)/fuzz/obj/tiny_model.o
FUZZ_SECONDS ?= 60
$(B)/fuzz/obj/%.o: %.c $(wildcard include/*.h) $(wildcard src/*.h) $(wildcard tools/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(PKG_CFLAGS) $(LMIC_CFLAGS) -c $< -o $@
# The transformer's kernels parse nothing: sanitizers, but no coverage
# tracing, which would make them ten times slower (forward.c: the matmuls).
$(B)/fuzz/obj/src/forward.o: FUZZ_CFLAGS := -O2 -g $(FUZZ_SAN) -Wno-pass-failed
$(B)/fuzz/obj/tiny_model.o: $(B)/gen/tiny_model.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(LMIC_CFLAGS) -c $< -o $@
$(FUZZ_BIN): $(B)/fuzz/%: fuzz/%.c fuzz/fuzz_common.h $(FUZZ_OBJ)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) $(LMIC_CFLAGS) -Itools $< $(FUZZ_OBJ) -o $@ $(LDLIBS)
$(FUZZ_REPLAY): $(B)/fuzz-replay/%: fuzz/%.c fuzz/replay.c fuzz/fuzz_common.h $(B)/tools/audio_io.o $(B)/gen/tiny_model.o $(B)/liblmic.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LMIC_CFLAGS) -Itools $< fuzz/replay.c $(B)/tools/audio_io.o \
	  $(B)/gen/tiny_model.o $(B)/liblmic.a -o $@ $(LDLIBS)
fuzz: $(FUZZ_BIN)
fuzz-run: fuzz $(B)/lmic
	@bash fuzz/run.sh $(B) $(FUZZ_SECONDS) $(FUZZ_NAMES)

# --- sanitizers: the test suite (tests/run.sh) on a build with AddressSanitizer
# and LeakSanitizer (build-asan/), or with UndefinedBehaviorSanitizer, every
# finding fatal (build-ubsan/). SAN_SKIP names suites to leave out (run.sh);
# crossbuild builds and compares its own unsanitized binaries, and is quick
# once `make test` has built them.
ASAN_CFLAGS  := -O1 -g -fsanitize=address -fno-omit-frame-pointer
UBSAN_CFLAGS := -O1 -g -fsanitize=undefined -fno-sanitize-recover=all
SAN_SKIP     ?=
SAN_TARGETS   = $(1)/lmic $(1)/test_lmic $(1)/lmic_index $(FUZZ_NAMES:%=$(1)/fuzz-replay/%)
asan:
	$(MAKE) B=build-asan CFLAGS='$(ASAN_CFLAGS)' $(call SAN_TARGETS,build-asan)
	@env -u MAKEFLAGS -u MAKELEVEL LMIC_SKIP='$(SAN_SKIP)' LMIC_SANITIZER=asan \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99 bash tests/run.sh build-asan
ubsan:
	$(MAKE) B=build-ubsan CFLAGS='$(UBSAN_CFLAGS)' $(call SAN_TARGETS,build-ubsan)
	@env -u MAKEFLAGS -u MAKELEVEL LMIC_SKIP='$(SAN_SKIP)' LMIC_SANITIZER=ubsan \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 bash tests/run.sh build-ubsan

# All tests: unit tests, then the CLI tests. Exits non-zero on any failure.
test: all $(FUZZ_REPLAY) $(B)/lmic_index
	@bash tests/run.sh $(B)

# Longer checks that do not fit CI's budget.
test-long: all $(FUZZ_REPLAY) $(B)/lmic_index
	@LMIC_TEST_LONG=1 bash tests/run.sh $(B)

bench: all
	@bash bench/eval_vs_cli.sh

# Installs the Debian packages lmic needs (run as root, or with sudo).
DEB_PKGS := build-essential pkg-config libsndfile1-dev libflac-dev zlib1g-dev \
            liblzma-dev libpng-dev flac xz-utils gzip python3 \
            clang libomp-14-dev libclang-rt-14-dev time python3-torch python3-numpy \
            wavpack gnuplot-nox
deps:
	@bash .ci/deps.sh $(DEB_PKGS)

clean:
	rm -rf $(B)
