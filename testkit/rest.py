"""The REST session helpers every test, benchmark and chaos run drives a server with.

:class:`ServerApi` is a mixin over one ``requests.Session``: it needs ``url``, ``session``
and ``track(pid)`` (so that every worker it spawns is checked to be gone after the server).
"""

from __future__ import annotations

from typing import Any

import requests

from .waiting import wait_for

LIVE = ("starting", "running")
ENDED = ("exited", "killed")


def token_session(token: str | None) -> requests.Session:
    """A requests session that sends ``token`` as a bearer token, if there is one."""
    session = requests.Session()
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


class ServerApi:
    """One server's JSON API, for set-up and checks."""

    url: str
    session: requests.Session
    request_timeout: float = 15.0

    def track(self, pid: int) -> None:
        raise NotImplementedError

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.request_timeout)
        with self.session.request(method, self.url + path, **kwargs) as response:
            _ = response.content  # read it all so the connection goes back to the pool
            return response

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """``METHOD path`` with a JSON ``body`` and query ``params``; the JSON answer, or raise on 4xx/5xx."""
        response = self.request(method, path, json=body, params=params or None)
        response.raise_for_status()
        return response.json()

    def get_json(self, path: str, status: int = 200) -> Any:
        response = self.request("GET", path)
        assert response.status_code == status, f"GET {path}: {response.status_code} {response.text[:500]}"
        return response.json()

    def health(self) -> dict:
        return self.get_json("/healthz")

    def version(self) -> int:
        return self.health()["version"]

    def state(self, source: str | None = None) -> dict:
        return self.get_json("/api/state" + (f"?source={source}" if source else ""))

    def workers(self) -> dict[int, dict]:
        return {w["pid"]: w for w in self.state()["workers"]}

    def worker(self, pid: int) -> dict:
        return self.get_json(f"/api/workers/{pid}")

    # -- commands ---------------------------------------------------------------------------
    def spawn(self, count: int = 1, task: str | None = None, **params: Any) -> list[dict]:
        """Start ``count`` workers (expects 201) and return their infos."""
        body: dict[str, Any] = {"count": count}
        if task is not None:
            body["task"] = task
        if params:
            body["params"] = params
        response = self.request("POST", "/api/workers", json=body)
        assert response.status_code == 201, response.text
        workers = response.json()["workers"]
        for info in workers:
            self.track(info["pid"])
        return workers

    def spawn_pids(self, count: int = 1, task: str | None = None, **params: Any) -> list[int]:
        """Start ``count`` workers (expects 201) and return their PIDs."""
        return [info["pid"] for info in self.spawn(count, task, **params)]

    def kill(self, pid: Any, sig: str | None = None) -> requests.Response:
        return self.request("DELETE", f"/api/workers/{pid}", params={"signal": sig} if sig else None)

    def kill_all(self, sig: str = "KILL", timeout: float = 20.0) -> None:
        """Signal every running worker and wait until none is live."""
        response = self.request("DELETE", "/api/workers", params={"state": "running", "signal": sig})
        assert response.status_code == 202, response.text
        wait_for(lambda: self.health()["workers"] == 0, timeout, "every worker to end")

    def reset(self) -> None:
        """Kill every worker, wait until none is live, empty the state and forget ended workers."""
        self.kill_all("KILL", timeout=15)
        response = self.request("POST", "/api/state/reset")
        assert response.status_code == 200, response.text
        state = self.wait_version(response.json()["version"])
        assert state["list"] == [] and state["dict"] == [], state
        response = self.request("DELETE", "/api/workers", params={"state": "ended"})
        assert response.status_code == 200, response.text

    # -- waiting ----------------------------------------------------------------------------
    def wait_worker(self, pid: int, states: tuple[str, ...], timeout: float = 10.0) -> dict:
        """Wait until worker ``pid`` is in one of ``states``; return its info."""

        def reached() -> dict | None:
            info = self.worker(pid)
            return info if info["state"] in states else None

        return wait_for(reached, timeout, what=f"worker {pid} to be {'/'.join(states)}")

    def wait_all_ended(self, pids: list[int], timeout: float = 30.0) -> list[dict]:
        return [self.wait_worker(pid, ENDED, timeout) for pid in pids]

    def wait_version(self, version: int, timeout: float = 10.0) -> dict:
        """Wait until the server's mirror (what /api/state serves) reached ``version``."""
        return wait_for(
            lambda: (s := self.state())["version"] >= version and s, timeout, what=f"state version {version}"
        )

    def wait_idle(self, timeout: float = 20.0, interval: float | None = None) -> None:
        """Wait until no worker runs and the feed caught up with the Manager (polling /healthz only)."""
        wait_for(lambda: self.health()["workers"] == 0, timeout, "every worker to end", interval)
        version = self.state("manager")["version"]
        wait_for(lambda: self.health()["version"] >= version, timeout, "the feed to catch up", interval)

    def wait_settled(self, timeout: float = 20.0) -> dict:
        """Wait until no worker runs and the mirror holds all the Manager has; return /api/state."""
        self.wait_idle(timeout)

        def settled() -> dict | None:
            state = self.state()
            return state if state["version"] == self.state("manager")["version"] else None

        return wait_for(settled, timeout, "the mirror to reach the Manager's version")
