"""A command pointed at a stack that is gone, or at AWS without credentials, says so in one line with the
fix, instead of a botocore traceback from its first call."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixelpipe_cli import target as cli_target
from pixelpipe_cli.main import app
from pixelpipe_emulator.target import Target


def a_target(endpoint_url: str | None) -> Target:
    return Target(
        region="us-east-1",
        upload_bucket="uploads",
        upload_prefix="uploads/",
        thumbnail_bucket="thumbnails",
        jobs_table="jobs",
        status_index="status-createdAt-index",
        topic_arn="arn:aws:sns:us-east-1:123456789012:jobs",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:reconcile",
        endpoint_url=endpoint_url,
    )


def closed_port() -> int:
    """A loopback port nothing listens on: bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(target_path: Path, *args: str, **env: str):
    return CliRunner().invoke(app, list(args), env={"PIXELPIPE_TARGET": str(target_path), **env})


@pytest.mark.parametrize("command", [["jobs"], ["job", "some-job"], ["trace", "some-job"], ["dlq", "list"]])
def test_a_stopped_local_stack_is_one_line_with_the_fix(tmp_path: Path, command: list[str]) -> None:
    # GIVEN a target.json left behind by a local stack that is no longer running
    path = tmp_path / "target.json"
    endpoint = f"http://127.0.0.1:{closed_port()}"
    a_target(endpoint).save(path)
    # WHEN a command runs against it
    result = run(path, *command)
    # THEN it fails with one line naming the address and how to start a stack, and no traceback
    assert result.exit_code != 0
    message = str(result.exception) if isinstance(result.exception, SystemExit) else result.output
    assert endpoint in message and "pixelpipe up" in message
    assert "Traceback" not in result.output and "\n" not in message.strip()


def test_a_running_local_endpoint_is_accepted(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        path = tmp_path / "target.json"
        a_target(f"http://127.0.0.1:{listener.getsockname()[1]}").save(path)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("PIXELPIPE_TARGET", str(path))
            assert cli_target.current_target().endpoint_url.endswith(str(listener.getsockname()[1]))


def test_an_aws_target_without_credentials_is_one_line_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an AWS target and a shell with no credentials anywhere boto3 looks (env, files, metadata)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.setattr(cli_target, "_credentials_seen", False)  # found by an earlier test in this process
    path = tmp_path / "target.json"
    a_target(None).save(path)
    # WHEN a command runs
    result = run(path, "jobs")
    # THEN one line says what is missing and how to sign in
    assert isinstance(result.exception, SystemExit) and result.exit_code != 0
    message = str(result.exception)
    assert "no AWS credentials" in message and "aws sso login" in message and "\n" not in message


def test_up_on_a_port_in_use_is_one_line_with_the_fix(tmp_path: Path) -> None:
    # GIVEN something already listening on the port `up` is asked for
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        # WHEN the local stack is asked to start there
        result = CliRunner().invoke(app, ["up", "--port", str(port)], env={"PIXELPIPE_HOME": str(tmp_path)})
    # THEN it refuses at once, naming the port and another to use, and starts nothing
    assert result.exit_code == 1
    assert f"port {port}" in result.output and "--port" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "target.json").exists()
