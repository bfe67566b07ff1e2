"""The console in a real browser: Debian's chromium driven by Playwright (no browser download), against
a local stack of the tests' own whose workers give up after two receives (so a job can be made to fail
and end in a DLQ quickly), with the console served from a thread on a free port.

Under CI=true a missing chromium fails these tests; elsewhere they are skipped with one line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pixelpipe.config import config_path
from pixelpipe_cli.jobs_client import JobsClient
from pixelpipe_console.server import BackgroundConsole
from pixelpipe_emulator.stack import LocalStack, free_port
from support.browser import CHROMIUM, CHROMIUM_ARGS, FLAKY_RESIZE, need_chromium
from support.stacks import change_every_worker

# Screenshots go to the test's temporary directory; `make screenshots` sets PIXELPIPE_SCREENSHOTS to
# docs/images to refresh the README's pictures, so an ordinary test run leaves the checkout clean.
SCREENSHOTS_ENV = "PIXELPIPE_SCREENSHOTS"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    need_chromium()
    from playwright.sync_api import expect, sync_playwright

    # Generous waits: the box is shared, and the stack, the console and chromium all run on it.
    expect.set_options(timeout=20_000)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A local stack whose workers give up after 2 receives with no backoff, and flaky uploads.
    Module-scoped: the changed config must not outlive this module's tests."""
    need_chromium()  # no stack to start when the tests will not run
    home = tmp_path_factory.mktemp("console-stack")
    config = json.loads(config_path().read_text())
    change_every_worker(config, max_receive_count=2, retry_backoff_seconds=0, batching_window_seconds=0)
    (home / "pipeline.json").write_text(json.dumps(config))
    (home / "faults.json").write_text(json.dumps(FLAKY_RESIZE))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXELPIPE_CONFIG_FILE", str(home / "pipeline.json"))
        with LocalStack(home / "stack", fault_plan=home / "faults.json") as stack:
            yield stack


@pytest.fixture(scope="module")
def jobs_client(console_stack: LocalStack) -> JobsClient:
    return JobsClient(console_stack.target)


@pytest.fixture(scope="module")
def console_url(console_stack: LocalStack) -> Iterator[str]:
    with BackgroundConsole(lambda: console_stack.target, free_port()) as console:
        yield console.url.rstrip("/")


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page; any JavaScript dialog (an injected alert) fails the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not dialogs, f"a dialog opened: {dialogs}"
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get(SCREENSHOTS_ENV)
    directory = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def screenshot(screenshot_dir: Path) -> Callable[[Any, str], None]:
    """Saves a page (never compared): into docs/images only under `make screenshots`."""

    def save(page: Any, name: str) -> None:
        page.screenshot(path=str(screenshot_dir / name), full_page=False)

    return save
