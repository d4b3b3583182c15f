"""One engine of `swiftgan compare` in a process of its own: SwiftGAN, or its PyTorch twin (`swiftgan_torch/twin.py`).

    python _compare_worker.py swiftgan|torch

Run by its file path, so that any Python with torch and NumPy can run the twin, SwiftGAN installed or not; it
imports nothing of the package but the twin, `swiftgan_torch/twin.py` beside the package (by path). Each engine has a process of its own so
that its peak memory is its own, as in `benchmarks/`. The worker answers requests from stdin on stdout, in order:

    {"op": "start", "options": GAN options, "threads": n, "state": {name: array} or absent}
        → {"state": the initial weights (G.* and D.*), "version": ..., "threads": ...}
    {"op": "train", "real": [n, k, B, ...], "z": [n, k, B, z], "z_g": [n, B, z] or absent, "u", "dragan_alpha",
     "dragan_noise": [n, k, ...] when the loss uses them, "state": bool}   (n iterations of k critic steps)
        → {"stats": {name: [n]}, "seconds": [n], "state": weights after the n iterations (when asked)}; an engine
          that diverges (SwiftGAN refuses a non-finite update; the twin's loss is not finite) stops there and
          replies with the iterations done and "diverged": what happened
    {"op": "generate", "z": [N, z]} → {"samples": [N, ...]} (the generator in evaluation mode)
    {"op": "stop"} → {"peak_rss_mb": ...}
    any failure → {"error": message}

Messages are framed as a JSON header and raw arrays (`send`, `receive`), not pickles: the two sides may run
different NumPy versions.
"""
import json
import os
import struct
import sys
import time
import traceback

import numpy as np

STATS = ("d_loss", "g_loss", "d_real", "d_fake", "penalty")


# MARK: - Framing

def send(stream, message) -> None:
    """Writes `message` (dicts, lists, numbers, strings, None, float32/float64/int arrays) to a binary stream."""
    arrays = []

    def encode(value):
        if isinstance(value, np.ndarray):
            arrays.append(np.ascontiguousarray(value))
            return {"__array__": len(arrays) - 1, "dtype": value.dtype.str, "shape": list(value.shape)}
        if isinstance(value, dict):
            return {str(k): encode(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [encode(v) for v in value]
        if isinstance(value, np.generic):
            return value.item()
        return value

    header = json.dumps(encode(message)).encode()
    stream.write(struct.pack("<Q", len(header)) + header)
    for array in arrays:
        stream.write(struct.pack("<Q", array.nbytes))
        stream.write(memoryview(array).cast("B"))
    stream.flush()


def _read_exactly(stream, n: int) -> bytes:
    data = stream.read(n)
    if data is None or len(data) != n:
        raise EOFError("the other process closed the stream")
    return data


def receive(stream):
    """Reads one message written by `send`."""
    header = json.loads(_read_exactly(stream, struct.unpack("<Q", _read_exactly(stream, 8))[0]))
    arrays = []

    def collect(value):
        if isinstance(value, dict):
            if "__array__" in value:
                arrays.append(value)
            else:
                for v in value.values():
                    collect(v)
        elif isinstance(value, list):
            for v in value:
                collect(v)

    collect(header)
    loaded = {}
    for spec in sorted(arrays, key=lambda a: a["__array__"]):
        size = struct.unpack("<Q", _read_exactly(stream, 8))[0]
        loaded[spec["__array__"]] = np.frombuffer(bytearray(_read_exactly(stream, size)),
                                                  dtype=np.dtype(spec["dtype"])).reshape(spec["shape"])

    def decode(value):
        if isinstance(value, dict):
            return loaded[value["__array__"]] if "__array__" in value else {k: decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    return decode(header)


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# MARK: - Engines

class Diverged(Exception):
    """An engine's training diverged (its message says how)."""


class SwiftGANEngine:
    def __init__(self, options, threads, state):
        import swiftgan

        self.gan = swiftgan.GAN(**{k: tuple(v) if isinstance(v, list) else v for k, v in options.items()},
                                threads=threads)
        if state is not None:
            self.gan.load_state_dict(state)
        self.version, self.threads = swiftgan.__version__, self.gan.threads

    def state(self):
        return dict(self.gan.state_dict())

    def train(self, inputs):
        """`inputs` hold one entry per critic step ([k, ...]; z_g [B, z]); with k = 1, the single entry."""
        import swiftgan

        if len(inputs["z"]) == 1:
            inputs = {name: value if name == "z_g" else value[0] for name, value in inputs.items()}
        try:
            stats = self.gan.train_step(**inputs)
        except swiftgan.TrainingDivergedError as error:
            raise Diverged(str(error).splitlines()[0]) from error
        return [stats[name] for name in STATS]

    def generate(self, z):
        return self.gan.generate(z)


class TorchEngine:
    """The twin of the GAN `options` describe, trained as `twin.train_iteration` does; options the twin
    lacks were refused by the caller."""

    def __init__(self, options, threads, state):
        import importlib.util

        import torch

        spec = importlib.util.spec_from_file_location(
            "swiftgan_torch_twin", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                "swiftgan_torch", "twin.py"))
        twin = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(twin)
        self.torch, self.twin, self.options = torch, twin, options
        torch.set_num_threads(threads)
        arch = {k: v for k, v in options.items() if k in twin.ARCH_OPTIONS}
        base = options["loss"].split("-")[0]
        self.G, self.D = twin.model_pair(options["image_size"], options["channels"], options["z_dim"], options["ngf"],
                                         options["ndf"], energy_based=base in ("EBGAN", "BEGAN"), **arch)
        if state is None:
            twin.init_pair(self.G, self.D)
        else:
            twin.load_state_dict(self.G, self.D, state)
        self.opt_d = self._optimizer(self.D.parameters(), options["lr_d"], options["betas_d"])
        self.opt_g = self._optimizer(self.G.parameters(), options["lr_g"], options["betas_g"])
        self.run_state = {}
        self.version, self.threads = torch.__version__, torch.get_num_threads()

    def _optimizer(self, parameters, lr, betas):
        o, optim = self.options, self.torch.optim
        if o["optimizer"] == "adam":
            return optim.Adam(parameters, lr=lr, betas=tuple(betas), eps=o["eps"])
        if o["optimizer"] == "rmsprop":
            return optim.RMSprop(parameters, lr=lr, alpha=o["rmsprop_alpha"], eps=o["eps"])
        return optim.SGD(parameters, lr=lr)

    def state(self):
        return {k: v.numpy() for k, v in self.twin.state_dict(self.G, self.D).items()}

    def train(self, inputs):
        torch, o = self.torch, self.options
        tensor = lambda name: None if inputs.get(name) is None else torch.from_numpy(np.ascontiguousarray(inputs[name]))
        real, z = tensor("real"), tensor("z")
        k = z.shape[0]
        reals = [real[i] for i in range(k)]
        u, alpha, noise = tensor("u"), tensor("dragan_alpha"), tensor("dragan_noise")
        stats = self.twin.train_iteration(
            self.G, self.D, self.opt_d, self.opt_g, o["loss"], reals, [z[i] for i in range(k)], tensor("z_g"),
            u=None if u is None else [u[i] for i in range(k)], gp_weight=o["gp_weight"],
            dragan_alpha=None if alpha is None else [alpha[i] for i in range(k)],
            dragan_noise=None if noise is None else [noise[i] for i in range(k)],
            weights={kind: o[kind.lower() + "_weight"] for kind in self.twin.PENALTIES}, clip=o["clip"],
            lsgan=tuple(o["lsgan_targets"]), minimax=o["minimax"], state=self.run_state,
            energy_options={"margin": o["ebgan_margin"], "pt_weight": o["pt_weight"], "gamma": o["began_gamma"],
                            "lambda_k": o["began_lambda_k"]},
            dragan_clip=o["dragan_clip"], reuse_fake=o["reuse_fake"], pack=o["pack"])
        values = [stats[name] for name in STATS]
        if not all(np.isfinite(values)):
            raise Diverged("a loss is not finite: " + ", ".join(f"{n} {v}" for n, v in zip(STATS, values)))
        return values

    def generate(self, z):
        torch = self.torch
        self.G.eval()
        try:
            with torch.no_grad():
                return self.G(torch.from_numpy(np.ascontiguousarray(z))).numpy()
        finally:
            self.G.train()


# MARK: - The request loop

def _train(engine, request):
    n = len(request["z"])
    per_step = ("real", "z", "z_g", "u", "dragan_alpha", "dragan_noise")
    stats, seconds, diverged = [], [], None
    for i in range(n):
        inputs = {name: request[name][i] for name in per_step if request.get(name) is not None}
        start = time.perf_counter()
        try:
            stats.append(engine.train(inputs))
        except Diverged as error:
            diverged = str(error)
            break
        seconds.append(time.perf_counter() - start)
    reply = {"stats": {name: [row[j] for row in stats] for j, name in enumerate(STATS)}, "seconds": seconds}
    if diverged is not None:
        reply["diverged"] = diverged
    if request.get("state"):
        reply["state"] = engine.state()
    return reply


def main(kind: str) -> int:
    if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # the package's own folder: its module names must not shadow others
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # anything an engine prints goes to the log, not into the replies
    engine = None
    while True:
        try:
            request = receive(requests)
        except EOFError:
            return 0
        try:
            op = request["op"]
            if op == "start":
                engine = (TorchEngine if kind == "torch" else SwiftGANEngine)(request["options"], request["threads"],
                                                                               request.get("state"))
                reply = {"state": engine.state(), "version": engine.version, "threads": engine.threads}
            elif op == "train":
                reply = _train(engine, request)
            elif op == "generate":
                reply = {"samples": np.concatenate([engine.generate(request["z"][i:i + 500])
                                                    for i in range(0, len(request["z"]), 500)])}
            elif op == "stop":
                send(replies, {"peak_rss_mb": peak_rss_mb()})
                return 0
            else:
                reply = {"error": f"unknown request {op!r}"}
        except Exception as error:  # reported to the parent, which raises it with the engine's name
            reply = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
        send(replies, reply)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "swiftgan"))
