"""
dev/grad_check.py -- lmic's gradients against PyTorch autograd, and the
PyTorch reference training step that bench/train_speed.sh races.

The model is dev/model.py's (imported, not copied); here its parameters
become one leaf tensor that autograd differentiates. The loss is lmic's
(include/lmic.h, "Training"): the mean over the batch of each sequence's
summed log-loss divided by its length, i.e. the mean of -ln p over all B*T
positions.

Usage (Debian's /usr/bin/python3, which has torch):
  python3 dev/grad_check.py check MODEL DUMP [--tol 1e-3]
      DUMP is `lmic train ... --dump-grads DUMP --steps 0`: uint32 B, uint32 T,
      the batch's B*T tokens, the loss (float64) and lmic's gradient
      (num_params float32, the model file's order), all little-endian. Computes
      the same loss and gradient with autograd, compares every parameter
      tensor (relative difference |g_lmic - g_torch| / |g_torch|, 2-norms),
      prints one line per tensor and "gradcheck: N passed, M failed".
  python3 dev/grad_check.py bench MODEL TOKENS_FILE --batch B --seq T
      --steps N --threads K [--lr X]
      training steps (forward, backward, torch.optim.Adam) on random windows
      of TOKENS_FILE; prints "bench: ... tokens_per_s=X".
"""

import argparse
import struct
import sys
import time

import numpy as np
import torch

from model import Model
from modelfile import param_shapes, read_model


def model_with_grad(cfg, params):
    """A dev/model.py Model whose tensors are views of one leaf (returned)."""
    m = Model(cfg, params)
    flat = torch.tensor(np.ascontiguousarray(params, dtype=np.float32), requires_grad=True)
    off = 0
    for name, shape in param_shapes(cfg):
        n = int(np.prod(shape))
        m.p[name] = flat[off:off + n].view(shape)
        off += n
    return m, flat


def loss_of(m, tok):
    """lmic's loss on tok (B, T) int64: dev/model.py's forward, with gradients."""
    B, T = tok.shape
    inp = torch.cat([torch.zeros(B, 1, dtype=torch.long), tok[:, :-1]], dim=1)
    h = m.embed(inp, 0)
    for l in range(m.L):
        if m.pre:
            q, k, v = m.qkv(l, m.ln(l, "ln1", h), 0)
            h = h + m.attend(l, q, k, v, causal=True)
            h = h + m.ffn(l, m.ln(l, "ln2", h))
        else:
            q, k, v = m.qkv(l, h, 0)
            h = m.ln(l, "ln1", h + m.attend(l, q, k, v, causal=True))
            h = m.ln(l, "ln2", h + m.ffn(l, h))
    logp = m.head(h)                                   # (B, T, 256)
    return -logp.gather(-1, tok[..., None]).mean()


def cmd_check(a):
    cfg, params, _ = read_model(a.model)
    raw = open(a.dump, "rb").read()
    B, T = struct.unpack_from("<II", raw, 0)
    tok = np.frombuffer(raw, dtype=np.uint8, count=B * T, offset=8).reshape(B, T)
    (loss_c,) = struct.unpack_from("<d", raw, 8 + B * T)
    g_c = np.frombuffer(raw, dtype="<f4", offset=16 + B * T)
    if g_c.size != params.size:
        sys.exit(f"grad_check.py: {a.dump} has {g_c.size} gradients, the model {params.size} parameters")
    m, flat = model_with_grad(cfg, params)
    loss = loss_of(m, torch.from_numpy(tok.astype(np.int64)))
    loss.backward()
    g_t = flat.grad.numpy()
    passed = failed = 0
    dl = abs(loss_c - loss.item())
    ok = dl <= 1e-5
    passed, failed = passed + ok, failed + (not ok)
    print(f"{'ok  ' if ok else 'FAIL'} loss                lmic {loss_c:.7f} torch {loss.item():.7f} |diff| {dl:.1e}")
    off = 0
    worst = 0.0
    for name, shape in param_shapes(cfg):
        n = int(np.prod(shape))
        gc, gt = g_c[off:off + n].astype(np.float64), g_t[off:off + n].astype(np.float64)
        off += n
        nt = np.linalg.norm(gt)
        rel = np.linalg.norm(gc - gt) / nt if nt > 0 else np.linalg.norm(gc)
        worst = max(worst, rel)
        ok = rel <= a.tol
        passed, failed = passed + ok, failed + (not ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name:18s} |g| {nt:.3e} relative difference {rel:.2e}")
    print(f"worst relative difference {worst:.2e} (tolerance {a.tol:g})")
    print(f"gradcheck: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def cmd_bench(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg, params, _ = read_model(a.model)
    m, flat = model_with_grad(cfg, params)
    opt = torch.optim.Adam([flat], lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    data = np.fromfile(a.tokens, dtype=np.uint8)
    rng = np.random.default_rng(0)

    def batch():
        s = rng.integers(0, data.size - a.seq + 1, size=a.batch)
        return torch.from_numpy(np.stack([data[i:i + a.seq] for i in s]).astype(np.int64))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_of(m, batch())
        loss.backward()
        opt.step()
        return loss.item()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    el = time.perf_counter() - t0
    print(f"bench: impl=pytorch-{torch.__version__} threads={torch.get_num_threads()} batch={a.batch} "
          f"seq={a.seq} steps={a.steps} seconds={el:.3f} loss={loss:.4f} "
          f"tokens_per_s={a.steps * a.batch * a.seq / el:.1f}")


def main():
    ap = argparse.ArgumentParser(description="lmic's gradients against PyTorch")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("check")
    p.add_argument("model")
    p.add_argument("dump")
    p.add_argument("--tol", type=float, default=1e-3)
    p = sub.add_parser("bench")
    p.add_argument("model")
    p.add_argument("tokens")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-4)
    a = ap.parse_args()
    {"check": cmd_check, "bench": cmd_bench}[a.cmd](a)


if __name__ == "__main__":
    main()
