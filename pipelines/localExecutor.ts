/**
 * The local executor: a stage runs in this process (its programs as child process groups). A run record marked
 * 'running', a private temp directory with read-only copies of the inputs and an empty output directory, the
 * kind's run function, then the output moved into the blob store and the run recorded as 'ok' in one
 * transaction. Any failure, crash or interruption leaves no 'ok' record, so nothing partial is ever a cache
 * hit; the temp directory is always removed. Log lines and progress leave as events (see executor.ts).
 */
import { gitCommit, pipeVersion } from "./provenance.js"
import { Cause, Effect, Either, Exit, Layer } from "effect"
import { appendFileSync, lstatSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { changedInputs, ingest, materialize, OutputError, removeTree, type Materialized } from "../artifacts/blobs.js"
import { self } from "../cache/liveness.js"
import { seriesFile } from "../cache/records.js"
import { Store, type StoreApi } from "../cache/store.js"
import { Executor, type Executed, type StageFailure, type Task } from "./executor.js"
import { StageError, type InputArtifact } from "./kind.js"
import { parseMetricsFile, type StageFigures } from "./metricsFile.js"
import { spawnGroup } from "./processGroup.js"

/**
 * An input's blobs are checked against their records (a stat each; a rehash when the stat moved) right before
 * they are copied for the stage and again right after: the stage gets the bytes its key names, or fails. A
 * damaged blob is quarantined and the runs that made it stop being cache hits, so they run again.
 */
const checkInput = (store: StoreApi, stage: string, hash: string): Effect.Effect<void, StageError> =>
  Effect.gen(function* () {
    const damaged = store.repair(hash)
    if (damaged.length === 0) return
    return yield* new StageError({
      message: `the input from ${stage} is damaged in the store (${damaged.map((d) => `blob ${d.hash.slice(0, 12)} ${d.problem}`).join(", ")}); ${stage} will run again next time`
    })
  })

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

/** Runs one task here, against the store. */
export const executeLocally = (store: StoreApi, task: Task): Effect.Effect<Executed, StageFailure> =>
  Effect.gen(function* () {
    const { pipeline, node, key, record, reason, echo } = task
    const { id: runId, logPath } = store.records.begin(
      { key, pipeline, stage: node.id, kind: node.kind.kind, reason, record, pipeVersion: pipeVersion(), gitCommit: gitCommit(task.workspace) },
      join(store.root, "logs")
    )
    const tmp = join(store.root, "tmp", `${self.pid}-${self.start ?? "x"}-${runId}`)
    const failure = (message: string): StageFailure => ({ runId, message, logPath })

    const work = Effect.gen(function* () {
      const inputs: Array<InputArtifact> = []
      const copies: Array<{ stage: string; copy: Materialized }> = []
      for (const need of node.needs) {
        const hash = task.inputs.get(need)!
        const dir = join(tmp, "in", need)
        yield* checkInput(store, need, hash)
        const copy = yield* Effect.try({
          try: () => materialize(store.root, store.records.files(hash), dir),
          catch: (e) =>
            new StageError({
              message: `the input from ${need} could not be read from the store (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ${need} will run again next time`
            })
        }).pipe(Effect.tapError(() => Effect.sync(() => store.records.markDamaged(hash))))
        yield* checkInput(store, need, hash)
        copies.push({ stage: need, copy })
        const { metrics, run: upstream } = task.upstream.get(need) ?? {}
        const stamp = upstream === undefined ? undefined : store.records.stamp(upstream)
        const producer = stamp && { run: stamp.id, pipeVersion: stamp.pipeVersion, gitCommit: stamp.gitCommit }
        inputs.push({
          stage: need,
          slot: node.slots[need]!,
          type: store.records.artifactType(hash) ?? "any",
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
      const ran = yield* runner.run({
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
        spawn: (file, args, options) =>
          spawnGroup(execa, file, args, options ?? {}, (pgid, pstart) => store.records.setChild(runId, pgid, pstart)),
        progress: (line) => task.events({ _tag: "progress", stage: node.id, line })
      }).pipe(Effect.either)
      task.events({ _tag: "progress", stage: node.id, line: null })
      yield* checkUnchanged(copies)
      if (ran._tag === "Left") return yield* Effect.fail(ran.left)
      const written = yield* readFigures(metricsFile)
      if (written?.series) {
        const series = written.series
        yield* Effect.try({
          try: () => writeFileSync(seriesFile(store.root, runId), series.map((f) => `${JSON.stringify(f)}\n`).join("")),
          catch: (e) => new StageError({ message: `storing the figures' series: ${String(e)}` })
        })
      }
      const { manifest, blobs } = yield* Effect.try({
        try: () => {
          if (realpathSync(outDir) !== outDir) throw new OutputError("$PIPE_OUT was replaced by a link; write files into it instead")
          return ingest(store.root, outDir, (h) => store.records.blob(h))
        },
        catch: (e) =>
          e instanceof OutputError ? new StageError({ message: e.message }) : new StageError({ message: `storing output: ${String(e)}` })
      })
      // The kind's own figures, then those its program wrote (which win where both name one).
      const merged = ran.right || written ? { ...(ran.right || {}), ...written?.headline } : undefined
      const metrics = merged && Object.keys(merged).length > 0 ? merged : undefined
      store.records.succeed(runId, pipeline, node.id, {
        type: node.kind.output,
        ...(metrics ? { metrics } : {}),
        manifest,
        blobs,
        inputs: Object.fromEntries(inputs.map((i) => [i.stage, i.hash]))
      })
      return { runId, output: manifest.hash, logPath, ...(metrics ? { metrics } : {}) }
    })

    return yield* Effect.acquireUseRelease(
      Effect.sync(() => mkdirSync(tmp, { recursive: true })),
      () =>
        work.pipe(
          Effect.onExit((exit) =>
            Effect.sync(() => {
              if (Exit.isSuccess(exit)) return
              if (Cause.isInterruptedOnly(exit.cause)) store.records.fail(runId, "interrupted", "interrupted")
              else {
                const e = Cause.squash(exit.cause)
                store.records.fail(runId, "failed", e instanceof StageError ? e.message : String(e))
              }
            })
          ),
          Effect.mapError((e) => failure(e.message)),
          Effect.catchAllDefect((d) => Effect.fail(failure(`internal error: ${String(d)}`)))
        ),
      () => Effect.sync(() => removeTree(tmp))
    )
  })

/** Today's execution, as the Executor: stages run in this process against the Store. */
export const localExecutor: Layer.Layer<Executor> = Layer.succeed(Executor, {
  execute: (task: Task) => Effect.flatMap(Store, (store) => executeLocally(store, task))
})
