"""The stages that tools/bench.py times, with the FLOP counts, budgets and recipes they use:
the matmul peak, classifier and estimator training (ready tensors and the real input pipelines),
estimator inference, JPEG round trips and evaluate.py's sweep. Each stage takes a Context and
returns a Result; tools/bench.py runs them (each in its own process) and reports."""
import argparse
import contextlib
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the scripts and the package

import keras  # noqa: E402
import numpy as np  # noqa: E402

import classifier  # noqa: E402
import estimator  # noqa: E402
import evaluate  # noqa: E402
from degraded_cnn import image_ops  # noqa: E402
from degraded_cnn.evaluation import sweeps, tables  # noqa: E402
from degraded_cnn.models.classifier import (build_classifier, has_parameter_input,  # noqa: E402
                                            model_inputs)
from degraded_cnn.models.estimator import build_estimator  # noqa: E402
from degraded_cnn.predict.estimation import estimate, inference_batch  # noqa: E402
from degraded_cnn.training.batches import Augmentation, TrainingBatches  # noqa: E402
from degraded_cnn.training.patches import PatchBatches  # noqa: E402
from degraded_cnn.vocabulary import recipes  # noqa: E402
from degraded_cnn.vocabulary.degradations import random_params  # noqa: E402
from degraded_cnn.vocabulary.modes import MODES, get_mode  # noqa: E402
from bench_timing import (  # noqa: E402
    best_time, cycle, forward_flops, run_times, sync, timed_fit)

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
ESTIMATOR_CPU = estimator.build_parser().parse_args(recipes.ESTIMATOR_CPU["jpeg"][-1].flags())
ESTIMATOR_PAPER = estimator.build_parser().parse_args([])  # 64x64 patches, batch 32
SWEEP_BATCH = evaluate.build_parser().parse_args([]).batch_size

# The speed targets (fractions of the matmul peak, overheads).
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
# Rows
# ---------------------------------------------------------------------------------------------
def training_row(images_per_s, flops, notes):
    """A row of `images_per_s` with `flops` per image."""
    return Result(images_per_s, images_per_s * flops / 1e9, notes)


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
    sizes = "/".join(map(str, ctx.budget.matmul_sizes))
    return Result(None, best_rate, f"float32 {best_n}x{best_n}, best of "
                  f"{ctx.budget.matmul_repeats}; sizes {sizes}")


def compile_classifier(model, recipe, jit):
    # As classifier.train compiles it (a constant rate: the schedule costs nothing here).
    model.compile(optimizer=keras.optimizers.Adamax(recipe.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=jit)
    return model


def new_classifier(ctx, recipe, width, with_parameter=False):
    model = build_classifier(ctx.x_train.shape[1:], ctx.classes, width,
                             with_parameter, recipe.dropout, recipe.spatial_dropout)
    return compile_classifier(model, recipe, ctx.args.jit)


def classifier_batch(ctx, recipe):
    return ctx.batch(ctx.args.batch_size or recipe.batch_size)


def ready_batches(ctx, recipe, steps):
    """`steps` batches of clean images as float32 network inputs."""
    count = steps * classifier_batch(ctx, recipe)
    return model_inputs(cycle(ctx.x_train, count)), cycle(ctx.y_train, count)


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
    spec = get_mode(mode)
    model = new_classifier(ctx, recipe, recipe.width, spec.has_parameter)
    estimator_model = build_estimator(ctx.x_train.shape[-1]) \
        if spec.source == "estimated" else None
    batch = classifier_batch(ctx, recipe)

    def make_data(steps):
        count = steps * batch
        return TrainingBatches(
            cycle(ctx.x_train, count), cycle(ctx.y_train, count), mode, batch,
            Augmentation(recipe.rotation, recipe.shift, recipe.zoom, recipe.shear,
                         not recipe.no_flip), SEED, estimator_model, workers=recipe.workers,
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
    model = build_estimator(ctx.x_train.shape[-1], recipe.features)
    model.compile(optimizer=keras.optimizers.Adamax(recipe.learning_rate,
                                                    clipnorm=recipe.clipnorm),
                  loss="mse", jit_compile=ctx.args.jit)
    images = list(upsampled_images(ctx.x_train[:ESTIMATOR_IMAGES], size))
    rate = timed_fit(model, lambda steps: PatchBatches(
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
    model = build_estimator(ctx.x_train.shape[-1])
    images = upsampled_images(cycle(ctx.x_test, count), size)
    batch = inference_batch(images)
    seconds = best_time(lambda: estimate(model, images, DEGRADATION), 1)
    rate = count / seconds
    flops = forward_flops(model, (size, size))
    return training_row(rate, flops, f"predict.estimation.estimate, batch {batch}, {count} images")


def stage_estimator_infer_32(ctx):
    return estimator_inference(ctx, 32, ctx.budget.inference_images)


def stage_estimator_infer_64(ctx):
    return estimator_inference(ctx, 64, ctx.budget.inference_images // 4)


def jpeg_round_trips(ctx, workers):
    images = cycle(ctx.x_train, ctx.budget.jpeg_images)
    qualities = random_params(DEGRADATION, len(images), SEED)
    # The warm-up also starts degrade's process pool.
    seconds = best_time(lambda: image_ops.jpeg(images, qualities, workers=workers), 1)
    return Result(len(images) / seconds, None, f"image_ops.jpeg, workers={workers}, random q, "
                  f"{len(images)} images {'x'.join(map(str, images.shape[1:]))}")


def stage_jpeg_1core(ctx):
    return jpeg_round_trips(ctx, 1)


def stage_jpeg_all(ctx):
    return jpeg_round_trips(ctx, image_ops.cpu_count())


def sweep_setup(ctx):
    """evaluate.py's networks for the JPEG sweep at the CPU width, and its test images."""
    networks = {name: build_classifier(
        ctx.x_test.shape[1:], ctx.classes, CLASSIFIER_CPU.width,
        MODES[name].has_parameter) for name in tables.NETWORKS[DEGRADATION]}
    estimator_model = build_estimator(ctx.x_test.shape[-1])
    count = ctx.budget.sweep_images
    images, labels = cycle(ctx.x_test, count), cycle(ctx.y_test, count)
    flops = forward_flops(estimator_model, images.shape[1:3]) + sum(
        forward_flops(model) for model in networks.values())
    return networks, estimator_model, images, labels, flops


def stage_infer_pure(ctx):
    """The sweep's network work alone: batched predict of the estimator and every classifier
    on inputs prepared beforehand, once per value."""
    networks, estimator_model, images, _, flops = sweep_setup(ctx)
    degraded = image_ops.jpeg(images, 50)
    pixels = degraded.astype(np.float32)
    parameter = np.full((len(images), 1), 0.5, np.float32)
    estimator_batch = inference_batch(degraded)
    inputs = [(estimator_model, pixels, estimator_batch)] + [
        (model, {"image": pixels, "parameter": parameter}
         if has_parameter_input(model) else {"image": pixels}, SWEEP_BATCH)
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
