/** Options shared by several commands, and resolving them to a loaded pipeline and a store. */
import { Args, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Effect, Either, Layer, Option } from "effect"
import { mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { checkWord } from "../cache/experiments.js"
import type { Queries } from "../cache/queries.js"
import { Store, storeExists, storeLayer, type StoreApi } from "../cache/store.js"
import { StoreError, UsageError } from "../pipelines/errors.js"
import { defaultPipelineFile, loadPipeline, type Loaded } from "../pipelines/loader.js"
import { parseOverride, type Override, type StageCopy } from "../pipelines/overrides.js"
import { didYouMean } from "../pipelines/suggest.js"
import { makeRegistry } from "../stages/registry.js"

export const file = Options.text("file").pipe(
  Options.withAlias("f"),
  Options.withDescription("The pipeline file: YAML, or a .ts/.js module exporting a composed pipeline (default: ./pipeline.yaml)"),
  Options.optional
)

export const store = Options.text("store").pipe(
  Options.withDescription("The store directory (default: $PIPE_STORE, else .pipe/ beside the pipeline file)"),
  Options.optional
)

export const json = Options.boolean("json").pipe(Options.withDescription("Print NDJSON events on stdout for scripts"))

export const set = Options.text("set").pipe(
  Options.withDescription("Override a param for this invocation, typed like YAML: --set train.lr=0.001"),
  Options.repeated
)

/**
 * An integer option that refuses values below `min` as a usage error (exit 2): `--jobs 0`, `--limit -5` or
 * `--keep-last -1` say so instead of meaning something else. Non-integers are refused by Options.integer.
 */
export const integerAtLeast = (name: string, min: number, description: string) =>
  Options.integer(name).pipe(
    Options.withDescription(description),
    Options.mapEffect((n) =>
      n >= min
        ? Effect.succeed(n)
        : Effect.fail(
            ValidationError.invalidValue(
              HelpDoc.p(`pipe: --${name} must be ${min === 0 ? "0 or more" : `at least ${min}`}, got ${n}`)
            )
          )
    )
  )

export const stages = Args.text({ name: "stage" }).pipe(
  Args.withDescription("Stages to consider, with everything upstream of them (default: all)"),
  Args.repeated
)

export const parseSets = (sets: ReadonlyArray<string>) =>
  Effect.forEach(sets, (s) => {
    const o = parseOverride(s)
    return Either.isLeft(o) ? Effect.fail(o.left) : Effect.succeed(o.right)
  })

export const loadWith = (fileOpt: Option.Option<string>, overrides: ReadonlyArray<Override>, copies: ReadonlyArray<StageCopy> = []) =>
  loadPipeline(Option.getOrElse(fileOpt, () => defaultPipelineFile(process.cwd())), overrides, makeRegistry(), copies)

export const load = (fileOpt: Option.Option<string>, sets: ReadonlyArray<string>, targets: ReadonlyArray<string> = []) =>
  Effect.gen(function* () {
    const flag = targets.find((t) => t.startsWith("-"))
    if (flag) return yield* new UsageError({ message: `unknown option ${flag}; see pipe --help` })
    return yield* loadWith(fileOpt, yield* parseSets(sets))
  })

export const checkTargets = (loaded: Loaded, targets: ReadonlyArray<string>) =>
  Effect.forEach(targets, (t) =>
    loaded.pipeline.stages.has(t)
      ? Effect.void
      : Effect.fail(
          new UsageError({
            message: `unknown stage '${t}'${didYouMean(t, loaded.pipeline.stages.keys())}; stages: ${[
              ...loaded.pipeline.stages.keys()
            ].join(", ")}`
          })
        )
  )

export const storeRoot = (loaded: Loaded, storeOpt: Option.Option<string>): string =>
  Option.match(storeOpt, {
    onSome: (s) => resolve(s),
    onNone: () => (process.env["PIPE_STORE"] ? resolve(process.env["PIPE_STORE"]) : join(loaded.workspace, ".pipe"))
  })

export const withStore = (loaded: Loaded, storeOpt: Option.Option<string>) => storeLayer(storeRoot(loaded, storeOpt))

/** A store path that exists but is not a directory (a file given to --store by mistake). */
const notADirectory = (root: string): StoreError | undefined => {
  try {
    if (statSync(root).isDirectory()) return undefined
  } catch {
    return undefined // missing: created by a run, treated as empty by a plan
  }
  return new StoreError({ message: `${root} is not a directory: --store (or $PIPE_STORE) names the store's directory` })
}

/**
 * The store to plan against (status, --dry-run, --check) without creating one: the workspace's store if it
 * exists, else an empty one in a temporary directory, removed afterwards.
 */
export const planningStore = (loaded: Loaded, storeOpt: Option.Option<string>) => {
  const root = storeRoot(loaded, storeOpt)
  const problem = notADirectory(root)
  if (problem) return Layer.fail(problem)
  if (storeExists(root)) return storeLayer(root)
  return Layer.unwrapScoped(
    Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "pipe-plan-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    ).pipe(Effect.map((dir) => storeLayer(dir)))
  )
}

/**
 * The store a query reads, and the pipeline name that stage ids refer to. With --store or $PIPE_STORE the
 * pipeline file is optional (a store copied from CI can be queried anywhere); without, it locates the store.
 * A query never creates a store.
 */
export const queryStore = (fileOpt: Option.Option<string>, storeOpt: Option.Option<string>, sets: ReadonlyArray<string> = []) =>
  Effect.gen(function* () {
    const explicit = Option.isSome(storeOpt) || Boolean(process.env["PIPE_STORE"])
    const overrides = yield* parseSets(sets)
    const loaded = explicit && Option.isNone(fileOpt) && sets.length === 0
      ? Option.getOrUndefined(yield* Effect.option(loadWith(fileOpt, overrides)))
      : yield* loadWith(fileOpt, overrides)
    const root = loaded
      ? storeRoot(loaded, storeOpt)
      : resolve(Option.getOrElse(storeOpt, () => process.env["PIPE_STORE"]!))
    const problem = notADirectory(root)
    if (problem) return yield* problem
    if (!storeExists(root)) {
      return yield* new StoreError({ message: `no store at ${root}: nothing has run there yet (pipe run), or give --store DIR` })
    }
    return { loaded, root, pipeline: loaded?.pipeline.name, layer: storeLayer(root) }
  })

export interface QueryContext {
  readonly q: Queries
  readonly store: StoreApi
  /** The pipeline name stage ids refer to, when a pipeline file was found. */
  readonly pipeline: string | undefined
  readonly loaded: Loaded | undefined
}

/** Runs a query command's body with the store open (see queryStore). */
export const withQueries = <A, E>(
  fileOpt: Option.Option<string>,
  storeOpt: Option.Option<string>,
  body: (c: QueryContext) => Effect.Effect<A, E, never>,
  sets: ReadonlyArray<string> = []
) =>
  Effect.gen(function* () {
    const ctx = yield* queryStore(fileOpt, storeOpt, sets)
    return yield* Effect.gen(function* () {
      const store = yield* Store
      return yield* body({ q: store.queries, store, pipeline: ctx.pipeline, loaded: ctx.loaded })
    }).pipe(Effect.provide(ctx.layer))
  })

export const expName = Options.text("name").pipe(
  Options.withDescription("Name this experiment (pipe exps lists it; pipe diff takes names; gc keeps a named experiment's runs)"),
  Options.optional
)

export const expTags = Options.text("tag").pipe(
  Options.withDescription("Tag this experiment (repeatable): pipe exps --tag T finds it; gc keeps a tagged experiment's runs"),
  Options.repeated
)

/** --name and --tag values checked before anything runs (a bad one is a usage error, exit 2). */
export const checkExpWords = (name: Option.Option<string>, tags: ReadonlyArray<string>) =>
  Effect.try({
    try: () => {
      if (Option.isSome(name)) checkWord("name", name.value)
      for (const t of tags) checkWord("tag", t)
    },
    catch: (e) => new UsageError({ message: e instanceof Error ? e.message : String(e) })
  })
