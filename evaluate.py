"""Reproduce the paper's evaluation: Tables 2-6 and Figures 4-8, side by side with the paper.

For every parameter value (q = 1..100 or sigma = 0..50) the test set is degraded once, the
parameter estimated once, and the degraded images classified by every network. Outputs, in --out:

  <dataset>_<degradation>_accuracy.csv    accuracy of every network at every value (Figs 5, 6, 8)
  <dataset>_<degradation>_accuracy.png
  <dataset>_<degradation>_intervals.csv   interval mean accuracy, Eq. (1) (Tables 3, 4, 6), with
  <dataset>_<degradation>_intervals.md    paired bootstrap 95% intervals of each gain
  <dataset>_<degradation>_estimator.csv   the estimator's mean and SD at every value (Figs 4, 7)
  <dataset>_<degradation>_estimator.md    ... at the paper's values (Tables 2, 5)
  <dataset>_<degradation>_estimator.png
  <dataset>_<degradation>_clean.csv       every network's accuracy on the clean test images

Given several --weights folders (the seeds of reproduce.py --seeds), every network of every
folder is classified on the same degraded images and the estimator runs once per value; the
outputs are then the seed study instead:

  <dataset>_<degradation>_seeds.csv       per interval and network: mean, SD and number of seeds
  <dataset>_<degradation>_seeds.md        of the interval accuracy; per parameter-aware network
  <dataset>_<degradation>_seeds.png       its gain over its image-only twin with a 95% interval
                                          that holds both training spread and test sampling

Each weights folder keeps a record of what its sweep found (SweepRecord, a few tens of KB): an
evaluation run again, or after one more network is trained, classifies only what is new, and a
seed's record stands in for its weights where those are not kept. A network whose training has
epochs to go (its .backup says so: still running, or stopped) is left out with a warning.

--compare puts such tables of several settings (data size, width, join) side by side, with no
sweep, in <dataset>_<degradation>_settings.csv and .md.

    python evaluate.py --dataset cifar10 --degradation jpeg
    python evaluate.py --dataset ../shared/data/cifar10-subset.npz --degradation noise
    python evaluate.py --dataset cifar10 --degradation jpeg --params 1,10,50 --limit 200
    python evaluate.py --dataset cifar10 --degradation jpeg --estimator-only
    python evaluate.py --dataset ../shared/data/cifar10-subset.npz --degradation noise \
        --weights weights/seed0 weights/seed1 weights/seed2 weights/seed3 weights/seed4
"""
import argparse
import hashlib
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import classifier  # noqa: E402
from accuracy_stats import (Z_975, gain_interval, interval_mean,  # noqa: E402,F401
                            paired_bootstrap, t_quantile)
import data  # noqa: E402
import degrade  # noqa: E402
import estimator  # noqa: E402
import training  # noqa: E402

# The networks compared for each degradation (the paper's and the placebo controls), each
# parameter-aware network's image-only twin, and the names in tables: classifier.MODES's.
NETWORKS = {degradation: classifier.compared_modes(degradation, controls=True)
            for degradation in ("jpeg", "noise")}
TWINS = {name: mode.twin for name, mode in classifier.MODES.items() if mode.twin}
LABELS = {name: mode.label for name, mode in classifier.MODES.items()}
INTERVALS = {"jpeg": ((1, 20), (21, 40), (41, 60), (61, 80), (81, 100)),
             "noise": ((0, 10), (11, 20), (21, 30), (31, 40), (41, 50))}

# The paper's numbers (Endo, Tanaka & Okutomi, EI 2020), for comparison only.
PAPER_INTERVALS = {  # Tables 3, 4, 6: interval mean accuracy, one value per interval
    ("cifar10", "jpeg"): {"org": (0.431, 0.700, 0.763, 0.799, 0.861),
                          "jpg": (0.724, 0.844, 0.857, 0.866, 0.874),
                          "est_qf": (0.744, 0.849, 0.864, 0.872, 0.880)},
    ("cifar100", "jpeg"): {"org": (0.202, 0.407, 0.465, 0.504, 0.582),
                           "jpg": (0.448, 0.561, 0.577, 0.583, 0.591),
                           "est_qf": (0.454, 0.563, 0.581, 0.588, 0.596)},
    ("cifar10", "noise"): {"org": (0.796, 0.328, 0.138, 0.106, 0.101),
                           "noisy": (0.851, 0.844, 0.829, 0.809, 0.785),
                           "est_nl": (0.882, 0.872, 0.856, 0.834, 0.810)},
}
PAPER_TABLE_NUMBERS = {("cifar10", "jpeg"): 3, ("cifar100", "jpeg"): 4, ("cifar10", "noise"): 6}
PAPER_ESTIMATES = {  # Tables 2 and 5 (CIFAR-10): true value -> (mean, SD) of the estimates
    "jpeg": {20: (20.84, 2.28), 40: (40.93, 3.91), 60: (58.58, 4.07), 80: (79.53, 3.07),
             100: (94.91, 1.91)},
    "noise": {10: (10.03, 0.42), 20: (20.11, 0.54), 30: (30.16, 0.69), 40: (40.11, 0.89),
              50: (49.26, 0.70)},
}
PAPER_ESTIMATE_TABLES = {"jpeg": 2, "noise": 5}
# The estimator is most of an est_* sweep's time (hours for 10,000 JPEG test images on a CPU):
# its answers so far are kept this often, and a rerun goes on from the last value kept.
CHECKPOINT_SECONDS = 120
# The random stream of a sweep's placebo parameters, beside the degradation's (seed, value).
PLACEBO_STREAM = 1
NO_VALUE = "-"  # a Markdown cell for an interval that the sweep did not reach


# ---------------------------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------------------------
def degraded_test_set(images, degradation, value, seed):
    """The test set at one value; the noise draw depends only on (seed, value), so any subset of
    values reproduces the full sweep's images."""
    rng = np.random.default_rng([seed, int(round(value * 100))])
    return degrade.degrade(images, degradation, value, rng)


def placebo_parameters(degradation, count, seed, value=0):
    """The parameters that the shuffled_* networks are told at one value of a sweep: drawn from
    the training distribution, independent of the images, and the same in every run of the
    sweep. The clean images get value 0's, so that noise sigma 0 and clean agree."""
    return degrade.random_params(degradation, count, np.random.default_rng(
        [seed, int(round(value * 100)), PLACEBO_STREAM]))


def sweep(images, labels, degradation, values, networks, estimator_model, seed, batch_size,
          fixed=None, estimates=None, checkpoint=None):
    """Return correct[name] (values x images booleans), estimates (values x images) and timings.
    `estimates`: the estimator's answers from an earlier run (EstimateCache); `estimator_model`
    fills only its rows that hold NaN, and `checkpoint(estimates)` is called every
    CHECKPOINT_SECONDS while it does. `fixed`: see classify."""
    correct = {name: np.zeros((len(values), len(images)), bool) for name in networks}
    if estimates is None:
        estimates = np.full((len(values), len(images)), np.nan)
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
                estimates[index] = estimator.estimate(estimator_model, degraded, degradation)
                timings["estimate"] += time.perf_counter() - tick
                if checkpoint is not None and \
                        time.perf_counter() - last_checkpoint >= CHECKPOINT_SECONDS:
                    checkpoint(estimates)
                    last_checkpoint = time.perf_counter()
            tick = time.perf_counter()
            for name, right in classify(networks, degraded, labels, degradation, estimates[index],
                                        np.full(len(images), value), batch_size, fixed,
                                        placebo_parameters(degradation, len(images), seed,
                                                           value)).items():
                correct[name][index] = right
            timings["classify"] += time.perf_counter() - tick
            progress(index + 1, len(values), value, correct, start)
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
        parameter = classifier.MODES[network_mode(name)].parameter
        params = {"estimated": estimates, "true": true_params, "shuffled": placebo}.get(parameter)
        if fixed is not None and parameter != "none":
            params = np.full(len(images), fixed)
        probabilities = classifier.predict_probabilities(model, images, params, degradation,
                                                         batch_size)
        correct[name] = probabilities.argmax(axis=1) == labels
    return correct


def clean_accuracy(images, labels, degradation, networks, estimates, batch_size, fixed=None,
                   seed=0):
    """Accuracy on the undegraded test images. est_* networks get `estimates`, the estimator's
    answer for each clean image; known_nl gets sigma = 0; known_qf is left out, since a clean
    image has no q."""
    networks = {name: model for name, model in networks.items()
                if not (classifier.MODES[network_mode(name)].parameter == "true"
                        and degradation == "jpeg")}
    correct = classify(networks, images, labels, degradation, estimates, np.zeros(len(images)),
                       batch_size, fixed, placebo_parameters(degradation, len(images), seed))
    return {name: float(right.mean()) for name, right in correct.items()}


def network_mode(key):
    """Networks are keyed by their mode, or in a seed study by (folder index, mode)."""
    return key if isinstance(key, str) else key[1]


def progress(done, total, value, correct, start):
    by_mode = {}
    for key, c in correct.items():  # a seed study prints each mode's mean over seeds
        by_mode.setdefault(network_mode(key), []).append(c[done - 1].mean())
    accuracies = "  ".join(f"{mode} {np.mean(a):.3f}" for mode, a in by_mode.items())
    elapsed = time.perf_counter() - start
    print(f"[{done:3d}/{total}] {elapsed:6.1f}s  value {value:g}: {accuracies}", flush=True)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------
def paper_key(dataset_name, degradation):
    """The paper's table for this dataset, if any: CIFAR-100 first, since 'cifar10' prefixes it."""
    lowered = dataset_name.lower()
    family = "cifar100" if lowered.startswith("cifar100") else \
        "cifar10" if lowered.startswith("cifar10") else None
    key = (family, degradation)
    return key if key in PAPER_INTERVALS else None


def accuracy_table(values, correct):
    table = pd.DataFrame({"param": values})
    for name, c in correct.items():
        table[name] = c.mean(axis=1)
    return table


def interval_table(values, correct, degradation, paper, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for position, (low, high) in enumerate(INTERVALS[degradation]):
        inside = (values >= low) & (values <= high)
        row = {"interval": f"{low}-{high}", "values": int(inside.sum())}
        for name, c in correct.items():
            row[name] = interval_mean(values, c.mean(axis=1), low, high)
        for name, twin in TWINS.items():
            if name in correct and twin in correct and inside.any():
                row[f"{name}-{twin}"] = row[name] - row[twin]
                row[f"{name}-{twin} ci_low"], row[f"{name}-{twin} ci_high"] = paired_bootstrap(
                    correct[name][inside], correct[twin][inside], rng)
        for name, numbers in (PAPER_INTERVALS.get(paper) or {}).items():
            row[f"paper {name}"] = numbers[position]
        rows.append(row)
    return pd.DataFrame(rows)


def gain_text(gain, low, high):
    """A gain and its 95% interval as a table cell; one seed has no interval over seeds."""
    bounds = "no interval from one seed" if np.isnan(low) else f"{low:+.3f}, {high:+.3f}"
    return f"{gain:+.3f} [{bounds}]"


def interval_markdown(table, correct, dataset_name, degradation, paper, images, clean):
    unit = degrade.get_degradation(degradation).unit
    lines = [f"Interval mean accuracy, Eq. (1), on {dataset_name} ({images} test images), "
             f"{degradation}; {unit} intervals."]
    if paper:
        subset = "" if dataset_name == paper[0] else \
            f" (the paper used the full {paper[0].upper()} test set; this is {dataset_name})"
        lines.append(f"'paper' columns: Table {PAPER_TABLE_NUMBERS[paper]} of Endo et al. "
                     f"(2020){subset}.")
    header = ["interval"] + [LABELS[name] for name in correct]
    gains = [f"{name}-{twin}" for name, twin in TWINS.items() if f"{name}-{twin}" in table]
    header += [f"{LABELS[g.split('-')[0]]} - {LABELS[g.split('-')[1]]} [95% CI]" for g in gains]
    paper_names = list(PAPER_INTERVALS.get(paper) or {})
    header += [f"paper {LABELS[name]}" for name in paper_names]
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in table.iterrows():
        # An interval that --params leaves without values has no accuracy, only the paper's.
        swept = row["values"] > 0
        cells = [row["interval"]] + [f"{row[name]:.3f}" if swept else NO_VALUE for name in correct]
        cells += [gain_text(row[g], row[g + " ci_low"], row[g + " ci_high"])
                  if swept else NO_VALUE for g in gains]
        cells += [f"{row['paper ' + name]:.3f}" for name in paper_names]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Clean test images: " + ", ".join(f"{LABELS[name]} {accuracy:.3f}"
                                                    for name, accuracy in clean.items()) + "."]
    return "\n".join(lines) + "\n"


def estimator_table(values, estimates):
    return pd.DataFrame({"param": values, "mean": estimates.mean(axis=1),
                         "sd": estimates.std(axis=1)})


def estimator_markdown(table, dataset_name, degradation, images):
    paper = PAPER_ESTIMATES[degradation]
    lines = [f"Estimated {degradation} parameter on {dataset_name} ({images} test images): mean "
             f"+- SD at each true value; the paper's Table {PAPER_ESTIMATE_TABLES[degradation]} "
             "(CIFAR-10) beside it.", "",
             "| true | estimated (this run) | paper |", "|---|---|---|"]
    for value, (paper_mean, paper_sd) in paper.items():
        row = table[np.isclose(table["param"], value)]
        ours = f"{row['mean'].iloc[0]:.2f} +- {row['sd'].iloc[0]:.2f}" if len(row) else "not run"
        lines.append(f"| {value} | {ours} | {paper_mean:.2f} +- {paper_sd:.2f} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------
def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(figure, path):
    with data.atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=120, bbox_inches="tight")
    pyplot().close(figure)


def axis_name(degradation):
    return degrade.get_degradation(degradation).axis


def accuracy_figure(table, dataset_name, degradation, path):
    """Accuracy against the parameter (Figs 5, 6, 8), with the paper's interval means (Tables 3,
    4, 6) as dashed segments over their intervals in each network's colour."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(6, 4))
    paper = PAPER_INTERVALS.get(paper_key(dataset_name, degradation)) or {}
    for name in table.columns[1:]:
        line, = axis.plot(table["param"], table[name], label=LABELS[name],
                          marker="." if len(table) < 30 else None)
        if name in paper:
            lows, highs = zip(*INTERVALS[degradation])
            axis.hlines(paper[name], lows, highs, colors=line.get_color(), linestyles="--",
                        lw=1.5, gid="paper", label=f"{LABELS[name]}, paper (interval mean)")
    axis.set_xlabel(axis_name(degradation))
    axis.set_ylabel("accuracy")
    axis.set_title(f"{dataset_name}, {degradation}" + (
        "; dashed: the paper's interval means" if paper else ""))
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    save_figure(figure, path)


def estimator_figure(table, degradation, path):
    """Estimated against true parameter (Figs 4, 7), with the paper's Table 2 / 5 (mean +- SD)."""
    plt = pyplot()
    spec = degrade.get_degradation(degradation)
    figure, axis = plt.subplots(figsize=(5, 5))
    axis.plot([spec.low, spec.high], [spec.low, spec.high], color="grey", lw=0.8, label="truth")
    axis.errorbar(table["param"], table["mean"], yerr=table["sd"], fmt=".", capsize=2,
                  label="estimate (mean +- SD)")
    paper = PAPER_ESTIMATES.get(degradation)
    if paper:
        values = list(paper)
        axis.errorbar(values, [paper[v][0] for v in values], yerr=[paper[v][1] for v in values],
                      fmt="s", mfc="none", color="black", capsize=4, gid="paper",
                      label=f"paper, Table {PAPER_ESTIMATE_TABLES[degradation]} (CIFAR-10)")
    axis.set_xlabel(f"true {axis_name(degradation)}")
    axis.set_ylabel(f"estimated {axis_name(degradation)}")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    save_figure(figure, path)


def write_csv(table, path):
    with data.atomic_output(path) as temporary:
        table.to_csv(temporary, index=False, float_format="%.6f")


def write_text(text, path):
    with data.atomic_output(path) as temporary:
        Path(temporary).write_text(text)


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def sweep_values(degradation, text):
    if not text:
        return degrade.all_params(degradation)
    values = np.array([float(v) for v in text.split(",")])
    return degrade.check_params(degradation, values, len(values))


def check_classes(trained_on, weights_dir, dataset):
    """Networks trained on `trained_on` must know the test set's classes, in the same order."""
    path = classifier.class_names_path(trained_on, weights_dir)
    if path.is_file() and path.read_text().splitlines() != list(dataset.class_names):
        raise data.DataError(f"the networks of {trained_on} in {weights_dir} know the classes "
                             f"in {path}, not those of {dataset.name} "
                             f"({', '.join(dataset.class_names[:4])}, ...)")


def needs_estimator(networks):
    return any(classifier.MODES[network_mode(n)].needs_estimator for n in networks)


def output_name(args):
    """The name of the outputs: the test set's, and with --trained-on (networks trained on
    another dataset with the same classes) both names, so that nothing is overwritten."""
    name = data.dataset_name(args.dataset)
    return name if args.trained_on in (None, name) else f"{name}_trained-on-{args.trained_on}"


def replot(args):
    """Redraw the figures of --dataset and --degradation from the tables already in --out."""
    name = output_name(args)
    stem = Path(args.out) / f"{name}_{args.degradation}"
    figures = {"accuracy": lambda table, path: accuracy_figure(table, name, args.degradation,
                                                               path),
               "estimator": lambda table, path: estimator_figure(table, args.degradation, path)}
    drawn = []
    for kind, draw in figures.items():
        table = Path(f"{stem}_{kind}.csv")
        if table.is_file():
            draw(pd.read_csv(table), f"{stem}_{kind}.png")
            drawn.append(f"{stem.name}_{kind}.png")
    if not drawn:
        raise data.DataError(f"no {stem.name}_accuracy.csv or _estimator.csv in {args.out} to "
                             "redraw")
    print(f"redrew {', '.join(drawn)} in {args.out}")


def evaluate(args):
    if args.replot:
        return replot(args)
    if args.compare:
        return compare(args)
    dataset = data.load_dataset(args.dataset)
    images, labels = dataset.x_test[: args.limit], dataset.y_test[: args.limit]
    values = sweep_values(args.degradation, args.params)
    if args.fixed_parameter is not None:
        degrade.check_params(args.degradation, [args.fixed_parameter], 1)
    trained_on, name = args.trained_on or dataset.name, output_name(args)
    for folder in args.weights:
        check_classes(trained_on, folder, dataset)
    folders = [Path(folder) for folder in args.weights]
    if len(folders) > 1:
        return evaluate_seeds(args, folders, trained_on, name, images, labels, values)
    modes = () if args.estimator_only else NETWORKS[args.degradation]
    correct, clean, _, estimates = sweep_folders(args, folders, trained_on, images, labels,
                                                 values, modes, with_estimator=True)
    write_outputs(args, name, values, {mode: c for (_, mode), c in correct.items()}, estimates,
                  len(images), {mode: accuracy for (_, mode), accuracy in clean.items()})


def write_outputs(args, dataset_name, values, correct, estimates, image_count, clean):
    """`estimates`: the estimator's mean and SD at each value (estimator_table), or None."""
    out = Path(args.out)
    stem = out / f"{dataset_name}_{args.degradation}"
    written = []
    if correct:
        paper = paper_key(dataset_name, args.degradation)
        accuracy = accuracy_table(values, correct)
        intervals = interval_table(values, correct, args.degradation, paper, args.seed)
        write_csv(accuracy, f"{stem}_accuracy.csv")
        accuracy_figure(accuracy, dataset_name, args.degradation, f"{stem}_accuracy.png")
        write_csv(intervals, f"{stem}_intervals.csv")
        markdown = interval_markdown(intervals, correct, dataset_name, args.degradation, paper,
                                     image_count, clean)
        if args.fixed_parameter is not None:
            markdown = (f"Ablation: every parameter-aware network was given "
                        f"{args.fixed_parameter:g} as its parameter, whatever the image.\n\n"
                        + markdown)
        write_text(markdown, f"{stem}_intervals.md")
        write_csv(pd.DataFrame({"network": list(clean), "accuracy": list(clean.values())}),
                  f"{stem}_clean.csv")
        print("\n" + markdown)
        written += ["accuracy.csv", "accuracy.png", "intervals.csv", "intervals.md", "clean.csv"]
    if estimates is not None:
        write_csv(estimates, f"{stem}_estimator.csv")
        estimator_figure(estimates, args.degradation, f"{stem}_estimator.png")
        markdown = estimator_markdown(estimates, dataset_name, args.degradation, image_count)
        write_text(markdown, f"{stem}_estimator.md")
        print(markdown)
        written += ["estimator.csv", "estimator.png", "estimator.md"]
    print(f"wrote {', '.join(f'{stem.name}_{w}' for w in written)} in {out}")


# ---------------------------------------------------------------------------------------------
# A seed study: several trainings of each network
# ---------------------------------------------------------------------------------------------
def network_groups(joins):
    """{group: [folder index, ...]}: the trainings of each network, from {(folder index, mode):
    join}. A group is a mode, with its parameter join when that is not the paper's (e.g.
    "known_nl:film")."""
    groups = {}
    for (index, mode), join in joins.items():
        group = mode if join in (None, "dense") else f"{mode}:{join}"
        groups.setdefault(group, []).append(index)
    order = {mode: position for position, mode in enumerate(classifier.MODES)}
    return dict(sorted(groups.items(), key=lambda item: (order[item[0].split(":")[0]], item[0])))


def group_label(group):
    mode, _, join = group.partition(":")
    return LABELS[mode] + (f" ({join} join)" if join else "")


def seed_table(values, correct, clean, groups, degradation, paper):
    """One row per interval (and "clean") and network: mean, SD and count over seeds of the
    interval accuracy; for a parameter-aware network, its gain over its twin and interval."""
    rows = []
    paper_numbers = PAPER_INTERVALS.get(paper) or {}
    for position, (low, high) in enumerate(INTERVALS[degradation]):
        inside = (values >= low) & (values <= high)
        for group, folders in groups.items():
            mode = group.split(":")[0]
            row = {"interval": f"{low}-{high}", "network": group, "values": int(inside.sum()),
                   "paper": paper_numbers.get(mode, (np.nan,) * 5)[position]}
            rows.append(row)
            if not inside.any():  # a --params sweep that left this interval out
                row.update({"mean": np.nan, "sd": np.nan, "seeds": len(folders)})
                continue
            # Eq. (1) per image: the share of the interval's values at which it is right.
            per_image = {index: correct[(index, mode)][inside].mean(axis=0) for index in folders}
            row.update(spread([a.mean() for a in per_image.values()]))
            twin = TWINS.get(mode)
            if twin in groups:
                twin_folders = groups[twin]
                paired = set(folders) <= set(twin_folders)
                twin_image = {index: correct[(index, twin)][inside].mean(axis=0)
                              for index in twin_folders}
                chosen = folders if paired else twin_folders
                row["twin"] = twin
                row["gain"], row["gain_ci_low"], row["gain_ci_high"] = gain_interval(
                    [per_image[i] for i in folders], [twin_image[i] for i in chosen], paired)
                row["paired"] = paired
                if mode in paper_numbers and twin in paper_numbers:
                    row["paper_gain"] = paper_numbers[mode][position] - paper_numbers[twin][
                        position]
    for group, folders in groups.items():
        mode = group.split(":")[0]
        accuracies = [clean[(index, mode)] for index in folders if (index, mode) in clean]
        if accuracies:
            rows.append({"interval": "clean", "network": group, **spread(accuracies)})
    columns = ["interval", "network", "values", "mean", "sd", "seeds", "paper", "twin", "gain",
               "gain_ci_low", "gain_ci_high", "paired", "paper_gain"]
    return pd.DataFrame(rows).reindex(columns=columns)


def spread(accuracies):
    accuracies = np.asarray(accuracies, np.float64)
    return {"mean": float(accuracies.mean()), "seeds": len(accuracies),
            "sd": float(accuracies.std(ddof=1)) if len(accuracies) > 1 else np.nan}


def seed_markdown(table, dataset_name, degradation, paper, images):
    unit = degrade.get_degradation(degradation).unit
    networks = list(dict.fromkeys(table["network"]))
    intervals = list(dict.fromkeys(table["interval"]))
    cell = {(row["interval"], row["network"]): row for row in table.to_dict("records")}
    lines = [f"Seed study on {dataset_name} ({images} test images), {degradation}: interval mean "
             f"accuracy, Eq. (1), over {unit} intervals; mean +- SD over seeds (n seeds)."]
    if paper:
        lines.append(f"'paper': Table {PAPER_TABLE_NUMBERS[paper]} of Endo et al. (2020), on the "
                     f"full {paper[0].upper()} test set, one training.")
    lines += ["", "| interval | " + " | ".join(group_label(n) for n in networks) + " |",
              "|" + "---|" * (len(networks) + 1)]
    for interval in intervals:
        cells = []
        for network in networks:
            row = cell.get((interval, network))
            if row is None or np.isnan(row["mean"]):
                cells.append(NO_VALUE)
                continue
            sd = "" if np.isnan(row["sd"]) else f" +- {row['sd']:.3f}"
            paper_value = "" if np.isnan(row["paper"]) else f" (paper {row['paper']:.3f})"
            cells.append(f"{row['mean']:.3f}{sd} ({row['seeds']}){paper_value}")
        lines.append(f"| {interval} | " + " | ".join(cells) + " |")
    twins = {network: row["twin"] for (_, network), row in cell.items()
             if isinstance(row["twin"], str)}
    if twins:
        lines += ["", "Gain over the image-only twin, mean over seeds [95% interval over seeds and "
                  "test images] (seeds); see accuracy_stats.gain_interval.", "",
                  "| interval | " + " | ".join(f"{group_label(n)} - {LABELS[twin]}"
                                               for n, twin in twins.items()) + " |",
                  "|" + "---|" * (len(twins) + 1)]
        for interval in intervals:
            if interval == "clean":
                continue
            cells = []
            for network in twins:
                row = cell[(interval, network)]
                if np.isnan(row["gain"]):
                    cells.append(NO_VALUE)
                    continue
                text = gain_text(row["gain"], row["gain_ci_low"], row["gain_ci_high"]) + \
                    f" ({row['seeds']})"
                if not np.isnan(row["paper_gain"]):
                    text += f"; paper {row['paper_gain']:+.3f}"
                cells.append(text)
            lines.append(f"| {interval} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def gain_figure(table, dataset_name, degradation, path):
    """Each parameter-aware network's gain per interval with its interval; the paper's gain as a
    cross in the same colour."""
    plt = pyplot()
    gains = table[table["gain"].notna()]
    intervals = list(dict.fromkeys(gains["interval"]))
    networks = list(dict.fromkeys(gains["network"]))
    figure, axis = plt.subplots(figsize=(7, 4))
    axis.axhline(0, color="grey", lw=0.8)
    width = 0.8 / max(len(networks), 1)
    for number, network in enumerate(networks):
        rows = gains[gains["network"] == network].set_index("interval").reindex(intervals)
        x = np.arange(len(intervals)) - 0.4 + width * (number + 0.5)
        errors = [rows["gain"] - rows["gain_ci_low"], rows["gain_ci_high"] - rows["gain"]]
        line = axis.errorbar(x, rows["gain"], yerr=errors, fmt="o", capsize=3,
                             label=f"{group_label(network)} (n = {int(rows['seeds'].min())})")
        if rows["paper_gain"].notna().any():
            axis.plot(x, rows["paper_gain"], "x", markersize=9, color=line[0].get_color(),
                      label=f"paper, {group_label(network)}")
    axis.set_xticks(np.arange(len(intervals)), intervals)
    axis.set_xlabel(f"{axis_name(degradation)} interval")
    axis.set_ylabel("gain over the image-only twin")
    axis.set_title(f"{dataset_name}, {degradation}: gain of the parameter, 95% intervals")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    save_figure(figure, path)


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
    unchanged, so seeds trained in different sessions add up, and a study that gains a seed
    classifies only the new seed's networks."""

    def __init__(self, folder, dataset_name, degradation, condition):
        self.path = Path(folder) / f"sweep_{dataset_name}_{degradation}_{condition['id']}.npz"
        self.condition = condition
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
        return not classifier.MODES[mode].needs_estimator or \
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
        if "estimator.mean" not in self.saved or \
                str(self.saved["estimator.digest"]) != self.condition["estimator"]:
            return None
        return pd.DataFrame({"param": self.condition["values"],
                             "mean": self.saved["estimator.mean"],
                             "sd": self.saved["estimator.sd"]})

    def save(self, results, estimates=None):
        """Add {mode: (correct, clean accuracy or None, join, weights file)} and the estimator's
        table if given, and write."""
        if not results and estimates is None:
            return
        arrays = {key: value for key, value in self.saved.items()
                  if key.startswith("estimator.") or self.matches(key.split(".")[0])}
        if estimates is not None:
            arrays.update({"estimator.mean": estimates["mean"].to_numpy(),
                           "estimator.sd": estimates["sd"].to_numpy(),
                           "estimator.digest": self.condition["estimator"]})
        for mode, (correct, clean, join, weights_file) in results.items():
            arrays[f"{mode}.correct"] = np.packbits(correct)
            arrays[f"{mode}.images"] = correct.shape[1]
            arrays[f"{mode}.clean"] = np.nan if clean is None else clean
            arrays[f"{mode}.join"] = join or ""
            arrays[f"{mode}.weights"] = file_digest(weights_file)
            arrays[f"{mode}.estimator"] = self.condition["estimator"] \
                if classifier.MODES[mode].needs_estimator else ""
        data.save_npz(self.path, **arrays)


def file_digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class EstimateCache:
    """The estimator's answer for every image of a sweep (values x images) and for the clean
    images, kept between runs outside the repository (data.cache_dir). Every seed of an est_*
    network sees the same degraded images and the same estimator, so a seed study that gains a
    seed only classifies: the estimator is most of an est_* sweep's time. Keyed by the sweep's
    conditions (SweepRecord.condition: test images, values, noise seed) and the estimator
    file's digest. Unlike a SweepRecord it is not committed: 0.2 MB for the subset's noise
    sweep and 0.5 MB for its JPEG sweep, 2.2 MB for the noise sweep of 10,000 test images.
    An interrupted sweep leaves the values it reached (the others NaN), and the next run
    estimates only the rest."""

    def __init__(self, condition):
        folder = data.cache_dir()
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
        if swept.shape != (self.value_count, image_count) or clean.shape != (image_count,):
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


def sweep_folders(args, folders, dataset_name, images, labels, values, modes,
                  with_estimator=False):
    """Sweep the networks (of `modes`) of every folder on the same degraded images, the
    estimator once per value, reusing each folder's SweepRecord where it holds and adding to it
    what was classified. Returns correct and clean accuracy keyed by (folder index, mode), the
    joins, and `with_estimator` the estimator's table (estimator_table) when there is an
    est_* network or nothing else (--estimator-only), else None."""
    estimator_file, missing_estimator = None, None
    try:
        estimator_file = estimator.find_estimator(args.degradation,
                                                  args.estimator_dir or folders[0],
                                                  images.shape[-1])
    except data.DataError as error:
        missing_estimator = error  # an error only if the estimator must run
    # A --fixed-parameter ablation changes only what the parameter-aware networks see: the
    # image-only ones keep (and reuse) the record of the plain sweep.
    records = {fixed: [SweepRecord(folder, dataset_name, args.degradation, SweepRecord.condition(
        images, labels, values, args.seed, fixed, estimator_file)) for folder in folders]
        for fixed in {args.fixed_parameter, None}}

    def record(index, mode):
        return records[args.fixed_parameter if classifier.MODES[mode].has_parameter
                       else None][index]

    correct, clean, joins, networks = {}, {}, {}, {}
    for index, folder in enumerate(folders):
        for mode in modes:
            path = classifier.weights_path(dataset_name, mode, folder)
            if path.is_file() and (progress := training.unfinished(path)):
                warnings.warn(f"{mode} at {path} is still in training or was stopped (epoch "
                              f"{progress[0]} of {progress[1]}): skipped; finish it with the "
                              "command that started it, or delete its .backup folder to "
                              "evaluate it as it is", stacklevel=2)
                continue
            kept = record(index, mode).result(mode, path)
            if kept is not None:
                correct[(index, mode)], accuracy, joins[(index, mode)] = kept
                if accuracy is not None:
                    clean[(index, mode)] = accuracy
            elif path.is_file():
                networks[(index, mode)] = classifier.load_classifier(dataset_name, mode, folder)
                joins[(index, mode)] = classifier.parameter_join(networks[(index, mode)])
            elif classifier.MODES[mode].in_paper:  # a control is swept only where trained
                warnings.warn(f"no {mode} network at {path}, nor a sweep record of it: skipped",
                              stacklevel=2)
    if modes and not joins:
        raise data.DataError(f"no classifier weights or sweep records for {dataset_name} in "
                             f"{', '.join(map(str, folders))}: train them with classifier.py, "
                             "or pass --estimator-only")
    want_table = with_estimator and (not modes or needs_estimator(joins))
    table = records[None][0].estimator_table() if want_table else None
    # A fixed parameter stands in for the estimates: the estimator runs only for its table.
    run_estimator = (needs_estimator(networks) and args.fixed_parameter is None) or (
        want_table and table is None)
    print(f"{dataset_name}: {len(images)} test images, {len(values)} {args.degradation} values, "
          f"{len(folders)} weights folder(s): {len(correct)} network(s) from sweep records, "
          f"{len(networks)} to classify" + (", the estimator to run" if run_estimator else ""),
          flush=True)
    if networks or run_estimator:
        cache = EstimateCache(records[None][0].condition)
        cached = cache.load(len(images)) if run_estimator else None
        estimates, clean_estimates = cached or (None, None)
        estimator_model = None
        if run_estimator and not cache.complete(cached):
            if missing_estimator is not None:
                raise missing_estimator
            estimator_model = training.load_model(estimator_file)
            if cached is not None:
                print(f"resuming the estimator: {cache.values_done(cached)} of {len(values)} "
                      f"values kept in {cache.path}", flush=True)
        elif run_estimator:
            print(f"the estimator's answers from {cache.path}", flush=True)
        swept, timings = {}, None
        if networks or estimator_model is not None:
            swept, estimates, timings = sweep(images, labels, args.degradation, values,
                                              networks, estimator_model, args.seed,
                                              args.batch_size, args.fixed_parameter, estimates,
                                              checkpoint=cache.save)
        if estimator_model is not None:
            clean_estimates = estimator.estimate(estimator_model, images, args.degradation)
            cache.save(estimates, clean_estimates)
        swept_clean = clean_accuracy(images, labels, args.degradation, networks,
                                     clean_estimates, args.batch_size, args.fixed_parameter,
                                     args.seed) if networks else {}
        if run_estimator:
            table = estimator_table(values, estimates)
        # The estimator's table is kept where it is read back: the first folder's plain record.
        table_record = records[None][0] if run_estimator else None
        for folder_records in records.values():
            for index, (folder, kept) in enumerate(zip(folders, folder_records)):
                kept.save({mode: (swept[(i, mode)], swept_clean.get((i, mode)), joins[(i, mode)],
                                  classifier.weights_path(dataset_name, mode, folder))
                           for i, mode in swept if i == index and record(i, mode) is kept},
                          table if kept is table_record else None)
        correct.update(swept)
        clean.update(swept_clean)
        if timings is not None:
            report_timings(timings, len(images) * len(values), len(networks))
    return correct, clean, joins, table if want_table else None


def evaluate_seeds(args, folders, dataset_name, outputs_name, images, labels, values):
    """The seed study: the networks of every folder on the same degraded images; *_seeds.*."""
    correct, clean, joins, _ = sweep_folders(args, folders, dataset_name, images, labels, values,
                                             NETWORKS[args.degradation])
    write_seed_outputs(args, outputs_name, values, correct, clean, network_groups(joins),
                       len(images))


def write_seed_outputs(args, dataset_name, values, correct, clean, groups, image_count):
    stem = Path(args.out) / f"{dataset_name}_{args.degradation}_seeds"
    paper = paper_key(dataset_name, args.degradation)
    table = seed_table(values, correct, clean, groups, args.degradation, paper)
    write_csv(table, f"{stem}.csv")
    markdown = seed_markdown(table, dataset_name, args.degradation, paper, image_count)
    if args.fixed_parameter is not None:
        markdown = (f"Ablation: every parameter-aware network was given {args.fixed_parameter:g} "
                    "as its parameter, whatever the image.\n\n" + markdown)
    write_text(markdown, f"{stem}.md")
    gain_figure(table, dataset_name, args.degradation, f"{stem}.png")
    print("\n" + markdown)
    print(f"wrote {stem.name}.csv, .md, .png in {args.out}")


# ---------------------------------------------------------------------------------------------
# Settings side by side: data size, width, join
# ---------------------------------------------------------------------------------------------
def read_results(path):
    """The results of an earlier evaluation in one long form: interval ("clean" too), network,
    accuracy, gain, gain_ci_low, gain_ci_high, seeds. `path`: an _intervals.csv (one training;
    its clean accuracies are in the _clean.csv beside it) or a _seeds.csv (several)."""
    path = Path(path)
    if not path.is_file():
        raise data.DataError(f"{path} does not exist: run evaluate.py for that setting first")
    table = pd.read_csv(path)
    if path.name.endswith("_seeds.csv"):
        return table.rename(columns={"mean": "accuracy"})
    if not path.name.endswith("_intervals.csv"):
        raise data.DataError(f"{path}: --compare reads the _intervals.csv or _seeds.csv that "
                             "evaluate.py writes")
    networks = [name for name in LABELS if name in table.columns]
    rows = []
    for record in table.to_dict("records"):
        for name in networks:
            gain = f"{name}-{TWINS.get(name)}"
            rows.append({"interval": record["interval"], "network": name, "seeds": 1,
                         "accuracy": record[name], "gain": record.get(gain, np.nan),
                         "gain_ci_low": record.get(f"{gain} ci_low", np.nan),
                         "gain_ci_high": record.get(f"{gain} ci_high", np.nan)})
    clean = path.with_name(path.name.replace("_intervals.csv", "_clean.csv"))
    if clean.is_file():
        rows += [{"interval": "clean", "network": row["network"], "accuracy": row["accuracy"],
                  "seeds": 1} for row in pd.read_csv(clean).to_dict("records")]
    return pd.DataFrame(rows)


def settings_table(settings):
    """One long table of several settings: [(label, results, fixed results or None)] ->
    the rows of read_results with a `setting` column, and `worth`: what the true or estimated
    parameter adds over the --fixed-parameter ablation of the same network."""
    tables = []
    for label, results, fixed in settings:
        table = results.copy()
        table.insert(0, "setting", label)
        if fixed is not None:
            fixed_accuracy = fixed.set_index(["interval", "network"])["accuracy"]
            keys = pd.MultiIndex.from_frame(table[["interval", "network"]])
            table["worth"] = table["accuracy"].to_numpy() - fixed_accuracy.reindex(keys).to_numpy()
        tables.append(table)
    columns = ["setting", "interval", "network", "accuracy", "seeds", "gain", "gain_ci_low",
               "gain_ci_high", "worth"]
    return pd.concat(tables, ignore_index=True).reindex(columns=columns)


def settings_markdown(table, degradation, paper):
    """Clean accuracy per setting and network; then per parameter-aware network its gain over
    its twin per interval, the paper's beside it; then what its parameter is worth."""
    settings = list(dict.fromkeys(table["setting"]))
    networks = list(dict.fromkeys(table["network"]))
    intervals = [f"{low}-{high}" for low, high in INTERVALS[degradation]]
    cell = {(r["setting"], r["interval"], r["network"]): r for r in table.to_dict("records")}
    unit = degrade.get_degradation(degradation).unit

    several = {setting for setting, seeds in zip(table["setting"], table["seeds"]) if seeds > 1}

    def count(setting, row):  # the number of seeds, where a setting has several
        return f" ({int(row['seeds'])})" if setting in several else ""

    lines = [f"Settings side by side, {degradation}. Clean test images: accuracy (mean over "
             "seeds, and their number, where a setting has several).", "",
             "| setting | " + " | ".join(group_label(n) for n in networks) + " |",
             "|" + "---|" * (len(networks) + 1)]
    for setting in settings:
        cells = [f"{cell[(setting, 'clean', n)]['accuracy']:.3f}"
                 f"{count(setting, cell[(setting, 'clean', n)])}"
                 if (setting, "clean", n) in cell else NO_VALUE for n in networks]
        lines.append(f"| {setting} | " + " | ".join(cells) + " |")
    paper_numbers = PAPER_INTERVALS.get(paper) or {}
    for network in networks:
        mode = network.split(":")[0]
        twin = TWINS.get(mode)
        if twin is None:
            continue
        lines += ["", f"{group_label(network)} - {LABELS[twin]}, per {unit} interval: gain "
                  "[95% interval] (paired bootstrap over test images for one training; over "
                  "seeds and test images for several, see accuracy_stats.gain_interval).", "",
                  "| setting | " + " | ".join(intervals) + " |", "|" + "---|" * (len(intervals)
                                                                            + 1)]
        for setting in settings:
            cells = []
            for interval in intervals:
                row = cell.get((setting, interval, network))
                if row is None or np.isnan(row["gain"]):
                    cells.append(NO_VALUE)
                    continue
                cells.append(gain_text(row["gain"], row["gain_ci_low"], row["gain_ci_high"]) +
                             count(setting, row))
            lines.append(f"| {setting} | " + " | ".join(cells) + " |")
        if mode in paper_numbers and twin in paper_numbers:
            gains = np.subtract(paper_numbers[mode], paper_numbers[twin])
            lines.append(f"| paper (Table {PAPER_TABLE_NUMBERS[paper]}) | " +
                         " | ".join(f"{g:+.3f}" for g in gains) + " |")
    worth = table.dropna(subset=["worth"])
    worth = worth[worth["network"].map(lambda n: n.split(":")[0] in TWINS)]
    if len(worth):
        lines += ["", "What the parameter is worth: accuracy with the estimated or true parameter "
                  "minus accuracy with the --fixed-parameter ablation's value.", "",
                  "| setting | network | " + " | ".join(intervals + ["clean"]) + " |",
                  "|" + "---|" * (len(intervals) + 3)]
        for (setting, network), rows in worth.groupby(["setting", "network"], sort=False):
            by_interval = dict(zip(rows["interval"], rows["worth"]))
            cells = [f"{by_interval[i]:+.3f}" if i in by_interval else NO_VALUE
                     for i in intervals + ["clean"]]
            lines.append(f"| {setting} | {group_label(network)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def compare(args):
    """--compare: the tables of earlier evaluations side by side, no sweep."""
    settings = []
    for text in args.compare:
        label, separator, paths = text.partition("=")
        if not separator or not label or not paths:
            raise data.DataError(f"--compare {text!r}: expected LABEL=TABLE or "
                                 "LABEL=TABLE,FIXED_TABLE")
        tables = [read_results(path) for path in paths.split(",")]
        if len(tables) > 2:
            raise data.DataError(f"--compare {text!r}: at most a table and its ablation")
        settings.append((label, tables[0], tables[1] if len(tables) == 2 else None))
    name = output_name(args)
    stem = Path(args.out) / f"{name}_{args.degradation}_settings"
    table = settings_table(settings)
    write_csv(table, f"{stem}.csv")
    markdown = settings_markdown(table, args.degradation, paper_key(name, args.degradation))
    write_text(markdown, f"{stem}.md")
    print(markdown)
    print(f"wrote {stem.name}.csv, .md in {args.out}")


def report_timings(timings, images_swept, network_count):
    total = timings["total"]
    classified = images_swept * network_count
    print(f"sweep: {total:.1f}s for {images_swept} degraded images; " + ", ".join(
        f"{k} {v:.1f}s" for k, v in timings.items() if k != "total"))
    if classified:
        print(f"classification: {classified / timings['classify']:.0f} images/s inside the sweep;"
              f" whole sweep {classified / total:.0f} network-images/s")


def build_parser():
    parser = argparse.ArgumentParser(
        description="Sweep every degradation value over a test set and write the paper's "
                    "accuracy and estimator tables and figures.")
    parser.add_argument("--dataset", default="cifar10",
                        help="cifar10, cifar100, mnist, fashion_mnist, an .npz or a folder")
    parser.add_argument("--degradation", default="jpeg", choices=list(NETWORKS))
    parser.add_argument("--weights", nargs="+", default=[str(estimator.WEIGHTS_DIR)],
                        metavar="DIR", help="folder of the trained networks (default weights/); "
                        "several folders are several seeds of the same networks, and give the "
                        "seed study's outputs (*_seeds.*) instead of the per-network ones")
    parser.add_argument("--estimator-dir", help="folder of the estimator (default: the first "
                        "--weights folder, else the folder above it)")
    parser.add_argument("--trained-on", metavar="NAME",
                        help="evaluate the networks trained on dataset NAME (e.g. cifar10-q75) "
                        "on --dataset's test images, which must have the same classes; outputs "
                        "are named <dataset>_trained-on-<NAME>_*")
    parser.add_argument("--out", default="plots", help="folder of the tables and figures")
    parser.add_argument("--limit", type=int, help="use only the first N test images")
    parser.add_argument("--params", help="comma-separated values instead of the full sweep")
    parser.add_argument("--estimator-only", action="store_true",
                        help="only the estimator's table and figure (Tables 2, 5; Figs 4, 7)")
    parser.add_argument("--batch-size", type=int, default=512,
                        help="classifier inference batch (the estimator picks its own)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise and bootstrap")
    parser.add_argument("--replot", action="store_true",
                        help="only redraw the figures from the tables already in --out")
    parser.add_argument("--compare", nargs="+", metavar="LABEL=TABLE[,FIXED]",
                        help="instead of sweeping, put earlier evaluations side by side (data "
                        "size, width, join): each TABLE an _intervals.csv or _seeds.csv, FIXED "
                        "the same networks' --fixed-parameter table; writes "
                        "<dataset>_<degradation>_settings.csv and .md")
    parser.add_argument("--fixed-parameter", type=float, metavar="VALUE",
                        help="ablation: give every parameter-aware network this value instead "
                        "of its estimate or the truth, to see whether it uses its parameter "
                        "(write to another --out)")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    return data.run_cli(parser.prog, lambda: evaluate(args))


if __name__ == "__main__":
    raise SystemExit(main())
