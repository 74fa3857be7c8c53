/**
 * The cache key: the one place that decides when a stage's previous output can be reused.
 *
 * key = sha256(canonicalJson(KeyRecord)). The record is stored with every run, so `pipe status` and
 * `pipe run` can say which field changed (see `explainChange`). Canonical JSON sorts object keys, so the
 * order fields are written in does not matter; the order below is the order they are documented in.
 */
import type { Brand } from "effect"
import { canonicalJson, sha256, type Json } from "../artifacts/canonical.js"

/** Bump when the record's shape or meaning changes: old keys then never match new ones. */
export const KEY_VERSION = 1

export interface KeyRecord {
  /** KEY_VERSION: a new record format must not collide with keys computed under the old one. */
  readonly v: number
  /** The stage kind: two kinds given the same params do different work. */
  readonly kind: string
  /** The kind's implementation version: code that changes behaviour is bumped and must not reuse old outputs. */
  readonly kindVersion: number
  /** Kind-specific configuration (a command's argv and deps list): it decides what runs. */
  readonly config: Json
  /** Params in encoded form with defaults applied, so spelling out a default does not change the key. */
  readonly params: Json
  /** Content hash of each declared workspace dependency, by path: editing a script reruns its stage. */
  readonly deps: Readonly<Record<string, string>>
  /**
   * Content hash of each needed stage's OUTPUT artifact, by stage id (the id is how a stage sees its input).
   * Outputs, not upstream keys: an upstream rerun that produces identical bytes leaves this key unchanged
   * (early cutoff).
   */
  readonly inputs: Readonly<Record<string, string>>
  /** Engine/backend identity when the kind declares one (e.g. wasm vs cuda): numerics differ across engines. */
  readonly engine: Readonly<Record<string, string>> | null
}

export type CacheKey = string & Brand.Brand<"CacheKey">

/** The only way to make a CacheKey. */
export const cacheKey = (record: KeyRecord): CacheKey => sha256(canonicalJson(record)) as CacheKey

const flatten = (v: unknown, prefix: string, out: Map<string, string>): void => {
  if (typeof v === "object" && v !== null && !Array.isArray(v)) {
    const keys = Object.keys(v)
    if (keys.length === 0 && prefix) out.set(prefix, "{}")
    for (const k of keys) flatten((v as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k, out)
  } else if (v !== undefined) {
    out.set(prefix, canonicalJson(v))
  }
}

export const changedEntries = (a: unknown, b: unknown): Array<[string, string | undefined, string | undefined]> => {
  const fa = new Map<string, string>()
  const fb = new Map<string, string>()
  flatten(a, "", fa)
  flatten(b, "", fb)
  const keys = [...new Set([...fa.keys(), ...fb.keys()])].sort()
  return keys.filter((k) => fa.get(k) !== fb.get(k)).map((k) => [k, fa.get(k), fb.get(k)])
}

const arrow = (k: string, from: string | undefined, to: string | undefined) =>
  from === undefined ? `${k} (new) = ${to}` : to === undefined ? `${k} removed (was ${from})` : `${k} ${from} -> ${to}`

/**
 * Why a stage whose key changed must run, in words: `params changed: lr 0.01 -> 0.001`,
 * `input split changed`. Empty when the records are equal.
 */
export const explainChange = (prev: KeyRecord, next: KeyRecord): ReadonlyArray<string> => {
  const why: Array<string> = []
  if (prev.v !== next.v) why.push(`cache key format changed (v${prev.v} -> v${next.v})`)
  if (prev.kind !== next.kind) why.push(`kind changed: ${prev.kind} -> ${next.kind}`)
  else if (prev.kindVersion !== next.kindVersion)
    why.push(`${next.kind} implementation changed (version ${prev.kindVersion} -> ${next.kindVersion})`)
  const config = changedEntries(prev.config, next.config)
  if (config.length) why.push(`config changed: ${config.map(([k, a, b]) => arrow(k, a, b)).join(", ")}`)
  const params = changedEntries(prev.params, next.params)
  if (params.length) why.push(`params changed: ${params.map(([k, a, b]) => arrow(k, a, b)).join(", ")}`)
  for (const [path, a, b] of changedEntries(prev.deps, next.deps)) {
    why.push(a === undefined ? `dep added: ${path}` : b === undefined ? `dep removed: ${path}` : `dep changed: ${path}`)
  }
  const ids = [...new Set([...Object.keys(prev.inputs), ...Object.keys(next.inputs)])].sort()
  for (const id of ids) {
    const a = prev.inputs[id]
    const b = next.inputs[id]
    if (a === b) continue
    why.push(a === undefined ? `input ${id} added` : b === undefined ? `input ${id} removed` : `input ${id} changed`)
  }
  const engine = changedEntries(prev.engine ?? {}, next.engine ?? {})
  if (engine.length) why.push(`engine changed: ${engine.map(([k, a, b]) => arrow(k, a, b)).join(", ")}`)
  return why
}
