"""How wide must a gain's interval over seeds and test images be? The variance components of
the committed seed studies, and the coverage of the two intervals by simulation.

    python tools/interval_coverage.py                          # the subset's noise study
    python tools/interval_coverage.py --degradation jpeg --simulations 4000

For every parameter-aware network of `evaluate.py --weights weights/seed{0..4}` and every
interval, it reads the per-seed, per-image gains over the image-only twin from the sweep
records (no network runs), prints the seed, image and interaction components
(statistics.variance_components) and the ratio of the main-effects variance (the interval
used before) to the two-way one. It then simulates gain tables from a normal random-effects
model with those components and reports how often each 95% interval holds the true mean gain:
once with the fitted components, and once with a seed component as large as the per-seed gains'
variance (nothing deducted for the interaction), where a component held at 0 may hide one.
`--out` writes the table as Markdown.

`--grid` instead simulates the settings where a seed component is hard to see: seed SD 0 to
0.02, 3 and 5 seeds, the subset's 1017 test images, with the image and interaction SDs the
committed studies show (image 0 or 0.05, interaction 0.3), and reports each setting's coverage
and mean width (plots/intervals/coverage_grid.md):

    python tools/interval_coverage.py --grid --out plots/intervals/coverage_grid.md
"""
import argparse
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

import numpy as np  # noqa: E402

from degraded_cnn import data, paths  # noqa: E402
from degraded_cnn.evaluation import statistics, sweeps, tables  # noqa: E402
from degraded_cnn.evaluation.test_set import sweep_values  # noqa: E402
from degraded_cnn.predict.estimation import find_estimator  # noqa: E402
from degraded_cnn.vocabulary.modes import MODES, compared_modes  # noqa: E402

DEFAULT_DATASET = REPOSITORY.parent / "shared" / "data" / "cifar10-subset.npz"


def gain_tables(dataset_path, degradation, folders, estimator_dir, sweep_seed=0):
    """{(mode, interval): seeds x images table of Eq. (1) gains over the twin}, from records."""
    dataset = data.load_dataset(str(dataset_path))
    values = sweep_values(degradation, None)
    estimator_file = find_estimator(degradation, estimator_dir,
                                    dataset.image_shape[-1])
    condition = sweeps.SweepRecord.condition(dataset.x_test, dataset.y_test, values,
                                             sweep_seed, None, estimator_file)
    records = [sweeps.SweepRecord(folder, dataset.name, degradation, condition)
               for folder in folders]
    gains = {}
    for mode in compared_modes(degradation, controls=True):
        twin = MODES[mode].twin
        if twin is None:
            continue
        pairs = [(record.result(mode, paths.classifier_path(dataset.name, mode, folder)),
                  record.result(twin, paths.classifier_path(dataset.name, twin, folder)))
                 for record, folder in zip(records, folders)]
        pairs = [(aware[0], plain[0]) for aware, plain in pairs
                 if aware is not None and plain is not None]
        if len(pairs) < 2:
            continue
        for low, high in tables.INTERVALS[degradation]:
            inside = (values >= low) & (values <= high)
            gains[(mode, f"{low}-{high}")] = np.array(
                [aware[inside].mean(axis=0) - plain[inside].mean(axis=0)
                 for aware, plain in pairs])
    return gains


def simulate(components, seeds, images, count, rng):
    """Coverage of the two-way and the main-effects intervals on `count` simulated tables."""
    held = {"two-way": 0, "main effects": 0}
    widths = {"two-way": [], "main effects": []}
    for _ in range(count):
        table = (rng.normal(0, np.sqrt(components["seed"]), (seeds, 1))
                 + rng.normal(0, np.sqrt(components["image"]), (1, images))
                 + rng.normal(0, np.sqrt(components["interaction"]), (seeds, images)))
        zero = np.zeros_like(table)
        for name, interval in (("two-way", statistics.gain_interval(table, zero, True)),
                               ("main effects",
                                statistics.gain_interval_main_effects(table, zero))):
            held[name] += interval[1] <= 0 <= interval[2]
            widths[name].append(interval[2] - interval[1])
    return {name: (held[name] / count, float(np.mean(widths[name]))) for name in held}


GRID_SEED_SDS = (0.0, 0.005, 0.01, 0.015, 0.02)
GRID_SEEDS = (3, 5)
GRID_IMAGES = 1017
# (SD image, SD interaction) of the committed tables: the image component is mostly estimated
# at 0, the interaction at 0.28-0.38 (plots/intervals/cifar10-subset_*_coverage.md).
GRID_SPREADS = ((0.0, 0.3), (0.05, 0.3))


def coverage_grid(count, rng):
    """Markdown rows: the two-way interval's coverage and mean width in every grid setting."""
    lines = ["| seeds | SD seed | SD image | SD interaction | coverage | mean width |",
             "|---|---|---|---|---|---|"]
    for seeds in GRID_SEEDS:
        for seed_sd in GRID_SEED_SDS:
            for image_sd, interaction_sd in GRID_SPREADS:
                components = {"seed": seed_sd ** 2, "image": image_sd ** 2,
                              "interaction": interaction_sd ** 2}
                held, width = simulate(components, seeds, GRID_IMAGES, count, rng)["two-way"]
                lines.append(f"| {seeds} | {seed_sd:.3f} | {image_sd:.2f} | "
                             f"{interaction_sd:.2f} | {held:.3f} | {width:.4f} |")
                print(lines[-1], flush=True)
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=str(DEFAULT_DATASET))
    parser.add_argument("--degradation", default="noise", choices=("jpeg", "noise"))
    parser.add_argument("--weights", nargs="+",
                        default=[str(REPOSITORY / "weights" / f"seed{k}") for k in range(5)])
    parser.add_argument("--estimator-dir", default=str(REPOSITORY / "weights"))
    parser.add_argument("--simulations", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0, help="of the simulation")
    parser.add_argument("--out", help="also write the table to this Markdown file")
    parser.add_argument("--grid", action="store_true",
                        help="simulate the grid of seed SDs and seed counts instead")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    if args.grid:
        lines = [f"Coverage of the 95% interval of a gain over seeds and test images "
                 f"(statistics.gain_interval, paired), {args.simulations} simulated tables per "
                 f"row, true gain 0; `python tools/interval_coverage.py --grid --simulations "
                 f"{args.simulations}`.", "", *coverage_grid(args.simulations, rng)]
        return write_lines(lines, args.out)
    gains = gain_tables(args.dataset, args.degradation, args.weights, args.estimator_dir)
    lines = [f"Gain over the image-only twin per {args.degradation} interval, "
             f"{args.simulations} simulated tables per row; "
             f"`python tools/interval_coverage.py --degradation {args.degradation} "
             f"--simulations {args.simulations}`.", "",
             "| network | interval | seeds | gain | SD seed | SD image | SD interaction | "
             "variance: main effects / two-way | two-way 95% | main effects 95% | coverage: "
             "two-way | main effects | two-way, large seed SD | main effects, large seed SD |",
             "|---" * 14 + "|"]
    print("\n".join(lines), flush=True)
    for (mode, interval), table in gains.items():
        components = statistics.variance_components(table)
        two_way = statistics.mean_variance(table)[0]
        zero = np.zeros_like(table)
        new = statistics.gain_interval(table, zero, True)
        old = statistics.gain_interval_main_effects(table, zero)
        old_variance = statistics.main_effects_variance(table)
        fitted = simulate(components, *table.shape, args.simulations, rng)
        # The largest seed component the data allow: the per-seed gains' whole variance.
        large = simulate({**components, "seed": table.mean(axis=1).var(ddof=1)}, *table.shape,
                         args.simulations, rng)
        line = (f"| {mode} | {interval} | {len(table)} | {new[0]:+.3f} | "
                f"{np.sqrt(components['seed']):.4f} | {np.sqrt(components['image']):.4f} | "
                f"{np.sqrt(components['interaction']):.4f} | {old_variance / two_way:.2f} | "
                f"[{new[1]:+.3f}, {new[2]:+.3f}] | [{old[1]:+.3f}, {old[2]:+.3f}] | "
                f"{fitted['two-way'][0]:.3f} | {fitted['main effects'][0]:.3f} | "
                f"{large['two-way'][0]:.3f} | {large['main effects'][0]:.3f} |")
        print(line, flush=True)
        lines.append(line)
    write_lines(lines, args.out)


def write_lines(lines, path):
    if path:
        with data.atomic_output(path) as temporary:
            Path(temporary).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
