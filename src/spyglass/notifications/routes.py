"""HTTP routes of the notifications feature: the channels page (add, edit, test, delete), the user's
delivery log, the signed unsubscribe and address-confirmation links (no login needed), the admin
delivery log, and the ``/api/v1/notifications`` JSON API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.background_tasks import BackgroundTask
from litestar.params import JSONBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from litestar.types import ControllerRouterHandler
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts.auth import CurrentUser, require_admin, require_user
from spyglass.accounts.emails import deliver_now
from spyglass.accounts.models import User
from spyglass.accounts.schemas import form_text, timezone_choices
from spyglass.audit.service import AuditAction, record
from spyglass.core.errors import InvalidInput, NotFound
from spyglass.core.pagination import Page, PageRequest, paginate
from spyglass.core.services import Services
from spyglass.core.tenancy import get_owned, owned_by
from spyglass.notifications import outbox, repository, service
from spyglass.notifications.models import Channel, Delivery, DeliveryStatus
from spyglass.notifications.quiet_hours import format_hhmm
from spyglass.notifications.sealing import previous_secrets
from spyglass.notifications.service import ChannelInput, channel_to_dict, delivery_to_dict
from spyglass.notifications.unsubscribe import read_token
from spyglass.web.api_docs import error_responses
from spyglass.web.templating import flash

AnyRequest = Request[Any, Any, Any]
MODES = ("", "instant", "digest")


def _audit(
    db: AsyncSession, action: str, request: AnyRequest, user_id: int, channel: Channel | None, **more: Any
) -> None:
    """Record ``action`` (an :class:`AuditAction`); the target itself is never recorded: Apprise URLs hold secrets."""
    details: dict[str, Any] = {**more}
    if channel is not None:
        details.update({"channel_id": channel.id, "kind": channel.kind, "label": channel.label})
    record(db, action, user_id=user_id, connection=request, details=details)


# ---------- shared ----------


async def _account(db: AsyncSession, me: CurrentUser) -> User:
    user = await db.get(User, me.id)
    if user is None:
        raise NotFound("No such user.")
    return user


def _page_request(services: Services, page: int | None, size: int | None) -> PageRequest:
    s = services.settings
    return PageRequest.from_query(page, size, default_size=s.default_page_size, max_size=s.max_page_size)


async def _log_page(db: AsyncSession, statement: Any, request: PageRequest) -> tuple[Page[Delivery], dict[int, str]]:
    found = await paginate(db, statement, request)
    events = await repository.events_of(db, [d.notification_id for d in found.items])
    return found, events


def _log_entry(delivery: Delivery, events: Mapping[int, str]) -> dict[str, Any]:
    return {**delivery_to_dict(delivery), "event": events.get(delivery.notification_id)}


def _events_for(me: CurrentUser) -> list[tuple[str, str]]:
    return [
        (event, label)
        for event, label in outbox.SUBSCRIBABLE_EVENTS.items()
        if me.is_admin or event not in service.ADMIN_ONLY_EVENTS
    ]


def _subscriptions_from_form(form: Mapping[str, Any], me: CurrentUser) -> dict[str, str]:
    chosen: dict[str, str] = {}
    for event, _label in _events_for(me):
        mode = form_text(form, f"event:{event}")
        if mode not in MODES:
            raise InvalidInput(
                "Choose off, instant or digest.", detail={f"event:{event}": "Choose off, instant or digest."}
            )
        if mode:
            chosen[event] = mode
    return chosen


def _deliver_after_commit(services: Services, key: str) -> BackgroundTask:
    return BackgroundTask(deliver_now, services, [key])


# ---------- pages ----------


async def _channels_page(
    db: AsyncSession,
    services: Services,
    me: CurrentUser,
    *,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
) -> Template:
    channels = (await db.scalars(owned_by(select(Channel), Channel, me.id).order_by(Channel.created_at))).all()
    recent, events = await _log_page(db, repository.deliveries_of(me.id), PageRequest(page=1, size=10))
    return Template(
        "notifications/channels.html",
        context={
            "channels": channels,
            "event_labels": outbox.SUBSCRIBABLE_EVENTS,
            "recent": recent,
            "events": events,
            "errors": errors or {},
            "values": values or {},
            "max_channels": service.MAX_CHANNELS_PER_USER,
        },
        status_code=status,
    )


@get("/notifications", guards=[require_user], include_in_schema=False)
async def channels_page(db: AsyncSession, services: Services, me: CurrentUser) -> Template:
    """Your channels, a form to add one, and your latest deliveries."""
    return await _channels_page(db, services, me)


@post("/notifications/channels", guards=[require_user], opt={"rate_limit": "settings"}, include_in_schema=False)
async def add_channel_page(
    request: AnyRequest, db: AsyncSession, services: Services, me: CurrentUser
) -> Template | Redirect:
    """Add a channel from the form (it starts with the usual events, instantly)."""
    form = await request.form()
    values = {"kind": form_text(form, "kind"), "label": form_text(form, "label")}
    data = ChannelInput(kind=values["kind"], label=values["label"], target=form_text(form, "target"))
    account = await _account(db, me)
    try:
        channel = await service.add_channel(db, settings=services.settings, user=account, data=data)
    except InvalidInput as exc:
        errors = dict(exc.detail) if isinstance(exc.detail, dict) else {}
        errors.setdefault("form", exc.message)
        return await _channels_page(db, services, me, status=422, errors=errors, values=values)
    _audit(db, AuditAction.CHANNEL_ADDED, request, me.id, channel)
    if channel.verified:
        flash(request, f"Channel “{channel.label}” added. Press “Send test” to check it.", "success")
        return Redirect(f"/notifications/channels/{channel.id}", status_code=303)
    key = await service.request_verification(db, settings=services.settings, user=account, channel=channel)
    flash(request, f"We sent a confirmation link to {channel.target}. The channel works once it is opened.", "info")
    return Redirect(
        f"/notifications/channels/{channel.id}", status_code=303, background=_deliver_after_commit(services, key)
    )


def _edit_page(
    channel: Channel, me: CurrentUser, *, status: int = 200, errors: Mapping[str, str] | None = None
) -> Template:
    return Template(
        "notifications/channel.html",
        context={
            "channel": channel,
            "events": _events_for(me),
            "quiet_start": format_hhmm(channel.quiet_start_minute),
            "quiet_end": format_hhmm(channel.quiet_end_minute),
            "timezones": timezone_choices(),
            "errors": errors or {},
        },
        status_code=status,
    )


@get("/notifications/channels/{channel_id:int}", guards=[require_user], include_in_schema=False)
async def channel_page(db: AsyncSession, me: CurrentUser, channel_id: int) -> Template:
    """Edit a channel: name, events and their mode, quiet hours, on/off."""
    channel = await get_owned(db, Channel, channel_id, me.id, what="channel")
    return _edit_page(channel, me)


@post(
    "/notifications/channels/{channel_id:int}",
    guards=[require_user],
    opt={"rate_limit": "settings"},
    include_in_schema=False,
)
async def save_channel_page(
    request: AnyRequest, db: AsyncSession, services: Services, me: CurrentUser, channel_id: int
) -> Template | Redirect:
    form = await request.form()
    channel = await get_owned(db, Channel, channel_id, me.id, what="channel")
    try:
        data = ChannelInput(
            label=form_text(form, "label"),
            subscriptions=_subscriptions_from_form(form, me),
            quiet_start=form_text(form, "quiet_start"),
            quiet_end=form_text(form, "quiet_end"),
            timezone=form_text(form, "timezone"),
            enabled=form_text(form, "enabled") == "true",
        )
        await service.update_channel(
            db, settings=services.settings, user=await _account(db, me), channel_id=channel_id, data=data
        )
    except InvalidInput as exc:
        await db.rollback()
        channel = await get_owned(db, Channel, channel_id, me.id, what="channel")
        errors = dict(exc.detail) if isinstance(exc.detail, dict) else {}
        errors.setdefault("form", exc.message)
        return _edit_page(channel, me, status=422, errors=errors)
    flash(request, "Channel saved.", "success")
    return Redirect(f"/notifications/channels/{channel_id}", status_code=303)


@post(
    "/notifications/channels/{channel_id:int}/test",
    guards=[require_user],
    opt={"rate_limit": "settings"},
    include_in_schema=False,
)
async def test_channel_page(
    request: AnyRequest, db: AsyncSession, services: Services, me: CurrentUser, channel_id: int
) -> Redirect:
    """Send a test notification now; its outcome shows in the delivery log."""
    key = await service.send_test(db, user_id=me.id, channel_id=channel_id)
    flash(request, "Test notification sent. Its result appears in the delivery log below.", "success")
    return Redirect("/notifications", status_code=303, background=_deliver_after_commit(services, key))


@post(
    "/notifications/channels/{channel_id:int}/delete",
    guards=[require_user],
    opt={"rate_limit": "settings"},
    include_in_schema=False,
)
async def delete_channel_page(request: AnyRequest, db: AsyncSession, me: CurrentUser, channel_id: int) -> Redirect:
    channel = await service.delete_channel(db, user_id=me.id, channel_id=channel_id)
    _audit(db, AuditAction.CHANNEL_DELETED, request, me.id, channel)
    flash(request, "Channel deleted.", "success")
    return Redirect("/notifications", status_code=303)


@get("/notifications/deliveries", guards=[require_user], include_in_schema=False)
async def deliveries_page(db: AsyncSession, services: Services, me: CurrentUser, page: int | None = None) -> Template:
    """Everything sent to your channels, newest first, with the reason of each failure."""
    found, events = await _log_page(db, repository.deliveries_of(me.id), _page_request(services, page, None))
    return Template("notifications/deliveries.html", context={"found": found, "events": events})


# ---------- links from emails (no login) ----------


@get("/notifications/unsubscribe/{token:str}", include_in_schema=False)
async def unsubscribe_page(services: Services, token: str) -> Template:
    """Confirm the unsubscribe with one button (mail scanners follow GET links; only POST acts)."""
    what = read_token(services.settings.secret(), token, previous=previous_secrets(services.settings))
    if what is None:
        raise NotFound("This unsubscribe link is not valid. Change what you receive on the notifications page.")
    return Template("notifications/unsubscribe.html", context={"token": token, "done": None})


@post(
    "/notifications/unsubscribe/{token:str}",
    include_in_schema=False,
    # RFC 8058 one-click: the mail client POSTs without a page or a cookie; the signed token is the proof.
    opt={"exclude_from_csrf": True, "rate_limit": "settings"},
    status_code=200,
)
async def unsubscribe_submit(request: AnyRequest, db: AsyncSession, services: Services, token: str) -> Template:
    what = read_token(services.settings.secret(), token, previous=previous_secrets(services.settings))
    if what is None:
        raise NotFound("This unsubscribe link is not valid. Change what you receive on the notifications page.")
    done = await service.unsubscribe(db, what)
    if await db.get(User, what.user_id) is not None:
        _audit(db, AuditAction.UNSUBSCRIBED, request, what.user_id, None, channel_id=what.channel_id, event=what.event)
    return Template("notifications/unsubscribe.html", context={"token": token, "done": done})


@get("/notifications/channels/{channel_id:int}/verify/{token:str}", include_in_schema=False)
async def verify_page(channel_id: int, token: str) -> Template:
    return Template("notifications/verify.html", context={"channel_id": channel_id, "token": token[:64], "done": False})


@post(
    "/notifications/channels/{channel_id:int}/verify/{token:str}",
    opt={"rate_limit": "settings"},
    include_in_schema=False,
    status_code=200,
)
async def verify_submit(db: AsyncSession, services: Services, channel_id: int, token: str) -> Template:
    """Confirm an email channel's address (opening the link proves the mailbox receives our mail)."""
    channel = await service.verify_channel(db, secret=services.settings.secret(), channel_id=channel_id, token=token)
    return Template(
        "notifications/verify.html",
        context={"channel_id": channel_id, "token": token[:64], "done": True, "label": channel.label},
    )


# ---------- admin ----------


def _status_filter(status: str | None) -> str | None:
    if not status:
        return None
    if status not in {s.value for s in DeliveryStatus}:
        raise InvalidInput(
            "Unknown delivery status.", detail={"status": "One of: " + ", ".join(s.value for s in DeliveryStatus)}
        )
    return status


@get("/admin/notifications", guards=[require_admin], include_in_schema=False)
async def admin_deliveries_page(
    db: AsyncSession, services: Services, status: str | None = None, page: int | None = None
) -> Template:
    """Every delivery, newest first, filterable by status (failed ones show their reason)."""
    wanted = _status_filter(status)
    found, events = await _log_page(
        db, repository.deliveries_of(None, status=wanted), _page_request(services, page, None)
    )
    return Template(
        "notifications/admin.html",
        context={
            "section": "notifications",
            "found": found,
            "events": events,
            "status": wanted or "",
            "statuses": [s.value for s in DeliveryStatus],
        },
    )


@get(
    "/api/v1/admin/notifications/deliveries",
    guards=[require_admin],
    tags=["admin"],
    summary="Delivery log of every user (admins)",
    responses=error_responses(400, 401, 404, 422, 429),
)
async def admin_deliveries_api(
    db: AsyncSession, services: Services, status: str | None = None, page: int | None = None, size: int | None = None
) -> dict[str, Any]:
    found, events = await _log_page(
        db, repository.deliveries_of(None, status=_status_filter(status)), _page_request(services, page, size)
    )
    return found.to_dict([{**_log_entry(d, events), "user_id": d.user_id} for d in found.items])


# ---------- JSON API ----------

Label = Annotated[str, msgspec.Meta(min_length=1, max_length=service.MAX_LABEL_LENGTH)]
Target = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
HourMinute = Annotated[str, msgspec.Meta(max_length=5, description="HH:MM, or empty for no quiet hours")]


class ChannelCreate(msgspec.Struct):
    """A new channel: an email address or an Apprise URL, and the events it receives."""

    kind: Literal["email", "apprise"]
    label: Label
    target: Target
    subscriptions: dict[str, Literal["instant", "digest"]] | None = None
    quiet_start: HourMinute | None = None
    quiet_end: HourMinute | None = None
    timezone: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    enabled: bool | None = None


class ChannelUpdate(msgspec.Struct):
    """Changes to a channel; omitted fields stay as they are (its kind and target cannot change)."""

    label: Label | None = None
    subscriptions: dict[str, Literal["instant", "digest"]] | None = None
    quiet_start: HourMinute | None = None
    quiet_end: HourMinute | None = None
    timezone: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    enabled: bool | None = None


CHANNEL_ERRORS = error_responses(400, 401, 403, 404, 409, 422, 429)


@get("/api/v1/notifications/channels", guards=[require_user], tags=["notifications"], summary="Your channels")
async def list_channels_api(db: AsyncSession, me: CurrentUser) -> dict[str, Any]:
    """Your notification channels (targets shown in their privacy form only)."""
    channels = (await db.scalars(owned_by(select(Channel), Channel, me.id).order_by(Channel.created_at))).all()
    return {"items": [channel_to_dict(channel) for channel in channels], "events": outbox.SUBSCRIBABLE_EVENTS}


@post(
    "/api/v1/notifications/channels",
    guards=[require_user],
    tags=["notifications"],
    summary="Add a channel",
    status_code=HTTP_201_CREATED,
    opt={"rate_limit": "settings"},
    responses=CHANNEL_ERRORS,
)
async def add_channel_api(
    request: AnyRequest, db: AsyncSession, services: Services, me: CurrentUser, data: JSONBody[ChannelCreate]
) -> Response[dict[str, Any]]:
    """Add an email or Apprise channel. Bad URLs, private hosts and unknown events are refused with the reason.
    An email address other than your verified account address receives a confirmation link first."""
    account = await _account(db, me)
    channel = await service.add_channel(
        db, settings=services.settings, user=account, data=ChannelInput(**msgspec.structs.asdict(data))
    )
    _audit(db, AuditAction.CHANNEL_ADDED, request, me.id, channel)
    if channel.verified:
        return Response(channel_to_dict(channel), status_code=HTTP_201_CREATED)
    key = await service.request_verification(db, settings=services.settings, user=account, channel=channel)
    return Response(
        channel_to_dict(channel), status_code=HTTP_201_CREATED, background=_deliver_after_commit(services, key)
    )


@get(
    "/api/v1/notifications/channels/{channel_id:int}",
    guards=[require_user],
    tags=["notifications"],
    summary="One channel",
    responses=CHANNEL_ERRORS,
)
async def get_channel_api(db: AsyncSession, me: CurrentUser, channel_id: int) -> dict[str, Any]:
    return channel_to_dict(await get_owned(db, Channel, channel_id, me.id, what="channel"))


@patch(
    "/api/v1/notifications/channels/{channel_id:int}",
    guards=[require_user],
    tags=["notifications"],
    summary="Change a channel",
    opt={"rate_limit": "settings"},
    responses=CHANNEL_ERRORS,
)
async def update_channel_api(
    db: AsyncSession, services: Services, me: CurrentUser, channel_id: int, data: JSONBody[ChannelUpdate]
) -> dict[str, Any]:
    channel = await service.update_channel(
        db,
        settings=services.settings,
        user=await _account(db, me),
        channel_id=channel_id,
        data=ChannelInput(**msgspec.structs.asdict(data)),
    )
    return channel_to_dict(channel)


@delete(
    "/api/v1/notifications/channels/{channel_id:int}",
    guards=[require_user],
    tags=["notifications"],
    summary="Delete a channel",
    status_code=HTTP_204_NO_CONTENT,
    opt={"rate_limit": "settings"},
    responses=CHANNEL_ERRORS,
)
async def delete_channel_api(request: AnyRequest, db: AsyncSession, me: CurrentUser, channel_id: int) -> None:
    channel = await service.delete_channel(db, user_id=me.id, channel_id=channel_id)
    _audit(db, AuditAction.CHANNEL_DELETED, request, me.id, channel)


@post(
    "/api/v1/notifications/channels/{channel_id:int}/test",
    guards=[require_user],
    tags=["notifications"],
    summary="Send a test notification",
    status_code=202,
    opt={"rate_limit": "settings"},
    responses=CHANNEL_ERRORS,
)
async def test_channel_api(
    db: AsyncSession, services: Services, me: CurrentUser, channel_id: int
) -> Response[dict[str, Any]]:
    """Queue a test notification to the channel; it is sent right after this answer (see the delivery log)."""
    key = await service.send_test(db, user_id=me.id, channel_id=channel_id)
    return Response({"queued": True, "key": key}, status_code=202, background=_deliver_after_commit(services, key))


@get(
    "/api/v1/notifications/deliveries",
    guards=[require_user],
    tags=["notifications"],
    summary="Your delivery log",
    responses=error_responses(400, 401, 429),
)
async def deliveries_api(
    db: AsyncSession, services: Services, me: CurrentUser, page: int | None = None, size: int | None = None
) -> dict[str, Any]:
    """Deliveries to your channels, newest first: status, attempts and the reason of failures."""
    found, events = await _log_page(db, repository.deliveries_of(me.id), _page_request(services, page, size))
    return found.to_dict([_log_entry(d, events) for d in found.items])


ROUTES: Sequence[ControllerRouterHandler] = [
    channels_page,
    add_channel_page,
    channel_page,
    save_channel_page,
    test_channel_page,
    delete_channel_page,
    deliveries_page,
    unsubscribe_page,
    unsubscribe_submit,
    verify_page,
    verify_submit,
    admin_deliveries_page,
    admin_deliveries_api,
    list_channels_api,
    add_channel_api,
    get_channel_api,
    update_channel_api,
    delete_channel_api,
    test_channel_api,
    deliveries_api,
]
