"""Central's configuration file (``config/central.toml``): broker, storage, ingest, metrics,
plazas (their time zones), reconciliation and the console.

Loaded with :func:`load_central`; a bad file raises :class:`plumbing.config.ConfigError`
naming the file and the key (``central.toml: ingest.workers: Input should be ...``).
The broker password is never in the file (:mod:`plumbing.broker`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from contracts.ids import SITE_ID_PATTERN, PlazaId
from contracts.schema import ConfigModel
from contracts.tariff import known_zone
from plumbing.broker import BrokerConfig
from plumbing.config import load
from plumbing.metrics import MetricsConfig

DATABASE_FILE = "central.sqlite3"
URL_SCHEMES = ("sqlite:///", "postgresql+psycopg://", "postgresql://")


class StorageConfig(ConfigModel):
    """Where central keeps what it stores."""

    state_dir: Path = Field(
        Path(),
        title="State directory",
        description="Folder of central's own files: the SQLite database when no url is given "
        "(relative paths are relative to the working directory; systemd: "
        "/var/lib/lanewarden/central).",
    )
    url: str | None = Field(
        None,
        title="Database URL",
        description="sqlite:///PATH or postgresql+psycopg://USER@HOST/DB (SQLAlchemy form); "
        f"absent: sqlite in the state directory ({DATABASE_FILE}).",
    )

    @field_validator("url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(URL_SCHEMES):
            raise ValueError(f"must start with one of {', '.join(URL_SCHEMES)}, got {value!r}")
        return value

    @property
    def database_path(self) -> Path:
        """The default SQLite file, used when no url is given."""
        return self.state_dir / DATABASE_FILE

    @property
    def database_url(self) -> str:
        return self.url or f"sqlite:///{self.database_path}"


class IngestConfig(ConfigModel):
    """The ingest workers: how many, their subscription group, and the gap rule."""

    workers: int = Field(
        2,
        ge=1,
        le=32,
        title="Workers",
        description="MQTT clients that split the lanes' messages through one shared "
        "subscription; 1 on a broker without MQTT 5 shared subscriptions.",
    )
    group: str = Field(
        "central",
        pattern=SITE_ID_PATTERN,
        title="Subscription group",
        description="Shared-subscription group ($share/GROUP/...); every central instance "
        "that should split the load with this one uses the same group.",
    )
    client_id: str = Field(
        "lanewarden-central",
        pattern=r"^[A-Za-z0-9_-]{1,40}$",
        title="Client id prefix",
        description="Each worker connects as PREFIX-HOST-PID-N, unique per worker.",
    )
    gap_timeout_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        title="Gap timeout",
        description="Seconds a gap in a lane's lane_seq may stay open (batches can arrive out "
        "of order across workers) before central asks the lane to resend.",
    )
    resend_interval_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        title="Resend interval",
        description="At most one resend command per lane and stream in this many seconds.",
    )


class PlazaConfig(ConfigModel):
    """What central must know of a plaza: the zone its days and hours are counted in."""

    timezone: str = Field(
        "UTC",
        title="Time zone",
        description="IANA zone of the plaza (its plaza file's timezone): the lane counts its "
        "day totals in it, so reconciliation and reports must count in it too.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class ReconcileConfig(ConfigModel):
    """Comparing the lanes' reported day totals with what central stored."""

    grace_s: float = Field(
        120.0,
        gt=0,
        le=86400,
        title="Grace period",
        description="Seconds a difference between a lane's day totals and central's count "
        "may last (records still in flight) before it is a reconcile_mismatch alarm.",
    )


class RepeatedConfig(ConfigModel):
    """N lane events of a kind within a window is an alarm."""

    count: int = Field(ge=1, le=10000, title="Count", description="Events that make the alarm.")
    window_s: float = Field(
        gt=0, le=86400, title="Window", description="Seconds in which they must fall."
    )


def _unreadable() -> RepeatedConfig:
    return RepeatedConfig(count=5, window_s=600.0)


def _payment_failures() -> RepeatedConfig:
    return RepeatedConfig(count=3, window_s=600.0)


class RevenueConfig(ConfigModel):
    """Unusual revenue for an hour against the same weekday-hour of previous weeks."""

    factor: float = Field(
        3.0,
        gt=1,
        le=100,
        title="Factor",
        description="An hour whose revenue is above factor × the median of the previous "
        "weeks' same weekday-hour, or below that median / factor, is unusual.",
    )
    weeks: int = Field(4, ge=1, le=52, title="Weeks", description="Previous weeks compared.")
    min_weeks: int = Field(
        3,
        ge=1,
        le=52,
        title="History needed",
        description="Previous weeks that must have traffic in that hour before an hour is "
        "judged (a new plaza raises nothing).",
    )

    @model_validator(mode="after")
    def _history_possible(self) -> Self:
        if self.min_weeks > self.weeks:
            raise ValueError(
                f"min_weeks: {self.min_weeks} is more than the {self.weeks} weeks compared"
            )
        return self


class AlarmsConfig(ConfigModel):
    """Alarms central raises from what the lanes send, and the sweep for time-based ones."""

    sweep_s: float = Field(
        30.0, gt=0, le=3600, title="Sweep", description="Seconds between time-based checks."
    )
    offline_after_s: float = Field(
        60.0,
        gt=0,
        le=86400,
        title="Offline after",
        description="A lane offline (its state says so, or nothing heard) this long is an "
        "alarm, resolved when it is back.",
    )
    gap_after_s: float = Field(
        300.0,
        gt=0,
        le=86400,
        title="Gap alarm after",
        description="A gap in lane_seq still open this long (resends did not fill it).",
    )
    unreadable_plates: RepeatedConfig = Field(
        default_factory=_unreadable,
        title="Unreadable plates",
        description="unreadable_plate events of one lane (default 5 in 600 s).",
    )
    payment_failures: RepeatedConfig = Field(
        default_factory=_payment_failures,
        title="Payment failures",
        description="payment_failed, payment_timeout and gateway_refused events of one lane "
        "(default 3 in 600 s).",
    )
    revenue: RevenueConfig = Field(
        default_factory=RevenueConfig,
        title="Hourly revenue",
        description="The unusual-revenue rule.",
    )


class ConsoleConfig(ConfigModel):
    """The supervisor console central serves (``lanewarden central console``)."""

    bind: str = Field(
        "127.0.0.1",
        min_length=1,
        title="Bind address",
        description="Address the console listens on; behind a TLS proxy, keep it on loopback.",
    )
    port: int = Field(8470, ge=1, le=65535, title="Port", description="TCP port of the console.")
    lockout_count: int = Field(
        5,
        ge=1,
        le=100,
        title="Failures before lockout",
        description="Failed logins of one user within lockout_period_s that lock it.",
    )
    lockout_period_s: float = Field(
        900.0,
        gt=0,
        le=86400,
        title="Lockout period",
        description="Seconds in which lockout_count failures lock a user.",
    )
    lockout_s: float = Field(
        900.0,
        gt=0,
        le=86400,
        title="Lockout length",
        description="Seconds a locked user cannot log in, even with the right password.",
    )
    idle_timeout_s: float = Field(
        1800.0,
        ge=60,
        le=86400,
        title="Idle timeout",
        description="A session unused this long is ended; the next request must log in again.",
    )
    session_secret_file: Path = Field(
        title="Session secret file",
        description="File of at least 32 random bytes (e.g. `head -c 48 /dev/urandom > F`, "
        "mode 0600; systemd: a credential) from which CSRF tokens are derived. Never in this "
        "file.",
    )
    secure_cookies: bool = Field(
        True,
        title="Secure cookies",
        description="Mark the session cookie Secure (sent over HTTPS only); false only when "
        "the console is reached over plain HTTP on a trusted network or loopback.",
    )


def _central_metrics() -> MetricsConfig:
    return MetricsConfig(port=9490)


class CentralConfig(ConfigModel):
    """The central aggregator of one site or network (``lanewarden central run``)."""

    kind: Literal["central"] = Field(title="Kind", description='Always "central".')
    broker: BrokerConfig = Field(
        default_factory=BrokerConfig,
        title="Broker",
        description="The MQTT broker the lanes publish to.",
    )
    storage: StorageConfig = Field(
        default_factory=StorageConfig,
        title="Storage",
        description="The database (SQLite by default, PostgreSQL for production).",
    )
    ingest: IngestConfig = Field(
        default_factory=IngestConfig,
        title="Ingest",
        description="The workers that take the lanes' records.",
    )
    metrics: MetricsConfig = Field(
        default_factory=_central_metrics,
        title="Metrics",
        description="The Prometheus metrics endpoint (default 127.0.0.1:9490).",
    )
    plazas: dict[PlazaId, PlazaConfig] = Field(
        default_factory=dict,
        title="Plazas",
        description="Per plaza id, its time zone ([plazas.ID] timezone = ...). A plaza not "
        "listed is counted in UTC: list every plaza whose zone is not UTC, or its days and "
        "hours will not be the lane's.",
    )
    alarms: AlarmsConfig = Field(
        default_factory=AlarmsConfig,
        title="Alarms",
        description="Thresholds of the alarms central raises.",
    )
    reconcile: ReconcileConfig = Field(
        default_factory=ReconcileConfig,
        title="Reconciliation",
        description="Lane day totals against central's count.",
    )
    console: ConsoleConfig | None = Field(
        None,
        title="Console",
        description="The supervisor console; absent: central serves no console.",
    )

    def plaza_tz(self, plaza_id: str) -> ZoneInfo:
        """The zone of ``plaza_id``; UTC for a plaza the file does not list."""
        plaza = self.plazas.get(plaza_id)
        return plaza.tz if plaza is not None else ZoneInfo("UTC")


def load_central(path: Path | str) -> CentralConfig:
    """Read and validate a central file; :class:`~plumbing.config.ConfigError` naming the key."""
    return load(path, CentralConfig)
