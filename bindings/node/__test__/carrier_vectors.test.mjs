// Every case of the shared testdata/carrier-vectors.json through the package's extract and
// inject: header values of any type as a plain object or a Map holds them (the core's one
// rule: a non-string trace value is malformed, never a throw), and the dual write.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'

import { extract, inject, Telemetry } from 'dagnats-observe'

import { testdataDir } from './helpers.mjs'

const cases = JSON.parse(readFileSync(join(testdataDir(), 'carrier-vectors.json'), 'utf8'))

/** The pairs as a plain object and as a Map (the cases never repeat one exact name). */
function carriers(pairs) {
  const object = {}
  const map = new Map()
  for (const [name, value] of pairs) {
    assert.ok(!(name in object), name)
    object[name] = value
    map.set(name, value)
  }
  return [
    ['object', object],
    ['Map', map],
  ]
}

describe('carrier vectors', () => {
  const tel = Telemetry.inMemory('node-carrier-vectors')

  test('extract', () => {
    assert.ok(cases.extract.length > 0)
    for (const c of cases.extract) {
      for (const [kind, carrier] of carriers(c.headers)) {
        const got = extract(carrier, c.event)
        const what = `${c.name} (${kind})`
        if (!c.valid) {
          assert.equal(got, null, what)
          continue
        }
        assert.ok(got, what)
        assert.deepEqual([got.spanId, got.traceState, got.isRemote], [c.span_id, c.tracestate, true], what)
        assert.equal(got.baggage, c.baggage ?? '', `${what}: baggage`)
        // Held in JavaScript, the context goes back to the addon: a child span carries
        // the baggage on, and writes it (its spanContext too).
        const child = tel.tracer.startSpan('child', { parent: got })
        assert.equal(child.spanContext.baggage, c.baggage ?? '', `${what}: the child's baggage`)
        const written = inject({}, { span: child })
        assert.equal(written.baggage, c.baggage || undefined, `${what}: the child's baggage written`)
        child.end()
      }
    }
  })

  test('inject', () => {
    assert.ok(cases.inject.length > 0)
    for (const c of cases.inject) {
      const source = { traceparent: c.traceparent }
      if (c.tracestate) source.tracestate = c.tracestate
      if (c.baggage) source.baggage = c.baggage
      const span = extract(source)
      assert.ok(span, c.name)
      assert.equal(span.baggage, c.baggage ?? '', c.name)
      for (const [kind, headers] of carriers(c.headers)) {
        const event = { ...c.event }
        assert.equal(inject(headers, { span, event }), headers, c.name)
        const after = kind === 'Map' ? [...headers] : Object.entries(headers)
        assert.deepEqual(after, c.headers_after, `${c.name} (${kind})`)
        assert.deepEqual(event, c.event_after, `${c.name} (${kind})`)
      }
    }
  })
})
