"""A ``logging.Handler`` that sends standard-library log records to TELEMETRY."""

from __future__ import annotations

import logging
import traceback
from typing import Any, Dict

from ._native import Logger

_LEVELS = (
    (logging.ERROR, "error"),
    (logging.WARNING, "warn"),
    (logging.INFO, "info"),
    (logging.DEBUG, "debug"),
)

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


def _level(levelno: int) -> str:
    for threshold, name in _LEVELS:
        if levelno >= threshold:
            return name
    return "trace"


def _field(value: Any) -> Any:
    return value if isinstance(value, (str, bool, float)) or (isinstance(value, int) and -(2**63) <= value < 2**63) else str(value)


class TelemetryHandler(logging.Handler):
    """Sends log records through a Telemetry logger, linked to the current span.

        logging.getLogger().addHandler(TelemetryHandler(tel.logger))

    Fields: the logger name, the source location, and every ``extra=`` value (values
    that are not str/int/float/bool are sent as their ``str()``). An exception
    (``logger.exception(...)``) becomes the record's ``error``.
    """

    def __init__(self, logger: Logger, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._logger = logger

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields: Dict[str, Any] = {
                "logger": record.name,
                "code.function": record.funcName,
                "code.lineno": record.lineno,
                "code.filepath": record.pathname,
            }
            for key, value in vars(record).items():
                if key not in _STANDARD and not key.startswith("_"):
                    fields[key] = _field(value)
            error = None
            if record.exc_info and record.exc_info[1] is not None:
                error = "".join(traceback.format_exception_only(record.exc_info[0], record.exc_info[1])).strip()
            self._logger.log(_level(record.levelno), record.getMessage(), error=error, fields=fields)
        except Exception:
            self.handleError(record)
