"""Naming what an upload is when Pillow cannot read it, from its first bytes alone.

A person reading a job's failure reason should learn "this is a PDF" or "a HEIC photo", not
"cannot identify image file".
"""

from __future__ import annotations

import struct

_IMAGE_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
_OTHER_MAGIC = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive or office document"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"\x7fELF", "an executable program"),
)
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
# JPEG start-of-frame markers (C4, C8 and CC are other segments): they carry the image's size.
_JPEG_FRAME_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


# Formats Pillow could parse that pipeline.json may leave out: named by their magic, never parsed.
_OTHER_IMAGE_MAGIC = (
    (b"BM", "BMP"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\x00\x00\x02\x00", "CUR"),
    (b"8BPS", "PSD"),
    (b"icns", "ICNS"),
    (b"\x0a\x05\x01", "PCX"),
    (b"qoif", "QOI"),
)


def image_format_by_magic(data: bytes) -> str | None:
    """The image format `data` starts like (Pillow's name), from its first bytes only, or None."""
    for magic, name in (*_IMAGE_MAGIC, *_OTHER_IMAGE_MAGIC):
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def describe_unrecognised(data: bytes) -> str:
    """Why Pillow could not identify `data`, in words: broken image, other file type, or text."""
    declared = _declared_size(data)
    if declared is not None and min(declared) < 1:  # Pillow refuses a zero size as "not identified"
        return no_pixels(*declared)
    for magic, name in _IMAGE_MAGIC:
        if data.startswith(magic):
            return f"corrupt or truncated image: looks like {name} but its header cannot be read"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "corrupt or truncated image: looks like WEBP but its header cannot be read"
    for magic, what in _OTHER_MAGIC:
        if data.startswith(magic):
            return f"not an image: content looks like {what}"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in _HEIF_BRANDS:
            return "unsupported format: HEIC/HEIF"
        if brand in (b"avif", b"avis"):
            return "unsupported format: AVIF"
        return "not an image: content looks like a video (MP4/MOV)"
    text = _as_text(data[:1024])
    if text is not None:
        head = text.lstrip("\ufeff \t\r\n").lower()
        if "<svg" in head:
            return "unsupported format: SVG (vector images are not supported)"
        if head.startswith(("<!doctype html", "<html")):
            return "not an image: content looks like HTML text"
        return "not an image: content looks like text"
    return "not a recognised image format"


def _as_text(sample: bytes) -> str | None:
    """`sample` as text if it is (almost entirely printable) UTF-8, else None."""
    if b"\x00" in sample:
        return None
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 3:  # invalid, not merely a character cut at the end
            return None
        text = sample[: exc.start].decode("utf-8")
    if not text:
        return None
    printable = sum(ch.isprintable() or ch in "\t\r\n\f" for ch in text)
    return text if printable >= 0.95 * len(text) else None


def no_pixels(width: int, height: int) -> str:
    return f"empty image: its header declares {width}x{height} pixels"


def _declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) as a PNG, GIF, BMP or JPEG header states them, read without Pillow."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if data.startswith((b"GIF87a", b"GIF89a")):
            return struct.unpack("<HH", data[6:10])
        if data.startswith(b"BM"):
            (header_size,) = struct.unpack("<I", data[14:18])
            fields = "<HH" if header_size == 12 else "<ii"  # OS/2 1.x header, else Windows 3.x and later
            width, height = struct.unpack(fields, data[18 : 18 + struct.calcsize(fields)])
            return width, abs(height)  # a negative height means rows stored top-down
        if data.startswith(b"\xff\xd8"):
            return _jpeg_frame_size(data)
    except struct.error:  # too short to hold the fields
        return None
    return None


def _jpeg_frame_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the first start-of-frame segment, walking the segments before it."""
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
        elif marker in _JPEG_FRAME_MARKERS:
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            position += 2
        else:
            position += 2 + struct.unpack(">H", data[position + 2 : position + 4])[0]
    return None
