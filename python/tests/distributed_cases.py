"""The configurations test_distributed.py trains on 2 MPI ranks and in one process, and how a run is recorded."""
from typing import Dict, List, NamedTuple, Optional

import numpy as np

import swiftgan as sg
from parity import ROUNDING_FLIPS, ROUNDING_MARGIN, branch_log
from swiftgan import _native

ITERATIONS = 3
BATCH = 16
# Each case runs from each of these seeds; test_distributed.py compares on the first whose two runs took the same
# branch at every kink (DataParallelTests' rule: a ReLU input within rounding of 0 falls on the side the
# processor's rounding picks, and from there on the runs differ by percents).
SEEDS = (3, 4, 5)
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
    """ITERATIONS steps on batches of BATCH drawn from a stream seeded 7: each step's statistics, gradients and
    branch log (`branch_log`), and the final state (weights, optimizer state, moving average), by name."""
    gan = sg.GAN(**options, threads=1)
    if communicator is not None:
        gan.distribute(communicator)
    gan.retain_gradients = True
    rng = np.random.default_rng(7)
    record: Dict[str, np.ndarray] = {}
    for i in range(ITERATIONS):
        real = rng.uniform(-1, 1, (BATCH,) + gan.sample_shape).astype(np.float32)
        _native.branch_log_set_enabled(True)
        try:
            stats = gan.train_step(real)
            record[f"branches{i}"] = branch_log()
        finally:
            _native.branch_log_set_enabled(False)
        record[f"stats{i}"] = np.array([stats[k] for k in sorted(stats)], np.float64)
        for name, g in gan.gradients().items():
            record[f"grad{i}/{name}"] = g
    for name, value in {**gan.state_dict(), **gan.optimizer_state()}.items():
        record[f"state/{name}"] = value
    gan.close()
    return record


class Flip(NamedTuple):
    iteration: int  # 1-based
    what: str
    by_rounding: bool



def first_branch_difference(single: Dict[str, np.ndarray], ranks: List[Dict[str, np.ndarray]]) -> Optional[Flip]:
    """The first kinked call where the ranks decided otherwise than one process (a call over the whole batch on
    each rank decides as one process on every rank; a call over a rank's slice, summed over the ranks), or None."""
    for i in range(ITERATIONS):
        own, theirs = single[f"branches{i}"], [r[f"branches{i}"] for r in ranks]
        if any(len(t) != len(own) for t in theirs):
            return Flip(i + 1, f"{len(own)} kinked calls in one process, {[len(t) for t in theirs]} on the ranks", False)
        for j, (elements, total, margin) in enumerate(own):
            calls = [t[j] for t in theirs]
            if all(c[0] == elements for c in calls):
                moved = max(abs(c[1] - total) for c in calls)
            elif sum(c[0] for c in calls) == elements:
                moved = abs(sum(c[1] for c in calls) - total)
            else:
                return Flip(i + 1, f"call {j + 1} decided {elements:.0f} elements in one process, "
                                   f"{[int(c[0]) for c in calls]} on the ranks", False)
            if moved:
                return Flip(i + 1, f"call {j + 1} of {len(own)}, {elements:.0f} elements: branch sum {total:.0f} in one "
                                   f"process, {[int(c[1]) for c in calls]} on the ranks; nearest input to a kink "
                                   f"{margin:.3g} RMS", moved <= ROUNDING_FLIPS and margin <= ROUNDING_MARGIN)
    return None
