"""The one settings object: read once from POS_* environment variables and an optional .env."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pydantic_settings
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["MAX_CATALOG_PAGE_SIZE", "Settings", "SettingsError", "load_settings"]

MAX_CATALOG_PAGE_SIZE = 200  # the most products a counter catalog request may ask for
MIN_SECRET_CHARS = 32
DEMO_SECRET = "demo-secret-change-me-in-production-0123456789"  # noqa: S105 (demo only; README)
DEMO_PAYER_SALT = "demo-payer-salt"
DEMO_PLATFORM_KEY = "demo-platform-key"
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


# What each real provider needs, and which of those are files.
_ACCOUNTS = {
    "wechat": (
        "wechat_mchid",
        "wechat_appid",
        "wechat_cert_serial_no",
        "wechat_private_key_file",
        "wechat_apiv3_key",
        "wechat_public_key_file",
        "wechat_public_key_id",
    ),
    "alipay": ("alipay_appid", "alipay_private_key_file", "alipay_public_key_file"),
}
# The WeChat Pay SDK puts the PEM armour around a key file's bare base64 body; Alipay's needs it.
_ARMOUR_ADDED = ("wechat_private_key_file", "wechat_public_key_file")


class SettingsError(Exception):
    """A POS_* variable has a wrong value; the message names it and says what is expected."""


class Settings(BaseSettings):
    """Everything the service can be configured with, one field per POS_* variable."""

    model_config = SettingsConfigDict(
        env_prefix="POS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(
        default="sqlite:///var/pos.sqlite3",
        description="sqlite:///relative/path, sqlite:////absolute/path or postgresql://...",
    )
    redis_url: str | None = Field(
        default=None, description="redis://host:port/db; unset keeps everything in-process"
    )
    redis_prefix: str = Field(default="pos", description="namespace for every Redis key")
    secret_key: SecretStr = Field(
        default=SecretStr(DEMO_SECRET),
        description="signs sessions, counter QR tokens and order access tokens (32+ characters)",
    )
    payer_salt: SecretStr = Field(
        default=SecretStr(DEMO_PAYER_SALT), description="salt for hashing payer ids"
    )
    time_zone: str = Field(default="Asia/Shanghai", description="default store time zone")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    forwarded_allow_ips: str = Field(
        default="127.0.0.1,::1",
        description="comma list of addresses or networks (10.0.0.0/8) of proxies whose "
        "X-Forwarded-For and X-Forwarded-Proto `pos serve` believes; * for any",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="base URL printed on QR codes"
    )
    payment_provider: Literal["sandbox", "wechat", "alipay"] = Field(
        default="sandbox", description="who takes the money; sandbox is the demo wallet"
    )
    sandbox_signing_key: SecretStr = Field(
        default=SecretStr("demo-sandbox-signing-key"),
        description="HMAC key the sandbox provider signs its notifications with",
    )
    wechat_mchid: str = Field(default="", description="WeChat Pay merchant id (商户号)")
    wechat_appid: str = Field(default="", description="the AppID bound to that merchant id")
    wechat_cert_serial_no: str = Field(
        default="", description="serial number of the merchant API certificate"
    )
    wechat_private_key_file: Path | None = Field(
        default=None, description="the merchant API private key (apiclient_key.pem)"
    )
    wechat_apiv3_key: SecretStr = Field(
        default=SecretStr(""), description="the APIv3 key, which decrypts notifications"
    )
    wechat_public_key_file: Path | None = Field(
        default=None, description="the WeChat Pay public key (pub_key.pem): checks its answers"
    )
    wechat_public_key_id: str = Field(default="", description="that key's id, PUB_KEY_ID_...")
    wechat_gateway: str = Field(
        default="https://api.mch.weixin.qq.com",
        description="or the backup domain https://api2.mch.weixin.qq.com",
    )
    wechat_appsecret: SecretStr = Field(
        default=SecretStr(""),
        description="the official account's AppSecret: inside WeChat, phones then pay by JSAPI",
    )
    wechat_oauth_url: str = Field(
        default="https://open.weixin.qq.com/connect/oauth2/authorize",
        description="WeChat's web OAuth page (JSAPI sign-in)",
    )
    wechat_openid_url: str = Field(
        default="https://api.weixin.qq.com/sns/oauth2/access_token",
        description="where a sign-in code is traded for the shopper's openid",
    )
    alipay_appid: str = Field(default="", description="the Alipay app with face-to-face payment")
    alipay_private_key_file: Path | None = Field(
        default=None, description="the app's private key (PEM), which signs requests (RSA2)"
    )
    alipay_public_key_file: Path | None = Field(
        default=None, description="the Alipay public key (PEM): checks its answers"
    )
    alipay_gateway: str = Field(default="https://openapi.alipay.com/gateway.do")
    alipay_seller_id: str = Field(
        default="",
        description="the merchant's Alipay PID (2088...): when the app serves other merchants too,"
        " notifications about their trades are refused; empty when the app is the merchant's own",
    )
    run_worker: bool = Field(
        default=True, description="run the outbox worker inside the server (else: `pos worker`)"
    )
    worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="the CPU priority `pos worker` lowers itself to (a nice value): on busy "
        "cores shoppers' requests come before receipts and rollups; 0 keeps the priority it has",
    )
    log_format: Literal["console", "json"] = "console"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    catalog_page_size: int = Field(
        default=50,
        ge=1,
        le=MAX_CATALOG_PAGE_SIZE,
        description="products in a page of a counter's catalog when the request names no limit",
    )
    shutdown_grace_s: int = Field(
        default=20,
        ge=1,
        le=300,
        description="on SIGTERM, how long `pos serve` waits for responses in flight before it"
        " cuts them: enough for a call to a payment provider (WeChat: 5 s to connect, 15 s to"
        " answer); order status streams end at once, and their pages reconnect",
    )
    order_budget: int = Field(
        default=60,
        ge=0,
        description="orders a client address may create at counters (phones) per minute; enough"
        " for a station's phones behind one carrier NAT address at rush hour; 0 turns it off",
    )
    print_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="one send to a printer: name lookup, connect, status, write; a CUPS submission",
    )
    print_max_attempts: int = Field(
        default=6, ge=1, le=50, description="sends to an unreachable printer before a job fails"
    )
    print_retry_first_s: float = Field(
        default=2.0, gt=0, description="first retry delay; it doubles, with jitter"
    )
    print_retry_longest_s: float = Field(default=300.0, gt=0, description="longest retry delay")
    print_recheck_s: float = Field(
        default=5.0, gt=0, description="how often a printer out of paper or open is asked again"
    )
    printer_status_interval_s: float = Field(
        default=60.0, gt=0, description="how often every printer's status is read for staff"
    )

    outbox_keep_days: int = Field(
        default=7, ge=1, description="days a done outbox event is kept before workers delete it"
    )

    platform_url: str | None = Field(
        default=None,
        description="the consumption-platform API (the double: http://127.0.0.1:8100); unset: "
        "certified transactions wait in the backlog",
    )
    platform_key: SecretStr = Field(
        default=SecretStr(DEMO_PLATFORM_KEY),
        description="HMAC key for merchants without one of their own in platform_merchant_keys",
    )
    platform_merchant_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description='per-merchant HMAC keys, JSON: {"XM-0001": "..."}'
    )
    platform_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="one request, from connecting to the whole answer"
    )
    platform_max_attempts: int = Field(
        default=12, ge=1, le=100, description="sends of a transaction before it is dead-lettered"
    )
    platform_retry_first_s: float = Field(
        default=2.0, gt=0, description="first retry delay; it doubles, with jitter"
    )
    platform_retry_longest_s: float = Field(default=600.0, gt=0, description="longest delay")
    platform_lease_s: float = Field(
        default=60.0,
        gt=0,
        description="a relay's claim, longer than a request; after it another relay may resend",
    )
    platform_batch_size: int = Field(
        default=100, ge=1, le=100, description="transactions per signed request"
    )
    platform_idle_s: float = Field(default=1.0, gt=0, description="an idle relay polls this often")
    platform_max_skew_s: int = Field(
        default=300, ge=1, description="the double refuses a timestamp further off than this"
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _known_redis(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxy_addresses(cls, value: str) -> str:
        # uvicorn takes what it cannot read as a name no client has: a typo would trust no proxy,
        # and every client would share the proxy's address (and its sign-in budget).
        entries = [entry.strip() for entry in value.split(",")]
        if entries != ["*"] and (bad := [entry for entry in entries if not _is_network(entry)]):
            raise ValueError(
                f"{', '.join(map(repr, bad))}: give addresses or networks (10.0.0.0/8), or * alone"
            )
        return ",".join(entries)

    @field_validator("secret_key")
    @classmethod
    def _long_secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < MIN_SECRET_CHARS:
            raise ValueError(f"must be at least {MIN_SECRET_CHARS} characters")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_web_url(cls, value: str) -> str:
        return _web_url(value)

    @field_validator("platform_url")
    @classmethod
    def _platform_web_url(cls, value: str | None) -> str | None:
        return _web_url(value) if value else None  # empty: unset

    @field_validator("platform_lease_s")
    @classmethod
    def _lease_outlasts_a_request(cls, value: float, info: ValidationInfo) -> float:
        # A request still out when its rows' lease passes would be sent again by another relay.
        timeout = info.data.get("platform_timeout_s")
        if timeout is not None and value <= timeout:
            raise ValueError(f"must be longer than POS_PLATFORM_TIMEOUT_S ({timeout:g} s)")
        return value

    @field_validator("alipay_seller_id")
    @classmethod
    def _alipay_pid(cls, value: str) -> str:
        if value and not re.fullmatch(r"2088[0-9]{12}", value):
            raise ValueError("the merchant's PID is 16 digits starting 2088, or leave it empty")
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}, e.g. Asia/Shanghai") from None
        return value

    @model_validator(mode="after")
    def _provider_configured(self) -> Settings:
        account = _ACCOUNTS.get(self.payment_provider, ())
        missing = [f"POS_{name.upper()}" for name in account if not self._given(name)]
        if missing:
            raise ValueError(
                f"POS_PAYMENT_PROVIDER={self.payment_provider} needs {', '.join(missing)}"
            )
        for name in (name for name in account if name.endswith("_file")):
            if problem := _key_file_problem(name, getattr(self, name)):
                raise ValueError(f"POS_{name.upper()}: {problem}")
        return self

    @model_validator(mode="after")
    def _no_public_secrets_in_production(self) -> Settings:
        """Refuse the demo's secrets, which anyone can read, where real money or the platform is."""
        if self.payment_provider != "sandbox":
            demo = [
                f"POS_{name.upper()}"
                for name, value in (("secret_key", DEMO_SECRET), ("payer_salt", DEMO_PAYER_SALT))
                if getattr(self, name).get_secret_value() == value
            ]
            if demo:
                raise ValueError(
                    f"POS_PAYMENT_PROVIDER={self.payment_provider} takes real money: set"
                    f" {' and '.join(demo)} of your own (the demo's are public)"
                )
        real_platform = self.platform_is_real
        if real_platform and self.platform_key_is_demo and not self.platform_merchant_keys:
            raise ValueError(
                "POS_PLATFORM_URL names the real platform: set POS_PLATFORM_KEY or"
                " POS_PLATFORM_MERCHANT_KEYS to its keys (the demo's is public)"
            )
        keys = self.platform_merchant_keys
        keyless = [merchant for merchant, key in keys.items() if not key.get_secret_value()]
        if real_platform and keyless:
            raise ValueError(f"POS_PLATFORM_MERCHANT_KEYS: an empty key for {', '.join(keyless)}")
        return self

    def _given(self, name: str) -> bool:
        value = getattr(self, name)
        return bool(value.get_secret_value() if isinstance(value, SecretStr) else value)

    @property
    def platform_is_real(self) -> bool:
        """`platform_url` names a host other than loopback (where the double runs)."""
        return urlsplit(self.platform_url or "").hostname not in (None, *_LOOPBACK_HOSTS)

    @property
    def platform_key_is_demo(self) -> bool:
        """`platform_key` is the demo's, which anyone can read, or empty."""
        return self.platform_key.get_secret_value() in (DEMO_PLATFORM_KEY, "")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    @property
    def sqlite_path(self) -> Path:
        """The file behind an sqlite:/// URL (relative to the working directory)."""
        return Path(self.database_url.removeprefix("sqlite:///"))


def _key_file_problem(name: str, path: Path) -> str | None:
    """What keeps the payment SDK from loading the key in `path` (setting `name`), if anything."""
    if not path.is_file():
        return f"no file at {path}"
    kind = "public" if "public" in name else "private"
    try:
        pem = path.read_bytes().strip()
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror}"
    if name in _ARMOUR_ADDED and not pem.startswith(b"-----BEGIN"):
        armour = f"{kind.upper()} KEY".encode()
        pem = b"-----BEGIN %s-----\n%s\n-----END %s-----" % (armour, pem, armour)
    try:
        if kind == "public":
            load_pem_public_key(pem)
        else:
            load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return f"not a PEM {kind} key"
    return None


def _is_network(text: str) -> bool:
    """Whether `text` is an IP address or a network without host bits, as uvicorn reads them."""
    try:
        ipaddress.ip_network(text)
    except ValueError:
        return False
    return True


def _web_url(value: str) -> str:
    """`value`, if it is an http(s) URL with a host: links and requests are built on it."""
    try:
        host = urlsplit(value).hostname
    except ValueError:  # an unclosed [IPv6 bracket
        host = None
    if not value.startswith(("http://", "https://")) or not host:
        raise ValueError("must start with http:// or https:// and name a host")
    return value


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning validation errors into one message that names each variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors())
        raise SettingsError(f"invalid configuration: {problems}") from None
    except pydantic_settings.SettingsError as exc:  # read before validation: a JSON setting
        raise SettingsError(f"invalid configuration: {_unreadable(exc)}") from None


def _unreadable(exc: pydantic_settings.SettingsError) -> str:
    field = re.search(r'field "(\w+)"', str(exc))
    return f"POS_{field[1].upper()}: not valid JSON" if field else str(exc)


def _problem(error: ErrorDetails) -> str:
    """`POS_<FIELD>: message`; a rule over several fields names them in its message."""
    message = error["msg"].removeprefix("Value error, ")
    return f"POS_{str(error['loc'][0]).upper()}: {message}" if error["loc"] else message
