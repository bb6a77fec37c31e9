"""The 利用申込書 (R-APP-1). Field rules come from portal/rules/validators.py, wrapped as WTForms
validators so that each error shows next to its field; the service applies the same rules again."""
from __future__ import annotations

from collections.abc import Callable

from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, HiddenField, SelectChoice, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from portal.blueprints.fields import RadioChoiceField, Ticked
from portal.rules import validators
from portal.services.email_addresses import email_address
from portal.services.onboarding import PLANS, ApplicantData


class Rule:
    """Run a rules/validators.py function: its Japanese ValueError becomes the field's error, and a
    valid entry is replaced by the normalized value (full-width digits → ASCII, and so on)."""

    def __init__(self, func: Callable[[str], str | None]):
        self.func = func

    def __call__(self, form: FlaskForm, field: Field) -> None:
        try:
            field.data = self.func(field.data or "")
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


def _max(length: int) -> Length:
    return Length(max=length, message=f"{length}文字以内で入力してください")


def _required(label: str) -> DataRequired:
    return DataRequired(f"{label}を入力してください")


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


STRIP = [_strip]


class ApplicationForm(FlaskForm):
    """Every field of R-APP-1 (第6条2項, 第7条2項, 第33条)."""

    company_name = StringField(
        "会社名（商号）", filters=STRIP, validators=[_required("会社名"), _max(200)],
        render_kw={"autocomplete": "organization"}, description="例：株式会社山田工務店",
    )  # fmt: skip
    company_name_kana = StringField(
        "会社名のフリガナ", filters=STRIP, validators=[_required("フリガナ"), _max(200), Rule(validators.katakana)],
        description="カタカナで入力してください（例：ヤマダコウムテン）",
    )  # fmt: skip
    corporate_number = StringField(
        "法人番号", filters=STRIP, validators=[_required("法人番号"), _max(40), Rule(validators.corporate_number)],
        render_kw={"inputmode": "numeric"}, description="13桁の数字（国税庁の法人番号公表サイトで確認できます）",
    )  # fmt: skip
    license_number = StringField(
        "建設業許可番号", filters=STRIP,
        validators=[Optional(), _max(60), Rule(validators.optional_construction_license_number)],
        description="許可をお持ちの場合のみ（例：東京都知事許可（般-5）第012345号）",
    )  # fmt: skip
    postal_code = StringField(
        "郵便番号", filters=STRIP, validators=[_required("郵便番号"), _max(20), Rule(validators.postal_code)],
        render_kw={"autocomplete": "postal-code", "inputmode": "numeric"}, description="7桁（例：123-4567）",
    )  # fmt: skip
    address = StringField(
        "所在地", filters=STRIP, validators=[_required("所在地"), _max(300)],
        render_kw={"autocomplete": "street-address"}, description="都道府県から、ビル名・部屋番号まで",
    )  # fmt: skip
    representative_title = StringField(
        "代表者の役職", filters=STRIP, validators=[_required("代表者の役職"), _max(100)],
        description="例：代表取締役",
    )  # fmt: skip
    representative_name = StringField(
        "代表者の氏名", filters=STRIP, validators=[_required("代表者の氏名"), _max(100)],
    )
    phone = StringField(
        "会社の電話番号", filters=STRIP, validators=[_required("電話番号"), _max(30), Rule(validators.phone_number)],
        render_kw={"type": "tel", "autocomplete": "tel"}, description="例：03-1234-5678",
    )  # fmt: skip
    contact_name = StringField(
        "申請担当者の氏名", filters=STRIP, validators=[_required("申請担当者の氏名"), _max(100)],
        render_kw={"autocomplete": "name"},
        description="当社との連絡窓口になる方です（規約第7条）。ご契約後は最初のユーザーIDの持ち主になります",
    )  # fmt: skip
    contact_department = StringField(
        "申請担当者の部署", filters=STRIP, validators=[Optional(), _max(100)], description="任意",
    )
    contact_email = StringField(
        "申請担当者のメールアドレス", filters=STRIP,
        validators=[_required("メールアドレス"), _max(254), Rule(email_address)],
        render_kw={"type": "email", "autocomplete": "email"}, description="受付・審査結果・ログイン情報をお送りします",
    )  # fmt: skip
    contact_phone = StringField(
        "申請担当者の電話番号", filters=STRIP,
        validators=[_required("申請担当者の電話番号"), _max(30), Rule(validators.phone_number)],
        render_kw={"type": "tel"}, description="携帯電話でもかまいません",
    )  # fmt: skip
    plan = RadioChoiceField(
        "プラン", choices=[SelectChoice(value, label) for value, label in PLANS.items()], default="standard",
        validators=[InputRequired("プランを選んでください")], render_kw={"class": "choices"},
    )  # fmt: skip
    antisocial_declared = BooleanField(
        "当社（申込企業）は反社会的勢力に該当せず、今後も該当しないことを表明し、確約します",
        validators=[Ticked("反社会的勢力に該当しないことの表明にチェックを入れてください")],
    )  # fmt: skip
    consent = BooleanField(
        "利用規約に同意して申し込みます",
        validators=[Ticked("利用規約への同意にチェックを入れてください")],
    )  # fmt: skip

    # The terms version shown when the form was opened; consent counts for that version only.
    terms_version = HiddenField(validators=[_max(20)])
    # One-time: issued with the blank form, consumed by the application it creates (services.onboarding).
    submission_token = HiddenField(validators=[_max(200)])

    # Fields that POST /apply/validate may check one at a time.
    CHECKABLE = (*ApplicantData.field_names(), "antisocial_declared", "consent")

    def applicant_data(self) -> ApplicantData:
        return ApplicantData(**{name: self[name].data for name in ApplicantData.field_names()})

    def fill_from(self, data: ApplicantData) -> None:
        """Prefill for a correction; the two declarations must be given again."""
        for name in ApplicantData.field_names():
            self[name].data = getattr(data, name)

    def validate_field(self, name: str) -> bool:
        """Validate one field only (htmx on blur); the other fields keep no errors."""
        field = self[name]
        return field.validate(self)
