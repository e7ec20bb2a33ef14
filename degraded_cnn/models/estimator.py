"""The degradation-parameter estimation network (Endo et al. 2020, after Uchida et al. 2018):
seven dilated 3x3 convolutions that predict the parameter of every pixel, and its losses."""
import keras
import numpy as np

from degraded_cnn.vocabulary.recipes import ESTIMATOR_FEATURES

DILATIONS = (1, 2, 3, 4, 3, 2, 1)


def build_estimator(channels=3, features=ESTIMATOR_FEATURES, dilations=DILATIONS, high_pass=True,
                    outputs=1):
    """Fully convolutional: any H x W. Input: pixels 0..255. Output: the parameter of every
    pixel, in the [0, 1] units of vocabulary.degradations.normalize, `outputs` channels (two
    for mixed). `high_pass`: see high_pass_start."""
    image = keras.Input((None, None, channels), name="image")
    # Centred inputs: with no batch norm, uncentred [0, 255] pixels swamp the first layers.
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="centre")(image)
    for index, rate in enumerate(dilations, start=1):
        last = index == len(dilations)
        x = keras.layers.Conv2D(
            outputs if last else features, 3, padding="same", dilation_rate=rate,
            activation=None if last else "relu", kernel_initializer="he_normal",
            # Starting the output at the targets' mean skips the plateau of learning it.
            bias_initializer=keras.initializers.Constant(0.5 if last else 0.0),
            name=f"conv{index}_d{rate}")(x)
    model = keras.Model(image, x, name="estimator")
    if high_pass:
        high_pass_start(model.get_layer(f"conv1_d{dilations[0]}"))
    return model


def high_pass_start(layer):
    """Make the first layer's he_normal filters zero-mean over their 3x3 window, per input
    channel, keeping their variance. Random filters of natural images mostly measure brightness,
    and six random ReLU layers on top barely tell a q = 5 JPEG from a q = 95 one; the network
    then sits on the plateau of predicting the mean q for thousands of steps (see README).
    High-pass filters see only the texture and the artefacts, where the parameter shows."""
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    window = kernel.shape[0] * kernel.shape[1]
    centred = kernel - kernel.mean(axis=(0, 1), keepdims=True)
    layer.kernel.assign(centred * np.sqrt(window / (window - 1)))


def receptive_field(dilations=DILATIONS, kernel=3):
    return 1 + sum((kernel - 1) * rate for rate in dilations)


@keras.saving.register_keras_serializable(package="estimator")
def image_mse(target, parameter_map):
    """The squared error of the map's spatial mean: of the estimate that the classifier gets,
    rather than of every pixel (see --loss); averaged over a mixture's parameters."""
    error = keras.ops.mean(parameter_map, axis=(1, 2)) - keras.ops.mean(target, axis=(1, 2))
    return keras.ops.mean(keras.ops.square(error), axis=-1)


# "pixel": the paper's per-pixel MSE. Each pixel then predicts the mean q given what it sees, and
# a pixel sees too little to be sure of q: every pixel leans toward the middle of the range and so
# does their mean. "image" trains that mean itself, which sees the whole patch.
LOSSES = {"pixel": "mse", "image": image_mse}
