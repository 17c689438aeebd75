"""The one settings object: read once from POS_* environment variables and an optional .env."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "SettingsError", "load_settings"]

DEMO_SECRET = "demo-secret-change-me-in-production-0123456789"


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
        min_length=32,
        description="signs sessions, counter QR tokens and order access tokens",
    )
    payer_salt: SecretStr = Field(
        default=SecretStr("demo-payer-salt"), description="salt for hashing payer ids"
    )
    time_zone: str = Field(default="Asia/Shanghai", description="default store time zone")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="base URL printed on QR codes"
    )
    log_format: Literal["console", "json"] = "console"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    catalog_page_size: int = Field(default=50, ge=1, le=500)

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

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}, e.g. Asia/Shanghai") from None
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    @property
    def sqlite_path(self) -> Path:
        """The file behind an sqlite:/// URL (relative to the working directory)."""
        return Path(self.database_url.removeprefix("sqlite:///"))


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning validation errors into one message that names each variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"POS_{str(error['loc'][0]).upper()}: {error['msg']}" for error in exc.errors()
        )
        raise SettingsError(f"invalid configuration: {problems}") from None
