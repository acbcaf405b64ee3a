"""RequestGuard: the WSGI layer in front of everything (pages, API and Socket.IO alike).

It refuses, before any route or socket handler runs:

* a ``Host`` header that is not the address the server was started on or localhost
  (same-origin checks alone do not stop DNS rebinding);
* a request without the token, when a token is set (always under ``mpscope run``, and when
  bound beyond loopback), but for the page's shell (``/``, ``/labs``, ``/static/...``), which
  holds nothing of the state: the page asks for everything else with the token;
* a state-changing request (POST, PUT, PATCH, DELETE) or a Socket.IO handshake whose
  ``Origin`` is another site.

It records the client's role (``environ["mpscope.read_only"]``) for the one authorisation
point, :mod:`webapp.web.access`, which every route and socket event passes through.

A token is taken from ``Authorization: Bearer T`` (REST clients and the page's fetches) or
``?token=T`` (curl, and the page's Socket.IO handshake: a browser's WebSocket cannot send
headers), never from a cookie: browsers send a host's cookies to every port of it, so any
other service on this host would receive whatever a cookie held. The printed URL carries the
token in its fragment (``/#token=T``), which the browser never sends; the page keeps it in
sessionStorage, which is this origin's (this port's) only. An old link ``/?token=T`` to a page
is answered with a redirect to ``#token=T`` (for one of our tokens only: nothing taken from
the request goes into a header), and sets nothing.

It also adds the security headers (a strict Content-Security-Policy among them).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
import socket
from collections.abc import Callable, Iterable
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import psutil

TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,256}")
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
LOCAL_NAMES = {"localhost", "127.0.0.1", "::1"}
SHELL_PATHS = {"/", "/labs"}  # with /static/...: the page's shell, the same for every client
SECURITY_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> set[str]:
    """Host names a request may address: the bind address, localhost, and ``extra``."""
    hosts = {bind_host.lower(), *LOCAL_NAMES, *(h.lower() for h in extra)}
    if bind_host in ("0.0.0.0", "::", ""):
        # bound to every interface: each of this machine's own addresses is "ours"
        hosts.update(socket.gethostname().lower(), socket.getfqdn().lower())
        for addrs in psutil.net_if_addrs().values():
            hosts.update(a.address.split("%")[0].lower() for a in addrs if a.family in (2, 10))
    return hosts


def same_origin_path(path: str) -> str:
    """``PATH_INFO`` as a path on this server: ``//evil.example`` or ``/\\evil`` must not leave it."""
    raw = path.encode("latin-1", "replace").lstrip(b"/\\")  # WSGI paths are latin-1 text
    return "/" + quote(raw, safe="/")


def host_name(host_header: str) -> str:
    """``"[::1]:5000"`` → ``"::1"``, ``"Example.org:80"`` → ``"example.org"``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class RequestGuard:
    """WSGI middleware enforcing host, token, origin and read-only rules."""

    def __init__(
        self,
        app: Callable,
        hosts: set[str],
        token: str | None = None,
        viewer_token: str | None = None,
        read_only: bool = False,
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.token = token
        self.viewer_token = viewer_token
        self.read_only = read_only

    def __call__(self, environ: dict, start_response: Callable):
        def with_headers(status, headers, exc_info=None):
            return start_response(status, list(headers) + SECURITY_HEADERS, exc_info)

        host = environ.get("HTTP_HOST", "")
        if host_name(host) not in self.hosts:
            return self.refuse(with_headers, 403, f"Host {host[:100]!r} is not allowed")
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        handshake = path.startswith("/socket.io")
        origin = environ.get("HTTP_ORIGIN")
        if (
            origin
            and (method in WRITE_METHODS or handshake)
            and urlsplit(origin).netloc.lower() != host.lower()
        ):
            return self.refuse(with_headers, 403, "cross-origin requests are not allowed")
        query = parse_qs(environ.get("QUERY_STRING", ""))
        login = "token" in query and method == "GET" and not handshake and not path.startswith("/api")
        if login and not TOKEN_RE.fullmatch(query["token"][0]):
            return self.refuse(with_headers, 400, "a token is 16-256 letters, digits, '-' or '_'")
        role = self.role(environ)
        if role is None and self.is_shell(method, path) and not self.offered_tokens(environ):
            role = self.base_role()  # the shell only: the page asks with its token for the rest
        if role is None:
            return self.refuse(with_headers, 401, "a token is required: open the URL printed at startup")
        environ["mpscope.read_only"] = role == "viewer"
        if login:
            return self.login(environ, with_headers, query)
        return self.app(environ, with_headers)

    @staticmethod
    def is_shell(method: str, path: str) -> bool:
        """The page's HTML, scripts and styles: nothing in them comes from the state."""
        return method in ("GET", "HEAD") and (path in SHELL_PATHS or path.startswith("/static/"))

    def base_role(self) -> str:
        """The role of the first token, or of everyone when no token is set."""
        return "viewer" if self.read_only else "admin"

    def tokens(self) -> list[tuple[str, str]]:
        """``(token, role)`` for each token this server accepts."""
        found = [(self.token, self.base_role())] if self.token else []
        if self.viewer_token:
            found.append((self.viewer_token, "viewer"))
        return found

    def role(self, environ: dict) -> str | None:
        """Return "admin", "viewer", or None when a required token is missing or wrong."""
        if self.token is None:
            return self.base_role()
        offered = self.offered_tokens(environ)
        for token, role in self.tokens():  # the first match wins: the admin token is first
            if any(hmac.compare_digest(t, token.encode()) for t in offered):
                return role
        return None

    @staticmethod
    def offered_tokens(environ: dict) -> list[bytes]:
        """Tokens sent as ``Authorization: Bearer`` or ``?token=``."""
        found = []
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if auth.lower().startswith("bearer "):
            found.append(auth[7:].strip())
        found.extend(parse_qs(environ.get("QUERY_STRING", "")).get("token", [])[:1])
        return [t.encode("utf-8", "surrogateescape") for t in found]

    def login(self, environ: dict, start_response: Callable, query: dict):
        """Answer an old ``?token=`` link to a page: the same page, the token in the fragment.

        Only one of this server's own tokens is written into ``Location``, and no cookie is set.
        """
        offered = query.pop("token")[0]
        rest = urlencode(query, doseq=True)
        location = same_origin_path(environ.get("PATH_INFO", "/")) + (f"?{rest}" if rest else "")
        for token, _role in self.tokens():
            if hmac.compare_digest(offered.encode(), token.encode()):
                location += f"#token={token}"
                break
        start_response("303 See Other", [("Location", location), ("Content-Length", "0")])
        return [b""]

    @staticmethod
    def refuse(start_response: Callable, status: int, message: str):
        body = json.dumps({"error": message}).encode()
        reason = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}[status]
        start_response(
            f"{status} {reason}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]
