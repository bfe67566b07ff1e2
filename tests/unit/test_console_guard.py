"""The console's guard: only its own address, only same-origin POSTs with the process token; and errors
become message pages. None of these requests may reach the target (the loader records every call)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from pixelpipe_cli.main import app
from pixelpipe_cli.target import Target
from pixelpipe_console.app import create_app
from pixelpipe_console.security import TOKEN_HEADER

PORT = 8484
ORIGIN = f"http://127.0.0.1:{PORT}"
TOKEN = "the-process-token"


class NoStack:
    """A target loader with no stack behind it, as `current_target()` behaves without a target file."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Target:
        self.calls += 1
        raise SystemExit(
            "no stack to talk to: .pixelpipe/target.json is missing. Start one with `pixelpipe up`."
        )


@pytest.fixture
def loader() -> NoStack:
    return NoStack()


@pytest.fixture
def browser(loader: NoStack) -> TestClient:
    return TestClient(create_app(loader, port=PORT, token=TOKEN), base_url=ORIGIN)


def test_a_post_from_another_origin_is_refused_even_with_the_token(
    browser: TestClient, loader: NoStack
) -> None:
    answer = browser.post(
        "/jobs/some-job/retry",
        data={"token": TOKEN, "force": "1"},
        headers={"Origin": "http://evil.example"},
    )
    assert answer.status_code == 403
    assert "cross-origin" in answer.text
    assert loader.calls == 0


def test_a_post_without_origin_or_referer_is_refused(browser: TestClient, loader: NoStack) -> None:
    answer = browser.post("/queues/all/redrive", data={"token": TOKEN})
    assert answer.status_code == 403 and loader.calls == 0


@pytest.mark.parametrize("token", [None, "", "guessed", TOKEN + "x"])
def test_a_same_origin_post_without_the_right_token_is_refused(
    browser: TestClient, loader: NoStack, token: str | None
) -> None:
    form = {} if token is None else {"token": token}
    answer = browser.post("/actions/retry-failed", data=form, headers={"Origin": ORIGIN})
    assert answer.status_code == 403
    assert "token" in answer.text
    assert loader.calls == 0


def test_a_request_naming_another_host_is_refused(browser: TestClient, loader: NoStack) -> None:
    # a DNS-rebinding page reaches 127.0.0.1 under its own name
    answer = browser.get("/jobs", headers={"Host": f"rebound.example:{PORT}"})
    assert answer.status_code == 403 and loader.calls == 0
    posted = browser.post(
        "/jobs/x/retry", headers={"Host": "rebound.example", "Origin": ORIGIN, TOKEN_HEADER: TOKEN}
    )
    assert posted.status_code == 403 and loader.calls == 0


# What Chrome and Firefox send for an EventSource, a fetch, an <img> or an <iframe> from another page: the
# live streams poll the jobs table twice a second, so another site must not be able to open them.
CROSS_SITE_STREAM = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}
FOREIGN_GETS = {
    "EventSource from another site": {**CROSS_SITE_STREAM, "Origin": "http://evil.example"},
    "EventSource from another port on localhost (same-site)": {
        "Sec-Fetch-Site": "same-site",
        "Sec-Fetch-Mode": "cors",
        "Origin": "http://localhost:3000",
    },
    "an older browser's EventSource (Origin only)": {"Origin": "http://evil.example"},
    "a no-cors fetch or <img> (no Origin)": {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},
    "an <iframe>": {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"},
}


@pytest.mark.parametrize("path", ["/live/jobs", "/live/jobs/some-job", "/jobs/rows", "/jobs/x/thumbnails/0"])
@pytest.mark.parametrize("who", list(FOREIGN_GETS))
def test_another_site_cannot_open_a_live_stream_or_load_a_fragment(
    browser: TestClient, loader: NoStack, path: str, who: str
) -> None:
    # GIVEN a page on another site asking for a stream, a fragment or a thumbnail
    answer = browser.get(path, headers=FOREIGN_GETS[who])
    # THEN the console refuses before touching the target: no polling, no read
    assert answer.status_code == 403
    assert "refused" in answer.text
    assert loader.calls == 0


@pytest.mark.parametrize(
    "headers",
    [
        {},  # a client that sends no fetch metadata (curl, tests)
        {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"},  # htmx
        {"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},  # typed
        # a link to the console followed from another page opens it (the page then loads same-origin)
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},
        {"Sec-Fetch-Site": "same-origin", "Origin": ORIGIN},
    ],
)
def test_the_consoles_own_gets_and_a_followed_link_go_through(
    browser: TestClient, loader: NoStack, headers: dict[str, str]
) -> None:
    answer = browser.get("/jobs", headers=headers)
    assert loader.calls == 1
    assert answer.status_code == 404 and "no stack to talk to" in answer.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": ORIGIN, TOKEN_HEADER: TOKEN},  # htmx: hx-headers on <body>
        {"Origin": f"http://localhost:{PORT}", "Host": f"localhost:{PORT}", TOKEN_HEADER: TOKEN},
        {"Referer": f"{ORIGIN}/jobs/x", TOKEN_HEADER: TOKEN},  # a browser that sent no Origin
    ],
)
def test_a_same_origin_post_with_the_token_goes_through(
    browser: TestClient, loader: NoStack, headers: dict[str, str]
) -> None:
    answer = browser.post("/jobs/x/retry", headers=headers)
    # past the guard: the action ran and met the missing stack, shown as a message, not a traceback
    assert loader.calls == 1
    assert answer.status_code == 404
    assert "no stack to talk to" in answer.text and "Traceback" not in answer.text


def test_the_form_token_works_like_the_header(browser: TestClient, loader: NoStack) -> None:
    answer = browser.post("/jobs/x/retry", data={"token": TOKEN}, headers={"Origin": ORIGIN})
    assert loader.calls == 1 and answer.status_code == 404


def test_pages_carry_the_token_for_htmx_and_a_strict_content_security_policy(loader: NoStack) -> None:
    browser = TestClient(create_app(loader, port=PORT, token=TOKEN), base_url=ORIGIN)
    page = browser.get("/jobs")
    assert page.status_code == 404  # no stack: the message page, which still carries the layout
    assert TOKEN in page.text and TOKEN_HEADER in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy


def test_each_console_process_gets_its_own_random_token(loader: NoStack) -> None:
    first, second = (create_app(loader).state.console.guard.token for _ in range(2))
    assert first != second and len(first) >= 32


def test_an_unreachable_emulator_is_a_message_page_not_a_traceback() -> None:
    # GIVEN a target whose endpoint nothing listens on
    target = Target(
        region="us-east-1",
        upload_bucket="b",
        upload_prefix="uploads/",
        thumbnail_bucket="t",
        jobs_table="pixelpipe-jobs",
        status_index="status-createdAt-index",
        topic_arn="arn:aws:sns:us-east-1:123456789012:t",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:s",
        endpoint_url="http://127.0.0.1:9",
    )
    browser = TestClient(create_app(lambda: target, port=PORT), base_url=ORIGIN)
    # WHEN a job page is asked for
    answer = browser.get("/jobs/0b9e2d4c-0000-5000-8000-000000000000")
    # THEN the page says what failed, readably
    assert answer.status_code == 502
    assert "Could not connect to the endpoint URL" in answer.text
    assert "Traceback" not in answer.text and 'File "' not in answer.text


def test_the_console_command_without_a_stack_says_how_to_start_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["console"], env={"PIXELPIPE_TARGET": str(tmp_path / "none.json")})
    assert result.exit_code == 1
    assert "pixelpipe up" in result.output
