"""The application form of seed figures 6-8 as a web form: one input per field of
``workflow.form``, each under the seed's label; validation is the workflow's own (``parse_form``),
its errors put back beside the field they name."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from badgewatch.domains import display_domain
from badgewatch.vocabulary import KIND_LABELS
from workflow.fields import display_phone
from workflow.form import LABELS, ORG_TYPES, RED_PAGE, SECTIONS, FieldError

# The seed's hint beside each application type (figure 7).
KIND_HINTS = {
    "new": "如果您目前没有网站，请勾选此项",
    "rereview": "如果您已经开办过网站需要复核，请勾选此项",
}
# The re-reviewed site's select: its empty choice, as the seed's domain select reads (figure 7).
SITE_PROMPT = "请选择网站所绑定的域名"
SITE_HINT = "申请类型为“已开办网站复核”时，请选择需要复核的本单位已开办网站（已发放网站标识）。"
PHONES = frozenset(
    {"handler.landline", "handler.mobile", "principal.landline", "principal.mobile"}
)


def input_name(path: str) -> str:
    """The input of a workflow field path: ``handler.mobile`` → ``handler_mobile``."""
    return path.replace(".", "_")


class ApplicationPage(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no types
    """Every input of the form; none validates itself (``parse_form`` does)."""

    unit_name = StringField(LABELS["unit.name"], render_kw={"readonly": True})
    unit_org_type = SelectField(
        LABELS["unit.org_type"], choices=list(ORG_TYPES), validate_choice=False
    )
    unit_address = StringField(LABELS["unit.address"])
    unit_functions = TextAreaField(LABELS["unit.functions"])
    handler_name = StringField(LABELS["handler.name"])
    handler_landline = StringField(LABELS["handler.landline"])
    handler_mobile = StringField(LABELS["handler.mobile"])
    code = StringField("验证码", render_kw={"inputmode": "numeric", "maxlength": 6})
    handler_email = StringField(LABELS["handler.email"])
    principal_name = StringField(LABELS["principal.name"])
    principal_landline = StringField(LABELS["principal.landline"])
    principal_mobile = StringField(LABELS["principal.mobile"])
    principal_email = StringField(LABELS["principal.email"])
    kind = RadioField(
        LABELS["kind"],
        choices=[SelectChoice(kind.value, label) for kind, label in KIND_LABELS.items()],
        validate_choice=False,
    )
    site_identifier = SelectField(LABELS["site.identifier"], choices=[], validate_choice=False)
    site_name = StringField(LABELS["site.name"])
    site_domain = StringField(LABELS["site.domain"])
    site_english_domain = StringField(LABELS["site.english_domain"])
    site_ipv4 = StringField(LABELS["site.ipv4"])
    site_ipv6 = StringField(LABELS["site.ipv6"])
    site_intro = TextAreaField(LABELS["site.intro"])
    site_red_page = BooleanField(LABELS["site.red_page"])

    def workflow_data(self, office_code: str) -> dict[str, Any]:
        """What was typed, in the JSON shape ``parse_form`` reads (the office is the unit's)."""
        data: dict[str, Any] = {"kind": self.kind.data or "", "office": office_code}
        for section, keys in SECTIONS.items():
            data[section] = {
                key: self[input_name(f"{section}.{key}")].data or "" for key in keys
            }
        if self.site_red_page.data:
            data["site"][RED_PAGE] = True
        if data["kind"] != "rereview":  # the select keeps its choice when the type changes
            data["site"]["identifier"] = ""
        return data

    def offer_sites(self, sites: list[tuple[str, str]]) -> None:
        """The unit's own sites, (identifier, what people read), for a re-review to name."""
        self.site_identifier.choices = [SelectChoice("", SITE_PROMPT)] + [
            SelectChoice(identifier, text) for identifier, text in sites
        ]

    def fill(self, stored: dict[str, Any]) -> None:
        """Show a stored (canonical) form as people type it: 邯郸.政务, 0571 8765 4321."""
        self.kind.data = stored["kind"]
        for section, keys in SECTIONS.items():
            for key in keys:
                path = f"{section}.{key}"
                value = stored[section].get(key) or ""
                if path == "site.domain" and value:
                    value = display_domain(value)
                elif path in PHONES and value:
                    value = display_phone(value)
                self[input_name(path)].data = value
        self.site_red_page.data = stored["site"].get(RED_PAGE) is True

    def show_errors(self, errors: list[FieldError]) -> list[str]:
        """Put each error beside its field; the ones no input carries are returned."""
        elsewhere = []
        for error in errors:
            field = self._fields.get(input_name(error.field))
            if field is None:
                elsewhere.append(str(error))
            else:
                add_error(field, error.message)
        return elsewhere


def add_error(field: Field, message: str) -> None:
    """Fields not validated by WTForms hold their errors in a tuple: make it a list."""
    field.errors = [*field.errors, message]
