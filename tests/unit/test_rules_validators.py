"""Form input rules of the application (R-APP-1, 第6条3項(2)) and of passwords (R-ACC-1, 第15条)."""

from __future__ import annotations

import re

import pytest

from portal.rules.validators import (
    PREFECTURES,
    construction_license_number,
    corporate_number,
    corporate_number_check_digit,
    katakana,
    load_common_passwords,
    optional_construction_license_number,
    password_problems,
    phone_number,
    postal_code,
)
from portal.services.email_addresses import email_address

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

# --- 法人番号 ------------------------------------------------------------------------------


def test_r_app_1_corporate_number_check_digit_of_the_nta_itself():
    """Does the check-digit formula give 7 for 国税庁's own number 7000012050002?"""
    assert corporate_number_check_digit("000012050002") == 7
    assert corporate_number("7000012050002") == "7000012050002"


@pytest.mark.parametrize(
    ("base", "check"),
    [
        ("000000000000", 9),  # Σ = 0 → 9 − 0
        ("000000000009", 9),  # Σ = 9 ≡ 0 → 9
        ("000000000001", 8),  # rightmost digit weighs 1
        ("000000000010", 7),  # second from the right weighs 2
        ("100000000000", 7),  # twelfth from the right (even) weighs 2
        ("999999999999", 9),  # Σ = 6·9 + 6·18 = 162 ≡ 0
    ],
)
def test_r_app_1_corporate_number_check_digit_weights(base, check):
    """Are odd positions from the right weighted 1 and even positions 2, and is the digit 9 − (Σ mod 9)?"""
    assert corporate_number_check_digit(base) == check


@pytest.mark.parametrize(
    "typed",
    ["7000012050002", "７００００１２０５０００２", "7-0000-1205-0002", " 7000 0120 50002 ", "7０00012050002"],
)
def test_r_app_1_corporate_number_accepts_full_width_hyphens_and_spaces(typed):
    """Is a 法人番号 typed with full-width digits, hyphens or spaces normalized to 13 ASCII digits?"""
    assert corporate_number(typed) == "7000012050002"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "法人番号を入力してください"),
        ("   ", "法人番号を入力してください"),
        ("700001205000", r"13桁です（入力は12桁）"),
        ("70000120500021", r"13桁です（入力は14桁）"),
        ("7000012050003", "法人番号が正しくありません"),  # last digit changed
        ("8000012050002", "法人番号が正しくありません"),  # check digit changed
        ("700001205000A", "13桁の数字で入力してください"),
        ("٧٠٠٠٠١٢٠٥٠٠٠٢", "13桁の数字で入力してください"),  # Arabic-Indic digits are not accepted
    ],
)
def test_r_app_1_corporate_number_refusals(typed, message):
    """Is a wrong length, a non-digit or a wrong check digit refused with a Japanese message?"""
    with pytest.raises(ValueError, match=message):
        corporate_number(typed)


def test_r_app_1_check_digit_needs_twelve_digits():
    """Is a base number that is not 12 digits refused?"""
    with pytest.raises(ValueError, match="12桁"):
        corporate_number_check_digit("12345")


# --- 建設業許可番号 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("国土交通大臣許可（特-5）第12345号", "国土交通大臣許可（特-5）第012345号"),
        ("東京都知事許可（般-3）第012345号", "東京都知事許可（般-3）第012345号"),
        ("東京知事 (般－３) 第１２３４５号", "東京都知事許可（般-3）第012345号"),
        ("大臣許可(特-5)第1号", "国土交通大臣許可（特-5）第000001号"),
        ("北海道知事許可（一般ー12）第123456号", "北海道知事許可（般-12）第123456号"),
        ("大阪府知事許可(特定-99)第7号", "大阪府知事許可（特-99）第000007号"),
        ("京都知事(般3)45", "京都府知事許可（般-3）第000045号"),
        ("神奈川県知事許可般-1第1号", "神奈川県知事許可（般-1）第000001号"),
        ("沖縄県知事許可（般－０２）第９９９９９９号", "沖縄県知事許可（般-2）第999999号"),
    ],
)
def test_r_app_1_license_number_is_canonicalized(typed, canonical):
    """Are the usual ways of writing a 建設業許可番号 turned into one canonical string?"""
    assert construction_license_number(typed) == canonical


def test_r_app_1_license_number_knows_all_47_prefectures():
    """Is each of the 47 governors accepted, both with and without 都/府/県?"""
    assert len(PREFECTURES) == 47
    for prefecture in PREFECTURES:
        expected = f"{prefecture}知事許可（般-1）第000001号"
        assert construction_license_number(f"{prefecture}知事許可（般-1）第1号") == expected
        if prefecture != "北海道":
            assert construction_license_number(f"{prefecture[:-1]}知事（般-1）第1号") == expected


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "建設業許可番号を入力してください"),
        ("12345", "形式が正しくありません"),
        ("東京都知事許可（般-3）第1234567号", "形式が正しくありません"),  # 7 digits
        ("東京都知事許可（般-123）第1号", "形式が正しくありません"),  # year of 3 digits
        ("東京都知事許可（中-3）第1号", "形式が正しくありません"),  # neither 般 nor 特
        ("東京都知事般-312345", "形式が正しくありません"),  # no parentheses and no 第: ambiguous
        ("東京都知事許可（令和5）第1号", "形式が正しくありません"),
        ("火星知事許可（般-3）第1号", "許可行政庁"),
        ("総理大臣許可（般-3）第1号", "許可行政庁"),
        ("東京都知事許可（般-0）第1号", "許可年度"),
        ("東京都知事許可（般-3）第0号", "許可番号が正しくありません"),
    ],
)
def test_r_app_1_license_number_refusals(typed, message):
    """Is a malformed licence number, an unknown authority or a zero year/number refused in Japanese?"""
    with pytest.raises(ValueError, match=message):
        construction_license_number(typed)


@pytest.mark.parametrize("typed", [None, "", "  ", "\u3000"])
def test_r_app_1_license_number_is_optional(typed):
    """Does an empty licence entry mean "no licence" (None) rather than an error?"""
    assert optional_construction_license_number(typed) is None


def test_r_app_1_optional_license_number_still_checks_what_is_typed():
    """Is a non-empty entry in the optional field still validated and canonicalized?"""
    assert optional_construction_license_number("大臣（特-5）第1号") == "国土交通大臣許可（特-5）第000001号"
    with pytest.raises(ValueError):
        optional_construction_license_number("持っていません")


# --- 郵便番号 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["1000001", "100-0001", "１００－０００１", "１００ー０００１", "〒100-0001", "〒 100 0001", " 100‐0001 "]
)
def test_r_app_1_postal_code_normalized(typed):
    """Are 7 digits with or without hyphen, full-width or after 〒, normalized to 123-4567?"""
    assert postal_code(typed) == "100-0001"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "郵便番号を入力してください"),
        ("100001", "7桁の数字"),
        ("10000011", "7桁の数字"),
        ("1000-001", "7桁の数字"),
        ("100-000A", "7桁の数字"),
    ],
)
def test_r_app_1_postal_code_refusals(typed, message):
    """Is anything but 3+4 digits refused with a Japanese message?"""
    with pytest.raises(ValueError, match=message):
        postal_code(typed)


# --- カタカナ -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("ヤマダ タロウ", "ヤマダ\u3000タロウ"),
        ("ヤマダ\u3000\u3000タロウ", "ヤマダ\u3000タロウ"),  # runs of spaces become one
        ("ｶﾌﾞｼｷｶﾞｲｼｬ ｳｹｵｲ", "カブシキガイシャ\u3000ウケオイ"),  # half-width, with voiced marks
        ("ウケオイ・ケンセツ", "ウケオイ・ケンセツ"),
        ("ｳｹｵｲ･ｹﾝｾﾂ", "ウケオイ・ケンセツ"),  # half-width middle dot
        ("コーポレーション", "コーポレーション"),
        ("ヴァイオリン", "ヴァイオリン"),
        ("ヶ", "ヶ"),
        ("  スズキ  ", "スズキ"),
    ],
)
def test_r_app_1_katakana_accepted_and_normalized(typed, normalized):
    """Are full-width and half-width katakana with ー, ・ and spaces accepted and normalized?"""
    assert katakana(typed) == normalized


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "フリガナを入力してください"),
        ("やまだ", "ひらがなは使えません"),
        ("ヤマダたろう", "ひらがなは使えません"),
        ("ヤマダ太郎", "使えない文字：太郎"),
        ("YAMADA", "使えない文字：YAMD"),
        ("ヤマダ1", "使えない文字：1"),
        ("ーー", "カタカナで入力してください"),  # marks alone are not a name
        ("・", "カタカナで入力してください"),
    ],
)
def test_r_app_1_katakana_refusals(typed, message):
    """Is hiragana refused with a request for katakana, and other characters named in the message?"""
    with pytest.raises(ValueError, match=message):
        katakana(typed)


# --- 電話番号 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("03-1234-5678", "03-1234-5678"),
        ("0312345678", "0312345678"),
        ("０３－１２３４－５６７８", "03-1234-5678"),
        ("03(1234)5678", "03-1234-5678"),
        ("03 1234 5678", "03-1234-5678"),
        ("090-1234-5678", "090-1234-5678"),
        ("09012345678", "09012345678"),
        ("050-1234-5678", "050-1234-5678"),
        ("0120-123-456", "0120-123-456"),
        ("0800-123-4567", "0800-123-4567"),
        ("0570-123-456", "0570-123-456"),
        ("+81-3-1234-5678", "03-1234-5678"),
        ("+81 90 1234 5678", "090-1234-5678"),
        ("03ー1234ー5678", "03-1234-5678"),  # long vowel mark typed for "-"
    ],
)
def test_r_app_1_phone_numbers_accepted(typed, normalized):
    """Are Japanese fixed, mobile, IP and free-dial numbers accepted and normalized to ASCII hyphens?"""
    assert phone_number(typed) == normalized


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "電話番号を入力してください"),
        ("03-1234-567", "10桁または11桁"),
        ("090-1234-56789", "10桁または11桁"),
        ("03-1234-56789", "固定電話は10桁"),
        ("090-1234-567", "11桁です"),
        ("3-1234-5678", "0から始まる"),
        ("001-234-5678", "0から始まる"),
        ("03-1234-567a", "数字とハイフン"),
        ("tel:0312345678", "数字とハイフン"),
    ],
)
def test_r_app_1_phone_number_refusals(typed, message):
    """Is a number with the wrong length, prefix or characters refused in Japanese?"""
    with pytest.raises(ValueError, match=message):
        phone_number(typed)


# --- メールアドレス -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("taro@example.co.jp", "taro@example.co.jp"),
        ("Taro.Yamada@Example.CO.JP", "Taro.Yamada@example.co.jp"),
        ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "taro@example.jp"),
        ("  taro+keiyaku@example.jp ", "taro+keiyaku@example.jp"),
    ],
)
def test_r_app_1_email_accepted(typed, normalized):
    """Is a normal address accepted, with full-width characters and the domain's case normalized?"""
    assert email_address(typed) == normalized


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "メールアドレスを入力してください"),
        ("taro.example.jp", "「@」が含まれていません"),
        ("taro@", "形式が正しくありません"),
        ("taro@@example.jp", "形式が正しくありません"),
        ("ta..ro@example.jp", "形式が正しくありません"),
        ("taro@example", "形式が正しくありません"),
        ("山田@example.jp", "形式が正しくありません"),  # non-ASCII local part: needs SMTPUTF8
        ("taro@ukeoi.test", "形式が正しくありません"),  # special-use domain
    ],
)
def test_r_app_1_email_refusals(typed, message):
    """Is a malformed address refused with a Japanese message and no DNS lookup?"""
    with pytest.raises(ValueError, match=message):
        email_address(typed)


# --- every validator ----------------------------------------------------------------------

VALIDATORS = [corporate_number, construction_license_number, postal_code, katakana, phone_number, email_address]


@pytest.mark.parametrize("validator", VALIDATORS)
def test_r_app_1_every_refusal_is_in_japanese(validator):
    """Can each validator's message for a bad entry be shown next to the field as it is (Japanese)?"""
    with pytest.raises(ValueError) as refused:
        validator("?!")
    assert JAPANESE.search(str(refused.value))


@pytest.mark.parametrize("validator", [*VALIDATORS, optional_construction_license_number])
def test_r_app_1_non_strings_are_a_programming_error(validator):
    """Is a value that is not a string (a number) refused with TypeError instead of a form message?"""
    with pytest.raises(TypeError):
        validator(12345)


# --- R-ACC-1 password_problems --------------------------------------------------------------

COMMON = load_common_passwords()
TOO_COMMON = "よく使われるパスワードのため使えません。推測されにくいものにしてください"
HAS_ID = "パスワードに利用者IDを含めないでください"


def test_r_acc_1_common_password_list_is_substantial_and_folded():
    """Does the bundled list hold a few hundred passwords, case-folded, with no comments or blanks?"""
    assert len(COMMON) >= 300
    assert {"password", "1234567890", "qwertyuiop", "password123", "sakura1234"} <= COMMON
    assert all(p == p.casefold() and p and not p.startswith("#") for p in COMMON)


@pytest.mark.parametrize(
    "password", ["correct horse battery", "kensetsu-2027-ukeoi", "長いけれど覚えやすい文", "aaaaaaaaab", "0123456789x"]
)
def test_r_acc_1_good_passwords_have_no_problems(password):
    """Is a long, uncommon password that does not contain the ID accepted without composition rules?"""
    assert password_problems(password, "u1000001", COMMON) == []


@pytest.mark.parametrize(
    ("password", "length"),
    [("", 0), ("short", 5), ("123456789", 9), ("ながいかな", 5)],
)
def test_r_acc_1_passwords_shorter_than_ten_are_refused(password, length):
    """Is a password shorter than 10 characters refused, with its current length in the message?"""
    assert f"パスワードは10文字以上にしてください（現在{length}文字）" in password_problems(password, "u1", COMMON)


def test_r_acc_1_very_long_passwords_are_refused():
    """Is a password over 128 characters refused, while 128 exactly is fine?"""
    assert password_problems("x" * 64 + "y" * 64, "u1", COMMON) == []
    assert password_problems("x" * 64 + "y" * 65, "u1", COMMON) == ["パスワードは128文字以内にしてください"]


@pytest.mark.parametrize(
    ("password", "login_id"),
    [
        ("u1000001ab", "u1000001ab"),  # the ID itself
        ("U1000001AB", "u1000001ab"),  # differing only in case
        ("my-u1000001-key", "u1000001"),  # containing it
        ("xx-YAMADA-2027", "yamada"),
        ("zz-abc-zz-zz", "ABC"),  # three characters are enough to be searched
    ],
)
def test_r_acc_1_password_must_not_contain_the_user_id(password, login_id):
    """Is a password equal to or containing the user ID (ignoring case) refused?"""
    assert HAS_ID in password_problems(password, login_id, COMMON)


def test_r_acc_1_very_short_ids_are_only_compared_whole():
    """Does a two-character ID not forbid every password that happens to contain those letters?"""
    assert password_problems("xxab-long-enough", "ab", COMMON) == []
    assert HAS_ID in password_problems("ab", "ab", COMMON)


@pytest.mark.parametrize("password", ["password123", "PASSWORD123", "Qwertyuiop", "1234567890", "yamadataro"])
def test_r_acc_1_common_passwords_are_refused_ignoring_case(password):
    """Is a password from the common list refused, whatever its case?"""
    assert TOO_COMMON in password_problems(password, "u1000001", COMMON)


def test_r_acc_1_caller_supplied_list_is_used():
    """Is a caller-supplied common list honoured (e.g. the company name added by the service)?"""
    assert TOO_COMMON in password_problems("ukeoi-kensetsu", "u1", frozenset({"ukeoi-kensetsu"}))
    assert password_problems("ukeoi-kensetsu", "u1", frozenset()) == []


def test_r_acc_1_a_single_repeated_character_is_refused():
    """Is a password of one character repeated (not in any list) refused?"""
    assert "同じ文字の繰り返しだけのパスワードは使えません" in password_problems("ぱ" * 12, "u1", COMMON)


def test_r_acc_1_all_problems_are_reported_at_once():
    """Does a bad password get every applicable message, so the user fixes it in one go?"""
    problems = password_problems("admin", "admin", COMMON)
    assert problems == [
        "パスワードは10文字以上にしてください（現在5文字）",
        HAS_ID,
        TOO_COMMON,
    ]


def test_r_acc_1_password_arguments_must_be_strings():
    """Is a missing password or ID (None) a programming error, not an empty-password message?"""
    with pytest.raises(TypeError):
        password_problems(None, "u1", COMMON)
    with pytest.raises(TypeError):
        password_problems("long enough pass", None, COMMON)
