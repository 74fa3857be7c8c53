/** Comparing two experiments: the params that differ, how each figure moved, which stages share a run. */
import type { ExperimentInfo } from "./experiments.js"

export interface ExperimentDiff {
  readonly a: number
  readonly b: number
  /** Params that differ (absent on one side: null). */
  readonly params: ReadonlyArray<{ key: string; a: unknown; b: unknown }>
  /** Figures that differ, with b - a where both are numbers. */
  readonly metrics: ReadonlyArray<{ key: string; a: unknown; b: unknown; delta: number | null }>
  /** Stages whose run differs (null where the stage was not part of one of them). */
  readonly runs: ReadonlyArray<{ stage: string; a: number | null; b: number | null }>
  /** Stages both used the same run of: their params and inputs are identical. */
  readonly shared: ReadonlyArray<string>
}

const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y)

const keysOf = (x: Readonly<Record<string, unknown>>, y: Readonly<Record<string, unknown>>) => [...new Set([...Object.keys(x), ...Object.keys(y)])]

export const diffExperiments = (a: ExperimentInfo, b: ExperimentInfo): ExperimentDiff => ({
  a: a.id,
  b: b.id,
  params: keysOf(a.params, b.params)
    .filter((k) => !same(a.params[k], b.params[k]))
    .map((key) => ({ key, a: a.params[key] ?? null, b: b.params[key] ?? null })),
  metrics: keysOf(a.metrics, b.metrics)
    .filter((k) => !same(a.metrics[k], b.metrics[k]))
    .map((key) => {
      const va = a.metrics[key]
      const vb = b.metrics[key]
      return { key, a: va ?? null, b: vb ?? null, delta: typeof va === "number" && typeof vb === "number" ? vb - va : null }
    }),
  runs: keysOf(a.runs, b.runs)
    .filter((s) => a.runs[s] !== b.runs[s])
    .map((stage) => ({ stage, a: a.runs[stage] ?? null, b: b.runs[stage] ?? null })),
  shared: Object.keys(a.runs).filter((s) => a.runs[s] === b.runs[s])
})
