"""The PyTorch twins of SwiftGAN's models, losses and training iteration, for the scripts of `reference/`.

The twins live in python/swiftgan_torch/twin.py, the optional package beside `swiftgan` that `swiftgan compare`
runs; this module loads that file by its path, so `import swiftgan_reference as ref` works in any Python that has
torch, with or without SwiftGAN installed.
"""
import importlib.util
import os
import sys

_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python", "swiftgan_torch", "twin.py")
_spec = importlib.util.spec_from_file_location(__name__, _PATH)
_module = importlib.util.module_from_spec(_spec)
sys.modules[__name__] = _module
_spec.loader.exec_module(_module)
