/**
 * Running one stage: a run record marked 'running', a private temp directory with read-only views of the
 * inputs and an empty output directory, the kind's run function, then the output moved into the blob store
 * and the run recorded as 'ok' in one transaction. Any failure, crash or interruption leaves no 'ok' record,
 * so nothing partial is ever a cache hit; the temp directory is always removed.
 */
import { Cause, Effect, Exit } from "effect"
import { appendFileSync, mkdirSync } from "node:fs"
import { join } from "node:path"
import { ingest, materialize, OutputError, removeTree } from "../artifacts/blobs.js"
import type { CacheKey, KeyRecord } from "../cache/fingerprint.js"
import { self } from "../cache/liveness.js"
import { Store } from "../cache/store.js"
import { StageError, type InputArtifact, type StageContext } from "../stages/kind.js"
import type { Loaded } from "./loader.js"
import type { StageNode } from "./model.js"

export interface Executed {
  readonly runId: number
  readonly output: string
  readonly logPath: string
}

export interface StageFailure {
  readonly runId: number
  readonly message: string
  readonly logPath: string
}

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
      { key, pipeline, stage: node.id, kind: node.kind.kind, reason, record },
      join(store.root, "logs")
    )
    const tmp = join(store.root, "tmp", `${self.pid}-${self.start ?? "x"}-${runId}`)
    const failure = (message: string): StageFailure => ({ runId, message, logPath })

    const work = Effect.gen(function* () {
      const inputs: Array<InputArtifact> = node.needs.map((need) => {
        const hash = outputs.get(need)!
        const dir = join(tmp, "in", need)
        materialize(store.root, store.records.files(hash), dir)
        return { stage: need, slot: node.slots[need]!, type: store.records.artifactType(hash) ?? "any", hash, dir }
      })
      const outDir = join(tmp, "out")
      mkdirSync(outDir, { recursive: true })
      const runner = yield* Effect.promise(() => node.kind.load())
      yield* runner.run({
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
        }
      })
      const { manifest, blobs } = yield* Effect.try({
        try: () => ingest(store.root, outDir),
        catch: (e) =>
          e instanceof OutputError ? new StageError({ message: e.message }) : new StageError({ message: `storing output: ${String(e)}` })
      })
      store.records.succeed(runId, pipeline, node.id, {
        type: node.kind.output,
        manifest,
        blobs,
        inputs: Object.fromEntries(inputs.map((i) => [i.stage, i.hash]))
      })
      return { runId, output: manifest.hash, logPath }
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
