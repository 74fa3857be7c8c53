/**
 * `pipe push DIR|s3://bucket/prefix` / `pipe pull DIR|s3://bucket/prefix`: copy what a pipeline needs between
 * this store and another one (a directory holding a store), or a shared remote (an S3 bucket, see
 * cache/remoteTransfer.ts: a JSON record per run under runs/, beside the blobs).
 */
import { Args, Command } from "@effect/cli"
import { Effect } from "effect"
import { resolve } from "node:path"
import { checkBlobs } from "../artifacts/blobs.js"
import { openRemote, parseRemoteUrl, type Remote } from "../artifacts/remote.js"
import { pullRun, pushRuns, type RemoteTransferReport } from "../cache/remoteTransfer.js"
import { openStore, Store, type StoreApi } from "../cache/store.js"
import { transferRuns } from "../cache/transfer.js"
import { StoreError } from "../pipelines/errors.js"
import type { Loaded } from "../pipelines/loader.js"
import { cachedRuns, type PlannedStage } from "../pipelines/plan.js"
import { planRun } from "../pipelines/runner.js"
import { bytes } from "./format.js"
import * as O from "./options.js"
import { planState } from "./planText.js"
import { renderError } from "./render.js"

const out = (line: string) => process.stdout.write(`${line}\n`)

const dir = Args.text({ name: "dir" }).pipe(
  Args.withDescription(
    "The other store: a directory (e.g. a mounted share or a CI cache), created by push if missing; or a shared " +
      "remote, s3://bucket/prefix (credentials, region and endpoint from the AWS environment: AWS_ENDPOINT_URL for MinIO and friends)"
  )
)

/** Where the other store is: a directory (a path, or a file:// URL), or a remote (s3://). */
const destination = (arg: string): Effect.Effect<{ readonly dir: string } | { readonly url: string }, StoreError> =>
  /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(arg)
    ? Effect.try({
        try: () => {
          const u = parseRemoteUrl(arg)
          return u._tag === "dir" ? { dir: u.path } : { url: arg }
        },
        catch: (e) => new StoreError({ message: (e as Error).message })
      })
    : Effect.succeed({ dir: resolve(arg) })

const remoteStore = (url: string, create: boolean) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => openRemote(url, { create }),
      catch: (e) => new StoreError({ message: (e as Error).message })
    }),
    (r) => Effect.sync(() => r.close())
  )

const attempt = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: (e) => new StoreError({ message: (e as Error).message }) })

const summaryLine = (verb: "pushed" | "pulled", copied: number, present: number, blobs: number, n: number) =>
  `${copied} run${copied === 1 ? "" : "s"} ${verb}, ${present} already there; ` +
  `${blobs} blob${blobs === 1 ? "" : "s"} copied (${bytes(n)}), each verified by its hash`

const other = (path: string, create: boolean) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => openStore(path, { create }),
      catch: (e) => new StoreError({ message: `cannot open the store at ${path}: ${(e as Error).message}` })
    }),
    (s) => Effect.sync(() => s.close())
  )

/** The damaged blobs of the stages whose stored output in `store` is damaged. */
const damagedIn = (store: StoreApi, planned: ReadonlyArray<PlannedStage>) =>
  planned.flatMap((p) =>
    p.decision._tag === "Run" && p.decision.damagedOutput
      ? checkBlobs(store.root, store.records.blobsOf(p.decision.damagedOutput)).damaged.map((d) => ({ stage: p.id, ...d }))
      : []
  )

const damageError = (store: StoreApi, damaged: ReturnType<typeof damagedIn>) =>
  new StoreError({
    message: damaged
      .map((d) => `${d.stage}: blob ${d.hash.slice(0, 12)} in ${store.root} ${d.problem === "missing" ? "is missing" : "does not match its hash (corrupt)"}; run pipe verify there`)
      .join("\n")
  })

const transfer = (loaded: Loaded, targets: ReadonlyArray<string>, from: StoreApi, to: StoreApi, json: boolean, verb: "pushed" | "pulled") =>
  Effect.gen(function* () {
    const planned = yield* planRun(loaded, targets, from)
    const runs = cachedRuns(planned)
    const missing = planned.filter((p) => p.decision._tag !== "Cached").map((p) => ({ stage: p.id, ...planState(p) }))
    const report = yield* Effect.try({
      try: () => transferRuns(from, to, runs.map((r) => r.run)),
      catch: (e) => new StoreError({ message: (e as Error).message })
    })
    // A stage whose stored output is damaged in the source is an error, not merely something missing there.
    const damaged = damagedIn(from, planned)
    if (json) out(JSON.stringify({ event: verb.replace("ed", ""), ...report, missing }))
    else {
      for (const c of report.copied) out(`${verb} ${c.stage} (run #${c.from} -> #${c.to})`)
      for (const m of missing) out(`not ${verb}: ${m.stage} is ${m.state} in ${from.root} (${m.reason})`)
      out(summaryLine(verb, report.copied.length, report.present.length, report.blobs, report.bytes))
    }
    if (damaged.length > 0) return yield* damageError(from, damaged)
  })

const renderRemote = (
  verb: "pushed" | "pulled",
  remote: Remote,
  report: RemoteTransferReport,
  missing: ReadonlyArray<{ stage: string; state: string; reason: string; where: string }>,
  json: boolean
) => {
  if (json) out(JSON.stringify({ event: verb.replace("ed", ""), remote: remote.url, ...report, missing }))
  else {
    for (const c of report.copied) {
      out(verb === "pushed" ? `pushed ${c.stage} (run #${c.run} -> runs/${c.key.slice(0, 12)})` : `pulled ${c.stage} (runs/${c.key.slice(0, 12)} -> run #${c.run})`)
    }
    for (const m of missing) out(`not ${verb}: ${m.stage} is ${m.state} in ${m.where} (${m.reason})`)
    out(summaryLine(verb, report.copied.length, report.present.length, report.blobs, report.bytes))
  }
}

/** Push to a remote: every run this pipeline's up-to-date stages use, with their blobs. */
const pushRemote = (loaded: Loaded, targets: ReadonlyArray<string>, local: StoreApi, remote: Remote, json: boolean) =>
  Effect.gen(function* () {
    const planned = yield* planRun(loaded, targets, local)
    const runs = cachedRuns(planned)
    const report = yield* attempt(() => pushRuns(local, remote, runs.map((r) => r.run)))
    const missing = planned.filter((p) => p.decision._tag !== "Cached").map((p) => ({ stage: p.id, ...planState(p), where: local.root }))
    renderRemote("pushed", remote, report, missing, json)
    const damaged = damagedIn(local, planned)
    if (damaged.length > 0) return yield* damageError(local, damaged)
  })

/**
 * Pull from a remote: plan against this store, fetch the run of every stage whose key is known and not cached
 * here, and plan again, since a stage's key is known only once its inputs' outputs are; until nothing new comes.
 */
const pullRemote = (loaded: Loaded, targets: ReadonlyArray<string>, local: StoreApi, remote: Remote, json: boolean) =>
  Effect.gen(function* () {
    const first = yield* planRun(loaded, targets, local)
    const present = first.flatMap((p) => (p.decision._tag === "Cached" ? [{ stage: p.id, run: p.decision.run.id, key: p.decision.key as string }] : []))
    const copied: Array<RemoteTransferReport["copied"][number]> = []
    // Each key is asked for once: a run that does not count as cached after it came (damaged again) stays missing.
    const tried = new Set<string>()
    let blobs = 0
    let n = 0
    let planned = first
    for (;;) {
      const todo = planned.flatMap((p) => (p.decision._tag === "Run" && !tried.has(p.decision.key) ? [{ stage: p.id, key: p.decision.key as string }] : []))
      if (todo.length === 0) break
      for (const t of todo) {
        tried.add(t.key)
        const got = yield* attempt(() => pullRun(local, remote, t.key))
        if (!got) continue
        copied.push({ stage: t.stage, run: got.run, key: t.key })
        blobs += got.blobs
        n += got.bytes
      }
      planned = yield* planRun(loaded, targets, local)
    }
    const missing = planned
      .filter((p) => p.decision._tag !== "Cached")
      .map((p) => {
        const s = planState(p)
        return s.state === "stale"
          ? { stage: p.id, ...s, state: "missing", reason: `no run with key ${s.key!.slice(0, 12)} there`, where: remote.url }
          : { stage: p.id, ...s, where: local.root }
      })
    renderRemote("pulled", remote, { copied, present, blobs, bytes: n }, missing, json)
  })

const transferCommand = (name: "push" | "pull", description: string) =>
  Command.make(name, { file: O.file, store: O.store, json: O.json, set: O.set, dir, stages: O.stages }, (a) =>
    Effect.gen(function* () {
      const loaded = yield* O.load(a.file, a.set, a.stages)
      yield* O.checkTargets(loaded, a.stages)
      yield* Effect.scoped(
        Effect.gen(function* () {
          const local = yield* Store
          const where = yield* destination(a.dir)
          if ("url" in where) {
            const remote = yield* remoteStore(where.url, name === "push")
            if (name === "push") yield* pushRemote(loaded, a.stages, local, remote, a.json)
            else yield* pullRemote(loaded, a.stages, local, remote, a.json)
            return
          }
          const remote = yield* other(where.dir, name === "push")
          if (name === "push") yield* transfer(loaded, a.stages, local, remote, a.json, "pushed")
          else yield* transfer(loaded, a.stages, remote, local, a.json, "pulled")
        })
      ).pipe(Effect.provide(O.withStore(loaded, a.store)))
    }).pipe(Effect.catchAll(renderError(a.json)))
  ).pipe(Command.withDescription(description))

export const pushCommand = transferCommand(
  "push",
  "Copy the runs and blobs this pipeline's up-to-date stages use into another store directory or an s3:// remote, verifying every blob's hash."
)

export const pullCommand = transferCommand(
  "pull",
  "Copy from another store directory or an s3:// remote the runs and blobs this pipeline needs, verifying every blob's hash, so the next pipe run reuses them instead of recomputing."
)
