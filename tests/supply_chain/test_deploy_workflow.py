"""No foothold in the deploy path: a job that can mint GitHub's OIDC token runs only checked code, and
only deploy.yml's apply job on main, in the production environment, can assume the apply role.

Any step of a job with `id-token: write` can ask for the token and exchange it for that job's AWS role, so
such a job must not run anything it has not verified: no `make` (setup pip-installs build tools), no
`pip`, no setup action that downloads an interpreter or a binary, no download that is not checked against
a pinned hash before it runs. The Lambda zips come from a job without the permission, as an artifact whose
hashes the token job checks first. The last test puts each job's token (its subject under the repository's
customised OIDC template) to the bootstrap's own trust policies.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
SCRIPTS = REPO_ROOT / ".github" / "scripts"
sys.path.insert(0, str(REPO_ROOT / "tests" / "terraform"))

# Actions a token job may use: none of them downloads or runs code beyond its own pinned source.
TOKEN_SAFE_ACTIONS = {
    "actions/checkout",
    "actions/download-artifact",
    "aws-actions/configure-aws-credentials",
    "actions/github-script",
}
# Commands that install or fetch code: never in a token job's shell. `make` is here because every make
# target that runs code depends on `setup` (pip installs, the terraform-binary sdist).
FETCHING_COMMANDS = re.compile(
    r"(?:^|[\s;&|(`])(make|pip3?|pipx|uv|uvx|npm|npx|yarn|curl|wget|apt-get|apt|brew|docker|go|gh|git\s+clone)"
    r"(?=\s|$)"
)
# Scripts a token job may run: each downloads, checks a pinned sha256, and only then unpacks
# (test_every_installer_checks_a_pinned_hash_before_anything_runs).
VERIFIED_INSTALLERS = {".github/scripts/install-terraform.sh"}
APPLY_ROLE_VARIABLE = "vars.AWS_APPLY_ROLE_ARN"


def load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    # PyYAML reads the key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def workflows() -> dict[str, dict]:
    return {path.name: load(path) for path in sorted(WORKFLOWS.glob("*.yml"))}


def permissions(workflow: dict, job: dict) -> dict:
    granted = job.get("permissions", workflow.get("permissions", {}))
    if granted in ("write-all",):
        return {"id-token": "write"}
    return granted or {}


def token_jobs(workflow: dict) -> dict[str, dict]:
    return {
        name: job
        for name, job in workflow["jobs"].items()
        if permissions(workflow, job).get("id-token") == "write"
    }


def environment(job: dict) -> str | None:
    value = job.get("environment")
    return value.get("name") if isinstance(value, dict) else value


def problems_of_a_token_job(workflow: dict, name: str) -> list[str]:
    """Everything in one token job that runs unchecked code, in the order the steps run."""
    job = workflow["jobs"][name]
    found = []
    steps = job.get("steps", [])
    for index, step in enumerate(steps):
        label = f"{name} step {index + 1} ({step.get('name') or step.get('uses', '')[:40]})"
        if "uses" in step:
            action = step["uses"].split("@", 1)[0]
            if action not in TOKEN_SAFE_ACTIONS:
                found.append(f"{label}: uses {action}, which downloads or runs unchecked code")
            if action == "actions/download-artifact":
                found += artifact_checked(workflow, job, steps, index, label)
        script = step.get("run", "")
        for line in script.splitlines():
            match = FETCHING_COMMANDS.search(line)
            if match:
                found.append(f"{label}: runs {match.group(1)!r}: {line.strip()}")
            for script_path in re.findall(r"\.github/scripts/[\w.-]+", line):
                if script_path not in VERIFIED_INSTALLERS:
                    found.append(f"{label}: runs {script_path}, not a verified installer")
        if re.search(r"\bterraform\s+init\b", script) and "-lockfile=readonly" not in script:
            found.append(f"{label}: terraform init without -lockfile=readonly (providers unchecked)")
    return found


def artifact_checked(workflow: dict, job: dict, steps: list[dict], index: int, label: str) -> list[str]:
    """A downloaded artifact must come from a job without the token, and the very next step must check
    it against the sha256 that job computed (passed as a job output, not read from the artifact)."""
    following = steps[index + 1] if index + 1 < len(steps) else {}
    script = following.get("run", "")
    needs = job.get("needs", [])
    needs = [needs] if isinstance(needs, str) else needs
    producers = [n for n in needs if "id-token" not in permissions(workflow, workflow["jobs"][n])]
    env = " ".join(str(v) for v in following.get("env", {}).values())
    if "sha256sum --check" not in script:
        return [f"{label}: the artifact is used without a sha256 check in the next step"]
    if not any(f"needs.{p}.outputs." in env for p in producers):
        return [f"{label}: the hashes checked do not come from a job without the token"]
    return []


def test_no_job_that_can_mint_the_token_runs_unchecked_code():
    found = {
        f"{file}: {problem}"
        for file, workflow in workflows().items()
        for name in token_jobs(workflow)
        for problem in problems_of_a_token_job(workflow, name)
    }
    assert sorted(found) == []
    assert token_jobs(workflows()["deploy.yml"]), "deploy.yml has no job that assumes a role"


def test_the_check_catches_the_apply_job_as_it_was(tmp_path: Path):
    # GIVEN the apply job as it was before issue 17: make package, setup-python, setup-terraform
    workflow = {
        "permissions": {},
        "jobs": {
            "apply": {
                "environment": "production",
                "permissions": {"id-token": "write", "contents": "read"},
                "steps": [
                    {"uses": "actions/checkout@11d5960a326750d5838078e36cf38b85af677262"},
                    {"uses": "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065"},
                    {"name": "Build the Lambda zips", "run": "make package"},
                    {"uses": "hashicorp/setup-terraform@b9cd54a3c349d3f38e8881555d616ced269862dd"},
                    {"run": "terraform init -input=false"},
                    {"run": "pip install --require-hashes -r requirements/dev.txt"},
                    {"run": "curl -sSLo tf.zip https://releases.hashicorp.com/x.zip && unzip tf.zip"},
                ],
            }
        },
    }
    # THEN every one of those is reported
    problems = " | ".join(problems_of_a_token_job(workflow, "apply"))
    for expected in ("setup-python", "'make'", "setup-terraform", "-lockfile=readonly", "'pip'", "'curl'"):
        assert expected in problems, expected


def test_the_check_catches_an_artifact_used_unchecked():
    workflow = {
        "jobs": {
            "build": {"permissions": {"contents": "read"}, "steps": []},
            "deploy": {
                "needs": "build",
                "permissions": {"id-token": "write"},
                "steps": [
                    {"uses": "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093"},
                    {"run": "ls build/lambda"},
                ],
            },
        }
    }
    assert "without a sha256 check" in " ".join(problems_of_a_token_job(workflow, "deploy"))


def test_every_installer_checks_a_pinned_hash_before_anything_runs():
    for relative in VERIFIED_INSTALLERS:
        lines = [
            line.strip()
            for line in (REPO_ROOT / relative).read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        text = "\n".join(lines)
        assert re.search(r'_SHA256="[0-9a-f]{64}"', text), relative
        assert "set -euo pipefail" in text, relative
        download = next(i for i, line in enumerate(lines) if line.startswith("curl "))
        check = next(i for i, line in enumerate(lines) if "sha256sum --check" in line)
        unpack = next(i for i, line in enumerate(lines) if line.startswith(("unzip ", "tar ")))
        assert download < check < unpack, relative
        assert "--proto '=https'" in lines[download], relative


def test_the_apply_role_is_named_only_in_deploy_ymls_apply_job_on_main_in_production():
    users = [
        (file, name, job)
        for file, workflow in workflows().items()
        for name, job in workflow["jobs"].items()
        if APPLY_ROLE_VARIABLE in yaml.safe_dump(job)
    ]
    assert [(file, name) for file, name, _ in users] == [("deploy.yml", "apply")]
    (_, _, job), workflow = users[0], workflows()["deploy.yml"]
    assert environment(job) == "production"
    assert "github.ref == 'refs/heads/main'" in job["if"] and "github.event_name == 'push'" in job["if"]
    assert workflow["on"]["push"]["branches"] == ["main"]


def token_subjects(file: str, workflow: dict, job: dict, owner_repo: str) -> list[str]:
    """The `sub` of the job's token for each event the workflow runs on, under the repository's customised
    template (repo, context, job_workflow_ref; docs/deploy.md step 2)."""
    refs = []
    if "pull_request" in workflow["on"] or "pull_request_target" in workflow["on"]:
        refs.append(("pull_request", "refs/pull/17/merge"))
    if "push" in workflow["on"]:
        branches = (workflow["on"]["push"] or {}).get("branches", ["main", "feature"])
        refs += [(f"ref:refs/heads/{b}", f"refs/heads/{b}") for b in branches]
    subjects = []
    for context, ref in refs:
        if environment(job):
            context = f"environment:{environment(job)}"
        workflow_ref = f"{owner_repo}/.github/workflows/{file}@{ref}"
        subjects.append(f"repo:{owner_repo}:{context}:job_workflow_ref:{workflow_ref}")
    return subjects


def test_only_the_production_job_on_main_gets_a_token_the_apply_role_trusts():
    from test_deploy_roles import AUDIENCE, OWNER_REPO, SUB, assumable_by, bootstrap_roles, can_write

    appliers = [role for role in bootstrap_roles().values() if can_write(role)]
    assert appliers
    trusted = []
    for file, workflow in workflows().items():
        for name, job in token_jobs(workflow).items():
            for sub in token_subjects(file, workflow, job, OWNER_REPO):
                if any(assumable_by(role, {**AUDIENCE, SUB: sub}) for role in appliers):
                    trusted.append((file, name, sub))
    assert [(file, name) for file, name, _ in trusted] == [("deploy.yml", "apply")]
    assert trusted[0][2].endswith("deploy.yml@refs/heads/main")
    assert ":environment:production:" in trusted[0][2]


@pytest.mark.parametrize("file", ["deploy.yml", "ci.yml"])
def test_no_plan_file_or_plan_text_is_published(file: str):
    """A saved plan holds the prior state in plain text and the full plan text shows every attribute:
    neither leaves the runner (no artifact, no comment with the plan), only the summary does."""
    workflow = workflows()[file]
    for name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            if step.get("uses", "").startswith("actions/upload-artifact@"):
                paths = str(step.get("with", {}).get("path", ""))
                assert "tfplan" not in paths and "plan.txt" not in paths, (file, name)
            script = step.get("with", {}).get("script", "")
            assert "plan.txt" not in script, (file, name)


def test_every_service_image_is_pinned_to_a_version():
    for file, workflow in workflows().items():
        for name, job in workflow["jobs"].items():
            for service in (job.get("services") or {}).values():
                image = service["image"]
                tag = image.split("@", 1)[0].rsplit(":", 1)
                assert len(tag) == 2 and re.fullmatch(r"v?\d+(\.\d+){1,2}", tag[1]), (file, name, image)
