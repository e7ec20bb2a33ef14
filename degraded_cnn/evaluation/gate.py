"""Beyond the paper: the estimated level as a gate between two networks.

The network trained on clean images (org) leads on clean and lightly degraded images and
collapses under strong degradation, where the one trained on degraded images (noisy, jpg) holds.
The estimator knows the level, so it can say which network to trust: for each test image,

    p = g(level) p_org + (1 - g(level)) p_degraded,   g(level) = 1 / (1 + exp(-(level - m) / s)),

with the level estimated from the image. g is a logistic curve in the level, fitted on the
networks' own validation images (held out of their training, never the test set): two numbers,
which 500 validation images pin down, and a monotone weight, as the two networks' accuracy curves
cross once. It is fitted by the likelihood of the true class under the mixture (a grid over m
and s), which, unlike the accuracy, changes smoothly with the weight.

The gate is compared, per interval and over the seeds given (one weights folder each), with each
network alone, with the plain average of the two (the same cost, no gate) and with the average
of two seeds of the degraded network (an ensemble that knows no level), each gain with its
interval over seeds and test images (statistics.gain_interval). evaluate.py --gate runs it, and
keeps each weights folder's fitted curve beside its networks (gate_<dataset>_<degradation>.json)
for classifier.py --gate --predict, which classifies a user's images through it.
"""
from pathlib import Path

import numpy as np
import pandas as pd

from degraded_cnn import paths
from degraded_cnn.evaluation.statistics import gain_interval, paired_bootstrap
from degraded_cnn.evaluation.sweeps import EstimateCache, SweepRecord, degraded_test_set
from degraded_cnn.evaluation.reports import write_report
from degraded_cnn.evaluation.tables import INTERVALS, gain_text
from degraded_cnn.models.gate import Gate, save_gate
from degraded_cnn.models.inference import load_model
from degraded_cnn.predict import classification, estimation
from degraded_cnn.training.batches import split_validation
from degraded_cnn.training.classifier import VALIDATION_FRACTION, VALIDATION_SEED
from degraded_cnn.vocabulary import degradations
from degraded_cnn.vocabulary.modes import MODES, image_only_modes

# The levels, evenly over the range, at which every validation image is degraded for the fit.
VALIDATION_LEVELS = 11
# Validation images used for the fit at most (the first of the held-out split).
MAX_VALIDATION_IMAGES = 1000
# The fit's grid: midpoints over the range, and scales from 1/200 of the range to the range.
MIDPOINTS = 101
SCALES = 25
# The rows of the comparison, in the order of the tables.
METHODS = ("org", "degraded", "average", "degraded pair", "gate")


def true_class_probabilities(p_clean, p_degraded, labels):
    rows = np.arange(len(labels))
    return p_clean[rows, labels], p_degraded[rows, labels]


def fit_gate(levels, p_clean, p_degraded, labels, degradation):
    """The Gate that maximizes the mean log-probability of the true class under the mixture,
    over a grid of midpoints and signed scales across the degradation's range."""
    spec = degradations.get_degradation(degradation)
    span = spec.high - spec.low
    clean, degraded = true_class_probabilities(p_clean, p_degraded, np.asarray(labels))
    levels = np.asarray(levels, np.float64)
    best, best_score = None, -np.inf
    magnitudes = np.geomspace(span / 200, span, SCALES)
    for midpoint in np.linspace(spec.low, spec.high, MIDPOINTS):
        for scale in np.concatenate([-magnitudes, magnitudes]):
            weight = Gate(midpoint, scale).weight(levels)
            score = np.log(weight * clean + (1 - weight) * degraded + 1e-12).mean()
            if score > best_score:
                best, best_score = Gate(float(midpoint), float(scale)), score
    return best


def validation_images(dataset, limit=MAX_VALIDATION_IMAGES):
    """The training images that classifier.py holds out to choose the epoch (the same for
    every mode and seed): never trained on, and not the test images."""
    _, (images, labels) = split_validation(dataset.x_train, dataset.y_train,
                                           VALIDATION_FRACTION,
                                           VALIDATION_SEED)
    return images[:limit], labels[:limit]


def validation_levels(degradation):
    spec = degradations.get_degradation(degradation)
    levels = np.linspace(spec.low, spec.high, VALIDATION_LEVELS)
    return np.round(levels) if spec.integer else levels


def degraded_validation(images, labels, degradation, estimator_model, seed):
    """Every validation image at every level of validation_levels: (images, estimated levels,
    labels), stacked level after level."""
    degraded = [degraded_test_set(images, degradation, level, seed)
                for level in validation_levels(degradation)]
    stacked = np.concatenate(degraded)
    return (stacked, estimation.estimate(estimator_model, stacked, degradation),
            np.tile(labels, len(degraded)))


def fit_gates(pairs, validation, degradation, batch_size):
    """One Gate per seed: each pair of networks (clean, degraded) fitted on the validation set."""
    images, levels, labels = validation
    return [fit_gate(levels, classification.predict_probabilities(clean, images,
                                                                  batch_size=batch_size),
                     classification.predict_probabilities(degraded, images, batch_size=batch_size),
                     labels, degradation) for clean, degraded in pairs]


def sweep_gate(pairs, gates, images, labels, values, estimates, estimator_model, degradation,
               seed, batch_size):
    """correct[method]: (seeds, values, images) booleans of each method of METHODS. The
    degraded pair of seed k averages the degraded networks of seeds k and k + 1 (one seed: none).
    `estimates` (values x images) may come from the sweeps' EstimateCache: its rows that hold
    NaN are filled here by `estimator_model`, from the images degraded for the networks."""
    seeds = len(pairs)
    correct = {method: np.zeros((seeds, len(values), len(images)), bool) for method in METHODS}
    for index, value in enumerate(values):
        degraded_images = degraded_test_set(images, degradation, value, seed)
        if np.isnan(estimates[index]).any():
            estimates[index] = estimation.estimate(estimator_model, degraded_images, degradation)
        probabilities = [(classification.predict_probabilities(clean, degraded_images,
                                                               batch_size=batch_size),
                          classification.predict_probabilities(degraded, degraded_images,
                                                               batch_size=batch_size))
                         for clean, degraded in pairs]
        for k, ((p_clean, p_degraded), gate) in enumerate(zip(probabilities, gates)):
            mixed = {"org": p_clean, "degraded": p_degraded,
                     "average": (p_clean + p_degraded) / 2,
                     "gate": gate.mix(estimates[index], p_clean, p_degraded)}
            if seeds > 1:
                mixed["degraded pair"] = (p_degraded + probabilities[(k + 1) % seeds][1]) / 2
            for method, p in mixed.items():
                correct[method][k, index] = p.argmax(axis=1) == labels
        print(f"[{index + 1:3d}/{len(values)}] value {value:g}: " + "  ".join(
            f"{method} {correct[method][:, index].mean():.3f}" for method in METHODS
            if seeds > 1 or method != "degraded pair"), flush=True)
    if seeds < 2:
        del correct["degraded pair"]
    return correct


def gain_over(gate, other, rng):
    """The gate's gain over another method and its 95% interval, from (seeds, values, images)
    booleans: over seeds and test images (paired by seed: row k of every method comes from the
    networks of seed k), or with one seed over test images only (paired bootstrap)."""
    if len(gate) > 1:
        return gain_interval(gate.mean(axis=1), other.mean(axis=1), paired=True)
    low, high = paired_bootstrap(gate[0], other[0], rng)
    return float(gate.mean() - other.mean()), low, high


def gate_table(values, correct, degradation, seed=0):
    """Per interval and method: the mean and SD over seeds of the interval accuracy, and the
    gate's gain over the method with its 95% interval (gain_over)."""
    rng = np.random.default_rng(seed)
    rows = []
    for low, high in INTERVALS[degradation]:
        inside = (values >= low) & (values <= high)
        if not inside.any():
            continue
        for method, right in correct.items():
            seed_means = right[:, inside].mean(axis=(1, 2))
            row = {"interval": f"{low}-{high}", "method": method, "seeds": len(right),
                   "accuracy": seed_means.mean(),
                   "sd": seed_means.std(ddof=1) if len(right) > 1 else np.nan}
            gain, ci_low, ci_high = (np.nan,) * 3
            if method != "gate":
                gain, ci_low, ci_high = gain_over(correct["gate"][:, inside], right[:, inside],
                                                  rng)
            rows.append({**row, "gate_gain": gain, "gain_ci_low": ci_low,
                         "gain_ci_high": ci_high})
    return pd.DataFrame(rows)


def method_labels(degradation):
    clean, degraded = (MODES[mode].label for mode in image_only_modes(degradation))
    return {"org": clean, "degraded": degraded, "average": f"({clean} + {degraded}) / 2",
            "degraded pair": f"two {degraded} seeds / 2", "gate": "gate"}


def gate_markdown(table, gates, dataset_name, degradation, image_count, fitted_on):
    """`fitted_on`: what the gates were fitted on, in words."""
    labels = method_labels(degradation)
    methods = [m for m in METHODS if m in set(table["method"])]
    unit = degradations.get_degradation(degradation).unit
    seeds = int(table["seeds"].iloc[0])
    spread = "seeds and test images" if seeds > 1 else \
        "test images (paired bootstrap; one seed says nothing of the training spread)"
    lines = [f"Gate between {labels['org']} and {labels['degraded']} by the estimated {unit} "
             f"({dataset_name}, {degradation}, {image_count} test images, {seeds} seed(s)): "
             "interval mean accuracy, mean over seeds, and the gate's gain over each other "
             f"method with its 95% interval over {spread}.", "",
             f"Gates fitted on {fitted_on} (weight of the clean-trained network "
             f"1 / (1 + exp(-({unit} - m) / s))): " + "; ".join(
                 f"seed {k}: m {g.midpoint:.1f}, s {g.scale:+.2f}" for k, g in enumerate(gates)),
             "", "| interval | " + " | ".join(labels[m] for m in methods) + " | " +
             " | ".join(f"gate - {labels[m]}" for m in methods if m != "gate") + " |",
             "|" + "---|" * (2 * len(methods))]
    for interval, rows in table.groupby("interval", sort=False):
        by_method = {row["method"]: row for _, row in rows.iterrows()}
        cells = [f"{by_method[m]['accuracy']:.3f}" for m in methods]
        cells += [gain_text(by_method[m]["gate_gain"], by_method[m]["gain_ci_low"],
                            by_method[m]["gain_ci_high"]) for m in methods if m != "gate"]
        lines.append(f"| {interval} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def evaluate_gate(folders, trained_on, name, images, labels, values, *, degradation,
                  validation_data, out, seed=0, batch_size=512, estimator_dir=None):
    """Fit a gate per weights folder on its networks' validation images (the held-out training
    images of `validation_data`), sweep the test images, and write
    <name>_<degradation>_gate.csv and .md in `out`."""
    pairs = [tuple(classification.load_classifier(trained_on, mode, folder)
                   for mode in image_only_modes(degradation)) for folder in folders]
    estimator_file = estimation.find_estimator(degradation, estimator_dir or folders[0],
                                               images.shape[-1])
    estimator_model = load_model(estimator_file)
    validation = degraded_validation(*validation_images(validation_data), degradation,
                                     estimator_model, seed)
    fitted_on = (f"{len(validation[0]) // VALIDATION_LEVELS} images held out of the training "
                 f"images of {validation_data.name}, each at {VALIDATION_LEVELS} levels")
    print(f"fitting {len(pairs)} gate(s) on {fitted_on}", flush=True)
    gates = fit_gates(pairs, validation, degradation, batch_size)
    for gate, folder in zip(gates, folders):
        save_gate(gate, paths.gate_path(trained_on, degradation, folder), fitted_on)
    # The estimates of an earlier sweep of the same test images, where kept.
    cache = EstimateCache(SweepRecord.condition(images, labels, values, seed, None,
                                                estimator_file))
    kept = cache.load(len(images))
    estimates = np.full((len(values), len(images)), np.nan) if kept is None else kept[0]
    to_estimate = np.isnan(estimates).any()
    correct = sweep_gate(pairs, gates, images, labels, values, estimates, estimator_model,
                         degradation, seed, batch_size)
    if to_estimate:
        cache.save(estimates, None if kept is None else kept[1])
    table = gate_table(values, correct, degradation, seed)
    write_report(Path(out) / f"{name}_{degradation}_gate", table,
                 gate_markdown(table, gates, name, degradation, len(images), fitted_on))
