"""Run under `mpirun -np K python mpi_ranks.py WHAT OUT`: each rank trains as the tests of test_distributed.py ask
and writes what it saw to OUT/rank<r>.npz (not a test file itself: pytest does not collect it)."""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

import swiftgan as sg  # noqa: E402
from swiftgan import distributed  # noqa: E402
from distributed_cases import CASES, SEEDS, record_run  # noqa: E402


def equality(out: str) -> None:
    comm = distributed.world()
    assert comm is not None and comm.size > 1, "run me under mpirun with at least 2 ranks"
    results = {}
    for name, options in CASES.items():
        for seed in SEEDS:
            results.update({f"{name}@{seed}/{k}": v for k, v in record_run(dict(options, seed=seed), comm).items()})
    np.savez(os.path.join(out, f"rank{comm.rank}.npz"), **results)
    with open(os.path.join(out, f"rank{comm.rank}.json"), "w") as f:
        json.dump({"rank": comm.rank, "size": comm.size, "collectives": comm.collectives, "bytes": comm.bytes}, f)


def failing(out: str) -> None:
    comm = distributed.world()
    gan = sg.GAN(**CASES["RaSGAN"], threads=1)
    gan.distribute(comm)
    rng = np.random.default_rng(7)
    real = rng.uniform(-1, 1, (16, 1, 32, 32)).astype(np.float32)
    gan.train_step(real)
    if comm.rank == 1:
        raise OSError(28, "No space left on device", "/data/batch-000002.npy")
    gan.train_step(real)


if __name__ == "__main__":
    what, out = sys.argv[1], sys.argv[2]
    try:
        {"equality": equality, "failing": failing}[what](out)
    except Exception as error:  # as the CLI does: say it, then end every rank
        comm = distributed.world()
        message = f"{type(error).__name__}: {error}"
        if comm is not None:
            comm.abandon(message)
        raise
