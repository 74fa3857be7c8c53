/** The planner's read-only view of the store (see pipelines/plan.ts), backed by SQLite and blob stats. */
import { checkBlobs } from "../artifacts/blobs.js"
import type { CacheView, PastRun } from "./plan.js"
import type { KeyRecord } from "../cache/fingerprint.js"
import type { RunRow } from "../cache/records.js"
import type { StoreApi } from "../cache/store.js"

const past = (r: RunRow | undefined): PastRun | undefined =>
  r && {
    id: r.id,
    key: r.key,
    status: r.status,
    record: JSON.parse(r.record) as KeyRecord,
    output: r.output,
    error: r.error,
    metrics: r.metrics ? (JSON.parse(r.metrics) as Record<string, unknown>) : undefined
  }

export const cacheView = (store: StoreApi, pipeline: string): CacheView => ({
  findOk: (key) => past(store.records.findOk(key)),
  lastOfKey: (key) => past(store.records.lastOfKey(key)),
  head: (stage) => past(store.records.head(pipeline, stage)),
  damage: (artifact) => {
    const { damaged, touched } = checkBlobs(store.root, store.records.blobsOf(artifact))
    // Intact blobs whose mtime moved (e.g. restored by a copy) are re-recorded so they are not rehashed again.
    if (touched.length > 0) store.records.refreshBlobs(touched)
    return damaged.map((d) => `blob ${d.hash.slice(0, 12)} ${d.problem}`)
  }
})
