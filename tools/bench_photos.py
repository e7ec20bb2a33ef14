"""Seconds and peak memory of `estimator.py --predict` against a photo's size: a benchmark that
prints figures (no test asserts a time). Each size is a photo-like JPEG (smooth shapes, texture,
sensor noise) at q 80, estimated in a fresh process, as a user runs it; peak memory is the
process's maximum resident set.

    python tools/bench_photos.py                     # 0.5, 3 and 12 megapixels
    python tools/bench_photos.py --megapixels 12 --max-pixels 2000000
"""
import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPOSITORY = Path(__file__).resolve().parents[1]
# Width x height of the sizes measured, at a camera's 4:3.
SIZES = {0.5: (816, 612), 3.0: (2000, 1500), 12.0: (4000, 3000)}


def photo(path, width, height, quality=80):
    """A photo-like image: smooth shapes and texture with a little noise, saved as JPEG."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:height, :width].astype(np.float32)
    base = 120 + 50 * np.sin(x / 37.0) * np.cos(y / 23.0) + 30 * np.sin((x + y) / 5.0)
    pixels = base[..., None] * np.float32([1.0, 0.8, 0.6]) + rng.normal(0, 4, (height, width, 3))
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=quality)


def measure(path, extra):
    """(seconds, peak MB, the line printed) of one estimator.py --predict run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    result = subprocess.run([sys.executable, str(REPOSITORY / "estimator.py"), "--degradation",
                             "jpeg", "--predict", str(path), *extra], capture_output=True,
                            text=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if result.returncode:
        raise SystemExit(f"estimator.py failed on {path}: {result.stderr.strip()}")
    # ru_maxrss of the children is the largest child so far: run the sizes smallest first.
    return seconds, max(peak, before) / 1024, result.stdout.strip()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, nargs="+", default=sorted(SIZES),
                        choices=sorted(SIZES))
    parser.add_argument("--max-pixels", type=int, help="passed on to estimator.py")
    args = parser.parse_args(argv)
    extra = ["--max-pixels", str(args.max_pixels)] if args.max_pixels else []
    print("| megapixels | size | seconds | s per megapixel | peak MB | estimate |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for megapixels in sorted(args.megapixels):
            width, height = SIZES[megapixels]
            path = Path(folder) / f"photo_{width}x{height}.jpg"
            photo(path, width, height)
            seconds, peak, line = measure(path, extra)
            print(f"| {width * height / 1e6:.1f} | {width}x{height} | {seconds:.1f} | "
                  f"{seconds / (width * height / 1e6):.1f} | {peak:.0f} | "
                  f"{' '.join(line.split()[1:])} |", flush=True)


if __name__ == "__main__":
    main()
