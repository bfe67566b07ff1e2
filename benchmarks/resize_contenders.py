"""Sources, contenders and the quality yardstick of the resize benchmark (timing lives in bench_resize.py).

Every contender turns one source file into the configured thumbnail sizes at the project's encoder settings
(pipeline.json `thumbnails`: JPEG q85, always progressive with optimized Huffman tables), so output bytes and
SSIM compare like with like. Sources are real photos from scikit-image, enlarged with Lanczos plus a little
seeded grain (an enlarged photo alone is smoother than a camera's and would flatter every decoder), written
once per run into a temporary directory: deterministic, nothing binary committed.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import skimage
from PIL import Image
from skimage.metrics import structural_similarity

from pixelpipe.config import settings

# The one line to change when make_thumbnails moves (images.py is being split into smaller modules).
from pixelpipe.logic.images import ImageLimits, make_thumbnails

THUMBNAILS = settings().thumbnails
SIZES: list[int] = THUMBNAILS.sizes
FORMAT: str = THUMBNAILS.format
QUALITY: int = THUMBNAILS.quality
_PILLOW_SAVE = {"quality": QUALITY, "optimize": True, "progressive": True}
_VIPS_SAVE = {"Q": QUALITY, "optimize_coding": True, "interlace": True}
_PHOTOS = Path(skimage.__file__).parent / "data"


@dataclass(frozen=True)
class Source:
    name: str
    photo: str  # file in skimage/data
    width: int
    height: int
    fmt: str  # Pillow format name of the file written

    @property
    def filename(self) -> str:
        return f"{self.name}.{self.fmt.lower()}"


SOURCES = [
    Source("1 MP JPEG", "chelsea.png", 1226, 816, "JPEG"),
    Source("12 MP JPEG", "coffee.png", 4240, 2827, "JPEG"),
    Source("48 MP JPEG", "astronaut.png", 8000, 6000, "JPEG"),
    Source("2 MP PNG", "motorcycle_left.png", 1730, 1152, "PNG"),
    Source("4 MP WebP", "chelsea.png", 2450, 1630, "WEBP"),
]


def write_source(source: Source, directory: Path) -> Path:
    """The source file: the photo enlarged with Lanczos, seeded grain added, saved as a camera would."""
    with Image.open(_PHOTOS / source.photo) as photo:
        big = photo.convert("RGB").resize((source.width, source.height), Image.Resampling.LANCZOS)
    grain = np.random.default_rng(12).normal(0, 3.0, (source.height, source.width, 3))
    pixels = np.clip(np.asarray(big, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    path = directory / source.filename.replace(" ", "-")
    options = {"JPEG": {"quality": 92}, "WEBP": {"quality": 90}, "PNG": {"compress_level": 6}}[source.fmt]
    Image.fromarray(pixels).save(path, source.fmt, **options)
    return path


def bench_limits(max_pixels: int) -> ImageLimits:
    """The configured limits, with room for the 48 MP source (the pipeline itself stops at 40 MP)."""
    limits = ImageLimits.from_config(settings().limits)
    return ImageLimits(
        max_input_bytes=max(limits.max_input_bytes, 64 * 1024 * 1024),
        max_input_pixels=max(limits.max_input_pixels, max_pixels),
        allowed_formats=limits.allowed_formats,
    )


LIMITS = bench_limits(max(s.width * s.height for s in SOURCES))

# --- contenders: path -> encoded thumbnails, largest size first as configured ----------------------


def project(path: Path) -> list[bytes]:
    return [t.data for t in make_thumbnails(path.read_bytes(), SIZES, FORMAT, QUALITY, LIMITS)]


def pillow_encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, FORMAT, **_PILLOW_SAVE)
    return buffer.getvalue()


def pillow_documented(path: Path) -> list[bytes]:
    """Pillow's documented way: open, thumbnail() (draft decode, default filter and reducing gap), save."""
    outputs = []
    for size in SIZES:
        with Image.open(path) as image:
            image.thumbnail((size, size))
            outputs.append(pillow_encode(image))
    return outputs


def pillow_naive(path: Path) -> list[bytes]:
    """load() before thumbnail(): a loaded image cannot be drafted, so every size decodes in full."""
    outputs = []
    for size in SIZES:
        with Image.open(path) as image:
            image.load()
            image.thumbnail((size, size), Image.Resampling.LANCZOS)
            outputs.append(pillow_encode(image))
    return outputs


def vips_per_size(path: Path) -> list[bytes]:
    import pyvips

    return [
        pyvips.Image.thumbnail(str(path), size, height=size).jpegsave_buffer(**_VIPS_SAVE) for size in SIZES
    ]


def vips_cascade(path: Path) -> list[bytes]:
    """Shrink-on-load to the largest size, held in memory, then each smaller one from the previous."""
    import pyvips

    ordered = sorted(SIZES, reverse=True)
    current = pyvips.Image.thumbnail(str(path), ordered[0], height=ordered[0]).copy_memory()
    encoded = {ordered[0]: current.jpegsave_buffer(**_VIPS_SAVE)}
    for size in ordered[1:]:
        current = current.thumbnail_image(size, height=size).copy_memory()
        encoded[size] = current.jpegsave_buffer(**_VIPS_SAVE)
    return [encoded[size] for size in SIZES]


def unavoidable(path: Path) -> list[bytes]:
    """The floor: decode at the reduced scale the largest size allows, then encode each output's pixel
    count (a crop, no resampling). Anything a resizer does beyond this is its resampling and overhead."""
    with Image.open(path) as image:
        width, height = image.size
        targets = [fit(width, height, size) for size in SIZES]
        image.draft("RGB", max(targets))
        image.load()
        rgb = image.convert("RGB")
    return [pillow_encode(rgb.crop((0, 0, *target))) for target in targets]


CONTENDERS: dict[str, Callable[[Path], list[bytes]]] = {
    "make_thumbnails": project,
    "pyvips shrink-on-load + cascade": vips_cascade,
    "pyvips thumbnail() per size": vips_per_size,
    "Pillow thumbnail() per size": pillow_documented,
    "Pillow load() first (naive)": pillow_naive,
    "unavoidable (draft decode + encodes)": unavoidable,
}
PYVIPS = ("pyvips shrink-on-load + cascade", "pyvips thumbnail() per size")
NAIVE = "Pillow load() first (naive)"
UNAVOIDABLE = "unavoidable (draft decode + encodes)"
PROJECT = "make_thumbnails"


def fit(width: int, height: int, side: int) -> tuple[int, int]:
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


# --- quality yardstick ------------------------------------------------------------------------------


class Reference:
    """High-quality thumbnails of one source: its full decode resized per channel in 32-bit float with
    Lanczos and no integer pre-reduction, at whatever size each output came out."""

    def __init__(self, path: Path) -> None:
        with Image.open(path) as image:
            self._channels = [band.convert("F") for band in image.convert("RGB").split()]
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    def at(self, size: tuple[int, int]) -> np.ndarray:
        if size not in self._cache:
            planes = [c.resize(size, Image.Resampling.LANCZOS, reducing_gap=None) for c in self._channels]
            self._cache[size] = np.clip(np.stack([np.asarray(p) for p in planes], axis=2), 0, 255)
        return self._cache[size]

    def ssim(self, encoded: bytes) -> float:
        with Image.open(io.BytesIO(encoded)) as output:
            pixels = np.asarray(output.convert("RGB"), dtype=np.float32)
        reference = self.at((pixels.shape[1], pixels.shape[0]))
        return float(structural_similarity(reference, pixels, channel_axis=2, data_range=255.0))


def output_sizes(outputs: list[bytes]) -> list[tuple[int, int]]:
    sizes = []
    for encoded in outputs:
        with Image.open(io.BytesIO(encoded)) as image:
            sizes.append(image.size)
    return sizes
