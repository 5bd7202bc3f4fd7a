// Worker threads: each has its own span table and shared buffers, while names are
// interned once for the process (the core's table), so a number one thread got names the
// same text in another.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Worker } from 'node:worker_threads'

import { Telemetry } from 'dagnats-observe'

/** Records one span with the same names in this thread. */
function recordHere() {
  const tel = Telemetry.inMemory('threads')
  tel.tracer.startActiveSpan('worker.executeTask', { attributes: { run_id: 'r-main', attempt: 1 } }, (span) => {
    span.setAttribute('step_id', 'main').addEvent('cache.miss')
  })
  return tel.finishedSpans()[0]
}

const workerSource = `
  const { parentPort } = require('node:worker_threads')
  const { Telemetry } = require('dagnats-observe')
  const tel = Telemetry.inMemory('threads')
  tel.tracer.startActiveSpan('worker.executeTask', { attributes: { run_id: 'r-worker', attempt: 2 } }, (span) => {
    span.setAttribute('step_id', 'worker').setAttribute('only_in_worker', true).addEvent('cache.miss')
  })
  parentPort.postMessage(tel.finishedSpans()[0])
`

test('spans recorded in a worker thread keep their names and values', async () => {
  const before = recordHere()
  const worker = new Worker(workerSource, { eval: true })
  const fromWorker = await new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  await worker.terminate()
  const after = recordHere()

  assert.equal(fromWorker.name, 'worker.executeTask')
  assert.deepEqual(fromWorker.attributes, { run_id: 'r-worker', attempt: 2, step_id: 'worker', only_in_worker: true })
  assert.equal(fromWorker.events[0].name, 'cache.miss')
  for (const record of [before, after]) {
    assert.deepEqual(record.attributes, { run_id: 'r-main', attempt: 1, step_id: 'main' })
    assert.equal(record.events[0].name, 'cache.miss')
  }
})
