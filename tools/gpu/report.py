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
import classifier  # noqa: E402
import data  # noqa: E402
import training  # noqa: E402
import triage  # noqa: E402


def training_images(dataset, limit=None):
    """The images one epoch trains on: the training set (or its first `limit`) less the
    validation split."""
    count = limit or len(data.load_dataset(dataset).x_train)
    fraction = classifier.build_parser().get_default("val_fraction")
    return count - classifier.held_out(count, fraction)


def report(weights_dir, dataset, modes, limit=None):
    name = data.dataset_name(dataset)
    images = training_images(dataset, limit)
    for mode in modes:
        network = classifier.weights_path(name, mode, weights_dir)
        backup, log = training.run_paths(network)
        epochs = len(training.read_log(log))
        seconds_file = Path(weights_dir) / f"{name}_{mode}.seconds"
        seconds = int(seconds_file.read_text()) if seconds_file.is_file() else None
        speed = f", {epochs * images / seconds:.0f} training images/s over its {seconds} s" \
            if seconds else ""
        cut = training.unfinished(network)
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
