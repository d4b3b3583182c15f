import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import pytest


@pytest.fixture(autouse=True, scope="session")
def _image_cache(tmp_path_factory):
    """Datasets cached by the tests' runs go to a folder of the session's, not the user's ~/.cache."""
    os.environ["SWIFTGAN_CACHE"] = str(tmp_path_factory.mktemp("image-cache"))
    yield


def write_bars(folder):
    """128 grey 32×32 images (bars at random positions) as a .npy file in `folder`; returns its path."""
    import numpy as np

    rng = np.random.default_rng(0)
    images = np.full((128, 1, 32, 32), -1, np.float32)
    for image, column in zip(images, rng.integers(4, 28, 128)):
        image[0, 4:28, column - 2:column + 2] = 1
    path = folder / "bars.npy"
    np.save(path, images)
    return str(path)
