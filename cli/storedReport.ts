/**
 * `pipe report RUN` for an analyze run: its report is already in the store, so its files (report.html,
 * summary.md, report.json, figures/) are copied out instead of computed again (PCA and t-SNE are most of a
 * report's time). The artifact is checked first; a damaged one is quarantined (so the analyze stage runs
 * again next time) and the caller rebuilds the report from the run's inputs instead.
 */
import { chmodSync, copyFileSync, existsSync, readFileSync, renameSync, rmSync } from "node:fs"
import { dirname, join } from "node:path"
import { materialize } from "../artifacts/blobs.js"
import { ensureDir } from "../artifacts/ensureDir.js"
import type { Queries } from "../cache/queries.js"
import type { RunInfo } from "../cache/runInfo.js"
import type { StoreApi } from "../cache/store.js"

/** The report artifact of an analyze run, when the run succeeded and its output is still in the store. */
export const storedReportOf = (q: Queries, run: RunInfo): string | undefined =>
  run.kind === "analyze" && run.status === "ok" && run.output && q.artifact(run.output)?.type === "report" ? run.output : undefined

/** What the stored report says of itself (its report.json), as far as `pipe report --json` repeats it. */
export interface StoredReport {
  readonly files: ReadonlyArray<string>
  readonly figures: ReadonlyArray<string>
  readonly table: ReadonlyArray<unknown>
  readonly provenance: unknown
}

/**
 * Copies the artifact's files into `out` (made through the store's materialize in `work`, then copied so that
 * the user's copies are writable and a later report can replace them). Returns undefined, copying nothing, when
 * the artifact is damaged; `damaged` then says how.
 */
export const copyStoredReport = (
  store: StoreApi,
  artifact: string,
  out: string,
  work: string,
  damaged: (problems: string) => void
): StoredReport | undefined => {
  const problems = store.repair(artifact)
  if (problems.length > 0) {
    damaged(problems.map((p) => `blob ${p.hash.slice(0, 12)} ${p.problem}`).join(", "))
    return undefined
  }
  const copy = materialize(store.root, store.records.files(artifact), join(work, "stored"))
  for (const f of copy.files) {
    const dest = join(out, ...f.entry.path.split("/"))
    ensureDir(dirname(dest))
    const tmp = `${dest}.pipe-report-${process.pid}`
    copyFileSync(f.abs, tmp)
    chmodSync(tmp, 0o644)
    // A link at the destination is replaced, never written through.
    rmSync(dest, { force: true })
    renameSync(tmp, dest)
  }
  const about = join(out, "report.json")
  const json = existsSync(about) ? (JSON.parse(readFileSync(about, "utf8")) as { figures?: Array<{ id: string }>; table?: Array<unknown>; provenance?: unknown }) : {}
  return {
    files: copy.files.map((f) => f.entry.path),
    figures: (json.figures ?? []).map((f) => f.id),
    table: json.table ?? [],
    provenance: json.provenance ?? null
  }
}
