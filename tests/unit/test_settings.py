from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pos.settings import SettingsError, load_settings

_OWN_SECRETS = {"secret_key": "s" * 32, "payer_salt": "salt"}
_CERTIFICATE = "-----BEGIN CERTIFICATE-----\nnot a key\n-----END CERTIFICATE-----\n"


@pytest.fixture(scope="module")
def key_pem() -> dict[str, str]:
    """An RSA key pair as the payment platforms give it: PKCS#8 and SubjectPublicKeyInfo PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"private": private.decode(), "public": public.decode()}


def _account(provider: str, folder: Path, private: str, public: str) -> dict[str, object]:
    """Settings for `provider` with its key files holding `private` and `public`."""
    files = {"private": folder / "private.pem", "public": folder / "public.pem"}
    files["private"].write_text(private)
    files["public"].write_text(public)
    given = {
        "wechat": {
            "wechat_mchid": "1900000001",
            "wechat_appid": "wx0000000000000001",
            "wechat_cert_serial_no": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
            "wechat_apiv3_key": "0123456789abcdef0123456789abcdef",
            "wechat_public_key_id": "PUB_KEY_ID_0119000001092025",
        },
        "alipay": {"alipay_appid": "2021000000000001"},
    }[provider]
    keys = {f"{provider}_{kind}_key_file": path for kind, path in files.items()}
    return {"payment_provider": provider, **given, **keys}


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


def test_a_real_provider_refuses_the_demo_s_public_secrets(
    tmp_path: Path, key_pem: dict[str, str]
) -> None:
    alipay = _account("alipay", tmp_path, key_pem["private"], key_pem["public"])
    with pytest.raises(SettingsError, match="set POS_SECRET_KEY and POS_PAYER_SALT of your own"):
        load_settings(_env_file=None, **alipay)

    assert load_settings(_env_file=None, **alipay, **_OWN_SECRETS).payment_provider == "alipay"


@pytest.mark.parametrize("provider", ["wechat", "alipay"])
@pytest.mark.parametrize("kind", ["private", "public"])
def test_a_payment_key_file_that_is_not_a_key_is_named(
    tmp_path: Path, key_pem: dict[str, str], provider: str, kind: str
) -> None:
    # The usual slip: the certificate (or any other file) where a key should be.
    pem = {**key_pem, kind: _CERTIFICATE}
    account = _account(provider, tmp_path, pem["private"], pem["public"])
    variable = f"POS_{provider.upper()}_{kind.upper()}_KEY_FILE"
    with pytest.raises(SettingsError, match=f"{variable}: not a PEM {kind} key"):
        load_settings(_env_file=None, **account, **_OWN_SECRETS)


def test_a_bare_key_without_its_pem_lines_does_for_wechat_only(
    tmp_path: Path, key_pem: dict[str, str]
) -> None:
    # WeChat Pay's SDK adds the PEM lines itself; Alipay's reads the file as it is.
    bare = {kind: "".join(pem.strip().splitlines()[1:-1]) for kind, pem in key_pem.items()}
    wechat = _account("wechat", tmp_path, bare["private"], bare["public"])
    assert load_settings(_env_file=None, **wechat, **_OWN_SECRETS).payment_provider == "wechat"

    alipay = _account("alipay", tmp_path, bare["private"], bare["public"])
    with pytest.raises(SettingsError, match="POS_ALIPAY_PRIVATE_KEY_FILE: not a PEM private key"):
        load_settings(_env_file=None, **alipay, **_OWN_SECRETS)


def test_the_real_platform_refuses_the_demo_s_public_key() -> None:
    real = "https://platform.example.cn"
    with pytest.raises(SettingsError, match="set POS_PLATFORM_KEY"):
        load_settings(_env_file=None, platform_url=real)

    assert load_settings(_env_file=None, platform_url=real, platform_key="k").platform_url == real
    merchants = {"platform_merchant_keys": {"XM-0001": "k"}}  # every merchant its own key
    assert load_settings(_env_file=None, platform_url=real, **merchants).platform_url == real
    assert load_settings(_env_file=None, platform_url="http://127.0.0.1:8100").platform_url


@pytest.mark.parametrize("seller_id", ["", "2088101106499364"])
def test_the_alipay_seller_id_is_a_pid_or_unset(seller_id: str) -> None:
    assert load_settings(_env_file=None, alipay_seller_id=seller_id).alipay_seller_id == seller_id


@pytest.mark.parametrize(
    "seller_id",
    [
        "2021000000000001",
        "208810110649936",
        "20881011064993645",
        "2088１01106499364",
        "2088101106499364\n",
    ],
)
def test_an_alipay_seller_id_that_is_not_a_pid_is_named(seller_id: str) -> None:
    # The slip: the app id (2021...) where the merchant's PID (2088 and 12 digits) belongs.
    with pytest.raises(SettingsError, match=r"POS_ALIPAY_SELLER_ID: .*2088"):
        load_settings(_env_file=None, alipay_seller_id=seller_id)
