"""What other packages add to the CLI, found by entry point (group `pixelpipe.cli` in pyproject.toml) so
that this package never imports them: the web console (pixelpipe_console.commands) adds `pixelpipe
console` and what `pixelpipe up --console` starts beside the stack. Without it the CLI still works, and
`up --console` says the console is missing."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import typer

from pixelpipe_cli.target import Target

GROUP = "pixelpipe.cli"


@dataclass(frozen=True)
class WebConsole:
    """What `pixelpipe up --console` needs from the web console; its web stack loads only when started."""

    default_port: int
    url: Callable[[int], str]
    background: Callable[[Callable[[], Target], int], AbstractContextManager[Any]]


_registered: list[WebConsole] = []


def register_web_console(console: WebConsole) -> None:
    _registered[:] = [console]


def web_console() -> WebConsole | None:
    return _registered[0] if _registered else None


def load(app: typer.Typer) -> None:
    """Let every installed extension add its commands to `app` (each entry point is `register(app)`)."""
    for entry in entry_points(group=GROUP):
        entry.load()(app)
