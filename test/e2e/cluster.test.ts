/**
 * The cluster the SLURM executor and the S3 store are tested against, checked on its own: a real batch job
 * through sbatch, jobs placed on both nodes, a failing job's exit code, and an object put into and read back
 * from the bucket with @aws-sdk/client-s3.
 *
 * Runs only when PIPE_TEST_CLUSTER=1, which `eval "$(scripts/cluster.sh up)"` exports along with SLURM_CONF
 * and the AWS_* variables (.ci/run does that before the tests). Everywhere else it is skipped by design: it
 * needs root, Debian's slurm and munge daemons and s3rver running, which a plain `npm test` does not start.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { randomBytes } from "node:crypto"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3"
import { execa } from "execa"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { holdCluster } from "../support/clusterLock.js"

const ENABLED = process.env["PIPE_TEST_CLUSTER"] === "1"
/** States a job does not leave by itself (squeue's long names, as `scontrol show job` prints them). */
const RUNNING = new Set(["PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING"])

/** Submits a batch job and returns its id; `sbatch --parsable` prints `id` or `id;cluster`. */
async function sbatch(args: ReadonlyArray<string>): Promise<string> {
  const { stdout } = await execa("sbatch", ["--parsable", ...args])
  const id = stdout.trim().split(";")[0] ?? ""
  expect(id).toMatch(/^\d+$/)
  return id
}

/** Polls `scontrol show job` (not `sbatch --wait`, which costs seconds) until the job leaves the running states. */
async function finished(id: string, timeoutMs = 30_000): Promise<{ state: string; exitCode: string; nodes: string }> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { stdout } = await execa("scontrol", ["show", "job", id])
    const field = (name: string) => new RegExp(`(?:^|\\s)${name}=(\\S*)`).exec(stdout)?.[1] ?? ""
    const state = field("JobState")
    if (!RUNNING.has(state)) return { state, exitCode: field("ExitCode"), nodes: field("NodeList") }
    if (Date.now() > deadline) throw new Error(`job ${id} still ${state} after ${timeoutMs} ms:\n${stdout}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe.runIf(ENABLED)("the test cluster (scripts/cluster.sh)", () => {
  // One SLURM test file at a time: they need the nodes free, and some kill them.
  holdCluster()

  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "pipe-cluster-test-"))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("sinfo shows the two nodes idle", async () => {
    const { stdout } = await execa("sinfo", ["-h", "-N", "-o", "%N %t %c"])
    expect(stdout.trim().split("\n").sort()).toEqual(["n1 idle 1", "n2 idle 1"])
  })

  it("runs a batch job that writes the name of its node to a file", async () => {
    const out = join(dir, "node.txt")
    const id = await sbatch(["--chdir", dir, "-o", join(dir, "job-%j.log"), "--wrap", `echo "$SLURMD_NODENAME" > ${out}`])
    const job = await finished(id)
    expect(job).toMatchObject({ state: "COMPLETED", exitCode: "0:0" })
    expect(["n1", "n2"]).toContain(job.nodes)
    expect(readFileSync(out, "utf8").trim()).toBe(job.nodes)
  })

  it("places a two-node job's srun tasks on n1 and on n2", async () => {
    const out = join(dir, "two-nodes.txt")
    const id = await sbatch(["-N2", "--chdir", dir, "-o", out, "--wrap", `srun -N2 sh -c 'echo "$SLURMD_NODENAME"'`])
    expect(await finished(id)).toMatchObject({ state: "COMPLETED", nodes: "n[1-2]" })
    expect(readFileSync(out, "utf8").trim().split("\n").sort()).toEqual(["n1", "n2"])
  })

  it("runs a job pinned with -w on the node it names", async () => {
    const ids = await Promise.all(
      ["n1", "n2"].map((n) => sbatch(["-w", n, "--chdir", dir, "-o", join(dir, `pinned-${n}.txt`), "--wrap", `echo "$SLURMD_NODENAME"`]))
    )
    const jobs = await Promise.all(ids.map((id) => finished(id)))
    expect(jobs.map((j) => [j.state, j.nodes])).toEqual([["COMPLETED", "n1"], ["COMPLETED", "n2"]])
    for (const n of ["n1", "n2"]) expect(readFileSync(join(dir, `pinned-${n}.txt`), "utf8").trim()).toBe(n)
  })

  it("reports a failing job as FAILED with its exit code", async () => {
    const id = await sbatch(["--chdir", dir, "-o", "/dev/null", "--wrap", "exit 3"])
    expect(await finished(id)).toMatchObject({ state: "FAILED", exitCode: "3:0" })
  })

  it("puts an object into the bucket and gets the same bytes back", async () => {
    const bucket = process.env["PIPE_TEST_S3_BUCKET"] ?? "pipe-test"
    const s3 = new S3Client({ endpoint: process.env["AWS_ENDPOINT_URL"], region: process.env["AWS_REGION"] ?? "us-east-1", forcePathStyle: true })
    const key = `cluster-test/${randomBytes(8).toString("hex")}.bin`
    const body = randomBytes(1024 * 1024 + 7)
    try {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      const bytes = Buffer.from(await got.Body!.transformToByteArray())
      expect(bytes.length).toBe(body.length)
      expect(bytes.equals(body)).toBe(true)
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))
      s3.destroy()
    }
  })
})
