"""pipeline.json and the Lambda environment: one validated model that fails fast naming the field."""

from __future__ import annotations

import copy

import pytest

from pixelpipe.config import (
    ENV_LABEL_BACKEND,
    ConfigError,
    Resources,
    lambda_environment,
    lambda_settings,
    parse_pipeline_config,
    pipeline_config,
    settings,
    workers,
)

RESOURCES = Resources(
    table="jobs",
    topic_arn="arn:aws:sns:us-east-1:123456789012:jobs",
    state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:reconcile",
    upload_bucket="uploads",
    thumbnail_bucket="thumbnails",
)


def broken_config(change) -> dict:
    config = copy.deepcopy(pipeline_config())
    change(config)
    return config


def test_the_repository_pipeline_json_is_valid_and_typed():
    # GIVEN the pipeline.json Terraform reads; WHEN loaded
    config = settings()

    # THEN the typed model carries the file's values
    raw = pipeline_config()
    assert config.limits.max_input_pixels == raw["limits"]["max_input_pixels"]
    assert list(config.functions) == list(raw["functions"])
    assert list(config.workers) == list(workers())
    assert all(worker.step == step for step, worker in workers().items())


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
        pipeline_config()


def test_a_function_environment_reads_back_as_the_same_resources():
    # GIVEN the environment the local stack and Terraform give the analysis worker
    environment = lambda_environment(RESOURCES, "analysis-worker", label_backend="onnx")

    # WHEN a cold start reads it
    loaded = lambda_settings(environment)

    # THEN every identifier and the worker's own settings come back
    assert loaded.resources == RESOURCES
    assert (loaded.worker.step, loaded.worker.label_backend) == ("analysis", "onnx")


@pytest.mark.parametrize("missing", ["JOBS_TABLE", "THUMBNAIL_BUCKET", "RECONCILE_STATE_MACHINE_ARN"])
def test_a_missing_environment_variable_is_named(missing):
    # GIVEN a function environment without one variable (or with it empty)
    environment = lambda_environment(RESOURCES, "resize-worker", label_backend="rekognition")
    emptied = environment | {missing: ""}
    del environment[missing]

    # WHEN a cold start reads either THEN the error names the variable
    for broken in (environment, emptied):
        with pytest.raises(ConfigError, match=f"missing environment variables: {missing}$"):
            lambda_settings(broken)


def test_an_unknown_label_backend_is_refused_naming_the_variable():
    environment = lambda_environment(RESOURCES, "analysis-worker", label_backend="onnx")
    with pytest.raises(ConfigError, match=ENV_LABEL_BACKEND):
        lambda_settings(environment | {ENV_LABEL_BACKEND: "clip"})
