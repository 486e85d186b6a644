"""Signed-in page reads through nginx from a few threads, every answer recorded, while a fault is dealt."""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from types import TracebackType

import httpx


@dataclass(frozen=True)
class Answer:
    """One request of the traffic: when it was sent, the path, the status (None: no HTTP answer) and the
    ``X-Cluster-Config`` generation of the nginx configuration that answered."""

    sent: float
    path: str
    status: int | None
    error: str = ""
    config: str = ""
    retried: bool = False


class Traffic:
    """``with Traffic(url, cookies, paths) as traffic:`` keeps ``threads`` clients reading ``paths`` in turn (with
    the cookies of a signed-in person, redirects not followed) until the block ends. Pages, not the API: the per-user
    API rate limit would turn the traffic into 429s."""

    def __init__(
        self, base_url: str, cookies: httpx.Cookies, paths: list[str], threads: int = 3, pause: float = 0.02
    ) -> None:
        self.base_url = base_url
        self.cookies = cookies
        self.paths = paths
        self.pause = pause
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._read, args=(n,), daemon=True) for n in range(threads)]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _read(self, number: int) -> None:
        with httpx.Client(base_url=self.base_url, cookies=self.cookies, timeout=15.0) as client:
            turn = number
            while not self._stop.is_set():
                path = self.paths[turn % len(self.paths)]
                turn += 1
                answer = self._get(client, path)
                with self._lock:
                    self.answers.append(answer)
                time.sleep(self.pause)

    @staticmethod
    def _get(client: httpx.Client, path: str) -> Answer:
        """GET ``path``. A kept-alive connection that nginx closed as the request went out (a reload retires the
        old workers' idle connections) is retried once on a new connection, as browsers do for idempotent
        requests (RFC 9112, 9.3.1); the answer says so."""
        sent = time.monotonic()
        retried = False
        while True:
            try:
                response = client.get(path)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                if retried:
                    return Answer(sent, path, None, error=type(exc).__name__, retried=True)
                retried = True
                continue
            except httpx.HTTPError as exc:
                return Answer(sent, path, None, error=type(exc).__name__, retried=retried)
            config = response.headers.get("x-cluster-config", "")
            return Answer(sent, path, response.status_code, config=config, retried=retried)

    def since(self, moment: float) -> list[Answer]:
        """The answers to requests sent at or after ``moment`` (``time.monotonic()``)."""
        with self._lock:
            return [answer for answer in self.answers if answer.sent >= moment]

    @staticmethod
    def failed(answers: list[Answer]) -> list[Answer]:
        """Answers other than 200: a 5xx, a transport error, or a redirect to the sign-in page (session lost)."""
        return [answer for answer in answers if answer.status != 200]

    @staticmethod
    def summary(answers: list[Answer]) -> str:
        counts = collections.Counter(answer.status or answer.error for answer in answers)
        text = ", ".join(f"{key}: {count}" for key, count in sorted(counts.items(), key=str))
        retried = sum(answer.retried for answer in answers)
        return f"{text}; {retried} retried on a new connection" if retried else text
