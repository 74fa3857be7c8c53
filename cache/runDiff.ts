/**
 * Comparing two runs: every field of their key records that differs (stage, params, config, deps, inputs,
 * engine), the code they ran with, their outcomes, and how each figure moved. Values are canonical JSON text, so
 * equal values compare equal whatever their key order.
 */
import { changedEntries } from "./fingerprint.js"
import type { RunInfo } from "./runInfo.js"

export interface RunDiff {
  readonly a: number
  readonly b: number
  readonly same: boolean
  readonly fields: ReadonlyArray<{ section: string; field: string; a: string | null; b: string | null }>
  readonly metrics: ReadonlyArray<{ metric: string; a: unknown; b: unknown; delta: number | null }>
}

export const diffRuns = (a: RunInfo, b: RunInfo): RunDiff => {
  const fields: Array<RunDiff["fields"][number]> = []
  const section = (name: string, x: unknown, y: unknown) => {
    for (const [field, va, vb] of changedEntries(x, y)) fields.push({ section: name, field, a: va ?? null, b: vb ?? null })
  }
  section("stage", { pipeline: a.pipeline, stage: a.stage, kind: a.kind, version: a.record.kindVersion }, {
    pipeline: b.pipeline,
    stage: b.stage,
    kind: b.kind,
    version: b.record.kindVersion
  })
  section("params", a.record.params, b.record.params)
  section("config", a.record.config, b.record.config)
  section("deps", a.record.deps, b.record.deps)
  section("inputs", a.record.inputs, b.record.inputs)
  section("engine", a.record.engine ?? {}, b.record.engine ?? {})
  section("code", { pipe: a.pipeVersion, commit: a.gitCommit }, { pipe: b.pipeVersion, commit: b.gitCommit })
  section("output", { status: a.status, output: a.output }, { status: b.status, output: b.output })
  const names = [...new Set([...Object.keys(a.metrics ?? {}), ...Object.keys(b.metrics ?? {})])].sort()
  const metrics = names
    .map((metric) => {
      const va = a.metrics?.[metric]
      const vb = b.metrics?.[metric]
      return { metric, a: va ?? null, b: vb ?? null, delta: typeof va === "number" && typeof vb === "number" ? vb - va : null }
    })
    .filter((m) => JSON.stringify(m.a) !== JSON.stringify(m.b))
  return { a: a.id, b: b.id, same: a.key === b.key, fields, metrics }
}
