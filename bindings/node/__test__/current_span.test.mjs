// The current span through AsyncLocalStorage: across awaits, timers, and many concurrent
// requests, each seeing its own span; parents follow the current span.
import assert from 'node:assert/strict'
import { setImmediate as immediate, setTimeout as delay } from 'node:timers/promises'
import { describe, test } from 'node:test'

import { currentSpan, extract, inject, Span, Telemetry, withSpan } from 'dagnats-observe'

const byName = (records) => Object.fromEntries(records.map((r) => [r.name, r]))

describe('current span', () => {
  test('startActiveSpan makes the span current and ends it', () => {
    const tel = Telemetry.inMemory('ctx')
    assert.equal(currentSpan(), undefined)
    const returned = tel.tracer.startActiveSpan('outer', (span) => {
      assert.ok(span instanceof Span)
      assert.equal(currentSpan(), span)
      assert.equal(span.isRecording, true)
      return 42
    })
    assert.equal(returned, 42)
    assert.equal(currentSpan(), undefined)
    const [record] = tel.finishedSpans()
    assert.equal(record.name, 'outer')
    assert.equal(record.parent_id, undefined)
  })

  test('the current span is the parent when none is given; null starts a new trace', () => {
    const tel = Telemetry.inMemory('ctx')
    tel.tracer.startActiveSpan('outer', (outer) => {
      tel.tracer.startActiveSpan('inner', (inner) => {
        assert.equal(inner.traceId, outer.traceId)
        tel.tracer.startSpan('manual').end()
        tel.tracer.startSpan('root', { parent: null }).end()
      })
    })
    const spans = byName(tel.finishedSpans())
    assert.equal(spans.inner.parent_id, spans.outer.span_id)
    assert.equal(spans.manual.parent_id, spans.inner.span_id)
    assert.equal(spans.root.parent_id, undefined)
    assert.notEqual(spans.root.trace_id, spans.outer.trace_id)
  })

  test('across awaits, setTimeout and setImmediate', async () => {
    const tel = Telemetry.inMemory('ctx')
    await tel.tracer.startActiveSpan('async', async (span) => {
      await delay(5)
      assert.equal(currentSpan(), span, 'after an await')
      await new Promise((resolve) =>
        setTimeout(() => {
          assert.equal(currentSpan(), span, 'in a setTimeout callback')
          resolve()
        }, 1),
      )
      await new Promise((resolve) =>
        setImmediate(() => {
          assert.equal(currentSpan(), span, 'in a setImmediate callback')
          resolve()
        }),
      )
      await immediate()
      queueMicrotask(() => assert.equal(currentSpan(), span, 'in a microtask'))
      const child = tel.tracer.startSpan('after-timers')
      child.end()
      assert.equal(span.isRecording, true, 'not ended before the promise settles')
    })
    assert.equal(currentSpan(), undefined)
    const spans = byName(tel.finishedSpans())
    assert.equal(spans['after-timers'].parent_id, spans.async.span_id)
    assert.ok(spans.async.duration_ms >= 5, `duration ${spans.async.duration_ms} covers the awaits`)
  })

  test('concurrent requests each see their own span', async () => {
    const tel = Telemetry.inMemory('ctx')
    const requests = 200
    const results = await Promise.all(
      Array.from({ length: requests }, (_, i) =>
        tel.tracer.startActiveSpan(`request-${i}`, { attributes: { request: i } }, async (span) => {
          await delay(Math.floor(Math.random() * 10))
          assert.equal(currentSpan(), span, `request ${i} after its first await`)
          await tel.tracer.startActiveSpan(`db-${i}`, async (db) => {
            await immediate()
            assert.equal(currentSpan(), db)
            tel.logger.info('query', { request: i })
          })
          await delay(Math.floor(Math.random() * 5))
          assert.equal(currentSpan(), span, `request ${i} after its child`)
          inject(undefined) // uses the current span; must not disturb it
          return [i, span.spanId, span.traceId]
        }),
      ),
    )
    const spans = byName(tel.finishedSpans())
    assert.equal(Object.keys(spans).length, 2 * requests)
    const ids = new Set()
    for (const [i, spanId, traceId] of results) {
      const request = spans[`request-${i}`]
      const db = spans[`db-${i}`]
      assert.equal(request.span_id, spanId)
      assert.equal(request.attributes.request, i)
      assert.equal(db.parent_id, spanId, `db-${i} is a child of request-${i}`)
      assert.equal(db.trace_id, traceId)
      ids.add(traceId)
    }
    assert.equal(ids.size, requests, 'each request is its own trace')
    // Each log record is linked to the span that was current when it was written.
    for (const log of tel.finishedLogs()) {
      assert.equal(log.span_id, spans[`db-${log.fields.request}`].span_id)
    }
  })

  test('withSpan makes a remote context current without ending anything', async () => {
    const tel = Telemetry.inMemory('ctx')
    const remote = extract({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' })
    await withSpan(remote, async () => {
      assert.equal(currentSpan(), remote)
      await immediate()
      tel.tracer.startSpan('child').end()
      assert.equal(inject().traceparent, remote.traceparent)
    })
    const [child] = tel.finishedSpans()
    assert.equal(child.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736')
    assert.equal(child.parent_id, '00f067aa0ba902b7')
    assert.equal(child.parent_is_remote, true)
    assert.equal(withSpan(null, (a, b) => a + b, 1, 2), 3)
  })

  test('a span started inside another context keeps its own parent after the parent ended', async () => {
    const tel = Telemetry.inMemory('ctx')
    let later
    tel.tracer.startActiveSpan('short', () => {
      later = delay(5).then(() => tel.tracer.startSpan('late-child').end())
    })
    await later
    const spans = byName(tel.finishedSpans())
    assert.equal(spans['late-child'].parent_id, spans.short.span_id)
    assert.equal(spans['late-child'].trace_id, spans.short.trace_id)
  })
})
