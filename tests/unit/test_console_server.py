"""Serving the console: loopback only, and a taken port is reported at once instead of hanging."""

from __future__ import annotations

import socket

import pytest
import requests

from pixelpipe_console.server import HOST, BackgroundConsole


def test_a_taken_port_is_reported_clearly() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match="port in use"), BackgroundConsole(lambda: None, port):  # type: ignore[arg-type, return-value]
            pass


def test_the_console_listens_on_loopback_and_answers_its_own_address() -> None:
    assert HOST == "127.0.0.1"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def no_stack() -> None:
        raise SystemExit("no stack to talk to")

    with BackgroundConsole(no_stack, port) as console:  # type: ignore[arg-type]
        page = requests.get(f"{console.url}jobs", timeout=10)
        assert page.status_code == 404 and "no stack to talk to" in page.text
        script = requests.get(f"{console.url}static/vendor/htmx-2.0.11.min.js", timeout=10)
        assert script.status_code == 200 and "htmx" in script.text[:2000]
