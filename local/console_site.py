"""The meetings console (docs/console.md) as the local stack serves it: the static files of
`console/` under `/console/` on the API's own origin (so the page calls the API without CORS),
and `/console/config.json` generated for the local stack — the API on the same origin, tokens
from the local issuer, the simulation panel on. Only GET and HEAD; only files inside
`console/`; every answer with the security headers the deployed console gets from CloudFront.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Final

from local.apigw import HttpResponse

CONSOLE_PATH: Final = "/console"
CONSOLE_ROOT: Final = Path(__file__).resolve().parents[1] / "console"
LOCAL_CONFIG: Final = {"apiUrl": "", "auth": {"kind": "local"}, "simulation": True}
_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
# The page loads nothing from elsewhere and runs no inline script.
SECURITY_HEADERS: Final = (
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    # Edits to the files show on the next load, as a developer expects of `make dev`.
    ("cache-control", "no-cache"),
)


class ConsoleSite:
    def __init__(self, root: Path = CONSOLE_ROOT, config: dict[str, object] | None = None) -> None:
        self.root = root.resolve()
        self.config = LOCAL_CONFIG if config is None else config

    @staticmethod
    def serves(path: str) -> bool:
        return path == CONSOLE_PATH or path.startswith(CONSOLE_PATH + "/")

    def respond(self, method: str, path: str) -> HttpResponse:
        if method not in ("GET", "HEAD"):
            return self._answer(405, "text/plain; charset=utf-8", b"GET or HEAD only", method)
        if path == CONSOLE_PATH:
            headers = [("location", CONSOLE_PATH + "/"), *SECURITY_HEADERS]
            return HttpResponse(301, headers, b"")
        relative = path[len(CONSOLE_PATH) + 1 :] or "index.html"
        if relative == "config.json":
            body = json.dumps(self.config).encode()
            return self._answer(200, _TYPES[".json"], body, method)
        file = self._file(relative)
        if file is None:
            return self._answer(404, "text/plain; charset=utf-8", b"not found", method)
        content_type = _TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0]
        return self._answer(
            200, content_type or "application/octet-stream", file.read_bytes(), method
        )

    def _file(self, relative: str) -> Path | None:
        """The file a path names, only if it lies inside the console's folder."""
        candidate = (self.root / relative).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate

    @staticmethod
    def _answer(status: int, content_type: str, body: bytes, method: str) -> HttpResponse:
        headers = [("content-type", content_type), *SECURITY_HEADERS]
        if status == 405:
            headers.append(("allow", "GET, HEAD"))
        return HttpResponse(status, headers, b"" if method == "HEAD" else body)
