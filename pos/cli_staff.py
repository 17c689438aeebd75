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


class _RoleAt(click.ParamType[tuple[RoleName, str | None]]):
    """`ROLE`, or `ROLE:STORE` for that role at one store (by its code)."""

    name = "role[:store]"

    def convert(
        self, value: str, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[RoleName, str | None]:
        role, _, store_code = value.partition(":")
        if role not in ROLE_NAMES:
            self.fail(f"{role!r} is not one of {', '.join(ROLE_NAMES)}", param, ctx)
        return role, store_code or None


_ROLE = click.option(
    "--role",
    "role_specs",
    required=True,
    multiple=True,
    type=_RoleAt(),
    help=f"{', '.join(ROLE_NAMES)}; ROLE:STORE holds it at that store only; repeatable",
)
_STORES = click.option(
    "--store",
    "store_codes",
    multiple=True,
    help="store code for each --role given without one, repeatable; none: head office",
)
_RoleSpecs = Sequence[tuple[RoleName, str | None]]


def _where_held(specs: _RoleSpecs, store_codes: Sequence[str]) -> list[tuple[RoleName, str | None]]:
    """Each role with the code of a store it is held at (None: head office), in the given order.

    A role without a store of its own is held at every `--store`, or at head office.
    """
    if store_codes and all(code is not None for _, code in specs):
        raise click.UsageError("--store is for a --role given without a store; every one has one")
    unpaired = tuple(store_codes) or (None,)
    held = ((role, code) for role, own in specs for code in ((own,) if own else unpaired))
    return list(dict.fromkeys(held))


async def _roles(held: _RoleSpecs) -> list[tuple[RoleName, int | None]]:
    """The roles with each store code turned into its id."""
    codes = [code for _, code in held if code is not None]
    ids = await stores_service.store_ids_by_code(codes)
    unknown = sorted(set(codes) - set(ids))
    if unknown:
        raise click.ClickException(f"unknown store code(s): {', '.join(unknown)}")
    return [(role, None if code is None else ids[code]) for role, code in held]


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
    role_specs: _RoleSpecs,
    store_codes: tuple[str, ...],
    display_name: str,
    password: str,
) -> None:
    """Create a staff user with roles, each at the given stores (or at head office)."""
    held = _where_held(role_specs, store_codes)

    async def create() -> None:
        roles = await _roles(held)
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
def replace_staff_roles(
    username: str, role_specs: _RoleSpecs, store_codes: tuple[str, ...]
) -> None:
    """Replace a user's roles with these, each at the given stores (or at head office).

    `--role manager:S01 --role cashier:S02`; `--role cashier --store S01 --store S02`.
    """
    held = _where_held(role_specs, store_codes)

    async def replace() -> None:
        roles = await _roles(held)
        await hinted(staff_service.replace_roles(username, roles), "staff_not_found", _WHO_IS_THERE)

    with_database(replace)
    click.echo(f"{username} is now {_held(held)}")
