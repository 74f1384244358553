#!/usr/bin/env node
/**
 * Vectors for the Kotlin Yjs core (mobile/sdk), made by the reference yjs:
 *
 *   node tests/js/kotlin_vectors.mjs generate OUT.json   random concurrent editing sessions (seeded, reproducible)
 *   node tests/js/kotlin_vectors.mjs check IN.json       apply updates someone else produced; print what yjs sees
 *
 * A session: 2-4 clients edit the dojo layout (a Y.Map "files" of Y.Text: create, insert, delete, replace or
 * delete a file) and a top-level Y.Text "text", with non-ASCII text and emoji (UTF-16 surrogate pairs,
 * split by random positions), exchanging updates late and partially. Recorded: every update a client made,
 * in the order made (so each depends only on earlier ones), the state a fresh doc has after applying them
 * in that order (encodeStateAsUpdate bytes and state vector), and the final texts.
 *
 * `check` reads {"sessions": [{"updates": [hex], "state": hex}]} and prints, per session, the texts of a
 * doc that applied the updates in order and of one that applied the state, and whether anything is
 * pending (a dependency it never received).
 *
 *   node tests/js/kotlin_vectors.mjs contents             every kind of content yjs writes, one update each
 *
 * prints {"updates": [hex], "state": hex, "rich": text}: map values of every any-type (integers, floats,
 * bigint, strings, nested objects, bytes, undefined), arrays, binary, formatted text with an embed, XML,
 * a sub-document, and deleted nested types (collected into GC structs); and "skip": a merged update with a
 * gap (a Skip struct), the update that fills it, and the text they make.
 */
import * as Y from 'yjs'
import { readFileSync, writeFileSync } from 'node:fs'

const hex = (bytes) => Buffer.from(bytes).toString('hex')
const unhex = (s) => new Uint8Array(Buffer.from(s, 'hex'))

// mulberry32: a small seeded generator, so the committed vectors can be made again byte for byte
const rng = (seed) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const PIECES = ['a', 'b', 'xyz', ' ', '\n', 'def f():\n', 'é', 'ção', '中文', '😀', '👍🏽', 'naïve ', '\t', '🇧🇷']
const PATHS = ['main.py', 'README.md', 'src/calc.py', 'tests/test_calc.py']

const texts = (doc) => {
  const files = {}
  const map = doc.getMap('files')
  for (const key of Array.from(map.keys()).sort()) {
    const value = map.get(key)
    files[key] = value instanceof Y.Text ? value.toString() : null
  }
  return { files, text: doc.getText('text').toString() }
}

const session = (seed) => {
  const random = rng(seed)
  const int = (n) => Math.floor(random() * n)
  const pick = (arr) => arr[int(arr.length)]
  const nClients = 2 + int(3)
  const docs = []
  const updates = []
  const inboxes = [] // per client: updates not yet delivered to it
  for (let i = 0; i < nClients; i++) {
    const doc = new Y.Doc()
    doc.clientID = 1 + int(0xfffffffe) // yjs client ids are uint32
    docs.push(doc)
    inboxes.push([])
    doc.on('update', (update, origin) => {
      if (origin === 'remote') return
      updates.push(hex(update))
      for (let j = 0; j < nClients; j++) if (j !== i) inboxes[j].push(update)
    })
  }
  const edit = (doc) => {
    const files = doc.getMap('files')
    const roll = random()
    if (roll < 0.15) {
      const text = doc.getText('text')
      if (text.length > 0 && random() < 0.4) {
        const index = int(text.length)
        text.delete(index, 1 + int(Math.min(5, text.length - index)))
      } else {
        text.insert(int(text.length + 1), pick(PIECES))
      }
      return
    }
    const path = pick(PATHS)
    const file = files.get(path)
    if (file === undefined || roll < 0.2) {
      // create (or, rarely, replace) the file: concurrent creations of one path race, one wins
      files.set(path, new Y.Text())
      return
    }
    if (roll < 0.23) {
      files.delete(path)
      return
    }
    if (file.length > 0 && random() < 0.35) {
      const index = int(file.length)
      file.delete(index, 1 + int(Math.min(8, file.length - index)))
    } else {
      doc.transact(() => {
        const n = 1 + int(3)
        for (let k = 0; k < n; k++) file.insert(int(file.length + 1), pick(PIECES))
      })
    }
  }
  const deliver = (j, all) => {
    const inbox = inboxes[j]
    const n = all ? inbox.length : int(inbox.length + 1)
    const batch = inbox.splice(0, n)
    for (const u of batch) Y.applyUpdate(docs[j], u, 'remote')
  }
  const rounds = 20 + int(40)
  for (let r = 0; r < rounds; r++) {
    const i = int(nClients)
    const n = 1 + int(4)
    for (let k = 0; k < n; k++) edit(docs[i])
    if (random() < 0.5) deliver(int(nClients), false)
  }
  for (let pass = 0; pass < 2; pass++) for (let j = 0; j < nClients; j++) deliver(j, true)
  const expected = texts(docs[0])
  for (const doc of docs) {
    if (JSON.stringify(texts(doc)) !== JSON.stringify(expected)) throw new Error(`seed ${seed}: clients differ`)
  }
  const merged = new Y.Doc()
  for (const u of updates) Y.applyUpdate(merged, unhex(u))
  if (JSON.stringify(texts(merged)) !== JSON.stringify(expected)) throw new Error(`seed ${seed}: merged differs`)
  return {
    seed,
    clients: docs.map((d) => d.clientID),
    updates,
    state: hex(Y.encodeStateAsUpdate(merged)),
    stateVector: hex(Y.encodeStateVector(merged)),
    ...expected
  }
}

const check = (input) =>
  input.sessions.map((s) => {
    const byUpdates = new Y.Doc()
    for (const u of s.updates) Y.applyUpdate(byUpdates, unhex(u))
    const byState = new Y.Doc()
    Y.applyUpdate(byState, unhex(s.state))
    const pending = (d) => d.store.pendingStructs !== null || d.store.pendingDs !== null
    return {
      byUpdates: texts(byUpdates),
      byState: texts(byState),
      pending: pending(byUpdates) || pending(byState),
      reencoded: hex(Y.encodeStateAsUpdate(byUpdates))
    }
  })

const contents = () => {
  const doc = new Y.Doc()
  doc.clientID = 5
  const updates = []
  doc.on('update', (u) => updates.push(hex(u)))
  const m = doc.getMap('m')
  const values = {
    int: 42, neg: -7, zero: 0, big: 2 ** 40, half: 1.5, pi: Math.PI, str: 'é😀', yes: true, no: false, nil: null,
    undef: undefined, arr: [1, 'a', [null]], obj: { a: 1, b: { c: 'd' } }, bytes: new Uint8Array([1, 2, 3]), bigint: 2n ** 60n
  }
  for (const [k, v] of Object.entries(values)) m.set(k, v)
  const arr = doc.getArray('arr')
  arr.insert(0, [1, 2, 3, 'x'])
  arr.insert(2, [new Uint8Array([9, 8])])
  const nested = new Y.Map()
  arr.insert(1, [nested])
  nested.set('k', 'v')
  nested.set('t', new Y.Text('inner'))
  arr.delete(1, 1) // the nested map and all it holds are collected
  arr.delete(0, 2)
  const rich = doc.getText('rich')
  rich.insert(0, 'hello world')
  rich.format(0, 5, { bold: true })
  rich.insertEmbed(5, { image: 'x.png' })
  rich.insert(3, 'LL', { italic: true })
  rich.delete(8, 2)
  const xml = doc.getXmlFragment('xml')
  const p = new Y.XmlElement('p')
  xml.insert(0, [p])
  p.setAttribute('class', 'c')
  p.insert(0, [new Y.XmlText('hi')])
  m.set('sub', new Y.Doc({ guid: 'sub-guid' }))
  m.set('int', 43) // overwrite: the old value is deleted
  m.delete('neg')
  // a merged update with a gap (a Skip struct) and the update that fills it
  const gappy = new Y.Doc()
  gappy.clientID = 9
  const parts = []
  gappy.on('update', (u) => parts.push(u))
  const s = gappy.getText('s')
  s.insert(0, 'ab')
  s.insert(2, 'cd')
  s.insert(4, 'ef')
  const skip = { merged: hex(Y.mergeUpdates([parts[0], parts[2]])), missing: hex(parts[1]), text: s.toString() }
  return { updates, state: hex(Y.encodeStateAsUpdate(doc)), stateVector: hex(Y.encodeStateVector(doc)), rich: rich.toString(), skip }
}

const [command, path] = process.argv.slice(2)
if (command === 'generate' && path) {
  const sessions = []
  for (let seed = 1; seed <= 60; seed++) sessions.push(session(seed))
  writeFileSync(path, JSON.stringify({ generator: 'tests/js/kotlin_vectors.mjs with the yjs of tests/js/package-lock.json', sessions }, null, 1) + '\n')
} else if (command === 'check' && path) {
  process.stdout.write(JSON.stringify(check(JSON.parse(readFileSync(path, 'utf8')))) + '\n')
} else if (command === 'contents') {
  process.stdout.write(JSON.stringify(contents()) + '\n')
} else {
  process.stderr.write('usage: kotlin_vectors.mjs generate OUT.json | check IN.json | contents\n')
  process.exit(2)
}
