"""Staff forms: filters (GET, no CSRF) and the review actions of R-APP-2 (POST, CSRF)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, Field, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from portal.blueprints.fields import CheckboxesField, Ticked
from portal.clock import today_jst
from portal.services.onboarding import REJECTION_GROUNDS, STATUS_LABELS

# How far ahead staff may set a contract's start date (第11条: "当社が別途定めた日").
MAX_START_DAYS_AHEAD = 180


COMPANY_STATUS_LABELS = {"active": "利用中", "suspended": "停止中", "ended": "終了（閲覧のみ）", "deleted": "削除済み"}


def _choices(pairs: Iterable[tuple[Any, str]]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def _max(length: int) -> Length:
    return Length(max=length, message=f"{length}文字以内で入力してください")


class FilterForm(FlaskForm):
    """Base of the list filters: read from the query string, no CSRF (a GET changes nothing)."""

    class Meta:
        csrf = False


class ApplicationFilterForm(FilterForm):
    status = SelectField(
        "状態",
        choices=_choices([("open", "審査待ち・訂正依頼中"), *STATUS_LABELS.items(), ("all", "すべて")]),
        default="open",
        validate_choice=False,
    )
    q = StringField(
        "検索", validators=[Optional(), Length(max=100)], description="会社名・フリガナ・法人番号・受付番号・メール"
    )


class CompanyFilterForm(FilterForm):
    status = SelectField(
        "状態",
        choices=_choices([("", "すべて"), *COMPANY_STATUS_LABELS.items()]),
        default="",
        validate_choice=False,
    )
    q = StringField("検索", validators=[Optional(), Length(max=100)], description="会社名・フリガナ・法人番号")


class MailFilterForm(FilterForm):
    state = SelectField(
        "送信状態",
        choices=_choices([("", "すべて"), ("sent", "送信済み"), ("unsent", "未送信"), ("error", "エラーあり")]),
        default="",
        validate_choice=False,
    )
    q = StringField("検索", validators=[Optional(), Length(max=100)], description="宛先・件名・種類")


class CorrectionForm(FlaskForm):
    note = TextAreaField(
        "訂正していただく内容",
        validators=[DataRequired("訂正していただく内容を入力してください"), _max(2000)],
        description="申込者にそのままメールで伝わります。どの項目をどう直すのかを具体的に書いてください",
    )


class RejectForm(FlaskForm):
    grounds = CheckboxesField(
        "お断りの理由（利用規約 第6条第3項）",
        choices=_choices((code, f"第{code}号：{label}") for code, label in REJECTION_GROUNDS.items()),
        coerce=int,
        validators=[Ticked("お断りの理由を1つ以上選んでください")],
        description="選んだ理由は、この文言のまま申込者にメールで伝わります",
        render_kw={"class": "choices"},
    )
    note = TextAreaField(
        "補足（任意）",
        validators=[Optional(), _max(2000)],
        description="書いた場合はメールに添えられます",
    )


class JapaneseDateField(DateField):
    """A date input whose parse error is in Japanese."""

    def process_formdata(self, valuelist: list[str]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError("日付を「2026-11-25」の形で入力してください") from None


class AcceptForm(FlaskForm):
    start_date = JapaneseDateField(
        "利用開始日",
        default=today_jst,
        validators=[InputRequired("利用開始日を入力してください")],
        description="この日から1年間が最初の利用期間です（第11条）。通常は本日です",
    )

    def validate_start_date(self, field: Field) -> None:
        if field.data is None:  # the parse error is already on the field
            return
        today = today_jst()
        if field.data < today:
            raise ValidationError("利用開始日に過去の日付は指定できません")
        if field.data > today + timedelta(days=MAX_START_DAYS_AHEAD):
            raise ValidationError(f"利用開始日は本日から{MAX_START_DAYS_AHEAD}日以内にしてください")
