"""The JPEG estimators on the images that estimator.py holds out of training: each held-out
image of the training folders, whole, saved at q = 10, 20, ..., 90 and estimated; the mean
absolute error per q and estimator, as a Markdown table.

    python tools/estimator_heldout.py --train-dir ../shared/data/urban100 ../shared/data/yang91 \\
        ../shared/data/general100 --estimators weights/estimator_jpeg.keras \\
        runs/estimator-three-sets/estimator_jpeg.keras

The held-out images are those of `estimator.py --train-dir` with the same folders, --seed and
--val-fraction (estimator.split_sources), so every estimator is scored on images that the one
trained on these folders never saw (an estimator trained on other folders may have seen them).
"""
import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the scripts and the package

import numpy as np  # noqa: E402

import estimator  # noqa: E402
from degraded_cnn import cli, data, image_ops  # noqa: E402
from degraded_cnn.evaluation.reports import write_text  # noqa: E402
from degraded_cnn.models.inference import load_model  # noqa: E402
from degraded_cnn.predict.estimation import estimate  # noqa: E402
from degraded_cnn.training.patches import split_sources  # noqa: E402

QUALITIES = tuple(range(10, 100, 10))


def heldout_images(folders, fraction, seed):
    sources = [data.load_clean_images(folder) for folder in folders]
    return split_sources(sources, fraction, seed)[1]


def absolute_errors(model, images, qualities=QUALITIES):
    """(qualities, images) absolute errors of the estimate of each whole image at each q (an
    image's versions at every q go through the estimator together)."""
    qualities = np.asarray(qualities, np.float64)
    return np.stack([np.abs(estimate(model, image_ops.jpeg(
        np.repeat(image[None], len(qualities), axis=0), qualities), "jpeg") - qualities)
        for image in images], axis=1)


def markdown(errors, names, image_count):
    lines = [f"Mean absolute error of the estimated q over {image_count} held-out images "
             "(whole images):", "", "| q | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(names)]
    for row, q in enumerate(QUALITIES):
        lines.append(f"| {q} | " + " | ".join(f"{e[row].mean():.2f}" for e in errors) + " |")
    lines.append("| all | " + " | ".join(f"{e.mean():.2f}" for e in errors) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    training_defaults = estimator.build_parser()  # the split of `estimator.py --train-dir`
    parser.add_argument("--train-dir", nargs="+", required=True, metavar="DIR")
    parser.add_argument("--estimators", nargs="+", required=True, metavar="MODEL")
    parser.add_argument("--val-fraction", type=float,
                        default=training_defaults.get_default("val_fraction"))
    parser.add_argument("--seed", type=int, default=training_defaults.get_default("seed"))
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args(argv)

    def run():
        # Every model first: a wrong path fails before the long work, not after it.
        models = [load_model(path) for path in args.estimators]
        images = heldout_images(args.train_dir, args.val_fraction, args.seed)
        errors = []
        for path, model in zip(args.estimators, models):
            print(f"{path}: {len(images)} images x {len(QUALITIES)} qualities", flush=True)
            errors.append(absolute_errors(model, images))
        text = markdown(errors, args.estimators, len(images))
        print(text, end="")
        if args.out:
            write_text(text, args.out)
    return cli.run(parser.prog, run)


if __name__ == "__main__":
    raise SystemExit(main())
