/**
 * Run records in SQLite: what ran, with which key record, what it read and produced. Every write that
 * completes a run is one transaction, so a crash leaves either no record of success or a whole one.
 * All SQL is parameterised.
 */
import { join } from "node:path"
import type { BlobStat } from "../artifacts/blobs.js"
import type { FileEntry, Manifest } from "../artifacts/manifest.js"
import type { Db } from "./db.js"
import type { CacheKey, KeyRecord } from "./fingerprint.js"
import { isAlive, killGroupOf, self } from "./liveness.js"
import type { SweepSearch } from "./sweeps.js"

export type RunStatus = "running" | "ok" | "failed" | "interrupted" | "damaged"

export interface RunRow {
  readonly id: number
  readonly key: string
  readonly pipeline: string
  readonly stage: string
  readonly kind: string
  readonly status: RunStatus
  readonly reason: string | null
  readonly record: string
  readonly output: string | null
  readonly error: string | null
  readonly started_at: number
  readonly ended_at: number | null
  readonly duration_ms: number | null
  readonly log_path: string | null
  readonly metrics: string | null
  readonly host: string | null
  readonly pipe_version: string | null
  readonly git_commit: string | null
  /** Where the stage ran, when not on `host` (a cluster node), and the scheduler's job id. */
  readonly ran_on?: string | null
  readonly job_id?: string | null
}

export interface BeginRun {
  readonly key: CacheKey
  readonly pipeline: string
  readonly stage: string
  readonly kind: string
  readonly reason: string
  readonly record: KeyRecord
  /** Provenance beyond the key: which pipe ran it, at which commit of the workspace. */
  readonly pipeVersion?: string
  readonly gitCommit?: string | null
}

export interface Finished {
  readonly type: string
  readonly metrics?: Readonly<Record<string, unknown>>
  readonly manifest: Manifest
  readonly blobs: ReadonlyArray<BlobStat>
  readonly inputs: Readonly<Record<string, string>>
}

interface BlobRow {
  readonly hash: string
  readonly size: number
  readonly mtime_ns: string
  readonly ctime_ns: string | null
  readonly ino: string | null
}

const blobStat = (b: BlobRow): BlobStat => ({ hash: b.hash, size: b.size, mtimeNs: b.mtime_ns, ctimeNs: b.ctime_ns, ino: b.ino })

/**
 * Writes a blob's stat; `verified_at` moves only when the bytes were just hashed (a stat taken from a record
 * leaves it as it was).
 */
const BLOB_UPSERT = `INSERT INTO blobs (hash, size, mtime_ns, ctime_ns, ino, verified_at) VALUES (?, ?, ?, ?, ?, ?)
  ON CONFLICT (hash) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns,
    ino = excluded.ino, verified_at = coalesce(excluded.verified_at, blobs.verified_at)`

const blobParams = (b: BlobStat) => [b.hash, b.size, b.mtimeNs, b.ctimeNs, b.ino, b.verifiedAt ?? null] as const

interface ArtifactRow {
  readonly hash: string
  readonly type: string
  readonly size: number
  readonly file_count: number
  readonly created_at: number
}

/** A successful run as another store needs it (pipe push, pipe pull): its row, its edges, and its artifacts' files. */
export interface RunCopy {
  readonly run: RunRow & { readonly pid: number; readonly pstart: string | null }
  readonly edges: ReadonlyArray<{ readonly role: string; readonly name: string; readonly artifact: string }>
  /** Each artifact the run read or made, with its record (undefined when it is not recorded) and its files. */
  readonly artifacts: ReadonlyArray<{
    readonly hash: string
    readonly row: ArtifactRow | undefined
    readonly files: ReadonlyArray<{ readonly path: string; readonly blob: string; readonly size: number; readonly exec: number }>
  }>
}

/** Where a run's log lives in a store: always here, whatever path its record holds. */
export const logFile = (root: string, runId: number): string => join(root, "logs", `${runId}.log`)

/** Where a run's series of figures lives (the JSON lines its stage wrote to $PIPE_METRICS), beside its log. */
export const seriesFile = (root: string, runId: number): string => join(root, "logs", `${runId}.metrics.jsonl`)

export class Records {
  private readonly s

  constructor(private readonly db: Db) {
    this.s = {
      findOk: db.prepare<[string], RunRow>(
        "SELECT * FROM runs WHERE key = ? AND status = 'ok' ORDER BY id DESC LIMIT 1"
      ),
      head: db.prepare<[string, string], RunRow>(
        "SELECT r.* FROM heads h JOIN runs r ON r.id = h.run_id WHERE h.pipeline = ? AND h.stage = ?"
      ),
      lastOfKey: db.prepare<[string], RunRow>("SELECT * FROM runs WHERE key = ? ORDER BY id DESC LIMIT 1"),
      setHead: db.prepare("INSERT OR REPLACE INTO heads (pipeline, stage, run_id) VALUES (?, ?, ?)"),
      begin: db.prepare(
        `INSERT INTO runs (key, pipeline, stage, kind, status, reason, record, pid, pstart, host, started_at, log_path, pipe_version, git_commit)
         VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)`
      ),
      setLog: db.prepare("UPDATE runs SET log_path = ? WHERE id = ?"),
      end: db.prepare(
        "UPDATE runs SET status = ?, output = ?, error = ?, ended_at = ?, duration_ms = ? - started_at WHERE id = ?"
      ),
      metrics: db.prepare("UPDATE runs SET metrics = ? WHERE id = ?"),
      artifact: db.prepare(
        "INSERT OR IGNORE INTO artifacts (hash, type, size, file_count, created_at) VALUES (?, ?, ?, ?, ?)"
      ),
      file: db.prepare(
        "INSERT OR IGNORE INTO artifact_files (artifact, path, blob, size, exec) VALUES (?, ?, ?, ?, ?)"
      ),
      blob: db.prepare(BLOB_UPSERT),
      edge: db.prepare("INSERT OR REPLACE INTO edges (run_id, role, name, artifact) VALUES (?, ?, ?, ?)"),
      files: db.prepare<[string], { path: string; blob: string; size: number; exec: number }>(
        "SELECT path, blob, size, exec FROM artifact_files WHERE artifact = ? ORDER BY path"
      ),
      blobsOf: db.prepare<[string], BlobRow>(
        `SELECT DISTINCT b.hash, b.size, b.mtime_ns, b.ctime_ns, b.ino FROM artifact_files f JOIN blobs b ON b.hash = f.blob
         WHERE f.artifact = ?`
      ),
      artifactType: db.prepare<[string], { type: string }>("SELECT type FROM artifacts WHERE hash = ?"),
      stamp: db.prepare<[number], { id: number; pipe_version: string | null; git_commit: string | null }>(
        "SELECT id, pipe_version, git_commit FROM runs WHERE id = ?"
      ),
      damage: db.prepare("UPDATE runs SET status = 'damaged' WHERE status = 'ok' AND output = ?"),
      running: db.prepare<
        [],
        { id: number; pid: number; pstart: string | null; host: string | null; child_pgid: number | null; child_pstart: string | null }
      >("SELECT id, pid, pstart, host, child_pgid, child_pstart FROM runs WHERE status = 'running'"),
      placed: db.prepare("UPDATE runs SET ran_on = ?, job_id = ? WHERE id = ?"),
      child: db.prepare("UPDATE runs SET child_pgid = ?, child_pstart = ? WHERE id = ?"),
      // A sweep's number is never reused, even after gc dropped the newest sweeps.
      sweep: db.prepare(
        `INSERT INTO sweeps (id, pipeline, command, grid, created_at, metric, goal, search) VALUES (
           (SELECT MAX(n) + 1 FROM (SELECT COALESCE(MAX(id), 0) AS n FROM sweeps UNION ALL SELECT COALESCE(MAX(id), 0) FROM dropped_sweeps)),
           ?, ?, ?, ?, ?, ?, ?)`
      ),
      sweepPoint: db.prepare(
        "INSERT OR REPLACE INTO sweep_points (sweep_id, point, params, status, metric, runs) VALUES (?, ?, ?, ?, ?, ?)"
      ),
      pointRung: db.prepare("UPDATE sweep_points SET status = ?, rung = ?, epochs = ? WHERE sweep_id = ? AND point = ?"),
      sweepPointRun: db.prepare("INSERT OR REPLACE INTO sweep_point_runs (sweep_id, point, stage, run_id) VALUES (?, ?, ?, ?)"),
      blob1: db.prepare<[string], BlobRow>("SELECT hash, size, mtime_ns, ctime_ns, ino FROM blobs WHERE hash = ?"),
      interrupt: db.prepare(
        "UPDATE runs SET status = 'interrupted', error = ?, ended_at = ? WHERE id = ? AND status = 'running'"
      ),
      run: db.prepare<[number], RunRow & { pid: number; pstart: string | null }>("SELECT * FROM runs WHERE id = ?"),
      edges: db.prepare<[number], { role: string; name: string; artifact: string }>("SELECT role, name, artifact FROM edges WHERE run_id = ?"),
      artifactRow: db.prepare<[string], ArtifactRow>("SELECT * FROM artifacts WHERE hash = ?"),
      // In the order SQLite keeps them, as a copy has always read them.
      artifactFiles: db.prepare<[string], { path: string; blob: string; size: number; exec: number }>(
        "SELECT path, blob, size, exec FROM artifact_files WHERE artifact = ?"
      ),
      copied: db.prepare(
        `INSERT INTO runs (key, pipeline, stage, kind, status, reason, record, output, error, pid, pstart, host, started_at,
           ended_at, duration_ms, log_path, metrics, pipe_version, git_commit)
         VALUES (?, ?, ?, ?, 'ok', ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)`
      )
    }
  }

  findOk(key: string): RunRow | undefined {
    return this.s.findOk.get(key)
  }

  /** The run a stage of this pipeline last ran or restored: what a new key is compared with. */
  head(pipeline: string, stage: string): RunRow | undefined {
    return this.s.head.get(pipeline, stage)
  }

  lastOfKey(key: string): RunRow | undefined {
    return this.s.lastOfKey.get(key)
  }

  setHead(pipeline: string, stage: string, runId: number): void {
    this.s.setHead.run(pipeline, stage, runId)
  }

  begin(r: BeginRun, logDir: string): { id: number; logPath: string } {
    const id = Number(
      this.s.begin.run(r.key, r.pipeline, r.stage, r.kind, r.reason, JSON.stringify(r.record), self.pid, self.start, self.host, Date.now(), null, r.pipeVersion ?? null, r.gitCommit ?? null)
        .lastInsertRowid
    )
    const logPath = `${logDir}/${id}.log`
    this.s.setLog.run(logPath, id)
    return { id, logPath }
  }

  /** Records a successful run and its output artifact, all or nothing. */
  succeed(runId: number, pipeline: string, stage: string, f: Finished): void {
    this.db.transaction(() => {
      const now = Date.now()
      for (const b of f.blobs) this.s.blob.run(...blobParams(b))
      this.s.artifact.run(f.manifest.hash, f.type, f.manifest.size, f.manifest.files.length, now)
      for (const file of f.manifest.files) this.s.file.run(f.manifest.hash, file.path, file.hash, file.size, file.exec ? 1 : 0)
      for (const [name, hash] of Object.entries(f.inputs)) this.s.edge.run(runId, "input", name, hash)
      this.s.edge.run(runId, "output", "out", f.manifest.hash)
      this.s.end.run("ok", f.manifest.hash, null, now, now, runId)
      if (f.metrics) this.s.metrics.run(JSON.stringify(f.metrics), runId)
      this.s.setHead.run(pipeline, stage, runId)
    }).immediate()
  }

  fail(runId: number, status: "failed" | "interrupted", error: string): void {
    const now = Date.now()
    this.s.end.run(status, null, error, now, now, runId)
  }

  files(artifact: string): Array<FileEntry> {
    return this.s.files.all(artifact).map((r) => ({ path: r.path, hash: r.blob, size: r.size, exec: r.exec === 1 }))
  }

  blobsOf(artifact: string): Array<BlobStat> {
    return this.s.blobsOf.all(artifact).map(blobStat)
  }

  artifactType(hash: string): string | undefined {
    return this.s.artifactType.get(hash)?.type
  }

  /** A run's number with the pipe version and workspace commit it ran with: provenance a stage may show. */
  stamp(runId: number): { id: number; pipeVersion: string | null; gitCommit: string | null } | undefined {
    const r = this.s.stamp.get(runId)
    return r && { id: r.id, pipeVersion: r.pipe_version, gitCommit: r.git_commit }
  }

  refreshBlobs(blobs: ReadonlyArray<BlobStat>): void {
    this.db.transaction(() => {
      for (const b of blobs) this.s.blob.run(...blobParams(b))
    })()
  }

  /** Every successful run whose output is this artifact stops being a cache hit. Returns how many did. */
  markDamaged(artifact: string): number {
    return this.s.damage.run(artifact).changes
  }

  /**
   * Runs left 'running' by a process that no longer exists (killed, crashed) become 'interrupted', and the
   * process group their command left behind is killed, so it cannot race a new run of the same stage.
   */
  reapDead(): number {
    let n = 0
    for (const r of this.s.running.all()) {
      if (!isAlive(r.pid, r.pstart, r.host)) {
        if (r.child_pgid !== null) killGroupOf(r.child_pgid, r.child_pstart, "SIGKILL")
        n += this.s.interrupt.run(`process ${r.pid} died while the stage ran`, Date.now(), r.id).changes
      }
    }
    return n
  }

  /** The process group a running stage's command leads, and its leader's start time (see reapDead). */
  /** Where a run's stage ran elsewhere (a cluster node), and the scheduler's id for its job. */
  placed(runId: number, host: string, jobId: string | null): void {
    this.s.placed.run(host, jobId, runId)
  }

  setChild(runId: number, pgid: number, pstart: string | null): void {
    this.s.child.run(pgid, pstart, runId)
  }

  /** A new sweep's record; `metric` names the figure its points are ranked by, `goal` whether higher is better. */
  beginSweep(pipeline: string, command: string, grid: unknown, metric?: string, goal?: "max" | "min", search?: SweepSearch): number {
    return Number(
      this.s.sweep.run(pipeline, command, JSON.stringify(grid), Date.now(), metric ?? null, goal ?? null, search ? JSON.stringify(search) : null).lastInsertRowid
    )
  }

  /** A finished point: its params, status, metric and the run (id and key) of each of its stages. */
  recordPoint(
    sweep: number,
    point: number,
    params: unknown,
    status: string,
    metric: number | null,
    runs: Readonly<Record<string, { run?: number; key: string | null }>>
  ): void {
    this.db.transaction(() => {
      this.s.sweepPoint.run(sweep, point, JSON.stringify(params), status, metric, JSON.stringify(runs))
      for (const [stage, r] of Object.entries(runs)) if (r.run !== undefined) this.s.sweepPointRun.run(sweep, point, stage, r.run)
    })()
  }

  /** Where a point of a halving search ended: its status (ok, stopped, failed), the rung it reached (1-based) and its epochs. */
  setPointRung(sweep: number, point: number, status: string, rung: number, epochs: number): void {
    this.s.pointRung.run(status, rung, epochs, sweep, point)
  }

  blob(hash: string): BlobStat | undefined {
    const b = this.s.blob1.get(hash)
    return b && blobStat(b)
  }

  /** A run as another store needs it, to copy it there (see receive); undefined when there is no such run. */
  copyOf(runId: number): RunCopy | undefined {
    const run = this.s.run.get(runId)
    if (!run) return undefined
    const edges = this.s.edges.all(runId)
    const artifacts = [...new Set(edges.map((e) => e.artifact))].map((hash) => ({
      hash,
      row: this.s.artifactRow.get(hash),
      files: this.s.artifactFiles.all(hash)
    }))
    return { run, edges, artifacts }
  }

  /**
   * Records a run copied from another store, all or nothing: its artifacts and their files, the stats of their
   * blobs (already in place), the run as a success, its edges, and the stage's head. Returns its id here.
   */
  receive(copy: RunCopy, blobs: ReadonlyArray<BlobStat>): number {
    return this.db.transaction(() => {
      for (const b of blobs) this.s.blob.run(...blobParams(b))
      for (const a of copy.artifacts) {
        if (!a.row) throw new Error(`artifact ${a.hash.slice(0, 12)} is not recorded`)
        this.s.artifact.run(a.row.hash, a.row.type, a.row.size, a.row.file_count, a.row.created_at)
        for (const f of a.files) this.s.file.run(a.hash, f.path, f.blob, f.size, f.exec)
      }
      const r = copy.run
      const id = Number(
        this.s.copied.run(r.key, r.pipeline, r.stage, r.kind, r.reason, r.record, r.output, r.pid, r.pstart, r.host, r.started_at, r.ended_at, r.duration_ms, r.metrics, r.pipe_version, r.git_commit)
          .lastInsertRowid
      )
      for (const e of copy.edges) this.s.edge.run(id, e.role, e.name, e.artifact)
      this.s.setHead.run(r.pipeline, r.stage, id)
      return id
    }).immediate()
  }

  /** Where a run's log is (set when a copied run's log is in place). */
  setLog(runId: number, path: string): void {
    this.s.setLog.run(path, runId)
  }
}
