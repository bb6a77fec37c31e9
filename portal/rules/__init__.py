"""Pure business rules: the date, money and input rules of the terms, as plain functions.

Nothing here reads the clock, the database or a request, and nothing imports Flask or
another ``portal`` package: only the standard library (and ``email_validator``, itself pure,
for addresses). Every "today" is a parameter, dates are ``datetime.date`` and money is
``int`` yen.

- ``dates``: anniversary / period arithmetic shared by the rules below
- ``terms``: contract term, renewal, mid-term cancellation (第11条, 第24条)
- ``retention``: deletion dates of cases and former contractors' data (第11条の2, 第11条の3, 第28条)
- ``billing``: tax, late interest, delinquency, liability cap, refunds (第13条, 第23条, 第25条, 第26条)
- ``validators``: application and account form inputs (法人番号, 建設業許可番号, 郵便番号, カナ,
  電話, メール, パスワード)
"""
