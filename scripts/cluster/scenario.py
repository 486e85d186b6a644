"""The cluster test's scenario, chaos and checks. Everything a user does goes through nginx with httpx; faults are
dealt to real processes; the verdicts come from the database, the SMTP sink and the processes' metrics."""

from __future__ import annotations

import json
import signal
import time
import urllib.parse
from typing import Any

from scripts.cluster import faults
from scripts.cluster.harness import Database, Report, User, fault, leader_pid, unfinished_runs, wait_for
from scripts.cluster.stack import Stack
from tests.support.smtp import first_link

PASSWORD = "Correct-Horse-Battery-9"
EMAIL = "carol@example.com"
#: A second person who only reads pages (no writes, so their replica-eligible reads are not kept on the primary).
READER = ("dave", "dave@example.com")
SEARCHES = [
    {"name": "Road bikes", "marketplaces": ["ebay"], "keywords": "bike"},
    {"name": "Cameras", "marketplaces": ["craigslist"], "keywords": "camera OR lens"},
    {"name": "Shop bikes", "marketplaces": ["jsonld"], "keywords": "bike"},
]


def sign_up(stack: Stack, user: User, report: Report, username: str = "carol", email: str = EMAIL) -> bool:
    """Register, confirm the address from the email the SMTP sink received, sign in."""
    registered = user.form(
        "/register", {"username": username, "email": email, "password": PASSWORD, "password_confirm": PASSWORD}
    )
    if not report.check(
        f"register {username} through nginx", registered.status_code == 201, f"HTTP {registered.status_code}"
    ):
        return False
    mail = stack.smtp.wait_for_message(to=email, timeout=30)
    link = urllib.parse.urlsplit(first_link(mail))
    token = urllib.parse.parse_qs(link.query).get("token", [""])[0]
    shown = user.http.get(f"{link.path}?{link.query}")
    confirmed = user.form("/verify-email", {"token": token})
    report.check(
        "verify the address from the email in the SMTP sink",
        shown.status_code == 200 and confirmed.status_code == 303,
        f"page {shown.status_code}, confirm {confirmed.status_code}",
    )
    signed_in = user.form("/login", {"login": username, "password": PASSWORD})
    return report.check(f"{username} signs in", signed_in.status_code == 303, f"HTTP {signed_in.status_code}")


def set_up_bots(stack: Stack, user: User, report: Report) -> tuple[list[int], int]:
    """An email channel, three market searches on the simulator, a target on the vulnerable app and its first scan."""
    channel = user.api("POST", "/api/v1/notifications/channels", {"kind": "email", "label": "Me", "target": EMAIL})
    report.check("add an email channel", channel.status_code == 201, f"HTTP {channel.status_code} {channel.text[:200]}")
    search_ids = []
    for search in SEARCHES:
        created = user.api("POST", "/api/v1/market/searches", {**search, "interval_seconds": 600})
        if created.status_code == 201:
            search_ids.append(created.json()["id"])
        else:
            report.note(f"search {search['name']!r}: HTTP {created.status_code} {created.text[:300]}")
    report.check("create market searches on the simulator", len(search_ids) == len(SEARCHES), f"{len(search_ids)}")
    target = user.api(
        "POST",
        "/api/v1/scanner/targets",
        {
            "name": "Vulnerable app",
            "base_url": stack.vulnerable_url,
            "max_pages": 12,
            "max_requests": 2000,
            "requests_per_second": 50,
            "concurrency": 8,
            "time_limit_seconds": 120,
        },
    )
    report.check(
        "add the vulnerable app as a target",
        target.status_code == 201,
        f"HTTP {target.status_code} {target.text[:200]}",
    )
    return search_ids, target.json()["id"] if target.status_code == 201 else 0


#: Every run the scenario asked for (scans and "run now"); each must end succeeded.
ASKED: list[int] = []


def launch_scan(user: User, target_id: int, profile: str = "passive") -> int | None:
    launched = user.api("POST", f"/api/v1/scanner/targets/{target_id}/scans", {"profile": profile})
    if launched.status_code != 202:
        return None
    ASKED.append(int(launched.json()["run_id"]))
    return ASKED[-1]


def run_searches_now(user: User, search_ids: list[int]) -> list[int]:
    """Ask for a run of each search (a search already queued or running answers 409 and is skipped)."""
    runs = []
    for search_id in search_ids:
        answer = user.api("POST", f"/api/v1/market/searches/{search_id}/run")
        if answer.status_code in (200, 201, 202):
            runs.append(int(answer.json()["run_id"]))
    ASKED.extend(runs)
    return runs


def live_events(user: User, run_id: int, timeout: float = 120.0) -> list[tuple[str, dict[str, Any]]]:
    """The server-sent events of a run read through nginx until the run ends: (event, data) pairs."""
    events: list[tuple[str, dict[str, Any]]] = []
    kind = "message"
    with user.http.stream("GET", f"/runs/{run_id}/events", timeout=timeout) as stream:
        if stream.status_code != 200:
            return events
        for line in stream.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((kind, json.loads(line.split(":", 1)[1])))
    return events


def run_scenario(stack: Stack, report: Report) -> None:
    """The whole run: scenario, the faults, settle, verdicts, the workers' metrics."""
    db = Database(stack.database_url)
    user = User(stack.url)
    print("* scenario through nginx", flush=True)
    reader = User(stack.url)
    if not sign_up(stack, user, report) or not sign_up(stack, reader, report, *READER):
        return
    search_ids, target_id = set_up_bots(stack, user, report)
    first_scan = launch_scan(user, target_id) if target_id else None
    report.check("start a scan", first_scan is not None)
    if first_scan is not None:
        events = live_events(user, first_scan)
        progress = [data for kind, data in events if kind == "progress"]
        last = events[-1][1].get("status") if events else None
        report.check(
            "live progress of the scan streams through nginx (SSE unbuffered)",
            bool(progress) and last == "succeeded",
            f"{len(progress)} progress events, last status {last}",
        )
    first_round = wait_for(lambda: unfinished_runs(db) == 0 and db.value("SELECT count(*) FROM runs") >= 4, 150)
    report.check("the searches' first runs (scheduled by the leader) and the scan finish", bool(first_round))
    listings = db.value("SELECT count(*) FROM market_listings")
    report.check("listings found on the simulator", listings > 0, f"{listings} listings")
    mailed = wait_for(lambda: len(stack.smtp.messages_to(EMAIL)) >= 3, 60)
    report.check("notifications arrive by email", bool(mailed), f"{len(stack.smtp.messages_to(EMAIL))} emails")

    print("* chaos", flush=True)
    workers = [w for w in stack.workers if w.alive()]
    leader = leader_pid(db)
    followers = [w for w in workers if w.pid != leader] or workers
    chosen: dict[str, Any] = {"victim": followers[0], "held": 0}

    def runs_held_by(worker: Any) -> int:
        owner = f"%:{worker.pid}:%"
        sql = "SELECT count(*) FROM runs WHERE status = 'running' AND lease_owner LIKE :owner"
        return int(db.value(sql, owner=owner) or 0)

    def put_runs_in_flight() -> None:
        """Start runs and wait (up to 20 s) until a worker that does not lead holds some: that one is killed."""
        run_searches_now(user, search_ids)
        launch_scan(user, target_id)

        def busy_follower() -> Any:
            for worker in followers:
                if (held := runs_held_by(worker)) > 0:
                    chosen.update(victim=worker, held=held)
                    return worker
            return None

        wait_for(busy_follower, 20, interval=0.2)

    def kill_worker() -> None:
        victim = chosen["victim"]
        stack.supervisor.kill(victim, signal.SIGKILL)
        report.note(f"worker pid {victim.pid} killed while running {chosen['held']} run(s)")
        stack.workers.remove(victim)
        stack.workers.append(stack.start_worker(f"{victim.name}-restarted"))

    fault(report, user, "SIGKILL a worker in the middle of runs", kill_worker, prepare=put_runs_in_flight)

    def restart_redis() -> None:
        run_searches_now(user, search_ids)
        stack.redis.restart()

    fault(report, user, "restart Redis", restart_redis)
    report.check("the session survives the Redis restart", user.http.get("/api/v1/me").status_code == 200)

    def restart_postgres() -> None:
        launch_scan(user, target_id)
        stack.postgres.restart()

    fault(report, user, "restart the PostgreSQL primary", restart_postgres)

    old_leader = leader_pid(db)
    report.note(f"scheduler leader before the kill: pid {old_leader}")

    def kill_leader() -> None:
        run_searches_now(user, search_ids)
        doomed = next((w for w in stack.workers if w.pid == old_leader), None)
        if doomed is not None:
            stack.supervisor.kill(doomed, signal.SIGKILL)
            stack.workers.remove(doomed)

    fault(report, user, "SIGKILL the scheduler leader", kill_leader)
    started = time.monotonic()
    new_leader = wait_for(lambda: (pid := leader_pid(db)) not in (None, old_leader) and pid, 40)
    report.check(
        "another worker takes the scheduler lock",
        bool(new_leader) and new_leader in [w.pid for w in stack.workers],
        f"pid {new_leader} after {time.monotonic() - started:.1f} s",
    )

    run_searches_now(user, search_ids)
    faults.kill_a_web_process(stack, report, user, reader)
    faults.reload_nginx(stack, report, user, reader)
    faults.restart_nginx(stack, report, user, reader)
    faults.stop_and_start_the_replica(stack, report, user, reader)
    after_chaos = run_searches_now(user, search_ids)

    print("* settling", flush=True)
    settled = wait_for(lambda: unfinished_runs(db) == 0, 120, interval=1.0)
    report.check("no lost run: every run reached a final state", bool(settled), f"{unfinished_runs(db)} unfinished")
    verdicts(stack, db, report, after_chaos)
    faults.check_worker_metrics(stack, db, report)


def verdicts(stack: Stack, db: Database, report: Report, after_chaos: list[int]) -> None:
    by_status = dict(db.rows("SELECT status, count(*) FROM runs GROUP BY status"))
    report.note(f"runs by status: {by_status}")
    failed = db.rows("SELECT id, kind, error FROM runs WHERE status NOT IN ('succeeded')")
    report.check("every run succeeded", not failed, "; ".join(f"#{i} {k}: {e}" for i, k, e in failed[:5]))
    asked = sorted(set(ASKED))
    done = db.value("SELECT count(*) FROM runs WHERE id = ANY(:ids) AND status = 'succeeded'", ids=asked)
    report.check(
        "every run the user asked for (before, during, after faults) succeeded",
        done == len(asked) > 0,
        f"{done}/{len(asked)}",
    )
    if after_chaos:
        done = db.value("SELECT count(*) FROM runs WHERE id = ANY(:ids) AND status = 'succeeded'", ids=after_chaos)
        report.check("runs asked for after the chaos succeed", done == len(after_chaos), f"{done}/{len(after_chaos)}")
    retried = db.value("SELECT count(*) FROM runs WHERE attempt > 1")
    report.note(f"runs executed more than once (taken over after a crash or retried): {retried}")
    duplicates = {
        "listings": "SELECT marketplace, external_id FROM market_listings GROUP BY 1, 2 HAVING count(*) > 1",
        "matches": "SELECT search_id, listing_id FROM market_listing_matches GROUP BY 1, 2 HAVING count(*) > 1",
        "notifications": "SELECT idempotency_key FROM notifications GROUP BY 1 HAVING count(*) > 1",
        "deliveries": "SELECT notification_id, destination FROM notification_deliveries "
        "GROUP BY 1, 2 HAVING count(*) > 1",
        "findings": "SELECT scan_id, fingerprint FROM scan_findings GROUP BY 1, 2 HAVING count(*) > 1",
        "scans per run": "SELECT run_id FROM scans WHERE run_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1",
    }
    for name, sql in duplicates.items():
        rows = db.rows(sql)
        report.check(f"no duplicated {name}", not rows, f"{len(rows)} duplicated" if rows else "")
    counts = db.rows(
        "SELECT (SELECT count(*) FROM market_listings), (SELECT count(*) FROM market_listing_matches), "
        "(SELECT count(*) FROM notifications), (SELECT count(*) FROM scans), (SELECT count(*) FROM scan_findings)"
    )[0]
    report.note("listings {}, matches {}, notifications {}, scans {}, findings {}".format(*counts))
    settled = wait_for(lambda: not db.value("SELECT count(*) FROM notifications WHERE status = 'pending'"), 60)
    statuses = dict(db.rows("SELECT status, count(*) FROM notifications GROUP BY status"))
    report.check("every notification was delivered", bool(settled) and set(statuses) <= {"delivered"}, f"{statuses}")
    delivered = int(
        db.value("SELECT count(*) FROM notification_deliveries WHERE status = 'delivered' AND destination <> 'account'")
        or 0
    )
    ids = [str(message["Message-ID"]) for message in stack.smtp.messages_to(EMAIL)]
    channel_ids = [i for i in ids if "-channel-" in i]
    report.check(
        "the SMTP sink received each delivered channel email",
        len(set(channel_ids)) == delivered,
        f"{len(set(channel_ids))} distinct Message-IDs, {delivered} delivered rows",
    )
    repeated = len(channel_ids) - len(set(channel_ids))
    report.note(f"emails received twice (at-least-once window of a killed dispatcher, same Message-ID): {repeated}")
