/**
 * The local executor: a stage runs in this process (its programs as child process groups). A run record marked
 * 'running', a private temp directory with read-only copies of the inputs and an empty output directory, the
 * kind's run function, then the output moved into the blob store and the run recorded as 'ok' in one
 * transaction. Any failure, crash or interruption leaves no 'ok' record, so nothing partial is ever a cache
 * hit; the temp directory is always removed. Log lines and progress leave as events (see executor.ts). The
 * work in the temp directory itself is stageWork.ts, shared with `pipe exec-node`.
 */
import { gitCommit, pipeVersion } from "./provenance.js"
import { Cause, Effect, Exit, Layer } from "effect"
import { mkdirSync, readdirSync, writeFileSync } from "node:fs"
import { availableParallelism } from "node:os"
import { join } from "node:path"
import { removeTree } from "../artifacts/blobs.js"
import { self } from "../cache/liveness.js"
import { seriesFile } from "../cache/records.js"
import { Store, type StoreApi } from "../cache/store.js"
import { Executor, type Executed, type StageFailure, type Task } from "./executor.js"
import { StageError } from "./kind.js"
import { runStageIn } from "./stageWork.js"

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

/** Runs one task here, against the store. */
export const executeLocally = (store: StoreApi, task: Task): Effect.Effect<Executed, StageFailure> =>
  Effect.gen(function* () {
    const { pipeline, node, key, record, reason } = task
    const { id: runId, logPath } = store.records.begin(
      { key, pipeline, stage: node.id, kind: node.kind.kind, reason, record, pipeVersion: pipeVersion(), gitCommit: gitCommit(task.workspace) },
      join(store.root, "logs")
    )
    const tmp = join(store.root, "tmp", `${self.pid}-${self.start ?? "x"}-${runId}`)
    const failure = (message: string): StageFailure => ({ runId, message, logPath })

    const work = Effect.gen(function* () {
      const done = yield* runStageIn(store.root, task, tmp, logPath, {
        files: (hash) => store.records.files(hash),
        artifactType: (hash) => store.records.artifactType(hash),
        knownBlob: (hash) => store.records.blob(hash),
        checkInput: (stage, hash) => checkInput(store, stage, hash),
        unreadable: (hash) => store.records.markDamaged(hash),
        producer: (run) => {
          const stamp = store.records.stamp(run)
          return stamp && { run: stamp.id, pipeVersion: stamp.pipeVersion, gitCommit: stamp.gitCommit }
        },
        child: (pgid, pstart) => store.records.setChild(runId, pgid, pstart)
      })
      if (done.series) {
        const series = done.series
        yield* Effect.try({
          try: () => writeFileSync(seriesFile(store.root, runId), series.map((f) => `${JSON.stringify(f)}\n`).join("")),
          catch: (e) => new StageError({ message: `storing the figures' series: ${String(e)}` })
        })
      }
      const { manifest, blobs, metrics } = done
      store.records.succeed(runId, pipeline, node.id, {
        type: node.kind.output,
        ...(metrics ? { metrics } : {}),
        manifest,
        blobs,
        inputs: Object.fromEntries(node.needs.map((n) => [n, task.inputs.get(n)!]))
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

/** The GPUs this machine offers: as CUDA_VISIBLE_DEVICES lists them, else the NVIDIA devices in /dev. */
export const localGpus = (env: NodeJS.ProcessEnv = process.env, dev = "/dev"): number => {
  const visible = env["CUDA_VISIBLE_DEVICES"]
  if (visible !== undefined) return visible.split(",").filter((d) => d.trim() !== "" && d.trim() !== "-1").length
  try {
    return readdirSync(dev).filter((f) => /^nvidia\d+$/.test(f)).length
  } catch {
    return 0
  }
}

/**
 * This machine's CPUs and GPUs shared among the stages running at once: a stage that declares `resources: {
 * cpus, gpus }` holds that many (at most all of them) while it runs, so stages running together (a sweep's
 * points) never ask for more than there is; a stage that declares none is limited only by --jobs.
 */
export const machineShare = Effect.gen(function* () {
  const cpuCount = availableParallelism()
  const gpuCount = localGpus()
  const cpus = yield* Effect.makeSemaphore(cpuCount)
  const gpus = yield* Effect.makeSemaphore(Math.max(1, gpuCount))
  return (task: Task) => {
    const r = task.node.resources
    const c = Math.min(r?.cpus ?? 0, cpuCount)
    const g = gpuCount === 0 ? 0 : Math.min(r?.gpus ?? 0, gpuCount)
    return <A, E, R>(run: Effect.Effect<A, E, R>) => {
      const withGpus = g > 0 ? gpus.withPermits(g)(run) : run
      return c > 0 ? cpus.withPermits(c)(withGpus) : withGpus
    }
  }
})

/** Runs stages in this process against the Store, each within its share of the machine. */
export const inThisProcess = (share: (task: Task) => <A, E, R>(run: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>) => ({
  execute: (task: Task) => Effect.flatMap(Store, (store) => share(task)(executeLocally(store, task)))
})

/** Today's execution, as the Executor: stages run in this process against the Store (see machineShare). */
export const localExecutor: Layer.Layer<Executor> = Layer.effect(Executor, Effect.map(machineShare, inThisProcess))
