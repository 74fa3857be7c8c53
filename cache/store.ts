/**
 * The store service: a directory holding pipe.db (records), blobs/ (content), logs/, tmp/ (work in progress)
 * and quarantine/ (damaged blobs). Acquired as a scoped Layer so the database is always closed.
 * Opening it also tidies what dead processes left behind: 'running' records and their temp directories.
 */
import { Context, Effect, Layer } from "effect"
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { checkBlobs, quarantine, removeTree, type BlobProblem } from "../artifacts/blobs.js"
import { ensureDir } from "../artifacts/ensureDir.js"
import { StoreError } from "./errors.js"
import { Experiments } from "./experiments.js"
import { openDb, type Db } from "./db.js"
import { isAlive } from "./liveness.js"
import { Locks } from "./locks.js"
import { Pins } from "./pins.js"
import { Records } from "./records.js"
import { StatCache } from "./statCache.js"
import { Sweeps } from "./sweeps.js"

export interface StoreApi {
  readonly root: string
  readonly db: Db
  readonly records: Records
  readonly locks: Locks
  readonly stats: StatCache
  readonly experiments: Experiments
  readonly sweeps: Sweeps
  readonly pins: Pins
  /**
   * Checks an artifact's blobs against their records (a stat each, a rehash when the stat moved); intact blobs
   * whose stat moved are re-recorded. Returns the damaged blobs (empty when the artifact is intact).
   */
  check(artifact: string): Array<BlobProblem>
  /**
   * Checks an artifact and repairs what a rerun can: damaged blobs are quarantined and the runs that made the
   * artifact stop being cache hits, so they run again. Returns the damaged blobs.
   */
  repair(artifact: string): Array<BlobProblem>
}

export class Store extends Context.Tag("pipe/Store")<Store, StoreApi>() {}

/** tmp/<pid>-<pstart>-<run id>: removable once that process is gone. */
const sweepTmp = (root: string): void => {
  const tmp = join(root, "tmp")
  for (const name of readdirSync(tmp)) {
    const [pid, pstart] = name.split("-")
    if (pid && !isAlive(Number(pid), pstart && pstart !== "x" ? pstart : null)) removeTree(join(tmp, name))
  }
}

export const openStore = (root: string): StoreApi => {
  ensureDir(root)
  for (const d of ["blobs", "logs", "tmp"]) ensureDir(join(root, d))
  const db = openDb(join(root, "pipe.db"))
  const records = new Records(db)
  const check = (artifact: string): Array<BlobProblem> => {
    const { damaged, touched } = checkBlobs(root, records.blobsOf(artifact))
    if (touched.length > 0) records.refreshBlobs(touched)
    return damaged
  }
  const store: StoreApi = {
    root,
    db,
    records,
    locks: new Locks(db),
    stats: new StatCache(db),
    experiments: new Experiments(db),
    sweeps: new Sweeps(db),
    pins: new Pins(db),
    check,
    repair: (artifact) => {
      const damaged = check(artifact)
      if (damaged.length === 0) return damaged
      for (const d of damaged) quarantine(root, d.hash)
      records.markDamaged(artifact)
      return damaged
    }
  }
  store.records.reapDead()
  sweepTmp(root)
  return store
}

export const storeLayer = (root: string): Layer.Layer<Store, StoreError> =>
  Layer.scoped(
    Store,
    Effect.acquireRelease(
      Effect.try({
        try: () => openStore(root),
        catch: (e) => new StoreError({ message: `cannot open the store at ${root}: ${(e as Error).message}` })
      }),
      (s) => Effect.sync(() => s.db.close())
    )
  )
