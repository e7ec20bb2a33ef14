"""A Keras reference implementation of Endo, Tanaka & Okutomi, *CNN-based Classification of
Degraded Images* (IS&T Electronic Imaging 2020), and its tools for photos.

The Python API, with the shipped networks:

    >>> from degraded_cnn import estimate, classify
    >>> estimate("photo.jpg", "jpeg")            # the JPEG quality factor q the pixels show
    >>> estimate(image_array, "noise")           # the noise sigma, in 8-bit levels
    >>> classify("photo.jpg", mode="est_qf")     # [(class, probability)], the top five

The scripts at the repository's root (degrade.py, estimator.py, classifier.py, evaluate.py,
reproduce.py) are the command line over the same package.
"""


def estimate(image, degradation="jpeg", weights_dir=None):
    """The degradation parameter of one image, estimated from its pixels: JPEG quality q
    (1..100), noise sigma (0..50, 8-bit levels), or for "mixed" the pair (sigma, q).

    `image`: a path, or a uint8 array (H, W) or (H, W, C) with C = 1 or 3. `weights_dir`: where
    the estimators are (default: the shipped ones)."""
    import numpy as np
    from degraded_cnn import paths
    from degraded_cnn.predict import estimation
    pixels = _pixels(image)
    model = estimation.load_estimator(degradation, weights_dir or paths.WEIGHTS_DIR,
                                      pixels.shape[-1])
    value = estimation.estimate(model, pixels[None], degradation)[0]
    return float(value) if np.ndim(value) == 0 else tuple(float(v) for v in value)


def classify(image, mode="jpg", top=5, dataset=None, weights_dir=None, param=None):
    """The `top` most probable classes of one image, [(class name, probability)], by the
    network of `mode` (org, jpg, noisy, est_qf, est_nl, ...; known_* modes take the true
    parameter as `param`) trained on `dataset` (default: the shipped networks, trained on all
    50,000 CIFAR-10 images). `image`: a path or a uint8 array, of any size."""
    from degraded_cnn import paths
    from degraded_cnn.predict.classification import Classifier
    network = Classifier(mode, dataset, weights_dir or paths.WEIGHTS_DIR)
    pixels = _pixels(image, network.shape[-1])
    probabilities, _, _ = network.classify(
        [pixels], None if param is None else [param], seed=0)
    return network.top(probabilities[0], top)


def _pixels(image, channels=None):
    """`image` as a uint8 array (H, W, C): read from a path, or checked and shaped."""
    import numpy as np
    from degraded_cnn import data
    if not isinstance(image, np.ndarray):
        return data.read_image(image, channels)
    pixels = data.as_images(image[None], "image")[0]  # uint8, (H, W, 1 or 3), at least 8x8
    if channels and pixels.shape[-1] != channels:
        pixels = np.repeat(pixels, 3, -1) if channels == 3 else \
            pixels.mean(-1, keepdims=True).round().astype(np.uint8)
    return pixels
