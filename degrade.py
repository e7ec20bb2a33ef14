"""Degrade an image or a whole dataset: JPEG and Gaussian noise (the paper's), Gaussian blur,
mixed (noise, then JPEG) and any chain of them.

    python degrade.py in.png out.png --degradation jpeg --param 10
    python degrade.py flat.png out.png --degradation noise --param 25 --seed 1
    python degrade.py --dataset cifar10 --degradation noise --param 25 --out cifar10-noise25.npz
    python degrade.py --dataset x.npz --degradation jpeg --param random --out x-jpeg.npz
    python degrade.py in.png out.png --degradation mixed --param noise=10,jpeg=30
    python degrade.py in.png out.png --degradation chain --param blur=1,noise=5,jpeg=30

The operations are in degraded_cnn/image_ops.py, the degradations' ranges in
degraded_cnn/vocabulary/degradations.py.
"""
import argparse

import numpy as np

from degraded_cnn import cli
from degraded_cnn.vocabulary.degradations import (DEGRADATIONS, MIXED_PARTS, check_params, parts,
                                                  random_params)

# Any sequence of the single degradations, applied in the order of a camera (CHAIN_ORDER).
# "mixture" is its older name, still accepted.
CHAIN, CHAIN_ALIASES = "chain", ("chain", "mixture")


def parse_param(degradation, text, count, rng):
    """--param: a number, 'random' (one draw per image), or name=value,... for a chain."""
    if degradation == "mixed" and text != "random":
        given = parse_param(CHAIN, text, count, rng)
        if set(given) != set(MIXED_PARTS):
            raise ValueError(f"mixed takes {'=..,'.join(MIXED_PARTS)}=.., got {text!r}")
        return check_params("mixed", np.stack([given[p] for p in MIXED_PARTS], axis=1), count)
    if degradation == CHAIN:
        params = {}
        for item in text.split(","):
            name, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"chain parameters look like blur=1,noise=10,jpeg=50; "
                                 f"got {text!r}")
            params[name.strip()] = parse_param(name.strip(), value, count, rng)
        return params
    if text == "random":
        return random_params(degradation, count, rng)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{degradation}: parameter {text!r} is not a number") from None
    return check_params(degradation, value, count)


def stages(degradation, params):
    """The parameters of one command-line degradation as a chain's: {stage: parameters}."""
    if degradation == CHAIN:
        return params
    return dict(zip(parts(degradation), params.T if params.ndim == 2 else params[None]))


def degrade_dataset(dataset, degradation, param, out, rng):
    from degraded_cnn import data, image_ops
    dataset = data.load_dataset(dataset)
    arrays = {"y_train": dataset.y_train, "y_test": dataset.y_test,
              "class_names": np.asarray(dataset.class_names)}
    for split in ("train", "test"):
        images = getattr(dataset, f"x_{split}")
        params = stages(degradation, parse_param(degradation, param, len(images), rng))
        arrays[f"x_{split}"] = image_ops.chain(images, params, rng)
        for name, values in params.items():
            arrays[f"param_{name}_{split}"] = values
        print(f"{split}: {len(images)} images degraded")
    data.save_npz(out, **arrays)
    print(f"wrote {out}")


def degrade_image(source, target, degradation, param, rng):
    from degraded_cnn import data, image_ops
    image = data.read_image(source)[None]
    params = stages(degradation, parse_param(degradation, param, 1, rng))
    if "jpeg" in params and data.image_format(target) == "JPEG":
        # JPEG is the last stage: the file is the codec's own output. Decoding it and saving
        # the pixels as JPEG again would compress them twice, at PIL's default quality.
        before = image_ops.chain(image, {k: v for k, v in params.items() if k != "jpeg"}, rng)
        with data.atomic_output(target) as temporary:
            image_ops.save_jpeg(before[0], params["jpeg"][0], temporary)
    else:
        data.write_image(target, image_ops.chain(image, params, rng)[0], exact=True)
    print(f"wrote {target}")


def build_parser():
    parser = argparse.ArgumentParser(
        description="Degrade an image or a whole dataset with JPEG, Gaussian noise, Gaussian "
                    "blur or a chain of them (applied in the order blur, noise, jpeg; mixed: "
                    "noise, then JPEG, the pair that has estimators and classifiers).")
    parser.add_argument("input", nargs="?", help="input image (PNG, BMP, TIFF, JPEG)")
    parser.add_argument("output", nargs="?", help="output image: a lossless format (PNG), or "
                        "JPEG when JPEG is the last stage (the codec's own file, compressed once)")
    parser.add_argument("--dataset", help="instead of one image: cifar10, cifar100, mnist, "
                        "fashion_mnist, an .npz (x_train y_train x_test y_test) or a folder "
                        "with train/ and test/ class subfolders")
    parser.add_argument("--out", help="output .npz for --dataset (labels kept, parameters "
                        "saved as param_<name>_train/test)")
    parser.add_argument("--degradation", required=True, choices=[*DEGRADATIONS, *CHAIN_ALIASES])
    parser.add_argument("--param", required=True,
                        help="jpeg: quality 1..100; noise: sigma 0..50; blur: sigma 0..4; "
                             "'random' draws one per image; mixed (noise, then JPEG): e.g. "
                             "noise=10,jpeg=30; chain: e.g. blur=1,noise=5,jpeg=30")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise and random "
                        "parameters (default 0)")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    degradation = CHAIN if args.degradation in CHAIN_ALIASES else args.degradation
    rng = np.random.default_rng(args.seed)
    if args.dataset:
        if args.input or not args.out:
            parser.error("--dataset takes --out and no positional images")
        return cli.run(parser.prog, lambda: degrade_dataset(args.dataset, degradation,
                                                            args.param, args.out, rng))
    if not (args.input and args.output):
        parser.error("give an input and an output image, or --dataset with --out")
    return cli.run(parser.prog, lambda: degrade_image(args.input, args.output, degradation,
                                                      args.param, rng))


if __name__ == "__main__":
    raise SystemExit(main())
