"""Read and write utterance tables: CSV, JSONL, Parquet and ConvoKit corpus directories."""

from __future__ import annotations

import csv
import io
import json
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from reciprocity.corpus.compact import compact
from reciprocity.corpus.validate import LOCATION, validate
from reciprocity.errors import InputError, Problem
from reciprocity.schema import CONVERSATION, SPEAKER, TEXT, TOPIC_SEPARATOR

Format = Literal["csv", "jsonl", "parquet", "convokit"]
FORMATS: tuple[str, ...] = ("csv", "jsonl", "parquet", "convokit")
_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
_STRING_COLUMNS = {CONVERSATION: str, SPEAKER: str, TEXT: str, "id": str, "reply_to": str}
_CONVOKIT_FILES = ("utterances.jsonl", "speakers.json", "conversations.json", "corpus.json", "index.json")


def infer_format(path: str | Path) -> str:
    """Guess the format from a path: a directory is a ConvoKit corpus, else the suffix decides."""
    path = Path(path)
    if path.is_dir():
        return "convokit"
    try:
        return _SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise InputError(
            Problem(str(path), "file", None, f"cannot tell the format from suffix '{path.suffix}'; "
                    f"pass format= (CLI: --format) one of {', '.join(FORMATS)}")
        ) from None


def read(path: str | Path, format: str | None = None, *, skip_invalid: bool = False) -> pd.DataFrame:
    """Read an utterance table and validate it.

    Invalid rows raise :class:`~reciprocity.errors.InputError` naming file, line/row and field;
    with ``skip_invalid=True`` they are dropped and listed in ``table.attrs["skipped"]``.
    The table is returned in its compact form (:func:`reciprocity.corpus.compact`): ``text`` and ``id``
    as Arrow-backed strings, shared strings for ``conversation_id``/``speaker``/``reply_to``.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(Problem(str(path), "file", None, "no such file or directory"))
    format = format or infer_format(path)
    readers = {"csv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet, "convokit": _read_convokit}
    if format not in readers:
        raise InputError(Problem(str(path), "file", None, f"unknown format '{format}'; use one of {', '.join(FORMATS)}"))
    # Readers always set malformed records aside, so that without ``skip_invalid`` the error lists every
    # problem of the file (malformed records and invalid values), in line order, not just the first one.
    raw, problems = readers[format](path, True)
    try:
        table = validate(raw, str(path), skip_invalid=skip_invalid)
    except InputError as error:
        if not problems:
            raise
        if error.problems[0].location == "header":  # e.g. every record malformed: say that first
            raise InputError([*sorted(problems, key=_line_order), *error.problems]) from None
        raise InputError(sorted(problems + error.problems, key=_line_order)) from None
    if problems and not skip_invalid:
        raise InputError(sorted(problems, key=_line_order))
    del raw
    table = compact(table)
    table.attrs["skipped"] = sorted(problems + table.attrs["skipped"], key=_line_order)
    return table


def _line_order(problem: Problem) -> int:
    """Sort key of a problem: its line or row number ("line 12", "row 4"), problems without one last."""
    number = problem.location.removeprefix("line ").removeprefix("row ")
    return int(number) if number.isdigit() else 1 << 62


def _decode(path: Path, data: bytes, skip_invalid: bool, header: list[str] | None = None) -> tuple[str, list[Problem]]:
    """Decode UTF-8; undecodable lines raise (or are dropped and reported with ``skip_invalid``)."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as error:
        first = _undecodable_problem(path, data, error.start, header)
        if not skip_invalid:
            raise InputError(first) from None
    kept, problems = [], []
    offset = 0
    for raw_line in data.splitlines(keepends=True):
        try:
            kept.append(raw_line.decode("utf-8-sig" if offset == 0 else "utf-8"))
        except UnicodeDecodeError as error:
            problems.append(_undecodable_problem(path, data, offset + error.start, header))
            # keep the line break (a blank line) so that later lines keep their numbers
            kept.append(raw_line[len(raw_line.rstrip(b"\r\n")):].decode("ascii"))
        offset += len(raw_line)
    return "".join(kept), problems


def _undecodable_problem(path: Path, data: bytes, position: int, header: list[str] | None) -> Problem:
    line_start = data.rfind(b"\n", 0, position) + 1
    line = data.count(b"\n", 0, position) + 1
    field = None
    if header is not None and line > 1:
        prefix = data[line_start:position].decode("utf-8", errors="replace")
        try:
            column = len(next(csv.reader([prefix]), [""])) - 1
            field = header[column] if 0 <= column < len(header) else None
        except csv.Error:
            field = None
    return Problem(str(path), f"line {line}", field, f"undecodable bytes (not UTF-8) at byte {position}")


def _csv_header(data: bytes) -> list[str]:
    first_line = data.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").rstrip("\r")
    try:
        return next(csv.reader([first_line]), [])
    except csv.Error:
        return []


def _record_lines(text: str) -> list[int]:
    """Starting line number of every non-blank CSV data record (files with multi-line records)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    lines, start = [], 1
    for record in reader:
        if record:
            lines.append(start)
        start = reader.line_num + 1
    return lines[1:]


def _read_csv(path: Path, skip_invalid: bool) -> tuple[pd.DataFrame, list[Problem]]:
    data = path.read_bytes()
    header = _csv_header(data)
    text, problems = _decode(path, data, skip_invalid, header)
    # index_col=False: a first data row with an extra field must not turn the first column into the index; pandas
    # then warns (and would drop the field): the warning sends the file to the ragged-row reader instead
    options = dict(dtype=_STRING_COLUMNS, keep_default_na=False, na_values=[""], index_col=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            raw = pd.read_csv(io.StringIO(text), **options)
        lines = None
    except pd.errors.EmptyDataError:
        raise InputError(Problem(str(path), "line 1", None, "empty file: expected a header row")) from None
    except (pd.errors.ParserError, pd.errors.ParserWarning):
        raw, lines, ragged = _read_ragged_csv(path, text, header, options)
        if ragged and not skip_invalid:
            raise InputError(ragged) from None
        problems += ragged
    if lines is None:
        simple = text.count("\n") - (not text.endswith("\n")) == len(raw) and "\r" not in text
        lines = range(2, len(raw) + 2) if simple else _record_lines(text)
    raw[LOCATION] = [f"line {n}" for n in lines]
    return raw, problems


def _read_ragged_csv(path: Path, text: str, header: list[str], options: dict) -> tuple[pd.DataFrame, list[int], list[Problem]]:
    """Separate records whose field count differs from the header's (pandas could not parse them)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    good, lines, problems, start = [], [], [], 1
    for index, record in enumerate(reader):
        if index and record:
            if len(record) == len(header):
                good.append(record)
                lines.append(start)
            else:
                problems.append(Problem(str(path), f"line {start}", None,
                                        f"expected {len(header)} fields, found {len(record)}"))
        start = reader.line_num + 1
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *good])
    buffer.seek(0)
    return pd.read_csv(buffer, **options), lines, problems


def _read_jsonl(path: Path, skip_invalid: bool) -> tuple[pd.DataFrame, list[Problem]]:
    raw, lines, problems = _json_records(path, skip_invalid)
    raw = _stringify(raw)
    raw[LOCATION] = [f"line {n}" for n in lines]
    return raw, problems


def _json_records(path: Path, skip_invalid: bool) -> tuple[pd.DataFrame, list[int], list[Problem]]:
    """Decode and parse a JSON-lines file: the records as a frame, their line numbers, the problems."""
    text, problems = _decode(path, path.read_bytes(), skip_invalid)
    records, lines = _parse_json_lines(path, text, skip_invalid, problems)
    raw = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    return raw, lines, problems


def _parse_json_lines(path: Path, text: str, skip_invalid: bool, problems: list[Problem]) -> tuple[list[dict], list[int]]:
    records, lines = [], []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError(f"expected a JSON object, found {type(record).__name__}")
        except (json.JSONDecodeError, ValueError) as error:
            message = (f"malformed JSON: {error.msg} (column {error.colno})"
                       if isinstance(error, json.JSONDecodeError) else str(error))
            problem = Problem(str(path), f"line {number}", None, message)
            if not skip_invalid:
                raise InputError(problem) from None
            problems.append(problem)
            continue
        nested = next((k for k in _STRING_COLUMNS if isinstance(record.get(k), (dict, list))), None)
        if nested is not None:
            kind = "an object" if isinstance(record[nested], dict) else "a list"
            problem = Problem(str(path), f"line {number}", nested, f"expected a string or number, found {kind}")
            if not skip_invalid:
                raise InputError(problem)
            problems.append(problem)
            continue
        records.append(record)
        lines.append(number)
    return records, lines


def _stringify(raw: pd.DataFrame) -> pd.DataFrame:
    """Identifier and text columns as strings (JSON may carry numbers), missing kept missing."""
    for column in _STRING_COLUMNS:
        if column in raw.columns and pd.api.types.infer_dtype(raw[column], skipna=True) not in ("string", "empty"):
            values = raw[column]
            raw[column] = values.astype(str).where(values.notna(), None)
    return raw


def _read_parquet(path: Path, skip_invalid: bool) -> tuple[pd.DataFrame, list[Problem]]:
    try:
        raw = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several types for corrupt files
        raise InputError(Problem(str(path), "file", None, f"not a readable Parquet file: {error}")) from None
    raw = _stringify(raw.reset_index(drop=True))
    raw[LOCATION] = [f"row {i + 1}" for i in range(len(raw))]
    return raw, []


def _load_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(Problem(str(path), "file", None, "missing file of the ConvoKit corpus")) from None
    except UnicodeDecodeError as error:
        raise InputError(Problem(str(path), f"byte {error.start}", None, "undecodable bytes (not UTF-8)")) from None
    except json.JSONDecodeError as error:
        raise InputError(Problem(str(path), f"line {error.lineno}", None, f"malformed JSON: {error.msg}")) from None
    if not isinstance(value, dict):
        raise InputError(Problem(str(path), "line 1", None, "expected a JSON object"))
    return value


def _meta(entry: object) -> dict:
    """ConvoKit stores metadata either as the value itself or under a 'meta' key (newer dumps)."""
    if isinstance(entry, dict) and "meta" in entry and set(entry) <= {"meta", "vectors"}:
        return entry["meta"] or {}
    return entry if isinstance(entry, dict) else {}


def _read_convokit(path: Path, skip_invalid: bool) -> tuple[pd.DataFrame, list[Problem]]:
    utterance_file = path / "utterances.jsonl"
    if not utterance_file.exists():
        raise InputError(Problem(str(utterance_file), "file", None, "missing file of the ConvoKit corpus"))
    raw, lines, problems = _json_records(utterance_file, skip_invalid)
    if "meta" in raw.columns:
        meta = pd.json_normalize(raw["meta"].map(lambda m: m if isinstance(m, dict) else {}).tolist(), max_level=0)
        meta.columns = [c if c not in raw.columns else f"meta.{c}" for c in meta.columns]
        raw = pd.concat([raw.drop(columns=["meta"]), meta], axis=1)
    unused = [c for c in ("vectors", "timestamp", "reply_to") if c in raw.columns and (c == "vectors" or raw[c].isna().all())]
    raw = raw.drop(columns=unused)
    for name, prefix, key in (("speakers.json", "speaker.", SPEAKER), ("conversations.json", "conversation.", CONVERSATION)):
        entries = _load_json(path / name) if (path / name).exists() else {}
        meta = pd.DataFrame.from_dict({k: _meta(v) for k, v in entries.items()}, orient="index")
        if len(meta.columns) and key in raw.columns:
            meta = meta.add_prefix(prefix)
            raw = raw.join(meta, on=key)
    raw = _stringify(raw)
    raw[LOCATION] = [f"line {n}" for n in lines]
    return raw, problems


def write(table: pd.DataFrame, path: str | Path, format: str | None = None) -> Path:
    """Write an utterance table (CSV, JSONL, Parquet or a ConvoKit corpus directory)."""
    path = Path(path)
    format = format or (infer_format(path) if path.suffix else "convokit")
    table = table.copy(deep=False)
    table.attrs = {}  # read reports (skipped rows) are not data
    path.parent.mkdir(parents=True, exist_ok=True)
    if format == "csv":
        flat = table.copy()
        if "topics" in flat.columns:
            flat["topics"] = flat["topics"].map(lambda v: TOPIC_SEPARATOR.join(v) if isinstance(v, (list, tuple, np.ndarray)) else v)
        flat.to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)
    elif format == "jsonl":
        table.to_json(path, orient="records", lines=True, force_ascii=False, date_format="iso")
    elif format == "parquet":
        table.to_parquet(path, index=False)
    elif format == "convokit":
        _write_convokit(table, path)
    else:
        raise ValueError(f"unknown format '{format}'; use one of {', '.join(FORMATS)}")
    return path


def _plain(value: object) -> object:
    """JSON-serialisable Python value."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return value


def _write_convokit(table: pd.DataFrame, path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    core = ["id", SPEAKER, CONVERSATION, "reply_to", "timestamp", TEXT]
    speaker_cols = [c for c in table.columns if c.startswith("speaker.")]
    conversation_cols = [c for c in table.columns if c.startswith("conversation.")]
    meta_cols = [c for c in table.columns if c not in core + speaker_cols + conversation_cols]
    with open(path / "utterances.jsonl", "w", encoding="utf-8") as handle:
        for row in table.to_dict(orient="records"):
            record = {c: _plain(row.get(c)) for c in core}
            record["meta"] = {c.removeprefix("meta."): _plain(row[c]) for c in meta_cols}
            record["vectors"] = []
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    for name, key, columns, prefix in (
        ("speakers.json", SPEAKER, speaker_cols, "speaker."),
        ("conversations.json", CONVERSATION, conversation_cols, "conversation."),
    ):
        groups = table.drop_duplicates(key)[[key, *columns]]
        entries = {
            str(row[key]): {c.removeprefix(prefix): _plain(row[c]) for c in columns}
            for row in groups.to_dict(orient="records")
        }
        (path / name).write_text(json.dumps(entries, ensure_ascii=False, indent=1), encoding="utf-8")
    (path / "corpus.json").write_text(json.dumps({"generator": "reciprocity"}), encoding="utf-8")
    index = {
        "utterances-index": {c.removeprefix("meta."): [str(table[c].dtype)] for c in meta_cols},
        "speakers-index": {c.removeprefix("speaker."): [str(table[c].dtype)] for c in speaker_cols},
        "conversations-index": {c.removeprefix("conversation."): [str(table[c].dtype)] for c in conversation_cols},
        "overall-index": {"generator": ["str"]},
        "version": 1,
        "vectors": [],
    }
    (path / "index.json").write_text(json.dumps(index, indent=1), encoding="utf-8")
