"""Why a wide classifier can die at the start: train one epoch and record, step by step, the
training loss, the scale of the logits and the share of dead ReLU units in the dense layers.

    python tools/start_probe.py --width 64 --seed 1                      # the recipe's start
    python tools/start_probe.py --width 64 --seed 1 --warmup-epochs 2    # with a warm-up

Every run prints one line per probed step and a summary line; the mode is `noisy` on the
CIFAR-10 subset by default. Backend-neutral: it reads the network through Keras only.
"""
import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from degraded_cnn import data  # noqa: E402
from degraded_cnn.models.classifier import build_classifier  # noqa: E402
from degraded_cnn.training import loop  # noqa: E402
from degraded_cnn.training.batches import (Augmentation, TrainingBatches,  # noqa: E402
                                           split_validation)
from degraded_cnn.training.classifier import VALIDATION_SEED  # noqa: E402
from degraded_cnn.vocabulary import recipes  # noqa: E402
from degraded_cnn.vocabulary.modes import get_mode  # noqa: E402

DEFAULT_DATASET = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / \
    "cifar10-subset.npz"


def logits_model(model):
    """The pre-softmax scores and the two dense layers' activations of `model`."""
    last = model.get_layer("probabilities")
    hidden = last.input
    outputs = [hidden, model.get_layer("dense1").output, model.get_layer("dense2").output]
    return keras.Model(model.inputs, outputs), last


def measure(probe, last, inputs):
    hidden, dense1, dense2 = (keras.ops.convert_to_numpy(x) for x in probe(inputs))
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in last.weights)
    logits = hidden @ kernel + bias
    dead = [float(np.mean(np.all(layer <= 0, axis=0))) for layer in (dense1, dense2)]
    return float(logits.std()), float(np.abs(logits).max()), dead


class StepProbe(keras.callbacks.Callback):
    def __init__(self, probe, last, inputs, every):
        super().__init__()
        self.probe, self.last, self.inputs, self.every = probe, last, inputs, every
        self.previous_mean, self.losses = 0.0, []

    def on_train_batch_end(self, batch, logs=None):
        mean = float(logs["loss"])  # Keras logs the running mean over the epoch
        loss = (batch + 1) * mean - batch * self.previous_mean
        self.previous_mean = mean
        self.losses.append(loss)
        if batch % self.every == 0:
            std, peak, dead = measure(self.probe, self.last, self.inputs)
            print(f"step {batch + 1:4d}  loss {loss:7.3f}  logit std {std:8.2f}  max |logit| "
                  f"{peak:8.2f}  dead dense1 {dead[0]:.2f}  dense2 {dead[1]:.2f}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=str(DEFAULT_DATASET))
    parser.add_argument("--mode", default="noisy")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--learning-rate", type=float, default=0.004)
    parser.add_argument("--warmup-epochs", type=float, default=0)
    parser.add_argument("--clipnorm", type=float, help="clip each gradient to this norm")
    parser.add_argument("--steps", type=int, help="stop after this many steps (default 1 epoch)")
    parser.add_argument("--every", type=int, default=5, help="probe every this many steps")
    args = parser.parse_args(argv)
    recipe = recipes.CPU
    dataset = data.load_dataset(args.dataset)
    spec = get_mode(args.mode)
    keras.utils.set_random_seed(args.seed)
    model = build_classifier(dataset.image_shape, len(dataset.class_names), args.width,
                             spec.has_parameter, recipe.dropout,
                             recipe.spatial_dropout)
    (x_train, y_train), _ = split_validation(dataset.x_train, dataset.y_train, 0.1,
                                             VALIDATION_SEED)
    batches = TrainingBatches(x_train, y_train, args.mode, recipe.batch_size,
                              Augmentation(rotation=recipe.rotation),
                              args.seed)
    steps = args.steps or len(batches)
    rate = loop.learning_rate(args.learning_rate, "cosine", recipe.epochs * len(batches),
                              round(args.warmup_epochs * len(batches)))
    model.compile(optimizer=keras.optimizers.Adamax(rate, clipnorm=args.clipnorm),
                  loss="sparse_categorical_crossentropy")
    probe, last = logits_model(model)
    inputs, labels = batches[0]
    std, peak, dead = measure(probe, last, inputs)
    start_loss = float(keras.ops.convert_to_numpy(keras.losses.sparse_categorical_crossentropy(
        labels, model(inputs))).mean())
    print(f"width {args.width} seed {args.seed} lr {args.learning_rate} warm-up "
          f"{args.warmup_epochs} epoch(s) clipnorm {args.clipnorm}: at the start loss "
          f"{start_loss:.3f} (ln classes {math.log(len(dataset.class_names)):.3f}), logit std "
          f"{std:.3f}, max |logit| {peak:.2f}, dead dense1 {dead[0]:.2f} dense2 {dead[1]:.2f}",
          flush=True)
    callback = StepProbe(probe, last, inputs, args.every)
    model.fit(batches, epochs=1, steps_per_epoch=steps, callbacks=[callback], verbose=0)
    losses = np.array(callback.losses)
    std, peak, dead = measure(probe, last, inputs)
    print(f"summary: width {args.width} seed {args.seed} warm-up {args.warmup_epochs} clipnorm "
          f"{args.clipnorm}: max step loss {losses.max():.2f}, mean of the last 10 steps "
          f"{losses[-10:].mean():.3f}, after {steps} steps logit std {std:.2f}, dead dense1 "
          f"{dead[0]:.2f} dense2 {dead[1]:.2f}")


if __name__ == "__main__":
    main()
