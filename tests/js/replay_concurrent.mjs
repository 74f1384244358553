#!/usr/bin/env node
/**
 * Replay one agent of a concurrent editing trace against a y-websocket server.
 *
 *   node replay_concurrent.mjs --url ws://127.0.0.1:PORT --room ROOM --agent 0 \
 *        --trace tests/data/editing-traces/friendsforever.json.gz [--wait-start] [--timeout 120000]
 *   node replay_concurrent.mjs --trace FILE --dry-run      # check the oracle offline, no server
 *
 * Run one process per agent (`numAgents` of them, same room). Every process must end with the
 * trace's `endContent` in the Y.Text "text".
 *
 * Why positions can't simply be replayed live
 * -------------------------------------------
 * A transaction's patch positions are relative to the document at its `parents` version. Agent a's
 * live document may already contain the other agent's *concurrent* transactions (they arrived before
 * a's transaction was replayed), so replaying `[pos, del, ins]` by position on the live document
 * would edit the wrong place and the replicas would not end with `endContent`.
 *
 * What this script does
 * ---------------------
 * 1. Oracle (deterministic, in memory, identical in every process). In this trace each agent's
 *    transactions form one causal chain, so a version is a vector of per-agent prefix lengths, and
 *    `parents` only ever move an agent's view of the others forward. Each agent gets a private
 *    Y.Doc with a fixed clientID (`--client-base + agent`). Walking the transactions in trace order,
 *    before applying transaction t of agent a we merge into a's doc exactly the other agents'
 *    transactions that t's parents include, then apply t's patches by position (now correct: a's
 *    doc is exactly at t's parents version) and record the Yjs update the edit produced.
 *    `--dry-run` merges every recorded update into a fresh doc and compares it with `endContent`.
 * 2. Live replay. The process connects a real WebsocketProvider (ws, disableBc) and, for each of
 *    its agent's transactions in order, waits until the live document contains the other agents'
 *    transactions that the parents require, then applies the recorded update to the live document;
 *    the provider sends it to the server like any local edit. The wire traffic is what live Yjs
 *    clients with those clientIDs would send; only the position bookkeeping happened in advance.
 *
 *    "Contains transaction j of agent b" is decided from the live document: its state vector has
 *    reached the clock b had after j (the oracle knows it), and when j only deleted, the items j
 *    deleted are deleted. Because the server relays one connection's frames in order, checking the
 *    latest required transaction of each agent is enough.
 *
 * Replays are idempotent: the recorded updates are byte-identical in every run, so replaying twice
 * into the same room still ends with `endContent`.
 *
 * Output: JSON lines on stdout — {"event":"ready"}, {"event":"status"}, {"event":"synced"},
 * {"event":"progress"}, {"event":"done"} (own transactions sent), {"event":"converged"} (text ==
 * endContent) or {"event":"timeout"}; exit code 0 only after converging (or a passing dry run).
 */
import fs from 'node:fs'
import zlib from 'node:zlib'
import { parseArgs } from 'node:util'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

// Keep stdout for JSON lines: libraries log through console.log.
console.log = (...args) => console.error(...args)
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

const { values: opts } = parseArgs({
  options: {
    url: { type: 'string' },
    room: { type: 'string' },
    agent: { type: 'string' },
    trace: { type: 'string' },
    params: { type: 'string', default: '{}' },
    'client-base': { type: 'string', default: '1900000000' },
    'wait-start': { type: 'boolean', default: false },
    'dry-run': { type: 'boolean', default: false },
    timeout: { type: 'string', default: '120000' },
    'progress-every': { type: 'string', default: '2000' }
  }
})

if (!opts.trace) {
  console.error('--trace is required')
  process.exit(2)
}

const loadTrace = (path) => {
  let raw = fs.readFileSync(path)
  if (path.endsWith('.gz')) raw = zlib.gunzipSync(raw)
  const trace = JSON.parse(raw.toString('utf8'))
  if (trace.kind !== 'concurrent') throw new Error(`${path} is not a concurrent trace`)
  return trace
}

/** Code point offset → UTF-16 offset in `s` (only needed when the text has astral characters). */
const utf16Offset = (s, codePoints) => {
  let i = 0
  for (let cp = 0; cp < codePoints; cp++) {
    const c = s.charCodeAt(i)
    i += c >= 0xd800 && c <= 0xdbff ? 2 : 1
  }
  return i
}

/**
 * Compute, for every transaction, the Yjs update it produces and what proves its arrival.
 * @returns {{clientIds:number[], txns:Array<{agent:number, need:number[], update:Uint8Array, clock:number, deletes:Array<[number, number, number]>}>}}
 */
const buildOracle = (trace, clientBase) => {
  const numAgents = Number(trace.numAgents)
  const clientIds = Array.from({ length: numAgents }, (_, a) => clientBase + a)
  const docs = clientIds.map((id) => {
    const doc = new Y.Doc()
    doc.clientID = id
    return doc
  })
  const astral = /[\u{10000}-\u{10FFFF}]/u
  const hasAstral = trace.txns.some((t) => t.patches.some((p) => astral.test(p[2])))
  const versions = [] // per transaction: per-agent count of transactions in its history, itself included
  const merged = docs.map(() => new Array(numAgents).fill(0)) // merged[a][b]: b's txns merged into a's doc
  const ownCount = new Array(numAgents).fill(0)
  const perAgent = clientIds.map(() => []) // indexes of each agent's transactions
  const out = []
  trace.txns.forEach((t, index) => {
    const a = t.agent
    const version = new Array(numAgents).fill(0)
    for (const p of t.parents) {
      for (let b = 0; b < numAgents; b++) version[b] = Math.max(version[b], versions[p][b])
    }
    if (version[a] !== ownCount[a]) {
      throw new Error(`transaction ${index}: agent ${a}'s transactions are not one causal chain`)
    }
    const doc = docs[a]
    for (let b = 0; b < numAgents; b++) {
      if (b === a) continue
      if (version[b] < merged[a][b]) throw new Error(`transaction ${index}: agent ${a}'s view went back`)
      for (let k = merged[a][b]; k < version[b]; k++) Y.applyUpdate(doc, out[perAgent[b][k]].update)
      merged[a][b] = version[b]
    }
    const need = version.slice()
    need[a] = 0
    let update = null
    const capture = (u) => { update = u }
    let deletes = []
    const captureDeletes = (tr) => {
      deletes = []
      tr.deleteSet.clients.forEach((ranges, client) => {
        for (const r of ranges) deletes.push([client, r.clock, r.len])
      })
    }
    doc.on('update', capture)
    doc.on('afterTransaction', captureDeletes)
    const text = doc.getText('text')
    doc.transact(() => {
      for (const [pos, del, ins] of t.patches) {
        let at = pos
        let len = del
        if (hasAstral) {
          const s = text.toString()
          at = utf16Offset(s, pos)
          len = utf16Offset(s.slice(at), del)
        }
        if (len > 0) text.delete(at, len)
        if (ins.length > 0) text.insert(at, ins)
      }
    })
    doc.off('update', capture)
    doc.off('afterTransaction', captureDeletes)
    if (update === null) update = Y.encodeStateAsUpdate(doc, Y.encodeStateVector(doc)) // an empty txn
    version[a] += 1
    ownCount[a] += 1
    versions.push(version)
    perAgent[a].push(index)
    out.push({ agent: a, need, update, clock: Y.getState(doc.store, clientIds[a]), deletes })
  })
  return { clientIds, perAgent, txns: out }
}

const trace = loadTrace(opts.trace)
const started = performance.now()
const oracle = buildOracle(trace, Number(opts['client-base']))
const precomputeMs = Math.round(performance.now() - started)

if (opts['dry-run']) {
  const doc = new Y.Doc()
  for (const t of oracle.txns) Y.applyUpdate(doc, t.update)
  const ok = doc.getText('text').toString() === trace.endContent
  emit({ event: 'dry-run', ok, txns: oracle.txns.length, precomputeMs })
  process.exit(ok ? 0 : 1)
}

for (const name of ['url', 'room', 'agent']) {
  if (opts[name] === undefined) {
    console.error(`--${name} is required`)
    process.exit(2)
  }
}
const agent = Number(opts.agent)
if (!(agent >= 0 && agent < oracle.clientIds.length)) {
  console.error(`--agent must be in 0..${oracle.clientIds.length - 1}`)
  process.exit(2)
}
const mine = oracle.perAgent[agent]
emit({ event: 'ready', agent, txns: oracle.txns.length, own: mine.length, precomputeMs })

const doc = new Y.Doc()
const provider = new WebsocketProvider(opts.url, opts.room, doc, {
  WebSocketPolyfill: WebSocket,
  disableBc: true,
  params: JSON.parse(opts.params)
})
provider.awareness.setLocalState({ agent })
provider.on('status', ({ status }) => emit({ event: 'status', status }))
provider.on('synced', (synced) => emit({ event: 'synced', synced }))

/** True when the live doc contains transaction `index` (see the header). */
const present = (index) => {
  const t = oracle.txns[index]
  if (Y.getState(doc.store, oracle.clientIds[t.agent]) < t.clock) return false
  for (const [client, clock] of t.deletes) {
    if (Y.getState(doc.store, client) <= clock) return false
    if (!Y.getItem(doc.store, Y.createID(client, clock)).deleted) return false
  }
  return true
}

const requirementsMet = (t) => t.need.every((count, b) => count === 0 || present(oracle.perAgent[b][count - 1]))

let wake = null
doc.on('update', () => {
  if (wake !== null) {
    const w = wake
    wake = null
    w()
  }
})
const changed = () => new Promise((resolve) => { wake = resolve })
const text = doc.getText('text')
const timeoutMs = Number(opts.timeout)
const deadline = setTimeout(() => {
  emit({ event: 'timeout', length: text.length, expected: trace.endContent.length })
  process.exit(1)
}, timeoutMs)

const run = async () => {
  if (opts['wait-start']) {
    await new Promise((resolve) => {
      let buffered = ''
      process.stdin.on('data', (chunk) => {
        buffered += chunk
        if (buffered.includes('\n')) resolve()
      })
    })
  }
  if (!provider.synced) await new Promise((resolve) => provider.once('synced', resolve))
  const t0 = performance.now()
  let waitedMs = 0
  const every = Number(opts['progress-every'])
  for (let k = 0; k < mine.length; k++) {
    const t = oracle.txns[mine[k]]
    if (!requirementsMet(t)) {
      const w0 = performance.now()
      while (!requirementsMet(t)) await changed()
      waitedMs += performance.now() - w0
    }
    Y.applyUpdate(doc, t.update, 'replay')
    if ((k + 1) % every === 0) {
      emit({ event: 'progress', applied: k + 1 })
      await new Promise((resolve) => setImmediate(resolve)) // let socket I/O run
    }
  }
  emit({ event: 'done', applied: mine.length, elapsedMs: Math.round(performance.now() - t0), waitedMs: Math.round(waitedMs) })
  while (text.toString() !== trace.endContent) await changed()
  emit({ event: 'converged', elapsedMs: Math.round(performance.now() - t0), length: text.length })
  clearTimeout(deadline)
  provider.destroy()
  doc.destroy()
  process.stdin.pause()
  // Let the close frame flush; the provider's (now no-op) reconnect timer would keep us alive.
  setTimeout(() => process.exit(0), 250).unref()
}

run().catch((err) => {
  emit({ event: 'error', message: String(err && err.stack ? err.stack : err) })
  process.exit(1)
})
