"""The `pos` commands of everyday administration: staff, devices and their pairing, supplier keys.

And `pos serve` behind a load balancer on another host: POS_FORWARDED_ALLOW_IPS reaches uvicorn.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner, Result

from pos import cli
from pos.catalog.tables import Supplier
from pos.cli import main
from pos.cli_stores import pairing_line
from pos.db import opened_database
from pos.errors import NotAuthenticated
from pos.staff import service as staff
from pos.staff import supplier_keys
from pos.stores.tables import Counter, Device, Store
from tests.helpers.staff import (
    PASSWORD,
    add_counter,
    add_device,
    add_printer,
    add_store,
    add_supplier,
)

T = TypeVar("T")
PUBLIC_URL = "https://pos.example.cn"


def _in_database(url: str, work: Callable[[], Awaitable[T]]) -> T:
    """Do `work` on the database at `url`, as a test's setup or its check."""

    async def run() -> T:
        async with opened_database(url):
            return await work()

    return asyncio.run(run())


def _pos(url: str, *args: str, given: str | None = None) -> Result:
    env = {"POS_DATABASE_URL": url, "POS_PUBLIC_URL": PUBLIC_URL}
    return CliRunner().invoke(main, list(args), input=given, env=env)


def _done(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def _refused(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert f"Error: {message}" in result.output, result.output


def test_pos_staff_manages_a_user_from_adding_to_roles(database_url: str) -> None:
    url = database_url
    store = _in_database(url, add_store)
    row = _in_database(url, lambda: Store.select(Store.code).where(Store.id == store).first())
    code = row["code"]
    add = ["staff", "add", "li.wei", "--role", "cashier", "--store", code, "--name", "李伟"]
    added = _pos(url, *add, given=f"{PASSWORD}\n{PASSWORD}\n")
    assert _done(added)[-1] == "created li.wei"
    roles = f"cashier at {code}"
    assert _done(_pos(url, "staff", "list")) == [  # 李伟 takes the 4 columns "name" takes
        f"username  name  {'roles':<{len(roles)}}  active",
        f"li.wei    李伟  {roles}  yes",
    ]

    token, _ = _in_database(url, lambda: staff.login("li.wei", PASSWORD))
    assert _done(_pos(url, "staff", "deactivate", "Li.Wei"))[-1].startswith("deactivated Li.Wei")
    assert _done(_pos(url, "staff", "list"))[-1].endswith("no")
    with pytest.raises(NotAuthenticated):
        _in_database(url, lambda: staff.staff_for_session(token))
    assert _done(_pos(url, "staff", "activate", "li.wei")) == ["li.wei may sign in"]

    new = "another long password"
    changed = _pos(url, "staff", "password", "li.wei", given=f"{new}\n{new}\n")
    assert _done(changed)[-1] == "password of li.wei changed: signed out everywhere"
    assert _in_database(url, lambda: staff.login("li.wei", new))[1].username == "li.wei"

    replaced = _done(_pos(url, "staff", "roles", "li.wei", "--role", "manager"))
    assert replaced == ["li.wei is now manager at head office"]
    assert _done(_pos(url, "staff", "list"))[-1].endswith("李伟  manager at head office  yes")


def test_pos_staff_password_keeps_the_rules_and_asks_twice(database_url: str) -> None:
    _in_database(
        database_url, lambda: staff.create_user("li.wei", PASSWORD, roles=[("cashier", None)])
    )
    _refused(
        _pos(database_url, "staff", "password", "li.wei", given="short\nshort\n"),
        "a password has 8 to 256 characters",
    )
    mistyped = _pos(
        database_url, "staff", "password", "li.wei", given="long enough 1\nlong enough 2\n"
    )
    assert mistyped.exit_code != 0
    assert "do not match" in mistyped.output
    assert (
        _in_database(database_url, lambda: staff.login("li.wei", PASSWORD))[1].username == "li.wei"
    )


@pytest.mark.parametrize(
    "command",
    [
        ["deactivate", "ghost"],
        ["activate", "ghost"],
        ["password", "ghost", "--password", PASSWORD],
        ["roles", "ghost", "--role", "manager"],
    ],
    ids=["deactivate", "activate", "password", "roles"],
)
def test_pos_staff_on_a_user_not_there_names_them_and_says_where_to_look(
    database_url: str, command: list[str]
) -> None:
    _refused(
        _pos(database_url, "staff", *command),
        "no staff user 'ghost'; `pos staff list` shows every staff user",
    )


def test_pos_staff_roles_refuses_a_store_code_not_there(database_url: str) -> None:
    _in_database(
        database_url, lambda: staff.create_user("li.wei", PASSWORD, roles=[("cashier", None)])
    )
    result = _pos(database_url, "staff", "roles", "li.wei", "--role", "manager", "--store", "NOPE")
    _refused(result, "unknown store code(s): NOPE")


async def _new_store_code() -> str:
    store_id = await add_store()
    row = await Store.select(Store.code).where(Store.id == store_id).first()
    assert row is not None
    return str(row["code"])


def test_pos_staff_roles_gives_several_roles_each_at_its_stores(database_url: str) -> None:
    url = database_url
    first, second = _in_database(url, _new_store_code), _in_database(url, _new_store_code)
    _in_database(url, lambda: staff.create_user("li.wei", PASSWORD, roles=[("cashier", None)]))
    roles = ["--role", f"manager:{first}", "--role", "cashier", "--store", first, "--store", second]
    replaced = _done(_pos(url, "staff", "roles", "li.wei", *roles))
    held = f"manager at {first}; cashier at {first}, {second}"
    assert replaced == [f"li.wei is now {held}"]
    assert _done(_pos(url, "staff", "list"))[-1].endswith(f"{held}  yes")


def test_pos_staff_roles_refuses_a_store_no_role_is_given_for(database_url: str) -> None:
    result = _pos(
        database_url, "staff", "roles", "li.wei", "--role", "manager:S01", "--store", "S02"
    )
    assert result.exit_code == 2, result.output
    assert "--store is for a --role given without a store" in result.output


async def _kiosk_and_tablet() -> dict[str, Any]:
    """A store with a counter, a printer, a kiosk at the counter and a tablet."""
    store_id = await add_store()
    counter_id = await add_counter(store_id)
    printer_id = await add_printer(store_id, "tcp://127.0.0.1:9100")
    kiosk = await add_device(store_id, "kiosk", counter_id=counter_id)
    await Device.update({Device.printer: printer_id, Device.name: "kiosk-1"}).where(
        Device.id == kiosk
    )
    tablet = await add_device(store_id, "tablet")
    await Device.update({Device.name: "tablet-1"}).where(Device.id == tablet)
    store = await Store.select(Store.code).where(Store.id == store_id).first()
    counter = await Counter.select(Counter.code).where(Counter.id == counter_id).first()
    assert store is not None
    assert counter is not None
    return {"kiosk": kiosk, "tablet": tablet, "store": store["code"], "counter": counter["code"]}


def test_pos_stores_devices_lists_each_device_and_its_live_tokens(database_url: str) -> None:
    made = _in_database(database_url, _kiosk_and_tablet)
    _done(_pos(database_url, "stores", "pair", str(made["kiosk"])))
    header, kiosk, tablet = _done(_pos(database_url, "stores", "devices", "--store", made["store"]))
    assert header.split() == [
        "id",
        "store",
        "name",
        "kind",
        "counter",
        "printer",
        "active",
        "live",
        "tokens",
    ]
    assert kiosk.split() == [
        str(made["kiosk"]),
        made["store"],
        "kiosk-1",
        "kiosk",
        made["counter"],
        "收银小票机",
        "yes",
        "1",
    ]
    assert tablet.split() == [
        str(made["tablet"]),
        made["store"],
        "tablet-1",
        "tablet",
        "-",
        "-",
        "yes",
        "0",
    ]
    _refused(_pos(database_url, "stores", "devices", "--store", "NOPE"), "no store 'NOPE'")


def test_pos_stores_pair_prints_the_kiosk_link_the_demo_prints(database_url: str) -> None:
    made = _in_database(database_url, _kiosk_and_tablet)
    line, note = _done(_pos(database_url, "stores", "pair", str(made["kiosk"])))
    prefix = f"kiosk kiosk-1 (pairing link, open it on the kiosk): {PUBLIC_URL}/kiosk/pair?token="
    assert line.startswith(prefix)
    assert pairing_line("kiosk", "kiosk-1", line.removeprefix(prefix), PUBLIC_URL) == line
    assert "shown only now" in note
    paired = _in_database(database_url, lambda: staff.device_for_token(line.removeprefix(prefix)))
    assert (paired.device_id, paired.kind) == (made["kiosk"], "kiosk")

    by_name = _pos(database_url, "stores", "pair", "--store", made["store"], "--name", "tablet-1")
    tablet_line = _done(by_name)[0]
    assert tablet_line.startswith(
        "tablet tablet-1 (bearer token, send as `Authorization: Bearer <token>`): "
    )
    token = tablet_line.rsplit(" ", 1)[1]
    assert (
        _in_database(database_url, lambda: staff.device_for_token(token)).device_id
        == made["tablet"]
    )


def test_pos_stores_pair_replace_revokes_the_earlier_tokens(database_url: str) -> None:
    made = _in_database(database_url, _kiosk_and_tablet)
    first = _done(_pos(database_url, "stores", "pair", str(made["kiosk"])))[0].rsplit("=", 1)[1]
    replaced = _done(_pos(database_url, "stores", "pair", str(made["kiosk"]), "--replace"))
    assert replaced[1].endswith("its earlier tokens revoked")
    with pytest.raises(NotAuthenticated, match="unknown or revoked device token"):
        _in_database(database_url, lambda: staff.device_for_token(first))
    live = _in_database(database_url, lambda: staff.live_device_tokens([made["kiosk"]]))
    assert live == {made["kiosk"]: 1}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["999999"], "no device 999999; `pos stores devices` lists every device with its id"),
        (["--store", "NOPE", "--name", "kiosk-1"], "store 'NOPE' has no device 'kiosk-1'"),
        ([], "name the device by its id, or by --store CODE and --name NAME"),
        (
            ["1", "--name", "kiosk-1"],
            "name the device by its id or by --store and --name, not both",
        ),
    ],
    ids=["unknown-id", "unknown-name", "no-device", "both"],
)
def test_pos_stores_pair_says_how_to_name_a_device(
    database_url: str, args: list[str], message: str
) -> None:
    result = _pos(database_url, "stores", "pair", *args)
    assert result.exit_code != 0, result.output
    assert message in result.output


def test_pos_stores_pair_refuses_a_device_its_layout_left_out(database_url: str) -> None:
    made = _in_database(database_url, _kiosk_and_tablet)
    _in_database(
        database_url,
        lambda: Device.update({Device.active: False}).where(Device.id == made["kiosk"]),
    )
    _refused(
        _pos(database_url, "stores", "pair", str(made["kiosk"])),
        f"device {made['kiosk']} is not in its store's layout; add it there first",
    )


async def _supplier_code() -> tuple[int, str]:
    supplier_id = await add_supplier()
    row = await Supplier.select(Supplier.credit_code).where(Supplier.id == supplier_id).first()
    return supplier_id, row["credit_code"] if row else ""


def test_pos_suppliers_key_adds_lists_and_revokes_a_key(database_url: str) -> None:
    supplier_id, code = _in_database(database_url, _supplier_code)
    added = _done(_pos(database_url, "suppliers", "key", "add", code))
    key_id = added[1].removeprefix("  key id: ")
    api_key = added[2].removeprefix("  X-Api-Key: ")
    secret = added[3].removeprefix("  signing secret: ")
    assert api_key.startswith(f"{key_id}.")
    assert f"{PUBLIC_URL}/api/suppliers/{supplier_id}/stock" in added[4]
    assert (
        _in_database(database_url, lambda: supplier_keys.supplier_signing_secret(key_id)) == secret
    )

    header, listed = _done(_pos(database_url, "suppliers", "key", "list", code))
    assert header.split() == ["key", "id", "created", "revoked"]
    assert listed.startswith(key_id)
    assert listed.endswith("live")
    assert secret not in listed

    revoked = _done(_pos(database_url, "suppliers", "key", "revoke", key_id))
    assert revoked[0].startswith(f"{key_id} of supplier {code} revoked at ")
    assert _done(_pos(database_url, "suppliers", "key", "revoke", key_id)) == revoked
    with pytest.raises(NotAuthenticated, match="unknown or revoked API key"):
        _in_database(database_url, lambda: supplier_keys.supplier_for_key(api_key))
    assert not _done(_pos(database_url, "suppliers", "key", "list", code))[1].endswith("live")


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["add", "91350200MA2XXXXXXX"], "no supplier with credit code '91350200MA2XXXXXXX'; check"),
        (
            ["list", "91350200MA2XXXXXXX"],
            "no supplier with credit code '91350200MA2XXXXXXX'; check",
        ),
        (
            ["revoke", "sk_0000000000000000"],
            "no supplier API key 'sk_0000000000000000'; `pos suppliers key list",
        ),
    ],
    ids=["add", "list", "revoke"],
)
def test_pos_suppliers_key_names_what_is_not_there(
    database_url: str, command: list[str], message: str
) -> None:
    _refused(_pos(database_url, "suppliers", "key", *command), message)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The configuration `pos serve` hands uvicorn, which is not started."""
    given: dict[str, Any] = {}
    monkeypatch.setattr(cli._Server, "run", lambda server: given.update(vars(server.config)))
    return given


@pytest.mark.parametrize(
    ("value", "trusted"),
    [(None, "127.0.0.1,::1"), ("10.0.0.0/8, 192.0.2.7", "10.0.0.0/8,192.0.2.7"), ("*", "*")],
    ids=["default", "networks", "any"],
)
def test_pos_serve_trusts_forwarded_headers_from_pos_forwarded_allow_ips(
    sqlite_template: Path, tmp_path: Path, served: dict[str, Any], value: str | None, trusted: str
) -> None:
    shutil.copy(sqlite_template, tmp_path / "pos.sqlite3")
    env = {"POS_DATABASE_URL": f"sqlite:///{tmp_path / 'pos.sqlite3'}"}
    if value is not None:
        env["POS_FORWARDED_ALLOW_IPS"] = value
    result = CliRunner().invoke(main, ["serve"], env=env)
    assert result.exit_code == 0, result.output
    assert (served["proxy_headers"], served["forwarded_allow_ips"]) == (True, trusted)


@pytest.mark.parametrize("value", ["lb.internal", "10.0.0.1/8", "127.0.0.1,*", ""])
def test_a_proxy_address_uvicorn_would_not_read_stops_pos_serve(
    served: dict[str, Any], value: str
) -> None:
    result = CliRunner().invoke(main, ["serve"], env={"POS_FORWARDED_ALLOW_IPS": value})
    _refused(result, "invalid configuration: POS_FORWARDED_ALLOW_IPS: ")
    assert served == {}


def test_pos_inventory_pull_feeds_says_when_no_supplier_has_a_feed(database_url: str) -> None:
    lines = _done(_pos(database_url, "inventory", "pull-feeds"))
    assert lines == ["no supplier has a stock feed: set one with PUT /api/suppliers/{id}/feed"]
