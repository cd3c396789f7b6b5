"""Single-field validators shared by the application form and the CSV import.

Each returns the canonical value or raises ``FieldInvalid`` with a message in Chinese that a
unit's handler can act on. The caller adds which field it was.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import date

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from badgewatch import registrations
from badgewatch.domains import FieldInvalid

IDENTIFIER_RE = re.compile(r"^[A-Z]{1,4}\d{21}$")
CERTIFICATE_RE = re.compile(r"^[0-9A-F]{32}$")

# Characters no name, address or code contains: C0/C1 controls (NUL, tab, line breaks…),
# invisible format characters (zero-width, bidirectional overrides, soft hyphen, a stray BOM)
# and U+FFFD, which only appears where an earlier conversion already lost the original text.
_INVISIBLE = "\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
UNFIT_RE = re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}\ufffd]")


def _address(
    value: str, parse: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address], name: str
) -> str:
    try:
        address = parse(value.strip())
    except ValueError as exc:
        raise FieldInvalid(f"“{value}”不是有效的 {name} 地址") from exc
    return str(address)


def ipv4(value: str) -> str:
    return _address(value, ipaddress.IPv4Address, "IPv4")


def ipv6(value: str) -> str:
    return _address(value, ipaddress.IPv6Address, "IPv6")


_MOBILE_TYPES = (
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
)
_LANDLINE_TYPES = (
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
)


def _phone(value: str, types: tuple[int, ...], invalid: str) -> str:
    """A Chinese number of one of ``types``, in E.164; ``invalid`` is the Chinese complaint."""
    try:
        number = phonenumbers.parse(value.strip(), "CN")
    except phonenumbers.NumberParseException as exc:
        raise FieldInvalid(invalid) from exc
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in types:
        raise FieldInvalid(invalid)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mobile(value: str) -> str:
    """A mainland mobile number, returned in E.164 form."""
    return _phone(value, _MOBILE_TYPES, f"“{value}”不是有效的手机号码")


def landline(value: str) -> str:
    """A fixed line with its area code (010-12345678), returned in E.164 form."""
    digits = re.sub(r"[\s\-()（）]", "", value.strip())
    if not digits.startswith(("0", "+86", "86")):
        raise FieldInvalid(f"“{value}”缺少区号，请按“区号-号码”填写，如 010-12345678")
    return _phone(value, _LANDLINE_TYPES, f"“{value}”不是有效的固定电话（需带区号）")


def display_phone(e164: str) -> str:
    """The national form people dial (0571 8765 4321, 139 0571 0001) from the stored E.164."""
    try:
        number = phonenumbers.parse(e164, "CN")
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def email(value: str) -> str:
    """Syntax only: no DNS or network lookups."""
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise FieldInvalid(f"“{value}”不是有效的电子邮箱地址") from exc
    return result.normalized


def identifier(value: str) -> str:
    text = value.strip().upper()
    if not IDENTIFIER_RE.match(text):
        raise FieldInvalid(f"“{value}”不是有效的网站标识代码（应如 CA330000000604258890010）")
    return text


def certificate(value: str) -> str:
    text = value.strip().upper()
    if not CERTIFICATE_RE.match(text):
        raise FieldInvalid(f"“{value}”不是有效的证书编号（应为 32 位十六进制）")
    return text


def plain_text(value: str, *, multiline: bool = False) -> str:
    """Refuse text with invisible or broken characters: a NUL or a zero-width space in a unit's
    name makes another unit that looks the same, a U+FFFD is text already garbled."""
    for found in UNFIT_RE.finditer(value):
        char = found.group()
        if multiline and char in "\r\n\t":
            continue
        if char == "\ufffd":
            raise FieldInvalid(
                "含有乱码替换字符“\ufffd”（U+FFFD）：文字在此前的编码转换中已经损坏，"
                "请用原始数据重新填写"
            )
        raise FieldInvalid(f"含有不可见的控制字符（U+{ord(char):04X}），请删除后重新填写")
    return value


def required_text(value: object, max_length: int = 200) -> str:
    if value is None or not isinstance(value, str) or not value.strip():
        raise FieldInvalid("必填项，不能为空")
    text = value.strip()
    if len(text) > max_length:
        raise FieldInvalid(f"不能超过 {max_length} 个字")
    return text


def expiry_date(value: str) -> date:
    """A domain's expiry date, YYYY-MM-DD (a registrar's date, so 1990 to 2199)."""
    text = value.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise FieldInvalid(
            f"“{value}”不是有效的日期，请按 YYYY-MM-DD 填写，如 2027-05-06"
        ) from exc
    if not 1990 <= day.year < 2200:
        raise FieldInvalid(f"“{value}”不是合理的域名到期日期")
    return day


FOOTER_NUMBERS: dict[str, tuple[Callable[[str], str | None], str]] = {
    "site_code": (
        registrations.canonical_site_code,
        "网站标识码应为 10 位数字，或 bm 加 8 位数字（如 1300000065、bm06000004）",
    ),
    "icp": (registrations.canonical_icp, "ICP 备案编号格式不正确，应如“冀ICP备13016076号-2”"),
    "psb": (
        registrations.canonical_psb,
        "公安机关备案编号格式不正确，应如“京公网安备11010202007232号”或 14 位备案号",
    ),
}
"""The registered footer numbers (``site_code``, ``icp``, ``psb``): canonical form, complaint."""


def footer_number(name: str, value: str) -> str:
    """A registered footer number in its canonical form (``badgewatch.registrations``)."""
    canonical, message = FOOTER_NUMBERS[name]
    fixed = canonical(value)
    if fixed is None:
        raise FieldInvalid(message)
    return fixed
