"""The console's part of the `pixelpipe` CLI, registered through the `pixelpipe.cli` entry point
(pixelpipe_cli.extensions): `pixelpipe console`, and the console `pixelpipe up --console` starts beside the
local stack. Light on purpose: the web stack (uvicorn, starlette) is imported only when a console starts,
so every other command starts fast."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any

import typer

from pixelpipe_cli import render
from pixelpipe_cli.extensions import WebConsole, register_web_console
from pixelpipe_cli.target import Target, current_target
from pixelpipe_console.address import DEFAULT_PORT, url


def _background(target_loader: Callable[[], Target], port: int) -> AbstractContextManager[Any]:
    from pixelpipe_console.server import BackgroundConsole

    return BackgroundConsole(target_loader, port)


def register(app: typer.Typer) -> None:
    register_web_console(WebConsole(default_port=DEFAULT_PORT, url=url, background=_background))

    @app.command("console")
    def console_command(
        port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = DEFAULT_PORT,
        open_browser: Annotated[bool, typer.Option("--open", help="Open it in the default browser.")] = False,
    ) -> None:
        """Serve the web console on 127.0.0.1 for the current target (local stack or AWS), until Ctrl-C."""
        from pixelpipe_console import server

        current_target()  # fail now, with its message, when there is no stack to show
        render.console.print(render.message(f"Pixel-Pipe console on {url(port)}   (Ctrl-C to stop)"))
        server.serve(current_target, port, open_browser)
