"""The classification network of Endo, Tanaka & Okutomi (2020): a VGG-like CNN that can take the
degradation parameter (JPEG quality or noise sigma) as a second input, trained in every mode the
paper compares.

    python classifier.py --mode org --dataset cifar10                   # train on clean images
    python classifier.py --mode est_qf --dataset cifar10                # JPEG + estimated QF
    python classifier.py --mode est_qf --dataset cifar10 --predict photo.jpg scan.png
    python classifier.py --mode known_nl --dataset cifar10 --predict noisy.png --param 25
    python classifier.py --mode noisy --gate --predict photo.jpg   # org or noisy, by sigma

Modes (degraded_cnn/vocabulary/modes.py): org (clean images), jpg / noisy (degraded images,
image only), est_qf / est_nl (degraded images + the parameter estimated by the frozen
weights/estimator_<deg>.keras), known_qf / known_nl (degraded images + the true parameter), and
the placebo controls shuffled_qf / shuffled_nl (degraded images + a parameter drawn
independently of the image); beyond the paper, aux_qf / aux_nl (image only, trained with a
second head that regresses the level) and their placebos aux_shuffled_qf / aux_shuffled_nl.
The network is degraded_cnn/models/classifier.py, its training
degraded_cnn/training/classifier.py, its use degraded_cnn/predict/classification.py.

The default network is the full-size one (features 64/128/256, dense 1024), meant for a GPU. On a
CPU use a narrower one: `--recipe cpu` (degraded_cnn/vocabulary/recipes.py) sets the flags of the
shipped networks.
"""
import argparse

from degraded_cnn import cli, paths
from degraded_cnn.vocabulary import recipes
from degraded_cnn.vocabulary.modes import MODES

# classifier.py's flags that are not arguments of training.classifier.train.
NOT_TRAINING = ("recipe", "predict", "param", "gate", "rotation", "shift", "zoom", "shear",
                "no_flip", "output", "verbose")


def train(args):
    from degraded_cnn.training import classifier
    from degraded_cnn.training.batches import Augmentation
    # A flag left at None takes train's default (the dataset, the validation fraction).
    options = {key: value for key, value in vars(args).items()
               if key not in NOT_TRAINING and value is not None}
    classifier.train(augmentation=Augmentation(args.rotation, args.shift, args.zoom, args.shear,
                                               not args.no_flip), **options)


def predict(args):
    """Classify the photos of --predict; the exit status (2 if any photo failed)."""
    cli.import_backend(args.verbose)
    from degraded_cnn.predict import classification
    where = dict(dataset=args.dataset, weights_dir=args.weights_dir,
                 estimator_dir=args.estimator_dir)
    if args.gate:
        classification.classify_gated_files(args.predict, args.mode, **where)
        return 0
    return classification.classify_files(args.predict, args.mode, param=args.param,
                                         seed=args.seed, output=args.output, **where)


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
                        "degraded_cnn/vocabulary/recipes.py (default paper)")
    parser.add_argument("--dataset", help="cifar10 (the default for training; --predict "
                        f"without it uses the shipped {paths.PREDICT_DATASET} networks), cifar100, "
                        "mnist, "
                        "fashion_mnist, an .npz or a folder with train/ and test/; also names "
                        "the weights (the file stem for an .npz or folder)")
    parser.add_argument("--weights-dir", default=str(paths.WEIGHTS_DIR),
                        help="where the classifiers and estimators live (default: the shipped "
                        "weights/)")
    parser.add_argument("--estimator-dir", help="where the estimator of the est_* modes lives, "
                        "if not in --weights-dir (several seeds' folders share one estimator)")
    parser.add_argument("--predict", nargs="+", metavar="PHOTO",
                        help="classify these photos instead of training: files, folders "
                        "(searched recursively) or quoted patterns ('photos/*.jpg')")
    parser.add_argument("--output", metavar="FILE",
                        help="with --predict: one row per photo in this .csv or .json (path, "
                        "width, height, parameter, class_k and p_k of the top classes, error)")
    cli.add_verbose_flag(parser)
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
                            f"layers {recipes.DENSE_PER_WIDTH}x (the paper's {recipes.FULL_WIDTH}: "
                            "64/128/256, 1024)")
    group.add_argument("--parameter-join", choices=recipes.JOINS, default="dense",
                       help="where the parameter enters a parameter-aware network: dense (the "
                       "paper: beside the image features, before the dense layers), input (a "
                       "constant extra image channel) or film (a gain and bias of each dense "
                       "feature); a saved network keeps its join (default dense)")
    group.add_argument("--dropout", type=float, help="before each dense layer")
    group.add_argument("--level-weight", type=float,
                       help="aux_* modes: the weight of the level's squared error (in [0, 1] "
                       "units) beside the cross-entropy in the training loss")
    group.add_argument("--spatial-dropout", type=float,
                       help="spatial dropout before the last block's convolutions, halved for "
                            "each earlier block")
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=int)
    group.add_argument("--batch-size", type=int)
    cli.add_learning_rate_flags(group, None, "cosine")
    group.add_argument("--warmup-epochs", type=float,
                       help="raise the rate linearly from 0 over this many epochs first")
    group.add_argument("--limit", type=int, help="use only the first N training images")
    group.add_argument("--val-fraction", type=float,
                       help="fraction of the training images that chooses the checkpoint "
                       "(default 0.1)")
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
    if args.output and not args.predict:
        parser.error("--output needs --predict")
    if args.predict:
        return cli.run(parser.prog, lambda: predict(args))
    cli.import_backend(args.verbose)
    return cli.run(parser.prog, lambda: train(args))


if __name__ == "__main__":
    raise SystemExit(main())
