"""
dev/modelfile.py -- lmic's model file (docs/format.md) in Python: read (every
check the C reader makes: magic, version, storage, config, parameter count,
size, CRC-32, fingerprint), write (float32 or float16), and random test
models. numpy only, so scripts that only need files skip torch's import.

Usage (Debian's /usr/bin/python3):
  python3 dev/modelfile.py random --preset P --seed S [--positions rotary]
      [--norm pre] [--context N] [--f16] -o OUT [-f]
      a model file with random weights AND random biases, layer-norm gains and
      offsets (lmic's initialiser sets those to 0 and 1, which would hide a
      bias or gain bug from a parity test). A test model, not lmic's init.
  python3 dev/modelfile.py info MODEL
"""

import argparse
import hashlib
import math
import struct
import sys
import zlib

import numpy as np

V = 256
MAGIC = b"LMICMODL"
VERSION = 1
HEADER_BYTES = 68  # magic 8, version 4, storage 4, config 28, count 8, md5 16
CONFIG_KEYS = ("d_model", "n_layers", "n_heads", "widening", "context", "positions", "norm")
POS_SINUSOIDAL, POS_ROTARY = 0, 1
NORM_POST, NORM_PRE = 0, 1

# -----------------------------------------------------------------------------
# the model file


def param_shapes(cfg):
    """(name, shape) for every tensor, in the file's order (docs/format.md)."""
    C, L = cfg["d_model"], cfg["n_layers"]
    Fh = cfg["widening"] * C
    shapes = [("wte", (V, C))]
    for l in range(L):
        shapes += [
            (f"h{l}.wq", (C, C)), (f"h{l}.wk", (C, C)), (f"h{l}.wv", (C, C)), (f"h{l}.wo", (C, C)),
            (f"h{l}.ln1_g", (C,)), (f"h{l}.ln1_b", (C,)),
            (f"h{l}.w1", (C, Fh)), (f"h{l}.b1", (Fh,)),
            (f"h{l}.w2", (Fh, C)), (f"h{l}.b2", (C,)),
            (f"h{l}.ln2_g", (C,)), (f"h{l}.ln2_b", (C,)),
        ]
    if cfg["norm"] == NORM_PRE:
        shapes += [("lnf_g", (C,)), ("lnf_b", (C,))]
    shapes += [("wout", (C, V)), ("bout", (V,))]
    return shapes


def num_params(cfg):
    return sum(int(np.prod(s)) for _, s in param_shapes(cfg))


def check_config(cfg):
    C, NH = cfg["d_model"], cfg["n_heads"]
    ok = (2 <= C <= 4096 and 1 <= cfg["n_layers"] <= 64 and 1 <= NH <= 256 and C % NH == 0
          and 1 <= cfg["widening"] <= 16 and 1 <= cfg["context"] <= 65536
          and cfg["positions"] in (POS_SINUSOIDAL, POS_ROTARY) and cfg["norm"] in (NORM_POST, NORM_PRE))
    if ok and cfg["positions"] == POS_ROTARY and (C // NH) % 2:
        ok = False
    if ok and cfg["positions"] == POS_SINUSOIDAL and C % 2:
        ok = False
    if not ok:
        raise ValueError(f"bad model config {cfg}")


def config_bytes(cfg):
    return struct.pack("<7I", *(cfg[k] for k in CONFIG_KEYS))


def fingerprint(cfg, params_f32):
    """MD5 of the 28 config bytes and every parameter as little-endian float32."""
    return hashlib.md5(config_bytes(cfg) + params_f32.astype("<f4").tobytes()).digest()


def read_model(path):
    """Returns (cfg, params as float32 numpy array, info dict); raises ValueError on a bad file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8 or data[:8] != MAGIC:
        raise ValueError(f"{path}: not an lmic model file (bad magic)")
    if len(data) < HEADER_BYTES + 4:
        raise ValueError(f"{path}: truncated header")
    version, storage = struct.unpack_from("<II", data, 8)
    if version != VERSION:
        raise ValueError(f"{path}: model file version {version} (this reader knows {VERSION})")
    if storage not in (0, 1):
        raise ValueError(f"{path}: unknown storage type {storage}")
    cfg = dict(zip(CONFIG_KEYS, struct.unpack_from("<7I", data, 16)))
    check_config(cfg)
    (n,) = struct.unpack_from("<Q", data, 44)
    if n != num_params(cfg):
        raise ValueError(f"{path}: {n} parameters, the config implies {num_params(cfg)}")
    wb = 2 if storage == 1 else 4
    end = HEADER_BYTES + n * wb
    if len(data) != end + 4:
        raise ValueError(f"{path}: {len(data)} bytes, expected {end + 4}")
    (crc,) = struct.unpack_from("<I", data, end)
    if zlib.crc32(data[:end]) != crc:
        raise ValueError(f"{path}: CRC mismatch")
    dtype = "<f2" if storage == 1 else "<f4"
    params = np.frombuffer(data, dtype=dtype, count=n, offset=HEADER_BYTES).astype(np.float32)
    fp = data[52:68]
    if fingerprint(cfg, params) != fp:
        raise ValueError(f"{path}: fingerprint mismatch")
    return cfg, params, {"storage": "float16" if storage else "float32", "fingerprint": fp.hex()}


def write_model(path, cfg, params, f16=False):
    """Writes an lmic model file (for tests of the reader; lmic's own writer is src/model.c)."""
    check_config(cfg)
    params = np.asarray(params, dtype=np.float32)
    assert params.size == num_params(cfg)
    stored = params.astype("<f2") if f16 else params.astype("<f4")
    loaded = stored.astype(np.float32)  # the fingerprint names what a reader loads
    head = MAGIC + struct.pack("<II", VERSION, 1 if f16 else 0) + config_bytes(cfg)
    head += struct.pack("<Q", params.size) + fingerprint(cfg, loaded)
    body = head + stored.tobytes()
    with open(path, "wb") as f:
        f.write(body + struct.pack("<I", zlib.crc32(body)))


PRESETS = {  # include/lmic.h: (C, L, NH), widening 4, context 2048
    "dm-default": (64, 4, 8), "200k": (64, 4, 4), "800k": (128, 4, 4), "3.2m": (256, 4, 8),
}


def preset_config(name, context=2048, positions=POS_SINUSOIDAL, norm=NORM_POST):
    C, L, NH = PRESETS[name]
    return dict(d_model=C, n_layers=L, n_heads=NH, widening=4, context=context,
                positions=positions, norm=norm)


def random_params(cfg, seed):
    """Random weights of the right scale (not lmic's initialiser: just for tests)."""
    rng = np.random.default_rng(seed)
    out = []
    for name, shape in param_shapes(cfg):
        base = name.split(".")[-1]
        if base.startswith("ln") and base.endswith("_g"):
            w = 1.0 + 0.1 * rng.standard_normal(shape)
        elif base.startswith(("b", "ln")):
            w = 0.1 * rng.standard_normal(shape)
        elif base == "wte":
            w = 0.02 * rng.standard_normal(shape)
        else:
            w = rng.standard_normal(shape) / math.sqrt(shape[0])
        out.append(w.astype(np.float32).ravel())
    return np.concatenate(out)


# -----------------------------------------------------------------------------
# command line


def cmd_random(a):
    cfg = preset_config(a.preset, a.context, POS_ROTARY if a.positions == "rotary" else POS_SINUSOIDAL,
                        NORM_PRE if a.norm == "pre" else NORM_POST)
    write_model(a.out, cfg, random_params(cfg, a.seed), a.f16)


def cmd_info(a):
    cfg, params, info = read_model(a.model)
    for k in CONFIG_KEYS:
        print(f"{k}: {cfg[k]}")
    print(f"parameters: {params.size}\nstorage: {info['storage']}\nfingerprint: {info['fingerprint']}")


def main():
    ap = argparse.ArgumentParser(description="lmic model files")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("random")
    p.add_argument("-o", dest="out", required=True)
    p.add_argument("-f", action="store_true", help="overwrite (always does; as lmic's flag)")
    p.add_argument("--preset", choices=sorted(PRESETS), required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--positions", choices=("sinusoidal", "rotary"), default="sinusoidal")
    p.add_argument("--norm", choices=("post", "pre"), default="post")
    p.add_argument("--context", type=int, default=2048)
    p.add_argument("--f16", action="store_true")
    p = sub.add_parser("info")
    p.add_argument("model")
    a = ap.parse_args()
    try:
        {"random": cmd_random, "info": cmd_info}[a.cmd](a)
    except ValueError as e:
        sys.exit(f"modelfile.py: {e}")


if __name__ == "__main__":
    main()
