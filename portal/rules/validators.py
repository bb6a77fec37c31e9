"""Input rules of the application and account forms (R-APP-1, 第6条3項(2); R-ACC-1, 第15条).

Each validator takes what the user typed and returns the normalized value, or raises
``ValueError`` whose message is Japanese and can be shown next to the form field as it is.
Full-width digits and letters, half-width katakana and the usual dash look-alikes are
accepted and normalized (Unicode NFKC), because that is what Japanese keyboards produce.
A value that is not a ``str`` at all is a programming error and raises ``TypeError``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Collection
from pathlib import Path

# Characters people type for a hyphen in numbers: hyphen-minus after NFKC, the Unicode
# hyphens and dashes, the minus sign, and the katakana long vowel mark that a Japanese
# IME produces for "-" in kana mode.
_DASHES = "-‐‑‒–—―−ー"
_DASH_RE = re.compile(f"[{re.escape(_DASHES)}]")
_SPACE_RE = re.compile(r"\s+")


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected str, got {type(value).__name__}")
    return unicodedata.normalize("NFKC", value).strip()


def _digits_and_hyphens(value: str) -> str:
    """NFKC, every dash look-alike made "-", every space removed."""
    return _SPACE_RE.sub("", _DASH_RE.sub("-", value))


# --- 法人番号 -------------------------------------------------------------------------


def corporate_number_check_digit(base: str) -> int:
    """Check digit of a 法人番号 whose 12-digit base number is ``base`` (国税庁の定める計算方法).

    With P(n) the digit of the base number at position n counted from the right
    (n = 1..12) and Q(n) = 1 when n is odd, 2 when n is even:

        check digit = 9 − ((Σ P(n) × Q(n)) mod 9)

    The 13-digit 法人番号 is the check digit followed by the base number.

    >>> corporate_number_check_digit("000012050002")  # 国税庁: 7000012050002
    7
    """
    if not re.fullmatch(r"[0-9]{12}", base):
        raise ValueError("法人番号の基礎番号は12桁の数字です")
    total = sum(int(digit) * (1 if position % 2 == 1 else 2) for position, digit in enumerate(reversed(base), start=1))
    return 9 - total % 9


def corporate_number(value: str) -> str:
    """A 法人番号 (R-APP-1): 13 digits whose first digit is the check digit of the other
    twelve (see ``corporate_number_check_digit``). Full-width digits, spaces and hyphens
    are accepted; the result is the 13 ASCII digits.

    >>> corporate_number("７０００-０１２０-５０００２")
    '7000012050002'
    """
    text = _digits_and_hyphens(_text(value)).replace("-", "")
    if not text:
        raise ValueError("法人番号を入力してください")
    if not re.fullmatch(r"[0-9]+", text):
        raise ValueError("法人番号は13桁の数字で入力してください")
    if len(text) != 13:
        raise ValueError(f"法人番号は13桁です（入力は{len(text)}桁）")
    if int(text[0]) != corporate_number_check_digit(text[1:]):
        raise ValueError("法人番号が正しくありません。番号をお確かめください")
    return text


# --- 建設業許可番号 ---------------------------------------------------------------------

#: The 47 prefectures, in the order of the JIS X 0401 codes.
PREFECTURES: tuple[str, ...] = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県",
    "茨城県", "栃木県", "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県",
    "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県", "岐阜県",
    "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県",
    "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県",
    "徳島県", "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県",
    "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)  # fmt: skip

_MINISTER = "国土交通大臣"
_AUTHORITIES: dict[str, str] = {_MINISTER: _MINISTER, "大臣": _MINISTER}
for _prefecture in PREFECTURES:
    _AUTHORITIES[_prefecture + "知事"] = _prefecture + "知事"
    if _prefecture != "北海道":
        # "東京知事", "大阪知事": the prefecture without 都/府/県.
        _AUTHORITIES[_prefecture[:-1] + "知事"] = _prefecture + "知事"
del _prefecture

_KINDS = {"般": "般", "一般": "般", "特": "特", "特定": "特"}

_LICENSE_AUTHORITY = r"(?P<authority>[^()]+?)(?:許可)?"
_LICENSE_KIND_PERIOD = r"(?P<kind>一般|特定|般|特)-?(?P<period>[0-9]{1,2})"
_LICENSE_PATTERNS = (
    # (般-5)第12345号, with 第 and 号 optional
    re.compile(rf"{_LICENSE_AUTHORITY}\({_LICENSE_KIND_PERIOD}\)第?(?P<number>[0-9]{{1,6}})号?"),
    # 般-5第12345号: without the parentheses 第 is needed to tell the year from the number
    re.compile(rf"{_LICENSE_AUTHORITY}{_LICENSE_KIND_PERIOD}第(?P<number>[0-9]{{1,6}})号?"),
)
_LICENSE_EXAMPLE = "例：東京都知事許可（般-5）第012345号"


def construction_license_number(value: str) -> str:
    """A 建設業許可番号 (R-APP-1): the licensing authority (国土交通大臣 or one of the 47
    prefectural governors), 般 (一般) or 特 (特定), the licence year in the parentheses
    (許可年度, 1–99; the era is not written) and the licence number of 1–6 digits.

    Full-width characters, spaces and dash look-alikes are accepted, as are "大臣", a
    prefecture without 都/府/県, "一般"/"特定", a missing "許可" or "号", and a missing "第"
    (when the parentheses are there) or missing parentheses (when "第" is). The result is
    canonical: full-width parentheses, the number zero-padded to six digits.

    >>> construction_license_number("東京知事 (般－３) 第１２３４５号")
    '東京都知事許可（般-3）第012345号'
    >>> construction_license_number("国土交通大臣許可（特-5）第12345号")
    '国土交通大臣許可（特-5）第012345号'
    """
    text = _digits_and_hyphens(_text(value))
    if not text:
        raise ValueError("建設業許可番号を入力してください")
    match = next((m for p in _LICENSE_PATTERNS if (m := p.fullmatch(text))), None)
    if match is None:
        raise ValueError(f"建設業許可番号の形式が正しくありません（{_LICENSE_EXAMPLE}）")
    authority = _AUTHORITIES.get(match["authority"])
    if authority is None:
        raise ValueError("許可行政庁は「国土交通大臣」または都道府県知事（例：東京都知事）で入力してください")
    period = int(match["period"])
    if period == 0:
        raise ValueError("許可年度（括弧内の数字）は1〜99で入力してください")
    number = int(match["number"])
    if number == 0:
        raise ValueError(f"許可番号が正しくありません（{_LICENSE_EXAMPLE}）")
    kind = _KINDS[match["kind"]]
    return f"{authority}許可（{kind}-{period}）第{number:06d}号"


def optional_construction_license_number(value: str | None) -> str | None:
    """Like ``construction_license_number``, but an empty entry means "no licence" and
    gives ``None`` (the application asks for the licence number only if there is one).

    >>> optional_construction_license_number("  ") is None
    True
    """
    if value is None or not _text(value):
        return None
    return construction_license_number(value)


# --- 郵便番号 -------------------------------------------------------------------------


def postal_code(value: str) -> str:
    """A postal code (郵便番号): 7 digits, with or without the hyphen, full-width or not,
    optionally after 〒. The result is "123-4567".

    >>> postal_code("〒１００ー０００１")
    '100-0001'
    """
    text = _digits_and_hyphens(_text(value)).removeprefix("〒")
    if not text:
        raise ValueError("郵便番号を入力してください")
    match = re.fullmatch(r"([0-9]{3})-?([0-9]{4})", text)
    if match is None:
        raise ValueError("郵便番号は7桁の数字で入力してください（例：123-4567）")
    return f"{match[1]}-{match[2]}"


# --- カタカナ -------------------------------------------------------------------------

_KATAKANA = "ァ-ヺヽヾ"  # U+30A1..U+30FA (ァ..ヺ, including ヴ ヵ ヶ) and the iteration marks
_KANA_ALLOWED_RE = re.compile(f"[{_KATAKANA}ー・ ]+")
_KANA_LETTER_RE = re.compile(f"[{_KATAKANA}]")
_HIRAGANA_RE = re.compile("[ぁ-ゖゝゞ]")


def katakana(value: str) -> str:
    """A name in katakana (フリガナ: company, representative, contact person): full-width
    katakana, the long vowel mark ー, the middle dot ・ and spaces. Half-width katakana is
    converted to full-width; runs of spaces become one full-width space. Hiragana is
    refused with a request to type katakana (no silent conversion: the user should see
    what is stored).

    >>> katakana("ｶﾌﾞｼｷｶﾞｲｼｬ  ｳｹｵｲ")
    'カブシキガイシャ\\u3000ウケオイ'
    """
    text = _SPACE_RE.sub(" ", _text(value))
    if not text:
        raise ValueError("フリガナを入力してください")
    if _HIRAGANA_RE.search(text):
        raise ValueError("フリガナはカタカナで入力してください（ひらがなは使えません）")
    if not _KANA_ALLOWED_RE.fullmatch(text) or not _KANA_LETTER_RE.search(text):
        invalid = "".join(dict.fromkeys(ch for ch in text if not _KANA_ALLOWED_RE.fullmatch(ch)))
        detail = f"（使えない文字：{invalid[:5]}）" if invalid else ""
        raise ValueError(f"フリガナはカタカナで入力してください{detail}")
    return text.replace(" ", "\u3000")


# --- 電話番号 -------------------------------------------------------------------------

_ELEVEN_DIGIT_PREFIXES = ("020", "050", "060", "070", "080", "090")


def phone_number(value: str) -> str:
    """A Japanese phone number: 10 digits (fixed lines, 0120, 0570) or 11 digits (mobile
    and IP phones: 020/050/060/070/080/090, and 0800), starting with 0, optionally grouped
    by hyphens, spaces or parentheses; "+81" is accepted for the leading 0. The result
    keeps the user's grouping with ASCII hyphens, or the bare digits if none was typed.

    >>> phone_number("０３（１２３４）５６７８")
    '03-1234-5678'
    >>> phone_number("+81 90 1234 5678")
    '090-1234-5678'
    """
    text = _DASH_RE.sub("-", _text(value))
    if not text:
        raise ValueError("電話番号を入力してください")
    if text.startswith("+81"):
        rest = text[3:].lstrip(" -")
        text = rest if rest.startswith(("0", "(0")) else "0" + rest
    grouped = re.sub(r"[\s()-]+", "-", text).strip("-")
    if not re.fullmatch(r"[0-9]+(?:-[0-9]+)*", grouped):
        raise ValueError("電話番号は数字とハイフンで入力してください（例：03-1234-5678）")
    digits = grouped.replace("-", "")
    if not digits.startswith("0") or digits.startswith("00"):
        raise ValueError("電話番号は0から始まる国内の番号で入力してください")
    if len(digits) == 11:
        if not digits.startswith(_ELEVEN_DIGIT_PREFIXES):
            raise ValueError("電話番号の桁数が正しくありません（固定電話は10桁です）")
    elif len(digits) == 10:
        if digits.startswith(_ELEVEN_DIGIT_PREFIXES):
            raise ValueError("携帯電話・IP電話の番号は11桁です")
    else:
        raise ValueError(f"電話番号は10桁または11桁です（入力は{len(digits)}桁）")
    return grouped


# --- パスワード -----------------------------------------------------------------------

MIN_PASSWORD_LENGTH = 10
#: Far above anything typed; keeps the memory-hard hash from being fed megabytes.
MAX_PASSWORD_LENGTH = 128
#: IDs shorter than this are only compared for equality, not searched inside the password.
MIN_ID_LENGTH_FOR_CONTAINS = 3

_COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


@functools.cache
def load_common_passwords() -> frozenset[str]:
    """The bundled list of too-common passwords (``common_passwords.txt`` beside this
    module), case-folded, for ``password_problems``. Read once, then cached."""
    lines = _COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().casefold() for line in lines if line.strip() and not line.startswith("#"))


def password_problems(password: str, login_id: str, common_passwords: Collection[str]) -> list[str]:
    """Everything wrong with ``password`` as the new password of ``login_id`` (R-ACC-1,
    第15条), as Japanese messages for the form; an empty list means it is acceptable.

    The rules are length and guessability only — no composition rules: at least 10
    characters (at most 128), not the user ID and not containing it (IDs of three or more
    characters), not a single repeated character, and not in ``common_passwords``
    (compared case-insensitively; pass ``load_common_passwords()``).

    >>> password_problems("correct horse battery", "u1000001", load_common_passwords())
    []
    >>> password_problems("Password123", "u1000001", load_common_passwords())
    ['よく使われるパスワードのため使えません。推測されにくいものにしてください']
    """
    if not isinstance(password, str) or not isinstance(login_id, str):
        raise TypeError("password and login_id must be str")
    problems: list[str] = []
    length = len(password)
    if length < MIN_PASSWORD_LENGTH:
        problems.append(f"パスワードは{MIN_PASSWORD_LENGTH}文字以上にしてください（現在{length}文字）")
    elif length > MAX_PASSWORD_LENGTH:
        problems.append(f"パスワードは{MAX_PASSWORD_LENGTH}文字以内にしてください")
    folded = password.casefold()
    folded_id = login_id.strip().casefold()
    if folded_id and (folded == folded_id or (len(folded_id) >= MIN_ID_LENGTH_FOR_CONTAINS and folded_id in folded)):
        problems.append("パスワードに利用者IDを含めないでください")
    if password and len(set(password)) == 1:
        problems.append("同じ文字の繰り返しだけのパスワードは使えません")
    if folded in common_passwords or password in common_passwords:
        problems.append("よく使われるパスワードのため使えません。推測されにくいものにしてください")
    return problems
