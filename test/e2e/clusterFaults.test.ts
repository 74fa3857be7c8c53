/**
 * The faults a cluster run must survive, on the real SLURM cluster and S3 store on loopback
 * (scripts/cluster.sh up, which `.ci/run` always starts; without it, PIPE_TEST_CLUSTER unset, these are skipped
 * by design). Settings come from the pipeline file's `executor:` block; a stage's `resources:` become the
 * job's sbatch options. Covered: resources reaching SLURM, a job that cannot see the coordinator's store,
 * a job over its time limit, a node dying mid-job (its job resubmitted elsewhere), and the coordinator killed
 * with -9 mid-sweep (the next sweep re-attaches to its jobs instead of submitting them again).
 */
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs"
import { join, resolve } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { afterEach, describe, expect, it } from "vitest"
import { scontrolFields } from "../../pipelines/launchers.js"
import { statuses, workspace, type Workspace } from "../support/cli.js"
import { holdCluster } from "../support/clusterLock.js"

const UP = process.env["PIPE_TEST_CLUSTER"] === "1"
const BUCKET = process.env["PIPE_TEST_S3_BUCKET"] ?? "pipe-test"
const CLUSTER = resolve(import.meta.dirname, "../../scripts/cluster.sh")

/** Each test its own bucket prefix, and a tag in its params so no two tests share a stage key (or a job name). */
const fresh = () => randomBytes(4).toString("hex")

const pipeline = (tag: string, resources = "{ cpus: 1, gpus: 1, mem: 200M, time: 5 }", extra = "") => `
name: faults
executor: { kind: slurm, remote: s3://${BUCKET}/f-${tag}${extra} }
stages:
  data:
    kind: command
    params: { tag: "t${tag}" }
    cmd: [sh, -c, 'seq 1 10 > $PIPE_OUT/numbers']
  work:
    kind: command
    needs: [data]
    params: { wait: 0, n: 0, look: none }
    resources: ${resources}
    cmd: [sh, -c, 'sleep \${params.wait}; if [ -e "\${params.look}" ]; then echo visible; else echo hidden; fi > $PIPE_OUT/seen; echo "gpu=$CUDA_VISIBLE_DEVICES n=\${params.n}" >> $PIPE_OUT/seen; cat $PIPE_IN_DATA/numbers >> $PIPE_OUT/seen']
`

/** Every job slurmctld knows (finished ones stay MinJobAge=300 s), as scontrol's fields. */
const jobs = (): Array<Record<string, string>> => {
  try {
    return execFileSync("scontrol", ["show", "job", "-o"]).toString().split("\n").filter((l) => l.startsWith("JobId=")).map(scontrolFields)
  } catch {
    return []
  }
}

/** The stage's last run as `pipe show --json` gives it. */
const shown = async (ws: Workspace, stage: string) => (await ws.json(["show", stage])).events[0]!

/** The file `name` of a run's output, as `pipe show --json` lists it. */
const outputFile = (run: Record<string, any>, name: string) =>
  readFileSync((run["output"]["files"] as Array<{ path: string; blob_path: string }>).find((f) => f.path === name)!.blob_path, "utf8")

/** Waits until `pred` holds (checked every 200 ms), failing after `ms`. */
const until = async (what: string, ms: number, pred: () => boolean) => {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(200)) if (pred()) return
  throw new Error(`timed out waiting for ${what}`)
}

/** Whether the stage has a run in the given status in the workspace's store. */
const hasRun = (ws: Workspace, stage: string, status: string) => {
  if (!existsSync(join(ws.dir, ".pipe", "pipe.db"))) return false
  const d = ws.db()
  try {
    return (d.prepare("SELECT count(*) AS n FROM runs WHERE stage = ? AND status = ?").get(stage, status) as { n: number }).n > 0
  } catch {
    // The store is being created (its tables are not there yet).
    return false
  } finally {
    d.close()
  }
}

let ws: Workspace
afterEach(() => ws?.cleanup())

describe.runIf(UP)("a cluster run's settings and faults", () => {
  // One SLURM test file at a time: they need the nodes free, and some kill them.
  holdCluster()

  it("takes its executor from the pipeline file, and a stage's resources become its job's sbatch options", async () => {
    const tag = fresh()
    ws = workspace({ "pipeline.yaml": pipeline(tag) })
    const r = await ws.json(["run"])
    expect(r.code, r.stderr).toBe(0)
    expect(statuses(r.events)).toEqual({ data: "ran", work: "ran" })
    const work = await shown(ws, "work")
    expect(work["job_id"]).toMatch(/^\d+$/)
    const job = jobs().find((j) => j["JobId"] === work["job_id"])!
    expect(job["TimeLimit"]).toBe("00:05:00")
    expect(job["MinMemoryNode"]).toBe("200M")
    expect(job["NumCPUs"]).toBe("1")
    expect(job["TresPerNode"]).toMatch(/gpu:1/)
    // pipe lineage names the node and the job too.
    expect((await ws.pipe(["lineage", "work"])).stdout).toMatch(new RegExp(`made by run #\\d+ work \\[command\\] ok, .* on n[12] \\(job ${work["job_id"]}\\)`))
    // SLURM gave the job its GPU.
    expect(outputFile(work, "seen")).toMatch(/^hidden\ngpu=0 n=0\n1\n/)
    // The command line wins over the file: --executor local runs it here, with no job.
    const here = await ws.json(["run", "--executor", "local", "--force", "work"])
    expect(statuses(here.events)).toEqual({ data: "cached", work: "ran" })
    expect((await shown(ws, "work"))["job_id"]).toBeNull()
  }, 120_000)

  it("a job cannot see the coordinator's store: everything it reads and writes travels through the remote", async () => {
    const hidden = process.env["PIPE_TEST_HIDDEN_DIR"]!
    const tag = fresh()
    // The nodes see an empty tmpfs over PIPE_TEST_HIDDEN_DIR (cluster.sh starts each slurmd in its own mount namespace).
    const store = join(hidden, `store-${tag}`)
    mkdirSync(store, { recursive: true })
    ws = workspace({ "pipeline.yaml": pipeline(tag) })
    try {
      const r = await ws.json(["run", "--store", store, "--set", `work.look=${store}/pipe.db`])
      expect(r.code, r.stderr).toBe(0)
      expect(statuses(r.events)).toEqual({ data: "ran", work: "ran" })
      expect(existsSync(join(store, "pipe.db"))).toBe(true)
      const work = (await ws.json(["show", "work", "--store", store])).events[0]!
      // The job looked for the store's database and did not find it, yet read its input and made its output.
      expect(outputFile(work, "seen")).toMatch(/^hidden\ngpu=0 n=0\n1\n2\n/)
    } finally {
      rmSync(store, { recursive: true, force: true })
    }
  }, 120_000)

  it("Ctrl-C cancels the jobs pipe submitted (scancel) and records nothing", async () => {
    const tag = fresh()
    ws = workspace({ "pipeline.yaml": pipeline(tag, "{ cpus: 1 }") })
    const child = ws.spawn(["run", "--set", "work.wait=120"])
    let job: Record<string, string> | undefined
    try {
      await until("work's job to run", 60_000, () => {
        if (!hasRun(ws, "work", "running")) return false
        job = jobs().find((j) => j["JobState"] === "RUNNING" && j["Comment"]?.includes(`f-${tag}`))
        return job !== undefined
      })
      child.kill("SIGINT")
      const r = await child
      expect(r.exitCode).toBe(130)
      await until("the job to be cancelled", 30_000, () => jobs().find((j) => j["JobId"] === job!["JobId"])?.["JobState"] === "CANCELLED")
      expect(hasRun(ws, "work", "ok")).toBe(false)
      expect(hasRun(ws, "work", "interrupted")).toBe(true)
    } finally {
      child.kill("SIGKILL")
    }
  }, 120_000)

  it("a job over its time limit fails its stage with TIMEOUT, records nothing, and skips what needs it", async () => {
    const tag = fresh()
    ws = workspace({ "pipeline.yaml": `${pipeline(tag, "{ time: 1 }")}  after:\n    kind: command\n    needs: [work]\n    cmd: [sh, -c, 'cp $PIPE_IN_WORK/seen $PIPE_OUT/']\n` })
    const t0 = Date.now()
    const r = await ws.pipe(["run", "--set", "work.wait=300"])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/✗ work: failed after .*slurm job \d+ ended TIMEOUT/)
    expect(r.stdout).toMatch(/after: skipped .*needs work, which failed/)
    expect(Date.now() - t0).toBeLessThan(200_000)
    expect(hasRun(ws, "work", "ok")).toBe(false)
    expect(hasRun(ws, "work", "failed")).toBe(true)
  }, 240_000)

  it("a node dying mid-job: the job's NODE_FAIL is resubmitted on the other node and the run finishes", async () => {
    const tag = fresh()
    ws = workspace({ "pipeline.yaml": pipeline(tag, "{ cpus: 1 }") })
    const child = ws.spawn(["run", "--retries", "1", "--set", "work.wait=15"])
    let victim: Record<string, string> | undefined
    try {
      await until("work's job to run", 60_000, () => {
        if (!hasRun(ws, "work", "running")) return false
        victim = jobs().find((j) => j["JobName"]?.startsWith("pipe-") && j["JobState"] === "RUNNING" && j["Comment"]?.includes(`f-${tag}`))
        return victim !== undefined
      })
      const node = victim!["BatchHost"]!
      execFileSync(CLUSTER, ["kill-node", node], { stdio: "ignore" })
      const r = await child
      expect(r.exitCode, String(r.stdout)).toBe(0)
      expect(String(r.stdout)).toMatch(/✓ work: ran in/)
      const log = (await ws.pipe(["show", "work"])).stdout
      expect(log).toContain(`slurm job ${victim!["JobId"]} ended NODE_FAIL on ${node}; resubmitting (try 2 of 2)`)
      expect(log).toMatch(new RegExp(`submitted to slurm as \\d+ \\(not on ${node}\\)`))
      const work = await shown(ws, "work")
      expect(work["job_id"]).not.toBe(victim!["JobId"])
      expect(jobs().find((j) => j["JobId"] === work["job_id"])!["BatchHost"]).not.toBe(node)
      expect(outputFile(work, "seen")).toContain("n=0")
    } finally {
      child.kill("SIGKILL")
      if (victim) execFileSync(CLUSTER, ["revive-node", victim["BatchHost"]!], { stdio: "ignore" })
    }
  }, 180_000)

  it("the coordinator killed with -9 mid-sweep: the next sweep re-attaches to its jobs and collects what finished, submitting nothing twice", async () => {
    const tag = fresh()
    ws = workspace({ "pipeline.yaml": pipeline(tag, "{ cpus: 1 }") })
    const args = ["sweep", "work.n=1,2,3,4", "--set", "work.wait=4", "--jobs", "4"]
    const first = ws.spawn(args)
    const ours = () => jobs().filter((j) => j["Comment"]?.includes(`f-${tag}`))
    // Killed once all four work jobs are in (data's job, shared by the points, is one more).
    await until("the sweep's jobs to be submitted", 90_000, () => ours().length >= 5)
    first.kill("SIGKILL")
    await first
    const before = new Set(ours().map((j) => j["JobId"]))
    const r = await ws.json(args)
    expect(r.code, r.stderr).toBe(0)
    const points = r.events.filter((e) => e["event"] === "point")
    expect(points.map((p) => p["status"])).toEqual(["ok", "ok", "ok", "ok"])
    // Every job the second sweep used was submitted by the first: one job per stage key, none twice.
    const after = ours()
    expect(after.map((j) => j["JobId"]).sort()).toEqual([...before].sort())
    const names = after.map((j) => j["JobName"])
    expect(new Set(names).size).toBe(names.length)
    const runs = (await ws.json(["runs", "--stage", "work"])).events.filter((e) => e["status"] === "ok")
    expect(runs.length).toBe(4)
    for (const run of runs) expect(before.has(String(run["job_id"]))).toBe(true)
    const logs = await Promise.all(runs.map(async (run) => (await ws.pipe(["show", String(run["id"])])).stdout))
    expect(logs.every((l) => /re-attached to slurm job \d+|collected the result already on the remote/.test(l))).toBe(true)
  }, 240_000)
})
