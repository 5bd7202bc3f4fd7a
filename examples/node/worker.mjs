// The quickstart's Node worker: takes the engine's task, does its work in a child span
// of the remote parent (current through AsyncLocalStorage, so the nested span and the
// log find it), and hands the next step to the C worker with the trace context in the
// headers and the event fields (the dual write).
//
//   NATS_URL=... node worker.mjs        (prints "ready" once subscribed)

import { connect, headers as natsHeaders, JSONCodec } from 'nats'
import { Telemetry, SpanKind, StatusCode, extract, inject } from 'dagnats-observe'

const INBOX = 'dagnats.demo.node'
const NEXT = 'dagnats.demo.c'
const servers = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'
const json = JSONCodec()

const tel = await Telemetry.connect({ servers, service: 'node-worker' })
const nc = await connect({ servers })
const sub = nc.subscribe(INBOX, { max: 1 })
await nc.flush()
console.log(`node-worker: ready on ${INBOX}`)

for await (const msg of sub) {
  const event = json.decode(msg.data)
  const parent = extract(msg.headers, event) // header first, then the event fields
  await tel.tracer.startActiveSpan(
    'node.transform',
    { kind: SpanKind.Server, parent, attributes: { run_id: event.run_id, step_id: event.step_id } },
    async (span) => {
      await tel.tracer.startActiveSpan('node.validate', async (validate) => {
        await new Promise((resolve) => setTimeout(resolve, 10))
        validate.setAttribute('rows', event.payload?.rows ?? 0)
      })
      tel.logger.info('rows transformed', { rows: event.payload?.rows ?? 0 })
      tel.metrics.counter('rows.transformed').add(event.payload?.rows ?? 0, { worker: 'node' })

      const next = { run_id: event.run_id, step_id: 'compress' }
      const h = natsHeaders()
      inject(h, { event: next }) // current span: node.transform
      nc.publish(NEXT, json.encode(next), { headers: h })
      await nc.flush()
      span.setStatus(StatusCode.Ok) // startActiveSpan ends the span when this function settles
      console.log(`node-worker: ${event.run_id} transformed, handed to ${NEXT}`)
    },
  )
}

await nc.drain()
await tel.close(10000)
