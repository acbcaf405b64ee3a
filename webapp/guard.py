"""RequestGuard: the WSGI layer in front of everything (pages, API and Socket.IO alike).

It refuses, before any route or socket handler runs:

* a ``Host`` header that is not the address the server was started on or localhost
  (same-origin checks alone do not stop DNS rebinding);
* a request without the token, when a token is set (always when bound beyond loopback);
* a state-changing request (POST, PUT, PATCH, DELETE) or a Socket.IO handshake whose
  ``Origin`` is another site;
* a state-changing request from a read-only client (``--read-only`` or a viewer token).

It also adds the security headers (a strict Content-Security-Policy among them).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import socket
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode, urlsplit

import psutil

COOKIE = "mpscope_token"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
LOCAL_NAMES = {"localhost", "127.0.0.1", "::1"}
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
        role = self.role(environ)
        if role is None:
            return self.refuse(with_headers, 401, "a token is required: open the URL printed at startup")
        environ["mpscope.read_only"] = role == "viewer"
        if role == "viewer" and method in WRITE_METHODS:
            return self.refuse(with_headers, 403, "this dashboard is read-only")
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if "token" in query and method == "GET" and not handshake and not path.startswith("/api"):
            return self.login(environ, with_headers, query)
        return self.app(environ, with_headers)

    def role(self, environ: dict) -> str | None:
        """Return "admin", "viewer", or None when a required token is missing or wrong."""
        base = "viewer" if self.read_only else "admin"
        if self.token is None:
            return base
        offered = self.offered_tokens(environ)
        if any(hmac.compare_digest(t, self.token.encode()) for t in offered):
            return base
        if self.viewer_token and any(hmac.compare_digest(t, self.viewer_token.encode()) for t in offered):
            return "viewer"
        return None

    @staticmethod
    def offered_tokens(environ: dict) -> list[bytes]:
        found = []
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if auth.lower().startswith("bearer "):
            found.append(auth[7:].strip())
        cookie = SimpleCookie()
        try:
            cookie.load(environ.get("HTTP_COOKIE", ""))
        except Exception:  # a malformed cookie header is simply no token
            pass
        if COOKIE in cookie:
            found.append(cookie[COOKIE].value)
        found.extend(parse_qs(environ.get("QUERY_STRING", "")).get("token", [])[:1])
        return [t.encode("utf-8", "surrogateescape") for t in found]

    def login(self, environ: dict, start_response: Callable, query: dict):
        """Move a token from the URL into a cookie, then reload without it."""
        token = query.pop("token")[0]
        rest = urlencode(query, doseq=True)
        location = environ.get("PATH_INFO", "/") + (f"?{rest}" if rest else "")
        cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
        start_response("303 See Other", [("Location", location), ("Set-Cookie", cookie)])
        return [b""]

    @staticmethod
    def refuse(start_response: Callable, status: int, message: str):
        body = json.dumps({"error": message}).encode()
        reason = {401: "Unauthorized", 403: "Forbidden"}[status]
        start_response(
            f"{status} {reason}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]
