/** Opening the store's SQLite database: WAL for concurrent readers, a busy timeout, migrations in a write transaction. */
import Database from "better-sqlite3"
import { MIGRATIONS } from "./migrations.js"

export type Db = Database.Database

export class NewerStoreError extends Error {}

export const openDb = (path: string): Db => {
  const db = new Database(path, { timeout: 15000 })
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.pragma("foreign_keys = ON")
  migrate(db)
  return db
}

const migrate = (db: Db): void => {
  const current = () => db.pragma("user_version", { simple: true }) as number
  if (current() === MIGRATIONS.length) return
  db.transaction(() => {
    // Re-read inside the write lock: another process may have migrated meanwhile.
    const from = current()
    if (from > MIGRATIONS.length) {
      throw new NewerStoreError(
        `the store's schema is version ${from}, newer than this pipe knows (${MIGRATIONS.length}); upgrade pipe`
      )
    }
    for (let v = from; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!)
    db.pragma(`user_version = ${MIGRATIONS.length}`)
  }).immediate()
}
