/**
 * Copying runs between this store and a shared remote (`pipe push s3://...`, `pipe pull s3://...`), which holds
 * no database: each run is one JSON record, `runs/<key>.json` (the run's row, its edges, and its artifacts with
 * their files), beside the blobs of those files under `blobs/` and its log under `logs/<key>.log` (its series of
 * figures under `logs/<key>.metrics.jsonl`).
 *
 * Push uploads a run's blobs first (each rehashed here before it leaves; one already there is not sent again),
 * then its log, then its record: a record in the remote always has its blobs there. Pull reads a record by key,
 * checks it holds together (its key is the hash of its key record, each artifact's hash is the hash of its
 * files, every path is relative and stays inside its artifact), downloads each blob it lacks (rehashed as it
 * arrives, refused when it does not match), and records the run in one transaction only once all are in place.
 * A remote holds one run per key: pushing another run with the same key and a different output replaces it.
 */
import { existsSync, lstatSync, mkdirSync, rmSync } from "node:fs"
import { dirname } from "node:path"
import { blobPath, BlobMismatch, checkBlobs, OutputError, putBlob, type BlobStat } from "../artifacts/blobs.js"
import { makeManifest } from "../artifacts/manifest.js"
import { isHash, RemoteBlobMismatch, type Remote } from "../artifacts/remote.js"
import { cacheKey, type KeyRecord } from "./fingerprint.js"
import { logFile, seriesFile, type RunCopy } from "./records.js"
import type { StoreApi } from "./store.js"
import { TransferError } from "./transfer.js"

/** What `runs/<key>.json` holds. */
export interface RemoteRun {
  readonly format: typeof REMOTE_RUN_FORMAT
  readonly copy: RunCopy
}

export const REMOTE_RUN_FORMAT = "pipe-run/1"

export const remoteRunPath = (key: string): string => `runs/${key}.json`
export const remoteLogPath = (key: string): string => `logs/${key}.log`
export const remoteSeriesPath = (key: string): string => `logs/${key}.metrics.jsonl`

export interface RemoteTransferReport {
  /** Runs sent or received: the run's id in this store and its key in the remote. */
  readonly copied: ReadonlyArray<{ readonly stage: string; readonly run: number; readonly key: string }>
  /** Runs that were already there (in the remote for a push, here for a pull). */
  readonly present: ReadonlyArray<{ readonly stage: string; readonly run: number; readonly key: string }>
  readonly blobs: number
  readonly bytes: number
}

/** Sends the given runs (successful ones) of `from` to the remote, in the order given (upstream first). */
export const pushRuns = async (from: StoreApi, remote: Remote, runIds: ReadonlyArray<number>): Promise<RemoteTransferReport> => {
  const copied: Array<RemoteTransferReport["copied"][number]> = []
  const present: Array<RemoteTransferReport["present"][number]> = []
  const sent = new Set<string>()
  let blobs = 0
  let bytes = 0
  for (const id of runIds) {
    const copy = from.records.copyOf(id)
    const r = copy?.run
    if (!copy || !r?.output || r.status !== "ok") throw new TransferError(`run #${id} in ${from.root} is not a successful run`)
    const unrecorded = copy.artifacts.find((a) => !a.row)
    if (unrecorded) throw new TransferError(`artifact ${unrecorded.hash.slice(0, 12)} of run #${id} is not recorded in ${from.root}`)
    let uploaded = 0
    for (const a of copy.artifacts) {
      for (const f of a.files) {
        if (sent.has(f.blob)) continue
        const src = blobPath(from.root, f.blob)
        if (!existsSync(src)) throw new TransferError(`blob ${f.blob.slice(0, 12)} is missing from ${from.root}; run pipe verify there`)
        let put: boolean
        try {
          put = await remote.putBlob(f.blob, src)
        } catch (e) {
          if (e instanceof RemoteBlobMismatch) {
            throw new TransferError(`blob ${f.blob.slice(0, 12)} in ${from.root} does not match its hash (corrupt); run pipe verify there`)
          }
          throw e
        }
        sent.add(f.blob)
        if (put) {
          uploaded++
          blobs++
          bytes += f.size
        }
      }
    }
    const there = await readRemoteRun(remote, r.key).catch(() => undefined)
    if (uploaded === 0 && there?.copy.run.output === r.output) {
      present.push({ stage: r.stage, run: id, key: r.key })
      continue
    }
    const log = logFile(from.root, id)
    if (existsSync(log) && lstatSync(log).isFile()) await remote.putFile(remoteLogPath(r.key), log)
    const series = seriesFile(from.root, id)
    if (existsSync(series) && lstatSync(series).isFile()) await remote.putFile(remoteSeriesPath(r.key), series)
    const record: RemoteRun = { format: REMOTE_RUN_FORMAT, copy }
    await remote.putJson(remoteRunPath(r.key), record)
    copied.push({ stage: r.stage, run: id, key: r.key })
  }
  return { copied, present, blobs, bytes }
}

const SEGMENT = /^(?!\.\.?$)[^/\0]+$/

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/**
 * The record of the run with this key in the remote, checked to hold together; undefined when there is none.
 * A record that does not (damaged, or not written by pipe) is a TransferError naming it.
 */
export const readRemoteRun = async (remote: Remote, key: string): Promise<RemoteRun | undefined> => {
  if (!isHash(key)) throw new TransferError(`${JSON.stringify(key)} is not a cache key`)
  const v = await remote.getJson(remoteRunPath(key))
  if (v === undefined) return undefined
  const where = `${remote.url}: ${remoteRunPath(key)}`
  const bad = (why: string): never => {
    throw new TransferError(`${where} is not a usable run record: ${why}`)
  }
  if (!isObject(v) || v["format"] !== REMOTE_RUN_FORMAT || !isObject(v["copy"])) return bad(`its format is not ${REMOTE_RUN_FORMAT}`)
  const copy = v["copy"]
  const run = copy["run"]
  if (!isObject(run) || run["key"] !== key || run["status"] !== "ok" || typeof run["output"] !== "string") return bad("not a successful run with this key")
  for (const f of ["pipeline", "stage", "kind", "record"] as const) if (typeof run[f] !== "string") return bad(`its run has no ${f}`)
  let record: KeyRecord
  try {
    record = JSON.parse(run["record"] as string) as KeyRecord
  } catch {
    return bad("its key record is not JSON")
  }
  if (cacheKey(record) !== key) return bad("its key record does not hash to its key")
  const artifacts = copy["artifacts"]
  const edges = copy["edges"]
  if (!Array.isArray(artifacts) || !Array.isArray(edges)) return bad("no artifacts or edges")
  const hashes = new Set<string>()
  for (const a of artifacts as Array<unknown>) {
    if (!isObject(a) || typeof a["hash"] !== "string" || !isObject(a["row"]) || !Array.isArray(a["files"])) return bad("an artifact without its record")
    const files = a["files"] as Array<unknown>
    for (const f of files) {
      const ok =
        isObject(f) &&
        typeof f["path"] === "string" &&
        f["path"].split("/").every((s) => SEGMENT.test(s)) &&
        typeof f["blob"] === "string" &&
        isHash(f["blob"]) &&
        Number.isSafeInteger(f["size"]) &&
        (f["size"] as number) >= 0 &&
        (f["exec"] === 0 || f["exec"] === 1)
      if (!ok) return bad(`artifact ${String(a["hash"]).slice(0, 12)} has a file that is not a relative path with a blob`)
    }
    const entries = (files as Array<{ path: string; blob: string; size: number; exec: number }>).map((f) => ({ path: f.path, hash: f.blob, size: f.size, exec: f.exec === 1 }))
    if (makeManifest(entries).hash !== a["hash"] || a["row"]["hash"] !== a["hash"]) return bad(`artifact ${String(a["hash"]).slice(0, 12)} does not match its files`)
    hashes.add(a["hash"])
  }
  if (!hashes.has(run["output"] as string)) return bad("its output is not among its artifacts")
  for (const e of edges as Array<unknown>) {
    if (!isObject(e) || typeof e["role"] !== "string" || typeof e["name"] !== "string" || !hashes.has(e["artifact"] as string)) return bad("an edge to no artifact of it")
  }
  return v as unknown as RemoteRun
}

/** Brings one blob into `to` from the remote, rehashed on arrival; returns its stat and the bytes downloaded. */
const fetchBlob = async (to: StoreApi, remote: Remote, hash: string): Promise<{ stat: BlobStat; bytes: number }> => {
  const known = to.records.blob(hash)
  if (known) {
    const { damaged, touched } = checkBlobs(to.root, [known])
    if (damaged.length === 0) return { stat: touched[0] ?? known, bytes: 0 }
  }
  // Downloaded beside where it goes, under a name `pipe gc` leaves alone while this process lives (`.tmp-<pid>`).
  const tmp = `${blobPath(to.root, hash)}.tmp-${process.pid}`
  try {
    mkdirSync(dirname(tmp), { recursive: true })
    await remote.getBlob(hash, tmp)
    const stat = putBlob(to.root, tmp, true, () => undefined, hash)
    return { stat, bytes: stat.size }
  } catch (e) {
    if (e instanceof BlobMismatch || e instanceof OutputError) throw new TransferError(`blob ${hash.slice(0, 12)} changed while it was being stored in ${to.root}`)
    throw e
  } finally {
    rmSync(tmp, { force: true })
  }
}

/**
 * Receives the run with this key from the remote into `to`: its blobs (each verified), then its record, log and
 * series. Undefined when the remote has no run with this key.
 */
export const pullRun = async (
  to: StoreApi,
  remote: Remote,
  key: string
): Promise<{ readonly stage: string; readonly run: number; readonly blobs: number; readonly bytes: number } | undefined> => {
  const rec = await readRemoteRun(remote, key)
  if (!rec) return undefined
  const { copy } = rec
  const stats = new Map<string, BlobStat>()
  let blobs = 0
  let bytes = 0
  for (const a of copy.artifacts) {
    for (const f of a.files) {
      if (stats.has(f.blob)) continue
      const { stat, bytes: n } = await fetchBlob(to, remote, f.blob)
      stats.set(f.blob, stat)
      if (n > 0) {
        blobs++
        bytes += n
      }
    }
  }
  const id = to.records.receive(copy, [...stats.values()])
  const log = logFile(to.root, id)
  if (await remote.getFile(remoteLogPath(key), log)) to.records.setLog(id, log)
  await remote.getFile(remoteSeriesPath(key), seriesFile(to.root, id))
  return { stage: copy.run.stage, run: id, blobs, bytes }
}
