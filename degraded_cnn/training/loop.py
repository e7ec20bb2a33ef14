"""Resumable Keras training shared by estimator.py and classifier.py.

A run keeps, beside its final model `weights/<name>.keras`, a CSV log `weights/<name>.log.csv`
(one row of losses and metrics per epoch), and a backup in the cache folder
(`$DEGRADED_CNN_CACHE/backups/`, outside the work tree, keyed by the model's path in the
repository) that holds the last finished epoch (weights, optimizer state, epoch count) and
copies of the log and of the best model. The same command run again restores it, after Ctrl-C,
kill -9, `git clean -fdx` or in a new clone of the repository alike: a work tree's missing or
shorter log and missing model are restored from the backup's copies first. With the cache
"off" the backup stays beside the model (`weights/<name>.backup/`).
The backup also keeps the run's epoch budget (target.json), so that evaluate.py can tell a run
still in training (or stopped) from a finished one and leave it out of its tables.
The final model is the epoch with the best validation score, written atomically whenever it
improves, so an interrupted run still leaves its best model and never a half-written file.
Running again with a larger --epochs continues a finished run; --fresh starts over. A model
without its backup (as shipped in the repository) is never overwritten without --fresh, and a
run is only continued with the flags it was started with (kept in the backup's settings.json).
"""
import csv
import hashlib
import json
import math
import shutil
from pathlib import Path

import keras
import numpy as np

from degraded_cnn import data, paths
from degraded_cnn.models.inference import save_model


TARGET_FILE = "target.json"  # in the backup: the --epochs of the run's latest command
LOG_COPY, MODEL_COPY = "log.csv", "best.keras"  # in the backup: what a fresh clone lacks
# The training loss of a network that predicts the same probabilities for every image is
# ln(classes); this close to it (relative) for this many epochs, a run has likely died.
DEAD_LOSS_TOLERANCE, DEAD_LOSS_EPOCHS = 0.01, 3


def run_paths(output):
    """(backup folder, CSV log) of the run that writes `output`."""
    return backup_path(output), paths.log_path(output)


def backup_path(output):
    """Where the run writing `output` keeps its backup: in the cache folder, named after the
    model's path inside the repository (its absolute path elsewhere), so that any clone of the
    repository finds it; beside the model when the cache is off."""
    cache = paths.cache_dir()
    output = Path(output)
    if cache is None:
        return output.with_suffix(".backup")
    resolved = output.resolve()
    key = resolved.relative_to(paths.ROOT) if resolved.is_relative_to(paths.ROOT) else resolved
    digest = hashlib.sha256(key.as_posix().encode()).hexdigest()[:12]
    return cache / paths.BACKUPS / f"{output.stem}-{digest}.backup"


def restore_from_backup(output):
    """Bring back what a new checkout lacks: the log, where the backup's copy is longer, and
    the best model, where it is missing. An old backup beside the model is copied to
    backup_path."""
    output = Path(output)
    backup, log = run_paths(output)
    legacy = output.with_suffix(".backup")
    if legacy != backup and legacy.is_dir() and not backup.exists():
        # Copied, not moved: the shipped estimators' backups are part of the repository.
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(legacy, backup)
    if not backup.is_dir():
        return
    copy = backup / LOG_COPY
    if copy.is_file() and len(read_log(copy)) > len(read_log(log)):
        copy_atomically(copy, log)
        print(f"restored {log} from its backup ({len(read_log(log))} epoch(s))")
    if not output.exists() and (backup / MODEL_COPY).is_file():
        copy_atomically(backup / MODEL_COPY, output)
        print(f"restored {output} from its backup")


def copy_atomically(source, target):
    """Copy a file to a temporary name beside `target` and rename it into place."""
    with data.atomic_output(target) as temporary:
        shutil.copyfile(source, temporary)


class BestCheckpoint(keras.callbacks.Callback):
    """Save the model atomically whenever `monitor` improves. On a resumed run the best score so
    far is read back from the CSV log, so a worse epoch never overwrites a better model."""

    def __init__(self, path, log_path, monitor="val_loss", mode="min"):
        super().__init__()
        self.path, self.monitor = Path(path), monitor
        self.better = np.less if mode == "min" else np.greater
        self.best = previous_best(log_path, monitor, mode) if self.path.exists() else None

    def on_epoch_end(self, epoch, logs=None):
        score = (logs or {}).get(self.monitor)
        if score is None:
            return
        if self.best is None or self.better(score, self.best):
            self.best = float(score)
            save_model(self.model, self.path)
            backup = run_paths(self.path)[0]
            if backup.is_dir():
                copy_atomically(self.path, backup / MODEL_COPY)


class LogCopy(keras.callbacks.Callback):
    """Copy the CSV log into the backup after every epoch, for a new checkout to restore."""

    def __init__(self, log, backup):
        super().__init__()
        self.log, self.backup = Path(log), Path(backup)

    def on_epoch_end(self, epoch, logs=None):
        copy_atomically(self.log, self.backup / LOG_COPY)


class DeadRunWarning(keras.callbacks.Callback):
    """Warn, once, when the training loss has stayed within DEAD_LOSS_TOLERANCE of ln(classes)
    for DEAD_LOSS_EPOCHS epochs in a row: the network predicts the same for every image."""

    def __init__(self, classes, log=print):
        super().__init__()
        self.chance, self.log, self.streak, self.warned = math.log(classes), log, 0, False

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or self.warned:
            return
        near = abs(float(loss) - self.chance) <= DEAD_LOSS_TOLERANCE * self.chance
        self.streak = self.streak + 1 if near else 0
        if self.streak >= DEAD_LOSS_EPOCHS:
            self.warned = True
            self.log(f"warning: the training loss has been within {DEAD_LOSS_TOLERANCE:.0%} of "
                     f"ln({round(math.exp(self.chance))}) = {self.chance:.3f} for "
                     f"{self.streak} epochs (epoch {epoch + 1}: {float(loss):.3f}): the network "
                     "predicts the same for every image and has likely died; a learning-rate "
                     "warm-up (--warmup-epochs) usually prevents it")


def previous_best(log_path, monitor, mode):
    scores = [float(row[monitor]) for row in read_log(log_path) if row.get(monitor)]
    return (min if mode == "min" else max)(scores) if scores else None


def learning_rate(initial, decay, total_steps, warmup_steps=0):
    """The Adamax rate: constant (`decay` "none"), or cosine decay to 1% over `total_steps`
    ("cosine": large steps while far from a minimum, small ones to settle, so that the last
    epochs do not jump around it); with `warmup_steps`, it first rises linearly from 0 to
    `initial` over those steps. The schedule reads the optimizer's step count, which a resumed
    run restores."""
    if warmup_steps:
        # alpha 1 keeps the rate at `initial` after the warm-up: no decay.
        return keras.optimizers.schedules.CosineDecay(
            0.0, max(total_steps - warmup_steps, 1), alpha=0.01 if decay == "cosine" else 1.0,
            warmup_target=initial, warmup_steps=warmup_steps)
    if decay == "none":
        return initial
    return keras.optimizers.schedules.CosineDecay(initial, total_steps, alpha=0.01)


def is_trained(output, epochs):
    """True when `output` exists and its log records at least `epochs` epochs."""
    return Path(output).exists() and len(read_log(run_paths(output)[1])) >= epochs


def epochs_done(output, fresh=False):
    """Epochs that a run writing `output` has logged and will continue from (0 with --fresh)."""
    return 0 if fresh or is_orphan_log(output) else len(read_log(run_paths(output)[1]))


def unfinished(output):
    """(epochs logged, epoch budget) of a run at `output` that has a backup and has not reached
    its budget, else None. A model without a backup (shipped, or whose backup was deleted to
    keep it as it is) counts as finished, as does a backup from before budgets were recorded."""
    backup, log = run_paths(output)
    target = backup / TARGET_FILE
    if not target.is_file():
        return None
    done, budget = len(read_log(log)), json.loads(target.read_text())["epochs"]
    return (done, budget) if done < budget else None


def is_orphan_log(output):
    """A log whose model and backup are both missing: a record of weights that are not here (a
    seed's committed log in a fresh clone), which a new run replaces rather than continues."""
    backup, log = run_paths(output)
    return log.exists() and not Path(output).exists() and not backup.exists()


def read_log(log_path):
    if not Path(log_path).exists():
        return []
    with open(log_path, newline="") as handle:
        return list(csv.DictReader(handle))


def check_settings(output, settings):
    """Record the flags of a new run in its backup; refuse to continue a run with other ones.
    Its optimizer state and schedule belong to its flags: with another --lr-decay, for one, Keras
    silently drops the saved optimizer state and the run goes on from a fresh optimizer."""
    backup = run_paths(output)[0]
    path = backup / "settings.json"
    if path.exists():
        saved = json.loads(path.read_text())
        changed = [key for key, value in settings.items() if key in saved and saved[key] != value]
        if changed:
            def flags(values):
                return ", ".join(f"--{key.replace('_', '-')} {values[key]}" for key in changed)
            raise data.DataError(f"the run of {output} was started with {flags(saved)}; "
                                 f"this command has {flags(settings)}: continue it with its own "
                                 "flags, or pass --fresh to start over")
    elif not backup.exists():  # a new run (an older backup without the file is trusted)
        backup.mkdir(parents=True)
        with data.atomic_output(path) as temporary:
            Path(temporary).write_text(json.dumps(settings, indent=1, sort_keys=True) + "\n")


def record_budget(backup, epochs):
    Path(backup).mkdir(parents=True, exist_ok=True)
    with data.atomic_output(Path(backup) / TARGET_FILE) as temporary:
        Path(temporary).write_text(json.dumps({"epochs": epochs}) + "\n")


def fit_resumable(model, train, validation, output, epochs, monitor="val_loss", mode="min",
                  fresh=False, steps_per_epoch=None, callbacks=(), verbose="auto", settings=None):
    """Train `model` with resumption, a CSV log and an atomic best-model file at `output`.
    `train`: a PyDataset (or other batch source) or an (x, y) tuple of arrays. `settings`: the
    flags (name: value) that a resumed run must share with the run it continues."""
    backup, log = run_paths(output)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    if not fresh:
        restore_from_backup(output)
    orphan = is_orphan_log(output)
    if orphan and not fresh and (logged := len(read_log(log))):
        # Say so: a user who expected to resume (a backup lost with its cache folder) would
        # otherwise only notice that the epochs count from 1 again.
        print(f"{log} records {logged} epoch(s), but neither {output} nor its backup "
              f"{backup} is here: training starts again from epoch 1")
    if fresh or orphan:
        shutil.rmtree(backup, ignore_errors=True)
        shutil.rmtree(Path(output).with_suffix(".backup"), ignore_errors=True)
        log.unlink(missing_ok=True)
    done = len(read_log(log))
    if done >= epochs and Path(output).exists():
        if backup.is_dir():  # a smaller --epochs ends a stopped run where it is
            record_budget(backup, epochs)
        print(f"{output} is already trained for {done} epoch(s); nothing to do (a larger "
              "--epochs continues it, --fresh starts over)")
        return None
    if Path(output).exists() and not backup.exists() and not fresh:
        raise data.DataError(f"{output} exists ({done} epoch(s) logged) but {backup} is missing, "
                             f"so it cannot be continued; pass --fresh to train it again")
    if settings is not None:
        check_settings(output, settings)
    if done:
        print(f"resuming {output}: {done} epoch(s) already logged in {log}")
    record_budget(backup, epochs)
    # Log before backing up: a kill between the two repeats a row rather than losing one.
    callbacks = [keras.callbacks.CSVLogger(str(log), append=True),
                 BestCheckpoint(output, log, monitor, mode),
                 LogCopy(log, backup),
                 keras.callbacks.BackupAndRestore(str(backup), double_checkpoint=True,
                                                  delete_checkpoint=False),
                 *callbacks]
    x, y = train if isinstance(train, tuple) else (train, None)
    return model.fit(x, y, validation_data=validation, epochs=epochs,
                     steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=verbose)
