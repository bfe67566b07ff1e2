"""What a label backend is given: a JPEG small enough for its limits (Rekognition takes 5 MB as bytes)."""

from __future__ import annotations

from PIL import Image

from pixelpipe.logic.images.colour import to_rgb
from pixelpipe.logic.images.decode import fit
from pixelpipe.logic.images.thumbnails import LANCZOS, REDUCING_GAP, save_jpeg


def encode_jpeg(image: Image.Image, max_side: int, quality: int, *, max_bytes: int | None = None) -> bytes:
    """JPEG bytes of `image` (any mode) with its longest side at most `max_side`.

    With `max_bytes` (e.g. Rekognition's 5 MB), quality and then size are lowered until it fits.
    """
    rgb = to_rgb(image)
    target = fit(*rgb.size, max_side)
    if rgb.size != target:
        rgb = rgb.resize(target, LANCZOS, reducing_gap=REDUCING_GAP)
    data = save_jpeg(rgb, quality, progressive=False)
    while max_bytes is not None and len(data) > max_bytes:
        if quality > 50:
            quality = max(50, quality - 15)
        elif max(rgb.size) > 64:
            rgb = rgb.resize(fit(*rgb.size, int(max(rgb.size) * 0.75)), LANCZOS)
        else:
            raise ValueError(f"cannot encode a JPEG under {max_bytes} bytes")
        data = save_jpeg(rgb, quality, progressive=False)
    return data
