from __future__ import annotations

import re
import shutil
from pathlib import Path

from click.testing import CliRunner

from pos.cli import main
from pos.orders.tokens import counter_qr_token
from pos.settings import DEMO_SECRET
from tests.helpers.demo import DEMO


def test_pos_demo_prints_the_shopper_kiosk_and_staff_pages(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database = tmp_path / "pos.sqlite3"
    shutil.copy(sqlite_template, database)
    env = {"POS_DATABASE_URL": f"sqlite:///{database}", "POS_PUBLIC_URL": "http://pos.example"}
    result = CliRunner().invoke(main, ["demo", "--dir", str(DEMO)], env=env)
    assert result.exit_code == 0, result.output
    shopper = re.findall(r"http://pos\.example/c/(\d+)\?t=(\S+)", result.output)
    assert len(shopper) == 2
    for counter_id, token in shopper:
        assert token == counter_qr_token(int(counter_id), secret=DEMO_SECRET)
    assert re.search(r"http://pos\.example/kiosk/pair\?token=\S{20,}", result.output)
    assert "http://pos.example/staff/login" in result.output
