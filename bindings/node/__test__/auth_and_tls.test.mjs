// The collector connects with user/password, a token, an NKey, a `.creds` file (a real
// user JWT in an operator-mode server) and over TLS with a CA given by the user: the
// shared cases of testkit::auth ($DAGNATS_AUTH_CASES), which the Rust, Python and C tests
// run too. Each wrong way to connect rejects with an Error naming the cause, never
// carrying the secret.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { inspect } from 'node:util'

import { Telemetry } from 'dagnats-observe'

import { authCases, startNatsServer } from './helpers.mjs'

const cases = authCases()

/** Telemetry.connect options for a case's `connect`/`wrong` keys (the core's names). */
function connectOptions(servers, keys) {
  const options = { servers, service: 'node-auth', timeout: 5000 }
  for (const [key, value] of Object.entries(keys)) {
    switch (key) {
      case 'user':
        options.user = value
        break
      case 'password':
        options.pass = value
        break
      case 'token':
        options.token = value
        break
      case 'nkey':
        options.nkeySeed = value
        break
      case 'credentials_file':
        options.credentialsFile = value
        break
      case 'tls_required':
        options.tls = { ...options.tls, required: value }
        break
      case 'tls_ca_file':
        options.tls = { ...options.tls, caFile: value }
        break
      default:
        throw new Error(`unknown connect option ${key} in the shared auth cases`)
    }
  }
  return options
}

describe('authentication and TLS (the shared cases)', () => {
  test('the shared cases cover every way to connect', () => {
    const names = cases.map((c) => c.name)
    assert.equal(new Set(names).size, names.length, `duplicate case names: ${names}`)
    for (const name of ['user_password', 'token', 'nkey', 'credentials_file', 'tls_ca_file']) {
      assert.ok(names.includes(name), `the case ${name} is missing from ${names}`)
    }
  })

  for (const c of cases) {
    test(c.name, async () => {
      const server = await startNatsServer(c.server_args)
      let tel
      try {
        await assert.rejects(Telemetry.connect(connectOptions(server.url, c.wrong)), (error) => {
          assert.ok(error instanceof Error, `rejected with ${inspect(error)}`)
          assert.equal(error.code, 'ERR_DAGNATS_CONNECT', error.message)
          assert.ok(!inspect(error).includes(c.secret), `the secret leaked: ${error.message}`)
          assert.ok(error.message.includes(c.refusal), `the cause (${c.refusal}) is not named: ${error.message}`)
          return true
        })

        tel = await Telemetry.connect(connectOptions(server.url, c.connect))
        tel.tracer.startSpan('secured').end()
        await tel.flush(10000)
        assert.equal(tel.stats?.published, 1, inspect(tel.stats))
      } finally {
        await tel?.close(5000).catch(() => {})
        await server.stop()
      }
    })
  }
})
