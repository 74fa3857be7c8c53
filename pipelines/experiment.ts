/**
 * What a run of the pipeline (a `pipe run`, or one sweep point) was, as an experiment: the effective params of
 * every stage it used and the figures each reported, stage-qualified (`train-mlp.lr`, `evaluate-mlp.test_accuracy`),
 * and the run of each stage. Built from the pipeline and the stage events; the store keeps it (cache/experiments.ts).
 */
import type { ExperimentDraft } from "../cache/experiments.js"
import type { StageEvent } from "./events.js"
import type { Loaded } from "./loader.js"
import { gitCommit, pipeVersion } from "./provenance.js"

/** Nested objects as dotted keys under a prefix: ("train", { a: { b: 1 } }) -> [["train.a.b", 1]]. */
export const qualified = (prefix: string, v: unknown): Array<[string, unknown]> => {
  if (typeof v === "object" && v !== null && !Array.isArray(v)) {
    const entries = Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return entries.flatMap(([k, x]) => qualified(`${prefix}.${k}`, x))
  }
  return [[prefix, v]]
}

export interface ExperimentOptions {
  readonly name?: string | undefined
  readonly tags?: ReadonlyArray<string>
  readonly command: string
  readonly sweep?: { readonly id: number; readonly point: number }
}

/** The experiment a finished run of the pipeline makes, from its stage events (one per stage it considered). */
export const experimentOf = (loaded: Loaded, events: ReadonlyArray<StageEvent>, o: ExperimentOptions): ExperimentDraft => {
  const byStage = new Map(events.map((e) => [e.stage, e]))
  const stages = loaded.pipeline.order.filter((s) => byStage.has(s))
  const params: Record<string, unknown> = {}
  const metrics: Record<string, unknown> = {}
  const runs: Record<string, number> = {}
  for (const s of stages) {
    const e = byStage.get(s)!
    for (const [k, v] of qualified(s, loaded.pipeline.stages.get(s)!.canonicalParams)) params[k] = v
    for (const [k, v] of qualified(s, e.metrics ?? {})) if (k !== s) metrics[k] = v
    if (e.run !== undefined) runs[s] = e.run
  }
  return {
    pipeline: loaded.pipeline.name,
    ...(o.name !== undefined ? { name: o.name } : {}),
    tags: o.tags ?? [],
    command: o.command,
    ...(o.sweep ? { sweep: o.sweep } : {}),
    status: events.some((e) => e.status === "failed" || e.status === "skipped") ? "failed" : "ok",
    params,
    metrics,
    runs,
    gitCommit: gitCommit(loaded.workspace),
    pipeVersion: pipeVersion()
  }
}

/** The command line as typed, for the record: `pipe run --set a.b=1`. */
export const commandLine = (argv: ReadonlyArray<string> = process.argv.slice(2)): string =>
  ["pipe", ...argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))].join(" ")
