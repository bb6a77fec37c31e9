"""Forms of the cases area: the 19条1項 fields, documents, agreement, return, and the search (GET)."""
from __future__ import annotations

import unicodedata

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from portal.models.case import STATUS_LABELS
from portal.services import cases, search

MAX_YEN = 10**13  # well above any construction contract; keeps BIGINT and display sane
DATE_ERROR = "日付を正しく入力してください（例：2026-12-01）。"


class YenField(IntegerField):
    """Whole yen; accepts what people type: 1,234,000 / ¥1234000 / １２３４０００円."""

    def process_formdata(self, valuelist):
        if valuelist:
            raw = unicodedata.normalize("NFKC", valuelist[0] or "")
            cleaned = raw.replace(",", "").replace("¥", "").replace("円", "").replace(" ", "").strip()
            if not cleaned:
                self.data = None
                return
            if not cleaned.isdigit():
                self.data = None
                raise ValueError("金額は円単位の整数で入力してください（例：1,234,000）。")
            self.data = int(cleaned)


class JDateField(DateField):
    """A date typed as 2026-12-01 (the date picker) or 2026/12/01; the error in Japanese."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, format=["%Y-%m-%d", "%Y/%m/%d"], **kwargs)

    def process_formdata(self, valuelist):
        if valuelist and not "".join(valuelist).strip():
            self.data = None
            return
        try:
            super().process_formdata([unicodedata.normalize("NFKC", v).strip() for v in valuelist])
        except ValueError:
            self.data = None
            raise ValueError(DATE_ERROR) from None


class PageField(IntegerField):
    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = 1
            raise ValueError("ページ番号が正しくありません。") from None


def _yen(label: str, required: bool = True) -> YenField:
    first = InputRequired(f"{label}を入力してください。") if required else Optional()
    in_range = NumberRange(min=0, max=MAX_YEN, message="金額の範囲が正しくありません。")
    return YenField(label, validators=[first, in_range])


class VersionForm(FlaskForm):
    """A bare POST (send, withdraw, generate, remove): CSRF plus the version the page showed."""

    version = HiddenField(validators=[DataRequired()])

    def version_number(self) -> int | None:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return None


class CaseForm(VersionForm):
    title = StringField("件名", validators=[DataRequired("件名を入力してください。"), Length(max=200)])
    construction_name = StringField(
        "工事名（工事内容）", validators=[DataRequired("工事名を入力してください。"), Length(max=200)]
    )
    construction_site = StringField(
        "工事場所", validators=[DataRequired("工事場所を入力してください。"), Length(max=300)]
    )
    period_start = JDateField("工期（着手）", validators=[DataRequired(DATE_ERROR)])
    period_end = JDateField("工期（完成）", validators=[DataRequired(DATE_ERROR)])
    amount_excl_tax = _yen("請負代金の額（税抜）")
    tax_amount = _yen("消費税及び地方消費税の額")
    amount_incl_tax = _yen("請負代金の額（税込）")
    payment_terms = TextAreaField(
        "支払方法及び時期",
        description="例：月末締め翌月末払い、出来高の90％を現金で支払う",
        validators=[DataRequired("支払方法及び時期を入力してください。"), Length(max=2000)],
    )
    notes = TextAreaField("その他（特記事項）", validators=[Optional(), Length(max=4000)])
    parties = FieldList(
        StringField("法人番号または会社名", validators=[Length(max=200)]),
        min_entries=2,
        max_entries=cases.MAX_PARTIES,
    )
    # It only grows the form: neither the browser nor the server checks the other fields for it.
    add_party = SubmitField("当事者の欄を増やす", render_kw={"formnovalidate": True})
    save = SubmitField("保存する")

    def validate_period_end(self, field):
        if field.data and self.period_start.data and field.data < self.period_start.data:
            raise ValidationError("完成日は着手日以降の日付にしてください。")

    def validate_amount_incl_tax(self, field):
        excl, tax = self.amount_excl_tax.data, self.tax_amount.data
        if field.data is not None and excl is not None and tax is not None and excl + tax != field.data:
            raise ValidationError(f"税抜金額と消費税額の合計（{excl + tax:,}円）と一致しません。")

    def checklist_fields(self):
        return [(key, self[f"item_{key}"]) for key in cases.ARTICLE19_ITEMS]

    def case_fields(self) -> cases.CaseFields:
        return cases.CaseFields(
            title=self.title.data or "",
            construction_name=self.construction_name.data or "",
            construction_site=self.construction_site.data or "",
            period_start=self.period_start.data,
            period_end=self.period_end.data,
            amount_excl_tax=self.amount_excl_tax.data,
            tax_amount=self.tax_amount.data,
            amount_incl_tax=self.amount_incl_tax.data,
            payment_terms=self.payment_terms.data or "",
            notes=self.notes.data or "",
            checklist={key: bool(field.data) for key, field in self.checklist_fields()},
        )

    def fill_from(self, case) -> None:
        for name in ("title", "construction_name", "construction_site", "period_start", "period_end",
                     "amount_excl_tax", "tax_amount", "amount_incl_tax", "payment_terms", "notes"):
            self[name].data = getattr(case, name)
        for key, field in self.checklist_fields():
            field.data = bool((case.checklist or {}).get(key))
        while len(self.parties.entries):
            self.parties.pop_entry()
        for party in case.parties:
            self.parties.append_entry(party.company.corporate_number)
        self.version.data = str(case.version)


for _key, _label in cases.ARTICLE19_ITEMS.items():
    setattr(CaseForm, f"item_{_key}", BooleanField(_label))


class NewCaseForm(CaseForm):
    """Creating: no version yet."""

    version = HiddenField()


class UploadForm(VersionForm):
    kind = RadioField(
        "書類の種類",
        choices=[SelectChoice("main", "契約書（本体）"), SelectChoice("attachment", "添付書類")],
        default="main",
        validators=[DataRequired("書類の種類を選択してください。")],
    )
    label = SelectField("添付書類の種類", choices=[SelectChoice(label, label) for label in cases.ATTACHMENT_LABELS])
    file = FileField("PDFファイル", validators=[FileRequired("PDFファイルを選択してください。")])


class AgreeForm(VersionForm):
    consent_version = HiddenField(validators=[DataRequired()])
    agree = BooleanField(
        "上記の内容を確認し、電磁的方法による契約の締結に同意します",
        validators=[DataRequired("内容を確認し、同意欄にチェックを入れてください。")],
    )


class ReturnForm(VersionForm):
    reason = TextAreaField(
        "差戻しの理由",
        validators=[
            DataRequired("差戻しの理由を入力してください。"),
            Length(max=cases.RETURN_REASON_MAX, message=f"{cases.RETURN_REASON_MAX}文字以内で入力してください。"),
        ],
    )


STATUS_CHOICES = [SelectChoice("", "すべて")] + [SelectChoice(k, v) for k, v in STATUS_LABELS.items()]
SORT_CHOICES = [SelectChoice(k, v) for k, v in search.SORT_LABELS.items()]


class SearchForm(FlaskForm):
    """案件検索 (R-STORE-2): a GET form, so no CSRF; bad values are shown and ignored."""

    class Meta:
        csrf = False

    number = StringField("案件番号", validators=[Optional(), Length(max=40)])
    title = StringField("件名", validators=[Optional(), Length(max=200)])
    counterparty = StringField("取引先（会社名・法人番号）", validators=[Optional(), Length(max=200)])
    construction_name = StringField("工事名", validators=[Optional(), Length(max=200)])
    amount_min = _yen("金額（税込）下限", required=False)
    amount_max = _yen("金額（税込）上限", required=False)
    contract_from = JDateField("契約日（から）", validators=[Optional()])
    contract_to = JDateField("契約日（まで）", validators=[Optional()])
    completed_from = JDateField("完了日（から）", validators=[Optional()])
    completed_to = JDateField("完了日（まで）", validators=[Optional()])
    status = SelectField("状態", choices=STATUS_CHOICES, default="", validators=[Optional()])
    sort = SelectField("並び順", choices=SORT_CHOICES, default="last_update", validators=[Optional()])
    direction = SelectField(
        "順序",
        choices=[SelectChoice("desc", "新しい順・大きい順"), SelectChoice("asc", "古い順・小さい順")],
        default="desc",
        validators=[Optional()],
    )
    page = PageField("ページ", default=1, validators=[Optional(), NumberRange(min=1, max=100000)])

    def to_query(self) -> search.CaseQuery:
        """The valid filters (a field with an error is left out)."""

        def ok(field):
            return None if field.errors else field.data

        return search.CaseQuery(
            number=ok(self.number) or "",
            title=ok(self.title) or "",
            counterparty=ok(self.counterparty) or "",
            construction_name=ok(self.construction_name) or "",
            amount_min=ok(self.amount_min),
            amount_max=ok(self.amount_max),
            contract_from=ok(self.contract_from),
            contract_to=ok(self.contract_to),
            completed_from=ok(self.completed_from),
            completed_to=ok(self.completed_to),
            status=ok(self.status) or "",
            sort=ok(self.sort) or "last_update",
            direction=ok(self.direction) or "desc",
            page=ok(self.page) or 1,
        )
