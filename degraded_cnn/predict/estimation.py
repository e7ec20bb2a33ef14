"""The estimator in use: find and load the shipped network, and estimate the parameter of uint8
images, per pixel (a map) and per image (the map's spatial mean, in natural units)."""
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from degraded_cnn import data, paths
from degraded_cnn.models.estimator import receptive_field
from degraded_cnn.models.inference import infer, load_model
from degraded_cnn.vocabulary.degradations import (GRAY_AS_RGB, denormalize, parameter_count,
                                                  parameter_range)

# Pixels per inference batch. Seven full-resolution 64-feature maps per image: at 2^18 pixels
# (512 CIFAR images) a layer's activations pass 130 MB and inference runs at half the speed it
# has from 2^14 to 2^18 pixels on a 2-core CPU (bench.py, estimator inference rows).
INFERENCE_PIXELS = 2 ** 17
PREDICT_LOCK = threading.Lock()
# A photo's map is estimated tile by tile: TILE x TILE pixels of map from each tile, which the
# network sees with a margin of its receptive field's radius around it, so that the stitched
# map equals the whole image's (up to float rounding) and memory stays that of one tile,
# whatever the photo's size (tools/bench_photos.py).
TILE = 512
MARGIN = receptive_field() // 2


def find_estimator(degradation, weights_dir=paths.WEIGHTS_DIR, channels=3):
    """The file of the estimator for `channels`-channel images, in `weights_dir` or else in the
    folder above it (the seed folders of a seed study, <weights>/seed<k>/, share the estimator
    of <weights>/). Grayscale images with no grayscale estimator go to the RGB one as three
    equal channels where that reads them as well as colour (GRAY_AS_RGB)."""
    folders = [Path(weights_dir), Path(weights_dir).resolve().parent]
    kinds = [channels] + ([3] if channels == 1 and degradation in GRAY_AS_RGB else [])
    for kind in kinds:
        for folder in folders:
            if paths.estimator_path(degradation, folder, kind).is_file():
                return paths.estimator_path(degradation, folder, kind)
    path = paths.estimator_path(degradation, weights_dir, kinds[-1])
    hint = f" --channels {kinds[-1]}" if kinds[-1] != 3 else ""
    raise data.DataError(f"no estimator weights at {path}: train them with "
                         f"`python estimator.py --degradation {degradation}{hint}`")


def load_estimator(degradation, weights_dir=paths.WEIGHTS_DIR, channels=3):
    path = find_estimator(degradation, weights_dir, channels)
    model = load_model(path)
    if model_outputs(model) != parameter_count(degradation):
        raise data.DataError(f"{path} estimates {model_outputs(model)} parameter(s) per pixel, "
                             f"but {degradation} has {parameter_count(degradation)}")
    return model


def model_outputs(model):
    return model.outputs[0].shape[-1]


def model_channels(model):
    return model.inputs[0].shape[-1]


def check_channels(model, images, what="images"):
    channels = model_channels(model)
    if images.shape[-1] != channels and (images.shape[-1], channels) != (1, 3):
        raise data.DataError(f"{what} have {images.shape[-1]} channel(s) but the estimator was "
                             f"trained on {channels}")


def fit_channels(model, images, what="images"):
    """`images` as the estimator takes them. A grayscale image goes to an RGB estimator with its
    channel repeated three times, as a colour camera records a grey scene; the shipped RGB
    estimators read such images as well as colour ones (RESULTS.md, grayscale)."""
    check_channels(model, images, what)
    return np.repeat(images, 3, axis=-1) if images.shape[-1] != model_channels(model) else images


def inference_batch(images):
    """Images per predict batch: as many as fit INFERENCE_PIXELS, at least one."""
    return max(1, INFERENCE_PIXELS // (images.shape[1] * images.shape[2]))


def estimate_maps(model, images):
    """Per-pixel parameter maps (N, H, W) of uint8 images, in the [0, 1] units of
    vocabulary.degradations.normalize ((N, H, W, 2) for a mixed estimator). Safe to call from
    several threads (the classifier's batch-loading threads do)."""
    images = fit_channels(model, images).astype(np.float32)
    step = inference_batch(images)
    # infer, not predict: predict sets up a data pipeline and callbacks on every call,
    # which for the 64 images of a training batch cost about as much as estimating them
    # (RESULTS.md). Keras' JAX backend takes the model's variables out while it predicts, so a
    # second thread's call on the same model would find none: one call at a time.
    with PREDICT_LOCK:
        maps = infer(model, images, step)
    if not len(maps):
        maps = np.zeros((*images.shape[:3], model_outputs(model)), np.float32)
    return maps[..., 0] if maps.shape[-1] == 1 else maps


def estimate(model, images, degradation):
    """One estimate per image: the spatial mean of its map, in natural units (q, sigma; a
    (sigma, q) row for mixed), clipped to the degradation's range. The batched function that
    classifier.py and evaluate.py call."""
    return to_natural(degradation, estimate_maps(model, images).mean(axis=(1, 2)))


@dataclass
class PhotoEstimate:
    value: object          # the estimate in natural units: q or sigma, or a (sigma, q) pair
    normalized_map: object  # the per-pixel map in [0, 1] units (H, W[, 2]), or None
    share: float           # the share of the photo's pixels that the estimate read


def tile_cores(height, width, tile=TILE):
    """The (top, bottom, left, right) of every tile's core, row by row."""
    return [(top, min(top + tile, height), left, min(left + tile, width))
            for top in range(0, height, tile) for left in range(0, width, tile)]


def even_sample(cores, pixels, max_pixels):
    """An even sample of `cores` (every k-th, spread over the photo) that reads about
    `max_pixels` of the photo's `pixels`; all of them where that is more."""
    if not max_pixels or pixels <= max_pixels:
        return cores
    count = min(len(cores), max(1, math.ceil(len(cores) * max_pixels / pixels)))
    return [cores[index] for index in np.unique(np.linspace(0, len(cores) - 1, count).round()
                                                .astype(int))]


def estimate_photo(model, image, degradation, keep_map=False, max_pixels=None, tile=TILE):
    """The PhotoEstimate of one uint8 image (H, W, C) of any size, in memory bounded by `tile`;
    `max_pixels`: read an even sample of tiles of about that many pixels, not all of them;
    `keep_map`: keep the stitched map (of the tiles read; NaN elsewhere)."""
    height, width = image.shape[:2]
    cores = even_sample(tile_cores(height, width, tile), height * width, max_pixels)
    outputs = model_outputs(model)
    total, count = np.zeros(outputs), 0
    stitched = np.full((height, width, outputs), np.nan, np.float32) if keep_map else None
    for top, bottom, left, right in cores:
        above, below = max(0, top - MARGIN), min(height, bottom + MARGIN)
        before, after = max(0, left - MARGIN), min(width, right + MARGIN)
        part = estimate_maps(model, image[None, above:below, before:after])[0]
        part = part.reshape(*part.shape[:2], outputs)[top - above:bottom - above,
                                                      left - before:right - before]
        total += part.sum(axis=(0, 1), dtype=np.float64)
        count += part.shape[0] * part.shape[1]
        if stitched is not None:
            stitched[top:bottom, left:right] = part
    mean = total / count
    value = to_natural(degradation, mean if outputs > 1 else mean[0])
    normalized_map = None if stitched is None else \
        (stitched[..., 0] if outputs == 1 else stitched)
    return PhotoEstimate(value, normalized_map, count / (height * width))


def to_natural(degradation, normalized):
    return np.clip(denormalize(degradation, normalized),
                   *parameter_range(degradation))


def colour_noise_warning(path, degradation, channels):
    """A one-line caveat for a noise estimate of this file, or None. The colour noise estimator
    reads noise largely from the colour channels' disagreement, which a JPEG with subsampled
    colour has averaged away (measured in RESULTS.md)."""
    if degradation == "noise" and channels == 3 and data.subsampled_colour(path):
        return (f"warning: {path} is a JPEG with subsampled colour, which removes most of the "
                "colour noise that the noise estimator reads, so its sigma reads too low (the "
                "shipped estimator reads about 10 for sigma 50 saved at q 100)")
    return None
