"""Account pages (register, sign in and out, email verification, password reset, account settings)
and the ``/api/v1/me`` JSON API.

Emails and cache invalidations that must follow the commit run as the response's background tasks:
the request's unit of work commits before the response is sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from litestar import Request, Response, get, patch, post
from litestar.background_tasks import BackgroundTask, BackgroundTasks
from litestar.params import FromQuery, JSONBody
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncSession

from spyglass.accounts import emails, repository, service
from spyglass.accounts.auth import CurrentUser, forget_user, require_session, require_user
from spyglass.accounts.models import AccountTokenPurpose, User
from spyglass.accounts.schemas import (
    MAX_LOGIN_LENGTH,
    Errors,
    MeOut,
    UserSettingsOut,
    UserSettingsPatch,
    check_email,
    check_settings,
    form_secret,
    form_text,
    has_control_chars,
    timezone_choices,
)
from spyglass.audit.service import AuditAction, record
from spyglass.core.errors import BadRequest, InvalidInput, RateLimited
from spyglass.core.request_context import client_ip
from spyglass.core.services import Services
from spyglass.core.sessions import rotate_session
from spyglass.web.templating import flash

AnyRequest = Request[Any, Any, Any]
WRONG_LOGIN = "Wrong username or password."
EMAIL_PURPOSES = (AccountTokenPurpose.VERIFY_EMAIL, AccountTokenPurpose.CHANGE_EMAIL)
RESET_PURPOSES = (AccountTokenPurpose.RESET_PASSWORD,)


def _page(name: str, *, status: int = 200, headers: dict[str, str] | None = None, **context: Any) -> Template:
    context.setdefault("errors", {})
    context.setdefault("values", {})
    return Template(template_name=f"accounts/{name}.html", context=context, status_code=status, headers=headers)


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site, else ``/`` (refuses open redirects like ``//evil``)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ord(char) < 33 or char == "\\" for char in target) or len(target) > 2000:
        return "/"
    return target


def _after_commit(*jobs: Callable[[], Awaitable[Any]] | BackgroundTask) -> BackgroundTasks:
    tasks = [job if isinstance(job, BackgroundTask) else BackgroundTask(job) for job in jobs]
    return BackgroundTasks(tasks)


def _forget(services: Services, user_id: int) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await forget_user(services, user_id)

    return run


def _ip(request: AnyRequest, services: Services) -> str:
    return client_ip(request.scope, services.settings.trusted_proxies)


def _link(services: Services, path: str, token: str) -> str:
    return f"{services.settings.base_url}{path}?token={token}"


async def _verification_mail(db: AsyncSession, services: Services, user: User) -> BackgroundTask:
    ttl_hours = services.settings.email_verification_ttl_hours
    raw = await service.issue_account_token(
        db=db,
        user_id=user.id,
        purpose=AccountTokenPurpose.VERIFY_EMAIL,
        ttl=timedelta(hours=ttl_hours),
        new_email=user.email,
    )
    return await emails.queue_verification(
        db,
        services,
        user_id=user.id,
        to=user.email,
        username=user.username,
        link=_link(services, "/verify-email", raw),
        ttl_hours=ttl_hours,
    )


# ---------- registration ----------


def _register_page(services: Services, **context: Any) -> Template:
    return _page("register", password_min_length=services.settings.password_min_length, **context)


@get("/register", include_in_schema=False)
async def register_page(services: Services, user: CurrentUser | None) -> Template | Redirect:
    """The registration form."""
    if user is not None:
        return Redirect("/", status_code=303)
    return _register_page(services, closed=not services.settings.allow_registration)


@post("/register", include_in_schema=False)
async def register_submit(request: AnyRequest, db: AsyncSession, services: Services) -> Template:
    """Create an account, send the verification email and ask the person to check their inbox."""
    if not services.settings.allow_registration:
        return _register_page(services, status=403, closed=True)
    form = await request.form()
    values = {"username": form_text(form, "username"), "email": form_text(form, "email")}
    key = f"ip:{_ip(request, services)}"
    # Only created accounts count against the limit, so somebody fixing a typo is not locked out.
    if (await services.limiter.status("register", key)).remaining <= 0:
        try:
            await services.limiter.hit("register", key)
        except RateLimited as exc:
            return _register_page(
                services, status=429, headers=exc.headers, values=values, errors={"form": exc.message}
            )
    try:
        user = await service.register_user(
            db=db,
            settings=services.settings,
            username=values["username"],
            email=values["email"],
            password=form_secret(form, "password"),
            password_confirm=form_secret(form, "password_confirm"),
        )
    except InvalidInput as exc:
        return _register_page(services, status=422, values=values, errors=exc.detail)
    await services.limiter.hit("register", key)
    record(db, AuditAction.REGISTER, user_id=user.id, connection=request, details={"username": user.username})
    mail = await _verification_mail(db, services, user)
    return Template(
        template_name="accounts/register_done.html",
        context={"email": user.email},
        status_code=201,
        background=_after_commit(mail),
    )


# ---------- sign in and out ----------


@get("/login", include_in_schema=False)
async def login_page(user: CurrentUser | None, next: FromQuery[str | None] = None) -> Template | Redirect:
    """The sign-in form."""
    if user is not None:
        return Redirect(safe_next(next), status_code=303)
    return _page("login", next=safe_next(next) if next else "")


@post("/login", include_in_schema=False)
async def login_submit(request: AnyRequest, db: AsyncSession, services: Services) -> Template | Redirect:
    """Check the credentials (rate limited per account and per IP) and start a fresh session."""
    form = await request.form()
    login = form_text(form, "login").lower()
    password = form_secret(form, "password")
    target = safe_next(form_text(form, "next"))
    values = {"login": login[:MAX_LOGIN_LENGTH]}
    context: dict[str, Any] = {"values": values, "next": target if target != "/" else ""}
    errors: Errors = {}
    if not login:
        errors["login"] = "Enter your username or email address."
    elif len(login) > MAX_LOGIN_LENGTH:
        errors["login"] = f"Use at most {MAX_LOGIN_LENGTH} characters."
    elif has_control_chars(login):
        errors["login"] = "Enter your username or email address without control characters."
    if not password:
        errors["password"] = "Enter your password."
    if errors:
        return _page("login", status=422, errors=errors, **context)
    found = await repository.find_user_by_login(db, login)
    try:
        await services.limiter.hit("login", f"ip:{_ip(request, services)}")
        await services.limiter.hit("login", f"account:{found.username if found else login}")
    except RateLimited as exc:
        services.metrics.logins.labels("rate_limited").inc()
        return _page("login", status=429, headers=exc.headers, errors={"form": exc.message}, **context)
    outcome = await service.authenticate(db=db, user=found, password=password)
    if outcome.user is None:
        services.metrics.logins.labels("failure").inc()
        record(
            db,
            AuditAction.LOGIN_FAILED,
            user_id=outcome.known_user_id,
            connection=request,
            details={"reason": outcome.failure, "login": login[:64]},
        )
        return _page("login", status=401, errors={"form": WRONG_LOGIN}, **context)
    user = outcome.user
    services.metrics.logins.labels("success").inc()
    record(db, AuditAction.LOGIN, user_id=user.id, connection=request)
    request.set_session({"uid": user.id, "epoch": user.session_epoch})
    rotate_session(request)
    return Redirect(target, status_code=303, background=_after_commit(_forget(services, user.id)))


@post("/logout", include_in_schema=False)
async def logout(request: AnyRequest, db: AsyncSession, user: CurrentUser | None) -> Redirect:
    """End this session."""
    if user is not None:
        record(db, AuditAction.LOGOUT, user_id=user.id, connection=request)
    request.set_session({})
    rotate_session(request)
    flash(request, "You have signed out.", "success")
    return Redirect("/", status_code=303)


# ---------- email verification ----------


@get("/verify-email", include_in_schema=False)
async def verify_email_page(db: AsyncSession, token: FromQuery[str] = "") -> Template:
    """Shows a button that confirms the address (mail scanners follow links, but do not press buttons)."""
    found = await service.valid_account_token(db=db, raw=token, purposes=EMAIL_PURPOSES)
    return _page("verify_email", token=token, new_email=found.new_email, change=found.purpose != "verify_email")


@post("/verify-email", include_in_schema=False)
async def verify_email_submit(
    request: AnyRequest, db: AsyncSession, services: Services, user: CurrentUser | None
) -> Redirect:
    """Use the link's token: mark the address verified, or switch the account to the new address."""
    form = await request.form()
    token = await service.valid_account_token(db=db, raw=form_text(form, "token"), purposes=EMAIL_PURPOSES)
    account, previous = await service.confirm_email(db=db, token=token)
    jobs: list[BackgroundTask] = []
    if previous is None:
        record(db, AuditAction.EMAIL_VERIFIED, user_id=account.id, connection=request)
        flash(request, "Thank you: your email address is verified.", "success")
        jobs.append(
            await emails.queue_welcome(db, services, user_id=account.id, to=account.email, username=account.username)
        )
    else:
        record(
            db,
            AuditAction.EMAIL_CHANGED,
            user_id=account.id,
            connection=request,
            details={"old_email": previous, "new_email": account.email},
        )
        flash(request, f"Your email address is now {account.email}.", "success")
    await forget_user(services, account.id)
    target = "/account" if user is not None and user.id == account.id else "/login"
    return Redirect(target, status_code=303, background=_after_commit(_forget(services, account.id), *jobs))


@post("/account/verify/resend", guards=[require_session], opt={"rate_limit": "settings"}, include_in_schema=False)
async def resend_verification(request: AnyRequest, db: AsyncSession, services: Services, me: CurrentUser) -> Redirect:
    """Send a new verification link to a signed-in user whose address is not verified yet."""
    account = await repository.get_user(db, me.id)
    if account is None or account.email_verified:
        flash(request, "Your email address is already verified.", "info")
        return Redirect("/account", status_code=303)
    mail = await _verification_mail(db, services, account)
    flash(request, f"We sent a new verification link to {account.email}.", "success")
    return Redirect("/account", status_code=303, background=_after_commit(mail))


# ---------- password reset ----------


@get("/password/forgot", include_in_schema=False)
async def forgot_password_page() -> Template:
    """Ask for the email address of the account."""
    return _page("forgot_password")


@post("/password/forgot", include_in_schema=False)
async def forgot_password_submit(request: AnyRequest, db: AsyncSession, services: Services) -> Template:
    """Send a reset link when the address has an account; the answer is the same either way."""
    form = await request.form()
    email, problem = check_email(form_text(form, "email"))
    if problem:
        return _page("forgot_password", status=422, values={"email": email}, errors={"email": problem})
    try:
        await services.limiter.hit("login", f"forgot:ip:{_ip(request, services)}")
    except RateLimited as exc:
        return _page(
            "forgot_password", status=429, headers=exc.headers, values={"email": email}, errors={"form": exc.message}
        )
    account = await repository.find_user_by_email(db, email)
    tasks: list[BackgroundTask] = []
    if account is not None and account.is_active:
        ttl = services.settings.password_reset_ttl_minutes
        raw = await service.issue_account_token(
            db=db, user_id=account.id, purpose=AccountTokenPurpose.RESET_PASSWORD, ttl=timedelta(minutes=ttl)
        )
        record(db, AuditAction.PASSWORD_RESET_REQUESTED, user_id=account.id, connection=request)
        mail = await emails.queue_password_reset(
            db,
            services,
            user_id=account.id,
            to=account.email,
            username=account.username,
            link=_link(services, "/password/reset", raw),
            ttl_minutes=ttl,
        )
        tasks.append(mail)
    return Template(
        template_name="accounts/forgot_password_sent.html",
        context={"email": email},
        background=_after_commit(*tasks),
    )


@get("/password/reset", include_in_schema=False)
async def reset_password_page(db: AsyncSession, token: FromQuery[str] = "") -> Template:
    """The new-password form of a reset link."""
    await service.valid_account_token(db=db, raw=token, purposes=RESET_PURPOSES)
    return _page("reset_password", token=token)


@post("/password/reset", include_in_schema=False)
async def reset_password_submit(request: AnyRequest, db: AsyncSession, services: Services) -> Template | Redirect:
    """Set the new password, end every session of the account and send the person to sign in."""
    form = await request.form()
    raw = form_text(form, "token")
    token = await service.valid_account_token(db=db, raw=raw, purposes=RESET_PURPOSES)
    try:
        account = await service.reset_password(
            db=db,
            settings=services.settings,
            token=token,
            password=form_secret(form, "password"),
            password_confirm=form_secret(form, "password_confirm"),
        )
    except InvalidInput as exc:
        return _page("reset_password", status=422, token=raw, errors=exc.detail)
    record(db, AuditAction.PASSWORD_RESET, user_id=account.id, connection=request)
    await forget_user(services, account.id)
    flash(request, "Your password has been changed. Sign in with the new one.", "success")
    return Redirect("/login", status_code=303, background=_after_commit(_forget(services, account.id)))


# ---------- account settings ----------


async def _account_page(
    db: AsyncSession,
    services: Services,
    me: CurrentUser,
    *,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> Template:
    account = await repository.get_user(db, me.id)
    if account is None:
        raise BadRequest("Your account no longer exists.")
    stored = await service.load_settings(services=services, user_id=me.id)
    return _page(
        "account",
        status=status,
        account=account,
        settings={**stored, **(values or {})},
        errors=dict(errors or {}),
        timezones=timezone_choices(),
        values=dict(values or {}),
    )


@get("/account", guards=[require_session], include_in_schema=False)
async def account_page(db: AsyncSession, services: Services, me: CurrentUser) -> Template:
    """Settings, password, email address and verification status."""
    return await _account_page(db, services, me)


@post("/account", guards=[require_session], opt={"rate_limit": "settings"}, include_in_schema=False)
async def account_settings_submit(
    request: AnyRequest, db: AsyncSession, services: Services, me: CurrentUser
) -> Template | Redirect:
    """Save the settings form."""
    form = await request.form()
    submitted = {
        "display_name": form_text(form, "display_name"),
        "timezone": form_text(form, "timezone"),
        "page_size": form_text(form, "page_size"),
        "email_notifications": form_text(form, "email_notifications") in ("true", "on", "1"),
    }
    changes, errors = check_settings(submitted)
    if errors:
        return await _account_page(db, services, me, status=422, errors=errors, values=submitted)
    return await _save_settings(request, db, services, me, changes)


async def _save_settings(
    request: AnyRequest, db: AsyncSession, services: Services, me: CurrentUser, changes: service.SettingsChanges
) -> Redirect:
    _, changed = await service.update_settings(db=db, user_id=me.id, changes=changes)
    if changed:
        record(db, AuditAction.SETTINGS_CHANGED, user_id=me.id, connection=request, details={"changed": changed})
    await service.forget_settings(services=services, user_id=me.id)
    flash(request, "Your settings are saved.", "success")
    return Redirect("/account", status_code=303, background=_after_commit(_forget_settings(services, me.id)))


def _forget_settings(services: Services, user_id: int) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await service.forget_settings(services=services, user_id=user_id)

    return run


@post("/account/password", guards=[require_session], opt={"rate_limit": "settings"}, include_in_schema=False)
async def change_password_submit(
    request: AnyRequest, db: AsyncSession, services: Services, me: CurrentUser
) -> Template | Redirect:
    """Change the password; other sessions end, this one continues."""
    form = await request.form()
    try:
        account = await service.change_password(
            db=db,
            settings=services.settings,
            user_id=me.id,
            current=form_secret(form, "current_password"),
            new=form_secret(form, "new_password"),
            new_confirm=form_secret(form, "new_password_confirm"),
        )
    except InvalidInput as exc:
        return await _account_page(db, services, me, status=422, errors=exc.detail)
    record(db, AuditAction.PASSWORD_CHANGED, user_id=account.id, connection=request)
    request.set_session({"uid": account.id, "epoch": account.session_epoch})
    rotate_session(request)
    await forget_user(services, account.id)
    flash(request, "Your password has been changed. Other devices have been signed out.", "success")
    return Redirect("/account", status_code=303, background=_after_commit(_forget(services, account.id)))


@post("/account/email", guards=[require_session], opt={"rate_limit": "settings"}, include_in_schema=False)
async def change_email_submit(
    request: AnyRequest, db: AsyncSession, services: Services, me: CurrentUser
) -> Template | Redirect:
    """Send a confirmation link to the new address; the account switches when it is opened."""
    form = await request.form()
    new_email = form_text(form, "new_email")
    try:
        account, email, raw = await service.request_email_change(
            db=db,
            settings=services.settings,
            user_id=me.id,
            new_email=new_email,
            password=form_secret(form, "password_for_email"),
        )
    except InvalidInput as exc:
        return await _account_page(db, services, me, status=422, errors=exc.detail, values={"new_email": new_email})
    record(db, AuditAction.EMAIL_CHANGE_REQUESTED, user_id=account.id, connection=request, details={"new_email": email})
    ttl_hours = services.settings.email_verification_ttl_hours
    mail = await emails.queue_email_change(
        db,
        services,
        user_id=account.id,
        to=email,
        username=account.username,
        link=_link(services, "/verify-email", raw),
        ttl_hours=ttl_hours,
    )
    flash(request, f"We sent a confirmation link to {email}. Your address changes when you open it.", "success")
    return Redirect("/account", status_code=303, background=_after_commit(mail))


# ---------- JSON API ----------


@get("/api/v1/me", guards=[require_user], tags=["account"], summary="The signed-in user and their settings")
async def api_me(me: CurrentUser, services: Services) -> MeOut:
    """The caller's account and settings (settings are served from the cache)."""
    stored = await service.load_settings(services=services, user_id=me.id)
    return MeOut(
        id=me.id,
        username=me.username,
        email=me.email,
        role=me.role,
        email_verified=me.email_verified,
        settings=UserSettingsOut(**stored),
    )


@patch(
    "/api/v1/me/settings",
    guards=[require_user],
    opt={"rate_limit": "settings"},
    tags=["account"],
    summary="Change some of the signed-in user's settings",
)
async def api_update_settings(
    request: AnyRequest, data: JSONBody[UserSettingsPatch], db: AsyncSession, services: Services, me: CurrentUser
) -> Response[UserSettingsOut]:
    """Partial update: only the fields in the body change. Invalid fields answer 422 with a message each."""
    changes, errors = check_settings({k: v for k, v in data.values().items() if v is not None})
    if errors:
        raise InvalidInput(detail=errors)
    stored, changed = await service.update_settings(db=db, user_id=me.id, changes=changes)
    if changed:
        record(db, AuditAction.SETTINGS_CHANGED, user_id=me.id, connection=request, details={"changed": changed})
    await service.forget_settings(services=services, user_id=me.id)
    return Response(UserSettingsOut(**stored), background=_after_commit(_forget_settings(services, me.id)))


ROUTES: list[ControllerRouterHandler] = [
    register_page,
    register_submit,
    login_page,
    login_submit,
    logout,
    verify_email_page,
    verify_email_submit,
    resend_verification,
    forgot_password_page,
    forgot_password_submit,
    reset_password_page,
    reset_password_submit,
    account_page,
    account_settings_submit,
    change_password_submit,
    change_email_submit,
    api_me,
    api_update_settings,
]
