"""The sweep: degrade the test set once per parameter value, estimate once, classify with
every network; its record per weights folder (SweepRecord) and the estimator's answers kept
between runs (EstimateCache). sweep_folders plans what a set of folders still needs
(plan_sweep) and runs it (run_sweep)."""
import hashlib
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from degraded_cnn import data, image_ops, paths
from degraded_cnn.evaluation.tables import NetworkKey, estimator_table, param_columns
from degraded_cnn.models.classifier import parameter_join
from degraded_cnn.models.inference import load_model
from degraded_cnn.predict import classification, estimation
from degraded_cnn.training import loop
from degraded_cnn.vocabulary import degradations
from degraded_cnn.vocabulary.modes import MODES


# The estimator is most of an est_* sweep's time (hours for 10,000 JPEG test images on a CPU):
# its answers so far are kept this often, and a rerun goes on from the last value kept.
CHECKPOINT_SECONDS = 120


# The random stream of a sweep's placebo parameters, beside the degradation's (seed, value).
PLACEBO_STREAM = 1


def degraded_test_set(images, degradation, value, seed):
    """The test set at one value (a (sigma, q) pair for mixed); the noise draw depends only on
    (seed, value), so any subset of values reproduces the full sweep's images."""
    rng = np.random.default_rng([seed, *value_key(value)])
    return image_ops.degrade(images, degradation, value, rng)


def value_key(value):
    """A value (or pair) as integers that seed its random draws: hundredths."""
    return [int(round(float(v) * 100)) for v in np.atleast_1d(value)]


def repeated(value, count):
    """One value (or pair) for each of `count` images: shape (count,) or (count, 2)."""
    return np.repeat(np.asarray(value, np.float64)[None], count, axis=0)


def placebo_parameters(degradation, count, seed, value=0):
    """The parameters that the shuffled_* networks are told at one value of a sweep: drawn from
    the training distribution, independent of the images, and the same in every run of the
    sweep. The clean images get value 0's, so that noise sigma 0 and clean agree."""
    return degradations.random_params(degradation, count, np.random.default_rng(
        [seed, *value_key(value), PLACEBO_STREAM]))


def sweep(images, labels, degradation, values, networks, estimator_model, seed, batch_size,
          fixed=None, estimates=None, checkpoint=None):
    """Return correct[name] (values x images booleans), estimates (values x images, x 2 for
    mixed) and timings.
    `estimates`: the estimator's answers from an earlier run (EstimateCache); `estimator_model`
    fills only its rows that hold NaN, and `checkpoint(estimates)` is called every
    CHECKPOINT_SECONDS while it does. `fixed`: see classify."""
    correct = {name: np.zeros((len(values), len(images)), bool) for name in networks}
    if estimates is None:
        estimates = np.full((len(values), len(images), *np.shape(values)[1:]), np.nan)
    timings = {"degrade (waited)": 0.0, "estimate": 0.0, "classify": 0.0}
    with ThreadPoolExecutor(1) as prefetch:  # degrade the next value while this one is classified
        start = last_checkpoint = time.perf_counter()
        pending = prefetch.submit(degraded_test_set, images, degradation, values[0], seed)
        for index, value in enumerate(values):
            tick = time.perf_counter()
            degraded = pending.result()
            if index + 1 < len(values):
                pending = prefetch.submit(degraded_test_set, images, degradation,
                                          values[index + 1], seed)
            timings["degrade (waited)"] += time.perf_counter() - tick
            if estimator_model is not None and np.isnan(estimates[index]).any():
                tick = time.perf_counter()
                estimates[index] = estimation.estimate(estimator_model, degraded, degradation)
                timings["estimate"] += time.perf_counter() - tick
                if checkpoint is not None and \
                        time.perf_counter() - last_checkpoint >= CHECKPOINT_SECONDS:
                    checkpoint(estimates)
                    last_checkpoint = time.perf_counter()
            tick = time.perf_counter()
            for name, right in classify(networks, degraded, labels, degradation, estimates[index],
                                        repeated(value, len(images)), batch_size, fixed,
                                        placebo_parameters(degradation, len(images), seed,
                                                           value)).items():
                correct[name][index] = right
            timings["classify"] += time.perf_counter() - tick
            progress(index + 1, len(values), degradations.value_text(degradation, value), correct,
                     start)
    timings["total"] = time.perf_counter() - start
    return correct, estimates, timings


def classify(networks, images, labels, degradation, estimates, true_params, batch_size,
             fixed=None, placebo=None):
    """Whether each network classifies each image right, each network given the parameter its
    mode wants: none, the estimates, the true values or the `placebo` ones. `fixed`: one value
    that every parameter-aware network gets instead, whatever the image (an ablation: a network
    that uses its parameter input loses accuracy when it is wrong)."""
    correct = {}
    for name, model in networks.items():
        parameter = MODES[network_mode(name)].source
        params = {"estimated": estimates, "true": true_params, "shuffled": placebo}.get(parameter)
        if fixed is not None and parameter != "none":
            params = np.full(len(images), fixed)
        probabilities = classification.predict_probabilities(model, images, params, degradation,
                                                             batch_size)
        correct[name] = probabilities.argmax(axis=1) == labels
    return correct


def clean_accuracy(images, labels, degradation, networks, estimates, batch_size, fixed=None,
                   seed=0):
    """Accuracy on the undegraded test images. est_* networks get `estimates`, the estimator's
    answer for each clean image; known_nl gets sigma = 0; known_qf is left out, since a clean
    image has no q."""
    clean = degradations.get_degradation(degradation).clean
    networks = {name: model for name, model in networks.items()
                if not (MODES[network_mode(name)].told_truth and clean is None)}
    correct = classify(networks, images, labels, degradation, estimates,
                       np.full(len(images), clean if clean is not None else np.nan),
                       batch_size, fixed, placebo_parameters(degradation, len(images), seed))
    return {name: float(right.mean()) for name, right in correct.items()}


def network_mode(key):
    """Networks are keyed by their NetworkKey, or by their mode alone."""
    return key if isinstance(key, str) else key.mode


def progress(done, total, value, correct, start):
    """One line per value swept: `value` as text, each mode's accuracy (mean over seeds)."""
    by_mode = {}
    for key, c in correct.items():  # a seed study prints each mode's mean over seeds
        by_mode.setdefault(network_mode(key), []).append(c[done - 1].mean())
    accuracies = "  ".join(f"{mode} {np.mean(a):.3f}" for mode, a in by_mode.items())
    elapsed = time.perf_counter() - start
    print(f"[{done:3d}/{total}] {elapsed:6.1f}s  value {value}: {accuracies}", flush=True)


def needs_estimator(networks):
    return any(MODES[network_mode(n)].needs_estimator for n in networks)


class SweepRecord:
    """<folder>/sweep_<dataset>_<degradation>_<conditions>.npz: what a sweep found for each
    network of one weights folder (which test images it classifies right at each value, its
    clean accuracy and its join), with the SHA-256 of its weights file, and the estimator's
    mean and SD at each value. <conditions> is a digest of the test images, values, noise seed
    and fixed parameter, so that a run with --params, --limit or --fixed-parameter keeps its own
    record; an est_* result and the estimator's table also keep the digest of the estimator's
    file, and are redone when that changes.

    A seed's networks (5 MB each) are not committed, but its record (tens of KB) is: a later
    seed study reuses a result while the conditions match and the weights file is absent or
    unchanged, so seeds trained at different times add up, and a study that gains a seed
    classifies only the new seed's networks."""

    def __init__(self, folder, dataset_name, degradation, condition):
        self.path = paths.sweep_record_path(folder, dataset_name, degradation, condition["id"])
        self.condition, self.degradation = condition, degradation
        self.saved = dict(np.load(self.path, allow_pickle=False)) if self.path.is_file() else {}

    @staticmethod
    def condition(images, labels, values, seed, fixed, estimator_file):
        digest = hashlib.sha256()
        for part in (np.ascontiguousarray(images), np.asarray(labels, np.int64),
                     np.asarray(values, np.float64), np.array([seed, np.nan if fixed is None
                                                               else fixed], np.float64)):
            digest.update(part.tobytes())
        return {"id": digest.hexdigest()[:12], "values": np.asarray(values, np.float64),
                "estimator": file_digest(estimator_file) if estimator_file else ""}

    def matches(self, mode):
        if f"{mode}.correct" not in self.saved:
            return False
        return not MODES[mode].needs_estimator or \
            str(self.saved[f"{mode}.estimator"]) == self.condition["estimator"]

    def result(self, mode, weights_file):
        """(correct (values x images), clean accuracy or None, join) if still valid, else None."""
        if not self.matches(mode):
            return None
        if Path(weights_file).is_file() and file_digest(weights_file) != str(
                self.saved[f"{mode}.weights"]):
            return None
        count = len(self.condition["values"]), int(self.saved[f"{mode}.images"])
        correct = np.unpackbits(self.saved[f"{mode}.correct"])[:count[0] * count[1]]
        clean = float(self.saved[f"{mode}.clean"])
        join = str(self.saved[f"{mode}.join"]) or None
        return correct.reshape(count).astype(bool), None if np.isnan(clean) else clean, join

    def estimator_table(self):
        """The estimator's table (estimator_table) of this sweep, if kept for this estimator."""
        if "estimator.digest" not in self.saved or \
                str(self.saved["estimator.digest"]) != self.condition["estimator"]:
            return None
        table = pd.DataFrame(param_columns(self.degradation, self.condition["values"]))
        for key, column in self.saved.items():
            if key.startswith("estimator.") and key != "estimator.digest":
                table[key.removeprefix("estimator.")] = column
        return table

    def save(self, results, estimates=None):
        """Add {mode: (correct, clean accuracy or None, join, weights file)} and the estimator's
        table if given, and write."""
        if not results and estimates is None:
            return
        arrays = {key: value for key, value in self.saved.items()
                  if key.startswith("estimator.") or self.matches(key.split(".")[0])}
        if estimates is not None:
            arrays = {key: value for key, value in arrays.items()
                      if not key.startswith("estimator.")}
            arrays.update({f"estimator.{column}": estimates[column].to_numpy()
                           for column in estimates if not column.startswith("param")})
            arrays["estimator.digest"] = self.condition["estimator"]
        for mode, (correct, clean, join, weights_file) in results.items():
            arrays[f"{mode}.correct"] = np.packbits(correct)
            arrays[f"{mode}.images"] = correct.shape[1]
            arrays[f"{mode}.clean"] = np.nan if clean is None else clean
            arrays[f"{mode}.join"] = join or ""
            arrays[f"{mode}.weights"] = file_digest(weights_file)
            arrays[f"{mode}.estimator"] = self.condition["estimator"] \
                if MODES[mode].needs_estimator else ""
        # Written again with the same contents, a committed record would still change bytes
        # (the archive's timestamps), so it is written only when something is new.
        if not same_arrays(arrays, self.saved):
            data.save_npz(self.path, **arrays)
            self.saved = arrays


def same_arrays(first, second):
    """Whether two {name: array} dicts hold the same names, and arrays of the same dtype, shape
    and bytes (so NaN equals NaN, as it must for a record's missing clean accuracy)."""
    def same(a, b):
        a, b = np.asarray(a), np.asarray(b)
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    return first.keys() == second.keys() and all(same(first[key], second[key]) for key in first)


def file_digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class EstimateCache:
    """The estimator's answer for every image of a sweep (values x images) and for the clean
    images, kept between runs outside the repository (paths.cache_dir). Every seed of an est_*
    network sees the same degraded images and the same estimator, so a seed study that gains a
    seed only classifies: the estimator is most of an est_* sweep's time. Keyed by the sweep's
    conditions (SweepRecord.condition: test images, values, noise seed) and the estimator
    file's digest. Unlike a SweepRecord it is not committed: 0.2 MB for the subset's noise
    sweep and 0.5 MB for its JPEG sweep, 2.2 MB for the noise sweep of 10,000 test images.
    An interrupted sweep leaves the values it reached (the others NaN), and the next run
    estimates only the rest."""

    def __init__(self, condition):
        folder = paths.cache_dir()
        self.path = None if folder is None or not condition["estimator"] else \
            folder / f"estimates-{condition['id']}-{condition['estimator'][:16]}.npz"
        self.value_count = len(condition["values"])

    def load(self, image_count):
        """(sweep estimates, clean estimates), NaN where not yet estimated, or None where there
        are none for these conditions."""
        if self.path is None or not self.path.is_file():
            return None
        with np.load(self.path) as kept:
            swept, clean = kept["sweep"], kept["clean"]
        if swept.shape[:2] != (self.value_count, image_count) or len(clean) != image_count:
            return None
        return swept, clean

    def save(self, swept, clean=None):
        """Keep the answers so far; `clean` None: not yet estimated."""
        if self.path is not None:
            data.save_to_cache(self.path, sweep=swept, clean=np.full(swept.shape[1], np.nan)
                               if clean is None else clean)

    @staticmethod
    def values_done(kept):
        return 0 if kept is None else int((~np.isnan(kept[0]).any(axis=1)).sum())

    @staticmethod
    def complete(kept):
        return kept is not None and not (np.isnan(kept[0]).any() or np.isnan(kept[1]).any())


@dataclass
class SweepPlan:
    """What a sweep of several weights folders still has to do: the networks to classify, and
    what their records already answer (correct and clean accuracy by NetworkKey)."""
    folders: list
    dataset_name: str
    degradation: str
    seed: int                # of the test images' noise and the placebo draws
    fixed: float | None      # --fixed-parameter: the value every parameter-aware network gets
    records: dict            # fixed parameter (or None) -> one SweepRecord per folder
    estimator_file: Path | None
    missing_estimator: Exception | None
    correct: dict = field(default_factory=dict)
    clean: dict = field(default_factory=dict)
    joins: dict = field(default_factory=dict)
    networks: dict = field(default_factory=dict)   # NetworkKey -> model, to classify
    table: object = None     # the estimator's table, where a record holds it
    want_table: bool = False
    run_estimator: bool = False

    def record(self, key, fixed):
        """The record that keeps `key`'s result: an image-only network keeps (and reuses) the
        record of the plain sweep in a --fixed-parameter ablation."""
        return self.records[fixed if MODES[key.mode].has_parameter else None][
            key.folder]


def plan_sweep(folders, dataset_name, images, labels, values, modes, *, degradation, seed=0,
               fixed_parameter=None, estimator_dir=None, with_estimator=False):
    """Find, for the networks (of `modes`) of every folder, what their SweepRecords answer and
    which must be classified; warn of networks in training or missing (the paper's only)."""
    estimator_file, missing_estimator = None, None
    try:
        estimator_file = estimation.find_estimator(degradation, estimator_dir or folders[0],
                                                   images.shape[-1])
    except data.DataError as error:
        missing_estimator = error  # an error only if the estimator must run
    # A --fixed-parameter ablation changes only what the parameter-aware networks see.
    records = {fixed: [SweepRecord(folder, dataset_name, degradation, SweepRecord.condition(
        images, labels, values, seed, fixed, estimator_file)) for folder in folders]
        for fixed in {fixed_parameter, None}}
    plan = SweepPlan(list(folders), dataset_name, degradation, seed, fixed_parameter, records,
                     estimator_file, missing_estimator)
    for index, folder in enumerate(folders):
        for mode in modes:
            key = NetworkKey(index, mode)
            path = paths.classifier_path(dataset_name, mode, folder)
            if path.is_file() and (progress := loop.unfinished(path)):
                warnings.warn(f"{mode} at {path} is still in training or was stopped (epoch "
                              f"{progress[0]} of {progress[1]}): skipped; finish it with the "
                              "command that started it, or delete its backup folder ("
                              f"{loop.run_paths(path)[0]}) to evaluate it as it is",
                              stacklevel=3)
                continue
            kept = plan.record(key, fixed_parameter).result(mode, path)
            if kept is not None:
                plan.correct[key], accuracy, plan.joins[key] = kept
                if accuracy is not None:
                    plan.clean[key] = accuracy
            elif path.is_file():
                plan.networks[key] = classification.load_classifier(dataset_name, mode, folder)
                plan.joins[key] = parameter_join(plan.networks[key])
            elif not MODES[mode].control:  # swept only where trained
                warnings.warn(f"no {mode} network at {path}, nor a sweep record of it: skipped",
                              stacklevel=3)
    if modes and not plan.joins:
        raise data.DataError(f"no classifier weights or sweep records for {dataset_name} in "
                             f"{', '.join(map(str, folders))}: train them with classifier.py, "
                             "or pass --estimator-only")
    plan.want_table = with_estimator and (not modes or needs_estimator(plan.joins))
    # Any folder's record will do: the table depends on the test images and the estimator only.
    tables = (record.estimator_table() for record in records[None]) if plan.want_table else ()
    plan.table = next((table for table in tables if table is not None), None)
    # A fixed parameter stands in for the estimates: the estimator runs only for its table.
    plan.run_estimator = (needs_estimator(plan.networks) and fixed_parameter is None) or (
        plan.want_table and plan.table is None)
    return plan


def run_sweep(plan, images, labels, values, batch_size=512):
    """Classify what `plan` left to do (and run the estimator where it must), add the results
    to the folders' records, and return (correct, clean, joins, the estimator's table or None)
    for every network of the plan."""
    print(f"{plan.dataset_name}: {len(images)} test images, {len(values)} {plan.degradation} "
          f"values, {len(plan.folders)} weights folder(s): {len(plan.correct)} network(s) from "
          f"sweep records, {len(plan.networks)} to classify"
          + (", the estimator to run" if plan.run_estimator else ""), flush=True)
    if not (plan.networks or plan.run_estimator):
        return plan.correct, plan.clean, plan.joins, plan.table
    cache = EstimateCache(plan.records[None][0].condition)
    cached = cache.load(len(images)) if plan.run_estimator else None
    estimates, clean_estimates = cached or (None, None)
    estimator_model = None
    if plan.run_estimator and not cache.complete(cached):
        if plan.missing_estimator is not None:
            raise plan.missing_estimator
        estimator_model = load_model(plan.estimator_file)
        if cached is not None:
            print(f"resuming the estimator: {cache.values_done(cached)} of {len(values)} "
                  f"values kept in {cache.path}", flush=True)
    elif plan.run_estimator:
        print(f"the estimator's answers from {cache.path}", flush=True)
    swept, timings = {}, None
    if plan.networks or estimator_model is not None:
        swept, estimates, timings = sweep(images, labels, plan.degradation, values,
                                          plan.networks, estimator_model, plan.seed,
                                          batch_size, plan.fixed, estimates,
                                          checkpoint=cache.save)
    if estimator_model is not None:
        clean_estimates = estimation.estimate(estimator_model, images, plan.degradation)
        cache.save(estimates, clean_estimates)
    swept_clean = clean_accuracy(images, labels, plan.degradation, plan.networks,
                                 clean_estimates, batch_size, plan.fixed,
                                 plan.seed) if plan.networks else {}
    if plan.run_estimator:
        plan.table = estimator_table(values, estimates, plan.degradation)
    save_results(plan, swept, swept_clean)
    plan.correct.update(swept)
    plan.clean.update(swept_clean)
    if timings is not None:
        report_timings(timings, len(images) * len(values), len(plan.networks))
    return plan.correct, plan.clean, plan.joins, plan.table if plan.want_table else None


def save_results(plan, swept, swept_clean):
    """Add what was classified to each folder's records; the estimator's table goes where it is
    read back, the first folder's plain record."""
    table_record = plan.records[None][0] if plan.run_estimator else None
    for folder_records in plan.records.values():
        for index, (folder, kept) in enumerate(zip(plan.folders, folder_records)):
            kept.save({key.mode: (swept[key], swept_clean.get(key), plan.joins[key],
                                  paths.classifier_path(plan.dataset_name, key.mode, folder))
                       for key in swept
                       if key.folder == index and plan.record(key, plan.fixed) is kept},
                      plan.table if kept is table_record else None)


def sweep_folders(folders, dataset_name, images, labels, values, modes, *, degradation, seed=0,
                  fixed_parameter=None, estimator_dir=None, batch_size=512,
                  with_estimator=False):
    """Sweep the networks (of `modes`) of every folder on the same degraded images, the
    estimator once per value, reusing each folder's SweepRecord where it holds and adding to it
    what was classified. Returns correct and clean accuracy keyed by NetworkKey (folder index,
    mode), the joins, and `with_estimator` the estimator's table (estimator_table) when there
    is an est_* network or nothing else (--estimator-only), else None."""
    plan = plan_sweep(folders, dataset_name, images, labels, values, modes,
                      degradation=degradation, seed=seed, fixed_parameter=fixed_parameter,
                      estimator_dir=estimator_dir, with_estimator=with_estimator)
    return run_sweep(plan, images, labels, values, batch_size)


def report_timings(timings, images_swept, network_count):
    total = timings["total"]
    classified = images_swept * network_count
    print(f"sweep: {total:.1f}s for {images_swept} degraded images; " + ", ".join(
        f"{k} {v:.1f}s" for k, v in timings.items() if k != "total"))
    if classified:
        print(f"classification: {classified / timings['classify']:.0f} images/s inside the sweep;"
              f" whole sweep {classified / total:.0f} network-images/s")
