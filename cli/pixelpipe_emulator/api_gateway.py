"""The front door on 127.0.0.1: API Gateway HTTP API in front of the SAME `api` handler that is deployed.

One process plays both API Gateway and the `api` function's execution environment (a `FunctionHost`, so
the handler runs with the function's environment, its AWS calls recorded for the least-privilege test and
fault plans applied, as every other local function). Each HTTP request becomes an HTTP API payload 2.0
event, as API Gateway builds it (developer guide, "Working with AWS Lambda proxy integrations for HTTP
APIs"), and the function's answer becomes the HTTP response.

What API Gateway does before the function, done here the same way:
- authentication: the local stack has no identity provider, so `pixelpipe up` makes two bearer tokens
  (written to target.json as `api_tokens`: `upload` and `operator`); a request with a known token reaches
  the function with the `requestContext.authorizer.jwt` a JWT authorizer writes (claims `sub`, `iss`,
  `scope`; `scopes`); without one, or with another, API Gateway's 401 `{"message":"Unauthorized"}`;
- stage throttling (`api.throttling` in pipeline.json): a token bucket; over it, 429
  `{"message":"Too Many Requests"}`;
- CORS (`api.cors_origins`): preflight answered here, `Access-Control-Allow-Origin` on responses.

    python -m pixelpipe_emulator.api_gateway --port 5056
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import secrets
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

API_FUNCTION = "api"
LOCAL_ISSUER = "pixelpipe-local"
ROLES = ("upload", "operator")
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload quota for HTTP APIs


def new_tokens() -> dict[str, str]:
    """One bearer token per role, made by `pixelpipe up` and kept in target.json."""
    return {role: secrets.token_urlsafe(24) for role in ROLES}


def authorizer_for(token: str | None, tokens: Mapping[str, str], scopes: Mapping[str, str]) -> dict | None:
    """The JWT authorizer context a local token stands for; None when it is missing or unknown."""
    if not token:
        return None
    for role, known in tokens.items():
        if secrets.compare_digest(token, known):
            # An operator also uploads: both scopes, as an operator's token would carry on AWS.
            granted = [scopes[r] for r in ROLES if r == role or role == "operator"]
            return {
                "jwt": {
                    "claims": {"sub": f"local-{role}", "iss": LOCAL_ISSUER, "scope": " ".join(granted)},
                    "scopes": granted,
                }
            }
    return None


def http_api_event(
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    authorizer: dict | None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """An HTTP API payload 2.0 event: headers lower-cased and repeated ones joined with commas, query
    parameters likewise, the body base64-encoded unless it is text."""
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        name = name.lower()
        if name == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        params[name] = f"{params[name]},{value}" if name in params else value
    content_type = joined.get("content-type", "")
    is_text = not body or content_type.startswith(("text/", "application/json"))
    now = datetime.datetime.now(tz=datetime.UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": joined,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": joined.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": not is_text,
    }
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    if cookies:
        event["cookies"] = cookies
    if params:
        event["queryStringParameters"] = params
    if body:
        event["body"] = body.decode() if is_text else base64.b64encode(body).decode()
    return event


class TokenBucket:
    """API Gateway's stage throttling: `burst` requests at once, refilled at `rate` a second."""

    def __init__(self, rate: float, burst: int, clock: Any = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens, self._at = float(burst), clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


def _json(status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None) -> tuple:
    data = json.dumps(body).encode()
    return status, [(b"content-type", b"application/json"), *(headers or [])], data


class Gateway:
    """The ASGI app: API Gateway's checks, then one invocation of `invoke(event)` per request."""

    def __init__(
        self,
        invoke: Any,
        tokens: Mapping[str, str],
        scopes: Mapping[str, str],
        bucket: TokenBucket,
        cors_origins: list[str],
    ) -> None:
        self.invoke, self.tokens, self.scopes, self.bucket = invoke, tokens, scopes, bucket
        self.cors_origins = cors_origins
        # One execution environment answers one request at a time, as in Lambda (and the X-Ray trace
        # header it sets is process-wide).
        self._lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body, too_large = b"", False
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                too_large, body = True, b""
            if not message.get("more_body"):
                break
        import anyio.to_thread

        status, headers, data = await anyio.to_thread.run_sync(self.answer, scope, body, too_large)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    def answer(self, scope: dict[str, Any], body: bytes, too_large: bool = False) -> tuple:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        lower = {k.lower(): v for k, v in headers}
        cors = self._cors_headers(lower.get("origin"))
        if scope["method"] == "OPTIONS" and "access-control-request-method" in lower:
            return 204, cors, b""
        if too_large:
            return _json(413, {"message": "Request Entity Too Large"}, cors)
        if not self.bucket.take():
            return _json(429, {"message": "Too Many Requests"}, cors)
        if scope["path"] == "/openapi.json":
            authorizer: dict | None = {}
        else:
            authorization = lower.get("authorization", "")
            token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else None
            authorizer = authorizer_for(token, self.tokens, self.scopes)
            if authorizer is None:
                return _json(
                    401,
                    {"message": "Unauthorized"},
                    [*cors, (b"www-authenticate", b'Bearer realm="pixelpipe"')],
                )
        client = scope.get("client") or ("127.0.0.1", 0)
        event = http_api_event(
            scope["method"],
            scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            headers,
            body,
            authorizer or None,
            client[0],
        )
        try:
            with self._lock:
                response = self.invoke(event)
        except Exception:  # the function failed: API Gateway answers 500 with its own body
            traceback.print_exc()  # the function's log, as CloudWatch Logs would have it
            return _json(500, {"message": "Internal Server Error"}, cors)
        return self._http_response(response, cors)

    def _cors_headers(self, origin: str | None) -> list[tuple[bytes, bytes]]:
        if not origin or ("*" not in self.cors_origins and origin not in self.cors_origins):
            return []
        return [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", b"GET,POST,OPTIONS"),
            (b"access-control-allow-headers", b"authorization,content-type"),
            (b"vary", b"Origin"),
        ]

    @staticmethod
    def _http_response(response: Any, cors: list[tuple[bytes, bytes]]) -> tuple:
        """Payload 2.0's response: a dict with statusCode (else the whole value is a JSON 200 body)."""
        if not isinstance(response, dict) or "statusCode" not in response:
            return _json(200, response, cors)
        body = response.get("body") or ""
        data = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode()
        headers = [(k.lower().encode(), str(v).encode()) for k, v in (response.get("headers") or {}).items()]
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers += [(name.lower().encode(), str(v).encode()) for v in values]
        headers += [(b"set-cookie", c.encode()) for c in response.get("cookies") or []]
        return int(response["statusCode"]), [*headers, *cors], data


def main() -> None:
    import uvicorn

    class _ReadyServer(uvicorn.Server):
        """Says "api ready" (what the stack waits for) once the socket is bound, not before."""

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            print(f"{API_FUNCTION} ready", flush=True)

    from pixelpipe.config import settings
    from pixelpipe_emulator.lambda_host import FunctionHost
    from pixelpipe_emulator.target import Target, target_file

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    target = Target.load(target_file())
    host = FunctionHost(target, API_FUNCTION)
    api = settings().api
    gateway = Gateway(
        host.invoke,
        target.api_tokens,
        {"upload": api.scopes.upload, "operator": api.scopes.operator},
        TokenBucket(api.throttling.rate_per_second, api.throttling.burst),
        list(api.cors_origins),
    )
    config = uvicorn.Config(gateway, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
    _ReadyServer(config).run()


if __name__ == "__main__":
    main()
