/**
 * The shared remote on real files and a real S3-compatible server (s3rver on 127.0.0.1): the same contract for
 * both, then what each can get wrong of its own (a blob changed behind the remote's back, keys that climb out,
 * a server that is not there).
 */
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3"
import { createHash } from "node:crypto"
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { openRemote, parseRemoteUrl, RemoteBlobMismatch, RemoteError, RemoteUnreachable, type Remote } from "../../artifacts/remote.js"
import { rawClient, startS3, withEnv, type S3Server } from "../support/s3server.js"

const sha = (b: string | Buffer) => createHash("sha256").update(b).digest("hex")

let tmp: string
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "pipe-remote-"))
})
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true })
})

const file = (name: string, content: string | Buffer): { path: string; hash: string } => {
  const path = join(tmp, name)
  writeFileSync(path, content)
  return { path, hash: sha(content) }
}

/** What every remote must do, whatever holds its bytes. */
const contract = (open: () => Promise<Remote>) => {
  let remote: Remote
  beforeEach(async () => {
    remote = await open()
  })
  afterEach(() => remote.close())

  it("puts a blob once, has it, and gets it back verified", async () => {
    const a = file("a.bin", Buffer.alloc(300_000, 7))
    expect(await remote.hasBlob(a.hash)).toBe(false)
    expect(await remote.putBlob(a.hash, a.path)).toBe(true)
    expect(await remote.hasBlob(a.hash)).toBe(true)
    expect(await remote.putBlob(a.hash, a.path)).toBe(false)
    const dest = join(tmp, "out", "a.bin")
    mkdirSync(join(tmp, "out"))
    await remote.getBlob(a.hash, dest)
    expect(sha(readFileSync(dest))).toBe(a.hash)
    expect(readdirSync(join(tmp, "out"))).toEqual(["a.bin"])
    expect(await remote.list("blobs/")).toEqual([`blobs/${a.hash.slice(0, 2)}/${a.hash}`])
    // an empty file is a blob like any other
    const e = file("empty", "")
    expect(await remote.putBlob(e.hash, e.path)).toBe(true)
    await remote.getBlob(e.hash, join(tmp, "out", "empty"))
    expect(readFileSync(join(tmp, "out", "empty")).length).toBe(0)
  })

  it("refuses to store a local file under a hash it does not have", async () => {
    const a = file("a.txt", "alpha")
    const wrong = sha("beta")
    await expect(remote.putBlob(wrong, a.path)).rejects.toThrow(RemoteBlobMismatch)
    await expect(remote.putBlob(wrong, a.path)).rejects.toThrow(`does not match the hash ${wrong}`)
    expect(await remote.hasBlob(wrong)).toBe(false)
  })

  it("a blob that is not there is an error naming it and the remote", async () => {
    const h = sha("nowhere")
    await expect(remote.getBlob(h, join(tmp, "x"))).rejects.toThrow(`blob ${h} is not in ${remote.url}`)
    expect(existsSync(join(tmp, "x"))).toBe(false)
  })

  it("keeps JSON records, files, lists by prefix and deletes", async () => {
    expect(await remote.getJson("jobs/k1.json")).toBeUndefined()
    await remote.putJson("jobs/k1.json", { stage: "train", n: 1 })
    await remote.putJson("jobs/k2.json", { stage: "eval" })
    await remote.putJson("results/k1.json", { ok: true })
    await remote.putJson("jobs/k1.json", { stage: "train", n: 2 })
    expect(await remote.getJson("jobs/k1.json")).toEqual({ stage: "train", n: 2 })
    expect(await remote.list("jobs/")).toEqual(["jobs/k1.json", "jobs/k2.json"])
    expect(await remote.list("jobs/k2")).toEqual(["jobs/k2.json"])
    expect(await remote.list("")).toEqual(["jobs/k1.json", "jobs/k2.json", "results/k1.json"])
    const log = file("log.txt", "line 1\nline 2\n")
    await remote.putFile("logs/k1.log", log.path)
    expect(await remote.getFile("logs/k1.log", join(tmp, "got.log"))).toBe(true)
    expect(readFileSync(join(tmp, "got.log"), "utf8")).toBe("line 1\nline 2\n")
    expect(await remote.getFile("logs/none.log", join(tmp, "none.log"))).toBe(false)
    await remote.delete("jobs/k2.json")
    await remote.delete("jobs/k2.json")
    expect(await remote.list("jobs/")).toEqual(["jobs/k1.json"])
  })

  it("refuses keys that are not a hash or a safe relative path", async () => {
    const a = file("a.txt", "alpha")
    for (const bad of ["../escape.json", "jobs/../../escape.json", "/etc/passwd", "jobs//k.json", "jobs/.hidden", "", "a\\b", "jobs/k 1.json"]) {
      await expect(remote.putJson(bad, {}), bad).rejects.toThrow("is not a safe relative path")
      await expect(remote.getJson(bad), bad).rejects.toThrow(RemoteError)
      await expect(remote.delete(bad), bad).rejects.toThrow(RemoteError)
      await expect(remote.putFile(bad, a.path), bad).rejects.toThrow(RemoteError)
    }
    await expect(remote.list("../")).rejects.toThrow("is not a safe relative path")
    for (const bad of ["../../etc/passwd", a.hash.toUpperCase(), a.hash.slice(1), `${a.hash.slice(0, 62)}/.`]) {
      await expect(remote.putBlob(bad, a.path), bad).rejects.toThrow("is not a sha256 hash")
      await expect(remote.hasBlob(bad), bad).rejects.toThrow("is not a sha256 hash")
      await expect(remote.getBlob(bad, join(tmp, "x")), bad).rejects.toThrow("is not a sha256 hash")
    }
    expect(existsSync(join(tmp, "..", "escape.json"))).toBe(false)
  })
}

describe("openRemote", () => {
  it("takes a directory, a file URL and s3://bucket/prefix, and refuses anything else", () => {
    expect(parseRemoteUrl("/shared/dir")).toEqual({ _tag: "dir", path: "/shared/dir" })
    expect(parseRemoteUrl("file:///shared/dir")).toEqual({ _tag: "dir", path: "/shared/dir" })
    expect(parseRemoteUrl("s3://bucket")).toEqual({ _tag: "s3", bucket: "bucket", prefix: "" })
    expect(parseRemoteUrl("s3://my-bucket/team/pipe/")).toEqual({ _tag: "s3", bucket: "my-bucket", prefix: "team/pipe" })
    expect(() => parseRemoteUrl("http://example.com/x")).toThrow("http:// remotes are not supported; use a directory, file:///path or s3://bucket/prefix")
    expect(() => parseRemoteUrl("gs://bucket/x")).toThrow("gs:// remotes are not supported")
    expect(() => parseRemoteUrl("s3:///prefix")).toThrow("is not an S3 bucket name")
    expect(() => parseRemoteUrl("s3://Bad_Bucket/x")).toThrow("is not an S3 bucket name")
    expect(() => parseRemoteUrl("s3://bucket/../x")).toThrow("is not a safe relative path")
    expect(() => parseRemoteUrl("file://host/x")).toThrow("is not a usable file URL")
  })
})

describe("a directory remote", () => {
  contract(() => openRemote(join(tmp, "remote"), { create: true }))

  it("lays blobs out as blobs/<2 hex>/<hash>, read-only, and is opened by a file URL too", async () => {
    const remote = await openRemote(pathToFileURL(join(tmp, "shared")).href, { create: true })
    const a = file("a.txt", "alpha")
    await remote.putBlob(a.hash, a.path)
    await remote.putJson("results/k.json", [1])
    const p = join(tmp, "shared", "blobs", a.hash.slice(0, 2), a.hash)
    expect(readFileSync(p, "utf8")).toBe("alpha")
    expect(JSON.parse(readFileSync(join(tmp, "shared", "results", "k.json"), "utf8"))).toEqual([1])
    expect(remote.url).toBe(join(tmp, "shared"))
  })

  it("detects a blob changed in the remote directory and leaves nothing behind", async () => {
    const remote = await openRemote(join(tmp, "remote"), { create: true })
    const a = file("a.txt", "the real bytes")
    await remote.putBlob(a.hash, a.path)
    const p = join(tmp, "remote", "blobs", a.hash.slice(0, 2), a.hash)
    chmodSync(p, 0o644)
    writeFileSync(p, "the real bytez")
    mkdirSync(join(tmp, "out"))
    const dest = join(tmp, "out", "a.txt")
    const got = remote.getBlob(a.hash, dest)
    await expect(got).rejects.toThrow(RemoteBlobMismatch)
    await expect(remote.getBlob(a.hash, dest)).rejects.toThrow(`blob ${a.hash} in ${remote.url} does not match its hash`)
    expect(readdirSync(join(tmp, "out"))).toEqual([])
  })

  it("a missing directory is unreachable unless asked to create it", async () => {
    const missing = join(tmp, "not-mounted")
    const remote = await openRemote(missing)
    await expect(remote.hasBlob(sha("x"))).rejects.toThrow(RemoteUnreachable)
    await expect(remote.getJson("jobs/a.json")).rejects.toThrow(`${missing}: the remote directory does not exist`)
    writeFileSync(join(tmp, "plain"), "")
    await expect((await openRemote(join(tmp, "plain"), { create: true })).list("")).rejects.toThrow("not a directory")
  })
})

describe("an S3 remote (s3rver)", () => {
  let s3: S3Server
  let restore: () => void
  let raw: S3Client
  beforeAll(async () => {
    s3 = await startS3()
    // No region: a custom endpoint falls back to us-east-1.
    restore = withEnv({ ...s3.env, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_PROFILE: undefined, AWS_ENDPOINT_URL_S3: undefined })
    raw = await rawClient(s3)
  })
  afterAll(async () => {
    raw?.destroy()
    restore?.()
    await s3?.stop()
  })

  let n = 0
  contract(() => openRemote(`s3://${s3.bucket}/run-${++n}/pipe`))

  it("detects a blob rewritten in the bucket after upload and leaves nothing behind", async () => {
    const remote = await openRemote(`s3://${s3.bucket}/tamper`)
    try {
      const a = file("a.bin", Buffer.alloc(100_000, 1))
      expect(await remote.putBlob(a.hash, a.path)).toBe(true)
      await raw.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `tamper/blobs/${a.hash.slice(0, 2)}/${a.hash}`, Body: Buffer.alloc(100_000, 2) }))
      mkdirSync(join(tmp, "out"))
      const dest = join(tmp, "out", "a.bin")
      await expect(remote.getBlob(a.hash, dest)).rejects.toThrow(RemoteBlobMismatch)
      await expect(remote.getBlob(a.hash, dest)).rejects.toThrow(`blob ${a.hash} in s3://${s3.bucket}/tamper does not match its hash`)
      expect(readdirSync(join(tmp, "out"))).toEqual([])
      // same size, so putBlob trusts it is there; a different size is uploaded again
      const b = file("b.bin", "short")
      await raw.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `tamper/blobs/${b.hash.slice(0, 2)}/${b.hash}`, Body: "truncated!" }))
      expect(await remote.putBlob(b.hash, b.path)).toBe(true)
      await remote.getBlob(b.hash, join(tmp, "out", "b.bin"))
      expect(readFileSync(join(tmp, "out", "b.bin"), "utf8")).toBe("short")
    } finally {
      remote.close()
    }
  })

  it("stores under the prefix in pipe's layout", async () => {
    const remote = await openRemote(`s3://${s3.bucket}/layout/x`)
    try {
      const a = file("a.txt", "alpha")
      await remote.putBlob(a.hash, a.path)
      await remote.putJson("jobs/k.json", { k: 1 })
      const other = await openRemote(`s3://${s3.bucket}/layout`)
      expect(await other.list("")).toEqual([`x/blobs/${a.hash.slice(0, 2)}/${a.hash}`, "x/jobs/k.json"])
      other.close()
    } finally {
      remote.close()
    }
  })

  it("a bucket that does not exist is an error naming it", async () => {
    const remote = await openRemote("s3://no-such-bucket/p")
    try {
      await expect(remote.putJson("jobs/a.json", {})).rejects.toThrow("s3://no-such-bucket/p")
      await expect(remote.putJson("jobs/a.json", {})).rejects.toThrow("the bucket no-such-bucket does not exist")
    } finally {
      remote.close()
    }
  })

  it("an unreachable endpoint fails quickly with an error naming the URL", async () => {
    // a port that was free a moment ago: nothing listens there
    const port = await new Promise<number>((res) => {
      const srv = createServer().listen(0, "127.0.0.1", () => {
        const p = (srv.address() as { port: number }).port
        srv.close(() => res(p))
      })
    })
    const back = withEnv({ AWS_ENDPOINT_URL: `http://127.0.0.1:${port}` })
    try {
      const remote = await openRemote(`s3://${s3.bucket}/gone`, { maxAttempts: 1, connectTimeoutMs: 1000 })
      const t0 = Date.now()
      const err = await remote.hasBlob(sha("x")).catch((e: unknown) => e)
      expect(Date.now() - t0).toBeLessThan(3000)
      expect(err).toBeInstanceOf(RemoteUnreachable)
      expect((err as Error).message).toContain(`cannot reach s3://${s3.bucket}/gone (endpoint http://127.0.0.1:${port})`)
      remote.close()
    } finally {
      back()
    }
  })
})
