"""The evaluation's figures: accuracy against the parameter with the paper's interval means
(Figs 5, 6, 8), the estimator against the truth (Figs 4, 7), and the seed study's gains."""


import numpy as np

from degraded_cnn import data
from degraded_cnn.vocabulary import degradations
from degraded_cnn.evaluation.paper import PAPER_ESTIMATE_TABLES, PAPER_ESTIMATES, PAPER_INTERVALS
from degraded_cnn.evaluation.tables import INTERVALS, LABELS, group_label, paper_key


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
    return degradations.get_degradation(degradation).axis


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
    """Estimated against true parameter (Figs 4, 7), with the paper's Table 2 / 5 (mean +- SD).
    `table`: one estimator's table, or {label: table} of several, each drawn as its mean and a
    band of +- SD."""
    plt = pyplot()
    spec = degradations.get_degradation(degradation)
    figure, axis = plt.subplots(figsize=(5, 5))
    axis.plot([spec.low, spec.high], [spec.low, spec.high], color="grey", lw=0.8, label="truth")
    if isinstance(table, dict):
        for label, one in table.items():
            line, = axis.plot(one["param"], one["mean"], lw=1.2, label=f"{label} (mean +- SD)")
            axis.fill_between(one["param"], one["mean"] - one["sd"], one["mean"] + one["sd"],
                              color=line.get_color(), alpha=0.2)
    else:
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
