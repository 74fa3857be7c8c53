/**
 * An artifact is a directory of files. Its identity is the hash of its manifest: every file's relative path,
 * content hash, size and executable bit, sorted by path. Two directories with the same files have the same hash
 * wherever and whenever they were produced.
 */
import { canonicalJson, sha256 } from "./canonical.js"

export interface FileEntry {
  /** Relative, '/'-separated. */
  readonly path: string
  readonly hash: string
  readonly size: number
  readonly exec: boolean
}

export interface Manifest {
  readonly hash: string
  readonly files: ReadonlyArray<FileEntry>
  readonly size: number
}

export const MANIFEST_VERSION = "pipe-artifact/1"

export const makeManifest = (entries: ReadonlyArray<FileEntry>): Manifest => {
  const files = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  const body = canonicalJson(files.map((f) => [f.path, f.hash, f.size, f.exec ? 1 : 0]))
  return {
    hash: sha256(`${MANIFEST_VERSION}\n${body}`),
    files,
    size: files.reduce((s, f) => s + f.size, 0)
  }
}
