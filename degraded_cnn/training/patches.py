"""The estimator's training data: random clean patches, each degraded at its own random
parameter, with the constant map of that parameter as the target; and the split of clean
images into training and validation images."""
import keras
import numpy as np

from degraded_cnn import data, image_ops
from degraded_cnn.vocabulary.degradations import normalize, random_params


class PatchBatches(keras.utils.PyDataset):
    """Batches of random clean patches, each degraded with its own random parameter; the target
    is the constant map of that parameter in normalized units. Batch i of every epoch is drawn
    from seed (seed, epoch, i): repeatable, yet new patches every epoch."""

    def __init__(self, images, degradation, patch_size, batch_size, steps, seed, **kwargs):
        super().__init__(**kwargs)
        self.images, self.degradation = images, degradation
        self.patch_size, self.batch_size = patch_size, batch_size
        self.steps, self.seed = steps, seed
        self.epoch = 0

    def __len__(self):
        return self.steps

    def on_epoch_end(self):
        self.epoch += 1

    def __getitem__(self, index):
        rng = np.random.default_rng((self.seed, self.epoch, index))
        return degraded_patches(self.images, self.degradation, self.batch_size, self.patch_size,
                                rng)


def degraded_patches(images, degradation, count, patch_size, rng):
    patches = data.random_patches(images, count, patch_size, rng)
    params = random_params(degradation, count, rng)
    degraded = image_ops.degrade(patches, degradation, params, rng, workers=1)
    normalized = normalize(degradation, params).astype(np.float32).reshape(count, 1, 1, -1)
    target = np.broadcast_to(normalized, (count, patch_size, patch_size, normalized.shape[-1]))
    return degraded.astype(np.float32), np.ascontiguousarray(target)


def split_images(images, fraction, seed):
    """Hold out whole images for validation, so validation patches are unseen content."""
    order = np.random.default_rng(seed).permutation(len(images))
    held = max(1, int(round(len(images) * fraction))) if len(images) > 1 else 0
    train = [images[i] for i in order[held:]] or images
    return train, [images[i] for i in order[:held]] or images


def split_sources(sources, fraction, seed, names=None):
    """split_images within each source (folder), so every folder has held-out images in
    validation; the training and validation images of all folders together, and one line per
    folder saying how many of each."""
    train, validation = [], []
    for index, images in enumerate(sources):
        # The first folder splits as a single --train-dir always has, so a run of the shipped
        # recipe holds out the same images as the runs that made the shipped estimators.
        kept, held = split_images(images, fraction, seed if index == 0 else (seed, index))
        train += kept
        validation += held
        if names:
            print(f"{names[index]}: {len(kept)} training and {len(held)} validation images")
    return train, validation
