"""Targets and scans: validation, ownership checks, launching and cancelling scans.

Never commits; every lookup is scoped to the owner (``core.tenancy``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.config import Settings
from spyglass.core.db import utcnow
from spyglass.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from spyglass.core.fetch import Fetcher
from spyglass.core.tenancy import get_owned, owned_by
from spyglass.core.urlpolicy import UrlRefused
from spyglass.engine import service as engine_service
from spyglass.engine.models import Run, RunStatus
from spyglass.scanner import verification
from spyglass.scanner.catalogue import all_finding_types
from spyglass.scanner.models import Scan, ScanStatus, ScanTarget, VerificationMethod

SCAN_KIND = "scanner.scan"
PROFILES = ("passive", "active", "custom")
AUTH_KINDS = ("cookie", "header", "form")
MASK = "••••••"
NAME_MAX = 100
PATTERN_MAX = 200
PATTERNS_MAX = 20
FAMILY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
FORBIDDEN_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}

#: field: (minimum, maximum or the setting that caps it, default)
LIMITS: dict[str, tuple[float, float | str, float]] = {
    "max_depth": (0, 20, 5),
    "max_pages": (1, 10_000, 200),
    "max_requests": (10, "scanner_max_requests_per_scan", 5000),
    "time_limit_seconds": (10, "scanner_max_time_limit_seconds", 1800),
    "requests_per_second": (0.1, 100, 10),
    "concurrency": (1, 32, 4),
}


def _has_control(text: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


def normalise_base_url(raw: str) -> str:
    """``scheme://host[:port]/path`` without query or fragment; raises InvalidInput saying why."""
    text = raw.strip()
    if not text:
        raise InvalidInput(detail={"base_url": "Give the address of the site, e.g. https://example.com/."})
    if len(text) > 2000 or _has_control(text):
        raise InvalidInput(detail={"base_url": "That address is too long or contains control characters."})
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InvalidInput(detail={"base_url": "That is not a valid web address."}) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput(detail={"base_url": "The address must start with http:// or https://."})
    if not parts.hostname:
        raise InvalidInput(detail={"base_url": "The address has no host name."})
    if parts.username or parts.password:
        raise InvalidInput(detail={"base_url": "Leave user names and passwords out of the address; use scan login."})
    try:
        httpx.URL(text).host  # noqa: B018 - decoding the host is the check (IDNA)
    except (httpx.InvalidURL, UnicodeError):
        raise InvalidInput(detail={"base_url": "The host name is not valid."}) from None
    host = parts.hostname.lower()
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", "", ""))


def _patterns(value: Any, field: str, errors: dict[str, str]) -> list[str]:
    items = value.splitlines() if isinstance(value, str) else value
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        errors[field] = "Give a list of path patterns."
        return []
    clean = [item.strip() for item in items if item.strip()]
    if len(clean) > PATTERNS_MAX:
        errors[field] = f"At most {PATTERNS_MAX} patterns."
    for item in clean:
        if not item.startswith("/") or len(item) > PATTERN_MAX or _has_control(item) or " " in item:
            errors[field] = f"Each pattern is a path starting with / (wildcard *), up to {PATTERN_MAX} characters."
            break
    return clean


def _number(value: Any, field: str, settings: Settings, errors: dict[str, str]) -> float | None:
    low, high, _ = LIMITS[field]
    top = float(getattr(settings, high)) if isinstance(high, str) else float(high)
    is_int = field != "requests_per_second"
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if math.isnan(number) or math.isinf(number) or (is_int and number != int(number)) or not low <= number <= top:
        kind = "a whole number" if is_int else "a number"
        errors[field] = f"Must be {kind} from {low:g} to {top:g}."
        return None
    return int(number) if is_int else number


def _auth(value: Any, errors: dict[str, str], existing: dict[str, Any] | None) -> dict[str, Any] | None:
    """Validate the scan login; blank secrets keep the stored ones (the pages never show them)."""
    if value is None or value == {} or (isinstance(value, Mapping) and not value.get("kind")):
        return None
    if not isinstance(value, Mapping):
        errors["auth"] = "Give the scan login as an object with a kind."
        return None
    kind = str(value.get("kind", ""))
    if kind not in AUTH_KINDS:
        errors["auth.kind"] = "Choose cookie, header or form login."
        return None
    old = existing if existing and existing.get("kind") == kind else {}

    def text(key: str, limit: int = 4000) -> str:
        raw = value.get(key)
        result = raw.strip() if isinstance(raw, str) else ""
        if len(result) > limit or _has_control(result):
            errors[f"auth.{key}"] = f"Up to {limit} characters, no control characters."
        return result

    if kind == "cookie":
        cookie = text("cookie") or str(old.get("cookie", ""))
        if not cookie or "=" not in cookie:
            errors["auth.cookie"] = "Give the Cookie header value, e.g. session=abc123."
        return {"kind": kind, "cookie": cookie}
    if kind == "header":
        name = text("header_name", 64)
        header_value = text("header_value") or str(old.get("header_value", ""))
        if not HEADER_NAME_RE.match(name) or name.lower() in FORBIDDEN_HEADERS:
            errors["auth.header_name"] = "Give a header name such as Authorization or X-Api-Key."
        if not header_value:
            errors["auth.header_value"] = "Give the header's value."
        return {"kind": kind, "header_name": name, "header_value": header_value}
    login_url = text("login_url", 2000)
    fields_raw = value.get("fields")
    fields: dict[str, str] = {}
    if not isinstance(fields_raw, Mapping) or not fields_raw:
        errors["auth.fields"] = "Give the login form's fields, e.g. username and password."
    else:
        old_fields = old.get("fields", {}) if isinstance(old.get("fields"), dict) else {}
        for key, raw in list(fields_raw.items())[:20]:
            name = str(key).strip()
            field_value = raw if isinstance(raw, str) else ""
            if not name or len(name) > 100 or _has_control(name) or len(field_value) > 1000:
                errors["auth.fields"] = "Field names up to 100 characters, values up to 1000."
                break
            fields[name] = field_value or str(old_fields.get(name, ""))
    try:
        login_url = normalise_login_url(login_url)
    except ValueError:
        errors["auth.login_url"] = "Give the http(s) address the login form posts to."
    return {"kind": kind, "login_url": login_url, "fields": fields}


def normalise_login_url(raw: str) -> str:
    """The login form's address as given; ValueError unless it is a valid http(s) URL."""
    try:
        parts = urlsplit(raw)
        httpx.URL(raw).host  # noqa: B018 - decoding the host is the check (IDNA)
    except (ValueError, httpx.InvalidURL) as exc:  # UnicodeError is a ValueError
        raise ValueError(raw) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(raw)
    return raw


def masked_auth(auth: dict[str, Any] | None) -> dict[str, Any] | None:
    """The scan login as shown back: kinds, names and URLs, never the secret values."""
    if not auth:
        return None
    kind = auth.get("kind")
    if kind == "cookie":
        return {"kind": kind, "cookie": MASK}
    if kind == "header":
        return {"kind": kind, "header_name": auth.get("header_name", ""), "header_value": MASK}
    return {
        "kind": kind,
        "login_url": auth.get("login_url", ""),
        "fields": {name: MASK for name in (auth.get("fields") or {})},
    }


@dataclass
class TargetInput:
    """Validated target fields (only those given, for updates)."""

    values: dict[str, Any]


def clean_target(
    raw: Mapping[str, Any], *, settings: Settings, partial: bool = False, existing: ScanTarget | None = None
) -> TargetInput:
    """Validate every field of a target; raises InvalidInput with one message per bad field."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    if "name" in raw or not partial:
        name = raw.get("name")
        name = name.strip() if isinstance(name, str) else ""
        if not name or len(name) > NAME_MAX or _has_control(name):
            errors["name"] = f"Give the target a name of 1 to {NAME_MAX} characters."
        values["name"] = name
    if "base_url" in raw or not partial:
        raw_url = raw.get("base_url")
        try:
            values["base_url"] = normalise_base_url(raw_url if isinstance(raw_url, str) else "")
        except InvalidInput as exc:
            errors.update(exc.detail)
    for field in ("include_paths", "exclude_paths"):
        if field in raw:
            values[field] = _patterns(raw[field], field, errors)
    for field in LIMITS:
        if field in raw:
            number = _number(raw[field], field, settings, errors)
            if number is not None:
                values[field] = number
    if "auth" in raw:
        values["auth"] = _auth(raw["auth"], errors, existing.auth if existing else None)
    auth = values.get("auth", existing.auth if existing else None)
    base_url = values.get("base_url") or (existing.base_url if existing else "")
    if auth and auth.get("kind") == "form" and base_url and "auth.login_url" not in errors:
        host = (urlsplit(base_url).hostname or "").lower()
        if (urlsplit(auth.get("login_url", "")).hostname or "").lower() != host:
            errors["auth.login_url"] = f"The login form must be on the target's host, {host}."
    if errors:
        raise InvalidInput(detail=errors)
    return TargetInput(values)


async def _check_policy(fetcher: Fetcher, base_url: str) -> None:
    """Refuse targets the URL policy would never fetch (private addresses unless allow-listed)."""
    try:
        await fetcher.policy.check(base_url)
    except UrlRefused as exc:
        raise InvalidInput(detail={"base_url": exc.reason}) from exc


async def create_target(
    session: AsyncSession, *, settings: Settings, fetcher: Fetcher, user_id: int, data: TargetInput
) -> ScanTarget:
    """Register a target (unverified) for ``user_id``."""
    values = dict(data.values)
    # Before any query: a slow DNS answer must not hold the database's write lock.
    await _check_policy(fetcher, values["base_url"])
    count = await session.scalar(owned_by(select(func.count()).select_from(ScanTarget), ScanTarget, user_id))
    if (count or 0) >= settings.scanner_max_targets_per_user:
        raise Conflict(f"You already have {count} targets, the most your account allows.")
    target = ScanTarget(
        user_id=user_id,
        host=urlsplit(values["base_url"]).hostname or "",
        verification_token=verification.new_token(),
        include_paths=[],
        exclude_paths=[],
        **{field: default for field, (_, _, default) in LIMITS.items()},
    )
    for key, value in values.items():
        setattr(target, key, value)
    await _save(session, target)
    return target


async def update_target(
    session: AsyncSession, *, fetcher: Fetcher, target: ScanTarget, data: TargetInput
) -> ScanTarget:
    """Change a target; another host, port or scheme needs its ownership proven again (a DNS proof
    covers the host name only)."""
    values = dict(data.values)
    if "base_url" in values and values["base_url"] != target.base_url:
        await _check_policy(fetcher, values["base_url"])
        new, old = urlsplit(values["base_url"]), urlsplit(target.base_url)
        other_host = (new.hostname or "") != target.host
        other_origin = (new.scheme, new.netloc) != (old.scheme, old.netloc)
        if other_host or (other_origin and target.verification_method != "dns"):
            target.verified_at = None
            target.verification_method = None
        target.host = new.hostname or ""
    for key, value in values.items():
        setattr(target, key, value)
    await _save(session, target)
    return target


async def _save(session: AsyncSession, target: ScanTarget) -> None:
    clash = await session.scalar(
        select(ScanTarget.id).where(
            ScanTarget.user_id == target.user_id, ScanTarget.base_url == target.base_url, ScanTarget.id != target.id
        )
        if target.id is not None
        else select(ScanTarget.id).where(ScanTarget.user_id == target.user_id, ScanTarget.base_url == target.base_url)
    )
    if clash is not None:
        raise InvalidInput(detail={"base_url": "You already have a target with this address."})
    session.add(target)
    await session.flush()


async def get_target(session: AsyncSession, *, user_id: int, target_id: int) -> ScanTarget:
    return await get_owned(session, ScanTarget, target_id, user_id, what="target")


async def delete_target(session: AsyncSession, *, target: ScanTarget) -> None:
    """Delete a target with its scans, findings and recurring scan (refused while a scan of it runs)."""
    if await busy_scans(session, user_id=target.user_id, target_id=target.id):
        raise Conflict("A scan of this target is queued or running; cancel it first.")
    await engine_service.delete_schedule(session, kind=SCAN_KIND, subject_id=target.id)
    await session.delete(target)


def is_verified(settings: Settings, target: ScanTarget) -> bool:
    """Proven by a check, or vouched for by an administrator or the operator."""
    return target.verified_at is not None or verification.is_allow_listed(settings, target.host)


async def verify_target(
    session: AsyncSession,
    *,
    settings: Settings,
    fetcher: Fetcher,
    target: ScanTarget,
    method: VerificationMethod | None = None,
) -> verification.VerificationResult:
    """Check the ownership proof now and record the result on the target."""
    result = await verification.verify(
        settings=settings,
        fetcher=fetcher,
        base_url=target.base_url,
        host=target.host,
        token=target.verification_token,
        method=method,
    )
    record_verification(target, result)
    await session.flush()
    return result


def is_admin_vouched(target: ScanTarget) -> bool:
    """Whether an administrator vouches for ``target`` (``scanner.vouching``)."""
    return target.verification_method == VerificationMethod.ADMIN.value and target.verified_at is not None


def record_verification(target: ScanTarget, result: verification.VerificationResult) -> None:
    """Keep the outcome of an ownership check on the target (a failed check withdraws the proof, except an
    administrator's vouch, which stands until an administrator withdraws it)."""
    target.last_check_at = utcnow()
    target.last_check_result = result.message[:2000]
    if is_admin_vouched(target):
        return
    if result.verified:
        target.verified_at = target.last_check_at
        target.verification_method = result.method.value if result.method else None
    else:
        target.verified_at = None
        target.verification_method = None


def parse_method(raw: Any) -> VerificationMethod | None:
    """``file``, ``meta``, ``dns``, or empty for "try each"."""
    if raw in (None, "", "any"):
        return None
    try:
        method = VerificationMethod(str(raw))
    except ValueError:
        method = None
    if method is None or method in (VerificationMethod.ALLOW_LIST, VerificationMethod.ADMIN):
        raise InvalidInput(detail={"method": "Choose file, meta or dns (or leave it empty to try each)."})
    return method


def known_families() -> dict[str, bool]:
    """Check families and whether they are active (send attack payloads), from the check registry when
    present, else from the catalogue."""
    families: dict[str, bool] = {}
    try:
        from spyglass.scanner.checks import registry  # type: ignore[attr-defined,unused-ignore]

        for check in registry.all_checks():
            families[check.family] = families.get(check.family, False) or bool(check.active)
    except (ImportError, AttributeError):
        for entry in all_finding_types():
            families[entry.family] = families.get(entry.family, False) or entry.active
    return families


def parse_launch(raw_profile: Any, raw_families: Any) -> tuple[str, list[str], bool]:
    """Validate a scan request: (profile, families, whether it runs active checks)."""
    profile = str(raw_profile or "passive")
    if profile not in PROFILES:
        raise InvalidInput(detail={"profile": "Choose passive, active or custom."})
    families: list[str] = []
    if isinstance(raw_families, str):
        raw_families = [part for part in re.split(r"[,\s]+", raw_families) if part]
    if raw_families is not None and not (
        isinstance(raw_families, list) and all(isinstance(f, str) for f in raw_families)
    ):
        raise InvalidInput(detail={"families": "Give a list of check family names."})
    known = known_families()
    for family in raw_families or []:
        if not FAMILY_RE.match(family) or (known and family not in known):
            listed = ", ".join(sorted(known)) or "none are installed"
            raise InvalidInput(detail={"families": f"Unknown check family {family[:40]!r}; known: {listed}."})
        if family not in families:
            families.append(family)
    if profile == "custom" and not families:
        raise InvalidInput(detail={"families": "A custom scan needs at least one check family."})
    if profile != "custom":
        families = []
    return profile, families, needs_active(profile, families, known)


def needs_active(profile: str, families: list[str], known: dict[str, bool] | None = None) -> bool:
    """Whether a scan with this profile and these families runs active checks."""
    known = known_families() if known is None else known
    return profile == "active" or any(known.get(family, False) for family in families)


async def launch_scan(
    session: AsyncSession, *, settings: Settings, target: ScanTarget, profile: str, families: list[str], active: bool
) -> Scan:
    """Create a scan and queue its run. Active checks need a proven target (403 otherwise)."""
    if active and not is_verified(settings, target):
        raise Forbidden(
            "Active checks send attack payloads, so they run only on targets whose ownership is proven. "
            "Verify this target first (token file, meta tag or DNS record), or run a passive scan."
        )
    running = len(await busy_scans(session, user_id=target.user_id))
    if running >= settings.scanner_max_active_scans_per_user:
        raise Conflict(f"You already have {running} scans queued or running; wait for one to finish.")
    scan = Scan(user_id=target.user_id, target_id=target.id, profile=profile, families=families)
    session.add(scan)
    await session.flush()
    run = await engine_service.enqueue_run(session, kind=SCAN_KIND, user_id=target.user_id, subject_id=scan.id)
    scan.run_id = run.id
    await session.flush()
    return scan


async def busy_scans(session: AsyncSession, *, user_id: int, target_id: int | None = None) -> list[Scan]:
    """The user's scans that are queued or running (after mirroring runs that ended meanwhile)."""
    statement = select(Scan).where(
        Scan.user_id == user_id, Scan.status.in_([ScanStatus.QUEUED.value, ScanStatus.RUNNING.value])
    )
    if target_id is not None:
        statement = statement.where(Scan.target_id == target_id)
    busy = []
    for scan in (await session.scalars(statement)).all():
        await sync_with_run(session, scan)
        if not ScanStatus(scan.status).is_terminal:
            busy.append(scan)
    return busy


async def get_scan(session: AsyncSession, *, user_id: int, scan_id: int) -> Scan:
    scan = await get_owned(session, Scan, scan_id, user_id, what="scan")
    await sync_with_run(session, scan)
    return scan


async def sync_with_run(session: AsyncSession, scan: Scan) -> None:
    """Mirror a run that ended without the handler saying so (cancelled while queued, failed after retries)."""
    if ScanStatus(scan.status).is_terminal or scan.run_id is None:
        return
    run = await session.get(Run, scan.run_id)
    if run is None:
        return
    status = RunStatus(run.status)
    if status.is_terminal:
        scan.status = status.value
        scan.error = scan.error or run.error
        scan.finished_at = scan.finished_at or run.finished_at
    elif status == RunStatus.RUNNING and scan.status == ScanStatus.QUEUED.value:
        scan.status = ScanStatus.RUNNING.value


async def cancel_scan(session: AsyncSession, *, scan: Scan, user_id: int) -> str:
    """Cancel a queued scan at once, or ask a running one to stop."""
    if ScanStatus(scan.status).is_terminal:
        raise Conflict(f"This scan has already finished ({scan.status}).")
    if scan.run_id is None:
        raise NotFound("This scan has no run to cancel.")
    status = await engine_service.cancel_run(session, run_id=scan.run_id, user_id=user_id)
    if status == RunStatus.CANCELLED:
        scan.status = ScanStatus.CANCELLED.value
        scan.stopped_reason = "cancelled"
        scan.finished_at = scan.finished_at or utcnow()
    return status.value
