"""Reads safetensors files with the reference `safetensors` package (Rust parser) and numpy,
independently of daotrain, and prints every tensor as JSON: dtype, shape, float values.
numpy has no bfloat16, so BF16 tensors are widened from their raw bytes (bf16 is the top half
of a float32)."""
import json
import sys

import numpy as np
from safetensors import deserialize, safe_open

out = {"tensors": {}, "metadata": {}}
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        raw = f.read()
    with safe_open(path, framework="np") as f:
        out["metadata"] = f.metadata() or {}
        for name, info in deserialize(raw):
            dtype = str(info["dtype"]).upper()
            if dtype in ("BF16", "BFLOAT16"):
                widened = np.frombuffer(bytes(info["data"]), dtype="<u2").astype(np.uint32) << 16
                values = widened.view(np.float32)
                dtype = "BF16"
            else:
                values = f.get_tensor(name).astype(np.float32)
            out["tensors"][name] = {
                "dtype": dtype,
                "shape": list(info["shape"]),
                "values": [float(v) for v in np.asarray(values).reshape(-1)],
            }
json.dump(out, sys.stdout)
