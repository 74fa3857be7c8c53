/**
 * Stages run elsewhere through a shared remote, as on a cluster but without a scheduler: `--executor process`
 * starts `pipe exec-node KEY --remote DIR` as a child process per stage. The outputs are the bytes a local run
 * makes (same keys, same artifacts, so either executor's results are the other's cache hits), a failing job
 * fails its stage with the log's tail and records nothing, a blob altered in the remote is refused by hash, and
 * an unusable remote is exit 3 before anything runs. (SLURM itself: cluster.test.ts, with the cluster up.)
 */
import { createHash } from "node:crypto"
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { statuses, summary, workspace, type Workspace } from "../support/cli.js"

const PIPELINE = `
name: remote
stages:
  data:
    kind: command
    cmd: [sh, -c, 'echo data >> ran.log; seq 1 1000 > $PIPE_OUT/numbers; mkdir $PIPE_OUT/sub; echo hi > $PIPE_OUT/sub/x']
  sum:
    kind: command
    needs: [data]
    params: { fail: 0 }
    cmd: [sh, -c, 'echo sum >> ran.log; [ \${params.fail} = 0 ] || { echo "boom from the node" >&2; exit 3; }; awk "{s+=\\$1} END {print s}" $PIPE_IN_DATA/numbers > $PIPE_OUT/sum; echo "{\\"total\\": $(cat $PIPE_OUT/sum)}" > $PIPE_METRICS']
`

let ws: Workspace
let local: Workspace | undefined
afterEach(() => {
  ws?.cleanup()
  local?.cleanup()
  local = undefined
})

const outputs = (events: ReadonlyArray<Record<string, any>>) =>
  Object.fromEntries(events.filter((e) => e["event"] === "stage").map((e) => [e["stage"], e["output"]]))

describe("--executor process --remote DIR", () => {
  it("runs each stage through the remote, with the same keys and bytes as a local run", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const remote = join(ws.dir, "remote")
    const r = await ws.json(["run", "--executor", "process", "--remote", remote])
    expect(r.code, r.stderr).toBe(0)
    expect(statuses(r.events)).toEqual({ data: "ran", sum: "ran" })
    expect(r.events.find((e) => e["stage"] === "sum")!["metrics"]).toEqual({ total: 500500 })
    // The remote holds pipe's layout: the blobs, and each stage's job, result and log.
    expect(readdirSync(remote).sort()).toEqual(["blobs", "jobs", "logs", "results"])
    expect(readdirSync(join(remote, "jobs"))).toHaveLength(2)
    // The same pipeline run here gives the same artifacts.
    local = workspace({ "pipeline.yaml": PIPELINE })
    const l = await local.json(["run"])
    expect(outputs(l.events)).toEqual(outputs(r.events))
    // And the local executor finds the remote's results in the store.
    const again = await ws.json(["run"])
    expect(statuses(again.events)).toEqual({ data: "cached", sum: "cached" })
    const show = await ws.pipe(["show", "sum"])
    expect(show.stdout).toMatch(/pipe: ran on \S+/)
    // Where it ran is part of the run's record (no scheduler here: no job id).
    expect((await ws.json(["show", "sum"])).events[0]).toMatchObject({ ran_on: expect.any(String), job_id: null })
  })

  it("a failing job fails its stage with the node's log, records no output, and the next run retries", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const remote = join(ws.dir, "remote")
    const r = await ws.pipe(["run", "--executor", "process", "--remote", remote, "--set", "sum.fail=1"])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/✗ sum: failed after .*command exited with code 3/)
    expect(r.stdout).toContain("boom from the node")
    const d = ws.db()
    expect(d.prepare("SELECT stage, status, output FROM runs ORDER BY id").all()).toEqual([
      { stage: "data", status: "ok", output: expect.any(String) },
      { stage: "sum", status: "failed", output: null }
    ])
    d.close()
    const again = await ws.json(["run", "--executor", "process", "--remote", remote])
    expect(statuses(again.events)).toEqual({ data: "cached", sum: "ran" })
  })

  it("refuses an input blob altered in the remote, by its hash", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const remote = join(ws.dir, "remote")
    expect((await ws.json(["run", "data"])).code).toBe(0)
    // Another coordinator put a damaged copy of data's blob on the remote first (same size, other bytes).
    const first = await ws.json(["run", "--executor", "process", "--remote", remote])
    expect(first.code).toBe(0)
    const blobs = join(remote, "blobs")
    const numbers = readdirSync(blobs)
      .flatMap((d) => readdirSync(join(blobs, d)).map((f) => join(blobs, d, f)))
      .find((p) => statSync(p).size > 3000)!
    chmodSync(numbers, 0o644)
    const text = readFileSync(numbers, "utf8")
    writeFileSync(numbers, text.replace("500", "501"))
    const r = await ws.pipe(["run", "--executor", "process", "--remote", remote, "--force", "sum"])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/✗ sum: failed .*hash to [0-9a-f]{64} \(corrupt\); removed from the remote, so the next run uploads it again/)
    // The damaged copy is gone from the remote: the next run uploads the good one and succeeds.
    const again = await ws.json(["run", "--executor", "process", "--remote", remote, "--force", "sum"])
    expect(again.code, again.stderr).toBe(0)
    expect(again.events.find((e) => e["stage"] === "sum")!["metrics"]).toEqual({ total: 500500 })
  })

  it("collects a result already on the remote instead of rerunning it, but not one whose output was altered there", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const remote = join(ws.dir, "remote")
    expect((await ws.json(["run", "--executor", "process", "--remote", remote])).code).toBe(0)
    expect(ws.ranLog()).toEqual(["data", "sum"])
    // A coordinator that lost its store (or was killed before recording): the results are still on the remote.
    rmSync(join(ws.dir, ".pipe"), { recursive: true, force: true })
    // ...but someone altered sum's output there (same size, other bytes).
    const sumBlob = join(remote, "blobs", createHash("sha256").update("500500\n").digest("hex").slice(0, 2), createHash("sha256").update("500500\n").digest("hex"))
    chmodSync(sumBlob, 0o644)
    writeFileSync(sumBlob, "500501\n")
    const r = await ws.pipe(["run", "--executor", "process", "--remote", remote])
    expect(r.code, r.stdout).toBe(0)
    // data was collected, not run again; sum's altered output was refused, so sum ran again.
    expect(ws.ranLog()).toEqual(["data", "sum", "sum"])
    expect((await ws.pipe(["show", "data"])).stdout).toMatch(/collected the result already on the remote/)
    expect((await ws.pipe(["show", "sum"])).stdout).toMatch(
      /the result already on the remote cannot be used \(blob [0-9a-f]{64} .*\(corrupt\); it and the result were removed from the remote, so sum runs again\); running sum/
    )
    const again = await ws.json(["run", "--executor", "process", "--remote", remote])
    expect(statuses(again.events)).toEqual({ data: "cached", sum: "cached" })
    expect(again.events.find((e) => e["stage"] === "sum")!["metrics"]).toEqual({ total: 500500 })
    expect(readFileSync(sumBlob, "utf8")).toBe("500500\n")
  })

  it("uses no result from the remote that would write outside the store: it runs the stage instead", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const remote = join(ws.dir, "remote")
    expect((await ws.json(["run", "--executor", "process", "--remote", remote])).code).toBe(0)
    rmSync(join(ws.dir, ".pipe"), { recursive: true, force: true })
    // A result planted on the remote for sum's key, naming a file above the artifact's directory.
    const results = join(remote, "results")
    const planted = readdirSync(results).map((f) => join(results, f)).find((f) => JSON.parse(readFileSync(f, "utf8")).manifest.files.some((x: { path: string }) => x.path === "sum"))!
    const result = JSON.parse(readFileSync(planted, "utf8"))
    result.manifest.files[0].path = "../../escape"
    writeFileSync(planted, JSON.stringify(result))
    const r = await ws.json(["run", "--executor", "process", "--remote", remote])
    expect(r.code, r.stderr).toBe(0)
    expect(ws.ranLog()).toEqual(["data", "sum", "sum"])
    expect((await ws.pipe(["show", "sum"])).stdout).toContain('the result already on the remote cannot be used (the result names a file at "../../escape", which is not a plain relative path); running sum')
    expect(existsSync(join(ws.dir, "..", "escape"))).toBe(false)
  })

  it("a plan (--dry-run, --check) needs no executor: the file's remote is not even opened", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE.replace("name: remote", "name: remote\nexecutor: { kind: process, remote: afile/remote }") })
    writeFileSync(join(ws.dir, "afile"), "")
    expect((await ws.pipe(["run", "--dry-run"])).code).toBe(0)
    expect((await ws.pipe(["run", "--check"])).code).toBe(1)
    expect((await ws.pipe(["sweep", "sum.fail=0,1", "--dry-run", "--jobs", "2"])).code).toBe(0)
    expect(existsSync(join(ws.dir, ".pipe", "exchange"))).toBe(false)
    const r = await ws.pipe(["run"])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain(join(ws.dir, "afile", "remote"))
  })

  it("an unusable remote is exit 3, naming it, before anything runs; --remote needs a remote executor", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    writeFileSync(join(ws.dir, "afile"), "")
    const r = await ws.pipe(["run", "--executor", "process", "--remote", join(ws.dir, "afile", "remote")])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain(join(ws.dir, "afile"))
    expect(ws.ranLog()).toEqual([])
    const none = await ws.pipe(["run", "--executor", "slurm"])
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/--executor slurm needs a remote both sides reach: --remote s3:\/\/bucket\/prefix/)
    expect(summary((await ws.json(["run"])).events)).toMatchObject({ ran: 2 })
  })
})

const BUILTIN = `
name: builtin
stages:
  download: { kind: download, params: { limit: 300 } }
  crop: { kind: augment, needs: [download], params: { pad: 4, flip: 0.5, mean: 0.5, std: 0.5 } }
  plain: { kind: augment, needs: [download], params: { pad: 0, flip: 0, mean: 0, std: 1 } }
`

describe("--executor process without a remote", () => {
  it("runs built-in stages as child processes through the store's exchange directory, which gc empties", async () => {
    ws = workspace({ "pipeline.yaml": BUILTIN })
    const r = await ws.json(["run", "--executor", "process"])
    expect(r.code, r.stderr).toBe(0)
    expect(statuses(r.events)).toEqual({ download: "ran", crop: "ran", plain: "ran" })
    const exchange = join(ws.dir, ".pipe", "exchange")
    expect(readdirSync(join(exchange, "results")).sort()).toHaveLength(3)
    expect((await ws.pipe(["show", "crop"])).stdout).toMatch(/pipe: ran on \S+/)
    // The bytes a run in this process makes.
    local = workspace({ "pipeline.yaml": BUILTIN })
    const l = await local.json(["run"])
    expect(outputs(l.events)).toEqual(outputs(r.events))
    const gc = await ws.json(["gc"])
    expect(gc.code, gc.stderr).toBe(0)
    expect(existsSync(exchange)).toBe(false)
    const again = await ws.json(["run", "--executor", "process"])
    expect(statuses(again.events)).toEqual({ download: "cached", crop: "cached", plain: "cached" })
  })

  it("a sweep with --jobs 2 runs built-in stages in processes of their own, making the same artifacts as --jobs 1", async () => {
    ws = workspace({ "pipeline.yaml": BUILTIN })
    const r = await ws.json(["sweep", "crop.flip=0.1,0.9", "--jobs", "2", "--stage", "crop"])
    expect(r.code, r.stderr).toBe(0)
    expect(r.events.filter((e) => e["event"] === "point").map((p) => p["status"])).toEqual(["ok", "ok"])
    // Each ran as exec-node through the store's exchange: download once, crop twice.
    expect(readdirSync(join(ws.dir, ".pipe", "exchange", "results"))).toHaveLength(3)
    const runs = (await ws.json(["runs", "--stage", "crop"])).events
    for (const run of runs) expect((await ws.pipe(["show", String(run["id"])])).stdout).toMatch(/pipe: crop submitted to process as p\d+ \(pid \d+\)/)
    local = workspace({ "pipeline.yaml": BUILTIN })
    const one = await local.json(["sweep", "crop.flip=0.1,0.9", "--jobs", "1", "--stage", "crop"])
    const outs = (events: ReadonlyArray<Record<string, any>>) => events.filter((e) => e["event"] === "stage" && e["status"] === "ran").map((e) => e["output"]).sort()
    expect(outs(r.events)).toEqual(outs(one.events))
    expect(existsSync(join(local.dir, ".pipe", "exchange"))).toBe(false)
  })
})
