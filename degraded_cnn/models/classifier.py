"""The classification network of Endo, Tanaka & Okutomi (2020): VGG-like, with learned 2x2
stride-2 convolutions in place of max pooling and spatial dropout, and a second input for the
degradation parameter, joined where `parameter_join` says (the paper's: beside the flattened
image features, before the dense layers)."""
import keras
import numpy as np

from degraded_cnn import data
from degraded_cnn.vocabulary.degradations import normalize, parameter_range
from degraded_cnn.vocabulary.recipes import DENSE_PER_WIDTH, FULL_WIDTH, JOINS


BLOCKS = 3              # feature maps: width, 2 width, 4 width
CONVS_PER_BLOCK = 2
DENSE_LAYERS = 2
FILM_HIDDEN = 32        # units between the parameter and the FiLM gains and biases
# The layer that tells a saved network's join (vocabulary.recipes.JOINS).
JOIN_LAYERS = {"dense": "features_and_parameter", "input": "parameter_plane", "film": "film"}
# The training-only input of an aux_* network: the level its second output regresses.
LEVEL_TARGET = "level_target"


@keras.saving.register_keras_serializable(package="classifier")
class LevelLoss(keras.layers.Layer):
    """Adds `weight` times the squared error of the level's estimate (an aux_* network's second
    head, in [0, 1] units) to the training loss, and passes the class probabilities on: the
    training model keeps one output, so its metrics keep their names (accuracy)."""

    def __init__(self, weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self.weight = weight

    def call(self, inputs):
        probabilities, estimate, target = inputs
        self.add_loss(self.weight * keras.ops.mean(keras.ops.square(estimate - target)))
        return probabilities

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}


def build_classifier(image_shape, num_classes, width=FULL_WIDTH, with_parameter=False,
                     dropout=0.5, spatial_dropout=0.2, parameter_join="dense", parameters=1,
                     levels=0, level_weight=1.0):
    """VGG-like classifier. Inputs: "image" (H, W, C) pixels 0..255 and, `with_parameter`,
    "parameter" (`parameters`,) in the [0, 1] units of vocabulary.degradations.normalize (2 for
    the mixed degradation's pair), joined as `parameter_join` says (JOINS). Output: class
    probabilities.

    `spatial_dropout` is the rate before the convolutions of the last block; it halves for each
    earlier block (deep features overfit most, first-layer edges least).

    `levels` > 0 (aux_* modes): a second head regresses the level (`levels` numbers) from the
    last dense features, against the training-only input LEVEL_TARGET, its squared error
    weighted by `level_weight` in the loss; inference_network(model) is the image-only network
    that is saved and tested."""
    if parameter_join not in JOINS:
        raise ValueError(f"unknown parameter join {parameter_join!r}; choose from "
                         f"{', '.join(JOINS)}")
    image = keras.Input(tuple(image_shape), name="image")
    inputs = [image]
    # Centred inputs: with no batch normalization, raw [0, 255] pixels swamp the first layers.
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="centre")(image)
    join = parameter_join if with_parameter else None
    if join:
        parameter = keras.Input((parameters,), name="parameter")
        inputs.append(parameter)
    if join == "input":
        x = parameter_plane(x, parameter, image_shape)
    for block in range(BLOCKS):
        features = width * 2 ** block
        rate = spatial_dropout / 2 ** (BLOCKS - 1 - block)
        if block:
            # Learned 2x2 stride-2 downsampling in place of max pooling, as in all-convolutional
            # nets: the network chooses what to keep of the finer scale.
            x = conv(features, 2, f"down{block}", strides=2)(x)
        for index in range(1, CONVS_PER_BLOCK + 1):
            # No dropout on the image itself: dropping a channel of the input would erase the
            # colour, or for grayscale the whole picture.
            if block or index > 1:
                x = keras.layers.SpatialDropout2D(rate, name=f"drop{block + 1}_{index}")(x)
            x = conv(features, 3, f"conv{block + 1}_{index}")(x)
    x = keras.layers.Flatten(name="features")(x)
    if join == "dense":
        # The paper's join: the classifying layers learn how far to trust each image feature
        # at this level of degradation.
        x = keras.layers.Concatenate(name="features_and_parameter")([x, parameter])
    for index in range(1, DENSE_LAYERS + 1):
        units = DENSE_PER_WIDTH * width
        x = keras.layers.Dense(units, activation="relu", kernel_initializer="he_normal",
                               name=f"dense{index}")(x)
        if join == "film" and index == 1:
            x = film(x, parameter, units)
        x = keras.layers.Dropout(dropout, name=f"dense{index}_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    if levels:
        target = keras.Input((levels,), name=LEVEL_TARGET)
        level = keras.layers.Dense(levels, activation="sigmoid", name="level")(x)
        outputs = LevelLoss(level_weight, name="level_loss")([outputs, level, target])
        return keras.Model([*inputs, target], outputs, name="classifier")
    return keras.Model(inputs, outputs, name="classifier")


def inference_network(model):
    """The network that `model` stands for at test time: an aux_* training model without its
    level head and target input (the class probabilities of the image alone); any other model
    as it is."""
    if LEVEL_TARGET not in [tensor.name for tensor in model.inputs]:
        return model
    kept = [tensor for tensor in model.inputs if tensor.name != LEVEL_TARGET]
    return keras.Model(kept, model.get_layer("probabilities").output, name="classifier")


def parameter_plane(x, parameter, image_shape):
    """The parameter as more image channels (one per number), the same at every pixel, as
    FFDNet feeds its noise-level map: every convolution can condition its filters on it."""
    height, width = image_shape[:2]
    plane = keras.layers.Reshape((1, 1, parameter.shape[-1]), name="parameter_pixel")(parameter)
    plane = keras.layers.UpSampling2D((height, width), name="parameter_plane")(plane)
    return keras.layers.Concatenate(name="image_and_parameter")([x, plane])


def film(x, parameter, units):
    """Feature-wise linear modulation (Perez et al., 2018): the parameter sets a gain and a bias
    for each of the `units` features. The gain starts at 1 and the bias at 0, so training starts
    from the image-only network and learns how far the parameter should move each feature."""
    hidden = keras.layers.Dense(FILM_HIDDEN, activation="relu", name="film_hidden")(parameter)
    gain = keras.layers.Dense(units, kernel_initializer="zeros", bias_initializer="ones",
                              name="film_gain")(hidden)
    bias = keras.layers.Dense(units, kernel_initializer="zeros", name="film_bias")(hidden)
    x = keras.layers.Multiply(name="film_scaled")([x, gain])
    return keras.layers.Add(name="film")([x, bias])


def parameter_join(model):
    """How a saved network takes its parameter (a JOINS key), or None for an image-only one."""
    names = {layer.name for layer in model.layers}
    for join, layer in JOIN_LAYERS.items():
        if layer in names:
            return join
    return None


def conv(features, size, name, strides=1):
    return keras.layers.Conv2D(features, size, strides=strides, padding="same", activation="relu",
                               kernel_initializer="he_normal", name=name)


def has_parameter_input(model):
    return len(model.inputs) == 2


def parameter_size(model):
    """Numbers in the network's parameter input: 1, or 2 for the mixed degradation's pair."""
    return model.inputs[1].shape[-1] if has_parameter_input(model) else 0


def model_image_shape(model):
    return tuple(model.inputs[0].shape[1:])


def model_inputs(images, params=None, degradation=None):
    """The network's inputs: float pixels 0..255 and, given `params` in natural units (q or
    sigma, one per image; a (sigma, q) row for mixed), the parameter in the [0, 1] units of
    vocabulary.degradations.normalize."""
    inputs = {"image": images.astype(np.float32)}
    if params is not None:
        normalized = normalize(degradation, np.clip(
            params, *parameter_range(degradation)))
        inputs["parameter"] = normalized.astype(np.float32).reshape(len(images), -1)
    return inputs


def check_images(model, images, what="images"):
    """Raise DataError unless `images` (N, H, W, C) match the network's input shape."""
    expected = model_image_shape(model)
    if tuple(images.shape[1:]) != expected:
        raise data.DataError(f"{what} are {shape_text(images.shape[1:])} but the classifier "
                             f"takes {shape_text(expected)}")


def shape_text(shape):
    return f"{size_text(shape)} with {shape[2]} channel(s)"


def size_text(shape):
    return f"{shape[1]}x{shape[0]}"
