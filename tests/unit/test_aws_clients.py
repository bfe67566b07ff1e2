"""LazyClient: a client made on first use, once, and then used exactly like the client itself."""

from __future__ import annotations

import pytest

from pixelpipe.aws_clients import LazyClient


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")


def test_no_client_is_made_until_the_first_use() -> None:
    # GIVEN a lazy S3 client
    lazy = LazyClient("s3")
    # THEN nothing was made yet
    assert "made=False" in repr(lazy)
    # WHEN an operation is looked up
    operation = lazy.head_object
    # THEN it is the real client's, for the named service and the environment's region
    assert callable(operation)
    assert lazy.meta.service_model.service_name == "s3"
    assert lazy.meta.region_name == "eu-west-1"
    assert "made=True" in repr(lazy)


def test_the_client_is_made_once_and_kept() -> None:
    lazy = LazyClient("dynamodb")
    first = lazy.client
    lazy.describe_table  # noqa: B018 - an attribute lookup is a use
    assert lazy.client is first


def test_a_name_the_client_lacks_fails_like_on_the_client() -> None:
    with pytest.raises(AttributeError):
        LazyClient("sqs").no_such_operation  # noqa: B018
