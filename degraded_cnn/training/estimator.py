"""Training the estimator: patches of clean images (training/patches.py), the network of
models/estimator.py, resumable through training/loop.py."""
from pathlib import Path

import keras
import numpy as np

from degraded_cnn import data, paths
from degraded_cnn.models.estimator import LOSSES, build_estimator
from degraded_cnn.models.inference import load_model
from degraded_cnn.training import loop
from degraded_cnn.training.patches import PatchBatches, degraded_patches, split_sources
from degraded_cnn.vocabulary.degradations import parameter_count

# The flags that a resumed run must share with the run it continues (see training/loop.py).
RUN_SETTINGS = ("channels", "features", "init", "init_from", "loss", "patch_size", "batch_size",
                "steps_per_epoch", "learning_rate", "lr_decay", "clipnorm", "val_fraction", "seed")
# Validation patches come from images held out of training, drawn once with their own seed.
VALIDATION_PATCHES = 512


def start_from(model, path):
    """Start a new run from a trained estimator's weights (a longer or differently scheduled run,
    or another domain), with a fresh optimizer and the new run's own schedule."""
    if not Path(path).is_file():
        raise data.DataError(f"--init-from: no estimator at {path}")
    trained = load_model(path)
    shapes = [tuple(w.shape) for w in model.weights]
    if [tuple(w.shape) for w in trained.weights] != shapes:
        raise data.DataError(f"--init-from: {path} has another architecture (--channels, "
                             f"--features) than this run")
    model.set_weights(trained.get_weights())
    print(f"starting from the weights of {path}")


def training_images(train_dirs, dataset, channels, limit=None):
    """Clean images by source: one list per folder of `train_dirs`, or else the training images
    of `dataset` as one list (the first `limit`)."""
    if train_dirs:
        return [data.load_clean_images(folder, channels) for folder in train_dirs]
    images = data.load_dataset(dataset).x_train
    if images.shape[-1] != channels:
        images = np.repeat(images, channels, -1) if channels == 3 else \
            images.mean(-1, keepdims=True).round().astype(np.uint8)
    return [list(images[:limit] if limit else images)]


def train(*, degradation, features, patch_size, batch_size, steps_per_epoch, epochs,
          learning_rate, lr_decay, loss, weights_dir=paths.WEIGHTS_DIR, train_dirs=None,
          dataset="cifar10", limit=None, channels=3, init="high-pass", init_from=None,
          clipnorm=1.0, val_fraction=0.1, val_patches=VALIDATION_PATCHES, workers=1, jit=False,
          seed=0, fresh=False):
    """Train (or resume) the estimator of `degradation` into `weights_dir`. The arguments are
    estimator.py's flags of the same names; an EstimatorRun (vocabulary/recipes.py) gives
    those without a default (the paper's: EstimatorRun())."""
    settings = {key: value for key, value in locals().items() if key in RUN_SETTINGS}
    keras.utils.set_random_seed(seed)
    sources = training_images(train_dirs, dataset, channels, limit)
    size = data.patch_size_for([image for images in sources for image in images], patch_size)
    if size < patch_size:
        print(f"images are small: using {size}x{size} patches")
    train_images, val_images = split_sources(sources, val_fraction, seed, train_dirs)
    print(f"{len(train_images)} training and {len(val_images)} validation images, "
          f"{size}x{size} patches, degradation {degradation}")
    batches = PatchBatches(train_images, degradation, size, batch_size, steps_per_epoch, seed,
                           workers=workers)
    validation = degraded_patches(val_images, degradation, val_patches, size,
                                  np.random.default_rng((seed, 1)))
    model = build_estimator(channels, features, high_pass=init == "high-pass",
                            outputs=parameter_count(degradation))
    output = paths.estimator_path(degradation, weights_dir, channels)
    # A resumed run's weights come from its backup.
    if init_from and not loop.epochs_done(output, fresh):
        start_from(model, init_from)
    rate = loop.learning_rate(learning_rate, lr_decay, epochs * steps_per_epoch)
    # With the image loss, the per-pixel MSE is logged too, to compare with pixel-loss runs.
    model.compile(optimizer=keras.optimizers.Adamax(rate, clipnorm=clipnorm),
                  loss=LOSSES[loss], metrics=["mse"] if loss == "image" else None,
                  jit_compile=jit)
    loop.fit_resumable(model, batches, validation, output, epochs, fresh=fresh,
                       settings=settings)
    print(f"best model: {output}")
