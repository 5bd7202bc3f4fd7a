// The core's intern table is bounded (dagnats_observe::intern): past its limit, names are
// passed as text. The package copies no limit; whatever the core refuses still arrives.
// A file of its own: the table is process-wide, and this test fills it.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Telemetry } from 'dagnats-observe'

test('names past the full intern table still arrive whole', () => {
  const tel = Telemetry.inMemory('intern')
  // 50 spans of 100 distinct keys: 5000 names, more than the table holds.
  for (let s = 0; s < 50; s++) {
    const span = tel.tracer.startSpan(`span_${s}`)
    for (let k = 0; k < 100; k++) span.setAttribute(`key_${s}_${k}`, k)
    span.end()
  }
  const spans = tel.finishedSpans()
  assert.equal(spans.length, 50)
  for (let s = 0; s < 50; s++) {
    assert.equal(spans[s].name, `span_${s}`)
    assert.equal(Object.keys(spans[s].attributes).length, 100)
    assert.equal(spans[s].attributes[`key_${s}_99`], 99)
  }
  // Names seen before the table filled still go by number; new ones by text.
  tel.clearFinished()
  tel.tracer.startSpan('span_0', { attributes: { key_0_0: 'early', a_new_name: 'late' } }).addEvent('a_new_event').end()
  const [record] = tel.finishedSpans()
  assert.deepEqual(record.attributes, { key_0_0: 'early', a_new_name: 'late' })
  assert.equal(record.events[0].name, 'a_new_event')
})
