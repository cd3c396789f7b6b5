"""Web accounts: login names, the password rule and argon2id hashes (argon2-cffi).

The CLI (``badgewatch user add/passwd``) and the web pages share these, each saying a broken
rule in its own language.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 10
LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{2,63}$")

_hasher = PasswordHasher()  # argon2id with argon2-cffi's recommended parameters
# Verified when a login does not exist, so that case takes as long as a wrong password.
_ABSENT_HASH = _hasher.hash("badgewatch: no such login")


def normal_login(login: str) -> str:
    """Logins are compared without case and surrounding spaces."""
    return login.strip().lower()


def valid_login(login: str) -> bool:
    """3 to 64 letters, digits, ``.``, ``_``, ``@`` or ``-``, starting with a letter or digit."""
    return LOGIN_RE.match(normal_login(login)) is not None


def password_long_enough(password: str) -> bool:
    return len(password) >= MIN_PASSWORD_LENGTH


def password_rule_text() -> str:
    """The rule as the web pages say it."""
    return f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符。"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; an account without a hash never matches, at the cost of
    a real verification so timing does not tell which logins exist."""
    try:
        return _hasher.verify(stored_hash or _ABSENT_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """The hash was made with older parameters: replace it at the next good login."""
    return _hasher.check_needs_rehash(stored_hash)
