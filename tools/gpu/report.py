"""Report the trainings of tools/gpu/run.sh, and end those its time limit cut short.

For each network: epochs logged of its budget (the --epochs it was started with, which the run
records), and the training images per second it reached while it shared the machine with the
others (its own wall time, start-up included). A network cut short by the time limit is ended
where it is: its backup goes, so evaluate.py takes it at its best epoch instead of skipping it
as a run still in training.

    python tools/gpu/report.py WEIGHTS_DIR DATASET [--limit N] --modes noisy known_nl est_nl
"""
import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when loaded by path (tests)
import triage  # noqa: E402
from degraded_cnn import data, paths  # noqa: E402
from degraded_cnn.training import loop  # noqa: E402
from degraded_cnn.training.batches import held_out  # noqa: E402
from degraded_cnn.training.classifier import VALIDATION_FRACTION  # noqa: E402


def training_images(dataset, limit=None):
    """The images one epoch trains on: the training set (or its first `limit`) less the
    validation split."""
    count = limit or len(data.load_dataset(dataset).x_train)
    return count - held_out(count, VALIDATION_FRACTION)


def report(weights_dir, dataset, modes, limit=None):
    name = data.dataset_name(dataset)
    images = training_images(dataset, limit)
    for mode in modes:
        network = paths.classifier_path(name, mode, weights_dir)
        backup, log = loop.run_paths(network)
        epochs = len(loop.read_log(log))
        seconds_file = Path(weights_dir) / f"{name}_{mode}.seconds"
        seconds = int(seconds_file.read_text()) if seconds_file.is_file() else None
        speed = f", {epochs * images / seconds:.0f} training images/s over its {seconds} s" \
            if seconds else ""
        cut = loop.unfinished(network)
        budget = f"of {cut[1]} " if cut else ""
        if triage.dropped_path(network).is_file():
            end = ", stopped to let the others finish (tools/gpu/triage.py): not evaluated"
        else:
            end = ", cut short: evaluated at its best epoch" if cut else ""
        print(f"{name} {mode}: {epochs} {budget}epochs{speed}{end}")
        if cut and network.exists():
            shutil.rmtree(backup)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights_dir")
    parser.add_argument("dataset", help="the training set, as given to classifier.py")
    parser.add_argument("--modes", nargs="+", required=True)
    parser.add_argument("--limit", type=int, help="the --limit the trainings had")
    args = parser.parse_args(argv)
    report(args.weights_dir, args.dataset, args.modes, args.limit)


if __name__ == "__main__":
    main()
