"""Where every file of the project lives, named in one place: the shipped weights, the networks
and their logs, class names, gates, sweep records, and the cache outside the work tree.

Paths are found from the package, not from the working directory, so every script and the
Python API work from any folder. The weights folder is the project's `weights/` beside this
package (a clone, or an editable install of one), else the copy of the shipped networks that
`pip install .` puts in <prefix>/share/degraded-cnn/weights; $DEGRADED_CNN_WEIGHTS points
elsewhere.
"""
import os
import sys
from pathlib import Path

# The project: the folder that holds this package (a clone, or an editable install of one).
ROOT = Path(__file__).resolve().parent.parent
INSTALLED_WEIGHTS = Path(sys.prefix) / "share" / "degraded-cnn" / "weights"


def _weights_dir():
    if "DEGRADED_CNN_WEIGHTS" in os.environ:
        return Path(os.environ["DEGRADED_CNN_WEIGHTS"])
    beside = ROOT / "weights"
    return beside if beside.is_dir() or not INSTALLED_WEIGHTS.is_dir() else INSTALLED_WEIGHTS


WEIGHTS_DIR = _weights_dir()
SHARED_DATA = ROOT.parent / "shared" / "data"
# --predict without --dataset uses the best networks that ship: trained on all 50,000 CIFAR-10
# training images (stored as JPEG quality 75).
PREDICT_DATASET = "cifar10-q75"
# The cache's subfolder of training backups (training/loop.py).
BACKUPS = "backups"


def cache_dir():
    """Where what is slow to remake is kept between runs, outside the repository (decoded
    folder datasets, evaluate.py's per-image estimates, training backups):
    $DEGRADED_CNN_CACHE, else ~/.cache/degraded-cnn; None when that is "off"."""
    setting = os.environ.get("DEGRADED_CNN_CACHE", str(Path.home() / ".cache" / "degraded-cnn"))
    return None if setting == "off" else Path(setting)


def classifier_path(dataset_name, mode, weights_dir=WEIGHTS_DIR):
    """The network of `mode` trained on `dataset_name` (data.dataset_name)."""
    return Path(weights_dir) / f"classifier_{dataset_name}_{mode}.keras"


def trained_datasets(mode, weights_dir=WEIGHTS_DIR):
    """The dataset names that have a network of `mode` in `weights_dir`."""
    prefix, suffix = classifier_path("*", mode, weights_dir).name.split("*")
    return sorted(found.name[len(prefix):-len(suffix)]
                  for found in Path(weights_dir).glob(f"{prefix}*{suffix}"))


def class_names_path(dataset_name, weights_dir=WEIGHTS_DIR):
    """Class names, one a line, written beside the weights so --predict needs no dataset."""
    return Path(weights_dir) / f"classifier_{dataset_name}.classes.txt"


def estimator_path(degradation, weights_dir=WEIGHTS_DIR, channels=3):
    """The estimator of `degradation` for images of `channels`: an RGB one
    (estimator_<degradation>.keras) or a grayscale one (estimator_<degradation>_gray.keras)."""
    suffix = "_gray" if channels == 1 else ""
    return Path(weights_dir) / f"estimator_{degradation}{suffix}.keras"


def log_path(model_path):
    """The CSV log, one row per epoch, of the run that writes `model_path`."""
    return Path(model_path).with_suffix(".log.csv")


def gate_path(dataset_name, degradation, weights_dir):
    """The gate (evaluate.py --gate) of the networks of `dataset_name` in `weights_dir`."""
    return Path(weights_dir) / f"gate_{dataset_name}_{degradation}.json"


def sweep_record_path(folder, dataset_name, degradation, condition_id):
    """What a sweep found for the networks of one weights folder (evaluation/sweeps.py)."""
    return Path(folder) / f"sweep_{dataset_name}_{degradation}_{condition_id}.npz"


def seed_folder(weights, seed):
    """The networks of one seed of a seed study: <weights>/seed<k>/."""
    return Path(weights) / f"seed{seed}"
