"""Domain names as people write them and as badgewatch stores them: the `.政务` and ordinary
domains of a site, checked and turned to lower-case ASCII, and back to the Unicode people read.

Everything that names a site's host (the form, the CSV import, the CLI, the reports, the
notices) uses these, so one spelling of a domain is stored and one is shown.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit, urlunsplit

import idna

GOV_SUFFIX = "政务"
GOV_SUFFIX_ASCII = "xn--zfr164b"


class FieldInvalid(ValueError):
    """One field's value is not acceptable; ``message`` is in Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _to_ascii(value: str) -> str:
    text = value.strip().rstrip(".").lower()
    if not text:
        raise FieldInvalid("不能为空")
    if "://" in text or "/" in text or " " in text:
        raise FieldInvalid(f"“{value}”不是域名，请只填写域名，不要带 http:// 或路径")
    labels = text.replace("。", ".").split(".")
    out = []
    for label in labels:
        if not label:
            raise FieldInvalid(f"“{value}”不是有效的域名（含有空的标签）")
        try:
            out.append(
                label if label.startswith("xn--") else idna.encode(label, uts46=True).decode()
            )
            if label.startswith("xn--"):
                idna.decode(label)
        except idna.IDNAError as exc:
            raise FieldInvalid(f"“{value}”不是有效的域名（{label}）") from exc
    ascii_name = ".".join(out)
    if len(ascii_name) > 253:
        raise FieldInvalid(f"“{value}”过长")
    return ascii_name


def gov_domain(value: str) -> str:
    """A `.政务` domain, accepted in Unicode or punycode, returned in lower-case ASCII form."""
    ascii_name = _to_ascii(value)
    labels = ascii_name.split(".")
    if labels[-1] != GOV_SUFFIX_ASCII:
        raise FieldInvalid(f"“{value}”不是以“.政务”结尾的中文域名")
    if len(labels) < 2:
        raise FieldInvalid(f"“{value}”缺少“.政务”前面的名称")
    return ascii_name


def english_domain(value: str) -> str:
    """An ordinary domain such as www.example.gov.cn, returned in lower-case ASCII form."""
    ascii_name = _to_ascii(value)
    if "." not in ascii_name:
        raise FieldInvalid(f"“{value}”不是完整的域名")
    return ascii_name


@functools.lru_cache(maxsize=4096)
def display_domain(ascii_name: str) -> str:
    """The Unicode form people read (城市.政务), from the stored ASCII form. Cached: reports
    show thousands of URLs of the same few hosts, and IDNA decoding is slow."""
    try:
        return idna.decode(ascii_name)
    except idna.IDNAError:
        return ascii_name


def display_url(url: str) -> str:
    """The URL with its host in the Unicode form people read (杭州数据.政务, not xn--…)."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host or "xn--" not in host:
        return url
    try:
        port = parts.port
    except ValueError:  # not a URL a person could open anyway: show it as crawled
        return url
    netloc = display_domain(host) + (f":{port}" if port else "")
    return urlunsplit(parts._replace(netloc=netloc))
