/**
 * Copying runs between two stores (`pipe push DIR`, `pipe pull DIR`): each run's record, its output and input
 * artifacts, and their blobs. Every blob is rehashed as it is copied and must match its name; a run is
 * recorded in the destination only after all its blobs are in place, in one transaction, so an interrupted
 * copy leaves nothing half-recorded. A run whose key already has a successful run there is not copied again.
 */
import { copyFileSync, existsSync, lstatSync } from "node:fs"
import { BlobMismatch, blobPath, checkBlobs, OutputError, putBlob, type BlobStat } from "../artifacts/blobs.js"
import { logFile, seriesFile } from "./records.js"
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
  const copied: Array<{ stage: string; from: number; to: number }> = []
  const present: Array<{ stage: string; run: number }> = []
  let blobs = 0
  let bytes = 0
  for (const id of runIds) {
    const copy = from.records.copyOf(id)
    const r = copy?.run
    if (!copy || !r?.output || r.status !== "ok") throw new TransferError(`run #${id} in ${from.root} is not a successful run`)
    const there = to.records.findOk(r.key)
    if (there && there.output === r.output && to.records.blobsOf(r.output).length > 0) {
      const { damaged } = checkBlobs(to.root, to.records.blobsOf(r.output))
      if (damaged.length === 0) {
        to.records.setHead(r.pipeline, r.stage, there.id)
        present.push({ stage: r.stage, run: there.id })
        continue
      }
    }
    // Files first: every blob of every artifact the run touches, verified.
    const stats: Array<BlobStat> = []
    for (const a of copy.artifacts) {
      for (const f of a.files) {
        const { stat, bytes: n } = copyBlob(from, to, f.blob, to.records.blob(f.blob))
        stats.push(stat)
        if (n > 0) {
          blobs++
          bytes += n
        }
      }
    }
    const unrecorded = copy.artifacts.find((a) => !a.row)
    if (unrecorded) throw new TransferError(`artifact ${unrecorded.hash.slice(0, 12)} of run #${id} is not recorded in ${from.root}`)
    const newId = to.records.receive(copy, stats)
    // The log where it is in the source store, never where its record says (a path anywhere).
    const srcLog = logFile(from.root, id)
    if (existsSync(srcLog) && lstatSync(srcLog).isFile()) {
      const log = logFile(to.root, newId)
      copyFileSync(srcLog, log)
      to.records.setLog(newId, log)
    }
    const srcSeries = seriesFile(from.root, id)
    if (existsSync(srcSeries) && lstatSync(srcSeries).isFile()) copyFileSync(srcSeries, seriesFile(to.root, newId))
    copied.push({ stage: r.stage, from: id, to: newId })
  }
  return { copied, present, blobs, bytes }
}
