#!/usr/bin/python3
"""side_info_stats.py -- issue 6, question 2 without a network: how much a
side input tells about the residual's high byte beyond a little residual
context, measured with count models.

For each context set, counts of the target (the residual's high byte,
offset binary or zig-zag) per context value are taken on the train dump
(all of it) and the cross-entropy on the dev dump is reported, in bits per
sample: p = (n(ctx, y) + K * q(y)) / (n(ctx) + K), q the order-0 train
distribution of y, K = 16 (a Dirichlet prior centred on q, so sparse
contexts fall back to order 0).

Features (all known to the decoder before it codes sample t's residual):
  m1, m2  bit length of |r[t-1]|, |r[t-2]| (0..16; 17 before a chunk's start)
  pm      bit length of |p[t]|, p the prediction (0..16)
  ph      the prediction's high byte (p + 32768) >> 8 (0..255)

Usage: /usr/bin/python3 bench/side_info_stats.py [/tmp/tokexp]
"""
import sys

import numpy as np

K = 16.0


def load(prefix):
    r = np.fromfile(prefix + ".res.i16", dtype="<i2").astype(np.int64)
    p = np.fromfile(prefix + ".pred.i16", dtype="<i2").astype(np.int64)
    ch = np.fromfile(prefix + ".chunks.i64", dtype="<i8")
    return r, p, ch


def bitlen(x):
    a = np.abs(x)
    out = np.zeros_like(a)
    nz = a > 0
    out[nz] = np.floor(np.log2(a[nz])).astype(np.int64) + 1
    return out


def features(r, p, ch):
    first = np.zeros(len(r), bool)
    first[ch[:-1]] = True
    m = bitlen(r)
    m1 = np.concatenate([[17], m[:-1]])
    m1[first] = 17
    m2 = np.concatenate([[17, 17], m[:-2]])
    m2[first] = 17
    idx1 = ch[:-1] + 1
    idx1 = idx1[idx1 < len(r)]
    m2[idx1] = 17
    return {"m1": m1, "m2": m2, "pm": bitlen(p), "ph": (p + 32768) >> 8}


def targets(r):
    u_off = r + 32768
    u_zz = np.where(r >= 0, 2 * r, -2 * r - 1)
    return {"offset": u_off >> 8, "zigzag": u_zz >> 8}


def ctx_id(f, names, sizes):
    c = np.zeros(len(next(iter(f.values()))), np.int64)
    for n in names:
        c = c * sizes[n] + f[n]
    return c


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "/tmp/tokexp"
    tr_r, tr_p, tr_ch = load(d + "/train")
    dv_r, dv_p, dv_ch = load(d + "/dev")
    ftr, fdv = features(tr_r, tr_p, tr_ch), features(dv_r, dv_p, dv_ch)
    sizes = {"m1": 18, "m2": 18, "pm": 17, "ph": 256}
    sets = [[], ["pm"], ["ph"], ["m1"], ["m1", "pm"], ["m1", "ph"], ["m1", "m2"], ["m1", "m2", "pm"],
            ["m1", "m2", "ph"]]
    print(f"train {len(tr_r)} samples, dev {len(dv_r)} samples; dev cross-entropy of the residual's "
          f"high byte, bits per sample (train counts, K = {K:g})\n")
    print("| context | offset hi | zig-zag hi |")
    print("|---|---|---|")
    for names in sets:
        row = []
        for scheme in ("offset", "zigzag"):
            ytr, ydv = targets(tr_r)[scheme], targets(dv_r)[scheme]
            q = (np.bincount(ytr, minlength=256) + 0.5) / (len(ytr) + 128.0)
            ncx = int(np.prod([sizes[n] for n in names])) if names else 1
            ctr, cdv = ctx_id(ftr, names, sizes), ctx_id(fdv, names, sizes)
            cnt = np.bincount(ctr * 256 + ytr, minlength=ncx * 256).reshape(ncx, 256).astype(np.float64)
            tot = cnt.sum(1)
            pr = (cnt[cdv, ydv] + K * q[ydv]) / (tot[cdv] + K)
            row.append(-np.log2(pr).mean())
        print(f"| {'+'.join(names) or '(none)'} | {row[0]:.4f} | {row[1]:.4f} |")


if __name__ == "__main__":
    main()
