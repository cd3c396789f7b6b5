"""The one way badgewatch sets up Jinja2 for HTML that people read (documents, reports, the web
application's pages)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

# Everything escaped unless a template says ``|safe``, and an unknown name an error rather than
# an empty string. The web application gives these to Flask's own environment.
HTML_OPTIONS: dict[str, Any] = {
    "autoescape": select_autoescape(default=True),
    "undefined": StrictUndefined,
    "trim_blocks": True,
    "lstrip_blocks": True,
}


def html_environment(package: str) -> Environment:
    """The ``templates/`` folder of ``package`` with ``HTML_OPTIONS``."""
    return Environment(  # noqa: S701 - HTML_OPTIONS turns autoescaping on
        loader=PackageLoader(package, "templates"), **HTML_OPTIONS
    )
