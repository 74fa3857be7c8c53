/**
 * `pipe exec-node KEY --remote URL`, without the command-line framework: what runs one planned stage on a
 * compute node, with nothing but the remote and the shared workspace. It reads the job the coordinator wrote
 * (jobs/KEY.json), fetches and verifies each input blob by hash into a scratch directory, runs the stage through
 * the same code as the local executor (pipelines/stageWork.ts), uploads the output's blobs, the log and a result
 * (results/KEY.json). It never opens SQLite. Both `pipe exec-node` (cli/execNode.ts) and the light entry the
 * cluster executor starts (cli/nodeMain.ts, dist/exec-node.mjs: no command-line framework to load) call it.
 */
import { Effect } from "effect"
import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { blobPath, removeTree } from "../artifacts/blobs.js"
import { openRemote, remoteBlobKey, RemoteBlobMismatch, RemoteError, type Remote } from "../artifacts/remote.js"
import { StoreError, UsageError } from "../pipelines/errors.js"
import { checkJob, JOB_VERSION, JobError, jobPath, logPath, nodeOf, resultPath, type JobResult, type JobSpec } from "../pipelines/remoteJob.js"
import { runStageIn } from "../pipelines/stageWork.js"
import { makeRegistry } from "../stages/registry.js"

const remoteFailure = (e: unknown) => new StoreError({ message: e instanceof Error ? e.message : String(e) })

/** Runs the job; the result says how it went. Throws only when the remote itself fails. */
const runJob = async (remote: Remote, spec: JobSpec, scratch: string): Promise<JobResult> => {
  const startedAt = Date.now()
  // The node as the scheduler names it (several slurmd may share one host), else the host.
  const where = process.env["SLURMD_NODENAME"] || hostname()
  const base = { version: JOB_VERSION, key: spec.key, host: where, jobId: process.env["SLURM_JOB_ID"] ?? null, startedAt } as const
  const log = join(scratch, "stage.log")
  mkdirSync(join(scratch, "blobs"))
  writeFileSync(log, `pipe exec-node: ${spec.stage} (${spec.kind}) on ${where}${base.jobId ? `, job ${base.jobId}` : ""}\n`)
  // Every input blob, fetched and checked by hash, into the scratch directory's own blob layout.
  const blobs = new Set(Object.values(spec.inputs).flatMap((i) => i.files.map((f) => f.hash)))
  for (const hash of blobs) {
    const dest = blobPath(scratch, hash)
    mkdirSync(dirname(dest), { recursive: true })
    try {
      await remote.getBlob(hash, dest)
    } catch (e) {
      // A damaged input is the job's failure (reported in its result), not the remote's.
      if (!(e instanceof RemoteBlobMismatch)) throw e
      // Off the remote with it: the coordinator uploads the good copy next time (it skips blobs already there).
      await remote.delete(remoteBlobKey(hash)).catch(() => {})
      const error = `${e.message}; removed from the remote, so the next run uploads it again`
      appendFileSync(log, `pipe exec-node: ${error}\n`)
      await remote.putFile(logPath(spec.key), log)
      return { ...base, status: "failed", error, endedAt: Date.now() }
    }
  }
  const registry = makeRegistry()
  const node = nodeOf(spec, registry)
  const work = join(scratch, "work")
  mkdirSync(work)
  const outcome = await Effect.runPromise(
    runStageIn(
      scratch,
      {
        pipeline: spec.pipeline,
        workspace: spec.workspace,
        node,
        key: spec.key,
        record: spec.record,
        reason: spec.reason,
        inputs: new Map(Object.entries(spec.inputs).map(([s, i]) => [s, i.hash])),
        upstream: new Map(Object.entries(spec.inputs).map(([s, i]) => [s, { ...(i.run !== undefined ? { run: i.run } : {}), ...(i.metrics ? { metrics: i.metrics } : {}) }])),
        echo: "none",
        events: () => {}
      },
      work,
      log,
      {
        files: (hash) => Object.values(spec.inputs).find((i) => i.hash === hash)?.files ?? [],
        artifactType: (hash) => Object.values(spec.inputs).find((i) => i.hash === hash)?.type,
        knownBlob: () => undefined,
        checkInput: () => Effect.void,
        unreadable: () => {},
        producer: (run) => Object.values(spec.inputs).find((i) => i.run === run)?.producer,
        child: () => {}
      }
    ).pipe(Effect.either)
  )
  if (outcome._tag === "Left") {
    appendFileSync(log, `pipe exec-node: failed: ${outcome.left.message}\n`)
    await remote.putFile(logPath(spec.key), log)
    return { ...base, status: "failed", error: outcome.left.message, endedAt: Date.now() }
  }
  const done = outcome.right
  for (const hash of new Set(done.manifest.files.map((f) => f.hash))) await remote.putBlob(hash, blobPath(scratch, hash))
  await remote.putFile(logPath(spec.key), log)
  return {
    ...base,
    status: "ok",
    manifest: done.manifest,
    ...(done.metrics ? { metrics: done.metrics } : {}),
    ...(done.series ? { series: done.series } : {}),
    endedAt: Date.now()
  }
}

/**
 * Runs the stage of `key` from its job on `remoteUrl`: the result when it ran (ok or failed), or a UsageError
 * (no such job, a job this pipe cannot run) or StoreError (the remote cannot be used).
 */
export const execNode = (key: string, remoteUrl: string, scratchBase?: string): Effect.Effect<JobResult & { stage: string }, UsageError | StoreError> =>
  Effect.gen(function* () {
    if (!/^[0-9a-f]{64}$/.test(key)) return yield* new UsageError({ message: `'${key}' is not a stage key (64 hex digits)` })
    const remote = yield* Effect.tryPromise({ try: () => openRemote(remoteUrl), catch: remoteFailure })
    const spec = yield* Effect.tryPromise({
      try: async () => checkJob(await remote.getJson(jobPath(key)), key, makeRegistry()),
      catch: (e) => (e instanceof JobError ? new UsageError({ message: e.message }) : remoteFailure(e))
    }).pipe(Effect.tapError(() => Effect.sync(() => remote.close())))
    const scratch = mkdtempSync(join(resolve(scratchBase ?? tmpdir()), "pipe-node-"))
    const result = yield* Effect.tryPromise({
      try: async () => {
        const r = await runJob(remote, spec, scratch)
        await remote.putJson(resultPath(key), r)
        return r
      },
      catch: (e) => (e instanceof RemoteError ? remoteFailure(e) : new StoreError({ message: `exec-node: ${String(e)}` }))
    }).pipe(Effect.ensuring(Effect.sync(() => (removeTree(scratch), remote.close()))))
    return { ...result, stage: spec.stage }
  })
