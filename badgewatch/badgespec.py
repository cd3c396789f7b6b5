"""What names the badge host: the registry's script, image and certificate URLs and the ids and
image names of its snippet. The configuration's ``[badge]`` gives it (``BadgeConfig.spec()``) and
the page check takes it: a plain frozen value, so the check needs no pydantic. The defaults are
the national registry's, and ``[badge]``'s defaults are these."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BadgeSpec:
    """One deployment's badge host, as the page check reads it."""

    script_base: str = "http://dcs.conac.cn/js"
    image_base: str = "http://dcs.conac.cn/image"
    certificate_url: str = "http://bszs.conac.cn/sitename?method=show&id={certificate}"
    identifier_prefix: str = "CA"
    span_id: str = "_ideConac"
    image_id: str = "imgConac"
    image_party: str = "red.png"
    image_institution: str = "blue.png"
    image_party_error: str = "red_error.png"
    image_institution_error: str = "blue_error.png"
