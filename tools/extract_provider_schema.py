"""Extract the AWS provider's schema (resource and data source types, arguments, nested blocks) from the
`cdktn-provider-aws` bindings on PyPI, for the offline schema check in tests/terraform.

No Terraform binary or registry is reachable where the tests run, but cdktn-provider-aws==25.8.1 is
generated from hashicorp/aws 6.69.1 and its JavaScript spells out every argument Terraform accepts
(`synthesizeHclAttributes()` for a resource, `<struct>ToHclTerraform()` for each nested block). The wheel
is 70 MB (with a 46 MB JavaScript bundle inside), too big to install for a test; this script reads it
once and writes tests/terraform/aws_provider_schema.json: every type name the provider has, and the
argument/block tree of each type terraform/ uses. Re-run it after using a new resource or data type:

    python tools/extract_provider_schema.py            # downloads the wheel with pip into a temp dir
    python tools/extract_provider_schema.py WHEEL.whl  # or reads one you have
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

PACKAGE = "cdktn-provider-aws==25.8.1"
PROVIDER_VERSION = "6.69.1"
REPO_ROOT = Path(__file__).resolve().parents[1]
OUTPUT = REPO_ROOT / "tests" / "terraform" / "aws_provider_schema.json"

_TYPE = re.compile(r'static tfResourceType = "(\w+)";')
_STRUCT = re.compile(r"^function (\w+)ToHclTerraform\(struct\) \{$", re.M)
_CLASS_ATTRS = re.compile(r"^    synthesizeHclAttributes\(\) \{$", re.M)
_ENTRY = re.compile(r"^\s+(\w+): \{\n\s+value: (.*),\n\s+isBlock: (true|false),", re.M)
_MAPPER = re.compile(r"(\w+)ToHclTerraform")


def _attrs_block(text: str, start: int) -> str:
    """The `const attrs = {...};` object after `start`: up to the filter after it, or `return attrs;` when
    the object is empty."""
    ends = [text.find(marker, start) for marker in ("// remove undefined attributes", "return attrs;")]
    return text[start : min(end for end in ends if end >= 0)]


def _entries(block: str) -> list[tuple[str, bool, str | None]]:
    found = []
    for name, value, is_block in _ENTRY.findall(block):
        mapper = _MAPPER.search(value)
        found.append((name, is_block == "true", mapper.group(1) if mapper else None))
    return found


def parse_module(text: str) -> tuple[str, dict[str, Any]] | None:
    """The type name and argument tree of one generated index.js, or None for a non-resource module."""
    match = _TYPE.search(text)
    if not match:
        return None
    structs: dict[str, list[tuple[str, bool, str | None]]] = {}
    for struct in _STRUCT.finditer(text):
        body_end = text.find("\n}\n", struct.end())
        body = text[struct.end() : body_end]
        structs[struct.group(1)] = _entries(_attrs_block(body, 0)) if "const attrs" in body else []
    top = _CLASS_ATTRS.search(text)
    entries = _entries(_attrs_block(text, top.end())) if top else []

    def tree(items: list[tuple[str, bool, str | None]], seen: tuple[str, ...]) -> dict[str, Any]:
        node: dict[str, Any] = {"arguments": sorted(n for n, block, _ in items if not block), "blocks": {}}
        for name, block, mapper in items:
            if block:
                if mapper is None or mapper not in structs or mapper in seen:
                    node["blocks"][name] = {"arguments": [], "blocks": {}, "open": True}
                else:
                    node["blocks"][name] = tree(structs[mapper], (*seen, mapper))
        return node

    return match.group(1), tree(entries, ())


def used_types() -> tuple[set[str], set[str]]:
    """The resource and data source types terraform/ declares (a light scan; hcl parsing not needed)."""
    resources, data = set(), set()
    for path in (REPO_ROOT / "terraform").rglob("*.tf"):
        text = path.read_text()
        resources |= set(re.findall(r'^resource "(\w+)"', text, re.M))
        data |= set(re.findall(r'^data "(\w+)"', text, re.M))
    return resources, data


def extract(wheel: Path) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as archive:
        bundle_name = next(n for n in archive.namelist() if n.endswith(".jsii.tgz"))
        bundle = archive.read(bundle_name)
    schema: dict[str, dict[str, Any]] = {"resource": {}, "data": {}}
    with tarfile.open(fileobj=io.BytesIO(bundle)) as tar:
        for member in tar:
            parts = member.name.split("/")
            if len(parts) != 4 or parts[1] != "lib" or parts[3] != "index.js":
                continue
            parsed = parse_module(tar.extractfile(member).read().decode())
            if parsed:
                kind = "data" if parts[2].startswith("data-aws-") else "resource"
                schema[kind][parsed[0]] = parsed[1]
    resources, data = used_types()
    return {
        "source": f"{PACKAGE} (hashicorp/aws {PROVIDER_VERSION}) by tools/extract_provider_schema.py",
        "resource_types": sorted(schema["resource"]),
        "data_types": sorted(schema["data"]),
        "resources": {t: schema["resource"][t] for t in sorted(resources) if t in schema["resource"]},
        "data": {t: schema["data"][t] for t in sorted(data) if t in schema["data"]},
    }


def main() -> None:
    if len(sys.argv) > 1:
        wheel = Path(sys.argv[1])
        result = extract(wheel)
    else:
        with tempfile.TemporaryDirectory() as directory:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", PACKAGE, "-d", directory], check=True
            )
            result = extract(next(Path(directory).glob("*.whl")))
    OUTPUT.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(
        f"{OUTPUT.relative_to(REPO_ROOT)}: {len(result['resource_types'])} resource types, "
        f"{len(result['data_types'])} data types, {len(result['resources']) + len(result['data'])} used"
    )


if __name__ == "__main__":
    main()
