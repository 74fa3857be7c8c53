/**
 * Keeping a store healthy: `gc` removes runs, artifacts and blobs nothing kept needs; `verify` rehashes every
 * blob and quarantines the ones whose content no longer matches their name, marking the runs that made them
 * damaged so the next `pipe run` rebuilds them.
 *
 * gc keeps: runs in progress, each stage's head (what the pipeline last ran or restored), the runs given as
 * needed by the caller (the current pipeline's cache hits), the last N runs of every stage, pinned runs, every
 * run a recorded sweep's points used (unless the sweep is dropped: all of them, or those created before a
 * time), the runs of named or tagged experiments (unless created before that time), and, recursively, the runs that produced the inputs of anything kept (so lineage stays whole).
 * Records go first, in one transaction; files after, so a crash leaves only unreferenced files for the next gc.
 */
import { existsSync, lstatSync, readdirSync, rmSync, statSync } from "node:fs"
import { join } from "node:path"
import { checkBlobs, quarantine, STAGING } from "../artifacts/blobs.js"
import type { BlobStat } from "../artifacts/blobs.js"
import type { Db } from "./db.js"
import { isAlive } from "./liveness.js"
import { logFile, seriesFile, type Records } from "./records.js"

/** What upkeep works on: the store's directory, its database, and its records. */
export interface UpkeepParts {
  readonly root: string
  readonly db: Db
  readonly records: Records
}

export interface GcOptions {
  readonly keepLast: number
  readonly dryRun: boolean
  /** Runs the current pipeline needs (its cache hits). */
  readonly needed: ReadonlyArray<number>
  /** Drop every sweep's record, and stop keeping the runs its points used. */
  readonly dropSweeps?: boolean
  /** Drop the sweeps created before this time (ms since the epoch), and stop keeping older experiments' runs. */
  readonly sweepsBefore?: number
}

/** A run gc removes (or would remove). */
export interface GcRun {
  readonly id: number
  readonly pipeline: string
  readonly stage: string
  readonly kind: string
  readonly status: string
  readonly startedAt: number
}

/** An artifact gc removes (or would remove); size is the sum of its files'. */
export interface GcArtifact {
  readonly hash: string
  readonly type: string
  readonly size: number
}

export interface GcSweep {
  readonly id: number
  readonly command: string
  readonly createdAt: number
}

export interface GcReport {
  readonly dryRun: boolean
  readonly keptRuns: number
  readonly removedRuns: number
  readonly removedArtifacts: number
  readonly removedBlobs: number
  readonly freedBytes: number
  /** Blob files left because a run was in progress (it may be writing or reusing them). */
  readonly blobsDeferred: boolean
  readonly removedLogs: number
  /** What goes, by name: the runs, the artifacts (with their total size) and the sweeps dropped. */
  readonly runs: ReadonlyArray<GcRun>
  readonly artifacts: ReadonlyArray<GcArtifact>
  readonly artifactBytes: number
  readonly sweeps: ReadonlyArray<GcSweep>
  /** Why runs were kept: used by the sweeps kept, pinned (each also keeps what produced its inputs). */
  readonly keptForSweeps: number
  readonly keptPinned: number
  /** Runs kept because a named or tagged experiment used them. */
  readonly keptForExperiments: number
}

const ids = (rows: ReadonlyArray<{ id: number }>) => rows.map((r) => r.id)

/** The sweeps gc drops: all of them with dropSweeps, else those created before sweepsBefore. */
const droppedSweeps = (store: UpkeepParts, o: GcOptions): Array<GcSweep> =>
  store.db
    .prepare<[number], { id: number; command: string; created_at: number }>(
      "SELECT id, command, created_at FROM sweeps WHERE created_at < ? ORDER BY id"
    )
    .all(o.dropSweeps ? Number.MAX_SAFE_INTEGER : (o.sweepsBefore ?? 0))
    .map((s) => ({ id: s.id, command: s.command, createdAt: s.created_at }))

/** The runs gc keeps, closed over the producers of their inputs, and how many it kept for sweeps and pins. */
const keptRuns = (
  store: UpkeepParts,
  o: GcOptions,
  dropped: ReadonlyArray<GcSweep>
): { kept: Set<number>; forSweeps: number; pinned: number; forExperiments: number } => {
  const db = store.db
  const forSweeps = ids(
    db
      .prepare<[string], { id: number }>(
        "SELECT DISTINCT run_id AS id FROM sweep_point_runs WHERE sweep_id NOT IN (SELECT value FROM json_each(?))"
      )
      .all(JSON.stringify(dropped.map((d) => d.id)))
  )
  const pinned = ids(db.prepare<[], { id: number }>("SELECT DISTINCT run_id AS id FROM pins").all())
  // Named and tagged experiments keep their runs, unless they are older than the age given (their records stay).
  const forExperiments = ids(
    db
      .prepare<[number], { id: number }>(
        `SELECT DISTINCT x.run_id AS id FROM experiment_runs x JOIN experiments e ON e.id = x.experiment
         WHERE e.sweep_id IS NULL AND e.created_at >= ?
           AND (e.name IS NOT NULL OR EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment = e.id))`
      )
      .all(o.sweepsBefore ?? 0)
  )
  const kept = new Set<number>([
    ...forSweeps,
    ...pinned,
    ...forExperiments,
    ...ids(db.prepare<[], { id: number }>("SELECT id FROM runs WHERE status = 'running'").all()),
    ...ids(db.prepare<[], { id: number }>("SELECT run_id AS id FROM heads").all()),
    ...ids(
      db
        .prepare<[number], { id: number }>(
          `SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY pipeline, stage ORDER BY id DESC) AS n FROM runs)
           WHERE n <= ?`
        )
        .all(o.keepLast)
    ),
    ...o.needed
  ])
  const inputsOf = db.prepare<[number], { artifact: string }>("SELECT artifact FROM edges WHERE run_id = ? AND role = 'input'")
  const recordOf = db.prepare<[number], { record: string }>("SELECT record FROM runs WHERE id = ?")
  const producer = db.prepare<[string], { id: number }>(
    "SELECT id FROM runs WHERE output = ? AND status IN ('ok', 'damaged') ORDER BY status = 'ok' DESC, id DESC LIMIT 1"
  )
  const queue = [...kept]
  while (queue.length > 0) {
    const id = queue.pop()!
    const inputs = new Set(inputsOf.all(id).map((e) => e.artifact))
    // A run in progress has no input edges yet: its key record names them.
    const rec = recordOf.get(id)
    if (rec) for (const h of Object.values((JSON.parse(rec.record) as { inputs: Record<string, string> }).inputs)) inputs.add(h)
    for (const a of inputs) {
      const p = producer.get(a)
      if (p && !kept.has(p.id)) {
        kept.add(p.id)
        queue.push(p.id)
      }
    }
  }
  return { kept, forSweeps: forSweeps.length, pinned: pinned.length, forExperiments: forExperiments.length }
}

const liveRuns = (store: UpkeepParts): number =>
  store.db
    .prepare<[], { pid: number; pstart: string | null; host: string | null }>("SELECT pid, pstart, host FROM runs WHERE status = 'running'")
    .all()
    .filter((r) => isAlive(r.pid, r.pstart, r.host)).length

/**
 * Every file under blobs/, by name (a blob's name is its hash; leftovers of interrupted writes have suffixes),
 * and the staging files of blobs being written (blobs/.in-<pid>-...).
 */
const blobFiles = (root: string): Array<{ name: string; path: string }> => {
  const dir = join(root, "blobs")
  const out: Array<{ name: string; path: string }> = []
  for (const sub of readdirSync(dir)) {
    const subDir = join(dir, sub)
    if (sub.startsWith(STAGING)) out.push({ name: sub, path: subDir })
    if (!lstatSync(subDir).isDirectory()) continue
    for (const name of readdirSync(subDir)) out.push({ name, path: join(subDir, name) })
  }
  return out
}

/** Whether the process writing a temporary file (`<hash>.tmp-<pid>`, `.in-<pid>-<random>`) is alive. */
const tmpOwnerAlive = (name: string): boolean => {
  const m = /\.tmp-(\d+)$/.exec(name) ?? new RegExp(`^\\${STAGING}(\\d+)-`).exec(name)
  return m ? isAlive(Number(m[1]), null) : false
}

const size = (path: string): number => {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

/**
 * The directory `--executor process` exchanges jobs, results and blobs through when given no remote: a remote
 * inside the store, holding copies only. gc empties it when no run is in progress.
 */
export const EXCHANGE = "exchange"

export const gc = (store: UpkeepParts, o: GcOptions): GcReport => {
  const db = store.db
  let report: Omit<GcReport, "removedBlobs" | "freedBytes" | "blobsDeferred" | "removedLogs"> & { logs: Array<string>; series: Array<string> } = {
    dryRun: o.dryRun,
    keptRuns: 0,
    removedRuns: 0,
    removedArtifacts: 0,
    runs: [],
    artifacts: [],
    artifactBytes: 0,
    sweeps: [],
    keptForSweeps: 0,
    keptPinned: 0,
    keptForExperiments: 0,
    logs: [],
    series: []
  }
  db.exec("CREATE TEMP TABLE IF NOT EXISTS gc_keep (id INTEGER PRIMARY KEY)")
  db.exec("CREATE TEMP TABLE IF NOT EXISTS gc_keep_artifacts (hash TEXT PRIMARY KEY)")
  const records = db.transaction(() => {
    db.exec("DELETE FROM gc_keep; DELETE FROM gc_keep_artifacts")
    const dropped = droppedSweeps(store, o)
    const { kept, forSweeps, pinned, forExperiments } = keptRuns(store, o, dropped)
    const keep = db.prepare("INSERT OR IGNORE INTO gc_keep (id) VALUES (?)")
    for (const id of kept) keep.run(id)
    db.exec(`INSERT OR IGNORE INTO gc_keep_artifacts (hash)
             SELECT output FROM runs WHERE id IN (SELECT id FROM gc_keep) AND output IS NOT NULL
             UNION SELECT artifact FROM edges WHERE run_id IN (SELECT id FROM gc_keep)`)
    // In-progress runs name their inputs only in their key record.
    const running = db.prepare<[], { record: string }>("SELECT record FROM runs WHERE status = 'running'").all()
    const keepArtifact = db.prepare("INSERT OR IGNORE INTO gc_keep_artifacts (hash) VALUES (?)")
    for (const r of running) for (const h of Object.values((JSON.parse(r.record) as { inputs: Record<string, string> }).inputs)) keepArtifact.run(h)

    const doomed = db
      .prepare<[], { id: number; pipeline: string; stage: string; kind: string; status: string; started_at: number }>(
        "SELECT id, pipeline, stage, kind, status, started_at FROM runs WHERE id NOT IN (SELECT id FROM gc_keep) ORDER BY id"
      )
      .all()
    const doomedArtifacts = db
      .prepare<[], GcArtifact>("SELECT hash, type, size FROM artifacts WHERE hash NOT IN (SELECT hash FROM gc_keep_artifacts) ORDER BY created_at, hash")
      .all()
    report = {
      ...report,
      keptRuns: kept.size,
      removedRuns: doomed.length,
      removedArtifacts: doomedArtifacts.length,
      runs: doomed.map((d) => ({ id: d.id, pipeline: d.pipeline, stage: d.stage, kind: d.kind, status: d.status, startedAt: d.started_at })),
      artifacts: doomedArtifacts,
      artifactBytes: doomedArtifacts.reduce((n, a) => n + a.size, 0),
      sweeps: dropped,
      keptForSweeps: forSweeps,
      keptPinned: pinned,
      keptForExperiments: forExperiments,
      // A run's log is logs/<id>.log in this store; the recorded path may name another place (a store that
      // was copied or moved, or a hand-edited database), which gc must never touch.
      logs: doomed.map((d) => logFile(store.root, d.id)).filter((p) => existsSync(p)),
      // The series of figures a run's stage wrote lives beside its log, and goes with it.
      series: doomed.map((d) => seriesFile(store.root, d.id)).filter((p) => existsSync(p))
    }
    if (o.dryRun) return
    // A dropped sweep leaves one line, so that a report on it can say what became of it.
    const tombstone = db.prepare(
      `INSERT OR REPLACE INTO dropped_sweeps (id, pipeline, command, created_at, dropped_at)
       SELECT id, pipeline, command, created_at, ? FROM sweeps WHERE id = ?`
    )
    const forget = [
      db.prepare("DELETE FROM sweep_point_runs WHERE sweep_id = ?"),
      db.prepare("DELETE FROM sweep_points WHERE sweep_id = ?"),
      db.prepare("DELETE FROM sweeps WHERE id = ?")
    ]
    const now = Date.now()
    for (const d of dropped) {
      tombstone.run(now, d.id)
      for (const f of forget) f.run(d.id)
    }
    db.exec(`DELETE FROM edges WHERE run_id NOT IN (SELECT id FROM gc_keep);
             DELETE FROM sweep_point_runs WHERE run_id NOT IN (SELECT id FROM gc_keep);
             DELETE FROM pins WHERE run_id NOT IN (SELECT id FROM gc_keep);
             DELETE FROM runs WHERE id NOT IN (SELECT id FROM gc_keep);
             DELETE FROM artifact_files WHERE artifact NOT IN (SELECT hash FROM gc_keep_artifacts);
             DELETE FROM artifacts WHERE hash NOT IN (SELECT hash FROM gc_keep_artifacts);
             DELETE FROM blobs WHERE hash NOT IN (SELECT blob FROM artifact_files);`)
  })
  records.immediate()

  // Files: blobs no kept artifact references (in a dry run: those that would be unreferenced).
  const referenced = new Set(
    (o.dryRun
      ? db.prepare<[], { blob: string }>(
          "SELECT DISTINCT blob FROM artifact_files WHERE artifact IN (SELECT hash FROM gc_keep_artifacts)"
        )
      : db.prepare<[], { blob: string }>("SELECT DISTINCT blob FROM artifact_files")
    )
      .all()
      .map((r) => r.blob)
  )
  const blobsDeferred = liveRuns(store) > 0
  let removedBlobs = 0
  let freedBytes = 0
  if (!blobsDeferred) {
    for (const f of blobFiles(store.root)) {
      if (referenced.has(f.name) || tmpOwnerAlive(f.name)) continue
      removedBlobs++
      freedBytes += size(f.path)
      if (!o.dryRun) rmSync(f.path, { force: true })
    }
  }
  if (!blobsDeferred && !o.dryRun) rmSync(join(store.root, EXCHANGE), { recursive: true, force: true })
  let removedLogs = 0
  if (!o.dryRun) {
    for (const log of report.logs) {
      rmSync(log, { force: true })
      removedLogs++
    }
    for (const series of report.series) rmSync(series, { force: true })
  } else removedLogs = report.logs.length
  db.exec("DELETE FROM gc_keep; DELETE FROM gc_keep_artifacts")
  const { logs: _logs, series: _series, ...rest } = report
  return { ...rest, removedBlobs, freedBytes, blobsDeferred, removedLogs }
}

export interface VerifyProblem {
  readonly blob: string
  readonly problem: "missing" | "corrupt"
  /** Artifacts that contain the blob: the runs that made them are marked damaged. */
  readonly artifacts: ReadonlyArray<string>
}

export interface VerifyReport {
  readonly blobs: number
  readonly bytes: number
  readonly problems: ReadonlyArray<VerifyProblem>
  /** Runs whose output held a damaged blob. */
  readonly damagedRuns: number
  /** Runs that read a corrupt blob after it was last known good: they may have read the damaged bytes. */
  readonly invalidatedRuns: number
}

/**
 * Rehashes every recorded blob. A corrupt one is quarantined; the runs whose outputs held it are marked
 * damaged, and so are the runs that read it as an input since it was last known good (hashed and found
 * intact): they may have computed from the damaged bytes. The next pipe run rebuilds all of them.
 */
export const verify = (store: UpkeepParts, progress: (done: number, total: number) => void = () => {}): VerifyReport => {
  const db = store.db
  const blobs = db
    .prepare<[], { hash: string; size: number; verified_at: number | null }>("SELECT hash, size, verified_at FROM blobs ORDER BY hash")
    .all()
  const total = blobs.reduce((s, b) => s + b.size, 0)
  const problems: Array<VerifyProblem & { since: number }> = []
  const artifactsOf = db.prepare<[string], { artifact: string }>("SELECT DISTINCT artifact FROM artifact_files WHERE blob = ?")
  let done = 0
  const intact: Array<BlobStat> = []
  for (const b of blobs) {
    // A record without a stat to match forces the rehash.
    const { damaged, touched } = checkBlobs(store.root, [{ hash: b.hash, size: b.size, mtimeNs: "", ctimeNs: null, ino: null }])
    intact.push(...touched)
    done += b.size
    progress(done, total)
    if (damaged[0]) {
      problems.push({ blob: b.hash, problem: damaged[0].problem, artifacts: artifactsOf.all(b.hash).map((a) => a.artifact), since: b.verified_at ?? 0 })
    }
  }
  store.records.refreshBlobs(intact)
  let damagedRuns = 0
  let invalidatedRuns = 0
  const invalidate = db.prepare(
    `UPDATE runs SET status = 'damaged', error = ?
     WHERE status = 'ok' AND started_at >= ? AND id IN (SELECT run_id FROM edges WHERE role = 'input' AND artifact = ?)`
  )
  db.transaction(() => {
    for (const p of problems) {
      if (p.problem === "corrupt") quarantine(store.root, p.blob)
      for (const a of p.artifacts) damagedRuns += store.records.markDamaged(a)
      if (p.problem !== "corrupt") continue
      const why = `it read blob ${p.blob.slice(0, 12)}, which pipe verify later found corrupt, after it was last known good`
      for (const a of p.artifacts) invalidatedRuns += invalidate.run(why, p.since, a).changes
    }
  }).immediate()
  return { blobs: blobs.length, bytes: total, problems: problems.map(({ since: _, ...p }) => p), damagedRuns, invalidatedRuns }
}
