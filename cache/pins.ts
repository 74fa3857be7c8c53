/**
 * Pinned runs: gc keeps a pinned run, and everything upstream of it, forever. A pin may carry tags (names a
 * person gives a run: `baseline`, `paper`); a run is pinned while it has a pin row, tagged or not.
 */
import type { Db } from "./db.js"

export interface Pin {
  readonly run: number
  /** The run's tags, sorted; empty for a plain pin. */
  readonly tags: ReadonlyArray<string>
  readonly pinnedAt: number
}

interface PinRow {
  readonly run_id: number
  readonly tag: string
  readonly pinned_at: number
}

export class Pins {
  private readonly s

  constructor(db: Db) {
    this.s = {
      pin: db.prepare("INSERT OR IGNORE INTO pins (run_id, tag, pinned_at) VALUES (?, ?, ?)"),
      unpinAll: db.prepare("DELETE FROM pins WHERE run_id = ?"),
      unpinTag: db.prepare("DELETE FROM pins WHERE run_id = ? AND tag = ?"),
      all: db.prepare<[], PinRow>("SELECT run_id, tag, pinned_at FROM pins ORDER BY run_id, tag"),
      of: db.prepare<[string], PinRow>("SELECT run_id, tag, pinned_at FROM pins WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY run_id, tag")
    }
  }

  /** Pins a run, with a tag if given. Returns false when it was already pinned so (nothing changed). */
  pin(run: number, tag?: string): boolean {
    return this.s.pin.run(run, tag ?? "", Date.now()).changes > 0
  }

  /**
   * Removes a run's pin: one tag (the run stays pinned while it has another), or all of them. Returns the
   * number of pin rows removed.
   */
  unpin(run: number, tag?: string): number {
    return tag === undefined ? this.s.unpinAll.run(run).changes : this.s.unpinTag.run(run, tag).changes
  }

  /** The pins of these runs (of every pinned run when none are given), by run. */
  of(runs?: ReadonlyArray<number>): Map<number, Pin> {
    const rows = runs === undefined ? this.s.all.all() : this.s.of.all(JSON.stringify(runs))
    const out = new Map<number, Pin>()
    for (const r of rows) {
      const p = out.get(r.run_id)
      out.set(r.run_id, {
        run: r.run_id,
        tags: [...(p?.tags ?? []), ...(r.tag ? [r.tag] : [])],
        pinnedAt: Math.min(p?.pinnedAt ?? Infinity, r.pinned_at)
      })
    }
    return out
  }
}
