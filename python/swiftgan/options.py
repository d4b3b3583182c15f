"""The core's option table in Python: `option_table()`, the shorthands `GAN(...)` takes, and what is made from
the table (the engine's configuration text, typed values, `GAN`'s signature and docstring). `swiftgan train`'s
flags are made from it too (`cli.py`)."""
from __future__ import annotations

import functools
from collections import OrderedDict
from typing import Mapping, NamedTuple, Optional, Tuple

import numpy as np

from . import _native


class Option(NamedTuple):
    """One row of the core's option table (`option_table()`)."""
    name: str
    kind: str  # int, float, bool, choice, loss or seed
    default: object  # the value before any loss preset
    values: str  # the allowed range or set: "1..1000", "positive", "adam|rmsprop|sgd"
    help: str
    scope: str = "all"  # the configurations it acts on: "all", "loss SGAN", "arch dcgan|cnn", "optimizer adam", ...


PYTHON_TYPES = {"int": int, "seed": int, "float": float, "bool": bool, "choice": str, "loss": str}


def typed(kind: str, text: str) -> object:
    """An option's text form (as the core writes it) as its Python value."""
    return text == "true" if kind == "bool" else PYTHON_TYPES[kind](text)


@functools.lru_cache(maxsize=None)
def _option_rows() -> Tuple[Option, ...]:
    rows = (line.split("\t") for line in _native.options().splitlines() if line)
    return tuple(Option(name, kind, typed(kind, default), values, text, scope)
                 for name, kind, default, values, text, scope in rows)


def option_table() -> "OrderedDict[str, Option]":
    """The core's table of every option `GAN(...)` takes (name, kind, default, allowed values, help), in the
    order `config` lists them: the one description that `GAN`'s validation, its typed `config` and the
    `swiftgan train` flags are built from. `GAN` also takes the shorthands in `OPTION_SHORTHANDS`."""
    return OrderedDict((row.name, row) for row in _option_rows())


# Shorthands `GAN(...)` takes for several options at once: name -> (the options it sets, help). `betas` is
# applied before `betas_d` and `betas_g`, which override it per net.
OPTION_SHORTHANDS: "OrderedDict[str, Tuple[Tuple[str, ...], str]]" = OrderedDict([
    ("betas", (("beta1_d", "beta2_d", "beta1_g", "beta2_g"), "Adam's (β1, β2) of both nets")),
    ("betas_d", (("beta1_d", "beta2_d"), "D's Adam (β1, β2)")),
    ("betas_g", (("beta1_g", "beta2_g"), "G's Adam (β1, β2)")),
    ("lsgan_targets", (("lsgan_a", "lsgan_b", "lsgan_c"), "LSGAN's targets (a, b, c)")),
])


def _option_text(option: Option, value: object) -> str:
    """`value` of `option` as the core reads it; TypeError for a value of the wrong Python type."""
    want = PYTHON_TYPES[option.kind]
    if want is int and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
        raise TypeError(f"{option.name} must be an int, got {type(value).__name__}")
    if want is float and (isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer))):
        raise TypeError(f"{option.name} must be a number, got {type(value).__name__}")
    if want is bool and not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{option.name} must be a bool (True or False), got {type(value).__name__} {value!r}")
    if want is str and not isinstance(value, str):
        raise TypeError(f"{option.name} must be a str, got {type(value).__name__}")
    text = str(bool(value)).lower() if want is bool else repr(float(value)) if want is float else str(value)
    if any(c in text for c in "\n=;"):
        raise ValueError(f"{option.name} contains a forbidden character: {value!r}")
    return text


def config_lines(given: Mapping[str, object]) -> str:
    """The engine's key=value lines for the options given to `GAN(...)` (None: preset or default)."""
    table = option_table()
    unknown = [name for name in given if name not in table and name not in OPTION_SHORTHANDS]
    if unknown:
        import difflib

        valid = list(table) + list(OPTION_SHORTHANDS) + ["threads", "strict"]
        close = difflib.get_close_matches(unknown[0], valid, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise TypeError(f"GAN() got an unexpected keyword argument '{unknown[0]}'{hint}; valid: {', '.join(valid)}")
    values: "OrderedDict[str, object]" = OrderedDict()
    for name in list(OPTION_SHORTHANDS) + [n for n in given if n in table]:
        value = given.get(name)
        if value is None:
            continue
        if name in OPTION_SHORTHANDS:
            targets = OPTION_SHORTHANDS[name][0]
            width = 2 if name.startswith("betas") else len(targets)
            items = tuple(value) if isinstance(value, (tuple, list, np.ndarray)) else ()
            if len(items) != width:
                raise ValueError(f"{name} must be a sequence of {width} numbers, got {value!r}")
            for target, item in zip(targets, items * (len(targets) // width)):
                values[target] = item
        else:
            values[name] = value
    return "\n".join(f"{name}={_option_text(table[name], value)}" for name, value in values.items())


def document_options(cls: type) -> None:
    """`cls.__init__`'s signature (`GAN`'s) and the options part of its docstring, made from the core's option
    table."""
    import inspect

    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY),
              inspect.Parameter("loss", inspect.Parameter.POSITIONAL_ONLY, default=None, annotation=Optional[str])]
    lines = ["", "    Options (the core's table; the default is the value before any loss preset):", ""]
    for row in option_table().values():
        scope = "" if row.scope == "all" else f"; only with {row.scope}"
        lines.append(f"        {row.name} ({row.kind}, {row.values}; default {row.default!r}{scope}): {row.help}.")
        if row.name != "loss":
            params.append(inspect.Parameter(row.name, keyword, default=None, annotation=Optional[PYTHON_TYPES[row.kind]]))
    lines += ["", "    Shorthands:", ""]
    for name, (targets, text) in OPTION_SHORTHANDS.items():
        lines.append(f"        {name}: {text}: sets {', '.join(targets)}.")
        params.append(inspect.Parameter(name, keyword, default=None, annotation=Optional[Tuple[float, ...]]))
    params.append(inspect.Parameter("threads", keyword, default=None, annotation=Optional[int]))
    params.append(inspect.Parameter("strict", keyword, default=False, annotation=bool))
    cls.__init__.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    cls.__doc__ = (cls.__doc__ or "").rstrip() + "\n" + "\n".join(lines) + "\n"
