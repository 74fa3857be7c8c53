/**
 * An Executor that runs each stage elsewhere, through a remote both sides share and a launcher that starts
 * `pipe exec-node KEY --remote URL` there (a SLURM job, or a local process). For each task the coordinator:
 * records the run as 'running' (only it opens SQLite), uploads the input blobs the remote lacks, writes the job,
 * launches it and watches it until it ends (Ctrl-C cancels it), reads the result and the log, then downloads
 * every output blob, verifying each by hash, and records the run 'ok' in one transaction only when all of them
 * are in the local store. A job that failed, was cancelled or ran out of time fails the stage with the
 * launcher's state and reason and the log's tail; nothing is recorded as a hit, so the next run retries.
 */
import { Effect, Layer } from "effect"
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { blobPath, putBlob, type BlobStat } from "../artifacts/blobs.js"
import { makeManifest } from "../artifacts/manifest.js"
import { remoteBlobKey, RemoteBlobMismatch, type Remote } from "../artifacts/remote.js"
import { self } from "../cache/liveness.js"
import { seriesFile } from "../cache/records.js"
import { Store, type StoreApi } from "../cache/store.js"
import { Executor, type Executed, type StageFailure, type Task } from "./executor.js"
import type { Resources } from "./spec.js"
import { StageError } from "./kind.js"
import { gitCommit, pipeVersion } from "./provenance.js"
import { JOB_VERSION, jobOf, jobPath, logPath as remoteLog, resultPath, type JobResult } from "./remoteJob.js"

/** A job as its launcher knows it. */
export interface Launched {
  readonly id: string
}

export interface JobState {
  /** The job ended (whatever way). */
  readonly ended: boolean
  /** As the launcher says it: COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, exit 1... */
  readonly state: string
  readonly reason?: string
  /** The node it ran (or runs) on, when the launcher knows. */
  readonly node?: string
}

/** Starts `pipe exec-node` somewhere and reports on it. */
export interface Launcher {
  readonly name: string
  readonly submit: (job: {
    key: string
    stage: string
    command: ReadonlyArray<string>
    resources?: Resources | undefined
    /** Nodes not to run on (where an earlier try was lost). */
    exclude?: ReadonlyArray<string>
    /** The remote's URL, which the job works through. */
    remote: string
  }) => Promise<Launched>
  readonly poll: (job: Launched) => Promise<JobState>
  /** A job for this key still queued or running (submitted by an earlier coordinator), if the launcher can tell. */
  readonly find?: (key: string, remote: string) => Promise<Launched | undefined>
  readonly cancel: (job: Launched) => Promise<void>
  /** How often to poll a running job, ms. */
  readonly pollMs: number
}

export interface RemoteSettings {
  readonly remote: Remote
  readonly launcher: Launcher
  /** The command that runs `pipe exec-node` on the other side, before its KEY --remote URL: [node, .../exec-node.mjs]. */
  readonly execNode: ReadonlyArray<string>
  /** How often a job lost with its node (NODE_FAIL, BOOT_FAIL) is resubmitted, elsewhere. */
  readonly retries: number
}

/** Job states that say the node was lost (or taken back), not that the stage failed: worth another try elsewhere. */
const LOST = new Set(["NODE_FAIL", "BOOT_FAIL", "PREEMPTED"])

/** A manifest path as pipe writes them: relative, '/'-separated, no empty, '.' or '..' segment. */
const safePath = (p: string) => p.length > 0 && !p.includes("\0") && !p.includes("\\") && p.split("/").every((seg) => seg !== "" && seg !== "." && seg !== "..")

const LOG_TAIL = 20

const tailOf = (file: string) =>
  existsSync(file) ? readFileSync(file, "utf8").trimEnd().split("\n").slice(-LOG_TAIL).join("\n") : ""

const runRemotely = (store: StoreApi, s: RemoteSettings, task: Task): Effect.Effect<Executed, StageFailure> =>
  Effect.gen(function* () {
    const { node, key } = task
    const { id: runId, logPath } = store.records.begin(
      { key, pipeline: task.pipeline, stage: node.id, kind: node.kind.kind, reason: task.reason, record: task.record, pipeVersion: pipeVersion(), gitCommit: gitCommit(task.workspace) },
      join(store.root, "logs")
    )
    const failure = (message: string): StageFailure => ({ runId, message, logPath })
    const fail = (message: string) => Effect.fail(new StageError({ message }))
    const remote = s.remote
    const promise = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: (e) => new StageError({ message: e instanceof Error ? e.message : String(e) }) })

    const work = Effect.gen(function* () {
      // The job and what it reads.
      const spec = jobOf(
        task,
        (hash) => ({ type: store.records.artifactType(hash) ?? "any", files: store.records.files(hash) }),
        (run) => {
          const st = store.records.stamp(run)
          return st && { run: st.id, pipeVersion: st.pipeVersion, gitCommit: st.gitCommit }
        }
      )
      const damaged = node.needs.flatMap((n) => store.repair(task.inputs.get(n)!))
      if (damaged.length > 0) return yield* fail(`an input is damaged in the store (blob ${damaged[0]!.hash.slice(0, 12)} ${damaged[0]!.problem}); it will be rebuilt next time`)
      const note = (line: string) => writeFileSync(logPath, `pipe: ${line}\n`, { flag: "a" })
      const launcher = s.launcher
      const submit = (exclude: ReadonlyArray<string>) =>
        promise(() => launcher.submit({ key, stage: node.id, command: [...s.execNode, key, "--remote", remote.url], resources: node.resources, exclude, remote: remote.url }))
      // Watch a job until it ends; an interrupted pipe cancels what it submitted.
      const watch = (job: Launched) =>
        Effect.gen(function* () {
          for (;;) {
            const st = yield* promise(() => launcher.poll(job))
            if (st.ended) return st
            yield* Effect.sleep(launcher.pollMs)
          }
        }).pipe(Effect.onExit((exit) => (exit._tag === "Success" ? Effect.void : Effect.promise(() => launcher.cancel(job).catch(() => {})))))

      // A result checked before anything of it is used: for this key, in this format, naming files that make its
      // artifact, each at a plain relative path (a result on a remote is not trusted to stay inside the store).
      const checked = (r: JobResult | undefined): string | undefined => {
        if (!r || typeof r !== "object") return "no result"
        if (r.version !== JOB_VERSION || r.key !== key) return `the result on the remote is not this job's (key ${String(r.key).slice(0, 12)}, format ${String(r.version)})`
        if (r.status !== "ok") return undefined
        const files = r.manifest?.files
        if (!Array.isArray(files)) return "the result names no files"
        const bad = files.find((f) => typeof f?.path !== "string" || !safePath(f.path) || typeof f.hash !== "string" || !/^[0-9a-f]{64}$/.test(f.hash))
        if (bad) return `the result names a file at ${JSON.stringify(bad?.path)}, which is not a plain relative path`
        if (makeManifest(files).hash !== r.manifest!.hash) return `the result of ${node.id} names files that do not make its artifact ${String(r.manifest!.hash).slice(0, 12)}`
        return undefined
      }
      // Every output blob into the local store, each checked by hash, before anything is recorded. A blob altered
      // on the remote after the node uploaded it is refused, and it and the result are removed there, so the
      // stage runs again instead of being collected.
      const collect = (r: JobResult) =>
        Effect.gen(function* () {
          const problem = checked(r)
          if (problem) return yield* fail(problem)
          const blobs: Array<BlobStat> = []
          for (const hash of new Set(r.manifest!.files.map((f) => f.hash))) {
            const known = store.records.blob(hash)
            if (known && existsSync(blobPath(store.root, hash))) {
              blobs.push(known)
              continue
            }
            const tmp = join(store.root, "tmp", `${self.pid}-${runId}-${hash.slice(0, 16)}`)
            mkdirSync(join(store.root, "tmp"), { recursive: true })
            const got = yield* Effect.either(Effect.tryPromise({ try: () => remote.getBlob(hash, tmp), catch: (e) => e }))
            if (got._tag === "Left") {
              const e = got.left
              if (!(e instanceof RemoteBlobMismatch)) return yield* fail(e instanceof Error ? e.message : String(e))
              yield* Effect.promise(async () => {
                await remote.delete(remoteBlobKey(hash)).catch(() => {})
                await remote.delete(resultPath(key)).catch(() => {})
              })
              return yield* fail(`${e.message}; it and the result were removed from the remote, so ${node.id} runs again`)
            }
            blobs.push(yield* Effect.try({ try: () => putBlob(store.root, tmp, true, () => undefined, hash), catch: (e) => new StageError({ message: `storing ${hash.slice(0, 12)}: ${String(e)}` }) }))
          }
          return blobs
        })
      const record = (r: JobResult, blobs: ReadonlyArray<BlobStat>): Executed => {
        const where = ` on ${r.host}${r.jobId ? ` (job ${r.jobId})` : ""}`
        store.records.placed(runId, r.host, r.jobId)
        if (r.series) writeFileSync(seriesFile(store.root, runId), r.series.map((f) => `${JSON.stringify(f)}\n`).join(""))
        note(`ran${where}`)
        store.records.succeed(runId, task.pipeline, node.id, {
          type: node.kind.output,
          ...(r.metrics ? { metrics: r.metrics } : {}),
          manifest: r.manifest!,
          blobs: [...blobs],
          inputs: Object.fromEntries(node.needs.map((n) => [n, task.inputs.get(n)!]))
        })
        return { runId, output: r.manifest!.hash, logPath, ...(r.metrics ? { metrics: r.metrics } : {}) }
      }

      // A coordinator killed mid-run left its jobs behind: one that finished left its result (collected, not
      // rerun: the key says what it made), one still queued or running is found by its name and watched again.
      const earlier = task.forced ? undefined : ((yield* promise(() => remote.getJson(resultPath(key)))) as JobResult | undefined)
      if (earlier?.status === "ok") {
        const got = yield* Effect.either(collect(earlier))
        if (got._tag === "Right") {
          note(`collected the result already on the remote (from ${earlier.host}${earlier.jobId ? `, job ${earlier.jobId}` : ""})`)
          return record(earlier, got.right)
        }
        note(`the result already on the remote cannot be used (${got.left.message}); running ${node.id}`)
      }
      let job = task.forced || earlier || !launcher.find ? undefined : yield* promise(() => launcher.find!(key, remote.url))
      let state: JobState
      if (job) note(`re-attached to ${launcher.name} job ${job.id}, submitted earlier and still queued or running`)
      else {
        yield* promise(async () => {
          for (const input of Object.values(spec.inputs)) for (const f of input.files) await remote.putBlob(f.hash, blobPath(store.root, f.hash))
          // A result there (an earlier failure; a forced run did not look) would be read as this job's.
          if (earlier || task.forced) await remote.delete(resultPath(key))
          await remote.putJson(jobPath(key), spec)
        })
        job = yield* submit([])
        note(`${node.id} submitted to ${launcher.name} as ${job.id} (remote ${remote.url})`)
      }
      // A job lost with its node is resubmitted up to `retries` times, not on the node it was lost with.
      for (let attempt = 0; ; attempt++) {
        state = yield* watch(job)
        if (!LOST.has(state.state) || attempt >= s.retries) break
        const lostOn = state.node ? state.node.split(",") : []
        note(`${launcher.name} job ${job.id} ended ${state.state}${state.node ? ` on ${state.node}` : ""}; resubmitting (try ${attempt + 2} of ${s.retries + 1})`)
        yield* promise(() => remote.delete(resultPath(key)))
        job = yield* submit(lostOn)
        note(`${node.id} submitted to ${launcher.name} as ${job.id}${lostOn.length ? ` (not on ${lostOn.join(", ")})` : ""}`)
      }
      const result = (yield* promise(() => remote.getJson(resultPath(key)))) as JobResult | undefined
      const nodeLog = join(store.root, "tmp", `${self.pid}-${runId}.node.log`)
      mkdirSync(join(store.root, "tmp"), { recursive: true })
      let tail = ""
      if (yield* promise(() => remote.getFile(remoteLog(key), nodeLog))) {
        writeFileSync(logPath, readFileSync(nodeLog), { flag: "a" })
        tail = tailOf(nodeLog)
        rmSync(nodeLog, { force: true })
      }
      const problem = result ? checked(result) : undefined
      if (problem) return yield* fail(problem)
      if (result) store.records.placed(runId, result.host, result.jobId)
      if (!result || result.status !== "ok") {
        const where = result ? ` on ${result.host}${result.jobId ? ` (job ${result.jobId})` : ""}` : ""
        const why = result?.error ?? `${launcher.name} job ${job.id} ended ${state.state}${state.reason ? ` (${state.reason})` : ""}${state.node ? ` on ${state.node}` : ""} without a result`
        return yield* fail(`${why}${where}${tail ? `\n${tail}` : ""}`)
      }
      return record(result, yield* collect(result))
    })

    return yield* work.pipe(
      Effect.onInterrupt(() => Effect.sync(() => store.records.fail(runId, "interrupted", "interrupted"))),
      Effect.tapError((e) => Effect.sync(() => store.records.fail(runId, "failed", e.message))),
      Effect.mapError((e) => failure(e.message)),
      Effect.catchAllDefect((d) => {
        store.records.fail(runId, "failed", `internal error: ${String(d)}`)
        return Effect.fail(failure(`internal error: ${String(d)}`))
      })
    )
  })

/** The Executor for stages run through `s.launcher`, sharing blobs through `s.remote`. */
export const remoteExecutor = (s: RemoteSettings): Layer.Layer<Executor> =>
  Layer.succeed(Executor, { execute: (task: Task) => Effect.flatMap(Store, (store) => runRemotely(store, s, task)) })
