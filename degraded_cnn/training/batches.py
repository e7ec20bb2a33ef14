"""The classifier's inputs and training data: the network's input dictionary, the
ImageDataGenerator-like augmentation, the degradation with a random parameter and what each mode
is told of it, the batches of an epoch, and the validation split."""
from dataclasses import dataclass

import keras
import numpy as np

from degraded_cnn import data, image_ops
from degraded_cnn.models.classifier import LEVEL_TARGET, model_inputs
from degraded_cnn.predict import estimation
from degraded_cnn.vocabulary.degradations import normalize, random_params
from degraded_cnn.vocabulary.modes import get_mode


@dataclass(frozen=True)
class Augmentation:
    """Random geometric augmentation with the options of Keras' ImageDataGenerator (rotation in
    degrees, shifts and zoom as fractions, shear in degrees, horizontal flip) and its order of
    composition, resampled once per image (bilinear, edges filled with the nearest pixel)."""
    rotation: float = 15.0
    shift: float = 0.125
    zoom: float = 0.1
    shear: float = 5.0
    flip: bool = True

    def __call__(self, images, rng):
        """Augment uint8 images (N, H, W, C) with draws from the numpy Generator `rng`."""
        transforms = self.random_transforms(len(images), images.shape[1:3], rng)
        moved = keras.ops.image.affine_transform(images.astype(np.float32), transforms,
                                                 interpolation="bilinear", fill_mode="nearest")
        moved = np.clip(np.rint(keras.ops.convert_to_numpy(moved)), 0, 255).astype(np.uint8)
        if self.flip:
            flipped = rng.random(len(images)) < 0.5
            moved[flipped] = moved[flipped, :, ::-1]
        return moved

    def random_transforms(self, count, size, rng):
        """Rows [a0 a1 a2 b0 b1 b2 0 0] mapping output (x, y) to input pixels, as
        keras.ops.image.affine_transform wants: rotation @ shift @ shear @ zoom about the
        image centre, as ImageDataGenerator composes them."""
        height, width = size
        angle = np.deg2rad(rng.uniform(-self.rotation, self.rotation, count))
        shear = np.deg2rad(rng.uniform(-self.shear, self.shear, count))
        zoom_x, zoom_y = rng.uniform(1 - self.zoom, 1 + self.zoom, (2, count))
        shift_x = rng.uniform(-self.shift, self.shift, count) * width
        shift_y = rng.uniform(-self.shift, self.shift, count) * height
        matrices = np.zeros((count, 3, 3))
        matrices[:] = np.eye(3)
        rotation, shift, shearing, zooming = (matrices.copy() for _ in range(4))
        rotation[:, 0, 0], rotation[:, 0, 1] = np.cos(angle), -np.sin(angle)
        rotation[:, 1, 0], rotation[:, 1, 1] = np.sin(angle), np.cos(angle)
        shift[:, 0, 2], shift[:, 1, 2] = shift_x, shift_y
        shearing[:, 0, 1], shearing[:, 1, 1] = -np.sin(shear), np.cos(shear)
        zooming[:, 0, 0], zooming[:, 1, 1] = zoom_x, zoom_y
        centre = np.eye(3)
        centre[:2, 2] = (width - 1) / 2, (height - 1) / 2
        uncentre = np.eye(3)
        uncentre[:2, 2] = -centre[:2, 2]
        full = centre @ rotation @ shift @ shearing @ zooming @ uncentre
        return np.concatenate([full[:, 0], full[:, 1], np.zeros((count, 2))], axis=1).astype(
            np.float32)


def degraded_inputs(images, mode, rng, estimator_model=None):
    """Degrade each image with its own random parameter (mode's degradation; none for org) and
    return the network inputs, with the true or the estimated parameter as the mode wants, and
    for an aux_* mode the level its second output is to regress (LEVEL_TARGET)."""
    spec = get_mode(mode)
    if spec.degradation is None:
        return model_inputs(images)
    params = random_params(spec.degradation, len(images), rng)
    # workers=1: this runs inside a data-loading thread, which must not start a process pool.
    images = image_ops.degrade(images, spec.degradation, params, rng, workers=1)
    if spec.target:
        target = params if spec.target == "true" else \
            random_params(spec.degradation, len(images), rng)
        return {**model_inputs(images), LEVEL_TARGET: normalize(
            spec.degradation, target).astype(np.float32).reshape(len(images), -1)}
    if spec.source == "none":
        return model_inputs(images)
    return model_inputs(images, fed_parameters(spec, params, images, rng, estimator_model),
                        spec.degradation)


def fed_parameters(spec, true_params, images, rng, estimator_model=None):
    """What a network of mode `spec` is told about `images` whose true parameters are
    `true_params`: those, the estimator's answer, or (shuffled) a fresh draw from the training
    distribution of the parameter, independent of the image. None for an image-only mode."""
    if spec.source == "estimated":
        return estimation.estimate(estimator_model, images, spec.degradation)
    if spec.source == "shuffled":
        return random_params(spec.degradation, len(images), rng)
    if spec.source == "true":
        return np.asarray(true_params, dtype=np.float64).reshape(
            len(images), *np.shape(true_params)[1:])
    return None


class TrainingBatches(keras.utils.PyDataset):
    """Batches of the paper's training data: augment, degrade each image with its own random
    parameter, then (est_* modes) estimate that parameter with the frozen estimator, in whole
    batches. Batch i of epoch e is drawn from seed (seed, e, i): repeatable, yet new draws every
    epoch. `reuse` > 1 keeps each epoch's batches for that many epochs (in a new order): the
    estimator, which costs several times a training step, then runs once per `reuse` epochs."""

    def __init__(self, images, labels, mode, batch_size, augmentation, seed,
                 estimator_model=None, epoch=0, reuse=1, full_batches=False, **kwargs):
        super().__init__(**kwargs)
        self.images, self.labels, self.mode = images, labels, mode
        self.batch_size, self.augmentation, self.seed = batch_size, augmentation, seed
        self.estimator_model, self.reuse = estimator_model, reuse
        # Full batches only: a batch split across devices must divide evenly; the images left
        # over are drawn in later epochs, whose order is new.
        self.full_batches = full_batches
        self.epoch = epoch
        self._order, self._kept = {}, {}

    def __len__(self):
        if self.full_batches:
            return max(1, len(self.images) // self.batch_size)
        return -(-len(self.images) // self.batch_size)

    def on_epoch_end(self):
        self.epoch += 1
        if self.epoch % self.reuse == 0:
            self._order.clear()
            self._kept.clear()

    def __getitem__(self, index):
        draw = self.epoch - self.epoch % self.reuse  # the epoch whose draws this one uses
        if index not in self._kept:
            batch = self.draw(draw, index)
            if self.reuse > 1:
                self._kept[index] = batch
            return batch
        return self._kept[index]

    def draw(self, epoch, index):
        if epoch not in self._order:  # shared by this epoch's worker threads
            self._order[epoch] = np.random.default_rng((self.seed, epoch)).permutation(
                len(self.images))
        chosen = self._order[epoch][index * self.batch_size:(index + 1) * self.batch_size]
        rng = np.random.default_rng((self.seed, epoch, index))
        images = self.augmentation(self.images[chosen], rng)
        return (degraded_inputs(images, self.mode, rng, self.estimator_model),
                self.labels[chosen])


def held_out(count, fraction):
    """How many of `count` training images split_validation holds out."""
    return int(round(count * fraction))


def split_validation(images, labels, fraction, seed):
    """Hold out a random `fraction` of the training images to choose the checkpoint with."""
    order = np.random.default_rng(seed).permutation(len(images))
    held = held_out(len(images), fraction)
    if len(images) < 2 or held < 1:
        raise data.DataError(f"{len(images)} training image(s) leave none to validate on: use "
                             "more images or a larger --val-fraction")
    train, validation = order[held:], order[:held]
    return (images[train], labels[train]), (images[validation], labels[validation])
