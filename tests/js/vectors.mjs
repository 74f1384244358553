#!/usr/bin/env node
/**
 * Print reference encodings made by lib0 / y-protocols / yjs as one JSON object {name: hex}, so the
 * Python codec tests can compare byte for byte (tests/crdt/test_js_harness.py).
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import * as authProtocol from 'y-protocols/auth'
import * as awarenessProtocol from 'y-protocols/awareness'

const hex = (bytes) => Buffer.from(bytes).toString('hex')
const frame = (write) => {
  const encoder = encoding.createEncoder()
  write(encoder)
  return hex(encoding.toUint8Array(encoder))
}
const out = {}

for (const n of [0, 1, 127, 128, 300, 16384, 2 ** 32 - 1, Number.MAX_SAFE_INTEGER]) {
  out[`varUint:${n}`] = frame((e) => encoding.writeVarUint(e, n))
}
for (const s of ['', 'hi', 'é', '😀', 'a\ud800b']) {
  out[`varString:${JSON.stringify(s)}`] = frame((e) => encoding.writeVarString(e, s))
}

const empty = new Y.Doc()
out.emptyStep1 = frame((e) => {
  encoding.writeVarUint(e, 0)
  syncProtocol.writeSyncStep1(e, empty)
})

const doc = new Y.Doc()
doc.clientID = 42
doc.getText('text').insert(0, 'hello')
out.update = hex(Y.encodeStateAsUpdate(doc))
out.updateFrame = frame((e) => {
  encoding.writeVarUint(e, 0)
  syncProtocol.writeUpdate(e, Y.encodeStateAsUpdate(doc))
})
out.step2Frame = frame((e) => {
  encoding.writeVarUint(e, 0)
  syncProtocol.writeSyncStep2(e, doc, new Uint8Array([0]))
})

const awareness = new awarenessProtocol.Awareness(doc)
awareness.setLocalState({ user: { name: 'Zoë', color: '#ff0' } })
out.awarenessFrame = frame((e) => {
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, [42]))
})
out.awarenessRemovalFrame = frame((e) => {
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, [42], new Map()))
})
awareness.destroy()

out.permissionDenied = frame((e) => {
  encoding.writeVarUint(e, 2)
  authProtocol.writePermissionDenied(e, 'no entry')
})

process.stdout.write(JSON.stringify(out) + '\n')
