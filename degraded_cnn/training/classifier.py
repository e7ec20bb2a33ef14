"""Training the classifier in one of the paper's modes: the data of training/batches.py, the
network of models/classifier.py, resumable through training/loop.py."""
from pathlib import Path

import keras
import numpy as np

from degraded_cnn import data, paths
from degraded_cnn.models.classifier import (build_classifier, check_images, inference_network,
                                            shape_text)
from degraded_cnn.models.inference import load_model
from degraded_cnn.predict.estimation import check_channels, load_estimator
from degraded_cnn.training import loop
from degraded_cnn.training.batches import (Augmentation, TrainingBatches, degraded_inputs,
                                           split_validation)
from degraded_cnn.vocabulary.modes import get_mode, level_count, parameter_count

TRAIN_DATASET = "cifar10"      # --dataset when training without one
# The flags that a resumed run must share with the run it continues (see training/loop.py).
RUN_SETTINGS = ("width", "dropout", "spatial_dropout", "batch_size", "learning_rate", "lr_decay",
                "warmup_epochs", "limit", "val_fraction", "reuse", "seed", "parameter_join")
# The held-out images and their degradation are the same for every --seed: seeds then differ
# only in what training draws (initial weights, batch order, augmentation, degradation), and
# every seed chooses its epoch on the same validation images.
VALIDATION_SEED = 0
VALIDATION_FRACTION = 0.1


def train(*, mode, dataset=TRAIN_DATASET, weights_dir=paths.WEIGHTS_DIR, estimator_dir=None,
          width, parameter_join="dense", dropout, spatial_dropout, epochs, batch_size,
          learning_rate, lr_decay="cosine", warmup_epochs=0.0, limit=None,
          val_fraction=VALIDATION_FRACTION, workers=2, reuse=1, jit=False, distribute=False,
          seed=0, fresh=False, augmentation=Augmentation(), level_weight=1.0):
    """Train (or resume) the network of `mode` on `dataset` into `weights_dir`; the arguments
    are classifier.py's flags of the same names (a recipe of vocabulary/recipes.py gives the
    network's and the schedule's)."""
    spec = get_mode(mode)
    # The level's weight is a flag of the aux_* runs alone (older runs' settings lack it).
    settings = {key: value for key, value in locals().items()
                if key in RUN_SETTINGS or (key == "level_weight" and spec.target)}
    devices = distribute_batches(batch_size) if distribute else 1
    dataset = data.load_dataset(dataset)
    estimator_model = load_estimator(spec.degradation, estimator_dir or weights_dir,
                                     dataset.image_shape[-1]) if spec.needs_estimator else None
    output = paths.classifier_path(dataset.name, mode, weights_dir)
    # Seeded after loading the estimator, whose layers draw from the same generator: so every
    # mode starts from the same convolution weights, and twins differ in the parameter only.
    keras.utils.set_random_seed(seed)
    model = build_classifier(dataset.image_shape, len(dataset.class_names), width,
                             spec.has_parameter, dropout, spatial_dropout, parameter_join,
                             parameter_count(mode), level_count(mode), level_weight)
    if not fresh:
        check_resumable(output, dataset, model)
    images, labels = dataset.x_train, dataset.y_train
    if limit:
        images, labels = images[:limit], labels[:limit]
    if estimator_model is not None:
        check_channels(estimator_model, images, f"{dataset.name} images")
    batches, validation = training_data(
        images, labels, dataset, mode, estimator_model, output, val_fraction=val_fraction,
        batch_size=batch_size, augmentation=augmentation, seed=seed, reuse=reuse,
        workers=workers, fresh=fresh, devices=devices)
    model.compile(optimizer=keras.optimizers.Adamax(loop.learning_rate(
                      learning_rate, lr_decay, epochs * len(batches),
                      round(warmup_epochs * len(batches)))),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=jit)
    write_class_names(paths.class_names_path(dataset.name, weights_dir), dataset.class_names)
    loop.fit_resumable(model, batches, validation, output, epochs, monitor="val_accuracy",
                       mode="max", fresh=fresh, settings=settings,
                       callbacks=[loop.DeadRunWarning(len(dataset.class_names))])
    print(f"best model: {output}")


def distribute_batches(batch_size):
    """Data parallelism over every device that Keras sees (keras.distribution, JAX backend):
    the weights are replicated and each batch is split evenly across the devices."""
    if keras.backend.backend() != "jax":
        raise data.DataError("--distribute needs the JAX backend: set KERAS_BACKEND=jax")
    devices = keras.distribution.list_devices()
    if batch_size % len(devices):
        raise data.DataError(f"--batch-size {batch_size} does not split evenly over "
                             f"{len(devices)} devices")
    distribution = keras.distribution.DataParallel(devices=devices)
    keras.distribution.set_distribution(distribution)
    share = distribution.get_data_layout((batch_size,)).backend_layout.shard_shape(
        (batch_size,))[0]
    print(f"data-parallel over {len(devices)} devices ({', '.join(devices)}): {share} images "
          f"per device of each batch of {batch_size}")
    return len(devices)


def training_data(images, labels, dataset, mode, estimator_model, output, *, val_fraction,
                  batch_size, augmentation, seed, reuse, workers, fresh, devices=1):
    """The training batches and the fixed validation set of this run. Split over several
    `devices`, every batch must divide evenly: full training batches only, and the validation
    set cut to a multiple of the device count (at most devices - 1 images fewer)."""
    (x_train, y_train), (x_val, y_val) = split_validation(images, labels, val_fraction,
                                                          VALIDATION_SEED)
    kept = len(x_val) - len(x_val) % devices
    x_val, y_val = x_val[:kept], y_val[:kept]
    print(f"{dataset.name}: {len(x_train)} training and {len(x_val)} validation images "
          f"{shape_text(dataset.image_shape)}, mode {mode}")
    # The validation set is degraded (and estimated) once: the same images every epoch, and
    # the estimator's time goes to training.
    validation = (degraded_inputs(x_val, mode, np.random.default_rng((VALIDATION_SEED, 1)),
                                  estimator_model), y_val)
    # A resumed run draws the epochs it has not done yet, not epoch 0's images again.
    done = loop.epochs_done(output, fresh)
    batches = TrainingBatches(x_train, y_train, mode, batch_size, augmentation, seed,
                              estimator_model, epoch=done, reuse=reuse,
                              full_batches=devices > 1, workers=workers,
                              max_queue_size=workers * 4)
    return batches, validation


def check_resumable(output, dataset, model):
    """A run continues an earlier one: its images must fit the saved network, and so must the
    network that these flags build."""
    if not output.is_file():
        return
    saved = load_model(output)
    check_images(saved, dataset.x_train, f"{dataset.name} images")
    classes = saved.outputs[0].shape[-1]
    if classes != len(dataset.class_names):
        raise data.DataError(f"{dataset.name} has {len(dataset.class_names)} classes but {output}"
                             f" has {classes}: use --fresh to start over")
    if saved.count_params() != inference_network(model).count_params():
        raise data.DataError(f"{output} was trained with other network flags (--width, "
                             "--parameter-join, mode): "
                             "give the same ones to resume, or --fresh to start over")


def write_class_names(path, names):
    with data.atomic_output(path) as temporary:
        Path(temporary).write_text("".join(f"{name}\n" for name in names))
