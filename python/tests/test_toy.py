"""Every loss learns the ring of 8 Gaussians.

By default, a short statistical version runs (`test_every_loss_moves_its_samples_towards_the_modes_in_300_iterations`,
below, with its measured margins); the long version described here runs with SWIFTGAN_LONG_TESTS=1 (13-24 minutes
on 2 cores). In the long version each loss trains the MLP pair for 2,000 iterations on samples of 8 Gaussians (σ = 0.02) on a circle of
radius 2 (`swiftgan.toy.train_on_ring`), then 2,000 samples of G's moving average must cover at least 6 of
the 8 modes, and at least half of them must lie within 3σ of a mode's centre (`swiftgan.toy.mode_statistics`).

Batches hold 256 points (WGAN's 512). At 512 for every loss the test took 23 minutes of a 2-core machine (1,361 s),
most of CI's time; at 256, 783 s, with every loss learning as at 512 (BEGAN aside) but WGAN, whose weight-clipped
critic then sharpens its samples too slowly (18%, 37% and 53% within 3σ at data seeds 0-2; at 512 it passes at 0).

The toy settings (widths 128, moving average 0.99; 4-D latents and Adam lr 7e-4 with betas (0.5, 0.9))
apply to every loss but those below. Outcomes on the ring are chaotic: the same loss covers 8 modes at one data
seed and 2 at the next, or after a change in float rounding (thread count, BLAS kernel). So every setting here
was measured over several data seeds (`benchmarks/toy_ring.py`, tables in README.md) and chosen where the loss
passed on each seed measured:
- RLSGAN and DRAGAN learn at lr 1e-3 (4 of 4 seeds; at 7e-4, 2 of 3);
- RaSGAN and RcHingeGAN, and WGAN, WGAN-GP and WGAN-LP, train with 2-D latents at lr 5e-4 (3 of 3 seeds;
  RaSGAN covers 1-2 modes at two of three seeds at the common setting);
- DRAGAN's weight is 1 instead of 10 and its clip to [-1, 1] is off: both are calibrated for images, and the
  ring spans [-2, 2];
- EBGAN's margin is 0.5 and its pull-away weight 1 (the image defaults, 1 and 0.1, cover 4-5 modes);
- WGAN clips at ±0.05 and its generator learns at 2e-3 (with ±0.01, calibrated for DCGAN's critic, the MLP's
  output barely moves; at ±0.05 and one learning rate the samples sharpen too slowly: 48% within 3σ).
A loss's own preset otherwise stays in force (WGAN's RMSprop and 5 critic steps; WGAN-GP's and WGAN-LP's
Adam betas and 5 critic steps). The losses train in parallel processes, one per core, each on one
thread (`threads=1`).

Those settings were measured on one kind of processor (AMD, OpenBLAS's Haswell kernels); another rounds
differently and the chaos lands elsewhere: on an Intel Xeon with OpenBLAS's own choice of kernels, data seeds 0, 1
and 2 give RaSGAN 4, 6 and 7 modes and RcHingeGAN 4, 3 and 7 (the code of before and after the change that
found it alike). So a loss passes when it learns the ring at one of data seeds 0, 1 and 2, tried in that order
(a retry starts as soon as a miss is known, while the other losses still train). A broken objective or a
penalty of the wrong sign misses at every seed, as BEGAN does (below).
"""
import concurrent.futures
import multiprocessing
import os
import statistics

import numpy as np
import pytest

import swiftgan
from swiftgan.toy import mode_statistics, ring_of_gaussians, settings_for, toy_losses as all_losses, train_on_ring

# Measured misses (modes covered / share within 3σ, over data seeds), kept visible as strict expected failures:
# a loss that starts to pass makes its entry fail, so that it is removed here.
KNOWN_MISSES = {
    "BEGAN": "collapses to 1 mode (or none) at every setting tried (a sweep of 72: γ 0.3-1 × λ_k 0.01-1 × codes 2, "
             "8, 32 × lr 2e-4, 7e-4; and γ up to 3, λ_k up to 10, code 1, z 2-8), and so does the PyTorch twin "
             "(reference/toy.py): G descends |x - D(x)|, which pulls each fake towards its reconstruction, and "
             "nothing sends the reconstructions of off-data points to different modes, so the fakes travel as one "
             "cloud to one mode; there L(G(z)) ≈ L(x) > γ·L(x), k falls to 0 and D stops pushing them away",
}


DATA_SEEDS = (0, 1, 2)
RING = dict(iterations=2000, batch_size=256)  # of every run, but those in RING_BATCH
RING_BATCH = {"WGAN": 512}


def learned(stats):
    return stats["modes_covered"] >= 6 and stats["high_quality"] >= 0.5


def expected_cost(loss):
    """A run's relative cost, to start the longest first (so that no long run is left alone at the end, one core
    idle): its critic steps per iteration, doubled by a gradient penalty (a second backward pass), times its batch."""
    with swiftgan.GAN(loss=loss, arch="mlp", channels=2, **settings_for(loss)) as gan:
        penalised = gan.config["loss"].endswith(tuple(swiftgan.penalties())) or "DRAGAN" in loss
        return gan.n_critic * (2 if penalised else 1) * RING_BATCH.get(loss, RING["batch_size"])


LONG = os.environ.get("SWIFTGAN_LONG_TESTS") == "1"
long_test = pytest.mark.skipif(not LONG, reason="the 2,000-iteration ring (13-24 min on 2 cores) runs with "
                                                 "SWIFTGAN_LONG_TESTS=1; CI runs the short statistical version")


@pytest.fixture(scope="module")
def ring_results():
    """Every loss trained on the ring, in parallel processes (one thread each): loss -> the statistics of each
    data seed tried, in order, up to the first that learned the ring (the known misses at seed 0 only)."""
    context = multiprocessing.get_context("spawn")
    results = {loss: [] for loss in all_losses()}
    with concurrent.futures.ProcessPoolExecutor(max_workers=os.cpu_count() or 1, mp_context=context) as pool:
        def submit(loss, seed):
            ring = {**RING, "batch_size": RING_BATCH.get(loss, RING["batch_size"])}
            return pool.submit(train_on_ring, loss, data_seed=seed, threads=1, **ring, **settings_for(loss))

        pending = {submit(loss, DATA_SEEDS[0]): loss for loss in sorted(all_losses(), key=expected_cost, reverse=True)}
        while pending:
            done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                loss = pending.pop(future)
                results[loss].append(future.result())
                tried = len(results[loss])
                if not learned(results[loss][-1]) and loss not in KNOWN_MISSES and tried < len(DATA_SEEDS):
                    pending[submit(loss, DATA_SEEDS[tried])] = loss
    return results


@long_test
@pytest.mark.parametrize("loss", [pytest.param(name, marks=pytest.mark.xfail(reason=KNOWN_MISSES[name], strict=True))
                                  if name in KNOWN_MISSES else name for name in all_losses()])
def test_every_loss_covers_the_ring_of_gaussians(loss, ring_results):
    tried = ring_results[loss]
    assert learned(tried[-1]), f"{loss} with {settings_for(loss)}, data seeds {list(DATA_SEEDS[:len(tried)])}: {tried}"


def test_mode_statistics_recognise_coverage_and_quality():
    rng = np.random.default_rng(1)
    perfect = mode_statistics(ring_of_gaussians(4000, rng))
    assert perfect["modes_covered"] == 8 and perfect["high_quality"] > 0.98
    collapsed = mode_statistics(ring_of_gaussians(4000, rng)[:1] + np.zeros((4000, 2), np.float32))
    assert collapsed["modes_covered"] == 1
    assert perfect["centre_distance"] < 0.05  # σ = 0.02: the median distance of a 2-D Gaussian is 1.18σ
    blurred = mode_statistics(ring_of_gaussians(4000, rng, std=0.5))
    assert blurred["high_quality"] < 0.2
    untrained = mode_statistics(0.01 * rng.standard_normal((4000, 2)))  # an untrained G: at the ring's centre
    assert abs(untrained["centre_distance"] - 2.0) < 0.02
    with pytest.raises(ValueError, match=r"samples must have shape \[N, 2\], got \[3\]"):
        mode_statistics(np.zeros(3))


# MARK: - The short version: every loss moves its samples onto the ring, a statistic over data seeds

SHORT = dict(iterations=300, batch_size=128)
SHORT_SEEDS = (0, 1, 2)
# The median over data seeds of the median distance from a sample to its nearest mode centre (2 at the ring's
# centre, where an untrained generator's samples lie; 0 on the modes). Measured on AMD Zen 4 under the four
# OPENBLAS_CORETYPE cells of .ci/isa-matrix (the MLP pair runs on OpenBLAS alone; SkylakeX gave the default's
# numbers, Zen Haswell's): largest RaDRAGAN 1.456 / 1.440, RaHingeGAN 1.221 / 1.214, DRAGAN 1.184 / 1.156, WGAN-GP
# 0.986 / 1.116. Against broken engines (same settings, default cell): with G's gradient negated, every loss tried
# (SGAN, LSGAN, RaSGAN, RaHingeGAN, WGAN-GP, EBGAN, BEGAN, DRAGAN) ends at 1.76 or more (WGAN-GP, EBGAN, BEGAN and
# DRAGAN above 1,000); with the critic's adversarial gradient negated, SGAN 1.81, LSGAN 1.82, RaHingeGAN 1.92, EBGAN
# 1.65, BEGAN 4.6 and WGAN-GP 1,496 fail, RaSGAN (1.32) and DRAGAN (0.75) do not: this short test catches a wrong
# generator direction everywhere and a wrong critic direction in 6 of 8; the parity tests catch all of them.
SHORT_BOUND = 1.6


@pytest.fixture(scope="module")
def short_results():
    """Every loss × SHORT_SEEDS trained SHORT on the ring, two processes, one thread each: loss -> statistics."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=os.cpu_count() or 1, mp_context=context) as pool:
        futures = {(loss, seed): pool.submit(train_on_ring, loss, data_seed=seed, threads=1, **SHORT, **settings_for(loss))
                   for loss in sorted(all_losses(), key=expected_cost, reverse=True) for seed in SHORT_SEEDS}
        return {loss: [futures[(loss, seed)].result() for seed in SHORT_SEEDS] for loss in all_losses()}


@pytest.mark.parametrize("loss", all_losses())
def test_every_loss_moves_its_samples_towards_the_modes_in_300_iterations(loss, short_results):
    """A statistic, not one chaotic outcome: the median over 3 data seeds of the median distance to the nearest
    mode centre falls from about 2 to at most SHORT_BOUND."""
    distances = [r["centre_distance"] for r in short_results[loss]]
    assert statistics.median(distances) <= SHORT_BOUND, f"{loss} with {settings_for(loss)}: {short_results[loss]}"
