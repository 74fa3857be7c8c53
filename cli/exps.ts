/**
 * `pipe exps [EXP]`: the experiments (each `pipe run` and sweep point) with their stage-qualified params and
 * figures as columns, filtered and sorted on both; or one experiment whole. `pipe tag EXP TAG...` names and
 * tags them.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { expLabel, type ExperimentInfo } from "../cache/experiments.js"
import { expField, parseExpCondition } from "../cache/expFilter.js"
import type { Condition } from "../cache/runFilter.js"
import { UsageError } from "../pipelines/errors.js"
import { didYouMean } from "../pipelines/suggest.js"
import { short, table, value, when } from "./format.js"
import * as O from "./options.js"
import { asUsage } from "./ref.js"
import { renderError } from "./render.js"

const out = (lines: ReadonlyArray<string>) => process.stdout.write(lines.length ? `${lines.join("\n")}\n` : "")

/** An experiment as scripts see it. */
export const expJson = (e: ExperimentInfo) => ({
  id: e.id,
  ref: expLabel(e.id),
  name: e.name,
  tags: e.tags,
  pipeline: e.pipeline,
  created_at: new Date(e.createdAt).toISOString(),
  status: e.status,
  command: e.command,
  sweep: e.sweep,
  point: e.point,
  git_commit: e.gitCommit,
  pipe_version: e.pipeVersion,
  params: e.params,
  metrics: e.metrics,
  runs: e.runs,
  runs_gone: e.runsGone
})

const MAX_METRICS = 6
const MAX_PARAMS = 8

const source = (e: ExperimentInfo) => (e.sweep === null ? "run" : `sweep ${e.sweep} #${e.point}`)

/**
 * The param and figure columns of a listing: those named (--columns, or in --where/--sort), then the params
 * whose values differ between rows and the numeric figures that do (the pipeline's declared metric first,
 * accuracies and losses next). The rest are named in a note, never dropped without a word.
 */
export const expColumns = (exps: ReadonlyArray<ExperimentInfo>, named: ReadonlyArray<string>, headline: string | undefined) => {
  const keyOf = (f: string) => f.replace(/^-/, "").replace(/^(params|metrics)\./, "")
  const wanted = [...new Set(named.map(keyOf))].filter((k) => exps.some((e) => k in e.params || k in e.metrics))
  const varies = (get: (e: ExperimentInfo) => unknown) => exps.length > 1 && new Set(exps.map((e) => JSON.stringify(get(e) ?? null))).size > 1
  const paramKeys = [...new Set(exps.flatMap((e) => Object.keys(e.params)))].filter((k) => !wanted.includes(k))
  const params = paramKeys.filter((k) => varies((e) => e.params[k]))
  const numeric = [...new Set(exps.flatMap((e) => Object.entries(e.metrics).filter(([, v]) => typeof v === "number").map(([k]) => k)))].filter(
    (k) => !wanted.includes(k)
  )
  const rank = (k: string) => (k === headline ? 0 : /accuracy/.test(k) ? 1 : /loss/.test(k) ? 2 : 3)
  const metrics = numeric
    .filter((k) => k === headline || exps.length === 1 || varies((e) => e.metrics[k]))
    .sort((a, b) => rank(a) - rank(b))
  return {
    named: wanted,
    params: params.slice(0, MAX_PARAMS),
    metrics: metrics.slice(0, MAX_METRICS),
    hidden: [...params.slice(MAX_PARAMS), ...metrics.slice(MAX_METRICS)]
  }
}

const cell = (e: ExperimentInfo, k: string) => (k in e.params ? value(e.params[k]) : k in e.metrics ? value(e.metrics[k]) : "")

export const expsTable = (exps: ReadonlyArray<ExperimentInfo>, named: ReadonlyArray<string>, headline?: string): Array<string> => {
  if (exps.length === 0) return ["no experiments match"]
  const c = expColumns(exps, named, headline)
  const tags = exps.some((e) => e.tags.length > 0)
  const gone = exps.some((e) => e.runsGone > 0)
  const note = c.hidden.length
    ? [`(${c.hidden.length} more column${c.hidden.length === 1 ? "" : "s"} not shown: ${c.hidden.join(", ")}; --columns K1,K2 picks them, pipe exps EXP or --json has every one)`]
    : []
  return [
    ...table(
      ["exp", "name", "status", "created", "source", ...(tags ? ["tags"] : []), ...(gone ? ["runs gone"] : []), ...c.named, ...c.params, ...c.metrics],
      exps.map((e) => [
        expLabel(e.id),
        e.name ?? "",
        e.status,
        when(e.createdAt),
        source(e),
        ...(tags ? [e.tags.join(",")] : []),
        ...(gone ? [e.runsGone ? String(e.runsGone) : ""] : []),
        ...[...c.named, ...c.params, ...c.metrics].map((k) => cell(e, k))
      ])
    ),
    ...note
  ]
}

/** One experiment whole. */
export const expText = (e: ExperimentInfo): Array<string> => [
  `experiment ${expLabel(e.id)}${e.name ? ` (${e.name})` : ""}  ${e.pipeline}  ${e.status}`,
  `  created   ${when(e.createdAt)}${e.sweep !== null ? `, point ${e.point} of sweep ${e.sweep}` : ""}`,
  `  command   ${e.command}`,
  `  code      pipe ${e.pipeVersion ?? "?"}${e.gitCommit ? `, commit ${short(e.gitCommit)}` : ""}`,
  ...(e.tags.length ? [`  tags      ${e.tags.join(", ")}`] : []),
  "runs:",
  ...Object.entries(e.runs).map(([s, r]) => `  ${s} #${r}`),
  ...(e.runsGone ? [`  (${e.runsGone} of these runs were removed by gc; the params and figures below are kept)`] : []),
  "params:",
  ...Object.entries(e.params).map(([k, v]) => `  ${k} = ${value(v)}`),
  "metrics:",
  ...Object.entries(e.metrics).map(([k, v]) => `  ${k} = ${value(v)}`)
]

const whereOpt = Options.text("where").pipe(
  Options.withDescription(
    "Filter: FIELD=VALUE, also != < <= > >= (repeatable, all must hold). FIELD is STAGE.NAME, a param or figure " +
      "(train-mlp.lr=0.001, evaluate-mlp.test_accuracy>=0.8), or name, tag, status, sweep, created"
  ),
  Options.repeated
)
const sortOpt = Options.text("sort").pipe(
  Options.withDescription("Sort by a field, e.g. -evaluate-mlp.test_accuracy (a leading - sorts descending; default: newest first)"),
  Options.optional
)
const limitOpt = O.integerAtLeast("limit", 0, "Show at most N experiments; 0 for all").pipe(Options.withDefault(50))
const sweepOpt = O.integerAtLeast("sweep", 1, "Only this sweep's points").pipe(Options.optional)
const tagOpt = Options.text("tag").pipe(Options.withDescription("Only experiments with this tag (repeatable: all of them)"), Options.repeated)
const columnsOpt = Options.text("columns").pipe(
  Options.withDescription("The params and figures to show, comma-separated (e.g. train-mlp.lr,evaluate-mlp.test_accuracy)"),
  Options.optional
)
const pipelineOpt = Options.text("pipeline").pipe(
  Options.withDescription("Only this pipeline's experiments (default: the workspace pipeline's; all when there is none)"),
  Options.optional
)
const expArg = Args.text({ name: "experiment" }).pipe(
  Args.withDescription("Show this experiment whole: e12, a name or a tag (the newest with it)"),
  Args.optional
)

/** A key the typed one begins (test_acc: test_accuracy), else the closest by spelling. */
export const suggest = (name: string, keys: ReadonlyArray<string>): string => {
  const longer = keys.filter((k) => k.startsWith(name)).sort((a, b) => a.length - b.length)
  return longer.length ? ` (did you mean '${longer[0]}'?)` : didYouMean(name, keys)
}

/** A field no experiment has is a typo more often than not: say so, with the closest known key. */
const checkKnown = (store: O.QueryContext["store"], fields: ReadonlyArray<string>, pipeline: string | undefined) =>
  Effect.forEach(fields, (raw) =>
    Effect.gen(function* () {
      const f = yield* asUsage(() => expField(raw.replace(/^-/, "")))
      if (store.experiments.hasKey(f, pipeline)) return
      const keys = store.experiments.knownKeys(pipeline)
      const name = f._tag === "key" ? f.key : raw
      return yield* new UsageError({
        message: keys.length
          ? `no experiment${pipeline ? ` of ${pipeline}` : ""} has a param or figure '${name}'${suggest(name, keys)}; pipe exps EXP lists one experiment's`
          : `no experiments recorded${pipeline ? ` for ${pipeline}` : ""} yet: pipe run or pipe sweep records them`
      })
    })
  )

export const expsCommand = Command.make(
  "exps",
  {
    file: O.file,
    store: O.store,
    json: O.json,
    where: whereOpt,
    sort: sortOpt,
    limit: limitOpt,
    sweep: sweepOpt,
    tag: tagOpt,
    columns: columnsOpt,
    pipeline: pipelineOpt,
    exp: expArg
  },
  (a) =>
    Effect.gen(function* () {
      const where: Array<Condition> = yield* asUsage(() => a.where.map((w) => parseExpCondition(w)))
      yield* O.withQueries(a.file, a.store, ({ store, pipeline: workspace, loaded }) =>
        Effect.gen(function* () {
          const pipeline = Option.getOrElse(a.pipeline, () => workspace)
          if (Option.isSome(a.exp)) {
            const e = store.experiments.resolve(a.exp.value, pipeline) ?? store.experiments.resolve(a.exp.value)
            if (!e) return yield* new UsageError({ message: `no experiment '${a.exp.value}' in this store: give e12, a name or a tag (pipe exps lists them)` })
            return out(a.json ? [JSON.stringify(expJson(e))] : expText(e))
          }
          const sort = Option.getOrUndefined(a.sort)
          const columns = Option.match(a.columns, { onNone: () => [], onSome: (c) => c.split(",").map((s) => s.trim()).filter(Boolean) })
          yield* checkKnown(store, [...where.map((w) => w.field), ...(sort ? [sort] : []), ...columns], pipeline)
          const exps = yield* asUsage(() =>
            store.experiments.list({
              ...(pipeline !== undefined ? { pipeline } : {}),
              ...(Option.isSome(a.sweep) ? { sweep: a.sweep.value } : {}),
              tags: a.tag,
              where,
              ...(sort ? { sort } : {}),
              limit: a.limit
            })
          )
          if (a.json) return out(exps.map((e) => JSON.stringify({ event: "experiment", ...expJson(e) })))
          const named = [...columns, ...(sort ? [sort] : []), ...where.map((w) => w.field)].filter((f) => expField(f.replace(/^-/, ""))._tag === "key")
          out(expsTable(exps, named, loaded?.pipeline.metric?.name))
        })
      )
    }).pipe(Effect.catchAll(renderError(a.json)))
).pipe(
  Command.withDescription(
    "List experiments (each pipe run and each sweep point), newest first, with the params that differ and their figures, all " +
      "stage-qualified: filter with --where train-mlp.lr=0.001 --where evaluate-mlp.test_accuracy>=0.8, --tag, --sweep; order with " +
      "--sort -evaluate-mlp.test_accuracy. pipe exps EXP prints one whole; pipe diff EXP1 EXP2 compares two. --json: one per line."
  )
)

const removeOpt = Options.boolean("remove").pipe(Options.withDescription("Remove the tags instead of adding them"))
const nameOpt = Options.text("name").pipe(Options.withDescription("Also name (or rename) the experiment"), Options.optional)

export const tagCommand = Command.make(
  "tag",
  {
    file: O.file,
    store: O.store,
    json: O.json,
    remove: removeOpt,
    name: nameOpt,
    exp: Args.text({ name: "experiment" }).pipe(Args.withDescription("e12, a name or a tag")),
    tags: Args.text({ name: "tag" }).pipe(Args.withDescription("Tags to add (or --remove)"), Args.repeated)
  },
  (a) =>
    Effect.gen(function* () {
      yield* O.checkExpWords(a.name, a.remove ? [] : a.tags)
      if (a.tags.length === 0 && Option.isNone(a.name)) {
        return yield* new UsageError({ message: "give tags to add (pipe tag e12 baseline), or --name NAME; see pipe tag --help" })
      }
      yield* O.withQueries(a.file, a.store, ({ store, pipeline }) =>
        Effect.gen(function* () {
          const e = store.experiments.resolve(a.exp, pipeline) ?? store.experiments.resolve(a.exp)
          if (!e) return yield* new UsageError({ message: `no experiment '${a.exp}' in this store: give e12, a name or a tag (pipe exps lists them)` })
          if (Option.isSome(a.name)) store.experiments.name(e.id, a.name.value)
          const changed = store.experiments.tag(e.id, a.tags, a.remove)
          const now = store.experiments.resolve(expLabel(e.id))!
          if (a.json) return out([JSON.stringify({ event: "tagged", ...expJson(now), changed })])
          out([`${expLabel(e.id)}${now.name ? ` (${now.name})` : ""}: tags ${now.tags.length ? now.tags.join(", ") : "(none)"}`])
        })
      )
    }).pipe(Effect.catchAll(renderError(a.json)))
).pipe(
  Command.withDescription(
    "Tag an experiment (pipe tag e12 baseline paper), remove tags (--remove), or name it (--name). Tags and names find experiments " +
      "(pipe exps --tag T, pipe diff baseline e14); gc keeps the runs of named and tagged experiments."
  )
)
