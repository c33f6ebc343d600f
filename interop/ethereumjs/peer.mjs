#!/usr/bin/env node
// Interoperability test driver: dials a Hypasis Sync node with the independent
// @ethereumjs/devp2p implementation (RLPx + p2p v5 + eth/66..68), downloads the
// chain it serves and checks everything against the node's REST API and
// ethereumjs's own decoders.
//
// Usage:
//   node peer.mjs --enode enode://<id>@127.0.0.1:<port> --api http://127.0.0.1:<port>
//                 [--eth 68] [--discv4] [--status-as genesis|head] [--max-bodies N]
//                 [--batch N] [--step-timeout SECONDS] [--no-receipts] [--trace]
//
// stdout: exactly one JSON summary line. stderr: diagnostics.
// Exit code: 0 when every required check passed, 1 when a check failed,
// 2 on bad usage.

import * as dgram from 'node:dgram'
import { readFileSync } from 'node:fs'
import { format, parseArgs } from 'node:util'

import { genTransactionsTrieRoot } from '@ethereumjs/block'
import { Common, Hardfork, parseGethGenesis } from '@ethereumjs/common'
import {
  DISCONNECT_REASON,
  DisconnectReasonNames,
  DPT,
  ETH,
  EthMessageCodes,
  RLPx,
  genPrivateKey,
} from '@ethereumjs/devp2p'
import { MerklePatriciaTrie } from '@ethereumjs/mpt'
import { RLP } from '@ethereumjs/rlp'
import { createTxFromBlockBodyData } from '@ethereumjs/tx'
import {
  KECCAK256_NULL,
  KECCAK256_RLP,
  KECCAK256_RLP_ARRAY,
  bigIntToBytes,
  bigIntToUnpaddedBytes,
  bytesToBigInt,
  bytesToHex,
  equalsBytes,
  hexToBytes,
  intToBytes,
  randomBytes,
  setLengthLeft,
  utf8ToBytes,
} from '@ethereumjs/util'
import createDebug from 'debug'
import { keccak256 } from 'ethereum-cryptography/keccak.js'

// Installed versions, read from node_modules (the packages do not export package.json).
const VERSIONS = Object.fromEntries(
  ['@ethereumjs/devp2p', '@ethereumjs/common', '@ethereumjs/block', '@ethereumjs/tx', '@ethereumjs/mpt', '@ethereumjs/rlp', '@ethereumjs/util'].map(
    (name) => [name, JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url), 'utf8')).version],
  ),
)

// ---------------------------------------------------------------------------
// small helpers

const log = (...args) => console.error('[peer]', ...args)

// ethereumjs's own devp2p log (the `debug` namespaces devp2p:*), kept in a ring
// buffer so a failure can say what ethereumjs saw and did; echoed live with --trace.
const TRACE = []
let traceLive = false
createDebug.log = (...args) => {
  const line = format(...args).replace(/\s+/g, ' ').trim()
  TRACE.push(line)
  if (TRACE.length > 400) TRACE.shift()
  if (traceLive) console.error(`[ethereumjs] ${line}`)
}
createDebug.enable('devp2p:*')
/** The recent ethereumjs log lines about Hello/Status/Disconnect, for error messages. */
const traceSummary = (re = /HELLO|STATUS|DISCONNECT|error/i, n = 6) =>
  TRACE.filter((l) => re.test(l))
    .slice(-n)
    .map((l) => l.replace(/^\S+Z /, '').slice(0, 300))
    .join(' | ') || 'nothing logged'

class CheckError extends Error {}
/** Throws a CheckError with `msg` unless `cond`. */
function check(cond, msg) {
  if (!cond) throw new CheckError(typeof msg === 'function' ? msg() : msg)
}

function withTimeout(promise, ms, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckError(`timeout after ${ms} ms: ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const hex = (b) => bytesToHex(b)
const num = (b) => bytesToBigInt(b)
const isBytes = (x) => x instanceof Uint8Array
const reasonName = (code) =>
  code === undefined || code === null ? 'none' : `${DisconnectReasonNames[code] ?? 'UNKNOWN'} (0x${Number(code).toString(16).padStart(2, '0')})`

/** Short, JSON-safe rendering of a decoded RLP value for error messages. */
function show(v, max = 400) {
  const s = JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? hex(x) : typeof x === 'bigint' ? x.toString() : x))
  return s.length > max ? `${s.slice(0, max)}…(${s.length} chars)` : s
}

function parseEnode(url) {
  const m = /^enode:\/\/([0-9a-fA-F]{128})@([^:/?]+|\[[0-9a-fA-F:]+\]):(\d+)(?:\?discport=(\d+))?$/.exec(url ?? '')
  if (!m) throw new CheckError(`not an enode URL: ${url}`)
  const address = m[2].replace(/^\[|\]$/g, '')
  const tcpPort = Number(m[3])
  return { id: hexToBytes(`0x${m[1]}`), address, tcpPort, udpPort: m[4] ? Number(m[4]) : tcpPort }
}

async function getJson(url, ms) {
  const res = await fetch(url, { signal: AbortSignal.timeout(ms) })
  check(res.ok, `GET ${url}: HTTP ${res.status}`)
  return res.json()
}

const toBig = (v) => (typeof v === 'string' && v.startsWith('0x') ? BigInt(v) : BigInt(v))
/** An RLP scalar: big-endian bytes without leading zeros (zero is the empty string). */
const scalar = (v) => bigIntToUnpaddedBytes(toBig(v))
const data = (s) => hexToBytes(s === undefined || s === '' ? '0x' : s.startsWith('0x') ? s : `0x${s}`)

// ---------------------------------------------------------------------------
// chain configuration for ethereumjs

// Bor schedules the post-merge Ethereum forks by block number; ethereumjs's geth
// genesis parser only knows the time-based keys for them. Hardfork names below
// are ethereumjs's.
const BOR_BLOCK_FORKS = [
  ['shanghaiBlock', Hardfork.Shanghai],
  ['cancunBlock', Hardfork.Cancun],
  ['pragueBlock', Hardfork.Prague],
  ['osakaBlock', Hardfork.Osaka],
]
const HF_ORDER = Object.values(Hardfork)
// Geth config keys that parseGethGenesis understands (so we can list what it ignores).
const KNOWN_GETH_KEYS = new Set([
  'chainId', 'homesteadBlock', 'daoForkBlock', 'daoForkSupport', 'eip150Block', 'eip150Hash', 'eip155Block', 'eip158Block',
  'byzantiumBlock', 'constantinopleBlock', 'petersburgBlock', 'istanbulBlock', 'muirGlacierBlock', 'berlinBlock',
  'londonBlock', 'arrowGlacierBlock', 'grayGlacierBlock', 'mergeNetsplitBlock', 'terminalTotalDifficulty',
  'terminalTotalDifficultyPassed', 'shanghaiTime', 'cancunTime', 'pragueTime', 'osakaTime', 'blobSchedule',
  'depositContractAddress', 'ethash', 'clique', 'bor',
])

/**
 * Builds a Common for the served chain from its geth-style genesis: the standard
 * keys through ethereumjs's own parser, plus Bor's block-numbered shanghai/cancun/…
 * forks, which are exactly what the genesis says, mapped to ethereumjs's names.
 */
function buildCommon(genesis, genesisHash, hardforkAtBlock) {
  const cfg = genesis.config ?? {}
  const params = parseGethGenesis(genesis, 'hypasis-devnet')
  const notes = []
  for (const [key, name] of BOR_BLOCK_FORKS) {
    if (typeof cfg[key] !== 'number') continue
    if (params.hardforks.some((h) => h.name === name)) {
      throw new CheckError(`genesis config schedules ${name} both by ${key} and by time`)
    }
    params.hardforks.push({ name, block: cfg[key] })
    notes.push(`${key}=${cfg[key]} -> ethereumjs ${name}@block ${cfg[key]}`)
  }
  params.hardforks.sort((a, b) => HF_ORDER.indexOf(a.name) - HF_ORDER.indexOf(b.name))
  for (let i = 1; i < params.hardforks.length; i++) {
    const [a, b] = [params.hardforks[i - 1], params.hardforks[i]]
    if (a.block !== null && b.block !== null && b.block !== undefined && a.block > b.block) {
      throw new CheckError(`genesis config: ${b.name}@${b.block} scheduled before ${a.name}@${a.block}`)
    }
  }
  const ignored = Object.keys(cfg).filter((k) => !KNOWN_GETH_KEYS.has(k) && !BOR_BLOCK_FORKS.some(([bk]) => bk === k))
  if (ignored.length > 0) notes.push(`config keys ethereumjs does not model (ignored): ${ignored.join(', ')}`)
  const common = new Common({ chain: { ...params, name: 'hypasis-devnet' } })
  common.setForkHashes(hexToBytes(genesisHash))
  common.setHardfork(common.getHardforkBy({ blockNumber: BigInt(hardforkAtBlock) }))
  return { common, notes }
}

/** Genesis state root computed from the genesis JSON's alloc. */
async function genesisStateRoot(alloc) {
  const state = new MerklePatriciaTrie({ useKeyHashing: true })
  for (const [addr, acct] of Object.entries(alloc ?? {})) {
    let storageRoot = KECCAK256_RLP
    if (acct.storage && Object.keys(acct.storage).length > 0) {
      const storage = new MerklePatriciaTrie({ useKeyHashing: true })
      for (const [slot, value] of Object.entries(acct.storage)) {
        const v = bigIntToUnpaddedBytes(BigInt(value.startsWith('0x') ? value : `0x${value}`))
        if (v.length > 0) await storage.put(setLengthLeft(data(slot), 32), RLP.encode(v))
      }
      storageRoot = storage.root()
    }
    const code = acct.code ? data(acct.code) : new Uint8Array()
    const account = [scalar(acct.nonce ?? 0), scalar(acct.balance ?? 0), storageRoot, code.length > 0 ? keccak256(code) : KECCAK256_NULL]
    await state.put(data(addr), RLP.encode(account))
  }
  return state.root()
}

/** The genesis header's fields as RLP items, from the genesis JSON (London-shaped, as served). */
function genesisHeaderFields(genesis, stateRoot) {
  const fields = [
    new Uint8Array(32),
    KECCAK256_RLP_ARRAY,
    setLengthLeft(data(genesis.coinbase ?? '0x'), 20),
    stateRoot,
    KECCAK256_RLP,
    KECCAK256_RLP,
    new Uint8Array(256),
    scalar(genesis.difficulty),
    scalar(0),
    scalar(genesis.gasLimit),
    scalar(genesis.gasUsed ?? 0),
    scalar(genesis.timestamp ?? 0),
    data(genesis.extraData ?? '0x'),
    setLengthLeft(data(genesis.mixHash ?? '0x'), 32),
    setLengthLeft(bigIntToBytes(toBig(genesis.nonce ?? 0)), 8),
  ]
  if (genesis.baseFeePerGas !== undefined && genesis.baseFeePerGas !== null) fields.push(scalar(genesis.baseFeePerGas))
  return fields
}

// ---------------------------------------------------------------------------
// header / body / receipt checks

const HEADER_FIELD_NAMES = [
  'parentHash', 'ommersHash', 'coinbase', 'stateRoot', 'transactionsRoot', 'receiptsRoot', 'logsBloom', 'difficulty',
  'number', 'gasLimit', 'gasUsed', 'timestamp', 'extraData', 'mixHash', 'nonce', 'baseFeePerGas',
]
const FIXED_LENGTHS = { 0: 32, 1: 32, 2: 20, 3: 32, 4: 32, 5: 32, 6: 256, 13: 32, 14: 8 }
const SCALARS = [7, 8, 9, 10, 11, 15]

/** Structural checks on one header (a decoded RLP list); returns its hash. */
function checkHeader(h, expectedNumber) {
  const where = `header #${expectedNumber}`
  check(Array.isArray(h), `${where}: not an RLP list: ${show(h)}`)
  // London base fee present, no withdrawals/blob/beacon-root fields on this chain.
  check(h.length === 16, `${where}: ${h.length} fields, expected 16 (London shape: 15 + baseFeePerGas): ${show(h)}`)
  h.forEach((f, i) => check(isBytes(f), `${where}: field ${HEADER_FIELD_NAMES[i]} is a list, expected a byte string`))
  for (const [i, len] of Object.entries(FIXED_LENGTHS)) {
    check(h[i].length === len, `${where}: ${HEADER_FIELD_NAMES[i]} is ${h[i].length} bytes, expected ${len}`)
  }
  for (const i of SCALARS) {
    check(h[i].length === 0 || h[i][0] !== 0, `${where}: ${HEADER_FIELD_NAMES[i]} has a leading zero byte: ${hex(h[i])}`)
    check(h[i].length <= 32, `${where}: ${HEADER_FIELD_NAMES[i]} longer than 32 bytes`)
  }
  check(num(h[8]) === BigInt(expectedNumber), `${where}: number field is ${num(h[8])}`)
  check(num(h[10]) <= num(h[9]), `${where}: gasUsed ${num(h[10])} > gasLimit ${num(h[9])}`)
  return keccak256(RLP.encode(h))
}

/** Transactions trie root straight from the wire encodings (typed: envelope bytes, legacy: RLP list). */
async function rawTxRoot(txs) {
  const trie = new MerklePatriciaTrie()
  for (const [i, tx] of txs.entries()) await trie.put(RLP.encode(i), isBytes(tx) ? tx : RLP.encode(tx))
  return trie.root()
}

// ---------------------------------------------------------------------------
// eth session: request/response plumbing over an ethereumjs ETH protocol object

const RESPONSE_NAMES = {
  [EthMessageCodes.BLOCK_HEADERS]: 'BlockHeaders',
  [EthMessageCodes.BLOCK_BODIES]: 'BlockBodies',
  [EthMessageCodes.RECEIPTS]: 'Receipts',
  [EthMessageCodes.POOLED_TRANSACTIONS]: 'PooledTransactions',
}

class EthSession {
  constructor(rlpx, peer, eth) {
    this.rlpx = rlpx
    this.peer = peer
    this.eth = eth
    this.nextId = 1000n + BigInt(Math.floor(Math.random() * 1e6))
    this.pending = new Map()
    this.closed = null
    this.errors = []
    this.violations = []
    this.announcements = {}
    this.servedRequests = 0
    this.closedWaiters = []
    eth.events.on('message', (code, payload) => this._onMessage(code, payload))
  }

  markClosed(reason, byUs) {
    if (this.closed) return
    this.closed = { reason, byUs: byUs === true, at: Date.now() }
    const errs = this.errors.length > 0 ? `; ethereumjs errors: ${this.errors.join('; ')}` : ''
    const msg = `connection closed (disconnect reason ${reasonName(reason)}, sent by ${byUs ? 'us' : 'the node'})${errs}`
    log(msg)
    for (const [, p] of this.pending) p.reject(new CheckError(`${msg} while waiting for ${p.what}`))
    this.pending.clear()
    for (const w of this.closedWaiters) w()
  }

  waitClosed() {
    return this.closed ? Promise.resolve() : new Promise((r) => this.closedWaiters.push(r))
  }

  _onMessage(code, payload) {
    const name = RESPONSE_NAMES[code]
    if (name !== undefined) {
      if (!Array.isArray(payload) || payload.length !== 2 || !isBytes(payload[0]) || !Array.isArray(payload[1])) {
        this.violations.push(`${name} is not [request-id, [items]]: ${show(payload)}`)
        return
      }
      const id = num(payload[0])
      const p = this.pending.get(id)
      if (!p) {
        this.violations.push(`${name} with unknown request id ${id}`)
        return
      }
      this.pending.delete(id)
      if (p.code !== code) {
        p.reject(new CheckError(`answer to ${p.what} came as ${name} (code ${code}), expected code ${p.code}`))
        return
      }
      p.resolve(payload[1])
      return
    }
    // Requests from the node: we hold only what we announced (genesis), answer empty.
    const empty = {
      [EthMessageCodes.GET_BLOCK_HEADERS]: EthMessageCodes.BLOCK_HEADERS,
      [EthMessageCodes.GET_BLOCK_BODIES]: EthMessageCodes.BLOCK_BODIES,
      [EthMessageCodes.GET_RECEIPTS]: EthMessageCodes.RECEIPTS,
      [EthMessageCodes.GET_POOLED_TRANSACTIONS]: EthMessageCodes.POOLED_TRANSACTIONS,
    }[code]
    if (empty !== undefined && Array.isArray(payload) && isBytes(payload[0])) {
      this.servedRequests++
      this.eth.sendMessage(empty, [payload[0], []])
      return
    }
    if (code === EthMessageCodes.STATUS) return // ethereumjs re-emits the handshake Status as a message
    const key = this.eth.getMsgPrefix(code) ?? `code ${code}`
    this.announcements[key] = (this.announcements[key] ?? 0) + 1
  }

  /** Sends request `code` with `body`, resolves with the items of the `respCode` answer. */
  request(code, respCode, body, what, ms = 10000, fixedId = undefined) {
    if (this.closed) return Promise.reject(new CheckError(`connection already closed before ${what}`))
    const id = fixedId ?? this.nextId++
    const promise = new Promise((resolve, reject) => {
      this.pending.set(id, { code: respCode, resolve, reject, what })
    })
    this.eth.sendMessage(code, [bigIntToUnpaddedBytes(id), body])
    return withTimeout(promise, ms, `no answer to ${what} (request id ${id})`).finally(() => this.pending.delete(id))
  }

  getHeaders(origin, amount, skip = 0, reverse = false, fixedId = undefined) {
    const o = typeof origin === 'bigint' || typeof origin === 'number' ? bigIntToUnpaddedBytes(BigInt(origin)) : origin
    const what = `GetBlockHeaders(origin=${isBytes(origin) ? hex(origin) : origin}, amount=${amount}, skip=${skip}, reverse=${reverse})`
    return this.request(
      EthMessageCodes.GET_BLOCK_HEADERS,
      EthMessageCodes.BLOCK_HEADERS,
      // RLP integers are canonical: no leading zeros, zero is the empty string.
      [o, scalar(amount), scalar(skip), scalar(reverse ? 1 : 0)],
      what,
      10000,
      fixedId,
    )
  }

  getBodies(hashes) {
    return this.request(EthMessageCodes.GET_BLOCK_BODIES, EthMessageCodes.BLOCK_BODIES, hashes, `GetBlockBodies(${hashes.length} hashes)`)
  }

  getReceipts(hashes) {
    return this.request(EthMessageCodes.GET_RECEIPTS, EthMessageCodes.RECEIPTS, hashes, `GetReceipts(${hashes.length} hashes)`)
  }

  /** p2p Ping through ethereumjs's Peer; resolves when the node's Pong arrives. */
  ping(ms) {
    return withTimeout(
      new Promise((resolve) => {
        const peer = this.peer
        const original = peer._handlePong
        peer._handlePong = function (...args) {
          peer._handlePong = original
          resolve()
          return original.apply(this, args)
        }
        peer._sendPing()
      }),
      ms,
      'no p2p Pong for our Ping',
    )
  }
}

// ---------------------------------------------------------------------------
// main

const USAGE =
  'usage: node peer.mjs --enode enode://<id>@<host>:<port> --api http://127.0.0.1:<port> [--eth 68] [--discv4] ' +
  '[--status-as genesis|head] [--max-bodies N] [--batch N] [--step-timeout SECONDS] [--no-receipts] [--trace]'

function parseCli() {
  const { values } = parseArgs({
    options: {
      enode: { type: 'string' },
      api: { type: 'string' },
      eth: { type: 'string', default: '68' },
      discv4: { type: 'boolean', default: false },
      'status-as': { type: 'string', default: 'genesis' },
      'max-bodies': { type: 'string', default: '256' },
      batch: { type: 'string', default: '128' },
      'step-timeout': { type: 'string', default: '20' },
      'no-receipts': { type: 'boolean', default: false },
      trace: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.help) {
    console.error(USAGE)
    process.exit(0)
  }
  const eth = Number(values.eth)
  if (!values.enode || !values.api) throw new Error('--enode and --api are required')
  if (![66, 67, 68].includes(eth)) {
    throw new Error(`--eth ${values.eth}: @ethereumjs/devp2p ${VERSIONS['@ethereumjs/devp2p']} implements eth/66, eth/67 and eth/68 only`)
  }
  if (!['genesis', 'head'].includes(values['status-as'])) throw new Error('--status-as must be genesis or head')
  const ints = ['max-bodies', 'batch', 'step-timeout'].map((k) => [k, Number(values[k])])
  for (const [k, v] of ints) if (!Number.isInteger(v) || v <= 0) throw new Error(`--${k} must be a positive integer`)
  return {
    enode: values.enode,
    api: values.api.replace(/\/+$/, ''),
    eth,
    discv4: values.discv4,
    statusAs: values['status-as'],
    maxBodies: Number(values['max-bodies']),
    batch: Math.min(Number(values.batch), 1024),
    stepMs: Number(values['step-timeout']) * 1000,
    receipts: !values['no-receipts'],
    trace: values.trace,
  }
}

async function main() {
  let opts
  try {
    opts = parseCli()
  } catch (e) {
    console.error(`${e.message}\n${USAGE}`)
    process.exit(2)
  }
  traceLive = opts.trace
  // ethereumjs gates most of its devp2p logging on DEBUG containing "ethjs", read when its objects are built.
  process.env.DEBUG = `${process.env.DEBUG ?? ''},ethjs`
  const started = Date.now()
  const summary = {
    ok: false,
    driver: `@ethereumjs/devp2p@${VERSIONS['@ethereumjs/devp2p']}`,
    versions: VERSIONS,
    eth: opts.eth,
    enode: opts.enode,
    steps: {},
  }
  const ctx = {}
  let fatal = false

  /** Runs one step under the step timeout; a failed `required` step fails the run. */
  async function step(name, fn, { required = true, needs = [] } = {}) {
    const missing = needs.filter((n) => summary.steps[n]?.pass !== true)
    if (fatal || missing.length > 0) {
      summary.steps[name] = { pass: false, skipped: true, required, reason: fatal ? 'an earlier step failed fatally' : `needs ${missing.join(', ')}` }
      return
    }
    const t0 = Date.now()
    log(`step ${name} …`)
    try {
      const details = await withTimeout(Promise.resolve().then(fn), opts.stepMs, `step ${name}`)
      summary.steps[name] = { pass: true, required, ms: Date.now() - t0, ...(details ?? {}) }
      log(`step ${name}: PASS ${show(details ?? {}, 600)}`)
    } catch (e) {
      const error = e instanceof CheckError ? e.message : `${e?.name ?? 'Error'}: ${e?.message ?? e}`
      summary.steps[name] = { pass: false, required, ms: Date.now() - t0, error }
      log(`step ${name}: FAIL ${error}`)
      if (!(e instanceof CheckError) && e?.stack) log(e.stack)
      if (!opts.trace) log(`last ethereumjs devp2p log lines:\n  ${TRACE.slice(-15).join('\n  ') || '(none)'}`)
    }
  }

  const target = parseEnode(opts.enode)
  const privateKey = genPrivateKey()

  // 1. REST API -------------------------------------------------------------
  await step('api', async () => {
    const status = await getJson(`${opts.api}/api/v1/status`, 5000)
    const genesis = await getJson(`${opts.api}/api/v1/genesis`, 5000)
    for (const k of ['genesis_hash', 'network_id', 'chain_id', 'fork_id', 'head']) check(status[k] !== undefined, `status has no ${k}`)
    check(/^0x[0-9a-f]{64}$/i.test(status.genesis_hash), `status.genesis_hash malformed: ${status.genesis_hash}`)
    check(/^0x[0-9a-f]{8}$/i.test(status.fork_id.hash), `status.fork_id.hash malformed: ${status.fork_id.hash}`)
    check(/^\d+$/.test(String(status.head.total_difficulty)), `status.head.total_difficulty not a decimal string: ${status.head.total_difficulty}`)
    check(Number.isInteger(status.head.number) && status.head.number >= 0, `status.head.number malformed: ${status.head.number}`)
    check(genesis.config?.chainId === status.chain_id, `genesis config chainId ${genesis.config?.chainId} != status chain_id ${status.chain_id}`)
    ctx.status = status
    ctx.genesis = genesis
    ctx.head = { number: status.head.number, hash: hexToBytes(status.head.hash), td: BigInt(status.head.total_difficulty) }
    ctx.genesisHash = hexToBytes(status.genesis_hash)
    return {
      chain_id: status.chain_id,
      network_id: status.network_id,
      genesis_hash: status.genesis_hash,
      fork_id: status.fork_id,
      head: { number: status.head.number, hash: status.head.hash, total_difficulty: status.head.total_difficulty },
    }
  })
  if (summary.steps.api?.pass !== true) fatal = true

  // 1b. the genesis JSON describes the advertised genesis block --------------
  await step(
    'genesis-json',
    async () => {
      const root = await genesisStateRoot(ctx.genesis.alloc)
      const fields = genesisHeaderFields(ctx.genesis, root)
      const hash = keccak256(RLP.encode(fields))
      ctx.genesisFields = fields
      check(
        equalsBytes(hash, ctx.genesisHash),
        `header built from /api/v1/genesis hashes to ${hex(hash)}, status says genesis_hash ${hex(ctx.genesisHash)} (state root from alloc ${hex(root)})`,
      )
      return { state_root: hex(root), alloc_accounts: Object.keys(ctx.genesis.alloc ?? {}).length }
    },
    { needs: ['api'] },
  )

  // 1c. ethereumjs Common from the genesis config computes the advertised fork id
  await step(
    'fork-id',
    async () => {
      const built = buildCommon(ctx.genesis, ctx.status.genesis_hash, ctx.head.number)
      const c = built.common
      const hf = c.hardfork()
      const hash = c.forkHash(hf)
      const next = c.nextHardforkBlockOrTimestamp(hf) ?? 0n
      check(
        hash === ctx.status.fork_id.hash.toLowerCase() && next === BigInt(ctx.status.fork_id.next),
        `ethereumjs computes fork id {hash ${hash}, next ${next}} at head #${ctx.head.number} (hardfork ${hf}), node advertises ${show(ctx.status.fork_id)}`,
      )
      ctx.commonNotes = built.notes
      return {
        hardfork_at_head: hf,
        fork_hash: hash,
        next: Number(next),
        hardforks: c.hardforks().map((h) => `${h.name}@${h.block ?? `t${h.timestamp}`}`).join(' '),
        notes: built.notes,
      }
    },
    { needs: ['api'] },
  )

  // 2. RLPx + Hello + eth Status --------------------------------------------
  let rlpx = null
  let session = null
  await step(
    'handshake',
    async () => {
      const localBlock = opts.statusAs === 'head' ? ctx.head.number : 0
      const { common } = buildCommon(ctx.genesis, ctx.status.genesis_hash, localBlock)
      rlpx = new RLPx(privateKey, {
        capabilities: [ETH[`eth${opts.eth}`]],
        common,
        maxPeers: 1,
        timeout: 10000,
        clientId: utf8ToBytes(`hypasis-interop/ethereumjs-devp2p-${VERSIONS['@ethereumjs/devp2p']}`),
      })
      const errors = []
      rlpx.events.on('error', (e) => errors.push(`rlpx: ${e?.message ?? e}`))
      rlpx.events.on('peer:error', (_p, e) => {
        errors.push(`peer: ${e?.message ?? e}`)
        log(`ethereumjs peer error: ${e?.message ?? e}`)
      })
      const added = new Promise((resolve, reject) => {
        rlpx.events.once('peer:added', resolve)
        rlpx.events.on('peer:removed', (_p, reason, byUs) => {
          reject(new CheckError(`disconnected before Hello completed: reason ${reasonName(reason)} by ${byUs ? 'us' : 'the node'}; errors: ${errors.join('; ') || 'none'}`))
        })
      })
      await withTimeout(
        rlpx.connect({ id: target.id, address: target.address, tcpPort: target.tcpPort }),
        5000,
        `TCP connect to ${target.address}:${target.tcpPort}`,
      )
      // Before the RLPx handshake completes ethereumjs keeps the bare socket; watch it so an early close is reported.
      const sock = rlpx._peers?.get(Buffer.from(target.id).toString('hex'))
      const earlyClose = new Promise((_, reject) => {
        sock?.once?.('close', () =>
          setTimeout(
            () =>
              reject(
                new CheckError(
                  `TCP connection closed during the RLPx/Hello handshake; ethereumjs errors: ${errors.join('; ') || 'none'}; ethereumjs log: ${traceSummary()}`,
                ),
              ),
            50,
          ),
        )
      })
      const peer = await withTimeout(
        Promise.race([added, earlyClose]),
        10000,
        `ECIES handshake + Hello; ethereumjs errors: ${errors.join('; ') || 'none'}; ethereumjs log: ${traceSummary(/./, 4)}`,
      )
      earlyClose.catch(() => {})
      const hello = peer.getHelloMessage()
      const eth = peer.getProtocols().find((p) => p instanceof ETH)
      check(eth !== undefined, `no shared eth capability; node offers ${show(hello?.capabilities)}`)
      session = new EthSession(rlpx, peer, eth)
      session.errors = errors
      rlpx.events.on('peer:removed', (_p, reason, byUs) => session.markClosed(reason, byUs))

      // eth Status: ours describes this driver's own (empty or synced) view.
      const statusReceived = new Promise((resolve, reject) => {
        eth.events.once('status', resolve)
        rlpx.events.on('peer:error', (_p, e) => reject(new CheckError(`ethereumjs rejected the node's Status: ${e?.message ?? e}`)))
        rlpx.events.on('peer:removed', (_p, reason, byUs) =>
          reject(new CheckError(`disconnected during Status exchange: reason ${reasonName(reason)} by ${byUs ? 'us' : 'the node'}; errors: ${errors.join('; ') || 'none'}`)),
        )
      })
      const ours =
        opts.statusAs === 'head'
          ? { td: bigIntToUnpaddedBytes(ctx.head.td), bestHash: ctx.head.hash, latestBlock: intToBytes(ctx.head.number) }
          : { td: scalar(ctx.genesis.difficulty), bestHash: ctx.genesisHash, latestBlock: intToBytes(0) }
      try {
        eth.sendStatus({ ...ours, genesisHash: ctx.genesisHash })
      } catch (e) {
        // The node's Status arrived first and ethereumjs's checks threw synchronously.
        peer.disconnect(DISCONNECT_REASON.SUBPROTOCOL_ERROR)
        throw new CheckError(`ethereumjs rejected the node's Status: ${e.message}`)
      }
      const st = await withTimeout(statusReceived, 6000, 'eth Status from the node')
      const raw = eth._peerStatus
      check(hello.protocolVersion >= 5, `node's Hello has p2p version ${hello.protocolVersion}, expected >= 5 (snappy)`)
      check(equalsBytes(hello.id, target.id), `Hello node id ${hex(hello.id)} differs from the enode's`)
      check(
        hello.capabilities.some((c) => c.name === 'eth' && c.version === opts.eth),
        `node's Hello does not offer eth/${opts.eth}: ${show(hello.capabilities)}`,
      )
      check(eth.getVersion() === opts.eth, `negotiated eth/${eth.getVersion()}, expected eth/${opts.eth}`)
      check(raw.length === 6, `eth/${opts.eth} Status has ${raw.length} fields, expected 6: ${show(raw)}`)
      check(num(raw[0]) === BigInt(opts.eth), `Status version ${num(raw[0])}`)
      check(num(st.chainId) === BigInt(ctx.status.network_id), `Status network id ${num(st.chainId)} != REST network_id ${ctx.status.network_id}`)
      check(equalsBytes(st.genesisHash, ctx.genesisHash), `Status genesis ${hex(st.genesisHash)} != REST ${ctx.status.genesis_hash}`)
      const forkHash = hex(st.forkId[0])
      const forkNext = num(st.forkId[1])
      check(
        forkHash === ctx.status.fork_id.hash.toLowerCase() && forkNext === BigInt(ctx.status.fork_id.next),
        `Status fork id {${forkHash}, ${forkNext}} != REST ${show(ctx.status.fork_id)}`,
      )
      // The head may have moved on since the REST call; then the headers step checks the
      // Status head and TD against the downloaded chain instead.
      ctx.statusHead = { hash: st.bestHash, td: num(st.td) }
      if (equalsBytes(st.bestHash, ctx.head.hash)) {
        check(num(st.td) === ctx.head.td, `Status TD ${num(st.td)} != REST total_difficulty ${ctx.head.td} of the same head ${hex(st.bestHash)}`)
      }
      return {
        remote_client: hello.clientId,
        p2p_version: hello.protocolVersion,
        remote_capabilities: hello.capabilities.map((c) => `${c.name}/${c.version}`),
        remote_listen_port: hello.port,
        negotiated: `eth/${eth.getVersion()}`,
        snappy: hello.protocolVersion >= 5,
        our_status: { as: opts.statusAs, fork_hash: eth._forkHash, fork_next: Number(eth._nextForkBlock) },
        node_status: { network_id: Number(num(st.chainId)), td: num(st.td).toString(), head: hex(st.bestHash), fork_hash: forkHash, fork_next: Number(forkNext) },
      }
    },
    { needs: ['api'] },
  )

  // 3. headers from genesis to head ------------------------------------------
  await step(
    'headers',
    async () => {
      // Download to the REST head, or further to the Status head when the chain grew in between.
      let statusHeadNumber = ctx.head.number
      if (!equalsBytes(ctx.statusHead.hash, ctx.head.hash)) {
        const got = await session.getHeaders(ctx.statusHead.hash, 1)
        check(got.length === 1, `the head ${hex(ctx.statusHead.hash)} announced in Status is unknown to the node's GetBlockHeaders`)
        statusHeadNumber = Number(num(got[0][8]))
        check(
          statusHeadNumber > ctx.head.number,
          `Status announced head #${statusHeadNumber} ${hex(ctx.statusHead.hash)}, older than REST head #${ctx.head.number} ${ctx.status.head.hash} read before the handshake`,
        )
        log(`chain grew since the REST call: Status head is #${statusHeadNumber}`)
      }
      const total = statusHeadNumber + 1
      const tdAt = []
      const headers = []
      const hashes = []
      let requests = 0
      let short = 0
      let td = 0n
      while (headers.length < total) {
        const from = headers.length
        const amount = Math.min(opts.batch, total - from)
        const got = await session.getHeaders(BigInt(from), amount)
        requests++
        check(got.length > 0, `GetBlockHeaders(origin=${from}, amount=${amount}) answered with no headers; node head is #${ctx.head.number}`)
        check(got.length <= amount, `GetBlockHeaders(amount=${amount}) answered with ${got.length} headers`)
        if (got.length < amount) short++
        for (const h of got) {
          const n = headers.length
          const hash = checkHeader(h, n)
          if (n > 0) {
            check(equalsBytes(h[0], hashes[n - 1]), `header #${n} parentHash ${hex(h[0])} != hash of #${n - 1} ${hex(hashes[n - 1])}`)
            check(num(h[11]) > num(headers[n - 1][11]), `header #${n} timestamp ${num(h[11])} not after #${n - 1}'s ${num(headers[n - 1][11])}`)
          }
          td += num(h[7])
          tdAt.push(td)
          headers.push(h)
          hashes.push(hash)
        }
      }
      check(equalsBytes(hashes[0], ctx.genesisHash), `header #0 hashes to ${hex(hashes[0])}, genesis_hash is ${ctx.status.genesis_hash}`)
      if (ctx.genesisFields) {
        check(
          equalsBytes(RLP.encode(headers[0]), RLP.encode(ctx.genesisFields)),
          () =>
            `header #0 differs from the one built from /api/v1/genesis: ${HEADER_FIELD_NAMES.filter((_, i) => !equalsBytes(headers[0][i] ?? new Uint8Array(), ctx.genesisFields[i] ?? new Uint8Array())).join(', ')}`,
        )
      }
      const H = ctx.head.number
      const last = hashes[H]
      check(equalsBytes(last, ctx.head.hash), `header #${H} hashes to ${hex(last)}, REST head hash is ${ctx.status.head.hash}`)
      check(tdAt[H] === ctx.head.td, `sum of difficulties #0..#${H} is ${tdAt[H]}, REST total_difficulty is ${ctx.head.td}`)
      check(equalsBytes(hashes[statusHeadNumber], ctx.statusHead.hash), `header #${statusHeadNumber} is not the Status head ${hex(ctx.statusHead.hash)}`)
      check(
        tdAt[statusHeadNumber] === ctx.statusHead.td,
        `sum of difficulties #0..#${statusHeadNumber} is ${tdAt[statusHeadNumber]}, Status announced TD ${ctx.statusHead.td}`,
      )

      // Same chain by hash, backwards with a skip: head, head-2, head-4.
      const back = await session.getHeaders(ctx.head.hash, 3, 1, true)
      const want = [0, 2, 4].map((d) => ctx.head.number - d).filter((n) => n >= 0)
      check(back.length === want.length, `GetBlockHeaders(head hash, 3, skip 1, reverse) answered ${back.length} headers, expected ${want.length}`)
      back.forEach((h, i) => {
        const hash = checkHeader(h, want[i])
        check(equalsBytes(hash, hashes[want[i]]), `reverse/skip answer #${i} is ${hex(hash)}, expected block #${want[i]} ${hex(hashes[want[i]])}`)
      })
      ctx.headers = headers
      ctx.hashes = hashes
      return {
        headers: headers.length,
        requests,
        short_answers: short,
        total_difficulty: tdAt[H].toString(),
        head_hash: hex(last),
        status_head: statusHeadNumber,
        by_hash_reverse_skip: want,
      }
    },
    { needs: ['handshake'] },
  )

  // 3b. GetBlockHeaders edge cases with answers fixed by the eth protocol ------
  await step(
    'header-edges',
    async () => {
      const H = ctx.head.number
      const cases = [
        { what: 'origin beyond the head', args: [BigInt(H + 1000), 1], want: [] },
        { what: 'amount 0', args: [0n, 0], want: [] },
        { what: 'reverse from #0', args: [0n, 5, 0, true], want: [0] },
        { what: 'forward from the head', args: [BigInt(H), 5], want: [H] },
        { what: 'forward with skip 9 from #0', args: [0n, 3, 9], want: [0, 10, 20].filter((n) => n <= H) },
        { what: 'request id 2^64-1', args: [1n, 1, 0, false, 2n ** 64n - 1n], want: [1] },
      ]
      const results = {}
      for (const c of cases) {
        const got = await session.getHeaders(...c.args)
        const numbers = got.map((h) => (Array.isArray(h) && isBytes(h[8]) ? Number(num(h[8])) : NaN))
        check(
          numbers.length === c.want.length && numbers.every((n, i) => n === c.want[i]),
          `GetBlockHeaders ${c.what}: got headers ${show(numbers)}, expected ${show(c.want)}`,
        )
        got.forEach((h, i) => check(equalsBytes(checkHeader(h, c.want[i]), ctx.hashes[c.want[i]]), `${c.what}: header #${c.want[i]} differs from the downloaded one`))
        results[c.what] = numbers
      }
      check(session.closed === null, `connection closed: ${reasonName(session.closed?.reason)}`)
      return { cases: results }
    },
    { needs: ['headers'] },
  )

  // 4. bodies: transactions root, ommers hash ---------------------------------
  await step(
    'bodies',
    async () => {
      const head = ctx.head.number
      const minBlocks = Math.min(20, head)
      const count = Math.min(opts.maxBodies, head)
      check(count >= minBlocks, `--max-bodies ${opts.maxBodies} is below the 20 blocks this check needs`)
      // Evenly spread over #1..#head, always including the head.
      const numbers = [...new Set(Array.from({ length: count }, (_, i) => head - Math.floor((i * head) / count)))].sort((a, b) => a - b)
      const { common: chainCommon } = buildCommon(ctx.genesis, ctx.status.genesis_hash, head)
      const commons = new Map()
      const txCommon = (n) => {
        const hf = chainCommon.getHardforkBy({ blockNumber: BigInt(n) })
        if (!commons.has(hf)) {
          const c = chainCommon.copy()
          c.setHardfork(hf)
          commons.set(hf, c)
        }
        return commons.get(hf)
      }
      const types = {}
      let txCount = 0
      let requests = 0
      let short = 0
      const bodies = new Map()
      let i = 0
      while (i < numbers.length) {
        const want = numbers.slice(i, i + 64)
        const got = await session.getBodies(want.map((n) => ctx.hashes[n]))
        requests++
        check(got.length > 0, `GetBlockBodies for ${want.length} known blocks (#${want[0]}..#${want[want.length - 1]}) answered with no bodies`)
        check(got.length <= want.length, `GetBlockBodies for ${want.length} hashes answered with ${got.length} bodies`)
        if (got.length < want.length) short++
        for (const [k, body] of got.entries()) {
          const n = want[k]
          const h = ctx.headers[n]
          const where = `body of #${n}`
          check(Array.isArray(body), `${where}: not an RLP list`)
          check(body.length === 2, `${where}: ${body.length} elements, expected [transactions, ommers] (no withdrawals on this chain): ${show(body)}`)
          const [txs, ommers] = body
          check(Array.isArray(txs) && Array.isArray(ommers), `${where}: transactions/ommers are not lists`)
          const ommersHash = keccak256(RLP.encode(ommers))
          check(equalsBytes(ommersHash, h[1]), `${where}: ommers hash ${hex(ommersHash)} != header ommersHash ${hex(h[1])}`)
          const rawRoot = await rawTxRoot(txs)
          check(equalsBytes(rawRoot, h[4]), `${where}: transactions root of the ${txs.length} wire transactions is ${hex(rawRoot)}, header says ${hex(h[4])}`)
          const common = txCommon(n)
          const parsed = txs.map((raw, j) => {
            let tx
            try {
              tx = createTxFromBlockBodyData(raw, { common })
            } catch (e) {
              throw new CheckError(`${where}: ethereumjs cannot decode transaction ${j}: ${e.message}`)
            }
            check(tx.isSigned() && tx.verifySignature(), `${where}: transaction ${j} (${hex(tx.hash())}) has an invalid signature`)
            const wire = isBytes(raw) ? raw : RLP.encode(raw)
            check(equalsBytes(tx.serialize(), wire), `${where}: transaction ${j} re-encodes differently (non-canonical on the wire?)`)
            types[tx.type] = (types[tx.type] ?? 0) + 1
            return tx
          })
          const libRoot = await genTransactionsTrieRoot(parsed)
          check(equalsBytes(libRoot, h[4]), `${where}: @ethereumjs/block genTransactionsTrieRoot gives ${hex(libRoot)}, header says ${hex(h[4])}`)
          txCount += txs.length
          bodies.set(n, parsed.map((t) => t.type))
        }
        i += got.length
      }
      check(bodies.size >= minBlocks, `only ${bodies.size} bodies checked, need ${minBlocks}`)
      check(txCount > 0, `none of the ${bodies.size} bodies carries a transaction: the transactions-root check would prove nothing`)
      ctx.bodyTypes = bodies
      return { blocks: bodies.size, first: numbers[0], last: numbers[numbers.length - 1], requests, short_answers: short, transactions: txCount, tx_types: types }
    },
    { needs: ['headers'] },
  )

  // 4b. receipts: receipts root (extra) ----------------------------------------
  if (opts.receipts) {
    await step(
      'receipts',
      async () => {
        const numbers = [...ctx.bodyTypes.keys()]
        let receipts = 0
        let requests = 0
        let i = 0
        while (i < numbers.length) {
          const want = numbers.slice(i, i + 64)
          const got = await session.getReceipts(want.map((n) => ctx.hashes[n]))
          requests++
          check(got.length > 0 && got.length <= want.length, `GetReceipts for ${want.length} known blocks answered with ${got.length} lists`)
          for (const [k, list] of got.entries()) {
            const n = want[k]
            const where = `receipts of #${n}`
            check(Array.isArray(list), `${where}: not a list`)
            const txTypes = ctx.bodyTypes.get(n)
            check(list.length === txTypes.length, `${where}: ${list.length} receipts for ${txTypes.length} transactions`)
            const trie = new MerklePatriciaTrie()
            for (const [j, r] of list.entries()) {
              const type = isBytes(r) ? r[0] : 0
              check(type === txTypes[j], `${where}: receipt ${j} has type ${type}, its transaction type ${txTypes[j]}`)
              const fields = isBytes(r) ? RLP.decode(r.subarray(1)) : r
              check(Array.isArray(fields) && fields.length === 4, `${where}: receipt ${j} is not [status, cumulativeGas, bloom, logs]: ${show(fields)}`)
              check(isBytes(fields[2]) && fields[2].length === 256, `${where}: receipt ${j} bloom is not 256 bytes`)
              await trie.put(RLP.encode(j), isBytes(r) ? r : RLP.encode(r))
            }
            const root = trie.root()
            check(equalsBytes(root, ctx.headers[n][5]), `${where}: receipts root ${hex(root)} != header receiptsRoot ${hex(ctx.headers[n][5])}`)
            receipts += list.length
          }
          i += got.length
        }
        return { blocks: numbers.length, receipts, requests }
      },
      { needs: ['bodies'] },
    )
  }

  // 5. unknown hash: empty answers, connection stays up ------------------------
  await step(
    'unknown-hash',
    async () => {
      const unknown = randomBytes(32)
      const headers = await session.getHeaders(unknown, 1)
      check(headers.length === 0, `GetBlockHeaders(unknown ${hex(unknown)}) answered ${headers.length} headers: ${show(headers)}`)
      const bodies = await session.getBodies([unknown])
      check(bodies.length === 0, `GetBlockBodies([unknown ${hex(unknown)}]) answered ${bodies.length} bodies: ${show(bodies)}`)
      const receipts = opts.receipts ? await session.getReceipts([unknown]) : []
      check(receipts.length === 0, `GetReceipts([unknown]) answered ${receipts.length} lists`)
      await sleep(300) // give a misbehaving node the chance to hang up
      check(session.closed === null, `connection closed after the unknown-hash requests: reason ${reasonName(session.closed?.reason)}`)
      const again = await session.getHeaders(BigInt(ctx.head.number), 1)
      check(again.length === 1, `follow-up GetBlockHeaders(#${ctx.head.number}) answered ${again.length} headers`)
      const hash = checkHeader(again[0], ctx.head.number)
      check(equalsBytes(hash, ctx.head.hash), `follow-up header #${ctx.head.number} is ${hex(hash)}, expected ${hex(ctx.head.hash)}`)
      const body = await session.getBodies([ctx.head.hash])
      check(body.length === 1, `follow-up GetBlockBodies(head) answered ${body.length} bodies`)
      return { unknown: hex(unknown), headers: 0, bodies: 0, receipts: opts.receipts ? 0 : 'not asked', follow_up: 'ok' }
    },
    { needs: ['headers'] },
  )

  // p2p Ping/Pong (ethereumjs pings every 15 s and drops peers that do not answer)
  await step(
    'p2p-ping',
    async () => {
      check(session.closed === null, `connection already closed: ${reasonName(session.closed?.reason)}`)
      const t0 = Date.now()
      await session.ping(5000)
      check(session.closed === null, `connection closed: ${reasonName(session.closed?.reason)}`)
      return { rtt_ms: Date.now() - t0 }
    },
    { needs: ['handshake'] },
  )

  // protocol hygiene over the whole session
  if (session) {
    await step(
      'session',
      async () => {
        check(session.violations.length === 0, `protocol violations: ${session.violations.join('; ')}`)
        check(session.closed === null, `connection closed by ${session.closed?.byUs ? 'us' : 'the node'}: ${reasonName(session.closed?.reason)}`)
        return { unsolicited: session.announcements, node_requests_answered: session.servedRequests }
      },
      { needs: ['handshake'] },
    )
  }

  // close the connection politely
  if (session && session.closed === null) {
    session.peer.disconnect(DISCONNECT_REASON.CLIENT_QUITTING)
    await withTimeout(session.waitClosed(), 3000, 'close').catch(() => {})
  }
  try {
    rlpx?.destroy()
  } catch {
    /* already gone */
  }

  // 6. discv4 ping (only with --discv4) ----------------------------------------
  if (opts.discv4) {
    await step(
      'discv4',
      async () => {
        const sock = dgram.createSocket({ type: 'udp4' })
        await new Promise((resolve, reject) => {
          sock.once('error', reject)
          sock.bind(0, '127.0.0.1', resolve)
        })
        const udpPort = sock.address().port
        const errors = []
        const dpt = new DPT(privateKey, {
          endpoint: { address: '127.0.0.1', udpPort, tcpPort: null },
          createSocket: () => sock,
          shouldFindNeighbours: false,
          timeout: 4000,
        })
        dpt.events.on('error', (e) => errors.push(e?.message ?? String(e)))
        try {
          const found = await dpt.addPeer({ address: target.address, udpPort: target.udpPort, tcpPort: target.tcpPort })
          check(equalsBytes(found.id, target.id), `discv4 Pong signed by ${hex(found.id)}, not the enode's key`)
          return { udp_port: target.udpPort, pong_from: hex(found.id).slice(0, 18) + '…' }
        } catch (e) {
          if (e instanceof CheckError) throw e
          throw new CheckError(`discv4 ping to ${target.address}:${target.udpPort}: ${e.message}${errors.length ? `; DPT errors: ${errors.join('; ')}` : ''}`)
        } finally {
          dpt.destroy()
        }
      },
      { required: true },
    )
  }

  summary.ok = Object.values(summary.steps).every((s) => s.pass || !s.required)
  summary.failed = Object.entries(summary.steps)
    .filter(([, s]) => !s.pass && s.required)
    .map(([k]) => k)
  summary.ms = Date.now() - started
  process.stdout.write(`${JSON.stringify(summary, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`)
  process.exitCode = summary.ok ? 0 : 1
}

// Overall guard: the driver never hangs.
const hardStop = setTimeout(() => {
  console.error('[peer] overall deadline exceeded, aborting')
  process.stdout.write(`${JSON.stringify({ ok: false, error: 'overall deadline exceeded' })}\n`)
  process.exit(1)
}, 300_000)
hardStop.unref()

main()
  .catch((e) => {
    console.error('[peer] internal error:', e?.stack ?? e)
    process.stdout.write(`${JSON.stringify({ ok: false, error: `internal error: ${e?.message ?? e}` })}\n`)
    process.exitCode = 1
  })
  .finally(() => {
    // ethereumjs keeps interval timers alive; leave once the summary is out.
    setTimeout(() => process.exit(process.exitCode ?? 1), 50)
  })
