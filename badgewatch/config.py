"""The one typed configuration of badgewatch.

Read once from a TOML file (path in ``BADGEWATCH_CONFIG``); every ``[section] key`` can be
overridden by the environment variable ``BADGEWATCH_SECTION_KEY``. With no file at all the
defaults run an embedded SQLite database under ``./var``. A bad setting stops start-up with a
``ConfigError`` that names it and says what would work.

Values keep their type: the file's TOML types are taken strictly (``"yes"`` or ``1`` is not a
boolean, ``"2"`` is not a number), and an environment value is parsed for its setting's type
(a boolean is ``true`` or ``false``, nothing else). Settings a crawl or a schedule depends on
are checked for what they need (a time zone that exists, a cron line the scheduler reads, a
directory that can be written, a browser that exists when rendering is on). The reason codes of
``[crawl] failing_reasons`` belong to the crawler's checks, which this foundation package does
not import: the CLI checks them with the crawler's own ``Policy`` at start-up
(``badgewatch.cli.main.runtime``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import math
import os
import re
import tomllib
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from badgewatch.badgespec import BadgeSpec

ENV_PREFIX = "BADGEWATCH_"
CONFIG_ENV = "BADGEWATCH_CONFIG"


class ConfigError(Exception):
    """A setting is missing, unknown or invalid; the message names it."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# -- what a value must be for the setting to work ---------------------------------------------


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL with a host")
    return value


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{value!r} is not a time zone: give an IANA name such as Asia/Shanghai"
        ) from None
    return value


def _email_address(value: str) -> str:
    """Syntax only, and loose: an intranet's ``badgewatch@localhost`` is a fine sender."""
    local, at, domain = value.rpartition("@")
    if not (at and local and domain) or any(char.isspace() for char in value) or "@" in domain:
        raise ValueError(f"{value!r} is not an e-mail address like name@example.cn")
    return value


def _writable_directory(path: Path) -> Path:
    """A directory that exists or can be made: its nearest existing ancestor is a directory
    this process may write in."""
    probe = path.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"{path} cannot be a directory: {probe} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"{path} cannot be written: no write permission on {probe}")
    return path


def _existing_file(path: Path | None) -> Path | None:
    if path is not None and not path.is_file():
        raise ValueError(f"{path} does not exist or is not a file")
    return path


NonBlank = Annotated[str, AfterValidator(_non_blank)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
TimeZone = Annotated[str, AfterValidator(_time_zone)]
Email = Annotated[str, AfterValidator(_email_address)]
Directory = Annotated[Path, Field(strict=False), AfterValidator(_writable_directory)]


def parse_cron(line: str, timezone: str) -> Any:
    """APScheduler's trigger for a cron line: five fields as crontab, six put seconds first (for
    short test schedules). Raises ValueError naming the field it cannot read."""
    from apscheduler.triggers.cron import CronTrigger  # noqa: PLC0415 - only for a schedule

    fields = line.split()
    if len(fields) == 5:
        return CronTrigger.from_crontab(line, timezone=timezone)
    if len(fields) == 6:
        second, minute, hour, day, month, weekday = fields
        return CronTrigger(
            second=second, minute=minute, hour=hour, day=day, month=month,
            day_of_week=weekday, timezone=timezone,
        )
    raise ValueError("a cron line has 5 fields (or 6, seconds first)")


class DatabaseConfig(_Section):
    url: str = "sqlite:///./var/badgewatch.db"
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite:// and postgresql:// URLs are supported")
        try:
            url = make_url(value)
        except (ArgumentError, ValueError) as exc:
            raise ValueError(
                f"not a database URL ({exc}): sqlite:///path/to/file.db or "
                "postgresql://user@host:5432/database"
            ) from None
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            _writable_directory(Path(url.database).parent)
        return value


class PathsConfig(_Section):
    data_dir: Directory = Path("./var")


_HOST_NAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$")


def _host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port, e.g. 127.0.0.1:53")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if not _HOST_NAME.match(host):
            raise ValueError(
                f"{value!r}: {host!r} is not an IP address or a host name"
            ) from None
    return value


class DnsConfig(_Section):
    nameservers: list[str] = Field(default_factory=list)
    timeout: float = Field(default=3.0, gt=0)

    @field_validator("nameservers")
    @classmethod
    def _each_host_port(cls, value: list[str]) -> list[str]:
        return [_host_port(v) for v in value]


class CrawlConfig(_Section):
    """How the crawler treats the sites it checks; defaults suit a nightly provincial crawl."""

    allow_private_networks: bool = False
    # Networks fetched even when private networks are not (an intranet deployment's own range).
    allowed_networks: list[str] = Field(default_factory=list)
    obey_robots: bool = True
    max_pages_per_site: int = Field(default=10_000, ge=1)
    max_depth: int = Field(default=20, ge=0)
    max_query_variants: int = Field(default=50, ge=1)
    max_url_length: int = Field(default=2083, ge=100)
    concurrent_requests: int = Field(default=64, ge=1)
    per_host_concurrency: int = Field(default=4, ge=1)
    autothrottle: bool = True
    download_timeout: float = Field(default=20.0, gt=0)
    max_page_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    # Sitemaps: files (indexes included) fetched per site, how deep indexes may nest, page URLs
    # taken from them per site, and the size of one file once decompressed (the protocol's 50 MB).
    max_sitemaps: int = Field(default=100, ge=0)
    max_sitemap_depth: int = Field(default=3, ge=0)
    max_sitemap_urls: int = Field(default=50_000, ge=0)
    max_sitemap_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    retries: int = Field(default=2, ge=0)
    user_agent: NonBlank = "badgewatch/0.1 (site badge compliance check)"
    failing_reasons: list[str] | None = None
    stale_run_minutes: float = Field(default=10.0, gt=0)
    # Incremental recrawl (crawler/known.py): pages the last check read are asked for with
    # their validators and an unchanged page keeps its verdict; the home page and this share
    # of the known pages are always fetched in full; a full crawl every full_recrawl_days.
    incremental: bool = True
    full_fetch_sample: float = Field(default=0.05, ge=0.0, le=1.0)
    full_recrawl_days: int = Field(default=7, ge=1)

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        out = []
        for entry in value:
            try:
                out.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
            except ValueError as exc:
                raise ValueError(
                    f"{entry!r} is not a network such as 10.20.0.0/16 ({exc})"
                ) from exc
        return out


_REGISTRY = BadgeSpec()


class BadgeConfig(_Section):
    """Everything that names the badge host; a deployment issues its own badges. The defaults
    are the national registry's (``BadgeSpec``)."""

    script_base: str = _REGISTRY.script_base
    image_base: str = _REGISTRY.image_base
    certificate_url: str = _REGISTRY.certificate_url
    identifier_prefix: str = Field(default=_REGISTRY.identifier_prefix, pattern=r"^[A-Z]{1,4}$")
    number_start: int = Field(default=60_000_000, ge=0, le=99_999_999)
    span_id: str = _REGISTRY.span_id
    image_id: str = _REGISTRY.image_id
    image_party: str = _REGISTRY.image_party
    image_institution: str = _REGISTRY.image_institution
    image_party_error: str = _REGISTRY.image_party_error
    image_institution_error: str = _REGISTRY.image_institution_error

    def spec(self) -> BadgeSpec:
        """What the page check reads of this section, as a plain frozen value."""
        return BadgeSpec(**{f.name: getattr(self, f.name) for f in dataclasses.fields(BadgeSpec)})

    @field_validator("script_base", "image_base")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value).rstrip("/")

    @field_validator("certificate_url")
    @classmethod
    def _has_certificate(cls, value: str) -> str:
        if "{certificate}" not in value:
            raise ValueError("must contain {certificate}")
        _http_url(value.replace("{certificate}", "0"))
        return value


DEFAULT_CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]


class RenderConfig(_Section):
    """The rendered check: Debian's Chromium through Playwright, on a sample of each site."""

    enabled: bool = True
    executable_path: Path = Field(default=Path("/usr/bin/chromium"), strict=False)
    args: list[str] = Field(default_factory=lambda: list(DEFAULT_CHROMIUM_ARGS))
    viewport_width: int = Field(default=1366, ge=320)
    viewport_height: int = Field(default=768, ge=320)
    mobile: bool = False
    mobile_width: int = Field(default=390, ge=240)
    mobile_height: int = Field(default=844, ge=320)
    sample_per_site: int = Field(default=5, ge=0)
    page_timeout: float = Field(default=20.0, gt=0)
    # Pages rendered at once. Each lane overlaps its page's network waits with another's
    # rendering and costs about 200 MB of browser memory. On loopback (no waits) one lane is
    # slightly faster and four exceed 1 GB; raise it when sites answer slowly
    # (bench/render.py --concurrency N measures the trade-off).
    concurrency: int = Field(default=2, ge=1)
    # Renders before a lane's context (and its renderer process) is replaced. A new renderer
    # costs one to two CPU-seconds (process start, V8, the CJK font), so every 20 renders
    # doubled the CPU of a render; every 200 still bounds memory (bench/render.py: growth).
    pages_per_context: int = Field(default=200, ge=1)
    center_tolerance: float = Field(default=0.15, gt=0, le=0.5)
    blocked_hosts: list[str] = Field(default_factory=lambda: ["recv1.conac.cn", "recv2.conac.cn"])
    allow_third_party: bool = False
    # Screenshots kept: "failing_and_home" (every page that fails or could not be judged, and
    # each site's home page as proof of a compliant site) or "all" (every render; slower).
    evidence: Literal["failing_and_home", "all"] = "failing_and_home"

    @field_validator("executable_path")
    @classmethod
    def _browser_exists(cls, value: Path, info: ValidationInfo) -> Path:
        if info.data.get("enabled", True) and not (value.is_file() and os.access(value, os.X_OK)):
            raise ValueError(
                f"{value} does not exist or is not executable: install Debian's chromium "
                "(scripts/setup.sh), point this at the browser, or set [render] enabled = false"
            )
        return value


class CalendarConfig(_Section):
    extra_file: Annotated[Path | None, Field(strict=False), AfterValidator(_existing_file)] = None
    timezone: TimeZone = "Asia/Shanghai"  # the clock every date and time people read is on

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class DeadlinesConfig(_Section):
    office_review_days: int = Field(default=5, ge=1)
    materials_days: int = Field(default=10, ge=1)
    placement_days: int = Field(default=5, ge=1)


class SmtpConfig(_Section):
    host: NonBlank = "127.0.0.1"
    port: int = Field(default=25, gt=0, lt=65536)
    sender: Email = "badgewatch@localhost"
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    starttls: bool = False
    timeout: float = Field(default=10.0, gt=0)
    enabled: bool = True


class SmsConfig(_Section):
    """An HTTP SMS gateway: badgewatch POSTs JSON ``{"phone", "message"}`` to ``url``."""

    kind: Literal["http", "none"] = "http"
    url: str = "http://127.0.0.1:8025/sms"  # checked at load when kind is "http"
    token: str | None = Field(default=None, repr=False)
    timeout: float = Field(default=10.0, gt=0)


class NotifyConfig(_Section):
    max_attempts: int = Field(default=8, ge=1)
    backoff_seconds: float = Field(default=60.0, ge=0)
    webhook_url: HttpUrl | None = None  # a WeCom/DingTalk-style robot for office digests
    operator_email: Email | None = None  # where the watchdog's alerts go


class MonitorConfig(_Section):
    """The long-running monitor: schedule, queue dispatch, leases and the watchdog."""

    nightly_cron: str = "0 1 * * *"  # minute hour day month weekday (seconds: 6 fields)
    timezone: TimeZone = "Asia/Shanghai"
    misfire_grace_seconds: int = Field(default=6 * 3600, ge=1)
    processes: int = Field(default=2, ge=1)
    sites_per_process: int = Field(default=10, ge=1)
    job_time_limit: float = Field(default=3 * 3600.0, gt=0)
    lease_seconds: float = Field(default=120.0, gt=0)
    tick_seconds: float = Field(default=2.0, gt=0)
    digest_cron: str = "0 8 * * *"
    stale_check_hours: float = Field(default=48.0, gt=0)

    @field_validator("nightly_cron", "digest_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            parse_cron(value, "UTC")
        except ValueError as exc:
            raise ValueError(
                f"{value!r} is not a cron line the scheduler can read ({exc}); "
                "write minute hour day month weekday, e.g. '0 1 * * *' for 01:00 every day"
            ) from None
        return value


class WorkersConfig(_Section):
    """``badgewatch worker`` on PostgreSQL: Procrastinate workers sharing the crawl work."""

    concurrency: int = Field(default=2, ge=1)  # crawl processes one worker runs at once
    schedule_seconds: int = Field(default=60, ge=1, le=60)  # how often the schedule is read
    sweep_seconds: int = Field(default=60, ge=1, le=60)  # stalled jobs, leases, uncovered work
    heartbeat_seconds: float = Field(default=10.0, gt=0)
    stalled_seconds: float = Field(default=60.0, gt=0)  # a worker silent this long is dead
    retries: int = Field(default=2, ge=0)  # retries of a crawl job whose sites were requeued
    shutdown_seconds: float = Field(default=60.0, ge=0)  # SIGTERM: crawls stopped after this

    @field_validator("schedule_seconds", "sweep_seconds")
    @classmethod
    def _divides_a_minute(cls, value: int) -> int:
        if 60 % value:
            raise ValueError(f"{value} does not divide 60; use 1, 2, 3, 4, 5, 6, 10, 12, 15, "
                             "20, 30 or 60")
        return value

    @model_validator(mode="after")
    def _beats_before_stalling(self) -> WorkersConfig:
        if self.stalled_seconds < 2 * self.heartbeat_seconds:
            raise ValueError(
                f"stalled_seconds ({self.stalled_seconds:g}) must be at least twice "
                f"heartbeat_seconds ({self.heartbeat_seconds:g}): a live worker that misses one "
                "beat would be taken for dead and its crawls started again elsewhere"
            )
        return self


class ReportsConfig(_Section):
    """The office reports: where they are written, how they are linked, what they list."""

    dir: Directory | None = None  # default: <data_dir>/reports
    base_url: str | None = None  # where [reports] dir is served; digests link to it
    keep: int = Field(default=30, ge=1)  # dated nightly reports kept
    trend_days: int = Field(default=30, ge=2)
    max_pages_listed: int = Field(default=500, ge=1)  # failing pages per site page (CSV has all)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return _http_url(value) if value is not None else None


class RedPagesConfig(_Section):
    """网络红页: the red pages badgewatch serves itself, at the ``.政务`` domains of units without
    a site of their own. ``address`` is the IPv4 those domains must resolve to (where ``badgewatch
    web`` answers for them); unset, the application form offers no red page. ``template`` is an
    optional Jinja2 file replacing the built-in page (it gets the same context)."""

    address: str | None = None
    template: Annotated[Path | None, Field(strict=False), AfterValidator(_existing_file)] = None

    @field_validator("address")
    @classmethod
    def _ipv4(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(ipaddress.IPv4Address(value.strip()))
        except ValueError:
            raise ValueError(f"{value!r} is not an IPv4 address (e.g. 203.0.113.80)") from None


SECRET_KEY_ENV = "BADGEWATCH_WEB_SECRET_KEY"  # noqa: S105 - the variable's name, not a secret
MIN_SECRET_KEY_LENGTH = 32


class WebConfig(_Section):
    """The web application: where it listens, its public address, sessions and login lockout.

    The secret key signing its cookies is never a setting: it comes only from the environment
    (``BADGEWATCH_WEB_SECRET_KEY``, read by ``web_secret_key``), so it cannot end up in a file.
    """

    bind: str = "127.0.0.1:8080"  # host:port of `badgewatch web`
    public_url: HttpUrl | None = None  # as people reach it; https makes the cookies Secure
    workers: int = Field(default=2, ge=1)  # `badgewatch web`'s gunicorn worker processes
    trusted_proxies: int = Field(default=0, ge=0)  # reverse proxies whose X-Forwarded-For counts
    session_idle_minutes: float = Field(default=30.0, gt=0)  # logged out after this long idle
    session_max_hours: float = Field(default=12.0, gt=0)  # and after this long in any case
    lockout_login_failures: int = Field(default=5, ge=1)  # failed logins that lock a login
    lockout_address_failures: int = Field(default=20, ge=1)  # ... or an address
    lockout_window_minutes: float = Field(default=15.0, gt=0)  # ... within this window
    lockout_minutes: float = Field(default=15.0, gt=0)  # how long a lock lasts
    rechecks_per_minute: int = Field(default=3, ge=1)  # 立即复查 a person may queue a minute

    @model_validator(mode="before")
    @classmethod
    def _no_secret_in_file(cls, data: Any) -> Any:
        if isinstance(data, dict) and "secret_key" in data:
            raise ValueError(
                f"secret_key is not a setting: set the environment variable {SECRET_KEY_ENV}"
            )
        return data

    @field_validator("bind")
    @classmethod
    def _bind(cls, value: str) -> str:
        return _host_port(value)

    @property
    def secure_cookies(self) -> bool:
        return self.public_url is not None and self.public_url.startswith("https://")


def web_secret_key(environ: Mapping[str, str] | None = None) -> str:
    """The web application's secret key from ``BADGEWATCH_WEB_SECRET_KEY``; a ``ConfigError``
    naming the variable when it is missing or too short to be a secret."""
    value = (os.environ if environ is None else environ).get(SECRET_KEY_ENV, "")
    if len(value.strip()) < MIN_SECRET_KEY_LENGTH:
        problem = "is not set" if not value.strip() else "is too short"
        raise ConfigError(
            f"{SECRET_KEY_ENV} {problem}: the web application signs its cookies with it; set it "
            f"to at least {MIN_SECRET_KEY_LENGTH} random characters, e.g. the output of "
            "`python3 -c 'import secrets; print(secrets.token_hex(32))'`"
        )
    return value


class StoreConfig(_Section):
    """How long the database keeps what the crawls wrote."""

    # Page results older than this are pruned (``badgewatch db prune``, the daily pass); site
    # checks, state history and every site's last check are kept.
    keep_page_results_days: int = Field(default=30, ge=1)


class Config(_Section):
    database: DatabaseConfig = DatabaseConfig()
    paths: PathsConfig = PathsConfig()
    dns: DnsConfig = DnsConfig()
    crawl: CrawlConfig = CrawlConfig()
    render: RenderConfig = RenderConfig()
    badge: BadgeConfig = BadgeConfig()
    calendar: CalendarConfig = CalendarConfig()
    deadlines: DeadlinesConfig = DeadlinesConfig()
    smtp: SmtpConfig = SmtpConfig()
    sms: SmsConfig = SmsConfig()
    notify: NotifyConfig = NotifyConfig()
    monitor: MonitorConfig = MonitorConfig()
    workers: WorkersConfig = WorkersConfig()
    reports: ReportsConfig = ReportsConfig()
    web: WebConfig = WebConfig()
    redpages: RedPagesConfig = RedPagesConfig()
    store: StoreConfig = StoreConfig()


SECTIONS: dict[str, type[_Section]] = {
    name: field.annotation  # type: ignore[misc]
    for name, field in Config.model_fields.items()
}


def _env_value(raw: str, annotation: Any) -> Any:
    """An environment value (always a string) as a value of the setting's type: a boolean is
    ``true`` or ``false``, numbers are numbers, lists come as JSON or comma-separated."""
    kinds = list(get_args(annotation)) if get_origin(annotation) in (Union, types.UnionType) else [
        annotation
    ]
    if type(None) in kinds and not raw.strip():
        return None
    kinds = [kind for kind in kinds if kind is not type(None)]
    kind = kinds[0] if len(kinds) == 1 else str
    if get_origin(kind) is Annotated:
        kind = get_args(kind)[0]
    if kind is list or get_origin(kind) is list:
        raw = raw.strip()
        if raw.startswith("["):
            try:
                return json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON list: {exc}") from exc
        return [part.strip() for part in raw.split(",") if part.strip()]
    if kind is bool:
        if raw.strip().lower() not in ("true", "false"):
            raise ValueError(f"{raw!r} must be true or false")
        return raw.strip().lower() == "true"
    if kind is int:
        try:
            return int(raw.strip())
        except ValueError:
            raise ValueError(f"{raw!r} is not a whole number") from None
    if kind is float:
        try:
            number = float(raw.strip())
        except ValueError:
            raise ValueError(f"{raw!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"{raw!r} is not a finite number")
        return number
    return raw


def _merge_environment(
    data: dict[str, Any], environ: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    """Fold BADGEWATCH_SECTION_KEY variables into ``data``; returns the (section, key, variable)
    it used."""
    used: list[tuple[str, str, str]] = []
    for section_name, section in SECTIONS.items():
        for key, field in section.model_fields.items():
            var = f"{ENV_PREFIX}{section_name}_{key}".upper()
            if var in environ:
                try:
                    value = _env_value(environ[var], field.annotation)
                except ValueError as exc:
                    raise ConfigError(f"[{section_name}] {key} (from {var}): {exc}") from exc
                data.setdefault(section_name, {})[key] = value
                used.append((section_name, key, var))
    return used


def _describe(exc: ValidationError, source: str, variables: Mapping[str, str]) -> str:
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        name = f"[{loc[0]}] {'.'.join(loc[1:])}" if len(loc) > 1 else f"[{loc[0]}]"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown setting"
        var = variables.get(name)
        lines.append(f"{name}{f' (from {var})' if var else ''}: {message}")
    return f"invalid configuration ({source}):\n  " + "\n  ".join(lines)


def read_toml(path: Path, what: str, error: type[Exception]) -> dict[str, Any]:
    """A TOML file's content; ``error`` naming the ``what`` file when it is missing or not TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise error(f"{what} file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what} file {path} is not valid TOML: {exc}") from exc


def load_config(
    path: Path | str | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Read the file (if any), apply environment overrides, validate everything."""
    env = os.environ if environ is None else environ
    file = path if path is not None else env.get(CONFIG_ENV)
    data: dict[str, Any] = {}
    source = "defaults"
    if file:
        file_path = Path(file)
        data = read_toml(file_path, "configuration", ConfigError)
        source = str(file_path)
    used = _merge_environment(data, env)
    if used:
        source += " + " + ", ".join(var for _, _, var in used)
    variables = {f"[{section}] {key}": var for section, key, var in used}
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, variables)) from exc
    problems = []
    for name, message in _unusable(config):
        var = variables.get(name)
        problems.append(f"{name}{f' (from {var})' if var else ''}: {message}")
    if problems:
        raise ConfigError(f"invalid configuration ({source}):\n  " + "\n  ".join(problems))
    return config


def _unusable(config: Config) -> list[tuple[str, str]]:
    """Settings that only matter given another one: checked once the whole file is read."""
    problems = []
    monitor = config.monitor
    if monitor.lease_seconds < 2 * monitor.tick_seconds:
        problems.append((
            "[monitor] lease_seconds",
            f"{monitor.lease_seconds:g} s would expire between two renewals of a running job "
            f"(every [monitor] tick_seconds, {monitor.tick_seconds:g} s): make it at least "
            f"{2 * monitor.tick_seconds:g}",
        ))
    if config.sms.kind == "http":
        try:
            _http_url(config.sms.url)
        except ValueError as exc:
            problems.append(("[sms] url", f"{exc} (or set [sms] kind = \"none\")"))
    return problems
