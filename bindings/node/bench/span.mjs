// Benchmark (not a test): per-span cost of dagnats-observe beside the OpenTelemetry JS SDK
// in the same run, and inject+extract beside W3CTraceContextPropagator.
//
// The span (issue 5, issue 13): start, 4 attributes, one event, end, made active
// (startActiveSpan), in each way a user gives attributes: options at start
// (`startActiveSpan(name, { attributes }, fn)`), `setAttribute`, `setAttributes`; the same
// shapes on both sides. OpenTelemetry: BasicTracerProvider + BatchSpanProcessor + an
// exporter that discards, with the AsyncLocalStorage context manager. dagnats-observe: the
// span goes to the noop sink and, when a nats-server is available, through the real
// collector to a local JetStream (published: what a user's code pays).
//
// Rounds of the contenders are interleaved; each figure is the best round (the machine is
// shared, and the best round is the least disturbed one), with the median beside it.
// RATIO lines: each of our shapes against our fastest (target within 1.2x), our slowest
// shape against OpenTelemetry's fastest (target at most 0.5x its cost, goal 0.33x), and
// inject+extract. Usage: node bench/span.mjs [--rounds N] [--spans N]
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core'
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

import { extract, inject, SpanKind, Telemetry } from 'dagnats-observe'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    spans: { type: 'string', default: '200000' },
  },
})
const ROUNDS = Number(args.rounds)
const SPANS = Number(args.spans)
/** Spans per synchronous chunk; between chunks the event loop turns (batch timers run). */
const CHUNK = 1000

/** Median of a list of numbers. */
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const best = (xs) => Math.min(...xs)

/** Runs `op` `n` times in chunks, yielding to the event loop between chunks; ns per op. */
async function timeOps(op, n) {
  let elapsed = 0n
  for (let done = 0; done < n; done += CHUNK) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < CHUNK; i++) op()
    elapsed += process.hrtime.bigint() - start
    await new Promise((resolve) => setImmediate(resolve))
  }
  return Number(elapsed) / n
}

/** Interleaves the contenders round by round; returns each one's ns/op per round. */
async function compare(contenders, n, between = async () => {}) {
  const results = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]))
  for (const op of Object.values(contenders)) await timeOps(op, Math.min(n, 50000)) // warm up
  await between()
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, op] of Object.entries(contenders)) {
      results[name].push(await timeOps(op, n))
      await between()
    }
  }
  return results
}

/** Prints each contender's best and median, and returns the best. */
function report(title, results) {
  console.log(title)
  for (const [name, xs] of Object.entries(results)) {
    console.log(`  ${name.padEnd(18)} best ${fmt(best(xs))}, median ${fmt(median(xs))}`)
  }
  return Object.fromEntries(Object.entries(results).map(([name, xs]) => [name, best(xs)]))
}

// --- OpenTelemetry JS SDK -------------------------------------------------------------
const discardingExporter = {
  export(spans, done) {
    done({ code: ExportResultCode.SUCCESS })
  },
  shutdown() {
    return Promise.resolve()
  },
  forceFlush() {
    return Promise.resolve()
  },
}
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(discardingExporter)] })
const otelTracer = provider.getTracer('bench')

// --- the span, in each way a user gives its attributes -----------------------------------
// Every shape does the same work: start (kind server, made active), 4 attributes (two
// strings, an integer, a boolean), one event, end. The attribute object is written out in
// each call, as user code does.
function eventAndEnd(span) {
  span.addEvent('cache.miss')
  span.end()
}
function setAttributeBody(span) {
  span.setAttribute('run_id', 'r-42')
  span.setAttribute('step_id', 'build')
  span.setAttribute('attempt', 2)
  span.setAttribute('cached', false)
  eventAndEnd(span)
}
function setAttributesBody(span) {
  span.setAttributes({ run_id: 'r-42', step_id: 'build', attempt: 2, cached: false })
  eventAndEnd(span)
}
/** The shapes as functions of a tracer (OpenTelemetry's and ours have the same calls). */
const SHAPES = {
  options: (tracer, kind) => () =>
    tracer.startActiveSpan(
      'worker.executeTask',
      { kind, attributes: { run_id: 'r-42', step_id: 'build', attempt: 2, cached: false } },
      eventAndEnd,
    ),
  setAttribute: (tracer, kind) => () => tracer.startActiveSpan('worker.executeTask', { kind }, setAttributeBody),
  setAttributes: (tracer, kind) => () => tracer.startActiveSpan('worker.executeTask', { kind }, setAttributesBody),
}
/** Every shape of ours and OpenTelemetry's, as contenders of one comparison. */
function spanContenders(ours) {
  const contenders = {}
  for (const [shape, make] of Object.entries(SHAPES)) {
    contenders[`otel ${shape}`] = make(otelTracer, 1)
    contenders[`ours ${shape}`] = make(ours, SpanKind.Server)
  }
  return contenders
}

/**
 * Prints the RATIO lines of a span comparison: each of our shapes against our fastest
 * (target: within 1.2x), and our slowest shape against OpenTelemetry's fastest (target
 * at most 0.5x its cost, goal 0.33x).
 */
function spanRatios(label, figures) {
  const ours = Object.entries(figures).filter(([name]) => name.startsWith('ours '))
  const otel = Object.entries(figures).filter(([name]) => name.startsWith('otel '))
  const fastest = Math.min(...ours.map(([, ns]) => ns))
  const shapes = ours.map(([name, ns]) => `${name.slice(5)} ${fmt(ns)} (${(ns / fastest).toFixed(2)}x)`).join(', ')
  const worst = Math.max(...ours.map(([, ns]) => ns)) / fastest
  console.log(
    `RATIO ${label} attribute shapes against the fastest: ${shapes} (target <= 1.2x: ${worst <= 1.2 ? 'met' : 'NOT met'})`,
  )
  const [slowestName, slowest] = ours.reduce((a, b) => (b[1] > a[1] ? b : a))
  const [otelName, otelBest] = otel.reduce((a, b) => (b[1] < a[1] ? b : a))
  const ratio = slowest / otelBest
  console.log(
    `RATIO ${label} span: dagnats (slowest shape, ${slowestName.slice(5)}) ${fmt(slowest)} / opentelemetry (fastest shape, ${otelName.slice(5)}) ${fmt(otelBest)} = ${ratio.toFixed(2)}x the cost (target <= 0.5x: ${ratio <= 0.5 ? 'met' : 'NOT met'}; goal 0.33x: ${ratio <= 0.33 ? 'met' : 'not met'})`,
  )
}

// --- a local nats-server, when there is one -------------------------------------------
async function startNats() {
  const bin = process.env.NATS_SERVER_BIN
  if (!bin || !existsSync(bin)) return null
  const probe = createServer()
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address()
  await new Promise((resolve) => probe.close(resolve))
  const store = mkdtempSync(join(tmpdir(), 'dagnats-node-bench-'))
  const config = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'testdata', 'nats-server-test.conf')
  const args = ['-c', config, '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store]
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  await new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      log += chunk
      if (log.includes('Server is ready')) resolve()
    })
    child.on('exit', () => reject(new Error(`nats-server exited:\n${log}`)))
  })
  child.removeAllListeners('exit')
  return {
    url: `nats://127.0.0.1:${port}`,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
      rmSync(store, { recursive: true, force: true })
    },
  }
}

const fmt = (ns) => `${(ns / 1000).toFixed(3)} µs`

async function main() {
  console.log(`node ${process.version}; ${SPANS} spans per round, ${ROUNDS} rounds`)

  // The span: noop sink (records discarded as they end, like the discarding exporter).
  const noop = Telemetry.noop('bench')
  spanRatios(
    'records discarded:',
    report('span (start, 4 attributes, 1 event, end; active), records discarded:', await compare(spanContenders(noop.tracer), SPANS)),
  )

  // The same span through the real collector to a local JetStream, as a user's code pays
  // it: its background thread serializes and publishes every record (work the discarding
  // exporter never does) and shares the machine's cores with nats-server; every round is
  // flushed before the next one starts.
  const nats = await startNats()
  if (nats) {
    const connected = await Telemetry.connect({ servers: nats.url, service: 'bench', bufferCapacity: 1 << 20 })
    const flush = () => connected.flush(60000).catch((e) => console.log(`  flush: ${e.message}`))
    spanRatios(
      'published to NATS:',
      report(
        'span through the NATS collector (published to JetStream, flushed between rounds; opentelemetry discarding):',
        await compare(spanContenders(connected.tracer), SPANS, flush),
      ),
    )
    console.log(`  collector: ${JSON.stringify(connected.stats)}`)
    await connected.close(5000).catch(() => {})
    await nats.stop()
  } else {
    console.log('(no NATS_SERVER_BIN: the NATS collector run was skipped)')
  }

  // inject + extract, plain object headers.
  const otelPropagator = new W3CTraceContextPropagator()
  const otelParent = otelTracer.startSpan('parent')
  const otelCtx = trace.setSpan(ROOT_CONTEXT, otelParent)
  const setter = {
    set(carrier, key, value) {
      carrier[key] = value
    },
  }
  const getter = {
    get(carrier, key) {
      return carrier[key]
    },
    keys(carrier) {
      return Object.keys(carrier)
    },
  }
  const oursParent = noop.tracer.startSpan('parent')
  const propagate = report(
    'inject + extract (plain object headers):',
    await compare(
      {
        otel: () => {
          const headers = {}
          otelPropagator.inject(otelCtx, headers, setter)
          trace.getSpanContext(otelPropagator.extract(ROOT_CONTEXT, headers, getter))
        },
        ours: () => {
          extract(inject({}, { span: oursParent }))
        },
      },
      SPANS,
    ),
  )
  const propRatio = propagate.otel / propagate.ours
  console.log(
    `RATIO inject+extract: dagnats ${fmt(propagate.ours)}, W3CTraceContextPropagator ${fmt(propagate.otel)} -> ${propRatio.toFixed(2)}x cheaper`,
  )
  otelParent.end()
  oursParent.end()
  await provider.shutdown()
}

await main()
