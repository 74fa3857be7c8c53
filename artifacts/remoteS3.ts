/**
 * The S3 remote (loaded by openRemote only for `s3://bucket/prefix`), through the official AWS SDK. Credentials,
 * region and endpoint come from the standard AWS environment and profile (AWS_ACCESS_KEY_ID, AWS_PROFILE,
 * AWS_REGION, ...). AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL points it at MinIO and friends: then requests use
 * path-style addressing (http://host/bucket/key), and the region defaults to us-east-1 when none is configured.
 * Blobs are uploaded with their sha256 as ChecksumSHA256, so a server that checks it (AWS S3 does) refuses bytes
 * that changed on the way; every download is rehashed here whatever the server does.
 * A blob is uploaded with one PutObject: S3 takes up to 5 GiB that way.
 */
import type { S3Client as S3ClientType } from "@aws-sdk/client-s3"
import { createHash } from "node:crypto"
import { createReadStream, createWriteStream, readFileSync, renameSync, rmSync, statSync } from "node:fs"
import { Transform, type Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import {
  checkHash,
  checkPath,
  checkPrefix,
  expectHash,
  remoteBlobKey,
  RemoteBlobMismatch,
  RemoteError,
  RemoteUnreachable,
  tempBeside,
  type Remote,
  type RemoteOptions
} from "./remote.js"

type Sdk = typeof import("@aws-sdk/client-s3")

const NETWORK = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "EPIPE"])

interface SdkError {
  readonly name?: string
  readonly code?: string
  readonly message?: string
  readonly $metadata?: { readonly httpStatusCode?: number }
}

const status = (e: unknown): number | undefined => (e as SdkError)?.$metadata?.httpStatusCode

/**
 * Whether a request failed only because the object is not there. A GET must say NoSuchKey: a bare 404 (a proxy,
 * or an endpoint that is not S3) is an error, not an empty remote. A HEAD has no body, so any 404 is absence.
 */
const isAbsent = (e: unknown, head = false): boolean => {
  const name = (e as SdkError)?.name
  return name === "NoSuchKey" || (head && status(e) === 404 && name !== "NoSuchBucket")
}

/** The SDK's own warnings (a failed streaming upload, say) would duplicate the error pipe reports. */
const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {} }

/**
 * Makes a client without the SDK's warning that its releases after early 2027 need Node 22: pipe pins the SDK's
 * version, so the warning is not the user's to act on (and it would land on every push's stderr).
 */
const quietly = (make: () => S3ClientType): S3ClientType => {
  const KEY = "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"
  const before = process.env[KEY]
  process.env[KEY] = "true"
  try {
    return make()
  } finally {
    if (before === undefined) delete process.env[KEY]
    else process.env[KEY] = before
  }
}

export const openS3Remote = async (bucket: string, prefix: string, options: RemoteOptions): Promise<Remote> => {
  const sdk: Sdk = await import("@aws-sdk/client-s3")
  const endpoint = process.env["AWS_ENDPOINT_URL_S3"] || process.env["AWS_ENDPOINT_URL"] || undefined
  const base = {
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
    requestHandler: { connectionTimeout: options.connectTimeoutMs ?? 5000 },
    logger: silent,
    // Checksums only where S3 requires them, and the blob's own sha256 where we give it: S3-compatible servers
    // do not all understand the SDK's default CRC32 trailers (s3rver stores a streamed upload's aws-chunked
    // framing as the object's bytes).
    requestChecksumCalculation: "WHEN_REQUIRED" as const,
    responseChecksumValidation: "WHEN_REQUIRED" as const
  }
  let client = quietly(() => new sdk.S3Client(base))
  if (endpoint) {
    // MinIO and friends rarely care about the region, but the SDK needs one to sign with.
    const region = await client.config.region().catch(() => undefined)
    if (!region) {
      client.destroy()
      client = quietly(() => new sdk.S3Client({ ...base, region: "us-east-1" }))
    }
  }
  return new S3Remote(sdk, client, bucket, prefix, endpoint)
}

class S3Remote implements Remote {
  readonly url: string

  constructor(
    private readonly sdk: Sdk,
    private readonly client: S3ClientType,
    private readonly bucket: string,
    private readonly prefix: string,
    private readonly endpoint: string | undefined
  ) {
    this.url = `s3://${bucket}${prefix ? `/${prefix}` : ""}`
  }

  private key(path: string): string {
    return this.prefix ? `${this.prefix}/${path}` : path
  }

  /** An SDK failure as a RemoteError naming the URL (and the endpoint, when one is set). */
  private fail(what: string, e: unknown): never {
    if (e instanceof RemoteError) throw e
    const err = (e ?? {}) as SdkError
    const where = this.endpoint ? `${this.url} (endpoint ${this.endpoint})` : this.url
    const msg = err.message || err.name || String(e)
    const code = err.code ?? (e as { cause?: SdkError })?.cause?.code
    if ((code && NETWORK.has(code)) || err.name === "TimeoutError" || err.name === "RequestTimeout" || /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|socket hang up/.test(msg)) {
      throw new RemoteUnreachable(`cannot reach ${where}: ${code ?? err.name}${msg && msg !== code ? ` (${msg})` : ""}`)
    }
    if (err.name === "NoSuchBucket") throw new RemoteUnreachable(`${where}: the bucket ${this.bucket} does not exist`)
    if (err.name === "CredentialsProviderError") throw new RemoteError(`${where}: no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE): ${msg}`)
    if (/region is missing/i.test(msg)) throw new RemoteError(`${where}: no AWS region (set AWS_REGION or a profile's region)`)
    if (err.name === "AccessDenied" || status(e) === 403) throw new RemoteError(`${where}: access denied when trying to ${what} (${err.name}: ${msg})`)
    const http = status(e) !== undefined ? `HTTP ${status(e)} ` : ""
    throw new RemoteError(`${where}: cannot ${what}: ${http}${err.name && err.name !== msg ? `${err.name}: ` : ""}${msg}`)
  }

  /** The size of the object at `key`, undefined when there is none. */
  private async head(key: string, what: string): Promise<number | undefined> {
    try {
      const r = await this.client.send(new this.sdk.HeadObjectCommand({ Bucket: this.bucket, Key: key }))
      return r.ContentLength ?? 0
    } catch (e) {
      if (isAbsent(e, true)) return undefined
      return this.fail(what, e)
    }
  }

  async hasBlob(hash: string): Promise<boolean> {
    const key = this.key(remoteBlobKey(checkHash(this.url, hash)))
    return (await this.head(key, `look up blob ${hash}`)) !== undefined
  }

  async putBlob(hash: string, localPath: string): Promise<boolean> {
    const key = this.key(remoteBlobKey(checkHash(this.url, hash)))
    let size: number
    try {
      size = statSync(localPath).size
    } catch (e) {
      throw new RemoteError(`${this.url}: cannot upload blob ${hash}: cannot read ${localPath} (${(e as SdkError).code ?? (e as Error).message})`)
    }
    if ((await this.head(key, `look up blob ${hash}`)) === size) return false
    expectHash(localPath, hash, () => `${localPath} does not match the hash ${hash} it was to be stored under in ${this.url}`)
    try {
      await this.client.send(
        new this.sdk.PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: createReadStream(localPath),
          ContentLength: size,
          ChecksumSHA256: Buffer.from(hash, "hex").toString("base64"),
          ContentType: "application/octet-stream"
        })
      )
      return true
    } catch (e) {
      return this.fail(`upload blob ${hash}`, e)
    }
  }

  /** Streams the object at `key` into a temporary file beside `dest`, hashing it; undefined when absent. */
  private async download(key: string, dest: string, what: string): Promise<{ tmp: string; sha256: string } | undefined> {
    let body: Readable
    try {
      const r = await this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: key }))
      body = r.Body as Readable
    } catch (e) {
      if (isAbsent(e)) return undefined
      return this.fail(what, e)
    }
    const tmp = tempBeside(dest)
    const h = createHash("sha256")
    try {
      await pipeline(
        body,
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            h.update(chunk)
            done(null, chunk)
          }
        }),
        createWriteStream(tmp, { flags: "wx" })
      )
    } catch (e) {
      rmSync(tmp, { force: true })
      return this.fail(what, e)
    }
    return { tmp, sha256: h.digest("hex") }
  }

  async getBlob(hash: string, destPath: string): Promise<void> {
    const key = this.key(remoteBlobKey(checkHash(this.url, hash)))
    const got = await this.download(key, destPath, `download blob ${hash}`)
    if (!got) throw new RemoteError(`blob ${hash} is not in ${this.url}`)
    if (got.sha256 !== hash) {
      rmSync(got.tmp, { force: true })
      throw new RemoteBlobMismatch(`blob ${hash} in ${this.url} does not match its hash: its bytes hash to ${got.sha256} (corrupt)`)
    }
    renameSync(got.tmp, destPath)
  }

  async putJson(path: string, value: unknown): Promise<void> {
    const key = this.key(checkPath(this.url, path))
    try {
      await this.client.send(
        new this.sdk.PutObjectCommand({ Bucket: this.bucket, Key: key, Body: JSON.stringify(value), ContentType: "application/json" })
      )
    } catch (e) {
      this.fail(`write ${path}`, e)
    }
  }

  async getJson(path: string): Promise<unknown> {
    const key = this.key(checkPath(this.url, path))
    let text: string
    try {
      const r = await this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: key }))
      text = (await r.Body?.transformToString("utf8")) ?? ""
    } catch (e) {
      if (isAbsent(e)) return undefined
      return this.fail(`read ${path}`, e)
    }
    try {
      return JSON.parse(text)
    } catch {
      throw new RemoteError(`${this.url}: ${path} is not valid JSON`)
    }
  }

  async putFile(path: string, localPath: string): Promise<void> {
    const key = this.key(checkPath(this.url, path))
    try {
      // Logs and series: small enough to send whole, which any S3-compatible server takes.
      await this.client.send(new this.sdk.PutObjectCommand({ Bucket: this.bucket, Key: key, Body: readFileSync(localPath) }))
    } catch (e) {
      this.fail(`upload ${path}`, e)
    }
  }

  async getFile(path: string, destPath: string): Promise<boolean> {
    const key = this.key(checkPath(this.url, path))
    const got = await this.download(key, destPath, `download ${path}`)
    if (!got) return false
    renameSync(got.tmp, destPath)
    return true
  }

  async list(prefix: string): Promise<Array<string>> {
    checkPrefix(this.url, prefix)
    const strip = this.prefix ? this.prefix.length + 1 : 0
    const found: Array<string> = []
    let token: string | undefined
    try {
      do {
        const r = await this.client.send(
          new this.sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.key(prefix), ...(token ? { ContinuationToken: token } : {}) })
        )
        for (const o of r.Contents ?? []) if (o.Key) found.push(o.Key.slice(strip))
        token = r.IsTruncated ? r.NextContinuationToken : undefined
      } while (token)
    } catch (e) {
      return this.fail(`list ${prefix || "."}`, e)
    }
    return found.sort()
  }

  async delete(path: string): Promise<void> {
    const key = this.key(checkPath(this.url, path))
    try {
      await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: key }))
    } catch (e) {
      if (isAbsent(e)) return
      this.fail(`delete ${path}`, e)
    }
  }

  close(): void {
    this.client.destroy()
  }
}
