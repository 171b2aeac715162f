"""Attachments: kept by their digest; refused by type, content and size, and to others."""

from __future__ import annotations

import pytest

from matcher.challenges.attachments import add_attachment, attachments_of, remove_attachment
from matcher.config import get_settings
from matcher.db import session_scope
from matcher.errors import NotFound, ValidationFailed
from matcher.files import content_path
from tests.matcher.challenges.conftest import World

PDF = b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_an_attachment_is_kept_under_its_digest(world: World, application_id: int) -> None:
    directory = get_settings().attachments_dir
    with session_scope(world.engine) as session:
        bc = world.viewer(session, "bc@example.cn")
        application = world.application(session, application_id)
        row = add_attachment(
            session=session, viewer=bc, application=application, filename="方案.pdf", data=PDF,
            directory=directory, max_bytes=1024,
        )  # fmt: skip
        assert content_path(directory, row.sha256).read_bytes() == PDF
        assert row.content_type == "application/pdf" and row.filename == "方案.pdf"
        remove_attachment(session=session, viewer=bc, attachment_id=row.id)  # type: ignore[arg-type]
        session.flush()
        assert attachments_of(session=session, application_id=application_id) == []


REFUSED = (
    ("病毒.exe", b"MZ", "只能是 PDF 或 Office"),
    ("伪装.docx", PDF, "不是 .docx"),
    ("太大.pdf", b"%PDF-" + b"0" * 2000, "超过"),
    ("空.pdf", b"", "空文件"),
)


def test_attachments_are_checked_by_type_content_and_size(
    world: World, application_id: int
) -> None:
    with session_scope(world.engine) as session:
        bc = world.viewer(session, "bc@example.cn")
        application = world.application(session, application_id)
        for name, data, message in REFUSED:
            with pytest.raises(ValidationFailed, match=message):
                add_attachment(
                    session=session, viewer=bc, application=application, filename=name,
                    data=data, directory=get_settings().attachments_dir, max_bytes=1024,
                )  # fmt: skip


def test_another_organization_cannot_attach(world: World, application_id: int) -> None:
    with session_scope(world.engine) as session, pytest.raises(NotFound):
        add_attachment(
            session=session, viewer=world.viewer(session, "yx@example.cn"),
            application=world.application(session, application_id), filename="a.pdf",
            data=PDF, directory=get_settings().attachments_dir, max_bytes=1024,
        )  # fmt: skip
