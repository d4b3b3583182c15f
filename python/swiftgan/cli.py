"""The `swiftgan` command (also `python -m swiftgan`): train, sample, morph, plot, evaluate, compare, study, list.

    swiftgan train --dataset fashion-mnist --loss RaLSGAN --iters 2000 --out runs/ralsgan
    swiftgan train --resume runs/ralsgan --iters 4000
    swiftgan sample runs/ralsgan --n 64 --out grid.png
    swiftgan morph runs/ralsgan --out morph.mp4 --fps 24
    swiftgan plot runs/ralsgan
    swiftgan compare --loss RaLSGAN --iters 3000 --seeds 3 --torch-python /opt/torch/bin/python --out cmp/
    swiftgan study --losses SGAN,LSGAN,RaSGAN,RaLSGAN --seeds 3 --iters 2000 --ngf 32 --ndf 32 --out study/
    swiftgan list
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Dict, List, Optional

from . import run as runs
from .ownership import FolderInUseError, check_new_file

# Help for the run's own options; the GAN's options take theirs, and their types, from the core's option table.
RUN_HELP = {
    "dataset": "'fashion-mnist' or a path: IDX file or folder, CIFAR batch or folder, image folder, .npy/.npz "
               "(default fashion-mnist)",
    "class_name": "only this class sub-folder of an image folder",
    "image_size": "images are resized and centre-cropped to this size (default 32)",
    "channels": "1 or 3 (default: the dataset's)",
    "batch_size": "the critic's batch (default 64); with --pack m, m·batch_size images are drawn per batch",
    "iters": "training iterations, in total (default 1000)",
    "epochs": "instead of --iters: passes over the dataset, in total (iterations = ⌈epochs·N / (batch·n_critic)⌉)",
    "sample_every": "write a sample grid every N iterations (default 100)",
    "save_every": "write a checkpoint every N iterations (default 500)",
    "n_samples": "images in each sample grid (default 64)",
    "seed": "seeds the weights, the random stream, the data order and the fixed latents (default 1)",
    "tensorboard": "write TensorBoard event files (default on)",
    "morph": "write morph.gif when training ends (default on)",
    "threads": "threads to compute on (default: the cores available); results are bit-identical for the same count",
    "eval_every": "FID and KID every N iterations, into metrics.csv, TensorBoard and the progress bar (default 0: never)",
    "eval_n": "samples, and dataset images, of each evaluation (default 2000)",
    "feature_network": "the evaluations' feature network file: pytorch-fid's Inception weights (.pth, or converted "
                       "by `swiftgan features convert-inception`) for any images, or one of `swiftgan features train` "
                       "(default: the shipped Fashion-MNIST one, 1×32×32)",
    "keep_checkpoints": "keep every checkpoint in RUN/checkpoints/ (hard links), for evaluate --checkpoints all "
                        "(default off: the last two only)",
}


def _gan_flag(name: str) -> Dict[str, object]:
    """argparse keywords (type or action, nargs, help) of a GAN option or shorthand, from the option table."""
    from .options import OPTION_SHORTHANDS, PYTHON_TYPES, option_table

    if name in OPTION_SHORTHANDS:
        targets, text = OPTION_SHORTHANDS[name]
        return dict(type=float, nargs=2 if name.startswith("betas") else len(targets), metavar="X", help=text)
    row = option_table()[name]
    scope = "" if row.scope == "all" else f"; only with {row.scope}"
    text = f"{row.help} ({row.values}; default {row.default}, or the loss's preset{scope})".replace("%", "%%")
    if row.kind == "bool":
        return dict(action=argparse.BooleanOptionalAction, help=text)
    return dict(type=PYTHON_TYPES[row.kind], help=text)


def _add_train_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="the run folder (default runs/<loss>-<dataset>-<time>)")
    parser.add_argument("--resume", metavar="RUN", help="continue this run from its last checkpoint, exactly")
    parser.add_argument("--force", action="store_true",
                        help="write a new run into a folder that holds other files, beside them (none of the names "
                             "a run writes may be taken; nothing of theirs is changed or removed)")
    parser.add_argument("--config", metavar="FILE.yaml", help="options from a YAML file; command-line options override it")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--distributed", choices=("auto", "mpi", "none"), default="auto",
                        help="one training over the ranks of an MPI job (mpirun -np K swiftgan train ...): auto (the "
                             "default) when started by an MPI launcher with several ranks, mpi always, none never")
    _add_option_flags(parser, runs.option_names())


def _add_option_flags(parser: argparse.ArgumentParser, names: List[str]) -> None:
    """--flags for run and GAN options (`names`), in two groups; only the options given reach the namespace."""
    run_group = parser.add_argument_group("run")
    gan_group = parser.add_argument_group("GAN (see `swiftgan list` for losses and architectures)")
    for name in names:
        flag = "--class" if name == "class_name" else "--" + name.replace("_", "-")
        if name in runs.RUN_DEFAULTS:
            default = runs.RUN_DEFAULTS[name]
            kind = {"class_name": str, "channels": int, "dataset": str, "threads": int, "epochs": int,
                    "feature_network": str}.get(name, type(default))
            spec = dict(action=argparse.BooleanOptionalAction) if kind is bool else dict(type=kind)
            group, spec["help"] = run_group, RUN_HELP.get(name, "")
        else:
            group, spec = gan_group, _gan_flag(name)
        group.add_argument(flag, dest=name, default=argparse.SUPPRESS, **spec)  # SUPPRESS: only given options override


def _compare(args: argparse.Namespace) -> int:
    from .compare import compare

    known = set(runs.gan_option_names())
    gan_options = {k: v for k, v in vars(args).items()
                   if k in known and k not in ("threads", "seed", "image_size", "channels")}
    summary = compare(args.out, seeds=args.seeds, seed=args.seed, iters=args.iters, every=args.every,
                      eval_n=args.eval_n, feature_network=args.feature_network, torch_python_path=args.torch_python,
                      threads=args.threads, dataset=args.dataset, class_name=args.class_name,
                      image_size=args.image_size, channels=args.channels, batch_size=args.batch_size,
                      save_weights=args.save_weights, progress=not args.no_progress, **gan_options)
    out = summary["out"]
    with open(os.path.join(out, "compare.md")) as f:
        print(f.read(), end="")
    print(f"wrote {out}: compare.md, compare.csv, checkpoints.csv, losses.png, compare.json, seed-N.json")
    return 0


def _study(args: argparse.Namespace) -> int:
    from .study import read_study_file, study

    known = set(runs.option_names()) - {"seed", "iters", "eval_every", "eval_n"}  # the study's own arguments
    given = {"seeds": 3, "seed": 1, "iters": 2000, "eval_every": None, "eval_n": 2000, "options": {}}
    if args.file:
        given.update(read_study_file(args.file))
    elif not args.losses:
        raise ValueError("give the losses (--losses SGAN,RaSGAN) or a study file (--file STUDY.yaml)")
    if args.losses:
        given["losses"] = [name.strip() for name in args.losses.split(",") if name.strip()]
    given.update({k: getattr(args, k) for k in ("seeds", "seed", "iters", "eval_every", "eval_n")
                  if getattr(args, k) is not None})
    options = {**runs.normalise_options(given.pop("options"), args.file or "study"),
               **{k: v for k, v in vars(args).items() if k in known}}
    summary = study(args.out, given.pop("losses"), scheduler=args.scheduler, workers=args.workers,
                    progress=not args.no_progress, **given, **options)
    with open(os.path.join(summary["out"], "study.md")) as f:
        print(f.read().split("\n## Every run")[0].rstrip())
    print(f"\nwrote {summary['out']}: study.md, study.csv, runs.csv, fid.png, losses.png, grids/, runs/")
    return 0


def _train(args: argparse.Namespace) -> int:
    from . import distributed

    known = set(runs.option_names())
    options = {k: v for k, v in vars(args).items() if k in known}
    mpi = args.distributed == "mpi" or (args.distributed == "auto" and distributed.launched_by_mpi())
    communicator = distributed.MPICommunicator() if mpi else None
    leader = communicator is None or communicator.rank == 0
    run = runs.train(out=args.out, resume=args.resume, config=args.config,
                     progress=not args.no_progress and leader, force=args.force, communicator=communicator, **options)
    if run is None:  # a rank other than 0: rank 0 reports
        return 0
    metrics = run.metrics
    last = {k: float(v[-1]) for k, v in metrics.items() if len(v)}
    print(f"{run.path}: {run.iteration} iterations in {last.get('time', 0):.1f} s; "
          f"d_loss {last.get('d_loss', float('nan')):.4f}, g_loss {last.get('g_loss', float('nan')):.4f}")
    print("  " + ", ".join(sorted(name for name in os.listdir(run.path) if not name.startswith("."))))
    return 0


def _sample(args: argparse.Namespace) -> int:
    import numpy as np

    from .images import save_grid

    run = runs.load_run(args.run)
    if args.n < 1:
        raise ValueError(f"--n must be at least 1, got {args.n}")
    folder = args.out.endswith(os.sep) or os.path.isdir(args.out)
    if not folder:
        check_new_file(args.out, args.force)
    with run.gan() as gan:
        if len(gan.sample_shape) != 3 and not args.out.endswith(".npy"):
            raise ValueError("this GAN generates points, not images: write them with --out FILE.npy")
        if folder:
            _sample_folder(gan, args)
            print(f"wrote {args.n} PNG files to {args.out} from {run.path} (iteration {run.iteration})")
            return 0
        images = gan.generate(gan.latents(args.n, seed=args.seed))
    if args.out.endswith(".npy"):
        np.save(args.out, images)
    elif args.out.lower().endswith(".png"):
        save_grid(images, args.out, nrow=args.nrow)
    else:
        raise ValueError(f"--out must end in .png (a grid) or .npy (the array), got {args.out!r}")
    print(f"wrote {args.out}: {args.n} samples of {list(images.shape[1:])} from {run.path} (iteration {run.iteration})")
    return 0


def _sample_folder(gan, args: argparse.Namespace, chunk: int = 500) -> None:
    """One PNG per sample (000000.png, ...) into the folder args.out, the input external FID tools take; made
    `chunk` at a time (memory stays bounded for 50,000 samples), from the same latents as a grid or array."""
    import numpy as np
    from tqdm.auto import tqdm

    from .images import write_png

    os.makedirs(args.out, exist_ok=True)
    names = [f"{i:06d}.png" for i in range(args.n)]
    taken = [name for name in names if os.path.lexists(os.path.join(args.out, name))]
    if taken and not args.force:
        raise FileExistsError(f"{args.out} already holds {len(taken)} of the files this writes ({taken[0]}, ...): "
                              "choose another folder, or pass --force to replace them")
    latents = gan.latents(args.n, seed=args.seed)
    with tqdm(total=args.n, unit="img", disable=args.n < 2 * chunk, desc="samples") as bar:
        for start in range(0, args.n, chunk):
            images = gan.generate(latents[start:start + chunk])
            pixels = np.clip((images + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
            for i, image in enumerate(pixels):
                write_png(image, os.path.join(args.out, f"{start + i:06d}.png"))
            bar.update(len(images))


def _evaluate(args: argparse.Namespace) -> int:
    import json

    from .datacache import open_dataset
    from .features import Reference
    from .gan import GAN

    run = runs.load_run(args.run)
    if args.n < 2 or args.real_n < 2:
        raise ValueError(f"--n and --real-n must be at least 2, got {args.n} and {args.real_n}")
    checkpoints = [(run.iteration, run.checkpoint)]
    if args.checkpoints == "all":
        checkpoints = run.kept_checkpoints
        if not checkpoints:
            raise ValueError(f"{run.path} kept no checkpoints (only its last two): train with --keep-checkpoints to "
                             "evaluate every checkpoint, or with --eval-every N for FID during training")
    config = run.config
    images = open_dataset(str(config["dataset"]), image_size=config.get("image_size"), channels=config.get("channels"),
                          class_name=config.get("class_name"), cache_dir=config.get("cache_dir"))
    results = []
    from tqdm.auto import tqdm

    total = min(args.real_n, len(images)) + args.n * len(checkpoints)
    with tqdm(total=total, unit="img", desc="features (real, then generated)", delay=2) as bar, \
            GAN.load(checkpoints[-1][1]) as last, Reference(
            images, args.real_n, last.sample_shape, args.network, args.seed, progress=bar.update,
            real_name=f"{config['dataset']} (the run's training images)") as reference:  # the real features, once
        for iteration, folder in checkpoints:
            with GAN.load(folder) as gan:
                result = reference.evaluate(gan, n=args.n, seed=args.seed)
                result["measured"]["iteration"] = gan.iteration
            results.append(result)
    path = os.path.join(run.path, "metrics.json")
    data = results[-1] if args.checkpoints == "last" else {
        "checkpoints": [{"iteration": r["measured"]["iteration"], **{k: v for k, v in r.items() if k != "measured"}}
                        for r in results], "measured": {k: v for k, v in results[-1]["measured"].items()
                                                        if k != "iteration"}}
    with open(path + ".partial", "w") as f:
        json.dump(data, f, indent=2)
    os.replace(path + ".partial", path)
    for result in results:
        print(f"{run.path} at iteration {result['measured']['iteration']}: FID {result['fid']:.2f}, KID "
              f"{result['kid']:.4f} ± {result['kid_std']:.4f}, precision {result['precision']:.3f}, recall "
              f"{result['recall']:.3f}")
    written = [path]
    if args.checkpoints == "all":
        from .plots import plot_evaluations

        written.append(plot_evaluations(data["checkpoints"], os.path.join(run.path, "fid.png"),
                                        f"{config.get('loss')} on {config['dataset']}"))
    print(f"({args.n} samples against {results[-1]['measured']['real_samples']} images each; wrote "
          f"{', '.join(written)})")
    return 0


def _features_train(args: argparse.Namespace) -> int:
    import shlex
    import time

    from .datasets import load_labelled_dataset
    from .features import FeatureNetwork

    for name in ("epochs", "batch_size", "width", "image_size", "channels"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    for written in (args.out, args.out + ".json"):  # before hours of training, not after
        check_new_file(written, args.force)
    images, labels, classes = load_labelled_dataset(args.dataset, "train", args.image_size, args.channels)
    test_images, test_labels, _ = load_labelled_dataset(args.dataset, "test", args.image_size, args.channels)
    started = time.monotonic()
    with FeatureNetwork(channels=args.channels, image_size=args.image_size, classes=len(classes), width=args.width,
                        lr=args.lr, seed=args.seed, threads=args.threads) as net:
        history = net.train(images, labels, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                            progress=args.progress)
        accuracy = net.accuracy(test_images, test_labels)
        seconds = time.monotonic() - started
        command = (f"swiftgan features train --dataset {shlex.quote(args.dataset)} --out {shlex.quote(args.out)} "
                   f"--image-size {args.image_size} --channels {args.channels} --width {args.width} "
                   f"--epochs {args.epochs} --batch-size {args.batch_size} --lr {args.lr:g} --seed {args.seed}"
                   + (f" --threads {args.threads}" if args.threads else ""))  # results are bit-identical per count
        net.save(args.out, dataset=args.dataset, classes=classes, train_images=len(images), test_images=len(test_images),
                 epochs=args.epochs, batch_size=args.batch_size, train_accuracy=history["accuracy"][-1],
                 test_accuracy=accuracy, seconds=round(seconds, 1), command=command)
    print(f"wrote {args.out} (+ .json): {net.feature_count} features, test accuracy {accuracy:.4f} on "
          f"{len(test_images)} images, {seconds:.0f} s")
    return 0


def _features_convert(args: argparse.Namespace) -> int:
    from .features import InceptionNetwork, is_torch_file

    for written in (args.out, args.out + ".json"):
        check_new_file(written, args.force)
    if not is_torch_file(args.weights):
        raise ValueError(f"{args.weights}: not a PyTorch weights file (pytorch-fid's pt_inception-2015-12-05-*.pth)")
    with InceptionNetwork.load(args.weights, threads=1) as net:
        net.save(args.out, converted_from=os.path.basename(args.weights),
                 source_sha256=net.description["weights_sha256"])
    print(f"wrote {args.out} (+ .json): Inception-v3, {net.feature_count} features, from {args.weights}; give it "
          "with --feature-network (train, study, compare) or --network (evaluate)")
    return 0


def _morph(args: argparse.Namespace) -> int:
    run = runs.load_run(args.run)
    out = args.out or os.path.join(run.path, "morph.gif")
    if args.out:
        check_new_file(args.out, args.force)
    path = run.morph(out, points=args.points, steps=args.steps, n=args.n, method=args.method, seed=args.seed, fps=args.fps)
    print(f"wrote {path}: {args.points * args.steps} frames at {args.fps:g} fps ({args.method})")
    return 0


def _plot(args: argparse.Namespace) -> int:
    run = runs.load_run(args.run)
    if args.out:
        check_new_file(args.out, args.force)
    path = run.plot(args.out, window=args.window)
    print(f"wrote {path}: {len(run.metrics['iteration'])} iterations")
    return 0


def _list(args: argparse.Namespace) -> int:
    from .core import architectures, losses, penalties

    for title, entries in (("losses", losses()), ("penalty suffixes", penalties()), ("architectures", architectures())):
        print(f"{title}:")
        width = max(len(name) for name in entries)
        for name, text in entries.items():
            print(f"  {name:<{width}}  {text}")
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="swiftgan", description="Train and compare GANs on the CPU with a Swift core.",
                                   formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 2)[2])
    sub = main.add_subparsers(dest="command", metavar="COMMAND", required=True)
    train = sub.add_parser("train", help="train a GAN into a run folder",
                           description="Train a GAN into a run folder: config.yaml, metrics.csv, tensorboard/, "
                                       "samples/, evolution.gif, losses.png, morph.gif, checkpoint/.")
    _add_train_options(train)
    train.set_defaults(handler=_train)

    sample = sub.add_parser("sample", help="write samples of a run's generator")
    sample.add_argument("run", metavar="RUN")
    sample.add_argument("--n", type=int, default=64, help="how many samples (default 64)")
    sample.add_argument("--out", default="samples.png",
                        help="a .png grid, a .npy array, or a folder (ending in /, or existing) to get one PNG per "
                             "sample, as external FID tools read them (default samples.png)")
    sample.add_argument("--nrow", type=int, default=None, help="images per grid row (default: a square)")
    sample.add_argument("--seed", type=int, default=0, help="seeds the latents (default 0)")
    sample.add_argument("--force", action="store_true", help="replace existing files")
    sample.set_defaults(handler=_sample)

    morph = sub.add_parser("morph", help="animate a run's generator between latent points")
    morph.add_argument("run", metavar="RUN")
    morph.add_argument("--out", help="a .gif or .mp4 (default RUN/morph.gif)")
    morph.add_argument("--method", choices=("slerp", "linear"), default="slerp",
                       help="spherical (default) or linear interpolation")
    morph.add_argument("--points", type=int, default=4, help="latent points to pass through, looping (default 4)")
    morph.add_argument("--steps", type=int, default=24, help="frames between two points (default 24)")
    morph.add_argument("--n", type=int, default=16, help="morphs side by side (default 16)")
    morph.add_argument("--fps", type=float, default=12, help="frames per second (default 12)")
    morph.add_argument("--seed", type=int, default=0, help="seeds the latent points (default 0)")
    morph.add_argument("--force", action="store_true", help="replace an existing --out file")
    morph.set_defaults(handler=_morph)

    plot = sub.add_parser("plot", help="plot a run's loss curves")
    plot.add_argument("run", metavar="RUN")
    plot.add_argument("--out", help="the PNG (default RUN/losses.png)")
    plot.add_argument("--window", type=int, default=None, help="moving-average window (default: 1%% of the run)")
    plot.add_argument("--force", action="store_true", help="replace an existing --out file")
    plot.set_defaults(handler=_plot)

    evaluate = sub.add_parser("evaluate", help="FID, KID, precision and recall of a run's generator",
                              description="Measure a run's last checkpoint (or all it kept) against its dataset's images (a seeded subset "
                                          "of --real-n) in a feature network's space; write RUN/metrics.json with the "
                                          "figures and how they were measured.")
    evaluate.add_argument("run", metavar="RUN")
    evaluate.add_argument("--n", type=int, default=10_000, help="generated samples (default 10000)")
    evaluate.add_argument("--real-n", type=int, default=10_000, help="real images, at most (default 10000)")
    evaluate.add_argument("--network", help="a feature network file: pytorch-fid's Inception weights (.pth, or "
                                            "converted by `swiftgan features convert-inception`), or one trained by "
                                            "`swiftgan features train` (default: the shipped Fashion-MNIST one)")
    evaluate.add_argument("--seed", type=int, default=0, help="seeds the latents, the real subset and KID's subsets")
    evaluate.add_argument("--checkpoints", choices=("last", "all"), default="last",
                          help="the last checkpoint (default), or every one the run kept (--keep-checkpoints), "
                               "with RUN/fid.png: FID and KID over the iterations")
    evaluate.set_defaults(handler=_evaluate)

    features = sub.add_parser("features", help="feature networks for the sample-quality metrics")
    features_sub = features.add_subparsers(dest="action", metavar="ACTION", required=True)
    ftrain = features_sub.add_parser("train", help="train a feature network (a small CNN classifier) on a labelled dataset",
                                     description="Train a feature network on a labelled dataset (fashion-mnist, a folder "
                                                 "of IDX files with labels, CIFAR batches, or one sub-folder per class) and "
                                                 "write FILE (safetensors) and FILE.json (its description, test accuracy "
                                                 "and this command).")
    ftrain.add_argument("--dataset", required=True, help="fashion-mnist or a labelled dataset folder")
    ftrain.add_argument("--out", required=True, metavar="FILE", help="the weights file (.safetensors)")
    ftrain.add_argument("--force", action="store_true", help="replace an existing --out file (and its .json)")
    ftrain.add_argument("--image-size", type=int, default=32, help="image side (default 32)")
    ftrain.add_argument("--channels", type=int, default=1, help="image channels (default 1)")
    ftrain.add_argument("--width", type=int, default=16, help="first convolution's channels; features: 4× (default 16)")
    ftrain.add_argument("--epochs", type=int, default=5, help="passes over the training split (default 5)")
    ftrain.add_argument("--batch-size", type=int, default=128, help="batch size (default 128)")
    ftrain.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (default 1e-3)")
    ftrain.add_argument("--seed", type=int, default=1, help="seeds the weights and the batches (default 1)")
    ftrain.add_argument("--threads", type=int, default=None, help="threads (default: the cores available)")
    ftrain.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    ftrain.set_defaults(handler=_features_train)
    fconvert = features_sub.add_parser(
        "convert-inception", help="convert pytorch-fid's Inception weights file once, for FID on any images",
        description="Read pytorch-fid's Inception-v3 weights (pt_inception-2015-12-05-6726825d.pth: pytorch-fid "
                    "downloads it into ~/.cache/torch/hub/checkpoints/; SwiftGAN downloads nothing) as data, without "
                    "running any of its code, and write FILE (safetensors) and FILE.json. The .pth itself is also "
                    "accepted wherever a feature network is (--feature-network, evaluate --network); the converted "
                    "file loads faster and is checksummed.")
    fconvert.add_argument("weights", metavar="PTH", help="pytorch-fid's weights file")
    fconvert.add_argument("--out", required=True, metavar="FILE", help="the converted weights (.safetensors)")
    fconvert.add_argument("--force", action="store_true", help="replace an existing --out file (and its .json)")
    fconvert.set_defaults(handler=_features_convert)

    comparison = sub.add_parser(
        "compare", help="train one configuration in SwiftGAN and in its PyTorch twin, side by side",
        description="Train one configuration in SwiftGAN and in its PyTorch twin (same initial weights, batches and "
                    "noise; each engine in a process of its own) and write a side-by-side comparison into --out: "
                    "compare.md and compare.csv (FID/KID at the end, seconds per iteration, peak memory), "
                    "checkpoints.csv (losses and the largest parameter difference every --every iterations), "
                    "losses.png (the loss curves overlaid). PyTorch runs in this Python if it has torch, else in "
                    "the one --torch-python names. Seeds already in --out are not run again.")
    comparison.add_argument("--out", help="the output folder (default compare/<loss>-<dataset>-<time>)")
    comparison.add_argument("--torch-python", metavar="PATH",
                            help="a Python that can import torch (default: this one, when it can)")
    comparison.add_argument("--seeds", type=int, default=1, help="seeds to run, from --seed on (default 1)")
    comparison.add_argument("--seed", type=int, default=1, help="the first seed (default 1)")
    comparison.add_argument("--iters", type=int, default=1000, help="iterations of each run (default 1000)")
    comparison.add_argument("--every", type=int, default=None,
                            help="iterations between comparisons of the parameters (default: a tenth of --iters)")
    comparison.add_argument("--eval-n", type=int, default=10_000,
                            help="samples and dataset images for FID and KID at the end (default 10000; 0: none)")
    comparison.add_argument("--feature-network", help=RUN_HELP["feature_network"])
    comparison.add_argument("--dataset", default="fashion-mnist", help=RUN_HELP["dataset"])
    comparison.add_argument("--class", dest="class_name", help=RUN_HELP["class_name"])
    comparison.add_argument("--image-size", type=int, default=32, help=RUN_HELP["image_size"])
    comparison.add_argument("--channels", type=int, default=None, help=RUN_HELP["channels"])
    comparison.add_argument("--batch-size", type=int, default=64, help=RUN_HELP["batch_size"])
    comparison.add_argument("--threads", type=int, default=None, help="threads of each engine (default: the cores available)")
    comparison.add_argument("--save-weights", action="store_true",
                            help="also write each engine's final weights to OUT/seed-S-swiftgan.safetensors and "
                                 "seed-S-torch.safetensors")
    comparison.add_argument("--no-progress", action="store_true", help="no progress bar")
    gan_group = comparison.add_argument_group("GAN (see `swiftgan list` for losses and architectures)")
    for name in runs.gan_option_names():
        if name not in ("threads", "seed", "image_size", "channels"):
            gan_group.add_argument("--" + name.replace("_", "-"), dest=name, default=argparse.SUPPRESS, **_gan_flag(name))
    comparison.set_defaults(handler=_compare)

    study = sub.add_parser(
        "study", help="train several losses with several seeds, on Dask, and report them side by side",
        description="Train every loss of --losses with each of --seeds seeds into OUT/runs/, on a local Dask "
                    "cluster (or the one at --scheduler), evaluating FID and KID every --eval-every iterations; "
                    "write OUT/study.md (FID per loss, mean ± std over seeds, best and last; every run; its last "
                    "sample grid, not picked), study.csv, runs.csv, fid.png and losses.png. Rerun the same command "
                    "to continue a study that stopped: finished runs are skipped, the others resume exactly.")
    study.add_argument("--losses",
                       help="comma-separated losses, e.g. SGAN,LSGAN,WGAN-GP,RaSGAN; LOSS@ARCH trains one on its own "
                            "networks (EBGAN@ebgan, BEGAN@began)")
    study.add_argument("--file", metavar="STUDY.yaml",
                       help="the study from a YAML file: runs (each run's own settings: loss, batch_size, z_dim, lr_d, "
                            "lr_g, n_critic, arch, ...), seeds, seed, iters, eval_every, eval_n, options (shared); "
                            "the command line's options override it")
    study.add_argument("--out", default="study", help="the study folder (default ./study)")
    study.add_argument("--seeds", type=int, default=None, help="seeds per loss, from --seed on (default 3)")
    study.add_argument("--seed", type=int, default=None, help="the first seed (default 1)")
    study.add_argument("--iters", type=int, default=None, help="iterations of every run (default 2000)")
    study.add_argument("--eval-every", type=int, default=None,
                       help="FID and KID every N iterations, with a checkpoint and a grid (default: a tenth of "
                            "--iters; 0: never, checkpoints and grids every tenth)")
    study.add_argument("--eval-n", type=int, default=None,
                       help="samples and dataset images per evaluation (default 2000)")
    study.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="a Dask scheduler to run on (its workers must have swiftgan and see --out at the same "
                            "path); default: a local cluster")
    study.add_argument("--workers", type=int, default=None,
                       help="local worker processes (default: one per core, at most one per run); each computes "
                            "on cores/workers threads")
    study.add_argument("--no-progress", action="store_true", help="no progress bar")
    from .study import PER_RUN

    _add_option_flags(study, [name for name in runs.option_names() if name not in PER_RUN or name == "threads"])
    study.set_defaults(handler=_study)

    listing = sub.add_parser("list", help="list the losses, penalties and architectures")
    listing.set_defaults(handler=_list)
    return main


def main(argv: Optional[List[str]] = None) -> int:
    from ._native import SwiftGANError
    from .compare import EngineError, PyTorchNotFoundError
    from .study import StudyError

    args = parser().parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("swiftgan: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, SwiftGANError, PyTorchNotFoundError, EngineError, StudyError, FolderInUseError,
            MemoryError, OSError) as error:
        print(f"swiftgan {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 2 if isinstance(error, (ValueError, TypeError)) else 1


def one_line(error: BaseException) -> str:
    """An error as one line: an OSError as "what: where" (its text, its file), a MemoryError with its kind."""
    if isinstance(error, OSError) and error.strerror and error.filename is not None and str(error.filename) not in str(error.strerror):
        text = f"{error.strerror}: {error.filename}" + (f" → {error.filename2}" if error.filename2 else "")
    elif isinstance(error, MemoryError):
        text = str(error) or "out of memory"
    else:
        text = str(error) or error.__class__.__name__
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
