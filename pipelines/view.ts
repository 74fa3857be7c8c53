/** The planner's read-only view of the store (see pipelines/plan.ts), backed by SQLite and blob stats. */
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
  // store.check re-records intact blobs whose mtime moved (e.g. restored by a copy), so they are not rehashed again.
  damage: (artifact) => store.check(artifact).map((d) => `blob ${d.hash.slice(0, 12)} ${d.problem}`)
})
