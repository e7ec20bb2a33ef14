"""The degradation-parameter estimation network (Endo et al. 2020, after Uchida et al. 2018).

Seven dilated 3x3 convolutions predict the degradation parameter of every pixel; the spatial mean
of that map is the image's estimate, which the classifier takes as its second input. For the
mixed degradation (noise, then JPEG) the map has two channels, sigma and q, and an image's
estimate is a pair.

    python estimator.py --degradation jpeg --train-dir ../shared/data/urban100     # train
    python estimator.py --degradation jpeg --predict photo.jpg scan.png            # estimate
    python estimator.py --degradation jpeg --predict photo.jpg --map photo_map.png # and a heat map
    python estimator.py --degradation mixed --train-dir ../shared/data/urban100    # sigma and q

The estimator's Tables 2 and 5 and Figures 4 and 7 come from
`python evaluate.py --dataset cifar10 --degradation jpeg --estimator-only`.
"""
import argparse
import os
import sys
import threading
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import data  # noqa: E402
import degrade  # noqa: E402
import training  # noqa: E402

DILATIONS = (1, 2, 3, 4, 3, 2, 1)
FEATURES = 64
WEIGHTS_DIR = Path("weights")
# The flags that a resumed run must share with the run it continues (see training.py).
RUN_SETTINGS = ("channels", "features", "init", "init_from", "loss", "patch_size", "batch_size",
                "steps_per_epoch", "learning_rate", "lr_decay", "clipnorm", "val_fraction", "seed")
# Validation patches come from images held out of training, drawn once with their own seed.
VALIDATION_PATCHES = 512
# Degradations whose RGB estimator reads a grayscale image, its channel repeated three times, as
# well as a colour one (RESULTS.md, grayscale: JPEG within 0.5 of the colour bias and SD). Not
# noise: the same noise in three channels reads as about a quarter of its sigma (3.2 at 10), so
# grayscale noise needs its own estimator (--channels 1, estimator_noise_gray.keras).
GRAY_AS_RGB = ("jpeg",)
# Pixels per inference batch. Seven full-resolution 64-feature maps per image: at 2^18 pixels
# (512 CIFAR images) a layer's activations pass 130 MB and inference runs at half the speed it
# has from 2^14 to 2^18 pixels on a 2-core CPU (bench.py, estimator inference rows).
INFERENCE_PIXELS = 2 ** 17
PREDICT_LOCK = threading.Lock()


def weights_path(degradation, weights_dir=WEIGHTS_DIR, channels=3):
    """Where the estimator of `degradation` for images of `channels` lives: an RGB one
    (estimator_<degradation>.keras) or a grayscale one (estimator_<degradation>_gray.keras)."""
    suffix = "_gray" if channels == 1 else ""
    return Path(weights_dir) / f"estimator_{degradation}{suffix}.keras"


# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------
def build_estimator(channels=3, features=FEATURES, dilations=DILATIONS, high_pass=True,
                    outputs=1):
    """Fully convolutional: any H x W. Input: pixels 0..255. Output: the parameter of every
    pixel, in the [0, 1] units of degrade.normalize, `outputs` channels (one per part of a
    mixture). `high_pass`: see high_pass_start."""
    image = keras.Input((None, None, channels), name="image")
    # Centred inputs: with no batch norm, uncentred [0, 255] pixels swamp the first layers.
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="centre")(image)
    for index, rate in enumerate(dilations, start=1):
        last = index == len(dilations)
        x = keras.layers.Conv2D(
            outputs if last else features, 3, padding="same", dilation_rate=rate,
            activation=None if last else "relu", kernel_initializer="he_normal",
            # Starting the output at the targets' mean skips the plateau of learning it.
            bias_initializer=keras.initializers.Constant(0.5 if last else 0.0),
            name=f"conv{index}_d{rate}")(x)
    model = keras.Model(image, x, name="estimator")
    if high_pass:
        high_pass_start(model.get_layer(f"conv1_d{dilations[0]}"))
    return model


def high_pass_start(layer):
    """Make the first layer's he_normal filters zero-mean over their 3x3 window, per input
    channel, keeping their variance. Random filters of natural images mostly measure brightness,
    and six random ReLU layers on top barely tell a q = 5 JPEG from a q = 95 one; the network
    then sits on the plateau of predicting the mean q for thousands of steps (see README).
    High-pass filters see only the texture and the artefacts, where the parameter shows."""
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    window = kernel.shape[0] * kernel.shape[1]
    centred = kernel - kernel.mean(axis=(0, 1), keepdims=True)
    layer.kernel.assign(centred * np.sqrt(window / (window - 1)))


def receptive_field(dilations=DILATIONS, kernel=3):
    return 1 + sum((kernel - 1) * rate for rate in dilations)


def find_estimator(degradation, weights_dir=WEIGHTS_DIR, channels=3):
    """The file of the estimator for `channels`-channel images, in `weights_dir` or else in the
    folder above it (the seed folders of a seed study, <weights>/seed<k>/, share the estimator
    of <weights>/). Grayscale images with no grayscale estimator go to the RGB one as three
    equal channels where that reads them as well as colour (GRAY_AS_RGB)."""
    folders = [Path(weights_dir), Path(weights_dir).resolve().parent]
    kinds = [channels] + ([3] if channels == 1 and degradation in GRAY_AS_RGB else [])
    for kind in kinds:
        for folder in folders:
            if weights_path(degradation, folder, kind).is_file():
                return weights_path(degradation, folder, kind)
    path = weights_path(degradation, weights_dir, kinds[-1])
    hint = f" --channels {kinds[-1]}" if kinds[-1] != 3 else ""
    raise data.DataError(f"no estimator weights at {path}: train them with "
                         f"`python estimator.py --degradation {degradation}{hint}`")


def load_estimator(degradation, weights_dir=WEIGHTS_DIR, channels=3):
    path = find_estimator(degradation, weights_dir, channels)
    model = training.load_model(path)
    if model_outputs(model) != degrade.parameter_count(degradation):
        raise data.DataError(f"{path} estimates {model_outputs(model)} parameter(s) per pixel, "
                             f"but {degradation} has {degrade.parameter_count(degradation)}")
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
    """Per-pixel parameter maps (N, H, W) of uint8 images, in degrade.normalize units ((N, H, W,
    2) for a mixed estimator). Safe to call from several threads (classifier.py's loading
    threads do)."""
    images = fit_channels(model, images).astype(np.float32)
    step = inference_batch(images)
    # training.infer, not predict: predict sets up a data pipeline and callbacks on every call,
    # which for the 64 images of a training batch cost about as much as estimating them
    # (RESULTS.md). Keras' JAX backend takes the model's variables out while it predicts, so a
    # second thread's call on the same model would find none: one call at a time.
    with PREDICT_LOCK:
        maps = training.infer(model, images, step)
    if not len(maps):
        maps = np.zeros((*images.shape[:3], model_outputs(model)), np.float32)
    return maps[..., 0] if maps.shape[-1] == 1 else maps


def estimate(model, images, degradation):
    """One estimate per image: the spatial mean of its map, in natural units (q, sigma; a
    (sigma, q) row for mixed), clipped to the degradation's range. The batched function that
    classifier.py and evaluate.py call."""
    return to_natural(degradation, estimate_maps(model, images).mean(axis=(1, 2)))


def to_natural(degradation, normalized):
    return np.clip(degrade.denormalize(degradation, normalized),
                   *degrade.parameter_range(degradation))


# ---------------------------------------------------------------------------------------------
# Training data
# ---------------------------------------------------------------------------------------------
class PatchBatches(keras.utils.PyDataset):
    """Batches of random clean patches, each degraded with its own random parameter; the target
    is the constant map of that parameter in normalized units. Batch i of every epoch is drawn
    from seed (seed, epoch, i): repeatable, yet new patches every epoch."""

    def __init__(self, images, degradation, patch_size, batch_size, steps, seed, **kwargs):
        super().__init__(**kwargs)
        self.images, self.degradation = images, degradation
        self.patch_size, self.batch_size = patch_size, batch_size
        self.steps, self.seed = steps, seed
        self.epoch = 0

    def __len__(self):
        return self.steps

    def on_epoch_end(self):
        self.epoch += 1

    def __getitem__(self, index):
        rng = np.random.default_rng((self.seed, self.epoch, index))
        return degraded_patches(self.images, self.degradation, self.batch_size, self.patch_size,
                                rng)


def degraded_patches(images, degradation, count, patch_size, rng):
    patches = data.random_patches(images, count, patch_size, rng)
    params = degrade.random_params(degradation, count, rng)
    degraded = degrade.degrade(patches, degradation, params, rng, workers=1)
    normalized = degrade.normalize(degradation, params).astype(np.float32).reshape(count, 1, 1, -1)
    target = np.broadcast_to(normalized, (count, patch_size, patch_size, normalized.shape[-1]))
    return degraded.astype(np.float32), np.ascontiguousarray(target)


@keras.saving.register_keras_serializable(package="estimator")
def image_mse(target, parameter_map):
    """The squared error of the map's spatial mean: of the estimate that the classifier gets,
    rather than of every pixel (see --loss); averaged over a mixture's parameters."""
    error = keras.ops.mean(parameter_map, axis=(1, 2)) - keras.ops.mean(target, axis=(1, 2))
    return keras.ops.mean(keras.ops.square(error), axis=-1)


# "pixel": the paper's per-pixel MSE. Each pixel then predicts the mean q given what it sees, and
# a pixel sees too little to be sure of q: every pixel leans toward the middle of the range and so
# does their mean. "image" trains that mean itself, which sees the whole patch.
LOSSES = {"pixel": "mse", "image": image_mse}


def start_from(model, path):
    """Start a new run from a trained estimator's weights (a longer or differently scheduled run,
    or another domain), with a fresh optimizer and the new run's own schedule."""
    if not Path(path).is_file():
        raise data.DataError(f"--init-from: no estimator at {path}")
    trained = training.load_model(path)
    shapes = [tuple(w.shape) for w in model.weights]
    if [tuple(w.shape) for w in trained.weights] != shapes:
        raise data.DataError(f"--init-from: {path} has another architecture (--channels, "
                             f"--features) than this run")
    model.set_weights(trained.get_weights())
    print(f"starting from the weights of {path}")


def training_images(args):
    """Clean images by source: one list per --train-dir folder, or the training images of
    --dataset as one list."""
    if args.train_dir:
        return [data.load_clean_images(folder, args.channels) for folder in args.train_dir]
    dataset = data.load_dataset(args.dataset)
    images = dataset.x_train
    if images.shape[-1] != args.channels:
        images = np.repeat(images, args.channels, -1) if args.channels == 3 else \
            images.mean(-1, keepdims=True).round().astype(np.uint8)
    return [list(images[: args.limit] if args.limit else images)]


def split_images(images, fraction, seed):
    """Hold out whole images for validation, so validation patches are unseen content."""
    order = np.random.default_rng(seed).permutation(len(images))
    held = max(1, int(round(len(images) * fraction))) if len(images) > 1 else 0
    train = [images[i] for i in order[held:]] or images
    return train, [images[i] for i in order[:held]] or images


def split_sources(sources, fraction, seed, names=None):
    """split_images within each source (folder), so every folder has held-out images in
    validation; the training and validation images of all folders together, and one line per
    folder saying how many of each."""
    train, validation = [], []
    for index, images in enumerate(sources):
        # The first folder splits as a single --train-dir always has, so a run of the shipped
        # recipe holds out the same images as the runs that made the shipped estimators.
        kept, held = split_images(images, fraction, seed if index == 0 else (seed, index))
        train += kept
        validation += held
        if names:
            print(f"{names[index]}: {len(kept)} training and {len(held)} validation images")
    return train, validation


def train(args):
    keras.utils.set_random_seed(args.seed)
    sources = training_images(args)
    patch_size = data.patch_size_for([image for images in sources for image in images],
                                     args.patch_size)
    if patch_size < args.patch_size:
        print(f"images are small: using {patch_size}x{patch_size} patches")
    train_images, val_images = split_sources(sources, args.val_fraction, args.seed,
                                             args.train_dir)
    print(f"{len(train_images)} training and {len(val_images)} validation images, "
          f"{patch_size}x{patch_size} patches, degradation {args.degradation}")
    batches = PatchBatches(train_images, args.degradation, patch_size, args.batch_size,
                           args.steps_per_epoch, args.seed, workers=args.workers)
    validation = degraded_patches(val_images, args.degradation, args.val_patches, patch_size,
                                  np.random.default_rng((args.seed, 1)))
    model = build_estimator(args.channels, args.features, high_pass=args.init == "high-pass",
                            outputs=degrade.parameter_count(args.degradation))
    output = weights_path(args.degradation, args.weights_dir, args.channels)
    # A resumed run's weights come from its backup.
    if args.init_from and not training.epochs_done(output, args.fresh):
        start_from(model, args.init_from)
    rate = training.learning_rate(args.learning_rate, args.lr_decay,
                                  args.epochs * args.steps_per_epoch)
    # With the image loss, the per-pixel MSE is logged too, to compare with pixel-loss runs.
    model.compile(optimizer=keras.optimizers.Adamax(rate, clipnorm=args.clipnorm),
                  loss=LOSSES[args.loss], metrics=["mse"] if args.loss == "image" else None,
                  jit_compile=args.jit)
    training.fit_resumable(model, batches, validation, output, args.epochs, fresh=args.fresh,
                           settings={key: vars(args)[key] for key in RUN_SETTINGS})
    print(f"best model: {output}")


# ---------------------------------------------------------------------------------------------
# Estimating user images
# ---------------------------------------------------------------------------------------------
def colour_noise_warning(path, degradation, channels):
    """A one-line caveat for a noise estimate of this file, or None. The colour noise estimator
    reads noise largely from the colour channels' disagreement, which a JPEG with subsampled
    colour has averaged away (measured in RESULTS.md)."""
    if degradation == "noise" and channels == 3 and data.subsampled_colour(path):
        return (f"warning: {path} is a JPEG with subsampled colour, which removes most of the "
                "colour noise that the noise estimator reads, so its sigma reads too low (the "
                "shipped estimator reads about 10 for sigma 50 saved at q 100)")
    return None


def predict_files(args):
    models = {}
    for path in args.predict:
        image = data.read_image(path)
        channels = image.shape[-1]
        if warning := colour_noise_warning(path, args.degradation, channels):
            print(warning, file=sys.stderr)
        if channels not in models:
            models[channels] = load_estimator(args.degradation, args.weights_dir, channels)
        model = models[channels]
        check_channels(model, image[None], what=str(path))
        # One pass gives both the map and, as its mean, the estimate.
        normalized_map = estimate_maps(model, image[None])[0]
        value = to_natural(args.degradation, normalized_map.mean(axis=(0, 1)))
        # "34.25", or "sigma 10.20  q 34.25" for mixed.
        print(f"{path}\t{degrade.value_text(args.degradation, value, '.2f', '  ')}")
        if args.map:
            map_path = args.map if len(args.predict) == 1 else \
                Path(args.map).with_stem(f"{Path(args.map).stem}_{Path(path).stem}")
            save_heat_map(map_path, image, normalized_map, args.degradation, value)


def save_heat_map(path, image, normalized_map, degradation, value):
    """The image beside its per-pixel map, one panel per parameter (two for mixed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = degrade.parts(degradation)
    maps = to_natural(degradation, normalized_map).reshape(*normalized_map.shape[:2], len(names))
    values = np.atleast_1d(value)
    figure, axes = plt.subplots(1, 1 + len(names), figsize=(4 * (1 + len(names)), 4))
    axes[0].imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray")
    axes[0].set_title("image")
    for index, (axis, name) in enumerate(zip(axes[1:], names)):
        spec = degrade.get_degradation(name)
        shown = axis.imshow(maps[..., index], vmin=spec.low, vmax=spec.high, cmap="viridis")
        axis.set_title(f"estimated {name} parameter (mean {values[index]:.1f})")
        figure.colorbar(shown, ax=axis, fraction=0.046)
    for axis in axes:
        axis.axis("off")
    with data.atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=100, bbox_inches="tight")
    plt.close(figure)
    print(f"map: {path}")


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def build_parser():
    parser = argparse.ArgumentParser(
        description="Train the degradation-parameter estimation network, or estimate the "
                    "parameter (JPEG quality, noise or blur sigma, or for mixed both noise "
                    "sigma and JPEG quality) of images.")
    parser.add_argument("--degradation", default="jpeg", choices=list(degrade.DEGRADATIONS))
    parser.add_argument("--weights-dir", default=str(WEIGHTS_DIR))
    parser.add_argument("--predict", nargs="+", metavar="IMAGE",
                        help="estimate the parameter of these images instead of training")
    parser.add_argument("--map", help="with --predict: save the per-pixel map as a heat map")
    training_group = parser.add_argument_group("training")
    training_group.add_argument("--train-dir", nargs="+", metavar="DIR",
                                help="folders of clean images (PNG, BMP, TIFF) to cut patches "
                                "from, one training set together; --val-fraction of each "
                                "folder's images are held out whole; default: the training "
                                "images of --dataset")
    training_group.add_argument("--dataset", default="cifar10", help="used without --train-dir")
    training_group.add_argument("--limit", type=int, help="use only the first N dataset images")
    training_group.add_argument("--channels", type=int, default=3, choices=(1, 3),
                                help="3: an RGB estimator; 1: a grayscale one, saved as "
                                "estimator_<degradation>_gray.keras (default 3)")
    training_group.add_argument("--patch-size", type=int, default=64)
    training_group.add_argument("--features", type=int, default=FEATURES,
                                help="features per layer (the paper's 64; smaller for tests)")
    training_group.add_argument("--batch-size", type=int, default=32)
    training_group.add_argument("--epochs", type=int, default=100)
    training_group.add_argument("--steps-per-epoch", type=int, default=500)
    # The paper's plain Adamax by default.
    training.add_learning_rate_flags(training_group, 0.001, "none")
    training_group.add_argument("--init", choices=("high-pass", "he_normal"), default="high-pass",
                                help="first-layer start: he_normal made zero-mean (default), "
                                     "or plain he_normal as in the paper")
    training_group.add_argument("--init-from", metavar="MODEL",
                                help="start from the weights of this trained estimator (.keras) "
                                     "instead of a random start")
    training_group.add_argument("--loss", choices=tuple(LOSSES), default="pixel",
                                help="MSE of every pixel of the map (the paper's), or of its "
                                     "spatial mean, the image's estimate")
    training_group.add_argument("--clipnorm", type=float, default=1.0)
    training_group.add_argument("--val-fraction", type=float, default=0.1,
                                help="fraction of the images held out for validation patches")
    training_group.add_argument("--val-patches", type=int, default=VALIDATION_PATCHES)
    training_group.add_argument("--workers", type=int, default=1,
                                help="threads preparing batches")
    training_group.add_argument("--jit", action="store_true", help="XLA-compile the training step")
    training_group.add_argument("--seed", type=int, default=0)
    training_group.add_argument("--fresh", action="store_true",
                                help="discard an earlier run's backup and log and start over")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.map and not args.predict:
        parser.error("--map needs --predict")
    task = predict_files if args.predict else train
    return data.run_cli(parser.prog, lambda: task(args))


if __name__ == "__main__":
    raise SystemExit(main())
