"""The emulator refuses web pages: a foreign Host (DNS rebinding), a cross-origin or cross-site browser
request — on the AWS APIs and on moto's own /moto-api/ endpoints (state dump, reset) alike — while the
stack's own clients (boto3 at 127.0.0.1, the Step Functions interpreter at localhost) are served.

Before the guard, moto answered all of these, and echoed any Origin in Access-Control-Allow-Origin, so a
page could read /moto-api/data.json without even rebinding a name."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from support.emulator import Emulator, emulator_process

BUCKET = "guarded-bucket"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with emulator_process(tmp_path_factory.mktemp("emulator-guard")) as running:
        running.client("s3").create_bucket(Bucket=BUCKET)
        running.client("s3").put_object(Bucket=BUCKET, Key="uploads/home.jpg", Body=b"private photo")
        yield running


def raw(emulator: Emulator, method: str, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    """One request with exactly these headers (Host included), as a browser would send it."""
    address = urlsplit(emulator.endpoint)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response


def own_host(emulator: Emulator) -> str:
    return urlsplit(emulator.endpoint).netloc


def port(emulator: Emulator) -> int:
    return urlsplit(emulator.endpoint).port or 80


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/moto-api/data.json"),
        ("POST", "/moto-api/reset"),
        ("GET", f"/{BUCKET}/uploads/home.jpg"),
        ("GET", "/moto-api/"),
    ],
)
def test_a_foreign_host_is_refused_before_moto_answers(emulator: Emulator, method: str, path: str) -> None:
    # GIVEN a DNS-rebinding page: its own name now resolves to 127.0.0.1
    answer = raw(emulator, method, path, {"Host": f"rebound.example:{port(emulator)}"})
    # THEN the emulator refuses it and shows nothing of the stack
    assert answer.status == 403
    assert BUCKET.encode() not in answer.body and b"private photo" not in answer.body
    # AND a reset attempt reset nothing
    assert emulator.client("s3").get_object(Bucket=BUCKET, Key="uploads/home.jpg")["Body"].read()


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1.nip.io:{port}", "localhost.evil.example:{port}", "127.0.0.1", "127.0.0.1:{other}", ""],
)
def test_only_the_loopback_names_with_the_emulators_port_are_its_own(emulator: Emulator, host: str) -> None:
    headers = {"Host": host.format(port=port(emulator), other=port(emulator) + 1)}
    assert raw(emulator, "GET", "/moto-api/data.json", headers).status == 403


def test_a_cross_origin_read_is_refused_and_never_allowed_by_cors(emulator: Emulator) -> None:
    # GIVEN a page on another origin fetching the emulator at its real address (no rebinding needed)
    headers = {"Host": own_host(emulator), "Origin": "http://evil.example"}
    answer = raw(emulator, "GET", "/moto-api/data.json", headers)
    assert answer.status == 403
    assert answer.getheader("Access-Control-Allow-Origin") is None
    assert BUCKET.encode() not in answer.body
    # AND its CORS preflight for a reset is refused too
    preflight = raw(
        emulator,
        "OPTIONS",
        "/moto-api/reset",
        {**headers, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 403 and preflight.getheader("Access-Control-Allow-Origin") is None


def test_a_cross_site_no_cors_request_is_refused(emulator: Emulator) -> None:
    # A form post or no-cors fetch: the browser names the site it came from, and may send no Origin.
    headers = {"Host": own_host(emulator), "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}
    assert raw(emulator, "POST", "/moto-api/reset", headers).status == 403
    assert emulator.client("s3").head_bucket(Bucket=BUCKET)


def test_the_stacks_own_clients_are_served(emulator: Emulator) -> None:
    # boto3 at 127.0.0.1:<port> (every process of the stack)
    assert emulator.client("s3").get_object(Bucket=BUCKET, Key="uploads/home.jpg")["Body"].read() == (
        b"private photo"
    )
    # the Step Functions interpreter's calls at localhost:<port>, and the dashboard opened by hand
    for host in (own_host(emulator), f"localhost:{port(emulator)}"):
        answer = raw(emulator, "GET", "/moto-api/data.json", {"Host": host})
        assert answer.status == 200, host
    typed = {"Host": own_host(emulator), "Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"}
    assert raw(emulator, "GET", "/moto-api/", typed).status == 200


def test_a_refused_write_changes_nothing(emulator: Emulator) -> None:
    # GIVEN a rebinding page trying to plant an object
    answer = raw(
        emulator, "PUT", f"/{BUCKET}/uploads/planted.jpg", {"Host": "rebound.example", "Content-Length": "0"}
    )
    # THEN it is refused and the bucket holds only what the stack put there
    assert answer.status == 403
    keys = emulator.client("s3").list_objects_v2(Bucket=BUCKET).get("Contents", [])
    assert [k["Key"] for k in keys] == ["uploads/home.jpg"]
