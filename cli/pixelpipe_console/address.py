"""Where the console listens, defined once: the CLI's commands, the app's guard and the server read it."""

from __future__ import annotations

DEFAULT_PORT = 8484  # the console's port on 127.0.0.1 unless told otherwise
HOST = "127.0.0.1"  # never another interface: the console can retry jobs and move messages


def url(port: int = DEFAULT_PORT) -> str:
    return f"http://{HOST}:{port}/"
