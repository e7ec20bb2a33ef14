"""The evaluation's tables: the paper's numbers, the networks compared, the interval
table of Eq. (1) with its bootstrap gains, the estimator's table, the seed table with its gain
intervals, the settings table, and their CSV and Markdown files."""
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from degraded_cnn import data
from degraded_cnn.evaluation.paper import (PAPER_ESTIMATE_TABLES, PAPER_ESTIMATES,
                                           PAPER_INTERVALS, PAPER_TABLE_NUMBERS)
from degraded_cnn.evaluation.statistics import gain_interval, interval_mean, paired_bootstrap
from degraded_cnn.vocabulary import degradations
from degraded_cnn.vocabulary.modes import MODES, compared_modes, placebo_of


# The networks compared for each degradation (the paper's and the placebo controls), each
# parameter-aware network's image-only twin, and the names in tables: MODES's.
NETWORKS = {degradation: compared_modes(degradation, controls=True)
            for degradation in ("jpeg", "noise", "mixed")}


TWINS = {name: mode.twin for name, mode in MODES.items() if mode.twin}


# Each network told the estimate or the truth, and its placebo control.
PLACEBOS = {name: placebo for name in MODES
            if (placebo := placebo_of(name))}


LABELS = {name: mode.label for name, mode in MODES.items()}


INTERVALS = {"jpeg": ((1, 20), (21, 40), (41, 60), (61, 80), (81, 100)),
             "noise": ((0, 10), (11, 20), (21, 30), (31, 40), (41, 50))}


NO_VALUE = "-"  # a Markdown cell for an interval that the sweep did not reach
# The mixed sweep's summary row: Eq. (1) over every (sigma, q) pair swept.
ALL_PAIRS = "all pairs"


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
    unit = degradations.get_degradation(degradation).unit
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


def estimator_table(values, estimates, degradation):
    """The estimator's mean and SD over the images at each value: columns param, mean, sd; for
    mixed, param_<part>, mean_<part>, sd_<part> for each part (noise, jpeg)."""
    table = pd.DataFrame(param_columns(degradation, values))
    if not degradations.get_degradation(degradation).parts:
        table["mean"], table["sd"] = estimates.mean(axis=1), estimates.std(axis=1)
        return table
    for index, part in enumerate(degradations.parts(degradation)):
        table[f"mean_{part}"] = estimates[..., index].mean(axis=1)
        table[f"sd_{part}"] = estimates[..., index].std(axis=1)
    return table


def param_columns(degradation, values):
    """The swept values as table columns: {"param": values}, or for mixed one per part."""
    values = np.asarray(values, np.float64)
    if not degradations.get_degradation(degradation).parts:
        return {"param": values}
    return {f"param_{part}": values[:, index]
            for index, part in enumerate(degradations.parts(degradation))}


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


def estimators_markdown(tables, degradation):
    """Several estimators' tables ({label: table}) at the paper's values of Table 2 / 5: each
    one's mean +- SD and its bias (mean - truth), the paper's beside them."""
    paper = PAPER_ESTIMATES[degradation]
    lines = [f"Estimators side by side, {degradation}: mean +- SD (bias) at each true value; the "
             f"paper's Table {PAPER_ESTIMATE_TABLES[degradation]} (CIFAR-10) last.", "",
             "| true | " + " | ".join(tables) + " | paper |", "|" + "---|" * (len(tables) + 2)]
    for value, (paper_mean, paper_sd) in paper.items():
        cells = []
        for table in tables.values():
            row = table[np.isclose(table["param"], value)]
            cells.append(f"{row['mean'].iloc[0]:.2f} +- {row['sd'].iloc[0]:.2f} "
                         f"({row['mean'].iloc[0] - value:+.2f})" if len(row) else NO_VALUE)
        lines.append(f"| {value} | " + " | ".join(cells) +
                     f" | {paper_mean:.2f} +- {paper_sd:.2f} ({paper_mean - value:+.2f}) |")
    return "\n".join(lines) + "\n"


class NetworkKey(NamedTuple):
    """One trained network of a sweep: the index of its weights folder and its mode."""
    folder: int
    mode: str


class NetworkGroup(NamedTuple):
    """The trainings of one network over several folders: its mode and its parameter join,
    None for the paper's (dense). Tables write it as `name`: "known_nl" or "known_nl:film"."""
    mode: str
    join: str | None = None

    @classmethod
    def parse(cls, name):
        mode, _, join = name.partition(":")
        return cls(mode, join or None)

    @property
    def name(self):
        return self.mode if self.join is None else f"{self.mode}:{self.join}"

    @property
    def label(self):
        return LABELS[self.mode] + (f" ({self.join} join)" if self.join else "")


def network_groups(joins):
    """{NetworkGroup: [folder index, ...]}: the trainings of each network, from
    {NetworkKey: join}, in the order of MODES."""
    groups = {}
    for key, join in joins.items():
        group = NetworkGroup(key[1], None if join in (None, "dense") else join)
        groups.setdefault(group, []).append(key[0])
    order = {mode: position for position, mode in enumerate(MODES)}
    return dict(sorted(groups.items(), key=lambda item: (order[item[0].mode], item[0].name)))


def group_label(name):
    """The label in tables and figures of a network written `name` ("known_nl:film")."""
    return NetworkGroup.parse(name).label


def value_groups(values, degradation):
    """The rows of a seed table: (name, which values it holds) for each interval of Eq. (1), or
    for mixed each (sigma, q) pair of the two-dimensional sweep on its own, then ALL_PAIRS."""
    if degradations.get_degradation(degradation).parts:
        return [(degradations.value_text(degradation, value), np.all(values == value, axis=1))
                for value in values] + [(ALL_PAIRS, np.ones(len(values), bool))]
    return [(f"{low}-{high}", (values >= low) & (values <= high))
            for low, high in INTERVALS[degradation]]


def seed_table(values, correct, clean, groups, degradation, paper):
    """One row per interval (each pair for mixed; and "clean") and network: mean, SD and count
    over seeds of the interval accuracy; for a parameter-aware network, its gain over its twin
    and interval, and for one told the estimate or the truth, its gain over the placebo of the
    same join (what the parameter's information adds to a second input) and interval."""
    rows = []
    paper_numbers = PAPER_INTERVALS.get(paper) or {}
    for position, (interval, inside) in enumerate(value_groups(values, degradation)):
        # Eq. (1) per image: the share of the interval's values at which it is right; per
        # network and folder, computed once for its own row and for every comparison with it.
        per_image = {group: {index: correct[(index, group.mode)][inside].mean(axis=0)
                             for index in folders}
                     for group, folders in groups.items()} if inside.any() else {}
        for group, folders in groups.items():
            mode = group.mode
            row = {"interval": interval, "network": group.name, "values": int(inside.sum()),
                   "paper": paper_numbers[mode][position] if mode in paper_numbers else np.nan}
            rows.append(row)
            if not inside.any():  # a --params sweep that left this interval out
                row.update({"mean": np.nan, "sd": np.nan, "seeds": len(folders)})
                continue
            row.update(spread([a.mean() for a in per_image[group].values()]))
            twin = NetworkGroup(TWINS.get(mode))
            if twin in groups:
                row["twin"] = twin.name
                row["gain"], row["gain_ci_low"], row["gain_ci_high"], row["paired"] = \
                    gain_over(per_image[group], per_image[twin])
                if mode in paper_numbers and twin.mode in paper_numbers:
                    row["paper_gain"] = paper_numbers[mode][position] - paper_numbers[
                        twin.mode][position]
            placebo = NetworkGroup(PLACEBOS.get(mode), group.join)
            if placebo in groups:
                row["placebo"] = placebo.name
                (row["over_placebo"], row["over_placebo_ci_low"], row["over_placebo_ci_high"],
                 row["placebo_paired"]) = gain_over(per_image[group], per_image[placebo])
    for group, folders in groups.items():
        accuracies = [clean[(index, group.mode)] for index in folders
                      if (index, group.mode) in clean]
        if accuracies:
            rows.append({"interval": "clean", "network": group.name, **spread(accuracies)})
    columns = ["interval", "network", "values", "mean", "sd", "seeds", "paper", "twin", "gain",
               "gain_ci_low", "gain_ci_high", "paired", "paper_gain", "placebo", "over_placebo",
               "over_placebo_ci_low", "over_placebo_ci_high", "placebo_paired"]
    return pd.DataFrame(rows).reindex(columns=columns)


def gain_over(per_image, other):
    """(gain, 95% low, 95% high, paired) of a network over another, each {folder: per-image
    accuracy}: paired by seed when every folder of the first holds the other too (the same seed
    starts both from the same convolutions)."""
    paired = set(per_image) <= set(other)
    chosen = per_image if paired else other
    return (*gain_interval(list(per_image.values()), [other[i] for i in chosen], paired),
            paired)


def spread(accuracies):
    accuracies = np.asarray(accuracies, np.float64)
    return {"mean": float(accuracies.mean()), "seeds": len(accuracies),
            "sd": float(accuracies.std(ddof=1)) if len(accuracies) > 1 else np.nan}


def seed_markdown(table, dataset_name, degradation, paper, images):
    unit = degradations.get_degradation(degradation).unit
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
    lines += gain_section(cell, intervals, "twin", "gain", "Gain over the image-only twin")
    lines += gain_section(cell, intervals, "placebo", "over_placebo",
                          "Gain over the placebo of the same join (told a parameter drawn "
                          "independently of the image): what the parameter's information adds "
                          "to a second input")
    return "\n".join(lines) + "\n"


def gain_section(cell, intervals, other, column, heading):
    """The Markdown lines of one comparison of the seed table: per interval, each network's
    `column` over its `other` ("twin" or "placebo") with its interval; none if no network has
    one."""
    others = {network: row[other] for (_, network), row in cell.items()
              if isinstance(row[other], str)}
    if not others:
        return []
    lines = ["", f"{heading}, mean over seeds [95% interval over seeds and test images] (seeds); "
             "see statistics.gain_interval.", "",
             "| interval | " + " | ".join(f"{group_label(n)} - {group_label(o)}"
                                          for n, o in others.items()) + " |",
             "|" + "---|" * (len(others) + 1)]
    for interval in intervals:
        if interval == "clean":
            continue
        cells = []
        for network in others:
            row = cell[(interval, network)]
            if np.isnan(row[column]):
                cells.append(NO_VALUE)
                continue
            text = gain_text(row[column], row[f"{column}_ci_low"], row[f"{column}_ci_high"]) + \
                f" ({row['seeds']})"
            if column == "gain" and not np.isnan(row["paper_gain"]):
                text += f"; paper {row['paper_gain']:+.3f}"
            cells.append(text)
        lines.append(f"| {interval} | " + " | ".join(cells) + " |")
    return lines


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
    unit = degradations.get_degradation(degradation).unit

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
        mode = NetworkGroup.parse(network).mode
        twin = TWINS.get(mode)
        if twin is None:
            continue
        lines += ["", f"{group_label(network)} - {LABELS[twin]}, per {unit} interval: gain "
                  "[95% interval] (paired bootstrap over test images for one training; over "
                  "seeds and test images for several, see statistics.gain_interval).", "",
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
    worth = worth[worth["network"].map(lambda n: NetworkGroup.parse(n).mode in TWINS)]
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
