"""Colour: any Pillow mode to 8-bit RGB, and what happens to an upload's ICC profile."""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable

from PIL import Image

from pixelpipe.logic.errors import PermanentError

_WHITE = (255, 255, 255)
# An ICC profile up to this size travels with each thumbnail (sRGB is 3 KB, Display P3 under 1 KB);
# a bigger one is applied to the pixels instead, so no thumbnail carries megabytes of metadata.
_MAX_EMBEDDED_ICC_BYTES = 64 * 1024


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB from any Pillow mode: alpha composited on white, high-bit-depth grey stretched to 0-255.

    Returns `image` itself when it is already RGB without a transparent colour key.
    """
    mode = image.mode
    try:
        if mode == "RGB" and "transparency" not in image.info:
            return image
        if mode in ("1", "L", "RGB", "P") and "transparency" in image.info:
            return _on_white(image.convert("RGBA"))
        if mode == "La":
            return _on_white(image.convert("LA"))
        if mode in ("LA", "PA", "RGBA", "RGBa"):
            return _on_white(image)
        if mode in ("I", "F") or mode.startswith("I;16"):
            return _stretch_to_l(image).convert("RGB")
        return image.convert("RGB")  # 1, L, P, CMYK, YCbCr, LAB, HSV, RGBX, ...
    except ValueError as exc:
        raise PermanentError(f"unsupported colour mode: {mode}") from exc


def _on_white(image: Image.Image) -> Image.Image:
    """Composite an image with alpha (LA, PA, RGBA, RGBa) onto an opaque white background."""
    rgba = image if image.mode == "RGBA" else image.convert("RGBA")
    background = Image.new("RGB", rgba.size, _WHITE)
    background.paste(rgba, mask=rgba.getchannel("A"))
    background.info = {k: v for k, v in image.info.items() if k != "transparency"}
    return background


def _stretch_to_l(image: Image.Image) -> Image.Image:
    """8-bit greyscale from I;16/I/F, mapping the image's own min..max to 0..255 (no clipping)."""
    source_mode = image.mode
    floats = image.convert("I").convert("F") if source_mode.startswith("I;16") else image.convert("F")
    low, high = floats.getextrema()
    if math.isfinite(low) and math.isfinite(high) and high > low:
        scale = 255.0 / (high - low)
        floats = floats.point(lambda v: v * scale - low * scale)
    elif source_mode.startswith("I;16"):  # flat image: place it on the nominal 16-bit scale
        floats = floats.point(lambda v: v * (255.0 / 65535.0))
    return floats.convert("L")  # F to L rounds and clamps to 0..255


def _rgb_icc_profile(image: Image.Image) -> bytes | None:
    """The source's ICC profile if it describes RGB data (a CMYK or grey profile would be wrong)."""
    profile = image.info.get("icc_profile")
    if image.mode in ("RGB", "RGBA", "RGBX", "P", "PA") and profile and profile[16:20] == b"RGB ":
        return profile
    return None


def output_colour(
    image: Image.Image,
) -> tuple[bytes | None, Callable[[Image.Image], Image.Image] | None]:
    """(profile to embed in each thumbnail, conversion to apply to its pixels): at most one is set.

    A readable RGB profile up to `_MAX_EMBEDDED_ICC_BYTES` is embedded as it is; a bigger one is
    applied (RGB to sRGB with LittleCMS) so thumbnails need none; an unreadable one is dropped.
    """
    profile = _rgb_icc_profile(image)
    if profile is None:
        return None, None
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        if len(profile) <= _MAX_EMBEDDED_ICC_BYTES:
            return profile, None
        transform = ImageCms.buildTransform(source, _srgb_profile(), "RGB", "RGB")
    except MemoryError:
        raise
    except Exception:  # ImageCms.PyCMSError, OSError: not a profile LittleCMS can use
        return None, None
    return None, lambda pixels: ImageCms.applyTransform(pixels, transform)


@functools.cache
def _srgb_profile() -> object:
    from PIL import ImageCms

    return ImageCms.createProfile("sRGB")
