"""The access log's line, written at about half of uvicorn's cost per request.

uvicorn's AccessFormatter copies each log record twice and looks the status phrase up
through an enum; at thousands of requests a second that was about a tenth of the CPU spent
on a scored request (`advisor bench server`). This formatter writes the same line from the
same format string without either when colours are off (output to a file, a pipe or a
journal); a terminal, with colours, gets uvicorn's own formatting."""

from __future__ import annotations

import http
import logging
from typing import Any

from uvicorn.logging import AccessFormatter

_STATUS = {status.value: f"{status.value} {status.phrase}" for status in http.HTTPStatus}


class _Fields(dict):
    """The line's own fields, then the record's (for a format naming others)."""

    def __init__(self, fields: dict[str, Any], record: logging.LogRecord):
        super().__init__(fields)
        self.record = record

    def __missing__(self, key: str) -> Any:
        return self.record.__dict__[key]


class AccessLineFormatter(AccessFormatter):
    """uvicorn's AccessFormatter, without copying the record when colours are off."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        style = self._style
        if self.use_colors or type(style) is not logging.PercentStyle or style._defaults:
            return super().formatMessage(record)  # colours, {}/$ formats, defaults: uvicorn's
        client_addr, method, full_path, http_version, status_code = record.args  # type: ignore[misc]
        status = int(status_code)
        return style._fmt % _Fields({  # type: ignore[operator]
            "levelprefix": record.levelname + ":" + " " * (8 - len(record.levelname)),
            "client_addr": client_addr,
            "request_line": f"{method} {full_path} HTTP/{http_version}",
            "status_code": _STATUS.get(status) or f"{status} ",
        }, record)
