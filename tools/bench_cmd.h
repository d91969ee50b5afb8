// bench_cmd.h -- `lmic bench`: lmic beside flac, wavpack, xz and gzip on the
// same WAV files in the same run, every decode verified before it reports.
#ifndef LMIC_BENCH_CMD_H
#define LMIC_BENCH_CMD_H

// Takes main's argc/argv (argv[1] is the command); returns the exit status.
// Usage errors, a tool that fails and a decode that differs from its WAV
// exit with one line on stderr.
int cmd_bench(int argc, char **argv);

#endif
