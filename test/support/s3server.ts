/**
 * A real S3-compatible server for tests: s3rver on 127.0.0.1 at a free port, its data in a temp dir, one bucket.
 * `env` is what a pipe process (or openRemote in this one) needs to reach it: the endpoint and s3rver's fixed
 * credentials, with the AWS config files pointed away from the user's own.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"

interface S3rverInstance {
  run(): Promise<{ port: number }>
  close(): Promise<void>
}
type S3rverCtor = new (options: Record<string, unknown>) => S3rverInstance

export interface S3Server {
  readonly endpoint: string
  readonly bucket: string
  readonly env: Record<string, string>
  stop(): Promise<void>
}

export const startS3 = async (bucket = "pipe-test"): Promise<S3Server> => {
  const S3rver = createRequire(import.meta.url)("s3rver") as S3rverCtor
  const directory = mkdtempSync(join(tmpdir(), "pipe-s3rver-"))
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] })
  const { port } = await server.run()
  const endpoint = `http://127.0.0.1:${port}`
  return {
    endpoint,
    bucket,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_CONFIG_FILE: join(directory, "no-aws-config"),
      AWS_SHARED_CREDENTIALS_FILE: join(directory, "no-aws-credentials")
    },
    stop: async () => {
      await server.close()
      rmSync(directory, { recursive: true, force: true })
    }
  }
}

/** A plain SDK client for the server, to read or rewrite objects behind pipe's back. */
export const rawClient = async (s3: S3Server) => {
  const { S3Client } = await import("@aws-sdk/client-s3")
  const restore = withEnv({ AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" })
  try {
    return new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: "us-east-1", credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } })
  } finally {
    restore()
  }
}

/** Sets environment variables for the duration of a test file; returns the function that restores them. */
export const withEnv = (vars: Record<string, string | undefined>): (() => void) => {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
  const set = (vs: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(vs)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
  set(vars)
  return () => set(before)
}
