"""The `GAN` object: a Swift training engine behind a NumPy interface."""
from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Tuple

import numpy as np

from . import _native, checkpoint
from .core import STATISTICS, _STAT_NAMES  # noqa: F401  (STATISTICS: swiftgan.gan.STATISTICS, as documented)
from .engine import GRADIENTS, Engine, float32_array as _float32_array, parse_lines, serialised
from .features import draw_latents, evaluate as _evaluate
from .options import config_lines, document_options, option_table, typed


def _value_range(array: np.ndarray, name: str) -> Tuple[float, float]:
    """The smallest and largest value of `array` ((0, 0) when empty); ValueError when it holds NaN or infinite
    values (they would poison every weight). Two reductions, no temporary array: NaN propagates through both."""
    if array.size == 0:
        return 0.0, 0.0
    low, high = float(array.min()), float(array.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        bad = np.argwhere(~np.isfinite(array))
        first = tuple(int(i) for i in bad[0])
        raise ValueError(f"{name} holds {len(bad)} non-finite value(s) (NaN or inf), the first at index {list(first)}: "
                         f"{array[first]!r}; a training step needs finite inputs")
    return low, high


_MAX_SAMPLES = 1 << 20  # samples one generate or sample call makes (the core's limit)


def _check_sample_count(n: int, name: str) -> None:
    if n > _MAX_SAMPLES:
        raise ValueError(f"{name} asks for {n} samples, more than one call makes (2^20 = {_MAX_SAMPLES}): make them "
                         "in parts")


class GAN(Engine):
    """A generator/discriminator pair with its optimizers, trained by SwiftGAN's Swift core.

    Every option of the core's table (`option_table()`, listed below) is a keyword argument; `loss` may also
    be given first, by position. Options left as None take the loss's preset (the settings its paper trains with,
    which the core applies when the loss is set; the README lists them), else the defaults shown.
    `config` shows the result.

    `threads`: threads this GAN computes on (default: OMP_NUM_THREADS if the environment sets it, else the
    cores available); not part of the experiment, so it can be changed at any time (`gan.threads = n`).
    Results are bit-identical for the same count.

    `strict`: a real batch of images with values outside [-1, 1] is an error (ValueError) instead of a warning
    (given once per GAN).

    A GAN may be used from several threads: its calls run one at a time, each whole (so the results are those of
    some sequential order of the calls); while one computes, the GIL is released, so other threads, and other
    GANs, run in parallel.
    """

    def __init__(self, loss: Optional[str] = None, /, *, threads: Optional[int] = None, strict: bool = False,
                 _config_text: Optional[str] = None, **options: object):
        if loss is not None:
            if options.get("loss") is not None:
                raise TypeError("GAN() got loss both by position and by keyword")
            options["loss"] = loss
        if _config_text is None:
            _config_text = config_lines(options)
        super().__init__(_native.create(_config_text))
        self._config = self._config_lines()
        self._retain_gradients = False
        self.strict = bool(strict)
        self._warned_range = False
        if threads is not None:
            self.threads = threads
        self.checkpoint_extra: Dict[str, object] = {}  # the `extra` state of the checkpoint this GAN was loaded from

    _what = "GAN"

    # ---- description -----------------------------------------------------

    @property
    def config(self) -> Dict[str, object]:
        """The resolved configuration (every option of `option_table()`, with defaults filled in), typed."""
        table = option_table()
        return {key: typed(table[key].kind, value) for key, value in self._config.items()}

    @property
    def options(self) -> Dict[str, object]:
        """The resolved configuration as `GAN(...)` keyword arguments: `GAN(**gan.options)` builds the same GAN
        (freshly initialised)."""
        c = self.config
        out: Dict[str, object] = {}
        for key, value in c.items():
            if key in ("beta1_d", "beta2_d", "beta1_g", "beta2_g", "lsgan_b", "lsgan_c"):
                continue
            if key == "lsgan_a":
                out["lsgan_targets"] = (c["lsgan_a"], c["lsgan_b"], c["lsgan_c"])
            else:
                out[key] = value
        out["betas_d"] = (c["beta1_d"], c["beta2_d"])
        out["betas_g"] = (c["beta1_g"], c["beta2_g"])
        return out

    @property
    def resolved_config(self) -> Dict[str, str]:
        """The resolved configuration as the core writes it (option name -> text), which `GAN(_config_text=...)`
        reads back: what a checkpoint records."""
        return dict(self._config)

    @property
    def step_inputs(self) -> "OrderedDict[str, Dict[str, object]]":
        """The inputs `train_step` takes, by name, as the core declares them for this configuration: `real`, the
        latents `z` and `z_g`, and the random inputs of the loss's penalties; each with its entry `shape` (B the
        batch, B' = B / pack), whether it is `per_step` (then [n_critic, *entry] is accepted too) and its
        `meaning`."""
        rows = (line.split("\t") for line in self._handle.step_inputs().splitlines() if line)
        return OrderedDict((name, {"shape": shape, "per_step": per_step == "1", "meaning": meaning})
                           for name, shape, per_step, meaning in rows)

    def latents(self, n: int, seed: int = 0) -> np.ndarray:
        """`n` latents float32 [n, z_dim] from the GAN's latent distribution (normal or uniform), drawn with
        a NumPy generator seeded by `seed`: a fixed batch for sample grids, which leaves the GAN's own random
        stream (and so its training) untouched."""
        return draw_latents(np.random.default_rng(seed), (n, self.z_dim), self._config["latent"])

    # How Jupyter shows a GAN: a function of the GAN giving PNG bytes, set by the lab floor (`swiftgan.images`, which
    # has the image libraries); without it, Jupyter shows the repr.
    _picture = None

    def _repr_png_(self) -> Optional[bytes]:
        return None if self._picture is None or self._handle.closed else self._picture()

    @property
    def loss(self) -> str:
        return self._config["loss"]

    @property
    def sample_shape(self) -> Tuple[int, ...]:
        """The shape of one sample: (C, H, W) for images, (channels,) for the MLP."""
        c = int(self._config["channels"])
        if self._config["arch"] == "mlp":
            return (c,)
        s = int(self._config["image_size"])
        return (c, s, s)

    @property
    def z_dim(self) -> int:
        return int(self._config["z_dim"])

    @property
    def n_critic(self) -> int:
        return int(self._config["n_critic"])

    @property
    def iteration(self) -> int:
        """Completed training iterations."""
        return int(self.scalars["iteration"])

    def __repr__(self) -> str:
        if self._handle.closed:
            return "GAN(closed)"
        size = "" if self._config["arch"] == "mlp" else f"image_size={self._config['image_size']}, "
        return (f"GAN(loss={self.loss!r}, arch={self._config['arch']!r}, {size}channels={self._config['channels']}, "
                f"z_dim={self.z_dim}, iteration={self.iteration})")

    # ---- copies and pickles: independent GANs --------------------------------------

    @serialised
    def _full_state(self) -> "tuple[str, OrderedDict[str, np.ndarray], Dict[str, str]]":
        if self.closed:
            raise ValueError(f"cannot copy or pickle {self!r}: it is closed")
        config = "\n".join(f"{k}={v}" for k, v in self._config.items())
        return config, self._tensors(range(len(self._names))), self.scalars

    def __deepcopy__(self, memo) -> "GAN":
        """An independent GAN in the same state (weights, buffers, optimizer moments, moving average, the trainer's
        scalars and random stream): each trains on as the other would, and changes nothing of the other."""
        import copy

        config, tensors, scalars = self._full_state()
        clone = _restore(type(self), config, tensors, scalars, self.strict)
        clone.checkpoint_extra = copy.deepcopy(self.checkpoint_extra, memo)
        return clone

    def __copy__(self) -> "GAN":
        """As `copy.deepcopy`: a copy sharing the engine would let one close or train the other."""
        return self.__deepcopy__({})

    def __reduce__(self):
        """Pickles the GAN's state and configuration (not the engine): unpickled, it is an independent GAN in the same
        state. (Unpickle only what you pickled yourself: `GAN.load` reads checkpoints without running code.)"""
        config, tensors, scalars = self._full_state()
        return _restore, (type(self), config, dict(tensors), scalars, self.strict)

    # ---- training ----------------------------------------------------------

    @serialised
    def train_step(self, real: np.ndarray, **inputs: Optional[np.ndarray]) -> Dict[str, float]:
        """Runs one iteration: `n_critic` discriminator steps, then one generator step.

        Args:
            real: float32 [B, *sample_shape] in [-1, 1] (used by every critic step), or
                [n_critic, B, *sample_shape] (one batch per critic step).
            **inputs: optional inputs by name, as `step_inputs` lists them for this GAN: `z`, the D-step latents
                float32 [B, z_dim] (n_critic == 1) or [n_critic, B, z_dim]; `z_g`, the G-step latents [B, z_dim]
                (latents may also end in 1, 1, as PyTorch's DCGAN examples draw them); and the random inputs the
                loss's penalties declare, with their shapes (per packed sample: B' = B / pack) and meanings. Inputs
                left out or None are drawn from the GAN's own seeded stream.

        Returns:
            The statistics of `swiftgan.gan.STATISTICS` by name: d_loss (the last critic step's loss, penalties
            included), g_loss, d_real and d_fake (mean critic outputs; reconstruction energies for EBGAN and
            BEGAN), penalty, k and m_global (BEGAN's; 0 otherwise), and d_loss_real and d_loss_fake (the critic
            loss's terms on real and on fake data, "loss D_real" and "loss D_gen"; NaN for the paired and
            all-pairs relativistic losses, whose loss is one term), skipped_steps (iterations so far whose
            non-finite update was skipped, with non_finite="skip").

        Raises:
            ValueError: for a wrong shape, an input this GAN does not take, or an input holding NaN or inf (images
                outside [-1, 1] warn once, or raise with `strict=True`).
            TrainingDivergedError: when a loss, gradient or update is not finite (non_finite="raise"); the update
                is not applied.
        """
        named = [("real", _float32_array(real, "real"))]
        named += [(name, _float32_array(value, name)) for name, value in inputs.items() if value is not None]
        for name, array in named:
            low, high = _value_range(array, name)
            if name == "real" and len(self.sample_shape) == 3:
                self._check_image_range(low, high)
        stats = self._handle.train_step(named)  # the core checks every name and shape
        return dict(zip(_STAT_NAMES, stats))

    def _check_image_range(self, low: float, high: float) -> None:
        """Images with values in [low, high] outside [-1, 1] (the range of G's tanh): a warning once per GAN, or
        ValueError when strict."""
        if (low >= -1 and high <= 1) or (self._warned_range and not self.strict):
            return
        message = (f"real holds values in [{low:g}, {high:g}], outside [-1, 1], the range of the generator's tanh: "
                   "scale images to [-1, 1] (x / 127.5 - 1 for bytes)")
        if self.strict:
            raise ValueError(message)
        self._warned_range = True
        warnings.warn(message + " (warned once per GAN; GAN(strict=True) makes it an error)", stacklevel=3)

    # ---- sampling ----------------------------------------------------------

    @serialised
    def generate(self, z: np.ndarray) -> np.ndarray:
        """Samples float32 [N, *sample_shape] from latents float32 [N, z_dim] or [N, z_dim, 1, 1] (G in eval mode).

        Raises:
            ValueError: for a wrong shape, latents holding NaN or inf, or N above 2^20.
        """
        if isinstance(z, np.ndarray) and z.ndim >= 2:
            _check_sample_count(z.shape[0], "z")
        z = _float32_array(z, "z")
        _value_range(z, "z")
        out = np.empty((z.shape[0] if z.ndim >= 2 else 0,) + self.sample_shape, dtype=np.float32)
        self._handle.generate(z, out)  # the core checks z's shape and out's size
        return out

    @serialised
    def sample(self, n: int) -> np.ndarray:
        """`n` samples float32 [n, *sample_shape] from latents drawn with the GAN's own seeded stream."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"n must be an int, got {type(n).__name__}")
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        _check_sample_count(int(n), "n")
        out = np.empty((int(n),) + self.sample_shape, dtype=np.float32)
        self._handle.sample(int(n), out)
        return out

    def evaluate(self, real: np.ndarray, n: int = 10_000, network=None, seed: int = 0, **options) -> Dict[str, object]:
        """FID, KID (and its std), precision and recall of `n` samples against the images `real` (float32
        [M, *sample_shape] in [-1, 1]), in a feature network's space (default: the shipped Fashion-MNIST one,
        for 1×32×32 images); `swiftgan.features.evaluate` gives the options. The result's "measured" entry says
        how (network file and SHA-256, feature layer, sample counts, seed): compare figures measured alike."""
        return _evaluate(self, real, n=n, network=network, seed=seed, **options)

    # ---- state -------------------------------------------------------------

    @property
    def retain_gradients(self) -> bool:
        """When True, each step keeps copies of its gradients for `gradients()` (off by default)."""
        return self._retain_gradients

    @retain_gradients.setter
    @serialised
    def retain_gradients(self, on: bool) -> None:
        self._handle.set_retain_gradients(bool(on))
        self._retain_gradients = bool(on)

    @serialised
    def distribute(self, communicator: object = None) -> None:
        """Trains this GAN as one rank of a training spread over several processes (`swiftgan.distributed`).

        `communicator`: `swiftgan.distributed.world()` under `mpirun`, or any object with `rank`, `size` and the
        methods of `swiftgan.distributed.MPICommunicator`; None: this process alone (the default). Every rank must
        build its GAN with the same options and seed, distribute it over the same communicator and pass
        `train_step` the same whole batch: each computes on its slice (rank r: the r-th of `size` equal slices;
        the batch must divide into them, in whole packs), and together they compute one step on the whole batch,
        keeping the same weights. A copy of a distributed GAN trains alone.
        """
        self._handle.set_communicator(communicator)
        self._communicator = communicator

    @property
    def communicator(self) -> object:
        """The communicator this GAN trains over (`distribute`), or None."""
        return getattr(self, "_communicator", None)

    @serialised
    def gradients(self) -> "OrderedDict[str, np.ndarray]":
        """The last D step's gradients of D's parameters and the last G step's of G's, by parameter name.

        Raises:
            ValueError: unless `retain_gradients` was set before a training step.
        """
        count = self._handle.tensor_count(GRADIENTS)
        return OrderedDict((self._handle.tensor_info(GRADIENTS, i)[0], self._read(i, GRADIENTS)) for i in range(count))

    @serialised
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Copies of the weights and BN running statistics, PyTorch names, layouts and order
        (`G.main.0.weight`, ...): `G.*` loads into the PyTorch twin's generator, `D.*` into its critic.
        The moving average of G (with `ema_decay`) is saved in checkpoints but not listed here."""
        return self._tensors(range(self._model_count))

    @serialised
    def load_state_dict(self, state: Mapping[str, np.ndarray], strict: bool = True) -> None:
        """Overwrites weights from `state` (as returned by `state_dict`, or a PyTorch state_dict
        converted to NumPy; `num_batches_tracked` entries are ignored).

        Raises:
            KeyError: with strict=True, when a key is missing or unknown.
            TypeError: when a tensor's values are not floating-point (integers, booleans, objects...).
            ValueError: when a shape differs, a value is not finite (or overflows float32), or a running
                variance is negative; the message names the tensor, and nothing is changed.
        """
        self._write(state, range(self._model_count), strict)

    @serialised
    def optimizer_state(self) -> "OrderedDict[str, np.ndarray]":
        """The optimizers' moments and G's moving average, by name (the part of a checkpoint besides the
        `state_dict`)."""
        return self._tensors(range(self._model_count, len(self._names)))

    @serialised
    def load_full_state(self, tensors: Mapping[str, np.ndarray]) -> None:
        """Overwrites every tensor, the model's and the optimizers' (a `state_dict` merged with an
        `optimizer_state`); every name must be there, and nothing changes when any is refused."""
        self._write(tensors, range(len(self._names)), strict=True)

    @serialised
    def save(self, path: str, extra: Optional[Mapping[str, object]] = None) -> None:
        """Writes a checkpoint directory atomically (`swiftgan.checkpoint.save`): the weights, the optimizers'
        state, the configuration, the trainer's scalars by name and `extra`, any JSON-able state of the caller's
        that must change together with the weights (such as a data sampler's; `GAN.load` returns it as
        `checkpoint_extra`). A process killed at any moment leaves a complete checkpoint at `path`."""
        scalars = self.scalars
        checkpoint.save(path, config=self.resolved_config, model=self.state_dict(), optimizer=self.optimizer_state(),
                        scalars=scalars, extra=extra)

    @classmethod
    def load(cls, path: str) -> "GAN":
        """Restores a GAN saved with `save`, ready to continue training exactly where it stopped; the
        `extra` state given to `save` is in `checkpoint_extra`."""
        saved = checkpoint.read(path)
        gan = cls(_config_text="\n".join(f"{k}={v}" for k, v in saved.config.items()))
        try:
            gan.load_full_state(saved.tensors)
            gan.set_scalars(saved.scalars)
        except (KeyError, ValueError) as error:
            gan.close()
            raise ValueError(f"{saved.path}: the files do not fit the GAN their trainer.json describes: {error}") from error
        gan.checkpoint_extra = saved.extra
        return gan

    @property
    @serialised
    def scalars(self) -> Dict[str, str]:
        """The trainer's scalar state by name, as text that reads back exactly: iteration, optimizer_D.steps,
        optimizer_G.steps, rng.0 to rng.3, began.k, began.lr_factor, began.best_m_global, began.since_best,
        skipped_steps."""
        return parse_lines(self._handle.scalars())

    @serialised
    def set_scalars(self, scalars: Mapping[str, object]) -> None:
        """Restores trainer scalars by name (any of `scalars`); an unknown name or a bad value raises
        ValueError and changes nothing."""
        self._handle.set_scalars("\n".join(f"{name}={value}" for name, value in scalars.items()))


def _restore(cls, config: str, tensors: Mapping[str, np.ndarray], scalars: Mapping[str, str], strict: bool) -> GAN:
    """A new GAN of `cls` built from `config`, with every tensor and scalar of a copied or pickled one."""
    gan = cls(_config_text=config, strict=strict)
    try:
        gan.load_full_state(tensors)
        gan.set_scalars(scalars)
    except BaseException:
        gan.close()
        raise
    return gan


document_options(GAN)
