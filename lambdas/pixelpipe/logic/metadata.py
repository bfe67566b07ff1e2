"""The metadata step: what a photo is (EXIF summary, GPS flag), what it looks like (perceptual hash,
dominant colours), from one pass through the safe decoder.

The decode is the same as the other image steps', so a bad upload fails this step with the same reason.
JPEGs decode at a reduced scale: the hash looks at 32x32 pixels and the palette at 64x64.
"""

from __future__ import annotations

from typing import Any, Protocol

from PIL import Image

from pixelpipe.logic.exif_summary import read_header
from pixelpipe.logic.images import ImageLimits, open_image, to_rgb
from pixelpipe.logic.job_message import JobMessage
from pixelpipe.logic.perceptual_hash import phash

PALETTE_COLOURS = 5  # dominant colours kept on the record, most common first
_DECODE_SIDE = 256  # enough pixels for a 32x32 hash and a 64x64 palette, few enough to decode fast
_PALETTE_SIDE = 64


class ReadsObjects(Protocol):
    def read(self, bucket: str, key: str, version_id: str | None, max_bytes: int) -> bytes: ...


def describe_image(message: JobMessage, storage: ReadsObjects, limits: ImageLimits) -> dict[str, Any]:
    """The job's `metadata` result: the upload read from S3, then `summarise`."""
    data = storage.read(message.bucket, message.key, message.version_id, limits.max_input_bytes)
    return summarise(data, limits)


def summarise(data: bytes, limits: ImageLimits) -> dict[str, Any]:
    """`{format, width, height, exif, hasGps, phash, colours}` of an upload; width and height as
    displayed (EXIF orientation applied). Raises PermanentError, as every step does, for a bad input.
    """
    image = open_image(data, limits, draft_longest_side=_DECODE_SIDE)
    # Shrunk before any conversion: one more full-size copy of a 40-megapixel RGBA upload is 160 MB.
    image.thumbnail((_DECODE_SIDE, _DECODE_SIDE), Image.Resampling.LANCZOS)
    rgb = to_rgb(image)
    header = read_header(data, limits)
    width, height = header.displayed_size
    return {
        "format": header.image_format,
        "width": width,
        "height": height,
        "exif": header.exif,
        "hasGps": header.has_gps,
        "phash": phash(rgb),
        "colours": dominant_colours(rgb),
    }


def dominant_colours(image: Image.Image, colours: int = PALETTE_COLOURS) -> list[dict[str, Any]]:
    """`[{hex, share}]`: median-cut palette of a 64 px copy, share of its pixels (0-1, 3 decimals).

    The copy samples pixels (nearest) rather than averaging them: an averaged edge is a colour the
    photo does not have, and median cut would spend a palette entry on it.
    """
    small = image.convert("RGB")
    small.thumbnail((_PALETTE_SIDE, _PALETTE_SIDE), Image.Resampling.NEAREST)
    quantized = small.quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette() or []
    counts: dict[str, int] = {}
    for count, index in quantized.getcolors() or []:
        red, green, blue = palette[3 * index : 3 * index + 3]
        key = f"#{red:02x}{green:02x}{blue:02x}"
        counts[key] = counts.get(key, 0) + count
    total = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [{"hex": key, "share": round(count / total, 3)} for key, count in ranked]
