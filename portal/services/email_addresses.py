"""Email addresses typed into the application and account forms (R-APP-1, R-ACC-1).

Not in rules/: the syntax check is email_validator's, a well-kept library that follows the RFCs far
better than a regular expression would, and rules/ imports the standard library only.
"""
from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email


def email_address(value: str) -> str:
    """An email address, checked for syntax only (no DNS lookup: check_deliverability=False).
    Full-width characters are normalized first; the local part must be ASCII (our mail is sent
    without SMTPUTF8). Special-use domains such as ``.test``, ``.local`` and ``.invalid`` are
    refused. The result has the domain lower-cased. Raises ``ValueError`` with a Japanese message
    for the form field, ``TypeError`` for a value that is not a string.

    >>> email_address("ｔａｒｏ＠Example.CO.JP")
    'taro@example.co.jp'
    """
    if not isinstance(value, str):
        raise TypeError(f"expected str, got {type(value).__name__}")
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        raise ValueError("メールアドレスを入力してください")
    if "@" not in text:
        raise ValueError("メールアドレスに「@」が含まれていません")
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise ValueError("メールアドレスの形式が正しくありません（例：taro@example.co.jp）") from None
    return result.normalized
