"""Many photos at once: the files a command line names (files, folders searched recursively,
glob patterns), a result row for every file whatever happens to the others, a progress line,
and the rows written as CSV or JSON."""
import csv
import glob
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from degraded_cnn import data

GLOB_CHARACTERS = set("*?[")


def expand(inputs):
    """[(path, None)] of every image file that `inputs` names, in order, and [(input, reason)]
    for an input that names none: a folder gives its image files (IMAGE_SUFFIXES, recursively,
    sorted), a pattern its matches; anything else is taken as a file, to be read (and to fail
    there, in its row, if it is not one)."""
    found = []
    for item in map(str, inputs):
        path = Path(item)
        if path.is_dir():
            files = sorted(f for f in path.rglob("*")
                           if f.is_file() and f.suffix.lower() in data.IMAGE_SUFFIXES)
            found += [(f, None) for f in files] or [(path, "a folder with no image files")]
        elif not path.exists() and GLOB_CHARACTERS & set(item):
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True)
                             if Path(m).is_file())
            found += [(m, None) for m in matches] or [(path, "no file matches this pattern")]
        else:
            found.append((path, None))
    return found


def read_photo(path):
    """(uint8 image (H, W, C), note or ""): the note says what was changed to read it (an alpha
    channel dropped). 16-bit and float images are refused with a DataError."""
    image = data.read_image(path)
    with Image.open(path) as opened:
        note = "alpha channel dropped" if "A" in opened.getbands() else ""
    return image, note


class Progress:
    """`[k/n] path` on stderr, rewritten in place, for more than one file."""

    def __init__(self, total, stream=sys.stderr):
        self.total, self.stream, self.shown = total, stream, False

    def show(self, done, path):
        if self.total > 1:
            self.stream.write(f"\r[{done}/{self.total}] {str(path)[-60:]:<60}")
            self.stream.flush()
            self.shown = True

    def close(self):
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def report_error(prog, path, reason, progress):
    """One `error:` line on stderr naming the file (once) and the reason, on a line of its own
    below the progress line."""
    text = reason if str(path) in reason else f"{path}: {reason}"
    print(("\n" if progress.shown else "") + f"{prog}: error: {text}", file=sys.stderr)


def check_writable(path):
    """Raise a one-line DataError now, before any work, if `path` cannot be written."""
    if path is None:
        return
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".json"):
        raise data.DataError(f"{path}: write the results as .csv or .json")
    if path.is_dir():
        raise data.DataError(f"{path} is a folder; give a file name ending in .csv or .json")
    try:  # a file made and removed in the output's folder: nothing is left there
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}."):
            pass
    except OSError as error:
        raise data.DataError(f"cannot write {path}: {error.strerror}") from None


def write_rows(rows, path, fields):
    """The rows as CSV (the columns `fields`, empty where a row has none) or as a JSON list."""
    with data.atomic_output(path) as temporary:
        with open(temporary, "w", newline="") as file:
            if Path(path).suffix.lower() == ".json":
                json.dump([{key: row.get(key) for key in fields} for row in rows], file,
                          indent=1)
                file.write("\n")
            else:
                writer = csv.DictWriter(file, fields, extrasaction="ignore")
                writer.writeheader()
                writer.writerows({key: "" if row.get(key) is None else row[key]
                                  for key in fields} for row in rows)


def estimate_file(path, degradation, load_model, keep_map=False, max_pixels=None):
    """One photo's row: path, width, height, the estimate by parameter name (q, sigma), the
    file's own q where it is a JPEG (file_q, file_q_exact), the share of pixels read, a note;
    and the PhotoEstimate and image (for a heat map). `load_model(channels)` gives the
    estimator for the photo's channel count. Raises ValueError or OSError for a bad file."""
    # Imported here: they load Keras, and estimator.py checks its arguments with this module
    # before the backend starts.
    from degraded_cnn.predict import estimation, jpeg_tables
    from degraded_cnn.vocabulary.degradations import units
    image, note = read_photo(path)
    notes = [note] if note else []
    if warning := estimation.colour_noise_warning(path, degradation, image.shape[-1]):
        print(warning, file=sys.stderr)
        notes.append("subsampled colour: sigma reads too low")
    model = load_model(image.shape[-1])
    estimation.check_channels(model, image[None], what=str(path))
    estimate = estimation.estimate_photo(model, image, degradation, keep_map=keep_map,
                                         max_pixels=max_pixels)
    values = dict(zip(units(degradation), map(float, np.atleast_1d(estimate.value))))
    found = jpeg_tables.file_quality(path)
    if "q" in values and (recompressed := jpeg_tables.recompression_note(values["q"], found)):
        notes.append(recompressed)
    row = {"path": str(path), "width": image.shape[1], "height": image.shape[0],
           **{name: round(value, 2) for name, value in values.items()},
           "file_q": None if found is None else found.quality,
           "file_q_exact": None if found is None else found.exact,
           "share": round(estimate.share, 4), "note": "; ".join(notes)}
    return row, estimate, image
