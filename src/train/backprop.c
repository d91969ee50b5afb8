// backprop.c -- the model's training forward pass, which keeps its
// activations, and the backward pass, llm.c-style: one allocation for the
// activations, one for the activation gradients and scratch, carved into
// named pointers; one kernel per operation, forward and backward side by side.
//
// The forward pass performs the operations of src/forward.c in the same order
// (matmul sums from the bias over the inputs in order, the same LayerNorm,
// attention, GELU and log-softmax with lmic's own exp and log), so its
// log-probabilities are those of lmic_model_forward (tests/test_train.c
// checks the loss).
//
// Determinism (issue 6 needs bit-identical training): threads only ever split
// independent outputs. Every sum -- a weight gradient over the B*T rows, a
// bias gradient, a key's gradient over the queries that saw it -- runs in one
// order written in the code, whatever the thread count; vectors run lanes of
// independent outputs, never a horizontal sum. So the gradients, and the
// weights after any number of steps, have the same bits for 1 or N threads.
//
// Attention keeps no (T, T) matrix: the backward pass recomputes each row's
// probabilities with the forward's own function (same bits), so memory grows
// with T, not T^2, and 2048-byte sequences fit.
#include <float.h>
#include <math.h>  // sqrtf only
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../mathf.h"
#include "train_internal.h"

#if FLT_EVAL_METHOD != 0
#error "lmic's deterministic training needs FLT_EVAL_METHOD == 0 (e.g. SSE2 on x86)"
#endif

#ifdef _OPENMP
#define OMP_(x) _Pragma(#x)
static int tid_(void) { return omp_get_thread_num(); }
static int nthr_(void) { return omp_get_num_threads(); }
#else
#define OMP_(x)
static int tid_(void) { return 0; }
static int nthr_(void) { return 1; }
#endif

#define V LMIC_VOCAB
#define NB 64  // rows per block of the weight-gradient kernel (cache blocking)

// Float vectors as in forward.c: lanes are independent elements, so the
// width changes no bit.
#if defined(__AVX512F__)
#define VW 16
#elif defined(__AVX__)
#define VW 8
#else
#define VW 4
#endif
typedef float vecf_ __attribute__((vector_size(4 * VW), aligned(4), may_alias));
#define LD_(p) (*(const vecf_ *)(const void *)(p))
#define ST_(p, x) (*(vecf_ *)(void *)(p) = (x))
typedef int32_t veci_ __attribute__((vector_size(4 * VW), aligned(4), may_alias));
// m = lanewise max(m, s), with masks (C has no vector ?:)
#define VMAX_(m, s) do { const veci_ gt_ = (s) > (m); \
    (m) = (vecf_)(((veci_)(s) & gt_) | ((veci_)(m) & ~gt_)); } while (0)
#define KG (4 * VW)  // keys per group of the attention kernels
#define RBLK 4      // query rows per block of the attention kernels

typedef struct {
    float *lnA, *lnA_mean, *lnA_rstd;  // (N, C), (N), (N): the norm with ln1's parameters
    float *qkv;                        // (N, 3C) q | k | v, q and k rotated when rotary
    float *y;                          // (N, C) attention output, before Wo
    float *res1;                       // (N, C) x_in + y Wo
    float *lnB, *lnB_mean, *lnB_rstd;  // (N, C), (N), (N): the norm with ln2's parameters
    float *hpre, *h;                   // (N, F) feed-forward hidden, before and after GELU
    float *res2;                       // (N, C) ffn input + ffn output
} layer_act_;

struct bp_ctx {
    int B, T, C, L, NH, hs, F, post, rotary, nth, Tp;
    size_t N;                       // B * T rows
    float *act;                     // one allocation: the activations below
    float *x0;                      // (N, C) embedded input
    layer_act_ a[LMIC_MAX_LAYERS];
    float *lnf, *lnf_mean, *lnf_rstd;  // (N, C), (N), (N) pre-LN only
    float *logits;                  // (N, V) logits -> log-probs -> d loss / d logits
    float *nll;                     // (N,)
    float *mem;                     // one allocation: gradients of activations and scratch
    float *dX, *dR, *dA, *dY;       // (N, C)
    float *dH;                      // (N, F)
    float *dqkv;                    // (N, 3C)
    float *wqkv;                    // (C, 3C) wq | wk | wv side by side
    float *wt;                      // a transposed weight, up to (max(3C, F, V), max(C, F))
    float *att;                     // (nth, att_per) attention scratch per thread
    size_t att_per;
    uint8_t *inp, *tgt;             // (N,) input tokens (shifted, BOS 0), targets
};

static size_t up16_(size_t n) { return (n + 15) & ~(size_t)15; }

// --- setup

lmic_status bp_new_(const lmic_model_config *cfg, int B, int T, int nth, bp_ctx **out) {
    *out = NULL;
    if (lmic_model_config_check(cfg) != LMIC_OK || B < 1 || T < 1 || T > cfg->context || nth < 1)
        return LMIC_ERR_ARG;
    bp_ctx *c = calloc(1, sizeof *c);
    if (!c) return LMIC_ERR_NOMEM;
    c->B = B, c->T = T, c->C = cfg->d_model, c->L = cfg->n_layers, c->NH = cfg->n_heads;
    c->hs = c->C / c->NH, c->F = c->C * cfg->widening;
    c->post = cfg->norm == LMIC_NORM_POST, c->rotary = cfg->positions == LMIC_POS_ROTARY;
    c->nth = nth;
    c->N = (size_t)B * T;
    c->Tp = (T + KG - 1) / KG * KG;
    const size_t N = c->N, C = (size_t)c->C, F = (size_t)c->F, L = (size_t)c->L;
    if (N > SIZE_MAX / sizeof(float) / 64 / (F + V)) { free(c); return LMIC_ERR_NOMEM; }
    const size_t nc = up16_(N * C), nn = up16_(N), nf = up16_(N * F);
    // activations
    size_t per_layer = 5 * nc + up16_(N * 3 * C) + 4 * nn + 2 * nf;
    size_t na = nc + L * per_layer + nc + 2 * nn + up16_(N * V) + nn;
    c->act = malloc(na * sizeof(float));
    // gradients and scratch
    size_t wmax = (3 * C > F ? 3 * C : F) > V ? (3 * C > F ? 3 * C : F) : V;
    wmax *= C > F ? C : F;
    c->att_per = 4 * up16_((size_t)c->hs * c->Tp) + 2 * RBLK * up16_((size_t)c->Tp);
    size_t ng = 4 * nc + nf + up16_(N * 3 * C) + up16_(C * 3 * C) + up16_(wmax) + (size_t)nth * c->att_per;
    c->mem = malloc(ng * sizeof(float));
    c->inp = malloc(2 * N);
    if (!c->act || !c->mem || !c->inp) { bp_free_(c); return LMIC_ERR_NOMEM; }
    // Touch every page now, so that the first step does not pay the page
    // faults (and so that a machine short of memory fails here, not later).
    memset(c->act, 0, na * sizeof(float));
    memset(c->mem, 0, ng * sizeof(float));
    c->tgt = c->inp + N;
    float *p = c->act;
    c->x0 = p; p += nc;
    for (size_t l = 0; l < L; l++) {
        layer_act_ *a = &c->a[l];
        a->lnA = p; p += nc;
        a->lnA_mean = p; p += nn;
        a->lnA_rstd = p; p += nn;
        a->qkv = p; p += up16_(N * 3 * C);
        a->y = p; p += nc;
        a->res1 = p; p += nc;
        a->lnB = p; p += nc;
        a->lnB_mean = p; p += nn;
        a->lnB_rstd = p; p += nn;
        a->hpre = p; p += nf;
        a->h = p; p += nf;
        a->res2 = p; p += nc;
    }
    c->lnf = p; p += nc;
    c->lnf_mean = p; p += nn;
    c->lnf_rstd = p; p += nn;
    c->logits = p; p += up16_(N * V);
    c->nll = p; p += nn;
    p = c->mem;
    c->dX = p; p += nc;
    c->dR = p; p += nc;
    c->dA = p; p += nc;
    c->dY = p; p += nc;
    c->dH = p; p += nf;
    c->dqkv = p; p += up16_(N * 3 * C);
    c->wqkv = p; p += up16_(C * 3 * C);
    c->wt = p; p += up16_(wmax);
    c->att = p;
    *out = c;
    return LMIC_OK;
}

void bp_free_(bp_ctx *c) {
    if (!c) return;
    free(c->act);
    free(c->mem);
    free(c->inp);
    free(c);
}

// --- matmul: forward, input gradient (through a transposed weight), weight gradient

// Rows r0..r0+n-1 of out (stride ldo) = init + x (stride ldx) W (IN, OUT; stride ldw).
// Order, per element: init = b[o] (b given) or out's value (acc) or 0, then
// += x[r][i] * W[i][o] for i = 0 .. IN-1: forward.c's matmul_ order.
// Tiles of 4 rows by 2 vectors keep 8 running sums in registers.
static void mm_tile_(float *restrict out, int ldo, const float *restrict x, int ldx,
                     const float *restrict W, int ldw, const float *restrict b, int acc, int n,
                     int IN, int OUT) {
    const vecf_ zero = {0};
    int r = 0;
    for (; r + 4 <= n; r += 4) {
        const float *x0 = x + (size_t)r * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
        float *o0 = out + (size_t)r * ldo, *o1 = o0 + ldo, *o2 = o1 + ldo, *o3 = o2 + ldo;
        int o = 0;
        for (; o + 4 * VW <= OUT; o += 4 * VW) {  // 4 rows x 4 vectors: 16 sums in registers
            vecf_ a[4][4];
            float *const op[4] = {o0, o1, o2, o3};
            const float *const xp[4] = {x0, x1, x2, x3};
            for (int u = 0; u < 4; u++)
                for (int k = 0; k < 4; k++)
                    a[u][k] = acc ? LD_(op[u] + o + k * VW) : b ? LD_(b + o + k * VW) : zero;
            const float *w = W + o;
            for (int i = 0; i < IN; i++, w += ldw) {
                const vecf_ w0 = LD_(w), w1 = LD_(w + VW), w2 = LD_(w + 2 * VW), w3 = LD_(w + 3 * VW);
                for (int u = 0; u < 4; u++) {
                    const float xu = xp[u][i];
                    a[u][0] += xu * w0;
                    a[u][1] += xu * w1;
                    a[u][2] += xu * w2;
                    a[u][3] += xu * w3;
                }
            }
            for (int u = 0; u < 4; u++)
                for (int k = 0; k < 4; k++) ST_(op[u] + o + k * VW, a[u][k]);
        }
        for (; o + 2 * VW <= OUT; o += 2 * VW) {
            vecf_ a00, a01, a10, a11, a20, a21, a30, a31;
            if (acc) {
                a00 = LD_(o0 + o), a01 = LD_(o0 + o + VW), a10 = LD_(o1 + o), a11 = LD_(o1 + o + VW);
                a20 = LD_(o2 + o), a21 = LD_(o2 + o + VW), a30 = LD_(o3 + o), a31 = LD_(o3 + o + VW);
            } else {
                a00 = a10 = a20 = a30 = b ? LD_(b + o) : zero;
                a01 = a11 = a21 = a31 = b ? LD_(b + o + VW) : zero;
            }
            const float *w = W + o;
            for (int i = 0; i < IN; i++, w += ldw) {
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
            if (acc) a0 = o0[o], a1 = o1[o], a2 = o2[o], a3 = o3[o];
            else a0 = a1 = a2 = a3 = b ? b[o] : 0.0f;
            for (int i = 0; i < IN; i++) {
                const float w = W[(size_t)i * ldw + o];
                a0 += x0[i] * w;
                a1 += x1[i] * w;
                a2 += x2[i] * w;
                a3 += x3[i] * w;
            }
            o0[o] = a0, o1[o] = a1, o2[o] = a2, o3[o] = a3;
        }
    }
    for (; r < n; r++) {
        const float *x0 = x + (size_t)r * ldx;
        float *o0 = out + (size_t)r * ldo;
        int o = 0;
        for (; o + 2 * VW <= OUT; o += 2 * VW) {
            vecf_ a0 = acc ? LD_(o0 + o) : b ? LD_(b + o) : zero;
            vecf_ a1 = acc ? LD_(o0 + o + VW) : b ? LD_(b + o + VW) : zero;
            const float *w = W + o;
            for (int i = 0; i < IN; i++, w += ldw) {
                a0 += x0[i] * LD_(w);
                a1 += x0[i] * LD_(w + VW);
            }
            ST_(o0 + o, a0);
            ST_(o0 + o + VW, a1);
        }
        for (; o < OUT; o++) {
            float a = acc ? o0[o] : b ? b[o] : 0.0f;
            for (int i = 0; i < IN; i++) a += x0[i] * W[(size_t)i * ldw + o];
            o0[o] = a;
        }
    }
}

// All N rows, in blocks of 16 rows shared out over the threads.
static void mm_(const bp_ctx *c, float *out, int ldo, const float *x, int ldx, const float *W,
                int ldw, const float *b, int acc, size_t N, int IN, int OUT) {
    const int64_t nblk = (int64_t)((N + 15) / 16);
    OMP_(omp parallel for num_threads(c->nth) schedule(static) if (c->nth > 1))
    for (int64_t k = 0; k < nblk; k++) {
        const size_t r0 = (size_t)k * 16;
        const int n = (int)(N - r0 < 16 ? N - r0 : 16);
        mm_tile_(out + r0 * ldo, ldo, x + r0 * ldx, ldx, W, ldw, b, acc, n, IN, OUT);
    }
}

// wt (OUT, IN) = W (IN, OUT; stride ldw) transposed, so that an input
// gradient dX = dY W^T is a plain mm_ with wt.
static void transpose_(float *wt, const float *W, int ldw, int IN, int OUT) {
    for (int i = 0; i < IN; i++)
        for (int o = 0; o < OUT; o++) wt[(size_t)o * IN + i] = W[(size_t)i * ldw + o];
}

// dW (IN, OUT; stride ldd) += X^T dY over N rows: for every element,
// dW[i][o] += X[n][i] * dY[n][o] for n = 0, 1, ..., N-1 in that order.
// Threads own disjoint rows i of dW (independent outputs) and every thread
// walks all N rows; the rows come in blocks of NB so that a block of X and
// dY stays in cache while a thread's tiles sweep it (the order of each
// element's sum is still n ascending).
static void mm_dw_(const bp_ctx *c, float *dW, int ldd, const float *X, int ldx, const float *dY,
                   int ldy, size_t N, int IN, int OUT) {
    const int ni = (IN + 3) / 4;
    const int nth = c->nth < ni ? c->nth : ni;
    OMP_(omp parallel num_threads(nth) if (nth > 1))
    {
        const int th = tid_(), nt = nthr_();
        const int i_lo = ni * th / nt, i_hi = ni * (th + 1) / nt;
        for (size_t n0 = 0; n0 < N; n0 += NB) {
            const size_t n1 = N - n0 < NB ? N : n0 + NB;
            for (int it = i_lo; it < i_hi; it++) {
                const int i0 = 4 * it;
                if (i0 + 4 <= IN) {
                    float *d0 = dW + (size_t)i0 * ldd, *d1 = d0 + ldd, *d2 = d1 + ldd, *d3 = d2 + ldd;
                    float *const dp[4] = {d0, d1, d2, d3};
                    int o = 0;
                    for (; o + 4 * VW <= OUT; o += 4 * VW) {  // 4 x 4 vectors: 16 sums in registers
                        vecf_ a[4][4];
                        for (int u = 0; u < 4; u++)
                            for (int k = 0; k < 4; k++) a[u][k] = LD_(dp[u] + o + k * VW);
                        for (size_t n = n0; n < n1; n++) {
                            const float *xn = X + n * ldx + i0, *yn = dY + n * ldy + o;
                            const vecf_ y0 = LD_(yn), y1 = LD_(yn + VW), y2 = LD_(yn + 2 * VW), y3 = LD_(yn + 3 * VW);
                            for (int u = 0; u < 4; u++) {
                                const float xu = xn[u];
                                a[u][0] += xu * y0;
                                a[u][1] += xu * y1;
                                a[u][2] += xu * y2;
                                a[u][3] += xu * y3;
                            }
                        }
                        for (int u = 0; u < 4; u++)
                            for (int k = 0; k < 4; k++) ST_(dp[u] + o + k * VW, a[u][k]);
                    }
                    for (; o + 2 * VW <= OUT; o += 2 * VW) {
                        vecf_ a00 = LD_(d0 + o), a01 = LD_(d0 + o + VW), a10 = LD_(d1 + o),
                              a11 = LD_(d1 + o + VW), a20 = LD_(d2 + o), a21 = LD_(d2 + o + VW),
                              a30 = LD_(d3 + o), a31 = LD_(d3 + o + VW);
                        for (size_t n = n0; n < n1; n++) {
                            const float *xn = X + n * ldx + i0, *yn = dY + n * ldy + o;
                            const vecf_ y0 = LD_(yn), y1 = LD_(yn + VW);
                            a00 += xn[0] * y0;
                            a01 += xn[0] * y1;
                            a10 += xn[1] * y0;
                            a11 += xn[1] * y1;
                            a20 += xn[2] * y0;
                            a21 += xn[2] * y1;
                            a30 += xn[3] * y0;
                            a31 += xn[3] * y1;
                        }
                        ST_(d0 + o, a00);
                        ST_(d0 + o + VW, a01);
                        ST_(d1 + o, a10);
                        ST_(d1 + o + VW, a11);
                        ST_(d2 + o, a20);
                        ST_(d2 + o + VW, a21);
                        ST_(d3 + o, a30);
                        ST_(d3 + o + VW, a31);
                    }
                    for (; o < OUT; o++) {
                        float a0 = d0[o], a1 = d1[o], a2 = d2[o], a3 = d3[o];
                        for (size_t n = n0; n < n1; n++) {
                            const float *xn = X + n * ldx + i0, yv = dY[n * ldy + o];
                            a0 += xn[0] * yv;
                            a1 += xn[1] * yv;
                            a2 += xn[2] * yv;
                            a3 += xn[3] * yv;
                        }
                        d0[o] = a0, d1[o] = a1, d2[o] = a2, d3[o] = a3;
                    }
                } else {
                    for (int i = i0; i < IN; i++)
                        for (int o = 0; o < OUT; o++) {
                            float a = dW[(size_t)i * ldd + o];
                            for (size_t n = n0; n < n1; n++) a += X[n * ldx + i] * dY[n * ldy + o];
                            dW[(size_t)i * ldd + o] = a;
                        }
                }
            }
        }
    }
}

// db (OUT) += sum over rows of dY (stride ldy), each column in row order;
// threads own column blocks.
static void colsum_(const bp_ctx *c, float *db, const float *dY, int ldy, size_t N, int OUT) {
    const int nb = (OUT + VW - 1) / VW;
    OMP_(omp parallel for num_threads(c->nth) schedule(static) if (c->nth > 1 && N > 256))
    for (int k = 0; k < nb; k++) {
        const int o = k * VW;
        if (o + VW <= OUT) {
            vecf_ a = LD_(db + o);
            for (size_t n = 0; n < N; n++) a += LD_(dY + n * ldy + o);
            ST_(db + o, a);
        } else {
            for (int u = o; u < OUT; u++) {
                float a = db[u];
                for (size_t n = 0; n < N; n++) a += dY[n * ldy + u];
                db[u] = a;
            }
        }
    }
}

// --- LayerNorm (haiku's, eps 1e-5), forward.c's operations

// out (N, C) = LN(in) with g, b; saves each row's mean and 1/std.
static void ln_fwd_(const bp_ctx *c, float *out, float *mean, float *rstd, const float *in,
                    const float *g, const float *b, size_t N) {
    const int C = c->C;
    OMP_(omp parallel for num_threads(c->nth) schedule(static) if (c->nth > 1))
    for (int64_t r = 0; r < (int64_t)N; r++) {
        const float *x = in + (size_t)r * C;
        float *y = out + (size_t)r * C;
        float s = 0.0f;
        for (int i = 0; i < C; i++) s += x[i];
        const float m = s / (float)C;
        float ss = 0.0f;
        for (int i = 0; i < C; i++) {
            const float dx = x[i] - m;
            ss += dx * dx;
        }
        const float var = ss / (float)C;
        const float rs = 1.0f / sqrtf(var + 1e-5f);
        for (int i = 0; i < C; i++) y[i] = ((x[i] - m) * rs) * g[i] + b[i];
        mean[r] = m;
        rstd[r] = rs;
    }
}

// dx (N, C) = base (or 0) + d LN / d in applied to dy, with xhat = (in - mean)
// * rstd: dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), dxhat =
// dy g. dx may be base; neither may be dy or in.
static void ln_bwd_(const bp_ctx *c, float *dx, const float *base, const float *dy, const float *in,
                    const float *mean, const float *rstd, const float *g, size_t N) {
    const int C = c->C;
    OMP_(omp parallel for num_threads(c->nth) schedule(static) if (c->nth > 1))
    for (int64_t r = 0; r < (int64_t)N; r++) {
        const float *x = in + (size_t)r * C, *d = dy + (size_t)r * C;
        const float m = mean[r], rs = rstd[r];
        float s1 = 0.0f, s2 = 0.0f;
        for (int i = 0; i < C; i++) {
            const float xh = (x[i] - m) * rs, dh = d[i] * g[i];
            s1 += dh;
            s2 += dh * xh;
        }
        s1 /= (float)C;
        s2 /= (float)C;
        float *o = dx + (size_t)r * C;
        const float *bs = base ? base + (size_t)r * C : NULL;
        for (int i = 0; i < C; i++) {
            const float xh = (x[i] - m) * rs, dh = d[i] * g[i];
            const float v = rs * ((dh - s1) - xh * s2);
            o[i] = bs ? bs[i] + v : v;
        }
    }
}

// dg += sum over rows of dy * xhat, db += sum over rows of dy (row order;
// threads own column blocks).
static void ln_dparams_(const bp_ctx *c, float *dg, float *db, const float *dy, const float *in,
                        const float *mean, const float *rstd, size_t N) {
    const int C = c->C, nb = (C + VW - 1) / VW;
    OMP_(omp parallel for num_threads(c->nth) schedule(static) if (c->nth > 1 && N > 256))
    for (int k = 0; k < nb; k++) {
        const int i0 = k * VW, i1 = i0 + VW < C ? i0 + VW : C;
        float ag[VW], ab[VW];
        for (int i = i0; i < i1; i++) ag[i - i0] = dg[i], ab[i - i0] = db[i];
        for (size_t n = 0; n < N; n++) {
            const float *x = in + n * C, *d = dy + n * C;
            const float m = mean[n], rs = rstd[n];
            for (int i = i0; i < i1; i++) {
                ag[i - i0] += d[i] * ((x[i] - m) * rs);
                ab[i - i0] += d[i];
            }
        }
        for (int i = i0; i < i1; i++) dg[i] = ag[i - i0], db[i] = ab[i - i0];
    }
}

// --- GELU (tanh form, mathf.h's evaluation)

// d gelu / dx, gelu(x) = x s with s = 1 / (1 + e), e = exp(-2k u), u = x +
// 0.044715 x^3, k = sqrt(2/pi): s + x s (1 - s) 2k (1 + 3 * 0.044715 x^2).
// 1 - s is taken as e s while e < 1 (no cancellation) and as 1 - s after
// (where s <= 1/2, also exact enough; and e may be infinite there).
static float gelu_grad_(float x) {
    const float u = x + 0.044715f * ((x * x) * x);
    const float e = lmic_expf_k_(-0x1.988454p+0f * u);
    const float s = 1.0f / (1.0f + e);
    const float oms = e < 1.0f ? e * s : 1.0f - s;
    return s + ((x * s) * oms) * (0x1.988454p+0f * (1.0f + (3.0f * 0.044715f) * (x * x)));
}

// Rows of F, vectorised (the lanes run mathf.h's scalar operations).
static void gelu_row_(float *restrict h, const float *restrict x, int F) {
    OMP_(omp simd)
    for (int i = 0; i < F; i++) h[i] = lmic_geluf_(x[i]);
}

static void gelu_grad_row_(float *restrict d, const float *restrict x, int F) {
    OMP_(omp simd)
    for (int i = 0; i < F; i++) d[i] *= gelu_grad_(x[i]);
}

// --- rotary positions

// Rotates (inverse = 0) or takes the gradient through the rotation
// (inverse = 1: the transpose, rotation by -angle) of head pairs
// (x[i], x[i + hs/2]) of the C channels at x, row position t.
static void rope_(const lmic_model *m, const bp_ctx *c, float *x, int t, int inverse) {
    const int half = c->hs / 2;
    const float *cs = m->rope_cos + (size_t)t * half, *sn = m->rope_sin + (size_t)t * half;
    for (int h = 0; h < c->NH; h++) {
        float *xh = x + h * c->hs;
        for (int i = 0; i < half; i++) {
            const float x1 = xh[i], x2 = xh[i + half];
            if (!inverse) {
                xh[i] = x1 * cs[i] - x2 * sn[i];
                xh[i + half] = x2 * cs[i] + x1 * sn[i];
            } else {
                xh[i] = x1 * cs[i] + x2 * sn[i];
                xh[i + half] = x2 * cs[i] - x1 * sn[i];
            }
        }
    }
}

// --- attention
//
// Query rows are processed 4 at a time (a "row block"): the 4 rows share
// every load of a key or value, and their sums run as 4 independent chains,
// which hides the adder's latency. Blocking changes no bit: each row's sums
// keep their own order, and a row past its last key only ever adds +0
// (p[j] = 0 for j > t), which leaves a float unchanged.

// out[r][j] = 0 + X[r][0] MT[0][j] + X[r][1] MT[1][j] + ... (i order) for
// rows r < nr and keys j < ng (a multiple of 2 VW); MT (hs, Tp).
static void dots_(const bp_ctx *c, const float *const X[RBLK], int nr, const float *MT, int ng,
                  float *const out[RBLK]) {
    const int hs = c->hs, Tp = c->Tp;
    const vecf_ zero = {0};
    for (int j = 0; j < ng; j += 2 * VW) {
        vecf_ a00 = zero, a01 = zero, a10 = zero, a11 = zero, a20 = zero, a21 = zero, a30 = zero, a31 = zero;
        const float *m = MT + j;
        const float *x0 = X[0], *x1 = X[nr > 1 ? 1 : 0], *x2 = X[nr > 2 ? 2 : 0], *x3 = X[nr > 3 ? 3 : 0];
        for (int i = 0; i < hs; i++, m += Tp) {
            const vecf_ k0 = LD_(m), k1 = LD_(m + VW);
            a00 += x0[i] * k0;
            a01 += x0[i] * k1;
            a10 += x1[i] * k0;
            a11 += x1[i] * k1;
            a20 += x2[i] * k0;
            a21 += x2[i] * k1;
            a30 += x3[i] * k0;
            a31 += x3[i] * k1;
        }
        ST_(out[0] + j, a00);
        ST_(out[0] + j + VW, a01);
        if (nr > 1) ST_(out[1] + j, a10), ST_(out[1] + j + VW, a11);
        if (nr > 2) ST_(out[2] + j, a20), ST_(out[2] + j + VW, a21);
        if (nr > 3) ST_(out[3] + j, a30), ST_(out[3] + j + VW, a31);
    }
}

// Attention probabilities of query rows t0 .. t0+nr-1 of one head, forward.c's
// operations: s[j] = (0 + q[0] k[0][j] + ...) * scale; mx = max over j <= t;
// e = exp(s - mx); sum in key order; p = e / sum. KT (hs, Tp) holds the keys
// transposed (zero past T). P[r] gets row t0+r's p[j] for j <= t0+r and 0 from
// there to the end of the key group. Returns that end (a multiple of KG).
static int probs_(const bp_ctx *c, const float *const q[RBLK], int t0, int nr, const float *KT,
                  float *const P[RBLK]) {
    const int n_max = t0 + nr, ng = (n_max + KG - 1) / KG * KG;
    const float scale = 1.0f / sqrtf((float)c->hs);
    dots_(c, q, nr, KT, ng, P);
    float sum[RBLK] = {0};
    for (int r = 0; r < nr; r++) {
        float *p = P[r];
        const int n = t0 + r + 1;
        for (int j = 0; j < ng; j++) p[j] *= scale;
        // the max is exact in any order: lanes, then the tail
        int j = 0;
        float mx = p[0];
        if (n >= VW) {
            vecf_ m = LD_(p);
            for (j = VW; j + VW <= n; j += VW) {
                const vecf_ s = LD_(p + j);
                VMAX_(m, s);
            }
            mx = m[0];
            for (int u = 1; u < VW; u++) mx = m[u] > mx ? m[u] : mx;
        }
        for (; j < n; j++) mx = p[j] > mx ? p[j] : mx;
        OMP_(omp simd)
        for (int k = 0; k < n; k++) p[k] = lmic_expf_k_(p[k] - mx);
        for (int k = n; k < ng; k++) p[k] = 0.0f;
    }
    // sums in key order, the rows' chains side by side (the +0 past a row's
    // own last key changes nothing)
    int j = 0;
    if (nr == RBLK) {
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        const float *p0 = P[0], *p1 = P[1], *p2 = P[2], *p3 = P[3];
        for (; j < t0 + 1; j++) s0 += p0[j], s1 += p1[j], s2 += p2[j], s3 += p3[j];
        sum[0] = s0, sum[1] = s1, sum[2] = s2, sum[3] = s3;
    }
    for (int r = 0; r < nr; r++) {
        float s = sum[r];
        for (int k = j; k < t0 + r + 1; k++) s += P[r][k];
        const int n = t0 + r + 1;
        float *p = P[r];
        OMP_(omp simd)
        for (int k = 0; k < n; k++) p[k] = p[k] / s;
    }
    return ng;
}

// out[r][i] (hs) = 0 + P[r][0] v[0][i] + P[r][1] v[1][i] + ... over n rows of
// v (stride ld), key order, for rows r < nr; vectors over the channels i.
static void pv_(const bp_ctx *c, const float *const P[RBLK], int nr, const float *v, int ld, int n,
                float *const out[RBLK]) {
    const int hs = c->hs;
    const vecf_ zero = {0};
    const float *p0 = P[0], *p1 = P[nr > 1 ? 1 : 0], *p2 = P[nr > 2 ? 2 : 0], *p3 = P[nr > 3 ? 3 : 0];
    int i = 0;
    for (; i + 2 * VW <= hs; i += 2 * VW) {
        vecf_ a00 = zero, a01 = zero, a10 = zero, a11 = zero, a20 = zero, a21 = zero, a30 = zero, a31 = zero;
        const float *vj = v + i;
        for (int j = 0; j < n; j++, vj += ld) {
            const vecf_ v0 = LD_(vj), v1 = LD_(vj + VW);
            a00 += p0[j] * v0;
            a01 += p0[j] * v1;
            a10 += p1[j] * v0;
            a11 += p1[j] * v1;
            a20 += p2[j] * v0;
            a21 += p2[j] * v1;
            a30 += p3[j] * v0;
            a31 += p3[j] * v1;
        }
        ST_(out[0] + i, a00);
        ST_(out[0] + i + VW, a01);
        if (nr > 1) ST_(out[1] + i, a10), ST_(out[1] + i + VW, a11);
        if (nr > 2) ST_(out[2] + i, a20), ST_(out[2] + i + VW, a21);
        if (nr > 3) ST_(out[3] + i, a30), ST_(out[3] + i + VW, a31);
    }
    for (; i + VW <= hs; i += VW) {
        vecf_ a0 = zero, a1 = zero, a2 = zero, a3 = zero;
        const float *vj = v + i;
        for (int j = 0; j < n; j++, vj += ld) {
            const vecf_ v0 = LD_(vj);
            a0 += p0[j] * v0;
            a1 += p1[j] * v0;
            a2 += p2[j] * v0;
            a3 += p3[j] * v0;
        }
        ST_(out[0] + i, a0);
        if (nr > 1) ST_(out[1] + i, a1);
        if (nr > 2) ST_(out[2] + i, a2);
        if (nr > 3) ST_(out[3] + i, a3);
    }
    for (; i < hs; i++)
        for (int r = 0; r < nr; r++) {
            float a = 0.0f;
            for (int j = 0; j < n; j++) a += P[r][j] * v[(size_t)j * ld + i];
            out[r][i] = a;
        }
}

// Transposes channel block [off, off + hs) of T rows of qkv (stride 3C) into
// XT (hs, Tp), zero past T.
static void gather_t_(const bp_ctx *c, const float *rows, int off, float *XT) {
    const int hs = c->hs, Tp = c->Tp, T = c->T, ld = 3 * c->C;
    for (int i = 0; i < hs; i++) {
        float *d = XT + (size_t)i * Tp;
        for (int j = 0; j < T; j++) d[j] = rows[(size_t)j * ld + off + i];
        for (int j = T; j < Tp; j++) d[j] = 0.0f;
    }
}

// Causal attention of sequence b, head h: y rows (b, 0..T-1), channels of h.
static void attn_fwd_(const bp_ctx *c, const float *qkv, float *y, int b, int h, float *scr) {
    const int T = c->T, C = c->C, hs = c->hs, ld = 3 * C;
    const size_t pt = up16_((size_t)c->Tp);
    float *KT = scr, *p = KT + up16_((size_t)hs * c->Tp);
    const float *rows = qkv + (size_t)b * T * ld;
    gather_t_(c, rows, C + h * hs, KT);
    for (int t0 = 0; t0 < T; t0 += RBLK) {
        const int nr = T - t0 < RBLK ? T - t0 : RBLK;
        const float *q[RBLK];
        float *P[RBLK], *out[RBLK];
        for (int r = 0; r < RBLK; r++) {
            const int t = t0 + (r < nr ? r : 0);
            q[r] = rows + (size_t)t * ld + h * hs;
            P[r] = p + (size_t)r * pt;
            out[r] = y + ((size_t)b * T + t) * C + h * hs;
        }
        probs_(c, q, t0, nr, KT, P);
        pv_(c, (const float *const *)P, nr, rows + 2 * C + h * hs, ld, t0 + nr, out);
    }
}

// The gradient through attention of sequence b, head h: dy (N, C) -> the q,
// k and v columns of head h in dqkv (N, 3C) (overwritten). Per query row t,
// with p recomputed by probs_: dp[j] = dy . v[j]; D = sum_j p[j] dp[j]; ds[j]
// = p[j] (dp[j] - D) scale; dq = sum_j ds[j] k[j]; dk[j] += ds[j] q;
// dv[j] += p[j] dy. dk and dv are summed over t = 0, 1, ... in order (in
// transposed scratch, so the updates run along j in vectors; a row block's 4
// terms are added one after another in registers: the same order).
static void attn_bwd_(const bp_ctx *c, const float *qkv, const float *dy, float *dqkv, int b, int h,
                      float *scr) {
    const int T = c->T, C = c->C, hs = c->hs, Tp = c->Tp, ld = 3 * C;
    const size_t blk = up16_((size_t)hs * Tp), pt = up16_((size_t)Tp);
    float *KT = scr, *VT = KT + blk, *dKT = VT + blk, *dVT = dKT + blk;
    float *pmem = dVT + blk, *dpmem = pmem + RBLK * pt;
    const float scale = 1.0f / sqrtf((float)hs);
    const float *rows = qkv + (size_t)b * T * ld;
    float *drows = dqkv + (size_t)b * T * ld;
    gather_t_(c, rows, C + h * hs, KT);
    gather_t_(c, rows, 2 * C + h * hs, VT);
    memset(dKT, 0, 2 * blk * sizeof *dKT);
    for (int t0 = 0; t0 < T; t0 += RBLK) {
        const int nr = T - t0 < RBLK ? T - t0 : RBLK;
        const float *q[RBLK], *dyr[RBLK];
        float *P[RBLK], *DS[RBLK], *dq[RBLK];
        for (int r = 0; r < RBLK; r++) {
            const int t = t0 + (r < nr ? r : 0);
            q[r] = rows + (size_t)t * ld + h * hs;
            dyr[r] = dy + ((size_t)b * T + t) * C + h * hs;
            dq[r] = drows + (size_t)t * ld + h * hs;
            P[r] = pmem + (size_t)r * pt;
            DS[r] = dpmem + (size_t)r * pt;
        }
        const int ng = probs_(c, q, t0, nr, KT, P);
        dots_(c, dyr, nr, VT, ng, DS);  // dp[j] = 0 + dy[0] v[j][0] + dy[1] v[j][1] + ...
        for (int r = 0; r < nr; r++) {
            const float *p = P[r];
            float *ds = DS[r], D = 0.0f;
            for (int j = 0; j < t0 + r + 1; j++) D += p[j] * ds[j];
            for (int j = 0; j < ng; j++) ds[j] = (p[j] * (ds[j] - D)) * scale;  // 0 past t
        }
        for (int r = nr; r < RBLK; r++) {  // a short last block: rows that add nothing
            memset(P[r], 0, (size_t)ng * sizeof(float));
            memset(DS[r], 0, (size_t)ng * sizeof(float));
        }
        const float *p0 = P[0], *p1 = P[1], *p2 = P[2], *p3 = P[3];
        const float *s0 = DS[0], *s1 = DS[1], *s2 = DS[2], *s3 = DS[3];
        for (int i = 0; i < hs; i++) {
            float *dk = dKT + (size_t)i * Tp, *dv = dVT + (size_t)i * Tp;
            const float q0 = q[0][i], q1 = q[1][i], q2 = q[2][i], q3 = q[3][i];
            const float d0 = dyr[0][i], d1 = dyr[1][i], d2 = dyr[2][i], d3 = dyr[3][i];
            for (int j = 0; j < ng; j += VW) {
                vecf_ k = LD_(dk + j), v = LD_(dv + j);
                k += LD_(s0 + j) * q0;
                v += LD_(p0 + j) * d0;
                k += LD_(s1 + j) * q1;
                v += LD_(p1 + j) * d1;
                k += LD_(s2 + j) * q2;
                v += LD_(p2 + j) * d2;
                k += LD_(s3 + j) * q3;
                v += LD_(p3 + j) * d3;
                ST_(dk + j, k);
                ST_(dv + j, v);
            }
        }
        pv_(c, (const float *const *)DS, nr, rows + C + h * hs, ld, t0 + nr, dq);  // dq
    }
    for (int j = 0; j < T; j++)
        for (int i = 0; i < hs; i++) {
            drows[(size_t)j * ld + C + h * hs + i] = dKT[(size_t)i * Tp + j];
            drows[(size_t)j * ld + 2 * C + h * hs + i] = dVT[(size_t)i * Tp + j];
        }
}

// --- the forward pass

// logp (V) = log_softmax(l) in place, forward.c's operations.
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

double bp_forward_(bp_ctx *c, const lmic_model *m, const uint8_t *tokens) {
    const int T = c->T, C = c->C, F = c->F, C3 = 3 * C, nth = c->nth;
    const size_t N = c->N;
    for (size_t r = 0; r < N; r++) {
        c->tgt[r] = tokens[r];
        c->inp[r] = r % T ? tokens[r - 1] : 0;  // right-shifted, BOS 0
    }
    const float escale = sqrtf((float)C);
    OMP_(omp parallel for num_threads(nth) schedule(static) if (nth > 1))
    for (int64_t r = 0; r < (int64_t)N; r++) {
        const float *e = m->wte + (size_t)c->inp[r] * C;
        float *x = c->x0 + (size_t)r * C;
        const float *pe = m->pos ? m->pos + (size_t)(r % T) * C : NULL;
        for (int i = 0; i < C; i++) x[i] = pe ? e[i] * escale + pe[i] : e[i] * escale;
    }
    const float *xin = c->x0;
    for (int l = 0; l < c->L; l++) {
        const lmic_layer *w = &m->layer[l];
        layer_act_ *a = &c->a[l];
        const float *ain = xin;
        if (!c->post) {
            ln_fwd_(c, a->lnA, a->lnA_mean, a->lnA_rstd, xin, w->ln1_g, w->ln1_b, N);
            ain = a->lnA;
        }
        for (int i = 0; i < C; i++) {
            memcpy(c->wqkv + (size_t)i * C3, w->wq + (size_t)i * C, (size_t)C * sizeof(float));
            memcpy(c->wqkv + (size_t)i * C3 + C, w->wk + (size_t)i * C, (size_t)C * sizeof(float));
            memcpy(c->wqkv + (size_t)i * C3 + 2 * C, w->wv + (size_t)i * C, (size_t)C * sizeof(float));
        }
        mm_(c, a->qkv, C3, ain, C, c->wqkv, C3, NULL, 0, N, C, C3);
        if (c->rotary) {
            OMP_(omp parallel for num_threads(nth) schedule(static) if (nth > 1))
            for (int64_t r = 0; r < (int64_t)N; r++) {
                rope_(m, c, a->qkv + (size_t)r * C3, (int)(r % T), 0);
                rope_(m, c, a->qkv + (size_t)r * C3 + C, (int)(r % T), 0);
            }
        }
        OMP_(omp parallel for num_threads(nth) schedule(static) if (nth > 1))
        for (int bh = 0; bh < c->B * c->NH; bh++)
            attn_fwd_(c, a->qkv, a->y, bh / c->NH, bh % c->NH, c->att + (size_t)tid_() * c->att_per);
        // res1 = x + y Wo (y Wo from 0, then the add: forward.c's order)
        mm_(c, a->res1, C, a->y, C, w->wo, C, NULL, 0, N, C, C);
        for (size_t i = 0; i < N * C; i++) a->res1[i] = xin[i] + a->res1[i];
        const float *fin;  // the feed-forward's input and residual
        if (c->post) {
            ln_fwd_(c, a->lnA, a->lnA_mean, a->lnA_rstd, a->res1, w->ln1_g, w->ln1_b, N);
            fin = a->lnA;
        } else {
            ln_fwd_(c, a->lnB, a->lnB_mean, a->lnB_rstd, a->res1, w->ln2_g, w->ln2_b, N);
            fin = a->lnB;
        }
        mm_(c, a->hpre, F, fin, C, w->w1, F, w->b1, 0, N, C, F);
        OMP_(omp parallel for num_threads(nth) schedule(static) if (nth > 1))
        for (int64_t r = 0; r < (int64_t)N; r++) gelu_row_(a->h + (size_t)r * F, a->hpre + (size_t)r * F, F);
        mm_(c, a->res2, C, a->h, F, w->w2, C, w->b2, 0, N, F, C);
        const float *res = c->post ? a->lnA : a->res1;
        for (size_t i = 0; i < N * C; i++) a->res2[i] = res[i] + a->res2[i];
        if (c->post) {
            ln_fwd_(c, a->lnB, a->lnB_mean, a->lnB_rstd, a->res2, w->ln2_g, w->ln2_b, N);
            xin = a->lnB;
        } else {
            xin = a->res2;
        }
    }
    const float *hin = xin;
    if (!c->post) {
        ln_fwd_(c, c->lnf, c->lnf_mean, c->lnf_rstd, xin, m->lnf_g, m->lnf_b, N);
        hin = c->lnf;
    }
    mm_(c, c->logits, V, hin, C, m->wout, V, m->bout, 0, N, C, V);
    OMP_(omp parallel for num_threads(nth) schedule(static) if (nth > 1))
    for (int64_t r = 0; r < (int64_t)N; r++) {
        float *lp = c->logits + (size_t)r * V;
        log_softmax_(lp);
        c->nll[r] = -lp[c->tgt[r]];
    }
    double loss = 0.0;
    for (size_t r = 0; r < N; r++) loss += c->nll[r];
    return loss / (double)N;
}

// --- the backward pass

// G_(t) is the gradient of parameter tensor t: the same offset in grads.
#define G_(t) (grads + ((t) - m->params))

void bp_backward_(bp_ctx *c, const lmic_model *m, float *grads) {
    const int T = c->T, C = c->C, F = c->F, C3 = 3 * C, nth = c->nth;
    const size_t N = c->N;
    memset(grads, 0, m->num_params * sizeof *grads);
    // d loss / d logits = (p - onehot) / N, the loss being the mean over rows.
    const float inv_n = 1.0f / (float)N;
    OMP_(omp parallel for num_threads(nth) schedule(static) if (nth > 1))
    for (int64_t r = 0; r < (int64_t)N; r++) {
        float *d = c->logits + (size_t)r * V;
        for (int v = 0; v < V; v++) d[v] = lmic_expf_k_(d[v]);
        d[c->tgt[r]] -= 1.0f;
        for (int v = 0; v < V; v++) d[v] *= inv_n;
    }
    const float *xL = c->post ? c->a[c->L - 1].lnB : c->a[c->L - 1].res2;
    const float *hin = c->post ? xL : c->lnf;
    colsum_(c, G_(m->bout), c->logits, V, N, V);
    mm_dw_(c, G_(m->wout), V, hin, C, c->logits, V, N, C, V);
    transpose_(c->wt, m->wout, V, C, V);
    if (c->post) {
        mm_(c, c->dX, C, c->logits, V, c->wt, C, NULL, 0, N, V, C);
    } else {
        mm_(c, c->dA, C, c->logits, V, c->wt, C, NULL, 0, N, V, C);
        ln_dparams_(c, G_(m->lnf_g), G_(m->lnf_b), c->dA, xL, c->lnf_mean, c->lnf_rstd, N);
        ln_bwd_(c, c->dX, NULL, c->dA, xL, c->lnf_mean, c->lnf_rstd, m->lnf_g, N);
    }
    // dX holds d loss / d (output of layer l).
    for (int l = c->L - 1; l >= 0; l--) {
        const lmic_layer *w = &m->layer[l];
        const layer_act_ *a = &c->a[l];
        const float *xin = l == 0 ? c->x0 : c->post ? c->a[l - 1].lnB : c->a[l - 1].res2;
        const float *fin = c->post ? a->lnA : a->lnB;  // the feed-forward's input
        float *dres2 = c->dX;
        if (c->post) {  // xout = LN2(res2)
            ln_dparams_(c, G_(w->ln2_g), G_(w->ln2_b), c->dX, a->res2, a->lnB_mean, a->lnB_rstd, N);
            ln_bwd_(c, c->dR, NULL, c->dX, a->res2, a->lnB_mean, a->lnB_rstd, w->ln2_g, N);
            dres2 = c->dR;
        }
        // res2 = fin_residual + gelu(fin W1 + b1) W2 + b2
        colsum_(c, G_(w->b2), dres2, C, N, C);
        mm_dw_(c, G_(w->w2), C, a->h, F, dres2, C, N, F, C);
        transpose_(c->wt, w->w2, C, F, C);
        mm_(c, c->dH, F, dres2, C, c->wt, F, NULL, 0, N, C, F);
        OMP_(omp parallel for num_threads(nth) schedule(static) if (nth > 1))
        for (int64_t r = 0; r < (int64_t)N; r++)
            gelu_grad_row_(c->dH + (size_t)r * F, a->hpre + (size_t)r * F, F);
        colsum_(c, G_(w->b1), c->dH, F, N, F);
        mm_dw_(c, G_(w->w1), F, fin, C, c->dH, F, N, C, F);
        transpose_(c->wt, w->w1, F, C, F);
        float *dres1;
        if (c->post) {  // fin = LN1(res1) is also the residual: dfin = dres2 + dH W1^T
            memcpy(c->dA, dres2, N * C * sizeof(float));
            mm_(c, c->dA, C, c->dH, F, c->wt, C, NULL, 1, N, F, C);
            ln_dparams_(c, G_(w->ln1_g), G_(w->ln1_b), c->dA, a->res1, a->lnA_mean, a->lnA_rstd, N);
            ln_bwd_(c, c->dR, NULL, c->dA, a->res1, a->lnA_mean, a->lnA_rstd, w->ln1_g, N);
            dres1 = c->dR;
        } else {  // fin = LN2(res1); res1 is the residual: dres1 = dres2 + LN2'(dH W1^T)
            mm_(c, c->dA, C, c->dH, F, c->wt, C, NULL, 0, N, F, C);
            ln_dparams_(c, G_(w->ln2_g), G_(w->ln2_b), c->dA, a->res1, a->lnB_mean, a->lnB_rstd, N);
            ln_bwd_(c, c->dR, c->dX, c->dA, a->res1, a->lnB_mean, a->lnB_rstd, w->ln2_g, N);
            dres1 = c->dR;
        }
        // res1 = xin + y Wo
        mm_dw_(c, G_(w->wo), C, a->y, C, dres1, C, N, C, C);
        transpose_(c->wt, w->wo, C, C, C);
        mm_(c, c->dY, C, dres1, C, c->wt, C, NULL, 0, N, C, C);
        OMP_(omp parallel for num_threads(nth) schedule(static) if (nth > 1))
        for (int bh = 0; bh < c->B * c->NH; bh++)
            attn_bwd_(c, a->qkv, c->dY, c->dqkv, bh / c->NH, bh % c->NH,
                      c->att + (size_t)tid_() * c->att_per);
        if (c->rotary) {
            OMP_(omp parallel for num_threads(nth) schedule(static) if (nth > 1))
            for (int64_t r = 0; r < (int64_t)N; r++) {
                rope_(m, c, c->dqkv + (size_t)r * C3, (int)(r % T), 1);
                rope_(m, c, c->dqkv + (size_t)r * C3 + C, (int)(r % T), 1);
            }
        }
        const float *ain = c->post ? xin : a->lnA;
        mm_dw_(c, G_(w->wq), C, ain, C, c->dqkv, C3, N, C, C);
        mm_dw_(c, G_(w->wk), C, ain, C, c->dqkv + C, C3, N, C, C);
        mm_dw_(c, G_(w->wv), C, ain, C, c->dqkv + 2 * C, C3, N, C, C);
        for (int i = 0; i < C; i++)  // wt (3C, C) = (wq | wk | wv)^T
            for (int o = 0; o < C; o++) {
                c->wt[(size_t)o * C + i] = w->wq[(size_t)i * C + o];
                c->wt[(size_t)(C + o) * C + i] = w->wk[(size_t)i * C + o];
                c->wt[(size_t)(2 * C + o) * C + i] = w->wv[(size_t)i * C + o];
            }
        if (c->post) {  // dxin = dres1 + dqkv Wqkv^T
            memcpy(c->dX, dres1, N * C * sizeof(float));
            mm_(c, c->dX, C, c->dqkv, C3, c->wt, C, NULL, 1, N, C3, C);
        } else {  // dxin = dres1 + LN1'(dqkv Wqkv^T)
            mm_(c, c->dA, C, c->dqkv, C3, c->wt, C, NULL, 0, N, C3, C);
            ln_dparams_(c, G_(w->ln1_g), G_(w->ln1_b), c->dA, xin, a->lnA_mean, a->lnA_rstd, N);
            ln_bwd_(c, c->dX, dres1, c->dA, xin, a->lnA_mean, a->lnA_rstd, w->ln1_g, N);
        }
    }
    // x0 = wte[inp] * sqrt(C) (+ pos): scatter in row order.
    const float escale = sqrtf((float)C);
    float *gw = G_(m->wte);
    for (size_t r = 0; r < N; r++) {
        float *g = gw + (size_t)c->inp[r] * C;
        const float *d = c->dX + r * C;
        for (int i = 0; i < C; i++) g[i] += d[i] * escale;
    }
}
