// End to end with a real nats-server and the nats.js client: inject on publish, extract
// on receive, and the child span (same trace, the right parent) arrives on TELEMETRY.
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { after, before, describe, test } from 'node:test'

import { connect, headers as natsHeaders, StringCodec } from 'nats'
import { currentSpan, extract, inject, SpanKind, StatusCode, Telemetry } from 'dagnats-observe'

import { freePort, sleep, startNatsServer } from './helpers.mjs'

const sc = StringCodec()

/** Every message on TELEMETRY under `subject`, read with an ordered JetStream consumer. */
async function readTelemetry(nc, subject, expected, timeoutMs = 10000) {
  const js = nc.jetstream()
  const consumer = await js.consumers.get('TELEMETRY', { filterSubjects: [subject] })
  const out = []
  const deadline = Date.now() + timeoutMs
  while (out.length < expected && Date.now() < deadline) {
    const m = await consumer.next({ expires: 1000 })
    if (m) out.push({ subject: m.subject, headers: m.headers, record: JSON.parse(sc.decode(m.data)) })
  }
  return out
}

describe('end to end over NATS', () => {
  let server
  let nc
  let tel

  before(async () => {
    server = await startNatsServer()
    tel = await Telemetry.connect({ servers: server.url, service: 'node-e2e', name: 'node-e2e-test' })
    nc = await connect({ servers: server.url })
  })

  after(async () => {
    await tel?.close(5000).catch(() => {})
    await nc?.close()
    await server?.stop()
  })

  test('a child span with the same trace and the right parent arrives on TELEMETRY', async () => {
    assert.notEqual(tel.stats, null)
    // The worker: extract on receive, work in a child span.
    const worked = new Promise((resolve, reject) => {
      const sub = nc.subscribe('tasks.run', { max: 1 })
      ;(async () => {
        for await (const m of sub) {
          const event = JSON.parse(sc.decode(m.data))
          const parent = extract(m.headers, event)
          assert.ok(parent, 'the message carries a trace context')
          assert.equal(parent.isRemote, true)
          await tel.tracer.startActiveSpan(
            'worker.executeTask',
            { parent, kind: SpanKind.Server, attributes: { run_id: event.run_id, step_id: event.step_id } },
            async (span) => {
              tel.logger.info('task started', { step_id: event.step_id })
              await sleep(2)
              span.setStatus(StatusCode.Ok)
              resolve({ parent, traceId: span.traceId, spanId: span.spanId })
            },
          )
        }
      })().catch(reject)
    })

    // The engine side: inject on publish (headers and event fields: dual write).
    const dispatched = tel.tracer.startActiveSpan(
      'engine.dispatch',
      { kind: SpanKind.Producer, attributes: { run_id: 'r-e2e' } },
      (span) => {
        const h = natsHeaders()
        const event = { run_id: 'r-e2e', step_id: 'build' }
        inject(h, { event })
        assert.equal(h.get('traceparent'), span.traceparent)
        assert.equal(event.trace_parent, span.traceparent)
        nc.publish('tasks.run', sc.encode(JSON.stringify(event)), { headers: h })
        return { traceId: span.traceId, spanId: span.spanId }
      },
    )
    const child = await worked
    assert.equal(child.parent.traceId, dispatched.traceId)
    assert.equal(child.parent.spanId, dispatched.spanId)
    assert.equal(currentSpan(), undefined)

    await tel.flush(10000)
    const spans = await readTelemetry(nc, 'telemetry.spans.node-e2e.>', 2)
    assert.equal(spans.length, 2, 'both spans arrived')
    const byName = Object.fromEntries(spans.map((s) => [s.record.name, s]))
    const worker = byName['worker.executeTask']
    const engine = byName['engine.dispatch']
    assert.equal(worker.subject, 'telemetry.spans.node-e2e.r-e2e')
    assert.equal(worker.record.trace_id, dispatched.traceId, 'same trace id')
    assert.equal(worker.record.parent_id, dispatched.spanId, 'the dispatching span is the parent')
    assert.equal(worker.record.span_id, child.spanId)
    assert.equal(worker.record.parent_is_remote, true)
    assert.equal(worker.record.kind, 'server')
    assert.equal(worker.record.status, 'ok')
    assert.equal(worker.record.service, 'node-e2e')
    assert.equal(worker.headers.get('Nats-Msg-Id'), `${worker.record.trace_id}.${worker.record.span_id}`)
    assert.equal(engine.record.span_id, dispatched.spanId)
    assert.equal(engine.record.kind, 'producer')
    assert.equal(engine.record.parent_id, undefined)

    const logs = await readTelemetry(nc, 'telemetry.logs.node-e2e.info', 1)
    assert.equal(logs[0].record.message, 'task started')
    assert.equal(logs[0].record.trace_id, dispatched.traceId)
    assert.equal(logs[0].record.span_id, child.spanId)
  })

  test('baggage survives a hop through a worker: extract, child span, inject', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
    const baggage = 'userId=alice,serverNode=DF%2028,isProduction=false;ttl=30'
    // The worker: extract, work in a child span, hand the message on with its headers.
    const sub = nc.subscribe('tasks.baggage', { max: 1 })
    const next = nc.subscribe('tasks.baggage.next', { max: 1 })
    const worked = (async () => {
      for await (const m of sub) {
        const parent = extract(m.headers)
        assert.ok(parent, 'the message carries a trace context')
        assert.equal(parent.baggage, baggage)
        return tel.tracer.startActiveSpan('worker.executeTask', { parent, kind: SpanKind.Consumer }, (span) => {
          assert.equal(span.spanContext.baggage, baggage)
          const out = natsHeaders()
          for (const name of m.headers.keys()) for (const value of m.headers.values(name)) out.append(name, value)
          nc.publish('tasks.baggage.next', sc.encode('{}'), { headers: inject(out) })
          return span.traceparent
        })
      }
    })()
    // The engine (or an OpenTelemetry service) sends lowercase trace headers and baggage.
    const h = natsHeaders()
    h.set('traceparent', traceparent)
    h.set('baggage', baggage)
    h.set('run-id', 'r-bag')
    nc.publish('tasks.baggage', sc.encode('{}'), { headers: h })
    const childTraceparent = await worked
    let received
    for await (const m of next) received = m.headers
    assert.ok(received, 'the next hop received the message')
    const names = [...received.keys()]
    assert.deepEqual(names.filter((n) => n.toLowerCase() === 'baggage'), ['baggage'])
    assert.deepEqual(received.values('baggage'), [baggage])
    assert.deepEqual(received.values('traceparent'), [childTraceparent])
    assert.deepEqual(received.values('run-id'), ['r-bag'])
  })

  test('the event fields carry the context when the header is missing', async () => {
    const parentSpan = tel.tracer.startSpan('engine.retry', { attributes: { run_id: 'r-event' } })
    const event = { run_id: 'r-event' }
    inject({}, { span: parentSpan, event })
    const received = new Promise((resolve) => {
      const sub = nc.subscribe('tasks.event', { max: 1 })
      ;(async () => {
        for await (const m of sub) resolve(extract(m.headers, JSON.parse(sc.decode(m.data))))
      })()
    })
    nc.publish('tasks.event', sc.encode(JSON.stringify(event))) // no headers at all
    const parent = await received
    assert.equal(parent.traceparent, parentSpan.traceparent)
    tel.tracer.startSpan('worker.fromEvent', { parent, attributes: { run_id: 'r-event' } }).end()
    parentSpan.end()
    await tel.flush(10000)
    const spans = await readTelemetry(nc, 'telemetry.spans.node-e2e.r-event', 2)
    const worker = spans.find((s) => s.record.name === 'worker.fromEvent')
    assert.equal(worker.record.parent_id, parentSpan.spanId)
  })

  test('metrics arrive on their subjects', async () => {
    tel.metrics.counter('tasks.completed').add(1, { queue: 'default' })
    await tel.flush(10000)
    const [point] = await readTelemetry(nc, 'telemetry.metrics.node-e2e.tasks.completed', 1)
    assert.equal(point.record.type, 'counter')
    assert.deepEqual(point.record.tags, { queue: 'default' })
    assert.equal(tel.stats.droppedOverflow, 0)
  })
})

describe('connect', () => {
  test('does not block the event loop while the server stalls', async () => {
    // A server that accepts connections and never speaks NATS: connecting waits for the
    // connect timeout (then either retries in the background or gives up, as the core
    // decides). The event loop must keep turning meanwhile.
    const sockets = new Set()
    const silent = createServer((socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    })
    const port = await freePort()
    await new Promise((resolve) => silent.listen(port, '127.0.0.1', resolve))
    let ticks = 0
    const timer = setInterval(() => ticks++, 20)
    let outcome
    try {
      const started = Date.now()
      outcome = await Telemetry.connect({ servers: `nats://127.0.0.1:${port}`, service: 'stall', timeout: 600 }).catch(
        (error) => error,
      )
      const waited = Date.now() - started
      assert.ok(waited >= 500, `connect waited for the timeout (${waited} ms)`)
      assert.ok(ticks >= 10, `the event loop turned ${ticks} times while connecting`)
      if (outcome instanceof Error) assert.equal(outcome.code, 'ERR_DAGNATS_CONNECT')
      else assert.ok(outcome instanceof Telemetry)
    } finally {
      clearInterval(timer)
      if (outcome instanceof Telemetry) await outcome.close(50).catch(() => {})
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => silent.close(resolve))
    }
  })

  test('an unreachable server is not an error: records wait, flush times out, close settles', async () => {
    const port = await freePort() // nothing listens there
    const tel = await Telemetry.connect({ servers: `nats://127.0.0.1:${port}`, service: 'offline', timeout: 500 })
    try {
      tel.tracer.startSpan('queued').end()
      await assert.rejects(tel.flush(50), (e) => e.code === 'ERR_DAGNATS_TIMEOUT' && e.pending >= 1)
      await assert.rejects(tel.close(50), (e) => e.code === 'ERR_DAGNATS_TIMEOUT')
      await assert.rejects(tel.close(50), (e) => e.code === 'ERR_DAGNATS_CLOSED')
      assert.ok(tel.dropped >= 1, 'the record left at close is counted as dropped')
    } finally {
      await tel.close(10).catch(() => {})
    }
  })
})
