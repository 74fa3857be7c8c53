/**
 * A run as the read side hands it out: its row with the JSON decoded and camel-cased names (runInfo), and the
 * same run as scripts read it in --json output (runJson). The one place a run's row is mapped.
 */
import type { KeyRecord } from "./fingerprint.js"
import type { RunRow } from "./records.js"

/** A run's row with its JSON decoded and camel-cased names; the other columns as they are. */
export interface RunInfo extends Pick<RunRow, "id" | "key" | "pipeline" | "stage" | "kind" | "status" | "reason" | "output" | "error"> {
  readonly record: KeyRecord
  readonly startedAt: number
  readonly endedAt: number | null
  readonly durationMs: number | null
  readonly logPath: string | null
  readonly metrics: Readonly<Record<string, unknown>> | null
  readonly host: string | null
  readonly pipeVersion: string | null
  readonly gitCommit: string | null
  /** Where the stage ran when it ran elsewhere (a cluster node), and the scheduler's job id. */
  readonly ranOn: string | null
  readonly jobId: string | null
}

export const runInfo = (r: RunRow): RunInfo => ({
  id: r.id,
  key: r.key,
  pipeline: r.pipeline,
  stage: r.stage,
  kind: r.kind,
  status: r.status,
  reason: r.reason,
  output: r.output,
  error: r.error,
  record: JSON.parse(r.record) as KeyRecord,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  durationMs: r.duration_ms,
  logPath: r.log_path,
  metrics: r.metrics ? (JSON.parse(r.metrics) as Record<string, unknown>) : null,
  host: r.host ?? null,
  pipeVersion: r.pipe_version ?? null,
  gitCommit: r.git_commit ?? null,
  ranOn: r.ran_on ?? null,
  jobId: r.job_id ?? null
})

/** A run as scripts see it (`pipe runs --json`, `pipe show --json`): key record fields lifted to the top. */
export const runJson = (r: RunInfo) => ({
  id: r.id,
  key: r.key,
  pipeline: r.pipeline,
  stage: r.stage,
  kind: r.kind,
  status: r.status,
  reason: r.reason,
  started_at: new Date(r.startedAt).toISOString(),
  duration_ms: r.durationMs,
  params: r.record.params,
  engine: r.record.engine,
  inputs: r.record.inputs,
  deps: r.record.deps,
  output: r.output,
  metrics: r.metrics,
  error: r.error,
  pipe_version: r.pipeVersion,
  git_commit: r.gitCommit,
  host: r.host,
  ran_on: r.ranOn,
  job_id: r.jobId
})
