"""Re-review through the CLI (``app new --site IDENTIFIER|DOMAIN``), with real DNS, SMTP and SMS
servers on loopback: the same identifier after approval, one 复核通过 email and SMS, and the
refusals in words with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

from tests.factories import form_data
from tests.test_cli_workflow import DOMAIN, UNIT, env, run, setup_offices, show  # noqa: F401


def _write(tmp_path: Path, data: dict, name: str = "app.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _issue(cli_env: dict[str, str], app_id: str) -> str:
    run(cli_env, "app", "submit", app_id)
    run(cli_env, "app", "review", app_id, "--as", "office:330100", "--approve")
    run(cli_env, "app", "review", app_id, "--as", "conac", "--approve")
    return run(cli_env, "app", "materials", app_id, "--as", "office:330100", "--confirm").output


def test_rereview_from_the_cli(env, tmp_path: Path, smtp_server, sms_gateway) -> None:  # noqa: F811
    setup_offices(env)
    first = run(env, "app", "new", str(_write(tmp_path, form_data())), "--as", UNIT).output
    _issue(env, first.strip())
    identifier = show(env, int(first))["badge"]["identifier"]
    smtp_server.clear()
    sms_gateway.clear()

    # A second new application for the issued domain: refused, re-review suggested.
    refused = run(env, "app", "new", str(_write(tmp_path, form_data())), "--as", UNIT, code=2)
    assert "中文域名（site.domain）" in refused.output
    assert f"已发放网站标识（{identifier}）" in refused.output
    assert "已开办网站复核" in refused.output
    # A re-review of a site that does not exist: refused, nothing saved.
    rereview = form_data(name="杭州市数据资源管理局门户网站")
    rereview["kind"] = "rereview"
    path = _write(tmp_path, rereview, "rereview.json")
    unknown = run(env, "app", "new", str(path), "--as", UNIT, "--site",
                  "CA330010000999999990001", code=2)
    assert "复核的已开办网站（site.identifier）" in unknown.output
    missing = run(env, "app", "new", str(path), "--as", UNIT, code=2)
    assert "复核的已开办网站（site.identifier）：申请类型为“已开办网站复核”时必填" in missing.output
    assert len(json.loads(run(env, "app", "list", "--json").output)["applications"]) == 1

    # By its domain: the same steps, the same identifier.
    app_id = run(env, "app", "new", str(path), "--as", UNIT, "--site", DOMAIN).output.strip()
    listed = run(env, "app", "list").output
    assert f"复核 {identifier}" in listed
    output = _issue(env, app_id)
    assert f"badge identifier {identifier}" in output
    data = show(env, int(app_id))
    assert data["kind"] == "rereview" and data["rereview_site"] == identifier
    assert data["badge"]["identifier"] == identifier
    assert data["badge"]["rereviewed_on"] is not None
    assert f"已开办网站复核：网站标识 {identifier}" in run(env, "app", "show", app_id).output
    [mail] = smtp_server.messages
    assert "复核通过" in mail["subject"]
    body = mail.get_body(("plain",)).get_content()
    assert identifier in body and data["serial"] in body
    [sms] = sms_gateway.sms
    assert "复核通过" in sms["message"] and identifier in sms["message"]
    again = json.loads(run(env, "notify", "deliver", "--json").output)
    assert again == {"sent": 0, "retrying": 0, "failed": 0}
    # The site as listed: one site, its identifier, the new name.
    rows = json.loads(run(env, "sites", "list", "--json").output)["sites"]
    assert [(row["identifier"], row["name"], row["rereviewed_on"]) for row in rows] == [
        (identifier, "杭州市数据资源管理局门户网站", data["badge"]["rereviewed_on"])
    ]
