/** `pipe gc` and `pipe verify`: reclaiming space from what nothing needs, and checking every stored byte. */
import { Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Effect, Option } from "effect"
import { cachedRuns } from "../pipelines/plan.js"
import { planRun } from "../pipelines/runner.js"
import { ExitCode, setExitCode } from "./exitCodes.js"
import { bytes, short, table, when } from "./format.js"
import * as O from "./options.js"
import { renderError } from "./render.js"

const out = (line: string) => process.stdout.write(`${line}\n`)

const keepLast = O.integerAtLeast("keep-last", 0, "Also keep the last N runs of every stage, whatever their status").pipe(
  Options.withDefault(1)
)
const dryRun = Options.boolean("dry-run").pipe(Options.withDescription("List what would be removed (runs, artifacts, blobs, sweeps); remove nothing"))
const dropSweeps = Options.boolean("drop-sweeps").pipe(
  Options.withDescription("Drop every sweep's record and stop keeping the runs its points used (default: sweeps keep their runs)")
)

const UNITS: Record<string, number> = { s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** `30d`, `12h`, `2w`, `90m`, `45s`, as milliseconds. */
export const parseAge = (text: string): number | undefined => {
  const m = /^(\d+(?:\.\d+)?)\s*(s|min|m|h|d|w)$/.exec(text.trim())
  return m ? Number(m[1]) * UNITS[m[2]!]! : undefined
}

const olderThan = Options.text("older-than").pipe(
  Options.withDescription(
    "Drop the sweeps created more than this long ago, and stop keeping the runs of experiments that old, e.g. 30d, 12h, 2w (s, m, h, d, w); " +
      "their runs go unless something else keeps them"
  ),
  Options.mapEffect((t) => {
    const ms = parseAge(t)
    return ms === undefined
      ? Effect.fail(ValidationError.invalidValue(HelpDoc.p(`pipe: --older-than takes an age such as 30d, 12h or 2w (units s, m, h, d, w), got '${t}'`)))
      : Effect.succeed(ms)
  }),
  Options.optional
)

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

export const gcCommand = Command.make("gc", { file: O.file, store: O.store, json: O.json, set: O.set, keepLast, dryRun, dropSweeps, olderThan }, (a) =>
  Effect.gen(function* () {
    yield* O.withQueries(a.file, a.store, ({ store, loaded }) => Effect.gen(function* () {
      const needed = loaded ? cachedRuns(yield* planRun(loaded, [], store)).map((c) => c.run) : []
      const r = store.gc({
        keepLast: a.keepLast,
        dryRun: a.dryRun,
        needed,
        dropSweeps: a.dropSweeps,
        ...(Option.isSome(a.olderThan) ? { sweepsBefore: Date.now() - a.olderThan.value } : {})
      })
      if (a.json) return out(JSON.stringify({ event: "gc", ...r }))
      const verb = r.dryRun ? "would remove" : "removed"
      // A dry run lists every run and sweep that would go; a real one names the sweeps it dropped.
      if (r.dryRun && r.runs.length > 0) {
        out(`${verb} ${plural(r.runs.length, "run")}:`)
        for (const l of table(["  run", "stage", "kind", "status", "started"], r.runs.map((x) => [`  #${x.id}`, x.stage, x.kind, x.status, when(x.startedAt)]))) out(l)
      }
      if (r.sweeps.length > 0) {
        out(`${r.dryRun ? "would drop" : "dropped"} ${plural(r.sweeps.length, "sweep")}:`)
        for (const l of table(["  sweep", "created", "command"], r.sweeps.map((x) => [`  ${x.id}`, when(x.createdAt), x.command]))) out(l)
      }
      const why = [
        r.keptForSweeps > 0 ? `${r.keptForSweeps} used by sweeps` : "",
        r.keptForExperiments > 0 ? `${r.keptForExperiments} used by named or tagged experiments` : "",
        r.keptPinned > 0 ? `${r.keptPinned} pinned` : ""
      ].filter(Boolean)
      out(
        `${verb} ${plural(r.removedRuns, "run")}, ${plural(r.removedArtifacts, "artifact")} (${bytes(r.artifactBytes)}), ` +
          `${plural(r.removedBlobs, "blob")} (${bytes(r.freedBytes)}); kept ${plural(r.keptRuns, "run")}` +
          (why.length ? ` (${why.join(", ")}, with what made their inputs)` : "")
      )
      if (r.keptForSweeps > 0 && !a.dropSweeps && Option.isNone(a.olderThan)) out("sweeps keep their runs: pipe gc --drop-sweeps (or --older-than 30d) lets them go")
      if (r.blobsDeferred) out("blob files were left alone: a pipe run is in progress on this store; run pipe gc again when it ends")
    }), a.set)
  }).pipe(Effect.catchAll(renderError(a.json)))
).pipe(
  Command.withDescription(
    "Remove runs, artifacts and blobs that nothing needs. Kept: what the current pipeline reuses, each stage's latest run (--keep-last N), " +
      "runs in progress, pinned runs (pipe pin), every run a recorded sweep used (unless --drop-sweeps or --older-than AGE drops the sweep), " +
      "the runs of named or tagged experiments (unless older than --older-than; their params and figures stay listed by pipe exps), " +
      "and everything that produced their inputs. --dry-run lists what would go. Blob files are left alone while a run is in progress."
  )
)

export const verifyCommand = Command.make("verify", { file: O.file, store: O.store, json: O.json }, (a) =>
  Effect.gen(function* () {
    yield* O.withQueries(a.file, a.store, ({ store }) => Effect.gen(function* () {
      const tty = process.stderr.isTTY && !a.json
      let last = 0
      const r = store.verify((done, total) => {
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
