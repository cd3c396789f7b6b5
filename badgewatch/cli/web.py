"""``badgewatch web``: the web application on this machine, served by gunicorn.

gunicorn runs in this process through its ``BaseApplication`` (the arbiter here, workers forked
from it), so one command serves the same app as the production line
``gunicorn -w 4 'web.app:create_app_from_env()'``. Each worker builds its own app (and its own
database connections: none is shared across a fork); the app is built once here first so a
missing secret key or an unmigrated database stops the command with its message.
"""

from __future__ import annotations

from typing import Any

import click
from pydantic import ValidationError

from badgewatch.cli.main import fail, runtime
from badgewatch.config import Config, ConfigError


@click.command("web")
@click.option("--bind", help="host:port to listen on (default: [web] bind).")
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes ([web] workers).")
def command(bind: str | None, workers: int | None) -> None:
    """Serve the web application (登录 at /login) until Ctrl-C."""
    from web.app import create_app

    config = runtime().config
    overrides = {"bind": bind, "workers": workers}
    try:
        web = config.web.model_validate(
            config.web.model_dump() | {k: v for k, v in overrides.items() if v is not None}
        )
    except ValidationError as exc:
        fail(f"--bind: {exc.errors()[0]['msg'].removeprefix('Value error, ')}", bad_input=True)
    config = config.model_copy(update={"web": web})
    try:
        create_app(config).extensions["badgewatch"].close()  # no connection crosses a fork
    except ConfigError as exc:
        fail(str(exc), bad_input=True)
    click.echo(f"badgewatch web: serving on http://{web.bind}/ (Ctrl-C stops)")
    serve(config, secret_key=None)


def serve(config: Config, *, secret_key: str | None) -> None:
    """Run gunicorn here until it is stopped; each worker builds the app for ``config``."""
    from gunicorn.app.base import BaseApplication

    from web.app import create_app

    class Application(BaseApplication):  # type: ignore[misc]  # gunicorn ships no types
        def load_config(self) -> None:
            self.cfg.set("bind", config.web.bind)
            self.cfg.set("workers", config.web.workers)
            self.cfg.set("accesslog", "-")
            self.cfg.set("proc_name", "badgewatch-web")
            if "control_socket_disable" in self.cfg.settings:  # gunicorn 25.1+: one per user
                self.cfg.set("control_socket_disable", True)  # not shared by two servers

        def load(self) -> Any:
            return create_app(config, secret_key=secret_key)

    Application().run()
