/**
 * The Store port: how the rest of pipe reaches what ran and what it made. A store is a directory holding pipe.db
 * (records), blobs/ (content), logs/, tmp/ (work in progress) and quarantine/ (damaged blobs); the port hands out
 * services over it (records, locks, the read side, experiments, sweeps, pins) and whole-store verbs (check and
 * repair an artifact, gc, verify). The SQLite database never leaves cache/.
 *
 * Its SQLite + disk implementation is below: openStore, and storeLayer, which acquires it as a scoped Layer so
 * the database is always closed. Opening it also tidies what dead processes left behind: 'running' records and
 * their temp directories.
 */
import { Context, Effect, Layer } from "effect"
import { existsSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { checkBlobs, quarantine, removeTree, type BlobProblem } from "../artifacts/blobs.js"
import { ensureDir } from "../artifacts/ensureDir.js"
import { openDb } from "./db.js"
import { StoreError } from "./errors.js"
import { Experiments } from "./experiments.js"
import { isAlive } from "./liveness.js"
import { Locks } from "./locks.js"
import { Pins } from "./pins.js"
import { Queries } from "./queries.js"
import { Records } from "./records.js"
import { StatCache } from "./statCache.js"
import { Sweeps } from "./sweeps.js"
import { gc, verify, type GcOptions, type GcReport, type VerifyReport } from "./upkeep.js"

export interface StoreApi {
  /** The store's directory. */
  readonly root: string
  /** The run records: begin/succeed/fail a run, cache hits, heads, artifacts' files, blobs' stats, sweeps' points. */
  readonly records: Records
  /** Per-key run locks, across processes. */
  readonly locks: Locks
  /** Content hashes of workspace files (deps), remembered by stat. */
  readonly stats: StatCache
  /** The read side: runs, artifacts, the run history, what a reference names. */
  readonly queries: Queries
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
  /** Removes what nothing kept needs (see upkeep.ts). */
  gc(o: GcOptions): GcReport
  /** Rehashes every blob, quarantining the corrupt and marking the runs they touch damaged (see upkeep.ts). */
  verify(progress?: (done: number, total: number) => void): VerifyReport
  /** Runs `f`'s writes in one transaction: many records for the cost of one commit (loading a store in bulk). */
  batch<A>(f: () => A): A
  close(): void
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

const DB_FILE = "pipe.db"

/** Whether a store has been made at `root` (its database is there): a query or a plan never makes one. */
export const storeExists = (root: string): boolean => existsSync(join(root, DB_FILE))

/**
 * Opens the store at `root`, making it if need be (unless `create` is false: the other side of a pull must be
 * there already). The caller closes it; storeLayer does so itself.
 */
export const openStore = (root: string, { create = true }: { readonly create?: boolean } = {}): StoreApi => {
  if (!create && !storeExists(root)) throw new Error(`there is no store there (no ${DB_FILE})`)
  ensureDir(root)
  for (const d of ["blobs", "logs", "tmp"]) ensureDir(join(root, d))
  const db = openDb(join(root, DB_FILE))
  const records = new Records(db)
  const check = (artifact: string): Array<BlobProblem> => {
    const { damaged, touched } = checkBlobs(root, records.blobsOf(artifact))
    if (touched.length > 0) records.refreshBlobs(touched)
    return damaged
  }
  const store: StoreApi = {
    root,
    records,
    locks: new Locks(db),
    stats: new StatCache(db),
    queries: new Queries(db),
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
    },
    gc: (o) => gc({ root, db, records }, o),
    verify: (progress) => verify({ root, db, records }, progress),
    batch: (f) => db.transaction(f)(),
    close: () => db.close()
  }
  records.reapDead()
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
      (s) => Effect.sync(() => s.close())
    )
  )
