"""Settings shared by every service: one validated pydantic-settings class.

`NATS_URL` and `DATABASE_URL` are read as is; everything else is `VFO_<NAME>`.
Unset `NATS_URL` / `DATABASE_URL` mean "embedded": `vfo up` starts its own NATS and uses SQLite.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VFO_", extra="ignore", frozen=True)

    nats_url: str | None = Field(default=None, validation_alias=AliasChoices("NATS_URL", "VFO_NATS_URL"))
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "VFO_DATABASE_URL")
    )
    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    log_level: str = "INFO"
    # Where spans go: "none", "console", "otlp" (standard OTEL_EXPORTER_OTLP_* variables) or a file path
    # that receives one JSON span per line.
    traces: str = "none"
    # How long a worker may be silent before its work item is redelivered to another worker.
    ack_wait_s: float = Field(default=30.0, gt=0)
    max_deliver: int = Field(default=5, ge=1)
    # the render pools this host joins, comma-separated (every render host also takes pool `any`)
    render_pool: str = Field(default="cpu", pattern=r"^[a-z0-9][a-z0-9-]{0,30}(,[a-z0-9][a-z0-9-]{0,30})*$")

    @property
    def render_pools(self) -> list[str]:
        return self.render_pool.split(",")

    ffmpeg_path: str | None = None
    # the GPU render node h264_vaapi encodes on (Intel and AMD on Linux)
    vaapi_device: str = "/dev/dri/renderD128"
    font_path: Path | None = None
    worker_id: str | None = None
    # Encrypts webhook signing secrets at rest; generated into <data-dir>/secret.key when unset.
    secret_key: SecretStr | None = None
    # The API key the `vfo` commands send (else <data-dir>/admin-key, made on the first start).
    api_key: SecretStr | None = None
    # Requests per key, in the `limits` notation ("1200/minute", "50/second"); over it: 429.
    rate_limit: str = "1200/minute"
    session_ttl_s: int = Field(default=12 * 3600, ge=60, description="how long a browser login lasts")
    link_ttl_s: int = Field(default=7 * 86400, ge=60, description="how long artifact links in webhooks work")
    # Hosts or CIDRs a webhook may target even though they are private (self-hosted receivers).
    webhook_allow_hosts: str = ""
    # Seconds before each retry of a webhook delivery (the published schedule).
    webhook_backoff_s: str = "5,300,1800,7200,18000,36000"
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    public_url: str = Field(default="", description="how receivers reach the API, for links in webhooks")
    # Backups (`vfo backup`, `vfo up --backup-every`): the folder they go to (else <data-dir>/backups;
    # better on another disk), how many of the newest to keep there, and how often `vfo up` makes
    # one ("" never, else a duration: "90m", "6h", "1d").
    backup_dir: Path | None = None
    backup_keep: int = Field(default=7, ge=1)
    backup_every: str = ""

    @field_validator("backup_every")
    @classmethod
    def _duration(cls, value: str) -> str:
        if value and not re.fullmatch(r"[1-9][0-9]*[smhd]", value.strip()):
            raise ValueError(f"{value!r} is not a duration like '90m', '6h' or '1d'")
        return value.strip()

    @property
    def backup_interval_s(self) -> float | None:
        if not self.backup_every:
            return None
        return int(self.backup_every[:-1]) * _SECONDS[self.backup_every[-1]]

    def resolved_backup_dir(self) -> Path:
        return self.backup_dir or self.data_dir / "backups"

    @field_validator("rate_limit")
    @classmethod
    def _limit(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError as err:
            raise ValueError(f"{value!r} is not a rate like '1200/minute' or '50/second'") from err
        return value

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL: `DATABASE_URL` if set, else SQLite in the data dir."""
        from shared.db.engine import async_url

        return async_url(self.database_url or f"sqlite:///{(self.data_dir / 'vfo.db').resolve()}")
