"""Forms of the account area. Field rules that need the rules module are checked by the services
(portal.services.accounts / change_requests) so that a job or CLI applies the same checks; the
views attach the services' per-field messages to these fields."""

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal.services.change_requests import CONTACT_FIELDS, REGISTRATION_FIELDS


class ChoiceField(SelectField):
    """A select whose refusal of a forged value is in Japanese (WTForms' own message is English)."""

    def pre_validate(self, form) -> None:
        if self.data not in {choice.value for choice in self.choices or []}:  # type: ignore[union-attr]
            raise ValidationError(f"{self.label.text}を選んでください。")


def _required(label: str, limit: int) -> list:
    too_long = f"{limit}文字以内で入力してください。"
    return [DataRequired(f"{label}を入力してください。"), Length(max=limit, message=too_long)]


def _optional(limit: int) -> list:
    return [Optional(), Length(max=limit, message=f"{limit}文字以内で入力してください。")]


class CreateUserForm(FlaskForm):
    login_id = StringField(
        "ユーザーID",
        description="空欄にすると自動で決めます。決める場合は半角英数字と「.」「_」「-」で4〜32文字。",
        validators=_optional(32),
    )
    name = StringField("氏名", validators=_required("氏名", 100))
    email = StringField("メールアドレス", validators=_required("メールアドレス", 254))
    department = StringField("部署", validators=_optional(100))
    role = ChoiceField(
        "権限",
        choices=[
            SelectChoice("member", "一般利用者"),
            SelectChoice("contact", "申請担当者（ユーザーの管理と変更の申込ができます）"),
        ],
        default="member",
    )


class ContactChangeForm(FlaskForm):
    name = StringField(CONTACT_FIELDS["name"], validators=_required(CONTACT_FIELDS["name"], 100))
    department = StringField(CONTACT_FIELDS["department"], validators=_optional(100))
    email = StringField(CONTACT_FIELDS["email"], validators=_required(CONTACT_FIELDS["email"], 254))
    phone = StringField(CONTACT_FIELDS["phone"], validators=_required(CONTACT_FIELDS["phone"], 20))


class RegistrationChangeForm(FlaskForm):
    corporate_number = StringField(
        "法人番号",
        description="法人番号は変更できません（利用規約第8条）。",
        validators=_optional(20),
    )
    name = StringField(REGISTRATION_FIELDS["name"], validators=_required(REGISTRATION_FIELDS["name"], 200))
    name_kana = StringField(REGISTRATION_FIELDS["name_kana"], validators=_required("フリガナ", 200))
    postal_code = StringField(REGISTRATION_FIELDS["postal_code"], validators=_required("郵便番号", 10))
    address = StringField(REGISTRATION_FIELDS["address"], validators=_required("所在地", 300))
    representative_title = StringField(
        REGISTRATION_FIELDS["representative_title"], validators=_required("代表者の役職", 100)
    )
    representative_name = StringField(
        REGISTRATION_FIELDS["representative_name"], validators=_required("代表者の氏名", 100)
    )
    phone = StringField(REGISTRATION_FIELDS["phone"], validators=_required("電話番号", 20))
    license_number = StringField(
        REGISTRATION_FIELDS["license_number"],
        description="許可がない場合は空欄。例：東京都知事許可（般-5）第012345号",
        validators=_optional(60),
    )


CHANGE_FORMS = {"contact": ContactChangeForm, "registration": RegistrationChangeForm}
