"""moto server's request handler with HTTP/1.1 keep-alive: one connection (and one thread) per client
connection, not per request.

werkzeug's development server answers every request with `Connection: close`, then waits up to 10 ms
for the client to hang up (it drains the socket in case the body was not read). So every AWS call of
the local stack opened a TCP connection, the emulator started a thread for it, and boto3 could never
reuse a connection. Profiled under `bench_pipeline`, that per-connection work was the largest single
cost of the emulator after the Step Functions interpreter.

This handler reads the request body itself (by Content-Length, so nothing is left in the socket), calls
the same WSGI application with the same environ werkzeug builds (moto's handler included), and sends the
whole response in one write with its length, keeping the connection open unless the client asks to close
it. A chunked request (no length) goes to werkzeug's own path, which closes the connection as before.
"""

from __future__ import annotations

import io
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler

_NO_BODY_STATUSES = (204, 304)


class KeepAliveRequestHandler(MotoRequestHandler):
    protocol_version = "HTTP/1.1"
    # The response goes out in one write, so Nagle's algorithm would only delay it.
    disable_nagle_algorithm = True

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length")
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower() or (
            length is None and self.command in ("POST", "PUT", "PATCH")
        ):
            super().run_wsgi()  # werkzeug dechunks, answers and closes the connection
            return
        body = self.rfile.read(int(length)) if length else b""
        environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started["status"], started["headers"] = status, headers
            return lambda data: chunks.append(data)  # the legacy write() callable

        chunks: list[bytes] = []
        try:
            result = self.server.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception as error:  # as werkzeug: a 500, and the server keeps serving
            self.server.log("error", f"Error on request: {error!r}")
            started = {"status": "500 INTERNAL SERVER ERROR", "headers": [("Content-Type", "text/plain")]}
            chunks = [b"Internal Server Error"]
        self._respond(started["status"], started["headers"], b"".join(chunks))

    def _respond(self, status: str, headers: list[tuple[str, str]], payload: bytes) -> None:
        code = int(status.split(" ", 1)[0])
        names = {name.lower() for name, _ in headers}
        if self.command == "HEAD" or code in _NO_BODY_STATUSES or 100 <= code < 200:
            payload = b""  # a HEAD answer keeps the app's Content-Length (the object's) and has no body
        elif "content-length" not in names:
            headers = [*headers, ("Content-Length", str(len(payload)))]
        wants_close = (
            self.headers.get("Connection", "").lower() == "close" or self.request_version != "HTTP/1.1"
        )
        lines = [f"{self.protocol_version} {status}"]
        lines += [f"{name}: {value}" for name, value in headers if name.lower() != "connection"]
        lines.append(f"Connection: {'close' if wants_close else 'keep-alive'}")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
        self.close_connection = wants_close  # (no access log: the emulator keeps only werkzeug's warnings)
