"""The degradation-parameter estimation network (Endo et al. 2020, after Uchida et al. 2018).

Seven dilated 3x3 convolutions predict the degradation parameter of every pixel; the spatial mean
of that map is the image's estimate, which the classifier takes as its second input. For the
mixed degradation (noise, then JPEG) the map has two channels, sigma and q, and an image's
estimate is a pair.

    python estimator.py --degradation jpeg --train-dir ../shared/data/urban100     # train
    python estimator.py --degradation jpeg --predict photo.jpg scan.png            # estimate
    python estimator.py --degradation jpeg --predict photo.jpg --map photo_map.png # and a heat map
    python estimator.py --degradation mixed --train-dir ../shared/data/urban100    # sigma and q

The network is degraded_cnn/models/estimator.py, its training degraded_cnn/training/estimator.py,
its use degraded_cnn/predict/estimation.py. The estimator's Tables 2 and 5 and Figures 4 and 7
come from `python evaluate.py --dataset cifar10 --degradation jpeg --estimator-only`.
"""
import argparse
import sys
from pathlib import Path

from degraded_cnn import cli, paths
from degraded_cnn.vocabulary import recipes
from degraded_cnn.vocabulary.degradations import DEGRADATIONS

# estimator.py's flags that are not arguments of training.estimator.train.
NOT_TRAINING = ("predict", "map", "train_dir")


def predict_files(images, degradation, weights_dir, map_path=None):
    """Print the estimate of each image file, "34.25" or "sigma 10.20  q 34.25" for mixed; with
    `map_path`, save each one's heat map there (suffixed by the image's name if several)."""
    from degraded_cnn import data
    from degraded_cnn.predict import estimation
    from degraded_cnn.predict.heat_map import save_heat_map
    from degraded_cnn.vocabulary.degradations import value_text
    models = {}
    for path in images:
        image = data.read_image(path)
        channels = image.shape[-1]
        if warning := estimation.colour_noise_warning(path, degradation, channels):
            print(warning, file=sys.stderr)
        if channels not in models:
            models[channels] = estimation.load_estimator(degradation, weights_dir, channels)
        model = models[channels]
        estimation.check_channels(model, image[None], what=str(path))
        # One pass gives both the map and, as its mean, the estimate.
        normalized_map = estimation.estimate_maps(model, image[None])[0]
        value = estimation.to_natural(degradation, normalized_map.mean(axis=(0, 1)))
        print(f"{path}\t{value_text(degradation, value, '.2f', '  ')}")
        if map_path:
            target = map_path if len(images) == 1 else \
                Path(map_path).with_stem(f"{Path(map_path).stem}_{Path(path).stem}")
            save_heat_map(target, image, normalized_map, degradation, value)


def train(args):
    from degraded_cnn.training import estimator
    # A flag left at None takes train's default (VALIDATION_PATCHES).
    options = {key: value for key, value in vars(args).items()
               if key not in NOT_TRAINING and value is not None}
    estimator.train(train_dirs=args.train_dir, **options)


def build_parser():
    parser = argparse.ArgumentParser(
        description="Train the degradation-parameter estimation network, or estimate the "
                    "parameter (JPEG quality, noise or blur sigma, or for mixed both noise "
                    "sigma and JPEG quality) of images.")
    parser.add_argument("--degradation", default="jpeg", choices=list(DEGRADATIONS))
    parser.add_argument("--weights-dir", default=str(paths.WEIGHTS_DIR),
                        help="where the estimators live (default: the shipped weights/)")
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
    training_group.add_argument("--patch-size", type=int)
    training_group.add_argument("--features", type=int,
                                help="features per layer (the paper's 64; smaller for tests)")
    training_group.add_argument("--batch-size", type=int)
    training_group.add_argument("--epochs", type=int)
    training_group.add_argument("--steps-per-epoch", type=int)
    # The paper's plain Adamax by default.
    cli.add_learning_rate_flags(training_group, None, None)
    training_group.add_argument("--init", choices=("high-pass", "he_normal"), default="high-pass",
                                help="first-layer start: he_normal made zero-mean (default), "
                                     "or plain he_normal as in the paper")
    training_group.add_argument("--init-from", metavar="MODEL",
                                help="start from the weights of this trained estimator (.keras) "
                                     "instead of a random start")
    training_group.add_argument("--loss", choices=("pixel", "image"),
                                help="MSE of every pixel of the map (the paper's), or of its "
                                     "spatial mean, the image's estimate")
    training_group.add_argument("--clipnorm", type=float, default=1.0)
    training_group.add_argument("--val-fraction", type=float, default=0.1,
                                help="fraction of the images held out for validation patches")
    training_group.add_argument("--val-patches", type=int, default=None,
                                help="validation patches (default 512)")
    training_group.add_argument("--workers", type=int, default=1,
                                help="threads preparing batches")
    training_group.add_argument("--jit", action="store_true", help="XLA-compile the training step")
    training_group.add_argument("--seed", type=int, default=0)
    training_group.add_argument("--fresh", action="store_true",
                                help="discard an earlier run's backup and log and start over")
    # The paper's run (EstimatorRun's defaults) unless a flag says otherwise.
    parser.set_defaults(**recipes.EstimatorRun().arguments())
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.map and not args.predict:
        parser.error("--map needs --predict")
    if args.predict:
        return cli.run(parser.prog, lambda: predict_files(args.predict, args.degradation,
                                                          args.weights_dir, args.map))
    return cli.run(parser.prog, lambda: train(args))


if __name__ == "__main__":
    raise SystemExit(main())
