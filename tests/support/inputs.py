"""Real inputs for tests: the bundled samples, scikit-image's photos, and deliberately bad files."""

from __future__ import annotations

import io
from pathlib import Path

import skimage
from PIL import Image

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SKIMAGE_DATA = Path(skimage.__file__).parent / "data"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def jpeg_bytes(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **params)
    return buffer.getvalue()


def decompression_bomb_png() -> bytes:
    """30000 x 30000 one-bit pixels: 900 megapixels declared in a file of about 100 KB."""
    buffer = io.BytesIO()
    Image.new("1", (30000, 30000)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()
