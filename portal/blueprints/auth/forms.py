from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

RULES_HINT = "10文字以上。ユーザーIDを含むもの、よく使われるものは使えません。記号や数字を混ぜる必要はありません。"


class LoginForm(FlaskForm):
    login_id = StringField("ユーザーID", validators=[DataRequired("ユーザーIDを入力してください。"), Length(max=64)])
    password = PasswordField("パスワード", validators=[DataRequired("パスワードを入力してください。"), Length(max=256)])


class _NewPasswordForm(FlaskForm):
    new_password = PasswordField(
        "新しいパスワード",
        description=RULES_HINT,
        validators=[
            DataRequired("新しいパスワードを入力してください。"),
            Length(max=128, message="パスワードは128文字以内にしてください。"),
        ],
    )
    new_password_confirm = PasswordField(
        "新しいパスワード（確認）",
        validators=[
            DataRequired("確認のため、もう一度入力してください。"),
            EqualTo("new_password", message="確認用のパスワードが一致しません。"),
        ],
    )


class ChangePasswordForm(_NewPasswordForm):
    current_password = PasswordField(
        "現在のパスワード",
        description="仮パスワードでログインした場合は、仮パスワードを入力してください。",
        validators=[DataRequired("現在のパスワードを入力してください。"), Length(max=256)],
    )


class ForgotPasswordForm(FlaskForm):
    identifier = StringField(
        "ユーザーIDまたはメールアドレス",
        validators=[
            DataRequired("ユーザーIDまたはメールアドレスを入力してください。"),
            Length(max=254, message="254文字以内で入力してください。"),
        ],
    )


class ResetPasswordForm(_NewPasswordForm):
    pass
