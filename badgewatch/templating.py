"""The one way badgewatch sets up Jinja2 for HTML that people read (documents, reports)."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


def html_environment(package: str) -> Environment:
    """The ``templates/`` folder of ``package``: everything escaped unless a template says
    ``|safe``, and an unknown name an error rather than an empty string."""
    return Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
