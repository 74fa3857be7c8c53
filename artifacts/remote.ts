/**
 * A remote, content-addressed store that a coordinator and its compute nodes share: a directory (a mounted
 * share) or an S3 bucket (AWS, MinIO and friends). It holds pipe's own layout under its root or prefix:
 *
 *   blobs/<2 hex>/<sha256>   file contents, named by their sha256 (as in a local store's blobs/)
 *   jobs/<key>.json          a job description (small JSON records, written whole)
 *   results/<key>.json       what a job produced
 *   logs/<key>.log           a job's or run's log (and logs/<key>.metrics.jsonl, its series of figures)
 *   runs/<key>.json          a run pushed by `pipe push s3://...`: its record, edges and artifacts' files
 *
 * Every blob is checked on the way in and on the way out: an upload rehashes the local file and refuses one
 * that does not match the hash it is stored under; a download goes to a temporary file beside its destination,
 * is rehashed there, and is renamed into place only if it matches. A blob already present is not uploaded
 * again (content addressing makes concurrent writers of one blob harmless). Keys are a 64-hex hash or a safe
 * relative path (`jobs/ab12.json`): no `..`, no leading `/`, no hidden or empty segments.
 *
 * The S3 implementation (./remoteS3.ts) is loaded only when an `s3://` URL is opened, so the AWS SDK costs
 * nothing on pipe's ordinary start path.
 */
import { randomBytes } from "node:crypto"
import {
  closeSync,
  constants,
  copyFileSync,
  fchmodSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync
} from "node:fs"
import { basename, dirname, isAbsolute, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { hashFd } from "./hashFile.js"

export interface Remote {
  /** Where it is, as the user named it (normalised): `/shared/dir` or `s3://bucket/prefix`. */
  readonly url: string
  /** Whether the blob is there. */
  hasBlob(hash: string): Promise<boolean>
  /**
   * Uploads the file at `localPath` as blob `hash`, after checking the file hashes to it. Skipped when the blob
   * is already there with that size; returns whether it uploaded.
   */
  putBlob(hash: string, localPath: string): Promise<boolean>
  /**
   * Downloads blob `hash` to `destPath` (replacing it): into a temporary file beside it, rehashed, then renamed
   * into place. A blob whose bytes do not match its hash is refused (RemoteBlobMismatch) and nothing is left.
   */
  getBlob(hash: string, destPath: string): Promise<void>
  /** Writes a small JSON record at `path` (e.g. `jobs/<key>.json`), whole. */
  putJson(path: string, value: unknown): Promise<void>
  /** Reads the JSON record at `path`; undefined when there is none. */
  getJson(path: string): Promise<unknown>
  /** Uploads a file that is not content-addressed (a log) to `path`. */
  putFile(path: string, localPath: string): Promise<void>
  /** Downloads the file at `path` to `destPath` (through a temporary file beside it); false when there is none. */
  getFile(path: string, destPath: string): Promise<boolean>
  /** The paths (relative to the root or prefix, sorted) of everything under `prefix` (`jobs/`, `results/ab`). */
  list(prefix: string): Promise<Array<string>>
  /** Removes what is at `path`; nothing happens when nothing is there. */
  delete(path: string): Promise<void>
  /** Releases connections. */
  close(): void
}

/** Anything a remote refuses or cannot do; the message names the remote's URL. */
export class RemoteError extends Error {}

/** A blob whose bytes do not hash to its name: on a download, or a local file offered for upload. */
export class RemoteBlobMismatch extends RemoteError {}

/** The remote could not be reached at all (no such directory, connection refused, timed out, no such bucket). */
export class RemoteUnreachable extends RemoteError {}

export interface RemoteOptions {
  /** For a directory: create it when missing (push); otherwise a missing directory is unreachable. */
  readonly create?: boolean
  /** For S3: attempts per request (the SDK's default otherwise, or AWS_MAX_ATTEMPTS). */
  readonly maxAttempts?: number
  /** For S3: how long to wait for a connection, ms (5000). */
  readonly connectTimeoutMs?: number
}

const HASH = /^[0-9a-f]{64}$/
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/

export const isHash = (s: string): boolean => HASH.test(s)

/** A blob's path under the root: blobs/<2 hex>/<hash>. */
export const remoteBlobKey = (hash: string): string => `blobs/${hash.slice(0, 2)}/${hash}`

export const checkHash = (url: string, hash: string): string => {
  if (typeof hash !== "string" || !HASH.test(hash)) throw new RemoteError(`${url}: ${JSON.stringify(hash)} is not a sha256 hash (64 lowercase hex digits)`)
  return hash
}

/** A key must be a safe relative path: segments of letters, digits, `.`, `_`, `-`, none empty or starting with `.`. */
export const checkPath = (url: string, path: string): string => {
  const ok = typeof path === "string" && path.length > 0 && path.length <= 1024 && path.split("/").every((s) => SEGMENT.test(s))
  if (!ok) throw new RemoteError(`${url}: ${JSON.stringify(path)} is not a safe relative path (letters, digits, . _ - between slashes; no .., no leading /)`)
  return path
}

/** A list prefix: empty, or a safe path optionally ending with `/`. */
export const checkPrefix = (url: string, prefix: string): string => {
  if (prefix === "") return prefix
  checkPath(url, prefix.endsWith("/") ? prefix.slice(0, -1) : prefix)
  return prefix
}

/** A temporary name beside `dest`, hidden (so list never shows it) and unique to this process. */
export const tempBeside = (dest: string): string =>
  join(dirname(dest), `.part-${process.pid}-${randomBytes(6).toString("hex")}-${basename(dest)}`.slice(0, 200))

const codeOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException)?.code

/** Rehashes the file at `path` and throws RemoteBlobMismatch unless it is `hash`. */
export const expectHash = (path: string, hash: string, what: () => string): void => {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW)
  let got: string
  try {
    if (!fstatSync(fd).isFile()) throw new RemoteBlobMismatch(`${what()}: not a regular file`)
    got = hashFd(fd)
  } finally {
    closeSync(fd)
  }
  if (got !== hash) throw new RemoteBlobMismatch(`${what()}: its bytes hash to ${got} (corrupt)`)
}

/**
 * Opens a remote: a directory (`/shared/dir`, `./dir`, `file:///shared/dir`) or `s3://bucket/prefix`. Anything
 * else is refused with a RemoteError naming what is accepted.
 */
export const openRemote = async (url: string, options: RemoteOptions = {}): Promise<Remote> => {
  const parsed = parseRemoteUrl(url)
  if (parsed._tag === "dir") return new DirRemote(parsed.path, options.create === true)
  const { openS3Remote } = await import("./remoteS3.js")
  return openS3Remote(parsed.bucket, parsed.prefix, options)
}

export type RemoteUrl = { readonly _tag: "dir"; readonly path: string } | { readonly _tag: "s3"; readonly bucket: string; readonly prefix: string }

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

export const parseRemoteUrl = (url: string): RemoteUrl => {
  const usage = "use a directory, file:///path or s3://bucket/prefix"
  if (typeof url !== "string" || url.length === 0) throw new RemoteError(`an empty remote URL: ${usage}`)
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase()
  if (scheme === undefined) return { _tag: "dir", path: resolve(url) }
  if (scheme === "file") {
    let path: string
    try {
      path = fileURLToPath(url)
    } catch (e) {
      throw new RemoteError(`${url} is not a usable file URL (${(e as Error).message}): ${usage}`)
    }
    return { _tag: "dir", path }
  }
  if (scheme === "s3") {
    const m = /^s3:\/\/([^/?#]*)\/?([^?#]*)$/i.exec(url)
    const bucket = m?.[1] ?? ""
    if (!m || !BUCKET.test(bucket)) throw new RemoteError(`${url}: ${JSON.stringify(bucket)} is not an S3 bucket name; use s3://bucket/prefix`)
    const prefix = (m[2] ?? "").replace(/\/+$/, "")
    if (prefix !== "") checkPath(url, prefix)
    return { _tag: "s3", bucket, prefix }
  }
  throw new RemoteError(`${url}: ${scheme}:// remotes are not supported; ${usage}`)
}

/** A remote in a directory: a mounted share every node sees at the same path. */
class DirRemote implements Remote {
  readonly url: string
  private checked = false

  constructor(
    private readonly root: string,
    private readonly create: boolean
  ) {
    this.url = isAbsolute(root) ? root : resolve(root)
  }

  private fail(what: string, e: unknown): never {
    if (e instanceof RemoteError) throw e
    const code = codeOf(e)
    throw new RemoteError(`${this.url}: cannot ${what}: ${code ?? (e as Error).message}`)
  }

  /** The root, checked (or made, with create) once. */
  private base(): string {
    if (this.checked) return this.root
    let st
    try {
      st = statSync(this.root)
    } catch (e) {
      if (codeOf(e) !== "ENOENT" || !this.create) {
        throw new RemoteUnreachable(`${this.url}: the remote directory ${codeOf(e) === "ENOENT" ? "does not exist" : `cannot be used (${codeOf(e)})`}`)
      }
      try {
        mkdirSync(this.root, { recursive: true })
      } catch (e2) {
        throw new RemoteUnreachable(`${this.url}: cannot create the remote directory (${codeOf(e2) ?? (e2 as Error).message})`)
      }
      st = statSync(this.root)
    }
    if (!st.isDirectory()) throw new RemoteUnreachable(`${this.url}: not a directory`)
    this.checked = true
    return this.root
  }

  private at(path: string): string {
    return join(this.base(), ...checkPath(this.url, path).split("/"))
  }

  private exists(abs: string): { size: number } | undefined {
    try {
      const st = lstatSync(abs)
      return st.isFile() ? { size: st.size } : undefined
    } catch (e) {
      if (codeOf(e) === "ENOENT") return undefined
      return this.fail(`read ${abs}`, e)
    }
  }

  async hasBlob(hash: string): Promise<boolean> {
    return this.exists(this.at(remoteBlobKey(checkHash(this.url, hash)))) !== undefined
  }

  async putBlob(hash: string, localPath: string): Promise<boolean> {
    const dest = this.at(remoteBlobKey(checkHash(this.url, hash)))
    const there = this.exists(dest)
    const tmp = tempBeside(dest)
    try {
      if (there && there.size === statSync(localPath).size) return false
      mkdirSync(dirname(dest), { recursive: true })
      copyFileSync(localPath, tmp, constants.COPYFILE_FICLONE)
      expectHash(tmp, hash, () => `${localPath} does not match the hash ${hash} it was to be stored under in ${this.url}`)
      const fd = openSync(tmp, "r")
      try {
        fchmodSync(fd, 0o444)
      } finally {
        closeSync(fd)
      }
      renameSync(tmp, dest)
      return true
    } catch (e) {
      rmSync(tmp, { force: true })
      return this.fail(`store blob ${hash}`, e)
    }
  }

  async getBlob(hash: string, destPath: string): Promise<void> {
    const src = this.at(remoteBlobKey(checkHash(this.url, hash)))
    if (!this.exists(src)) throw new RemoteError(`blob ${hash} is not in ${this.url}`)
    const tmp = tempBeside(destPath)
    try {
      copyFileSync(src, tmp, constants.COPYFILE_FICLONE)
      expectHash(tmp, hash, () => `blob ${hash} in ${this.url} does not match its hash`)
      renameSync(tmp, destPath)
    } catch (e) {
      rmSync(tmp, { force: true })
      return this.fail(`fetch blob ${hash} to ${destPath}`, e)
    }
  }

  private writeWhole(path: string, write: (tmp: string) => void): void {
    const dest = this.at(path)
    const tmp = tempBeside(dest)
    try {
      mkdirSync(dirname(dest), { recursive: true })
      write(tmp)
      renameSync(tmp, dest)
    } catch (e) {
      rmSync(tmp, { force: true })
      this.fail(`write ${path}`, e)
    }
  }

  async putJson(path: string, value: unknown): Promise<void> {
    const text = JSON.stringify(value)
    this.writeWhole(path, (tmp) => writeFileSync(tmp, text))
  }

  async getJson(path: string): Promise<unknown> {
    let text: string
    try {
      text = readFileSync(this.at(path), "utf8")
    } catch (e) {
      if (codeOf(e) === "ENOENT") return undefined
      return this.fail(`read ${path}`, e)
    }
    try {
      return JSON.parse(text)
    } catch {
      throw new RemoteError(`${this.url}: ${path} is not valid JSON`)
    }
  }

  async putFile(path: string, localPath: string): Promise<void> {
    this.writeWhole(path, (tmp) => copyFileSync(localPath, tmp))
  }

  async getFile(path: string, destPath: string): Promise<boolean> {
    const src = this.at(path)
    if (!this.exists(src)) return false
    const tmp = tempBeside(destPath)
    try {
      copyFileSync(src, tmp)
      renameSync(tmp, destPath)
      return true
    } catch (e) {
      rmSync(tmp, { force: true })
      return this.fail(`fetch ${path} to ${destPath}`, e)
    }
  }

  async list(prefix: string): Promise<Array<string>> {
    checkPrefix(this.url, prefix)
    const root = this.base()
    // Walk from the deepest directory the prefix names, then keep what starts with the prefix.
    const dirPart = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/")) : ""
    const found: Array<string> = []
    const walk = (abs: string, rel: string) => {
      let entries
      try {
        entries = readdirSync(abs, { withFileTypes: true })
      } catch (e) {
        if (codeOf(e) === "ENOENT" || codeOf(e) === "ENOTDIR") return
        return this.fail(`list ${rel || "."}`, e)
      }
      for (const e of entries) {
        if (!SEGMENT.test(e.name)) continue // temporaries (.part-*) and anything not in pipe's layout
        const r = rel ? `${rel}/${e.name}` : e.name
        if (e.isDirectory()) walk(join(abs, e.name), r)
        else if (e.isFile() && r.startsWith(prefix)) found.push(r)
      }
    }
    walk(dirPart ? join(root, ...dirPart.split("/")) : root, dirPart)
    return found.sort()
  }

  async delete(path: string): Promise<void> {
    try {
      rmSync(this.at(path), { force: true })
    } catch (e) {
      this.fail(`delete ${path}`, e)
    }
  }

  close(): void {}
}
