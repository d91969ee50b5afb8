// pred_cmd.c -- `lmic predict-stats`: how small each predictor's residuals
// are on real audio, before any model sees them.
//
// Each file is cut into chunks of N frames; every chunk is predicted alone
// (as the container will) with: no prediction, the best fixed predictor
// (effort fast), fixed or LPC (effort normal), the best cascade (effort
// normal, or one variant), and the chooser's pick at effort high. Two costs per residual, both including the
// predictor's parameter bytes and both in bits per sample:
//   lap  an adaptive Laplace code: per block of 256 residuals, log2(1 + 2e
//        mean|r|) bits each, close to what an adaptive Rice coder spends;
//   ent0 the empirical order-0 entropy of each byte position of the
//        residuals as the model sees them (offset binary, most significant
//        byte first), per chunk: high and low bytes are reported apart too.
// Every residual is restored and compared before it is counted.
#include "pred_cmd.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio_io.h"
#include "cli.h"
#include "lmic.h"

enum { M_NONE, M_FIXED, M_LPC, M_CASC, M_PICK, M_COUNT };
static const char *method_names_[M_COUNT] = {"none", "fixed", "lpc", "cascade", "pick"};

typedef struct {
    double samples, raw_bits;
    double lap[M_COUNT], ent[M_COUNT], ent_hi[M_COUNT], ent_lo[M_COUNT];
    double pick_kind[4];  // channel-chunks the chooser gave each kind
} stats;



// Adaptive Laplace bits of channel c's residuals r ((n, C)).
static double lap_bits_(const int32_t *r, size_t n, int C, int c) {
    double bits = 0;
    for (size_t t0 = 0; t0 < n; t0 += 256) {
        size_t m = n - t0 < 256 ? n - t0 : 256;
        double sum = 0;
        for (size_t t = t0; t < t0 + m; t++) sum += fabs((double)r[t * (size_t)C + (size_t)c]);
        bits += (double)m * log2(1.0 + 2.0 * 2.718281828459045 * sum / (double)m);
    }
    return bits;
}

// Empirical order-0 entropy (bits) of byte position `pos` (0 = most
// significant) of all residuals r ((n, C)) in offset binary.
static double ent_bits_(const int32_t *r, size_t n, int C, int bits, int pos) {
    int nb = (bits + 7) / 8;
    size_t count[256] = {0};
    size_t N = n * (size_t)C;
    uint32_t mask = bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1u;
    for (size_t i = 0; i < N; i++) {
        uint32_t u = ((uint32_t)r[i] + (1u << (bits - 1))) & mask;
        count[(u >> (8 * (nb - 1 - pos))) & 0xFF]++;
    }
    double h = 0;
    for (int v = 0; v < 256; v++)
        if (count[v]) h -= (double)count[v] * log2((double)count[v] / (double)N);
    return h;
}

// Costs of one chunk under pred[C] into slot m of st.
static void measure_(const lmic_pred *pred, const int32_t *x, size_t n, int C, int bits,
                     int32_t *res, int32_t *back, int m, stats *st, const char *name) {
    lmic_status s = lmic_pred_apply(pred, x, n, C, bits, res);
    if (s != LMIC_OK) die_("%s: predict: %s", name, lmic_strerror(s));
    if ((s = lmic_pred_restore(pred, res, n, C, bits, back)) != LMIC_OK)
        die_("%s: restore: %s", name, lmic_strerror(s));
    if (memcmp(x, back, n * (size_t)C * sizeof *x) != 0)
        die_("%s: %s residuals do not restore the samples", name, method_names_[m]);
    lmic_buf b = {0};
    if ((s = lmic_pred_write(pred, C, &b)) != LMIC_OK) die_("%s: %s", name, lmic_strerror(s));
    double param = 8.0 * (double)b.size;
    lmic_buf_free(&b);
    double lap = param;
    for (int c = 0; c < C; c++) lap += lap_bits_(res, n, C, c);
    st->lap[m] += lap;
    int nb = (bits + 7) / 8;
    double ent = param;
    for (int pos = 0; pos < nb; pos++) {
        double h = ent_bits_(res, n, C, bits, pos);
        ent += h;
        if (pos == 0) st->ent_hi[m] += h;
        if (pos == nb - 1) st->ent_lo[m] += h;
    }
    st->ent[m] += ent;
}

static void add_(stats *to, const stats *s) {
    to->samples += s->samples;
    to->raw_bits += s->raw_bits;
    for (int m = 0; m < M_COUNT; m++) {
        to->lap[m] += s->lap[m];
        to->ent[m] += s->ent[m];
        to->ent_hi[m] += s->ent_hi[m];
        to->ent_lo[m] += s->ent_lo[m];
    }
    for (int k = 0; k < 4; k++) to->pick_kind[k] += s->pick_kind[k];
}

static void print_(const char *name, const stats *s) {
    double n = s->samples > 0 ? s->samples : 1;
    printf("%-40s %9.0f", name, s->samples);
    for (int m = 0; m < M_COUNT; m++) printf(" %6.3f", s->lap[m] / n);
    printf(" |");
    for (int m = 0; m < M_COUNT; m++) printf(" %6.3f", s->ent[m] / n);
    double raw = s->raw_bits > 0 ? s->raw_bits : 1;
    printf(" | %6.2f%% %6.2f%%", 100.0 * s->lap[M_PICK] / raw, 100.0 * s->ent[M_PICK] / raw);
    printf("\n");
}

int cmd_predict_stats(int argc, char **argv) {
    size_t chunk = 8192;
    int variant = -1, verbose = 0, files = 0, pick = 1, mid_side = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: lmic predict-stats [--chunk N] [--variant V] [--no-pick] [-v] FILE...\n"
                   "  Bits per sample of each predictor's residuals (see tools/pred_cmd.c):\n"
                   "  none, best fixed (effort fast), best fixed or LPC (normal), best cascade\n"
                   "  (normal; --variant V: that variant, stereo on channels > 0), the\n"
                   "  chooser's pick at effort high (--no-pick: skip it, it is slow); an\n"
                   "  adaptive Laplace estimate (lap) and the order-0 byte entropy (ent0).\n"
                   "  --mid-side: stereo files as mid/side first. -v: per file.\n");
            return 0;
        } else if (!strcmp(a, "--chunk") && i + 1 < argc) {
            chunk = (size_t)parse_int_(a, argv[++i], 1, 1 << 24);
        } else if (!strcmp(a, "--variant") && i + 1 < argc) {
            variant = (int)parse_int_(a, argv[++i], 0, 255);
        } else if (!strcmp(a, "-v")) {
            verbose = 1;
        } else if (!strcmp(a, "--mid-side")) {
            mid_side = 1;
        } else if (!strcmp(a, "--no-pick")) {
            pick = 0;
        } else if (a[0] == '-') {
            die_usage_("predict-stats: unknown option '%s'", a);
        }
    }
    printf("%-40s %9s", "file", "samples");
    for (int k = 0; k < 2; k++) {
        for (int m = 0; m < M_COUNT; m++) printf(" %6.6s", method_names_[m]);
        printf(" |");
    }
    printf(" pick: lap%%  ent0%%\n%-40s %9s %34s | %34s |\n", "", "", "lap bits/sample",
           "ent0 bits/sample");
    stats total = {0};
    lmic_buf data = {0};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-') {
            if (!strcmp(a, "--chunk") || !strcmp(a, "--variant")) i++;  // skip values
            continue;
        }
        files++;
        read_all_(a, &data);
        audio_in au;
        char err[600];
        if (audio_read(data.data, data.size, a, 0, &au, err, sizeof err) != 0) die_("%s", err);
        int C = au.channels, bits = au.bits;
        if (mid_side && C == 2) lmic_pcm_mid_side(au.samples, au.frames, bits, 0);
        size_t maxn = chunk < au.frames ? chunk : au.frames;
        int32_t *res = malloc((maxn ? maxn : 1) * (size_t)C * sizeof *res);
        int32_t *back = malloc((maxn ? maxn : 1) * (size_t)C * sizeof *back);
        lmic_pred *p = malloc((size_t)C * sizeof *p);
        if (!res || !back || !p) die_("out of memory");
        stats st = {0};
        for (size_t t0 = 0; t0 < au.frames; t0 += chunk) {
            size_t n = au.frames - t0 < chunk ? au.frames - t0 : chunk;
            const int32_t *x = au.samples + t0 * (size_t)C;
            st.samples += (double)(n * (size_t)C);
            st.raw_bits += (double)(n * (size_t)C) * 8.0 * ((bits + 7) / 8);
            memset(p, 0, (size_t)C * sizeof *p);
            measure_(p, x, n, C, bits, res, back, M_NONE, &st, a);
            static const lmic_pred_effort eff[4] = {LMIC_PRED_EFFORT_FAST, LMIC_PRED_EFFORT_NORMAL,
                                                    LMIC_PRED_EFFORT_NORMAL, LMIC_PRED_EFFORT_HIGH};
            static const unsigned kinds[4] = {1u << LMIC_PRED_FIXED,
                                              1u << LMIC_PRED_FIXED | 1u << LMIC_PRED_LPC,
                                              1u << LMIC_PRED_CASCADE, ~0u};
            static const int slot[4] = {M_FIXED, M_LPC, M_CASC, M_PICK};
            for (int e = 0; e < 4; e++) {
                if (slot[e] == M_CASC && variant >= 0) continue;
                if (slot[e] == M_PICK && !pick) continue;
                lmic_status s = lmic_pred_choose_among(x, n, C, bits, eff[e], kinds[e], p);
                if (s != LMIC_OK) die_("%s: choose: %s", a, lmic_strerror(s));
                measure_(p, x, n, C, bits, res, back, slot[e], &st, a);
                if (slot[e] == M_PICK)
                    for (int c = 0; c < C; c++) st.pick_kind[p[c].kind & 3] += 1;
            }
            if (variant >= 0) {
                for (int c = 0; c < C; c++) {
                    memset(&p[c], 0, sizeof p[c]);
                    p[c].kind = LMIC_PRED_CASCADE;
                    p[c].order = (uint8_t)variant;
                    p[c].stereo = c > 0;
                }
                measure_(p, x, n, C, bits, res, back, M_CASC, &st, a);
            }
        }
        if (verbose) print_(a, &st);
        add_(&total, &st);
        free(res);
        free(back);
        free(p);
        audio_free(&au);
    }
    lmic_buf_free(&data);
    if (!files) die_usage_("predict-stats needs at least one audio file");
    print_("TOTAL", &total);
    double n = total.samples > 0 ? total.samples : 1;
    printf("ent0 high byte / low byte, bits per sample:");
    for (int m = 0; m < M_COUNT; m++)
        printf(" %s %.3f/%.3f", method_names_[m], total.ent_hi[m] / n, total.ent_lo[m] / n);
    double kinds = total.pick_kind[0] + total.pick_kind[1] + total.pick_kind[2] + total.pick_kind[3];
    printf("\npick: none %.1f%% fixed %.1f%% lpc %.1f%% cascade %.1f%% of channel-chunks\n",
           100 * total.pick_kind[0] / kinds, 100 * total.pick_kind[1] / kinds,
           100 * total.pick_kind[2] / kinds, 100 * total.pick_kind[3] / kinds);
    return 0;
}
