/**
 * Lineage, run history, gc, verify, push/pull and --check through the built CLI, on the demo pipeline with a
 * tiny subset of the real data (the MLP branch: download -> split, plain -> train-mlp -> evaluate-mlp).
 */
import Database from "better-sqlite3"
import { execa } from "execa"
import { chmodSync, cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { statuses, summary, workspace, type Workspace } from "../support/cli.js"

const PIPELINE = readFileSync(resolve(import.meta.dirname, "../../pipeline.yaml"), "utf8")
const VERSION = (JSON.parse(readFileSync(resolve(import.meta.dirname, "../../package.json"), "utf8")) as { version: string }).version
const SMALL = ["--set", "download.limit=500", "--set", "train-mlp.epochs=1"]
const lr = (v: number) => ["--set", `train-mlp.lr=${v}`]
const TARGET = "evaluate-mlp"

let ws: Workspace
let commit: string
/** Output hash of each stage, for lr 0.001 (first) and 0.01 (second). */
let first: Record<string, string>
let second: Record<string, string>
const runIds: Record<string, number> = {}

const outputs = (events: ReadonlyArray<Record<string, any>>) =>
  Object.fromEntries(events.filter((e) => e["event"] === "stage").map((e) => [e["stage"], e["output"] as string]))

const git = (dir: string, ...args: Array<string>) =>
  execa("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...args], { cwd: dir })

beforeAll(async () => {
  ws = workspace({ "pipeline.yaml": PIPELINE })
  await git(ws.dir, "init", "-q")
  await git(ws.dir, "add", "pipeline.yaml")
  await git(ws.dir, "commit", "-qm", "pipeline")
  commit = (await git(ws.dir, "rev-parse", "HEAD")).stdout.trim()
  const a = await ws.json(["run", TARGET, ...SMALL, ...lr(0.001)])
  expect(a.code).toBe(0)
  first = outputs(a.events)
  for (const e of a.events) if (e["event"] === "stage") runIds[`${e["stage"]}@1`] = e["run"]
  const b = await ws.json(["run", TARGET, ...SMALL, ...lr(0.01)])
  expect(b.code).toBe(0)
  expect(statuses(b.events)).toMatchObject({ download: "cached", split: "cached", "train-mlp": "ran", "evaluate-mlp": "ran" })
  second = outputs(b.events)
  for (const e of b.events) if (e["event"] === "stage") runIds[`${e["stage"]}@2`] = e["run"]
}, 120_000)

afterAll(() => ws?.cleanup())

const lineageJson = async (args: ReadonlyArray<string>) => {
  const r = await ws.pipe(["lineage", ...args, "--json"])
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as {
    resolved: string
    roots: Array<string>
    nodes: Array<{ id: string; type: string; run?: any; artifact?: any }>
    edges: Array<{ from: string; to: string; role: string; name: string }>
  }
}

const stagesOf = (g: { nodes: Array<{ type: string; run?: any }> }) =>
  g.nodes
    .filter((n) => n.type === "run")
    .map((n) => n.run.stage as string)
    .sort()

describe("pipe lineage", () => {
  it("--up from a stage: every producing run with params, inputs, source checksums, engine, pipe version and commit", async () => {
    const g = await lineageJson([TARGET])
    expect(g.resolved).toBe("stage evaluate-mlp")
    expect(g.roots).toEqual([`artifact:${second[TARGET]}`])
    expect(stagesOf(g)).toEqual(["download", "evaluate-mlp", "plain", "split", "train-mlp"])
    const train = g.nodes.find((n) => n.run?.stage === "train-mlp")!.run
    expect(train.id).toBe(runIds["train-mlp@2"])
    expect(train.record.params.lr).toBe(0.01)
    expect(train.record.engine).toMatchObject({ engine: "tfjs", backend: "wasm" })
    expect(train.pipeVersion).toBe(VERSION)
    expect(train.gitCommit).toBe(commit)
    // the data source: its files with their checksums, and the published checksums it verified (its deps)
    const data = g.nodes.find((n) => n.id === `artifact:${first["download"]}`)!.artifact
    expect(data.type).toBe("dataset")
    expect(data.files.map((f: any) => f.path)).toContain("train-images.u8")
    for (const f of data.files) expect(f.blob).toMatch(/^[0-9a-f]{64}$/)
    const download = g.nodes.find((n) => n.run?.stage === "download")!.run
    expect(Object.keys(download.record.deps)).toContain("source:train-images-idx3-ubyte")
    // edges follow the data: split artifact -> train run (as "split"), train run -> model
    const trainNode = `run:${runIds["train-mlp@2"]}`
    expect(g.edges).toContainEqual({ from: `artifact:${second["split"]}`, to: trainNode, role: "input", name: "split" })
    expect(g.edges).toContainEqual({ from: trainNode, to: `artifact:${second["train-mlp"]}`, role: "output", name: "out" })
  })

  it("--down from the split artifact (by prefix): both models and both evaluations; --depth 1 stops at the models", async () => {
    const g = await lineageJson([first["split"]!.slice(0, 10), "--down"])
    expect(g.resolved).toBe(`artifact ${first["split"]!.slice(0, 12)}`)
    const runs = g.nodes.filter((n) => n.type === "run").map((n) => n.run.id as number).sort((a, b) => a - b)
    expect(runs).toEqual([runIds["train-mlp@1"], runIds["evaluate-mlp@1"], runIds["train-mlp@2"], runIds["evaluate-mlp@2"]].sort((a, b) => a! - b!))
    // evaluate reads the split too, so from the split every run is one level down; from the data set, only
    // split and plain are.
    const fromDownload = await lineageJson([first["download"]!, "--down", "--depth", "1"])
    expect(stagesOf(fromDownload)).toEqual(["plain", "split"])
  })

  it("resolves a file from an artifact, a run number and a run key; prints an indented tree", async () => {
    const model = ws.artifact(second["train-mlp"]!)
    const g = await lineageJson([model["weights.bin"]!])
    expect(g.roots).toEqual([`artifact:${second["train-mlp"]}`])
    const copy = join(ws.dir, "weights-copy.bin")
    writeFileSync(copy, readFileSync(model["weights.bin"]!))
    expect((await lineageJson([copy])).roots).toEqual([`artifact:${second["train-mlp"]}`])
    expect((await lineageJson([`#${runIds["train-mlp@1"]}`])).roots).toEqual([`artifact:${first["train-mlp"]}`])
    const key = ws.db().prepare("SELECT key FROM runs WHERE id = ?").get(runIds["train-mlp@1"]) as { key: string }
    expect((await lineageJson([key.key.slice(0, 12)])).resolved).toBe(`run key ${key.key.slice(0, 12)}`)
    const text = await ws.pipe(["lineage", "train-mlp"])
    expect(text.code).toBe(0)
    expect(text.stdout).toContain(`made by run #${runIds["train-mlp@2"]} train-mlp [train] ok`)
    expect(text.stdout).toMatch(/\n {4}input split:\n {6}split [0-9a-f]{12}/)
    expect(text.stdout).toContain(`commit ${commit.slice(0, 12)}`)
  })

  it("says what it cannot resolve, with exit code 2", async () => {
    const r = await ws.pipe(["lineage", "no-such-thing"])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("nothing in this store matches 'no-such-thing'")
    const n = await ws.pipe(["lineage", "#9999"])
    expect(n.code).toBe(2)
    expect(n.stderr).toContain("there is no run #9999")
  })
})

describe("pipe runs, show, diff", () => {
  it("lists runs with params and metrics, filtered and sorted in SQL", async () => {
    const all = await ws.json(["runs", "--stage", "train-mlp", "--sort", "-params.lr"])
    expect(all.events.map((e) => e["params"]["lr"])).toEqual([0.01, 0.001])
    const where = await ws.json(["runs", "--where", "params.lr=0.01", "--where", "stage=train-mlp"])
    expect(where.events.map((e) => e["id"])).toEqual([runIds["train-mlp@2"]])
    const metric = await ws.json(["runs", "--where", "metrics.test_accuracy>0", "--sort", "metrics.test_accuracy"])
    expect(metric.events.map((e) => e["stage"])).toEqual(["evaluate-mlp", "evaluate-mlp"])
    const accs = metric.events.map((e) => e["metrics"]["test_accuracy"] as number)
    expect(accs[0]).toBeLessThanOrEqual(accs[1]!)
    const text = await ws.pipe(["runs", "--stage", "train-mlp"])
    expect(text.stdout.split("\n")[0]).toMatch(/^run +stage +status +started +time +lr +.*val_accuracy/)
  })

  it("binds user text as values: an injection attempt matches nothing and a bad field is refused", async () => {
    const inj = await ws.json(["runs", "--where", "stage=x' OR '1'='1"])
    expect(inj.code).toBe(0)
    expect(inj.events).toEqual([])
    const field = await ws.pipe(["runs", "--where", "params.lr') OR 1=1 --=1"])
    expect(field.code).toBe(2)
    expect(field.stderr).toContain("unknown field")
    const sort = await ws.pipe(["runs", "--sort", "id; DROP TABLE runs"])
    expect(sort.code).toBe(2)
    expect((ws.db().prepare("SELECT count(*) AS n FROM runs").get() as { n: number }).n).toBeGreaterThanOrEqual(7)
  })

  it("shows one run whole", async () => {
    const r = await ws.pipe(["show", "train-mlp"])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`run #${runIds["train-mlp@2"]}`)
    expect(r.stdout).toContain("  lr = 0.01")
    expect(r.stdout).toMatch(/inputs:\n {2}plain: augmentation-policy [0-9a-f]{12} \(run #\d+\)/)
    expect(r.stdout).toContain("weights.bin")
    const j = JSON.parse((await ws.pipe(["show", String(runIds["train-mlp@1"]), "--json"])).stdout)
    expect(j.params.lr).toBe(0.001)
    expect(j.output.hash).toBe(first["train-mlp"])
    for (const f of j.output.files) expect(existsSync(f.blob_path)).toBe(true)
    expect(j.log).toContain("epoch 1/1")
  })

  it("diffs two runs: params and metrics", async () => {
    const r = await ws.pipe(["diff", `#${runIds["train-mlp@1"]}`, "train-mlp", "--json"])
    expect(r.code).toBe(0)
    const d = JSON.parse(r.stdout)
    expect(d.same).toBe(false)
    expect(d.fields).toContainEqual({ section: "params", field: "lr", a: 0.001, b: 0.01 })
    expect(d.fields.filter((f: any) => f.section === "inputs")).toEqual([])
    expect(d.metrics.map((m: any) => m.metric)).toContain("val_loss")
    const text = await ws.pipe(["diff", `#${runIds["train-mlp@1"]}`, `#${runIds["train-mlp@2"]}`])
    expect(text.stdout).toMatch(/params +lr +0\.001 +0\.01/)
  })
})

describe("pipe sweep lineage", () => {
  it("--down from the split names the sweep points built from it", async () => {
    const s = await ws.json(["sweep", "train-mlp.lr=0.002,0.003", ...SMALL, "--set", "train-cnn.epochs=1"])
    expect(s.code).toBe(0)
    const sweep = summary(s.events)!["sweep"] as number
    const g = await lineageJson([first["split"]!, "--down"])
    const points = g.nodes.flatMap((n) => (n.run?.stage === "train-mlp" ? n.run.sweeps : []))
    expect(points).toEqual([
      { sweep, point: 1 },
      { sweep, point: 2 }
    ])
    const runs = await ws.json(["runs", "--sweep", String(sweep), "--stage", "train-mlp", "--sort", "params.lr"])
    expect(runs.events.map((e) => e["params"]["lr"])).toEqual([0.002, 0.003])
  })
})

describe("store upkeep", () => {
  it("gc keeps what the pipeline and kept runs need, removes the rest, and the kept results stay cached", async () => {
    const w = workspace({ "pipeline.yaml": PIPELINE })
    try {
      for (const v of [0.001, 0.002, 0.003]) expect((await w.json(["run", TARGET, ...SMALL, ...lr(v)])).code).toBe(0)
      const blobsBefore = readdirSync(join(w.dir, ".pipe", "blobs"), { recursive: true }).length
      const dry = await w.json(["gc", ...SMALL, ...lr(0.001), "--dry-run"])
      expect(dry.events[0]).toMatchObject({ dryRun: true, removedRuns: 2 })
      expect(readdirSync(join(w.dir, ".pipe", "blobs"), { recursive: true }).length).toBe(blobsBefore)
      // needed: lr 0.001 (the pipeline as given); kept: lr 0.003 (each stage's latest); removed: lr 0.002
      const gc = await w.json(["gc", ...SMALL, ...lr(0.001)])
      expect(gc.events[0]).toMatchObject({ dryRun: false, removedRuns: 2, removedArtifacts: 2, removedLogs: 2 })
      expect(gc.events[0]!["removedBlobs"]).toBeGreaterThan(0)
      expect((await w.pipe(["verify"])).code).toBe(0)
      expect(summary((await w.json(["run", TARGET, ...SMALL, ...lr(0.001)])).events)).toMatchObject({ ran: 0 })
      expect(summary((await w.json(["run", TARGET, ...SMALL, ...lr(0.003)])).events)).toMatchObject({ ran: 0 })
      const again = await w.json(["run", TARGET, ...SMALL, ...lr(0.002)])
      expect(statuses(again.events)).toMatchObject({ split: "cached", "train-mlp": "ran", "evaluate-mlp": "ran" })
    } finally {
      w.cleanup()
    }
  }, 120_000)

  it("verify catches a flipped byte, quarantines the blob, and the next run rebuilds only that stage's output", async () => {
    const w = workspace({ "pipeline.yaml": PIPELINE })
    try {
      const a = await w.json(["run", TARGET, ...SMALL])
      const out = outputs(a.events)
      const weights = w.artifact(out["train-mlp"]!)["weights.bin"]!
      chmodSync(weights, 0o644)
      const bytes = readFileSync(weights)
      bytes[100] = bytes[100]! ^ 0xff
      writeFileSync(weights, bytes)
      const v = await w.json(["verify"])
      expect(v.code).toBe(1)
      expect(v.events[0]!["problems"]).toEqual([{ blob: weights.split("/").pop(), problem: "corrupt", artifacts: [out["train-mlp"]] }])
      expect(v.events[0]!["damagedRuns"]).toBe(1)
      expect(readdirSync(join(w.dir, ".pipe", "quarantine")).length).toBe(1)
      const again = await w.json(["run", TARGET, ...SMALL])
      expect(statuses(again.events)).toMatchObject({ download: "cached", split: "cached", plain: "cached", "train-mlp": "ran" })
      expect(again.events.find((e) => e["stage"] === "train-mlp")!["reason"]).toBe("its stored output was damaged")
      expect((await w.pipe(["verify"])).code).toBe(0)
    } finally {
      w.cleanup()
    }
  }, 120_000)
})

describe("push, pull and --check", () => {
  it("a pull into an empty store gives a fully cached run; --check gates on it", async () => {
    const remote = join(ws.dir, "remote-store")
    const push = await ws.json(["push", remote, ...SMALL, ...lr(0.01), TARGET])
    expect(push.code).toBe(0)
    expect(push.events[0]!["copied"].map((c: any) => c.stage)).toEqual(["download", "split", "plain", "train-mlp", "evaluate-mlp"])
    const again = await ws.json(["push", remote, ...SMALL, ...lr(0.01), TARGET])
    expect(again.events[0]!["copied"]).toEqual([])
    expect(again.events[0]!["present"].length).toBe(5)

    const fresh = workspace({ "pipeline.yaml": PIPELINE })
    try {
      const before = await fresh.pipe(["run", "--check", ...SMALL, ...lr(0.01), TARGET])
      expect(before.code).toBe(1)
      expect(before.stderr).toContain("check failed: 5 stages would run")
      // planning never creates a store
      expect((await fresh.pipe(["status", ...SMALL])).code).toBe(0)
      expect(existsSync(join(fresh.dir, ".pipe"))).toBe(false)
      const pull = await fresh.json(["pull", remote, ...SMALL, ...lr(0.01), TARGET])
      expect(pull.code).toBe(0)
      expect(pull.events[0]!["copied"].length).toBe(5)
      expect((await fresh.pipe(["status", "--check", ...SMALL, ...lr(0.01), TARGET])).code).toBe(0)
      const run = await fresh.json(["run", ...SMALL, ...lr(0.01), TARGET])
      expect(summary(run.events)).toMatchObject({ ran: 0, cached: 5 })
      expect(outputs(run.events)[TARGET]).toBe(second[TARGET])
      // lineage travels with the runs
      const g = JSON.parse((await fresh.pipe(["lineage", TARGET, "--json"])).stdout)
      expect(g.nodes.find((n: any) => n.run?.stage === "train-mlp").run.gitCommit).toBe(commit)
    } finally {
      fresh.cleanup()
    }
  }, 120_000)

  it("a corrupt blob in the other store is refused and nothing is recorded", async () => {
    const remote = join(ws.dir, "remote-bad")
    expect((await ws.json(["push", remote, ...SMALL, ...lr(0.01), TARGET])).code).toBe(0)
    const bad = join(ws.dir, "remote-bad-copy")
    cpSync(remote, bad, { recursive: true })
    const weights = ws.artifact(second["train-mlp"]!, bad)["weights.bin"]!
    chmodSync(weights, 0o644)
    const bytes = readFileSync(weights)
    bytes[7] = bytes[7]! ^ 1
    writeFileSync(weights, bytes)
    // Silent corruption: the other store's record still matches the file's size and mtime, so only a rehash
    // can tell (a stat-visible change is caught earlier, when planning: the stage counts as not cached there).
    const db = new Database(join(bad, "pipe.db"))
    db.prepare("UPDATE blobs SET mtime_ns = ? WHERE hash = ?").run(String(statSync(weights, { bigint: true }).mtimeNs), weights.split("/").pop())
    db.close()
    const fresh = workspace({ "pipeline.yaml": PIPELINE })
    try {
      const pull = await fresh.pipe(["pull", bad, ...SMALL, ...lr(0.01), TARGET])
      expect(pull.code).toBe(3)
      expect(pull.stderr).toContain("does not match its hash (corrupt)")
      // Runs before the bad one came over whole; the bad one and those after it were not recorded.
      const runs = fresh.db().prepare("SELECT stage FROM runs ORDER BY id").all() as Array<{ stage: string }>
      expect(runs.map((r) => r.stage)).toEqual(["download", "split", "plain"])
      expect(existsSync(join(fresh.dir, ".pipe", "blobs", weights.split("/").pop()!.slice(0, 2), weights.split("/").pop()!))).toBe(false)
      const run = await fresh.json(["run", ...SMALL, ...lr(0.01), TARGET])
      expect(statuses(run.events)).toEqual({ download: "cached", split: "cached", plain: "cached", "train-mlp": "ran", "evaluate-mlp": "ran" })
    } finally {
      fresh.cleanup()
    }
  }, 120_000)
})
