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
from degraded_cnn.vocabulary.degradations import DEGRADATIONS, units

PROG = "estimator.py"
# estimator.py's flags that are not arguments of training.estimator.train.
NOT_TRAINING = ("predict", "map", "train_dir", "output", "max_pixels", "verbose")


def predict_files(inputs, degradation, weights_dir, map_path=None, output=None, max_pixels=None,
                  verbose=False):
    """Estimate every photo that `inputs` names (files, folders, patterns): one line per photo
    on stdout ("photo.jpg<TAB>34.25", or "sigma 10.20  q 34.25" for mixed, then the file's own
    q and any note), a row per photo in `output` (.csv or .json), a heat map per photo in the
    folder `map_path` (or, as before, at the image file name `map_path`). A photo that cannot
    be read gets its error in its row and on stderr, and the others go on; returns the exit
    status, 2 if any failed."""
    from degraded_cnn.predict import photos
    photos.check_writable(output)
    check_shipped(degradation, weights_dir)
    cli.import_backend(verbose)
    from degraded_cnn.predict import estimation
    models = {}

    def load_model(channels):
        if channels not in models:
            models[channels] = estimation.load_estimator(degradation, weights_dir, channels)
        return models[channels]

    load_model(3)  # a missing estimator is one error for the run, not one for every photo
    found = photos.expand(inputs)
    progress, rows, failed = photos.Progress(len(found)), [], 0
    for done, (path, error) in enumerate(found, 1):
        progress.show(done, path)
        row = {"path": str(path), "error": error}
        try:
            if error is None:
                row, estimate, image = photos.estimate_file(
                    path, degradation, load_model, keep_map=map_path is not None,
                    max_pixels=max_pixels)
                if map_path is not None:
                    save_map(map_path, path, image, estimate, degradation, len(found))
        except (ValueError, OSError) as problem:
            row = {"path": str(path), "error": str(problem)}
        rows.append(row)
        if row.get("error"):
            failed += 1
            photos.report_error(PROG, path, row["error"], progress)
        else:
            print(result_line(row, degradation), flush=True)
    progress.close()
    if output:
        photos.write_rows(rows, output, ["path", "width", "height", *units(degradation), "file_q",
                                         "file_q_exact", "share", "note", "error"])
        print(f"wrote {len(rows)} row(s) to {output}", file=sys.stderr)
    return cli.USER_ERROR if failed else 0


def result_line(row, degradation):
    """"photo.jpg<TAB>34.25" ("sigma 10.20  q 34.25" for mixed), then the file's q and notes."""
    names = units(degradation)
    value = f"{row[names[0]]:.2f}" if len(names) == 1 else \
        "  ".join(f"{name} {row[name]:.2f}" for name in names)
    extra = []
    if row.get("file_q") is not None:
        extra.append(f"file q {row['file_q']}" + ("" if row["file_q_exact"] else
                                                  " (custom tables: nearest)"))
    if row["share"] < 1:
        extra.append(f"read {row['share']:.0%} of the pixels (--max-pixels)")
    if row["note"]:
        extra.append(row["note"])
    return "\t".join([row["path"], value, *extra])


def save_map(map_path, path, image, estimate, degradation, count):
    """The heat map of one photo: in the folder `map_path`, or at the image file name
    `map_path` (its stem suffixed by the photo's when there are several photos)."""
    from degraded_cnn.predict.heat_map import save_heat_map
    target = Path(map_path)
    if target.suffix.lower() not in (".png", ".jpg", ".jpeg", ".pdf", ".svg"):
        target = target / f"{Path(path).stem}_map.png"
    elif count > 1:
        target = target.with_stem(f"{target.stem}_{Path(path).stem}")
    save_heat_map(target, image, estimate.normalized_map, degradation, estimate.value,
                  announce=False)


def check_shipped(degradation, weights_dir):
    """A degradation with no estimator in the shipped weights folder says so plainly."""
    from degraded_cnn import data
    if Path(weights_dir) == paths.WEIGHTS_DIR and \
            not paths.estimator_path(degradation, weights_dir).is_file():
        raise data.DataError(f"no {degradation} estimator ships (none is in {weights_dir}); "
                             f"train one with `python estimator.py --degradation {degradation} "
                             "--train-dir FOLDER`")


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
    parser.add_argument("--predict", nargs="+", metavar="PHOTO",
                        help="estimate the parameter of these photos instead of training: files, "
                        "folders (searched recursively for image files) or quoted patterns "
                        "('photos/*.jpg'); a JPEG file's own q is read from its tables beside")
    parser.add_argument("--map", metavar="DIR",
                        help="with --predict: save each photo's per-pixel map as a heat map in "
                        "this folder (or at this .png, for one photo)")
    parser.add_argument("--output", metavar="FILE",
                        help="with --predict: write one row per photo to this .csv or .json "
                        "(path, width, height, the estimate, file_q, share, note, error)")
    parser.add_argument("--max-pixels", type=int, metavar="N",
                        help="with --predict: read an even sample of tiles of about N pixels "
                        "of each photo instead of all of them (faster; says so)")
    cli.add_verbose_flag(parser)
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
    if (args.output or args.max_pixels) and not args.predict:
        parser.error("--output and --max-pixels need --predict")
    if args.max_pixels and args.map:
        parser.error("--map draws the whole photo: leave out --max-pixels")
    if args.predict:
        return cli.run(parser.prog, lambda: predict_files(
            args.predict, args.degradation, args.weights_dir, args.map, args.output,
            args.max_pixels, args.verbose))
    cli.import_backend(args.verbose)
    return cli.run(parser.prog, lambda: train(args))


if __name__ == "__main__":
    raise SystemExit(main())
