"""RequestGuard: the WSGI layer in front of everything (pages, API and Socket.IO alike).

It refuses, before any route or socket handler runs:

* a ``Host`` header that is not the address the server was started on or localhost
  (same-origin checks alone do not stop DNS rebinding);
* a request without the token, when a token is set (always when bound beyond loopback);
* a state-changing request (POST, PUT, PATCH, DELETE) or a Socket.IO handshake whose
  ``Origin`` is another site.

It records the client's role (``environ["mpscope.read_only"]``) for the one authorisation
point, :mod:`webapp.web.access`, which every route and socket event passes through.

``/?token=T`` logs a browser in: the token must be one of ours (letters, digits, ``-``,
``_``), and the answer is a redirect to a path on this server with a cookie that is named
after this server's port and holds a per-port HMAC of the token, never the token itself
nor anything else taken from the request. Cookies are per host, not per port: every service
on this host is sent it, so what they see must not be worth anything elsewhere.

It also adds the security headers (a strict Content-Security-Policy among them).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
import socket
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import psutil

COOKIE_PREFIX = "mpscope_"  # + the port: two servers on one host keep their own cookies
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,256}")
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


def cookie_name(environ: dict) -> str:
    return COOKIE_PREFIX + "".join(c for c in environ.get("SERVER_PORT", "") if c.isdigit())


def cookie_value(token: str, environ: dict) -> str:
    """What the login cookie holds for ``token`` on this port: an HMAC, not the token."""
    return hmac.new(token.encode(), cookie_name(environ).encode(), hashlib.sha256).hexdigest()


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
        if role is None:
            return self.refuse(with_headers, 401, "a token is required: open the URL printed at startup")
        environ["mpscope.read_only"] = role == "viewer"
        if login:
            return self.login(environ, with_headers, query)
        return self.app(environ, with_headers)

    def tokens(self) -> list[tuple[str, str]]:
        """``(token, role)`` for each token this server accepts."""
        base = "viewer" if self.read_only else "admin"
        found = [(self.token, base)] if self.token else []
        if self.viewer_token:
            found.append((self.viewer_token, "viewer"))
        return found

    def role(self, environ: dict) -> str | None:
        """Return "admin", "viewer", or None when a required token is missing or wrong."""
        if self.token is None:
            return "viewer" if self.read_only else "admin"
        offered = self.offered_tokens(environ)
        cookie = self.offered_cookie(environ)
        for token, role in self.tokens():  # the first match wins: the admin token is first
            if any(hmac.compare_digest(t, token.encode()) for t in offered):
                return role
            if cookie and hmac.compare_digest(cookie, cookie_value(token, environ).encode()):
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

    @staticmethod
    def offered_cookie(environ: dict) -> bytes | None:
        cookie = SimpleCookie()
        try:
            cookie.load(environ.get("HTTP_COOKIE", ""))
        except Exception:  # a malformed cookie header is simply no token
            return None
        name = cookie_name(environ)
        return cookie[name].value.encode("utf-8", "surrogateescape") if name in cookie else None

    def login(self, environ: dict, start_response: Callable, query: dict):
        """Reload the page without ``?token=``, first setting the login cookie if it is one of ours."""
        offered = query.pop("token")[0]
        rest = urlencode(query, doseq=True)
        location = same_origin_path(environ.get("PATH_INFO", "/")) + (f"?{rest}" if rest else "")
        headers = [("Location", location), ("Content-Length", "0")]
        for token, _role in self.tokens():
            if hmac.compare_digest(offered.encode(), token.encode()):
                name, value = cookie_name(environ), cookie_value(token, environ)
                headers.append(("Set-Cookie", f"{name}={value}; Path=/; HttpOnly; SameSite=Strict"))
                break
        start_response("303 See Other", headers)
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
