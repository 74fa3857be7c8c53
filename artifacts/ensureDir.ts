/**
 * Creating a directory and its parents one level at a time. Node 20's `mkdirSync(p, { recursive: true })`
 * loops forever on some paths it cannot create (under /proc, for one); this fails at once, naming the level
 * that could not be made and why.
 */
import { lstatSync, mkdirSync, statSync } from "node:fs"
import { dirname, resolve } from "node:path"

export class DirError extends Error {}

const why = (e: unknown): string => {
  const code = (e as NodeJS.ErrnoException).code
  return code === "EACCES" || code === "EPERM"
    ? "permission denied"
    : code === "EROFS"
      ? "read-only file system"
      : code === "ENOTDIR"
        ? "a parent is not a directory"
        : code === "ENOSPC"
          ? "no space left on the device"
          : code
            ? `the file system refuses it (${code})`
            : (e as Error).message
}

export const ensureDir = (path: string): void => {
  const abs = resolve(path)
  const missing: Array<string> = []
  for (let d = abs; ; d = dirname(d)) {
    let st
    try {
      st = statSync(d)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      // ENOTDIR: some level above is a file; the walk up finds which.
      if (code !== "ENOENT" && code !== "ENOTDIR") throw new DirError(`cannot use ${d}: ${why(e)}`)
      if (dirname(d) === d) throw new DirError(`cannot create ${abs}: ${why(e)}`)
      missing.push(d)
      continue
    }
    if (!st.isDirectory()) throw new DirError(`${d} is not a directory`)
    break
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d)
    } catch (e) {
      // Made meanwhile by another process: fine, as long as it is a directory.
      if ((e as NodeJS.ErrnoException).code === "EEXIST" && lstatSync(d).isDirectory()) continue
      throw new DirError(`cannot create ${d}: ${why(e)}`)
    }
  }
}
