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
The library is degraded_cnn/evaluation/: the sweep and its records (sweeps.py), the tables
(tables.py), the figures (figures.py), the statistics (statistics.py), the gate and grid studies;
this file is the command line, one short function per job.

--degradation mixed (beyond the paper: noise, then JPEG) sweeps every (sigma, q) pair of a grid
instead, with heat maps (degraded_cnn/evaluation/grid.py).

--compare puts such tables of several settings (data size, width, join) side by side, with no
sweep, in <dataset>_<degradation>_settings.csv and .md. --gate (beyond the paper, gate.py) mixes
the clean-trained and the degraded-trained network by the estimated level, in
<dataset>_<degradation>_gate.csv and .md.

Each job has a verb (the first word), or is read from the flags as before:

    sweep      Tables 2-6 and Figures 4-8 of one set of networks (the default)
    seeds      the seed study of several --weights folders (the default for several)
    estimator  the estimator's tables alone (--estimator-only)
    gate       the level as a gate between two networks (--gate)
    grid       the mixed degradation's (sigma, q) grid (--degradation mixed)
    compare    earlier tables side by side (--compare)
    replot     redraw the figures from the tables (--replot)
    restore    beyond the paper: denoise by the estimated level, then classify (no old form)

    python evaluate.py --dataset cifar10 --degradation jpeg
    python evaluate.py seeds --dataset ../shared/data/cifar10-subset.npz --degradation noise \
        --weights weights/seed0 weights/seed1 weights/seed2
    python evaluate.py --dataset ../shared/data/cifar10-subset.npz --degradation noise
    python evaluate.py --dataset cifar10 --degradation jpeg --params 1,10,50 --limit 200
    python evaluate.py --dataset cifar10 --degradation jpeg --estimator-only
    python evaluate.py --dataset ../shared/data/cifar10-subset.npz --degradation mixed \
        --weights weights weights/seed1 weights/seed2
    python evaluate.py --dataset ../shared/data/cifar10-subset.npz --degradation noise \
        --weights weights/seed0 weights/seed1 weights/seed2 weights/seed3 weights/seed4
"""
import argparse
import sys
from pathlib import Path

from degraded_cnn import cli, paths

# The degradations with an evaluation (no blur networks exist).
EVALUATED = ("jpeg", "noise", "mixed")
# `restore` sweeps sigma 0, 5, ..., 50 unless --params says otherwise: a denoiser per image and
# value (three levels each) costs more than a classifier.
RESTORE_STEP = 5


def test_set(args):
    """The TestSet of the command line."""
    from degraded_cnn.evaluation.test_set import TestSet
    return TestSet(dataset=args.dataset, degradation=args.degradation, weights=args.weights,
                   params=args.params, limit=args.limit, trained_on=args.trained_on)


def output_name(args):
    from degraded_cnn.evaluation import test_set
    return test_set.output_name(args.dataset, args.trained_on)


def sweep_options(args):
    """The sweep's settings from the command line, as keyword arguments."""
    return dict(degradation=args.degradation, seed=args.seed,
                fixed_parameter=args.fixed_parameter, estimator_dir=args.estimator_dir,
                batch_size=args.batch_size)


def check_single(args, verb):
    """The verbs of one degradation (all but grid) take jpeg or noise; a fixed parameter must
    lie in its range."""
    from degraded_cnn import data
    from degraded_cnn.vocabulary.degradations import check_params
    if args.degradation == "mixed":
        raise data.DataError(f"{verb} takes a single degradation (jpeg, noise), not mixed: "
                             "`evaluate.py grid` sweeps the mixed one")
    if args.fixed_parameter is not None:
        check_params(args.degradation, [args.fixed_parameter], 1)


def sweep(args, estimator_only=False):
    """Tables 2-6 and Figures 4-8 of one set of networks (each from the first --weights folder
    that has it)."""
    from degraded_cnn.evaluation.sweeps import sweep_folders
    from degraded_cnn.evaluation.tables import NETWORKS
    check_single(args, "sweep")
    test = test_set(args)
    modes = () if estimator_only else NETWORKS[args.degradation]
    correct, clean, _, estimates = sweep_folders(
        test.folders, test.trained_on, test.images, test.labels, test.values, modes,
        with_estimator=True, **sweep_options(args))
    write_outputs(args, test.name, test.values, first_of_each(correct, modes), estimates,
                  len(test.images), first_of_each(clean, modes))


def first_of_each(results, modes):
    """{mode: result} from sweep_folders' {(folder index, mode): result}, each mode from the
    first folder that has it, in the order of `modes`."""
    chosen = {}
    for (_, mode), result in sorted(results.items(), key=lambda item: item[0].folder):
        chosen.setdefault(mode, result)
    return {mode: chosen[mode] for mode in modes if mode in chosen}


def ablation_note(args, markdown):
    """A table of a --fixed-parameter run says so at its top."""
    if args.fixed_parameter is None:
        return markdown
    return (f"Ablation: every parameter-aware network was given {args.fixed_parameter:g} as its "
            "parameter, whatever the image.\n\n" + markdown)


def write_outputs(args, dataset_name, values, correct, estimates, image_count, clean):
    """`estimates`: the estimator's mean and SD at each value (estimator_table), or None."""
    import pandas as pd
    from degraded_cnn.evaluation import figures, tables
    from degraded_cnn.evaluation.reports import write_csv, write_report
    stem = Path(args.out) / f"{dataset_name}_{args.degradation}"
    if correct:
        paper = tables.paper_key(dataset_name, args.degradation)
        accuracy = tables.accuracy_table(values, correct)
        write_csv(accuracy, f"{stem}_accuracy.csv")
        figures.accuracy_figure(accuracy, dataset_name, args.degradation, f"{stem}_accuracy.png")
        intervals = tables.interval_table(values, correct, args.degradation, paper, args.seed)
        write_report(f"{stem}_intervals", intervals, ablation_note(args, tables.interval_markdown(
            intervals, correct, dataset_name, args.degradation, paper, image_count, clean)))
        write_csv(pd.DataFrame({"network": list(clean), "accuracy": list(clean.values())}),
                  f"{stem}_clean.csv")
    if estimates is not None:
        write_report(f"{stem}_estimator", estimates, tables.estimator_markdown(
            estimates, dataset_name, args.degradation, image_count), figures={
            ".png": lambda path: figures.estimator_figure(estimates, args.degradation, path)})


def estimator(args):
    """The estimator's Tables 2, 5 and Figures 4, 7 alone; for mixed, its grid table."""
    if args.degradation == "mixed":
        from degraded_cnn.evaluation.grid import evaluate_estimators
        test = test_set(args)
        return evaluate_estimators(args.estimator_dir or test.folders[0], test.name,
                                   test.images, test.values, out=args.out, seed=args.seed)
    return sweep(args, estimator_only=True)


def seeds(args):
    """The seed study: the networks of every --weights folder on the same degraded images."""
    from degraded_cnn.evaluation import figures, tables
    from degraded_cnn.evaluation.reports import write_report
    from degraded_cnn.evaluation.sweeps import sweep_folders
    check_single(args, "seeds")
    test = test_set(args)
    correct, clean, joins, _ = sweep_folders(
        test.folders, test.trained_on, test.images, test.labels, test.values,
        tables.NETWORKS[args.degradation], **sweep_options(args))
    paper = tables.paper_key(test.name, args.degradation)
    table = tables.seed_table(test.values, correct, clean, tables.network_groups(joins),
                              args.degradation, paper)
    markdown = tables.seed_markdown(table, test.name, args.degradation, paper, len(test.images))
    write_report(Path(args.out) / f"{test.name}_{args.degradation}_seeds", table,
                 ablation_note(args, markdown), figures={
                     ".png": lambda path: figures.gain_figure(table, test.name,
                                                              args.degradation, path)})


def gate(args):
    """Beyond the paper: the clean- and the degraded-trained network mixed by the level."""
    from degraded_cnn import data
    from degraded_cnn.evaluation.gate import evaluate_gate
    check_single(args, "gate")
    test = test_set(args)
    if args.gate_validation is None and test.trained_on != test.dataset.name:
        raise data.DataError("--gate with --trained-on needs --gate-validation: the dataset "
                             f"the networks of {test.trained_on} were trained on, whose "
                             "held-out images fit the gate")
    validation = data.load_dataset(args.gate_validation) if args.gate_validation \
        else test.dataset
    evaluate_gate(test.folders, test.trained_on, test.name, test.images, test.labels,
                  test.values, degradation=args.degradation, validation_data=validation,
                  out=args.out, seed=args.seed, batch_size=args.batch_size,
                  estimator_dir=args.estimator_dir)


def grid(args):
    """Beyond the paper: every (sigma, q) pair of the mixed degradation."""
    from degraded_cnn import data
    from degraded_cnn.evaluation.grid import evaluate_grid
    if args.degradation != "mixed" or args.fixed_parameter is not None or args.gate:
        raise data.DataError("--fixed-parameter and --gate take a single degradation (jpeg, "
                             "noise), not mixed; grid takes --degradation mixed")
    test = test_set(args)
    evaluate_grid(test.folders, test.trained_on, test.name, test.images, test.labels,
                  test.values, out=args.out, seed=args.seed, batch_size=args.batch_size,
                  estimator_dir=args.estimator_dir)


def restore(args):
    """Beyond the paper: denoise (told the estimated, the true or a fixed sigma), then classify
    with org and noisy of every --weights folder; sigma every RESTORE_STEP unless --params."""
    from degraded_cnn import data
    from degraded_cnn.evaluation import restoration
    from degraded_cnn.evaluation.reports import write_report
    from degraded_cnn.models.inference import load_model
    from degraded_cnn.predict import classification, estimation
    from degraded_cnn.vocabulary.degradations import all_params
    if args.degradation != restoration.DEGRADATION:
        raise data.DataError("restore denoises: give --degradation noise")
    test = test_set(args)
    values = test.values if args.params else all_params("noise", RESTORE_STEP)
    networks = [{name: classification.load_classifier(test.trained_on, name, folder)
                 for name in restoration.CLASSIFIERS} for folder in test.folders]
    estimator_model = load_model(estimation.find_estimator(
        "noise", args.estimator_dir or test.folders[0], test.images.shape[-1]))
    correct, rate = restoration.sweep_restoration(networks, test.images, test.labels, values,
                                                  estimator_model, args.seed, args.batch_size)
    table = restoration.restoration_table(values, correct, args.seed)
    write_report(Path(args.out) / f"{test.name}_noise_restoration", table,
                 restoration.restoration_markdown(table, test.name, len(test.images), values,
                                                  rate))


def replot(args):
    """Redraw the figures of --dataset and --degradation from the tables already in --out."""
    import pandas as pd
    from degraded_cnn import data
    from degraded_cnn.evaluation.figures import accuracy_figure, estimator_figure
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


def compare(args):
    """The tables of earlier evaluations side by side, no sweep."""
    from degraded_cnn import data
    from degraded_cnn.evaluation import tables
    from degraded_cnn.evaluation.reports import write_report
    settings = []
    given = [compare_item(text) for text in args.compare or ()]
    if not given:
        raise data.DataError("compare takes --compare LABEL=TABLE[,FIXED] ...")
    estimators = [tables_given[0].endswith("_estimator.csv") for _, tables_given in given]
    if any(estimators):
        if not all(estimators) or any(len(tables_given) > 1 for _, tables_given in given):
            raise data.DataError("--compare takes either _estimator.csv tables, one per label, "
                                 "or classifier tables, not both")
        return compare_estimators(args, {label: tables_given[0]
                                         for label, tables_given in given})
    for text, (label, tables_given) in zip(args.compare, given):
        read = [tables.read_results(path) for path in tables_given]
        if len(read) > 2:
            raise data.DataError(f"--compare {text!r}: at most a table and its ablation")
        settings.append((label, read[0], read[1] if len(read) == 2 else None))
    name = output_name(args)
    table = tables.settings_table(settings)
    write_report(Path(args.out) / f"{name}_{args.degradation}_settings", table,
                 tables.settings_markdown(table, args.degradation,
                                          tables.paper_key(name, args.degradation)))


def compare_item(text):
    """LABEL=TABLE[,FIXED] -> (label, [table paths])."""
    from degraded_cnn import data
    label, separator, tables_given = text.partition("=")
    if not separator or not label or not tables_given:
        raise data.DataError(f"--compare {text!r}: expected LABEL=TABLE or "
                             "LABEL=TABLE,FIXED_TABLE")
    return label, tables_given.split(",")


def compare_estimators(args, tables_given):
    """Estimators' tables (evaluate.py estimator) side by side: Table 2 / 5 with each one's
    bias, and Figure 4 / 7 with every curve; <dataset>_<degradation>_estimators.*."""
    import pandas as pd
    from degraded_cnn import data
    from degraded_cnn.evaluation.figures import estimator_figure
    from degraded_cnn.evaluation.reports import write_report
    from degraded_cnn.evaluation.tables import estimators_markdown
    for path in tables_given.values():
        if not Path(path).is_file():
            raise data.DataError(f"{path} does not exist: run evaluate.py --estimator-only first")
    tables = {label: pd.read_csv(path) for label, path in tables_given.items()}
    combined = pd.concat([table.assign(estimator=label) for label, table in tables.items()],
                         ignore_index=True)
    write_report(Path(args.out) / f"{output_name(args)}_{args.degradation}_estimators",
                 combined, estimators_markdown(tables, args.degradation), figures={
                     ".png": lambda path: estimator_figure(tables, args.degradation, path)})


def verb_of(args):
    """The job of a command line without a verb, read from its flags (the older form)."""
    if args.replot:
        return "replot"
    if args.compare:
        return "compare"
    if args.degradation == "mixed":
        return "estimator" if args.estimator_only else "grid"
    if args.gate:
        return "gate"
    if args.estimator_only:
        return "estimator"
    return "seeds" if len(args.weights) > 1 and not args.one_set else "sweep"


JOBS = {"sweep": sweep, "seeds": seeds, "estimator": estimator, "gate": gate, "grid": grid,
        "compare": compare, "replot": replot, "restore": restore}


def build_parser():
    parser = argparse.ArgumentParser(
        usage="%(prog)s [{" + ",".join(JOBS) + "}] [options]",
        description="Sweep every degradation value over a test set and write the paper's "
                    "accuracy and estimator tables and figures. The first word may name the job "
                    "(" + ", ".join(JOBS) + "); without it the flags say which, as before.")
    parser.add_argument("--dataset", default="cifar10",
                        help="cifar10, cifar100, mnist, fashion_mnist, an .npz or a folder")
    parser.add_argument("--degradation", default="jpeg", choices=EVALUATED)
    parser.add_argument("--weights", nargs="+", default=[str(paths.WEIGHTS_DIR)],
                        metavar="DIR", help="folder of the trained networks (default: the "
                        "shipped weights/); "
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
    cli.add_verbose_flag(parser)
    return parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    verb = argv.pop(0) if argv and argv[0] in JOBS else None
    parser = build_parser()
    args = parser.parse_args(argv)
    job = JOBS[verb or verb_of(args)]
    if job not in (compare, replot):  # the others run networks
        cli.import_backend(args.verbose)
    return cli.run(parser.prog, lambda: job(args))


if __name__ == "__main__":
    raise SystemExit(main())
