/** `pipe sweep`: a grid of param values, run as one DAG that shares every stage the points have in common. */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Either, Option, type Schema } from "effect"
import { keysOf } from "../pipelines/parseIssues.js"
import { Store } from "../cache/store.js"
import { UsageError } from "../pipelines/errors.js"
import { planRun, selection } from "../pipelines/runner.js"
import type { Loaded } from "../pipelines/loader.js"
import { distributionText, isDistributionText, parseDistribution, sample, type Distribution, type SampledAxis } from "../pipelines/sample.js"
import {
  axisOf,
  checkGrid,
  checkKeys,
  DEFAULT_MAX_POINTS,
  parseAxis,
  points as expand,
  resolveAxis,
  type Point,
  type ResolvedAxis
} from "../pipelines/sweep.js"
import { runSweep, type PointResult } from "../pipelines/sweepRunner.js"
import type { StageEvent } from "../pipelines/events.js"
import { rungCopies, rungEpochs, rungOverrides, runHalving } from "../pipelines/halving.js"
import { commandLine } from "../pipelines/experiment.js"
import { expLabel } from "../cache/experiments.js"
import { metricCandidates, metricName, downstreamOf, resolveMetric, type Goal, type MetricDecl, type MetricRef } from "../pipelines/metric.js"
import { didYouMean } from "../pipelines/suggest.js"
import { ExitCode, setExitCode } from "./exitCodes.js"
import { localExecutor } from "../pipelines/localExecutor.js"
import { executorLayer, executorOptions } from "./executors.js"
import * as O from "./options.js"
import { planState } from "./planText.js"
import { renderError } from "./render.js"
import { liveOutput, seconds, summaryText } from "./reporters.js"

const grid = Args.text({ name: "KEY=VALUES | SWEEP" }).pipe(
  Args.withDescription(
    "KEY=V1,V2,... per param (KEY is STAGE.PARAM or a PARAM only one stage has; each param once), or the name of a sweep " +
      "declared in the pipeline file. Values are typed like --set; log(a,b,n) and range(a,b[,step]) make several; a bracketed " +
      "[1,2] or {a: 1} is ONE value (a YAML list or map), so layers=[64,32],[128] has two values"
  ),
  Args.repeated
)
const jobs = O.integerAtLeast("jobs", 1, "Points run at once (stages of one point run in order; at most one train runs at a time). Above 1, built-in stages run in processes of their own, so they really run in parallel").pipe(
  Options.withDefault(1)
)
const maxPoints = O.integerAtLeast(
  "max-points",
  1,
  `Refuse a grid of more points than this (default ${DEFAULT_MAX_POINTS}; a declared sweep's own cap is its max_points)`
).pipe(Options.optional)
const metric = Options.text("metric").pipe(
  Options.withDescription(
    "The figure to rank points by: STAGE.FIGURE (e.g. evaluate-mlp.test_accuracy), or a FIGURE only one stage downstream of the " +
      "swept params may report. Default: the declared sweep's metric, else the pipeline's top-level metric"
  ),
  Options.optional
)
const goal = Options.choice("goal", ["max", "min"]).pipe(
  Options.withDescription("max: higher is better; min: lower is better (default: the declared metric's goal, else max)"),
  Options.optional
)
const only = Options.text("stage").pipe(
  Options.withDescription("Run only this stage and what it needs at each point (repeatable; default: every stage), e.g. --stage evaluate-mlp"),
  Options.repeated
)
const search = Options.choice("search", ["grid", "random", "asha"]).pipe(
  Options.withDescription(
    "grid: every combination of the values (default); random: --trials draws from each param's distribution " +
      "(uniform:LOW:HIGH, loguniform:LOW:HIGH, int:LOW:HIGH, choice:V1,V2,...; a plain value list is a choice among its values); " +
      "asha: successive halving over those trials (with --trials) or the grid's points: all train --min-epochs, the best 1/--eta " +
      "go on, each rung continuing the trial's model, up to --max-epochs; ranked by --metric, a figure of the train stage. With --jobs " +
      "above 1 promotion is asynchronous (ASHA): a trial goes on as soon as it is among the best 1/eta of the rung's results so far, taken in " +
      "trial order, so the same search promotes the same trials at any --jobs above 1"
  ),
  Options.optional
)
const minEpochs = O.integerAtLeast("min-epochs", 1, "--search asha: the epochs of the first rung (default 1)").pipe(Options.optional)
const maxEpochs = O.integerAtLeast("max-epochs", 1, "--search asha: the epochs of the last rung").pipe(Options.optional)
const eta = O.integerAtLeast("eta", 2, "--search asha: each rung keeps the best 1/eta of the trials and trains eta times the epochs (default 3)").pipe(Options.optional)
const trials = O.integerAtLeast("trials", 1, "How many trials --search random draws (a trial that repeats an earlier one is run once)").pipe(Options.optional)
const seed = O.integerAtLeast("seed", 0, "The seed of --search random's draws (default 0): the same seed gives the same trials on any machine").pipe(Options.optional)
const dryRun = Options.boolean("dry-run").pipe(Options.withDescription("List the points and what each would run; run nothing"))

const out = (line: string) => process.stdout.write(`${line}\n`)

/** A sweep's stage event as it is printed: a JSON line, or a line for a stage that ran or failed at a point (or trial). */
const stageLine = (json: boolean, word: "point" | "trial") => (e: StageEvent & { readonly point: number }) => {
  if (json) out(JSON.stringify({ event: "stage", ...e, point: e.point + 1 }))
  else if (e.status === "ran") out(`  ▸ ${e.stage} (${word} ${e.point + 1}): ran in ${seconds(e.ms)}`)
  else if (e.status === "failed") out(`  ✗ ${e.stage} (${word} ${e.point + 1}): failed: ${e.error}`)
}

const show = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v))
const fmtMetric = (m: number | null) => (m === null ? "-" : Number.isInteger(m) ? String(m) : m.toFixed(4))

/**
 * The metric a sweep ranks by and its goal: --metric, else the declared sweep's, else the pipeline's, resolved
 * against the stages downstream of the swept ones. Undefined when none is named and no stage there declares a
 * figure (a sweep of commands that report none runs unranked); a usage error when one must be named.
 */
const chooseMetric = (
  pipeline: Loaded["pipeline"],
  given: { readonly flag?: string; readonly sweep?: MetricDecl; readonly goal?: Goal },
  swept: ReadonlyArray<string>,
  required: boolean
): Either.Either<{ readonly ref: MetricRef; readonly goal: Goal } | undefined, UsageError> => {
  const source: { decl: MetricDecl; what: string } | undefined =
    given.flag !== undefined
      ? { decl: { name: given.flag }, what: "--metric" }
      : given.sweep
        ? { decl: given.sweep, what: "the sweep's metric" }
        : pipeline.metric
          ? { decl: pipeline.metric, what: "the pipeline's metric" }
          : undefined
  if (!source) {
    const candidates = metricCandidates(pipeline.stages, downstreamOf(pipeline.stages, swept))
    if (!required || candidates.length === 0) return Either.right(undefined)
    return Either.left(
      new UsageError({
        message: `which figure ranks the points? pass --metric STAGE.FIGURE, e.g. ${candidates.slice(0, 4).join(", ")}; or declare one in the pipeline file: metric: { name: ${candidates[0]}, goal: max }`
      })
    )
  }
  const r = resolveMetric(pipeline.stages, source.decl.name, swept)
  if (Either.isLeft(r)) {
    const hint = source.what === "--metric" ? "" : "; pass --metric STAGE.FIGURE"
    return Either.left(new UsageError({ message: `${source.what} ${source.decl.name}: ${r.left}${hint}` }))
  }
  const declared = [given.sweep, pipeline.metric].find((d) => {
    if (!d?.goal) return false
    const dr = resolveMetric(pipeline.stages, d.name)
    return Either.isRight(dr) && metricName(dr.right) === metricName(r.right)
  })
  return Either.right({ ref: r.right, goal: given.goal ?? source.decl.goal ?? declared?.goal ?? "max" })
}

/**
 * What a halving search trains: the stage the metric comes from, which must train in epochs and be able to
 * continue itself (a train stage), its rungs' epochs, the schedule's horizon (its declared schedule_epochs, else
 * the last rung's epochs) and eta; or why the search cannot run.
 */
const halvingPlan = (
  base: Loaded,
  a: { readonly minEpochs: Option.Option<number>; readonly maxEpochs: Option.Option<number>; readonly eta: Option.Option<number> },
  ranked: { readonly ref: MetricRef } | undefined,
  resolved: ReadonlyArray<ResolvedAxis>
) =>
  Effect.gen(function* () {
    const stages = base.pipeline.stages
    const trainers = [...stages.values()].filter((s) => resumable(s)).map((s) => s.id)
    const example = trainers.length ? `, e.g. --metric ${trainers[0]}.val_accuracy` : ""
    if (!ranked) return yield* new UsageError({ message: `--search asha ranks trials at every rung: pass --metric STAGE.FIGURE, a figure of the train stage${example}` })
    const stage = stages.get(ranked.ref.stage)!
    if (!resumable(stage)) {
      return yield* new UsageError({
        message: `--search asha trains in rungs of epochs, each continuing the last: ${stage.id} (kind ${stage.kind.kind}) has no epochs to continue; rank by a figure of a train stage${example}`
      })
    }
    if (Option.isNone(a.maxEpochs)) return yield* new UsageError({ message: "--search asha needs --max-epochs N, the epochs of its last rung (e.g. --max-epochs 27)" })
    const min = Option.getOrElse(a.minEpochs, () => 1)
    const max = a.maxEpochs.value
    const eta = Option.getOrElse(a.eta, () => 3)
    if (min > max) return yield* new UsageError({ message: `--min-epochs ${min} is more than --max-epochs ${max}` })
    const declared = (stage.params as { schedule_epochs?: number }).schedule_epochs
    const horizon = declared ?? max
    if (max > horizon) {
      return yield* new UsageError({ message: `--max-epochs ${max} is past ${stage.id}'s schedule_epochs (${horizon}): raise schedule_epochs, or lower --max-epochs` })
    }
    const runs = selection(base, [stage.id])
    const outside = resolved.filter((r) => !runs.has(r.stage))
    if (outside.length > 0) {
      return yield* new UsageError({
        message: `--search asha runs up to ${stage.id}, so sweeping ${outside.map((r) => `${r.stage}.${r.param}`).join(", ")} (not upstream of it) would change nothing`
      })
    }
    const swept = resolved.find((r) => r.stage === stage.id && (r.param === "epochs" || r.param === "schedule_epochs"))
    if (swept) return yield* new UsageError({ message: `--search asha sets ${stage.id}.${swept.param} itself: leave it out of the search` })
    return { stage: stage.id, rungs: rungEpochs(min, max, eta), horizon, eta }
  })

/** A stage a halving search can train in rungs: it has epochs and schedule_epochs and takes the model it makes as an optional input. */
const resumable = (s: { readonly kind: { readonly inputs: Readonly<Record<string, { readonly type: string; readonly optional?: boolean }>>; readonly output: string; readonly params: Schema.Schema.Any } }) =>
  Object.values(s.kind.inputs).some((i) => i.optional && i.type === s.kind.output) && ["epochs", "schedule_epochs"].every((k) => keysOf(s.kind.params.ast).includes(k))

export const sweepCommand = Command.make(
  "sweep",
  { file: O.file, store: O.store, json: O.json, set: O.set, jobs, maxPoints, metric, goal, search, trials, seed, minEpochs, maxEpochs, eta, dryRun, name: O.expName, tag: O.expTags, stage: only, ...executorOptions, grid },
  (a) =>
    Effect.gen(function* () {
      yield* O.checkExpWords(a.name, a.tag)
      const sets = yield* O.parseSets(a.set)
      const base = yield* O.loadWith(a.file, sets)
      const pipeline = base.pipeline
      yield* O.checkTargets(base, a.stage)
      // A declared sweep by name, or KEY=VALUES arguments: each param with its values (a list, or a text to expand).
      const entries: Array<{ readonly key: string; readonly values: string | ReadonlyArray<unknown> }> = []
      let sweepMetric: MetricDecl | undefined
      // A declared sweep's goal applies to the metric it ranks by, its own or the pipeline's.
      let sweepGoal: Goal | undefined
      let cap = Option.getOrElse(a.maxPoints, () => DEFAULT_MAX_POINTS)
      let how: { search: "grid" | "random" | "asha"; trials?: number; seed: number } = { search: "grid", seed: 0 }
      // A declared halving search's rungs (flags win over them).
      let rungsDeclared: { minEpochs?: number; maxEpochs?: number; eta?: number } = {}
      if (a.grid.length === 1 && !a.grid[0]!.includes("=")) {
        const name = a.grid[0]!
        const spec = pipeline.sweeps[name]
        if (!spec) {
          const names = Object.keys(pipeline.sweeps)
          return yield* new UsageError({
            message: `no sweep named '${name}'${didYouMean(name, names)} in ${base.display}${names.length ? `; sweeps: ${names.join(", ")}` : ""}`
          })
        }
        // Checked when the pipeline loaded (keys, values, its own cap); --max-points may lower the cap.
        cap = Option.getOrElse(a.maxPoints, () => spec.max_points ?? DEFAULT_MAX_POINTS)
        for (const [key, v] of Object.entries(spec.grid)) entries.push({ key, values: v })
        if (spec.metric !== undefined) sweepMetric = { name: spec.metric, ...(spec.goal ? { goal: spec.goal } : {}) }
        sweepGoal = spec.goal
        how = { search: spec.search ?? "grid", ...(spec.trials !== undefined ? { trials: spec.trials } : {}), seed: spec.seed ?? 0 }
        rungsDeclared = {
          ...(spec.min_epochs !== undefined ? { minEpochs: spec.min_epochs } : {}),
          ...(spec.max_epochs !== undefined ? { maxEpochs: spec.max_epochs } : {}),
          ...(spec.eta !== undefined ? { eta: spec.eta } : {})
        }
      } else {
        if (a.grid.length === 0) return yield* new UsageError({ message: "give KEY=V1,V2,... arguments or a sweep name; see pipe sweep --help" })
        for (const arg of a.grid) {
          const m = /^([A-Za-z_][A-Za-z0-9_.-]*)=(.+)$/s.exec(arg)
          if (!m) return yield* Effect.fail(Either.getLeft(parseAxis(arg, cap)).pipe(Option.getOrThrow))
          entries.push({ key: m[1]!, values: m[2]! })
        }
      }
      // The command line wins over a declared sweep's search, trials and seed.
      if (Option.isSome(a.search)) how = { ...how, search: a.search.value }
      if (Option.isSome(a.trials)) how = { ...how, trials: a.trials.value }
      if (Option.isSome(a.seed)) how = { ...how, seed: a.seed.value }
      if (how.search === "random" && how.trials === undefined) {
        return yield* new UsageError({ message: "--search random draws --trials N trials: give --trials (e.g. --trials 24)" })
      }
      if (how.search === "grid" && (Option.isSome(a.trials) || Option.isSome(a.seed))) {
        return yield* new UsageError({ message: `${Option.isSome(a.trials) ? "--trials" : "--seed"} is for --search random (or asha); a grid runs every combination` })
      }
      const halving = how.search === "asha"
      if (!halving && (Option.isSome(a.minEpochs) || Option.isSome(a.maxEpochs) || Option.isSome(a.eta))) {
        const flag = Option.isSome(a.minEpochs) ? "--min-epochs" : Option.isSome(a.maxEpochs) ? "--max-epochs" : "--eta"
        return yield* new UsageError({ message: `${flag} is for --search asha` })
      }
      // A halving search draws its trials when --trials is given, else runs over the grid's points.
      const sampling = how.search === "random" || (halving && how.trials !== undefined)
      if (sampling && how.trials! > cap) {
        return yield* new UsageError({ message: `--trials ${how.trials} is more than the cap of ${cap} points; raise it with --max-points ${how.trials}` })
      }
      const resolved: Array<ResolvedAxis> = []
      const sampled: Array<SampledAxis> = []
      for (const e of entries) {
        const text = typeof e.values === "string" ? e.values : undefined
        if (!sampling) {
          if (text !== undefined && isDistributionText(text)) {
            return yield* new UsageError({
              message: `${e.key}=${text}: a distribution is drawn from, not listed; add --search random --trials N (or give values: ${e.key}=V1,V2,...)`
            })
          }
          const axis = text === undefined ? Either.right({ key: e.key, values: e.values as ReadonlyArray<unknown> }) : axisOf(e.key, text, cap)
          if (Either.isLeft(axis)) return yield* Effect.fail(axis.left)
          const r = resolveAxis(pipeline.stages, axis.right)
          if (Either.isLeft(r)) return yield* Effect.fail(r.left)
          resolved.push(r.right)
        } else {
          const d = text === undefined ? Either.right<Distribution>({ kind: "choice", values: e.values as ReadonlyArray<unknown> }) : parseDistribution(text, cap)
          if (Either.isLeft(d)) return yield* new UsageError({ message: `${e.key}=${text}: ${d.left}` })
          const r = resolveAxis(pipeline.stages, { key: e.key, values: [] })
          if (Either.isLeft(r)) return yield* Effect.fail(r.left)
          sampled.push({ key: e.key, stage: r.right.stage, param: r.right.param, distribution: d.right })
          resolved.push({ ...r.right, values: d.right.kind === "choice" ? d.right.values : [distributionText(d.right)] })
        }
      }
      const outside = a.stage.length > 0 ? resolved.filter((r) => !selection(base, a.stage).has(r.stage)) : []
      if (outside.length > 0) {
        return yield* new UsageError({
          message: `--stage ${a.stage.join(" --stage ")} does not run ${outside.map((r) => r.stage).join(", ")}, so sweeping ${outside.map((r) => `${r.stage}.${r.param}`).join(", ")} would change nothing: add --stage ${outside[0]!.stage} or a stage downstream of it`
        })
      }
      const refused = !sampling ? checkGrid(resolved, cap) : checkKeys(resolved)
      if (Either.isLeft(refused)) return yield* Effect.fail(refused.left)
      const drawn = sampling ? sample(sampled, how.trials!, how.seed) : undefined
      const pts = drawn ? drawn.points : expand(resolved)
      // Every point must be a valid pipeline before anything runs.
      const loaded = new Map<number, Loaded>()
      for (const p of pts) loaded.set(p.index, yield* O.loadWith(a.file, [...sets, ...p.overrides]))
      // The figure to rank by, named before anything runs.
      const flag = Option.getOrUndefined(a.metric)
      const goalFlag = Option.getOrUndefined(a.goal) ?? sweepGoal
      const chosen = chooseMetric(
        pipeline,
        { ...(flag !== undefined ? { flag } : {}), ...(sweepMetric ? { sweep: sweepMetric } : {}), ...(goalFlag ? { goal: goalFlag } : {}) },
        resolved.map((r) => r.stage),
        !a.dryRun
      )
      if (Either.isLeft(chosen)) return yield* Effect.fail(chosen.left)
      const ranked = chosen.right
      if (ranked && a.stage.length > 0 && !selection(base, a.stage).has(ranked.ref.stage)) {
        return yield* new UsageError({
          message: `the metric ${metricName(ranked.ref)} comes from ${ranked.ref.stage}, which --stage ${a.stage.join(" --stage ")} does not run: add --stage ${ranked.ref.stage}, or pass --metric`
        })
      }
      const byName = ranked ? metricName(ranked.ref) : undefined
      const names = resolved.map((r) => `${r.stage}.${r.param}`)
      const label = (p: Point) => names.map((n) => `${n}=${show(p.params[n])}`).join(" ")
      const rungFlags = {
        minEpochs: Option.orElse(a.minEpochs, () => Option.fromNullable(rungsDeclared.minEpochs)),
        maxEpochs: Option.orElse(a.maxEpochs, () => Option.fromNullable(rungsDeclared.maxEpochs)),
        eta: Option.orElse(a.eta, () => Option.fromNullable(rungsDeclared.eta))
      }
      const plan = halving ? yield* halvingPlan(base, rungFlags, ranked, resolved) : undefined
      if (plan) {
        // Every trial at the last rung (with the copies of its earlier rungs) must be valid before anything runs.
        for (const p of pts) {
          yield* O.loadWith(a.file, [...sets, ...p.overrides, ...rungOverrides(plan.stage, plan.rungs.at(-1)!, plan.horizon)], rungCopies(plan.stage, plan.rungs, plan.rungs.length - 1))
        }
      }

      // A dry run runs nothing, so it needs no executor: the remote is not even opened.
      const executor = a.dryRun ? { kind: "local" as const, layer: localExecutor } : yield* executorLayer(a, base, a.store, a.jobs > 1)
      yield* Effect.gen(function* () {
        const store = yield* Store
        if (a.dryRun) {
          for (const p of pts) {
            const planned = yield* planRun(loaded.get(p.index)!, a.stage, store)
            const counts = { fresh: 0, stale: 0, pending: 0 }
            for (const s of planned) counts[planState(s).state]++
            if (a.json) out(JSON.stringify({ event: "point", point: p.index + 1, params: p.params, ...counts }))
            else out(`point ${p.index + 1}/${pts.length}  ${label(p)}  ${counts.fresh} fresh, ${counts.stale} stale, ${counts.pending} pending`)
          }
          return
        }
        const searchArgs = [
          ...(how.search !== "grid" ? ["--search", how.search] : []),
          ...(sampling ? ["--trials", String(how.trials), "--seed", String(how.seed)] : []),
          ...(plan ? ["--metric", metricName(ranked!.ref), "--min-epochs", String(plan.rungs[0]), "--max-epochs", String(plan.rungs.at(-1)), "--eta", String(plan.eta)] : []),
          // Asynchronous promotion decides differently from synchronous: the command says which.
          ...(plan && a.jobs > 1 ? ["--jobs", String(a.jobs)] : [])
        ]
        const command = ["pipe", "sweep", ...searchArgs, ...a.grid].join(" ")
        const space = Object.fromEntries(
          sampling
            ? sampled.map((s) => [`${s.stage}.${s.param}`, s.distribution.kind === "choice" ? s.distribution.values : distributionText(s.distribution)])
            : resolved.map((r) => [`${r.stage}.${r.param}`, r.values])
        )
        const searchRecord = plan
          ? { search: "asha" as const, ...(drawn ? { trials: how.trials!, seed: how.seed } : {}), points: pts.length, eta: plan.eta, rungs: plan.rungs, metric: byName!, promotion: a.jobs > 1 ? ("async" as const) : ("sync" as const) }
          : drawn
            ? { search: "random" as const, trials: how.trials!, seed: how.seed, points: pts.length }
            : undefined
        const sweepId = store.records.beginSweep(pipeline.name, command, space, byName, ranked?.goal, searchRecord)
        if (plan) {
          if (!a.json) {
            out(`sweep ${sweepId}: successive halving of ${pts.length} trial${pts.length === 1 ? "" : "s"} over ${names.join(", ")}: rungs of ${plan.rungs.join(", ")} epochs of ${plan.stage} (eta ${plan.eta}, schedule over ${plan.horizon} epochs), ranked by ${byName} (jobs ${a.jobs}${a.jobs > 1 ? ", asynchronous promotion" : ""})`)
          }
          const { outcomes, summary } = yield* runHalving({
            points: pts,
            load: (p, overrides, copies) => O.loadWith(a.file, [...sets, ...p.overrides, ...overrides], copies),
            stage: plan.stage,
            metric: ranked!.ref,
            goal: ranked!.goal,
            rungs: plan.rungs,
            horizon: plan.horizon,
            eta: plan.eta,
            jobs: a.jobs,
            kindLimits: executor.kind === "slurm" ? {} : { train: 1 },
            sweepId,
            command: commandLine(),
            name: Option.getOrUndefined(a.name),
            tags: a.tag,
            asynchronous: a.jobs > 1,
            reporter: {
              progress: liveOutput("none").progress,
              stage: stageLine(a.json, "trial"),
              rung: (rung, epochs, trials) => {
                if (a.json) out(JSON.stringify({ event: "rung", rung: rung + 1, epochs, trials: trials.map((t) => t.index + 1) }))
                else out(`rung ${rung + 1}/${plan.rungs.length}: ${epochs} epoch${epochs === 1 ? "" : "s"}, ${trials.length} trial${trials.length === 1 ? "" : "s"}`)
              },
              promoted: (p, rung, epochs) => {
                if (a.json) out(JSON.stringify({ event: "promote", point: p.index + 1, rung: rung + 1, epochs }))
                else out(`↑ trial ${p.index + 1} goes on to rung ${rung + 1}/${plan.rungs.length} (${epochs} epochs)`)
              },
              trial: (r: PointResult, rung, epochs) => {
                if (a.json) {
                  out(JSON.stringify({ event: "point", point: r.point.index + 1, rung: rung + 1, epochs, params: r.point.params, status: r.status, metric: r.metric, metric_name: byName, experiment: r.experiment, ms: r.ms }))
                } else {
                  out(`${r.status === "ok" ? "✓" : "✗"} trial ${r.point.index + 1} rung ${rung + 1} (${epochs} epoch${epochs === 1 ? "" : "s"})  ${label(r.point)}  ${byName} ${fmtMetric(r.metric)}  ${seconds(r.ms)}`)
                }
              }
            }
          })
          for (const o of outcomes) store.records.setPointRung(sweepId, o.point.index, o.status, o.rung + 1, o.epochs)
          // Furthest rung first, then by the metric's goal.
          const sign = ranked!.goal === "min" ? 1 : -1
          const sorted = [...outcomes].sort(
            (x, y) => y.rung - x.rung || (x.metric === null ? 1 : 0) - (y.metric === null ? 1 : 0) || sign * ((x.metric ?? 0) - (y.metric ?? 0)) || x.point.index - y.point.index
          )
          if (a.json) {
            for (const o of sorted) {
              out(JSON.stringify({ event: "trial", point: o.point.index + 1, params: o.point.params, rung: o.rung + 1, epochs: o.epochs, status: o.status, metric: o.metric, metric_name: byName, experiment: o.experiment }))
            }
            out(JSON.stringify({ event: "summary", ...summary, sweep: sweepId, points: pts.length, rungs: plan.rungs, metric: byName, goal: ranked!.goal }))
          } else {
            const header = ["rank", ...names, "rung", "epochs", byName!, "status", "experiment"]
            const rows = sorted.map((o, i) => [String(i + 1), ...names.map((n) => show(o.point.params[n])), String(o.rung + 1), String(o.epochs), fmtMetric(o.metric), o.status, expLabel(o.experiment)])
            const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
            out(`\nby rung reached, then ${byName} (${ranked!.goal === "max" ? "higher" : "lower"} is better):`)
            for (const row of [header, ...rows]) out(`  ${row.map((c, i) => c.padEnd(widths[i]!)).join("  ")}`.trimEnd())
            out(`${summaryText(summary)} (each stage run counted once)`)
          }
          if (outcomes.some((o) => o.status === "failed")) setExitCode(ExitCode.stageFailed)
          return
        }
        if (!a.json) {
          out(
            drawn
              ? `sweep ${sweepId}: ${pts.length} trial${pts.length === 1 ? "" : "s"} drawn with seed ${how.seed} over ${names.join(", ")}${pts.length < how.trials! ? ` (${how.trials} drawn; ${how.trials! - pts.length} repeated an earlier trial)` : ""} (jobs ${a.jobs})`
              : `sweep ${sweepId}: ${pts.length} point${pts.length === 1 ? "" : "s"} over ${names.join(" x ")} (jobs ${a.jobs})`
          )
        }
        const { summary, results } = yield* runSweep({
          load: (p) => Effect.succeed(loaded.get(p.index)!),
          points: pts,
          targets: a.stage,
          jobs: a.jobs,
          // One training at a time on this machine (they share the GPU); a scheduler places its jobs itself.
          kindLimits: executor.kind === "slurm" ? {} : { train: 1 },
          ...(ranked ? { metric: ranked.ref } : {}),
          sweepId,
          command: commandLine(),
          name: Option.getOrUndefined(a.name),
          tags: a.tag,
          reporter: {
            progress: liveOutput("none").progress,
            stage: stageLine(a.json, "point"),
            point: (r: PointResult) => {
              if (a.json) {
                out(
                  JSON.stringify({
                    event: "point",
                    point: r.point.index + 1,
                    params: r.point.params,
                    status: r.status,
                    metric: r.metric,
                    ...(byName ? { metric_name: byName } : {}),
                    experiment: r.experiment,
                    ms: r.ms
                  })
                )
              } else {
                const figure = byName ? `  ${byName} ${fmtMetric(r.metric)}` : ""
                out(`${r.status === "ok" ? "✓" : "✗"} point ${r.point.index + 1}/${pts.length}  ${label(r.point)}${figure}  ${r.status}  ${seconds(r.ms)}`)
              }
            }
          }
        })
        if (a.json) {
          out(JSON.stringify({ event: "summary", ...summary, sweep: sweepId, points: pts.length, ...(ranked ? { metric: byName, goal: ranked.goal } : {}) }))
        } else {
          // Best first by the goal; points without the figure (failed, or it was not reported) last.
          const sign = ranked?.goal === "min" ? 1 : -1
          const sorted = ranked
            ? [...results].sort((x, y) => (x.metric === null ? 1 : 0) - (y.metric === null ? 1 : 0) || sign * ((x.metric ?? 0) - (y.metric ?? 0)))
            : results
          const header = ["rank", ...names, ...(byName ? [byName] : []), "status", "time", "experiment"]
          const rows = sorted.map((r, i) => [
            ranked ? String(i + 1) : String(r.point.index + 1),
            ...names.map((n) => show(r.point.params[n])),
            ...(byName ? [fmtMetric(r.metric)] : []),
            r.status,
            seconds(r.ms),
            expLabel(r.experiment)
          ])
          if (!ranked) header[0] = "point"
          const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
          out(
            ranked
              ? `\nby ${byName} (${ranked.goal === "max" ? "higher" : "lower"} is better):`
              : "\npoints (not ranked: no metric named; pass --metric STAGE.FIGURE):"
          )
          for (const row of [header, ...rows]) out(`  ${row.map((c, i) => c.padEnd(widths[i]!)).join("  ")}`.trimEnd())
          out(`${summaryText(summary)} (each stage run counted once)`)
          const compare = sorted.length > 1 ? `; pipe diff ${expLabel(sorted[0]!.experiment)} ${expLabel(sorted.at(-1)!.experiment)} compares two` : ""
          out(`pipe exps --sweep ${sweepId} lists its points with every param and figure${compare}`)
        }
        if (results.some((r) => r.status === "failed")) setExitCode(ExitCode.stageFailed)
      }).pipe(Effect.provide(O.withStore(base, a.store)), Effect.provide(executor.layer))
    }).pipe(Effect.catchAll(renderError(a.json)))
).pipe(
  Command.withDescription(
    "Run a grid of param values: `pipe sweep train.lr=1e-3,1e-2 train.model=mlp,cnn`. The points share every stage whose " +
      "key is the same (download, split...), nothing already cached runs again, and an interrupted sweep resumes where it stopped. " +
      "Prints each point as it finishes and a table sorted by the metric. Exit 1 if a point failed."
  )
)
