"""``spyglass create-admin``: flags or prompts, the password policy, unique names, a verified admin."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from spyglass.audit.service import AuditAction
from spyglass.cli import app
from spyglass.core.security import verify_password
from tests.cli.conftest import query

STRONG = "tangerine lighthouse 42 moss"


def test_create_admin_with_flags(runner: CliRunner, cli_env: Callable[[str], Path], database_url: str) -> None:
    cli_env(database_url)

    result = runner.invoke(
        app,
        ["create-admin", "--username", "root-ann", "--email", "Ann@Example.COM", "--password-stdin"],
        input=STRONG + "\n",
    )

    assert result.exit_code == 0, result.output
    assert "Admin root-ann <ann@example.com> created" in result.stdout
    assert STRONG not in result.output
    rows = query(
        database_url,
        "SELECT id, role, is_active, email_verified_at IS NOT NULL, password_hash, email FROM users "
        "WHERE username = 'root-ann'",
    )
    assert len(rows) == 1
    user_id, role, active, verified, password_hash, email = rows[0]
    assert (role, bool(active), bool(verified), email) == ("admin", True, True, "ann@example.com")
    assert str(password_hash).startswith("$argon2id$")
    assert verify_password(str(password_hash), STRONG)
    assert query(database_url, "SELECT user_id FROM user_settings") == [(user_id,)]
    events = query(database_url, "SELECT action, user_id, details FROM audit_events")
    assert [(action, uid) for action, uid, _ in events] == [(AuditAction.ADMIN_CREATED, user_id)]
    assert STRONG not in str(events)


def test_create_admin_prompts_with_hidden_confirmed_password(
    runner: CliRunner, cli_env: Callable[[str], Path], database_url: str
) -> None:
    cli_env(database_url)
    # The second pair of passwords differs, so the prompt asks again.
    answers = ["bob", "bob@example.com", STRONG, STRONG + "x", STRONG, STRONG, ""]

    result = runner.invoke(app, ["create-admin"], input="\n".join(answers))

    assert result.exit_code == 0, result.output
    assert "Username:" in result.stdout
    assert "Repeat the password" in result.stdout
    assert STRONG not in result.stdout, "hidden input must not be echoed"
    assert query(database_url, "SELECT username, role FROM users") == [("bob", "admin")]


def test_weak_password_is_refused_with_the_policy_messages(
    runner: CliRunner, cli_env: Callable[[str], Path], database_url: str
) -> None:
    cli_env(database_url)

    common = runner.invoke(
        app,
        ["create-admin", "--username", "carol", "--email", "c@example.com", "--password-stdin"],
        input="password1\n",
    )
    short = runner.invoke(
        app, ["create-admin", "--username", "carol", "--email", "c@example.com", "--password-stdin"], input="x9!k\n"
    )
    own_name = runner.invoke(
        app,
        ["create-admin", "--username", "carolyn", "--email", "c@example.com", "--password-stdin"],
        input="carolyn-rules-the-world\n",
    )

    assert common.exit_code == 1
    assert "most common" in common.stderr
    assert short.exit_code == 1
    assert "at least 8 characters" in short.stderr
    assert own_name.exit_code == 1
    assert "username" in own_name.stderr
    for result in (common, short, own_name):
        assert "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1
    assert query(database_url, "SELECT count(*) FROM users") == [(0,)]


def test_taken_username_or_email_is_refused(
    runner: CliRunner, cli_env: Callable[[str], Path], database_url: str
) -> None:
    cli_env(database_url)
    args = ["create-admin", "--password-stdin"]
    first = runner.invoke(app, [*args, "--username", "dana", "--email", "dana@example.com"], input=STRONG + "\n")
    same_name = runner.invoke(app, [*args, "--username", "DANA", "--email", "other@example.com"], input=STRONG + "\n")
    same_email = runner.invoke(app, [*args, "--username", "dana2", "--email", "DANA@example.com"], input=STRONG + "\n")

    assert first.exit_code == 0, first.output
    assert same_name.exit_code == 1
    assert "username 'dana' is already taken" in same_name.stderr
    assert same_email.exit_code == 1
    assert "email address 'dana@example.com' is already taken" in same_email.stderr
    assert query(database_url, "SELECT username FROM users") == [("dana",)]


def test_bad_username_and_email_are_refused(
    runner: CliRunner, cli_env: Callable[[str], Path], database_url: str
) -> None:
    cli_env(database_url)
    bad_name = runner.invoke(
        app, ["create-admin", "--username", "a b", "--email", "a@example.com", "--password-stdin"], input=STRONG
    )
    bad_email = runner.invoke(
        app, ["create-admin", "--username", "erin", "--email", "not-an-address", "--password-stdin"], input=STRONG
    )

    assert bad_name.exit_code == 1
    assert "Use only letters, digits" in bad_name.stderr
    assert bad_email.exit_code == 1
    assert "not a valid email address" in bad_email.stderr
    assert query(database_url, "SELECT count(*) FROM users") == [(0,)]


def test_create_admin_needs_a_migrated_database(
    runner: CliRunner, cli_env: Callable[[str], Path], tmp_path: Path
) -> None:
    cli_env(f"sqlite+aiosqlite:///{tmp_path / 'nothing-here.db'}")

    result = runner.invoke(
        app, ["create-admin", "--username", "fay", "--email", "fay@example.com", "--password-stdin"], input=STRONG
    )

    assert result.exit_code == 1
    assert "run `spyglass migrate` first" in result.stderr
