"""Where a training step's time goes, layer by layer, in SwiftGAN and in PyTorch: oneDNN's own record of every
primitive it runs (`ONEDNN_VERBOSE`), for the configurations of `bench_vs_torch.py`.

    python benchmarks/layer_profile.py --only "DCGAN-64x3 RaSGAN b64" [--steps 3] [--warmup 2]
        [--torch-python /opt/torchref/bin/python] [--threads N] [--out benchmarks/results/layers]

Both engines run their convolutions on oneDNN (SwiftGAN on the system's libdnnl, PyTorch on the one it
bundles), so one record covers both: for each engine, in a fresh process, the row's step runs `--warmup`
times, then oneDNN's execution log is switched on (`dnnl_set_verbose`, `torch.backends.mkldnn.verbose`) for
`--steps` steps and read back. Printed per engine: every primitive (kind, pass, the implementation oneDNN
chose, the shape, for reorders the layouts) with its calls and milliseconds per step and, for convolutions,
its GFLOP/s; then a summary by kernel kind beside the other engine's, with the step's wall time and what ran
outside oneDNN (SwiftGAN's batch norm, activations, losses and optimizer are its own code; PyTorch's run
partly in oneDNN, partly in ATen). SwiftGAN's transposed convolutions are oneDNN convolutions' backward-data
pass, PyTorch's are deconvolutions, so the two G's appear under different kinds. Logging adds a
synchronisation per primitive; the step times here are for attribution, `bench_vs_torch.py` measures speed.
"""
import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_vs_torch as bench  # noqa: E402

PASSES = {"forward_training": "forward", "forward_inference": "forward", "backward_data": "backward data",
          "backward_weights": "backward weights", "backward": "backward", "undef": ""}


# MARK: - oneDNN's log

def parse_log(text):
    """The `exec` lines of a oneDNN verbose log (2.x `dnnl_verbose,exec,...` or 3.x
    `onednn_verbose,...,primitive,exec,...`) as (kind, pass, implementation, shape, layouts, ms)."""
    calls = []
    for line in text.splitlines():
        if "_verbose," not in line or ",exec," not in line:
            continue
        fields = line.strip().split(",")
        try:
            at = fields.index("exec")
            kind, impl, prop = fields[at + 2], fields[at + 3], fields[at + 4]
            ms = float(fields[-1])
        except (ValueError, IndexError):
            continue
        shape = fields[-2]
        layouts = ""
        if kind == "reorder":
            tags = dict(re.findall(r"\b(src|dst)[_:]\w+:\w*:?blocked:(\w+)", fields[at + 5]))
            layouts = f"{tags.get('src', '?')}→{tags.get('dst', '?')}"
        calls.append((kind, PASSES.get(prop, prop), impl, shape, layouts, ms))
    return calls


def conv_flops(kind, shape):
    """FLOPs (2 per multiply-add) of a convolution or deconvolution from oneDNN's shape string
    (`mb64_ic128oc256_ih16oh8kh4sh2dh0ph1_iw16ow8kw4sw2dw0pw1`); the same for all three passes. A convolution
    does its work per output pixel, a deconvolution per input pixel."""
    if kind not in ("convolution", "deconvolution"):
        return None
    value = {}
    for key in ("mb", "g", "ic", "oc", "ih", "oh", "kh", "iw", "ow", "kw"):
        found = re.search(rf"(?:^|(?<=[_\d])){key}(\d+)", shape)
        if found:
            value[key] = int(found.group(1))
    if not {"mb", "ic", "oc", "oh", "kh"} <= value.keys():
        return None
    iw, ow, kw = value.get("iw", value["ih"]), value.get("ow", value["oh"]), value.get("kw", value["kh"])
    pixels = value["oh"] * ow if kind == "convolution" else value["ih"] * iw
    return 2 * value["mb"] * value["ic"] * value["oc"] // value.get("g", 1) * value["kh"] * kw * pixels


def aggregate(calls, steps):
    """Calls per step and ms per step of each distinct (kind, pass, implementation, shape, layouts)."""
    table = {}
    for kind, prop, impl, shape, layouts, ms in calls:
        entry = table.setdefault((kind, prop, impl, shape, layouts), [0, 0.0])
        entry[0] += 1
        entry[1] += ms
    return [dict(kind=k[0], pass_=k[1], impl=k[2], shape=k[3], layouts=k[4], calls=n / steps, ms=ms / steps)
            for k, (n, ms) in table.items()]


# MARK: - Workers (each in its own process)

class _CapturedStdout:
    """Points file descriptor 1 (where oneDNN's C code prints) at a temporary file while open."""

    def __enter__(self):
        import ctypes

        self._libc = ctypes.CDLL(None)
        sys.stdout.flush()
        self._libc.fflush(None)
        self._file = tempfile.TemporaryFile(mode="w+")
        self._saved = os.dup(1)
        os.dup2(self._file.fileno(), 1)
        return self

    def __exit__(self, *exc):
        self._libc.fflush(None)
        os.dup2(self._saved, 1)
        os.close(self._saved)
        self._file.seek(0)
        self.text = self._file.read()
        self._file.close()


def _swiftgan_verbose(level):
    """Sets the level of the libdnnl SwiftGAN's library loaded (the same shared object, loaded once)."""
    import ctypes

    status = ctypes.CDLL("libdnnl.so.2").dnnl_set_verbose(level)
    if status != 0:
        raise RuntimeError(f"dnnl_set_verbose({level}) returned status {status}")


def worker(spec):
    cfg, engine, threads = spec["cfg"], spec["engine"], spec["threads"]
    if engine == "torch":
        import torch

        step = bench.torch_step(cfg, threads)
        logging = lambda: torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON)  # noqa: E731
    else:
        _, step = bench.swiftgan_step(cfg, threads)

        @contextlib.contextmanager
        def logging():
            _swiftgan_verbose(1)
            try:
                yield
            finally:
                _swiftgan_verbose(0)
    for _ in range(spec["warmup"]):
        step()
    times = []
    with _CapturedStdout() as captured:
        with logging():
            for _ in range(spec["steps"]):
                start = time.perf_counter()
                step()
                times.append(time.perf_counter() - start)
    calls = parse_log(captured.text)
    if not calls:
        raise RuntimeError(f"{engine}: oneDNN logged no primitive during {spec['steps']} steps")
    return dict(wall_ms=statistics.median(times) * 1e3, primitives=aggregate(calls, spec["steps"]))


# MARK: - Tables

def category(p):
    if p["kind"] in ("convolution", "deconvolution"):
        return f"{p['kind']} {p['pass_']}"
    return p["kind"].replace("_", " ")


def primitive_table(result):
    lines = ["| kind | pass | implementation | shape | layouts | calls / step | ms / step | GFLOP/s |",
             "|---|---|---|---|---|---|---|---|"]
    for p in sorted(result["primitives"], key=lambda p: -p["ms"]):
        flops = conv_flops(p["kind"], p["shape"])
        rate = f"{flops * p['calls'] / (p['ms'] / 1e3) / 1e9:.0f}" if flops and p["ms"] > 0 else ""
        lines.append(f"| {p['kind']} | {p['pass_']} | {p['impl']} | {p['shape']} | {p['layouts']} | "
                     f"{p['calls']:g} | {p['ms']:.2f} | {rate} |")
    return "\n".join(lines)


def summary_table(results):
    """ms per step (calls per step) of each kernel kind, one column per engine."""
    engines = list(results)
    totals = {e: {} for e in engines}
    for e in engines:
        for p in results[e]["primitives"]:
            entry = totals[e].setdefault(category(p), [0.0, 0.0])
            entry[0] += p["ms"]
            entry[1] += p["calls"]
    kinds = sorted({k for e in engines for k in totals[e]}, key=lambda k: -max(totals[e].get(k, [0])[0] for e in engines))
    lines = ["| kernel kind | " + " | ".join(f"{e} ms / step (calls)" for e in engines) + " |",
             "|---|" + "---|" * len(engines)]
    for k in kinds:
        cells = [f"{totals[e][k][0]:.1f} ({totals[e][k][1]:g})" if k in totals[e] else "" for e in engines]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    in_dnnl = {e: sum(v[0] for v in totals[e].values()) for e in engines}
    lines.append("| all of oneDNN | " + " | ".join(f"{in_dnnl[e]:.1f}" for e in engines) + " |")
    lines.append("| outside oneDNN | " + " | ".join(f"{results[e]['wall_ms'] - in_dnnl[e]:.1f}" for e in engines) + " |")
    lines.append("| step (wall, logging on) | " + " | ".join(f"{results[e]['wall_ms']:.1f}" for e in engines) + " |")
    return "\n".join(lines)


# MARK: - The driver

def spawn(python, spec):
    command = [python, os.path.abspath(__file__), "--worker", json.dumps(spec)]
    env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_VERBOSE", "DNNL_VERBOSE")}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"the {spec['engine']} worker for {spec['cfg']['name']} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+",
                        help="the configurations of bench_vs_torch.py whose name contains one of these")
    parser.add_argument("--torch-python", default="/opt/torchref/bin/python", help="a Python that has torch")
    parser.add_argument("--engines", nargs="+", default=["swiftgan", "torch"], choices=["swiftgan", "torch"])
    parser.add_argument("--steps", type=int, default=3, help="logged steps (after --warmup)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--out", default=None, help="a folder for layers.md and layers.json (default: print only)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    if not args.only:
        parser.error("--only is required: " + ", ".join(row["name"] for row in bench.TRAINING))
    if args.steps < 1 or args.warmup < 0:
        parser.error("--steps must be at least 1 and --warmup at least 0")
    rows = [{**bench.COMMON, **row} for row in bench.TRAINING if any(part in row["name"] for part in args.only)]
    if not rows:
        parser.error(f"no configuration of bench_vs_torch.py matches {args.only}: "
                     + ", ".join(row["name"] for row in bench.TRAINING))
    pythons = {"swiftgan": sys.executable, "torch": args.torch_python}
    report, records = [f"Processor: {bench.processor()}; {args.threads} threads; {args.steps} logged steps after "
                       f"{args.warmup} unlogged."], {}
    print(report[0], flush=True)
    for cfg in rows:
        try:
            cfg["resolved"] = bench.resolved_options(cfg)
        except Exception as error:  # noqa: BLE001 - a row this machine cannot run (bf16 without AVX512-BF16)
            text = f"\n## {cfg['name']}\n\nnot measured: {error}"
            print(text, flush=True)
            report.append(text)
            continue
        results = {}
        for engine in args.engines:
            spec = dict(cfg=cfg, engine=engine, threads=args.threads, steps=args.steps, warmup=args.warmup)
            results[engine] = spawn(pythons[engine], spec)
        section = [f"\n## {cfg['name']}\n", summary_table(results)]
        for engine, result in results.items():
            section += [f"\n{engine}, each primitive:\n", primitive_table(result)]
        text = "\n".join(section)
        print(text, flush=True)
        report.append(text)
        records[cfg["name"]] = results
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "layers.md"), "w") as f:
            f.write("\n".join(report) + "\n")
        with open(os.path.join(args.out, "layers.json"), "w") as f:
            json.dump(dict(processor=bench.processor(), threads=args.threads, steps=args.steps, rows=records), f,
                      indent=1)


if __name__ == "__main__":
    main()
