"""One domain error family: a Chinese message for the user and an HTTP status for the web."""

from __future__ import annotations

from dataclasses import dataclass, field


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


class ValidationFailed(DomainError):
    status_code = 422


class Unauthorized(DomainError):
    status_code = 401


class TooManyRequests(DomainError):
    status_code = 429


class StorageError(DomainError):
    """The data directory or database cannot be written (read-only, disk full, …)."""

    status_code = 503


class ModelUnavailable(DomainError):
    status_code = 503


@dataclass(frozen=True)
class RowProblem:
    row: int  # 1-based row number as the user sees it in the spreadsheet (header is row 1)
    column: str
    message: str

    def __str__(self) -> str:
        where = f"第 {self.row} 行" if self.row else "文件"
        col = f"「{self.column}」" if self.column else ""
        return f"{where}{col}：{self.message}"


@dataclass
class ImportRejected(DomainError):
    problems: list[RowProblem] = field(default_factory=list)
    filename: str = ""

    def __post_init__(self) -> None:
        count = len(self.problems)
        head = f"{self.filename}：" if self.filename else ""
        DomainError.__init__(self, f"{head}导入被拒绝，共 {count} 处问题，数据库未作任何修改")
        self.status_code = 422
