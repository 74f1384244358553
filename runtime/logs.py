"""Structured JSON logs with request, tenant and trace ids; secrets never reach a log line.

`configure_logging` is called once by the process entry point. Fields passed with `extra=` become
JSON keys (or `key=value` pairs in the text format); keys that look like credentials are masked as a
second line of defence (the first is not to log them at all). uvicorn's terminal decorations
(`color_message`, ANSI escapes) never reach a line, and its per-socket websocket lines are DEBUG:
the dojo service logs a socket's life itself (`dojo.socket_log`).
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import time
from typing import Any

import orjson
from opentelemetry import trace

from runtime.context import request_id_var, request_info_var

_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of its message with ANSI colour codes, for terminals
}
_SECRET_WORDS = ("password", "token", "secret", "authorization", "cookie", "ticket", "credential")


@functools.lru_cache(maxsize=4096)
def _is_secret(key: str) -> bool:
    """Whether a field name looks like a credential (remembered per name: a process logs few names)."""
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def _masked(key: str, value: Any) -> Any:
    return "***" if _is_secret(key) else value


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a record carries beyond the standard ones (from `extra=`), credentials masked."""
    return {
        key: _masked(key, value)
        for key, value in record.__dict__.items()
        if key not in _RESERVED and not key.startswith("_")
    }


@functools.lru_cache(maxsize=4)
def _second(seconds: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS` of a Unix second (UTC); records of the same second share it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, ids, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": f"{_second(int(record.created))}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Ids from the request context, unless the record carries its own (set with `extra=`).
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        info = request_info_var.get()
        if info is not None and info.tenant_id:
            entry["tenant_id"] = info.tenant_id
        # The trace the line belongs to (a kept one): from a log line to its trace in X-Ray and back.
        span = trace.get_current_span().get_span_context()
        if span.trace_flags.sampled:
            entry["trace_id"] = f"{span.trace_id:032x}"
        entry.update(_extras(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value ...` for a terminal (`POCDOJO_LOG_JSON=false`): the same fields
    as the JSON lines, so an access line shows its service, method, route, status and duration."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        fields = " ".join(f"{key}={_text_value(value)}" for key, value in _extras(record).items())
        return f"{line} {fields}" if fields else line


def _text_value(value: Any) -> str:
    text = str(value)
    return orjson.dumps(text).decode() if not text or any(c.isspace() or c in '"=' for c in text) else text


_QUERY_SECRET_RE = re.compile(r"((?:ticket|token|access_token)=)[^&\s\"']+", re.IGNORECASE)


class QuietUvicornWebSockets(logging.Filter):
    """uvicorn logs every websocket upgrade at INFO (`<client> - "WebSocket <path>" [accepted]`, with the
    query string): those lines become DEBUG. The dojo service logs a socket's life itself, with its room,
    tenant, user, close code and duration (`dojo.socket_log`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and isinstance(record.msg, str) and '"WebSocket ' in record.msg:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


class RedactQuerySecrets(logging.Filter):
    """Masks `ticket=`/`token=` values in log lines (uvicorn logs websocket paths with their query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "=" in message:
            redacted = _QUERY_SECRET_RE.sub(r"\1***", message)
            if redacted != message:
                record.msg, record.args = redacted, ()
        return True


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    handler.addFilter(RedactQuerySecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log duplicates ours (ours carries request ids and no query strings).
    logging.getLogger("uvicorn.access").disabled = True
    uvicorn_errors = logging.getLogger("uvicorn.error")
    for existing in [f for f in uvicorn_errors.filters if isinstance(f, QuietUvicornWebSockets)]:
        uvicorn_errors.removeFilter(existing)
    uvicorn_errors.addFilter(QuietUvicornWebSockets())
