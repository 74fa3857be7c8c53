/**
 * `--executor slurm --remote s3://...` on a real SLURM cluster and S3 store on loopback (scripts/cluster.sh up,
 * which `.ci/run` always starts). Without the cluster (PIPE_TEST_CLUSTER unset) these tests are skipped by
 * design: they need slurmctld, two slurmd nodes and an S3 server. Each stage is one sbatch job running
 * `pipe exec-node`; the coordinator records the runs with the job's host and id; a failing job and a job
 * cancelled mid-run fail their stage with what SLURM and the node said, record no output, and the next run
 * retries.
 */
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { afterEach, describe, expect, it } from "vitest"
import { statuses, workspace, type Workspace } from "../support/cli.js"
import { holdCluster } from "../support/clusterLock.js"

const UP = process.env["PIPE_TEST_CLUSTER"] === "1"
const BUCKET = process.env["PIPE_TEST_S3_BUCKET"] ?? "pipe-test"

const PIPELINE = `
name: onslurm
stages:
  data:
    kind: command
    cmd: [sh, -c, 'seq 1 100 > $PIPE_OUT/numbers; echo "node $SLURMD_NODENAME" > $PIPE_OUT/where']
  sum:
    kind: command
    needs: [data]
    params: { fail: 0, wait: 0 }
    cmd: [sh, -c, '[ \${params.wait} = 0 ] || { touch $PIPE_METRICS.started; sleep \${params.wait}; }; [ \${params.fail} = 0 ] || { echo "boom on the node" >&2; exit 3; }; awk "{s+=\\$1} END {print s}" $PIPE_IN_DATA/numbers > $PIPE_OUT/sum']
`

let ws: Workspace
afterEach(() => ws?.cleanup())

const remote = () => `s3://${BUCKET}/t-${randomBytes(4).toString("hex")}`

describe.runIf(UP)("--executor slurm --remote s3://", () => {
  // One SLURM test file at a time: they need the nodes free, and some kill them.
  holdCluster()

  it("runs each stage as a SLURM job through S3 and records where it ran", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const r = await ws.json(["run", "--executor", "slurm", "--remote", remote()])
    expect(r.code, r.stderr).toBe(0)
    expect(statuses(r.events)).toEqual({ data: "ran", sum: "ran" })
    const show = await ws.pipe(["show", "sum"])
    expect(show.stdout).toMatch(/submitted to slurm as \d+/)
    expect(show.stdout).toMatch(/pipe: ran on \S+ \(job \d+\)/)
    expect(show.stdout).toMatch(/took .* on \S+ \(job \d+\), for \S+/)
    const json = (await ws.json(["show", "sum"])).events[0]!
    expect(json["job_id"]).toMatch(/^\d+$/)
    expect(typeof json["ran_on"]).toBe("string")
    const again = await ws.json(["run"])
    expect(statuses(again.events)).toEqual({ data: "cached", sum: "cached" })
  }, 120_000)

  it("a job that fails, and one cancelled mid-run, fail their stage, record nothing, and rerun next time", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const url = remote()
    const failed = await ws.pipe(["run", "--executor", "slurm", "--remote", url, "--set", "sum.fail=1"])
    expect(failed.code).toBe(1)
    expect(failed.stdout).toMatch(/✗ sum: failed after .*command exited with code 3 on \S+ \(job \d+\)/)
    expect(failed.stdout).toContain("boom on the node")

    const child = ws.spawn(["run", "--executor", "slurm", "--remote", url, "--set", "sum.wait=60"])
    // Cancel the sum job once it runs (found by its name, as an operator would).
    let cancelled = false
    for (const end = Date.now() + 60_000; !cancelled && Date.now() < end; await sleep(200)) {
      if (!existsSync(join(ws.dir, ".pipe", "pipe.db"))) continue
      const d = ws.db()
      const sumRunning = d.prepare("SELECT count(*) AS n FROM runs WHERE stage = 'sum' AND status = 'running'").get() as { n: number }
      d.close()
      if (sumRunning.n === 0) continue
      const jobs = execFileSync("squeue", ["-h", "-o", "%i %j %T"]).toString().trim().split("\n").filter(Boolean)
      const running = jobs.map((l) => l.split(" ")).find(([, name, state]) => name!.startsWith("pipe-") && state === "RUNNING")
      if (running) {
        execFileSync("scancel", [running[0]!])
        cancelled = true
      }
    }
    expect(cancelled).toBe(true)
    const r = await child
    expect(r.exitCode).toBe(1)
    expect(String(r.stdout)).toMatch(/✗ sum: failed after .*CANCELLED/)
    const again = await ws.json(["run", "--executor", "slurm", "--remote", url])
    expect(statuses(again.events)).toEqual({ data: "cached", sum: "ran" })
  }, 180_000)
})
