"""The Rekognition backend against botocore's Stubber: the request it sends and how it reads answers."""

from __future__ import annotations

import io

import boto3
import pytest
from botocore.stub import ANY, Stubber
from PIL import Image

from pixelpipe.adapters.rekognition_labels import RekognitionLabels
from pixelpipe.logic.errors import PermanentError
from support.inputs import SAMPLES


def client_and_stub():
    client = boto3.client(
        "rekognition", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def test_sends_a_jpeg_within_limits_and_returns_labels_most_confident_first() -> None:
    # GIVEN a large PNG photo (Rekognition takes JPEG or PNG bytes up to 5 MB)
    photo = Image.open(SAMPLES / "coffee.png").convert("RGB").resize((4000, 2667))
    client, stub = client_and_stub()
    sent: dict = {}

    def capture(request: dict) -> None:
        sent.update(request)

    stub.add_response(
        "detect_labels",
        {"Labels": [{"Name": "Cup", "Confidence": 91.5}, {"Name": "Coffee", "Confidence": 98.25}]},
        {"Image": {"Bytes": ANY}, "MaxLabels": 5, "MinConfidence": 70},
    )
    event = "provide-client-params.rekognition.DetectLabels"
    client.meta.events.register(event, lambda params, **_: capture(params))
    # WHEN labels are detected
    with stub:
        labels = RekognitionLabels(client, max_side=2048).detect(photo, max_labels=5, min_confidence=70)
    # THEN the request carried a JPEG no larger than 2048 px and 5 MB, and the answer is sorted
    sent_image = Image.open(io.BytesIO(sent["Image"]["Bytes"]))
    assert sent_image.format == "JPEG" and max(sent_image.size) == 2048
    assert len(sent["Image"]["Bytes"]) < 5 * 1024 * 1024
    assert [(label.name, label.confidence) for label in labels] == [("Coffee", 98.25), ("Cup", 91.5)]


@pytest.mark.parametrize("code", ["InvalidImageFormatException", "ImageTooLargeException"])
def test_an_image_rekognition_refuses_is_a_permanent_failure(code: str) -> None:
    client, stub = client_and_stub()
    stub.add_client_error("detect_labels", service_error_code=code, service_message="no thanks")
    with stub, pytest.raises(PermanentError, match="Rekognition refused the image: no thanks"):
        RekognitionLabels(client, max_side=2048).detect(Image.new("RGB", (64, 64)), 5, 70)


def test_throttling_is_left_for_sqs_to_retry() -> None:
    client, stub = client_and_stub()
    stub.add_client_error("detect_labels", service_error_code="ProvisionedThroughputExceededException")
    with stub, pytest.raises(client.exceptions.ProvisionedThroughputExceededException):
        RekognitionLabels(client, max_side=2048).detect(Image.new("RGB", (64, 64)), 5, 70)
