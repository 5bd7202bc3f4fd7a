// Every case of the shared testdata/connection-options-vectors.json through
// validateConnectOptions and Telemetry.connect: as options, and as NATS_* variables.
// The core decides; Node throws a TypeError (a RangeError for the timeout) whose code is
// ERR_DAGNATS_ and the rule's name in capitals.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, test } from 'node:test'

import { Telemetry, validateConnectOptions } from 'dagnats-observe'

import { testdataDir } from './helpers.mjs'

const { cases } = JSON.parse(readFileSync(join(testdataDir(), 'connection-options-vectors.json'), 'utf8'))

const NATS_VARS = ['NATS_URL', 'NATS_CREDS', 'NATS_USER', 'NATS_PASSWORD', 'NATS_TOKEN', 'NATS_NKEY',
  'NATS_TLS_REQUIRED', 'NATS_CA', 'NATS_CERT', 'NATS_KEY']
const saved = Object.fromEntries(NATS_VARS.map((k) => [k, process.env[k]]))

function clearEnv() {
  for (const k of NATS_VARS) delete process.env[k]
}

/** The case's options (the core's names) as Telemetry.connect's. */
function nodeOptions(options) {
  const out = {}
  const tls = {}
  const names = { url: 'servers', password: 'pass', nkey: 'nkeySeed', credentials_file: 'credentialsFile', connect_timeout_ms: 'timeout' }
  const tlsNames = { tls_required: 'required', tls_ca_file: 'caFile', tls_cert_file: 'certFile', tls_key_file: 'keyFile' }
  for (const [key, value] of Object.entries(options)) {
    if (key in tlsNames) tls[tlsNames[key]] = value
    else out[names[key] ?? key] = value
  }
  if (Object.keys(tls).length > 0) out.tls = tls
  return out
}

function check(c, call) {
  if (c.valid) {
    const servers = call()
    if (c.servers) assert.deepEqual(servers, c.servers, c.name)
    return
  }
  const Kind = c.error === 'invalid_timeout' ? RangeError : TypeError
  assert.throws(call, (e) => {
    assert.ok(e instanceof Kind, `${c.name}: ${e}`)
    assert.equal(e.code, `ERR_DAGNATS_${c.error.toUpperCase()}`, `${c.name}: ${e.message}`)
    assert.ok(e.message.startsWith(`${c.error}: `), e.message)
    assert.ok(!e.message.includes('hunter2'), e.message)
    return true
  })
}

describe('connection options: the shared vectors', () => {
  afterEach(() => {
    clearEnv()
    for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v
  })

  test('the file has cases of both forms', () => {
    assert.ok(cases.filter((c) => c.options).length >= 30)
    assert.ok(cases.filter((c) => c.env).length >= 15)
  })

  for (const c of cases.filter((c) => c.options)) {
    test(`options: ${c.name}`, () => {
      clearEnv()
      check(c, () => validateConnectOptions(nodeOptions(c.options)))
    })
  }

  for (const c of cases.filter((c) => c.env)) {
    test(`env: ${c.name}`, () => {
      clearEnv()
      Object.assign(process.env, c.env)
      check(c, () => validateConnectOptions())
    })
  }

  test('connect rejects the same way before any server, naming Node options and variables', async () => {
    clearEnv()
    await assert.rejects(
      Telemetry.connect({ servers: 'nats://127.0.0.1:1', user: 'u', pass: 'p', token: 'tok-secret' }),
      (e) => e instanceof TypeError && e.code === 'ERR_DAGNATS_CONFLICTING_CREDENTIALS' &&
        e.message.includes('user (NATS_USER) and token (NATS_TOKEN)') && !e.message.includes('tok-secret'),
    )
    await assert.rejects(Telemetry.connect({ servers: 'nats://127.0.0.1:1', timeout: 0 }),
      (e) => e instanceof RangeError && e.code === 'ERR_DAGNATS_INVALID_TIMEOUT' && e.message.includes('timeout'))
    process.env.NATS_NKEY = 'SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU'
    await assert.rejects(Telemetry.connect({ servers: 'nats://127.0.0.1:1', credentialsFile: '/w.creds' }),
      (e) => e.code === 'ERR_DAGNATS_CONFLICTING_CREDENTIALS' && e.message.includes('nkeySeed (NATS_NKEY)'))
  })
})
