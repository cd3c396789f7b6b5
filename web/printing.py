"""The printable documents (申请函, 申请表) as web responses: they carry their print style
inline, so their Content-Security-Policy admits exactly that style, by its hash, and no other."""

from __future__ import annotations

import base64
import hashlib
import re

from flask import Response

from web.app import CONTENT_SECURITY_POLICY

_STYLE_RE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def printable(html: str) -> Response:
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()}'"
        for style in _STYLE_RE.findall(html)
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "style-src 'self'", f"style-src 'self' {hashes}"
    )
    return response
