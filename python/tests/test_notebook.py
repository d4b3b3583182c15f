"""python/examples/quickstart.ipynb runs in a real Jupyter kernel (nbclient + ipykernel) and shows its images."""
import os

import pytest

from swiftgan.datasets import FASHION_MNIST_DIR

NOTEBOOK = os.path.join(os.path.dirname(__file__), "..", "examples", "quickstart.ipynb")


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST_DIR), reason="needs Debian's dataset-fashion-mnist package")
def test_the_quickstart_notebook_runs_every_cell_and_shows_its_images(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("SWIFTGAN_QUICKSTART_ITERS", "60")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), "a cell did not run"
    outputs = [output for cell in code for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [mime for o in outputs if o.output_type in ("display_data", "execute_result") for mime in o.get("data", {})]
    assert shown.count("image/png") >= 5  # the run's grid, the loss plot, the GAN's grid, sixteen samples, the strip
    assert "image/gif" in shown  # the morph
    assert "application/vnd.jupyter.widget-view+json" in shown  # tqdm.auto's notebook progress bar
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "60 iterations in" in printed and "(16, 1, 32, 32) float32" in printed
    run = tmp_path / "runs" / "quickstart"
    for name in ("config.yaml", "metrics.csv", "losses.png", "morph.gif", "strip.png", "evolution.gif"):
        assert (run / name).is_file(), name
    assert os.listdir(run / "tensorboard") and (run / "checkpoint" / "weights.safetensors").is_file()
