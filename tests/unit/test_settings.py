from __future__ import annotations

from pathlib import Path

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
        ("POS_PUBLIC_URL", "shop.example.com"),
        ("POS_PUBLIC_URL", "https://"),
        ("POS_PLATFORM_URL", "platform.example.cn/api"),
        ("POS_PLATFORM_URL", "ftp://platform.example.cn"),
        ("POS_PLATFORM_URL", "http://[::1"),
        ("POS_CATALOG_PAGE_SIZE", "201"),  # more than a device may ask for
    ],
)
def test_a_wrong_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_a_short_secret_key_says_how_long_it_must_be(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POS_SECRET_KEY", "short")
    with pytest.raises(SettingsError, match="POS_SECRET_KEY: must be at least 32 characters"):
        load_settings()


def test_a_url_without_a_scheme_says_what_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POS_PUBLIC_URL", "shop.example.com")
    with pytest.raises(SettingsError, match="POS_PUBLIC_URL: must start with http:// or https://"):
        load_settings()


def test_web_urls_with_a_host_are_kept_and_an_empty_platform_url_is_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POS_PUBLIC_URL", "https://pos.example.cn/")
    monkeypatch.setenv("POS_PLATFORM_URL", "http://[::1]:8100")
    settings = load_settings()
    assert (settings.public_url, settings.platform_url) == (
        "https://pos.example.cn/",
        "http://[::1]:8100",
    )
    monkeypatch.setenv("POS_PLATFORM_URL", "")
    assert load_settings().platform_url is None


def test_dotenv_file_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("POS_TIME_ZONE=Asia/Urumqi\n")  # type: ignore[operator]
    assert load_settings().time_zone == "Asia/Urumqi"


def test_a_real_provider_refuses_the_demo_s_public_secrets(tmp_path: Path) -> None:
    keys = {name: tmp_path / f"{name}.pem" for name in ("private", "public")}
    for path in keys.values():
        path.write_text("-----BEGIN KEY-----")
    alipay = {
        "payment_provider": "alipay",
        "alipay_appid": "2021000000000000",
        "alipay_private_key_file": keys["private"],
        "alipay_public_key_file": keys["public"],
    }
    with pytest.raises(SettingsError, match="set POS_SECRET_KEY and POS_PAYER_SALT of your own"):
        load_settings(_env_file=None, **alipay)

    own = {"secret_key": "s" * 32, "payer_salt": "salt"}
    assert load_settings(_env_file=None, **alipay, **own).payment_provider == "alipay"


def test_the_real_platform_refuses_the_demo_s_public_key() -> None:
    real = "https://platform.example.cn"
    with pytest.raises(SettingsError, match="set POS_PLATFORM_KEY"):
        load_settings(_env_file=None, platform_url=real)

    assert load_settings(_env_file=None, platform_url=real, platform_key="k").platform_url == real
    assert load_settings(_env_file=None, platform_url="http://127.0.0.1:8100").platform_url
