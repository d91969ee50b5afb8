// progress.h -- a one-line progress bar with ETA on stderr, only on a terminal.
#ifndef LMIC_PROGRESS_H
#define LMIC_PROGRESS_H

#include <stddef.h>

typedef struct {
    const char *label;
    double total;        // units of work expected (<= 0: unknown)
    double t0, last;     // start time, last redraw
    int active;          // stderr is a terminal and progress is wanted
} progress;

double now_seconds(void);  // monotonic clock
void progress_start(progress *p, const char *label, double total, int enabled);
void progress_update(progress *p, double done);
void progress_end(progress *p);  // clears the line

#endif
