/** `pipe push DIR` / `pipe pull DIR`: copy what a pipeline needs between this store and another one. */
import { Args, Command } from "@effect/cli"
import { Effect } from "effect"
import { resolve } from "node:path"
import { checkBlobs } from "../artifacts/blobs.js"
import { openStore, Store, type StoreApi } from "../cache/store.js"
import { transferRuns } from "../cache/transfer.js"
import { StoreError } from "../pipelines/errors.js"
import type { Loaded } from "../pipelines/loader.js"
import { cachedRuns } from "../pipelines/plan.js"
import { planRun } from "../pipelines/runner.js"
import { bytes } from "./format.js"
import * as O from "./options.js"
import { planState } from "./planText.js"
import { renderError } from "./render.js"

const out = (line: string) => process.stdout.write(`${line}\n`)

const dir = Args.text({ name: "dir" }).pipe(
  Args.withDescription("The other store: a directory (e.g. a mounted share or a CI cache), created by push if missing")
)

const other = (path: string, create: boolean) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => openStore(path, { create }),
      catch: (e) => new StoreError({ message: `cannot open the store at ${path}: ${(e as Error).message}` })
    }),
    (s) => Effect.sync(() => s.close())
  )

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
    const damaged = planned.flatMap((p) =>
      p.decision._tag === "Run" && p.decision.damagedOutput
        ? checkBlobs(from.root, from.records.blobsOf(p.decision.damagedOutput)).damaged.map((d) => ({ stage: p.id, ...d }))
        : []
    )
    if (json) out(JSON.stringify({ event: verb.replace("ed", ""), ...report, missing }))
    else {
      for (const c of report.copied) out(`${verb} ${c.stage} (run #${c.from} -> #${c.to})`)
      for (const m of missing) out(`not ${verb}: ${m.stage} is ${m.state} in ${from.root} (${m.reason})`)
      out(
        `${report.copied.length} run${report.copied.length === 1 ? "" : "s"} ${verb}, ${report.present.length} already there; ` +
          `${report.blobs} blob${report.blobs === 1 ? "" : "s"} copied (${bytes(report.bytes)}), each verified by its hash`
      )
    }
    if (damaged.length > 0) {
      return yield* new StoreError({
        message: damaged
          .map((d) => `${d.stage}: blob ${d.hash.slice(0, 12)} in ${from.root} ${d.problem === "missing" ? "is missing" : "does not match its hash (corrupt)"}; run pipe verify there`)
          .join("\n")
      })
    }
  })

const transferCommand = (name: "push" | "pull", description: string) =>
  Command.make(name, { file: O.file, store: O.store, json: O.json, set: O.set, dir, stages: O.stages }, (a) =>
    Effect.gen(function* () {
      const loaded = yield* O.load(a.file, a.set, a.stages)
      yield* O.checkTargets(loaded, a.stages)
      yield* Effect.scoped(
        Effect.gen(function* () {
          const local = yield* Store
          const remote = yield* other(resolve(a.dir), name === "push")
          if (name === "push") yield* transfer(loaded, a.stages, local, remote, a.json, "pushed")
          else yield* transfer(loaded, a.stages, remote, local, a.json, "pulled")
        })
      ).pipe(Effect.provide(O.withStore(loaded, a.store)))
    }).pipe(Effect.catchAll(renderError(a.json)))
  ).pipe(Command.withDescription(description))

export const pushCommand = transferCommand(
  "push",
  "Copy the runs and blobs this pipeline's up-to-date stages use into another store directory, verifying every blob's hash."
)

export const pullCommand = transferCommand(
  "pull",
  "Copy from another store directory the runs and blobs this pipeline needs, verifying every blob's hash, so the next pipe run reuses them instead of recomputing."
)
