"""Domain errors. Blueprints map them to a Japanese message and an HTTP status."""
from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal a service can give; `message` is shown to the user as is."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ValidationFailed(DomainError):
    status = 400


class AccessDenied(DomainError):
    status = 403

    def __init__(self, message: str = "この操作を行う権限がありません。"):
        super().__init__(message)


class NotFound(DomainError):
    status = 404

    def __init__(self, message: str = "指定されたものが見つかりません。"):
        super().__init__(message)


class StateConflict(DomainError):
    """A stale or repeated action: the object changed since the page was shown (optimistic lock)."""

    status = 409

    def __init__(self, message: str = "画面を表示した後に内容が変わりました。最新の状態を確認してください。"):
        super().__init__(message)


class ReadOnlyAccount(DomainError):
    status = 403

    def __init__(self, message: str = "現在このアカウントは閲覧のみ可能です。"):
        super().__init__(message)
