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
                                          that holds both training spread and test sampling,
                                          and, where the placebo (shuffled_*) was trained, the
                                          gain of est_*/known_* over it

Each weights folder keeps a record of what its sweep found (SweepRecord, a few tens of KB): an
evaluation run again, or after one more network is trained, classifies only what is new, and a
seed's record stands in for its weights where those are not kept. A network whose training has
epochs to go (its backup says so: still running, or stopped) is left out with a warning.
The work is split by job: the sweep and its records in sweeps.py, the tables in tables.py, the
figures in figures.py, the statistics in accuracy_stats.py; this file is the command line.

--degradation mixed (beyond the paper: noise, then JPEG) sweeps every (sigma, q) pair of a grid
instead, with heat maps (grid.py).

--compare puts such tables of several settings (data size, width, join) side by side, with no
sweep, in <dataset>_<degradation>_settings.csv and .md. --gate (beyond the paper, gate.py) mixes
the clean-trained and the degraded-trained network by the estimated level, in
<dataset>_<degradation>_gate.csv and .md.

    python evaluate.py --dataset cifar10 --degradation jpeg
    python evaluate.py --dataset ../shared/data/cifar10-subset.npz --degradation noise
    python evaluate.py --dataset cifar10 --degradation jpeg --params 1,10,50 --limit 200
    python evaluate.py --dataset cifar10 --degradation jpeg --estimator-only
    python evaluate.py --dataset ../shared/data/cifar10-subset.npz --degradation mixed \
        --weights weights weights/seed1 weights/seed2
    python evaluate.py --dataset ../shared/data/cifar10-subset.npz --degradation noise \
        --weights weights/seed0 weights/seed1 weights/seed2 weights/seed3 weights/seed4
"""
import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import classifier  # noqa: E402
import data  # noqa: E402
import degrade  # noqa: E402
import estimator  # noqa: E402
from figures import accuracy_figure, estimator_figure, gain_figure  # noqa: E402
from gate import evaluate_gate  # noqa: E402
from grid import evaluate_grid  # noqa: E402
from sweeps import sweep_folders  # noqa: E402
from tables import (  # noqa: E402
    NETWORKS, accuracy_table, estimator_markdown, estimators_markdown, interval_markdown,
    interval_table, network_groups, paper_key, read_results, seed_markdown, seed_table,
    settings_markdown, settings_table, write_csv, write_text)


def sweep_values(degradation, text):
    """--params: "10,20,30", or for mixed (sigma, q) pairs "0:10,25:50"; default every value."""
    if not text:
        return degrade.all_params(degradation)
    width = degrade.parameter_count(degradation)
    try:
        rows = [[float(v) for v in item.split(":")] for item in text.split(",")]
    except ValueError:
        rows = []
    if not rows or any(len(row) != width for row in rows):
        shape = "sigma:q pairs" if width > 1 else "numbers"
        raise data.DataError(f"--params {text!r}: {degradation} takes {shape} separated by "
                             "commas")
    values = np.array(rows)
    return degrade.check_params(degradation, values if width > 1 else values[:, 0], len(values))


def check_classes(trained_on, weights_dir, dataset):
    """Networks trained on `trained_on` must know the test set's classes, in the same order."""
    path = classifier.class_names_path(trained_on, weights_dir)
    if path.is_file() and path.read_text().splitlines() != list(dataset.class_names):
        raise data.DataError(f"the networks of {trained_on} in {weights_dir} know the classes "
                             f"in {path}, not those of {dataset.name} "
                             f"({', '.join(dataset.class_names[:4])}, ...)")


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
    mixture = bool(degrade.get_degradation(args.degradation).parts)
    if args.fixed_parameter is not None and not mixture:
        degrade.check_params(args.degradation, [args.fixed_parameter], 1)
    trained_on, name = args.trained_on or dataset.name, output_name(args)
    for folder in args.weights:
        check_classes(trained_on, folder, dataset)
    folders = [Path(folder) for folder in args.weights]
    if mixture:
        return evaluate_grid(args, folders, trained_on, name, images, labels, values)
    if args.gate:
        return evaluate_gate(args, dataset, folders, trained_on, name, images, labels, values)
    if len(folders) > 1 and not args.one_set:
        return evaluate_seeds(args, folders, trained_on, name, images, labels, values)
    modes = () if args.estimator_only else NETWORKS[args.degradation]
    correct, clean, _, estimates = sweep_folders(args, folders, trained_on, images, labels,
                                                 values, modes, with_estimator=True)
    write_outputs(args, name, values, first_of_each(correct, modes), estimates, len(images),
                  first_of_each(clean, modes))


def first_of_each(results, modes):
    """{mode: result} from sweep_folders' {(folder index, mode): result}, each mode from the
    first folder that has it, in the order of `modes`."""
    chosen = {}
    for (_, mode), result in sorted(results.items(), key=lambda item: item[0].folder):
        chosen.setdefault(mode, result)
    return {mode: chosen[mode] for mode in modes if mode in chosen}


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


def compare(args):
    """--compare: the tables of earlier evaluations side by side, no sweep."""
    settings = []
    given = [compare_item(text) for text in args.compare]
    estimators = [paths[0].endswith("_estimator.csv") for _, paths in given]
    if any(estimators):
        if not all(estimators) or any(len(paths) > 1 for _, paths in given):
            raise data.DataError("--compare takes either _estimator.csv tables, one per label, "
                                 "or classifier tables, not both")
        return compare_estimators(args, {label: paths[0] for label, paths in given})
    for text, (label, paths) in zip(args.compare, given):
        tables = [read_results(path) for path in paths]
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


def compare_item(text):
    """LABEL=TABLE[,FIXED] -> (label, [paths])."""
    label, separator, paths = text.partition("=")
    if not separator or not label or not paths:
        raise data.DataError(f"--compare {text!r}: expected LABEL=TABLE or "
                             "LABEL=TABLE,FIXED_TABLE")
    return label, paths.split(",")


def compare_estimators(args, paths):
    """Estimators' tables (evaluate.py --estimator-only) side by side: Table 2 / 5 with each
    one's bias, and Figure 4 / 7 with every curve; <dataset>_<degradation>_estimators.*."""
    for path in paths.values():
        if not Path(path).is_file():
            raise data.DataError(f"{path} does not exist: run evaluate.py --estimator-only first")
    tables = {label: pd.read_csv(path) for label, path in paths.items()}
    stem = Path(args.out) / f"{output_name(args)}_{args.degradation}_estimators"
    write_csv(pd.concat([table.assign(estimator=label) for label, table in tables.items()],
                        ignore_index=True), f"{stem}.csv")
    markdown = estimators_markdown(tables, args.degradation)
    write_text(markdown, f"{stem}.md")
    estimator_figure(tables, args.degradation, f"{stem}.png")
    print(markdown)
    print(f"wrote {stem.name}.csv, .md, .png in {args.out}")


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
    parser.add_argument("--one-set", action="store_true",
                        help="the --weights folders hold one set of networks between them (e.g. "
                        "trained on different machines): each network is taken from the first "
                        "folder that has it, and the per-network outputs are written")
    parser.add_argument("--estimator-dir", help="folder of the estimator (default: the first "
                        "--weights folder, else the folder above it)")
    parser.add_argument("--trained-on", metavar="NAME",
                        help="evaluate the networks trained on dataset NAME (e.g. cifar10-q75) "
                        "on --dataset's test images, which must have the same classes; outputs "
                        "are named <dataset>_trained-on-<NAME>_*")
    parser.add_argument("--out", default="plots", help="folder of the tables and figures")
    parser.add_argument("--limit", type=int, help="use only the first N test images")
    parser.add_argument("--params", help="comma-separated values instead of the full sweep "
                        "(mixed: sigma:q pairs, e.g. 0:10,25:50)")
    parser.add_argument("--estimator-only", action="store_true",
                        help="only the estimator's table and figure (Tables 2, 5; Figs 4, 7); "
                        "for mixed, the grid table of the mixed, noise and JPEG estimators")
    parser.add_argument("--batch-size", type=int, default=512,
                        help="classifier inference batch (the estimator picks its own)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise and bootstrap")
    parser.add_argument("--replot", action="store_true",
                        help="only redraw the figures from the tables already in --out")
    parser.add_argument("--compare", nargs="+", metavar="LABEL=TABLE[,FIXED]",
                        help="instead of sweeping, put earlier evaluations side by side (data "
                        "size, width, join): each TABLE an _intervals.csv or _seeds.csv, FIXED "
                        "the same networks' --fixed-parameter table; writes "
                        "<dataset>_<degradation>_settings.csv and .md. Or estimators: each TABLE "
                        "an _estimator.csv; writes _estimators.csv, .md and .png")
    parser.add_argument("--gate", action="store_true",
                        help="beyond the paper: mix the clean-trained and the degraded-trained "
                        "network (org and noisy, or org and jpg) of each --weights folder with "
                        "a weight that follows the estimated level, fitted on their validation "
                        "images (gate.py); writes <dataset>_<degradation>_gate.csv and .md")
    parser.add_argument("--gate-validation", metavar="DATASET",
                        help="with --gate and --trained-on: the networks' training dataset, "
                        "whose held-out images fit the gate (default: --dataset)")
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
