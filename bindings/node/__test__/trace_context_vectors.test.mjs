// Every case of the shared testdata/trace-context-vectors.json through the package's
// extract and inject, with each carrier kind: plain object, Map and nats.js MsgHdrs.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import { headers as natsHeaders } from 'nats'
import { extract, inject, SpanContext, Telemetry } from 'dagnats-observe'

import { vectors } from './helpers.mjs'

const v = vectors()

/** The pairs grouped by exact name, in order of first appearance (what an object or Map holds). */
function grouped(pairs) {
  const byName = new Map()
  for (const [name, value] of pairs) {
    if (!byName.has(name)) byName.set(name, [])
    byName.get(name).push(value)
  }
  return byName
}

/** True when grouping by exact name keeps the pairs' order (so tracestate joins the same). */
function orderKept(pairs) {
  const flat = [...grouped(pairs)].flatMap(([name, values]) => values.map((value) => [name, value]))
  return JSON.stringify(flat) === JSON.stringify(pairs)
}

/** The case's headers as each carrier kind that can hold them. */
function carriers(pairs) {
  const byName = grouped(pairs)
  const object = {}
  const map = new Map()
  for (const [name, values] of byName) {
    object[name] = values.length === 1 ? values[0] : values
    map.set(name, values)
  }
  const out = [
    ['object', object],
    ['Map', map],
  ]
  try {
    const h = natsHeaders()
    for (const [name, value] of pairs) h.append(name, value)
    out.push(['MsgHdrs', h])
  } catch {
    // nats.js refuses names or values it cannot send (CR/LF); NATS could not carry them.
  }
  return out
}

function checkExpected(label, c, got, checkState) {
  if (!c.valid) {
    assert.equal(got, null, `${label}: expected no span context`)
    return
  }
  assert.ok(got instanceof SpanContext, `${label}: expected a span context`)
  assert.equal(got.traceId, c.trace_id, `${label}: trace_id`)
  assert.equal(got.spanId, c.span_id, `${label}: span_id`)
  if (c.flags !== undefined) assert.equal(got.traceFlags, c.flags, `${label}: flags`)
  if (checkState) assert.equal(got.traceState, c.tracestate ?? '', `${label}: tracestate`)
  assert.equal(got.isRemote, true, `${label}: isRemote`)
}

/** Writing a context (headers and event) and reading it back gives the same context. */
function checkRoundTrip(label, sc) {
  for (const [kind, carrier] of [
    ['object', {}],
    ['Map', new Map()],
    ['MsgHdrs', natsHeaders()],
  ]) {
    const event = { other: 1 }
    const written = inject(carrier, { span: sc, event })
    assert.equal(written, carrier, `${label}: inject returns the carrier (${kind})`)
    const back = extract(written)
    assert.equal(back.traceparent, sc.traceparent, `${label}: ${kind} round trip traceparent`)
    assert.equal(back.traceState, sc.traceState, `${label}: ${kind} round trip tracestate`)
    assert.equal(back.traceFlags, sc.traceFlags, `${label}: ${kind} round trip flags`)
    // Dual write: the event alone carries the same context.
    assert.equal(event.trace_parent, sc.traceparent, `${label}: event trace_parent`)
    assert.equal(event.trace_state, sc.traceState === '' ? undefined : sc.traceState, `${label}: event trace_state`)
    assert.equal(event.other, 1)
    const fromEvent = extract(undefined, event)
    assert.equal(fromEvent.traceparent, sc.traceparent, `${label}: event round trip`)
    assert.equal(fromEvent.traceState, sc.traceState, `${label}: event round trip tracestate`)
  }
}

/** A child span of `sc` keeps its trace id, flags and trace state, and injects its own id. */
function checkChild(label, sc) {
  const tel = Telemetry.inMemory('vectors')
  const span = tel.tracer.startSpan('child', { parent: sc })
  const headers = inject({}, { span })
  span.end()
  assert.equal(headers.traceparent, span.traceparent, `${label}: child traceparent`)
  const back = extract(headers)
  assert.equal(back.traceId, sc.traceId, `${label}: child trace id`)
  assert.equal(back.spanId, span.spanId, `${label}: child span id`)
  assert.equal(back.traceFlags, sc.traceFlags, `${label}: child flags carried`)
  assert.equal(back.traceState, sc.traceState, `${label}: child tracestate carried`)
  const [record] = tel.finishedSpans()
  assert.equal(record.parent_id, sc.spanId, `${label}: child parent_id`)
  assert.equal(record.parent_is_remote, true, `${label}: parent_is_remote`)
}

describe('trace-context vectors', () => {
  test('traceparent group', () => {
    assert.ok(v.traceparent.length > 0)
    for (const c of v.traceparent) {
      for (const [kind, carrier] of carriers(c.headers)) {
        checkExpected(`${c.name} (${kind})`, c, extract(carrier), orderKept(c.headers))
      }
      const sc = extract(Object.fromEntries(grouped(c.headers)))
      if (sc !== null) {
        checkRoundTrip(c.name, sc)
        checkChild(c.name, sc)
      }
    }
  })

  test('event group: header first, event field as the fallback', () => {
    assert.ok(v.event.length > 0)
    for (const c of v.event) {
      for (const [kind, carrier] of carriers(c.headers)) {
        checkExpected(`${c.name} (${kind})`, c, extract(carrier, c.event), orderKept(c.headers))
      }
      const sc = extract(Object.fromEntries(grouped(c.headers)), c.event)
      if (sc !== null) checkRoundTrip(c.name, sc)
    }
  })

  test('tracestate group', () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
    assert.ok(v.tracestate.length > 0)
    for (const c of v.tracestate) {
      const sc = extract({ traceparent, tracestate: c.values })
      assert.ok(sc, `${c.name}: the traceparent stays valid`)
      assert.equal(sc.traceState, c.valid ? c.normalized : '', `${c.name}: tracestate`)
      // The same list through the event field.
      const fromEvent = extract({}, { trace_parent: traceparent, trace_state: c.values.join(',') })
      assert.equal(fromEvent.traceState, c.valid ? c.normalized : '', `${c.name}: event tracestate`)
    }
  })

  test('format group', () => {
    assert.ok(v.format.length > 0)
    for (const c of v.format) {
      const sc = extract({ traceparent: c.traceparent })
      assert.equal(sc.traceId, c.trace_id)
      assert.equal(sc.spanId, c.span_id)
      assert.equal(sc.traceFlags, c.flags)
      assert.equal(sc.traceparent, c.traceparent, 'formatting gives the vector back')
      assert.equal(inject({}, { span: sc }).traceparent, c.traceparent)
    }
  })
})

describe('carriers', () => {
  const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
  const tp2 = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00'

  test('header names match in any case, in every carrier', () => {
    assert.equal(extract({ TraceParent: tp }).traceparent, tp)
    assert.equal(extract(new Map([['TRACEPARENT', tp]])).traceparent, tp)
    const h = natsHeaders()
    h.set('Traceparent', tp)
    h.set('TraceState', 'a=1')
    const sc = extract(h)
    assert.equal(sc.traceparent, tp)
    assert.equal(sc.traceState, 'a=1')
  })

  test('inject replaces every spelling and removes a stale tracestate', () => {
    const sc = extract({ traceparent: tp })
    const object = { TraceParent: tp2, TRACESTATE: 'old=1', keep: 'x' }
    inject(object, { span: sc })
    assert.deepEqual(object, { keep: 'x', traceparent: tp })

    const map = new Map([['TraceParent', tp2], ['tracestate', 'old=1'], ['keep', 'x']])
    inject(map, { span: sc })
    assert.deepEqual([...map], [['keep', 'x'], ['traceparent', tp]])

    const h = natsHeaders()
    h.append('TraceParent', tp2)
    h.append('traceparent', tp2)
    h.append('tracestate', 'old=1')
    h.append('keep', 'x')
    inject(h, { span: sc })
    assert.deepEqual(h.values('traceparent'), [tp])
    assert.equal(h.has('TraceParent'), false)
    assert.equal(h.has('tracestate'), false)
    assert.deepEqual(h.values('keep'), ['x'])
  })

  test('inject writes tracestate when there is one, and creates headers when omitted', () => {
    const sc = extract({ traceparent: tp, tracestate: 'rojo=00f067aa0ba902b7' })
    assert.deepEqual(inject(undefined, { span: sc }), { traceparent: tp, tracestate: 'rojo=00f067aa0ba902b7' })
    const event = { trace_state: 'stale=1' }
    inject({}, { span: extract({ traceparent: tp }), event })
    assert.deepEqual(event, { trace_parent: tp })
  })

  test('a stale differently-cased traceparent is replaced, in every carrier', () => {
    const sc = extract({ traceparent: tp, tracestate: 'rojo=1' })
    const object = { TraceParent: tp2, keep: 'x' }
    inject(object, { span: sc })
    assert.deepEqual(object, { keep: 'x', traceparent: tp, tracestate: 'rojo=1' })
    assert.equal(extract(object).traceparent, tp, 'read back: one traceparent, not two')

    const map = new Map([['TraceParent', tp2]])
    inject(map, { span: sc })
    assert.deepEqual([...map], [['traceparent', tp], ['tracestate', 'rojo=1']])

    const h = natsHeaders()
    h.set('TraceParent', tp2)
    h.set('TRACESTATE', 'old=1')
    inject(h, { span: sc })
    assert.deepEqual([...h.keys()].sort(), ['traceparent', 'tracestate'])
    assert.equal(h.get('tracestate'), 'rojo=1')
    assert.equal(extract(h).traceparent, tp)
  })

  test('a trace value that is not a string is malformed: a new root, never a throw', () => {
    assert.equal(extract({ traceparent: 5 }), null)
    assert.equal(extract({ TraceParent: { value: tp } }), null)
    assert.equal(extract(new Map([['traceparent', null]])), null)
    assert.equal(extract({ traceparent: [tp, 7] }), null, 'two values, one not a string')
    // The event's copy is the fallback, as for any malformed header.
    assert.equal(extract({ traceparent: 5 }, { trace_parent: tp2 }).traceparent, tp2)
    assert.equal(extract(undefined, { trace_parent: 5, trace_state: 'a=1' }), null)
    // A tracestate that is not text gives an empty trace state, the traceparent stands.
    const sc = extract({ traceparent: tp, tracestate: ['a=1', 2] })
    assert.equal(sc.traceparent, tp)
    assert.equal(sc.traceState, '')
    // Other headers' values are never looked at, whatever their type.
    const other = extract(new Map([['content-length', 12], [7, 'x'], ['meta', { a: 1 }], ['traceparent', tp]]))
    assert.equal(other.traceparent, tp)
    // A Buffer holds the header's bytes, read as UTF-8.
    assert.equal(extract({ traceparent: Buffer.from(tp) }).traceparent, tp)
    // And a span under the malformed context starts a new trace.
    const tel = Telemetry.inMemory('carriers')
    const span = tel.tracer.startSpan('root', { parent: extract({ traceparent: 5 }) })
    span.end()
    assert.equal(tel.finishedSpans()[0].parent_id, undefined)
  })

  test('the event dual write sets trace_parent and trace_state, and removes a stale trace_state', () => {
    const withState = extract({ traceparent: tp, tracestate: 'rojo=1' })
    const event = { run_id: 'r-1', trace_state: 'stale=1' }
    const headers = inject({}, { span: withState, event })
    assert.deepEqual(event, { run_id: 'r-1', trace_state: 'rojo=1', trace_parent: tp })
    assert.deepEqual(headers, { traceparent: tp, tracestate: 'rojo=1' })
    const back = extract(undefined, event)
    assert.equal(back.traceparent, tp)
    assert.equal(back.traceState, 'rojo=1')

    inject({}, { span: extract({ traceparent: tp2 }), event })
    assert.deepEqual(event, { run_id: 'r-1', trace_parent: tp2 }, 'no trace state: the field is removed')
  })

  test('inject without a span leaves the carrier alone', () => {
    const object = { keep: 'x' }
    assert.equal(inject(object), object)
    assert.deepEqual(object, { keep: 'x' })
  })

  test('the header wins over the event; the event is the fallback', () => {
    const event = { trace_parent: tp2, trace_state: 'ev=1' }
    assert.equal(extract({ traceparent: tp }, event).traceparent, tp)
    assert.equal(extract({ traceparent: 'garbage' }, event).traceparent, tp2)
    assert.equal(extract(null, event).traceState, 'ev=1')
    assert.equal(extract(undefined, { trace_parent: 5 }), null, 'non-string fields are ignored')
    assert.equal(extract(undefined), null)
  })
})
