// Test support: the shared test vectors, an in-memory telemetry, and a real nats-server
// with JetStream on a free loopback port.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

/** The repository's testdata folder: $DAGNATS_TESTDATA, else ../../../testdata from here. */
export function testdataDir() {
  const dir = process.env.DAGNATS_TESTDATA ?? join(here, '..', '..', '..', 'testdata')
  if (!existsSync(join(dir, 'trace-context-vectors.json'))) {
    throw new Error(`trace-context-vectors.json not found in ${dir}; set DAGNATS_TESTDATA`)
  }
  return dir
}

/** The shared W3C trace-context vectors. */
export function vectors() {
  return JSON.parse(readFileSync(join(testdataDir(), 'trace-context-vectors.json'), 'utf8'))
}

/** A free TCP port on 127.0.0.1. */
export async function freePort() {
  const server = createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** The nats-server binary: $NATS_SERVER_BIN, else the repository's .tools one. */
export function natsServerBin() {
  const bin = process.env.NATS_SERVER_BIN ?? join(here, '..', '..', '..', '.tools', 'venv', 'bin', 'nats-server')
  if (!existsSync(bin)) {
    throw new Error(`nats-server not found at ${bin}; run scripts/setup or set NATS_SERVER_BIN`)
  }
  return bin
}

/**
 * Starts nats-server with JetStream on a free loopback port and a temporary store, plus
 * `extraArgs` (e.g. a shared auth case's `server_args`). Resolves to `{ url, stop }` once
 * the server logs "Server is ready".
 */
export async function startNatsServer(extraArgs = []) {
  const port = await freePort()
  const store = mkdtempSync(join(tmpdir(), 'dagnats-node-nats-'))
  // The shared configuration first: a case's own `-c` (in extraArgs) carries the same limits.
  const config = join(testdataDir(), 'nats-server-test.conf')
  const args = ['-c', config, '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store, ...extraArgs]
  const child = spawn(natsServerBin(), args, {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let log = ''
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server did not start:\n${log}`)), 15000)
    child.stderr.on('data', (chunk) => {
      log += chunk
      if (log.includes('Server is ready')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`nats-server exited with ${code}:\n${log}`))
    })
  })
  child.removeAllListeners('exit')
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
    rmSync(store, { recursive: true, force: true })
  }
  return { url: `nats://127.0.0.1:${port}`, port, stop }
}

/**
 * The shared authentication and TLS cases (testkit::auth): the `cases.json` array at
 * $DAGNATS_AUTH_CASES, written by `cargo run -p testkit --bin auth-fixture -- DIR`.
 */
export function authCases() {
  const path = process.env.DAGNATS_AUTH_CASES
  if (!path) {
    throw new Error('DAGNATS_AUTH_CASES is not set: run `cargo run -q -p testkit --bin auth-fixture -- DIR` and set it to DIR/cases.json')
  }
  const cases = JSON.parse(readFileSync(path, 'utf8'))
  if (!Array.isArray(cases) || cases.length === 0) throw new Error(`${path}: expected a non-empty array of auth cases`)
  return cases
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
