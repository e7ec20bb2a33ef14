"""The estimator in use: find and load the shipped network, and estimate the parameter of uint8
images, per pixel (a map) and per image (the map's spatial mean, in natural units)."""
import threading
from pathlib import Path

import numpy as np

from degraded_cnn import data, paths
from degraded_cnn.models.inference import infer, load_model
from degraded_cnn.vocabulary.degradations import (GRAY_AS_RGB, denormalize, parameter_count,
                                                  parameter_range)

# Pixels per inference batch. Seven full-resolution 64-feature maps per image: at 2^18 pixels
# (512 CIFAR images) a layer's activations pass 130 MB and inference runs at half the speed it
# has from 2^14 to 2^18 pixels on a 2-core CPU (bench.py, estimator inference rows).
INFERENCE_PIXELS = 2 ** 17
PREDICT_LOCK = threading.Lock()


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
