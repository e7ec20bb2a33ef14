"""Beyond the paper: the level as a restorer's parameter. Denoise, then classify: OpenCV's
non-local means (fastNlMeansDenoisingColored, a maintained denoiser that takes the noise level
as its filter strength h) is given the estimated sigma, the true sigma, or a fixed middle sigma
(the placebo: a level that says nothing of the image), and its output is classified by the
clean-trained network (org) and the noise-trained one (noisy). Each pipeline is set against
`noisy` on the noisy image, per sigma interval, with its gain's interval over seeds and test
images (one weights folder: over test images). `evaluate.py restore` runs it and writes
<dataset>_noise_restoration.csv and .md.

OpenCV rather than BM3D: the `bm3d` package takes about 1 s per 32x32 colour image (its
per-call overhead), non-local means some hundreds of images a second on 2 cores (measured in
each run and written in the table).
"""
import time

import numpy as np
import pandas as pd

from degraded_cnn.evaluation.statistics import gain_interval, paired_bootstrap
from degraded_cnn.evaluation.sweeps import degraded_test_set
from degraded_cnn.evaluation.tables import INTERVALS, gain_text
from degraded_cnn.predict import classification, estimation

DEGRADATION = "noise"
# The placebo's level: the middle of the range, whatever the image.
FIXED_SIGMA = 25.0
SOURCES = ("estimated", "true", "fixed")
CLASSIFIERS = ("org", "noisy")
# OpenCV's own window sizes (template 7, search 21), as a user of the denoiser gets them.
TEMPLATE_WINDOW, SEARCH_WINDOW = 7, 21


def denoise(images, sigmas):
    """Each uint8 image (N, H, W, 1 or 3) denoised by non-local means with h = its sigma (8-bit
    levels); an image whose sigma is below 1 is left as it is."""
    import cv2  # only this study needs OpenCV
    out = images.copy()
    for index, (image, sigma) in enumerate(zip(images, np.asarray(sigmas, np.float64))):
        if sigma < 1:
            continue
        h = float(sigma)
        if image.shape[-1] == 3:
            out[index] = cv2.fastNlMeansDenoisingColored(image, None, h, h, TEMPLATE_WINDOW,
                                                         SEARCH_WINDOW)
        else:
            out[index, ..., 0] = cv2.fastNlMeansDenoising(image[..., 0], None, h,
                                                          TEMPLATE_WINDOW, SEARCH_WINDOW)
    return out


def sweep_restoration(networks, images, labels, values, estimator_model, seed=0, batch_size=512):
    """correct[(pipeline, classifier)]: (seeds, values, images) booleans, for every pipeline
    (each of SOURCES, and "none": the noisy image itself) and classifier of CLASSIFIERS;
    `networks`: one {classifier: model} per weights folder. Also the denoiser's images/s."""
    seeds = len(networks)
    pipelines = ("none", *SOURCES)
    correct = {(pipeline, name): np.zeros((seeds, len(values), len(images)), bool)
               for pipeline in pipelines for name in CLASSIFIERS}
    denoised_count, denoise_seconds = 0, 0.0
    for index, value in enumerate(values):
        noisy = degraded_test_set(images, DEGRADATION, value, seed)
        levels = {"estimated": estimation.estimate(estimator_model, noisy, DEGRADATION),
                  "true": np.full(len(images), float(value)),
                  "fixed": np.full(len(images), FIXED_SIGMA)}
        inputs = {"none": noisy}
        for source in SOURCES:
            start = time.perf_counter()
            inputs[source] = denoise(noisy, levels[source])
            denoise_seconds += time.perf_counter() - start
            denoised_count += int((levels[source] >= 1).sum())
        for k, folder_networks in enumerate(networks):
            for name in CLASSIFIERS:
                for pipeline, pixels in inputs.items():
                    probabilities = classification.predict_probabilities(
                        folder_networks[name], pixels, batch_size=batch_size)
                    correct[(pipeline, name)][k, index] = probabilities.argmax(axis=1) == labels
        print(f"[{index + 1:3d}/{len(values)}] sigma {value:g}: " + "  ".join(
            f"{pipeline}>{name} {correct[(pipeline, name)][:, index].mean():.3f}"
            for pipeline in pipelines for name in CLASSIFIERS), flush=True)
    rate = denoised_count / denoise_seconds if denoise_seconds else float("nan")
    return correct, rate


def restoration_table(values, correct, seed=0):
    """Per sigma interval and pipeline (denoiser's level x classifier): mean and SD over seeds
    of the interval accuracy, and the gain over `noisy` on the noisy image with its 95%
    interval (over seeds and test images, paired by seed; one seed: paired bootstrap)."""
    rng = np.random.default_rng(seed)
    baseline = correct[("none", "noisy")]
    rows = []
    for low, high in INTERVALS[DEGRADATION]:
        inside = (values >= low) & (values <= high)
        if not inside.any():
            continue
        for (pipeline, name), right in correct.items():
            per_seed = right[:, inside].mean(axis=(1, 2))
            aware, plain = right[:, inside].mean(axis=1), baseline[:, inside].mean(axis=1)
            if len(right) > 1:
                gain, ci_low, ci_high = gain_interval(aware, plain, paired=True)
            else:
                gain = float(aware.mean() - plain.mean())
                ci_low, ci_high = paired_bootstrap(right[0][inside], baseline[0][inside], rng)
            rows.append({"interval": f"{low}-{high}", "pipeline": pipeline, "classifier": name,
                         "seeds": len(right), "accuracy": per_seed.mean(),
                         "sd": per_seed.std(ddof=1) if len(right) > 1 else np.nan,
                         "gain": gain, "gain_ci_low": ci_low, "gain_ci_high": ci_high})
    return pd.DataFrame(rows)


PIPELINE_NAMES = {"none": "no denoiser", "estimated": "estimated sigma", "true": "true sigma",
                  "fixed": f"fixed sigma {FIXED_SIGMA:g} (placebo)"}


def restoration_markdown(table, dataset_name, image_count, values, rate):
    seeds = int(table["seeds"].iloc[0])
    spread = "seeds and test images" if seeds > 1 else "test images (one seed)"
    columns = [(pipeline, name) for pipeline in PIPELINE_NAMES for name in CLASSIFIERS
               if (pipeline, name) != ("none", "noisy")]
    lines = [f"Denoise, then classify ({dataset_name}, {image_count} test images, sigma "
             f"{', '.join(f'{v:g}' for v in values)}, {seeds} seed(s)): OpenCV's non-local "
             f"means (h = the sigma it is given; template {TEMPLATE_WINDOW}, search "
             f"{SEARCH_WINDOW}), {rate:.0f} images/s on this machine. Interval mean accuracy "
             "of `noisy` on the noisy image, and each pipeline's gain over it, mean over seeds "
             f"[95% interval over {spread}].", "",
             "| sigma | Noisy | " + " | ".join(f"{PIPELINE_NAMES[p]} > {n}" for p, n in columns)
             + " |", "|" + "---|" * (len(columns) + 2)]
    for interval, rows in table.groupby("interval", sort=False):
        by = {(row["pipeline"], row["classifier"]): row for _, row in rows.iterrows()}
        cells = [f"{by[('none', 'noisy')]['accuracy']:.3f}"]
        cells += [gain_text(by[key]["gain"], by[key]["gain_ci_low"], by[key]["gain_ci_high"])
                  for key in columns]
        lines.append(f"| {interval} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
