// Typing test: compiled with `tsc --noEmit --strict` against the installed package by
// scripts/test-node, so index.d.ts and native.d.ts stay true to the public API.
import { currentSpan, extract, inject, Span, SpanContext, SpanKind, StatusCode, Telemetry, validateConnectOptions, withSpan } from 'dagnats-observe'
import type { Attributes, LogRecord, MetricRecord, SpanRecord, TelemetryFormat } from 'dagnats-observe'
import { headers } from 'nats'

export async function usesTheWholeApi(): Promise<number> {
  const tel: Telemetry = await Telemetry.connect({ servers: ['nats://127.0.0.1:4222'], service: 'worker', tls: { caFile: 'ca.pem' } })
  const servers: string[] = validateConnectOptions({ servers: 'nats://127.0.0.1:4222', user: 'u', pass: 'p' })
  void servers
  const memory = Telemetry.inMemory('test')
  const attributes: Attributes = { run_id: 'r-42', attempt: 2, big: 2n, cached: false }
  const span: Span = memory.tracer.startSpan('step', { kind: SpanKind.Server, attributes })
  span.setAttribute('k', 1).setStatus(StatusCode.Ok, 'fine').addEvent('e', { n: 1 }).recordError(new Error('x'))
  span.end()
  const n: number = memory.tracer.startActiveSpan('sync', (s: Span) => {
    s.setAttributes({ a: 'b' })
    return 5
  })
  const later: Promise<string> = memory.tracer.startActiveSpan('async', { parent: null }, async () => 'x')
  const msgHeaders = inject(headers(), { span })
  const plain: Record<string, string | string[]> = inject({}, { event: { trace_parent: '' } })
  const parent: SpanContext | null = extract(msgHeaders, { trace_parent: 'x' })
  const baggage: string = span.spanContext.baggage
  extract(new Map([['traceparent', ['00-...']]]))
  const current: Span | SpanContext | undefined = currentSpan()
  const sum: number = withSpan(parent, (a: number) => a + 1, 1)
  const spans: SpanRecord[] = memory.finishedSpans()
  const logs: LogRecord[] = memory.finishedLogs()
  const metrics: MetricRecord[] = memory.finishedMetrics()
  memory.logger.info('message', { a: 1 }, { error: new Error('e'), span: null })
  memory.metrics.counter('c').add(1, { a: 'b' })
  memory.metrics.gauge('g').set(1)
  memory.metrics.histogram('h').record(1.5)
  await tel.flush(1000)
  await tel.close()
  const stats = tel.stats
  return n + sum + spans.length + logs.length + metrics.length + (await later).length + (current ? 1 : 0) +
    Object.keys(plain).length + (stats?.published ?? 0) + tel.dropped
}

// The format option: the two names only (the typing test is compiled, never run).
export async function choosesTheFormat(): Promise<void> {
  const format: TelemetryFormat = 'engine'
  const engine = await Telemetry.connect({ servers: 'nats://127.0.0.1:4222', format })
  const records = await Telemetry.connect({ format: 'records' })
  // @ts-expect-error: neither 'records' nor 'engine'
  await Telemetry.connect({ format: 'otlp' })
  await engine.close()
  await records.close()
}
