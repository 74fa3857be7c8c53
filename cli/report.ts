/**
 * `pipe report [RUN | --sweep ID] [-o DIR] [--open]`: the analyze stage's report for any past run or sweep,
 * built from the store. The evaluated models are found from the record: an analyze run's inputs, an evaluate
 * run, the evaluations of a train run's model, a sweep's evaluate runs, or (with neither) the evaluate stages
 * the workspace's pipeline last ran. Their artifacts are materialised read-only in a temporary directory.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option, Schema } from "effect"
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative, resolve } from "node:path"
import { materialize, removeTree } from "../artifacts/blobs.js"
import { ensureDir } from "../artifacts/ensureDir.js"
import type { Queries, RunInfo } from "../cache/queries.js"
import type { StoreApi } from "../cache/store.js"
import { droppedSweep, missingRuns, sweepPoints } from "../cache/sweeps.js"
import { StoreError, UsageError } from "../pipelines/errors.js"
import { analyzeKind } from "../stages/analyze.js"
import { when } from "./format.js"
import { resolveRef } from "./lineage.js"
import * as O from "./options.js"
import { renderError } from "./render.js"

const runArg = Args.text({ name: "run" }).pipe(
  Args.withDescription("An analyze, evaluate or train run (number, stage id, key or artifact hash); default: the pipeline's latest evaluations"),
  Args.optional
)
const sweepOpt = O.integerAtLeast("sweep", 1, "Report on every point of this sweep, side by side").pipe(Options.optional)
const outOpt = Options.text("output").pipe(
  Options.withAlias("o"),
  Options.withDescription("The directory to write report.html, summary.md and figures/ to (default: ./report)"),
  Options.withDefault("report")
)
const openOpt = Options.boolean("open").pipe(Options.withDescription("Open report.html in the default browser (xdg-open)"))

interface Evaluated {
  readonly evaluate: RunInfo
  readonly label: string
}

/** The evaluate runs a reference stands for. */
const evaluationsOf = (q: Queries, run: RunInfo): Array<RunInfo> => {
  switch (run.kind) {
    case "evaluate":
      return [run]
    case "analyze":
      return q
        .inputs(run.id)
        .filter((i) => q.artifact(i.artifact)?.type === "metrics")
        .flatMap((i) => q.producers(i.artifact).slice(0, 1))
    default:
      // The successful evaluations that read this run's output.
      return run.output ? q.consumersOfMany([run.output]).filter((r) => r.kind === "evaluate" && r.status === "ok") : []
  }
}

/**
 * Why a sweep cannot be reported on, if it cannot: gc dropped it, or an earlier gc (one that did not keep
 * sweeps) removed evaluations its points ran. Says what is gone and the command that brings it back.
 */
const sweepGone = (store: StoreApi, q: Queries, id: number, kindOf: (stage: string) => string | undefined): StoreError | UsageError | undefined => {
  const sweep = q.sweep(id)
  if (!sweep) {
    const d = droppedSweep(store.db, id)
    if (!d) return new UsageError({ message: `there is no sweep ${id} in this store (pipe sweeps lists them)` })
    return new StoreError({
      message:
        `sweep ${id} (${when(d.createdAt)}) was dropped by pipe gc on ${when(d.droppedAt)}: its points and the runs only it kept are gone; ` +
        `run it again to report on it (stages still cached are reused): ${d.command}`
    })
  }
  // Evaluations its points ran that are no longer in the store (kinds of removed runs are known from the
  // pipeline, or from other runs of the same stage; an unknown one counts).
  const gone = missingRuns(store.db, sweepPoints(store.db, id)).filter((m) => (kindOf(m.stage) ?? "evaluate") === "evaluate")
  if (gone.length === 0) return undefined
  const list = gone.slice(0, 8).map((m) => `#${m.run} ${m.stage} (point ${m.point})`).join(", ")
  return new StoreError({
    message:
      `sweep ${id}: ${gone.length === 1 ? "an evaluation" : `${gone.length} evaluations`} of its points ${gone.length === 1 ? "is" : "are"} no longer in the store ` +
      `(removed by a pipe gc that did not keep sweeps): ${list}${gone.length > 8 ? ", ..." : ""}; ` +
      `run the sweep again to rebuild ${gone.length === 1 ? "it" : "them"} (stages still cached are reused): ${sweep.command}`
  })
}

/** A run number that this store had once (lower than its newest) but no longer has: gc removed it. */
const removedRun = (q: Queries, text: string): StoreError | undefined => {
  const n = /^#?(\d{1,12})$/.exec(text)
  if (!n || q.run(Number(n[1]))) return undefined
  const newest = q.runs({ limit: 1 })[0]?.id ?? 0
  if (Number(n[1]) > newest) return undefined
  return new StoreError({
    message:
      `run #${n[1]} is no longer in the store: pipe gc removed it (pipe pin keeps a run through gc); ` +
      `run the pipeline or sweep that made it again to rebuild it (pipe run), then report on the new run`
  })
}

const gather = (
  store: StoreApi,
  q: Queries,
  a: { run: Option.Option<string>; sweep: Option.Option<number> },
  pipeline: string | undefined,
  stageIds: ReadonlyArray<string>,
  kindOf: (stage: string) => string | undefined
) =>
  Effect.gen(function* () {
    if (Option.isSome(a.run) && Option.isSome(a.sweep)) return yield* new UsageError({ message: "give a run or --sweep, not both" })
    if (Option.isSome(a.sweep)) {
      const id = a.sweep.value
      const gone = sweepGone(store, q, id, kindOf)
      if (gone) return yield* gone
      const evaluations = q.runs({ sweep: id, where: [{ field: "kind", op: "=", value: "evaluate" }], status: ["ok"], sort: "id", limit: 0 })
      if (evaluations.length === 0) {
        return yield* new UsageError({ message: `sweep ${id} has no successful evaluate run to report on (pipe runs --sweep ${id} lists its runs)` })
      }
      const points = new Map(q.sweepPointParams(id).map((p) => [p.point, p.params]))
      return evaluations.map((e): Evaluated => {
        const at = q.sweepPoints(e.id).filter((s) => s.sweep === id)
        const params = at.length === 1 ? points.get(at[0]!.point) : undefined
        const label = params ? Object.entries(params).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ") : `${e.stage} #${e.id}`
        return { evaluate: e, label: at.length > 1 ? `${e.stage} (shared by ${at.length} points)` : label }
      })
    }
    let runs: Array<RunInfo>
    if (Option.isSome(a.run)) {
      const removed = removedRun(q, a.run.value)
      if (removed) return yield* removed
      const t = yield* resolveRef(q, a.run.value, pipeline)
      const run = t._tag === "run" ? q.run(t.id) : q.producers(t.hashes[0]!)[0]
      if (!run) return yield* new UsageError({ message: `no recorded run produced ${a.run.value}` })
      runs = evaluationsOf(q, run)
      if (runs.length === 0) return yield* new UsageError({ message: `run #${run.id} (${run.stage}) has no evaluation to report on` })
    } else {
      if (pipeline === undefined) return yield* new UsageError({ message: "give a run or --sweep (no pipeline file here to take the latest runs from)" })
      runs = stageIds.flatMap((s) => q.runs({ pipeline, stages: [s], status: ["ok"], limit: 1 }))
      if (runs.length === 0) return yield* new UsageError({ message: "the pipeline has no successful evaluate run yet: pipe run first, or name a run" })
    }
    // Named like the analyze stage names them: by the train stage that made the model.
    const trainStage = (e: RunInfo) => {
      const model = Object.values(e.record.inputs).find((h) => q.artifact(h)?.type === "model")
      return (model && q.producers(model)[0]?.stage) ?? e.stage
    }
    return runs.map((e): Evaluated => ({ evaluate: e, label: trainStage(e) }))
  })

/** Materialises what the report reads for each evaluation: its metrics, its model, the split and a policy. */
const materialized = (store: StoreApi, q: Queries, evaluated: ReadonlyArray<Evaluated>, dir: string) => {
  let n = 0
  const put = (hash: string) => {
    const d = join(dir, `a${n++}`)
    materialize(store.root, store.records.files(hash), d)
    return d
  }
  if (evaluated.length === 0) throw new StoreError({ message: "there is no evaluation to report on" })
  const splitHash = Object.values(evaluated[0]!.evaluate.record.inputs).find((h) => q.artifact(h)?.type === "split")
  const again = "run its pipeline again (pipe run, or the sweep that made it) to rebuild it"
  if (!splitHash) throw new StoreError({ message: `run #${evaluated[0]!.evaluate.id} (${evaluated[0]!.evaluate.stage}): its split is no longer in the store; ${again}` })
  const labels = new Map<string, number>()
  const runs = evaluated.map((e) => {
    const modelHash = Object.values(e.evaluate.record.inputs).find((h) => q.artifact(h)?.type === "model")
    if (!modelHash || !e.evaluate.output || !q.artifact(e.evaluate.output)) {
      throw new StoreError({ message: `run #${e.evaluate.id} (${e.evaluate.stage}): its ${modelHash ? "metrics are" : "model is"} no longer in the store; ${again}` })
    }
    const seen = labels.get(e.label) ?? 0
    labels.set(e.label, seen + 1)
    // Timings are in the runs' records, not in the artifacts: the evaluation's own, and the latest training of the model.
    const timings = { train: q.producers(modelHash).find((r) => r.status === "ok")?.metrics ?? null, evaluate: e.evaluate.metrics }
    return { label: seen ? `${e.label} #${e.evaluate.id}` : e.label, model: put(modelHash), metrics: put(e.evaluate.output), modelHash, timings }
  })
  const trainRun = q.producers(runs[0]!.modelHash)[0]
  const policy = trainRun && Object.values(trainRun.record.inputs).find((h) => q.artifact(h)?.type === "augmentation-policy")
  return { split: put(splitHash), runs, policy: policy ? put(policy) : undefined }
}

export const reportCommand = Command.make(
  "report",
  { file: O.file, store: O.store, json: O.json, set: O.set, sweep: sweepOpt, output: outOpt, open: openOpt, run: runArg },
  (a) =>
    O.withQueries(
      a.file,
      a.store,
      ({ q, store, pipeline, loaded }) =>
        Effect.gen(function* () {
          const evaluateStages = loaded ? loaded.pipeline.order.filter((id) => loaded.pipeline.stages.get(id)!.kind.kind === "evaluate") : []
          // A stage's kind: from the pipeline, else from a run of it in the store.
          const kindOf = (stage: string) =>
            loaded?.pipeline.stages.get(stage)?.kind.kind ?? q.runs({ stages: [stage], limit: 1 })[0]?.kind
          const evaluated = yield* gather(store, q, a, pipeline, evaluateStages, kindOf)
          // The analysis params: the pipeline's analyze stage's (with --set), else the kind's defaults.
          const analyzeStage = loaded?.pipeline.order.map((id) => loaded.pipeline.stages.get(id)!).find((s) => s.kind.kind === "analyze")
          const params = analyzeStage ? (analyzeStage.params as Schema.Schema.Type<typeof analyzeKind.params>) : Schema.decodeUnknownSync(analyzeKind.params)({})
          const out = resolve(a.output)
          yield* Effect.try({
            try: () => ensureDir(out),
            catch: (e) => new UsageError({ message: `cannot write the report to ${out}: ${(e as Error).message}; give -o DIR` })
          })
          const work = mkdtempSync(join(tmpdir(), "pipe-report-"))
          const report = yield* Effect.tryPromise({
            try: async () => {
              const [{ buildReport }, { runData, reportOptions }, { readImageSet }] = await Promise.all([
                import("../stages/ml/report/report.js"),
                import("../stages/analyze.run.js"),
                import("../stages/ml/imageSet.js")
              ])
              const m = materialized(store, q, evaluated, work)
              const data = readImageSet(m.split)
              const test = data.splits["test"]!
              const preview = (name: string) => (m.policy && existsSync(join(m.policy, name)) ? readFileSync(join(m.policy, name)) : undefined)
              const samples = preview("samples-per-class.png")
              const steps = preview("augmentation-steps.png")
              const title = Option.isSome(a.sweep) ? `${params.title}: sweep ${a.sweep.value}` : params.title
              return await buildReport(
                {
                  title,
                  classes: data.manifest.classes,
                  test,
                  runs: m.runs.map((r) => runData(r.label, r.model, r.metrics, r.timings)),
                  previews: { ...(samples ? { samples } : {}), ...(steps ? { steps } : {}) }
                },
                reportOptions(params),
                out,
                (line) => process.stderr.write(`${line}\n`)
              )
            },
            catch: (e) => (e instanceof StoreError ? e : new StoreError({ message: `cannot build the report: ${(e as Error).message}` }))
          }).pipe(Effect.ensuring(Effect.sync(() => removeTree(work))))
          const page = join(out, "report.html")
          if (a.json) {
            process.stdout.write(
              `${JSON.stringify({ event: "report", path: page, runs: evaluated.map((e) => ({ run: e.evaluate.id, label: e.label })), figures: report.figures.map((f) => f.id), table: report.table })}\n`
            )
          } else {
            process.stdout.write(`${report.markdown}\n\n${report.figures.length} figures; report: ${relative(process.cwd(), page) || page}\n`)
          }
          if (a.open) spawn("xdg-open", [page], { detached: true, stdio: "ignore" }).on("error", () => process.stderr.write(`pipe: cannot open a browser here; open ${page}\n`)).unref()
        }),
      a.set
    ).pipe(Effect.catchAll(renderError(a.json)))
).pipe(
  Command.withDescription(
    "Build the analysis report (report.html, summary.md, figures/) for a past run or a sweep from the store, comparing its models side by side; " +
      "with neither, for the pipeline's latest evaluations."
  )
)
