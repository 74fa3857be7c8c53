/**
 * Content hashes of workspace files and directories (a stage's `deps`), remembered in SQLite by path, size,
 * mtime and inode: a file whose stat is unchanged is not read again, so no-op runs stay cheap on large deps.
 * Files modified in the last second are not remembered (their mtime may not yet reflect a second write).
 */
import { readdirSync, realpathSync, statSync } from "node:fs"
import { join, resolve } from "node:path"
import { hashFile } from "../artifacts/hashFile.js"
import { makeManifest, type FileEntry } from "../artifacts/manifest.js"
import type { Db } from "./db.js"

/** A dep that cannot be hashed: missing, or unreadable. */
export class DepMissing extends Error {}

export class StatCache {
  private readonly getRow
  private readonly put
  constructor(db: Db) {
    this.getRow = db.prepare<[string], { size: number; mtime_ns: string; ino: string; hash: string }>(
      "SELECT size, mtime_ns, ino, hash FROM stat_cache WHERE path = ?"
    )
    this.put = db.prepare(
      "INSERT OR REPLACE INTO stat_cache (path, size, mtime_ns, ino, hash) VALUES (?, ?, ?, ?, ?)"
    )
  }

  hashFile(abs: string): { hash: string; size: number; exec: boolean } {
    const st = statSync(abs, { bigint: true })
    const size = Number(st.size)
    const mtimeNs = String(st.mtimeNs)
    const ino = String(st.ino)
    const exec = (Number(st.mode) & 0o111) !== 0
    const row = this.getRow.get(abs)
    if (row && row.size === size && row.mtime_ns === mtimeNs && row.ino === ino) return { hash: row.hash, size, exec }
    const hash = hashFile(abs)
    if (Date.now() - Number(st.mtimeNs / 1_000_000n) > 1000) this.put.run(abs, size, mtimeNs, ino, hash)
    return { hash, size, exec }
  }

  /**
   * A file's content hash, or for a directory the manifest hash of every file below it. Symlinks are
   * followed; dangling ones (editor lock files) and directories already visited (link loops) are skipped, and
   * so is `exclude` (the store, which changes on every run).
   */
  hashPath(workspace: string, path: string, exclude?: string): string {
    const abs = resolve(workspace, path)
    try {
      if (!statSync(abs).isDirectory()) return this.hashFile(abs).hash
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      throw new DepMissing(code === "ENOENT" ? `${path}: no such file or directory in ${workspace}` : `${path}: ${(e as Error).message}`)
    }
    const entries: Array<FileEntry> = []
    const visited = new Set<string>()
    const walk = (dir: string, rel: string) => {
      const real = realpathSync(dir)
      if (visited.has(real) || real === exclude) return
      visited.add(real)
      for (const name of readdirSync(dir).sort()) {
        const a = join(dir, name)
        const r = rel ? `${rel}/${name}` : name
        let s
        try {
          s = statSync(a)
        } catch {
          continue // a dangling symlink: nothing to hash
        }
        if (s.isDirectory()) walk(a, r)
        else if (s.isFile()) entries.push({ path: r, ...this.hashFile(a) })
      }
    }
    try {
      walk(abs, "")
    } catch (e) {
      throw new DepMissing(`${path}: ${(e as Error).message}`)
    }
    return makeManifest(entries).hash
  }
}
