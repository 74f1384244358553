// yjs on Node: one side of bench/yjs_cores.py (read the protocol there).
//   node --expose-gc bench/yjs_core_node.mjs local  <trace.json.gz> <runs> <updates-out>
//   node --expose-gc bench/yjs_core_node.mjs remote <trace.json.gz> <runs> <updates-in>
// Prints one JSON line: the seconds of each of <runs> fresh documents, the peak heap (sampled every
// 10,000 edits), the heap the document keeps after GC, the process's peak RSS.
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import v8 from 'node:v8'

const here = dirname(fileURLToPath(import.meta.url))
const require = createRequire(join(here, '..', 'tests', 'js', 'package.json'))
const Y = require('yjs')
const yjsVersion = require('yjs/package.json').version

const SAMPLE_EVERY = 10000
const [mode, tracePath, runsArg, updatesPath] = process.argv.slice(2)
if (!['local', 'remote'].includes(mode) || !updatesPath) {
  console.error('usage: yjs_core_node.mjs local|remote <trace.json.gz> <runs> <updates-file>')
  process.exit(2)
}
if (typeof globalThis.gc !== 'function') throw new Error('run node with --expose-gc')
const trace = JSON.parse(gunzipSync(readFileSync(tracePath)).toString('utf8'))
const runs = Number(runsArg)
const heapUsed = () => v8.getHeapStatistics().used_heap_size

function readFrames (path) {
  const data = readFileSync(path)
  const frames = []
  for (let pos = 0; pos < data.length;) {
    const n = data.readUInt32BE(pos)
    frames.push(data.subarray(pos + 4, pos + 4 + n))
    pos += 4 + n
  }
  return frames
}

function writeFrames (path, frames) {
  const parts = []
  for (const f of frames) {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(f.length)
    parts.push(len, f)
  }
  writeFileSync(path, Buffer.concat(parts))
}

function replayLocal () {
  const doc = new Y.Doc()
  doc.clientID = 1
  const text = doc.getText('text')
  const sink = { updates: [] } // emptied before the document's heap is measured
  doc.on('update', (u) => { sink.updates.push(u) })
  let edits = 0
  let peak = heapUsed()
  const started = process.hrtime.bigint()
  for (const txn of trace.txns) {
    for (const [pos, del, ins] of txn.patches) {
      doc.transact(() => {
        if (del > 0) text.delete(pos, del)
        if (ins.length > 0) text.insert(pos, ins)
      })
      if (++edits % SAMPLE_EVERY === 0) peak = Math.max(peak, heapUsed())
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  peak = Math.max(peak, heapUsed())
  return { doc, text, sink, edits, seconds, peak }
}

function applyRemote (frames) {
  const doc = new Y.Doc()
  doc.clientID = 2
  const text = doc.getText('text')
  let edits = 0
  let peak = heapUsed()
  const started = process.hrtime.bigint()
  for (const u of frames) {
    Y.applyUpdate(doc, u)
    if (++edits % SAMPLE_EVERY === 0) peak = Math.max(peak, heapUsed())
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  peak = Math.max(peak, heapUsed())
  return { doc, text, sink: { updates: frames }, edits, seconds, peak }
}

const times = []
let peakHeap = 0
let docHeap = 0
let textOk = true
let updatesSha256 = null
let updateBytes = 0
for (let i = 0; i < runs; i++) {
  globalThis.gc()
  globalThis.gc()
  const baseline = heapUsed() // before this run's inputs and document
  let frames = mode === 'remote' ? readFrames(updatesPath) : null
  globalThis.gc()
  let r = mode === 'local' ? replayLocal() : applyRemote(frames)
  times.push(r.seconds)
  peakHeap = Math.max(peakHeap, r.peak)
  textOk = textOk && r.text.toString() === trace.endContent
  if (i === 0) {
    const digest = createHash('sha256')
    for (const u of r.sink.updates) digest.update(u)
    updatesSha256 = digest.digest('hex')
    updateBytes = r.sink.updates.reduce((n, u) => n + u.length, 0)
    if (mode === 'local') writeFrames(updatesPath, r.sink.updates)
  }
  const doc = r.doc
  frames = null
  r.sink.updates = null
  r = null
  globalThis.gc()
  globalThis.gc() // what stays is the document alone
  docHeap = Math.max(docHeap, heapUsed() - baseline)
  doc.destroy()
}
console.log(JSON.stringify({
  impl: 'yjs',
  version: `yjs ${yjsVersion}, Node ${process.version}`,
  mode,
  edits: trace.txns.reduce((n, t) => n + t.patches.length, 0),
  seconds: times,
  peak_heap: peakHeap,
  doc_heap: docHeap,
  peak_rss: process.resourceUsage().maxRSS * 1024,
  text_ok: textOk,
  updates_sha256: updatesSha256,
  update_bytes: updateBytes
}))
