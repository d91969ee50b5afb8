#!/usr/bin/python3
"""tokenise_experiment.py -- issue 6: residual tokenisation and side inputs
for the byte-level model, measured with a small PyTorch stand-in for lmic's
model (CPU, one thread).

Data: bench/dump_residuals.c's PREFIX.res.i16 / .pred.i16 / .chunks.i64
(16-bit mono residuals of the compressor's front end, chunks of 16384
frames, predictor chosen per chunk at effort normal).

Variants (--variant):
  offset      tokens (r + 32768) >> 8, (r + 32768) & 255   (lmic today)
  zigzag      u = 2r (r >= 0) / -2r-1 (r < 0); u >> 8, u & 255
  offset+pred, zigzag+pred
              as above, plus an embedding of the prediction's high byte
              ((p + 32768) >> 8, 256 rows) for the sample that the token
              being predicted belongs to, added to the input embedding
  offset+mag, zigzag+mag
              plus an embedding of the previous residual's magnitude class
              (bit length of |r[t-1]|, 0..16; 17 = no previous sample in
              the chunk), for the sample being predicted

Model: decoder-only transformer like lmic's default: d_model 64, 2 layers,
4 heads, MLP 4x (GELU), post-LN, sinusoidal positions, input embedding
(init N(0, 0.02), as lmic) scaled by sqrt(C), side embeddings likewise, no
dropout; vocab 256 (+1 input-only BOS row). A window
is 128 samples = 256 tokens, starting on a sample boundary inside one
chunk; input i is token i-1 (BOS at 0), target i is token i.

Training: Adam lr 2e-3 (betas 0.9/0.99), linear warmup 5% then cosine to
0, grad-norm clip 1, batch 32 windows, --steps steps. The windows drawn and
the shared parameters' initial values depend only on --seed, so every
variant with the same seed sees the same data in the same order (paired
comparison); extra embeddings come from their own generator.

Evaluation: a fixed set of windows, the same for every run and as
bench/tokenise_train.c: of the W windows of 128 samples tiled over the dev
chunks, --dev-windows taken evenly (window j*W/n), and --held-windows of
the held-out tail of the train dump (last 5% of its chunks, never trained
on), each scored from a fresh context (the coder's windows, overlap 0). Loss in bits per byte (all, high byte, low byte), bits per sample
(high + low), and the same over window positions >= 128 only ("late",
tokens with >= 64 samples of context, closer to the coder's windows with
overlap).

Usage:
  nice -n 10 /usr/bin/python3 bench/tokenise_experiment.py --data /tmp/tokexp \
      --variant offset --seed 1 --steps 700 --out /tmp/tokexp/results.jsonl
  /usr/bin/python3 bench/tokenise_experiment.py --table /tmp/tokexp/results.jsonl[,more.jsonl]
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np

SAMPLES = 128          # samples per window
T = 2 * SAMPLES        # tokens per window
C, L, H, FF = 64, 2, 4, 256
VARIANTS = ["offset", "zigzag", "offset+pred", "zigzag+pred", "offset+mag", "zigzag+mag"]


def load(prefix):
    r = np.fromfile(prefix + ".res.i16", dtype="<i2").astype(np.int32)
    p = np.fromfile(prefix + ".pred.i16", dtype="<i2").astype(np.int32)
    ch = np.fromfile(prefix + ".chunks.i64", dtype="<i8")
    assert len(r) == len(p) == ch[-1]
    return r, p, ch


def tokens(r, scheme):
    """(n,) residuals -> (n, 2) bytes, MSB first."""
    if scheme == "offset":
        u = r + 32768
    else:
        u = np.where(r >= 0, 2 * r, -2 * r - 1)
    assert u.min() >= 0 and u.max() < 65536
    return np.stack([u >> 8, u & 255], axis=1).astype(np.int64)


def side_feature(r, p, ch, kind):
    """(n,) the extra input of each sample, or None."""
    if kind == "pred":
        return ((p + 32768) >> 8).astype(np.int64)
    if kind == "mag":
        prev = np.concatenate([[0], r[:-1]])
        a = np.abs(prev).astype(np.int64)
        cls = np.zeros_like(a)
        nz = a > 0
        cls[nz] = np.floor(np.log2(a[nz])).astype(np.int64) + 1  # bit length, 0..16
        cls[ch[:-1]] = 17                                          # a chunk's first sample
        return cls
    return None


def window_starts(ch, lo, hi):
    """All sample-aligned tiled window starts within chunks lo..hi-1."""
    out = []
    for c in range(lo, hi):
        a, b = ch[c], ch[c + 1]
        out.extend(range(a, b - SAMPLES + 1, SAMPLES))
    return np.array(out, dtype=np.int64)


def random_starts(rng, ch, lo, hi, n):
    """n random window starts (any sample) inside chunks lo..hi-1, chunks
    weighted by how many windows they hold."""
    a, b = ch[lo:hi], ch[lo + 1:hi + 1]
    room = np.maximum(b - a - SAMPLES + 1, 0)
    c = rng.choice(len(a), size=n, p=room / room.sum())
    return a[c] + (rng.random(n) * room[c]).astype(np.int64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/tmp/tokexp")
    ap.add_argument("--variant", choices=VARIANTS)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=700)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--dev-windows", type=int, default=4096)
    ap.add_argument("--held-windows", type=int, default=1024)
    ap.add_argument("--out", default=None)
    ap.add_argument("--table", default=None, help="print a markdown table of results files (comma-separated)")
    a = ap.parse_args()
    if a.table:
        return table(a.table)
    if not a.variant:
        ap.error("--variant")

    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    torch.set_num_threads(1)

    scheme, _, side = a.variant.partition("+")
    tr_r, tr_p, tr_ch = load(os.path.join(a.data, "train"))
    dv_r, dv_p, dv_ch = load(os.path.join(a.data, "dev"))
    nchunk = len(tr_ch) - 1
    held0 = nchunk - max(1, nchunk // 20)   # chunks [held0, nchunk) are held out
    tr_tok, dv_tok = tokens(tr_r, scheme), tokens(dv_r, scheme)
    tr_side, dv_side = side_feature(tr_r, tr_p, tr_ch, side), side_feature(dv_r, dv_p, dv_ch, side)
    nside = {"pred": 256, "mag": 18}.get(side, 0)

    def evenly(st, n):  # window j * W / n of the W tiled ones (as bench/tokenise_train.c)
        n = min(n, len(st))
        return st[(np.arange(n, dtype=np.int64) * len(st)) // n]
    dev_st = evenly(window_starts(dv_ch, 0, len(dv_ch) - 1), a.dev_windows)
    held_st = evenly(window_starts(tr_ch, held0, nchunk), a.held_windows)

    def batch(tok, sidef, starts):
        idx = starts[:, None] + np.arange(SAMPLES)[None, :]          # (B, S)
        tgt = tok[idx].reshape(len(starts), T)                         # (B, T)
        inp = np.concatenate([np.full((len(starts), 1), 256), tgt[:, :-1]], axis=1)
        s = None
        if sidef is not None:
            s = torch.from_numpy(np.repeat(sidef[idx], 2, axis=1))    # sample of each target
        return torch.from_numpy(inp), torch.from_numpy(tgt), s

    torch.manual_seed(a.seed)

    def sinusoid(n, d):
        pos = np.arange(n)[:, None]
        i = np.arange(d // 2)[None, :]
        ang = pos / np.power(10000.0, 2 * i / d)
        pe = np.zeros((n, d), dtype=np.float32)
        pe[:, 0::2], pe[:, 1::2] = np.sin(ang), np.cos(ang)
        return torch.from_numpy(pe)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv, self.o = nn.Linear(C, 3 * C), nn.Linear(C, C)
            self.f1, self.f2 = nn.Linear(C, FF), nn.Linear(FF, C)
            self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
            self.register_buffer("mask", torch.triu(torch.ones(T, T, dtype=torch.bool), 1))

        def forward(self, x):
            B, n, _ = x.shape
            q, k, v = self.qkv(x).view(B, n, 3, H, C // H).permute(2, 0, 3, 1, 4)
            att = (q @ k.transpose(-2, -1)) * (C // H) ** -0.5
            att = att.masked_fill(self.mask[:n, :n], float("-inf")).softmax(-1)
            y = att @ v
            x = self.ln1(x + self.o(y.transpose(1, 2).reshape(B, n, C)))
            return self.ln2(x + self.f2(F.gelu(self.f1(x))))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(257, C)
            nn.init.normal_(self.wte.weight, std=0.02)   # lmic's init (then * sqrt(C))
            self.blocks = nn.ModuleList([Block() for _ in range(L)])
            self.head = nn.Linear(C, 256)
            self.register_buffer("pe", sinusoid(T, C))
            self.side = None
            if nside:
                g = torch.Generator().manual_seed(10_000 + a.seed)
                self.side = nn.Embedding(nside, C)
                with torch.no_grad():
                    self.side.weight.copy_(torch.randn(nside, C, generator=g) * 0.02)

        def forward(self, inp, s):
            x = self.wte(inp) * C ** 0.5 + self.pe[: inp.shape[1]]
            if self.side is not None:
                x = x + self.side(s) * C ** 0.5
            for b in self.blocks:
                x = b(x)
            return self.head(x)

    model = Model()
    nparam = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.99))
    warm = max(1, a.steps // 20)

    def lr_at(i):
        if i < warm:
            return a.lr * (i + 1) / warm
        return a.lr * 0.5 * (1 + math.cos(math.pi * (i - warm) / max(1, a.steps - warm)))

    drng = np.random.default_rng(a.seed)
    t0 = time.time()
    log = []
    for i in range(a.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(i)
        inp, tgt, s = batch(tr_tok, tr_side, random_starts(drng, tr_ch, 0, held0, a.batch))
        loss = F.cross_entropy(model(inp, s).reshape(-1, 256), tgt.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        log.append(loss.item())
        if (i + 1) % 50 == 0 or i + 1 == a.steps:
            print(f"{a.variant} seed {a.seed} step {i + 1}/{a.steps} train {np.mean(log[-50:]) / math.log(2):.4f} "
                  f"bits/byte  {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
    train_s = time.time() - t0

    @torch.no_grad()
    def evaluate(tok, sidef, starts):
        model.eval()
        tot = np.zeros(T)
        for j in range(0, len(starts), 64):
            inp, tgt, s = batch(tok, sidef, starts[j:j + 64])
            nll = F.cross_entropy(model(inp, s).reshape(-1, 256), tgt.reshape(-1), reduction="none")
            tot += nll.view(-1, T).sum(0).numpy()
        model.train()
        b = tot / len(starts) / math.log(2)         # bits per token, per window position
        hi, lo = b[0::2].mean(), b[1::2].mean()
        late = b[T // 2:]
        return {"bpb": float(b.mean()), "hi": float(hi), "lo": float(lo), "bps": float(hi + lo),
                "late_bps": float(late[0::2].mean() + late[1::2].mean())}

    t1 = time.time()
    res = {"impl": "torch", "variant": a.variant, "seed": a.seed, "steps": a.steps, "batch": a.batch,
           "tokens": a.steps * a.batch * T, "params": nparam, "train_s": round(train_s, 1),
           "final_train_bpb": float(np.mean(log[-50:]) / math.log(2)),
           "dev": evaluate(dv_tok, dv_side, dev_st), "held": evaluate(tr_tok, tr_side, held_st)}
    res["eval_s"] = round(time.time() - t1, 1)
    print(json.dumps(res))
    if a.out:
        with open(a.out, "a") as f:
            f.write(json.dumps(res) + "\n")


def table(paths):
    """Markdown table of results files (this script's and tokenise_train.c's,
    comma-separated); d_offset: dev bits/sample minus the same impl's and
    seed's and steps' offset run (a paired difference: same windows, same
    init)."""
    rows = [json.loads(l) for p in paths.split(",") for l in open(p) if l.strip()]
    key = lambda r: (r.get("impl", "torch"), r["seed"], r["steps"])
    base = {key(r): r["dev"]["bps"] for r in rows if r["variant"] == "offset"}
    print("| impl | variant | seed | tokens | dev bits/byte | dev hi | dev lo | dev bits/sample "
          "| d_offset | held-out train bits/sample | train s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (r.get("impl", "torch"), r["steps"], VARIANTS.index(r["variant"]), r["seed"])):
        d, h, impl = r["dev"], r["held"], r.get("impl", "torch")
        b = base.get(key(r))
        dd = f"{d['bps'] - b:+.4f}" if b is not None else "-"
        print(f"| {impl} | {r['variant']} | {r['seed']} | {r['tokens'] / 1e6:.1f}M | {d['bpb']:.4f} | "
              f"{d['hi']:.4f} | {d['lo']:.4f} | {d['bps']:.4f} | {dd} | {h['bps']:.4f} | {r['train_s']:.0f} |")


if __name__ == "__main__":
    main()
