"""Real inputs for tests: the bundled samples, scikit-image's photos, and deliberately bad files.

Every bad input is generated here in code (nothing big is committed): polyglots, HEIC/AVIF, every
EXIF orientation, huge EXIF and ICC blocks, decompression bombs, a 10,000-frame GIF, zero-size and
extreme-aspect images. `BAD_INPUTS` names the corpus the unit, memory and end-to-end tests share.
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import skimage
from PIL import Image, ImageCms

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SKIMAGE_DATA = Path(skimage.__file__).parent / "data"

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def jpeg_bytes(image: Image.Image, **params) -> bytes:
    return encoded(image, "JPEG", **params)


def encoded(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


# --- decompression bombs ----------------------------------------------------------------------


def _png_chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))


def _zlib_of_zeros(n_bytes: int, chunk: int = 1 << 20) -> bytes:
    """zlib stream of `n_bytes` zero bytes without compressing them all: after a full flush the
    compressor's output for an identical chunk repeats byte for byte, and the Adler-32 of zeros is
    ((n mod 65521) << 16) | 1."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    full, rest = divmod(n_bytes, chunk)
    block, parts = bytes(chunk), []
    if full:
        parts.append(compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH))
    if full > 1:
        parts.append((compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)) * (full - 1))
    parts.append(compressor.compress(bytes(rest)) + compressor.flush())
    return b"\x78\xda" + b"".join(parts) + struct.pack(">I", ((n_bytes % 65521) << 16) | 1)


@functools.cache
def zero_filled_png(width: int, height: int, bit_depth: int = 1, colour_type: int = 0) -> bytes:
    """A valid PNG of all-zero pixels (black): tiny on disk however many pixels it declares."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    row_bytes = 1 + (width * channels * bit_depth + 7) // 8  # filter byte + packed samples
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", _zlib_of_zeros(row_bytes * height if width else 0))
        + _png_chunk(b"IEND", b"")
    )


def decompression_bomb_png() -> bytes:
    """30000 x 30000 one-bit pixels: 900 megapixels declared in a file of about 100 KB."""
    return zero_filled_png(30_000, 30_000, 1)


def bomb_png_50k() -> bytes:
    """50,000 x 50,000 one-bit pixels: 2,500 megapixels (312 MB as bits, 7.5 GB as RGB) in ~300 KB."""
    return zero_filled_png(50_000, 50_000, 1)


# --- polyglots --------------------------------------------------------------------------------


def quadrants(width: int = 120, height: int = 80) -> Image.Image:
    """An asymmetric test pattern: red top-left, green top-right, blue bottom-left, white bottom-right."""
    image = Image.new("RGB", (width, height), WHITE)
    half_w, half_h = width // 2, height // 2
    image.paste(RED, (0, 0, half_w, half_h))
    image.paste(GREEN, (half_w, 0, width, half_h))
    image.paste(BLUE, (0, half_h, half_w, height))
    return image


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload/readme.txt", "a ZIP archive appended to an image\n" * 50)
    return buffer.getvalue()


def jpeg_then_zip() -> bytes:
    """A valid JPEG with a whole ZIP archive after its end-of-image marker (opens as either)."""
    return jpeg_bytes(quadrants(), quality=95) + zip_bytes()


def png_then_junk() -> bytes:
    """A valid PNG followed by 64 KB of bytes after its IEND chunk."""
    return encoded(quadrants(), "PNG") + bytes(range(256)) * 256


# --- HEIC and AVIF ----------------------------------------------------------------------------


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def heic_header(major_brand: bytes = b"heic") -> bytes:
    """Only the boxes a HEIC starts with: `ftyp` (brand `major_brand`, compatible mif1/heic/miaf), an
    empty `meta` and a little `mdat`. The format is named from these first bytes alone, so this is
    refused exactly as a whole HEIC is; with brand mif1, Pillow's AVIF plugin tries and rejects it.
    """
    ftyp = _box(b"ftyp", major_brand + struct.pack(">I", 0) + b"mif1heicmiaf")
    meta = _box(b"meta", b"\x00\x00\x00\x00" + _box(b"hdlr", bytes(8) + b"pict" + bytes(13)))
    return ftyp + meta + _box(b"mdat", bytes(64))


def heic_bytes() -> bytes:
    """A real HEIC (HEVC-coded, brand heic, as an iPhone writes), encoded by pillow-heif's libheif.

    Only pillow-heif's own encoder is used: its Pillow plugin is never registered, so the pipeline's
    Pillow stays without HEIF support, as in the Lambda.
    """
    import pillow_heif

    buffer = io.BytesIO()
    pillow_heif.from_pillow(quadrants()).save(buffer, quality=80)
    return buffer.getvalue()


def avif_bytes() -> bytes:
    """A real AVIF (Pillow 13 encodes it with libavif)."""
    return encoded(quadrants(), "AVIF", quality=80)


# --- EXIF orientation -------------------------------------------------------------------------


def stored_for_orientation(upright: Image.Image, orientation: int) -> Image.Image:
    """How a camera stores `upright` when it tags EXIF `orientation`, from the EXIF 2.32 definition of
    where the stored image's row 0 and column 0 lie in the visual image (numpy, not Pillow's table)."""
    u = np.asarray(upright)
    stored = {
        1: lambda: u,  # row 0 top, column 0 left
        2: lambda: u[:, ::-1],  # row 0 top, column 0 right
        3: lambda: u[::-1, ::-1],  # row 0 bottom, column 0 right
        4: lambda: u[::-1, :],  # row 0 bottom, column 0 left
        5: lambda: u.transpose(1, 0, 2),  # row 0 left, column 0 top
        6: lambda: u[:, ::-1].transpose(1, 0, 2),  # row 0 right, column 0 top
        7: lambda: u[::-1, ::-1].transpose(1, 0, 2),  # row 0 right, column 0 bottom
        8: lambda: u[::-1, :].transpose(1, 0, 2),  # row 0 left, column 0 bottom
    }[orientation]()
    return Image.fromarray(np.ascontiguousarray(stored))


def oriented_jpeg(orientation: int, width: int = 120, height: int = 80) -> bytes:
    """The quadrant pattern as a camera would store it for `orientation`, with that EXIF tag."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored = stored_for_orientation(quadrants(width, height), orientation)
    return jpeg_bytes(stored, quality=95, exif=exif)


# --- huge metadata ----------------------------------------------------------------------------


def jpeg_with_huge_exif(size: int = 60_000) -> bytes:
    """The quadrant pattern with a ~60 KB EXIF block (a long ImageDescription) and Orientation=1."""
    exif = Image.Exif()
    exif[0x0112] = 1
    exif[0x010F] = "Test Camera"
    exif[0x010E] = "x" * size
    data = jpeg_bytes(quadrants(), quality=95, exif=exif)
    assert len(exif.tobytes()) >= size
    return data


def swapped_primaries_icc(padding: int = 0) -> bytes:
    """A valid RGB ICC profile (lcms's sRGB) with the red and green primaries swapped, optionally
    grown by a private tag of `padding` bytes. Pixel (255, 0, 0) under it is green in sRGB terms."""
    base = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    count = struct.unpack(">I", base[128:132])[0]
    tags = [struct.unpack(">4sII", base[132 + 12 * i : 144 + 12 * i]) for i in range(count)]
    where = {sig: (offset, size) for sig, offset, size in tags}
    swap = {b"rXYZ": where[b"gXYZ"], b"gXYZ": where[b"rXYZ"]}
    tags = [(sig, *swap.get(sig, (offset, size))) for sig, offset, size in tags]
    shift = 12 if padding else 0  # one more tag table entry moves every tag's data
    body = base[132 + 12 * count :]
    tags = [(sig, offset + shift, size) for sig, offset, size in tags]
    if padding:
        tags.append((b"zzpd", len(base) + shift, 12 + padding))
        body += b"data" + bytes(8) + bytes(padding)
    table = struct.pack(">I", len(tags)) + b"".join(struct.pack(">4sII", *tag) for tag in tags)
    header = bytearray(base[:128])
    header[84:100] = bytes(16)  # profile ID (an MD5) not computed
    profile = bytes(header) + table + body
    return struct.pack(">I", len(profile)) + profile[4:]


def jpeg_with_huge_icc(megabytes: int = 3) -> bytes:
    """Red/green quadrants tagged with a valid 3 MB RGB profile whose red and green are swapped."""
    return jpeg_bytes(quadrants(), quality=95, icc_profile=swapped_primaries_icc(megabytes << 20))


# --- frames and sizes -------------------------------------------------------------------------


def gif_with_frames(frames: int = 10_000, width: int = 64, height: int = 64) -> bytes:
    """An animated GIF of `frames` frames: a red first frame, then one blue pixel per frame, walking.

    Written by hand (a 1x1 LZW image per frame) so that making it takes milliseconds.
    """
    palette = bytes(RED + BLUE) + bytes(6)  # 4-entry global colour table
    screen = struct.pack("<HHBBB", width, height, 0b1000_0001, 0, 0)
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"

    def frame(x: int, y: int, w: int, h: int, index: int) -> bytes:
        control = b"\x21\xf9\x04\x04" + struct.pack("<H", 2) + b"\x00\x00"  # keep, 20 ms
        descriptor = b"\x2c" + struct.pack("<HHHHB", x, y, w, h, 0)
        return control + descriptor + b"\x02" + _gif_lzw(index, w * h) + b"\x00"

    body = [frame(0, 0, width, height, 0)]
    body += [frame(i % width, (i // width) % height, 1, 1, 1) for i in range(1, frames)]
    return b"GIF89a" + screen + palette + loop + b"".join(body) + b"\x3b"


def _gif_lzw(index: int, count: int) -> bytes:
    """LZW data (min code size 2) for `count` pixels of one palette `index`: clear, one code per pixel
    with a clear every few codes so the code width stays 3 bits, end of information."""
    codes: list[int] = [4]
    for n in range(count):
        codes.append(index)
        if n % 2 == 1:
            codes.append(4)
    codes.append(5)
    bits = 0
    for position, code in enumerate(codes):
        bits |= code << (3 * position)
    data = bits.to_bytes((3 * len(codes) + 7) // 8, "little")
    return b"".join(bytes([len(data[i : i + 255])]) + data[i : i + 255] for i in range(0, len(data), 255))


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares `width` x `height` (0 allowed), with a well-formed empty IDAT."""
    return zero_filled_png(width, height, 8, 2)


def gif_declaring_zero_size() -> bytes:
    """A GIF whose logical screen and only frame are 0 x 0."""
    screen = struct.pack("<HHBBB", 0, 0, 0b1000_0000, 0, 0) + bytes(6)
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 0, 0, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + frame + b"\x3b"


def tall_png(height: int = 65_535) -> bytes:
    """A 1 x `height` RGB PNG: the top half red, the bottom half blue."""
    column = np.zeros((height, 1, 3), dtype=np.uint8)
    column[: height // 2] = RED
    column[height // 2 :] = BLUE
    return encoded(Image.fromarray(column), "PNG")


def wide_png(width: int = 65_535) -> bytes:
    """A `width` x 1 RGB PNG: the left half red, the right half blue."""
    row = np.zeros((1, width, 3), dtype=np.uint8)
    row[:, : width // 2] = RED
    row[:, width // 2 :] = BLUE
    return encoded(Image.fromarray(row), "PNG")


def png_with_huge_icc(megabytes: int = 3) -> bytes:
    """The quadrant pattern as a PNG whose zlib-compressed iCCP chunk expands to a 3 MB profile: the
    file is a few KB (the profile's padding is zeros), so it is also a small decompression bomb."""
    return encoded(quadrants(), "PNG", icc_profile=swapped_primaries_icc(megabytes << 20))


def jpeg_declaring_width(width: int) -> bytes:
    """The 120x80 quadrant JPEG with the width in its start-of-frame header replaced by `width`."""
    data = bytearray(jpeg_bytes(quadrants(), quality=95))
    sof = data.index(b"\xff\xc0")
    data[sof + 7 : sof + 9] = struct.pack(">H", width)
    return bytes(data)


def bmp_declaring_width(width: int) -> bytes:
    """The 120x80 quadrant BMP with the width in its BITMAPINFOHEADER replaced by `width`."""
    data = bytearray(encoded(quadrants(), "BMP"))
    data[18:22] = struct.pack("<i", width)
    return bytes(data)


# The worst inputs for a worker's memory (the peak-RSS test), by file name, and one legitimate image at
# the 40-megapixel limit in the most expensive common layout (8-bit RGBA) to compare them with.
MEMORY_WORST: dict[str, Callable[[], bytes]] = {
    "bomb-50000x50000-1bit.png": bomb_png_50k,
    "frames-10000.gif": lambda: gif_with_frames(10_000),
    "icc-3mb.jpg": jpeg_with_huge_icc,
    "tall-1x65535.png": tall_png,
    "wide-65535x1.png": wide_png,
    "at-limit-6000x6600-rgba.png": lambda: zero_filled_png(6_000, 6_600, 8, 6),
}
