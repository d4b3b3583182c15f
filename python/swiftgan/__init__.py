"""SwiftGAN: relativistic and classic GANs trained on the CPU by a Swift core.

    import swiftgan as sg
    gan = sg.GAN(loss="RaSGAN", image_size=32, channels=1, seed=1)
    stats = gan.train_step(real)      # float32 [N, C, H, W] in [-1, 1]
    images = gan.sample(64)

Two floors. The engine (`GAN`, `FeatureNetwork`, checkpoints, metrics, the core's catalogue) needs NumPy and
safetensors only and imports nothing of the lab. The lab (datasets, runs, the command line, studies, comparisons,
plots, animations) sits on top; its names below are imported when first used.
"""
import importlib

from ._native import SwiftGANError, TrainingDivergedError
from .core import architectures, losses, penalties, profile
from .gan import GAN
from .features import FeatureNetwork
from .checkpoint import CheckpointDamagedError
from .options import option_table
from . import metrics
from .images import save_grid, make_grid  # also how Jupyter shows a GAN (Pillow is needed when a picture is made)

# The lab's public names and their modules, imported on first use.
_LAB = {"load_idx_images": "datasets", "load_dataset": "datasets", "BatchSampler": "datasets", "train": "run",
        "load_run": "run", "Run": "run", "morph": "animations", "plot_losses": "plots"}


def __getattr__(name: str):
    if name in _LAB:
        value = getattr(importlib.import_module(f".{_LAB[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'swiftgan' has no attribute {name!r}")


__all__ = ["GAN", "FeatureNetwork", "SwiftGANError", "TrainingDivergedError", "CheckpointDamagedError", "losses",
           "penalties", "architectures", "profile", "option_table", "save_grid", "make_grid", "metrics",
           *_LAB, "__version__"]
__version__ = "0.1.0"
