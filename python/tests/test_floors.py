"""The package's two floors: the engine (GAN, FeatureNetwork, checkpoints, metrics) needs NumPy and safetensors only
and imports nothing of the lab above it (datasets, runs, the command line, studies, comparisons, plots)."""
import ast
import os
import subprocess
import sys
import textwrap

import swiftgan

PACKAGE = os.path.dirname(os.path.abspath(swiftgan.__file__))
ENGINE = {"_native", "engine", "gan", "features", "checkpoint", "options", "core", "metrics", "untrusted", "ownership",
          "processor"}
LAB = {"datasets", "datacache", "images", "plots", "animations", "toy", "run", "cli", "compare", "_compare_worker", "study",
       "distributed", "__main__"}
LAB_LIBRARIES = ["PIL", "yaml", "tqdm", "imageio", "imageio_ffmpeg", "matplotlib", "tensorboardX", "dask", "distributed",
                 "torch", "mpi4py"]


def imported_modules(path):
    """The package modules a module imports (relative `from . import x`, `from .x import y`, `swiftgan.x`),
    wherever the import statement stands (inside functions too)."""
    with open(path) as f:
        tree = ast.parse(f.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                found.update([node.module.split(".")[0]] if node.module else [a.name for a in node.names])
            elif node.module and node.module.split(".")[0] == "swiftgan":
                found.update(node.module.split(".")[1:2] or [a.name for a in node.names])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("swiftgan."))
    return found


def test_every_module_is_on_one_floor_and_no_engine_module_imports_the_lab():
    modules = {name[:-3] for name in os.listdir(PACKAGE) if name.endswith(".py") and name != "__init__.py"}
    assert modules | {"_native"} == ENGINE | LAB, "a new module: say which floor it is on"
    for module in sorted(ENGINE - {"_native"}):
        upward = imported_modules(os.path.join(PACKAGE, module + ".py")) & LAB
        assert not upward, f"the engine module {module} imports the lab's {sorted(upward)}"


def test_the_engine_trains_saves_loads_and_measures_without_any_lab_library(tmp_path):
    """With every lab library unimportable, `import swiftgan` works, and a GAN trains, saves, loads and is measured
    with a feature network (its training without a progress bar), and none of those libraries was asked for."""
    script = textwrap.dedent(f"""
        import importlib.abc, sys

        class NoLab(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {LAB_LIBRARIES!r}:
                    raise ImportError(f"No module named {{name!r}} (blocked: a lab library)", name=name)
                return None

        sys.meta_path.insert(0, NoLab())
        import numpy as np
        import swiftgan as sg

        gan = sg.GAN("RaSGAN-GP", image_size=32, channels=1, ngf=4, ndf=4, z_dim=8, seed=1, threads=1)
        real = np.random.default_rng(0).uniform(-1, 1, (8, 1, 32, 32)).astype(np.float32)
        gan.train_step(real)
        gan.save({str(tmp_path / "ckpt")!r})
        again = sg.GAN.load({str(tmp_path / "ckpt")!r})
        assert again.iteration == 1
        assert gan._repr_png_() is None  # Jupyter shows the repr when Pillow is missing
        net = sg.FeatureNetwork(image_size=32, classes=3, width=2, threads=1)
        labels = np.arange(8) % 3
        net.train(real, labels, epochs=1, batch_size=4, progress=True)
        measured = sg.metrics.fid(net.features(real).astype(np.float64), net.features(gan.sample(8)).astype(np.float64))
        assert measured >= 0
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {LAB_LIBRARIES!r})
        assert not loaded, loaded
        print("engine alone: ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "engine alone: ok" in done.stdout
