"""A perceptual hash for near-duplicate detection: DCT pHash, 64 bits, in pure Python (no numpy in the zip).

The bits are those of `imagehash.phash`, the usual reference (tests/unit/test_metadata.py checks them
against scipy's DCT): 32x32 greyscale by Lanczos, 2-D DCT-II, the top-left 8x8 coefficients compared
with their median, row-major, written as 16 hex digits. pHash rather than dHash: measured on the test
photos, dHash separated them no better (a 5 % crop within 9 bits, different photos 18 or more apart;
pHash 10 and 20), so the hash with a checkable reference stays. Two images are near-duplicates when
`hamming_distance` is at most `NEAR_DUPLICATE_DISTANCE`.
"""

from __future__ import annotations

import math
import re
from functools import cache

from PIL import Image

HASH_SIDE = 8  # 8x8 low frequencies: 64 bits
_SAMPLE_SIDE = 32  # the greyscale the DCT runs on
HASH_BITS = HASH_SIDE * HASH_SIDE
_HASH = re.compile(f"[0-9a-f]{{{HASH_BITS // 4}}}")

# Two photos whose hashes differ in at most this many of 64 bits are reported as near-duplicates
# (`pixelpipe jobs --similar`). Measured through the metadata step on ten of scikit-image's photos: a
# re-encode (JPEG q60, WEBP) at most 2 bits, a half-size copy 0, a 2 % crop at most 4, a 5 % crop and
# re-encode at most 10, a 10 % crop up to 18 (no longer reported); two different photos 20 or more
# (median 32).
NEAR_DUPLICATE_DISTANCE = 12


@cache
def _cosines() -> tuple[tuple[float, ...], ...]:
    """cos(pi * (2x + 1) * u / 64) for the 8 lowest frequencies u and the 32 sample positions x."""
    n = _SAMPLE_SIDE
    return tuple(
        tuple(math.cos(math.pi * (2 * x + 1) * u / (2 * n)) for x in range(n)) for u in range(HASH_SIDE)
    )


def phash(image: Image.Image) -> str:
    """The 64-bit DCT hash of `image` (any mode; an RGB image is greyed with Pillow's ITU-R 601 luma)."""
    grey = image.convert("L").resize((_SAMPLE_SIDE, _SAMPLE_SIDE), Image.Resampling.LANCZOS)
    pixels = grey.tobytes()
    n, cosines = _SAMPLE_SIDE, _cosines()
    # Separable DCT-II (unnormalised, as scipy's default): along each row, then down the columns,
    # computing only the low frequencies the hash keeps (32x8 + 8x8 sums of 32 terms).
    rows = [[sum(pixels[y * n + x] * cos_u[x] for x in range(n)) for cos_u in cosines] for y in range(n)]
    low = [sum(cos_v[y] * rows[y][u] for y in range(n)) for cos_v in cosines for u in range(HASH_SIDE)]
    median = _median(low)
    value = 0
    for coefficient in low:
        value = (value << 1) | (coefficient > median)
    return f"{value:0{HASH_BITS // 4}x}"


def hamming_distance(a: str, b: str) -> int:
    """How many of the 64 bits differ between two hashes written by `phash`."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def is_hash(value: object) -> bool:
    """Whether `value` looks like a hash `phash` wrote (records are data; a field may be anything)."""
    return isinstance(value, str) and _HASH.fullmatch(value) is not None


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return (ordered[middle - 1] + ordered[middle]) / 2 if len(ordered) % 2 == 0 else ordered[middle]
