"""The ``badgewatch`` command: exit 0 on success, 2 on bad input (a field, line, argument or
setting the message names), 1 when an action is refused or fails -- including our own failures
(a database that cannot be reached or is not migrated, a DNS that does not answer), which are
never reported as the user's mistake."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar, cast

import click
from sqlalchemy.exc import OperationalError

from badgewatch.config import Config, ConfigError, load_config
from badgewatch.runtime import DatabaseNotReady, Runtime, shown_url
from badgewatch.vocabulary import MARKUP_REASONS, NOT_FAILURES

F = TypeVar("F", bound=Callable[..., Any])

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class BadInput(click.ClickException):
    """Input the user can fix: printed as is, exit code 2."""

    exit_code = EXIT_BAD_INPUT


class Failure(click.ClickException):
    """A refused or failed action: printed as is, exit code 1."""

    exit_code = EXIT_FAILURE


def fail(message: str, bad_input: bool = False) -> NoReturn:
    raise (BadInput if bad_input else Failure)(message)


def emit(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def check_crawl_settings(config: Config) -> None:
    """``[crawl] failing_reasons`` is checked by the crawler's own ``Policy`` (the code every
    crawl applies), here at start-up: the foundation package that loads the configuration
    imports no crawler code, and a code the crawler would refuse must stop the command, not
    every crawl it starts."""
    if config.crawl.failing_reasons is None:
        return
    from crawler.checks.badge import Policy

    try:
        Policy.from_codes(config.crawl.failing_reasons)
    except ValueError:
        allowed = [code for code in MARKUP_REASONS if code not in NOT_FAILURES]
        unknown = [code for code in config.crawl.failing_reasons if code not in allowed]
        raise ConfigError(
            f"[crawl] failing_reasons: {', '.join(unknown)} cannot fail a page; list some of "
            f"{', '.join(allowed)} (the rendered check's failures are not configurable)"
        ) from None


def runtime() -> Runtime:
    """The Runtime of this invocation, created on first use so --help needs no config. A bad
    setting stops the command here; the database is checked when it is first used."""
    ctx = click.get_current_context()
    root = ctx.find_root()
    if root.obj is None:
        try:
            config = load_config()
            check_crawl_settings(config)
        except ConfigError as exc:
            fail(str(exc), bad_input=True)
        root.obj = Runtime(config)
        root.call_on_close(root.obj.close)
    return cast(Runtime, root.obj)


def translate_errors(func: F) -> F:
    """Turn the documented domain errors into exit codes and readable messages: the user's
    input (a form, a file, a name, a calendar year) exits 2; a refused action or our failure
    to check (``CheckUnavailable``) exits 1. Anything else is not the user's doing and is
    never reported as bad input."""
    from workflow.errors import NotFound, ReasonRequired, WorkflowError
    from workflow.form import FormInvalid
    from workflow.importer import ImportInvalid
    from workflow.machine import TransitionNotAllowed
    from workflow.workdays import CalendarError

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (FormInvalid, ImportInvalid, NotFound, ReasonRequired, CalendarError) as exc:
            fail(str(exc), bad_input=True)
        except (WorkflowError, TransitionNotAllowed) as exc:
            fail(str(exc))

    return cast(F, wrapper)


class _Commands(click.Group):
    """The command group: the database's own failures, wherever a command meets them, become
    a message and exit 1 instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DatabaseNotReady as exc:
            raise Failure(str(exc)) from exc
        except OperationalError as exc:
            url = ctx.obj.config.database.url if isinstance(ctx.obj, Runtime) else None
            where = f" at {shown_url(url)}" if url else ""
            reason = str(exc.orig or exc).strip().splitlines()[0]
            if exc.statement is None:  # no statement: the connection itself failed
                raise Failure(
                    f"cannot reach the database{where}: {reason}; check that it runs and that "
                    "[database] url names it, then retry"
                ) from exc
            raise Failure(f"the database{where} failed: {reason}; retry") from exc


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """badgewatch: site badge (网站标识) workflow and compliance monitor."""


def _register() -> None:
    from badgewatch.cli import (
        apps,
        calendar,
        crawl,
        db,
        demo,
        monitor,
        notify,
        offices,
        report,
        sites,
        users,
        web,
        worker,
    )

    for module in (apps, calendar, db, demo, monitor, notify, offices, report, sites, users, web,
                   worker):
        cli.add_command(module.command)
    for command in (crawl.crawl, crawl.recheck, crawl.status, crawl.check):
        cli.add_command(command)


_register()


def main() -> None:
    try:
        cli.main(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)

