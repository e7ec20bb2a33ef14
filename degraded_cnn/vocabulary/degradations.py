"""The degradations and their parameters, defined once: JPEG and Gaussian noise (the paper's),
Gaussian blur, and `mixed` (beyond the paper: Gaussian noise, then JPEG, as a camera adds noise
at capture and compression at save). A degradation knows its range, unit and labels; its
parameter is one number per image, or for mixed a (sigma, q) pair, an array (N, 2) in the order
of MIXED_PARTS. Every function below that takes a degradation's name takes "mixed" too.

The parameter travels in natural units (q in 1..100, sigma in 8-bit levels); `normalize` maps it
to the networks' [0, 1] units and `denormalize` back: the one place where that happens.
"""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Degradation:
    name: str
    low: float
    high: float
    integer: bool
    meaning: str
    unit: str    # the parameter's symbol in tables ("q intervals")
    label: str   # its name in a sentence or beside a number ("estimated QF 34.3")
    axis: str    # its name on a figure's axis
    clean: float | None  # the value that leaves an image as it is; None: none does (JPEG)
    parts: tuple = ()    # mixed's degradations, in the order of its parameter's columns


# The one place where the parameter ranges are defined.
JPEG = Degradation("jpeg", 1, 100, True, "JPEG quality factor q", "q", "QF",
                   "JPEG quality factor q", None)
NOISE = Degradation("noise", 0.0, 50.0, False, "Gaussian noise sigma in 8-bit levels", "sigma",
                    "noise sigma", "noise sigma", 0.0)
BLUR = Degradation("blur", 0.0, 4.0, False, "Gaussian blur sigma in pixels", "sigma",
                   "blur sigma", "Gaussian blur sigma in pixels", 0.0)
# A chain (degrade.py --degradation chain) applies its stages in the order a camera pipeline
# would: optics, sensor, codec.
CHAIN_ORDER = ("blur", "noise", "jpeg")
MIXED_PARTS = ("noise", "jpeg")
_SINGLE = {d.name: d for d in (JPEG, NOISE, BLUR)}
MIXED = Degradation("mixed", tuple(_SINGLE[p].low for p in MIXED_PARTS),
                    tuple(_SINGLE[p].high for p in MIXED_PARTS), False,
                    "Gaussian noise sigma, then JPEG quality factor q", "(sigma, q)",
                    "noise sigma and QF", "noise sigma, then JPEG quality q", None, MIXED_PARTS)
DEGRADATIONS = {**_SINGLE, MIXED.name: MIXED}
# Degradations whose RGB estimator reads a grayscale image, its channel repeated three times, as
# well as a colour one (RESULTS.md, grayscale: JPEG within 0.5 of the colour bias and SD). Not
# noise: the same noise in three channels reads as about a quarter of its sigma (3.2 at 10), so
# grayscale noise needs its own estimator (--channels 1, estimator_noise_gray.keras).
GRAY_AS_RGB = ("jpeg",)
# The mixed degradation's two-dimensional sweep: every pair of these values.
MIXED_SWEEP = {"noise": (0, 10, 20, 30, 40, 50), "jpeg": (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)}


def check_params(name, params, count):
    """Return `params` as a float64 array of length `count` ((count, 2) for mixed), or raise
    ValueError naming the offending value and the allowed range. A scalar (a pair for mixed)
    applies to every image."""
    degradation = get_degradation(name)
    if degradation.parts:
        return check_mixed(degradation, params, count)
    values = np.asarray(params, dtype=np.float64) if np.ndim(params) else np.full(count, params,
                                                                                  dtype=np.float64)
    if values.ndim != 1 or len(values) != count:
        raise ValueError(f"{name}: expected one parameter per image ({count}), got shape "
                         f"{np.shape(params)}")
    allowed = f"{degradation.low:g}..{degradation.high:g}"
    outside = ~np.isfinite(values) | (values < degradation.low) | (values > degradation.high)
    if outside.any():
        raise ValueError(f"{name}: parameter {values[outside][0]:g} is out of range; the "
                         f"{degradation.meaning} must lie in {allowed}")
    fractional = values != np.round(values)
    if degradation.integer and fractional.any():
        raise ValueError(f"{name}: parameter {values[fractional][0]:g} is not an integer; the "
                         f"{degradation.meaning} must be an integer in {allowed}")
    return values


def check_mixed(degradation, params, count):
    values = np.asarray(params, dtype=np.float64)
    width = len(degradation.parts)
    if values.shape == (width,):
        values = np.tile(values, (count, 1))
    if values.shape != (count, width):
        raise ValueError(f"{degradation.name}: expected a ({', '.join(degradation.parts)}) pair "
                         f"per image ({count}), got shape {np.shape(params)}")
    return np.stack([check_params(part, values[:, i], count)
                     for i, part in enumerate(degradation.parts)], axis=1)


def parts(name):
    """The single degradations that `name` applies: (name,) or mixed's parts."""
    return get_degradation(name).parts or (name,)


def units(name):
    """The names of a parameter's numbers in tables and result rows: ("q",), ("sigma",), or
    ("sigma", "q") for mixed."""
    return tuple(get_degradation(part).unit for part in parts(name))


def parameter_count(name):
    """Numbers per image in a parameter of `name`: 1, or 2 for mixed."""
    return len(parts(name))


def get_degradation(name):
    if name not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {name!r}; choose from {', '.join(DEGRADATIONS)}")
    return DEGRADATIONS[name]


# ---------------------------------------------------------------------------------------------
# Parameters: random draws and the scaling used by the networks
# ---------------------------------------------------------------------------------------------
def random_params(name, count, rng):
    """Draw `count` parameters uniformly over the degradation's range (integers for JPEG); a
    mixed's parts each on their own."""
    degradation = get_degradation(name)
    rng = np.random.default_rng(rng)
    if degradation.parts:
        return np.stack([random_params(part, count, rng) for part in degradation.parts], axis=1)
    if degradation.integer:
        return rng.integers(int(degradation.low), int(degradation.high) + 1, count).astype(
            np.float64)
    return rng.uniform(degradation.low, degradation.high, count)


def all_params(name, step=None):
    """Every value of a sweep: each integer of the range (q = 1..100, sigma = 0..50), or `step`;
    for mixed, every pair of MIXED_SWEEP (sigma slowest), shaped (values, 2)."""
    degradation = get_degradation(name)
    if degradation.parts:
        grid = np.meshgrid(*[np.asarray(MIXED_SWEEP[part], np.float64)
                             for part in degradation.parts], indexing="ij")
        return np.stack([axis.ravel() for axis in grid], axis=1)
    step = step or 1
    return np.arange(degradation.low, degradation.high + step / 2, step, dtype=np.float64)


def normalize(name, params):
    """Map parameters to [0, 1]: the networks' target and input units. Undone by `denormalize`."""
    low, high = parameter_range(name)
    return (np.asarray(params, np.float64) - low) / (high - low)


def denormalize(name, values):
    low, high = parameter_range(name)
    return np.asarray(values, np.float64) * (high - low) + low


def parameter_range(name):
    """(low, high) of the degradation's parameter: numbers, or arrays by part for mixed."""
    degradation = get_degradation(name)
    return np.asarray(degradation.low, np.float64), np.asarray(degradation.high, np.float64)


def value_text(name, value, number="g", joiner=", "):
    """One parameter value as tables and progress lines write it: "25", or "sigma 10, q 30"
    for mixed; each number in the format `number`, a pair's parts joined by `joiner`."""
    if not get_degradation(name).parts:
        return f"{float(value):{number}}"
    return joiner.join(f"{get_degradation(part).unit} {float(v):{number}}"
                       for part, v in zip(parts(name), value))
