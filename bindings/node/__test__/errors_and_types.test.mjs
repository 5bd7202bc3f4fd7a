// Errors and rejections recorded and rethrown; attribute value types (int64, float64,
// bool, string, bigint) and the TypeError/RangeError raised for everything else.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import { extract, inject, SpanKind, StatusCode, Telemetry } from 'dagnats-observe'

class ValidationError extends Error {}

describe('errors and rejections', () => {
  test('a thrown error is recorded on the span and rethrown', () => {
    const tel = Telemetry.inMemory('errors')
    const error = new ValidationError('bad input')
    assert.throws(
      () =>
        tel.tracer.startActiveSpan('sync', () => {
          throw error
        }),
      (thrown) => thrown === error,
    )
    const [span] = tel.finishedSpans()
    assert.equal(span.status, 'error')
    assert.equal(span.error, 'bad input')
    assert.equal(span.status_message, 'bad input')
    const [event] = span.events
    assert.equal(event.name, 'exception')
    assert.equal(event.attributes['exception.message'], 'bad input')
    assert.equal(event.attributes['exception.type'], 'ValidationError')
  })

  test('a rejection is recorded on the span and rethrown', async () => {
    const tel = Telemetry.inMemory('errors')
    const error = new TypeError('no such step')
    await assert.rejects(
      tel.tracer.startActiveSpan('async', async () => {
        await new Promise((resolve) => setTimeout(resolve, 1))
        throw error
      }),
      (thrown) => thrown === error,
    )
    const [span] = tel.finishedSpans()
    assert.equal(span.status, 'error')
    assert.equal(span.error, 'no such step')
    assert.equal(span.events[0].attributes['exception.type'], 'TypeError')
  })

  test('anything thrown is recorded, not only Errors', async () => {
    const tel = Telemetry.inMemory('errors')
    assert.throws(() => tel.tracer.startActiveSpan('string', () => {
      throw 'plain text' // eslint-disable-line no-throw-literal
    }))
    await assert.rejects(tel.tracer.startActiveSpan('number', () => Promise.reject(42)))
    const weird = { get message() { throw new Error('getter') } }
    assert.throws(() => tel.tracer.startActiveSpan('weird', () => {
      throw weird
    }))
    const spans = tel.finishedSpans()
    assert.equal(spans[0].error, 'plain text')
    assert.equal(spans[0].events[0].attributes['exception.type'], undefined)
    assert.equal(spans[1].error, '42')
    assert.equal(spans[2].status, 'error', 'a throwing getter still records an error')
  })

  test('a resolved value passes through and the span ends then', async () => {
    const tel = Telemetry.inMemory('errors')
    const value = await tel.tracer.startActiveSpan('ok', async (span) => {
      span.setStatus(StatusCode.Ok, 'done')
      return 'result'
    })
    assert.equal(value, 'result')
    const [span] = tel.finishedSpans()
    assert.equal(span.status, 'ok')
    assert.equal(span.status_message, 'done')
  })

  test('recordError by hand, status rules, calls after end do nothing', () => {
    const tel = Telemetry.inMemory('errors')
    const span = tel.tracer.startSpan('manual', { kind: SpanKind.Client })
    span.setStatus(StatusCode.Unset)
    span.recordError(new RangeError('too big'))
    span.setStatus(StatusCode.Error, 'failed')
    span.end()
    span.setAttribute('after', 1).addEvent('after').setStatus(StatusCode.Ok).recordError(new Error('late'))
    span.end()
    assert.equal(span.isRecording, false)
    const spans = tel.finishedSpans()
    assert.equal(spans.length, 1)
    assert.equal(spans[0].kind, 'client')
    assert.equal(spans[0].status, 'error')
    assert.equal(spans[0].attributes, undefined)
    assert.equal(spans[0].events.length, 1)
  })
})

describe('attribute types', () => {
  test('integers are int64, other numbers float64, booleans and strings as they are', () => {
    const tel = Telemetry.inMemory('types')
    tel.tracer
      .startSpan('types', { attributes: { atStart: 7 } })
      .setAttribute('int', 2)
      .setAttribute('negative', -3)
      .setAttribute('float', 1.5)
      .setAttribute('safeMax', Number.MAX_SAFE_INTEGER)
      .setAttribute('unsafe', 2 ** 53)
      .setAttribute('bool', false)
      .setAttribute('text', 'héllo ✓')
      .setAttribute('bigint', 2n ** 62n)
      .setAttribute('bigintMin', -(2n ** 63n))
      .setAttribute('nan', NaN)
      .setAttributes({ fromObject: true, int: 3 })
      .end()
    const json = tel.finishedSpansJson()
    // The exact wire text tells int64 and float64 apart.
    assert.match(json, /"atStart":7[,}]/)
    assert.match(json, /"int":3[,}]/, 'a later value replaces an earlier one')
    assert.match(json, /"negative":-3[,}]/)
    assert.match(json, /"float":1\.5[,}]/)
    assert.match(json, /"safeMax":9007199254740991[,}]/)
    assert.match(json, /"unsafe":9007199254740992\.0[,}]/)
    assert.match(json, /"bigint":4611686018427387904[,}]/)
    assert.match(json, /"bigintMin":-9223372036854775808[,}]/)
    assert.match(json, /"nan":"NaN"/)
    const [span] = tel.finishedSpans()
    assert.equal(span.attributes.bool, false)
    assert.equal(span.attributes.fromObject, true)
    assert.equal(span.attributes.text, 'héllo ✓')
  })

  test('more attributes than one native call carries, in order', () => {
    const tel = Telemetry.inMemory('types')
    const span = tel.tracer.startSpan('many')
    // 100 attributes cross in two calls (64 per call); every value arrives.
    for (let i = 0; i < 100; i++) span.setAttribute(`key_${i}`, i % 2 ? `v${i}` : i)
    span.setAttribute('key_0', 'replaced')
    span.end()
    const [record] = tel.finishedSpans()
    assert.equal(Object.keys(record.attributes).length, 100)
    assert.equal(record.attributes.key_0, 'replaced')
    assert.equal(record.attributes.key_99, 'v99')
    assert.equal(record.attributes.key_98, 98)
  })

  test('names the core does not intern (over 256 UTF-8 bytes) arrive whole', () => {
    const tel = Telemetry.inMemory('types')
    // 200 characters but 400 bytes: too long for the core's table, as the core counts.
    const wide = 'é'.repeat(200)
    const span = tel.tracer.startSpan(wide, { attributes: { [wide]: 1 } })
    span.setAttribute(`${wide}x`, 'v').addEvent(wide).end()
    const [record] = tel.finishedSpans()
    assert.equal(record.name, wide)
    assert.equal(record.attributes[wide], 1)
    assert.equal(record.attributes[`${wide}x`], 'v')
    assert.equal(record.events[0].name, wide)
  })

  test('the span limits of the core apply (128 attributes, the rest counted)', () => {
    const tel = Telemetry.inMemory('types')
    const span = tel.tracer.startSpan('limited')
    for (let i = 0; i < 150; i++) span.setAttribute(`key_${i}`, i)
    span.end()
    const [record] = tel.finishedSpans()
    assert.equal(Object.keys(record.attributes).length, 128)
    assert.equal(record.dropped_attributes_count, 22)
  })

  test('other values are a TypeError naming the key', () => {
    const tel = Telemetry.inMemory('types')
    const span = tel.tracer.startSpan('bad')
    for (const value of [undefined, null, {}, [1], () => 1, Symbol('s'), new Date()]) {
      assert.throws(
        () => span.setAttribute('the_key', value),
        (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE' && e.message.includes('"the_key"'),
        String(value?.toString?.() ?? value),
      )
    }
    assert.throws(() => span.setAttributes({ good: 1, nested: { a: 1 } }), (e) => e instanceof TypeError && e.message.includes('"nested"'))
    assert.throws(() => span.setAttribute(5, 'x'), TypeError)
    for (const notAnObject of [null, undefined, 'x', [1]]) {
      assert.throws(() => span.setAttributes(notAnObject), (e) => e instanceof TypeError && e.message.startsWith('attributes must be a plain object'))
    }
    assert.throws(
      () => tel.tracer.startSpan('s', { attributes: { start_key: [] } }),
      (e) => e instanceof TypeError && e.message.includes('"start_key"'),
    )
    assert.throws(() => span.addEvent('e', { event_key: null }), (e) => e instanceof TypeError && e.message.includes('"event_key"'))
    assert.throws(() => tel.logger.info('m', { field_key: {} }), (e) => e instanceof TypeError && e.message.includes('"field_key"'))
    span.end()
    // Nothing half-applied: the span has none of the rejected attributes.
    assert.equal(tel.finishedSpans()[0].attributes?.good, undefined)
  })

  test('a bigint outside int64 is a RangeError naming the key', () => {
    const tel = Telemetry.inMemory('types')
    const span = tel.tracer.startSpan('range')
    for (const value of [2n ** 63n, -(2n ** 63n) - 1n, 2n ** 100n]) {
      assert.throws(
        () => span.setAttribute('big_key', value),
        (e) => e instanceof RangeError && e.code === 'ERR_OUT_OF_RANGE' && e.message.includes('"big_key"'),
      )
    }
    assert.throws(() => tel.tracer.startSpan('s', { attributes: { huge: 2n ** 64n } }), RangeError)
    span.end()
  })

  test('wrong argument types elsewhere are TypeErrors naming the argument', () => {
    const tel = Telemetry.inMemory('types')
    const named = (what) => (e) => e instanceof TypeError && e.message.includes(what)
    assert.throws(() => tel.tracer.startSpan(5), named('span name'))
    assert.throws(() => tel.tracer.startSpan('s', 'opts'), named('options'))
    assert.throws(() => tel.tracer.startSpan('s', { kind: 9 }), named('kind'))
    assert.throws(() => tel.tracer.startSpan('s', { kind: 'sideways' }), named('kind'))
    assert.equal(tel.tracer.startSpan('s', { kind: 'server' }).isRecording, true)
    assert.throws(() => tel.tracer.startSpan('s', { parent: 'x' }), named('parent'))
    assert.throws(() => tel.tracer.startSpan('s', { parent: {} }), named('parent'))
    assert.throws(() => tel.tracer.startActiveSpan('s', {}, 'not a function'), named('fn'))
    // The package's own checks raise the addon's error: the same class, code and wording.
    assert.throws(
      () => tel.tracer.startActiveSpan('s', {}, 'not a function'),
      (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE' && e.message === 'fn must be a function, got string',
    )
    assert.throws(
      () => tel.tracer.startSpan('s', { attributes: [1] }),
      (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE' && e.message === 'attributes must be a plain object, got array',
    )
    const span = tel.tracer.startSpan('s')
    assert.throws(() => span.setStatus(7), named('code'))
    assert.throws(() => span.addEvent(1), named('event name'))
    assert.throws(() => extract('headers'), named('headers'))
    assert.throws(() => extract({}, 'event'), named('event'))
    assert.throws(() => inject('headers', { span }), named('headers'))
    assert.throws(() => inject({}, { span: 'x' }), named('span'))
    assert.throws(() => tel.logger.log('loud', 'm'), named('level'))
    assert.throws(() => tel.logger.info(5), named('message'))
    assert.throws(() => tel.metrics.counter('c').add('1'), named('value'))
    assert.throws(() => tel.metrics.counter('c').add(1, { tag: 1 }), named('"tag"'))
    assert.throws(() => Telemetry.inMemory(5), named('service'))
    span.end()
  })

  test('bad options and timeouts reject the promise', async () => {
    const tel = Telemetry.inMemory('types')
    await assert.rejects(tel.flush(-1), RangeError)
    await assert.rejects(tel.flush('soon'), TypeError)
    await assert.rejects(Telemetry.connect({ servers: 5 }), (e) => e instanceof TypeError && e.message.includes('servers'))
    await assert.rejects(Telemetry.connect({ user: 'u' }), (e) => e instanceof TypeError && e.message.includes('pass'))
    await assert.rejects(Telemetry.connect({ timeout: -5 }), RangeError)
    await assert.rejects(Telemetry.connect({ bufferCapacity: 0 }), RangeError)
    await assert.rejects(Telemetry.connect('nats://x'), TypeError)
  })
})
