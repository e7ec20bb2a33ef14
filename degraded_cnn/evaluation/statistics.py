"""The statistics of the evaluation: Eq. (1), the paired bootstrap over test images, and the
interval of a gain over seeds and test images.

A gain of one network over its twin varies with the training (seed) and with the test images
drawn. Over S seeds and I test images, the per-seed, per-image gain d[s, i] follows a two-way
random-effects model, d = mu + a_s + b_i + e_si (seed, image and their interaction), and the mean
gain has variance var(a)/S + var(b)/I + var(e)/(S I), estimated from the mean squares of the
two-way layout (mean_variance). The interval uses Student's t with Satterthwaite's degrees of
freedom, in which the seed mean square always counts with its S - 1: near S - 1 unless the
images' own spread dominates.
"""
import numpy as np

BOOTSTRAP_SAMPLES = 1000
# Two-sided 97.5% quantiles of Student's t by degrees of freedom; a df between two rows takes the
# lower row (a wider interval). numpy has no t distribution and scipy is not otherwise needed.
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
         9: 2.262, 10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042, 40: 2.021, 60: 2.000,
         120: 1.980}
Z_975 = 1.960


def interval_mean(params, accuracy, low, high):
    """Eq. (1): the plain mean of the accuracies at every value from `low` to `high`."""
    params, accuracy = np.asarray(params), np.asarray(accuracy)
    inside = (params >= low) & (params <= high)
    return float(accuracy[inside].mean()) if inside.any() else float("nan")


def paired_bootstrap(correct_a, correct_b, rng, samples=BOOTSTRAP_SAMPLES):
    """95% interval of mean(a) - mean(b) over values, resampling test images with replacement.
    `correct_*`: (values, images) booleans of the same images under both networks."""
    per_image = (correct_a.astype(np.float64) - correct_b).mean(axis=0)
    draws = rng.integers(0, len(per_image), (samples, len(per_image)))
    means = per_image[draws].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def t_quantile(df):
    """Student's t at 97.5% for `df` degrees of freedom (a table, rounded down: conservative)."""
    if not df >= 1:  # also nan
        return float("nan")
    rows = [row for row in T_975 if row <= df]
    return T_975[max(rows)] if df <= max(T_975) else Z_975


def mean_squares(table):
    """Mean squares of a seeds x images table without replication, with their degrees of
    freedom: {"seed": (MS, df), "image": (MS, df), "interaction": (MS, df)}."""
    table = np.asarray(table, np.float64)
    seeds, images = table.shape
    grand = table.mean()
    rows, columns = table.mean(axis=1), table.mean(axis=0)
    residual = table - rows[:, None] - columns[None, :] + grand
    interaction_df = (seeds - 1) * (images - 1)
    return {"seed": (images * ((rows - grand) ** 2).sum() / max(seeds - 1, 1), seeds - 1),
            "image": (seeds * ((columns - grand) ** 2).sum() / max(images - 1, 1), images - 1),
            "interaction": ((residual ** 2).sum() / interaction_df if interaction_df else 0.0,
                            interaction_df)}


def variance_components(table):
    """The ANOVA estimates of var(seed), var(image), var(interaction) of a seeds x images
    table, each held at >= 0."""
    squares = mean_squares(table)
    seeds, images = np.shape(table)
    interaction = squares["interaction"][0]
    return {"seed": max(0.0, (squares["seed"][0] - interaction) / images),
            "image": max(0.0, (squares["image"][0] - interaction) / seeds),
            "interaction": interaction}


def mean_variance(table):
    """The variance of the table's grand mean under the random-effects model, and its
    Satterthwaite degrees of freedom, as (variance, df).

    var(a)/S + var(b)/I + var(e)/(S I) = [MS_seed + (MS_image - MS_interaction)] / (S I). The
    seed part MS_seed / (S I) is floored at MS_interaction / (S I), the least its expectation
    can be, and always carries the seeds' S - 1 degrees of freedom: a seed mean square that
    comes out small says little with a few seeds, and must not hand the interval the images'
    degrees of freedom (which an estimate held at zero and dropped would). The image part,
    held at >= 0, carries its own, by Satterthwaite's rule for a difference of mean squares."""
    squares = mean_squares(table)
    seeds, images = np.shape(table)
    scale = 1.0 / (seeds * images)
    interaction, interaction_df = squares["interaction"]
    image, image_df = squares["image"]
    seed_part = max(squares["seed"][0], interaction) * scale
    image_part = max(image - interaction, 0.0) * scale
    spread = seed_part ** 2 / max(seeds - 1, 1)
    if image_part > 0:
        spread += (image * scale) ** 2 / image_df + (interaction * scale) ** 2 / interaction_df
    variance = seed_part + image_part
    df = variance ** 2 / spread if spread > 0 else max(seeds - 1, 1)
    return variance, max(df, 1.0)


def gain_interval(aware, twin, paired):
    """Mean gain of a network over its twin and its 95% interval, from per-seed, per-image
    accuracies on the same test images (`aware` (seeds, images), `twin` (seeds', images)).

    `paired`: row k of both comes from seed k (twins start from the same convolutions), so the
    gain table aware - twin is a seeds x images layout (module docstring). Otherwise the two
    networks' seed components add, each estimated from its own table, the image term comes from
    the per-image gains (which hold the interaction once), and the degrees of freedom are
    Welch's. Returns (gain, low, high); the interval is nan with a single seed."""
    aware, twin = np.asarray(aware, np.float64), np.asarray(twin, np.float64)
    gain = float(aware.mean() - twin.mean())
    if paired:
        if len(aware) < 2:
            return gain, float("nan"), float("nan")
        variance, df = mean_variance(aware - twin)
    else:
        if min(len(aware), len(twin)) < 2:
            return gain, float("nan"), float("nan")
        per_image = aware.mean(axis=0) - twin.mean(axis=0)
        image_term = per_image.var(ddof=1) / len(per_image) if len(per_image) > 1 else 0.0
        terms = [variance_components(group)["seed"] / len(group) for group in (aware, twin)]
        seed_term = sum(terms)
        df = seed_term ** 2 / sum(term ** 2 / (len(group) - 1)
                                  for term, group in zip(terms, (aware, twin))) \
            if seed_term > 0 else min(len(aware), len(twin)) - 1
        variance = seed_term + image_term
    half = t_quantile(df) * np.sqrt(variance)
    return gain, gain - half, gain + half


def main_effects_variance(table):
    """The variance of a seeds x images table's mean as estimated before the two-way model:
    var(per-seed means)/S + var(per-image means)/I, which counts the interaction twice."""
    table = np.asarray(table, np.float64)
    per_seed, per_image = table.mean(axis=1), table.mean(axis=0)
    return per_seed.var(ddof=1) / len(per_seed) + per_image.var(ddof=1) / len(per_image)


def gain_interval_main_effects(aware, twin):
    """The interval used before the two-way model, for the paired case: main_effects_variance
    of the gains with t on S - 1 degrees of freedom; kept to compare the two
    (tools/interval_coverage.py)."""
    table = np.asarray(aware, np.float64) - np.asarray(twin, np.float64)
    half = t_quantile(len(table) - 1) * np.sqrt(main_effects_variance(table))
    gain = float(table.mean())
    return gain, gain - half, gain + half
