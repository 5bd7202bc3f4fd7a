// Types of dagnats-observe. The native classes and their docs come from native.d.ts,
// generated from the Rust source by `napi build`; this file declares the JavaScript glue
// of index.js (Telemetry, Tracer, Logger, inject/extract, the current span).

import type {
  Attributes,
  AttributeValue,
  CollectorStats,
  ConnectOptions,
  Metrics,
  NativeTelemetry,
  SpanKind,
  StatusCode,
  TlsConnectOptions,
} from './native'

export { Metrics, Counter, Gauge, Histogram, SpanKind, StatusCode, validateConnectOptions } from './native'
export type { Attributes, AttributeValue, CollectorStats, ConnectOptions, TelemetryFormat, TlsConnectOptions } from './native'

/**
 * The identity of a span as it travels between processes: what `extract` reads from a
 * message and what a span gives to `inject`. Pass it as `parent` to continue the trace.
 * Immutable.
 */
export declare class SpanContext {
  private constructor(token: never, traceState: string, baggage: string)
  /** The trace id: 32 lowercase hex characters. */
  get traceId(): string
  /** The span id: 16 lowercase hex characters. */
  get spanId(): string
  /** The W3C trace flags (0-255), carried unchanged. */
  get traceFlags(): number
  /** Whether the `sampled` flag is set. */
  get isSampled(): boolean
  /** The W3C `tracestate` list, normalized; `""` when there is none. */
  get traceState(): string
  /**
   * The W3C `baggage` list, normalized (invalid members dropped, no optional white
   * space); `""` when there is none. Carried unchanged to child spans and the next hop.
   */
  get baggage(): string
  /** True when this context was read from a message rather than created here. */
  get isRemote(): boolean
  /** The `traceparent` header value (version `00`). */
  get traceparent(): string
}

/**
 * A span being recorded. Started by `tracer.startSpan` or `tracer.startActiveSpan`.
 * Every call on an ended span does nothing; ending twice does nothing. The setters
 * return the span, for chaining. A span that is garbage-collected without `end()` is
 * ended then (as the Rust core ends a dropped span): call `end()` yourself.
 */
export declare class Span {
  private constructor(token: never, handle: number, traceState: string, baggage: string)
  /** The trace id: 32 lowercase hex characters. */
  get traceId(): string
  /** The span id: 16 lowercase hex characters. */
  get spanId(): string
  /** The `traceparent` header value naming this span as the next hop's parent. */
  get traceparent(): string
  /** True until the span ends. */
  get isRecording(): boolean
  /** The span's identity, to propagate or to parent other spans. */
  get spanContext(): SpanContext
  /**
   * Sets one attribute, replacing an earlier value of the same key. Safe integers are
   * written as int64, other numbers as float64, bigints as int64 (a RangeError outside
   * that range). Any other value is a TypeError naming the key.
   */
  setAttribute(key: string, value: AttributeValue): this
  /** Sets every attribute of a plain object. */
  setAttributes(attributes: Attributes): this
  /**
   * Sets the status (OpenTelemetry's rules: `Unset` never overrides, `Ok` is final); the
   * description is kept in the record's `status_message`.
   */
  setStatus(code: StatusCode, description?: string | null): this
  /**
   * Records anything thrown: error status, its message in the record's `error`, and an
   * `exception` event with `exception.message` and `exception.type` (the class name).
   */
  recordError(error: unknown): this
  /** Adds a timestamped event with optional attributes. */
  addEvent(name: string, attributes?: Attributes | null): this
  /** Renames the span. */
  updateName(name: string): this
  /** Ends the span and hands its record on; never waits for the network. A second call does nothing. */
  end(): void
}

/** Options of `tracer.startSpan` and `tracer.startActiveSpan`. */
export interface SpanOptions {
  /** The span kind; default `SpanKind.Internal`. */
  kind?: SpanKind
  /** Initial attributes. */
  attributes?: Attributes
  /**
   * The parent: a Span, or a SpanContext returned by `extract`. When omitted the
   * current span is the parent; `null` starts a new trace.
   */
  parent?: Span | SpanContext | null
}

/** Starts spans; `telemetry.tracer`. */
export declare class Tracer {
  private constructor(token: never, nativeTelemetry: NativeTelemetry)
  /** The service name stamped on every span. */
  get service(): string
  /** Starts a span; the caller ends it. The current span is the parent unless `options.parent` says otherwise. */
  startSpan(name: string, options?: SpanOptions | null): Span
  /**
   * Starts a span, makes it current for `fn` and everything `fn` awaits, and ends it when
   * `fn` returns or its promise settles. A thrown error or rejection is recorded on the
   * span and rethrown. Returns what `fn` returns.
   */
  startActiveSpan<T>(name: string, fn: (span: Span) => T): T
  startActiveSpan<T>(name: string, options: SpanOptions | null | undefined, fn: (span: Span) => T): T
}

/** A log level name. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error'

/** Options of a log call. */
export interface LogOptions {
  /** Anything thrown; its message goes into the record's `error`. */
  error?: unknown
  /** The span the record belongs to; default the current span, `null` for none. */
  span?: Span | SpanContext | null
}

/** Writes log records linked to the current span; `telemetry.logger`. */
export declare class Logger {
  private constructor(token: never, nativeTelemetry: NativeTelemetry)
  /** Writes a record at `level`. */
  log(level: LogLevel, message: string, fields?: Attributes | null, options?: LogOptions | null): void
  /** A `trace` record. */
  trace(message: string, fields?: Attributes | null, options?: LogOptions | null): void
  /** A `debug` record. */
  debug(message: string, fields?: Attributes | null, options?: LogOptions | null): void
  /** An `info` record. */
  info(message: string, fields?: Attributes | null, options?: LogOptions | null): void
  /** A `warn` record. */
  warn(message: string, fields?: Attributes | null, options?: LogOptions | null): void
  /** An `error` record. */
  error(message: string, fields?: Attributes | null, options?: LogOptions | null): void
}

/** A finished span as published on `telemetry.spans.{service}.{run_id}`. */
export interface SpanRecord {
  trace_id: string
  span_id: string
  parent_id?: string
  name: string
  service: string
  kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer'
  start_time: string
  end_time: string
  duration_ms: number
  status: 'unset' | 'ok' | 'error'
  status_message?: string
  attributes?: Record<string, string | number | boolean>
  events?: Array<{ name: string; time: string; attributes?: Record<string, string | number | boolean> }>
  error?: string
  trace_state?: string
  links?: Array<{ trace_id: string; span_id: string; attributes?: Record<string, string | number | boolean> }>
  flags?: number
  parent_is_remote?: boolean
}

/** A log record as published on `telemetry.logs.{service}.{level}`. */
export interface LogRecord {
  level: LogLevel
  message: string
  service: string
  trace_id?: string
  span_id?: string
  fields?: Record<string, string | number | boolean>
  timestamp: string
  error?: string
}

/** A metric point as published on `telemetry.metrics.{service}.{name}`. */
export interface MetricRecord {
  name: string
  type: 'counter' | 'gauge' | 'histogram'
  value: number
  tags?: Record<string, string>
  service: string
  timestamp: string
}

/** Tracer, logger and metrics for one service, delivering to one place. */
export declare class Telemetry {
  private constructor(token: never, nativeTelemetry: NativeTelemetry)
  /**
   * Connects to NATS without blocking the event loop and resolves to a Telemetry that
   * publishes to the TELEMETRY stream. `servers` defaults to `NATS_URL`, `service` to
   * `OTEL_SERVICE_NAME`, `format` to `DAGNATS_TELEMETRY_FORMAT` (else `'records'`). An
   * unreachable server is not an error (records wait); bad credentials, TLS failures and
   * bad URLs reject, and so does an unknown format (`TypeError`, code
   * `ERR_DAGNATS_UNKNOWN_FORMAT`, naming the accepted values).
   */
  static connect(options?: ConnectOptions | null): Promise<Telemetry>
  /** A Telemetry that keeps every record in memory, for tests. */
  static inMemory(service: string): Telemetry
  /** A Telemetry that discards every record. */
  static noop(service: string): Telemetry
  /** Starts spans. */
  readonly tracer: Tracer
  /** Writes log records. */
  readonly logger: Logger
  /** Creates counters, gauges and histograms. */
  readonly metrics: Metrics
  /** The service name stamped on every record. */
  get service(): string
  /** Records dropped so far. */
  get dropped(): number
  /** The collector's delivery counters, or `null` unless connected to NATS. */
  get stats(): CollectorStats | null
  /** Resolves when every record so far is delivered; rejects (code `ERR_DAGNATS_TIMEOUT`) after `timeoutMs` (default 5000). */
  flush(timeoutMs?: number | null): Promise<void>
  /** Delivers what is pending (at most `timeoutMs`, default 5000) and stops. */
  close(timeoutMs?: number | null): Promise<void>
  /** In-memory mode: the finished spans as wire records, in end order. */
  finishedSpans(): SpanRecord[]
  /** In-memory mode: the finished spans as their exact wire JSON (an array). */
  finishedSpansJson(): string
  /** In-memory mode: the log records. */
  finishedLogs(): LogRecord[]
  /** In-memory mode: the metric points. */
  finishedMetrics(): MetricRecord[]
  /** In-memory mode: forgets every record kept so far. */
  clearFinished(): void
}

/** Something with nats.js `MsgHdrs`' methods. */
export interface MsgHdrsLike {
  get(name: string): string
  set(name: string, value: string): void
  keys(): string[] | Iterable<string>
  values(name: string): string[]
  delete(name: string): void
}

/** Message headers: a plain object (values a string or an array of strings), a Map, or nats.js MsgHdrs. */
export type Headers = Record<string, string | string[]> | Map<string, string | string[]> | MsgHdrsLike

/** A DagNats event object: the engine's trace context fields. */
export interface TraceEvent {
  trace_parent?: unknown
  trace_state?: unknown
  [field: string]: unknown
}

/** Options of `inject`. */
export interface InjectOptions {
  /** The span whose context is written; default the current span. */
  span?: Span | SpanContext | null
  /** A DagNats event object to write `trace_parent`/`trace_state` into as well. */
  event?: TraceEvent | null
}

/**
 * Writes the trace context (`traceparent`, `tracestate`) and the baggage (`baggage`,
 * when there is some) of `options.span` (default: the current span) into `headers`,
 * created as a plain object when omitted, in lowercase names, replacing those names in
 * any spelling; and the trace context into `options.event` when given. Returns the headers.
 */
export declare function inject<H extends Headers = Record<string, string | string[]>>(headers?: H | null, options?: InjectOptions | null): H

/**
 * Reads the remote span context of an incoming message from its headers (names in any
 * case; `traceparent`, `tracestate` and `baggage`), falling back to the event's
 * `trace_parent`/`trace_state`. Returns `null` when
 * there is none (start a new trace).
 */
export declare function extract(headers: Headers | null | undefined, event?: TraceEvent | null): SpanContext | null

/** The current span of this asynchronous flow, if any. */
export declare function currentSpan(): Span | SpanContext | undefined

/** Runs `fn(...args)` with `span` current for it and everything it awaits; does not end the span. */
export declare function withSpan<A extends unknown[], R>(span: Span | SpanContext | null | undefined, fn: (...args: A) => R, ...args: A): R
