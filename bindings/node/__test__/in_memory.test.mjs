// In-memory mode (for users' tests): span, log and metric records with the wire fields;
// and the package itself: `require` and `import` give the same objects.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { describe, test } from 'node:test'

import * as esm from 'dagnats-observe'
import observeDefault, { SpanKind, StatusCode, Telemetry } from 'dagnats-observe'

const require = createRequire(import.meta.url)
const HEX32 = /^[0-9a-f]{32}$/
const HEX16 = /^[0-9a-f]{16}$/
const RFC3339_NANOS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/

describe('in-memory mode', () => {
  test('finishedSpans returns wire records as plain objects', () => {
    const tel = Telemetry.inMemory('node-worker')
    assert.equal(tel.service, 'node-worker')
    assert.equal(tel.stats, null)
    const parent = tel.tracer.startSpan('engine.dispatch', { kind: SpanKind.Producer })
    const span = tel.tracer.startSpan('worker.executeTask', {
      parent,
      kind: SpanKind.Server,
      attributes: { run_id: 'r-42', step_id: 'build' },
    })
    span.setAttribute('attempt', 2).setAttribute('cached', false)
    span.addEvent('cache.miss', { tier: 'l2' })
    span.setStatus(StatusCode.Ok, 'built')
    assert.match(span.traceId, HEX32)
    assert.match(span.spanId, HEX16)
    assert.equal(span.traceparent, `00-${span.traceId}-${span.spanId}-01`)
    assert.equal(span.spanContext.traceparent, span.traceparent)
    assert.equal(span.spanContext.isRemote, false)
    assert.equal(span.spanContext.isSampled, true)
    span.end()
    parent.end()

    const [child, root] = tel.finishedSpans()
    assert.deepEqual(Object.keys(child).sort(), [
      'attributes', 'duration_ms', 'end_time', 'events', 'flags', 'kind', 'name', 'parent_id', 'service',
      'span_id', 'start_time', 'status', 'status_message', 'trace_id',
    ])
    assert.equal(child.trace_id, span.traceId)
    assert.equal(child.span_id, span.spanId)
    assert.equal(child.parent_id, parent.spanId)
    assert.equal(child.trace_id, root.trace_id)
    assert.equal(child.name, 'worker.executeTask')
    assert.equal(child.service, 'node-worker')
    assert.equal(child.kind, 'server')
    assert.equal(root.kind, 'producer')
    assert.match(child.start_time, RFC3339_NANOS)
    assert.match(child.end_time, RFC3339_NANOS)
    assert.ok(child.end_time >= child.start_time)
    assert.equal(typeof child.duration_ms, 'number')
    assert.equal(child.status, 'ok')
    assert.equal(child.status_message, 'built')
    assert.deepEqual(child.attributes, { run_id: 'r-42', step_id: 'build', attempt: 2, cached: false })
    assert.equal(child.events[0].name, 'cache.miss')
    assert.deepEqual(child.events[0].attributes, { tier: 'l2' })
    assert.match(child.events[0].time, RFC3339_NANOS)
    assert.equal(root.parent_id, undefined)
    assert.equal(root.status, 'unset')

    tel.clearFinished()
    assert.deepEqual(tel.finishedSpans(), [])
  })

  test('logs carry the current span; metrics carry their tags', () => {
    const tel = Telemetry.inMemory('node-worker')
    tel.tracer.startActiveSpan('step', (span) => {
      tel.logger.info('step started', { step_id: 'build', attempt: 1 })
      tel.logger.error('step failed', null, { error: new Error('disk full') })
      tel.logger.warn('unlinked', undefined, { span: null })
      tel.logger.debug('explicit', {}, { span })
      return span
    })
    tel.logger.trace('outside')
    const logs = tel.finishedLogs()
    const span = tel.finishedSpans()[0]
    assert.deepEqual(
      logs.map((l) => [l.level, l.message, l.span_id ?? null]),
      [
        ['info', 'step started', span.span_id],
        ['error', 'step failed', span.span_id],
        ['warn', 'unlinked', null],
        ['debug', 'explicit', span.span_id],
        ['trace', 'outside', null],
      ],
    )
    assert.equal(logs[0].trace_id, span.trace_id)
    assert.deepEqual(logs[0].fields, { step_id: 'build', attempt: 1 })
    assert.equal(logs[1].error, 'disk full')
    assert.equal(logs[0].service, 'node-worker')
    assert.match(logs[0].timestamp, RFC3339_NANOS)

    tel.metrics.counter('tasks.completed').add(1, { queue: 'default' })
    tel.metrics.gauge('queue.depth').set(12)
    tel.metrics.histogram('task.duration_ms').record(35.5, { step: 'build' })
    tel.metrics.counter('tasks.completed').add(-1) // ignored: a counter only grows
    assert.deepEqual(
      tel.finishedMetrics().map((m) => [m.name, m.type, m.value, m.tags ?? null]),
      [
        ['tasks.completed', 'counter', 1, { queue: 'default' }],
        ['queue.depth', 'gauge', 12, null],
        ['task.duration_ms', 'histogram', 35.5, { step: 'build' }],
      ],
    )
  })

  test('flush and close resolve; finished records are only for in-memory', async () => {
    const tel = Telemetry.inMemory('node-worker')
    await tel.flush()
    await tel.flush(10)
    await tel.close()
    const off = Telemetry.noop('off')
    off.tracer.startSpan('discarded').end()
    assert.throws(() => off.finishedSpans(), TypeError)
    assert.throws(() => new Telemetry(), TypeError)
  })

  test('spans that are never ended are ended when collected', async () => {
    if (typeof globalThis.gc !== 'function') return // needs --expose-gc
    const tel = Telemetry.inMemory('gc')
    ;(() => {
      for (let i = 0; i < 10; i++) tel.tracer.startSpan(`forgotten-${i}`)
    })()
    for (let i = 0; i < 10 && tel.finishedSpans().length < 10; i++) {
      globalThis.gc()
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    assert.equal(tel.finishedSpans().length, 10)
  })
})

describe('package', () => {
  test('require and import give the same objects', () => {
    const cjs = require('dagnats-observe')
    assert.equal(cjs.Telemetry, Telemetry)
    assert.equal(cjs, observeDefault)
    for (const name of Object.keys(cjs)) assert.equal(esm[name], cjs[name], name)
    assert.deepEqual(Object.keys(cjs).sort(), [
      'Counter', 'Gauge', 'Histogram', 'Logger', 'Metrics', 'Span', 'SpanContext', 'SpanKind', 'StatusCode',
      'Telemetry', 'Tracer', 'currentSpan', 'extract', 'inject', 'validateConnectOptions', 'withSpan',
    ])
    assert.equal(SpanKind.Server, 1)
    assert.equal(StatusCode.Error, 2)
  })

  test('the installed package ships the addon, the loader and the types', () => {
    const pkg = require('dagnats-observe/package.json')
    assert.equal(pkg.name, 'dagnats-observe')
    const dir = require.resolve('dagnats-observe').replace(/index\.js$/, '')
    const { readdirSync } = require('node:fs')
    const files = readdirSync(dir)
    for (const f of ['index.js', 'index.mjs', 'index.d.ts', 'native.js', 'native.d.ts', 'package.json']) {
      assert.ok(files.includes(f), `${f} in ${files}`)
    }
    assert.ok(files.some((f) => f.endsWith('.node')), 'the compiled addon')
  })
})
