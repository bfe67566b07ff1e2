"""The GitHub Actions workflows run pinned code with least privileges: zizmor (offline) finds nothing,
every action is pinned by a full commit SHA with its tag beside it, and every checkout drops its token.
(What a job that can mint the OIDC token may run: test_deploy_workflow.py.)"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
ZIZMOR = Path(sys.executable).with_name("zizmor")
PINNED_USES = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def zizmor_findings(path: Path) -> list[dict]:
    """zizmor's findings on a workflow file or a .github/workflows directory."""
    completed = subprocess.run(
        [str(ZIZMOR), "--offline", "--format", "json", "--no-progress", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode in (0, 11, 12, 13, 14), completed.stderr  # 1x: findings of severity x
    return json.loads(completed.stdout)


def finding_summary(finding: dict) -> tuple[str, str]:
    """(audit, the flagged text), e.g. ("unpinned-uses", "actions/checkout@v4")."""
    location = finding["locations"][0]
    snippet = location["concrete"]["feature"].strip()
    return finding["ident"], snippet


def uses_lines(workflow: Path) -> list[str]:
    return [
        line.split("uses:", 1)[1].strip()
        for line in workflow.read_text().splitlines()
        if re.match(r"^\s*(- )?uses:", line)
    ]


def steps(workflow: Path) -> list[dict]:
    jobs = yaml.safe_load(workflow.read_text())["jobs"].values()
    return [step for job in jobs for step in job.get("steps", [])]


def test_zizmor_finds_nothing():
    # The service images are pinned to release tags (zizmor accepts a version tag; a digest would be
    # stronger: docs/security.md, accepted risks).
    findings = [finding_summary(f) for f in zizmor_findings(REPO_ROOT / ".github" / "workflows")]
    assert findings == []


def test_zizmor_would_catch_a_tag_pinned_action_and_a_persisted_token(tmp_path: Path):
    # GIVEN a workflow written the way ours were before they were pinned
    workflow = tmp_path / "bad.yml"
    workflow.write_text(
        "name: bad\non: push\npermissions:\n  contents: read\njobs:\n  build:\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - uses: actions/checkout@v4\n"
    )
    # THEN the check above would fail on it
    audits = {audit for audit, _ in map(finding_summary, zizmor_findings(workflow))}
    assert {"unpinned-uses", "artipacked"} <= audits


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_by_commit_sha_with_its_tag_in_a_comment(workflow: Path):
    uses = uses_lines(workflow)
    assert uses
    assert [u for u in uses if not PINNED_USES.match(u)] == []


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_every_checkout_leaves_no_credentials_behind(workflow: Path):
    checkouts = [s for s in steps(workflow) if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    assert all(s.get("with", {}).get("persist-credentials") is False for s in checkouts)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_no_expression_is_pasted_into_a_shell_script(workflow: Path):
    scripts = [s["run"] for s in steps(workflow) if "run" in s]
    assert [script for script in scripts if "${{" in script] == []


def test_ci_audits_every_hashed_lock_strictly():
    ci = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "ci.yml").read_text())
    script = "\n".join(s.get("run", "") for s in ci["jobs"]["audit"]["steps"])
    assert "pip-audit --strict --require-hashes --disable-pip" in script
    for lock in sorted((REPO_ROOT / "requirements").glob("*.txt")):
        assert f"requirements/{lock.name}" in script
