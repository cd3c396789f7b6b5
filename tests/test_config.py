"""Configuration: file, environment overrides, and errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from badgewatch.cli.main import cli
from badgewatch.config import ConfigError, load_config


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
