"""One training over several processes (ranks) on MPI: `mpirun -np K python script.py` or `mpirun -np K swiftgan train`.

    import swiftgan as sg
    from swiftgan import distributed

    comm = distributed.world()          # the MPI world (mpi4py), or None outside mpirun
    gan = sg.GAN(loss="RaLSGAN-GP", image_size=64, seed=1)
    gan.distribute(comm)                # every rank: the same options and seed
    for real in batches:                # every rank: the same whole batch (the same seeded sampler)
        stats = gan.train_step(real)    # each rank computes on its slice; together, one step on the whole batch
    if comm.rank == 0:
        gan.save("ckpt")

The collectives run inside the Swift core's step (synchronised batch norm, gathered critic values, one all-reduce
of the gradients per update); this module only hands the core a communicator whose collectives are mpi4py's, on
NumPy views of the core's buffers (no copy). libswiftgan links no MPI: Open MPI and mpi4py are needed only here.
"""
import os
import sys
import time
from typing import Optional

import numpy as np

__all__ = ["MPICommunicator", "world", "launched_by_mpi"]

# What an MPI launcher puts in each rank's environment: Open MPI, then MPICH / Intel MPI (PMI), then Slurm's PMIx.
_WORLD_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE")


def launched_by_mpi() -> bool:
    """Whether this process was started by an MPI launcher (mpirun, mpiexec, srun) with more than one rank."""
    for name in _WORLD_SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value) > 1
    return False


class MPICommunicator:
    """The collectives of an mpi4py communicator in the form `GAN.distribute` takes (any object with these attributes
    and methods will do). Sums are MPI_Allreduce's: every rank receives the same result (Open MPI reduces each
    element in one order and hands it to all), which keeps the ranks' weights identical; a test checks it."""

    def __init__(self, comm=None):
        try:
            from mpi4py import MPI
        except ImportError as error:  # pragma: no cover - depends on the machine
            raise ImportError("training over several processes needs mpi4py (pip install mpi4py) and an MPI library "
                              "(apt-get install openmpi-bin libopenmpi-dev)") from error
        self._MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.error: Optional[str] = None
        # what this rank's collectives moved so far: calls, bytes of its own buffers, seconds inside them (waiting
        # for peers included), read by the benchmark
        self.collectives = 0
        self.bytes = 0
        self.seconds = 0.0

    def __repr__(self) -> str:
        return f"MPICommunicator(rank {self.rank} of {self.size})"

    def _run(self, what, body) -> int:
        started = time.perf_counter()
        try:
            body()
            return 0
        except Exception as error:  # an MPI error: the core refuses the step, naming the collective
            self.error = f"{what}: {error}"
            print(f"swiftgan: rank {self.rank} of {self.size}: {self.error}", file=sys.stderr, flush=True)
            return 1
        finally:
            self.seconds += time.perf_counter() - started

    def all_reduce(self, view, kind: str, op: int) -> int:
        values = np.frombuffer(view, dtype=np.float32 if kind == "f" else np.float64)
        self.collectives += 1
        self.bytes += values.nbytes
        MPI = self._MPI
        return self._run("all_reduce", lambda: self.comm.Allreduce(MPI.IN_PLACE, values, op=MPI.SUM if op == 0 else MPI.MAX))

    def all_gather(self, gathered, local) -> int:
        mine = np.frombuffer(local, dtype=np.float32)
        self.collectives += 1
        self.bytes += mine.nbytes
        return self._run("all_gather", lambda: self.comm.Allgather(mine, np.frombuffer(gathered, dtype=np.float32)))

    def broadcast(self, view, root: int) -> int:
        self.collectives += 1
        return self._run("broadcast", lambda: self.comm.Bcast(np.frombuffer(view, dtype=np.float32), root=root))

    def barrier(self) -> int:
        return self._run("barrier", self.comm.Barrier)

    def abandon(self, message: str) -> None:
        """This rank cannot go on: say why, then end every rank (MPI_Abort), since peers would wait for it forever."""
        print(f"swiftgan: rank {self.rank} of {self.size}: {message}", file=sys.stderr, flush=True)
        self.comm.Abort(1)

    def allgather_rows(self, rows: np.ndarray, counts) -> np.ndarray:
        """Every rank's float32 `rows` [counts[r], F], stacked in rank order (MPI_Allgatherv): [sum(counts), F]."""
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        width = rows.shape[1] if rows.ndim == 2 else 1
        out = np.empty((int(sum(counts)), width), np.float32)
        self.comm.Allgatherv(rows, [out, [int(c) * width for c in counts]])
        return out

    def agree(self, ok: bool) -> bool:
        """Whether every rank's `ok` is true (a collective: every rank must call it)."""
        return bool(self.comm.allreduce(bool(ok), op=self._MPI.LAND))

    def broadcast_object(self, value, root: int = 0):
        """`value` of rank `root`, on every rank (pickled by mpi4py: only for the package's own small values)."""
        return self.comm.bcast(value, root=root)


def world() -> Optional[MPICommunicator]:
    """The MPI world as a communicator when this process is one of several ranks started by an MPI launcher;
    None otherwise (one process trains alone)."""
    if not launched_by_mpi():
        return None
    return MPICommunicator()
