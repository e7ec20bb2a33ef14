"""Beyond the paper: the mixed degradation (Gaussian noise, then JPEG) on a two-dimensional
sweep, every (sigma, q) pair of vocabulary.degradations.MIXED_SWEEP (`evaluate.py grid`).

The seed table (tables.seed_table) has one row per pair, so every network's mean and SD over
seeds and every parameter-aware network's gain over the image-only one, with its interval over
seeds and test images, are the seed study's own. Outputs, in --out:

  <dataset>_mixed_grid.csv            per pair and network: mean, SD, seeds; gain and interval
                                      over the image-only network and over the placebo
  <dataset>_mixed_grid.md             the same as sigma x q grids, after a summary over all
                                      pairs (the seed table's "all pairs" row)
  <dataset>_mixed_grid_accuracy.png   heat maps: accuracy of every network
  <dataset>_mixed_grid_gain.png       heat maps: each parameter-aware network's gain
  <dataset>_mixed_estimator.csv, .md  (--estimator-only) the mixed estimator's mean and SD of
                                      sigma and of q at every pair, beside the noise and the
                                      JPEG estimators' answers on the same images
"""
import time
from pathlib import Path

import numpy as np
import pandas as pd

from degraded_cnn import data
from degraded_cnn.evaluation.figures import pyplot, save_figure
from degraded_cnn.evaluation.reports import write_report
from degraded_cnn.predict import estimation
from degraded_cnn.evaluation.sweeps import degraded_test_set, sweep_folders
from degraded_cnn.evaluation.tables import (ALL_PAIRS, NETWORKS, NO_VALUE, gain_text,
                                            group_label, network_groups, param_columns,
                                            seed_table, value_groups)
from degraded_cnn.vocabulary import degradations

DEGRADATION = degradations.MIXED.name
ROWS, COLUMNS = degradations.MIXED.parts  # sigma down the grids, q across


def evaluate_grid(folders, dataset_name, outputs_name, images, labels, values, *, out, seed=0,
                  batch_size=512, estimator_dir=None):
    """The two-dimensional sweep of every network of `folders`: <outputs_name>_mixed_grid.*"""
    correct, clean, joins, _ = sweep_folders(
        folders, dataset_name, images, labels, values, NETWORKS[DEGRADATION],
        degradation=DEGRADATION, seed=seed, estimator_dir=estimator_dir, batch_size=batch_size)
    table = grid_table(values, correct, clean, network_groups(joins))
    write_report(Path(out) / f"{outputs_name}_{DEGRADATION}_grid", table,
                 grid_markdown(table, outputs_name, len(images), len(folders)),
                 {"_accuracy.png": lambda path: accuracy_maps(table, path),
                  "_gain.png": lambda path: gain_maps(table, path)})


def grid_table(values, correct, clean, groups):
    """The seed table with one row per pair, and the pair's sigma and q as columns."""
    table = seed_table(values, correct, clean, groups, DEGRADATION, None)
    pairs = {name: value for (name, _), value in zip(value_groups(values, DEGRADATION), values)}
    for index, part in enumerate(degradations.MIXED.parts):
        table.insert(1 + index, part, [pairs[name][index] if name in pairs else np.nan
                                       for name in table["interval"]])
    return table


def grid_of(table, network, column):
    """A (sigma rows x q columns) DataFrame of `column` for one network."""
    rows = table[(table["network"] == network) & table[ROWS].notna()]
    return rows.pivot(index=ROWS, columns=COLUMNS, values=column)


def grid_markdown(table, dataset_name, images, folders):
    networks = list(dict.fromkeys(table["network"]))
    lines = [f"Noise, then JPEG, on {dataset_name} ({images} test images, {folders} weights "
             "folder(s)): accuracy at each (sigma, q), mean over seeds (SD where there are "
             "several); rows sigma, columns q.", "", *summary_markdown(table)]
    for network in networks:
        means, sds = grid_of(table, network, "mean"), grid_of(table, network, "sd")
        seeds = int(table.loc[table["network"] == network, "seeds"].max())
        lines += ["", f"**{group_label(network)}** ({seeds} seed(s))", ""]
        lines += markdown_grid(means, lambda r, c: f"{means.loc[r, c]:.3f}" + (
            "" if np.isnan(sds.loc[r, c]) else f" +- {sds.loc[r, c]:.3f}"))
        clean = table[(table["network"] == network) & (table["interval"] == "clean")]
        if len(clean):
            lines += ["", f"Clean test images: {clean['mean'].iloc[0]:.3f}."]
    # Each gain over the image-only twin, then over the placebo (what the pair's information
    # adds to a second input).
    for column, other in (("gain", "twin"), ("over_placebo", "placebo")):
        for network in compared_networks(table, column):
            gains = grid_of(table, network, column)
            low = grid_of(table, network, f"{column}_ci_low")
            high = grid_of(table, network, f"{column}_ci_high")
            against = table.loc[table["network"] == network, other].dropna().iloc[0]
            lines += ["", f"**{group_label(network)} - {group_label(against)}**: gain, mean over "
                      "seeds [95% interval over seeds and test images]", ""]
            lines += markdown_grid(gains, lambda r, c: NO_VALUE if np.isnan(gains.loc[r, c])
                                   else gain_text(gains.loc[r, c], low.loc[r, c], high.loc[r, c]))
    return "\n".join(lines) + "\n"


def summary_markdown(table):
    """Every network over all the pairs swept: mean (SD) over seeds, and each gain over the
    image-only network and over the placebo with its interval over seeds and test images."""
    rows = table[table["interval"] == ALL_PAIRS]
    lines = [f"**Over all {int(rows['values'].max())} pairs** (Eq. (1): the share of the pairs "
             "at which an image is classified right, mean over seeds (SD); gains with their 95% "
             "interval over seeds and test images)", "",
             "| network | accuracy | gain over the image-only network | gain over the placebo |",
             "|---|---|---|---|"]
    for row in rows.itertuples():
        sd = "" if np.isnan(row.sd) else f" ({row.sd:.3f})"
        gains = [NO_VALUE if np.isnan(getattr(row, column)) else gain_text(
            getattr(row, column), getattr(row, f"{column}_ci_low"),
            getattr(row, f"{column}_ci_high")) for column in ("gain", "over_placebo")]
        lines.append(f"| {group_label(row.network)} | {row.mean:.3f}{sd} | " + " | ".join(gains)
                     + " |")
    return lines


def markdown_grid(frame, cell):
    """A Markdown table of `frame`'s rows (sigma) and columns (q), each cell written by cell()."""
    lines = ["| sigma \\ q | " + " | ".join(f"{c:g}" for c in frame.columns) + " |",
             "|" + "---|" * (len(frame.columns) + 1)]
    for r in frame.index:
        lines.append(f"| {r:g} | " + " | ".join(cell(r, c) for c in frame.columns) + " |")
    return lines


def compared_networks(table, column="gain"):
    """The networks with a `column` comparison: "gain" (over the image-only twin, every
    parameter-aware network) or "over_placebo" (the estimated and the known pair)."""
    return [network for network in dict.fromkeys(table["network"])
            if table.loc[table["network"] == network, column].notna().any()]


def accuracy_maps(table, path):
    networks = list(dict.fromkeys(table["network"]))
    heat_maps({group_label(n): grid_of(table, n, "mean") for n in networks}, path,
              "accuracy", 0.0, 1.0, "viridis")


def gain_maps(table, path):
    """Each parameter-aware network's gain over the image-only one; False if there is none."""
    networks = compared_networks(table)
    if not networks:
        return False
    gains = {group_label(n): grid_of(table, n, "gain") for n in networks}
    reach = max(0.05, max(np.nanmax(np.abs(g.to_numpy())) for g in gains.values()))
    heat_maps(gains, path, "gain over the image-only network", -reach, reach, "RdBu")
    return True


def heat_maps(grids, path, what, low, high, colours):
    """One panel per grid (sigma rows x q columns), each cell printed with its value."""
    plt = pyplot()
    figure, axes = plt.subplots(1, len(grids), figsize=(4.2 * len(grids), 3.6), squeeze=False)
    for index, (axis, (title, grid)) in enumerate(zip(axes[0], grids.items())):
        shown = axis.imshow(grid.to_numpy(), cmap=colours, vmin=low, vmax=high, origin="lower",
                            aspect="auto")
        axis.set_xticks(range(len(grid.columns)), [f"{c:g}" for c in grid.columns])
        axis.set_yticks(range(len(grid.index)), [f"{r:g}" for r in grid.index])
        axis.set_xlabel("JPEG quality q")
        if index == 0:  # the panels share their axes
            axis.set_ylabel("noise sigma")
        axis.set_title(title, fontsize=9)
        for (r, c), value in np.ndenumerate(grid.to_numpy()):
            if not np.isnan(value):
                axis.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=6)
    figure.colorbar(shown, ax=axes[0].tolist(), label=what, fraction=0.03)
    save_figure(figure, path)


# ---------------------------------------------------------------------------------------------
# The estimators on the grid
# ---------------------------------------------------------------------------------------------
def estimators_here(folder, channels):
    """{name: model} of the mixed estimator (required) and the single-degradation ones that
    exist beside it, each of which reads only its own part."""
    models = {DEGRADATION: estimation.load_estimator(DEGRADATION, folder, channels)}
    for part in degradations.MIXED.parts:
        try:
            models[part] = estimation.load_estimator(part, folder, channels)
        except data.DataError:
            print(f"no {part} estimator in {folder}: its column is left out")
    return models


def evaluate_estimators(folder, outputs_name, images, values, *, out, seed=0):
    """The estimators of `folder` on every pair: <outputs_name>_mixed_estimator.csv and .md."""
    models = estimators_here(folder, images.shape[-1])
    estimates = {name: np.zeros((len(values), len(images), degradations.parameter_count(name)))
                 for name in models}
    start = time.perf_counter()
    for index, value in enumerate(values):
        degraded = degraded_test_set(images, DEGRADATION, value, seed)
        for name, model in models.items():
            estimates[name][index] = estimation.estimate(model, degraded, name).reshape(
                len(images), -1)
        print(f"[{index + 1:3d}/{len(values)}] {time.perf_counter() - start:6.1f}s  "
              f"{degradations.value_text(DEGRADATION, value)}", flush=True)
    table = estimator_grid_table(values, estimates)
    write_report(Path(out) / f"{outputs_name}_{DEGRADATION}_estimator", table,
                 estimator_grid_markdown(table, outputs_name, len(images)))


def estimator_grid_table(values, estimates):
    """Per pair: param_noise, param_jpeg; the mixed estimator's mean_/sd_<part>; and each single
    estimator's <part>_alone_mean and _sd, its answer for its own part."""
    table = pd.DataFrame(param_columns(DEGRADATION, values))
    for name, answers in estimates.items():
        for index, part in enumerate(degradations.parts(name)):
            mean, sd = (f"mean_{part}", f"sd_{part}") if name == DEGRADATION else \
                (f"{part}_alone_mean", f"{part}_alone_sd")
            table[mean], table[sd] = answers[..., index].mean(axis=1), answers[..., index].std(
                axis=1)
    return table


def estimator_grid_markdown(table, dataset_name, images):
    lines = [f"Estimates under noise, then JPEG, on {dataset_name} ({images} test images): mean "
             "+- SD over the images at each true (sigma, q). 'mixed' is the two-channel "
             "estimator; 'alone' the single-degradation estimator of that parameter on the "
             "same images.", ""]
    columns = []
    for part in degradations.MIXED.parts:
        unit = degradations.get_degradation(part).unit
        columns.append((f"mixed: {unit}", f"mean_{part}", f"sd_{part}"))
        if f"{part}_alone_mean" in table:
            columns.append((f"alone: {unit}", f"{part}_alone_mean", f"{part}_alone_sd"))
    lines += ["| sigma | q | " + " | ".join(name for name, _, _ in columns) + " |",
              "|" + "---|" * (len(columns) + 2)]
    for row in table.to_dict("records"):
        cells = [f"{row[mean]:.1f} +- {row[sd]:.1f}" for _, mean, sd in columns]
        lines.append(f"| {row['param_noise']:g} | {row['param_jpeg']:g} | " + " | ".join(cells)
                     + " |")
    return "\n".join(lines) + "\n"
