from __future__ import annotations

import anyio
import pytest

from pos.platform.relay import run_relay, unconfigured
from pos.settings import Settings

pytestmark = pytest.mark.anyio


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_only_real_money_without_a_platform_url_is_a_problem() -> None:
    real_money = _settings().model_copy(update={"payment_provider": "wechat"})
    assert unconfigured(_settings()) is None  # the demo's sandbox wallet
    assert (
        unconfigured(real_money.model_copy(update={"platform_url": "http://127.0.0.1:8100"}))
        is None
    )
    problem = unconfigured(real_money)
    assert problem is not None
    assert "set POS_PLATFORM_URL" in problem


async def test_a_relay_without_a_platform_for_real_money_warns_once_and_stops(
    capsys: pytest.CaptureFixture[str],
) -> None:
    real_money = _settings().model_copy(update={"payment_provider": "alipay"})
    with anyio.fail_after(1):
        await run_relay(anyio.Event(), real_money)
    lines = [line for line in capsys.readouterr().out.splitlines() if "POS_PLATFORM_URL" in line]
    assert len(lines) == 1
    assert "warning" in lines[0]
