"""The typed models every area shares: offices, units, people, applications, sites, outbox."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# The enums live beside their labels in badgewatch/vocabulary.py; re-exported here, where the
# columns that store them are.
from badgewatch.vocabulary import (
    ApplicationKind,
    AppState,
    JobState,
    MonitorState,
    OfficeLevel,
    OutboxStatus,
    Role,
    RunState,
    SiteSource,
    SiteStatus,
)
from store.records import CheckReasons, DnsRecord, RenderSummary, Unwritten

__all__ = [
    "NAMING",
    "OPEN_DOMAIN_INDEX",
    "OPEN_WHERE",
    "AppState",
    "Application",
    "ApplicationKind",
    "Base",
    "Counter",
    "CrawlJob",
    "CrawlRun",
    "JobState",
    "MonitorBeat",
    "MonitorState",
    "Office",
    "OfficeLevel",
    "OutboxMessage",
    "OutboxStatus",
    "PageRender",
    "PageResult",
    "RedPage",
    "Role",
    "RunState",
    "Site",
    "SiteCheck",
    "SiteSource",
    "SiteStateChange",
    "SiteStatus",
    "Transition",
    "UTCDateTime",
    "Unit",
    "User",
    "WorkerBeat",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; SQLite keeps no zone, so it is restored on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


def _enum(cls: type[enum.Enum]) -> Enum:
    """Enum columns store the value (the spelling users and outside checks see)."""
    return Enum(
        cls,
        name=cls.__name__.lower(),
        values_callable=lambda members: [m.value for m in members],
        native_enum=False,
        validate_strings=True,
        length=32,
    )


class Office(Base):
    """A staffing office (编办) at one level, identified by its division code."""

    __tablename__ = "offices"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[OfficeLevel] = mapped_column(_enum(OfficeLevel))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"))
    email: Mapped[str | None] = mapped_column(String(254))  # where its daily digest goes

    parent: Mapped[Office | None] = relationship(remote_side=[id])


class Unit(Base):
    """An agency (单位) that runs sites, under the office of its own level."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    org_type: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(400))
    functions: Mapped[str | None] = mapped_column(Text)

    office: Mapped[Office] = relationship()


class User(Base):
    """A person acting in the workflow; the role decides what they may do."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("role", "name", "unit_id", "office_id", name="role_name_place"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"))
    email: Mapped[str | None] = mapped_column(String(254))
    mobile: Mapped[str | None] = mapped_column(String(32))
    # A web account: the name typed at 登录 and an argon2id hash (none for workflow-only people).
    login: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # 停用: set by an operator; a disabled person cannot log in (their sessions were ended).
    disabled_at: Mapped[datetime | None] = mapped_column()


OPEN_DOMAIN_INDEX = "uq_applications_open_domain"
# Open: submitted and not yet issued (workflow.claims.OPEN_STATES), as the stored values.
OPEN_WHERE = f"state NOT IN ('{AppState.DRAFT.value}', '{AppState.ISSUED.value}')"


class Application(Base):
    """One application (new site or re-review); the form is kept whole and key fields indexed."""

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    kind: Mapped[ApplicationKind] = mapped_column(_enum(ApplicationKind))
    state: Mapped[AppState] = mapped_column(_enum(AppState), index=True)
    site_name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str] = mapped_column(String(253), index=True)
    form: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    submitted_on: Mapped[date | None] = mapped_column(Date)
    office_review_due: Mapped[date | None] = mapped_column(Date)
    materials_due: Mapped[date | None] = mapped_column(Date)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # 申请序号, given at the first submit (workflow.serials); a draft has none.
    serial: Mapped[str | None] = mapped_column(String(40), unique=True)
    # The site a re-review (kind rereview) re-reviews: one of its unit's sites; None for new.
    rereview_site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))

    unit: Mapped[Unit] = relationship()
    office: Mapped[Office] = relationship()
    site: Mapped[Site | None] = relationship(foreign_keys=[site_id])
    rereview_site: Mapped[Site | None] = relationship(foreign_keys=[rereview_site_id])
    transitions: Mapped[list[Transition]] = relationship(
        back_populates="application", order_by="Transition.id"
    )

    # One open application per domain (workflow.claims checks it first, in words; this holds
    # it when two transactions pass that check at the same moment).
    __table_args__ = (
        Index(
            OPEN_DOMAIN_INDEX, "domain", unique=True,
            sqlite_where=text(OPEN_WHERE), postgresql_where=text(OPEN_WHERE),
        ),
    )
    __mapper_args__ = {"version_id_col": version}


class Transition(Base):
    """One recorded step of an application: who, in which role, when, why."""

    __tablename__ = "transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[AppState] = mapped_column(_enum(AppState))
    to_state: Mapped[AppState] = mapped_column(_enum(AppState))
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role))
    at: Mapped[datetime] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)

    application: Mapped[Application] = relationship(back_populates="transitions")


class Site(Base):
    """A site whose badge was issued here or imported; what the crawler monitors."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    english_domain: Mapped[str | None] = mapped_column(String(253))
    ipv4: Mapped[str] = mapped_column(String(15))
    ipv6: Mapped[str | None] = mapped_column(String(45))
    identifier: Mapped[str] = mapped_column(String(40), unique=True)
    certificate: Mapped[str | None] = mapped_column(String(32))
    # The footer numbers the site registered, canonical (crawler.checks.footer); optional.
    site_code: Mapped[str | None] = mapped_column(String(10))
    icp: Mapped[str | None] = mapped_column(String(40))
    psb: Mapped[str | None] = mapped_column(String(40))
    # The day the domain's registration expires (optional): reminders, domain_expired.
    expires_on: Mapped[date | None] = mapped_column(Date)
    notified_on: Mapped[date | None] = mapped_column(Date)
    placement_due: Mapped[date | None] = mapped_column(Date)
    # The day its last re-review (已开办网站复核) was approved; the identifier stays the same.
    rereviewed_on: Mapped[date | None] = mapped_column(Date)
    source: Mapped[SiteSource] = mapped_column(_enum(SiteSource))
    monitored: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column()
    # The verdict of the last complete check; a run that dies never touches these.
    status: Mapped[SiteStatus] = mapped_column(_enum(SiteStatus), default=SiteStatus.UNCHECKED)
    checked_at: Mapped[datetime | None] = mapped_column()
    last_check_id: Mapped[int | None] = mapped_column(
        ForeignKey("site_checks.id", use_alter=True)
    )
    # The monitor's standing (crawl verdict split by the deadline) and since when.
    state: Mapped[MonitorState] = mapped_column(
        _enum(MonitorState), default=MonitorState.UNCHECKED
    )
    state_since: Mapped[datetime | None] = mapped_column()
    ever_compliant: Mapped[bool] = mapped_column(default=False)
    # When the row last changed, however (an import, 网站信息, a re-review, a check): the live
    # pages' cached office trees are keyed by it. None until the first change.
    updated_at: Mapped[datetime | None] = mapped_column(onupdate=lambda: datetime.now(UTC))

    unit: Mapped[Unit] = relationship()
    office: Mapped[Office] = relationship()
    last_check: Mapped[SiteCheck | None] = relationship(foreign_keys=[last_check_id])


class RedPage(Base):
    """网络红页: the micro-site badgewatch serves at the domain of a unit without a site of its
    own. ``draft`` is what the unit edits; ``published`` (None until 发布) is what is served.
    Both hold the shape of ``workflow.redpages.RedPageContent.to_json``."""

    __tablename__ = "red_pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), unique=True)
    draft: Mapped[dict[str, Any]] = mapped_column()
    published: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column()
    published_at: Mapped[datetime | None] = mapped_column()

    site: Mapped[Site] = relationship()


class CrawlRun(Base):
    """One crawl process's work on a set of sites."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    trigger: Mapped[str] = mapped_column(String(20))
    state: Mapped[RunState] = mapped_column(_enum(RunState), index=True)
    started_at: Mapped[datetime] = mapped_column()
    heartbeat_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    finish_reason: Mapped[str | None] = mapped_column(String(60))
    sites: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    pid: Mapped[int | None] = mapped_column(Integer)
    stats: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # Scrapy's, at the end


class SiteCheck(Base):
    """One site within one run; ``complete`` only when its crawl ended normally."""

    __tablename__ = "site_checks"
    __table_args__ = (
        # A site's last full check (crawler/known.py), and its checks in the report's trend.
        Index("ix_site_checks_site_id_started_at", "site_id", "started_at"),
        Index("ix_site_checks_site_id_finished_at", "site_id", "finished_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    started_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    complete: Mapped[bool] = mapped_column(default=False)
    status: Mapped[SiteStatus | None] = mapped_column(_enum(SiteStatus))
    pages_checked: Mapped[int] = mapped_column(Integer, default=0)
    pages_failing: Mapped[int] = mapped_column(Integer, default=0)
    pages_not_checked: Mapped[int] = mapped_column(Integer, default=0)
    robots_excluded: Mapped[int] = mapped_column(Integer, default=0)
    home_fetched: Mapped[bool] = mapped_column(default=False)
    # The shapes are in store/records.py; read them through its ``*_of`` functions.
    dns: Mapped[DnsRecord] = mapped_column(JSON, default=dict)
    reasons: Mapped[CheckReasons | Unwritten] = mapped_column(JSON, default=dict)
    # The rendered sample: counts, and "could not check (render)" when the browser failed.
    renders: Mapped[RenderSummary | Unwritten] = mapped_column(JSON, default=dict)
    note: Mapped[str | None] = mapped_column(Text)
    # Incremental: the pages the previous check knew were asked for with their validators,
    # and those unchanged carried that check's verdict (``pages_carried`` of them).
    incremental: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    pages_carried: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # What the page check compared (badge, footer numbers, policy): a verdict is carried only
    # into a check with the same key (crawler/known.py).
    check_key: Mapped[str | None] = mapped_column(String(32))

    run: Mapped[CrawlRun] = relationship()
    site: Mapped[Site] = relationship(foreign_keys=[site_id])


class PageResult(Base):
    """What the check found on one page in one run."""

    __tablename__ = "page_results"
    __table_args__ = (
        # A check's pages, and its failing pages without reading the rest (the report, notices).
        Index("ix_page_results_check_id_verdict", "check_id", "verdict"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("site_checks.id"))
    url: Mapped[str] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    identifiers: Mapped[list[str]] = mapped_column(JSON)
    badge_offset: Mapped[int | None] = mapped_column(Integer)
    badge_in_body: Mapped[bool | None] = mapped_column()
    depth: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str | None] = mapped_column(Text)
    # Why the page was not fetched (not_checked, fetch_error), in the words the user reads.
    error: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(index=True)
    # What the next crawl asks with (If-None-Match, If-Modified-Since) and compares the body
    # with; set only for a page that was read. ``carried``: the page had not changed, and its
    # verdict is the previous check's, not re-run.
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    digest: Mapped[str | None] = mapped_column(String(32))
    carried: Mapped[bool] = mapped_column(default=False, server_default=text("false"))


class Counter(Base):
    """Named monotonic counters (the badge serial number) incremented inside transactions."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class PageRender(Base):
    """What a real browser showed of one page's badge, with the screenshot as evidence."""

    __tablename__ = "page_renders"

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("site_checks.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    viewport: Mapped[str] = mapped_column(String(16))
    verdict: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    message: Mapped[str] = mapped_column(Text)
    screenshot: Mapped[str | None] = mapped_column(Text)  # relative to the data directory
    measurement: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rendered_at: Mapped[datetime] = mapped_column()


class SiteStateChange(Base):
    """One change of a site's monitor state, kept so reports can show its history."""

    __tablename__ = "site_state_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    from_state: Mapped[MonitorState] = mapped_column(_enum(MonitorState))
    to_state: Mapped[MonitorState] = mapped_column(_enum(MonitorState))
    at: Mapped[datetime] = mapped_column(index=True)
    check_id: Mapped[int | None] = mapped_column(ForeignKey("site_checks.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CrawlJob(Base):
    """One unit of crawl work in the single queue: a nightly run's site or a recheck.

    Each attempt gets a fresh ``owner`` token; only the attempt that still owns the job may
    complete it, so a crawl that outlives its dispatcher never overwrites newer results.
    """

    __tablename__ = "crawl_jobs"
    __table_args__ = (
        # A site is never queued (or running) twice.
        Index(
            "uq_crawl_jobs_active_site",
            "site_id",
            unique=True,
            sqlite_where=text("state IN ('queued', 'running')"),
            postgresql_where=text("state IN ('queued', 'running')"),
        ),
        Index("ix_crawl_jobs_claim", "state", "priority", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # nightly | recheck
    priority: Mapped[int] = mapped_column(Integer)  # lower runs first
    url: Mapped[str | None] = mapped_column(Text)  # a single-page recheck
    render: Mapped[bool] = mapped_column(default=False)
    state: Mapped[JobState] = mapped_column(_enum(JobState))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(64))
    worker: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None] = mapped_column()
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"))
    enqueued_at: Mapped[datetime] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)


class MonitorBeat(Base):
    """A running monitor's heartbeat, so commands know whether one is alive and what it does."""

    __tablename__ = "monitor_beats"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(120))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column()
    heartbeat_at: Mapped[datetime] = mapped_column()
    stopped_at: Mapped[datetime | None] = mapped_column()
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)  # next runs, running work


class WorkerBeat(Base):
    """A ``badgewatch worker`` process's heartbeat: which machine and process it is, how many
    crawl processes it runs and the Procrastinate workers (one a lane) it runs them with, so the
    operators' status shows a process as one worker and what it runs."""

    __tablename__ = "worker_beats"

    id: Mapped[str] = mapped_column(String(160), primary_key=True)  # worker:HOST:PID
    host: Mapped[str] = mapped_column(String(120))
    pid: Mapped[int] = mapped_column(Integer)
    concurrency: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column()
    heartbeat_at: Mapped[datetime] = mapped_column(index=True)
    stopped_at: Mapped[datetime | None] = mapped_column()
    engine_ids: Mapped[list[int]] = mapped_column(JSON, default=list)  # procrastinate_workers.id


class OutboxMessage(Base):
    """A notification to send exactly once; failures are kept and retried with backoff."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(400))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    # A secret in the body (a 验证码) that is masked once the message is settled, so the table
    # never keeps a usable one.
    redact: Mapped[str | None] = mapped_column(String(64))


class WebSession(Base):
    """A logged-in browser: the cookie holds a random token, this row its SHA-256, so the table
    read by someone else logs nobody in. Over after ``expires_at`` or when idle too long."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(index=True)
    address: Mapped[str | None] = mapped_column(String(45))

    user: Mapped[User] = relationship()


class LoginFailure(Base):
    """One failed login, counted per login and per address to lock out guessing; kept in the
    database so a lock holds across restarts and every worker process."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(45), index=True)
    at: Mapped[datetime] = mapped_column(index=True)


class AuditEntry(Base):
    """Who did what to which object, when and from which address (web actions and accounts)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor: Mapped[str] = mapped_column(String(200))  # the login, or what was typed as one
    address: Mapped[str | None] = mapped_column(String(45))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SmsCode(Base):
    """A 验证码 sent by SMS to prove a mobile number: six digits, kept only as a hash (SHA-256
    with the row's salt), used once, void after its expiry or too many wrong tries."""

    __tablename__ = "sms_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))  # register | apply
    mobile: Mapped[str] = mapped_column(String(32), index=True)  # E.164
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime] = mapped_column(index=True)
    expires_at: Mapped[datetime] = mapped_column()
    tries: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column()
    address: Mapped[str | None] = mapped_column(String(45))
