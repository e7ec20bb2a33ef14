"""Keep the trainings that share a machine inside a time limit, in order of priority.

tools/gpu/run.sh starts every training of its grid at once. With a hard time limit, trainings
that cannot all finish would all be cut short. This watches their logs and, whenever one that
is still running would not reach its epoch budget by `--finish-by` at its recent speed, stops
the running training of lowest priority (the last one named), so that those left get the
machine's time. A stopped training's model is renamed `*.keras.dropped`, which evaluate.py
does not read: it is reported, never swept as if it had finished.

    python tools/gpu/triage.py --finish-by EPOCH_SECONDS MODEL [MODEL ...]   # first = keep
"""
import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from degraded_cnn.training import loop  # noqa: E402
from degraded_cnn.vocabulary.modes import MODES  # noqa: E402

POLL_SECONDS = 5
# The fewest epochs a speed is measured over (never the first, with the compilation), also
# after another training was stopped: the survivors speed up only once it has let go.
EPOCHS_MEASURED = 2


def process_pattern(model):
    """The command line of the classifier.py run that writes `model` (as reproduce.py makes
    it: --mode MODE ... --weights-dir FOLDER)."""
    mode = max((name for name in MODES if model.stem.endswith(f"_{name}")), key=len)
    return f"classifier.py --mode {mode} .*--weights-dir {model.parent}( |$)"


def is_running(model):
    return subprocess.run(["pgrep", "-f", process_pattern(model)],
                          capture_output=True).returncode == 0


class Watch:
    """The epochs of one training as they are logged, with the time each one was seen."""

    def __init__(self, model):
        self.model, self.seen = Path(model), []

    def poll(self, now):
        epochs = len(loop.read_log(loop.run_paths(self.model)[1]))
        if not self.seen or epochs > self.seen[-1][0]:
            self.seen.append((epochs, now))

    def projected_end(self, since):
        """When the budget would be reached at the speed of the epochs logged after `since`
        (after the first seen, which may include the compilation); None until that speed is
        measured over at least EPOCHS_MEASURED epochs."""
        progress = loop.unfinished(self.model)
        recent = [(epochs, at) for epochs, at in self.seen[1:] if at >= since]
        if progress is None or len(recent) < 2 or recent[-1][0] - recent[0][0] < EPOCHS_MEASURED:
            return None
        (first_epoch, first_at), (last_epoch, last_at) = recent[0], recent[-1]
        per_epoch = (last_at - first_at) / (last_epoch - first_epoch)
        return last_at + (progress[1] - last_epoch) * per_epoch


def dropped_path(model):
    """Where a stopped training's model is put, out of evaluate.py's sight."""
    return Path(model).with_suffix(".keras.dropped")


def drop(watch):
    subprocess.run(["pkill", "-f", process_pattern(watch.model)])
    if watch.model.is_file():
        watch.model.rename(dropped_path(watch.model))
    print(f"triage: stopped {watch.model} after {watch.seen[-1][0]} epoch(s)", flush=True)


def seconds_late(running, since, finish_by):
    """How long after `finish_by` the last of the `running` trainings would end, when one
    should be stopped for it: all have a speed measured since `since`, and more than one runs."""
    ends = [watch.projected_end(since) for watch in running]
    if len(running) < 2 or None in ends or max(ends) <= finish_by:
        return None
    return max(ends) - finish_by


def triage(models, finish_by):
    watches = [Watch(model) for model in models]
    last_decision = time.time()
    while time.time() < finish_by:
        now = time.time()
        running = [watch for watch in watches if is_running(watch.model)]
        if not running:
            return
        for watch in running:
            watch.poll(now)
        if (late := seconds_late(running, last_decision, finish_by)) is not None:
            print(f"triage: {len(running)} trainings would end {late:.0f} s late", flush=True)
            drop(running[-1])
            last_decision = time.time()
        time.sleep(POLL_SECONDS)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--finish-by", type=float, required=True,
                        help="the time (seconds since the epoch) every training kept must end by")
    parser.add_argument("models", nargs="+", type=Path,
                        help="the trainings' model files, the one to keep longest first")
    args = parser.parse_args(argv)
    triage(args.models, args.finish_by)


if __name__ == "__main__":
    main()
