"""SwiftGAN: relativistic and classic GANs trained on the CPU by a Swift core.

    import swiftgan as sg
    gan = sg.GAN(loss="RaSGAN", image_size=32, channels=1, seed=1)
    stats = gan.train_step(real)      # float32 [N, C, H, W] in [-1, 1]
    images = gan.sample(64)

Two floors: the engine (GAN, FeatureNetwork, checkpoints, metrics, the catalogue) needs NumPy and safetensors only
and imports nothing of the lab on top (datasets, runs, the command line, studies, comparisons, plots), whose
libraries are imported when a lab function needs them.
"""
import warnings as _warnings

from . import processor
with processor.openblas_kernels_chosen() as _chosen:  # OpenBLAS chooses its kernels as the core is loaded
    from ._native import SwiftGANError, TrainingDivergedError
from .core import architectures, kernels, losses, penalties, profile
_kernels_warning = processor.kernels_warning(_chosen, kernels()["openblas"])
if _kernels_warning:
    _warnings.warn(_kernels_warning, RuntimeWarning, stacklevel=2)
from .gan import GAN
from .features import FeatureNetwork
from .checkpoint import CheckpointDamagedError
from .options import option_table
from . import metrics
# the lab floor
from .images import save_grid, make_grid  # images also shows a GAN in Jupyter
from .datasets import BatchSampler, load_dataset, load_idx_images
from .run import Run, load_run, train
from .animations import morph
from .plots import plot_losses

__all__ = ["GAN", "FeatureNetwork", "SwiftGANError", "TrainingDivergedError", "CheckpointDamagedError", "losses",
           "penalties", "architectures", "kernels", "profile", "option_table", "metrics", "save_grid", "make_grid",
           "load_idx_images", "load_dataset", "BatchSampler", "train", "load_run", "Run", "morph", "plot_losses",
           "__version__"]
__version__ = "0.1.0"
