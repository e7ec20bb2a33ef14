"""Image degradations: JPEG and Gaussian noise (the paper's), Gaussian blur and mixtures
(beyond it).

Every function takes a batch of uint8 images shaped (N, H, W, C), C = 1 or 3, with one parameter
per image (or one for all), and returns uint8 images of the same shape. Random draws come only from
a seed or a numpy Generator passed in, so every result can be repeated.

`mixed` is the one mixture that has estimators and classifiers: Gaussian noise, then JPEG (noise
at capture, compression at save), each parameter drawn on its own. Its parameter is a pair per
image, (sigma, q), an array (N, 2) in the order of MIXED_PARTS; every function below that takes a
degradation's name takes "mixed" too.

    python degrade.py in.png out.png --degradation jpeg --param 10
    python degrade.py flat.png out.png --degradation noise --param 25 --seed 1
    python degrade.py --dataset cifar10 --degradation noise --param 25 --out cifar10-noise25.npz
    python degrade.py --dataset x.npz --degradation jpeg --param random --out x-jpeg.npz
    python degrade.py in.png out.png --degradation mixed --param noise=10,jpeg=30
    python degrade.py in.png out.png --degradation mixture --param blur=1,noise=5,jpeg=30
"""
import argparse
import atexit
import io
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image


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
    parts: tuple = ()    # a mixture's degradations, in the order of its parameter's columns


# The one place where the parameter ranges are defined.
JPEG = Degradation("jpeg", 1, 100, True, "JPEG quality factor q", "q", "QF",
                   "JPEG quality factor q", None)
NOISE = Degradation("noise", 0.0, 50.0, False, "Gaussian noise sigma in 8-bit levels", "sigma",
                    "noise sigma", "noise sigma", 0.0)
BLUR = Degradation("blur", 0.0, 4.0, False, "Gaussian blur sigma in pixels", "sigma",
                   "blur sigma", "Gaussian blur sigma in pixels", 0.0)
# A mixture applies its stages in the order a camera pipeline would: optics, sensor, codec.
MIXTURE_ORDER = ("blur", "noise", "jpeg")
MIXED_PARTS = ("noise", "jpeg")
_SINGLE = {d.name: d for d in (JPEG, NOISE, BLUR)}
MIXED = Degradation("mixed", tuple(_SINGLE[p].low for p in MIXED_PARTS),
                    tuple(_SINGLE[p].high for p in MIXED_PARTS), False,
                    "Gaussian noise sigma, then JPEG quality factor q", "(sigma, q)",
                    "noise sigma and QF", "noise sigma, then JPEG quality q", None, MIXED_PARTS)
DEGRADATIONS = {**_SINGLE, MIXED.name: MIXED}
# The mixed degradation's two-dimensional sweep: every pair of these values.
MIXED_SWEEP = {"noise": (0, 10, 20, 30, 40, 50), "jpeg": (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)}

# Below this many images a process pool costs more than it saves.
MIN_IMAGES_FOR_POOL = 256


# ---------------------------------------------------------------------------------------------
# Checking inputs
# ---------------------------------------------------------------------------------------------
def check_images(images):
    """Raise ValueError unless `images` is a uint8 array shaped (N, H, W, 1 or 3)."""
    if not isinstance(images, np.ndarray):
        raise ValueError(f"images must be a numpy array, got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (0..255), got dtype {images.dtype}")
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"images must be shaped (N, H, W, C) with C = 1 or 3, got shape {images.shape}")
    return images


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
    """The single degradations that `name` applies: (name,) or a mixture's parts."""
    return get_degradation(name).parts or (name,)


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
    mixture's parts each on their own."""
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


# ---------------------------------------------------------------------------------------------
# The degradations
# ---------------------------------------------------------------------------------------------
def save_jpeg(image, quality, target):
    """PIL's JPEG encoding of one (H, W, C) uint8 image at integer quality 1..100, into a path
    or a file object."""
    mode = "L" if image.shape[-1] == 1 else "RGB"
    Image.fromarray(image.reshape(image.shape[:2]) if mode == "L" else image, mode).save(
        target, "JPEG", quality=int(quality))


def jpeg_round_trip(image, quality):
    """PIL's JPEG encode + decode of one (H, W, C) uint8 image at integer quality 1..100."""
    buffer = io.BytesIO()
    save_jpeg(image, quality, buffer)
    buffer.seek(0)
    decoded = np.asarray(Image.open(buffer).convert("L" if image.shape[-1] == 1 else "RGB"))
    return decoded.reshape(image.shape)


def _jpeg_chunk(images, qualities):
    return np.stack([jpeg_round_trip(image, q) for image, q in zip(images, qualities)])


_POOL = None


def _pool():
    """One process pool for the life of the program: PIL's JPEG coding holds the GIL for much
    of a small image's round trip, so threads do not scale and processes do."""
    global _POOL
    if _POOL is None:
        # Not fork: by the time a sweep needs the pool, the Keras backend (JAX above all) runs
        # threads, and a child forked from a threaded process can deadlock on a lock that one of
        # them held. A forkserver child starts clean; it pays a second or two once per program.
        methods = multiprocessing.get_all_start_methods()
        method = "forkserver" if "forkserver" in methods else "spawn"
        # Those workers import the main module; a program read from standard input has none
        # to import, and only fork can serve it.
        main_file = getattr(sys.modules["__main__"], "__file__", None)
        if main_file and not os.path.exists(main_file) and "fork" in methods:
            method = "fork"
        context = multiprocessing.get_context(method)
        _POOL = ProcessPoolExecutor(cpu_count(), mp_context=context)
        atexit.register(_POOL.shutdown)
    return _POOL


def cpu_count():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def jpeg(images, quality, workers=None):
    """JPEG round trip of every image at its own quality. `workers`: None uses every core for
    large batches, 1 forces a single process (e.g. inside a data-loading worker)."""
    check_images(images)
    quality = check_params("jpeg", quality, len(images))
    workers = workers or (cpu_count() if len(images) >= MIN_IMAGES_FOR_POOL else 1)
    if workers == 1 or len(images) < 2:
        return _jpeg_chunk(images, quality) if len(images) else images.copy()
    chunks = np.array_split(np.arange(len(images)), workers * 4)
    results = _pool().map(_jpeg_chunk, [images[c] for c in chunks if len(c)],
                          [quality[c] for c in chunks if len(c)])
    return np.concatenate(list(results))


def noise(images, sigma, rng=None):
    """Add Gaussian noise of standard deviation `sigma` (8-bit levels), round and clip."""
    check_images(images)
    sigma = check_params("noise", sigma, len(images))
    rng = np.random.default_rng(rng)
    noisy = images + rng.standard_normal(images.shape, dtype=np.float32) * sigma.astype(
        np.float32)[:, None, None, None]
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def gaussian_kernel(sigma):
    radius = max(1, int(np.ceil(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return taps / taps.sum()


def _blur_one(image, sigma):
    kernel = gaussian_kernel(sigma)
    radius = len(kernel) // 2
    out = image.astype(np.float32)
    for axis in (0, 1):  # separable: rows then columns, mirrored at the borders
        pad = [(0, 0)] * 3
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect")
        windows = np.lib.stride_tricks.sliding_window_view(padded, len(kernel), axis=axis)
        out = windows @ kernel.astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def blur(images, sigma):
    """Gaussian blur of standard deviation `sigma` pixels (0 leaves the image unchanged)."""
    check_images(images)
    sigma = check_params("blur", sigma, len(images))
    return np.stack([image.copy() if s == 0 else _blur_one(image, s)
                     for image, s in zip(images, sigma)]) if len(images) else images.copy()


def degrade(images, name, params, rng=None, workers=None):
    """Apply the degradation `name` with one parameter per image (or one for all)."""
    degradation = get_degradation(name)
    if degradation.parts:
        values = check_params(name, params, len(images))
        return mixture(images, {part: values[:, i] for i, part in enumerate(degradation.parts)},
                       rng, workers)
    if name == "jpeg":
        return jpeg(images, params, workers)
    if name == "noise":
        return noise(images, params, rng)
    return blur(images, params)


def mixture(images, params, rng=None, workers=None):
    """Apply several degradations in MIXTURE_ORDER; `params` maps a name to its parameters."""
    unknown = set(params) - set(MIXTURE_ORDER)
    if unknown:
        raise ValueError(f"unknown degradation(s) in mixture: {', '.join(sorted(unknown))}; "
                         f"choose from {', '.join(MIXTURE_ORDER)}")
    rng = np.random.default_rng(rng)
    for name in MIXTURE_ORDER:
        if name in params:
            images = degrade(images, name, params[name], rng, workers)
    return images


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def parse_param(degradation, text, count, rng):
    """--param: a number, 'random' (one draw per image), or name=value,... for a mixture."""
    if degradation == "mixed" and text != "random":
        given = parse_param("mixture", text, count, rng)
        if set(given) != set(MIXED_PARTS):
            raise ValueError(f"mixed takes {'=..,'.join(MIXED_PARTS)}=.., got {text!r}")
        return check_params("mixed", np.stack([given[p] for p in MIXED_PARTS], axis=1), count)
    if degradation == "mixture":
        params = {}
        for item in text.split(","):
            name, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"mixture parameters look like blur=1,noise=10,jpeg=50; "
                                 f"got {text!r}")
            params[name.strip()] = parse_param(name.strip(), value, count, rng)
        return params
    if text == "random":
        return random_params(degradation, count, rng)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{degradation}: parameter {text!r} is not a number") from None
    return check_params(degradation, value, count)


def stages(degradation, params):
    """The parameters of one command-line degradation as a mixture's: {stage: parameters}."""
    if degradation == "mixture":
        return params
    return dict(zip(parts(degradation), params.T if params.ndim == 2 else params[None]))


def degrade_dataset(args, rng):
    import data
    dataset = data.load_dataset(args.dataset)
    arrays = {"y_train": dataset.y_train, "y_test": dataset.y_test,
              "class_names": np.asarray(dataset.class_names)}
    for split in ("train", "test"):
        images = getattr(dataset, f"x_{split}")
        params = stages(args.degradation,
                        parse_param(args.degradation, args.param, len(images), rng))
        arrays[f"x_{split}"] = mixture(images, params, rng)
        for name, values in params.items():
            arrays[f"param_{name}_{split}"] = values
        print(f"{split}: {len(images)} images degraded")
    data.save_npz(args.out, **arrays)
    print(f"wrote {args.out}")


def degrade_image(args, rng):
    import data
    image = data.read_image(args.input)[None]
    params = stages(args.degradation, parse_param(args.degradation, args.param, 1, rng))
    if "jpeg" in params and data.image_format(args.output) == "JPEG":
        # JPEG is the last stage: the file is the codec's own output. Decoding it and saving
        # the pixels as JPEG again would compress them twice, at PIL's default quality.
        before = mixture(image, {k: v for k, v in params.items() if k != "jpeg"}, rng)
        with data.atomic_output(args.output) as temporary:
            save_jpeg(before[0], params["jpeg"][0], temporary)
    else:
        data.write_image(args.output, mixture(image, params, rng)[0], exact=True)


def build_parser():
    parser = argparse.ArgumentParser(
        description="Degrade an image or a whole dataset with JPEG, Gaussian noise, Gaussian "
                    "blur or a mixture of them (applied in the order blur, noise, jpeg; mixed: "
                    "noise, then JPEG, the mixture that has estimators and classifiers).")
    parser.add_argument("input", nargs="?", help="input image (PNG, BMP, TIFF, JPEG)")
    parser.add_argument("output", nargs="?", help="output image: a lossless format (PNG), or "
                        "JPEG when JPEG is the last stage (the codec's own file, compressed once)")
    parser.add_argument("--dataset", help="instead of one image: cifar10, cifar100, mnist, "
                        "fashion_mnist, an .npz (x_train y_train x_test y_test) or a folder "
                        "with train/ and test/ class subfolders")
    parser.add_argument("--out", help="output .npz for --dataset (labels kept, parameters "
                        "saved as param_<name>_train/test)")
    parser.add_argument("--degradation", required=True, choices=[*DEGRADATIONS, "mixture"])
    parser.add_argument("--param", required=True,
                        help="jpeg: quality 1..100; noise: sigma 0..50; blur: sigma 0..4; "
                             "'random' draws one per image; mixed (noise, then JPEG): e.g. "
                             "noise=10,jpeg=30; mixture: e.g. blur=1,noise=5,jpeg=30")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise and random "
                        "parameters (default 0)")
    return parser


def main(argv=None):
    import data
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.dataset:
        if args.input or not args.out:
            parser.error("--dataset takes --out and no positional images")
        task = degrade_dataset
    else:
        if not (args.input and args.output):
            parser.error("give an input and an output image, or --dataset with --out")
        task = degrade_image
    return data.run_cli(parser.prog, lambda: task(args, np.random.default_rng(args.seed)))


if __name__ == "__main__":
    raise SystemExit(main())
