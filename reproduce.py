"""The whole pipeline in one command: estimator, classifiers, evaluation.

    python reproduce.py --dataset ../shared/data/cifar10-subset.npz --degradation jpeg
    python reproduce.py --dataset cifar10 --degradation noise --recipe paper   # on a GPU
    python reproduce.py --dataset ../shared/data/cifar10-subset.npz --recipe quick \
        --weights runs/quick --out plots/quick
    python reproduce.py --dataset ../shared/data/cifar10-subset.npz --degradation noise \
        --seeds 0,1,2,3,4          # every network five times: weights/seed0 ... weights/seed4
    python reproduce.py --dataset ../shared/data/cifar10-q75 --degradation noise --recipe cpu-full
    python reproduce.py --dataset ../shared/data/cifar10-subset.npz --degradation mixed
                                   # beyond the paper: noise, then JPEG

Each stage is an ordinary command of estimator.py, classifier.py or evaluate.py, printed before it
runs so that it can be run (or resumed) by hand. A training stage whose model exists and has been
trained for the recipe's epochs is skipped; an interrupted one resumes where it stopped.
"""
import argparse
import shlex
import subprocess
import sys
from pathlib import Path

from degraded_cnn import data, paths
from degraded_cnn.vocabulary import recipes
from degraded_cnn.vocabulary.degradations import GRAY_AS_RGB
from degraded_cnn.vocabulary.modes import MODES, compared_modes
# The degradations that the pipeline trains and evaluates.
DEGRADATIONS = tuple(recipes.TRAIN_DIRS)


def pipeline_modes(pipeline, degradation):
    return [mode for mode in compared_modes(degradation)
            if pipeline["known"] or not MODES[mode].told_truth]


def seed_dirs(weights, seeds):
    """The classifiers' folder of each seed; None: one training, in `weights` itself."""
    if seeds is None:
        return [Path(weights)]
    return [paths.seed_folder(weights, seed) for seed in seeds]


def estimator_runs(degradation, runs, weights, channels=3):
    """(flags, model path, epochs) of each estimator run (recipes.EstimatorRun): the last
    writes to `weights`, each earlier one to `weights`/stage<N>, and every run after the first
    starts from the one before."""
    models = [paths.estimator_path(degradation, Path(weights) / f"stage{number}", channels)
              for number in range(1, len(runs))] + [
        paths.estimator_path(degradation, weights, channels)]
    extra = ["--channels", str(channels)] if channels != 3 else []
    return [(run.flags() + extra + (["--init-from", str(models[number - 1])] if number else []),
             path, run.epochs) for number, (run, path) in enumerate(zip(runs, models))]


def estimator_channels(dataset, degradation):
    """1 where the dataset is grayscale and the RGB estimator cannot read gray images of this
    degradation (GRAY_AS_RGB), else 3."""
    gray = data.dataset_channels(dataset) == 1
    return 1 if gray and degradation not in GRAY_AS_RGB else 3


def run_stage(title, script, arguments, output=None, epochs=None, dry_run=False):
    """Run `python script arguments` unless `output` is already trained for `epochs`. With
    `dry_run`, print the command alone on standard output instead (the rest goes to standard
    error), for a scheduler to run."""
    from degraded_cnn.training.loop import is_trained
    report = sys.stderr if dry_run else sys.stdout
    if output is not None and is_trained(output, epochs):
        print(f"== {title}: {output} is trained ({epochs} epochs); skipped", file=report)
        return
    command = [sys.executable, script, *arguments]
    if dry_run:
        print(shlex.join(command), flush=True)
        return
    print(f"== {title}: {' '.join(command[1:])}", flush=True)
    subprocess.run(command, cwd=paths.ROOT, check=True)


def default_train_dirs(names):
    """The folders `names` in ../shared/data, if all are there; else None (the estimator then
    trains on the dataset's own training images)."""
    folders = [paths.SHARED_DATA / name for name in names]
    return [str(folder) for folder in folders] if all(f.is_dir() for f in folders) else None


def estimator_recipe(pipeline, degradation, replacement=None):
    """(runs, default training folders) of the estimator: the pipeline's, or those of the
    estimator recipe named `replacement` (--estimator-recipe)."""
    if replacement is None:
        return pipeline["estimator"][degradation], recipes.TRAIN_DIRS[degradation]
    recipe = recipes.ESTIMATOR_RECIPES[replacement]
    return recipe.runs, recipe.train_dirs


def reproduce(args):
    pipeline = recipes.PIPELINES[args.recipe]
    recipe, names = estimator_recipe(pipeline, args.degradation, args.estimator_recipe)
    folders = args.train_dir or default_train_dirs(names)
    train_dir = ["--train-dir", *folders] if folders else ["--dataset", args.dataset]
    estimator_dir = args.estimator_dir or args.weights
    runs = estimator_runs(args.degradation, recipe, estimator_dir,
                          estimator_channels(args.dataset, args.degradation))
    for number, (flags, path, epochs) in enumerate(runs, start=1):
        run_stage(f"estimator ({args.degradation}, run {number} of {len(runs)})", "estimator.py",
                  ["--degradation", args.degradation, *train_dir, "--weights-dir",
                   str(path.parent), *flags], path, epochs, args.dry_run)
    name = data.dataset_name(args.dataset)
    modes = args.modes.split(",") if args.modes else pipeline_modes(pipeline, args.degradation)
    folders = seed_dirs(args.weights, args.seeds)
    for seed, folder in zip(args.seeds or [None], folders):
        for mode in modes:
            flags = ["--recipe", pipeline["classifier"]]
            if seed is not None or args.estimator_dir:
                flags += ["--estimator-dir", estimator_dir]
            if seed is not None:
                flags += ["--seed", str(seed)]
            if MODES[mode].has_parameter and args.parameter_join != "dense":
                flags += ["--parameter-join", args.parameter_join]
            title = f"classifier {mode}" + ("" if seed is None else f", seed {seed}")
            run_stage(title, "classifier.py",
                      ["--mode", mode, "--dataset", args.dataset, "--weights-dir", str(folder),
                       *flags], paths.classifier_path(name, mode, folder),
                      recipes.RECIPES[pipeline["classifier"]].epochs, args.dry_run)
    if args.dry_run:
        print("== then the evaluation: the same reproduce.py command without --dry-run, once "
              "every command above has finished", file=sys.stderr)
        return
    run_stage("evaluation", "evaluate.py",
              ["--dataset", args.dataset, "--degradation", args.degradation, "--weights",
               *map(str, folders), "--out", args.out,
               *(["--estimator-dir", args.estimator_dir] if args.estimator_dir else [])])


def seed_list(text):
    try:
        seeds = [int(seed) for seed in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}")
    if len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"seeds must be distinct and >= 0: {text!r}")
    return seeds


def mode_list(text):
    unknown = [mode for mode in text.split(",") if mode not in MODES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown mode(s) {', '.join(unknown)}; choose from "
                                         f"{', '.join(MODES)}")
    return text


def build_parser():
    parser = argparse.ArgumentParser(description="Train and evaluate everything for one dataset "
                                     "and degradation, skipping what is already trained.")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--degradation", default="jpeg", choices=DEGRADATIONS)
    parser.add_argument("--recipe", "--budget", default="cpu", choices=list(recipes.PIPELINES),
                        help="cpu: the recipes of the shipped weights (2 cores); cpu-full: "
                        "the cpu network for all 50,000 CIFAR-10 training images "
                        "(../shared/data/cifar10-q75): less dropout, 40 epochs; width64, "
                        "width64-full: the same at the paper's width, with a warm-up; quick: the "
                        "JPEG pipeline from scratch in well under an hour on 2 cores; paper: "
                        "the paper's sizes, for a GPU (default: %(default)s)")
    parser.add_argument("--train-dir", nargs="+", metavar="DIR",
                        help="folders of clean images for the estimator, one training set "
                        "(default, if present in ../shared/data: Urban100; for mixed, "
                        f"{', '.join(recipes.THREE_SETS)}; else the dataset's training images)")
    parser.add_argument("--estimator-recipe", choices=list(recipes.ESTIMATOR_RECIPES),
                        help="train the estimator with this recipe instead of the pipeline's: "
                        "three-sets (jpeg), the paper's 64x64 patches of "
                        f"{', '.join(recipes.THREE_SETS)}, in two runs (the first took about 7 "
                        "hours of one core beside another training); not the shipped "
                        "estimator (RESULTS.md)")
    parser.add_argument("--weights", default="weights",
                        help="the estimator's folder, and the classifiers' unless --seeds")
    parser.add_argument("--estimator-dir", help="train (or find) the estimator here instead of "
                        "in --weights, e.g. weights/ for a join ablation in weights/join-film")
    parser.add_argument("--seeds", type=seed_list, metavar="K,K,...",
                        help="train every classifier once per seed, into <weights>/seed<K>/, "
                        "sharing the estimator of <weights>; a seed sets the initial weights "
                        "and the training draws (batch order, augmentation, degradation), "
                        "while every seed holds out the same validation images, so seeds differ "
                        "only in training randomness. The evaluation then reports the mean, SD "
                        "and interval of each network over seeds")
    parser.add_argument("--modes", type=mode_list, metavar="MODE,MODE,...",
                        help="train only these classifier modes (default: every network the "
                        "recipe compares for --degradation)")
    parser.add_argument("--parameter-join", choices=recipes.JOINS, default="dense",
                        help="where the parameter-aware networks take their parameter (see "
                        "classifier.py --help; default dense, the paper's)")
    parser.add_argument("--out", default="plots")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the training commands still to run, one a line, in "
                        "dependency order (the estimator's runs first, then every mode of every "
                        "seed, which are independent of each other), for GNU parallel, xargs -P "
                        "or a job array, run from the repository root; then run this command "
                        "without it to evaluate")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    recipe = recipes.ESTIMATOR_RECIPES.get(args.estimator_recipe)
    if recipe and recipe.degradation != args.degradation:
        parser.error(f"--estimator-recipe {args.estimator_recipe} is for --degradation "
                     f"{recipe.degradation}, not {args.degradation}")
    try:
        reproduce(args)
    except subprocess.CalledProcessError as error:
        print(f"{parser.prog}: error: stage failed ({error.returncode}): "
              f"{' '.join(error.cmd[1:])}", file=sys.stderr)
        return error.returncode
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted; run the same command again to resume",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
