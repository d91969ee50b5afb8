// forward.c -- the model's inference: the whole-sequence forward pass, the
// incremental decoder with its KV cache (the stepper), the position tables,
// and log-probabilities -> the coder's integer CDF.
//
// Everything here is part of the bitstream contract (rule 1): the decoder
// recomputes the encoder's probabilities, so every output float must have
// the same bits whatever the batch size, thread count, path (whole sequence
// or stepper), compiler, flags or CPU. How this file keeps that promise:
//
//  - Per-row kernels (embed_row_, qkv_rows_, attend_, ffn_rows_,
//    output_rows_) compute everything, and both drivers call the same
//    kernels for a row: a position gets the same operations, in the same
//    order, from lmic_model_forward and from lmic_stepper_step.
//  - Every sum is accumulated in one order written in the code (stated at
//    each kernel), independent of how many rows are processed together. Rows
//    and output columns are tiled for speed, but a tile only decides which
//    values are computed side by side, never the order of one value's sum.
//    Vectorisation runs the same IEEE operations in lanes; compilers do not
//    reassociate float sums without -ffast-math (which the Makefile forbids,
//    along with contraction into FMA: -ffp-contract=off).
//  - Threads (OpenMP) only split independent rows; no sum is split.
//  - exp, log and GELU are lmic's own (mathf.h), never libm; sqrtf is an IEEE
//    basic operation (correctly rounded everywhere).
#include <float.h>
#include <math.h>  // sqrtf only
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "mathf.h"
#include "model_internal.h"

// Float expressions must be evaluated in float (not x87 extended precision).
#if FLT_EVAL_METHOD != 0
#error "lmic's bit-exact inference needs FLT_EVAL_METHOD == 0 (e.g. SSE2 on x86)"
#endif

// OpenMP pragmas that vanish (without an unknown-pragma warning) when the
// compiler is not given -fopenmp: the code is then simply serial.
#ifdef _OPENMP
#define OMP_(x) _Pragma(#x)
static int thread_id_(void) { return omp_get_thread_num(); }
#else
#define OMP_(x)
static int thread_id_(void) { return 0; }
#endif

#define V LMIC_VOCAB
#define RB 16             // rows per block: the unit of work of the row kernels
#define KB 64             // keys per tile of the key cache (attend_)
#define MAX_THREADS 256   // more threads than this are not used

// --- dimensions and scratch

typedef struct {
    int C, L, NH, hs, F, S;  // S = context, the most keys a query sees
    int nt;                  // tiles of KB keys in a cache of S keys (attend_)
    int post, rotary;
} dims_;

static void dims_init_(dims_ *d, const lmic_model *m) {
    const lmic_model_config *c = &m->cfg;
    d->C = c->d_model;
    d->L = c->n_layers;
    d->NH = c->n_heads;
    d->hs = c->d_model / c->n_heads;
    d->F = c->d_model * c->widening;
    d->S = c->context;
    d->nt = (c->context + KB - 1) / KB;
    d->post = c->norm == LMIC_NORM_POST;
    d->rotary = c->positions == LMIC_POS_ROTARY;
}

// Working memory of one thread (forward) or one group of rows (stepper) for a
// block of up to RB rows. The forward pass keeps x, q, v and y for all rows
// elsewhere and uses only the rest.
typedef struct {
    float *x;    // (RB, C) residual stream
    float *q;    // (RB, C) queries
    float *k;    // (RB, C) keys, before they go to the cache
    float *v;    // (RB, C) values, idem
    float *y;    // (RB, C) attention output (before Wo)
    float *xn;   // (RB, C) normalised input of a sublayer (pre-LN)
    float *tmp;  // (RB, C) sublayer output
    float *hid;  // (RB, F) feed-forward hidden layer
    float *att;  // (NH, nt * KB) one query row's scores, then probabilities
} scratch_;

// Sizes are rounded up to 16 floats (64 bytes) to keep the arrays aligned.
static size_t up16_(size_t n) { return (n + 15) & ~(size_t)15; }

static size_t scratch_floats_(const dims_ *d) {
    return 7 * up16_((size_t)RB * d->C) + up16_((size_t)RB * d->F) + up16_((size_t)d->NH * d->nt * KB);
}

static float *scratch_point_(scratch_ *s, float *p, const dims_ *d) {
    const size_t rc = up16_((size_t)RB * d->C);
    s->x = p; p += rc;
    s->q = p; p += rc;
    s->k = p; p += rc;
    s->v = p; p += rc;
    s->y = p; p += rc;
    s->xn = p; p += rc;
    s->tmp = p; p += rc;
    s->hid = p; p += up16_((size_t)RB * d->F);
    s->att = p; p += up16_((size_t)d->NH * d->nt * KB);
    return p;
}

// --- kernels

// Float vectors (a GCC/Clang extension) for the hot loops: VW lanes, the
// width of the target's SIMD registers (8 with AVX, else 4). Arithmetic on
// them is elementwise IEEE, the scalar operations lane by lane, so neither
// they nor their width change any bit; they make every compiler, at -O2 too,
// keep running sums in registers, which plain arrays do not get. Unaligned;
// no function takes or returns one (that would tie the ABI to -mavx).
#ifdef __AVX__
#define VW 8
#else
#define VW 4
#endif
typedef float vecf_ __attribute__((vector_size(4 * VW), aligned(4), may_alias));
typedef int32_t veci_ __attribute__((vector_size(4 * VW), aligned(4), may_alias));
#define LD_(p) (*(const vecf_ *)(const void *)(p))
#define ST_(p, x) (*(vecf_ *)(void *)(p) = (x))
// m = lanewise max(m, s) (a NaN in s is skipped).
#define VMAX_(m, s) do { const veci_ gt_ = (s) > (m); \
    (m) = (vecf_)(((veci_)(s) & gt_) | ((veci_)(m) & ~gt_)); } while (0)

// out (n, OUT) = x (n, IN) W (IN, OUT) + b, b NULL for no bias.
// Order, for every element: out[r][o] = b[o] (or 0), then out[r][o] +=
// x[r][i] * W[i][o] for i = 0, 1, ..., IN-1. Rows are taken 4 at a time and
// columns 2 vectors at a time, so that each weight row is read once per 4
// rows and the 8 running sums stay in registers; the tiles only group
// elements. (A vector's lane o computes exactly the scalar loop's element.)
static void matmul_(float *restrict out, const float *restrict x, const float *restrict W,
                    const float *restrict b, int n, int IN, int OUT) {
    const vecf_ zero = {0};
    int r = 0;
    for (; r + 4 <= n; r += 4) {
        const float *x0 = x + (size_t)r * IN, *x1 = x0 + IN, *x2 = x1 + IN, *x3 = x2 + IN;
        float *o0 = out + (size_t)r * OUT, *o1 = o0 + OUT, *o2 = o1 + OUT, *o3 = o2 + OUT;
        int o = 0;
        for (; o + 2 * VW <= OUT; o += 2 * VW) {
            vecf_ a00, a01, a10, a11, a20, a21, a30, a31;
            a00 = a10 = a20 = a30 = b ? LD_(b + o) : zero;
            a01 = a11 = a21 = a31 = b ? LD_(b + o + VW) : zero;
            const float *w = W + o;
            for (int i = 0; i < IN; i++, w += OUT) {
                const vecf_ w0 = LD_(w), w1 = LD_(w + VW);
                a00 += x0[i] * w0;
                a01 += x0[i] * w1;
                a10 += x1[i] * w0;
                a11 += x1[i] * w1;
                a20 += x2[i] * w0;
                a21 += x2[i] * w1;
                a30 += x3[i] * w0;
                a31 += x3[i] * w1;
            }
            ST_(o0 + o, a00);
            ST_(o0 + o + VW, a01);
            ST_(o1 + o, a10);
            ST_(o1 + o + VW, a11);
            ST_(o2 + o, a20);
            ST_(o2 + o + VW, a21);
            ST_(o3 + o, a30);
            ST_(o3 + o + VW, a31);
        }
        for (; o < OUT; o++) {
            float a0, a1, a2, a3;
            a0 = a1 = a2 = a3 = b ? b[o] : 0.0f;
            for (int i = 0; i < IN; i++) {
                const float w = W[(size_t)i * OUT + o];
                a0 += x0[i] * w;
                a1 += x1[i] * w;
                a2 += x2[i] * w;
                a3 += x3[i] * w;
            }
            o0[o] = a0;
            o1[o] = a1;
            o2[o] = a2;
            o3[o] = a3;
        }
    }
    for (; r < n; r++) {  // the last n % 4 rows: one at a time, 4 vectors wide
        const float *x0 = x + (size_t)r * IN;
        float *o0 = out + (size_t)r * OUT;
        int o = 0;
        for (; o + 4 * VW <= OUT; o += 4 * VW) {
            vecf_ a0 = b ? LD_(b + o) : zero, a1 = b ? LD_(b + o + VW) : zero;
            vecf_ a2 = b ? LD_(b + o + 2 * VW) : zero, a3 = b ? LD_(b + o + 3 * VW) : zero;
            const float *w = W + o;
            for (int i = 0; i < IN; i++, w += OUT) {
                a0 += x0[i] * LD_(w);
                a1 += x0[i] * LD_(w + VW);
                a2 += x0[i] * LD_(w + 2 * VW);
                a3 += x0[i] * LD_(w + 3 * VW);
            }
            ST_(o0 + o, a0);
            ST_(o0 + o + VW, a1);
            ST_(o0 + o + 2 * VW, a2);
            ST_(o0 + o + 3 * VW, a3);
        }
        for (; o < OUT; o++) {
            float a = b ? b[o] : 0.0f;
            for (int i = 0; i < IN; i++) a += x0[i] * W[(size_t)i * OUT + o];
            o0[o] = a;
        }
    }
}

// y (C) = LayerNorm(x) (haiku's, eps 1e-5); y may be x.
// mean = (0 + x[0] + x[1] + ...) / C; var = (0 + d[0]^2 + d[1]^2 + ...) / C
// with d = x - mean; y = ((x - mean) * (1 / sqrtf(var + 1e-5))) * g + b.
static void layernorm_(float *y, const float *x, const float *g, const float *b, int C) {
    float s = 0.0f;
    for (int c = 0; c < C; c++) s += x[c];
    const float mean = s / (float)C;
    float ss = 0.0f;
    for (int c = 0; c < C; c++) {
        const float dx = x[c] - mean;
        ss += dx * dx;
    }
    const float var = ss / (float)C;
    const float rstd = 1.0f / sqrtf(var + 1e-5f);
    for (int c = 0; c < C; c++) y[c] = ((x[c] - mean) * rstd) * g[c] + b[c];
}

// x (C) = wte[tok] * sqrtf(C) (+ the sinusoid of position t).
static void embed_row_(const lmic_model *m, const dims_ *d, int tok, int t, float *x) {
    const int C = d->C;
    const float scale = sqrtf((float)C);
    const float *e = m->wte + (size_t)tok * C;
    if (m->pos) {
        const float *p = m->pos + (size_t)t * C;
        for (int c = 0; c < C; c++) x[c] = e[c] * scale + p[c];
    } else {
        for (int c = 0; c < C; c++) x[c] = e[c] * scale;
    }
}

// Rotary position t applied in place to each head of x (C): half-split pairs
// (x[i], x[i + hs/2]) -> (x1 cos - x2 sin, x2 cos + x1 sin).
static void rope_(const lmic_model *m, const dims_ *d, float *x, int t) {
    const int half = d->hs / 2;
    const float *cs = m->rope_cos + (size_t)t * half, *sn = m->rope_sin + (size_t)t * half;
    for (int h = 0; h < d->NH; h++) {
        float *xh = x + h * d->hs;
        for (int i = 0; i < half; i++) {
            const float x1 = xh[i], x2 = xh[i + half];
            xh[i] = x1 * cs[i] - x2 * sn[i];
            xh[i + half] = x2 * cs[i] + x1 * sn[i];
        }
    }
}

// Layer l, first half, for n rows: q, k, v (n, C) from the residual x (n, C)
// (through LN1 when pre-LN), rotated when rotary; pos (n,) gives each row's
// position.
static void qkv_rows_(const lmic_model *m, const dims_ *d, int l, const float *x, int n,
                      const int *pos, float *q, float *k, float *v, scratch_ *sc) {
    const lmic_layer *w = &m->layer[l];
    const int C = d->C;
    const float *in = x;
    if (!d->post) {
        for (int r = 0; r < n; r++)
            layernorm_(sc->xn + (size_t)r * C, x + (size_t)r * C, w->ln1_g, w->ln1_b, C);
        in = sc->xn;
    }
    matmul_(q, in, w->wq, NULL, n, C, C);
    matmul_(k, in, w->wk, NULL, n, C, C);
    matmul_(v, in, w->wv, NULL, n, C, C);
    if (d->rotary) {
        for (int r = 0; r < n; r++) {
            rope_(m, d, q + (size_t)r * C, pos[r]);
            rope_(m, d, k + (size_t)r * C, pos[r]);
        }
    }
}

// Keys are stored for attend_ transposed and tiled: kt (NH, nt, hs, KB) for
// a sequence of up to nt * KB keys, channel i of head h of key j at
// kt[((h * nt + j / KB) * hs + i) * KB + j % KB]. The scores of KB
// consecutive keys then come from one contiguous block of hs * KB floats.
// Writes key k (C,) of position t.
static void put_key_(const dims_ *d, float *kt, int nt, int t, const float *k) {
    const int hs = d->hs;
    for (int h = 0; h < d->NH; h++) {
        float *dst = kt + ((size_t)h * nt + (size_t)(t / KB)) * hs * KB + t % KB;
        for (int i = 0; i < hs; i++) dst[(size_t)i * KB] = k[h * hs + i];
    }
}

// Causal attention of one query row over keys 0..n-1, all heads.
// IN   q (C,): the row's queries (head h is q[h*hs .. h*hs+hs-1]);
//      kt: the sequence's keys as put_key_ stores them, nt >= n / KB tiles;
//      the keys from n to the end of the last tile may hold anything
//      (zeros, stale keys of an earlier sequence): they are read, not used;
//      v (n, C): the values of keys 0..n-1, row stride C.
// OUT  y (C,): the heads' outputs side by side (before Wo).
// Order, per head: score[j] = (0 + q[0] k[0][j] + q[1] k[1][j] + ...) * scale
// with scale = 1 / sqrtf(hs); m = max score; e[j] = exp(score[j] - m);
// sum = 0 + e[0] + e[1] + ... (key order); p[j] = e[j] / sum;
// y[i] = 0 + p[0] v[0][i] + p[1] v[1][i] + ... (key order).
// Scores are computed whole tiles at a time, the keys past n included (they
// cost less than a remainder loop).
static void attend_(const dims_ *d, const float *q, const float *kt, int nt, const float *v, int n,
                    scratch_ *sc, float *y) {
    const int C = d->C, NH = d->NH, hs = d->hs;
    const int nb = (n + KB - 1) / KB * KB;
    const float scale = 1.0f / sqrtf((float)hs);
    const vecf_ zero = {0};
    float *att = sc->att;  // (NH, nb): scores, then probabilities
    for (int h = 0; h < NH; h++) {
        const float *qh = q + h * hs;
        float *a = att + (size_t)h * nb;
        // 8 vectors of keys at a time (KB is a multiple of 8 * VW): enough
        // independent sums to keep the FPU busy. The max (exact, in any
        // order) is taken along, lanewise, over the blocks below n.
        vecf_ m0 = zero - INFINITY, m1 = m0;
        int j = 0;
        for (; j < nb; j += 8 * VW) {
            vecf_ s0 = zero, s1 = zero, s2 = zero, s3 = zero, s4 = zero, s5 = zero, s6 = zero, s7 = zero;
            const float *k = kt + ((size_t)h * nt + (size_t)(j / KB)) * hs * KB + j % KB;
            for (int i = 0; i < hs; i++, k += KB) {
                const float qi = qh[i];
                s0 += qi * LD_(k);
                s1 += qi * LD_(k + VW);
                s2 += qi * LD_(k + 2 * VW);
                s3 += qi * LD_(k + 3 * VW);
                s4 += qi * LD_(k + 4 * VW);
                s5 += qi * LD_(k + 5 * VW);
                s6 += qi * LD_(k + 6 * VW);
                s7 += qi * LD_(k + 7 * VW);
            }
            s0 *= scale, s1 *= scale, s2 *= scale, s3 *= scale;
            s4 *= scale, s5 *= scale, s6 *= scale, s7 *= scale;
            ST_(a + j, s0);
            ST_(a + j + VW, s1);
            ST_(a + j + 2 * VW, s2);
            ST_(a + j + 3 * VW, s3);
            ST_(a + j + 4 * VW, s4);
            ST_(a + j + 5 * VW, s5);
            ST_(a + j + 6 * VW, s6);
            ST_(a + j + 7 * VW, s7);
            if (j + 8 * VW <= n) {
                VMAX_(m0, s0);
                VMAX_(m1, s1);
                VMAX_(m0, s2);
                VMAX_(m1, s3);
                VMAX_(m0, s4);
                VMAX_(m1, s5);
                VMAX_(m0, s6);
                VMAX_(m1, s7);
            }
        }
        VMAX_(m0, m1);
        float mx = m0[0];
        for (int u = 1; u < VW; u++) mx = m0[u] > mx ? m0[u] : mx;
        for (j = n / (8 * VW) * (8 * VW); j < n; j++) mx = a[j] > mx ? a[j] : mx;
        OMP_(omp simd)
        for (j = 0; j < nb; j++) a[j] = lmic_expf_k_(a[j] - mx);
    }
    // Sums in key order, four heads side by side (independent chains), then
    // the division.
    for (int h = 0; h < NH; h += 4) {
        const int g = NH - h < 4 ? NH - h : 4;
        float *a = att + (size_t)h * nb, sum[4];
        if (g == 4) {
            float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
            for (int j = 0; j < n; j++) {
                s0 += a[j];
                s1 += a[nb + j];
                s2 += a[2 * nb + j];
                s3 += a[3 * nb + j];
            }
            sum[0] = s0, sum[1] = s1, sum[2] = s2, sum[3] = s3;
        } else {
            for (int u = 0; u < g; u++) {
                float s = 0.0f;
                for (int j = 0; j < n; j++) s += a[(size_t)u * nb + j];
                sum[u] = s;
            }
        }
        for (int u = 0; u < g; u++) {
            float *au = a + (size_t)u * nb;
            const float su = sum[u];
            OMP_(omp simd)
            for (int j = 0; j < nb; j++) au[j] = au[j] / su;
        }
    }
    // y = p v, 8 vectors of channels at a time, then one; a vector must lie
    // in one head, so head sizes that are not a multiple of VW take the plain
    // loop. Every sum runs over the keys in order.
    int c = 0;
    if (hs % VW == 0) {
        for (; c + 8 * VW <= C; c += 8 * VW) {
            const float *p0 = att + (size_t)(c / hs) * nb, *p1 = att + (size_t)((c + VW) / hs) * nb;
            const float *p2 = att + (size_t)((c + 2 * VW) / hs) * nb;
            const float *p3 = att + (size_t)((c + 3 * VW) / hs) * nb;
            const float *p4 = att + (size_t)((c + 4 * VW) / hs) * nb;
            const float *p5 = att + (size_t)((c + 5 * VW) / hs) * nb;
            const float *p6 = att + (size_t)((c + 6 * VW) / hs) * nb;
            const float *p7 = att + (size_t)((c + 7 * VW) / hs) * nb;
            vecf_ y0 = zero, y1 = zero, y2 = zero, y3 = zero, y4 = zero, y5 = zero, y6 = zero, y7 = zero;
            const float *vj = v + c;
            for (int j = 0; j < n; j++, vj += C) {
                y0 += p0[j] * LD_(vj);
                y1 += p1[j] * LD_(vj + VW);
                y2 += p2[j] * LD_(vj + 2 * VW);
                y3 += p3[j] * LD_(vj + 3 * VW);
                y4 += p4[j] * LD_(vj + 4 * VW);
                y5 += p5[j] * LD_(vj + 5 * VW);
                y6 += p6[j] * LD_(vj + 6 * VW);
                y7 += p7[j] * LD_(vj + 7 * VW);
            }
            ST_(y + c, y0);
            ST_(y + c + VW, y1);
            ST_(y + c + 2 * VW, y2);
            ST_(y + c + 3 * VW, y3);
            ST_(y + c + 4 * VW, y4);
            ST_(y + c + 5 * VW, y5);
            ST_(y + c + 6 * VW, y6);
            ST_(y + c + 7 * VW, y7);
        }
        for (; c + VW <= C; c += VW) {
            const float *p0 = att + (size_t)(c / hs) * nb;
            vecf_ y0 = zero;
            const float *vj = v + c;
            for (int j = 0; j < n; j++, vj += C) y0 += p0[j] * LD_(vj);
            ST_(y + c, y0);
        }
    }
    for (; c < C; c++) {
        const float *p0 = att + (size_t)(c / hs) * nb;
        float yc = 0.0f;
        for (int j = 0; j < n; j++) yc += p0[j] * v[(size_t)j * C + c];
        y[c] = yc;
    }
}

// Layer l, second half, for n rows, in place on the residual x (n, C), given
// the attention outputs y (n, C):
//   post-LN: x = LN1(x + y Wo); x = LN2(x + ffn(x))
//   pre-LN:  x = x + y Wo;      x = x + ffn(LN2(x))
// with ffn(h) = gelu(h W1 + b1) W2 + b2. (x + a is commutative, bit for bit.)
static void ffn_rows_(const lmic_model *m, const dims_ *d, int l, const float *y, float *x, int n,
                      scratch_ *sc) {
    const lmic_layer *w = &m->layer[l];
    const int C = d->C, F = d->F;
    float *tmp = sc->tmp, *hid = sc->hid;
    const size_t nc = (size_t)n * C, nf = (size_t)n * F;
    matmul_(tmp, y, w->wo, NULL, n, C, C);
    for (size_t i = 0; i < nc; i++) tmp[i] = x[i] + tmp[i];
    if (d->post) {
        for (int r = 0; r < n; r++) layernorm_(x + (size_t)r * C, tmp + (size_t)r * C, w->ln1_g, w->ln1_b, C);
    } else {
        memcpy(x, tmp, nc * sizeof *x);
    }
    const float *in = x;
    if (!d->post) {
        for (int r = 0; r < n; r++)
            layernorm_(sc->xn + (size_t)r * C, x + (size_t)r * C, w->ln2_g, w->ln2_b, C);
        in = sc->xn;
    }
    matmul_(hid, in, w->w1, w->b1, n, C, F);
    OMP_(omp simd)
    for (size_t i = 0; i < nf; i++) hid[i] = lmic_geluf_(hid[i]);
    matmul_(tmp, hid, w->w2, w->b2, n, F, C);
    for (size_t i = 0; i < nc; i++) tmp[i] = x[i] + tmp[i];
    if (d->post) {
        for (int r = 0; r < n; r++) layernorm_(x + (size_t)r * C, tmp + (size_t)r * C, w->ln2_g, w->ln2_b, C);
    } else {
        memcpy(x, tmp, nc * sizeof *x);
    }
}

// logp (V) = log_softmax(l) in place: m = max; s = 0 + e^(l[0]-m) + e^(l[1]-m)
// + ... (index order); logp[v] = (l[v] - m) - log(s).
static void log_softmax_(float *l) {
    float e[V];
    float mx = l[0];
    for (int i = 1; i < V; i++) mx = l[i] > mx ? l[i] : mx;
    OMP_(omp simd)
    for (int i = 0; i < V; i++) e[i] = lmic_expf_k_(l[i] - mx);
    float s = 0.0f;
    for (int i = 0; i < V; i++) s += e[i];
    const float ls = lmic_logf(s);
    for (int i = 0; i < V; i++) l[i] = (l[i] - mx) - ls;
}

// The head, for n rows: logp (n, V) = log_softmax((LNf(x) or x) Wout + bout).
static void output_rows_(const lmic_model *m, const dims_ *d, const float *x, int n, scratch_ *sc,
                         float *logp) {
    const int C = d->C;
    const float *in = x;
    if (!d->post) {
        for (int r = 0; r < n; r++)
            layernorm_(sc->xn + (size_t)r * C, x + (size_t)r * C, m->lnf_g, m->lnf_b, C);
        in = sc->xn;
    }
    matmul_(logp, in, m->wout, m->bout, n, C, V);
    for (int r = 0; r < n; r++) log_softmax_(logp + (size_t)r * V);
}

// --- the whole-sequence forward pass

lmic_status lmic_model_forward(const lmic_model *m, const uint8_t *tokens, int B, int T,
                               int threads, float *logp) {
    if (!m || !tokens || !logp || B < 1 || T < 1 || T > m->cfg.context || threads < 1)
        return LMIC_ERR_ARG;
    dims_ d;
    dims_init_(&d, m);
    const int C = d.C;
    const size_t N = (size_t)B * T;
    const int64_t nblk = (int64_t)((N + RB - 1) / RB);
    int nth = threads < MAX_THREADS ? threads : MAX_THREADS;
    if ((size_t)nth > N) nth = (int)N;

    // One allocation: x, q, v, y (N, C); kt (B, C, Tp) (put_key_'s layout,
    // Tp = T rounded up to KB, zeroed); a scratch per thread.
    const int nt = (T + KB - 1) / KB;
    const size_t Tp = (size_t)nt * KB;
    if (N > SIZE_MAX / sizeof(float) / 16 / (size_t)C) return LMIC_ERR_NOMEM;
    const size_t nc = up16_(N * C), nk = (size_t)B * C * Tp, per = scratch_floats_(&d);
    float *mem = malloc((4 * nc + nk + (size_t)nth * per) * sizeof *mem);
    scratch_ *scr = malloc((size_t)nth * sizeof *scr);
    if (!mem || !scr) {
        free(mem);
        free(scr);
        return LMIC_ERR_NOMEM;
    }
    float *x = mem, *q = x + nc, *v = q + nc, *y = v + nc, *kt = y + nc;
    memset(kt, 0, nk * sizeof *kt);
    float *p = kt + nk;
    for (int i = 0; i < nth; i++) p = scratch_point_(&scr[i], p, &d);

    OMP_(omp parallel num_threads(nth) if (nth > 1))
    {
        scratch_ *sc = &scr[thread_id_()];
        // Row r = b*T + t reads token t-1 of sequence b (BOS 0 at t = 0).
        OMP_(omp for schedule(static))
        for (int64_t r = 0; r < (int64_t)N; r++) {
            const int t = (int)(r % T);
            embed_row_(m, &d, t ? tokens[r - 1] : 0, t, x + (size_t)r * C);
        }
        for (int l = 0; l < d.L; l++) {
            OMP_(omp for schedule(static))
            for (int64_t blk = 0; blk < nblk; blk++) {
                const size_t r0 = (size_t)blk * RB;
                const int n = (int)(N - r0 < RB ? N - r0 : RB);
                int pos[RB];
                for (int i = 0; i < n; i++) pos[i] = (int)((r0 + i) % T);
                qkv_rows_(m, &d, l, x + r0 * C, n, pos, q + r0 * C, sc->k, v + r0 * C, sc);
                for (int i = 0; i < n; i++) {  // keys into kt[b], transposed
                    const size_t b = (r0 + i) / T;
                    put_key_(&d, kt + b * C * Tp, nt, pos[i], sc->k + (size_t)i * C);
                }
            }
            // Row t attends over keys 0..t; the cost grows with t, so rows
            // are dealt out in small chunks.
            OMP_(omp for schedule(dynamic, 8))
            for (int64_t r = 0; r < (int64_t)N; r++) {
                const size_t b = (size_t)r / T;
                const int t = (int)(r % T);
                attend_(&d, q + (size_t)r * C, kt + b * C * Tp, nt, v + b * T * C, t + 1, sc,
                        y + (size_t)r * C);
            }
            OMP_(omp for schedule(static))
            for (int64_t blk = 0; blk < nblk; blk++) {
                const size_t r0 = (size_t)blk * RB;
                const int n = (int)(N - r0 < RB ? N - r0 : RB);
                ffn_rows_(m, &d, l, y + r0 * C, x + r0 * C, n, sc);
            }
        }
        OMP_(omp for schedule(static))
        for (int64_t blk = 0; blk < nblk; blk++) {
            const size_t r0 = (size_t)blk * RB;
            const int n = (int)(N - r0 < RB ? N - r0 : RB);
            output_rows_(m, &d, x + r0 * C, n, sc, logp + r0 * V);
        }
    }
    free(scr);
    free(mem);
    return LMIC_OK;
}

// --- the stepper: incremental decoding with a KV cache

// Rows are split into groups of at most RB, one group per task; a group runs
// the whole network for its rows, so a step needs no barrier between layers.
struct lmic_stepper {
    const lmic_model *m;
    dims_ d;
    int B, pos;
    int ngroups_max;  // scratches: one per group of >= 4 rows
    float *mem;       // one allocation: the caches and the scratches
    float *kc;        // (L, B, C * nt * KB) keys, as put_key_ stores them
    float *vc;        // (L, B, S, C) values
    scratch_ *sc;     // (ngroups_max,)
};

lmic_stepper *lmic_stepper_new(const lmic_model *m, int B) {
    if (!m || B < 1) return NULL;
    lmic_stepper *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->m = m;
    dims_init_(&s->d, m);
    s->B = B;
    s->ngroups_max = (B + 3) / 4;
    const dims_ *d = &s->d;
    const size_t per_b = (size_t)d->L * d->C * d->nt * KB;  // floats of kc per sequence (>= vc's)
    if ((size_t)B > SIZE_MAX / sizeof(float) / 4 / per_b) goto fail;
    const size_t nk = up16_(per_b * B), nv = up16_((size_t)d->L * B * d->S * d->C);
    // Zeroed (calloc: pages the system zeroes on first touch), as attend_
    // reads, and ignores, the keys past the position.
    s->mem = calloc(nk + nv + (size_t)s->ngroups_max * scratch_floats_(d), sizeof(float));
    s->sc = malloc((size_t)s->ngroups_max * sizeof *s->sc);
    if (!s->mem || !s->sc) goto fail;
    s->kc = s->mem;
    s->vc = s->kc + nk;
    float *p = s->vc + nv;
    for (int g = 0; g < s->ngroups_max; g++) p = scratch_point_(&s->sc[g], p, d);
    return s;
fail:
    lmic_stepper_free(s);
    return NULL;
}

void lmic_stepper_free(lmic_stepper *s) {
    if (!s) return;
    free(s->mem);
    free(s->sc);
    free(s);
}

void lmic_stepper_reset(lmic_stepper *s) {
    if (s) s->pos = 0;
}

int lmic_stepper_pos(const lmic_stepper *s) { return s ? s->pos : 0; }

// One step for rows r0 .. r0+n-1 (n <= RB): the operations lmic_model_forward
// performs for these rows at position s->pos.
static void step_rows_(lmic_stepper *s, int r0, int n, const uint8_t *prev, float *logp,
                       scratch_ *sc) {
    const lmic_model *m = s->m;
    const dims_ *d = &s->d;
    const int C = d->C, S = d->S, nt = d->nt, t = s->pos;
    int pos[RB];
    for (int i = 0; i < n; i++) {
        pos[i] = t;
        embed_row_(m, d, t ? prev[r0 + i] : 0, t, sc->x + (size_t)i * C);
    }
    for (int l = 0; l < d->L; l++) {
        qkv_rows_(m, d, l, sc->x, n, pos, sc->q, sc->k, sc->v, sc);
        for (int i = 0; i < n; i++) {
            const size_t lb = (size_t)l * s->B + (size_t)(r0 + i);
            float *kb = s->kc + lb * C * nt * KB, *vb = s->vc + lb * S * C;
            put_key_(d, kb, nt, t, sc->k + (size_t)i * C);
            memcpy(vb + (size_t)t * C, sc->v + (size_t)i * C, (size_t)C * sizeof *vb);
            attend_(d, sc->q + (size_t)i * C, kb, nt, vb, t + 1, sc, sc->y + (size_t)i * C);
        }
        ffn_rows_(m, d, l, sc->y, sc->x, n, sc);
    }
    output_rows_(m, d, sc->x, n, sc, logp + (size_t)r0 * V);
}

lmic_status lmic_stepper_step(lmic_stepper *s, const uint8_t *prev, int threads, float *logp) {
    if (!s || !logp || threads < 1 || (s->pos > 0 && !prev)) return LMIC_ERR_ARG;
    if (s->pos >= s->d.S) return LMIC_ERR_ARG;  // the context is full
    // Group size: the rows shared out over the threads, in multiples of 4
    // (the matmul's row tile), at most RB.
    const int B = s->B;
    int per = (B + threads - 1) / threads;
    per = (per + 3) / 4 * 4;
    if (per > RB) per = RB;
    const int ngroups = (B + per - 1) / per;  // <= ngroups_max, as per >= 4
    const int nth = threads < ngroups ? threads : ngroups;
    OMP_(omp parallel for num_threads(nth) schedule(static) if (nth > 1))
    for (int g = 0; g < ngroups; g++) {
        const int r0 = g * per, n = B - r0 < per ? B - r0 : per;
        step_rows_(s, r0, n, prev, logp, &s->sc[g]);
    }
    s->pos++;
    return LMIC_OK;
}

// --- position tables

lmic_status lmic_model_tables_(lmic_model *m) {
    const lmic_model_config *c = &m->cfg;
    const int C = c->d_model, S = c->context;
    const double ln1e4 = 0x1.26bb1bbb55516p+3;  // log(10000), correctly rounded
    free(m->pos);
    free(m->rope_cos);
    free(m->rope_sin);
    m->pos = m->rope_cos = m->rope_sin = NULL;
    if (c->positions == LMIC_POS_SINUSOIDAL) {
        // The reference's sinusoid_position_encoding, quirk included:
        // freqs = 0, 2, ..., C (C/2 + 1 of them), inv[k] = 1e4^(-2k/C); the
        // table is concat(sin(t inv), cos(t inv))[:, :C], so columns
        // 0..C/2 are sines and the remaining C/2 - 1 are cosines of the
        // first frequencies. Computed in double, then rounded to float.
        const int nf = C / 2 + 1;
        double *inv = malloc((size_t)nf * sizeof *inv);
        m->pos = malloc((size_t)S * C * sizeof *m->pos);
        if (!inv || !m->pos) {
            free(inv);
            free(m->pos);
            m->pos = NULL;
            return LMIC_ERR_NOMEM;
        }
        for (int k = 0; k < nf; k++) inv[k] = lmic_exp_((double)(-2 * k) / (double)C * ln1e4);
        for (int t = 0; t < S; t++) {
            for (int j = 0; j < C; j++) {
                const double a = (double)t * inv[j < nf ? j : j - nf];
                m->pos[(size_t)t * C + j] = (float)(j < nf ? lmic_sin_(a) : lmic_cos_(a));
            }
        }
        free(inv);
    } else {
        // Rotary: theta_i = 1e4^(-2i/hs), i < hs/2; tables of cos and sin of
        // t * theta_i, computed in double, rounded to float.
        const int hs = C / c->n_heads, half = hs / 2;
        m->rope_cos = malloc((size_t)S * half * sizeof(float));
        m->rope_sin = malloc((size_t)S * half * sizeof(float));
        if (!m->rope_cos || !m->rope_sin) {
            free(m->rope_cos);
            free(m->rope_sin);
            m->rope_cos = m->rope_sin = NULL;
            return LMIC_ERR_NOMEM;
        }
        for (int i = 0; i < half; i++) {
            const double theta = lmic_exp_((-2.0 * i) / (double)hs * ln1e4);
            for (int t = 0; t < S; t++) {
                const double a = (double)t * theta;
                m->rope_cos[(size_t)t * half + i] = (float)lmic_cos_(a);
                m->rope_sin[(size_t)t * half + i] = (float)lmic_sin_(a);
            }
        }
    }
    return LMIC_OK;
}

// --- probabilities -> integer CDF

uint32_t lmic_cdf_from_logp(const float *logp, uint32_t *cdf) {
    const float scale = (float)LMIC_CDF_SCALE, top = (float)LMIC_CDF_SCALE;
    float f[V];
    OMP_(omp simd)
    for (int i = 0; i < V; i++) {
        float p = lmic_expf_k_(logp[i]) * scale;  // exact: scale is a power of 2
        p = p >= 0.0f ? p : 0.0f;                 // (a NaN becomes 0)
        f[i] = p < top ? p : top;
    }
    cdf[0] = 0;
    for (int i = 0; i < V; i++) cdf[i + 1] = cdf[i] + 1u + (uint32_t)f[i];
    return cdf[V];
}
