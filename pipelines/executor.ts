/**
 * The Executor port: where and how one planned stage runs. The runner decides what runs (order, cache hits,
 * locks) and hands each stage that must run to the executor as a task: the node, its key and key record, and
 * the hashes of its inputs. The executor materializes the inputs, runs the kind, ingests the output and
 * records the run through the Store; it reports progress as events and writes nothing to the terminal.
 * Today's behaviour is `localExecutor` (pipelines/localExecutor.ts); another executor (a cluster, a queue) is
 * one more Layer for this Tag.
 */
import { Context, type Effect } from "effect"
import type { CacheKey, KeyRecord } from "../cache/fingerprint.js"
import type { Store } from "../cache/store.js"
import type { StageContext, StageMetrics } from "./kind.js"
import type { StageNode } from "./model.js"

/** What a running stage reports: a line for its log, or a one-line status of long work (null: the work ended). */
export type ExecutorEvent =
  | { readonly _tag: "log"; readonly stage: string; readonly line: string }
  | { readonly _tag: "progress"; readonly stage: string; readonly line: string | null }

export interface Task {
  readonly pipeline: string
  /** The directory holding the pipeline file: commands run there, deps are relative to it. */
  readonly workspace: string
  readonly node: StageNode
  readonly key: CacheKey
  readonly record: KeyRecord
  /** Why it runs (shown and recorded). */
  readonly reason: string
  /** Run even if this key's output exists somewhere (`--force`): an executor must not reuse another's result. */
  readonly forced?: boolean
  /** The output hash of each needed stage, by stage id. */
  readonly inputs: ReadonlyMap<string, string>
  /** The run that produced each input, and its headline figures, by stage id (shown, never part of the key). */
  readonly upstream: ReadonlyMap<string, { readonly run?: number; readonly metrics?: StageMetrics }>
  /** Where the stage's own program may echo its output live (`pipe run --verbose`). */
  readonly echo: StageContext<unknown, unknown>["echo"]
  readonly events: (e: ExecutorEvent) => void
}

export interface Executed {
  readonly runId: number
  /** The output artifact's hash. */
  readonly output: string
  readonly logPath: string
  readonly metrics?: StageMetrics
}

export interface StageFailure {
  readonly runId: number
  readonly message: string
  readonly logPath: string
}

export interface ExecutorApi {
  /** Runs the task; the outputs and records go to the Store (an executor elsewhere ships them through it). */
  readonly execute: (task: Task) => Effect.Effect<Executed, StageFailure, Store>
}

export class Executor extends Context.Tag("pipe/Executor")<Executor, ExecutorApi>() {}
