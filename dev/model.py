"""
dev/model.py -- lmic's model in PyTorch: the reference the C forward pass
(src/forward.c) is checked against (tests/parity.sh) and raced against
(bench/model_speed.sh).

The model is the paper's (google-deepmind/language_modeling_is_compression,
transformer.py), with lmic's two options (rotary positions, pre-LN):
  - tokens right-shifted with a BOS of 0;
  - x = wte[tok] * sqrt(C) + the reference's sinusoid table (its quirk kept:
    freqs = 0, 2, ..., C, table = concat(sin, cos)[:, :C]), or nothing added
    when positions are rotary (then q and k are rotated per head, half-split);
  - L blocks of causal multi-head attention (no biases, scale 1/sqrt(hs)) and
    a feed-forward C -> F -> C with biases and tanh-GELU, post-LN
    (h = LN1(h + attn(h)); h = LN2(h + ffn(h))) or pre-LN
    (h = h + attn(LN1(h)); h = h + ffn(LN2(h)); LNf at the end);
  - logits = h wout + bout; log_softmax.
Everything is float32. Weights come from an lmic model file (docs/format.md),
float32 or float16 storage, read and checked by dev/modelfile.py.

Usage (always Debian's /usr/bin/python3, which has torch):
  python3 dev/model.py logp MODEL TOKENS_FILE CHUNK_SIZE OUT_FILE [--batch B]
      every CHUNK_SIZE tokens of TOKENS_FILE scored independently (each from
      BOS); OUT_FILE gets 256 little-endian float32 log-probs per position,
      the layout of `lmic score --dump-logp`.
  python3 dev/model.py bench MODEL TOKENS_FILE CHUNK_SIZE --mode whole|incremental
      [--batch B] [--threads N] [--repeat R]
      bytes/s of the whole-sequence forward pass, or of incremental decoding
      with a KV cache; prints one line "bench: ..." (key=value pairs).
  python3 dev/model.py compare MANIFEST [--tol X]
      for each line "NAME MODEL TOKENS_FILE CHUNK_SIZE LOGP_FILE" of MANIFEST,
      compares LOGP_FILE (from `lmic score --dump-logp`) with this model's
      log-probs; prints "NAME max|dlogp| ..." per line and exits 1 if any
      difference exceeds --tol (tests/parity.sh; one process for all cases
      because importing torch costs a second).
  python3 dev/model.py selftest
      writes model files from Python, reads them back (CRC, fingerprint,
      float16), checks that the KV-cache decoder equals the whole-sequence pass.
"""

import argparse
import math
import struct
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn.functional as F

from modelfile import (NORM_PRE, POS_ROTARY, V, num_params, param_shapes, preset_config,
                       random_params, read_model, write_model)


# -----------------------------------------------------------------------------
# the model


def sinusoid_table(T, C):
    """The reference's sinusoid_position_encoding, in float64, then float32. (T, C)"""
    freqs = np.arange(0, C + 1, 2)                   # C/2 + 1 frequencies (sic)
    inv_freq = 1e4 ** (-freqs / C)
    inp = np.einsum("i,j->ij", np.arange(T), inv_freq)
    table = np.concatenate([np.sin(inp), np.cos(inp)], axis=-1)[:, :C]
    return torch.from_numpy(table.astype(np.float32))


def rotary_tables(T, hs):
    """cos and sin of pos * 10000^(-2i/hs), i < hs/2, in float64, then float32. (T, hs/2) each"""
    theta = 10000.0 ** (-2.0 * np.arange(hs // 2) / hs)
    ang = np.arange(T)[:, None] * theta[None, :]
    return (torch.from_numpy(np.cos(ang).astype(np.float32)),
            torch.from_numpy(np.sin(ang).astype(np.float32)))


def rotate(x, cos, sin):
    """Half-split rotary: x is (B, NH, T, hs), cos/sin (T, hs/2)."""
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def layernorm(x, g, b, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)   # biased, as haiku / lmic
    return (x - mean) / torch.sqrt(var + eps) * g + b


def gelu(x):
    return F.gelu(x, approximate="tanh")             # jax.nn.gelu's default form


class Model:
    def __init__(self, cfg, params):
        self.cfg = cfg
        self.C, self.L, self.NH = cfg["d_model"], cfg["n_layers"], cfg["n_heads"]
        self.hs = self.C // self.NH
        self.rotary = cfg["positions"] == POS_ROTARY
        self.pre = cfg["norm"] == NORM_PRE
        flat = torch.from_numpy(np.ascontiguousarray(params, dtype=np.float32))
        self.p, off = {}, 0
        for name, shape in param_shapes(cfg):
            n = int(np.prod(shape))
            self.p[name] = flat[off:off + n].view(shape)
            off += n
        T = cfg["context"]
        if self.rotary:
            self.cos, self.sin = rotary_tables(T, self.hs)
        else:
            self.pos = sinusoid_table(T, self.C)

    @classmethod
    def load(cls, path):
        cfg, params, _ = read_model(path)
        return cls(cfg, params)

    # --- pieces shared by the whole-sequence and the incremental paths

    def embed(self, inp, t0):
        """inp (B, T) int64 tokens at positions t0 .. t0+T-1 -> (B, T, C)"""
        x = self.p["wte"][inp] * math.sqrt(self.C)
        if not self.rotary:
            x = x + self.pos[t0:t0 + inp.shape[1]]
        return x

    def qkv(self, l, x, t0):
        """x (B, T, C) -> q, k, v each (B, NH, T, hs), rotated if rotary"""
        B, T, C = x.shape
        p = self.p
        q = (x @ p[f"h{l}.wq"]).view(B, T, self.NH, self.hs).transpose(1, 2)
        k = (x @ p[f"h{l}.wk"]).view(B, T, self.NH, self.hs).transpose(1, 2)
        v = (x @ p[f"h{l}.wv"]).view(B, T, self.NH, self.hs).transpose(1, 2)
        if self.rotary:
            cos, sin = self.cos[t0:t0 + T], self.sin[t0:t0 + T]
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        return q, k, v

    def attend(self, l, q, k, v, causal):
        """q (B, NH, Tq, hs), k/v (B, NH, Tk, hs) -> (B, Tq, C) after wo"""
        B, NH, Tq, hs = q.shape
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))   # (B, NH, Tq, Tk)
        if causal:
            mask = torch.ones(Tq, k.shape[2], dtype=torch.bool).tril()
            att = att.masked_fill(~mask, float("-inf"))
        att = torch.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, Tq, NH * hs)
        return y @ self.p[f"h{l}.wo"]

    def ffn(self, l, x):
        p = self.p
        return gelu(x @ p[f"h{l}.w1"] + p[f"h{l}.b1"]) @ p[f"h{l}.w2"] + p[f"h{l}.b2"]

    def ln(self, l, which, x):
        return layernorm(x, self.p[f"h{l}.{which}_g"], self.p[f"h{l}.{which}_b"])

    def head(self, h):
        if self.pre:
            h = layernorm(h, self.p["lnf_g"], self.p["lnf_b"])
        logits = h @ self.p["wout"] + self.p["bout"]
        return torch.log_softmax(logits, dim=-1)

    # --- whole sequence

    @torch.no_grad()
    def forward(self, tokens):
        """tokens (B, T) uint8 (numpy or torch) -> logp (B, T, 256) float32"""
        tok = torch.as_tensor(np.asarray(tokens)).long()
        B, T = tok.shape
        assert 1 <= T <= self.cfg["context"]
        inp = torch.cat([torch.zeros(B, 1, dtype=torch.long), tok[:, :-1]], dim=1)  # shift right, BOS 0
        h = self.embed(inp, 0)
        for l in range(self.L):
            if self.pre:
                q, k, v = self.qkv(l, self.ln(l, "ln1", h), 0)
                h = h + self.attend(l, q, k, v, causal=True)
                h = h + self.ffn(l, self.ln(l, "ln2", h))
            else:
                q, k, v = self.qkv(l, h, 0)
                h = self.ln(l, "ln1", h + self.attend(l, q, k, v, causal=True))
                h = self.ln(l, "ln2", h + self.ffn(l, h))
        return self.head(h)

    # --- incremental decoding with a KV cache

    @torch.no_grad()
    def decode(self, tokens):
        """Same result as forward(), one position at a time through a KV cache."""
        tok = torch.as_tensor(np.asarray(tokens)).long()
        B, T = tok.shape
        kc = torch.empty(self.L, B, self.NH, T, self.hs)   # key cache (L, B, NH, T, hs)
        vc = torch.empty(self.L, B, self.NH, T, self.hs)
        out = torch.empty(B, T, V)
        prev = torch.zeros(B, 1, dtype=torch.long)        # BOS
        for t in range(T):
            h = self.embed(prev, t)                         # (B, 1, C)
            for l in range(self.L):
                x = self.ln(l, "ln1", h) if self.pre else h
                q, k, v = self.qkv(l, x, t)
                kc[l, :, :, t:t + 1] = k
                vc[l, :, :, t:t + 1] = v
                a = self.attend(l, q, kc[l, :, :, :t + 1], vc[l, :, :, :t + 1], causal=False)
                if self.pre:
                    h = h + a
                    h = h + self.ffn(l, self.ln(l, "ln2", h))
                else:
                    h = self.ln(l, "ln1", h + a)
                    h = self.ln(l, "ln2", h + self.ffn(l, h))
            out[:, t] = self.head(h)[:, 0]
            prev = tok[:, t:t + 1]
        return out


# -----------------------------------------------------------------------------
# command line


def read_chunks(path, chunk_size):
    data = np.fromfile(path, dtype=np.uint8)
    if chunk_size < 1 or data.size == 0 or data.size % chunk_size:
        sys.exit(f"model.py: {path}: {data.size} bytes is not a whole number of {chunk_size}-byte chunks")
    return data.reshape(-1, chunk_size)


def cmd_logp(a):
    m = Model.load(a.model)
    chunks = read_chunks(a.tokens, a.chunk_size)
    if a.chunk_size > m.cfg["context"]:
        sys.exit(f"model.py: chunks of {a.chunk_size} exceed the model's context of {m.cfg['context']}")
    with open(a.out, "wb") as f:
        for i in range(0, len(chunks), a.batch):
            f.write(m.forward(chunks[i:i + a.batch]).numpy().astype("<f4").tobytes())


def compare_one(model, tokens, chunk_size, logp_file, tol):
    """Max |lmic - torch| over every log-prob, and where it is; (diff, text)."""
    m = Model.load(model)
    chunks = read_chunks(tokens, chunk_size)
    got = np.fromfile(logp_file, dtype="<f4")
    if got.size != chunks.size * V:
        return float("inf"), f"{logp_file} has {got.size} floats, expected {chunks.size * V}"
    got = got.reshape(chunks.shape[0], chunk_size, V)
    want = np.concatenate([m.forward(chunks[i:i + 64]).numpy() for i in range(0, len(chunks), 64)])
    if not np.isfinite(got).all():
        bad = np.argwhere(~np.isfinite(got))[0]
        return float("inf"), f"non-finite value from lmic at chunk {bad[0]} pos {bad[1]} v {bad[2]}"
    d = np.abs(got.astype(np.float64) - want.astype(np.float64))
    c, t, v = np.unravel_index(int(d.argmax()), d.shape)
    per_pos = d.max(-1)                                  # (chunks, T)
    over = np.argwhere(per_pos > tol)                  # (n, 2) chunk, position
    text = (f"worst at chunk {c} pos {t} v {v} (lmic {got[c, t, v]:.6f}, torch {want[c, t, v]:.6f}); "
            f"{len(over)} of {per_pos.size} positions over {tol:g}"
            + (f", first at chunk {over[0][0]} pos {over[0][1]}" if len(over) else "")
            + f"; max at pos 0 {per_pos[:, 0].max():.1e}, at pos {chunk_size - 1} {per_pos[:, -1].max():.1e}")
    return float(d.max()), text


def cmd_compare(a):
    failed = 0
    for line in open(a.manifest):
        if not line.strip():
            continue
        name, model, tokens, chunk_size, logp_file = line.split()
        try:
            diff, text = compare_one(model, tokens, int(chunk_size), logp_file, a.tol)
        except (ValueError, OSError) as e:
            diff, text = float("inf"), str(e)
        ok = diff <= a.tol
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name:44s} max|dlogp| {diff:.2e}" + ("" if ok else f"  {text}"),
              flush=True)
    sys.exit(1 if failed else 0)


def cmd_bench(a):
    torch.set_num_threads(a.threads)
    m = Model.load(a.model)
    chunks = read_chunks(a.tokens, a.chunk_size)
    run = m.forward if a.mode == "whole" else m.decode
    run(chunks[:a.batch])  # warm-up
    best = float("inf")
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        for i in range(0, len(chunks), a.batch):
            run(chunks[i:i + a.batch])
        best = min(best, time.perf_counter() - t0)
    kind = "whole" if a.mode == "whole" else "incremental(kv-cache)"
    print(f"bench: mode={kind} batch={a.batch} threads={torch.get_num_threads()} "
          f"bytes={chunks.size} seconds={best:.6f} bytes_per_s={chunks.size / best:.1f}")


def cmd_selftest(_):
    import os
    import tempfile
    failures = 0

    def check(name, ok):
        nonlocal failures
        print(f"{'ok' if ok else 'FAIL'}  {name}")
        failures += not ok

    base = dict(d_model=32, n_layers=2, n_heads=4, widening=4, context=48, positions=0, norm=0)
    check("dm-default parameter count 231,936", num_params(preset_config("dm-default")) == 231936)
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, 256, size=(3, 40), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as d:
        for pos in (0, 1):
            for norm in (0, 1):
                for f16 in (False, True):
                    cfg = dict(base, positions=pos, norm=norm)
                    params = random_params(cfg, 7)
                    path = os.path.join(d, "m.lmic")
                    write_model(path, cfg, params, f16)
                    cfg2, p2, _ = read_model(path)
                    want = params.astype(np.float16).astype(np.float32) if f16 else params
                    tag = f"pos={pos} norm={norm} f16={int(f16)}"
                    check(f"{tag}: read back", cfg2 == cfg and np.array_equal(p2, want))
                    m = Model(cfg2, p2)
                    lp = m.forward(tokens)
                    check(f"{tag}: rows are distributions",
                          float((lp.exp().sum(-1) - 1).abs().max()) < 1e-5)
                    dd = float((lp - m.decode(tokens)).abs().max())
                    check(f"{tag}: kv-cache decode = whole sequence (max diff {dd:.2e})", dd < 1e-5)
                    # causality: changing a later token leaves earlier rows alone
                    t2 = tokens.copy()
                    t2[:, 20] ^= 0x55
                    lp2 = m.forward(t2)
                    check(f"{tag}: causal", torch.equal(lp[:, :21], lp2[:, :21])
                          and not torch.equal(lp[:, 21:], lp2[:, 21:]))
        # damaged files are refused
        cfg = dict(base)
        write_model(path, cfg, random_params(cfg, 3))
        good = open(path, "rb").read()
        for what, bad in [("flipped weight byte", good[:100] + bytes([good[100] ^ 1]) + good[101:]),
                          ("truncated", good[:-1]), ("bad magic", b"X" + good[1:]),
                          ("bad version", good[:8] + b"\x02" + good[9:])]:
            with open(path, "wb") as f:
                f.write(bad)
            try:
                read_model(path)
                check(f"refuses {what}", False)
            except ValueError:
                check(f"refuses {what}", True)
        # a file whose CRC is right but whose fingerprint is wrong
        body = bytearray(good[:-4])
        body[52] ^= 1
        with open(path, "wb") as f:
            f.write(bytes(body) + struct.pack("<I", zlib.crc32(bytes(body))))
        try:
            read_model(path)
            check("refuses a wrong fingerprint", False)
        except ValueError:
            check("refuses a wrong fingerprint", True)
    print(f"selftest: {'OK' if failures == 0 else f'{failures} FAILED'}")
    sys.exit(1 if failures else 0)


def main():
    ap = argparse.ArgumentParser(description="lmic's model in PyTorch")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("logp")
    p.add_argument("model")
    p.add_argument("tokens")
    p.add_argument("chunk_size", type=int)
    p.add_argument("out")
    p.add_argument("--batch", type=int, default=64)
    p = sub.add_parser("bench")
    p.add_argument("model")
    p.add_argument("tokens")
    p.add_argument("chunk_size", type=int)
    p.add_argument("--mode", choices=("whole", "incremental"), default="whole")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=1)
    p = sub.add_parser("compare")
    p.add_argument("manifest")
    p.add_argument("--tol", type=float, default=1e-4)
    sub.add_parser("selftest")
    a = ap.parse_args()
    try:
        {"logp": cmd_logp, "bench": cmd_bench, "compare": cmd_compare,
         "selftest": cmd_selftest}[a.cmd](a)
    except ValueError as e:
        sys.exit(f"model.py: {e}")


if __name__ == "__main__":
    main()
