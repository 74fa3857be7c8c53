/**
 * The content-addressed blob store: one file per distinct content at blobs/<2 hex>/<sha256>, read-only.
 * Owns moving a finished output directory into the store (ingest), checking blobs are intact, and making
 * read-only views of artifacts for the stages that read them. It knows nothing of SQLite: the caller records
 * what ingest returns.
 */
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync
} from "node:fs"
import { dirname, join, sep } from "node:path"
import { hashFile } from "./hashFile.js"
import { makeManifest, type FileEntry, type Manifest } from "./manifest.js"

export interface BlobStat {
  readonly hash: string
  readonly size: number
  readonly mtimeNs: string
}

export class OutputError extends Error {}

export const blobPath = (root: string, hash: string): string => join(root, "blobs", hash.slice(0, 2), hash)

interface Found {
  readonly rel: string
  readonly abs: string
  readonly exec: boolean
}

/** Every regular file under `root`; symlinks are followed only while they stay inside `root`. */
const walk = (root: string): Array<Found> => {
  const realRoot = realpathSync(root)
  const found: Array<Found> = []
  const visiting = new Set<string>()
  const visit = (dir: string, relDir: string) => {
    const real = realpathSync(dir)
    if (visiting.has(real)) throw new OutputError(`output has a symlink cycle at ${relDir || "."}`)
    visiting.add(real)
    for (const name of readdirSync(dir).sort()) {
      const abs = join(dir, name)
      const rel = relDir ? `${relDir}/${name}` : name
      let st = lstatSync(abs)
      if (st.isSymbolicLink()) {
        let target: string
        try {
          target = realpathSync(abs)
        } catch {
          throw new OutputError(`output ${rel} is a dangling symlink`)
        }
        if (target !== realRoot && !target.startsWith(realRoot + sep)) {
          throw new OutputError(`output ${rel} is a symlink to ${target}, outside PIPE_OUT; copy the file instead`)
        }
        st = statSync(target)
      }
      if (st.isDirectory()) visit(abs, rel)
      else if (st.isFile()) found.push({ rel, abs, exec: (st.mode & 0o111) !== 0 })
      else throw new OutputError(`output ${rel} is not a regular file or directory`)
    }
    visiting.delete(real)
  }
  visit(root, "")
  return found
}

/** Writes `src` as the blob `dest`: a hard link when `src` has no other name (else a copy), made read-only. */
const putBlob = (src: string, dest: string, links: number): void => {
  mkdirSync(dirname(dest), { recursive: true })
  const tmp = `${dest}.tmp-${process.pid}`
  rmSync(tmp, { force: true })
  // A file with other names (e.g. a workspace file the stage hard-linked into $PIPE_OUT) is copied: linking it
  // would make the user's file read-only and let later edits to it change the blob.
  if (links > 1) copyFileSync(src, tmp)
  else {
    try {
      linkSync(src, tmp)
    } catch {
      copyFileSync(src, tmp)
    }
  }
  chmodSync(tmp, 0o444)
  renameSync(tmp, dest)
}

/**
 * Hashes every file of a finished output directory and moves each content into the store. A blob that is
 * already there is trusted only if it still matches its record (`known`, by size and mtime) or its content
 * rehashes to its name; otherwise it is quarantined and replaced.
 */
export const ingest = (
  root: string,
  outDir: string,
  known: (hash: string) => BlobStat | undefined = () => undefined
): { manifest: Manifest; blobs: Array<BlobStat> } => {
  const entries: Array<FileEntry> = []
  const blobs = new Map<string, BlobStat>()
  for (const f of walk(outDir)) {
    const st = statSync(f.abs)
    const hash = hashFile(f.abs)
    entries.push({ path: f.rel, hash, size: st.size, exec: f.exec })
    if (blobs.has(hash)) continue
    const dest = blobPath(root, hash)
    if (existsSync(dest)) {
      const rec = known(hash)
      const damaged = rec ? checkBlobs(root, [rec]).damaged.length > 0 : hashFile(dest) !== hash
      if (damaged) {
        quarantine(root, hash)
        putBlob(f.abs, dest, st.nlink)
      }
    } else {
      putBlob(f.abs, dest, st.nlink)
    }
    const now = statSync(dest, { bigint: true })
    blobs.set(hash, { hash, size: Number(now.size), mtimeNs: String(now.mtimeNs) })
  }
  return { manifest: makeManifest(entries), blobs: [...blobs.values()] }
}

export type BlobProblem = { readonly hash: string; readonly problem: "missing" | "corrupt" }

/**
 * Checks blobs against their records: a stat per blob, and a rehash only when size or mtime moved.
 * Returns the damaged ones and the intact ones whose mtime changed (so the caller can refresh the record).
 */
export const checkBlobs = (
  root: string,
  expected: ReadonlyArray<BlobStat>
): { damaged: Array<BlobProblem>; touched: Array<BlobStat> } => {
  const damaged: Array<BlobProblem> = []
  const touched: Array<BlobStat> = []
  for (const b of expected) {
    const p = blobPath(root, b.hash)
    let st
    try {
      st = statSync(p, { bigint: true })
    } catch {
      damaged.push({ hash: b.hash, problem: "missing" })
      continue
    }
    if (Number(st.size) === b.size && String(st.mtimeNs) === b.mtimeNs) continue
    if (Number(st.size) !== b.size || hashFile(p) !== b.hash) damaged.push({ hash: b.hash, problem: "corrupt" })
    else touched.push({ ...b, mtimeNs: String(st.mtimeNs) })
  }
  return { damaged, touched }
}

/** Moves a damaged blob aside so the next write of that content starts clean. */
export const quarantine = (root: string, hash: string): void => {
  const p = blobPath(root, hash)
  if (!existsSync(p)) return
  const dir = join(root, "quarantine")
  mkdirSync(dir, { recursive: true })
  renameSync(p, join(dir, `${hash}.${Date.now()}`))
}

/** A read-only view of an artifact at `dir`: hard links to the blobs (copies for executables). */
export const materialize = (root: string, files: ReadonlyArray<FileEntry>, dir: string): void => {
  mkdirSync(dir, { recursive: true })
  const dirs = new Set<string>([dir])
  for (const f of files) {
    const dest = join(dir, ...f.path.split("/"))
    const parent = dirname(dest)
    if (!dirs.has(parent)) {
      mkdirSync(parent, { recursive: true })
      for (let d = parent; d.length > dir.length; d = dirname(d)) dirs.add(d)
    }
    const src = blobPath(root, f.hash)
    if (f.exec) {
      copyFileSync(src, dest)
      chmodSync(dest, 0o555)
    } else {
      try {
        linkSync(src, dest)
      } catch {
        copyFileSync(src, dest)
        chmodSync(dest, 0o444)
      }
    }
  }
  for (const d of dirs) chmodSync(d, 0o555)
}

/** Removes a tree that may contain read-only directories. */
export const removeTree = (dir: string): void => {
  if (!existsSync(dir)) return
  const unlock = (d: string) => {
    try {
      chmodSync(d, 0o755)
    } catch {
      return
    }
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) unlock(join(d, e.name))
  }
  unlock(dir)
  rmSync(dir, { recursive: true, force: true })
}
