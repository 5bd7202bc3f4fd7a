"""Type stubs of the native module (the user-facing API lives here and in __init__).

Checked against the built module by ``python -m mypy.stubtest`` in scripts/test-python.
"""

import contextvars
from os import PathLike
from types import TracebackType
from typing import Any, Callable, ClassVar, Dict, List, Mapping, MutableMapping, Optional, Tuple, Type, TypeVar, Union, final

from typing_extensions import Literal, TypeAlias, TypedDict, Unpack

_AttributeValue: TypeAlias = Union[str, int, float, bool]
_Attributes: TypeAlias = Mapping[str, _AttributeValue]
_F = TypeVar("_F", bound=Callable[..., Any])
_MutableHeaders = TypeVar("_MutableHeaders", bound=MutableMapping[str, Any])
_Format: TypeAlias = Union["TelemetryFormat", Literal["records", "engine"]]

__all__ = [
    "SpanKind",
    "StatusCode",
    "SpanContext",
    "Span",
    "Tracer",
    "Telemetry",
    "TelemetryFormat",
    "Logger",
    "Metrics",
    "Counter",
    "Gauge",
    "Histogram",
    "TelemetryError",
    "ConnectError",
    "FlushTimeoutError",
    "extract",
    "inject",
    "after_fork_in_child",
    "validate_connect_options",
    "current_span_var",
    "__version__",
]

__version__: str
current_span_var: contextvars.ContextVar[Optional["Span"]]

class TelemetryError(Exception): ...
class ConnectError(TelemetryError): ...
class FlushTimeoutError(TelemetryError): ...

# The two enums are native classes (not enum.Enum): members compare equal to their
# numbers, hash as those numbers and convert with int(); they cannot be iterated.
@final
class SpanKind:
    INTERNAL: ClassVar["SpanKind"]
    SERVER: ClassVar["SpanKind"]
    CLIENT: ClassVar["SpanKind"]
    PRODUCER: ClassVar["SpanKind"]
    CONSUMER: ClassVar["SpanKind"]
    def __int__(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class StatusCode:
    UNSET: ClassVar["StatusCode"]
    OK: ClassVar["StatusCode"]
    ERROR: ClassVar["StatusCode"]
    def __int__(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class SpanContext:
    """A span's identity as it travels; what ``extract`` returns."""
    @property
    def trace_id(self) -> str: ...
    @property
    def span_id(self) -> str: ...
    @property
    def trace_flags(self) -> int: ...
    @property
    def trace_state(self) -> str: ...
    @property
    def baggage(self) -> str:
        """The W3C baggage list, normalized (invalid members dropped, no optional white
        space); "" when there is none. A child span carries it on; inject writes it as the
        ``baggage`` header."""
    @property
    def is_remote(self) -> bool: ...
    @property
    def traceparent(self) -> str: ...

@final
class Span:
    """A span; in a ``with`` block it is current and ends on exit."""
    def set_status(self, code: StatusCode, description: str = "") -> None: ...
    def set_attribute(self, key: str, value: _AttributeValue) -> None: ...
    def set_attributes(self, attributes: _Attributes) -> None: ...
    def record_error(self, error: Union[BaseException, str]) -> None: ...
    def add_event(self, name: str, attributes: Optional[_Attributes] = None) -> None: ...
    def end(self) -> None: ...
    @property
    def trace_id(self) -> str: ...
    @property
    def span_id(self) -> str: ...
    @property
    def traceparent(self) -> str: ...
    @property
    def span_context(self) -> SpanContext: ...
    @property
    def is_recording(self) -> bool: ...
    def __enter__(self) -> "Span": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> bool: ...

@final
class Tracer:
    def start_span(
        self,
        name: str,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Optional[_Attributes] = None,
        parent: Optional[Union[Span, SpanContext]] = None,
    ) -> Span: ...
    def traced(
        self,
        name: Optional[str] = None,
        *,
        kind: SpanKind = ...,
        attributes: Optional[_Attributes] = None,
        parent: Optional[Union[Span, SpanContext]] = None,
    ) -> Callable[[_F], _F]: ...
    @property
    def service(self) -> str: ...

@final
class Logger:
    def log(
        self,
        level: str,
        message: str,
        *,
        error: Optional[str] = None,
        span: Optional[Union[Span, SpanContext]] = None,
        fields: Optional[_Attributes] = None,
        **kwargs: _AttributeValue,
    ) -> None: ...
    def trace(self, message: str, *, error: Optional[str] = None, span: Optional[Union[Span, SpanContext]] = None, **fields: _AttributeValue) -> None: ...
    def debug(self, message: str, *, error: Optional[str] = None, span: Optional[Union[Span, SpanContext]] = None, **fields: _AttributeValue) -> None: ...
    def info(self, message: str, *, error: Optional[str] = None, span: Optional[Union[Span, SpanContext]] = None, **fields: _AttributeValue) -> None: ...
    def warning(self, message: str, *, error: Optional[str] = None, span: Optional[Union[Span, SpanContext]] = None, **fields: _AttributeValue) -> None: ...
    def error(self, message: str, *, error: Optional[str] = None, span: Optional[Union[Span, SpanContext]] = None, **fields: _AttributeValue) -> None: ...

@final
class Counter:
    def add(self, value: float = 1.0, tags: Optional[Mapping[str, str]] = None) -> None: ...

@final
class Gauge:
    def set(self, value: float, tags: Optional[Mapping[str, str]] = None) -> None: ...

@final
class Histogram:
    def record(self, value: float, tags: Optional[Mapping[str, str]] = None) -> None: ...

@final
class Metrics:
    def counter(self, name: str) -> Counter: ...
    def gauge(self, name: str) -> Gauge: ...
    def histogram(self, name: str) -> Histogram: ...

class _NatsKeywords(TypedDict, total=False):
    """The NATS keywords of Telemetry.connect and validate_connect_options; each falls
    back to its NATS_* variable (the table in the core's README)."""

    user: Optional[str]
    password: Optional[str]
    token: Optional[str]
    nkey: Optional[str]
    credentials_file: Optional[Union[str, PathLike[str]]]
    tls_required: Optional[bool]
    tls_ca_file: Optional[Union[str, PathLike[str]]]
    tls_cert_file: Optional[Union[str, PathLike[str]]]
    tls_key_file: Optional[Union[str, PathLike[str]]]
    connect_timeout: Optional[float]
    name: Optional[str]

@final
class TelemetryFormat:
    """What a connected Telemetry writes on TELEMETRY: ``RECORDS`` (the default) or
    ``ENGINE`` (the DagNats engine's dialect). ``value`` and ``str()`` give the option's
    string, ``"records"`` or ``"engine"``."""

    RECORDS: ClassVar["TelemetryFormat"]
    ENGINE: ClassVar["TelemetryFormat"]
    @property
    def value(self) -> Literal["records", "engine"]: ...
    def __int__(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

def validate_connect_options(nats_url: Optional[str] = None, **nats: Unpack[_NatsKeywords]) -> List[str]: ...
@final
class Telemetry:
    @staticmethod
    def connect(
        nats_url: Optional[str] = None,
        service: Optional[str] = None,
        *,
        buffer_capacity: Optional[int] = None,
        max_in_flight: Optional[int] = None,
        format: Optional[_Format] = None,
        **nats: Unpack[_NatsKeywords],
    ) -> "Telemetry": ...
    @staticmethod
    def in_memory(service: str) -> "Telemetry": ...
    @staticmethod
    def noop(service: str) -> "Telemetry": ...
    @property
    def tracer(self) -> Tracer: ...
    @property
    def logger(self) -> Logger: ...
    @property
    def metrics(self) -> Metrics: ...
    @property
    def dropped(self) -> int: ...
    def flush(self, timeout: float = 5.0) -> None: ...
    def close(self, timeout: float = 5.0) -> None: ...
    def stats(self) -> Optional[Dict[str, int]]: ...
    def finished_spans(self) -> List[Dict[str, Any]]: ...
    def finished_logs(self) -> List[Dict[str, Any]]: ...
    def finished_metrics(self) -> List[Dict[str, Any]]: ...
    def clear(self) -> None: ...
    def __enter__(self) -> "Telemetry": ...
    def __exit__(self, *exc: object) -> bool: ...

def extract(headers: Optional[Mapping[str, Any]] = None, event: Optional[Mapping[str, Any]] = None) -> Optional[SpanContext]: ...
def inject(
    context: SpanContext, headers: Optional[_MutableHeaders] = None, event: Optional[MutableMapping[str, Any]] = None
) -> _MutableHeaders: ...
def after_fork_in_child() -> None: ...
