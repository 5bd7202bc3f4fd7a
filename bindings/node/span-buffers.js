'use strict'
/**
 * The memory a span shares with the addon, and its protocol (the one description of it;
 * src/handles.rs and src/span.rs implement the native side).
 *
 * Why: a span's whole life should cost about a microsecond, and each Node-API call or
 * object handed to the addon costs a sizeable part of that. So span identities and
 * buffered attributes cross through two typed arrays bound once per thread
 * (`bindBuffers`, with the write plan of `inject`), and a native call carries only what
 * cannot be a number.
 *
 * The id buffer, `Uint32Array(8)` (u32 words, native byte order): 0-3 the trace id's 16
 * bytes, 4-5 the span id's 8 bytes, 6 the trace flags, 7 is-remote (0/1). A native call
 * that needs a parent or a context reads it from here (`loadIds` first); one that creates
 * a span or reads a context from a carrier writes it here (`storeIds` after). JavaScript
 * only copies the words; it never builds ids.
 *
 * The attribute buffer, `Float64Array(3 * 64)`: attributes waiting for their span's next
 * native call, as `[key, kind, number]` triples, with their text passed as that call's
 * trailing arguments (after a `count` argument), in order:
 *
 * - key: the number of an interned name (the core's table: `internName`), or `-1`: the
 *   key is the next trailing argument (a string);
 * - kind 0: the value is the next trailing argument (a string); 1: a number, in the third
 *   slot (the addon makes a safe integer an int64, any other number a float64); 2: a
 *   boolean, the third slot 0 or 1.
 *
 * Only strings, numbers and booleans are buffered; any other value (a bigint, or
 * something that is no attribute value) goes to the addon in a call of its own, which
 * converts or rejects it, so the addon's rules and messages are the only ones.
 *
 * The write plan, `Int32Array(16)`: what `carrierWrite` decided to write into a carrier
 * (src/propagation.rs), as numbers, because an array built by the addon would cost more
 * than the whole write. Word 0 counts the operations; each follows as a `target, name,
 * value` triple: target 0 the headers, 1 the event; name a number into `carrierNames()`
 * (the core's names); value 1 the `traceparent` the call returned, 2 the trace state it
 * was given, 3 the baggage it was given, 0 delete.
 *
 * One span at a time, the *owner*, has attributes in the buffer. Another span's
 * attribute, a full buffer, or a span start with attributes sends the owner's first
 * (`spanSetAttributes`), so every attribute reaches its span in the order it was set.
 */

const native = require('./native.js')

const { spanSetAttributes } = native.spanFunctions()

/** Attributes one native call carries (src/handles.rs: ATTRIBUTE_BUFFER_LEN). */
const ATTRIBUTE_BATCH = 64

const ids = new Uint32Array(8)
const attributeBuffer = new Float64Array(3 * ATTRIBUTE_BATCH)
/** Elements of the write plan (src/handles.rs: WRITE_PLAN_LEN). */
const WRITE_PLAN_LENGTH = 16
const writePlan = new Int32Array(WRITE_PLAN_LENGTH)
native.bindBuffers(ids, attributeBuffer, writePlan)

/** Copies the span identity in the id buffer into `target`'s fields. */
function storeIds(target) {
  target._t0 = ids[0]
  target._t1 = ids[1]
  target._t2 = ids[2]
  target._t3 = ids[3]
  target._s0 = ids[4]
  target._s1 = ids[5]
  target._flags = ids[6]
  target._remote = ids[7] === 1
}

/** Puts the identity of a Span or SpanContext into the id buffer. */
function loadIds(source) {
  ids[0] = source._t0
  ids[1] = source._t1
  ids[2] = source._t2
  ids[3] = source._t3
  ids[4] = source._s0
  ids[5] = source._s1
  ids[6] = source._flags
  ids[7] = source._remote ? 1 : 0
}

/** The span whose attributes are in the buffer, or null. */
let owner = null
let ownerCount = 0
/** Text slots in use; the array only grows (shrinking it is slow), stale slots are cleared. */
const ownerText = []
let ownerTextLength = 0

/**
 * The trailing text of the call that `takeBuffered` prepared: up to four in t0..t3
 * (`undefined` beyond), more in `more` (then t0..t3 are unused). One object, reused, so
 * taking the buffer allocates nothing.
 */
const taken = { t0: undefined, t1: undefined, t2: undefined, t3: undefined, more: null }

/**
 * Takes `span`'s buffered attributes for its next native call: returns their count (0
 * unless `span` is the owner) and leaves their text in `taken`.
 */
function takeBuffered(span) {
  taken.more = null
  if (owner !== span) return 0
  owner = null
  const count = ownerCount
  ownerCount = 0
  const length = ownerTextLength
  ownerTextLength = 0
  if (length <= 4) {
    taken.t0 = length > 0 ? ownerText[0] : undefined
    taken.t1 = length > 1 ? ownerText[1] : undefined
    taken.t2 = length > 2 ? ownerText[2] : undefined
    taken.t3 = length > 3 ? ownerText[3] : undefined
  } else {
    taken.more = ownerText.slice(0, length)
  }
  for (let i = 0; i < length; i++) ownerText[i] = undefined
  return count
}

/** Sends the owner's buffered attributes on their own (nothing else in the call). */
function sendOwnerAttributes() {
  const span = owner
  const count = takeBuffered(span)
  if (taken.more === null) spanSetAttributes(span._h, count, taken.t0, taken.t1, taken.t2, taken.t3)
  else spanSetAttributes(span._h, count, ...taken.more)
}

/** Sends whatever is buffered, so that a call of its own keeps the order of attributes. */
function sendBuffered() {
  if (owner !== null) sendOwnerAttributes()
}

/** True for the values the buffer carries; the addon judges every other one. */
function isBufferable(value) {
  const type = typeof value
  return type === 'string' || type === 'number' || type === 'boolean'
}

/**
 * Buffers one attribute for `owner` (any object: a Span, or a token for a span about to
 * start). `key` is an interned number or a string; `value` is bufferable.
 */
function bufferAttribute(span, key, value) {
  if (owner !== span || ownerCount === ATTRIBUTE_BATCH) {
    if (owner !== null) sendOwnerAttributes()
    owner = span
  }
  const at = 3 * ownerCount++
  if (typeof key === 'number') {
    attributeBuffer[at] = key
  } else {
    attributeBuffer[at] = -1
    ownerText[ownerTextLength++] = key
  }
  if (typeof value === 'number') {
    attributeBuffer[at + 1] = 1
    attributeBuffer[at + 2] = value
  } else if (typeof value === 'boolean') {
    attributeBuffer[at + 1] = 2
    attributeBuffer[at + 2] = value ? 1 : 0
  } else {
    attributeBuffer[at + 1] = 0
    ownerText[ownerTextLength++] = value
  }
}

module.exports = {
  ATTRIBUTE_BATCH,
  writePlan,
  storeIds,
  loadIds,
  taken,
  takeBuffered,
  sendBuffered,
  isBufferable,
  bufferAttribute,
}
