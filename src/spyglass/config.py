"""Settings: one class, read from ``SPYGLASS_*`` environment variables and ``.env``.

Every field is documented in ``docs/configuration.md``. There are no secret
fallbacks: in development the secret key is generated once and kept in the data
folder; in production a missing or weak secret stops the process at start-up.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "dev", "development", "insecure", "password"}
MIN_SECRET_LENGTH = 32


class ConfigurationError(RuntimeError):
    """The settings cannot be used; the message says which one and why."""


class Settings(BaseSettings):
    """All of Spyglass's configuration."""

    model_config = SettingsConfigDict(env_prefix="SPYGLASS_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("data")
    secret_key: SecretStr | None = None

    database_url: str | None = None
    database_replica_url: str | None = None
    # PostgreSQL connections per process: `database_pool_size` kept open plus as many again in bursts; a
    # request that waits `database_pool_timeout_seconds` for one answers 503 (try again) instead of hanging.
    database_pool_size: int = Field(default=10, ge=1, le=500)
    database_pool_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # Reads that tolerate lag (analytics, listing pages) go to the replica; a user who wrote in the last
    # `database_replica_read_your_writes_seconds` reads the primary; an unreachable replica is retried after
    # `database_replica_retry_seconds` (reads use the primary meanwhile).
    database_replica_read_your_writes_seconds: float = Field(default=5.0, ge=0, le=3600)
    database_replica_retry_seconds: float = Field(default=10.0, gt=0, le=3600)
    database_replica_connect_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    # Where pages load fingerprinted static files from: empty serves them from this app at /static; a CDN
    # origin-pulling /static, e.g. https://cdn.example.com/static (see core/assets.py, docs/operations.md).
    static_url: str = ""
    # Retention jobs (core/retention.py, hourly): finished runs and listings gone this many days are deleted,
    # `retention_batch_size` rows per transaction.
    retention_runs_days: int = Field(default=90, ge=1)
    retention_gone_listings_days: int = Field(default=30, ge=1)
    retention_batch_size: int = Field(default=1000, ge=1, le=100_000)
    redis_url: str | None = None

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    base_url: str = "http://127.0.0.1:8000"
    # NoDecode: the env value is a comma-separated list, split by _split_csv (not JSON).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"

    max_body_bytes: int = Field(default=2_000_000, ge=1024)
    default_page_size: int = Field(default=25, ge=1, le=200)
    max_page_size: int = Field(default=100, ge=1, le=1000)

    session_idle_seconds: int = Field(default=3600, ge=60)
    allow_registration: bool = True
    email_verification_ttl_hours: int = Field(default=48, ge=1)
    password_reset_ttl_minutes: int = Field(default=60, ge=5)

    password_min_length: int = Field(default=8, ge=8, le=128)
    password_require_upper: bool = False
    password_require_digit: bool = False
    password_require_special: bool = False

    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    mail_from: str = "Spyglass <spyglass@localhost>"

    rate_limit_enabled: bool = True
    rate_limit_api: str = "60/minute"
    rate_limit_bot_controls: str = "10/minute"
    rate_limit_settings: str = "30/minute"
    rate_limit_login: str = "5 per 5 minutes"
    rate_limit_register: str = "3/hour"
    rate_limit_feedback: str = "5/hour"

    cache_ttl_sessions: int = Field(default=300, ge=0)
    cache_ttl_settings: int = Field(default=300, ge=0)
    # A user's cached market pages and API answers (core/view_cache.py). Every write of the user's own and
    # every run of their searches replaces them at once; this bounds what nothing announces (a listing another
    # user's search updated, the next run time moving). 0 turns the view cache off.
    cache_ttl_views: int = Field(default=30, ge=0, le=3600)
    cache_ttl_analytics: int = Field(default=3600, ge=0)

    audit_retention_days: int = Field(default=365, ge=1)

    worker_concurrency: int = Field(default=100, ge=1, le=5000)
    engine_tick_seconds: float = Field(default=1.0, gt=0, le=60)
    engine_lease_seconds: float = Field(default=30.0, ge=2)
    engine_heartbeat_seconds: float = Field(default=1.0, gt=0, le=30)
    engine_batch_size: int = Field(default=500, ge=1, le=10000)
    engine_redeliver_after_seconds: float = Field(default=300.0, ge=5)
    engine_default_interval_seconds: int = Field(default=600, ge=1)
    engine_min_interval_seconds: int = Field(default=60, ge=1)
    engine_max_schedules_per_user: int = Field(default=100, ge=0)
    # `spyglass worker` serves its Prometheus metrics on host:port when the port is set (engine/worker_metrics.py).
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)

    # Outbound HTTP (core/urlpolicy.py, core/fetch.py). Target lists: comma-separated CIDR networks and host names.
    allow_private_targets: str = ""
    verified_targets: str = ""
    http_user_agent: str | None = None
    http_timeout_seconds: float = Field(default=20.0, gt=0)
    http_max_response_bytes: int = Field(default=5_000_000, ge=1024)
    http_per_host_concurrency: int = Field(default=4, ge=1)
    http_per_host_delay_seconds: float = Field(default=1.0, ge=0)
    http_proxy: str | None = None
    http_max_redirects: int = Field(default=5, ge=0, le=20)

    # --- Market bots (src/spyglass/market) ---
    market_max_searches_per_user: int = Field(default=25, ge=0, le=10_000)
    market_min_interval_seconds: int = Field(default=300, ge=1)
    market_default_interval_seconds: int = Field(default=1800, ge=1)
    # JSON object: adapter name -> base URL that replaces the site's (the simulator, tests, a self-hosted shop).
    market_endpoints: dict[str, str] = Field(default_factory=dict)
    market_gone_after_runs: int = Field(default=2, ge=1, le=100)
    market_preview_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    market_max_listings_per_run: int = Field(default=500, ge=1, le=10_000)
    # Results pages a search reads per marketplace that paginates (Craigslist, eBay, jsonld/recipe next links).
    market_max_pages: int = Field(default=3, ge=1, le=20)
    # Seconds between two results pages of one search; unset: each adapter's politeness delay (1-3 s).
    market_page_delay_seconds: float | None = Field(default=None, ge=0, le=60)
    market_image_hashes_per_run: int = Field(default=20, ge=0, le=1000)
    market_image_max_bytes: int = Field(default=3_000_000, ge=1024)
    # Adapters (src/spyglass/market/adapters): Craigslist's published area list (location -> nearest site).
    market_adapter_craigslist_areas_url: str = "https://reference.craigslist.org/Areas"
    market_adapter_areas_cache_seconds: float = Field(default=86_400.0, ge=0)
    # eBay Browse API application keyset (developer.ebay.com); unset: the adapter reads the HTML results page.
    market_ebay_client_id: str | None = None
    market_ebay_client_secret: SecretStr | None = None
    market_ebay_marketplace_id: str = "EBAY_US"
    # `spyglass demo-market`: the simulator's random seed and seconds per step (one step: new/cheaper/gone listings).
    market_simulator_seed: int = 7
    market_simulator_step_seconds: float = Field(default=60.0, gt=0)

    # --- Security scans (src/spyglass/scanner) ---
    # DNS servers for TXT ownership proofs ("host" or "host:port", comma-separated); empty: the system's.
    scanner_dns_nameservers: str = ""
    scanner_dns_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    scanner_max_targets_per_user: int = Field(default=50, ge=1)
    scanner_max_active_scans_per_user: int = Field(default=5, ge=1)
    scanner_max_requests_per_scan: int = Field(default=20_000, ge=10)
    scanner_max_time_limit_seconds: int = Field(default=7200, ge=10)
    # A finding whose priority reaches this sends a "high-risk finding" notification.
    scanner_high_risk_priority: int = Field(default=70, ge=0, le=100)
    scanner_http_max_body_bytes: int = Field(default=1_000_000, ge=1024)
    scanner_pipeline_check_concurrency: int = Field(default=8, ge=1, le=64)
    scanner_pipeline_progress_interval_seconds: float = Field(default=1.0, gt=0)
    scanner_pipeline_max_variants_per_path: int = Field(default=5, ge=1, le=1000)
    # SSRF callback listener (spyglass.scanner.callback): off unless targets can reach it; the public URL is what
    # targets are asked to fetch (empty: http://host:port of the listener itself).
    scanner_callback_enabled: bool = False
    scanner_callback_host: str = "127.0.0.1"
    scanner_callback_port: int = Field(default=0, ge=0, le=65535)
    scanner_callback_public_url: str = ""

    # --- Notifications (src/spyglass/notifications) ---
    notifications_batch_size: int = Field(default=100, ge=1, le=1000)
    notifications_send_concurrency: int = Field(default=20, ge=1, le=200)
    notifications_max_attempts: int = Field(default=6, ge=1, le=50)
    notifications_retry_base_seconds: float = Field(default=30.0, gt=0)
    notifications_retry_cap_seconds: float = Field(default=3600.0, gt=0)
    notifications_lease_seconds: float = Field(default=60.0, ge=5)
    notifications_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    notifications_wake_gather_seconds: float = Field(default=0.05, ge=0, le=5)
    notifications_linger_seconds: float = Field(default=55.0, ge=0, le=3000)
    notifications_digest_hours: int = Field(default=24, ge=1, le=24 * 7)
    notifications_send_timeout_seconds: float = Field(default=20.0, gt=0)
    # Earlier values of secret_key, comma-separated: sealed channel targets still open with them until
    # `spyglass notifications rotate-key` has re-sealed them with the current one.
    notifications_previous_secret_keys: SecretStr | None = None

    # --- Feedback and onboarding (src/spyglass/feedback) ---
    feedback_max_message_length: int = Field(default=5000, ge=100, le=100_000)
    admin_alert_worker_stale_seconds: int = Field(default=60, ge=5)
    admin_alert_failure_window_seconds: int = Field(default=900, ge=60)
    admin_alert_failure_rate: float = Field(default=0.5, gt=0, le=1)
    admin_alert_failure_min_runs: int = Field(default=10, ge=1)
    admin_alert_queue_wait_seconds: int = Field(default=300, ge=1)
    admin_alert_queue_count: int = Field(default=50, ge=1)
    admin_alert_repeat_seconds: int = Field(default=3600, ge=60)

    # --- Analytics (src/spyglass/analytics) ---
    # Dashboards cover the last `analytics_default_days` days; `?days=` may ask for up to `analytics_max_days`.
    # The admin page is cached for `cache_ttl_analytics` seconds (refresh button on the page).
    analytics_default_days: int = Field(default=30, ge=1, le=3660)
    analytics_max_days: int = Field(default=365, ge=1, le=3660)
    analytics_top_limit: int = Field(default=10, ge=1, le=100)
    analytics_histogram_buckets: int = Field(default=10, ge=2, le=50)
    analytics_best_deals: int = Field(default=5, ge=1, le=50)
    # A user's dashboard is cached this long at most; a change to the user's own rows shows at once (0: off).
    analytics_dashboard_cache_seconds: int = Field(default=60, ge=0, le=3600)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("allow_private_targets", "verified_targets")
    @classmethod
    def _check_target_list(cls, value: str) -> str:
        for entry in (part.strip() for part in value.split(",")):
            if entry and not _is_target_entry(entry):
                raise ValueError(f"{entry!r} is neither a CIDR network, an IP address nor a host name")
        return value

    @field_validator("static_url")
    @classmethod
    def _check_static_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("http://", "https://", "/")):
            raise ValueError("static_url must be empty, a path starting with / or an http(s):// URL")
        return value.rstrip("/")

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _enforce_secret(self) -> Settings:
        if self.environment == "production":
            problem = secret_problem(self.secret_key.get_secret_value() if self.secret_key else None)
            if problem:
                raise ConfigurationError(f"SPYGLASS_SECRET_KEY {problem}; production mode refuses to start.")
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite in the data folder (embedded mode)."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'spyglass.db').resolve()}"

    @property
    def database_backend(self) -> str:
        return "sqlite" if self.resolved_database_url.startswith("sqlite") else "postgresql"

    @property
    def user_agent(self) -> str:
        """The User-Agent of every outbound request: ``http_user_agent`` or ``Spyglass/<version> (+<base_url>)``."""
        if self.http_user_agent:
            return self.http_user_agent
        from spyglass import __version__

        return f"Spyglass/{__version__} (+{self.base_url})"

    @property
    def cookies_secure(self) -> bool:
        return self.base_url.startswith("https://")

    def secret(self) -> str:
        """The secret key; in development it is generated once and kept in ``data_dir/secret_key``."""
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value()
            problem = secret_problem(value)
            if problem:
                raise ConfigurationError(f"SPYGLASS_SECRET_KEY {problem}.")
            return value
        if self.is_production:  # pragma: no cover - the validator already refused this
            raise ConfigurationError("SPYGLASS_SECRET_KEY is required in production.")
        return _load_or_create_secret(self.data_dir / "secret_key")


def secret_problem(value: str | None) -> str | None:
    """Why ``value`` is not an acceptable secret key, or None when it is."""
    if not value:
        return "is missing"
    if value.strip().lower() in PLACEHOLDER_SECRETS:
        return "is a placeholder value"
    if len(value) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    if len(set(value)) < 8:
        return "is too repetitive to be secret"
    return None


def _is_target_entry(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
        return True
    except ValueError:
        return re.fullmatch(r"\*?\.?[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?", entry) is not None


def _load_or_create_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def get_settings(**overrides: object) -> Settings:
    """Read the settings from the environment, with explicit overrides (used by the CLI and tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]
