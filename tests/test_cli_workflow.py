"""The seed's five steps through the CLI, with real DNS, SMTP and SMS servers on loopback."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import idna
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from badgewatch.cli.main import cli
from store.db import make_engine, session_factory, transaction
from store.models import Application
from tests.factories import form_data

UNIT = "unit:杭州市数据资源管理局"
DOMAIN = "杭州数据.政务"
IP = "127.0.0.21"


@pytest.fixture
def env(db_url: str, dns_server, dns_config, smtp_server, sms_gateway) -> dict[str, str]:
    dns_server.set_records(DOMAIN, a=[IP])
    return {
        "BADGEWATCH_DATABASE_URL": db_url,
        "BADGEWATCH_DNS_NAMESERVERS": ",".join(dns_config.nameservers),
        "BADGEWATCH_DNS_TIMEOUT": "2",
        "BADGEWATCH_SMTP_HOST": smtp_server.host,
        "BADGEWATCH_SMTP_PORT": str(smtp_server.port),
        "BADGEWATCH_SMS_URL": sms_gateway.sms_url,
        "BADGEWATCH_CONFIG": "",
    }


def run(env: dict[str, str], *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def setup_offices(env: dict[str, str]) -> None:
    run(env, "db", "upgrade")
    run(env, "office", "add", "330000", "浙江省委编办", "--level", "province")
    for code, name in (("330100", "杭州市委编办"), ("330200", "宁波市委编办")):
        run(env, "office", "add", code, name, "--level", "prefecture", "--parent", "330000")


def new_app(env: dict[str, str], tmp_path: Path, data: dict[str, Any] | None = None) -> int:
    path = tmp_path / "app.json"
    path.write_text(json.dumps(data or form_data(), ensure_ascii=False), encoding="utf-8")
    return int(run(env, "app", "new", str(path), "--as", UNIT).output.strip())


def show(env: dict[str, str], app_id: int) -> dict[str, Any]:
    return json.loads(run(env, "app", "show", str(app_id), "--json").output)


def test_five_steps_to_an_issued_badge(env, tmp_path: Path, smtp_server, sms_gateway) -> None:
    setup_offices(env)
    # 1. The unit submits its application.
    app_id = new_app(env, tmp_path)
    assert "submitted" in run(env, "app", "submit", str(app_id)).output
    # 2. The office of its level, then CONAC, approve online.
    run(env, "app", "review", str(app_id), "--as", "office:330100", "--approve")
    conac = run(env, "app", "review", str(app_id), "--as", "conac", "--approve", "--json")
    assert json.loads(conac.output) == {"id": app_id, "state": "approved_online"}
    # 3. The unit prints the letter and the form.
    letter, form = tmp_path / "letter.html", tmp_path / "form.html"
    run(env, "app", "print", str(app_id), "--letter", "--out", str(letter))
    run(env, "app", "print", str(app_id), "--form", "--out", str(form))
    assert "关于申请对网站开办审核和资格复核的函" in letter.read_text("utf-8")
    assert "杭州市委编办" in letter.read_text("utf-8")
    form_html = form.read_text("utf-8")
    assert DOMAIN in form_html and "王经办" in form_html and IP in form_html
    # 4. The office confirms the paper materials: the badge is issued and the unit notified.
    output = run(env, "app", "materials", str(app_id), "--as", "office:330100", "--confirm").output
    assert "issued" in output

    data = show(env, app_id)
    identifier = data["badge"]["identifier"]
    assert identifier in output
    assert data["state"] == "issued"
    assert data["domain"] == idna.encode(DOMAIN).decode()
    assert [(h["event"], h["actor"], h["role"]) for h in data["history"]] == [
        ("submit", UNIT, "unit_handler"),
        ("office_approve", "office:330100", "office_reviewer"),
        ("conac_approve", "conac", "conac_reviewer"),
        ("confirm_materials", "office:330100", "office_reviewer"),
        ("issue_badge", "system", "system"),
    ]
    placement = data["deadlines"]["placement"]
    y, m, d = (int(part) for part in placement.split("-"))

    # 5. What the unit receives: the code, how to paste it, and the deadline.
    [mail] = smtp_server.messages
    assert mail["to"] == "handler@hz.example.cn"
    assert "网站标识代码已发放" in mail["subject"]
    body = mail.get_body(("plain",)).get_content()
    assert identifier in body
    assert f"{identifier}.js" in body and "document.write(unescape(" in body
    assert "</body>" in body and f"{y}年{m}月{d}日" in body
    [sms] = sms_gateway.sms
    assert sms["phone"] == "+8613905710001"
    assert identifier in sms["message"] and f"{y}年{m}月{d}日" in sms["message"]

    # Delivered exactly once: a later delivery run sends nothing more.
    again = json.loads(run(env, "notify", "deliver", "--json").output)
    assert again == {"sent": 0, "retrying": 0, "failed": 0}
    assert len(smtp_server.messages) == 1 and len(sms_gateway.sms) == 1


def test_rejection_reason_reaches_the_unit(env, tmp_path: Path) -> None:
    setup_offices(env)
    app_id = new_app(env, tmp_path)
    run(env, "app", "submit", str(app_id))
    run(env, "app", "review", str(app_id), "--as", "office:330100", "--reject", "网站简介过于简单")
    data = json.loads(run(env, "app", "show", str(app_id), "--as", UNIT, "--json").output)
    assert data["state"] == "office_rejected"
    assert data["history"][-1]["reason"] == "网站简介过于简单"
    run(env, "app", "submit", str(app_id))
    assert show(env, app_id)["history"][-1]["event"] == "resubmit"


def test_other_jurisdiction_refused(env, tmp_path: Path) -> None:
    setup_offices(env)
    app_id = new_app(env, tmp_path)
    run(env, "app", "submit", str(app_id))
    result = run(env, "app", "review", str(app_id), "--as", "office:330200", "--approve", code=1)
    assert "330100" in result.output
    assert show(env, app_id)["state"] == "submitted"
    assert len(show(env, app_id)["history"]) == 1


def test_invalid_form_names_each_field_and_saves_nothing(env, tmp_path: Path) -> None:
    setup_offices(env)
    data = form_data(domain="hangzhou.gov.cn", ipv4="300.1.2.3")
    data["handler"]["landline"] = "87654321"
    data["principal"]["email"] = "chief-at-example"
    del data["unit"]["address"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = run(env, "app", "new", str(path), "--as", UNIT, code=2)
    for field in (
        "site.domain", "site.ipv4", "handler.landline", "principal.email", "unit.address"
    ):
        assert field in result.output
    assert "中文域名" in result.output and "经办人固定电话" in result.output
    listed = json.loads(run(env, "app", "list", "--json").output)
    assert listed == {"applications": []}


def test_dns_mismatch_and_failure_told_apart(env, tmp_path: Path, dns_server) -> None:
    setup_offices(env)
    path = tmp_path / "app.json"
    dns_server.set_records("别处.政务", a=["127.0.0.99"])
    path.write_text(json.dumps(form_data(domain="别处.政务"), ensure_ascii=False), "utf-8")
    elsewhere = run(env, "app", "new", str(path), "--as", UNIT, code=2).output
    path.write_text(json.dumps(form_data(domain="无此域名.政务"), ensure_ascii=False), "utf-8")
    missing = run(env, "app", "new", str(path), "--as", UNIT, code=2).output
    assert "127.0.0.99" in elsewhere and "不一致" in elsewhere
    assert "无法解析" in missing and "127.0.0.99" not in missing
    assert "无法解析" not in elsewhere


def test_not_allowed_and_bad_arguments(env, tmp_path: Path) -> None:
    setup_offices(env)
    app_id = new_app(env, tmp_path)
    result = run(env, "app", "review", str(app_id), "--as", "conac", "--approve", code=1)
    assert "draft" in result.output
    run(env, "app", "review", str(app_id), "--as", "office:330100", code=2)
    run(env, "app", "review", str(app_id), "--as", "someone", "--approve", code=2)
    run(env, "app", "show", "999", "--json", code=2)
    run(env, "app", "print", str(app_id), "--letter", "--out", str(tmp_path / "x.html"), code=1)


def test_show_gives_history_times_in_beijing_time(env, tmp_path: Path) -> None:
    setup_offices(env)
    app_id = new_app(env, tmp_path)
    run(env, "app", "submit", str(app_id))
    [step] = show(env, app_id)["history"]
    at = datetime.fromisoformat(step["at"])
    assert at.utcoffset() == timedelta(hours=8)
    text = run(env, "app", "show", str(app_id)).output
    assert f"  {at:%Y-%m-%d %H:%M} unit:杭州市数据资源管理局 submit → submitted" in text
    assert text.startswith(f"#{app_id} 申请序号 ") and f" {DOMAIN} [submitted]" in text


def test_a_dns_that_does_not_answer_is_our_failure_and_saves_nothing(
    env, tmp_path: Path, dns_server
) -> None:
    setup_offices(env)
    dns_server.set_failure(DOMAIN, "drop")
    path = tmp_path / "app.json"
    path.write_text(json.dumps(form_data(), ensure_ascii=False), encoding="utf-8")
    result = run(
        {**env, "BADGEWATCH_DNS_TIMEOUT": "0.5"}, "app", "new", str(path), "--as", UNIT, code=1
    )
    assert "暂时无法核验" in result.output and "重试" in result.output
    assert "Traceback" not in result.output
    assert json.loads(run(env, "app", "list", "--json").output) == {"applications": []}


def test_our_own_fault_is_never_reported_as_bad_input(env, tmp_path: Path) -> None:
    """A stored form the code cannot read is our fault: exit 1, not "bad input" (exit 2)."""
    setup_offices(env)
    app_id = new_app(env, tmp_path)
    for step in (("app", "submit", str(app_id)),
                 ("app", "review", str(app_id), "--as", "office:330100", "--approve"),
                 ("app", "review", str(app_id), "--as", "conac", "--approve")):
        run(env, *step)
    engine = make_engine(env["BADGEWATCH_DATABASE_URL"])
    with transaction(session_factory(engine)) as session:
        session.execute(update(Application).values(form={"kind": "new"}))
    engine.dispose()
    out = tmp_path / "letter.html"
    result = CliRunner().invoke(
        cli, ["app", "print", str(app_id), "--letter", "--out", str(out)], env=env
    )
    assert result.exit_code == 1
    assert not out.exists()


def _bodies(smtp_server, sms_gateway) -> tuple[list[str], list[str]]:
    mails = [m.get_body(("plain",)).get_content() for m in smtp_server.messages]
    return mails, [s["message"] for s in sms_gateway.sms]


def test_each_rejection_sends_one_email_and_one_sms_with_reason(
    env, tmp_path: Path, smtp_server, sms_gateway
) -> None:
    setup_offices(env)
    app_id = new_app(env, tmp_path)
    run(env, "app", "submit", str(app_id))
    serial = show(env, app_id)["serial"]
    steps = [
        ("review", "office:330100", "--approve", "网站简介过于简单", "编办审核不通过",
         "修改申请后重新提交"),
        ("review", "conac", "--approve", "网站名称不规范", "CONAC 复审不通过",
         "修改申请后重新提交"),
        ("materials", "office:330100", "--confirm", "申请函未加盖公章", "纸质材料不通过",
         "重新提交纸质材料"),
    ]
    for number, (step, actor, _yes, reason, label, todo) in enumerate(steps, start=1):
        # Reach the step: approve the steps before it.
        for earlier, earlier_actor, earlier_yes, *_ in steps[: number - 1]:
            run(env, "app", earlier, str(app_id), "--as", earlier_actor, earlier_yes)
        run(env, "app", step, serial, "--as", actor, "--reject", reason)
        mails, sms = _bodies(smtp_server, sms_gateway)
        assert len(mails) == number and len(sms) == number
        assert smtp_server.messages[-1]["to"] == "handler@hz.example.cn"
        assert label in smtp_server.messages[-1]["subject"]
        for text in (mails[-1], sms[-1]):
            assert reason in text and serial in text and todo in text
        assert sms_gateway.sms[-1]["phone"] == "+8613905710001"
        run(env, "app", "submit", str(app_id))  # resubmitted: the next rejection is new

    # A second office rejection after a resubmit is a notice of its own.
    run(env, "app", "review", str(app_id), "--as", "office:330100", "--reject", "网站简介过于简单")
    assert (len(smtp_server.messages), len(sms_gateway.sms)) == (4, 4)
    # Nothing is sent twice: later delivery runs (as after a restart) send nothing more.
    runs = [run(env, "notify", "deliver", "--json").output for _ in range(2)]
    assert {json.loads(output)["sent"] for output in runs} == {0}
    assert (len(smtp_server.messages), len(sms_gateway.sms)) == (4, 4)


def test_badge_prints_the_issued_snippet_again(env, tmp_path: Path) -> None:
    setup_offices(env)
    app_id = new_app(env, tmp_path)
    refused = run(env, "app", "badge", str(app_id), code=1).output
    assert "尚未发放网站标识" in refused
    run(env, "app", "submit", str(app_id))
    run(env, "app", "review", str(app_id), "--as", "office:330100", "--approve")
    run(env, "app", "review", str(app_id), "--as", "conac", "--approve")
    run(env, "app", "materials", str(app_id), "--as", "office:330100", "--confirm")
    data = show(env, app_id)
    identifier = data["badge"]["identifier"]
    for key in (str(app_id), data["serial"]):
        snippet = run(env, "app", "badge", key, "--as", UNIT).output
        assert f"{identifier}.js" in snippet and snippet.lstrip().startswith("<")
    other = run(env, "app", "badge", str(app_id), "--as", "unit:宁波市某局", code=1).output
    assert "只能查看" in other
