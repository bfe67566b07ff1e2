"""What a photo's EXIF says that a user wants to see, and whether it carries a location.

Read from the header only, after the safe decoder has accepted the file. EXIF is written by whoever
made the file: every value is checked (type, length, shape) and a broken block is the same as none.
GPS is reduced to one boolean here, at the one place the tags are read: the coordinates are never
returned, so they cannot reach the record, a log line or a trace.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from PIL import ExifTags, Image

from pixelpipe.logic.images import ImageLimits
from pixelpipe.logic.images.decode import canonical_format

# EXIF 2.32 tags: IFD0 and the Exif sub-IFD.
_MAKE, _MODEL, _ORIENTATION, _DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL = 0x9003, 0x9011
_LENS_MAKE, _LENS_MODEL = 0xA433, 0xA434
_GPS_LATITUDE, _GPS_LONGITUDE = 0x0002, 0x0004
# XMP can carry the location too (exif:GPSLatitude), e.g. after an editor rewrote the file.
_XMP_GPS = re.compile(rb"GPS(Latitude|Longitude)")

_MAX_TEXT = 64  # a make, model or lens name; longer text is cut
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_EXIF_TIME = re.compile(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET = re.compile(r"[+-]\d{2}:\d{2}")


@dataclass(frozen=True)
class Header:
    """What the file's header says: its format, stored size, EXIF summary and GPS flag."""

    image_format: str
    width: int
    height: int
    exif: dict[str, Any]
    has_gps: bool

    @property
    def displayed_size(self) -> tuple[int, int]:
        """(width, height) as the decoder shows the photo: EXIF orientations 5-8 turn it a quarter."""
        turned = self.exif.get("orientation", 1) in (5, 6, 7, 8)
        return (self.height, self.width) if turned else (self.width, self.height)


def read_header(data: bytes, limits: ImageLimits) -> Header:
    """The header of an image the safe decoder already accepted (`open_image` first: its reasons).

    The EXIF summary holds only the fields present: `make`, `model`, `lens`, `capturedAt` (ISO 8601,
    with the offset when the file records one) and `orientation` (1-8, as stored).
    """
    with Image.open(io.BytesIO(data), formats=limits.pillow_formats) as image:
        image_format, (width, height) = canonical_format(image.format or ""), image.size
        xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp") or b""
        try:
            exif = image.getexif()
            main = dict(exif)
            details, gps = _ifd(exif, ExifTags.IFD.Exif), _ifd(exif, ExifTags.IFD.GPSInfo)
        except MemoryError:
            raise
        except Exception:  # a broken EXIF block is not a broken image: the same as none
            main, details, gps = {}, {}, {}
    summary = {
        "make": _text(main.get(_MAKE)),
        "model": _text(main.get(_MODEL)),
        "lens": _lens(details),
        "capturedAt": _capture_time(details, main),
        "orientation": _orientation(main.get(_ORIENTATION)),
    }
    has_gps = _GPS_LATITUDE in gps or _GPS_LONGITUDE in gps or _xmp_has_gps(xmp)
    exif_summary = {k: v for k, v in summary.items() if v is not None}
    return Header(image_format, width, height, exif_summary, bool(has_gps))


def _ifd(exif: Image.Exif, ifd: ExifTags.IFD) -> dict[int, Any]:
    """One sub-IFD; a broken one is empty, so the rest of the block still counts."""
    try:
        return dict(exif.get_ifd(ifd))
    except MemoryError:
        raise
    except Exception:
        return {}


def _text(value: Any) -> str | None:
    """Printable text of at most `_MAX_TEXT` characters, or None for anything else or nothing."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    cleaned = " ".join(_CONTROL.sub(" ", value).split())
    return cleaned[:_MAX_TEXT] or None


def _lens(details: dict[int, Any]) -> str | None:
    """The lens model, prefixed by its make unless the model already names it."""
    model, make = _text(details.get(_LENS_MODEL)), _text(details.get(_LENS_MAKE))
    if model and make and not model.lower().startswith(make.lower()):
        return f"{make} {model}"[:_MAX_TEXT]
    return model or make


def _capture_time(details: dict[int, Any], main: dict[int, Any]) -> str | None:
    """When the photo was taken (DateTimeOriginal; else the file's DateTime) as ISO 8601."""
    stamp = _text(details.get(_DATETIME_ORIGINAL)) or _text(main.get(_DATETIME))
    found = _EXIF_TIME.fullmatch(stamp or "")
    if not found:
        return None  # absent, blank ("    :  :  ") or not a time
    year, month, day, hour, minute, second = (int(part) for part in found.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    offset = _text(details.get(_OFFSET_TIME_ORIGINAL))
    suffix = offset if offset and _EXIF_OFFSET.fullmatch(offset) else ""
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{suffix}"


def _orientation(value: Any) -> int | None:
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _xmp_has_gps(xmp: Any) -> bool:
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8", "replace")
    return isinstance(xmp, bytes) and _XMP_GPS.search(xmp) is not None
