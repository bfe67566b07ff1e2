"""A web page on the developer's machine, in chromium: it can neither read the local stack through the
emulator nor open the console's live streams or fragments (issue 17).

The hostile page is served from another port of 127.0.0.1 — another origin of the same site, the
closest a page can get without DNS rebinding (which the Host checks refuse: tests/unit and
tests/functional). Before the emulator's guard, this page's fetch of /moto-api/data.json read the whole
stack (moto echoed its Origin in Access-Control-Allow-Origin: measured, `read 200`). The console's
stream and fragment were never readable cross-origin (no CORS headers); what the console's guard adds
is that it refuses them before polling anything (tests/unit/test_console_guard.py counts the target
loads) — here the browser shows they stay unreadable and the console's own stream still opens.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from pixelpipe_emulator.stack import LocalStack, free_port

pytestmark = pytest.mark.e2e

PROBE = """<!doctype html><script>
window.results = {};
async function read(name, url) {
  try {
    const answer = await fetch(url);
    window.results[name] = 'read ' + answer.status + ': ' + (await answer.text()).slice(0, 200);
  } catch (error) {
    window.results[name] = 'blocked: ' + error;
  }
}
read('emulator', EMULATOR + '/moto-api/data.json');
read('fragment', CONSOLE + '/jobs/rows');
const stream = new EventSource(CONSOLE + '/live/jobs');
window.results.stream = 'pending';
stream.onmessage = (event) => { window.results.stream = 'message: ' + event.data.slice(0, 200); };
stream.onerror = () => {
  if (window.results.stream === 'pending') window.results.stream = 'error';
  stream.close();
};
</script>"""


@pytest.fixture(scope="module")
def hostile_page(console_stack: LocalStack, console_url: str) -> Iterator[str]:
    body = (
        PROBE.replace("EMULATOR", json.dumps(console_stack.target.endpoint_url))
        .replace("CONSOLE", json.dumps(console_url))
        .encode()
    )

    class Hostile(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Hostile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_another_local_page_reads_neither_the_stack_nor_the_consoles_streams(
    page: Any, hostile_page: str, console_stack: LocalStack
) -> None:
    # GIVEN the local stack has state worth reading (its buckets, at least)
    assert console_stack.target.upload_bucket
    # WHEN a page of another origin on this machine tries to read it
    page.goto(hostile_page)
    page.wait_for_function(
        "() => 'emulator' in window.results && 'fragment' in window.results"
        " && window.results.stream !== 'pending'",
        timeout=20_000,
    )
    results = page.evaluate("window.results")
    # THEN every attempt is blocked: nothing of the stack reached the page
    assert results["emulator"].startswith("blocked"), results
    assert results["fragment"].startswith("blocked"), results
    assert results["stream"] == "error", results
    assert console_stack.target.upload_bucket not in json.dumps(results)


def test_the_console_itself_still_streams_in_the_same_browser(page: Any, console_url: str) -> None:
    page.goto(f"{console_url}/jobs")
    opened = page.evaluate(
        """() => new Promise(resolve => {
             const stream = new EventSource('/live/jobs');
             stream.onopen = () => { stream.close(); resolve(true); };
             stream.onerror = () => { stream.close(); resolve(false); };
           })"""
    )
    assert opened is True
