/**
 * Planning: given the pipeline, what is known of each stage's inputs and a read-only view of the cache,
 * decide for each stage whether its output can be reused or why it must run. Pure: no I/O but through the
 * view, so `--dry-run` and `pipe status` print exactly what `pipe run` would do. The runner calls `decide`
 * again as upstream stages finish, because a stage's key depends on its inputs' output hashes.
 */
import { cacheKey, explainChange, KEY_VERSION, type CacheKey, type KeyRecord } from "../cache/fingerprint.js"
import type { Pipeline, StageNode } from "./model.js"

/** Per-stage facts gathered before planning: hashes of declared deps and the engine identity. */
export interface StageFacts {
  readonly deps: Readonly<Record<string, string>>
  readonly engine: Readonly<Record<string, string>> | null
}

export interface PastRun {
  readonly id: number
  readonly key: string
  readonly status: string
  readonly record: KeyRecord
  readonly output: string | null
  readonly metrics?: Readonly<Record<string, unknown>> | undefined
  /** Why it failed, or why it was marked damaged. */
  readonly error?: string | null
}

export interface CacheView {
  /** The latest successful run with this key. */
  readonly findOk: (key: CacheKey) => PastRun | undefined
  /** The latest run of any status with this key. */
  readonly lastOfKey: (key: CacheKey) => PastRun | undefined
  /** The run this stage of this pipeline last ran or restored. */
  readonly head: (stage: string) => PastRun | undefined
  /** Problems with a stored artifact's blobs (empty when intact). */
  readonly damage: (artifact: string) => ReadonlyArray<string>
}

export type Decision =
  | {
      readonly _tag: "Cached"
      readonly key: CacheKey
      readonly record: KeyRecord
      readonly run: PastRun
      readonly output: string
      readonly note: string
    }
  | {
      readonly _tag: "Run"
      readonly key: CacheKey
      readonly record: KeyRecord
      readonly reason: string
      /** Set when a cached output exists but is damaged: it is replaced by this run. */
      readonly damagedOutput?: string
    }
  | { readonly _tag: "Blocked"; readonly on: ReadonlyArray<string> }

export const keyRecord = (node: StageNode, facts: StageFacts, inputs: Readonly<Record<string, string>>): KeyRecord => ({
  v: KEY_VERSION,
  kind: node.kind.kind,
  kindVersion: node.kind.version,
  config: node.canonicalConfig,
  params: node.canonicalParams,
  deps: facts.deps,
  inputs,
  engine: facts.engine
})

const whyRun = (node: StageNode, key: CacheKey, record: KeyRecord, view: CacheView): string => {
  const last = view.lastOfKey(key)
  if (last?.status === "failed") return "previous run failed"
  if (last?.status === "interrupted" || last?.status === "running") return "previous run was interrupted"
  if (last?.status === "damaged") return last.error ? `its earlier run was invalidated: ${last.error}` : "its stored output was damaged"
  const head = view.head(node.id)
  if (!head) return "no previous run"
  const why = explainChange(head.record, record)
  return why.length > 0 ? why.join("; ") : "not in the cache"
}

/**
 * One stage. `outputs` holds the output hash of every upstream stage known so far; a missing one means
 * that stage has not run yet, so this stage's key cannot be known.
 */
export const decide = (
  node: StageNode,
  facts: StageFacts,
  outputs: ReadonlyMap<string, string>,
  view: CacheView,
  force: boolean
): Decision => {
  const missing = node.needs.filter((n) => !outputs.has(n))
  if (missing.length > 0) return { _tag: "Blocked", on: missing }
  const inputs = Object.fromEntries(node.needs.map((n) => [n, outputs.get(n)!]))
  const record = keyRecord(node, facts, inputs)
  const key = cacheKey(record)
  if (force) return { _tag: "Run", key, record, reason: "--force" }
  const hit = view.findOk(key)
  if (hit && hit.output) {
    const damage = view.damage(hit.output)
    if (damage.length > 0) {
      return { _tag: "Run", key, record, reason: `cached output damaged: ${damage.join(", ")}`, damagedOutput: hit.output }
    }
    const head = view.head(node.id)
    const note = head && head.key !== key ? `restored from run-cache (run #${hit.id})` : "up to date"
    return { _tag: "Cached", key, record, run: hit, output: hit.output, note }
  }
  return { _tag: "Run", key, record, reason: whyRun(node, key, record, view) }
}

export interface PlannedStage {
  readonly id: string
  readonly decision: Decision
}

/** Every selected stage in order, assuming nothing runs: what `--dry-run` and `pipe status` print. */
export const plan = (
  pipeline: Pipeline,
  selected: ReadonlySet<string>,
  facts: ReadonlyMap<string, StageFacts>,
  view: CacheView,
  force: boolean,
  /** With force: only these are forced (all when empty). */
  forced: ReadonlyArray<string> = []
): ReadonlyArray<PlannedStage> => {
  const outputs = new Map<string, string>()
  const result: Array<PlannedStage> = []
  for (const id of pipeline.order) {
    if (!selected.has(id)) continue
    const decision = decide(pipeline.stages.get(id)!, facts.get(id)!, outputs, view, force && (forced.length === 0 || forced.includes(id)))
    if (decision._tag === "Cached") outputs.set(id, decision.output)
    result.push({ id, decision })
  }
  return result
}

/** The successful runs a plan reuses, upstream first: what a pipeline needs from a store to be fully cached. */
export const cachedRuns = (planned: ReadonlyArray<PlannedStage>): Array<{ stage: string; run: number }> =>
  planned.flatMap((p) => (p.decision._tag === "Cached" ? [{ stage: p.id, run: p.decision.run.id }] : []))
