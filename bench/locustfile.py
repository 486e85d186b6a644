"""Locust load test of a Spyglass cluster: people who sign in, browse the listings their searches found, open
listings, edit a search now and then, and a few who start security scans and read the results.

Run by ``bench/loadtest`` (which starts the cluster, seeds ``load00000``… users and runs Locust headless); by hand:

    bench/.venv-locust/bin/locust -f bench/locustfile.py --headless -H http://127.0.0.1:8080 -u 1000 -r 50 -t 2m

Environment: ``LOADTEST_USERS`` (seeded accounts, default 1000), ``LOADTEST_PASSWORD``, and ``LOADTEST_SESSIONS``:
a JSON file of sessions ``bench/loadtest`` made beforehand through the login form (``[{"username", "session",
"csrf"}]``) — a thousand people arrive already signed in, so the measurement is of their browsing, not of a thousand
argon2 verifications at once (bench/loadtest measures the sign-ins separately). Without it each user signs in.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from http.cookiejar import Cookie
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, task

PASSWORD = os.environ.get("LOADTEST_PASSWORD", "Load-Test-Password-42")
ACCOUNTS = int(os.environ.get("LOADTEST_USERS", "1000"))
_next_account = itertools.count()
_SESSIONS: list[dict[str, str]] = (
    json.loads(Path(os.environ["LOADTEST_SESSIONS"]).read_text()) if os.environ.get("LOADTEST_SESSIONS") else []
)


def _cookie(name: str, value: str, host: str) -> Cookie:
    return Cookie(0, name, value, None, False, host, False, False, "/", True, False, None, False, None, None, {})


def _items(response: Any) -> list[dict[str, Any]]:
    """The items of a (paginated) JSON list answer; none when the request failed (Locust counts the failure)."""
    try:
        body = response.json()
    except (TypeError, ValueError):
        return []
    return body.get("items", []) if isinstance(body, dict) else list(body or [])


class SignedIn(FastHttpUser):
    """A browser session: sign in through the form (CSRF double-submit), then use the pages and the JSON API."""

    abstract = True

    def on_start(self) -> None:
        number = next(_next_account)
        self.listing_ids: list[int] = []
        if _SESSIONS:
            session = _SESSIONS[number % len(_SESSIONS)]
            self.username = session["username"]
            host = (self.host or "").split("//", 1)[-1].split(":", 1)[0]
            self.client.cookiejar.set_cookie(_cookie("spyglass_session", session["session"], host))
            self.client.cookiejar.set_cookie(_cookie("spyglass_csrf", session["csrf"], host))
        else:
            self.sign_in(f"load{number % ACCOUNTS:05d}")
        self.search_ids = [s["id"] for s in _items(self.client.get("/api/v1/market/searches"))]

    def sign_in(self, username: str) -> None:
        self.username = username
        self.client.get("/login", name="/login [page]")
        response = self.client.post(
            "/login",
            data={"login": self.username, "password": PASSWORD, "_csrf_token": self.csrf()},
            allow_redirects=False,
            name="/login [submit]",
        )
        if response.status_code != 303:
            raise RuntimeError(f"{self.username} could not sign in: HTTP {response.status_code}")

    def csrf(self) -> str:
        for cookie in self.client.cookiejar:
            if cookie.name == "spyglass_csrf" and cookie.value:
                return str(cookie.value)
        return ""

    def write(self, method: str, path: str, body: Any, name: str) -> Any:
        return self.client.request(method, path, json=body, headers={"x-csrf-token": self.csrf()}, name=name)


class Shopper(SignedIn):
    """Most people: read-heavy market use."""

    weight = 50
    wait_time = between(0.5, 1.5)

    @task(6)
    def listings_api(self) -> None:
        page = random.randint(1, 3)
        answer = self.client.get(f"/api/v1/market/listings?page={page}&size=20", name="/api/v1/market/listings")
        self.listing_ids = [item["id"] for item in _items(answer)] or self.listing_ids

    @task(3)
    def listings_page(self) -> None:
        self.client.get("/market/listings", name="/market/listings [page]")

    @task(2)
    def searches_page(self) -> None:
        self.client.get("/market/searches", name="/market/searches [page]")

    @task(3)
    def one_listing(self) -> None:
        if self.listing_ids:
            listing = random.choice(self.listing_ids)
            self.client.get(f"/api/v1/market/listings/{listing}", name="/api/v1/market/listings/{id}")

    @task(1)
    def listing_page(self) -> None:
        if self.listing_ids:
            self.client.get(f"/market/listings/{random.choice(self.listing_ids)}", name="/market/listings/{id} [page]")

    @task(1)
    def me(self) -> None:
        self.client.get("/api/v1/me", name="/api/v1/me")

    @task(1)
    def edit_search(self) -> None:
        if not self.search_ids:
            return
        search_id = random.choice(self.search_ids)
        body = {
            "name": "Road bikes",
            "marketplaces": ["ebay"],
            "keywords": random.choice(["bike", "road bike", "bike NOT kids", "(trek OR giant) bike"]),
            "price_max": str(random.choice([500, 800, 1200])),
            "interval_seconds": 3600,
            "enabled": False,
        }
        self.write("PUT", f"/api/v1/market/searches/{search_id}", body, "/api/v1/market/searches/{id} [PUT]")


class SecurityUser(SignedIn):
    """A few people who scan their site and read the results."""

    weight = 1
    wait_time = between(5, 15)

    def on_start(self) -> None:
        super().on_start()
        targets = _items(self.client.get("/api/v1/scanner/targets", name="/api/v1/scanner/targets"))
        self.target_id = targets[0]["id"] if targets else None

    @task(1)
    def start_scan(self) -> None:
        if self.target_id is not None:
            with self.client.request(
                "POST",
                f"/api/v1/scanner/targets/{self.target_id}/scans",
                json={"profile": "passive"},
                headers={"x-csrf-token": self.csrf()},
                name="/api/v1/scanner/targets/{id}/scans [POST]",
                catch_response=True,
            ) as response:
                if response.status_code in (202, 409, 429):  # 409/429: the per-user scan quota, a correct refusal
                    response.success()

    @task(4)
    def read_results(self) -> None:
        if self.target_id is None:
            return
        scans = _items(
            self.client.get(f"/api/v1/scanner/scans?target_id={self.target_id}", name="/api/v1/scanner/scans")
        )
        finished = [scan for scan in scans if scan.get("status") == "succeeded"]
        if finished:
            self.client.get(
                f"/api/v1/scanner/scans/{finished[0]['id']}/findings", name="/api/v1/scanner/scans/{id}/findings"
            )
