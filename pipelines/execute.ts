/**
 * Running one stage: a run record marked 'running', a private temp directory with read-only views of the
 * inputs and an empty output directory, the kind's run function, then the output moved into the blob store
 * and the run recorded as 'ok' in one transaction. Any failure, crash or interruption leaves no 'ok' record,
 * so nothing partial is ever a cache hit; the temp directory is always removed.
 */
import { gitCommit, pipeVersion } from "./provenance.js"
import { Cause, Effect, Exit } from "effect"
import { appendFileSync, mkdirSync } from "node:fs"
import { join } from "node:path"
import { checkBlobs, ingest, materialize, OutputError, quarantine, removeTree } from "../artifacts/blobs.js"
import type { CacheKey, KeyRecord } from "../cache/fingerprint.js"
import { self } from "../cache/liveness.js"
import { Store, type StoreApi } from "../cache/store.js"
import { StageError, type InputArtifact, type StageContext, type StageMetrics } from "../stages/kind.js"
import type { Loaded } from "./loader.js"
import type { StageNode } from "./model.js"

/** How often long work prints a plain progress line when stderr is not a terminal. */
const PROGRESS_EVERY_MS = 15_000

export interface Executed {
  readonly runId: number
  readonly output: string
  readonly logPath: string
  readonly metrics?: StageMetrics
}

export interface StageFailure {
  readonly runId: number
  readonly message: string
  readonly logPath: string
}

/**
 * Inputs are hard links into the blob store, read-only, but a stage running as root can still write them.
 * A stat per input blob tells; a changed input fails the stage, and the damaged blobs are quarantined and
 * their artifacts unmarked as cached, so the stages that made them run again.
 */
const checkInputs = (store: StoreApi, inputs: ReadonlyArray<InputArtifact>): Effect.Effect<void, StageError> =>
  Effect.gen(function* () {
    for (const input of inputs) {
      const { damaged } = checkBlobs(store.root, store.records.blobsOf(input.hash))
      if (damaged.length === 0) continue
      for (const d of damaged) quarantine(store.root, d.hash)
      store.records.markDamaged(input.hash)
      return yield* new StageError({
        message: `the stage modified its input from ${input.stage} (${damaged.length} file${damaged.length > 1 ? "s" : ""}); inputs are read-only: write to $PIPE_OUT instead. ${input.stage} will run again.`
      })
    }
  })

export const executeStage = (
  loaded: Loaded,
  node: StageNode,
  key: CacheKey,
  record: KeyRecord,
  reason: string,
  outputs: ReadonlyMap<string, string>,
  echo: StageContext<unknown, unknown>["echo"] = "none"
): Effect.Effect<Executed, StageFailure, Store> =>
  Effect.gen(function* () {
    const store = yield* Store
    const pipeline = loaded.pipeline.name
    const { id: runId, logPath } = store.records.begin(
      { key, pipeline, stage: node.id, kind: node.kind.kind, reason, record, pipeVersion: pipeVersion(), gitCommit: gitCommit(loaded.workspace) },
      join(store.root, "logs")
    )
    const tmp = join(store.root, "tmp", `${self.pid}-${self.start ?? "x"}-${runId}`)
    const failure = (message: string): StageFailure => ({ runId, message, logPath })

    let lastProgress = Date.now()
    const work = Effect.gen(function* () {
      const inputs: Array<InputArtifact> = []
      for (const need of node.needs) {
        const hash = outputs.get(need)!
        const dir = join(tmp, "in", need)
        yield* Effect.try({
          try: () => materialize(store.root, store.records.files(hash), dir),
          catch: (e) =>
            new StageError({
              message: `the input from ${need} is damaged (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): a stage that ran before may have modified it; ${need} will run again next time`
            })
        })
        inputs.push({ stage: need, slot: node.slots[need]!, type: store.records.artifactType(hash) ?? "any", hash, dir })
      }
      const outDir = join(tmp, "out")
      mkdirSync(outDir, { recursive: true })
      const runner = yield* Effect.promise(() => node.kind.load())
      const ran = yield* runner.run({
        stageId: node.id,
        config: node.config,
        params: node.params,
        inputs,
        outDir,
        workspace: loaded.workspace,
        logFile: logPath,
        echo,
        log: (line) => {
          appendFileSync(logPath, `${line}\n`)
          if (echo === "stdout") process.stdout.write(`${line}\n`)
          else if (echo === "stderr") process.stderr.write(`${line}\n`)
        },
        spawned: (pid) => store.records.setChild(runId, pid),
        progress: (line) => {
          if (echo !== "none") return // --verbose already shows the stage's own lines
          if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K  ${node.id}: ${line}`)
          else if (Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
            // Not a terminal (CI logs, pipes): a plain line now and then.
            lastProgress = Date.now()
            process.stderr.write(`  ${node.id}: ${line}\n`)
          }
        }
      }).pipe(Effect.either)
      if (echo === "none" && process.stderr.isTTY) process.stderr.write("\r\x1b[K")
      yield* checkInputs(store, inputs)
      if (ran._tag === "Left") return yield* Effect.fail(ran.left)
      const { manifest, blobs } = yield* Effect.try({
        try: () => ingest(store.root, outDir, (h) => store.records.blob(h)),
        catch: (e) =>
          e instanceof OutputError ? new StageError({ message: e.message }) : new StageError({ message: `storing output: ${String(e)}` })
      })
      const metrics = ran.right || undefined
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
