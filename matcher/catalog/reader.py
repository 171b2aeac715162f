"""Read an uploaded table (.xlsx or .csv in UTF-8, UTF-8 with BOM or GBK) into rows of text.

Refuses, with a precise message, what would silently import wrong data: formulas, merged cells,
old .xls files, undecodable text, and files over the size limits. XML is parsed through defusedxml
(openpyxl uses it when installed) and zip members are measured before they are inflated, so zip
and entity bombs are refused quickly with little memory."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field

from matcher.errors import ImportRejected, RowProblem

MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass
class Table:
    headers: list[str]
    rows: list[tuple[int, list[str]]]  # (1-based row number in the file, cells)
    problems: list[RowProblem] = field(
        default_factory=list
    )  # per-cell problems found while reading
    encoding: str = ""


def _reject(message: str, filename: str) -> ImportRejected:
    return ImportRejected(problems=[RowProblem(0, "", message)], filename=filename)


def read_table(data: bytes, filename: str, *, max_bytes: int, max_rows: int) -> Table:
    if not data:
        raise _reject("文件为空", filename)
    if len(data) > max_bytes:
        raise _reject(
            f"文件过大：{len(data) / 1048576:.1f} MB，上限 {max_bytes / 1048576:.0f} MB", filename
        )
    lower = filename.lower()
    if data.startswith(OLE_MAGIC) or lower.endswith(".xls"):
        raise _reject(
            "不支持 Excel 97-2003（.xls）格式：请在 Excel 中另存为 .xlsx 或 CSV", filename
        )
    if data.startswith(b"PK"):
        return _read_xlsx(data, filename, max_rows)
    if lower.endswith((".xlsx", ".xlsm")):
        raise _reject("不是有效的 Excel（.xlsx）文件：文件内容已损坏或并非表格", filename)
    return _read_csv(data, filename, max_rows)


# --------------------------------------------------------------------------------------------
# xlsx
# --------------------------------------------------------------------------------------------


def _check_zip(data: bytes, filename: str) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise _reject("不是有效的 Excel（.xlsx）文件：压缩包已损坏", filename) from None
    with archive:
        names = set(archive.namelist())
        if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
            raise _reject("不是 Excel 表格文件（压缩包中没有工作表）", filename)
        total = 0
        for info in archive.infolist():
            total += info.file_size
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > 1024 * 1024 and ratio > MAX_COMPRESSION_RATIO:
                raise _reject("文件压缩比异常（疑似压缩炸弹），已拒绝", filename)
        if total > MAX_UNCOMPRESSED_BYTES:
            raise _reject("文件解压后过大（超过 256 MB），已拒绝", filename)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def _read_xlsx(data: bytes, filename: str, max_rows: int) -> Table:
    import openpyxl
    from openpyxl.utils import get_column_letter

    _check_zip(data, filename)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), data_only=False)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise _reject(f"无法读取 Excel 文件：{type(exc).__name__}", filename) from None
    sheet = workbook.worksheets[0]
    problems: list[RowProblem] = []
    for merged in sheet.merged_cells.ranges:
        problems.append(
            RowProblem(
                merged.min_row, "", f"存在合并单元格 {merged.coord}：请取消合并并在每一行填写完整"
            )
        )
    if sheet.max_row - 1 > max_rows:
        raise _reject(f"行数过多：{sheet.max_row - 1} 行，上限 {max_rows} 行", filename)
    rows_iter = sheet.iter_rows()
    try:
        header_cells = next(rows_iter)
    except StopIteration:
        raise _reject("文件为空：第一行应为列名", filename) from None
    headers = [_cell_text(c.value) for c in header_cells]
    while headers and not headers[-1]:
        headers.pop()
    rows: list[tuple[int, list[str]]] = []
    for cells in rows_iter:
        row_number = cells[0].row if cells else len(rows) + 2
        values: list[str] = []
        for idx, cell in enumerate(cells[: len(headers)]):
            if cell.data_type == "f" or (
                isinstance(cell.value, str) and cell.value.startswith("=")
            ):
                column = headers[idx] if idx < len(headers) else get_column_letter(idx + 1)
                problems.append(
                    RowProblem(
                        int(row_number or 0),
                        column,
                        f"单元格 {get_column_letter(idx + 1)}{row_number} 含公式：请复制后「粘贴为数值」",
                    )
                )
                values.append("")
                continue
            values.append(_cell_text(cell.value))
        values += [""] * (len(headers) - len(values))
        if any(values):
            rows.append((int(row_number or 0), values))
    workbook.close()
    return Table(headers=headers, rows=rows, problems=problems, encoding="xlsx")


# --------------------------------------------------------------------------------------------
# csv
# --------------------------------------------------------------------------------------------


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding) for UTF-8 (with or without BOM) or GBK/GB18030; ValueError otherwise."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gbk"
    except UnicodeDecodeError:
        raise ValueError("无法识别文件编码：请将 CSV 保存为 UTF-8 或 GBK 编码") from None


def _read_csv(data: bytes, filename: str, max_rows: int) -> Table:
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _reject("不是表格文件：请上传 .xlsx 或 .csv", filename)
    try:
        text, encoding = decode_text(data)
    except ValueError as exc:
        raise _reject(str(exc), filename) from None
    # The delimiter is whichever of , tab ; the header line uses most (Excel's CSV quoting
    # otherwise); sniffing whole rows misreads abstracts full of punctuation.
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";", "，"), key=first_line.count)
    if delimiter == "，":
        raise _reject("列名之间使用了中文逗号「，」：请用英文逗号分隔，或另存为 .xlsx", filename)

    class dialect(csv.excel):
        pass

    dialect.delimiter = delimiter
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        headers = [h.strip() for h in next(reader)]
    except StopIteration:
        raise _reject("文件为空：第一行应为列名", filename) from None
    except csv.Error as exc:
        raise _reject(f"CSV 格式错误：{exc}", filename) from None
    while headers and not headers[-1]:
        headers.pop()
    rows: list[tuple[int, list[str]]] = []
    problems: list[RowProblem] = []
    try:
        # Row numbers as Excel shows the file: the header is row 1, records follow one per row.
        for row_number, values in enumerate(reader, start=2):
            if len(rows) >= max_rows:
                raise _reject(f"行数过多：超过上限 {max_rows} 行", filename)
            cells = [v.strip() for v in values]
            extra = [c for c in cells[len(headers) :] if c]
            if extra:
                problems.append(
                    RowProblem(
                        row_number,
                        "",
                        f"本行比列名多出 {len(cells) - len(headers)} 列：请检查多余的逗号或未加引号的内容",
                    )
                )
            cells = cells[: len(headers)] + [""] * (len(headers) - len(cells))
            if any(cells):
                rows.append((row_number, cells))
    except csv.Error as exc:
        raise _reject(f"CSV 格式错误（第 {reader.line_num} 行）：{exc}", filename) from None
    return Table(headers=headers, rows=rows, problems=problems, encoding=encoding)
