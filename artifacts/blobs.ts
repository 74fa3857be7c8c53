/**
 * The content-addressed blob store: one file per distinct content at blobs/<2 hex>/<sha256>, read-only.
 * Owns moving a finished output directory into the store (ingest), checking blobs are intact, and making
 * read-only views of artifacts for the stages that read them. It knows nothing of SQLite: the caller records
 * what ingest returns.
 */
import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  fchmodSync,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  type BigIntStats
} from "node:fs"
import { dirname, join, sep } from "node:path"
import { hashFd } from "./hashFile.js"
import { makeManifest, type FileEntry, type Manifest } from "./manifest.js"

/**
 * What a blob's record says of its file. The bytes of a file whose size, mtime, ctime and inode all still match
 * the record have not changed since it was hashed: mtime can be set back by anyone, but ctime cannot, and
 * nothing but a write, a chmod or a link changes it. Records made before ctime was kept have none (null): such
 * a blob is rehashed once, then trusted by its stat.
 */
export interface BlobStat {
  readonly hash: string
  readonly size: number
  readonly mtimeNs: string
  readonly ctimeNs: string | null
  readonly ino: string | null
  /** Set when the bytes were just hashed and matched: when they were last known good (ms since the epoch). */
  readonly verifiedAt?: number
}

export class OutputError extends Error {}

/** A file that should hold a blob's content holds other bytes. */
export class BlobMismatch extends Error {}

/** Files being written into blobs/ are named `.in-<pid>-<random>` until their hash is known. */
export const STAGING = ".in-"

export const blobPath = (root: string, hash: string): string => join(root, "blobs", hash.slice(0, 2), hash)

/** The stat of a blob whose content was just hashed and found to match its name. */
export const statOf = (hash: string, st: BigIntStats): BlobStat => ({
  hash,
  size: Number(st.size),
  mtimeNs: String(st.mtimeNs),
  ctimeNs: String(st.ctimeNs),
  ino: String(st.ino),
  verifiedAt: Date.now()
})

const sameStat = (st: BigIntStats, b: BlobStat): boolean =>
  b.ctimeNs !== null &&
  Number(st.size) === b.size &&
  String(st.mtimeNs) === b.mtimeNs &&
  String(st.ctimeNs) === b.ctimeNs &&
  String(st.ino) === b.ino

interface Found {
  readonly rel: string
  /** The file's real path: for a symlink, the file it resolves to (always inside the output directory). */
  readonly real: string
  readonly exec: boolean
}

/**
 * Every regular file under `root`. A symlink that resolves inside `root` stands for its target: the target's
 * content is stored under the link's name, as a regular file. A symlink that leaves `root` (or dangles), a
 * device, a socket or a FIFO fails the stage: outputs are files and directories.
 */
const walk = (root: string): Array<Found> => {
  const realRoot = realpathSync(root)
  const found: Array<Found> = []
  const visiting = new Set<string>()
  const visit = (dir: string, relDir: string) => {
    const realDir = realpathSync(dir)
    if (visiting.has(realDir)) throw new OutputError(`output has a symlink cycle at ${relDir || "."}`)
    visiting.add(realDir)
    for (const name of readdirSync(realDir).sort()) {
      const abs = join(realDir, name)
      const rel = relDir ? `${relDir}/${name}` : name
      let real = abs
      let st = lstatSync(abs)
      if (st.isSymbolicLink()) {
        try {
          real = realpathSync(abs)
        } catch {
          throw new OutputError(`output ${rel} is a dangling symlink; write the file itself to $PIPE_OUT`)
        }
        if (real !== realRoot && !real.startsWith(realRoot + sep)) {
          throw new OutputError(
            `output ${rel} is a symlink to ${real}, outside $PIPE_OUT; copy the file into $PIPE_OUT instead of linking it`
          )
        }
        st = lstatSync(real)
      }
      if (st.isDirectory()) visit(real, rel)
      else if (st.isFile()) found.push({ rel, real, exec: (st.mode & 0o111) !== 0 })
      else throw new OutputError(`output ${rel} is not a regular file or directory`)
    }
    visiting.delete(realDir)
  }
  visit(realRoot, "")
  return found
}

/**
 * Opens a file for reading without following a symlink and checks it is a regular file: every blob is read or
 * made read-only through such a descriptor, so nothing here ever acts on a path a link points to.
 */
const openRegular = (path: string): number => {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW)
  if (!fstatSync(fd).isFile()) {
    closeSync(fd)
    throw new OutputError(`${path} is not a regular file`)
  }
  return fd
}

/** Whether the file at `path` is a regular file whose content hashes to `hash`. */
const isIntact = (path: string, hash: string): boolean => {
  try {
    const fd = openRegular(path)
    try {
      return hashFd(fd) === hash
    } finally {
      closeSync(fd)
    }
  } catch {
    return false
  }
}

/**
 * Moves (or copies) `src` into the store as the blob named by its content, and returns the blob's stat
 * (with `expect`, only if that is its hash: BlobMismatch otherwise).
 * The file is made read-only and hashed in the store, so the blob's bytes are the bytes its name says,
 * whatever happens to `src`. With `move`, `src` (a file of the finished output directory that has no other
 * name) loses its name there, so that no later unlink of it changes the blob's ctime.
 */
export const putBlob = (
  root: string,
  src: string,
  move: boolean,
  known: (hash: string) => BlobStat | undefined,
  expect?: string
): BlobStat => {
  if (!lstatSync(src).isFile()) throw new OutputError(`${src} is not a regular file`)
  const staging = join(root, "blobs", `${STAGING}${process.pid}-${Math.random().toString(36).slice(2)}`)
  let linked = false
  if (move) {
    try {
      linkSync(src, staging)
      linked = true
    } catch {
      // another file system, or links not allowed: copy
    }
  }
  if (!linked) copyFileSync(src, staging, constants.COPYFILE_FICLONE)
  let hash: string
  const fd = openRegular(staging)
  try {
    fchmodSync(fd, 0o444)
    hash = hashFd(fd)
  } finally {
    closeSync(fd)
  }
  if (expect !== undefined && hash !== expect) {
    rmSync(staging, { force: true })
    throw new BlobMismatch(`${src} does not match its hash ${expect.slice(0, 12)} (corrupt)`)
  }
  if (linked) unlinkSync(src)
  const dest = blobPath(root, hash)
  if (existsSync(dest)) {
    const rec = known(hash)
    const intact = rec ? checkBlobs(root, [rec]) : undefined
    if (intact ? intact.damaged.length === 0 : isIntact(dest, hash)) {
      rmSync(staging, { force: true })
      return intact?.touched[0] ?? rec ?? statOf(hash, lstatSync(dest, { bigint: true }))
    }
    quarantine(root, hash)
  }
  mkdirSync(dirname(dest), { recursive: true })
  renameSync(staging, dest)
  return statOf(hash, lstatSync(dest, { bigint: true }))
}

/**
 * Moves every file of a finished output directory into the store, named by its content. A blob that is
 * already there is trusted only if it still matches its record (`known`) or its content rehashes to its name;
 * otherwise it is quarantined and replaced. Files with other names (hard links from the workspace) and the
 * targets of symlinks are copied; the rest are moved.
 */
export const ingest = (
  root: string,
  outDir: string,
  known: (hash: string) => BlobStat | undefined = () => undefined
): { manifest: Manifest; blobs: Array<BlobStat> } => {
  const st = lstatSync(outDir)
  if (!st.isDirectory()) throw new OutputError("$PIPE_OUT is no longer a directory (replaced by a link?); write files into it instead")
  const found = walk(outDir)
  const byReal = new Map<string, { count: number; stat?: BlobStat }>()
  for (const f of found) byReal.set(f.real, { count: (byReal.get(f.real)?.count ?? 0) + 1 })
  const blobs = new Map<string, BlobStat>()
  const entries: Array<FileEntry> = []
  for (const f of found) {
    const seen = byReal.get(f.real)!
    if (!seen.stat) {
      const st = lstatSync(f.real)
      if (!st.isFile()) throw new OutputError(`output ${f.rel} is not a regular file`)
      seen.stat = putBlob(root, f.real, st.nlink === 1 && seen.count === 1, known)
      blobs.set(seen.stat.hash, seen.stat)
    }
    entries.push({ path: f.rel, hash: seen.stat.hash, size: seen.stat.size, exec: f.exec })
  }
  return { manifest: makeManifest(entries), blobs: [...blobs.values()] }
}

export type BlobProblem = { readonly hash: string; readonly problem: "missing" | "corrupt" }

/**
 * Checks blobs against their records: a stat per blob, and a rehash only when the stat moved. Returns the
 * damaged ones and the intact ones whose stat changed (so the caller can refresh the record).
 */
export const checkBlobs = (
  root: string,
  expected: ReadonlyArray<BlobStat>
): { damaged: Array<BlobProblem>; touched: Array<BlobStat> } => {
  const damaged: Array<BlobProblem> = []
  const touched: Array<BlobStat> = []
  for (const b of expected) {
    const p = blobPath(root, b.hash)
    let st: BigIntStats
    try {
      st = lstatSync(p, { bigint: true })
    } catch {
      damaged.push({ hash: b.hash, problem: "missing" })
      continue
    }
    if (!st.isFile()) {
      damaged.push({ hash: b.hash, problem: "corrupt" })
      continue
    }
    if (sameStat(st, b)) continue
    if (Number(st.size) !== b.size || !isIntact(p, b.hash)) damaged.push({ hash: b.hash, problem: "corrupt" })
    else touched.push(statOf(b.hash, lstatSync(p, { bigint: true })))
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

/** A materialised file and its stat right after it was made: what `changedInputs` compares with. */
export interface Materialized {
  readonly dir: string
  readonly files: ReadonlyArray<{ readonly entry: FileEntry; readonly abs: string; readonly stat: BigIntStats }>
}

/**
 * A private, read-only copy of an artifact at `dir` (a reflink where the file system has them): a stage can
 * never change a blob through its inputs, and whatever it does to its copy is seen by `changedInputs`.
 */
export const materialize = (root: string, files: ReadonlyArray<FileEntry>, dir: string): Materialized => {
  mkdirSync(dir, { recursive: true })
  const dirs = new Set<string>([dir])
  const made: Array<Materialized["files"][number]> = []
  for (const f of files) {
    const dest = join(dir, ...f.path.split("/"))
    const parent = dirname(dest)
    if (!dirs.has(parent)) {
      mkdirSync(parent, { recursive: true })
      for (let d = parent; d.length > dir.length; d = dirname(d)) dirs.add(d)
    }
    copyFileSync(blobPath(root, f.hash), dest, constants.COPYFILE_FICLONE)
    chmodSync(dest, f.exec ? 0o555 : 0o444)
    made.push({ entry: f, abs: dest, stat: statSync(dest, { bigint: true }) })
  }
  for (const d of dirs) chmodSync(d, 0o555)
  return { dir, files: made }
}

const filesUnder = (dir: string, rel = ""): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name
    return e.isDirectory() ? filesUnder(join(dir, e.name), r) : [r]
  })

/**
 * What a stage did to its materialised inputs: files whose content changed (a stat per file, a rehash only
 * when the stat moved), removed, or added. Empty when the inputs are as they were made.
 */
export const changedInputs = (m: Materialized): Array<string> => {
  const changed: Array<string> = []
  for (const f of m.files) {
    let st: BigIntStats
    try {
      st = lstatSync(f.abs, { bigint: true })
    } catch {
      changed.push(`${f.entry.path} (removed)`)
      continue
    }
    const same =
      st.isFile() && st.size === f.stat.size && st.mtimeNs === f.stat.mtimeNs && st.ctimeNs === f.stat.ctimeNs && st.ino === f.stat.ino
    if (same) continue
    if (!st.isFile() || Number(st.size) !== f.entry.size || !isIntact(f.abs, f.entry.hash)) changed.push(f.entry.path)
  }
  const expected = new Set(m.files.map((f) => f.entry.path))
  for (const rel of existsSync(m.dir) ? filesUnder(m.dir) : []) if (!expected.has(rel)) changed.push(`${rel} (added)`)
  return changed
}

/** Removes a tree that may contain read-only directories. */
export const removeTree = (dir: string): void => {
  let st
  try {
    st = lstatSync(dir)
  } catch {
    return
  }
  // A link put where the tree was (by a stage, say) is removed itself: nothing it points to is touched.
  if (!st.isDirectory()) return rmSync(dir, { force: true })
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
