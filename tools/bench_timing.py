"""How tools/bench.py counts and times: FLOPs of a forward pass, a training epoch's images per
second, the best of several runs. Backend-neutral: JAX's asynchronous results are waited for."""
import time

import keras
import numpy as np


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


def cycle(array, count):
    """The first `count` items of `array` repeated: step counts need not fit the dataset."""
    return array[np.arange(count) % len(array)]
