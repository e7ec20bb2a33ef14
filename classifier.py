"""The classification network of Endo, Tanaka & Okutomi (2020): a VGG-like CNN that can take the
degradation parameter (JPEG quality or noise sigma) as a second input, trained in every mode the
paper compares.

    python classifier.py --mode org --dataset cifar10                   # train on clean images
    python classifier.py --mode est_qf --dataset cifar10                # JPEG + estimated QF
    python classifier.py --mode est_qf --dataset cifar10 --predict photo.jpg scan.png
    python classifier.py --mode known_nl --dataset cifar10 --predict noisy.png --param 25
    python classifier.py --mode noisy --gate --predict photo.jpg   # org or noisy, by sigma

Modes (modes.py): org (clean images), jpg / noisy (degraded images, image only), est_qf /
est_nl (degraded images + the parameter estimated by the frozen weights/estimator_<deg>.keras),
known_qf / known_nl (degraded images + the true parameter), and the placebo controls
shuffled_qf / shuffled_nl (degraded images + a parameter drawn independently of the image).
The network is in network.py, the training data (augmentation, degradation, batches) in
batches.py.

The default network is the full-size one (features 64/128/256, dense 1024), meant for a GPU. On a
CPU use a narrower one: `--recipe cpu` (recipes.py) sets the flags of the shipped networks.

For evaluate.py and other scripts: MODES, weights_path, load_classifier, predict_probabilities
(and, from batches.py and modes.py, what they need of the training data and the modes).
"""
import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import data  # noqa: E402
import degrade  # noqa: E402
import estimator  # noqa: E402
import recipes  # noqa: E402
import training  # noqa: E402
from batches import (Augmentation, TrainingBatches, degraded_inputs,  # noqa: E402,F401
                     fed_parameters, held_out, model_inputs, split_validation)
from modes import (MODES, Mode, compared_modes, get_mode, image_only_modes,  # noqa: E402,F401
                   placebo_of)
from network import (DENSE_PER_WIDTH, FULL_WIDTH, JOINS, build_classifier,  # noqa: E402,F401
                     has_parameter_input, model_image_shape, parameter_join, parameter_size)


WEIGHTS_DIR = Path("weights")
TRAIN_DATASET = "cifar10"      # --dataset when training without one
# --predict without --dataset uses the best networks that ship: trained on all 50,000 CIFAR-10
# training images (stored as JPEG quality 75).
PREDICT_DATASET = "cifar10-q75"
TOP_CLASSES = 5

# The flags that a resumed run must share with the run it continues (see training.py).
RUN_SETTINGS = ("width", "dropout", "spatial_dropout", "batch_size", "learning_rate", "lr_decay",
                "warmup_epochs", "limit", "val_fraction", "reuse", "seed", "parameter_join")
# The held-out images and their degradation are the same for every --seed: seeds then differ
# only in what training draws (initial weights, batch order, augmentation, degradation), and
# every seed chooses its epoch on the same validation images.
VALIDATION_SEED = 0
VALIDATION_FRACTION = 0.1


def weights_path(dataset_name, mode, weights_dir=WEIGHTS_DIR):
    """Where the network of `mode` trained on `dataset_name` (data.dataset_name) lives."""
    return Path(weights_dir) / f"classifier_{dataset_name}_{mode}.keras"


def trained_datasets(mode, weights_dir=WEIGHTS_DIR):
    """The dataset names that have a network of `mode` in `weights_dir`."""
    pattern = weights_path("*", mode, weights_dir)
    prefix, suffix = pattern.name.split("*")
    return sorted(found.name[len(prefix):-len(suffix)]
                  for found in pattern.parent.glob(pattern.name))


def class_names_path(dataset_name, weights_dir=WEIGHTS_DIR):
    """Class names, one a line, written beside the weights so --predict needs no dataset."""
    return Path(weights_dir) / f"classifier_{dataset_name}.classes.txt"


# ---------------------------------------------------------------------------------------------
# Using a trained network (the API of evaluate.py)
# ---------------------------------------------------------------------------------------------
def load_classifier(dataset_name, mode, weights_dir=WEIGHTS_DIR):
    """Load the network of `mode` for `dataset_name`, or raise a one-line DataError."""
    spec = get_mode(mode)
    path = weights_path(dataset_name, mode, weights_dir)
    if not path.is_file():
        others = trained_datasets(mode, weights_dir)
        hint = f" (--dataset {' or '.join(others)} has them)" if others else ""
        raise data.DataError(f"no classifier weights at {path}{hint}: train them with `python "
                             f"classifier.py --mode {mode} --dataset {dataset_name}`")
    model = training.load_model(path)
    expected = parameter_count(spec)
    if parameter_size(model) != expected:
        raise data.DataError(f"{path} takes {parameter_size(model)} parameter number(s) beside "
                             f"the image, which does not fit mode {mode} ({expected})")
    return model


def check_images(model, images, what="images"):
    """Raise DataError unless `images` (N, H, W, C) match the network's input shape."""
    expected = model_image_shape(model)
    if tuple(images.shape[1:]) != expected:
        raise data.DataError(f"{what} are {shape_text(images.shape[1:])} but the classifier "
                             f"takes {shape_text(expected)}")


def shape_text(shape):
    return f"{size_text(shape)} with {shape[2]} channel(s)"


def size_text(shape):
    return f"{shape[1]}x{shape[0]}"


def predict_probabilities(model, images, params=None, degradation=None, batch_size=256):
    """Class probabilities (N, classes) of uint8 `images` (N, H, W, C).

    `params`: for a network with a parameter input, the parameter of each image in natural
    units (estimated with estimator.estimate or true), with `degradation` naming its kind; None
    for the image-only networks (org, jpg, noisy). A sweep can therefore degrade and estimate
    once and classify with every network."""
    check_images(model, images)
    if has_parameter_input(model) != (params is not None):
        raise ValueError("this classifier takes " + ("a parameter per image" if
                         has_parameter_input(model) else "no parameter"))
    if params is not None and len(params) != len(images):
        raise ValueError(f"{len(images)} images but {len(params)} parameters")
    inputs = model_inputs(images, params, degradation)
    return training.infer(model, inputs, batch_size)


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------
def train(args):
    spec = get_mode(args.mode)
    devices = distribute(args.batch_size) if args.distribute else 1
    dataset = data.load_dataset(args.dataset or TRAIN_DATASET)
    estimator_model = estimator.load_estimator(spec.degradation, estimator_dir(args),
                                               dataset.image_shape[-1]) \
        if spec.needs_estimator else None
    output = weights_path(dataset.name, args.mode, args.weights_dir)
    # Seeded after loading the estimator, whose layers draw from the same generator: so every
    # mode starts from the same convolution weights, and twins differ in the parameter only.
    keras.utils.set_random_seed(args.seed)
    model = build_classifier(dataset.image_shape, len(dataset.class_names), args.width,
                             spec.has_parameter, args.dropout, args.spatial_dropout,
                             args.parameter_join, parameter_count(spec))
    if not args.fresh:
        check_resumable(output, dataset, model)
    batches, validation = training_data(args, dataset, estimator_model, output, devices)
    model.compile(optimizer=keras.optimizers.Adamax(training.learning_rate(
                      args.learning_rate, args.lr_decay, args.epochs * len(batches),
                      round(args.warmup_epochs * len(batches)))),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=args.jit)
    write_class_names(class_names_path(dataset.name, args.weights_dir), dataset.class_names)
    training.fit_resumable(model, batches, validation, output, args.epochs,
                           monitor="val_accuracy", mode="max", fresh=args.fresh,
                           settings={key: vars(args)[key] for key in RUN_SETTINGS},
                           callbacks=[training.DeadRunWarning(len(dataset.class_names))])
    print(f"best model: {output}")


def parameter_count(spec):
    """Numbers in the parameter input of a network of mode `spec` (0 for an image-only one)."""
    return degrade.parameter_count(spec.degradation) if spec.has_parameter else 0


def distribute(batch_size):
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


def training_data(args, dataset, estimator_model, output, devices=1):
    """The training batches and the fixed validation set of this run. Split over several
    `devices`, every batch must divide evenly: full training batches only, and the validation
    set cut to a multiple of the device count (at most devices - 1 images fewer)."""
    images, labels = dataset.x_train, dataset.y_train
    if args.limit:
        images, labels = images[:args.limit], labels[:args.limit]
    if estimator_model is not None:
        estimator.check_channels(estimator_model, images, f"{dataset.name} images")
    (x_train, y_train), (x_val, y_val) = split_validation(images, labels, args.val_fraction,
                                                          VALIDATION_SEED)
    kept = len(x_val) - len(x_val) % devices
    x_val, y_val = x_val[:kept], y_val[:kept]
    print(f"{dataset.name}: {len(x_train)} training and {len(x_val)} validation images "
          f"{shape_text(dataset.image_shape)}, mode {args.mode}")
    # The validation set is degraded (and estimated) once: the same images every epoch, and
    # the estimator's time goes to training.
    validation = (degraded_inputs(x_val, args.mode,
                                  np.random.default_rng((VALIDATION_SEED, 1)), estimator_model),
                  y_val)
    # A resumed run draws the epochs it has not done yet, not epoch 0's images again.
    done = training.epochs_done(output, args.fresh)
    batches = TrainingBatches(x_train, y_train, args.mode, args.batch_size, augmentation(args),
                              args.seed, estimator_model, epoch=done, reuse=args.reuse,
                              full_batches=devices > 1, workers=args.workers,
                              max_queue_size=args.workers * 4)
    return batches, validation


def estimator_dir(args):
    return args.estimator_dir or args.weights_dir


def augmentation(args):
    return Augmentation(args.rotation, args.shift, args.zoom, args.shear, not args.no_flip)


def check_resumable(output, dataset, model):
    """A run continues an earlier one: its images must fit the saved network, and so must the
    network that these flags build."""
    if not output.is_file():
        return
    saved = training.load_model(output)
    check_images(saved, dataset.x_train, f"{dataset.name} images")
    classes = saved.outputs[0].shape[-1]
    if classes != len(dataset.class_names):
        raise data.DataError(f"{dataset.name} has {len(dataset.class_names)} classes but {output}"
                             f" has {classes}: use --fresh to start over")
    if saved.count_params() != model.count_params():
        raise data.DataError(f"{output} was trained with other network flags (--width, "
                             "--parameter-join, mode): "
                             "give the same ones to resume, or --fresh to start over")


def write_class_names(path, names):
    with data.atomic_output(path) as temporary:
        Path(temporary).write_text("".join(f"{name}\n" for name in names))


def read_class_names(args, dataset_name, count):
    """The names written at training, else the dataset's own, else class numbers."""
    path = class_names_path(dataset_name, args.weights_dir)
    if path.is_file():
        names = path.read_text().splitlines()
    elif args.dataset in data.KERAS_DATASETS:
        names = list(data.KERAS_DATASETS[args.dataset])
    elif args.dataset and Path(args.dataset).exists():
        names = list(data.load_dataset(args.dataset).class_names)
    else:
        names = []
    return names if len(names) == count else [f"class {i}" for i in range(count)]


# ---------------------------------------------------------------------------------------------
# Classifying a user's images
# ---------------------------------------------------------------------------------------------
def fit_to_network(image, shape):
    """Resize an (H, W, C) uint8 image to the network's input (high-quality Lanczos filter)."""
    height, width, channels = shape
    if image.shape[:2] == (height, width):
        return image
    mode = "L" if channels == 1 else "RGB"
    resized = Image.fromarray(image[..., 0] if channels == 1 else image, mode).resize(
        (width, height), Image.Resampling.LANCZOS)
    return np.asarray(resized).reshape(shape)


def predict_files(args):
    spec = get_mode(args.mode)
    if args.gate:
        return predict_gated_files(args, spec)
    if spec.told_truth and args.param is None:
        raise ValueError(f"mode {args.mode} takes the true parameter: give it with --param")
    name = data.dataset_name(args.dataset or PREDICT_DATASET)
    model = load_classifier(name, args.mode, args.weights_dir)
    shape = model_image_shape(model)
    estimator_model = estimator.load_estimator(spec.degradation, estimator_dir(args), shape[-1]) \
        if spec.needs_estimator else None
    names = read_class_names(args, name, model.outputs[0].shape[-1])
    photos, images = read_photos(args.predict, shape,
                                 spec.degradation if spec.needs_estimator else None)
    # The classifier is told the parameter of the image it sees, so it is estimated after
    # resizing; resizing a large photo also smooths away much of its degradation, so the
    # photo's own estimate, at full resolution, is printed beside it.
    true_params = degrade.check_params(spec.degradation, args.param[0] if len(args.param) == 1
                                       else args.param, len(images)) if spec.told_truth else None
    params = fed_parameters(spec, true_params, images, np.random.default_rng(args.seed),
                            estimator_model)
    probabilities = predict_probabilities(model, images, params, spec.degradation)
    for path, photo, probability, param in zip(args.predict, photos, probabilities,
                                               params if params is not None else
                                               [None] * len(photos)):
        own = estimator.estimate(estimator_model, photo[None], spec.degradation)[0] \
            if spec.needs_estimator and photo.shape != shape else None
        told = parameter_text(spec.told, spec.degradation, param, photo.shape, shape, own) \
            if param is not None else ""
        print(describe(path, probability, names, told))


def predict_gated_files(args, spec):
    """--gate: the clean-trained network and that of --mode (jpg, noisy) mixed per image by
    the estimated level, through the gate that evaluate.py --gate fitted (gate.py)."""
    import gate  # gate.py builds on this module, so it is imported only here
    if spec.has_parameter or spec.degradation is None or \
            degrade.parameter_count(spec.degradation) != 1:
        raise data.DataError(f"--gate mixes org with jpg or noisy by the estimated level: give "
                             f"--mode jpg or --mode noisy, not {args.mode}")
    name = data.dataset_name(args.dataset or PREDICT_DATASET)
    clean, degraded = (load_classifier(name, mode, args.weights_dir)
                       for mode in image_only_modes(spec.degradation))
    fitted = gate.load_gate(name, spec.degradation, args.weights_dir)
    shape = model_image_shape(degraded)
    estimator_model = estimator.load_estimator(spec.degradation, estimator_dir(args), shape[-1])
    names = read_class_names(args, name, degraded.outputs[0].shape[-1])
    photos, images = read_photos(args.predict, shape, spec.degradation)
    levels = estimator.estimate(estimator_model, images, spec.degradation)
    probabilities = fitted.mix(levels, predict_probabilities(clean, images),
                               predict_probabilities(degraded, images))
    for path, photo, probability, level, weight in zip(args.predict, photos, probabilities,
                                                       levels, fitted.weight(levels)):
        told = parameter_text("estimated", spec.degradation, level, photo.shape, shape)
        print(describe(path, probability, names,
                       f"{told}; weight of the clean-trained network {weight:.2f}"))


def read_photos(paths, shape, degradation=None):
    """The images at `paths` as read, and stacked at the network's input `shape`; for a noise
    `degradation`, a warning for each colour-subsampled JPEG, whose noise reads too low."""
    photos = [data.read_image(path, shape[-1]) for path in paths]
    for path in paths if degradation else ():
        if warning := estimator.colour_noise_warning(path, degradation, shape[-1]):
            print(warning, file=sys.stderr)
    return photos, np.stack([fit_to_network(photo, shape) for photo in photos])


def describe(path, probabilities, names, told=""):
    """One image's answer: its path, `told` (parameter_text) and its top classes."""
    top = np.argsort(probabilities)[::-1][:TOP_CLASSES]
    lines = [f"  {rank}. {names[c]:<16} {probabilities[c]:.3f}" for rank, c in enumerate(top, 1)]
    return "\n".join([f"{path}: {told}" if told else f"{path}", *lines])


def parameter_text(told, degradation, param, photo_shape, shape, own=None):
    """The parameter of an answer: `told` is how it was obtained (modes.PARAMETER_SOURCES),
    `own` the estimate of the photo at full resolution where it was resized."""
    text = f"{told} {degrade.get_degradation(degradation).label} {number_text(param)}"
    if photo_shape[:2] != shape[:2]:
        text += f" for the {size_text(shape)} input the classifier sees"
    if own is not None:
        text += f" (the photo itself, {size_text(photo_shape)}: {number_text(own)})"
    return text


def number_text(value):
    """A parameter as an answer prints it: "34.3", or "10.2 and 34.3" for a mixed pair."""
    return " and ".join(f"{v:.1f}" for v in np.atleast_1d(value))


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def build_parser():
    parser = argparse.ArgumentParser(
        description="Train the degraded-image classifier in one of the paper's modes, or "
                    "classify image files with a trained one.",
        epilog=f"Modes: {', '.join(MODES)}. Recipes (--recipe): " + "; ".join(
            f"{name}: {' '.join(recipe.flags())}" for name, recipe in recipes.RECIPES.items()))
    parser.add_argument("--mode", default="org", help=f"one of {', '.join(MODES)} (default org)")
    parser.add_argument("--recipe", choices=recipes.RECIPES, default="paper",
                        help="the defaults of the network and training flags below, which any "
                        "of them given beside it overrides: paper (the paper's network, for a "
                        "GPU), cpu (the shipped subset networks), cpu-full (all 50,000 CIFAR-10 "
                        "images), width64, width64-full (the paper's width on a CPU); see "
                        "recipes.py (default paper)")
    parser.add_argument("--dataset", help="cifar10 (the default for training; --predict "
                        f"without it uses the shipped {PREDICT_DATASET} networks), cifar100, "
                        "mnist, "
                        "fashion_mnist, an .npz or a folder with train/ and test/; also names "
                        "the weights (the file stem for an .npz or folder)")
    parser.add_argument("--weights-dir", default=str(WEIGHTS_DIR),
                        help="where the classifiers and estimators live (default weights)")
    parser.add_argument("--estimator-dir", help="where the estimator of the est_* modes lives, "
                        "if not in --weights-dir (several seeds' folders share one estimator)")
    parser.add_argument("--predict", nargs="+", metavar="IMAGE",
                        help="classify these images instead of training")
    parser.add_argument("--param", type=float, nargs="+", metavar="VALUE",
                        help="with --predict in a known_* mode: the true QF or noise sigma of "
                        "the images (known_pair: sigma and q)")
    parser.add_argument("--gate", action="store_true",
                        help="with --predict and --mode jpg or noisy: mix that network with org "
                        "by the estimated level, through the curve that evaluate.py --gate "
                        "fitted (gate_<dataset>_<degradation>.json in --weights-dir)")
    group = parser.add_argument_group("network")
    group.add_argument("--width", type=int,
                       help="features of the first block; the others are 2x and 4x, the dense "
                            f"layers {DENSE_PER_WIDTH}x ({FULL_WIDTH}: 64/128/256, 1024)")
    group.add_argument("--parameter-join", choices=JOINS, default="dense",
                       help="where the parameter enters a parameter-aware network: dense (the "
                       "paper: beside the image features, before the dense layers), input (a "
                       "constant extra image channel) or film (a gain and bias of each dense "
                       "feature); a saved network keeps its join (default dense)")
    group.add_argument("--dropout", type=float, help="before each dense layer")
    group.add_argument("--spatial-dropout", type=float,
                       help="spatial dropout before the last block's convolutions, halved for "
                            "each earlier block")
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=int)
    group.add_argument("--batch-size", type=int)
    training.add_learning_rate_flags(group, None, "cosine")
    group.add_argument("--warmup-epochs", type=float,
                       help="raise the rate linearly from 0 over this many epochs first")
    group.add_argument("--limit", type=int, help="use only the first N training images")
    group.add_argument("--val-fraction", type=float, default=VALIDATION_FRACTION,
                       help="fraction of the training images that chooses the checkpoint")
    group.add_argument("--workers", type=int, default=2,
                       help="threads preparing batches while the network trains")
    group.add_argument("--reuse", type=int, default=1,
                       help="use each epoch's augmented, degraded (and estimated) images for "
                            "this many epochs; >1 saves estimator time in est_* modes (default "
                            "1: new images every epoch, as the paper)")
    group.add_argument("--jit", action="store_true", help="XLA-compile the training step")
    group.add_argument("--distribute", action="store_true",
                       help="data-parallel training on every device (GPUs, TPUs) that Keras "
                       "sees, each batch split evenly among them; JAX backend only")
    group.add_argument("--seed", type=int, default=0,
                       help="initial weights, batch order, augmentation and degradation draws; "
                       "the validation images and their degradation are the same for every seed")
    group.add_argument("--fresh", action="store_true",
                       help="discard an earlier run's backup and log and start over")
    group = parser.add_argument_group("augmentation (ImageDataGenerator's options)")
    group.add_argument("--rotation", type=float, help="degrees")
    group.add_argument("--shift", type=float, default=0.125,
                       help="width and height shift, fraction of the size")
    group.add_argument("--zoom", type=float, default=0.1, help="zoom range, fraction")
    group.add_argument("--shear", type=float, default=5.0, help="degrees")
    group.add_argument("--no-flip", action="store_true", help="no horizontal flips")
    parser.set_defaults(**recipes.PAPER.arguments())
    return parser


def parse_args(argv=None):
    """The command line, with the flags that it leaves out taken from its --recipe."""
    parser = build_parser()
    recipe, _ = parser.parse_known_args(argv)
    if recipe.recipe in recipes.RECIPES:  # else parse_args below reports the bad choice
        parser.set_defaults(**recipes.RECIPES[recipe.recipe].arguments())
    return parser, parser.parse_args(argv)


def main(argv=None):
    parser, args = parse_args(argv)
    if args.param is not None and not args.predict:
        parser.error("--param needs --predict")
    if args.gate and not args.predict:
        parser.error("--gate needs --predict")
    task = predict_files if args.predict else train
    return data.run_cli(parser.prog, lambda: task(args))


if __name__ == "__main__":
    raise SystemExit(main())
