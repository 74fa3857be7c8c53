/**
 * A stage run elsewhere (`pipe exec-node` on a compute node): the job a coordinator writes to the remote for one
 * stage, and the result the node writes back. The job carries everything the node needs besides the workspace
 * (which a cluster shares) and the blobs (which the remote holds): the stage's kind, decoded params and config,
 * its key and key record, and each input's files with their blob hashes. The node never opens the store.
 *
 *   jobs/<key>.json      JobSpec, written by the coordinator before it submits the job
 *   results/<key>.json   JobResult, written by the node when the stage ends (ok or failed)
 *   logs/<key>.log       the stage's log
 */
import type { FileEntry, Manifest } from "../artifacts/manifest.js"
import type { CacheKey, KeyRecord } from "../cache/fingerprint.js"
import type { Task } from "./executor.js"
import type { InputArtifact, Registry, StageMetrics } from "./kind.js"
import type { StageNode } from "./model.js"

export const JOB_VERSION = 1

export const jobPath = (key: string) => `jobs/${key}.json`
export const resultPath = (key: string) => `results/${key}.json`
export const logPath = (key: string) => `logs/${key}.log`

export interface JobInput {
  readonly hash: string
  readonly type: string
  readonly files: ReadonlyArray<FileEntry>
  readonly run?: number
  readonly metrics?: StageMetrics
  readonly producer?: InputArtifact["producer"]
}

export interface JobSpec {
  readonly version: typeof JOB_VERSION
  readonly key: CacheKey
  readonly pipeline: string
  readonly workspace: string
  readonly stage: string
  readonly kind: string
  readonly kindVersion: number
  readonly reason: string
  readonly record: KeyRecord
  readonly node: {
    readonly needs: ReadonlyArray<string>
    readonly slots: Readonly<Record<string, string>>
    readonly config: unknown
    readonly params: unknown
    readonly deps: ReadonlyArray<string>
  }
  readonly inputs: Readonly<Record<string, JobInput>>
}

export interface JobResult {
  readonly version: typeof JOB_VERSION
  readonly key: string
  readonly status: "ok" | "failed"
  readonly error?: string
  readonly manifest?: Manifest
  readonly metrics?: StageMetrics
  readonly series?: ReadonlyArray<Readonly<Record<string, unknown>>>
  readonly host: string
  /** The scheduler's id for the job ($SLURM_JOB_ID), when one ran it. */
  readonly jobId: string | null
  readonly startedAt: number
  readonly endedAt: number
}

/** The job for a task, given each input's files and type (from the coordinator's store). */
export const jobOf = (task: Task, input: (hash: string) => { type: string; files: ReadonlyArray<FileEntry> }, producer: (run: number) => InputArtifact["producer"] | undefined): JobSpec => ({
  version: JOB_VERSION,
  key: task.key,
  pipeline: task.pipeline,
  workspace: task.workspace,
  stage: task.node.id,
  kind: task.node.kind.kind,
  kindVersion: task.node.kind.version,
  reason: task.reason,
  record: task.record,
  node: {
    needs: task.node.needs,
    slots: task.node.slots,
    config: task.node.config,
    params: task.node.params,
    deps: task.node.deps
  },
  inputs: Object.fromEntries(
    task.node.needs.map((n) => {
      const hash = task.inputs.get(n)!
      const up = task.upstream.get(n)
      const p = up?.run === undefined ? undefined : producer(up.run)
      return [n, { hash, ...input(hash), ...(up?.run !== undefined ? { run: up.run } : {}), ...(up?.metrics ? { metrics: up.metrics } : {}), ...(p ? { producer: p } : {}) }]
    })
  )
})

export class JobError extends Error {}

/** A job as read from the remote, checked enough to run: its version, and a kind this pipe knows at that version. */
export const checkJob = (value: unknown, key: string, registry: Registry): JobSpec => {
  const j = value as Partial<JobSpec> | undefined
  if (!j || typeof j !== "object") throw new JobError(`no job ${key} on the remote (jobs/${key}.json)`)
  if (j.version !== JOB_VERSION) throw new JobError(`job ${key} has format ${String(j.version)}; this pipe reads format ${JOB_VERSION}`)
  if (j.key !== key) throw new JobError(`jobs/${key}.json describes key ${String(j.key)}`)
  const kind = registry.get(String(j.kind))
  if (!kind) throw new JobError(`job ${key} needs stage kind '${String(j.kind)}', which this pipe does not have`)
  if (kind.version !== j.kindVersion) {
    throw new JobError(`job ${key} was planned for ${kind.kind} version ${String(j.kindVersion)}; this pipe has version ${kind.version}: run the same pipe on the nodes`)
  }
  return j as JobSpec
}

/** The stage as the node runs it: the kind from this pipe's registry, the params and config the coordinator decoded. */
export const nodeOf = (j: JobSpec, registry: Registry): StageNode => ({
  id: j.stage,
  kind: registry.get(j.kind)!,
  needs: j.node.needs,
  slots: j.node.slots,
  config: j.node.config as Record<string, unknown>,
  params: j.node.params,
  canonicalParams: j.record.params,
  canonicalConfig: j.record.config,
  deps: j.node.deps
})
