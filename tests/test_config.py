"""Configuration: file, environment overrides, and errors that name the setting."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from badgewatch.badgespec import BadgeSpec
from badgewatch.cli.main import cli
from badgewatch.config import BadgeConfig, ConfigError, load_config


def test_no_file_means_embedded_sqlite() -> None:
    config = load_config(environ={})
    assert config.database.url == "sqlite:///./var/badgewatch.db"
    assert config.dns.nameservers == []
    assert config.crawl.allow_private_networks is False


def test_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "bw.toml"
    path.write_text(
        '[database]\nurl = "postgresql://u@db/x"\n[dns]\nnameservers = ["10.0.0.1:53"]\n'
        '[badge]\nscript_base = "https://badges.example/js/"\n'
        'certificate_url = "https://badges.example/cert?id={certificate}"\n',
        encoding="utf-8",
    )
    config = load_config(
        environ={
            "BADGEWATCH_CONFIG": str(path),
            "BADGEWATCH_DNS_NAMESERVERS": "127.0.0.1:5353, 127.0.0.2:53",
            "BADGEWATCH_CRAWL_ALLOW_PRIVATE_NETWORKS": "true",
        }
    )
    assert config.database.url == "postgresql://u@db/x"
    assert config.dns.nameservers == ["127.0.0.1:5353", "127.0.0.2:53"]
    assert config.crawl.allow_private_networks is True
    assert config.badge.script_base == "https://badges.example/js"
    assert config.badge.certificate_url == "https://badges.example/cert?id={certificate}"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"BADGEWATCH_DNS_NAMESERVERS": "localhost"}, "[dns] nameservers"),
        ({"BADGEWATCH_CRAWL_ALLOW_PRIVATE_NETWORKS": "perhaps"}, "[crawl] allow_private_networks"),
        ({"BADGEWATCH_BADGE_CERTIFICATE_URL": "http://x/cert"}, "[badge] certificate_url"),
        ({"BADGEWATCH_DATABASE_URL": "mysql://x"}, "[database] url"),
        ({"BADGEWATCH_SMTP_PORT": "99999"}, "[smtp] port"),
    ],
)
def test_bad_setting_is_named(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(environ=environ)
    assert named in str(info.value)


def test_unknown_key_in_file(tmp_path: Path) -> None:
    path = tmp_path / "bw.toml"
    path.write_text("[dns]\nnameserver = ['1.2.3.4:53']\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert "[dns] nameserver: unknown setting" in str(info.value)


def test_cli_refuses_to_start_on_bad_setting() -> None:
    result = CliRunner().invoke(
        cli, ["calendar", "add-days", "2026-09-30", "5"], env={"BADGEWATCH_SMTP_PORT": "x"}
    )
    assert result.exit_code == 2
    assert "[smtp] port" in result.output


# -- strict values: what cannot work is refused at start-up, naming the setting ---------------


@pytest.mark.parametrize("value", ["yes", "1", "on", "y", "no", "0", "off", ""])
def test_a_boolean_from_the_environment_is_true_or_false(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(environ={"BADGEWATCH_CRAWL_ALLOW_PRIVATE_NETWORKS": value})
    message = str(info.value)
    assert "[crawl] allow_private_networks" in message
    assert "BADGEWATCH_CRAWL_ALLOW_PRIVATE_NETWORKS" in message
    assert "true or false" in message


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("false", False)])
def test_true_and_false_from_the_environment(value: str, expected: bool) -> None:
    config = load_config(environ={"BADGEWATCH_RENDER_MOBILE": value})
    assert config.render.mobile is expected


@pytest.mark.parametrize(
    "line", ['allow_private_networks = "yes"', "allow_private_networks = 1", "retries = 2.5",
             'retries = "2"', "download_timeout = true"],
)
def test_file_values_keep_their_toml_type(tmp_path: Path, line: str) -> None:
    path = tmp_path / "bw.toml"
    path.write_text(f"[crawl]\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert f"[crawl] {line.split(maxsplit=1)[0]}" in str(info.value)


def test_numbers_from_the_environment_are_parsed_or_named() -> None:
    config = load_config(
        environ={"BADGEWATCH_CRAWL_RETRIES": "3", "BADGEWATCH_DNS_TIMEOUT": "0.5"}
    )
    assert (config.crawl.retries, config.dns.timeout) == (3, 0.5)
    with pytest.raises(ConfigError) as info:
        load_config(environ={"BADGEWATCH_CRAWL_RETRIES": "three"})
    assert "[crawl] retries" in str(info.value) and "BADGEWATCH_CRAWL_RETRIES" in str(info.value)


@pytest.mark.parametrize(
    ("environ", "named", "said"),
    [
        ({"BADGEWATCH_CALENDAR_TIMEZONE": "Asia/Beijing"}, "[calendar] timezone", "Asia/Shanghai"),
        ({"BADGEWATCH_MONITOR_TIMEZONE": "CST"}, "[monitor] timezone", "Asia/Shanghai"),
        ({"BADGEWATCH_MONITOR_NIGHTLY_CRON": "0 25 * * *"}, "[monitor] nightly_cron", "hour"),
        ({"BADGEWATCH_MONITOR_DIGEST_CRON": "every day"}, "[monitor] digest_cron", "cron"),
        ({"BADGEWATCH_SMS_URL": "127.0.0.1:8025/sms"}, "[sms] url", "http"),
        ({"BADGEWATCH_NOTIFY_WEBHOOK_URL": "https://"}, "[notify] webhook_url", "http"),
        ({"BADGEWATCH_NOTIFY_OPERATOR_EMAIL": "ops-at-example"}, "[notify] operator_email", "@"),
        ({"BADGEWATCH_SMTP_SENDER": "badgewatch"}, "[smtp] sender", "@"),
        ({"BADGEWATCH_DATABASE_URL": "postgresql://u@db:notaport/x"}, "[database] url", "URL"),
        ({"BADGEWATCH_CALENDAR_EXTRA_FILE": "/nonexistent/cal.toml"},
         "[calendar] extra_file", "does not exist"),
        ({"BADGEWATCH_RENDER_EXECUTABLE_PATH": "/nonexistent/chromium"},
         "[render] executable_path", "does not exist"),
        ({"BADGEWATCH_PATHS_DATA_DIR": "/proc/version/var"}, "[paths] data_dir", "directory"),
        ({"BADGEWATCH_REPORTS_DIR": "/proc/version/reports"}, "[reports] dir", "directory"),
        ({"BADGEWATCH_RENDER_VIEWPORT_WIDTH": "100"}, "[render] viewport_width", "320"),
        ({"BADGEWATCH_CRAWL_USER_AGENT": " "}, "[crawl] user_agent", "empty"),
        ({"BADGEWATCH_DNS_NAMESERVERS": "dns server:53"}, "[dns] nameservers", "host"),
        ({"BADGEWATCH_BADGE_SCRIPT_BASE": "http://"}, "[badge] script_base", "host"),
        ({"BADGEWATCH_BADGE_CERTIFICATE_URL": "https:///c?id={certificate}"},
         "[badge] certificate_url", "host"),
        ({"BADGEWATCH_REPORTS_BASE_URL": "https://"}, "[reports] base_url", "host"),
        ({"BADGEWATCH_MONITOR_LEASE_SECONDS": "2", "BADGEWATCH_MONITOR_TICK_SECONDS": "2"},
         "[monitor] lease_seconds", "tick_seconds"),
    ],
)
def test_settings_that_cannot_work_are_named_with_what_to_do(
    environ: dict[str, str], named: str, said: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(environ=environ)
    assert named in str(info.value)
    assert said in str(info.value)


def test_a_browser_that_is_not_used_need_not_exist() -> None:
    config = load_config(
        environ={
            "BADGEWATCH_RENDER_ENABLED": "false",
            "BADGEWATCH_RENDER_EXECUTABLE_PATH": "/nonexistent/chromium",
        }
    )
    assert config.render.enabled is False


def _cli(env: dict[str, str], *args: str):
    return CliRunner().invoke(cli, list(args), env={"BADGEWATCH_CONFIG": "", **env})


def test_the_badge_section_gives_the_check_a_plain_spec() -> None:
    """The page check reads ``[badge]`` as a frozen dataclass; the defaults are the registry's."""
    assert BadgeConfig().spec() == BadgeSpec()
    assert BadgeConfig(span_id="_ideX").spec() == BadgeSpec(span_id="_ideX")


@pytest.mark.parametrize("command", [["status"], ["crawl"], ["sites", "list"]])
def test_unknown_failing_reasons_stop_start_up(sqlite_url: str, command: list[str]) -> None:
    result = _cli(
        {"BADGEWATCH_DATABASE_URL": sqlite_url,
         "BADGEWATCH_CRAWL_FAILING_REASONS": "badge_missing,badge_mising"},
        *command,
    )
    assert result.exit_code == 2, result.output
    assert "[crawl] failing_reasons" in result.output
    assert "badge_mising" in result.output
    assert "badge_other_site" in result.output  # the codes it may list
    assert "Traceback" not in result.output


def test_known_failing_reasons_are_accepted(sqlite_url: str) -> None:
    result = _cli(
        {"BADGEWATCH_DATABASE_URL": sqlite_url,
         "BADGEWATCH_CRAWL_FAILING_REASONS": "badge_missing,badge_other_site,badge_duplicate"},
        "status", "--json",
    )
    assert result.exit_code == 0, result.output


# -- the database: not migrated, not reachable -----------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["status"], ["status", "--json"], ["app", "list"], ["sites", "list"], ["crawl"],
     ["report", "--out", "out"], ["monitor", "status"], ["notify", "list"]],
)
def test_an_unmigrated_database_says_to_run_db_upgrade(
    empty_db_url: str, command: list[str]
) -> None:
    result = _cli({"BADGEWATCH_DATABASE_URL": empty_db_url}, *command)
    assert result.exit_code == 1, result.output
    assert "badgewatch db upgrade" in result.output
    assert "not migrated" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_db_upgrade_then_the_command_works(empty_db_url: str) -> None:
    env = {"BADGEWATCH_DATABASE_URL": empty_db_url}
    assert _cli(env, "db", "upgrade").exit_code == 0
    result = _cli(env, "status", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["sites"] == []


def test_an_unreachable_database_is_our_failure() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"postgresql://badgewatch:s3cret@127.0.0.1:{port}/badgewatch"
    result = _cli({"BADGEWATCH_DATABASE_URL": url}, "status")
    assert result.exit_code == 1, result.output
    assert "cannot reach the database" in result.output
    assert f"127.0.0.1:{port}" in result.output
    assert "s3cret" not in result.output  # never the password
    assert result.exception is None or isinstance(result.exception, SystemExit)
