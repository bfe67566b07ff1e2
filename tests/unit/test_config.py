"""pipeline.json and the Lambda environment: one validated model that fails fast naming the field."""

from __future__ import annotations

import json

import pytest

from pixelpipe.config import (
    ENV_LABEL_BACKEND,
    ConfigError,
    Resources,
    config_path,
    lambda_environment,
    lambda_settings,
    parse_pipeline_config,
    settings,
    step_names,
    workers,
)
from support.changed_config import use_changed_config

RESOURCES = Resources(
    table="jobs",
    topic_arn="arn:aws:sns:us-east-1:123456789012:jobs",
    state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:reconcile",
    upload_bucket="uploads",
    thumbnail_bucket="thumbnails",
)

# The worker whose result is labels: the one that gets LABEL_BACKEND.
LABELLER = next(w for w in workers().values() if w.result_field == "labels")


def raw_config() -> dict:
    """The file in use as plain JSON, for a test to change a copy of."""
    return json.loads(config_path().read_text())


def broken_config(change) -> dict:
    config = raw_config()
    change(config)
    return config


def reversed_functions(config: dict) -> None:
    config["functions"] = dict(reversed(list(config["functions"].items())))


def test_the_typed_config_is_the_file_in_use_in_its_order(tmp_path, monkeypatch):
    # GIVEN a copy of pipeline.json with a changed limit and its functions listed in the other order
    steps = step_names()
    assert len(steps) >= 2

    def change(config: dict) -> None:
        config["limits"]["max_input_pixels"] = 1234
        reversed_functions(config)

    use_changed_config(tmp_path, monkeypatch, change)
    # WHEN read THEN the typed config carries the copy's values, and a job's steps follow its order
    assert settings().limits.max_input_pixels == 1234
    assert step_names() == list(reversed(steps)) == list(workers())
    assert all(worker.step == step for step, worker in workers().items())


def test_the_dispatch_and_sweeper_functions_are_found_by_their_source_not_their_name(tmp_path, monkeypatch):
    # GIVEN a copy of pipeline.json where the S3-invoked and scheduled functions have other names
    def rename(config: dict) -> None:
        functions = config["functions"]
        for kind, name in (("s3", "intake"), ("schedule", "janitor")):
            (old,) = [n for n, f in functions.items() if f["source"]["type"] == kind]
            functions[name] = functions.pop(old)

    use_changed_config(tmp_path, monkeypatch, rename)
    config = settings()
    # THEN the config names them by what invokes them, and each gets its own environment name
    assert (config.dispatch_function, config.sweeper_function) == ("intake", "janitor")
    assert lambda_environment(RESOURCES, "janitor", "onnx")["POWERTOOLS_SERVICE_NAME"] == "janitor"
    assert config.worker_of("janitor") is None


def drop_the_schedule(config: dict) -> None:
    config["functions"] = {n: f for n, f in config["functions"].items() if f["source"]["type"] != "schedule"}


def functions_of(config: dict, kind: str) -> list[dict]:
    return [f for f in config["functions"].values() if f["source"]["type"] == kind]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            lambda c: c["functions"].update(again=functions_of(c, "s3")[0]),
            "exactly one function with source type 's3', not 2",
        ),
        (
            lambda c: [f["source"].update(step="same") for f in functions_of(c, "worker")],
            "worker steps must be distinct",
        ),
        (drop_the_schedule, "exactly one function with source type 'schedule', not 0"),
        (
            lambda c: functions_of(c, "worker")[0]["source"].update(type="sqs"),
            "does not match any of the expected tags",
        ),
    ],
    ids=["two-s3-functions", "duplicate-steps", "no-schedule", "unknown-source"],
)
def test_a_pipeline_that_is_not_one_shape_is_refused(change, named):
    with pytest.raises(ConfigError) as caught:
        parse_pipeline_config(broken_config(change))
    assert named in str(caught.value)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            lambda c: c["functions"]["resize-worker"]["source"].pop("queue"),
            "functions.resize-worker.source.worker.queue: Field required",
        ),
        (lambda c: c["limits"].pop("max_input_bytes"), "limits.max_input_bytes: Field required"),
        (lambda c: c.pop("table"), "table: Field required"),
    ],
    ids=["worker-queue", "limit", "section"],
)
def test_a_missing_field_is_named(change, named):
    # GIVEN pipeline.json with one field left out; WHEN parsed THEN the error names it
    with pytest.raises(ConfigError) as caught:
        parse_pipeline_config(broken_config(change))
    assert named in str(caught.value)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            lambda c: c["functions"]["analysis-worker"].update(timeout_seconds="30"),
            "functions.analysis-worker.timeout_seconds",
        ),
        (lambda c: c["thumbnails"].update(sizes=[1024, "512"]), "thumbnails.sizes.1"),
        (lambda c: c["thumbnails"].update(quality=101), "thumbnails.quality"),
        (lambda c: c["limits"].update(allowed_formats="JPEG"), "limits.allowed_formats"),
        (lambda c: c["storage"].update(thumbnail_prefx="t/"), "storage.thumbnail_prefx"),
    ],
    ids=["string-for-int", "string-in-list", "out-of-range", "string-for-list", "misspelt-key"],
)
def test_a_field_of_the_wrong_type_or_a_misspelt_one_is_named(change, named):
    # GIVEN pipeline.json with one wrong field; WHEN parsed THEN the error names that field
    with pytest.raises(ConfigError) as caught:
        parse_pipeline_config(broken_config(change))
    assert named in str(caught.value)


def test_a_config_file_that_is_not_json_is_refused_naming_the_file(tmp_path, monkeypatch):
    # GIVEN PIXELPIPE_CONFIG_FILE pointing at a broken file
    path = tmp_path / "pipeline.json"
    path.write_text('{"project": ')
    monkeypatch.setenv("PIXELPIPE_CONFIG_FILE", str(path))

    # WHEN read THEN the error names the file
    with pytest.raises(ConfigError, match=r"pipeline\.json: not valid JSON"):
        settings()


def test_a_function_environment_reads_back_as_the_same_resources():
    # GIVEN the environment the local stack and Terraform give the worker that labels images
    environment = lambda_environment(RESOURCES, LABELLER.function, label_backend="onnx")

    # WHEN a cold start reads it
    loaded = lambda_settings(environment)

    # THEN every identifier and the worker's own settings come back
    assert loaded.resources == RESOURCES
    assert (loaded.worker.step, loaded.worker.label_backend) == (LABELLER.step, "onnx")


@pytest.mark.parametrize("missing", ["JOBS_TABLE", "THUMBNAIL_BUCKET", "RECONCILE_STATE_MACHINE_ARN"])
def test_a_missing_environment_variable_is_named(missing):
    # GIVEN a function environment without one variable (or with it empty)
    environment = lambda_environment(RESOURCES, LABELLER.function, label_backend="rekognition")
    emptied = environment | {missing: ""}
    del environment[missing]

    # WHEN a cold start reads either THEN the error names the variable
    for broken in (environment, emptied):
        with pytest.raises(ConfigError, match=f"missing environment variables: {missing}$"):
            lambda_settings(broken)


def test_an_unknown_label_backend_is_refused_naming_the_variable():
    environment = lambda_environment(RESOURCES, LABELLER.function, label_backend="onnx")
    with pytest.raises(ConfigError, match=ENV_LABEL_BACKEND):
        lambda_settings(environment | {ENV_LABEL_BACKEND: "clip"})
