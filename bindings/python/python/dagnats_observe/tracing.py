"""The current span and the ``traced`` decorator."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Mapping, Optional, TypeVar, Union

from ._native import Span, SpanContext, SpanKind, Tracer, current_span_var

F = TypeVar("F", bound=Callable[..., Any])


def current_span() -> Optional[Span]:
    """The span of the innermost ``with tracer.start_span(...)`` block, if any."""
    return current_span_var.get(None)


def traced(
    tracer: Tracer,
    name: Optional[str] = None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Optional[Mapping[str, Union[str, int, float, bool]]] = None,
    parent: Optional[Union[Span, SpanContext]] = None,
) -> Callable[[F], F]:
    """Runs the decorated function (or coroutine function) inside a current span named
    ``name`` (default: the function's qualified name). An exception it raises is
    recorded on the span and re-raised.

        @traced(tel.tracer)
        async def handle(task): ...
    """

    def decorate(func: F) -> F:
        span_name = name or func.__qualname__
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with tracer.start_span(span_name, kind=kind, attributes=attributes, parent=parent):
                    return await func(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with tracer.start_span(span_name, kind=kind, attributes=attributes, parent=parent):
                return func(*args, **kwargs)

        return run  # type: ignore[return-value]

    return decorate
