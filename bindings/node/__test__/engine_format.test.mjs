// The `format` option (issue 14) against a real nats-server: a telemetry connected with
// format 'engine' writes the DagNats engine's dialect, and the stored message bodies pass
// the engine's strict reader (testkit/engine_strict_reader.py, run with the Python that
// has its pinned protobuf and opentelemetry-proto: $DAGNATS_STRICT_READER_PYTHON, else
// the repository's .tools/venv, where scripts/setup installs them). Also the option's
// errors, DAGNATS_TELEMETRY_FORMAT, and in-memory records staying records.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { after, afterEach, before, describe, test } from 'node:test'

import { connect, StringCodec } from 'nats'
import { SpanKind, Telemetry } from 'dagnats-observe'

import { startNatsServer, testdataDir } from './helpers.mjs'

const sc = StringCodec()
const root = join(testdataDir(), '..')
const READER = join(root, 'testkit', 'engine_strict_reader.py')
const PYTHON = process.env.DAGNATS_STRICT_READER_PYTHON ?? join(root, '.tools', 'venv', 'bin', 'python')
const LOG_KEYS = new Set(['timestamp', 'severity', 'body', 'attributes', 'traceId', 'spanId', 'serviceName'])
const ACCEPTED = 'records, engine'

/** The engine's strict reader on `{ subject, body }` messages: its exit code and verdict. */
function strictReader(messages) {
  assert.ok(existsSync(READER), `${READER} not found`)
  assert.ok(existsSync(PYTHON), `${PYTHON} not found: run scripts/setup or set DAGNATS_STRICT_READER_PYTHON`)
  const input = messages.map((m) => JSON.stringify({ subject: m.subject, body: m.body }) + '\n').join('')
  const done = spawnSync(PYTHON, [READER], { input, encoding: 'utf8', timeout: 60000 })
  assert.ok(done.stdout, `the strict reader printed nothing (status ${done.status}): ${done.stderr}`)
  return { status: done.status, verdict: JSON.parse(done.stdout) }
}

/** The log object, key by key, as engine-dialect.md states it. */
function checkLogShape(body) {
  for (const key of Object.keys(body)) assert.ok(LOG_KEYS.has(key), `key ${key} is not the engine's`)
  for (const key of ['timestamp', 'severity', 'body', 'serviceName']) assert.ok(key in body, `no ${key}`)
  for (const key of ['body', 'severity']) {
    assert.equal(typeof body[key], 'string')
    assert.notEqual(body[key], '')
  }
  for (const [k, v] of Object.entries(body.attributes ?? {})) assert.equal(typeof v, 'string', `attribute ${k}`)
  assert.match(body.traceId, /^[0-9a-f]{32}$/)
  assert.match(body.spanId, /^[0-9a-f]{16}$/)
}

/** A span with every kind of attribute and a recorded error, and a log inside it with
 * fields that are not strings; flushed and closed. Resolves to the span's ids. */
async function publishSpanAndLog(tel) {
  const span = tel.tracer.startSpan('engine.task', {
    kind: SpanKind.Server,
    attributes: { run_id: 'r-engine', attempt: 3, ratio: 0.25, cached: true },
  })
  span.recordError(new RangeError('disk full'))
  tel.logger.error('task failed', { attempt: 2, ratio: 1.5, retry: true, step: 'build' }, { span })
  const ids = { traceId: span.traceId, spanId: span.spanId }
  span.end()
  await tel.flush(10000)
  await tel.close(5000)
  return ids
}

describe('the format option over NATS', () => {
  let server
  let nc

  before(async () => {
    server = await startNatsServer()
    nc = await connect({ servers: server.url })
  })

  after(async () => {
    await nc?.close()
    await server?.stop()
  })

  afterEach(() => {
    delete process.env.DAGNATS_TELEMETRY_FORMAT
  })

  /** The `expected` messages of `service` on TELEMETRY, bodies as text. */
  async function stored(service, expected) {
    const consumer = await nc.jetstream().consumers.get('TELEMETRY', { filterSubjects: [`telemetry.*.${service}.>`] })
    const out = []
    const deadline = Date.now() + 10000
    while (out.length < expected && Date.now() < deadline) {
      const m = await consumer.next({ expires: 1000 })
      if (m) out.push({ subject: m.subject, body: sc.decode(m.data) })
    }
    assert.equal(out.length, expected, `${expected} messages of ${service} on TELEMETRY`)
    return out
  }

  test("format 'engine': a span with every kind of attribute and an error, and a log, pass the engine's strict reader", async () => {
    const tel = await Telemetry.connect({ servers: server.url, service: 'node-engine-fmt', format: 'engine' })
    const { traceId, spanId } = await publishSpanAndLog(tel)
    const messages = await stored('node-engine-fmt', 2)
    const { status, verdict } = strictReader(messages)
    assert.equal(status, 0, JSON.stringify(verdict.errors))
    assert.equal(verdict.ok, true)
    assert.equal(verdict.spans.length, 1)
    assert.equal(verdict.logs.length, 1)

    const [span] = verdict.spans
    assert.equal(span.subject, 'telemetry.spans.node-engine-fmt.r-engine')
    assert.deepEqual([span.traceId, span.spanId], [traceId, spanId])
    assert.equal(span.name, 'engine.task')
    assert.equal(span.kind, 'SPAN_KIND_SERVER')
    assert.deepEqual(span.attributes, {
      run_id: { type: 'string', value: 'r-engine' },
      attempt: { type: 'int', value: 3 },
      ratio: { type: 'double', value: 0.25 },
      cached: { type: 'bool', value: true },
    })
    const exception = span.events.filter((e) => e.name === 'exception')
    assert.equal(exception.length, 1, JSON.stringify(span.events))
    assert.deepEqual(exception[0].attributes['exception.type'], { type: 'string', value: 'RangeError' })
    assert.deepEqual(exception[0].attributes['exception.message'], { type: 'string', value: 'disk full' })
    assert.equal(span.status.code, 'STATUS_CODE_ERROR')

    const [log] = verdict.logs
    assert.equal(log.subject, 'telemetry.logs.node-engine-fmt.error')
    const body = JSON.parse(messages.find((m) => m.subject.startsWith('telemetry.logs.')).body)
    checkLogShape(body)
    assert.deepEqual(body, log.record)
    assert.deepEqual([body.traceId, body.spanId], [traceId, spanId])
    assert.equal(body.severity, 'error')
    assert.equal(body.body, 'task failed')
    assert.equal(body.serviceName, 'node-engine-fmt')
    assert.deepEqual(body.attributes, { attempt: '2', ratio: '1.5', retry: 'true', step: 'build' })
  })

  test('DAGNATS_TELEMETRY_FORMAT=engine without the option gives the engine dialect', async () => {
    process.env.DAGNATS_TELEMETRY_FORMAT = 'engine'
    const tel = await Telemetry.connect({ servers: server.url, service: 'node-engine-env' })
    const { traceId, spanId } = await publishSpanAndLog(tel)
    const { status, verdict } = strictReader(await stored('node-engine-env', 2))
    assert.equal(status, 0, JSON.stringify(verdict.errors))
    assert.deepEqual(verdict.spans.map((s) => [s.traceId, s.spanId]), [[traceId, spanId]])
    checkLogShape(verdict.logs[0].record)
  })

  test('the option wins over the variable, and the strict reader refuses the record format', async () => {
    process.env.DAGNATS_TELEMETRY_FORMAT = 'engine'
    const tel = await Telemetry.connect({ servers: server.url, service: 'node-records', format: 'records' })
    const { traceId } = await publishSpanAndLog(tel)
    const messages = await stored('node-records', 2)
    const span = JSON.parse(messages.find((m) => m.subject.startsWith('telemetry.spans.')).body)
    assert.equal(span.trace_id, traceId)
    assert.equal(span.service, 'node-records')
    const { status, verdict } = strictReader(messages)
    assert.equal(status, 1)
    assert.equal(verdict.ok, false)
    assert.ok(verdict.errors.some((e) => e.includes('protobuf rejects the body')), JSON.stringify(verdict.errors))
  })
})

describe('the format option without a server', () => {
  afterEach(() => {
    delete process.env.DAGNATS_TELEMETRY_FORMAT
  })

  for (const bad of ['otlp', '', 'record']) {
    test(`format ${JSON.stringify(bad)} rejects with ERR_DAGNATS_UNKNOWN_FORMAT naming the accepted values`, async () => {
      await assert.rejects(Telemetry.connect({ servers: 'nats://127.0.0.1:1', format: bad }), (e) => {
        assert.ok(e instanceof TypeError, String(e))
        assert.equal(e.code, 'ERR_DAGNATS_UNKNOWN_FORMAT')
        assert.ok(e.message.includes(ACCEPTED), e.message)
        return true
      })
    })
  }

  for (const bad of [1, true, ['engine'], { name: 'engine' }]) {
    test(`format ${JSON.stringify(bad)} rejects with the package's TypeError for a wrong type`, async () => {
      await assert.rejects(Telemetry.connect({ servers: 'nats://127.0.0.1:1', format: bad }), (e) => {
        assert.ok(e instanceof TypeError, String(e))
        assert.equal(e.code, 'ERR_INVALID_ARG_TYPE')
        assert.ok(e.message.includes('format'), e.message)
        return true
      })
    })
  }

  test('an unknown DAGNATS_TELEMETRY_FORMAT rejects with ERR_DAGNATS_UNKNOWN_FORMAT naming the accepted values', async () => {
    process.env.DAGNATS_TELEMETRY_FORMAT = 'otlp'
    for (const options of [{ servers: 'nats://127.0.0.1:1' }, undefined]) {
      await assert.rejects(Telemetry.connect(options), (e) => {
        assert.ok(e instanceof TypeError, String(e))
        assert.equal(e.code, 'ERR_DAGNATS_UNKNOWN_FORMAT')
        assert.ok(e.message.includes(ACCEPTED) && e.message.includes('DAGNATS_TELEMETRY_FORMAT'), e.message)
        return true
      })
    }
  })

  test('inMemory keeps records whatever the variable', () => {
    process.env.DAGNATS_TELEMETRY_FORMAT = 'engine'
    const tel = Telemetry.inMemory('node-mem')
    tel.tracer.startActiveSpan('work', { attributes: { n: 1 } }, () => tel.logger.info('hello', { n: 2 }))
    const [span] = tel.finishedSpans()
    const [log] = tel.finishedLogs()
    assert.equal(span.service, 'node-mem')
    assert.deepEqual(span.attributes, { n: 1 })
    assert.match(span.trace_id, /^[0-9a-f]{32}$/)
    assert.equal(log.message, 'hello')
    assert.deepEqual(log.fields, { n: 2 })
  })

  test('the strict reader fails on a record-format span and on no input', () => {
    const tel = Telemetry.inMemory('node-mem')
    tel.tracer.startSpan('work', { attributes: { run_id: 'r' } }).end()
    const body = JSON.stringify(tel.finishedSpans()[0])
    let { status, verdict } = strictReader([{ subject: 'telemetry.spans.node-mem.r', body }])
    assert.equal(status, 1)
    assert.equal(verdict.ok, false)
    ;({ status, verdict } = strictReader([]))
    assert.equal(status, 1)
    assert.deepEqual(verdict.errors, ['no message bodies were given'])
  })
})
