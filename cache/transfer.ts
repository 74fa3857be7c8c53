/**
 * Copying runs between two stores (`pipe push DIR`, `pipe pull DIR`): each run's record, its output and input
 * artifacts, and their blobs. Every blob is rehashed as it is copied and must match its name; a run is
 * recorded in the destination only after all its blobs are in place, in one transaction, so an interrupted
 * copy leaves nothing half-recorded. A run whose key already has a successful run there is not copied again.
 */
import { copyFileSync, existsSync, lstatSync } from "node:fs"
import { BlobMismatch, blobPath, checkBlobs, OutputError, putBlob, type BlobStat } from "../artifacts/blobs.js"
import { BLOB_UPSERT, blobParams, logFile, seriesFile, type RunRow } from "./records.js"
import type { StoreApi } from "./store.js"

export class TransferError extends Error {}

export interface TransferReport {
  readonly copied: ReadonlyArray<{ stage: string; from: number; to: number }>
  readonly present: ReadonlyArray<{ stage: string; run: number }>
  readonly blobs: number
  readonly bytes: number
}

/** Puts one blob into `to`, copied from `from` and rehashed; returns its stat. */
const copyBlob = (from: StoreApi, to: StoreApi, hash: string, known: BlobStat | undefined): { stat: BlobStat; bytes: number } => {
  if (known) {
    const { damaged, touched } = checkBlobs(to.root, [known])
    if (damaged.length === 0) return { stat: touched[0] ?? known, bytes: 0 }
  }
  const src = blobPath(from.root, hash)
  if (!existsSync(src)) throw new TransferError(`blob ${hash.slice(0, 12)} is missing from ${from.root}; run pipe verify there`)
  try {
    const stat = putBlob(to.root, src, false, () => undefined, hash)
    return { stat, bytes: stat.size }
  } catch (e) {
    if (e instanceof BlobMismatch || e instanceof OutputError) {
      throw new TransferError(`blob ${hash.slice(0, 12)} in ${from.root} does not match its hash (corrupt); run pipe verify there`)
    }
    throw e
  }
}

/** Copies the given runs (successful ones) from one store to another, in the order given (upstream first). */
export const transferRuns = (from: StoreApi, to: StoreApi, runIds: ReadonlyArray<number>): TransferReport => {
  const src = {
    run: from.db.prepare<[number], RunRow & { pid: number; pstart: string | null }>("SELECT * FROM runs WHERE id = ?"),
    edges: from.db.prepare<[number], { role: string; name: string; artifact: string }>("SELECT role, name, artifact FROM edges WHERE run_id = ?"),
    artifact: from.db.prepare<[string], { hash: string; type: string; size: number; file_count: number; created_at: number }>(
      "SELECT * FROM artifacts WHERE hash = ?"
    ),
    files: from.db.prepare<[string], { path: string; blob: string; size: number; exec: number }>(
      "SELECT path, blob, size, exec FROM artifact_files WHERE artifact = ?"
    )
  }
  const dst = {
    okOfKey: to.db.prepare<[string], { id: number; output: string | null }>(
      "SELECT id, output FROM runs WHERE key = ? AND status = 'ok' ORDER BY id DESC LIMIT 1"
    ),
    artifact: to.db.prepare("INSERT OR IGNORE INTO artifacts (hash, type, size, file_count, created_at) VALUES (?, ?, ?, ?, ?)"),
    file: to.db.prepare("INSERT OR IGNORE INTO artifact_files (artifact, path, blob, size, exec) VALUES (?, ?, ?, ?, ?)"),
    blob: to.db.prepare(BLOB_UPSERT),
    run: to.db.prepare(
      `INSERT INTO runs (key, pipeline, stage, kind, status, reason, record, output, error, pid, pstart, host, started_at,
         ended_at, duration_ms, log_path, metrics, pipe_version, git_commit)
       VALUES (?, ?, ?, ?, 'ok', ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)`
    ),
    log: to.db.prepare("UPDATE runs SET log_path = ? WHERE id = ?"),
    edge: to.db.prepare("INSERT OR REPLACE INTO edges (run_id, role, name, artifact) VALUES (?, ?, ?, ?)"),
    head: to.db.prepare("INSERT OR REPLACE INTO heads (pipeline, stage, run_id) VALUES (?, ?, ?)")
  }
  const copied: Array<{ stage: string; from: number; to: number }> = []
  const present: Array<{ stage: string; run: number }> = []
  let blobs = 0
  let bytes = 0
  for (const id of runIds) {
    const r = src.run.get(id)
    if (!r || r.status !== "ok" || !r.output) throw new TransferError(`run #${id} in ${from.root} is not a successful run`)
    const there = dst.okOfKey.get(r.key)
    if (there && there.output === r.output && to.records.blobsOf(r.output).length > 0) {
      const { damaged } = checkBlobs(to.root, to.records.blobsOf(r.output))
      if (damaged.length === 0) {
        dst.head.run(r.pipeline, r.stage, there.id)
        present.push({ stage: r.stage, run: there.id })
        continue
      }
    }
    const edges = src.edges.all(id)
    const artifacts = [...new Set(edges.map((e) => e.artifact))]
    // Files first: every blob of every artifact the run touches, verified.
    const stats: Array<BlobStat> = []
    for (const a of artifacts) {
      for (const f of src.files.all(a)) {
        const { stat, bytes: n } = copyBlob(from, to, f.blob, to.records.blob(f.blob))
        stats.push(stat)
        if (n > 0) {
          blobs++
          bytes += n
        }
      }
    }
    const newId = to.db.transaction(() => {
      for (const b of stats) dst.blob.run(...blobParams(b))
      for (const a of artifacts) {
        const art = src.artifact.get(a)
        if (!art) throw new TransferError(`artifact ${a.slice(0, 12)} of run #${id} is not recorded in ${from.root}`)
        dst.artifact.run(art.hash, art.type, art.size, art.file_count, art.created_at)
        for (const f of src.files.all(a)) dst.file.run(a, f.path, f.blob, f.size, f.exec)
      }
      const n = Number(
        dst.run.run(
          r.key,
          r.pipeline,
          r.stage,
          r.kind,
          r.reason,
          r.record,
          r.output,
          r.pid,
          r.pstart,
          r.host,
          r.started_at,
          r.ended_at,
          r.duration_ms,
          r.metrics,
          r.pipe_version,
          r.git_commit
        ).lastInsertRowid
      )
      for (const e of edges) dst.edge.run(n, e.role, e.name, e.artifact)
      dst.head.run(r.pipeline, r.stage, n)
      return n
    }).immediate()
    // The log where it is in the source store, never where its record says (a path anywhere).
    const srcLog = logFile(from.root, id)
    if (existsSync(srcLog) && lstatSync(srcLog).isFile()) {
      const log = logFile(to.root, newId)
      copyFileSync(srcLog, log)
      dst.log.run(log, newId)
    }
    const srcSeries = seriesFile(from.root, id)
    if (existsSync(srcSeries) && lstatSync(srcSeries).isFile()) copyFileSync(srcSeries, seriesFile(to.root, newId))
    copied.push({ stage: r.stage, from: id, to: newId })
  }
  return { copied, present, blobs, bytes }
}
