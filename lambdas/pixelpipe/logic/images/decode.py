"""Pure image logic (Pillow): validate untrusted uploads, make thumbnails, prepare images for labelling.

Uploads are untrusted bytes, so decoding is where most failures happen. This module keeps that
logic in one AWS-free place that the resize and label workers share, with one contract:
anything a bad input can cause (empty, too big, not an image, unsupported format, decompression
bomb, zero width or height, oversized metadata, corrupt or truncated data) raises `PermanentError`
with a reason a person can read.
Pillow exceptions never escape; `MemoryError` does, because a retry might get more memory.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import re
import struct
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from pixelpipe.logic.errors import PermanentError

__all__ = [
    "ImageLimits",
    "Thumbnail",
    "encode_jpeg",
    "make_thumbnails",
    "open_image",
    "to_rgb",
]

_LANCZOS = Image.Resampling.LANCZOS
_REDUCING_GAP = 3.0  # integer box reduction first for big factors: much faster, visually the same
_WHITE = (255, 255, 255)
_EXIF_ORIENTATION = 0x0112

# Formats Pillow names differently from what a user uploaded: MPO is a JPEG with extra frames
# (written by many phones and cameras).
_FORMAT_ALIASES = {"MPO": "JPEG", "JPG": "JPEG", "TIF": "TIFF"}
_OUTPUT_FORMATS = {"JPEG": "image/jpeg", "WEBP": "image/webp", "PNG": "image/png"}

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
# An ICC profile up to this size travels with each thumbnail (sRGB is 3 KB, Display P3 under 1 KB);
# a bigger one is applied to the pixels instead, so no thumbnail carries megabytes of metadata.
_MAX_EMBEDDED_ICC_BYTES = 64 * 1024


@dataclass(frozen=True)
class ImageLimits:
    """What an upload may be; built from the `limits` section of pipeline.json."""

    max_input_bytes: int
    max_input_pixels: int
    allowed_formats: tuple[str, ...]

    @classmethod
    def from_config(cls, limits: dict) -> ImageLimits:
        return cls(
            max_input_bytes=int(limits["max_input_bytes"]),
            max_input_pixels=int(limits["max_input_pixels"]),
            allowed_formats=tuple(_canonical_format(f) for f in limits["allowed_formats"]),
        )


@dataclass(frozen=True)
class Thumbnail:
    """One encoded thumbnail; `size` is the requested longest side, width/height the actual ones."""

    size: int
    width: int
    height: int
    format: str
    data: bytes

    @property
    def byte_length(self) -> int:
        return len(self.data)

    @property
    def content_type(self) -> str:
        return _OUTPUT_FORMATS[self.format]


def open_image(data: bytes, limits: ImageLimits, draft_longest_side: int | None = None) -> Image.Image:
    """Validate and fully decode `data`: first frame only, EXIF orientation applied.

    The result is detached from the input (no file behind it, no further frames). With
    `draft_longest_side`, a JPEG may be decoded at a reduced scale that still covers that size.
    Raises PermanentError for any input that cannot become an image within `limits`.
    """
    image = _decode(data, limits, draft_longest_side=draft_longest_side)
    try:
        return ImageOps.exif_transpose(image)  # always a new, detached image
    except MemoryError:
        raise
    except Exception:  # unusable EXIF block; orientation already applied in _decode
        return image.copy()


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
    fmt = _canonical_format(fmt)
    if fmt not in _OUTPUT_FORMATS:
        raise ValueError(f"thumbnail format must be one of {sorted(_OUTPUT_FORMATS)}, not {fmt!r}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be 1-100, not {quality}")
    if not sizes or any(not isinstance(s, int) or s < 1 for s in sizes):
        raise ValueError(f"sizes must be positive integers, not {list(sizes)!r}")

    largest = max(sizes)
    image = _decode(data, limits, draft_longest_side=largest)
    icc_profile, to_srgb = _output_colour(image)
    try:
        current = to_rgb(image)
        width, height = current.size
        encoded: dict[int, Thumbnail] = {}
        last_size, last_data = None, b""
        for size in sorted(set(sizes), reverse=True):
            target = _fit(width, height, size)
            if current.size != target:
                current = current.resize(target, _LANCZOS, reducing_gap=_REDUCING_GAP)
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


def encode_jpeg(image: Image.Image, max_side: int, quality: int, *, max_bytes: int | None = None) -> bytes:
    """JPEG bytes of `image` (any mode) with its longest side at most `max_side`.

    With `max_bytes` (e.g. Rekognition's 5 MB), quality and then size are lowered until it fits.
    """
    rgb = to_rgb(image)
    target = _fit(*rgb.size, max_side)
    if rgb.size != target:
        rgb = rgb.resize(target, _LANCZOS, reducing_gap=_REDUCING_GAP)
    data = _save_jpeg(rgb, quality, progressive=False)
    while max_bytes is not None and len(data) > max_bytes:
        if quality > 50:
            quality = max(50, quality - 15)
        elif max(rgb.size) > 64:
            rgb = rgb.resize(_fit(*rgb.size, int(max(rgb.size) * 0.75)), _LANCZOS)
        else:
            raise ValueError(f"cannot encode a JPEG under {max_bytes} bytes")
        data = _save_jpeg(rgb, quality, progressive=False)
    return data


# --- decoding -------------------------------------------------------------------------------------


def _decode(data: bytes, limits: ImageLimits, draft_longest_side: int | None = None) -> Image.Image:
    """Checked, loaded first frame with EXIF orientation applied (not necessarily detached)."""
    image = _identify(data, limits)
    if draft_longest_side and image.format in ("JPEG", "MPO"):
        # Size already checked against the limit; let libjpeg decode at 1/2, 1/4 or 1/8 scale
        # while keeping every side at least as large as the largest thumbnail needs.
        target = _fit(*image.size, draft_longest_side)
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
            image = Image.open(io.BytesIO(data))
    except MemoryError:
        raise
    except UnidentifiedImageError as exc:
        raise PermanentError(_describe_unrecognised(data)) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PermanentError(_too_many_pixels(exc, limits)) from exc
    except Exception as exc:  # untrusted input: a header the plugin cannot parse
        raise PermanentError(_corrupt(exc)) from exc

    if _canonical_format(image.format or "") not in limits.allowed_formats:
        raise PermanentError(f"unsupported format: {image.format or 'unknown'}")
    width, height = image.size
    if width < 1 or height < 1:
        raise PermanentError(_no_pixels(width, height))
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


def _describe_unrecognised(data: bytes) -> str:
    """Why Pillow could not identify `data`, in words: broken image, other file type, or text."""
    declared = _declared_size(data)
    if declared is not None and min(declared) < 1:  # Pillow refuses a zero size as "not identified"
        return _no_pixels(*declared)
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


def _no_pixels(width: int, height: int) -> str:
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


# --- pixels -----------------------------------------------------------------------------------


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


def _fit(width: int, height: int, longest_side: int) -> tuple[int, int]:
    """(width, height) scaled so the longest side is `longest_side`; never larger than the original."""
    longest = max(width, height)
    if longest <= longest_side:
        return width, height
    scale = longest_side / longest
    if width >= height:
        return longest_side, max(1, round(height * scale))
    return max(1, round(width * scale)), longest_side


def _rgb_icc_profile(image: Image.Image) -> bytes | None:
    """The source's ICC profile if it describes RGB data (a CMYK or grey profile would be wrong)."""
    profile = image.info.get("icc_profile")
    if image.mode in ("RGB", "RGBA", "RGBX", "P", "PA") and profile and profile[16:20] == b"RGB ":
        return profile
    return None


def _output_colour(
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


# --- encoding ---------------------------------------------------------------------------------


def _encode(image: Image.Image, fmt: str, quality: int, icc_profile: bytes | None) -> bytes:
    extra = {"icc_profile": icc_profile} if icc_profile else {}
    if fmt == "JPEG":
        return _save_jpeg(image, quality, progressive=True, **extra)
    buffer = io.BytesIO()
    clean = image.copy()
    clean.info = {}  # no EXIF, XMP or text chunks carried over from the source
    if fmt == "WEBP":
        clean.save(buffer, "WEBP", quality=quality, method=4, **extra)
    else:
        clean.save(buffer, "PNG", **extra)
    return buffer.getvalue()


def _save_jpeg(image: Image.Image, quality: int, *, progressive: bool, **extra: object) -> bytes:
    # Pillow's JPEG writer only writes the metadata passed here, so no EXIF reaches the output.
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, optimize=True, progressive=progressive, **extra)
    return buffer.getvalue()


def _canonical_format(name: str) -> str:
    upper = name.strip().upper()
    return _FORMAT_ALIASES.get(upper, upper)


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / (1024 * 1024):.1f} MB"
