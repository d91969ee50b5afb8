#!/usr/bin/python3
"""residual_bound.py -- how much is left in the front end's residuals for
an entropy coder, and for a better linear predictor (issue 7: the 16 kHz
speech target).

Reads bench/dump_residuals.c's PREFIX.res.i16 / .pred.i16 / .chunks.i64 and
prints bits per sample of:

  laplace-causal    each residual coded with a discretised Laplace whose
                    scale is the mean |r| of the 16 residuals before it in
                    its chunk: a simple coder a decoder could run
  laplace-oracle    the same with the scale taken from the 8 residuals on
                    each side (the future included): no decoder can do this
  classes-oracle    the bit length of |r| coded with its empirical
                    distribution given that oracle scale (fitted on the data
                    itself), the bits below the leading one and the sign raw
                    (the plain coder's layout, with perfect statistics)

and then the first two again for the residuals of an oracle predictor: a
32-tap least-squares predictor fitted on each 1024-sample block of the
samples themselves (coefficients free; a decoder would need them sent);
and, for lmic's residuals, the Laplace-causal cost after an oracle
second-order (Volterra) correction: per chunk, weighted least squares (rows
over the residuals' running rms) of r[t] on the last 4 samples, the
prediction, and every product of two of the last 4 samples or of the last
4 residuals (each over its running rms), with the linear terms alone beside
it, to see whether simple nonlinear structure is left.

None of these is a true lower bound, but they say which side the bits are
on: if an oracle scale saves little, the coder is not where they are lost;
if an oracle-fitted linear predictor does worse than lmic's, linear
prediction is not either.

Usage (after building dump_residuals as its header says):
  dump_residuals /tmp/rb 0 DEV/speech16k/*.wav
  /usr/bin/python3 bench/residual_bound.py /tmp/rb
"""
import sys

import numpy as np


def past_mean(v, w):
    """Mean of the w values before each (the missing ones count as 0)."""
    return np.convolve(v, np.r_[0.0, np.ones(w)], "full")[:len(v)] / w


def scale(a, causal, w):
    """Mean |r| of the w residuals before each (causal) or the w on each side."""
    if causal:
        return past_mean(a, w)
    k = np.ones(2 * w + 1)
    k[w] = 0.0
    return np.convolve(a, k, "same") / (2 * w)


def laplace_bits(r, b):
    """-log2 P(r) for a Laplace of scale b discretised to the integers."""
    a = np.abs(r)
    lo, hi = np.maximum(a - 0.5, 0.0), a + 0.5
    p = np.where(a == 0, 1.0 - np.exp(-0.5 / b), 0.5 * (np.exp(-lo / b) - np.exp(-hi / b)))
    return -np.log2(np.maximum(p, 1e-300))


def per_chunk(r, ch, causal, w):
    bits = 0.0
    for a0, b0 in zip(ch[:-1], ch[1:]):
        x = r[a0:b0]
        bits += laplace_bits(x, np.maximum(scale(np.abs(x), causal, w), 0.3)).sum()
    return bits / len(r)


def classes_oracle(r, ch):
    a = np.abs(r).astype(np.int64)
    n = np.zeros_like(a)
    t = a.copy()
    while (t > 0).any():
        n += t > 0
        t >>= 1
    s = np.concatenate([scale(a[a0:b0].astype(float), False, 8) for a0, b0 in zip(ch[:-1], ch[1:])])
    q = np.clip(np.round(np.log2(s + 1.0) * 8), 0, 255).astype(np.int64)
    joint = np.zeros((256, 18))
    np.add.at(joint, (q, n), 1.0)
    row = joint.sum(1, keepdims=True)
    h = -(joint * np.log2(np.where(joint > 0, joint / np.maximum(row, 1), 1.0))).sum() / len(r)
    return h + np.maximum(n - 1, 0).mean() + (a > 0).mean()


def oracle_lpc(r, x, ch, order=32, block=1024):
    out = r.copy()
    for a0, b0 in zip(ch[:-1], ch[1:]):
        s = x[a0:b0]
        for i in range(0, len(s), block):
            j = min(len(s), i + block)
            idx = np.arange(max(i, order), j)
            if len(idx) < 4 * order:
                continue  # too short to fit: keep lmic's residuals
            A = np.stack([s[idx - k] for k in range(1, order + 1)], 1)
            coef = np.linalg.lstsq(A, s[idx], rcond=None)[0]
            out[a0 + idx] = s[idx] - np.round(A @ coef)
    return out


def rms(v, w=32):
    """Root mean square of the w values before each (1 where there are none)."""
    return np.sqrt(past_mean(v * v, w) + 1.0)


def oracle_volterra(r, p, x, ch, taps=4):
    """lmic's residuals after an oracle per-chunk correction: linear, then quadratic."""
    lin, quad = r.copy(), r.copy()
    for a0, b0 in zip(ch[:-1], ch[1:]):
        xs, rs, ps = x[a0:b0], r[a0:b0], p[a0:b0]
        if len(xs) < 2000:
            continue  # too short to fit 26 weights: keep lmic's residuals
        t = np.arange(2 * taps, len(xs))
        sx, sr = rms(xs)[t], rms(rs)[t]
        first = [xs[t - i] for i in range(1, taps + 1)] + [ps[t]]
        second = [ps[t] * np.abs(ps[t]) / sx]
        for i in range(1, taps + 1):
            for j in range(i, taps + 1):
                second += [xs[t - i] * xs[t - j] / sx, rs[t - i] * rs[t - j] / sr]
        for out, cols in ((lin, first), (quad, first + second)):
            A = np.stack(cols, 1)
            coef = np.linalg.lstsq(A / sr[:, None], rs[t] / sr, rcond=None)[0]
            out[a0 + t] = rs[t] - np.round(A @ coef)
    return lin, quad


def main():
    prefix = sys.argv[1] if len(sys.argv) > 1 else "/tmp/rb"
    r = np.fromfile(prefix + ".res.i16", dtype="<i2").astype(float)
    p = np.fromfile(prefix + ".pred.i16", dtype="<i2").astype(float)
    x = r + p  # the samples (16-bit mono: no wrap in practice)
    ch = np.fromfile(prefix + ".chunks.i64", dtype="<i8")
    print("%s: %d samples in %d chunks" % (prefix, len(r), len(ch) - 1))
    print("lmic's residuals: laplace-causal %.4f  laplace-oracle %.4f  classes-oracle %.4f bits/sample"
          % (per_chunk(r, ch, True, 16), per_chunk(r, ch, False, 8), classes_oracle(r, ch)))
    o = oracle_lpc(r, x, ch)
    print("oracle LPC (32 taps fitted per 1024-sample block on itself): laplace-causal %.4f  laplace-oracle %.4f"
          % (per_chunk(o, ch, True, 16), per_chunk(o, ch, False, 8)))
    lin, quad = oracle_volterra(r, p, x, ch)
    print("oracle correction of lmic's residuals, laplace-causal: linear %.4f  linear + quadratic %.4f"
          % (per_chunk(lin, ch, True, 16), per_chunk(quad, ch, True, 16)))


if __name__ == "__main__":
    main()
