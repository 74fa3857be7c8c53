/**
 * `pipe report [RUN | --sweep ID] [-o DIR] [--open]`: the analyze stage's report for any past run or sweep,
 * from the store. An analyze run's report is copied out as it was stored (storedReport.ts). Otherwise it is
 * built: the evaluated models are found from the record (an evaluate run, the evaluations of a train run's
 * model, a sweep's evaluate runs, or, with neither, the evaluate stages the workspace's pipeline last ran) and
 * their artifacts materialised read-only in a temporary directory. Models are labelled as reportLabels.ts
 * says: an evaluation a sweep point made carries that point's params, and a note points to the sweep's report.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option, Schema } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative, resolve } from "node:path"
import { blobPath, materialize, removeTree } from "../artifacts/blobs.js"
import { ensureDir } from "../artifacts/ensureDir.js"
import { lineage } from "../cache/lineage.js"
import type { Queries } from "../cache/queries.js"
import type { RunInfo } from "../cache/runInfo.js"
import type { StoreApi } from "../cache/store.js"
import { StoreError, UsageError } from "../pipelines/errors.js"
import { analyzeKind } from "../stages/analyze.js"
import type { RunStamp } from "../ml/report/provenance.js"
import { expLabel } from "../cache/experiments.js"
import { when } from "./format.js"
import { resolveRef } from "./ref.js"
import * as O from "./options.js"
import { renderError } from "./render.js"
import { distinctLabels, sweepLabel, sweptLabel, type PointParams } from "./reportLabels.js"
import { copyStoredReport, storedReportOf } from "./storedReport.js"

const runArg = Args.text({ name: "run" }).pipe(
  Args.withDescription("An analyze, evaluate or train run (number, stage id, key or artifact hash); default: the pipeline's latest evaluations"),
  Args.optional
)
const sweepOpt = O.integerAtLeast("sweep", 1, "Report on every point of this sweep, side by side; a search that evaluates nothing (a halving search) is charted from its trainings: its trials in parallel coordinates and their figure by epoch, stopped ones grey").pipe(Options.optional)
const outOpt = Options.text("output").pipe(
  Options.withAlias("o"),
  Options.withDescription("The directory to write report.html, summary.md and figures/ to (default: ./report)"),
  Options.withDefault("report")
)
const openOpt = Options.boolean("open").pipe(Options.withDescription("Open report.html in the default browser (xdg-open)"))

interface Evaluated {
  readonly evaluate: RunInfo
  readonly label: string
  /** The sweep and its points that made this evaluation, when its label names them. */
  readonly sweep?: { readonly id: number; readonly points: ReadonlyArray<number> }
}

/** The train stage that made an evaluation's model: models are named by it, as the analyze stage names them. */
const trainStage = (q: Queries, e: RunInfo): string => {
  const model = Object.values(e.record.inputs).find((h) => q.artifact(h)?.type === "model")
  return (model && q.producers(model)[0]?.stage) ?? e.stage
}

/** The stages upstream of a run (and its own): a swept `STAGE.PARAM` reaches the run only through them. */
const upstreamStages = (q: Queries, run: RunInfo): ReadonlySet<string> =>
  new Set(lineage(q, { _tag: "run", id: run.id, via: `run #${run.id}` }, "up").nodes.flatMap((n) => (n.run ? [n.run.stage] : [])))

/** The points of a sweep that used a run, with their params. */
const pointsOf = (q: Queries, run: RunInfo, sweep: number, all: ReadonlyArray<PointParams>): Array<PointParams> => {
  const byPoint = new Map(all.map((p) => [p.point, p]))
  return q.sweepPoints(run.id).flatMap((s) => (s.sweep === sweep && byPoint.has(s.point) ? [byPoint.get(s.point)!] : []))
}

/**
 * An evaluation outside a sweep's report that a sweep point made (the latest sweep that used it): labelled
 * with that point's params, with a note pointing to the sweep's own report. Plain when no swept param reaches it.
 */
const fromSweep = (q: Queries, e: RunInfo): { evaluated: Evaluated; note: string } | undefined => {
  const at = q.sweepPoints(e.id)
  if (at.length === 0) return undefined
  const sweep = Math.max(...at.map((s) => s.sweep))
  const all = q.sweepPointParams(sweep)
  const own = pointsOf(q, e, sweep, all)
  const base = trainStage(q, e)
  const label = sweptLabel(base, sweep, own, all, upstreamStages(q, e))
  if (!label) return undefined
  const points = own.map((p) => p.point)
  return {
    evaluated: { evaluate: e, label, sweep: { id: sweep, points } },
    note: `${base}: evaluation run #${e.id} was made by sweep ${sweep} (${points.length === 1 ? "point" : "points"} ${points.join(", ")}); pipe report --sweep ${sweep} compares all its points`
  }
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
    const d = store.sweeps.dropped(id)
    if (!d) return new UsageError({ message: `there is no sweep ${id} in this store (pipe sweeps lists them)` })
    return new StoreError({
      message:
        `sweep ${id} (${when(d.createdAt)}) was dropped by pipe gc on ${when(d.droppedAt)}: its points and the runs only it kept are gone; ` +
        `run it again to report on it (stages still cached are reused): ${d.command}`
    })
  }
  // Evaluations its points ran that are no longer in the store (kinds of removed runs are known from the
  // pipeline, or from other runs of the same stage; an unknown one counts).
  const gone = store.sweeps.missingRuns(store.sweeps.points(id)).filter((m) => (kindOf(m.stage) ?? "evaluate") === "evaluate")
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

/** The run a RUN argument names (an artifact stands for its newest producer). */
const resolveRun = (q: Queries, text: string, pipeline: string | undefined) =>
  Effect.gen(function* () {
    const removed = removedRun(q, text)
    if (removed) return yield* removed
    const t = yield* resolveRef(q, text, pipeline)
    const run = t._tag === "run" ? q.run(t.id) : q.producers(t.hashes[0]!)[0]
    if (!run) return yield* new UsageError({ message: `no recorded run produced ${text}` })
    return run
  })

/** The evaluations to report on, labelled, and the notes to print about them. */
const gather = (
  store: StoreApi,
  q: Queries,
  a: { run: RunInfo | undefined; sweep: Option.Option<number> },
  pipeline: string | undefined,
  stageIds: ReadonlyArray<string>,
  kindOf: (stage: string) => string | undefined
) =>
  Effect.gen(function* () {
    if (Option.isSome(a.sweep)) {
      const id = a.sweep.value
      const gone = sweepGone(store, q, id, kindOf)
      if (gone) return yield* gone
      const evaluations = q.runs({ sweep: id, where: [{ field: "kind", op: "=", value: "evaluate" }], status: ["ok"], sort: "id", limit: 0 })
      if (evaluations.length === 0) {
        return yield* new UsageError({ message: `sweep ${id} has no successful evaluate run to report on (pipe runs --sweep ${id} lists its runs)` })
      }
      const all = q.sweepPointParams(id)
      const evaluated = evaluations.map((e): Evaluated => {
        const own = pointsOf(q, e, id, all)
        return { evaluate: e, label: sweepLabel(trainStage(q, e), own, all, upstreamStages(q, e)), sweep: { id, points: own.map((p) => p.point) } }
      })
      return { evaluated: distinct(evaluated), notes: [] as Array<string> }
    }
    let runs: Array<RunInfo>
    if (a.run) {
      const run = a.run
      runs = evaluationsOf(q, run)
      if (runs.length === 0) return yield* new UsageError({ message: `run #${run.id} (${run.stage}) has no evaluation to report on` })
    } else {
      if (pipeline === undefined) return yield* new UsageError({ message: "give a run or --sweep (no pipeline file here to take the latest runs from)" })
      runs = stageIds.flatMap((s) => q.runs({ pipeline, stages: [s], status: ["ok"], limit: 1 }))
      if (runs.length === 0) return yield* new UsageError({ message: "the pipeline has no successful evaluate run yet: pipe run first, or name a run" })
    }
    // Named like the analyze stage names them, by the train stage that made the model, unless a sweep point made it.
    const notes: Array<string> = []
    const evaluated = runs.map((e): Evaluated => {
      const swept = fromSweep(q, e)
      if (swept) notes.push(swept.note)
      return swept?.evaluated ?? { evaluate: e, label: trainStage(q, e) }
    })
    return { evaluated: distinct(evaluated), notes }
  })

const distinct = (evaluated: ReadonlyArray<Evaluated>): Array<Evaluated> => {
  const labels = distinctLabels(evaluated.map((e) => ({ label: e.label, run: e.evaluate.id })))
  return evaluated.map((e, i) => ({ ...e, label: labels[i]! }))
}

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
  const runs = evaluated.map((e) => {
    const modelHash = Object.values(e.evaluate.record.inputs).find((h) => q.artifact(h)?.type === "model")
    if (!modelHash || !e.evaluate.output || !q.artifact(e.evaluate.output)) {
      throw new StoreError({ message: `run #${e.evaluate.id} (${e.evaluate.stage}): its ${modelHash ? "metrics are" : "model is"} no longer in the store; ${again}` })
    }
    // Timings are in the runs' records, not in the artifacts: the evaluation's own, and the latest training of the model.
    const train = q.producers(modelHash).find((r) => r.status === "ok")
    const timings = { train: train?.metrics ?? null, evaluate: e.evaluate.metrics }
    return { label: e.label, model: put(modelHash), metrics: put(e.evaluate.output), modelHash, timings, train }
  })
  // Fig. 1 and 4 come from a policy the models trained with: the one with the most steps in play (pad, flip,
  // rotation, brightness), as the analyze stage shows the training augmentation rather than a plain scaling.
  const policies = [
    ...new Set(runs.flatMap((r) => Object.values(r.train?.record.inputs ?? {}).filter((h) => q.artifact(h)?.type === "augmentation-policy")))
  ]
  const steps = (hash: string) => {
    const file = store.records.files(hash).find((f) => f.path === "policy.json")
    const p = file ? (JSON.parse(readFileSync(blobPath(store.root, file.hash), "utf8")) as Record<string, unknown>) : {}
    return ["pad", "flip", "rotate", "brightness"].filter((k) => typeof p[k] === "number" && (p[k] as number) > 0).length
  }
  const policy = policies.map((h) => ({ h, n: steps(h) })).sort((x, y) => y.n - x.n)[0]?.h
  return { split: put(splitHash), runs, policy: policy ? put(policy) : undefined }
}

/** A sweep reported as a search: a halving search, or one with no successful evaluation whose points ranked a figure. */
const searchOnly = (store: StoreApi, q: Queries, id: number): boolean => {
  const s = store.sweeps.get(id)
  if (!s || s.metric === null) return false
  if (s.search?.search === "asha") return true
  return q.runs({ sweep: id, where: [{ field: "kind", op: "=", value: "evaluate" }], status: ["ok"], limit: 1 }).length === 0
}

/** The figure a training's metrics.jsonl has after each epoch: the figure's own field, or its short form (val_accuracy: val_acc). */
const epochCurve = (text: string, figure: string): Array<{ epoch: number; value: number }> =>
  text.split("\n").flatMap((line) => {
    let h: unknown
    try {
      h = JSON.parse(line)
    } catch {
      return []
    }
    if (typeof h !== "object" || h === null) return []
    const r = h as Record<string, unknown>
    const v = r[figure] ?? r[figure.replace(/_accuracy$/, "_acc")]
    return r["type"] === "epoch" && typeof r["epoch"] === "number" && typeof v === "number" ? [{ epoch: r["epoch"], value: v }] : []
  })

/** A search's trials, best first, each with its figure by epoch from its training's metrics.jsonl when the store still has it. */
const searchInput = (store: StoreApi, q: Queries, id: number) =>
  Effect.try({
    try: () => {
      const s = store.sweeps.get(id)!
      const metric = s.metric!
      const dot = metric.lastIndexOf(".")
      const [stage, name] = [metric.slice(0, dot), metric.slice(dot + 1)]
      const notes: Array<string> = []
      const trials = store.sweeps.ranked(s).map((p) => {
        const runId = p.runs[stage]
        const run = runId === undefined ? undefined : q.run(runId)
        const file = run?.output ? store.records.files(run.output).find((f) => f.path === "metrics.jsonl") : undefined
        const text = file ? readStoreFile(store, file.hash) : undefined
        if (runId !== undefined && text === undefined && (!run || run.status === "ok")) {
          notes.push(`trial ${p.point}: its training (run #${runId}) is no longer in the store, so it has no curve; run the sweep again to rebuild it`)
        }
        return {
          point: p.point,
          params: p.params,
          ...(p.rung !== undefined ? { rung: p.rung, epochs: p.epochs } : {}),
          status: p.status,
          metric: p.metric,
          curve: text === undefined ? [] : epochCurve(text, name)
        }
      })
      if (trials.length === 0) throw new UsageError({ message: `sweep ${id} has no finished trial to report on (pipe sweeps ${id})` })
      const search = s.search
      return {
        title: `${s.pipeline}: sweep ${id}`,
        sweep: {
          id,
          command: s.command,
          createdAt: when(s.createdAt),
          metric,
          goal: s.goal ?? "max",
          search: search?.search ?? "grid",
          ...(search?.rungs ? { rungs: search.rungs } : {}),
          ...(search?.eta !== undefined ? { eta: search.eta } : {}),
          ...(search?.promotion ? { promotion: search.promotion } : {})
        },
        trials,
        notes
      }
    },
    catch: (e) => (e instanceof UsageError ? e : new StoreError({ message: `cannot read sweep ${id}: ${(e as Error).message}` }))
  })

/** A stored file's text, or undefined when its blob is gone. */
const readStoreFile = (store: StoreApi, hash: string): string | undefined => {
  try {
    return readFileSync(blobPath(store.root, hash), "utf8")
  } catch {
    return undefined
  }
}

/** Text and --json output of a report written to `page`. */
const say = (json: boolean, event: Record<string, unknown>, text: string) => process.stdout.write(json ? `${JSON.stringify({ event: "report", ...event })}\n` : `${text}\n`)

const stamp = (r: RunInfo): RunStamp => ({ id: r.id, pipeVersion: r.pipeVersion, gitCommit: r.gitCommit })

export const reportCommand = Command.make(
  "report",
  { file: O.file, store: O.store, json: O.json, set: O.set, sweep: sweepOpt, output: outOpt, open: openOpt, run: runArg },
  (a) =>
    O.withQueries(
      a.file,
      a.store,
      ({ q, store, pipeline, loaded }) =>
        Effect.gen(function* () {
          if (Option.isSome(a.run) && Option.isSome(a.sweep)) return yield* new UsageError({ message: "give a run or --sweep, not both" })
          const run = Option.isSome(a.run) ? yield* resolveRun(q, a.run.value, pipeline) : undefined
          const out = resolve(a.output)
          yield* Effect.try({
            try: () => ensureDir(out),
            catch: (e) => new UsageError({ message: `cannot write the report to ${out}: ${(e as Error).message}; give -o DIR` })
          })
          const page = join(out, "report.html")
          const shown = relative(process.cwd(), page) || page
          const work = mkdtempSync(join(tmpdir(), "pipe-report-"))
          const cleanup = Effect.sync(() => removeTree(work))

          // An analyze run's report is in the store already: copied out, not computed again.
          const stored = run && storedReportOf(q, run)
          if (run && stored) {
            const copied = yield* Effect.try({
              try: () =>
                copyStoredReport(store, stored, out, work, (problems) =>
                  process.stderr.write(`pipe: the stored report of run #${run.id} is damaged (${problems}); building it again from its inputs\n`)
                ),
              catch: (e) => new StoreError({ message: `cannot copy the stored report of run #${run.id} to ${out}: ${(e as Error).message}` })
            }).pipe(Effect.ensuring(cleanup))
            if (copied) {
              const runs = evaluationsOf(q, run).map((e) => ({ run: e.id, label: trainStage(q, e) }))
              say(
                a.json,
                { path: page, copied: { run: run.id, artifact: stored }, runs, figures: copied.figures, table: copied.table, provenance: copied.provenance },
                `${readFileSync(join(out, "summary.md"), "utf8").trimEnd()}\n\n` +
                  `copied the stored report of run #${run.id} (${run.stage}): ${copied.figures.length} figures; report: ${shown}`
              )
              if (a.open) openPage(page)
              return
            }
          }

          const evaluateStages = loaded ? loaded.pipeline.order.filter((id) => loaded.pipeline.stages.get(id)!.kind.kind === "evaluate") : []
          // A stage's kind: from the pipeline, else from a run of it in the store.
          const kindOf = (stage: string) =>
            loaded?.pipeline.stages.get(stage)?.kind.kind ?? q.runs({ stages: [stage], limit: 1 })[0]?.kind
          // The analysis params: the pipeline's analyze stage's (with --set), else the kind's defaults.
          const analyzeStage = loaded?.pipeline.order.map((id) => loaded.pipeline.stages.get(id)!).find((s) => s.kind.kind === "analyze")
          const params = analyzeStage ? (analyzeStage.params as Schema.Schema.Type<typeof analyzeKind.params>) : Schema.decodeUnknownSync(analyzeKind.params)({})
          // A search that evaluates nothing (a halving search trains only): its trials, charted from their trainings.
          if (Option.isSome(a.sweep) && searchOnly(store, q, a.sweep.value)) {
            // Only a dropped sweep stops it: a training gc removed leaves its trial without a curve, with a note.
            const gone = sweepGone(store, q, a.sweep.value, () => "train")
            if (gone) return yield* gone
            const input = yield* searchInput(store, q, a.sweep.value)
            const report = yield* Effect.tryPromise({
              try: async () => (await import("../ml/report/searchReport.js")).buildSearchReport(input, out),
              catch: (e) => new StoreError({ message: `cannot build the report: ${(e as Error).message}` })
            }).pipe(Effect.ensuring(cleanup))
            say(
              a.json,
              { path: page, sweep: input.sweep, trials: input.trials.map(({ curve: _c, ...t }) => t), figures: report.figures.map((f) => f.id), notes: input.notes },
              `${report.markdown}\n\n${report.figures.length} figures; report: ${shown}`
            )
            if (a.open) openPage(page)
            return
          }
          const { evaluated, notes } = yield* gather(store, q, { run, sweep: a.sweep }, pipeline, evaluateStages, kindOf)
          // A sweep's report also charts the sweep: its points with the metric each reached.
          const sweep = Option.isSome(a.sweep)
            ? {
                id: a.sweep.value,
                metric: store.sweeps.get(a.sweep.value)?.metric ?? "metric",
                points: store.sweeps.points(a.sweep.value).flatMap((p) => (p.metric === null ? [] : [{ point: p.point, params: p.params, metric: p.metric }]))
              }
            : undefined
          const report = yield* Effect.tryPromise({
            try: async () => {
              const [{ buildReport }, { readPreviews, runData, reportOptions }, { readImageSet }, { dataSubset }] = await Promise.all([
                import("../ml/report/report.js"),
                import("../ml/report/inputs.js"),
                import("../ml/imageSet.js"),
                import("../ml/report/provenance.js")
              ])
              const m = materialized(store, q, evaluated, work)
              const data = readImageSet(m.split)
              const test = data.splits["test"]!
              const title = sweep ? `${params.title}: sweep ${sweep.id}` : params.title
              const points = [...new Set(evaluated.flatMap((e) => e.sweep?.points ?? []))].sort((x, y) => x - y)
              return await buildReport(
                {
                  title,
                  classes: data.manifest.classes,
                  test,
                  runs: m.runs.map((r) => runData(r.label, r.model, r.metrics, r.timings)),
                  previews: readPreviews(m.policy),
                  provenance: {
                    runs: evaluated.map((e, i) => {
                      const train = m.runs[i]!.train
                      return { label: e.label, evaluate: stamp(e.evaluate), ...(train ? { train: stamp(train) } : {}), ...(e.sweep ? { sweep: e.sweep } : {}) }
                    }),
                    data: dataSubset(data.manifest.meta),
                    ...(sweep ? { sweep: { id: sweep.id, points } } : {}),
                    // A sweep's points; else, for each evaluation, the newest experiment that used it.
                    experiments: sweep
                      ? store.experiments.list({ sweep: sweep.id, sort: "point" }).map((x) => expLabel(x.id))
                      : [...new Set(evaluated.flatMap((e) => store.experiments.ofRun(e.evaluate.id).slice(-1)))].map(expLabel)
                  },
                  ...(sweep ? { sweep } : {})
                },
                reportOptions(params),
                out,
                (line) => process.stderr.write(`${line}\n`)
              )
            },
            catch: (e) => (e instanceof StoreError ? e : new StoreError({ message: `cannot build the report: ${(e as Error).message}` }))
          }).pipe(Effect.ensuring(cleanup))
          say(
            a.json,
            {
              path: page,
              runs: evaluated.map((e) => ({ run: e.evaluate.id, label: e.label, ...(e.sweep ? { sweep: e.sweep } : {}) })),
              figures: report.figures.map((f) => f.id),
              table: report.table,
              provenance: report.provenance,
              notes
            },
            `${report.markdown}\n\n${report.figures.length} figures; report: ${shown}${notes.map((n) => `\nnote: ${n}`).join("")}`
          )
          if (a.open) openPage(page)
        }),
      a.set
    ).pipe(Effect.catchAll(renderError(a.json)))
).pipe(
  Command.withDescription(
    "Build the analysis report (report.html, summary.md, figures/) for a past run or a sweep from the store, comparing its models side by side; " +
      "an analyze run's stored report is copied out as it is; with neither, for the pipeline's latest evaluations."
  )
)

const openPage = (page: string) =>
  spawn("xdg-open", [page], { detached: true, stdio: "ignore" }).on("error", () => process.stderr.write(`pipe: cannot open a browser here; open ${page}\n`)).unref()
