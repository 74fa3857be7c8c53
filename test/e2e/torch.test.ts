/**
 * The torch engine through the built CLI on a subset of the real data: PyTorch in a worker process (Debian's
 * python3-torch, which .ci/run installs). Training and evaluation, caching, parity with the tfjs engine, the
 * report on its outputs, a missing torch, and a worker killed mid-epoch.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { execa } from "execa"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { statuses, summary, workspace, type Workspace } from "../support/cli.js"

const PIPELINE = readFileSync(resolve(import.meta.dirname, "../../pipeline.yaml"), "utf8")
const SMALL = ["--set", "download.limit=2000", "--set", "train-mlp.epochs=3"]
const TORCH = ["--set", "train-mlp.engine=torch", "--set", "evaluate-mlp.engine=torch"]
// Probes are remembered under XDG_CACHE_HOME: each test run starts from an empty one.
const cache = mkdtempSync(join(tmpdir(), "pipe-torch-cache-"))
const env = { XDG_CACHE_HOME: cache }

let ws: Workspace
let torchRun: Array<Record<string, any>>
beforeAll(async () => {
  ws = workspace({ "pipeline.yaml": PIPELINE })
  const r = await ws.json(["run", "evaluate-mlp", ...SMALL, ...TORCH])
  expect(r.code, r.stderr).toBe(0)
  torchRun = r.events
}, 180_000)
afterAll(() => ws?.cleanup())

const stage = (events: ReadonlyArray<Record<string, any>>, id: string) => events.find((e) => e["stage"] === id)!

describe("the torch engine", () => {
  it("trains and evaluates the MLP, writing the same artifact files as tfjs, and a rerun is cached", async () => {
    const train = stage(torchRun, "train-mlp")
    const evaluate = stage(torchRun, "evaluate-mlp")
    expect(train["metrics"]).toMatchObject({ model: "mlp", backend: "torch-cpu", parameters: 101_770, epochs: 3 })
    expect(evaluate["metrics"]["test_accuracy"]).toBeGreaterThan(0.7)
    const files = ws.artifact(train["output"])
    expect(Object.keys(files).sort()).toEqual(["config.json", "metrics.jsonl", "model.pt", "policy.json", "summary.json"])
    const config = JSON.parse(readFileSync(files["config.json"]!, "utf8"))
    expect(config.engine).toMatchObject({ engine: "torch", device: "cpu" })
    expect(config.engine.torch).toMatch(/^\d+\.\d+/)
    const epochs = readFileSync(files["metrics.jsonl"]!, "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((r) => r.type === "epoch")
    expect(epochs.map((e) => e.epoch)).toEqual([1, 2, 3])
    const m = JSON.parse(readFileSync(ws.artifact(evaluate["output"])["metrics.json"]!, "utf8"))
    expect(m.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(m.test_images)
    expect(m.model).toBe(train["output"])
    // the key records the engine: torch version and device
    const record = JSON.parse((ws.db().prepare("SELECT record FROM runs WHERE id = ?").get(train["run"]) as { record: string }).record)
    expect(record.engine).toMatchObject({ engine: "torch", device: "cpu", torch: config.engine.torch })
    const again = await ws.json(["run", "evaluate-mlp", ...SMALL, ...TORCH])
    expect(summary(again.events)).toMatchObject({ ran: 0, cached: 5 })
  })

  it("matches the tfjs engine on the same subset: same parameter count, accuracy within a few points", async () => {
    const tfjs = await ws.json(["run", "evaluate-mlp", ...SMALL])
    expect(tfjs.code).toBe(0)
    const a = stage(tfjs.events, "evaluate-mlp")["metrics"]
    const b = stage(torchRun, "evaluate-mlp")["metrics"]
    expect(a["parameters"]).toBe(b["parameters"])
    expect(Math.abs(a["test_accuracy"] - b["test_accuracy"])).toBeLessThan(0.05)
    // the other engine is another key: both results stay in the store
    expect(stage(tfjs.events, "train-mlp")["key"]).not.toBe(stage(torchRun, "train-mlp")["key"])
  })

  it("feeds analyze like any model", async () => {
    const r = await ws.json([
      "run", "analyze", ...SMALL, ...TORCH,
      "--set", "train-cnn.epochs=1", "--set", "analyze.tsne_points=100", "--set", "analyze.pca_points=300"
    ])
    expect(r.code, r.stderr).toBe(0)
    const md = readFileSync(ws.artifact(stage(r.events, "analyze")["output"])["summary.md"]!, "utf8")
    expect(md).toMatch(/\| train-mlp \| mlp \| 101,770 \| [\d.]+ \| \d+\.\d\d% \| [\d.]+ s \| torch \/ torch-cpu \|/)
    expect(md).toMatch(/\| train-cnn \| cnn \| 421,738 \| .* \| tfjs \/ wasm \|/)
  }, 180_000)

  it("precision bf16 trains under autocast (on a CPU too), and enters the key where fp32 did not", async () => {
    const bf16 = ["--set", "train-mlp.precision=bf16", "--set", "evaluate-mlp.precision=bf16"]
    const r = await ws.json(["run", "evaluate-mlp", ...SMALL, ...TORCH, ...bf16])
    expect(r.code, r.stderr).toBe(0)
    expect(statuses(r.events)).toMatchObject({ "train-mlp": "ran", "evaluate-mlp": "ran" })
    const train = stage(r.events, "train-mlp")
    expect(train["key"]).not.toBe(stage(torchRun, "train-mlp")["key"])
    const record = JSON.parse((ws.db().prepare("SELECT record FROM runs WHERE id = ?").get(train["run"]) as { record: string }).record)
    expect(record.engine).toMatchObject({ engine: "torch", device: "cpu", precision: "bf16" })
    // fp32 (auto on a CPU) records no precision, as the runs before it did.
    const fp32 = JSON.parse((ws.db().prepare("SELECT record FROM runs WHERE id = ?").get(stage(torchRun, "train-mlp")["run"]) as { record: string }).record)
    expect(fp32.engine.precision).toBeUndefined()
    expect(stage(r.events, "evaluate-mlp")["metrics"]["test_accuracy"]).toBeGreaterThan(0.6)
    expect((await ws.pipe(["show", `#${train["run"]}`])).stdout).toContain("(cpu, bf16)")
  }, 180_000)

  it("compile: true is refused with its location on a PyTorch before 2.0, and keys the run where torch.compile exists", async () => {
    const version = (await execa("/usr/bin/python3", ["-c", "import torch; print(torch.__version__)"])).stdout.trim()
    const before = ws.db().prepare("SELECT count(*) FROM runs").pluck().get() as number
    const r = await ws.json(["run", "train-mlp", ...SMALL, ...TORCH, "--set", "train-mlp.compile=true"])
    if (Number.parseInt(version, 10) < 2) {
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(/^pipeline\.yaml:\d+:\d+ stages\.train-mlp: compile: true needs PyTorch 2\.0 or later \(torch\.compile\); \S+ has torch /m)
      expect(r.stderr).toContain(`has torch ${version}: set compile: false`)
      expect(ws.db().prepare("SELECT count(*) FROM runs").pluck().get()).toBe(before)
    } else {
      expect(r.code, r.stderr).toBe(0)
      const train = stage(r.events, "train-mlp")
      expect(train["key"]).not.toBe(stage(torchRun, "train-mlp")["key"])
      const record = JSON.parse((ws.db().prepare("SELECT record FROM runs WHERE id = ?").get(train["run"]) as { record: string }).record)
      expect(record.engine).toMatchObject({ engine: "torch", compile: "on" })
    }
  }, 180_000)

  it("refuses a tfjs evaluation of a torch model before anything runs", async () => {
    const before = ws.db().prepare("SELECT count(*) FROM runs").pluck().get() as number
    const r = await ws.pipe(["run", "evaluate-mlp", ...SMALL, "--set", "train-mlp.engine=torch"])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(
      /^pipeline\.yaml:\d+:\d+ stages\.evaluate-mlp\.params\.engine: 'train-mlp' trains on the torch engine, so its model is evaluated on torch too; set engine: torch here \(now tfjs\)\npipeline\.yaml: 1 problem; nothing ran$/
    )
    expect(ws.db().prepare("SELECT count(*) FROM runs").pluck().get()).toBe(before)
  })
})

describe("without torch", () => {
  it("says how to install it, exits 2 and runs nothing", async () => {
    // A real interpreter that cannot import torch: Debian's python3 without its site directories.
    const dir = mkdtempSync(join(tmpdir(), "pipe-nopy-"))
    const python = join(dir, "python-without-torch")
    writeFileSync(python, '#!/bin/sh\nexec /usr/bin/python3 -S "$@"\n')
    chmodSync(python, 0o755)
    const w = workspace({ "pipeline.yaml": PIPELINE })
    try {
      const r = await w.pipe(["run", ...SMALL, ...TORCH], { ...env, PIPE_PYTHON: python })
      expect(r.code).toBe(2)
      // the first line of the stage's map, after its id
      const line = PIPELINE.split("\n").findIndex((l) => l === "  train-mlp:") + 2
      expect(r.stderr).toContain(`pipeline.yaml:${line}:5 stages.train-mlp: no Python with PyTorch found (${python}: cannot import torch: No module named`)
      expect(r.stderr).toContain("nothing ran")
      expect(r.stderr).toContain("apt-get install python3-torch")
      expect(existsSync(join(w.dir, ".pipe", "pipe.db")) ? (w.db().prepare("SELECT count(*) FROM runs").pluck().get() as number) : 0).toBe(0)
    } finally {
      w.cleanup()
    }
  })
})

describe("device: cuda", () => {
  it("on a machine whose PyTorch sees no GPU says that, not how to install PyTorch", async () => {
    const gpu = (await execa("/usr/bin/python3", ["-c", "import torch; print(torch.cuda.is_available())"], { reject: false })).stdout.trim()
    const w = workspace({ "pipeline.yaml": PIPELINE })
    try {
      const r = await w.pipe(["status", ...SMALL, ...TORCH, "--set", "train-mlp.device=cuda"], { ...env, PIPE_PYTHON: "/usr/bin/python3" })
      if (gpu === "True") expect(r.code).toBe(0)
      else {
        expect(r.code).toBe(2)
        expect(r.stderr).toContain("stages.train-mlp: device: cuda, but PyTorch at /usr/bin/python3 sees no CUDA GPU on this machine; use device: auto")
        expect(r.stderr).not.toContain("no Python with PyTorch found")
      }
    } finally {
      w.cleanup()
    }
  })
})

describe("a worker killed mid-epoch", () => {
  it("fails the stage cleanly, records nothing, and the next run trains again", async () => {
    const w = workspace({ "pipeline.yaml": PIPELINE })
    try {
      const args = ["run", "train-mlp", "--set", "download.limit=20000", "--set", "train-mlp.epochs=50", ...TORCH]
      const child = w.spawn(args, env)
      let pgid: number | undefined
      const t0 = Date.now()
      while (pgid === undefined) {
        await new Promise((ok) => setTimeout(ok, 300))
        if (existsSync(join(w.dir, ".pipe", "pipe.db"))) {
          const db = w.db()
          try {
            pgid = (db.prepare("SELECT child_pgid FROM runs WHERE stage = 'train-mlp' AND child_pgid IS NOT NULL").pluck().get() as number | undefined) ?? undefined
          } catch {
            // tables not created yet
          } finally {
            db.close()
          }
        }
        if (Date.now() - t0 > 120_000) throw new Error("the worker did not start")
      }
      await new Promise((ok) => setTimeout(ok, 2000))
      process.kill(pgid, "SIGKILL")
      const r = await child
      expect(r.exitCode).toBe(1)
      expect(r.stdout).toContain("the torch worker was killed (SIGKILL)")
      const db = w.db()
      expect(db.prepare("SELECT status, output FROM runs WHERE stage = 'train-mlp'").all()).toEqual([{ status: "failed", output: null }])
      db.close()
      const again = await w.json(["run", "train-mlp", "--set", "download.limit=20000", "--set", "train-mlp.epochs=1", ...TORCH])
      expect(statuses(again.events)["train-mlp"]).toBe("ran")
    } finally {
      w.cleanup()
    }
  }, 240_000)
})


