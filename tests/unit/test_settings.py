from __future__ import annotations

import pytest

from pos.settings import SettingsError, load_settings


def test_defaults_run_embedded_on_an_sqlite_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")  # no .env here
    settings = load_settings()
    assert settings.is_sqlite
    assert settings.redis_url is None
    assert settings.time_zone == "Asia/Shanghai"


def test_environment_variables_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POS_DATABASE_URL", "postgresql://postgres@127.0.0.1/pos")
    monkeypatch.setenv("POS_REDIS_URL", "redis://127.0.0.1:6379/1")
    settings = load_settings()
    assert not settings.is_sqlite
    assert settings.redis_url == "redis://127.0.0.1:6379/1"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("POS_DATABASE_URL", "mysql://root@localhost/pos"),
        ("POS_REDIS_URL", "localhost:6379"),
        ("POS_TIME_ZONE", "Mars/Olympus"),
        ("POS_PORT", "99999"),
        ("POS_SECRET_KEY", "short"),
        ("POS_PLATFORM_LEASE_S", "10"),  # not longer than the 10 s request timeout
        ("POS_PLATFORM_MERCHANT_KEYS", '{"XM-0001": '),  # not JSON
    ],
)
def test_a_wrong_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_dotenv_file_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("POS_TIME_ZONE=Asia/Urumqi\n")  # type: ignore[operator]
    assert load_settings().time_zone == "Asia/Urumqi"
