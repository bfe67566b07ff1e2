"""Who may talk to the console, and who may change anything through it.

The console listens on loopback only, but any web page open in the same browser can still send it
requests. So: every request must name the console itself as its Host (a DNS-rebinding page names its
own), and a state-changing POST must also come from the console's own origin (Origin, or Referer when
a browser sends no Origin) and carry the per-process token that only the console's pages contain.
"""

from __future__ import annotations

import hmac
import json
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request

TOKEN_HEADER = "X-Console-Token"
TOKEN_FIELD = "token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


class Guard:
    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.token = token or secrets.token_urlsafe(32)
        self.hosts = {f"{name}:{port}" for name in LOOPBACK_NAMES}
        self.origins = {f"http://{host}" for host in self.hosts}
        # htmx sends this on every request it makes (hx-headers on <body>)
        self.token_header_json = json.dumps({TOKEN_HEADER: self.token})

    def host_allowed(self, request: Request) -> bool:
        return request.headers.get("host", "") in self.hosts

    def origin_allowed(self, request: Request) -> bool:
        origin = request.headers.get("origin")
        if origin is None:
            referer = urlsplit(request.headers.get("referer", ""))
            origin = f"{referer.scheme}://{referer.netloc}" if referer.netloc else ""
        return origin in self.origins

    def token_valid(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(presented.encode(), self.token.encode())

    async def refusal(self, request: Request) -> str | None:
        """Why a POST is refused, or None when it may go ahead."""
        if not self.host_allowed(request):
            return "this console only answers to its own address"
        if not self.origin_allowed(request):
            return "cross-origin request refused: actions must come from the console's own pages"
        presented = request.headers.get(TOKEN_HEADER)
        if presented is None:
            await request.body()  # cached, so the endpoint can read the form again
            form = await request.form()
            value = form.get(TOKEN_FIELD)
            presented = value if isinstance(value, str) else None
        if not self.token_valid(presented):
            return "missing or wrong console token: reload the page and try again"
        return None
