#!/usr/bin/env node
/**
 * A scriptable y-websocket 3.x client for the Python tests (driven by tests/jsclient.py).
 *
 *   node client.mjs --url ws://127.0.0.1:PORT --room ROOM [--params '{"ticket":"..."}']
 *                   [--no-connect] [--max-backoff MS] [--resync MS]
 *
 * It runs the real `WebsocketProvider` (WebSocketPolyfill: ws, disableBc: true — Node 20's built-in
 * BroadcastChannel would otherwise sync two clients without any server).
 *
 * stdin: one JSON command per line; every command may carry an "id", echoed in its reply.
 *   {"cmd":"insert","name":"text","index":0,"text":"hi"}
 *   (insert, delete, get and waitText take "file":"path" instead of "name" to work on the Y.Text at
 *   that path of the Y.Map "files" — the dojo document layout; insert creates the file if missing)
 *   {"cmd":"delete","name":"text","index":0,"length":2}
 *   {"cmd":"get","name":"text"}                      -> {"text": "..."}
 *   {"cmd":"waitText","name":"text","text":"..","timeout":5000} -> {"text": ".."} once equal
 *   {"cmd":"setAwareness","state":{...}|null}       (the local awareness state)
 *   {"cmd":"awareness"}                              -> {"clientId": n, "states": {"<id>": state}}
 *   {"cmd":"waitSynced","timeout":5000}             -> {"synced": true}
 *   {"cmd":"stateVector"}                           -> {"stateVector": base64, "clientId": n}
 *   {"cmd":"encodeState"}                           -> {"update": base64 (Y.encodeStateAsUpdate)}
 *   {"cmd":"status"}                                 -> {"status": ..., "synced": bool}
 *   {"cmd":"disconnect"} / {"cmd":"connect"}
 *   {"cmd":"exit"}                                   (replies, then leaves cleanly)
 * Replies: {"id":..,"ok":true,...} or {"id":..,"ok":false,"error":"..."}.
 *
 * stdout also carries events (no "id"):
 *   {"event":"status","status":"connecting"|"connected"|"disconnected"}
 *   {"event":"synced","synced":bool}
 *   {"event":"awareness","added":[..],"updated":[..],"removed":[..]}
 *   {"event":"permissionDenied","reason":".."}
 *   {"event":"connectionClose","code":n|null,"reason":".."}
 *   {"event":"closed","code":n,"reason":".."}        (the provider stopped reconnecting: 4400-4499)
 *   {"event":"connectionError"}
 * Everything libraries print goes to stderr, so stdout stays pure JSON lines.
 */
import readline from 'node:readline'
import { parseArgs } from 'node:util'
import * as Y from 'yjs'
import { WebsocketProvider, messageAuth } from 'y-websocket'
import * as authProtocol from 'y-protocols/auth'
import WebSocket from 'ws'

console.log = (...args) => console.error(...args)
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

const { values: opts } = parseArgs({
  options: {
    url: { type: 'string' },
    room: { type: 'string' },
    params: { type: 'string', default: '{}' },
    'no-connect': { type: 'boolean', default: false },
    'max-backoff': { type: 'string', default: '2500' },
    resync: { type: 'string', default: '-1' }
  }
})
if (!opts.url || !opts.room) {
  console.error('usage: client.mjs --url ws://HOST:PORT --room ROOM [--params JSON]')
  process.exit(2)
}

const doc = new Y.Doc()
const provider = new WebsocketProvider(opts.url, opts.room, doc, {
  WebSocketPolyfill: WebSocket,
  disableBc: true,
  connect: !opts['no-connect'],
  params: JSON.parse(opts.params),
  maxBackoffTime: Number(opts['max-backoff']),
  resyncInterval: Number(opts.resync)
})
let status = opts['no-connect'] ? 'disconnected' : 'connecting'

provider.on('status', (event) => {
  status = event.status
  emit({ event: 'status', status: event.status })
})
provider.on('synced', (synced) => emit({ event: 'synced', synced }))
provider.on('connection-close', (event) =>
  emit({ event: 'connectionClose', code: event ? event.code : null, reason: event ? String(event.reason || '') : '' }))
provider.on('connection-error', () => emit({ event: 'connectionError' }))
provider.on('closed', (event) => emit({ event: 'closed', code: event.code, reason: event.reason }))
provider.awareness.on('change', ({ added, updated, removed }) => emit({ event: 'awareness', added, updated, removed }))
// The stock handler only console.warns; report permission-denied to the test instead.
provider.messageHandlers[messageAuth] = (_encoder, decoder, _provider) => {
  authProtocol.readAuthMessage(decoder, doc, (_ydoc, reason) => emit({ event: 'permissionDenied', reason }))
}

const toBase64 = (bytes) => Buffer.from(bytes).toString('base64')

const waitFor = (check, subscribe, timeout, what) => new Promise((resolve, reject) => {
  if (check()) return resolve()
  const timer = setTimeout(() => {
    unsubscribe()
    reject(new Error(`timed out after ${timeout} ms waiting for ${what}`))
  }, timeout)
  const listener = () => {
    if (check()) {
      clearTimeout(timer)
      unsubscribe()
      resolve()
    }
  }
  const unsubscribe = subscribe(listener)
})

const onDocUpdate = (listener) => {
  doc.on('update', listener)
  return () => doc.off('update', listener)
}
const onSynced = (listener) => {
  provider.on('synced', listener)
  return () => provider.off('synced', listener)
}

// The Y.Text a command works on: a root text, or a file of the "files" map (created on write).
const textOf = ({ name = 'text', file }, create) => {
  if (file === undefined) return doc.getText(name)
  const files = doc.getMap('files')
  if (!files.has(file) && create) files.set(file, new Y.Text())
  return files.get(file)
}
const read = (args) => {
  const ytext = textOf(args, false)
  return ytext === undefined ? '' : ytext.toString()
}

const commands = {
  insert: (args) => {
    textOf(args, true).insert(args.index, args.text)
    return {}
  },
  delete: (args) => {
    textOf(args, true).delete(args.index, args.length)
    return {}
  },
  get: (args) => ({ text: read(args) }),
  waitText: async (args) => {
    const { text, timeout = 5000 } = args
    await waitFor(() => read(args) === text, onDocUpdate, timeout, `text ${JSON.stringify(text)}`)
    return { text: read(args) }
  },
  setAwareness: ({ state }) => {
    provider.awareness.setLocalState(state === undefined ? null : state)
    return {}
  },
  awareness: () => ({
    clientId: doc.clientID,
    states: Object.fromEntries(provider.awareness.getStates())
  }),
  waitSynced: async ({ timeout = 5000 }) => {
    await waitFor(() => provider.synced, onSynced, timeout, 'synced')
    return { synced: true }
  },
  stateVector: () => ({ stateVector: toBase64(Y.encodeStateVector(doc)), clientId: doc.clientID }),
  encodeState: () => ({ update: toBase64(Y.encodeStateAsUpdate(doc)) }),
  status: () => ({ status, synced: provider.synced }),
  disconnect: () => {
    provider.disconnect()
    return {}
  },
  connect: () => {
    provider.connect()
    return {}
  },
  exit: () => {
    setImmediate(shutdown)
    return {}
  }
}

let shuttingDown = false
function shutdown () {
  if (shuttingDown) return
  shuttingDown = true
  provider.destroy() // announces our awareness as null, then closes the socket
  doc.destroy()
  rl.close()
  // Give the awareness removal and the close frame time to flush; the provider's reconnect timer
  // (a no-op now) would otherwise keep the process alive for up to maxBackoffTime.
  setTimeout(() => process.exit(0), 250).unref()
}

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', async (line) => {
  if (line.trim() === '') return
  let request
  try {
    request = JSON.parse(line)
  } catch (err) {
    emit({ ok: false, error: `invalid JSON command: ${err.message}` })
    return
  }
  const { id = null, cmd } = request
  const handler = commands[cmd]
  if (handler === undefined) {
    emit({ id, ok: false, error: `unknown command ${JSON.stringify(cmd)}` })
    return
  }
  try {
    emit({ id, ok: true, ...(await handler(request)) })
  } catch (err) {
    emit({ id, ok: false, error: String(err && err.message ? err.message : err) })
  }
})
// The driving test went away: leave.
rl.on('close', shutdown)
