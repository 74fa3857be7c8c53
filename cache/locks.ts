/**
 * Per-key run locks in SQLite, so two `pipe` processes never run the same stage key at once while stages with
 * different keys proceed in parallel. A lock whose holder process is gone (kill -9, crash) is stale and is
 * taken over; the check and the take-over happen in one write transaction, so two waiters cannot both win.
 */
import type { Db } from "./db.js"
import { isAlive, self } from "./liveness.js"

export interface Holder {
  readonly pid: number
  readonly stage: string
}

export class Locks {
  private readonly getRow
  private readonly del
  private readonly put
  private readonly release_

  constructor(private readonly db: Db) {
    this.getRow = db.prepare<[string], { pid: number; pstart: string | null; stage: string; host: string | null }>(
      "SELECT pid, pstart, stage, host FROM locks WHERE key = ?"
    )
    this.del = db.prepare("DELETE FROM locks WHERE key = ?")
    this.put = db.prepare("INSERT INTO locks (key, stage, pid, pstart, host, acquired_at) VALUES (?, ?, ?, ?, ?, ?)")
    this.release_ = db.prepare("DELETE FROM locks WHERE key = ? AND pid = ?")
  }

  /** Takes the lock, or names the live process that holds it. */
  tryAcquire(key: string, stage: string): Holder | undefined {
    return this.db
      .transaction((): Holder | undefined => {
        const row = this.getRow.get(key)
        if (row) {
          if (isAlive(row.pid, row.pstart, row.host)) return { pid: row.pid, stage: row.stage }
          this.del.run(key)
        }
        this.put.run(key, stage, self.pid, self.start, self.host, Date.now())
        return undefined
      })
      .immediate()
  }

  release(key: string): void {
    this.release_.run(key, self.pid)
  }
}
