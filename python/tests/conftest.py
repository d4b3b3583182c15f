import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import pytest


@pytest.fixture(autouse=True, scope="session")
def _image_cache(tmp_path_factory):
    """Datasets cached by the tests' runs go to a folder of the session's, not the user's ~/.cache."""
    os.environ["SWIFTGAN_CACHE"] = str(tmp_path_factory.mktemp("image-cache"))
    yield
