// codec_cmd.h -- `lmic compress`, `decompress`, `test` and `info`: audio
// files <-> .lmic files (docs/format.md).
#ifndef LMIC_CODEC_CMD_H
#define LMIC_CODEC_CMD_H

#include "lmic.h"

// Each takes main's argc/argv (argv[1] is the command) and returns the exit
// status; usage errors and failures exit with one line on stderr.
int cmd_compress(int argc, char **argv);
int cmd_decompress(int argc, char **argv);  // also `test` (argv[1] == "test")
int cmd_info(int argc, char **argv);

// The model built into the binary (models/default.lmm): loaded on first use,
// or exits with one line. *name receives its description.
const lmic_model *default_model(const char **name);

// compress's defaults (lmic.c's usage text prints them).
#define CODEC_DEFAULT_CHUNK 262144  // frames per chunk: each chunk restarts the adaptive stages
                                    // (README, "Choices measured on dev": longer chunks code
                                    // smaller, shorter ones let more threads share a file)
#define CODEC_DEFAULT_WINDOW 256    // tokens the model reads at a time (at most)

// The tokens the model reads at a time for frames of fb bytes (fb <= ctx):
// `want` (0: the default, 256 or the context if smaller), cut to whole frames
// but at least one.
size_t model_window(int ctx, size_t want, size_t fb);

#endif
