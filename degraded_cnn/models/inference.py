"""Trained networks for inference: loaded with a one-line error naming the file, saved
atomically without their optimizer state, and run on arrays batch by batch."""
from pathlib import Path

import keras
import numpy as np

from degraded_cnn import data
from degraded_cnn.models.classifier import inference_network


def load_model(path):
    """Load a saved Keras model for inference, or raise a one-line DataError naming the file:
    missing, or there but unreadable (truncated, not a .keras archive, from another program)."""
    path = Path(path)
    if not path.is_file():
        raise data.DataError(f"no model file at {path}")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises ValueError, OSError, zipfile and h5py errors alike
        raise data.DataError(f"{path} is not a valid Keras model ({type(error).__name__}): "
                             "retrain it, or restore it with `git checkout`") from error


def infer(model, inputs, batch_size):
    """The model's output for `inputs` (an array, or a dict of arrays by input name), as numpy,
    `batch_size` items at a time. TensorFlow and PyTorch call the model directly on each batch:
    model.predict builds a compiled function for every model and traces it again for every new
    batch shape, which a sweep over several networks with a ragged last batch does constantly
    (TensorFlow's retracing warnings), and on these networks it is slower (1017 CIFAR images
    through the width-16 classifier: 0.43 s called directly, 0.62 s through predict). JAX, which
    runs a direct call op by op, compiles each batch shape once with predict_on_batch."""
    count = len(next(iter(inputs.values())) if isinstance(inputs, dict) else inputs)
    if keras.backend.backend() == "jax":
        def run(batch):
            return model.predict_on_batch(batch)
    else:
        def run(batch):
            return keras.ops.convert_to_numpy(model(batch, training=False))
    outputs = [run({key: value[start:start + batch_size] for key, value in inputs.items()}
                   if isinstance(inputs, dict) else inputs[start:start + batch_size])
               for start in range(0, count, batch_size)]
    return np.concatenate(outputs) if outputs else np.zeros((0, *model.outputs[0].shape[1:]))


def save_model(model, path):
    """Save `model` atomically without its optimizer state (a third of the size of a compiled
    Adamax model), as its inference network (an aux_* network without its training-only level
    head): the saved model is for inference; resuming uses the backup."""
    network = inference_network(model)
    weights_only = keras.Model.from_config(network.get_config())  # uncompiled: no optimizer
    weights_only.set_weights(network.get_weights())
    with data.atomic_output(path) as temporary:
        weights_only.save(temporary)
