"""Serving the console with uvicorn, on loopback only, in the foreground or beside the local stack."""

from __future__ import annotations

import contextlib
import threading
import time
import webbrowser
from collections.abc import Callable

import uvicorn

from pixelpipe_cli.target import Target
from pixelpipe_console.address import DEFAULT_PORT, HOST, url
from pixelpipe_console.app import create_app


def _server(target_loader: Callable[[], Target], port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(target_loader, port=port),
        host=HOST,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,  # open live-update streams never end by themselves
    )
    return uvicorn.Server(config)


def serve(target_loader: Callable[[], Target], port: int = DEFAULT_PORT, open_browser: bool = False) -> None:
    """Run until Ctrl-C (uvicorn handles the signals)."""
    server = _server(target_loader, port)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url(port),)).start()
    server.run()


class BackgroundConsole:
    """The console in a thread of the current process (for `pixelpipe up --console` and the tests)."""

    def __init__(self, target_loader: Callable[[], Target], port: int = DEFAULT_PORT) -> None:
        self.port = port
        self.url = url(port)
        self._server = _server(target_loader, port)
        self._thread = threading.Thread(target=self._run, name="pixelpipe-console", daemon=True)

    def _run(self) -> None:
        with contextlib.suppress(SystemExit):  # uvicorn exits when it cannot bind; __enter__ reports it
            self._server.run()

    def __enter__(self) -> BackgroundConsole:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the console could not start on {self.url} (is the port in use?)")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
