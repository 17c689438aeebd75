"""`pos staff`: staff users, their passwords and roles, and whether they may sign in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import click

from pos.cli_database import with_database
from pos.cli_output import echo_table, hinted
from pos.staff import service as staff_service
from pos.staff.actors import ROLE_NAMES, RoleName
from pos.stores import service as stores_service

__all__ = ["staff_group"]

_WHO_IS_THERE = "`pos staff list` shows every staff user"


@click.group("staff")
def staff_group() -> None:
    """Staff users and their roles."""


_ROLE = click.option("--role", "role_name", required=True, type=click.Choice(ROLE_NAMES))
_STORES = click.option(
    "--store", "store_codes", multiple=True, help="store code, repeatable; none: head office"
)


async def _roles(
    role_name: RoleName, store_codes: Sequence[str]
) -> list[tuple[RoleName, int | None]]:
    """`role_name` at each store named by code, or at head office when none is named."""
    ids = await stores_service.store_ids_by_code(list(store_codes))
    unknown = sorted(set(store_codes) - set(ids))
    if unknown:
        raise click.ClickException(f"unknown store code(s): {', '.join(unknown)}")
    return [(role_name, ids[code]) for code in store_codes] or [(role_name, None)]


def _on_user(change: Callable[[], Awaitable[None]]) -> None:
    """Make `change` to a user; one not there ends the command saying where to look."""
    with_database(lambda: hinted(change(), "staff_not_found", _WHO_IS_THERE))


@staff_group.command("add")
@click.argument("username")
@_ROLE
@_STORES
@click.option("--name", "display_name", default="", help="name shown on the tablet")
@click.password_option(help="prompted for when not given")
def add_staff(
    username: str,
    role_name: RoleName,
    store_codes: tuple[str, ...],
    display_name: str,
    password: str,
) -> None:
    """Create a staff user with one role at the given stores (or at head office)."""

    async def create() -> None:
        roles = await _roles(role_name, store_codes)
        await staff_service.create_user(username, password, display_name=display_name, roles=roles)

    with_database(create)
    click.echo(f"created {username}")


def _held(roles: Sequence[tuple[RoleName, str | None]]) -> str:
    """`manager at head office; restocker at A, B`: each role and where it is held."""
    places: dict[str, list[str]] = {}
    for role, store_code in roles:
        places.setdefault(role, []).append(store_code or "head office")
    return "; ".join(f"{role} at {', '.join(where)}" for role, where in places.items())


@staff_group.command("list")
def list_staff() -> None:
    """Every staff user: username, display name, roles (with store codes), active or not."""
    users = with_database(staff_service.list_users)
    if not users:
        click.echo("no staff users yet: `pos staff add` creates one")
        return
    rows = [
        (
            user.username,
            user.display_name,
            _held(user.roles) or "none",
            "yes" if user.active else "no",
        )
        for user in users
    ]
    echo_table(("username", "name", "roles", "active"), rows)


@staff_group.command("deactivate")
@click.argument("username")
def deactivate_staff(username: str) -> None:
    """Stop a user signing in, and end every session of theirs at once."""
    _on_user(lambda: staff_service.deactivate_user(username))
    click.echo(f"deactivated {username}: signed out everywhere; `pos staff activate` undoes it")


@staff_group.command("activate")
@click.argument("username")
def activate_staff(username: str) -> None:
    """Let a deactivated user sign in again, with the password and roles they had."""
    _on_user(lambda: staff_service.activate_user(username))
    click.echo(f"{username} may sign in")


@staff_group.command("password")
@click.argument("username")
@click.password_option(help="prompted for when not given")
def set_staff_password(username: str, password: str) -> None:
    """Set a user's password (asked twice); their sessions end."""
    _on_user(lambda: staff_service.set_password(username, password))
    click.echo(f"password of {username} changed: signed out everywhere")


@staff_group.command("roles")
@click.argument("username")
@_ROLE
@_STORES
def replace_staff_roles(username: str, role_name: RoleName, store_codes: tuple[str, ...]) -> None:
    """Replace a user's roles with one role at the given stores (or at head office)."""

    async def replace() -> None:
        roles = await _roles(role_name, store_codes)
        await hinted(staff_service.replace_roles(username, roles), "staff_not_found", _WHO_IS_THERE)

    with_database(replace)
    where = ", ".join(store_codes) or "head office"
    click.echo(f"{username} is now {role_name} at {where}")
