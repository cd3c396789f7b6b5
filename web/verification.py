"""验证码: six digits sent by SMS (through the outbox, like every notification) to prove that a
person holds a mobile number. Only a salted hash is stored; a code is used once, lasts
``CODE_LIFETIME``, allows ``MAX_TRIES`` wrong guesses, and a number or an address is sent only
so many codes (a resend waits ``RESEND_AFTER``)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from notify.outbox import enqueue
from store.db import transaction
from store.models import SmsCode, User
from web import audit
from web.context import WebState, client_address
from web.delivery import deliver_queued
from workflow.fields import display_phone

CODE_LIFETIME = timedelta(minutes=10)
MAX_TRIES = 5
RESEND_AFTER = timedelta(seconds=60)
PER_MOBILE_PER_HOUR = 5
PER_ADDRESS_PER_HOUR = 20


class CodeRefused(Exception):
    """No code was sent (too soon, too many); the message says why, in Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def send(
    session: Session, *, purpose: str, mobile: str, now: datetime, address: str
) -> None:
    """Queue a new code for ``mobile`` (E.164) in the caller's transaction, masked in the
    outbox once sent. Raises ``CodeRefused`` when the number or the address asked too often."""
    hour_ago = now - timedelta(hours=1)
    recent = select(func.count()).select_from(SmsCode).where(SmsCode.sent_at > hour_ago)
    last = session.scalar(select(func.max(SmsCode.sent_at)).where(SmsCode.mobile == mobile))
    if last is not None and now - last < RESEND_AFTER:
        wait = int((RESEND_AFTER - (now - last)).total_seconds()) + 1
        raise CodeRefused(f"验证码已发送，请 {wait} 秒后再重新获取。")
    if (session.scalar(recent.where(SmsCode.mobile == mobile)) or 0) >= PER_MOBILE_PER_HOUR:
        raise CodeRefused("该手机号码一小时内获取验证码的次数过多，请稍后再试。")
    if (session.scalar(recent.where(SmsCode.address == address)) or 0) >= PER_ADDRESS_PER_HOUR:
        raise CodeRefused("获取验证码的次数过多，请稍后再试。")
    code = f"{secrets.randbelow(10**6):06d}"
    salt = secrets.token_hex(16)
    row = SmsCode(
        purpose=purpose, mobile=mobile, salt=salt, code_hash=_hash(salt, code), sent_at=now,
        expires_at=now + CODE_LIFETIME, tries=0, address=address,
    )
    session.add(row)
    session.flush()
    minutes = int(CODE_LIFETIME.total_seconds() // 60)
    enqueue(
        session,
        key=f"sms-code:{row.id}",
        channel="sms",
        recipient=mobile,
        subject=None,
        body=f"【党政机关网站审核管理平台】您的验证码为 {code}，{minutes} 分钟内有效。"
        "如非本人操作，请忽略本短信。",
        now=now,
        redact=code,
    )


def request_code(st: WebState, *, purpose: str, mobile: str, user: User | None) -> str:
    """获取验证码, as a page asks for it: queue, audit and send a code to ``mobile`` (E.164).
    Returns what to tell the person; raises ``CodeRefused`` when none was queued. The code is
    sent while the person waits, and nothing else (the rest of the outbox is the deliverer's);
    a failure stays in the outbox for ``notify deliver``."""
    now = st.now()
    address = client_address()
    with transaction(st.sessions) as session:
        send(session, purpose=purpose, mobile=mobile, now=now, address=address)
        audit.record(session, action="sms_code.send", now=now, user=user,
                     actor=None if user else mobile, address=address,
                     detail={"purpose": purpose})
    if not deliver_queued(session).sent:
        return "验证码短信暂时未能发出，系统将稍后重试；如未收到，请稍后重新获取。"
    minutes = int(CODE_LIFETIME.total_seconds() // 60)
    return f"验证码已发送至 {display_phone(mobile)}，{minutes} 分钟内有效。"


@dataclass(frozen=True)
class Checked:
    """A code's check: ``code_id`` when right (to ``use`` with what it proves), else the
    message shown beside the 验证码 field."""

    code_id: int | None
    problem: str | None


def check(
    factory: sessionmaker[Session], *, purpose: str, mobile: str, typed: str, now: datetime
) -> Checked:
    """Check ``typed`` against the newest code sent to ``mobile``, in a transaction of its own
    so a wrong try counts even when nothing else is saved."""
    typed = typed.strip()
    with transaction(factory) as session:
        row = session.scalar(
            select(SmsCode)
            .where(SmsCode.purpose == purpose, SmsCode.mobile == mobile)
            .order_by(SmsCode.sent_at.desc(), SmsCode.id.desc())
            .limit(1)
        )
        if row is None or row.used_at is not None:
            return Checked(None, "请先点击“获取验证码”，并填写短信中的验证码。")
        if now >= row.expires_at:
            return Checked(None, "验证码已过期，请重新获取。")
        if row.tries >= MAX_TRIES:
            return Checked(None, "验证码错误次数过多，已失效，请重新获取。")
        if not typed:
            return Checked(None, "请输入短信中的 6 位验证码。")
        if not hmac.compare_digest(row.code_hash, _hash(row.salt, typed)):
            row.tries += 1
            left = MAX_TRIES - row.tries
            if left <= 0:
                return Checked(None, "验证码错误次数过多，已失效，请重新获取。")
            return Checked(None, f"验证码不正确，还可尝试 {left} 次。")
        return Checked(row.id, None)


def use(session: Session, code_id: int, now: datetime) -> bool:
    """Mark a checked code used, in the transaction that saves what it proved; False when
    another request used it first."""
    done = session.execute(
        update(SmsCode)
        .where(SmsCode.id == code_id, SmsCode.used_at.is_(None))
        .values(used_at=now)
    )
    return bool(getattr(done, "rowcount", 0))
