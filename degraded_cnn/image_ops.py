"""The degradations as operations on images: PIL's JPEG, Gaussian noise, Gaussian blur, and a
chain of them.

Every function takes a batch of uint8 images shaped (N, H, W, C), C = 1 or 3, with one parameter
per image (or one for all), and returns uint8 images of the same shape. Random draws come only
from a seed or a numpy Generator passed in, so every result can be repeated.
"""
import atexit
import io
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from PIL import Image

from degraded_cnn.vocabulary.degradations import CHAIN_ORDER, check_params, get_degradation

# Below this many images a process pool costs more than it saves.
MIN_IMAGES_FOR_POOL = 256


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
        return chain(images, {part: values[:, i] for i, part in enumerate(degradation.parts)},
                     rng, workers)
    if name == "jpeg":
        return jpeg(images, params, workers)
    if name == "noise":
        return noise(images, params, rng)
    return blur(images, params)


def chain(images, params, rng=None, workers=None):
    """Apply several degradations in CHAIN_ORDER; `params` maps a name to its parameters."""
    unknown = set(params) - set(CHAIN_ORDER)
    if unknown:
        raise ValueError(f"unknown degradation(s) in a chain: {', '.join(sorted(unknown))}; "
                         f"choose from {', '.join(CHAIN_ORDER)}")
    rng = np.random.default_rng(rng)
    for name in CHAIN_ORDER:
        if name in params:
            images = degrade(images, name, params[name], rng, workers)
    return images
