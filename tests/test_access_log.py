"""`advisor serve` writes uvicorn's access line through a cheaper formatter
(app/web/access_log.py): operators' log parsers must see exactly uvicorn's line."""

from __future__ import annotations

import importlib
import io
import logging

import pytest
from uvicorn.logging import AccessFormatter

from app.cli import _server_log_config
from app.web.access_log import AccessLineFormatter

REQUESTS = [("127.0.0.1:5555", "POST", "/api/v1/recommendations", "1.1", 200),
            ("[::1]:80", "GET", "/r/abc?x=%20y", "1.1", 404),
            ("10.0.0.1:1", "DELETE", "/api/v1/reports/x", "2", 422),
            ("unknown", "GET", "/", "1.0", 599)]  # a status http.HTTPStatus does not know


def _line(formatter: logging.Formatter, args: tuple, level: int = logging.INFO) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.Logger("uvicorn.access.test")
    logger.addHandler(handler)
    logger.log(level, '%s - "%s %s HTTP/%s" %d', *args)
    return stream.getvalue()


@pytest.mark.parametrize("use_colors", [False, True])
@pytest.mark.parametrize("args", REQUESTS)
def test_the_access_line_is_uvicorns(args, use_colors):
    fmt = _server_log_config()["formatters"]["access"]["fmt"]
    for level in (logging.INFO, logging.WARNING):
        assert _line(AccessLineFormatter(fmt, use_colors=use_colors), args, level) == \
            _line(AccessFormatter(fmt, use_colors=use_colors), args, level)


def test_the_server_uses_it():
    # Resolved as logging.config resolves it, without configuring this process's logging.
    factory = _server_log_config()["formatters"]["access"]["()"]
    module, _, name = factory.rpartition(".")
    assert getattr(importlib.import_module(module), name) is AccessLineFormatter


def test_other_format_styles_are_uvicorns_too():
    for fmt, style in (('{levelprefix} {client_addr} - "{request_line}" {status_code}', "{"),
                       ('$levelprefix $client_addr - "$request_line" $status_code', "$")):
        lean = AccessLineFormatter(fmt, style=style, use_colors=False)
        assert _line(lean, REQUESTS[0]) == _line(AccessFormatter(fmt, style=style,
                                                                 use_colors=False), REQUESTS[0])
        assert "POST /api/v1/recommendations" in _line(lean, REQUESTS[0])
