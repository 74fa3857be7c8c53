/** `pipe get REF [PATH] -o DIR`: copy an artifact's files (or one of them) out of the store. */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { chmodSync, copyFileSync, lstatSync, renameSync, rmSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { blobPath, checkBlobs } from "../artifacts/blobs.js"
import { ensureDir } from "../artifacts/ensureDir.js"
import { StoreError, UsageError } from "../pipelines/errors.js"
import { bytes, short } from "./format.js"
import { ref, resolveRef } from "./ref.js"
import * as O from "./options.js"
import { renderError } from "./render.js"

const pathArg = Args.text({ name: "path" }).pipe(
  Args.withDescription("A file of the artifact, or a folder in it (default: every file)"),
  Args.optional
)
const outDir = Options.text("output").pipe(
  Options.withAlias("o"),
  Options.withDescription("The directory to copy into (default: the current one); the artifact's layout is kept below it"),
  Options.withDefault(".")
)
const force = Options.boolean("force").pipe(Options.withDescription("Replace files that are already there"))

const out = (line: string) => process.stdout.write(`${line}\n`)

/** A path from a manifest that stays below the directory it is copied into. */
const safe = (p: string) => p.length > 0 && !p.startsWith("/") && p.split("/").every((s) => s !== "" && s !== "." && s !== "..")

const exists = (p: string) => {
  try {
    lstatSync(p)
    return true
  } catch {
    return false
  }
}

export const getCommand = Command.make(
  "get",
  {
    file: O.file,
    store: O.store,
    json: O.json,
    output: outDir,
    force,
    ref: ref.pipe(Args.withDescription("A run number (#12), stage id (its latest run), run key or artifact hash (4+ hex digits)")),
    path: pathArg
  },
  (a) =>
    Effect.gen(function* () {
      yield* O.withQueries(a.file, a.store, ({ q, store, pipeline }) =>
        Effect.gen(function* () {
          const t = yield* resolveRef(q, a.ref, pipeline)
          let artifact: string
          if (t._tag === "run") {
            const run = q.run(t.id)!
            if (!run.output) return yield* new UsageError({ message: `run #${run.id} (${run.stage}) has no output: it ${run.status === "running" ? "is still running" : run.status}` })
            artifact = run.output
          } else if (t.hashes.length > 1) {
            return yield* new UsageError({ message: `${a.ref} matches ${t.hashes.length} artifacts (${t.hashes.map(short).join(", ")}); give more of the hash` })
          } else artifact = t.hashes[0]!
          const files = store.records.files(artifact)
          const want = Option.getOrUndefined(a.path)?.replace(/^\.\/|\/+$/g, "")
          const chosen = want === undefined || want === "" ? files : files.filter((f) => f.path === want || f.path.startsWith(`${want}/`))
          if (chosen.length === 0) {
            return yield* new UsageError({
              message: `artifact ${short(artifact)} has no file ${want}; its files: ${files.map((f) => f.path).join(", ") || "(none)"}`
            })
          }
          const { damaged } = checkBlobs(store.root, store.records.blobsOf(artifact).filter((b) => chosen.some((f) => f.hash === b.hash)))
          if (damaged.length > 0) {
            return yield* new StoreError({
              message: `artifact ${short(artifact)} is damaged in the store (${damaged.map((d) => `blob ${short(d.hash)} ${d.problem}`).join(", ")}); pipe run rebuilds it`
            })
          }
          const root = resolve(a.output)
          const targets = chosen.map((f) => {
            if (!safe(f.path)) throw new Error(`bug: unsafe path in a manifest: ${f.path}`)
            return { f, dest: join(root, ...f.path.split("/")) }
          })
          const there = targets.filter((t) => exists(t.dest))
          if (there.length > 0 && !a.force) {
            return yield* new UsageError({
              message: `${there.map((t) => t.dest).slice(0, 3).join(", ")}${there.length > 3 ? ` and ${there.length - 3} more` : ""} already exist${there.length === 1 ? "s" : ""}; pass --force to replace, or -o another directory`
            })
          }
          for (const { f, dest } of targets) {
            yield* Effect.try({
              try: () => {
                ensureDir(dirname(dest))
                const tmp = `${dest}.pipe-get-${process.pid}`
                copyFileSync(blobPath(store.root, f.hash), tmp)
                chmodSync(tmp, f.exec ? 0o755 : 0o644)
                // A link at the destination is replaced, never written through.
                rmSync(dest, { force: true })
                renameSync(tmp, dest)
              },
              catch: (e) => new UsageError({ message: `cannot write ${dest}: ${(e as Error).message}` })
            })
            if (a.json) out(JSON.stringify({ event: "file", path: f.path, to: dest, size: f.size, hash: f.hash }))
            else out(`${dest} (${bytes(f.size)})`)
          }
          if (!a.json) out(`${targets.length} file${targets.length === 1 ? "" : "s"} of artifact ${short(artifact)} copied to ${root}`)
        })
      )
    }).pipe(Effect.catchAll(renderError(a.json)))
).pipe(
  Command.withDescription(
    "Copy an artifact's files out of the store: `pipe get train-mlp model.json -o out/` (a stage's latest output, a run, or an artifact hash). Files keep the artifact's layout below -o; existing files are kept unless --force."
  )
)
