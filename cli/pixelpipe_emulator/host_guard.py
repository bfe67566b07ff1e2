"""The emulator answers only its own clients: the local stack's processes, never a web page.

moto's server answers any `Host` and, through flask-cors, echoes any `Origin` back in
`Access-Control-Allow-Origin` (checked: `Origin: http://evil.example` on /moto-api/data.json got
`Access-Control-Allow-Origin: http://evil.example`). So any page open in the developer's browser could
read the whole stack — `/moto-api/data.json`, every object and item — and reset it, either directly
(cross-origin fetch) or through DNS rebinding (its own name resolving to 127.0.0.1).

Every client of the emulator is a program (boto3, the Step Functions interpreter, the CLI), and they send
the loopback address they connected to as `Host` and no browser headers. So a request is refused with
403 before moto sees it when its `Host` is not `127.0.0.1`, `localhost` or `[::1]` with the emulator's
port, when a browser says it comes from another site (`Sec-Fetch-Site` other than `same-origin`/`none`),
or when it carries an `Origin` that is not the emulator's own. The `/moto-api/` endpoints go through the
same check as every AWS call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pixelpipe_emulator.keepalive_http import KeepAliveRequestHandler

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
# What a browser sends for a request typed in the address bar or made by the emulator's own pages.
OWN_FETCH_SITES = ("same-origin", "none")


def refusal(headers: Mapping[str, str], port: int) -> str | None:
    """Why a request is refused, or None when it is the stack's own. `headers` as received."""
    own_hosts = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    host = (headers.get("Host") or "").strip().lower()
    if host not in own_hosts:
        return "this emulator only answers to its own loopback address"
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site.strip().lower() not in OWN_FETCH_SITES:
        return "cross-site request refused"
    origin = headers.get("Origin")
    if origin is not None and origin.strip().lower() not in {f"http://{h}" for h in own_hosts}:
        return "cross-origin request refused"
    return None


_LOOPBACK_ORIGIN = re.compile(r"^http://(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}$")


def browser_upload(method: str, path: str, headers: Mapping[str, str], port: int) -> bool:
    """A browser-based upload to the upload bucket (an HTML form POST, e.g. the console's drop zone, issue 19)
    from a page on a loopback origin: let through, as S3 takes form POSTs from other origins. Only that:
    the bucket's form endpoint, multipart, to the emulator's own Host, from 127.0.0.1/localhost (never a
    remote page, nor a rebound name); the form must still carry a valid signed policy (post_policy)."""
    from pixelpipe.config import settings

    bucket_paths = {f"/{settings().storage.upload_bucket}", f"/{settings().storage.upload_bucket}/"}
    return (
        method == "POST"
        and path in bucket_paths
        and (headers.get("Content-Type") or "").lower().startswith("multipart/form-data")
        and (headers.get("Host") or "").strip().lower() in {f"{name}:{port}" for name in LOOPBACK_NAMES}
        and bool(_LOOPBACK_ORIGIN.match((headers.get("Origin") or "").strip().lower()))
    )


class GuardedRequestHandler(KeepAliveRequestHandler):
    """The keep-alive handler, answering 403 (and closing) to anything `refusal` names."""

    def run_wsgi(self) -> None:
        reason = refusal(self.headers, self.server.server_port)
        if reason and browser_upload(self.command, self.path, self.headers, self.server.server_port):
            reason = None
        if reason is None:
            super().run_wsgi()
            return
        body = f"{reason}\n".encode()
        self.close_connection = True
        self.send_response(403)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
