"""Seeded random weights for FID's Inception-v3, the same in the parity test (NumPy only) and in the script that
makes its fixture with pytorch-fid's network (reference/make_inception_fixture.py).

Each tensor is drawn from its own generator, seeded by the seed and its name, so the draw depends on neither the
order nor the set of the other names: convolutions He-normal (the activations keep their scale through the 94
layers), batch-norm scales and running variances in [0.5, 1.5], shifts and running means N(0, 0.1²).
"""
import zlib

import numpy as np


def random_inception_state(shapes, seed):
    """{name: float32 array} for {name: shape}, names as in pytorch-fid's state dict."""
    state = {}
    for name, shape in shapes.items():
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        shape = tuple(shape)
        if name.endswith("conv.weight"):
            values = rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[1:]))
        elif name.endswith(("bn.weight", "bn.running_var")):
            values = rng.uniform(0.5, 1.5, shape)
        elif name.endswith(("bn.bias", "bn.running_mean")):
            values = rng.standard_normal(shape) * 0.1
        else:
            raise ValueError(f"no rule for {name}")
        state[name] = values.astype(np.float32)
    return state
