// progress.c -- the progress bar: redrawn at most 10 times a second, to stderr,
// and only when stderr is a terminal (never into logs or pipes).
#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_start(progress *p, const char *label, double total, int enabled) {
    p->label = label;
    p->total = total;
    p->t0 = now_seconds();
    p->last = 0;
    p->active = enabled && isatty(2);
}

void progress_update(progress *p, double done) {
    if (!p->active) return;
    double t = now_seconds();
    if (t - p->last < 0.1) return;
    p->last = t;
    double el = t - p->t0;
    if (p->total > 0) {
        double f = done / p->total;
        if (f > 1) f = 1;
        int w = 30, k = (int)(f * w);
        char bar[31];
        for (int i = 0; i < w; i++) bar[i] = i < k ? '#' : '.';
        bar[w] = 0;
        double eta = f > 0 ? el * (1 - f) / f : 0;
        fprintf(stderr, "\r%-12s [%s] %5.1f%%  %.0fs elapsed, ETA %.0fs ", p->label, bar,
                100 * f, el, eta);
    } else {
        fprintf(stderr, "\r%-12s %.0f done, %.0fs elapsed ", p->label, done, el);
    }
    fflush(stderr);
}

void progress_end(progress *p) {
    if (!p->active) return;
    fprintf(stderr, "\r%80s\r", "");
    fflush(stderr);
}
