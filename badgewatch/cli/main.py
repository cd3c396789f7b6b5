"""The ``badgewatch`` command: exit 0 on success, 2 on bad input, 1 when an action is refused
or fails."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar, cast

import click

from badgewatch.config import ConfigError, load_config
from badgewatch.runtime import Runtime

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


def runtime() -> Runtime:
    """The Runtime of this invocation, created on first use so --help needs no config."""
    ctx = click.get_current_context()
    root = ctx.find_root()
    if root.obj is None:
        try:
            root.obj = Runtime(load_config())
        except ConfigError as exc:
            fail(str(exc), bad_input=True)
        root.call_on_close(root.obj.close)
    return cast(Runtime, root.obj)


def translate_errors(func: F) -> F:
    """Turn the documented domain errors into exit codes and readable messages."""
    from workflow.errors import NotFound, ReasonRequired, WorkflowError
    from workflow.form import FormInvalid
    from workflow.machine import TransitionNotAllowed
    from workflow.workdays import CalendarError

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (FormInvalid, NotFound, ReasonRequired, CalendarError, ValueError) as exc:
            fail(str(exc), bad_input=True)
        except (WorkflowError, TransitionNotAllowed) as exc:
            fail(str(exc))

    return cast(F, wrapper)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    )

    for module in (apps, calendar, db, demo, monitor, notify, offices, report, sites, users):
        cli.add_command(module.command)
    for command in (crawl.crawl, crawl.recheck, crawl.status, crawl.check):
        cli.add_command(command)


_register()


def main() -> None:
    try:
        cli.main(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)

