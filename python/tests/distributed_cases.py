"""The configurations test_distributed.py trains on 2 MPI ranks and in one process, and how a run is recorded."""
from typing import Dict, Optional

import numpy as np

import swiftgan as sg

ITERATIONS = 3
BATCH = 16
_TINY = dict(image_size=32, channels=1, ngf=4, ndf=4, z_dim=8, seed=3)

# BEGAN under SGD: its auto-encoder puts a Linear's bias before a batch norm, whose critic gradient is 0 up to
# rounding, and Adam turns that noise into ±lr updates (in one process too, from one thread count to another).
CASES: Dict[str, Dict[str, object]] = {
    "RaSGAN": dict(_TINY, loss="RaSGAN"),
    "RaLSGAN-GP": dict(_TINY, loss="RaLSGAN-GP"),
    "RpSGAN-avg": dict(_TINY, loss="RpSGAN-avg"),
    "DRAGAN": dict(_TINY, loss="DRAGAN"),
    "BEGAN": dict(_TINY, loss="BEGAN", arch="autoencoder", optimizer="sgd"),
    "pack2": dict(_TINY, loss="RaSGAN", pack=2),
    # a critic without buffers, which takes its penalty before its adversarial term; under SGD as BEGAN: the
    # generator's last block's biases feed a batch norm
    "ResNet-WGAN-GP": dict(_TINY, loss="WGAN-GP", arch="resnet", optimizer="sgd"),
}


def record_run(options: Dict[str, object], communicator: Optional[object] = None) -> Dict[str, np.ndarray]:
    """ITERATIONS steps on batches of BATCH drawn from a stream seeded 7: each step's statistics and gradients, and
    the final state (weights, optimizer state, moving average), by name."""
    gan = sg.GAN(**options, threads=1)
    if communicator is not None:
        gan.distribute(communicator)
    gan.retain_gradients = True
    rng = np.random.default_rng(7)
    record: Dict[str, np.ndarray] = {}
    for i in range(ITERATIONS):
        real = rng.uniform(-1, 1, (BATCH,) + gan.sample_shape).astype(np.float32)
        stats = gan.train_step(real)
        record[f"stats{i}"] = np.array([stats[k] for k in sorted(stats)], np.float64)
        for name, g in gan.gradients().items():
            record[f"grad{i}/{name}"] = g
    for name, value in {**gan.state_dict(), **gan.optimizer_state()}.items():
        record[f"state/{name}"] = value
    gan.close()
    return record
