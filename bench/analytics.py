"""Benchmark: admin analytics and the user dashboard on PostgreSQL at scale.

    .venv/bin/python bench/analytics.py                      # 1,000,000 listings, 100,000 findings, 10,000 users
    .venv/bin/python bench/analytics.py --scale 0.01         # a hundredth of that (the smoke test)

A throwaway PostgreSQL cluster (as the test suite starts one: fsync off) is migrated to head and filled
with ``generate_series`` in SQL: 10,000 users over a year, 2,050 saved searches (50 of them user 1's),
1,000,000 listings over a year on 8 marketplaces, 216,000 matches (20,000 of them user 1's), 200,000
runs of four kinds (5 % of market runs with a failing marketplace in their stats), 2,050 schedules,
1,000 scan targets, 10,000 scans, 100,000 findings, 100,000 notifications and deliveries, 5,000 feedback
messages; then ``ANALYZE``.

Measured, through the same functions and HTTP routes the pages use:

- admin analytics **cold**: the cache cleared before each call (``service.refresh_admin``), for the
  default 30-day window and for 365 days;
- admin analytics **cached**: ``GET /api/v1/admin/analytics`` through the whole app (auth, middleware,
  cache hit, JSON), and the cache hit alone;
- the **user dashboard** of user 1 (50 searches, 20,000 matched listings): ``GET /api/v1/analytics``
  and ``service.dashboard_for``, uncached (the cache cleared before each call) and cached (the stamp
  query and a cache hit), and the stamp query alone.

Results go to ``bench/results/analytics.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for entry in (str(ROOT / "src"), str(ROOT)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from sqlalchemy import text  # noqa: E402
from tests.support.client import app_client  # noqa: E402
from tests.support.databases import create_postgres_database  # noqa: E402
from tests.support.servers import postgres_server  # noqa: E402

from spyglass.accounts.auth import TOKEN_PREFIX, hash_token  # noqa: E402
from spyglass.accounts.models import ApiToken  # noqa: E402
from spyglass.analytics import service  # noqa: E402
from spyglass.analytics.freshness import dashboard_stamp  # noqa: E402
from spyglass.app import create_app  # noqa: E402
from spyglass.config import Settings  # noqa: E402
from spyglass.core.services import Services  # noqa: E402

SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"
RESULTS = ROOT / "bench" / "results" / "analytics.json"
MARKETPLACES = "ARRAY['ebay','craigslist','facebook','offerup','mercari','poshmark','ksl','rss']"
AGO = "now() - make_interval(secs => random() * 365 * 86400)"


def sizes(scale: float) -> dict[str, int]:
    """Row counts at ``scale`` (1.0: the issue's figures); user 1's 50 searches and 20,000 listings stay."""

    def n(full: int) -> int:
        return max(1, int(full * scale))

    return {
        "users": max(n(10_000), 60),
        "other_searches": n(2_000),
        "listings": max(n(1_000_000), 20_000),
        "runs": n(200_000),
        "targets": max(n(1_000), 10),
        "scans": max(n(10_000), 100),
        "findings": max(n(100_000), 1_000),
        "notifications": n(100_000),
        "feedback": n(5_000),
    }


def fill_statements(size: dict[str, int]) -> list[tuple[str, str]]:
    """(what, SQL) that fill the database; ids start at 1 in each fresh table."""
    searches = 50 + size["other_searches"]
    return [
        (
            "users",
            f"""INSERT INTO users (username, email, password_hash, role, is_active, session_epoch, created_at,
                  updated_at, last_login_at, last_seen_at)
                SELECT 'user' || g, 'user' || g || '@bench.test', 'x', CASE WHEN g = 2 THEN 'admin' ELSE 'user' END,
                  true, 0, {AGO}, now(),
                  CASE WHEN random() < 0.7 THEN now() - make_interval(secs => random() * 60 * 86400) END,
                  CASE WHEN random() < 0.3 THEN now() - make_interval(secs => random() * 10 * 86400) END
                FROM generate_series(1, {size["users"]}) g""",
        ),
        (
            "searches",
            f"""INSERT INTO market_searches (user_id, name, marketplaces, keywords, excluded_words, options,
                  use_browser, interval_seconds, enabled, alert_mode, listings_found, runs_completed, created_at,
                  updated_at)
                SELECT CASE WHEN g <= 50 THEN 1 ELSE 3 + (g % ({size["users"]} - 3)) END, 'search ' || g,
                  '["ebay", "craigslist"]', 'bike', '[]', '{{}}', false, 1800, g % 10 <> 0, 'instant', 0, 0,
                  now(), now()
                FROM generate_series(1, {searches}) g""",
        ),
        (
            "listings",
            f"""INSERT INTO market_listings (marketplace, external_id, url, title, description, price, currency,
                  images, first_seen_at, last_seen_at, status)
                SELECT ({MARKETPLACES})[1 + g % 8], 'item-' || g, 'https://shop.example.test/' || g,
                  'Listing ' || g, '', round((1 + random() * 2000)::numeric, 2), 'USD', '[]', ts, ts,
                  CASE WHEN random() < 0.8 THEN 'active' ELSE 'gone' END
                FROM (SELECT g, {AGO} AS ts FROM generate_series(1, {size["listings"]}) g) s""",
        ),
        (
            "matches",
            f"""INSERT INTO market_listing_matches (search_id, listing_id, user_id, first_matched_at,
                  last_matched_at, seen, missed_runs, deal_percent)
                SELECT s.id, l.id, s.user_id, l.first_seen_at, l.last_seen_at, false, 0,
                  round((random() * 100 - 50)::numeric, 1)
                FROM market_listings l JOIN market_searches s
                  ON s.id = CASE WHEN l.id <= 20000 THEN 1 + l.id % 50 ELSE 51 + l.id % {size["other_searches"]} END
                WHERE l.id <= 20000 OR l.id % 5 = 0""",
        ),
        (
            "schedules",
            """INSERT INTO schedules (kind, user_id, subject_id, interval_seconds, next_run_at, enabled, payload,
                  created_at, updated_at)
                SELECT 'market.search', user_id, id, 1800, now(), true, '{}', now(), now() FROM market_searches""",
        ),
        (
            "runs",
            f"""INSERT INTO runs (kind, user_id, subject_id, schedule_id, payload, status, attempt, max_attempts,
                  progress, stage, stats, cancel_requested, created_at, not_before, started_at, finished_at, error)
                SELECT kind, NULL, subject, CASE WHEN kind = 'market.search' THEN subject END, '{{}}', status, 1, 3,
                  100, '', CASE WHEN kind = 'market.search' AND status = 'succeeded' AND random() < 0.05
                    THEN ('{{"errors": {{"' || ({MARKETPLACES})[1 + g % 8] || '": "timed out"}}}}')::json
                    ELSE '{{}}'::json END,
                  false, due, due, due + make_interval(secs => random() * 5),
                  due + make_interval(secs => 5 + random() * 60),
                  CASE WHEN status = 'failed' THEN 'boom' END
                FROM (SELECT g, (ARRAY['market.search', 'market.search', 'scanner.scan',
                        'notifications.dispatch'])[1 + g % 4] AS kind,
                        1 + g % {searches} AS subject,
                        CASE WHEN random() < 0.85 THEN 'succeeded' WHEN random() < 0.7 THEN 'failed'
                          ELSE 'cancelled' END AS status,
                        {AGO} AS due
                      FROM generate_series(1, {size["runs"]}) g) r""",
        ),
        (
            "targets",
            f"""INSERT INTO scan_targets (user_id, name, base_url, host, include_paths, exclude_paths, max_depth,
                  max_pages, max_requests, time_limit_seconds, requests_per_second, concurrency, verification_token,
                  created_at, updated_at)
                SELECT CASE WHEN g <= 5 THEN 1 ELSE 3 + g % ({size["users"]} - 3) END, 'site ' || g,
                  'https://site' || g || '.example.test/', 'site' || g || '.example.test', '[]', '[]', 5, 200, 5000,
                  1800, 10, 4, md5(g::text), now(), now()
                FROM generate_series(1, {size["targets"]}) g""",
        ),
        (
            "scans",
            f"""INSERT INTO scans (user_id, target_id, profile, families, status, created_at, started_at,
                  finished_at, pages_crawled, requests_sent, findings_count, severity_counts, risk_score)
                SELECT t.user_id, t.id, 'passive', '[]', CASE WHEN random() < 0.9 THEN 'succeeded' ELSE 'failed' END,
                  s.ts, s.ts, s.ts + interval '10 minutes', 10, 100, 10, '{{}}', (random() * 100)::int
                FROM (SELECT g, 1 + g % {size["targets"]} AS target, {AGO} AS ts
                      FROM generate_series(1, {size["scans"]}) g) s JOIN scan_targets t ON t.id = s.target""",
        ),
        (
            "findings",
            f"""INSERT INTO scan_findings (scan_id, target_id, user_id, type_id, title, family, fingerprint, url,
                  method, evidence, request_excerpt, response_excerpt, details, confidence, severity, cwe, owasp,
                  cvss_vector, cvss_score, priority, threat_class, priority_why, first_seen_at, status, status_note,
                  created_at, updated_at)
                SELECT s.id, s.target_id, s.user_id, 'type', 'Finding', 'headers', 'fp' || f.k, 'https://x.test/',
                  'GET', '', '', '', '{{}}', 'firm', (ARRAY['critical','high','medium','low','info'])[1 + f.g % 5],
                  0, '', '', 0, 50, 'Informational', '[]', s.finished_at - make_interval(secs => random() * 30 * 86400),
                  CASE WHEN random() < 0.8 THEN 'open' ELSE 'false_positive' END, '', s.finished_at, s.finished_at
                FROM (SELECT g, 1 + g % {size["scans"]} AS scan, g / {size["scans"]} AS k
                      FROM generate_series(0, {size["findings"] - 1}) g) f JOIN scans s ON s.id = f.scan""",
        ),
        (
            "notifications",
            f"""INSERT INTO notifications (user_id, event, payload, idempotency_key, status, attempts,
                  next_attempt_at, created_at)
                SELECT 1 + g % {size["users"]}, 'market.new_listings', '{{}}', 'bench-' || g, 'delivered', 1, ts, ts
                FROM (SELECT g, {AGO} AS ts FROM generate_series(1, {size["notifications"]}) g) n""",
        ),
        (
            "deliveries",
            """INSERT INTO notification_deliveries (notification_id, destination, channel_label, user_id, status,
                  attempt, created_at, updated_at)
                SELECT id, 'account', 'Email', user_id, CASE WHEN random() < 0.95 THEN 'delivered' ELSE 'failed' END,
                  1, created_at, created_at
                FROM notifications""",
        ),
        (
            "feedback",
            f"""INSERT INTO feedback (user_id, kind, message, rating, status, created_at, updated_at)
                SELECT 1 + g % {size["users"]}, (ARRAY['bug','feature','question','other'])[1 + g % 4], 'words',
                  CASE WHEN g % 3 = 0 THEN NULL ELSE 1 + g % 5 END,
                  (ARRAY['new','in_progress','resolved','closed'])[1 + g % 4], now(), now()
                FROM generate_series(1, {size["feedback"]}) g""",
        ),
    ]


async def fill(url: str, size: dict[str, int]) -> dict[str, float]:
    """Run the fill statements and ANALYZE; seconds each took."""
    from spyglass.core.db import create_engine

    engine = create_engine(url)
    took: dict[str, float] = {}
    try:
        for what, sql in fill_statements(size):
            started = time.perf_counter()
            async with engine.begin() as connection:
                # the generated rows are consistent by construction: skip the foreign-key triggers
                await connection.execute(text("SET LOCAL session_replication_role = replica"))
                await connection.execute(text(sql))
            took[what] = round(time.perf_counter() - started, 2)
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))
    finally:
        await engine.dispose()
    return took


async def add_token(services: Services, user_id: int) -> str:
    """A personal API token of ``user_id`` (its hash stored, as the app does)."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with services.db.session(write=True) as session:
        session.add(ApiToken(user_id=user_id, name="bench", token_hash=hash_token(raw), prefix=raw[:10]))
    return raw


async def timed(
    call: Callable[[], Awaitable[Any]], repeat: int, before: Callable[[], Awaitable[Any]] | None = None
) -> dict[str, float]:
    """Milliseconds per call: p50, p95, max over ``repeat`` calls (``before`` runs untimed before each)."""
    samples: list[float] = []
    for _ in range(repeat):
        if before is not None:
            await before()
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.95))], 2),
        "max_ms": round(samples[-1], 2),
        "n": repeat,
    }


async def measure(url: str, *, cold_repeat: int, warm_repeat: int, dashboard_repeat: int) -> dict[str, Any]:
    """Cold, cached and dashboard timings against the filled database at ``url``."""
    settings = Settings(
        environment="development", data_dir=Path("/tmp"), database_url=url, secret_key=SECRET,
        log_level="WARNING", rate_limit_enabled=False,
    )  # type: ignore[call-arg]  # fmt: skip
    services = Services.build(settings)
    results: dict[str, Any] = {}
    try:
        admin_token = await add_token(services, 2)
        user_token = await add_token(services, 1)

        async def refresh() -> None:
            await service.refresh_admin(services)

        for days in (30, 365):
            results[f"admin_cold_{days}d"] = await timed(
                lambda days=days: service.admin_overview(services, days=days), cold_repeat, refresh
            )
        await service.admin_overview(services, days=30)
        results["admin_cache_hit"] = await timed(lambda: service.admin_overview(services, days=30), warm_repeat)
        results["dashboard_function_uncached"] = await timed(
            lambda: service.dashboard_for(services, user_id=1, days=30), dashboard_repeat, refresh
        )
        results["dashboard_function"] = await timed(
            lambda: service.dashboard_for(services, user_id=1, days=30), dashboard_repeat
        )
        async with service.analytics_session(services) as session:
            results["dashboard_stamp"] = await timed(lambda: dashboard_stamp(session, 1), dashboard_repeat)

        app = create_app(settings, services=services)
        async with app_client(app, base_url="http://bench.local") as client:
            admin = {"Authorization": f"Bearer {admin_token}"}
            user = {"Authorization": f"Bearer {user_token}"}

            async def admin_get() -> None:
                response = await client.get("/api/v1/admin/analytics", headers=admin)
                assert response.status_code == 200, response.text[:200]

            async def dashboard_get() -> None:
                response = await client.get("/api/v1/analytics", headers=user)
                assert response.status_code == 200, response.text[:200]

            await admin_get()
            await dashboard_get()
            results["admin_cached_http"] = await timed(admin_get, warm_repeat)
            results["dashboard_http_uncached"] = await timed(dashboard_get, dashboard_repeat, refresh)
            results["dashboard_http"] = await timed(dashboard_get, dashboard_repeat)
            dashboard = (await client.get("/api/v1/analytics", headers=user)).json()
            results["dashboard_user_matches_in_window"] = sum(
                row[2] for row in next(s for s in dashboard["series"] if s["name"] == "listings_per_day")["rows"]
            )
    finally:
        await services.close()
    return results


async def run_benchmark(
    *, scale: float = 1.0, cold_repeat: int = 5, warm_repeat: int = 200, dashboard_repeat: int = 20
) -> dict[str, Any]:
    """Start PostgreSQL, fill it at ``scale``, measure; the result document."""
    size = sizes(scale)
    with postgres_server() as admin_url:
        url = await create_postgres_database(admin_url, "bench_analytics")
        started = time.perf_counter()
        fill_seconds = await fill(url, size)
        fill_total = round(time.perf_counter() - started, 1)
        results = await measure(
            url, cold_repeat=cold_repeat, warm_repeat=warm_repeat, dashboard_repeat=dashboard_repeat
        )
    return {
        "benchmark": "analytics",
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "rows": size,
        "fill_seconds": fill_seconds,
        "fill_total_seconds": fill_total,
        "results": results,
        "targets_ms": {"admin_cold": 2000, "admin_cached": 20, "dashboard": 100},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the issue's row counts")
    parser.add_argument("--cold", type=int, default=5, help="cold calls per window")
    parser.add_argument("--warm", type=int, default=200, help="cached calls")
    args = parser.parse_args()
    document = asyncio.run(run_benchmark(scale=args.scale, cold_repeat=args.cold, warm_repeat=args.warm))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2))
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
