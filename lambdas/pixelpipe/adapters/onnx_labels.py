"""Offline label backend: EfficientNet-Lite0 (ImageNet-1k) run by onnxruntime, no network, no torch.

The model and its class names ship in pixelpipe/models/efficientnet_lite0 (see the README there).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pixelpipe.logic.labels import Label

if TYPE_CHECKING:
    from PIL.Image import Image

MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "efficientnet_lite0"
DEFAULT_MODEL_PATH = MODEL_DIR / "efficientnet_lite0.onnx"
NAMES_FILE = "imagenet1k_clean_names.json"
SUMS_FILE = "SHA256SUMS"

INPUT_SIZE = 224
RESIZE_SHORT_SIDE = 256  # 224 / 0.875, the crop ratio the weights were evaluated with
MEAN, STD = 127.0, 128.0  # EfficientNet-Lite's own normalisation, not the torchvision one


class ModelChecksumError(RuntimeError):
    """The model file is not the one recorded in SHA256SUMS: a broken or tampered deployment."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def expected_sha256(model_path: Path) -> str:
    """The checksum SHA256SUMS (next to the model) records for the model's file name."""
    sums = model_path.with_name(SUMS_FILE)
    if not sums.is_file():
        raise ModelChecksumError(f"no {SUMS_FILE} next to {model_path}: cannot verify the model checksum")
    for line in sums.read_text().splitlines():
        digest, _, name = line.partition("  ")
        if name.strip().lstrip("*") == model_path.name:
            return digest.strip().lower()
    raise ModelChecksumError(f"{sums} has no sha256 checksum for {model_path.name}")


def verify_model(model_path: Path) -> None:
    expected = expected_sha256(model_path)
    actual = sha256_of(model_path)
    if actual != expected:
        raise ModelChecksumError(
            f"sha256 checksum mismatch for {model_path}: expected {expected}, got {actual}"
        )


def preprocess(image: Image) -> np.ndarray:
    """RGB, short side to 256, centre 224 crop, (x-127)/128, NCHW float32: how the weights were trained.

    Only the crop is resampled: Pillow's `box` gives the same pixels as resizing the whole image and
    cropping it, without ever holding the resized whole, which for a 1 x 65,535 image would be
    256 x 16.8 million pixels (12.9 GB).
    """
    from PIL import Image as PILImage

    rgb = image if image.mode == "RGB" else image.convert("RGB")
    width, height = rgb.size
    scale = RESIZE_SHORT_SIDE / min(width, height)
    size = (max(INPUT_SIZE, round(width * scale)), max(INPUT_SIZE, round(height * scale)))
    left = (size[0] - INPUT_SIZE) // 2
    top = (size[1] - INPUT_SIZE) // 2
    x_scale, y_scale = width / size[0], height / size[1]  # source pixels per resized pixel
    box = (left * x_scale, top * y_scale, (left + INPUT_SIZE) * x_scale, (top + INPUT_SIZE) * y_scale)
    crop = rgb.resize((INPUT_SIZE, INPUT_SIZE), PILImage.Resampling.BILINEAR, box=box)
    pixels = (np.asarray(crop, dtype=np.float32) - MEAN) / STD
    return pixels.transpose(2, 0, 1)[np.newaxis]


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


def merge_duplicates(names: list[str], probabilities: np.ndarray) -> dict[str, float]:
    """Some readable names cover two classes (e.g. two "missile"s): one label, their summed probability."""
    merged: dict[str, float] = {}
    for name, probability in zip(names, probabilities.tolist(), strict=True):
        merged[name] = merged.get(name, 0.0) + probability
    return merged


def default_threads() -> int:
    """At most 2: more threads than vCPUs (Lambda has 1 below 1,769 MB) makes inference slower, not faster."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(2, available))


class OnnxImageNetLabels:
    """ImageNet-1k labels for Lambda without Rekognition; knows objects and animals, not "person"."""

    name = "onnx-efficientnet-lite0"

    def __init__(self, model_path: Path | str | None = None, threads: int | None = None) -> None:
        self.model_path = Path(model_path) if model_path else DEFAULT_MODEL_PATH
        self.threads = threads or default_threads()
        self._session: Any = None
        self._class_names: list[str] | None = None

    def detect(self, image: Image, max_labels: int, min_confidence: float) -> list[Label]:
        probabilities = softmax(self._logits(preprocess(image)))
        merged = merge_duplicates(self._names(), probabilities)
        ranked = sorted(merged.items(), key=lambda item: item[1], reverse=True)
        labels = [Label(name, 100.0 * p) for name, p in ranked if 100.0 * p >= min_confidence]
        return labels[:max_labels]

    def _logits(self, batch: np.ndarray) -> np.ndarray:
        session = self._load_session()
        return session.run(None, {session.get_inputs()[0].name: batch})[0][0]

    def _load_session(self) -> Any:
        """Created once per instance (a warm Lambda reuses it); the checksum costs ~15 ms, once."""
        if self._session is None:
            import onnxruntime

            verify_model(self.model_path)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            self._session = onnxruntime.InferenceSession(
                str(self.model_path), options, providers=["CPUExecutionProvider"]
            )
        return self._session

    def _names(self) -> list[str]:
        """Names beside the model file if present (a test copy need not bring them), else the shipped ones."""
        if self._class_names is None:
            names_path = self.model_path.with_name(NAMES_FILE)
            if not names_path.is_file():
                names_path = MODEL_DIR / NAMES_FILE
            self._class_names = json.loads(names_path.read_text())
        return self._class_names
