"""The cluster test's faults at the edge — a web process, nginx, the read replica — and the check of the workers'
metrics. The web and nginx faults are dealt while a second person reads pages through nginx from a few threads;
every answer is recorded and judged."""

from __future__ import annotations

import time

from scripts.cluster.harness import Database, Report, User, fault, leader_pid, wait_for
from scripts.cluster.metrics import Samples, label_values, scrape, total
from scripts.cluster.stack import Stack
from scripts.cluster.traffic import Traffic

#: What the reader reads during the faults: both signed-in pages; the dashboard's reads may use the replica.
READER_PAGES = ["/dashboard", "/market/searches"]
REPLICA_TARGETS = ("replica", "own-write", "replica-down")
HEARTBEAT_FRESH_SECONDS = 3.0


def kill_a_web_process(stack: Stack, report: Report, user: User, reader: User) -> None:
    """SIGKILL one ``spyglass web`` while pages are read through nginx; nginx must pass every read to the other
    process (``proxy_next_upstream``); then the process is started again and must serve through nginx."""
    name = "SIGKILL a web process while requests flow"
    index = 0
    with Traffic(stack.url, reader.http.cookies, READER_PAGES, pause=0.05) as traffic:
        time.sleep(1.0)
        killed = time.monotonic()
        fault(report, user, name, lambda: stack.kill_web(index))
        time.sleep(0.5)  # then started again at once: the outage lasts as long as its start-up (seconds)
        stack.restart_web(index)
        back = time.monotonic()
        time.sleep(1.5)
    outage = [answer for answer in traffic.since(killed) if answer.sent < back]
    after = traffic.since(back)
    failed = Traffic.failed(outage + after)
    report.check(
        f"{name}: every read through nginx answered 200 while it was down",
        len(outage) >= 10 and not failed,
        f"{len(outage)} reads in the {back - killed:.1f} s until it was back ({Traffic.summary(outage)}); "
        f"{len(after)} after ({Traffic.summary(after)})",
    )
    served = sum(
        total(scrape(f"{stack.web_url(index)}/metrics"), "spyglass_http_requests_total", route=page, status="200")
        for page in READER_PAGES
    )
    report.check(
        "the restarted web process serves through nginx again",
        served > 0,
        f"{served:.0f} page reads served by it since its restart",
    )


def reload_nginx(stack: Stack, report: Report, user: User, reader: User) -> None:
    """Reload nginx with a changed configuration while pages are read: no read may fail, and the new
    configuration must answer (its ``X-Cluster-Config`` header)."""
    name = "reload nginx with a changed configuration"
    with Traffic(stack.url, reader.http.cookies, READER_PAGES) as traffic:
        time.sleep(0.5)
        reloaded = time.monotonic()
        generation = str(stack.nginx_generation + 1)
        fault(report, user, name, stack.reload_nginx)
        seen = wait_for(lambda: any(a.config == generation for a in traffic.since(reloaded)), 10, interval=0.1)
        time.sleep(0.5)
    answers = traffic.answers
    failed = Traffic.failed(answers)
    report.check(
        f"{name}: every read answered, the new configuration serves",
        bool(seen) and not failed,
        f"{len(answers)} reads ({Traffic.summary(answers)}); configuration {generation} "
        f"{'seen' if seen else 'never seen'}",
    )


def restart_nginx(stack: Stack, report: Report, user: User, reader: User) -> None:
    """Stop nginx and start it again: both people are still signed in afterwards (sessions live in Redis)."""
    fault(report, user, "restart nginx", stack.restart_nginx)
    page = reader.http.get("/dashboard")
    me = user.http.get("/api/v1/me")
    report.check(
        "the sessions survive the nginx restart",
        page.status_code == 200 and me.status_code == 200,
        f"reader's dashboard {page.status_code}, API /me {me.status_code}",
    )


def replica_reads(stack: Stack) -> dict[str, float]:
    """``spyglass_db_replica_reads_total`` by target, summed over the web processes (scraped directly). A read
    that tries the replica and cannot connect counts ``replica`` and then ``replica-down``."""
    totals = dict.fromkeys(REPLICA_TARGETS, 0.0)
    for index in range(len(stack.web_ports)):
        samples = scrape(f"{stack.web_url(index)}/metrics")
        for target in REPLICA_TARGETS:
            totals[target] += total(samples, "spyglass_db_replica_reads_total", target=target)
    return totals


def _dashboard_reads(reader: User, count: int) -> list[int]:
    return [reader.http.get("/dashboard").status_code for _ in range(count)]


def stop_and_start_the_replica(stack: Stack, report: Report, user: User, reader: User) -> None:
    """Stop the streaming replica: the dashboard (its reads opt in to the replica) must still answer, from the
    primary; start it again: reads must go back to it. The web processes' replica counters are the proof."""
    if stack.replica is None:
        report.note("no replica (--no-replica): the replica fault is skipped")
        return
    before = replica_reads(stack)
    fault(report, user, "stop the streaming replica", stack.stop_replica)
    statuses = _dashboard_reads(reader, 6)
    during = replica_reads(stack)
    down = during["replica-down"] - before["replica-down"]
    tried = during["replica"] - before["replica"]
    report.check(
        "replica stopped: reads that opted in fall back to the primary without errors",
        set(statuses) == {200} and down >= 1 and tried <= down,
        f"dashboard {statuses}; replica-down +{down:.0f}, replica tried +{tried:.0f} (each try failed)",
    )
    started = time.monotonic()
    stack.start_replica()

    def served_by_replica() -> bool:
        # A window of reads with new ``replica`` decisions and no ``replica-down``: they connected to it.
        first = replica_reads(stack)
        answered = _dashboard_reads(reader, 2)
        last = replica_reads(stack)
        return (
            answered == [200, 200]
            and last["replica"] > first["replica"]
            and last["replica-down"] == first["replica-down"]
        )

    back = wait_for(served_by_replica, 30, interval=0.5)
    connected = _replica_connections(stack)
    report.check(
        "replica started again: reads go back to it",
        bool(back) and connected > 0,
        f"after {time.monotonic() - started:.1f} s; {connected} web connection(s) open on the replica",
    )


def _replica_connections(stack: Stack) -> int:
    """Spyglass connections (``application_name`` spyglass-<pid>) open on the replica."""
    assert stack.replica is not None
    replica = Database(stack.replica.url_for(stack.database_url))
    sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'spyglass-%'"
    return int(replica.value(sql) or 0)


def check_worker_metrics(stack: Stack, db: Database, report: Report) -> None:
    """Scrape every live worker's ``/metrics``: one leader (the holder of the scheduler lock), fresh heartbeats,
    the ids of live workers, finished runs counted, and an empty queue once everything settled."""
    scraped: dict[int, Samples] = {}
    errors = []
    for worker in [w for w in stack.workers if w.alive()]:
        try:
            scraped[worker.pid] = scrape(stack.worker_metrics_url(worker))
        except Exception as exc:
            errors.append(f"{worker.name}: {exc}")
    answered = bool(scraped) and not errors
    if not report.check("worker metrics: every worker answers /metrics", answered, "; ".join(errors)):
        return
    holder = leader_pid(db)
    leaders = sorted(pid for pid, samples in scraped.items() if total(samples, "spyglass_worker_leader") == 1)
    report.check(
        "worker metrics: exactly one worker reports leading, the holder of the scheduler lock",
        leaders == [holder],
        f"reported by {leaders}, lock held by {holder}",
    )
    ages = {pid: total(samples, "spyglass_worker_heartbeat_age_seconds") for pid, samples in scraped.items()}
    report.check(
        f"worker metrics: every heartbeat is fresh (< {HEARTBEAT_FRESH_SECONDS:g} s)",
        all(0 <= age < HEARTBEAT_FRESH_SECONDS for age in ages.values()),
        ", ".join(f"{pid}: {age:.2f} s" for pid, age in ages.items()),
    )
    ids = set().union(*(label_values(samples, "spyglass_worker_info", "worker_id") for samples in scraped.values()))
    live = {row[0] for row in db.rows("SELECT worker_id FROM worker_heartbeats")}
    report.check(
        "worker metrics: each worker's id is a live heartbeat's",
        len(ids) == len(scraped) and ids <= live,
        f"{len(ids)} ids, {len(ids - live)} unknown",
    )
    finished = sum(total(s, "spyglass_runs_finished_total", status="succeeded") for s in scraped.values())
    succeeded = int(db.value("SELECT count(*) FROM runs WHERE status = 'succeeded'") or 0)
    report.check(
        "worker metrics: the live workers count the runs they finished",
        0 < finished <= succeeded,
        f"{finished:.0f} counted by the live workers, {succeeded} succeeded in all (killed workers' counts are gone)",
    )

    def queue_empty() -> bool:
        return all(total(scrape(stack.worker_metrics_url(w)), "spyglass_queue_depth") == 0 for w in stack.workers)

    report.check("worker metrics: every worker reports an empty queue once settled", bool(wait_for(queue_empty, 12)))
