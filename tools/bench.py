"""Where the time goes: the pipeline measured against this machine's own matrix-multiply peak.

Every stage of the reproduction is timed on untrained networks built in memory (no weights
needed), on the CIFAR-10 subset when it is there (else random 32x32 images), and printed as one
Markdown table, then the project's speed targets with the measured ratio of each:

    python tools/bench.py --quick                 # tiny step counts: a minute or two on 2 cores
    python tools/bench.py                         # the full run: minutes
    python tools/bench.py --stages matmul,jpeg_1core,jpeg_all --threads 2
    python tools/bench.py --out bench.md          # also write the table, atomically

FLOPs are counted from the networks' Conv2D and Dense layers (2 x multiply-adds + bias adds, per
image); a training step counts 3x the forward pass (forward, gradient with respect to the inputs,
gradient with respect to the weights). Rescaling, activations, dropout and the optimizer update
are not counted: they are memory-bound and small beside the convolutions.

Each stage runs in its own process (`python tools/bench.py --stage NAME`, collected by the parent):
its peak memory is then its own (ru_maxrss never goes down within a process), thread pools,
compiled functions and the JPEG process pool start fresh, and --threads applies before the
backend starts. `--in-process` runs every stage in this process instead (quicker start; the
peak of each stage then comes from resetting Linux's VmHWM between stages).

The figures are figures: this script never passes or fails on time.
"""
import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the scripts and the package

import keras  # noqa: E402
import numpy as np  # noqa: E402

from degraded_cnn import data, image_ops  # noqa: E402

from bench_stages import (  # noqa: E402
    CLASSIFIER_CPU, CLASSIFIER_PAPER, DEFAULT_DATA, FULL, IMAGE_SHAPE, PEAK_FRACTION_CPU,
    PEAK_FRACTION_PAPER, PIPELINE_OVERHEAD, QUICK, RANDOM_CLASSES, RANDOM_IMAGES, REPO,
    RESULT_MARKER, SEED, SMOKE, STAGES, SWEEP_FRACTION, TRAINING_FLOPS_PER_FORWARD, Context,
    Result)



# ---------------------------------------------------------------------------------------------
# Running stages: here, or each in its own process
# ---------------------------------------------------------------------------------------------
def reset_peak_memory():
    """Linux resets VmHWM, the peak resident size, when 5 is written to clear_refs."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_memory_mib():
    with contextlib.suppress(OSError, StopIteration):
        line = next(line for line in Path("/proc/self/status").read_text().splitlines()
                    if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    # Elsewhere ru_maxrss, which only grows: KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2 ** 20 if sys.platform == "darwin" else peak / 1024


def run_here(name, ctx):
    reset_peak_memory()
    try:
        result = STAGES[name][0](ctx)
    except Exception as error:  # one broken stage must not hide the others' figures
        result = Result(error=f"{type(error).__name__}: {error}")
    result.peak_mib = peak_memory_mib()
    return result


def run_isolated(name, args):
    """Run one stage in a fresh interpreter and read back its result line."""
    command = [sys.executable, str(Path(__file__).resolve()), "--stage", name,
               *child_options(args)]
    finished = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    for line in finished.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return Result(**json.loads(line[len(RESULT_MARKER):]))
    tail = (finished.stderr.strip().splitlines() or ["no output"])[-1]
    return Result(error=f"exit status {finished.returncode}: {tail}")


def child_options(args):
    options = ["--data", str(args.data), f"--{run_length(args)}"]
    if args.threads:
        options += ["--threads", str(args.threads)]
    if args.batch_size:
        options += ["--batch-size", str(args.batch_size)]
    if args.jit:
        options.append("--jit")
    return options


def run_length(args):
    return "smoke" if args.smoke else "quick" if args.quick else "full"


def set_threads(threads):
    """Intra-op threads of the backend; must run before its first op. Keras has no backend-
    neutral setting, so each backend gets its own call."""
    if not threads:
        return
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    elif backend == "torch":
        import torch
        torch.set_num_threads(threads)
    else:  # JAX reads XLA_FLAGS at start-up only
        print(f"--threads is not supported on the {backend} backend; set XLA_FLAGS instead",
              file=sys.stderr)


def load_context(args):
    budget = SMOKE if args.smoke else QUICK if args.quick else FULL
    path = Path(args.data)
    if path.is_file():
        dataset = data.load_dataset(str(path))
        return Context(args, budget, dataset.x_train, dataset.y_train, dataset.x_test,
                       dataset.y_test, f"{path.name} ({len(dataset.x_train)} training images)")
    rng = np.random.default_rng(SEED)
    images = rng.integers(0, 256, (RANDOM_IMAGES, *IMAGE_SHAPE), dtype=np.uint8)
    labels = rng.integers(0, RANDOM_CLASSES, RANDOM_IMAGES)
    return Context(args, budget, images, labels, images[:RANDOM_IMAGES // 2],
                   labels[:RANDOM_IMAGES // 2], f"random {'x'.join(map(str, IMAGE_SHAPE))} "
                   f"images ({path} not found)")


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
def number(value, digits=0):
    return "" if value is None else f"{value:,.{digits}f}"


def table(results):
    peak = results.get("matmul", Result()).gflop_per_s
    lines = ["| stage | images/s | GFLOP/s | % of peak | peak MiB | notes |",
             "|---|---:|---:|---:|---:|---|"]
    for name, result in results.items():
        share = 100 * result.gflop_per_s / peak if peak and result.gflop_per_s else None
        notes = f"FAILED: {result.error}" if result.error else result.notes
        lines.append(f"| {STAGES[name][1]} | {number(result.images_per_s)} | "
                     f"{number(result.gflop_per_s, 1)} | {number(share)} | "
                     f"{number(result.peak_mib)} | {notes} |")
    return lines


def targets(results):
    """(target, measured, goal, met) of each of the speed targets; None where a stage it
    needs was not run or failed."""
    def rate(name, what="images_per_s"):
        result = results.get(name)
        return getattr(result, what) if result and not result.error else None

    peak = rate("matmul", "gflop_per_s")
    rows = []
    for name, width, goal in (("train_ready_paper", "paper", PEAK_FRACTION_PAPER),
                              ("train_ready_cpu", "CPU", PEAK_FRACTION_CPU)):
        measured = rate(name, "gflop_per_s") / peak if peak and rate(name, "gflop_per_s") \
            else None
        rows.append((f"training on ready tensors, {width} width: share of matmul peak",
                     measured, f">= {goal:.0%}", None if measured is None else measured >= goal,
                     "{:.0%}"))
    ready = rate("train_ready_cpu")
    jpg = rate("train_jpg")
    measured = ready / jpg if ready and jpg else None  # time per image, pipeline / ready
    rows.append(("jpg pipeline: time per image / ready tensors (CPU width)", measured,
                 f"<= {1 + PIPELINE_OVERHEAD:.2f}",
                 None if measured is None else measured <= 1 + PIPELINE_OVERHEAD, "{:.2f}"))
    est_qf, estimator_rate = rate("train_est_qf"), rate("estimator_infer_32")
    measured = None
    if ready and est_qf and estimator_rate:
        # What est_qf may cost: a ready-tensor step plus the estimator's forward pass on the
        # batch, at the speed estimator inference reaches on its own.
        measured = (1 / est_qf) / (1 / ready + 1 / estimator_rate)
    rows.append(("est_qf pipeline: time per image / (ready + estimator inference)", measured,
                 f"<= {1 + PIPELINE_OVERHEAD:.2f}",
                 None if measured is None else measured <= 1 + PIPELINE_OVERHEAD, "{:.2f}"))
    sweep, pure = rate("sweep"), rate("infer_pure")
    measured = sweep / pure if sweep and pure else None
    rows.append(("sweep throughput / pure batched inference", measured,
                 f">= {SWEEP_FRACTION:.2f}", None if measured is None else
                 measured >= SWEEP_FRACTION, "{:.2f}"))
    lines = ["| target | measured | goal | met |", "|---|---:|---:|---|"]
    for label, measured, goal, met, form in rows:
        shown = "n/a (stage not run or failed)" if measured is None else form.format(measured)
        lines.append(f"| {label} | {shown} | {goal} | "
                     f"{'' if met is None else 'yes' if met else 'no'} |")
    return lines


def report(results, args, context_source, wall):
    threads = args.threads or "backend default"
    header = [
        f"bench.py --{run_length(args)} run: Keras {keras.__version__}, backend "
        f"{keras.backend.backend()}, {image_ops.cpu_count()} cores, intra-op threads {threads}, "
        f"{'in one process' if args.in_process else 'one process per stage'}, jit_compile "
        f"{args.jit}; data {context_source}; wall time {wall:.0f} s.",
        "",
        f"GFLOP/s counts Conv2D and Dense layers; a training step is {TRAINING_FLOPS_PER_FORWARD}x "
        "the forward pass. % of peak is against the matmul row. Pipelines run at the CPU "
        f"width ({CLASSIFIER_CPU.width}); peak MiB is each stage's peak resident memory.",
        ""]
    return "\n".join(header + table(results) + ["", "Targets:", ""] +
                     targets(results)) + "\n"


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def build_parser():
    parser = argparse.ArgumentParser(
        description="Time training, estimation, JPEG coding and the sweep against this "
                    "machine's matrix-multiply peak, and print where each target stands. "
                    "Prints figures; never fails on time.")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--quick", action="store_true",
                        help="tiny step counts: a minute or two on 2 cores")
    length.add_argument("--full", action="store_true", help="the default: minutes")
    length.add_argument("--smoke", action="store_true",
                        help="one step of each stage on batches of 8: checks that every stage "
                             "runs (the tests); its figures mean nothing")
    parser.add_argument("--stages", default=",".join(STAGES),
                        help=f"comma-separated subset of: {', '.join(STAGES)}")
    parser.add_argument("--threads", type=int,
                        help="intra-op threads of the backend (TensorFlow, torch); default: "
                             "the backend's own choice")
    parser.add_argument("--batch-size", type=int,
                        help="classifier training batch at both widths (default: the recipes',"
                             f" {CLASSIFIER_PAPER.batch_size} paper width and "
                             f"{CLASSIFIER_CPU.batch_size} CPU width)")
    parser.add_argument("--jit", action="store_true", help="XLA-compile the training steps")
    parser.add_argument("--data", default=str(DEFAULT_DATA),
                        help="an .npz with x_train y_train x_test y_test (default: the CIFAR-10 "
                             "subset; random images if it is missing)")
    parser.add_argument("--in-process", action="store_true",
                        help="run every stage in this process instead of one process each")
    parser.add_argument("--out", help="also write the report to this file (atomically)")
    parser.add_argument("--stage", choices=list(STAGES), help=argparse.SUPPRESS)  # a child
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.stages.split(",") if name.strip()]
    unknown = set(names) - set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s) {', '.join(sorted(unknown))}; choose from "
                     f"{', '.join(STAGES)}")
    if args.stage or args.in_process:
        set_threads(args.threads)
    context = load_context(args)
    if args.stage:
        result = run_here(args.stage, context)
        print(RESULT_MARKER + json.dumps(result.__dict__), flush=True)
        return 0
    start = time.perf_counter()
    results = {}
    for name in names:
        print(f"{name} ...", end=" ", file=sys.stderr, flush=True)
        tick = time.perf_counter()
        results[name] = run_here(name, context) if args.in_process else \
            run_isolated(name, args)
        print(f"{time.perf_counter() - tick:.1f} s", file=sys.stderr, flush=True)
    text = report(results, args, context.source, time.perf_counter() - start)
    print(text, end="")
    if args.out:
        with data.atomic_output(args.out) as temporary:
            Path(temporary).write_text(text)
    return 1 if any(result.error for result in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
