"""Who may talk to the console, and who may change anything through it.

The console listens on loopback only, but any web page open in the same browser can still send it
requests. So: every request must name the console itself as its Host (a DNS-rebinding page names its
own), and a state-changing POST must also come from the console's own origin (Origin, or Referer when
a browser sends no Origin) and carry the per-process token that only the console's pages contain.

A GET cannot change anything, but another site could still open the live streams (each polls the jobs
table twice a second: on an AWS target that is money), load fragments or thumbnails. A browser says
where a request comes from: `Sec-Fetch-Site` (same-origin, none for a typed address, same-site or
cross-site otherwise — another port on localhost is same-site, and just as foreign) and, on an
EventSource or fetch, `Origin`. So a GET is refused when its Origin is not the console's, or when it
comes from anywhere but the console or the address bar — except a top-level navigation (a link to the
console opens the page; the page itself then loads everything same-origin).
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
# Sec-Fetch-Site values of the console's own requests: its pages', and an address typed or bookmarked.
OWN_FETCH_SITES = ("same-origin", "none")


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

    def read_refusal(self, request: Request) -> str | None:
        """Why a GET or HEAD is refused, or None when it may go ahead."""
        if not self.host_allowed(request):
            return "this console only answers to its own address"
        origin = request.headers.get("origin")
        if origin is not None and origin not in self.origins:
            return "cross-origin request refused: open the console from its own address"
        site = request.headers.get("sec-fetch-site")
        if site is not None and site not in OWN_FETCH_SITES and not _top_level_navigation(request):
            return "cross-site request refused: open the console from its own address"
        return None

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


def _top_level_navigation(request: Request) -> bool:
    """A link followed to the console's page (not a frame, an image, a stream or a fetch)."""
    headers = request.headers
    return headers.get("sec-fetch-mode") == "navigate" and headers.get("sec-fetch-dest") == "document"
