"""Thumbnails: one decode of the upload, then a cascade of smaller encodings."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from pixelpipe.logic.errors import PermanentError
from pixelpipe.logic.images.colour import output_colour, to_rgb
from pixelpipe.logic.images.decode import ImageLimits, canonical_format, decode, fit

LANCZOS = Image.Resampling.LANCZOS
REDUCING_GAP = 3.0  # integer box reduction first for big factors: much faster, visually the same
_OUTPUT_FORMATS = {"JPEG": "image/jpeg", "WEBP": "image/webp", "PNG": "image/png"}


@dataclass(frozen=True)
class Thumbnail:
    """One encoded thumbnail; `size` is the requested longest side, width/height the actual ones."""

    size: int
    width: int
    height: int
    format: str
    data: bytes

    @property
    def content_type(self) -> str:
        return _OUTPUT_FORMATS[self.format]


def make_thumbnails(
    data: bytes, sizes: Sequence[int], fmt: str, quality: int, limits: ImageLimits
) -> list[Thumbnail]:
    """Thumbnails of `data` whose longest side is each of `sizes`, in the order given.

    One decode (JPEG at reduced DCT scale when the largest thumbnail allows), EXIF orientation
    applied, aspect ratio kept (the short side never below 1 px), never upscaled, then a cascade:
    the largest thumbnail is made from the source and each smaller one from the previous. Output
    carries no EXIF. A readable RGB ICC profile of at most 64 KB is kept so wide-gamut photos keep
    their colours; a larger one is applied instead (pixels converted to sRGB, no profile embedded);
    an unreadable one is dropped.
    """
    fmt = canonical_format(fmt)
    if fmt not in _OUTPUT_FORMATS:
        raise ValueError(f"thumbnail format must be one of {sorted(_OUTPUT_FORMATS)}, not {fmt!r}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be 1-100, not {quality}")
    if not sizes or any(not isinstance(s, int) or s < 1 for s in sizes):
        raise ValueError(f"sizes must be positive integers, not {list(sizes)!r}")

    largest = max(sizes)
    image = decode(data, limits, draft_longest_side=largest)
    icc_profile, to_srgb = output_colour(image)
    try:
        current = to_rgb(image)
        width, height = current.size
        encoded: dict[int, Thumbnail] = {}
        last_size, last_data = None, b""
        for size in sorted(set(sizes), reverse=True):
            target = fit(width, height, size)
            if current.size != target:
                current = current.resize(target, LANCZOS, reducing_gap=REDUCING_GAP)
            if current.size != last_size:  # sizes above the source's share one encoding
                pixels = to_srgb(current) if to_srgb else current
                last_size, last_data = current.size, _encode(pixels, fmt, quality, icc_profile)
            encoded[size] = Thumbnail(
                size=size, width=target[0], height=target[1], format=fmt, data=last_data
            )
    except (PermanentError, MemoryError):
        raise
    except (OSError, ValueError) as exc:
        raise PermanentError(f"cannot make thumbnails: {exc}") from exc
    return [encoded[size] for size in sizes]


def _encode(image: Image.Image, fmt: str, quality: int, icc_profile: bytes | None) -> bytes:
    extra = {"icc_profile": icc_profile} if icc_profile else {}
    if fmt == "JPEG":
        return save_jpeg(image, quality, progressive=True, **extra)
    buffer = io.BytesIO()
    clean = image.copy()
    clean.info = {}  # no EXIF, XMP or text chunks carried over from the source
    if fmt == "WEBP":
        clean.save(buffer, "WEBP", quality=quality, method=4, **extra)
    else:
        clean.save(buffer, "PNG", **extra)
    return buffer.getvalue()


def save_jpeg(image: Image.Image, quality: int, *, progressive: bool, **extra: object) -> bytes:
    # Pillow's JPEG writer only writes the metadata passed here, so no EXIF reaches the output.
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, optimize=True, progressive=progressive, **extra)
    return buffer.getvalue()
