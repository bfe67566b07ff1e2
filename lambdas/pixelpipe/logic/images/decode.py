"""Validating and decoding untrusted uploads (Pillow), the one place an upload becomes pixels.

Uploads are untrusted bytes, so decoding is where most failures happen. One contract for the
resize and label workers alike: anything a bad input can cause (empty, too big, not an image,
unsupported format, decompression bomb, zero width or height, oversized metadata, corrupt or
truncated data) raises `PermanentError` with a reason a person can read.
Pillow exceptions never escape; `MemoryError` does, because a retry might get more memory.
EXIF orientation is applied here, once, so every consumer sees the photo as it should be displayed.
Only the parsers of the formats pipeline.json allows ever see the bytes (`Image.open(formats=...)`):
Pillow would otherwise try every plugin it has (TIFF, BMP, PSD, ...) on whatever was uploaded.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from pixelpipe.logic.errors import PermanentError
from pixelpipe.logic.images.sniff import describe_unrecognised, image_format_by_magic, no_pixels

if TYPE_CHECKING:
    from pixelpipe.config import LimitsConfig

_EXIF_ORIENTATION = 0x0112
# Formats Pillow names differently from what a user uploaded: MPO is a JPEG with extra frames
# (written by many phones and cameras).
_FORMAT_ALIASES = {"MPO": "JPEG", "JPG": "JPEG", "TIF": "TIFF"}


@dataclass(frozen=True)
class ImageLimits:
    """What an upload may be; built from the `limits` section of pipeline.json."""

    max_input_bytes: int
    max_input_pixels: int
    allowed_formats: tuple[str, ...]

    @property
    def pillow_formats(self) -> tuple[str, ...]:
        """Pillow's plugin names for the allowed formats (JPEG brings MPO, the same file family)."""
        Image.init()
        return tuple(name for name in Image.ID if canonical_format(name) in self.allowed_formats)

    @classmethod
    def from_config(cls, limits: LimitsConfig) -> ImageLimits:
        """From pipeline.json's validated `limits`, format names as Pillow spells them."""
        return cls(
            max_input_bytes=limits.max_input_bytes,
            max_input_pixels=limits.max_input_pixels,
            allowed_formats=tuple(canonical_format(f) for f in limits.allowed_formats),
        )


def open_image(data: bytes, limits: ImageLimits, draft_longest_side: int | None = None) -> Image.Image:
    """Validate and fully decode `data`: first frame only, EXIF orientation applied (by `decode`).

    The result is detached from the input (no file behind it, no further frames). With
    `draft_longest_side`, a JPEG may be decoded at a reduced scale that still covers that size.
    Raises PermanentError for any input that cannot become an image within `limits`.
    """
    image = decode(data, limits, draft_longest_side=draft_longest_side)
    # A rotated image is already a new one; an upright one is still the file-backed decode.
    return image.copy() if isinstance(image, ImageFile.ImageFile) else image


def decode(data: bytes, limits: ImageLimits, draft_longest_side: int | None = None) -> Image.Image:
    """Checked, loaded first frame with EXIF orientation applied (not necessarily detached)."""
    image = _identify(data, limits)
    if draft_longest_side and image.format in ("JPEG", "MPO"):
        # Size already checked against the limit; let libjpeg decode at 1/2, 1/4 or 1/8 scale
        # while keeping every side at least as large as the largest thumbnail needs.
        target = fit(*image.size, draft_longest_side)
        if target != image.size:
            image.draft("RGB", target)
    try:
        with _strict_decoding(limits):
            image.load()
    except MemoryError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PermanentError(_too_many_pixels(exc, limits)) from exc
    except Exception as exc:  # untrusted input: every decoder failure is permanent
        raise PermanentError(_corrupt(exc)) from exc
    return _apply_orientation(image)


def _identify(data: bytes, limits: ImageLimits) -> ImageFile.ImageFile:
    """Read only the header: reject by byte size, format and pixel count before any pixel is decoded."""
    if not data:
        raise PermanentError("empty file")
    if len(data) > limits.max_input_bytes:
        raise PermanentError(
            f"file too large: {_mb(len(data))} exceeds the {_mb(limits.max_input_bytes)} limit"
        )
    try:
        with _strict_decoding(limits):
            image = Image.open(io.BytesIO(data), formats=limits.pillow_formats)
    except MemoryError:
        raise
    except UnidentifiedImageError as exc:
        named = image_format_by_magic(data)
        if named is not None and canonical_format(named) not in limits.allowed_formats:
            raise PermanentError(f"unsupported format: {named}") from exc
        raise PermanentError(describe_unrecognised(data)) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PermanentError(_too_many_pixels(exc, limits)) from exc
    except Exception as exc:  # untrusted input: a header the plugin cannot parse
        raise PermanentError(_corrupt(exc)) from exc

    if canonical_format(image.format or "") not in limits.allowed_formats:
        raise PermanentError(f"unsupported format: {image.format or 'unknown'}")
    width, height = image.size
    if width < 1 or height < 1:
        raise PermanentError(no_pixels(width, height))
    if width * height > limits.max_input_pixels:
        raise PermanentError(
            f"image too large: {width}x{height} is {width * height / 1e6:.1f} megapixels, over the "
            f"{limits.max_input_pixels / 1e6:g}-megapixel limit"
        )
    return image


@contextlib.contextmanager
def _strict_decoding(limits: ImageLimits) -> Iterator[None]:
    """Pillow's own bomb check at our limit (its warning raised as an error), truncation an error.

    These are process-wide Pillow settings, restored on exit; Lambda runs one event at a time.
    """
    saved_max, saved_truncated = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    Image.MAX_IMAGE_PIXELS = limits.max_input_pixels
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved_max, saved_truncated


def _apply_orientation(image: Image.Image) -> Image.Image:
    """The image as it should be displayed; returns `image` itself when no rotation is needed."""
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    except MemoryError:
        raise
    except Exception:  # a broken EXIF block is not a broken image
        return image
    if orientation not in (2, 3, 4, 5, 6, 7, 8):
        return image
    try:
        return ImageOps.exif_transpose(image)
    except MemoryError:
        raise
    except Exception:  # EXIF rewrite failed: rotate the pixels ourselves, drop EXIF
        method = {
            2: Image.Transpose.FLIP_LEFT_RIGHT,
            3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_270,
            7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90,
        }[orientation]
        rotated = image.transpose(method)
        rotated.info.pop("exif", None)
        return rotated


def _too_many_pixels(exc: Exception, limits: ImageLimits) -> str:
    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{int(found.group(1)) / 1e6:.1f} megapixels" if found else "its declared size"
    return (
        f"image too large: {size} is over the {limits.max_input_pixels / 1e6:g}-megapixel limit "
        "(possible decompression bomb)"
    )


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _corrupt(exc: Exception) -> str:
    if isinstance(exc, ValueError) and "Decompressed data too large" in str(exc):
        # Pillow's guard (PngImagePlugin.MAX_TEXT_CHUNK) against zlib bombs in iCCP/zTXt/iTXt chunks
        return "metadata too large: a compressed PNG chunk (ICC profile or text) expands past 1 MB"
    return f"corrupt or truncated image: {_describe(exc)}"


def fit(width: int, height: int, longest_side: int) -> tuple[int, int]:
    """(width, height) scaled so the longest side is `longest_side`; never larger than the original."""
    longest = max(width, height)
    if longest <= longest_side:
        return width, height
    scale = longest_side / longest
    if width >= height:
        return longest_side, max(1, round(height * scale))
    return max(1, round(width * scale)), longest_side


def canonical_format(name: str) -> str:
    upper = name.strip().upper()
    return _FORMAT_ALIASES.get(upper, upper)


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / (1024 * 1024):.1f} MB"
