"""The quality factor a JPEG file was last saved at, read from the file itself.

A JPEG file carries its quantization tables. libjpeg (and so PIL, and most software that says
"quality 1..100") writes the standard tables of the JPEG specification (Annex K) scaled for q,
and the pair of scaled tables differs for every q from 1 to 100: where a file's tables are one
of them, its q is exact. Cameras and other encoders write tables of their own; for those the
nearest q (least squared difference of the log tables) is reported and marked as custom.

The file's q says how the last save compressed; the estimator's q says what the pixels look
like. A photo compressed harder before its last save shows a lower q in its pixels than in its
tables.
"""
from dataclasses import dataclass

import numpy as np
from PIL import Image

# Annex K, tables K.1 (luminance) and K.2 (chrominance), in natural (row-major) order, the order
# of PIL's Image.quantization.
STANDARD_LUMINANCE = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)
STANDARD_CHROMINANCE = (
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
    *(99,) * 32)
QUALITIES = np.arange(1, 101)
# The pixels' q this far below the file's exact q says the photo was compressed harder before
# its last save: more than three times the shipped estimator's SD (RESULTS.md, Table 2).
RECOMPRESSION_GAP = 15


@dataclass(frozen=True)
class FileQuality:
    quality: int   # the exact q, or the nearest one for custom tables
    exact: bool    # the tables are libjpeg's standard ones scaled for `quality`


def scaled_table(base, quality):
    """libjpeg's table for `quality` (jpeg_quality_scaling, then jpeg_add_quant_table with
    force_baseline): the base table times 5000/q % below q 50, (200 - 2q) % from 50, rounded,
    within 1..255."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((np.asarray(base, np.int64) * scale + 50) // 100, 1, 255)


def _all_scaled():
    """(100, 2, 64): the luminance and chrominance tables of every q 1..100."""
    return np.stack([np.stack([scaled_table(STANDARD_LUMINANCE, q),
                               scaled_table(STANDARD_CHROMINANCE, q)]) for q in QUALITIES])


SCALED = _all_scaled()


def tables_quality(tables):
    """The FileQuality of quantization `tables` ({index: 64 values}, PIL's form): exact where
    they are a q's scaled standard tables (one table for a grayscale file, the luminance's),
    else the q whose tables are nearest in the log."""
    found = [np.asarray(tables[key], np.int64).reshape(64) for key in sorted(tables)[:2]]
    if not found:
        raise ValueError("the file has no quantization tables")
    candidates = SCALED[:, :len(found)]
    given = np.stack(found)
    exact = np.flatnonzero((candidates == given).all(axis=(1, 2)))
    if len(exact):
        return FileQuality(int(QUALITIES[exact[-1]]), True)
    distance = ((np.log(candidates) - np.log(np.maximum(given, 1))) ** 2).sum(axis=(1, 2))
    return FileQuality(int(QUALITIES[np.argmin(distance)]), False)


def file_quality(path):
    """The FileQuality of a JPEG file, or None for any other file (PNG, ...): reads only the
    header, not the pixels."""
    with Image.open(path) as image:
        if image.format != "JPEG":
            return None
        return tables_quality(image.quantization)


def recompression_note(pixels_quality, found):
    """A note where the pixels look much more compressed than the file's exact tables say, else
    "": the photo was saved at a lower q before its last save."""
    if found is None or not found.exact or found.quality - pixels_quality <= RECOMPRESSION_GAP:
        return ""
    return (f"recompressed: the pixels look like q {pixels_quality:.0f}, the last save used "
            f"q {found.quality}")

