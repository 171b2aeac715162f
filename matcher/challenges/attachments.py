"""An application's attachments: PDF or Office files whose bytes must be what their name says,
kept content-addressed (`matcher.files`) so a re-upload costs nothing and a crash leaves no
half-written file."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, col, select

from matcher.access import Viewer
from matcher.challenges.models import Application, Attachment
from matcher.errors import Conflict, NotFound, ValidationFailed
from matcher.files import store_content
from matcher.models import pk

ATTACHMENT_TYPES = {
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".ppt": "application/vnd.ms-powerpoint",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
MAX_ATTACHMENTS = 10
OPEN_FOR_FILES = ("draft", "submitted")  # once review starts the files are what experts read


def _sniff(suffix: str, head: bytes) -> bool:
    """The bytes must be what the name says: PDF, OOXML (a zip) or legacy Office (OLE2)."""
    if suffix == ".pdf":
        return head.startswith(b"%PDF-")
    if suffix in (".docx", ".xlsx", ".pptx"):
        return head.startswith(b"PK\x03\x04")
    return head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


def _check_file(name: str, data: bytes, max_bytes: int) -> str:
    """The file's suffix, once its type, size and content are acceptable."""
    suffix = Path(name).suffix.lower()
    if suffix not in ATTACHMENT_TYPES:
        raise ValidationFailed(
            "附件只能是 PDF 或 Office 文件（.pdf .doc .docx .xls .xlsx .ppt .pptx）"
        )
    if not data:
        raise ValidationFailed("附件是空文件")
    if len(data) > max_bytes:
        raise ValidationFailed(f"附件超过 {max_bytes // (1024 * 1024)} MB 上限")
    if not _sniff(suffix, data[:8]):
        raise ValidationFailed(f"「{name}」的内容不是 {suffix} 文件")
    return suffix


def add_attachment(
    *,
    session: Session,
    viewer: Viewer,
    application: Application,
    filename: str,
    data: bytes,
    directory: Path,
    max_bytes: int,
) -> Attachment:
    if viewer.organization_id != application.organization_id:
        raise NotFound("申请不存在")
    if application.status not in OPEN_FOR_FILES:
        raise Conflict("申请已进入评审，不能再上传附件")
    name = Path(filename or "").name.strip()[:200]
    suffix = _check_file(name, data, max_bytes)
    count = len(
        session.exec(select(Attachment.id).where(Attachment.application_id == application.id)).all()
    )
    if count >= MAX_ATTACHMENTS:
        raise ValidationFailed(f"每份申请最多 {MAX_ATTACHMENTS} 个附件")
    digest = store_content(directory, data, prefix=".upload-")
    row = Attachment(
        application_id=pk(application),
        filename=name,
        content_type=ATTACHMENT_TYPES[suffix],
        size=len(data),
        sha256=digest,
        uploaded_by=viewer.user_id,
    )
    session.add(row)
    session.flush()
    return row


def attachments_of(*, session: Session, application_id: int) -> list[Attachment]:
    return list(
        session.exec(
            select(Attachment)
            .where(Attachment.application_id == application_id)
            .order_by(col(Attachment.id))
        )
    )


def remove_attachment(*, session: Session, viewer: Viewer, attachment_id: int) -> None:
    row = session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound("附件不存在")
    application = session.get(Application, row.application_id)
    if application is None or viewer.organization_id != application.organization_id:
        raise NotFound("附件不存在")
    if application.status not in OPEN_FOR_FILES:
        raise Conflict("申请已进入评审，不能删除附件")
    session.delete(row)
