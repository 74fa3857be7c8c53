/** `pipe gc` and `pipe verify`: reclaiming space from what nothing needs, and checking every stored byte. */
import { Command, Options } from "@effect/cli"
import { Effect } from "effect"
import { gc, verify } from "../cache/upkeep.js"
import { cachedRuns } from "../pipelines/plan.js"
import { planRun } from "../pipelines/runner.js"
import { ExitCode, setExitCode } from "./exitCodes.js"
import { bytes, short } from "./format.js"
import * as O from "./options.js"
import { renderError } from "./render.js"

const out = (line: string) => process.stdout.write(`${line}\n`)

const keepLast = O.integerAtLeast("keep-last", 0, "Also keep the last N runs of every stage, whatever their status").pipe(
  Options.withDefault(1)
)
const dryRun = Options.boolean("dry-run").pipe(Options.withDescription("Say what would be removed; remove nothing"))

export const gcCommand = Command.make("gc", { file: O.file, store: O.store, json: O.json, set: O.set, keepLast, dryRun }, (a) =>
  Effect.gen(function* () {
    yield* O.withQueries(a.file, a.store, ({ store, loaded }) => Effect.gen(function* () {
      const needed = loaded ? cachedRuns(yield* planRun(loaded, [], store)).map((c) => c.run) : []
      const r = gc(store, { keepLast: a.keepLast, dryRun: a.dryRun, needed })
      if (a.json) return out(JSON.stringify({ event: "gc", ...r }))
      const verb = r.dryRun ? "would remove" : "removed"
      out(
        `${verb} ${r.removedRuns} run${r.removedRuns === 1 ? "" : "s"}, ${r.removedArtifacts} artifact${r.removedArtifacts === 1 ? "" : "s"}, ` +
          `${r.removedBlobs} blob${r.removedBlobs === 1 ? "" : "s"} (${bytes(r.freedBytes)}); kept ${r.keptRuns} run${r.keptRuns === 1 ? "" : "s"}`
      )
      if (r.blobsDeferred) out("blob files were left alone: a pipe run is in progress on this store; run pipe gc again when it ends")
    }), a.set)
  }).pipe(Effect.catchAll(renderError(a.json)))
).pipe(
  Command.withDescription(
    "Remove runs, artifacts and blobs that nothing needs. Kept: what the current pipeline reuses, each stage's latest run (--keep-last N), " +
      "runs in progress, and everything that produced their inputs. Blob files are left alone while a run is in progress."
  )
)

export const verifyCommand = Command.make("verify", { file: O.file, store: O.store, json: O.json }, (a) =>
  Effect.gen(function* () {
    yield* O.withQueries(a.file, a.store, ({ store }) => Effect.gen(function* () {
      const tty = process.stderr.isTTY && !a.json
      let last = 0
      const r = verify(store, (done, total) => {
        const now = Date.now()
        if (tty && now - last > 200) {
          last = now
          process.stderr.write(`\rverifying ${bytes(done)} of ${bytes(total)}`)
        }
      })
      if (tty) process.stderr.write("\r\x1b[K")
      if (r.problems.length > 0) setExitCode(ExitCode.stageFailed)
      if (a.json) return out(JSON.stringify({ event: "verify", ...r }))
      for (const p of r.problems) {
        out(`${p.problem === "corrupt" ? "corrupt" : "missing"} blob ${p.blob} in artifact${p.artifacts.length === 1 ? "" : "s"} ${p.artifacts.map(short).join(", ")}${p.problem === "corrupt" ? " (moved to quarantine/)" : ""}`)
      }
      out(
        `checked ${r.blobs} blob${r.blobs === 1 ? "" : "s"} (${bytes(r.bytes)}): ` +
          (r.problems.length === 0
            ? "all intact"
            : `${r.problems.length} damaged; ${r.damagedRuns} run${r.damagedRuns === 1 ? "" : "s"} that made ${r.damagedRuns === 1 ? "it" : "them"} and ` +
              `${r.invalidatedRuns} run${r.invalidatedRuns === 1 ? "" : "s"} that read ${r.problems.length === 1 ? "it" : "them"} since ${r.problems.length === 1 ? "it was" : "they were"} last known good marked damaged; pipe run will rebuild them`)
      )
    }))
  }).pipe(Effect.catchAll(renderError(a.json)))
).pipe(
  Command.withDescription(
    "Rehash every blob in the store. A corrupt blob is moved to quarantine/; the runs whose outputs held it, and the runs that read it since it was last known good, are marked damaged, so the next pipe run rebuilds them. Exit 1 if anything was damaged."
  )
)
