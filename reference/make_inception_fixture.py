"""Writes the fixtures of FID's Inception-v3 that python/tests/test_inception.py reads.

    /opt/torchref/bin/pip install torch torchvision pytorch-fid
    /opt/torchref/bin/python reference/make_inception_fixture.py  [--out python/tests/fixtures]

inception.npz: pytorch-fid's own network (`pytorch_fid.inception.InceptionV3([3])`, its FID blocks, its resize
and normalisation) with seeded random weights (`inception_weights.random_inception_state`, seed 7: the 87 MB of
weights are drawn again by the test, not stored), and its 2048 pool features of a colour batch (3 images of 40×48)
and a grey one (2 of 28×28, repeated to 3 channels as pytorch-fid's loader does), stored as 8-bit pixels p and
given as p / 127.5 - 1 in [-1, 1] (pytorch-fid takes (x + 1) / 2); the tensor names and shapes of its state dict; two sets of features and the Fréchet distance
pytorch-fid's `calculate_frechet_distance` gives for their means and covariances.

torch-state-dict-zip.pth, torch-state-dict-legacy.pth and torch-state-dict.npz: a small state dict saved by
torch.save in both of its formats (the zip of PyTorch ≥ 1.6 and the legacy one pytorch-fid's 2019 weights file
was written in), with the arrays they hold: float32, float16, int64, a transposed view and a slice of a storage.
"""
import argparse
import collections
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python", "tests"))
from inception_weights import random_inception_state  # noqa: E402

SEED = 7


def inception_fixture(out: str) -> None:
    import pytorch_fid.inception as fid_inception
    from pytorch_fid.fid_score import calculate_frechet_distance

    torchvision_net = fid_inception._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    full = torchvision_net.state_dict()
    shapes = {k: list(v.shape) for k, v in full.items()
              if not k.startswith("fc.") and not k.endswith("num_batches_tracked")}
    full.update({k: torch.from_numpy(v) for k, v in random_inception_state(shapes, SEED).items()})
    fid_inception.load_state_dict_from_url = lambda *args, **kwargs: full  # what it would download: these weights
    model = fid_inception.InceptionV3([3]).eval()
    rng = np.random.default_rng(SEED)
    colour_pixels = rng.integers(0, 256, (3, 3, 40, 48), dtype=np.uint8)  # stored as 8-bit pixels: a small file
    grey_pixels = rng.integers(0, 256, (2, 1, 28, 28), dtype=np.uint8)
    colour, grey = (p.astype(np.float32) / 127.5 - 1.0 for p in (colour_pixels, grey_pixels))
    with torch.no_grad():
        def features(images):
            x = torch.from_numpy((images + 1) / 2).repeat(1, 3 // images.shape[1], 1, 1)
            return model(x)[0][:, :, 0, 0].numpy()
        colour_features, grey_features = features(colour), features(grey)
    a = rng.standard_normal((200, 32)).astype(np.float32)
    b = (rng.standard_normal((200, 32)) * 1.3 + 0.2).astype(np.float32)
    distance = calculate_frechet_distance(a.astype(np.float64).mean(0), np.cov(a.astype(np.float64), rowvar=False),
                                          b.astype(np.float64).mean(0), np.cov(b.astype(np.float64), rowvar=False))
    np.savez_compressed(os.path.join(out, "inception.npz"), colour=colour_pixels, grey=grey_pixels,
             colour_features=colour_features,
             grey_features=grey_features, features_a=a, features_b=b, frechet_distance=np.float64(distance),
             seed=np.int64(SEED), shapes=np.frombuffer(json.dumps(shapes).encode(), np.uint8),
             versions=np.frombuffer(json.dumps({"torch": torch.__version__, "pytorch_fid": getattr(
                 sys.modules["pytorch_fid"], "__version__", "?")}).encode(), np.uint8))
    print(f"inception.npz: features of {len(colour) + len(grey)} images, FID {distance:.6f}")


def state_dict_fixture(out: str) -> None:
    generator = torch.Generator().manual_seed(SEED)
    state = collections.OrderedDict()
    state["conv.weight"] = torch.randn(4, 3, 3, 3, generator=generator)
    state["bn.running_mean"] = torch.arange(8, dtype=torch.float32)[2:6]  # a slice of a longer storage
    state["fc.weight"] = torch.randn(5, 4, generator=generator).t()  # a transposed view
    state["bn.num_batches_tracked"] = torch.tensor(12)
    state["half"] = torch.randn(2, 3, generator=generator).half()
    state._metadata = collections.OrderedDict([("", {"version": 1}), ("bn", {"version": 2})])
    torch.save(state, os.path.join(out, "torch-state-dict-zip.pth"))
    torch.save(state, os.path.join(out, "torch-state-dict-legacy.pth"), _use_new_zipfile_serialization=False)
    np.savez(os.path.join(out, "torch-state-dict.npz"), **{k: v.numpy() for k, v in state.items()})
    print(f"torch-state-dict-*.pth: {len(state)} tensors")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(HERE, "..", "python", "tests", "fixtures"))
    args = parser.parse_args()
    inception_fixture(args.out)
    state_dict_fixture(args.out)


if __name__ == "__main__":
    main()
