// cli.h -- what the lmic commands share: dying with one line, integer
// options, output files that appear only when complete, model loading.
#ifndef LMIC_CLI_H
#define LMIC_CLI_H

#include <stdio.h>

#include "lmic.h"
#include "loaders.h"

// "lmic: error: ..." on stderr and exit 1 (die) or 2 (usage error, with a
// pointer to --help).
void die_(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void die_usage_(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

// An option written "--name=value": copies the name into buf (cap bytes),
// points *a at it and returns the value. Anything else: NULL, *a unchanged.
const char *split_option_(const char **a, char *buf, size_t cap);

// s as an integer in [lo, hi]; a usage error names `opt` otherwise.
long long parse_int_(const char *opt, const char *s, long long lo, long long hi);

// The values of --layout (interleave | planar | channel:N) and --stereo
// (ms | lr), shared by every command that tokenises audio; usage error else.
void parse_layout_(const char *opt, const char *v, lmic_layout *layout, int *channel);
int parse_stereo_(const char *v);  // returns mid_side
// The data options every command that reads data shares (--data, --path,
// --chunk-size, --num-chunks, --keep-partial, --depth, --layout, --stereo,
// --predict). If `a` is one of them, applies it to *lo and returns 1; its
// value is `val` (given as --name=val) or else the next argument, argv[*i +
// 1] (then *i advances). Returns 0 for any other option. Usage errors die.
int parse_loader_option_(const char *a, const char *val, int argc, char **argv, int *i,
                         loader_opts *lo);
// --predict none | fast | normal | high -> -1 or an lmic_pred_effort.
int parse_predict_(const char *v);

// --positions (sinusoidal | rotary) and --norm (post | pre), for model options.
int parse_positions_(const char *v);
int parse_norm_(const char *v);

// The shape of a new model: a preset, then any of its fields overridden
// (--preset, --d-model, --layers, --heads, --widening, --context,
// --positions, --norm). model_shape_init_ gives "the 200k preset".
typedef struct {
    const char *preset;
    int d_model, layers, heads, widening, context;
    int positions, norm;  // -1: the preset's
    int given;            // some option was given
} model_shape;
void model_shape_init_(model_shape *s);
// Like parse_loader_option_, for the options above.
int parse_model_option_(const char *a, const char *val, int argc, char **argv, int *i, model_shape *s);
// The configuration; dies with a usage error if it is not valid.
lmic_model_config model_shape_config_(const model_shape *s);

// Output files: written to PATH.tmp-XXXXXX and renamed into place only when
// complete, so a failure never leaves a partial file ("-" = stdout).
typedef struct {
    FILE *f;
    const char *path;
    char tmp[4200];
    int is_stdout;
} out_file;

// Opens; dies if `path` exists and !force, or cannot be created.
void out_open_(out_file *o, const char *path, int force);
// Removes the temporary file after a failure.
void out_abort_(out_file *o);
// Flushes, closes and renames into place; on failure dies with the reason.
void out_commit_(out_file *o);

// Reads a whole file (or standard input for "-") into b; dies on failure.
void read_all_(const char *path, lmic_buf *b);

// Reads and loads a model file; exits with one line on any failure. *f16
// (may be NULL) says whether it stores float16.
lmic_model *load_model_(const char *path, int *f16);
// A one-line reason for a failed lmic_model_load.
const char *model_error_(lmic_status st);

#endif
