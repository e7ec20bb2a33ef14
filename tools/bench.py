"""Where the time goes: the pipeline measured against this machine's own matrix-multiply peak.

Every stage of the reproduction is timed on untrained networks built in memory (no weights
needed), on the CIFAR-10 subset when it is there (else random 32x32 images), and printed as one
Markdown table, then the issue's targets with the measured ratio of each:

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
import io
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the paper's scripts

import keras  # noqa: E402
import numpy as np  # noqa: E402

import classifier  # noqa: E402
import data  # noqa: E402
import degrade  # noqa: E402
import estimator  # noqa: E402
import evaluate  # noqa: E402
import sweeps  # noqa: E402
import tables  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "cifar10-subset.npz"
# Without the subset: random images of CIFAR's shape, enough for every stage.
RANDOM_IMAGES, RANDOM_CLASSES, IMAGE_SHAPE = 2048, 10, (32, 32, 3)
DEGRADATION = "jpeg"  # the pipelines timed are those of jpg and est_qf
TRAINING_FLOPS_PER_FORWARD = 3
RESULT_MARKER = "BENCH_RESULT "  # the line a --stage child prints for its parent
SEED = 0
ESTIMATOR_IMAGES = 1000  # clean images the estimator's patches are cut from

# The shipped recipes, parsed by the scripts' own parsers so the benchmark follows them.
CLASSIFIER_CPU = classifier.parse_args(["--recipe", "cpu"])[1]
CLASSIFIER_PAPER = classifier.build_parser().parse_args([])  # width 64, batch 128
ESTIMATOR_CPU = estimator.build_parser().parse_args(estimator.RECIPE_CPU["jpeg"][-1].split())
ESTIMATOR_PAPER = estimator.build_parser().parse_args([])  # 64x64 patches, batch 32
SWEEP_BATCH = evaluate.build_parser().parse_args([]).batch_size

# The targets.
PEAK_FRACTION_PAPER = 0.85
PEAK_FRACTION_CPU = 0.60
PIPELINE_OVERHEAD = 0.10
SWEEP_FRACTION = 0.9


@dataclass(frozen=True)
class Budget:
    """How much each stage does: the first steps of a fit trace and compile, so they are run
    but not timed."""
    warmup_steps: int
    cpu_steps: int          # timed training steps at the CPU width
    paper_steps: int        # ... at the paper's width, about 16x dearer per image
    estimator_steps: int    # timed estimator training steps
    inference_images: int   # estimator inference, 32x32 (a quarter of them at 64x64)
    jpeg_images: int
    sweep_images: int
    sweep_values: int
    matmul_sizes: tuple
    matmul_repeats: int
    max_batch: int | None = None  # caps every batch size: --smoke only


QUICK = Budget(warmup_steps=1, cpu_steps=6, paper_steps=2, estimator_steps=2,
               inference_images=256, jpeg_images=512, sweep_images=256, sweep_values=2,
               matmul_sizes=(1024,), matmul_repeats=3)
FULL = Budget(warmup_steps=2, cpu_steps=100, paper_steps=20, estimator_steps=40,
              inference_images=2048, jpeg_images=5000, sweep_images=1017, sweep_values=10,
              matmul_sizes=(1024, 1536, 2048), matmul_repeats=5)
# Every stage once, on tiny batches: that the instrument works (the tests), not figures.
SMOKE = Budget(warmup_steps=1, cpu_steps=1, paper_steps=1, estimator_steps=1,
               inference_images=32, jpeg_images=32, sweep_images=16, sweep_values=1,
               matmul_sizes=(256,), matmul_repeats=1, max_batch=8)


@dataclass
class Context:
    args: argparse.Namespace
    budget: Budget
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    def batch(self, size):
        return min(size, self.budget.max_batch or size)

    @property
    def classes(self):
        return int(max(self.y_train.max(), self.y_test.max())) + 1


@dataclass
class Result:
    images_per_s: float | None = None
    gflop_per_s: float | None = None
    notes: str = ""
    peak_mib: float | None = None
    error: str | None = None


# ---------------------------------------------------------------------------------------------
# Counting and timing
# ---------------------------------------------------------------------------------------------
def forward_flops(model, image_size=None):
    """FLOPs of one image's forward pass through the Conv2D and Dense layers. A fully
    convolutional model (None height and width) is counted at `image_size`, on a clone with
    that input shape, so every layer's output size is known."""
    if None in model.inputs[0].shape[1:3]:
        shape = (*image_size, model.inputs[0].shape[-1])
        model = keras.models.clone_model(model, input_tensors=keras.Input(shape))
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            height, width = layer.output.shape[1:3]
            total += 2 * height * width * int(np.prod(layer.kernel.shape))
            total += height * width * layer.filters if layer.use_bias else 0
        elif isinstance(layer, keras.layers.Dense):  # the classifier's come after Flatten
            total += 2 * int(np.prod(layer.kernel.shape)) + (layer.units if layer.use_bias else 0)
    return total


def sync(value):
    """Wait for a result: JAX dispatches asynchronously, so a clock read needs the value."""
    return keras.ops.convert_to_numpy(value)


class EpochTimer(keras.callbacks.Callback):
    """Times one epoch from its start to its last step. A fit's data adapter is built (and a
    PyDataset's two signature batches drawn) before the epoch begins, and its loading threads
    start after, with empty queues: the pipeline gets no head start on the clock."""

    def __init__(self):
        super().__init__()
        self.start, self.end, self.steps = None, None, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        sync(logs["loss"])
        self.end, self.steps = time.perf_counter(), self.steps + 1


def timed_fit(model, make_data, batch_size, steps, warmup):
    """Images per second of `steps` training steps. `make_data(steps)` gives (inputs, labels)
    or a PyDataset of that many batches. A first fit of `warmup` steps traces and compiles the
    step (kept by the model for the next fit); the timed fit is a second one, so batches that a
    PyDataset prepares while the step compiles cannot flatter its speed."""
    def fit(count, callbacks=()):
        data_ = make_data(count)
        inputs, labels = data_ if isinstance(data_, tuple) else (data_, None)
        model.fit(inputs, labels, batch_size=None if labels is None else batch_size, epochs=1,
                  steps_per_epoch=count, shuffle=False, verbose=0, callbacks=list(callbacks))

    fit(warmup)
    timer = EpochTimer()
    fit(steps, [timer])
    return timer.steps * batch_size / (timer.end - timer.start)


def run_times(work, repeats):
    """The times of `repeats` runs of `work()`, after one untimed warm-up run."""
    work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return times


def best_time(work, repeats):
    """The fastest of `repeats` runs: a peak."""
    return min(run_times(work, repeats))


def training_row(images_per_s, flops, notes):
    """A row of `images_per_s` with `flops` per image."""
    return Result(images_per_s, images_per_s * flops / 1e9, notes)


def cycle(array, count):
    """The first `count` items of `array` repeated: step counts need not fit the dataset."""
    return array[np.arange(count) % len(array)]


# ---------------------------------------------------------------------------------------------
# Stages
# ---------------------------------------------------------------------------------------------
def stage_matmul(ctx):
    """The machine's float32 matrix-multiply peak through the Keras backend: the yardstick."""
    best_rate, best_n = 0.0, None
    for n in ctx.budget.matmul_sizes:
        a = keras.random.normal((n, n), seed=SEED)
        b = keras.random.normal((n, n), seed=SEED + 1)
        seconds = best_time(lambda: sync(keras.ops.matmul(a, b)[0, 0]),
                            ctx.budget.matmul_repeats)
        rate = 2 * n ** 3 / seconds / 1e9
        if rate > best_rate:
            best_rate, best_n = rate, n
    return Result(None, best_rate, f"float32 {best_n}x{best_n}, best of "
                  f"{ctx.budget.matmul_repeats}; sizes {'/'.join(map(str, ctx.budget.matmul_sizes))}")


def compile_classifier(model, recipe, jit):
    # As classifier.train compiles it (a constant rate: the schedule costs nothing here).
    model.compile(optimizer=keras.optimizers.Adamax(recipe.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=jit)
    return model


def new_classifier(ctx, recipe, width, with_parameter=False):
    model = classifier.build_classifier(ctx.x_train.shape[1:], ctx.classes, width,
                                        with_parameter, recipe.dropout, recipe.spatial_dropout)
    return compile_classifier(model, recipe, ctx.args.jit)


def classifier_batch(ctx, recipe):
    return ctx.batch(ctx.args.batch_size or recipe.batch_size)


def ready_batches(ctx, recipe, steps):
    """`steps` batches of clean images as float32 network inputs."""
    count = steps * classifier_batch(ctx, recipe)
    return classifier.model_inputs(cycle(ctx.x_train, count)), cycle(ctx.y_train, count)


def classifier_training(ctx, recipe, model, make_data, notes, steps=None):
    batch = classifier_batch(ctx, recipe)
    rate = timed_fit(model, make_data, batch, steps or ctx.budget.cpu_steps,
                     ctx.budget.warmup_steps)
    flops = TRAINING_FLOPS_PER_FORWARD * forward_flops(model)
    return training_row(rate, flops, f"width {recipe.width}, batch {batch}, {notes}")


def train_ready(ctx, recipe, steps):
    model = new_classifier(ctx, recipe, recipe.width)
    return classifier_training(ctx, recipe, model, lambda n: ready_batches(ctx, recipe, n),
                               "numpy arrays", steps)


def stage_train_ready_paper(ctx):
    return train_ready(ctx, CLASSIFIER_PAPER, ctx.budget.paper_steps)


def stage_train_ready_cpu(ctx):
    return train_ready(ctx, CLASSIFIER_CPU, ctx.budget.cpu_steps)


def stage_train_ready_dynamic(ctx):
    """The ready arrays and one image more, which the steps never reach: Keras then gives the
    step an unknown batch dimension, as it always does for a PyDataset. Compare with the
    ready row to see what the static shape is worth."""
    recipe = CLASSIFIER_CPU
    model = new_classifier(ctx, recipe, recipe.width)

    def make_data(steps):
        inputs, labels = ready_batches(ctx, recipe, steps)
        return ({k: np.concatenate([v, v[:1]]) for k, v in inputs.items()},
                np.concatenate([labels, labels[:1]]))

    return classifier_training(ctx, recipe, model, make_data, "numpy arrays, batch "
                               "dimension unknown to the step")


class ReadyBatches(keras.utils.PyDataset):
    """Prepared batches served through a PyDataset: what the PyDataset path costs by itself,
    without the work of augmentation, JPEG or estimation."""

    def __init__(self, inputs, labels, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.inputs, self.labels, self.batch_size = inputs, labels, batch_size

    def __len__(self):
        return len(self.labels) // self.batch_size

    def __getitem__(self, index):
        chosen = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return {k: v[chosen] for k, v in self.inputs.items()}, self.labels[chosen]


def stage_train_pydataset(ctx):
    recipe = CLASSIFIER_CPU
    model = new_classifier(ctx, recipe, recipe.width)

    def make_data(steps):
        return ReadyBatches(*ready_batches(ctx, recipe, steps), classifier_batch(ctx, recipe),
                            workers=recipe.workers, max_queue_size=recipe.workers * 4)

    return classifier_training(ctx, recipe, model, make_data, "the numpy arrays through a "
                               f"PyDataset, workers {recipe.workers}")


def train_pipeline(ctx, mode):
    """Training as classifier.py runs it: TrainingBatches augmenting, degrading and (est_*)
    estimating every batch on the fly, with the CPU recipe's workers and queue."""
    recipe = CLASSIFIER_CPU
    spec = classifier.get_mode(mode)
    model = new_classifier(ctx, recipe, recipe.width, spec.has_parameter)
    estimator_model = estimator.build_estimator(ctx.x_train.shape[-1]) \
        if spec.parameter == "estimated" else None
    batch = classifier_batch(ctx, recipe)

    def make_data(steps):
        count = steps * batch
        return classifier.TrainingBatches(
            cycle(ctx.x_train, count), cycle(ctx.y_train, count), mode, batch,
            classifier.augmentation(recipe), SEED, estimator_model, workers=recipe.workers,
            max_queue_size=recipe.workers * 4)

    notes = f"TrainingBatches mode {mode}, workers {recipe.workers}"
    if estimator_model is not None:
        estimator_flops = forward_flops(estimator_model, ctx.x_train.shape[1:3])
        notes += f"; the estimator's {estimator_flops / 1e6:.0f} MFLOP/image not counted"
    return classifier_training(ctx, recipe, model, make_data, notes)


def stage_train_org(ctx):
    return train_pipeline(ctx, "org")


def stage_train_jpg(ctx):
    return train_pipeline(ctx, "jpg")


def stage_train_est_qf(ctx):
    return train_pipeline(ctx, "est_qf")


def upsampled_images(images, size):
    """Images of `size` x `size` from the 32x32 ones (pixel repeats: the content does not
    matter for speed, only the size)."""
    factor = -(-size // images.shape[1])
    return np.repeat(np.repeat(images, factor, axis=1), factor, axis=2)[:, :size, :size]


def estimator_training(ctx, recipe):
    """The estimator trained as estimator.py trains it: PatchBatches cutting random patches
    and JPEG-coding them on the fly."""
    size, batch = recipe.patch_size, ctx.batch(recipe.batch_size)
    model = estimator.build_estimator(ctx.x_train.shape[-1], recipe.features)
    model.compile(optimizer=keras.optimizers.Adamax(recipe.learning_rate,
                                                    clipnorm=recipe.clipnorm),
                  loss="mse", jit_compile=ctx.args.jit)
    images = list(upsampled_images(ctx.x_train[:ESTIMATOR_IMAGES], size))
    rate = timed_fit(model, lambda steps: estimator.PatchBatches(
        images, DEGRADATION, size, batch, steps, SEED, workers=recipe.workers), batch,
        ctx.budget.estimator_steps, ctx.budget.warmup_steps)
    flops = TRAINING_FLOPS_PER_FORWARD * forward_flops(model, (size, size))
    return training_row(rate, flops, f"{size}x{size} patches, batch {batch}, PatchBatches "
                        f"workers {recipe.workers}")


def stage_estimator_train_32(ctx):
    return estimator_training(ctx, ESTIMATOR_CPU)


def stage_estimator_train_64(ctx):
    return estimator_training(ctx, ESTIMATOR_PAPER)


def estimator_inference(ctx, size, count):
    model = estimator.build_estimator(ctx.x_train.shape[-1])
    images = upsampled_images(cycle(ctx.x_test, count), size)
    batch = estimator.inference_batch(images)
    seconds = best_time(lambda: estimator.estimate(model, images, DEGRADATION), 1)
    rate = count / seconds
    flops = forward_flops(model, (size, size))
    return training_row(rate, flops, f"estimator.estimate, batch {batch}, {count} images")


def stage_estimator_infer_32(ctx):
    return estimator_inference(ctx, 32, ctx.budget.inference_images)


def stage_estimator_infer_64(ctx):
    return estimator_inference(ctx, 64, ctx.budget.inference_images // 4)


def jpeg_round_trips(ctx, workers):
    images = cycle(ctx.x_train, ctx.budget.jpeg_images)
    qualities = degrade.random_params(DEGRADATION, len(images), SEED)
    # The warm-up also starts degrade's process pool.
    seconds = best_time(lambda: degrade.jpeg(images, qualities, workers=workers), 1)
    return Result(len(images) / seconds, None, f"degrade.jpeg, workers={workers}, random q, "
                  f"{len(images)} images {'x'.join(map(str, images.shape[1:]))}")


def stage_jpeg_1core(ctx):
    return jpeg_round_trips(ctx, 1)


def stage_jpeg_all(ctx):
    return jpeg_round_trips(ctx, degrade.cpu_count())


def sweep_setup(ctx):
    """evaluate.py's networks for the JPEG sweep at the CPU width, and its test images."""
    networks = {name: classifier.build_classifier(
        ctx.x_test.shape[1:], ctx.classes, CLASSIFIER_CPU.width,
        classifier.MODES[name].has_parameter) for name in tables.NETWORKS[DEGRADATION]}
    estimator_model = estimator.build_estimator(ctx.x_test.shape[-1])
    count = ctx.budget.sweep_images
    images, labels = cycle(ctx.x_test, count), cycle(ctx.y_test, count)
    flops = forward_flops(estimator_model, images.shape[1:3]) + sum(
        forward_flops(model) for model in networks.values())
    return networks, estimator_model, images, labels, flops


def stage_infer_pure(ctx):
    """The sweep's network work alone: batched predict of the estimator and every classifier
    on inputs prepared beforehand, once per value."""
    networks, estimator_model, images, _, flops = sweep_setup(ctx)
    degraded = degrade.jpeg(images, 50)
    pixels = degraded.astype(np.float32)
    parameter = np.full((len(images), 1), 0.5, np.float32)
    estimator_batch = estimator.inference_batch(degraded)
    inputs = [(estimator_model, pixels, estimator_batch)] + [
        (model, {"image": pixels, "parameter": parameter}
         if classifier.has_parameter_input(model) else {"image": pixels}, SWEEP_BATCH)
        for model in networks.values()]

    def one_value():
        for model, x, batch in inputs:
            model.predict(x, batch_size=batch, verbose=0)

    # The mean, not the best, of the runs: the sweep's time is a sum over its values.
    seconds = float(np.mean(run_times(one_value, ctx.budget.sweep_values)))
    rate = len(images) / seconds
    return Result(rate, rate * flops / 1e9, f"estimator (batch {estimator_batch}) + "
                  f"{len(networks)} classifiers (width {CLASSIFIER_CPU.width}, batch "
                  f"{SWEEP_BATCH}), model.predict, mean of {ctx.budget.sweep_values} values")


def stage_sweep(ctx):
    """sweeps.sweep as evaluate.py runs it: degrade, estimate, classify with every network."""
    networks, estimator_model, images, labels, flops = sweep_setup(ctx)
    values = np.linspace(1, 100, ctx.budget.sweep_values).round()
    args = (images, labels, DEGRADATION)
    with contextlib.redirect_stdout(io.StringIO()):  # its progress lines
        sweeps.sweep(*args, values[:1], networks, estimator_model, SEED, SWEEP_BATCH)
        _, _, timings = sweeps.sweep(*args, values, networks, estimator_model, SEED,
                                       SWEEP_BATCH)
    rate = len(images) * len(values) / timings["total"]
    parts = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in timings.items()
                      if name != "total")
    return Result(rate, rate * flops / 1e9, f"sweeps.sweep, {len(values)} values x "
                  f"{len(images)} images; {parts}")


# name: (function, the table's label)
STAGES = {
    "matmul": (stage_matmul, "matmul peak"),
    "train_ready_paper": (stage_train_ready_paper, "classifier training, ready, paper width"),
    "train_ready_cpu": (stage_train_ready_cpu, "classifier training, ready, CPU width"),
    "train_ready_dynamic": (stage_train_ready_dynamic,
                            "classifier training, ready, dynamic batch dimension"),
    "train_pydataset": (stage_train_pydataset, "classifier training, ready via PyDataset"),
    "train_org": (stage_train_org, "classifier training, org pipeline (augmentation)"),
    "train_jpg": (stage_train_jpg, "classifier training, jpg pipeline"),
    "train_est_qf": (stage_train_est_qf, "classifier training, est_qf pipeline"),
    "estimator_train_32": (stage_estimator_train_32, "estimator training, 32x32"),
    "estimator_train_64": (stage_estimator_train_64, "estimator training, 64x64"),
    "estimator_infer_32": (stage_estimator_infer_32, "estimator inference, 32x32"),
    "estimator_infer_64": (stage_estimator_infer_64, "estimator inference, 64x64"),
    "jpeg_1core": (stage_jpeg_1core, "JPEG round trips, one core"),
    "jpeg_all": (stage_jpeg_all, "JPEG round trips, all cores"),
    "infer_pure": (stage_infer_pure, "sweep networks, pure batched inference"),
    "sweep": (stage_sweep, "evaluate.py sweep"),
}


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
    """(target, measured, goal, met) of each of the issue's targets; None where a stage it
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
        f"{keras.backend.backend()}, {degrade.cpu_count()} cores, intra-op threads {threads}, "
        f"{'in one process' if args.in_process else 'one process per stage'}, jit_compile "
        f"{args.jit}; data {context_source}; wall time {wall:.0f} s.",
        "",
        f"GFLOP/s counts Conv2D and Dense layers; a training step is {TRAINING_FLOPS_PER_FORWARD}x "
        "the forward pass. % of peak is against the matmul row. Pipelines run at the CPU "
        f"width ({CLASSIFIER_CPU.width}); peak MiB is each stage's peak resident memory.",
        ""]
    return "\n".join(header + table(results) + ["", "Targets (issue 6):", ""] +
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
