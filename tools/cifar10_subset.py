"""Build cifar10-subset.npz, the real CIFAR-10 subset that this project's tables use, from
keras.datasets.cifar10 (which downloads CIFAR-10 once, 163 MB):

    python tools/cifar10_subset.py                       # writes cifar10-subset.npz here
    python tools/cifar10_subset.py --out ../shared/data/cifar10-subset.npz

The subset is the first 1017 images of each of the six files of CIFAR-10's python version
(data_batch_1..5 for training: 5085 images; test_batch: 1017), with their labels and the class
names, in the layout of Keras' mnist.npz (x_train, y_train, x_test, y_test; uint8) plus
class_names. keras.datasets.cifar10 concatenates data_batch_1..5 in order, so batch k's first
images are x_train[10000 (k - 1):][:1017].
"""
import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the scripts and the package

import keras  # noqa: E402
import numpy as np  # noqa: E402

from degraded_cnn import data  # noqa: E402

PER_BATCH = 1017          # images kept of each of the six batch files
BATCH_SIZE = 10000        # images in each of CIFAR-10's five training batch files
TRAINING_BATCHES = 5


def subset(x_train, y_train, x_test, y_test, per_batch=PER_BATCH):
    """The first `per_batch` images of each training batch file and of the test file."""
    chosen = np.concatenate([np.arange(start, start + per_batch)
                             for start in range(0, TRAINING_BATCHES * BATCH_SIZE, BATCH_SIZE)])
    return {"x_train": x_train[chosen], "y_train": np.ravel(y_train)[chosen].astype(np.uint8),
            "x_test": x_test[:per_batch], "y_test": np.ravel(y_test)[:per_batch].astype(np.uint8),
            "class_names": np.array(data.CIFAR10_CLASSES)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="cifar10-subset.npz")
    parser.add_argument("--per-batch", type=int, default=PER_BATCH,
                        help=f"images kept of each batch file (default {PER_BATCH})")
    args = parser.parse_args(argv)
    (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    arrays = subset(x_train, y_train, x_test, y_test, args.per_batch)
    data.save_npz(args.out, **arrays)
    print(f"{args.out}: " + ", ".join(f"{key} {value.shape}" for key, value in arrays.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
