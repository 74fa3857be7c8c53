/**
 * One stage's work in a scratch directory, whatever keeps the blobs: read-only copies of its inputs (from the
 * blob directory `root`), an empty output directory, the kind's run function, a check that the inputs were
 * left alone, the figures its program wrote, and the output moved into `root`'s blobs with its manifest.
 * Recording the run is the caller's: the local executor records it in the store; `pipe exec-node` uploads the
 * blobs and a result to the remote.
 */
import { Effect, Either } from "effect"
import { appendFileSync, lstatSync, mkdirSync, readFileSync, realpathSync } from "node:fs"
import { join } from "node:path"
import { changedInputs, ingest, materialize, OutputError, type BlobStat, type Materialized } from "../artifacts/blobs.js"
import type { FileEntry, Manifest } from "../artifacts/manifest.js"
import type { Task } from "./executor.js"
import { StageError, type InputArtifact, type StageMetrics } from "./kind.js"
import { parseMetricsFile, type StageFigures } from "./metricsFile.js"
import { spawnGroup } from "./processGroup.js"

/** What the work needs from whoever keeps the blobs and records. */
export interface WorkHooks {
  /** An input artifact's files. */
  readonly files: (hash: string) => ReadonlyArray<FileEntry>
  readonly artifactType: (hash: string) => string | undefined
  /** A blob already kept under `root`, so ingest does not store it twice. */
  readonly knownBlob: (hash: string) => BlobStat | undefined
  /** Checks an input's blobs before and after they are copied (a damaged one fails the stage). */
  readonly checkInput: (stage: string, hash: string) => Effect.Effect<void, StageError>
  /** An input that could not be copied out of `root`. */
  readonly unreadable: (hash: string) => void
  /** The run that produced an input, as shown to the stage (never part of the key). */
  readonly producer: (run: number) => InputArtifact["producer"] | undefined
  /** The stage's process group, once it exists. */
  readonly child: (pgid: number, pstart: string | null) => void
}

export interface StageDone {
  readonly manifest: Manifest
  readonly blobs: ReadonlyArray<BlobStat>
  readonly metrics?: StageMetrics
  /** The figures' series the stage's program wrote as JSON lines, if it did. */
  readonly series?: StageFigures["series"]
}

/** A stage that changed its inputs read something other than what its key names: it fails, and nothing is kept. */
const checkUnchanged = (inputs: ReadonlyArray<{ stage: string; copy: Materialized }>): Effect.Effect<void, StageError> =>
  Effect.gen(function* () {
    for (const { stage, copy } of inputs) {
      const changed = changedInputs(copy)
      if (changed.length === 0) continue
      return yield* new StageError({
        message: `the stage modified its input from ${stage} (${changed.slice(0, 3).join(", ")}${changed.length > 3 ? `, and ${changed.length - 3} more` : ""}); inputs are read-only: write to $PIPE_OUT instead`
      })
    }
  })

/** The most a $PIPE_METRICS file may hold: figures, not data. */
const MAX_METRICS_BYTES = 64 * 1024 * 1024

/** The figures a stage left in its metrics file (undefined when it wrote none), checked. */
const readFigures = (file: string): Effect.Effect<StageFigures | undefined, StageError> =>
  Effect.gen(function* () {
    let st
    try {
      st = lstatSync(file)
    } catch {
      return undefined
    }
    const bad = (why: string) => new StageError({ message: `$PIPE_METRICS: ${why}` })
    if (!st.isFile()) return yield* bad("expected a file of figures (JSON); the stage left something else there")
    if (st.size > MAX_METRICS_BYTES) return yield* bad(`the file is ${st.size} bytes, more than ${MAX_METRICS_BYTES}; write figures there, and data to $PIPE_OUT`)
    let text: string
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(readFileSync(file))
    } catch (e) {
      return yield* bad(e instanceof TypeError ? "the file is not UTF-8 text" : `cannot read it (${String(e)})`)
    }
    const figures = parseMetricsFile(text)
    if (Either.isLeft(figures)) return yield* bad(figures.left)
    return figures.right
  })

/** Runs the task's stage in `tmp` (which exists and is empty), with its log in `logPath`. */
export const runStageIn = (root: string, task: Task, tmp: string, logPath: string, hooks: WorkHooks): Effect.Effect<StageDone, StageError> =>
  Effect.gen(function* () {
    const { node, echo } = task
    const inputs: Array<InputArtifact> = []
    const copies: Array<{ stage: string; copy: Materialized }> = []
    for (const need of node.needs) {
      const hash = task.inputs.get(need)!
      const dir = join(tmp, "in", need)
      yield* hooks.checkInput(need, hash)
      const copy = yield* Effect.try({
        try: () => materialize(root, hooks.files(hash), dir),
        catch: (e) =>
          new StageError({
            message: `the input from ${need} could not be read from the store (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ${need} will run again next time`
          })
      }).pipe(Effect.tapError(() => Effect.sync(() => hooks.unreadable(hash))))
      yield* hooks.checkInput(need, hash)
      copies.push({ stage: need, copy })
      const { metrics, run: upstream } = task.upstream.get(need) ?? {}
      const producer = upstream === undefined ? undefined : hooks.producer(upstream)
      inputs.push({
        stage: need,
        slot: node.slots[need]!,
        type: hooks.artifactType(hash) ?? "any",
        hash,
        dir,
        ...(metrics ? { metrics } : {}),
        ...(producer ? { producer } : {})
      })
    }
    // The real path, so that a stage that replaces its temp directory or $PIPE_OUT by a link is caught.
    const outDir = join(realpathSync(tmp), "out")
    mkdirSync(outDir)
    // Beside $PIPE_OUT, never in it: figures are not part of the output, so they never change its hash.
    const metricsFile = join(realpathSync(tmp), "metrics.json")
    const [runner, { execa }] = yield* Effect.promise(() => Promise.all([node.kind.load(), import("execa")]))
    const ran = yield* runner
      .run({
        stageId: node.id,
        config: node.config,
        params: node.params,
        inputs,
        outDir,
        metricsFile,
        workspace: task.workspace,
        logFile: logPath,
        echo,
        log: (line) => {
          appendFileSync(logPath, `${line}\n`)
          task.events({ _tag: "log", stage: node.id, line })
        },
        spawn: (file, args, options) => spawnGroup(execa, file, args, options ?? {}, hooks.child),
        progress: (line) => task.events({ _tag: "progress", stage: node.id, line })
      })
      .pipe(Effect.either)
    task.events({ _tag: "progress", stage: node.id, line: null })
    yield* checkUnchanged(copies)
    if (ran._tag === "Left") return yield* Effect.fail(ran.left)
    const written = yield* readFigures(metricsFile)
    const { manifest, blobs } = yield* Effect.try({
      try: () => {
        if (realpathSync(outDir) !== outDir) throw new OutputError("$PIPE_OUT was replaced by a link; write files into it instead")
        return ingest(root, outDir, hooks.knownBlob)
      },
      catch: (e) => (e instanceof OutputError ? new StageError({ message: e.message }) : new StageError({ message: `storing output: ${String(e)}` }))
    })
    // The kind's own figures, then those its program wrote (which win where both name one).
    const merged = ran.right || written ? { ...(ran.right || {}), ...written?.headline } : undefined
    const metrics = merged && Object.keys(merged).length > 0 ? (merged as StageMetrics) : undefined
    return { manifest, blobs, ...(metrics ? { metrics } : {}), ...(written?.series ? { series: written.series } : {}) }
  })
