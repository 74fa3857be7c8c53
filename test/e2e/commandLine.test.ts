/**
 * The command line itself: options missing their value, options before the command, integer options out of
 * range, sweep grids (the same param twice, the cap on points, bracketed values) and the sweeps declared in
 * pipeline.yaml, which are checked when the pipeline loads.
 */
import { existsSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { workspace, type Workspace } from "../support/cli.js"

let ws: Workspace
afterEach(() => ws?.cleanup())

const PIPELINE = `
name: cl
stages:
  prep:
    kind: command
    cmd: [sh, -c, 'echo prep >> ran.log; echo data > $PIPE_OUT/d']
  train:
    kind: command
    needs: [prep]
    cmd: [sh, -c, 'echo "train \${params.lr}" >> ran.log; echo "\${params.lr}" > $PIPE_OUT/m']
    params: { lr: 0.1, layers: [8] }
`

/** Nothing ran and no store was made. */
const untouched = (w: Workspace) => {
  expect(w.ranLog()).toEqual([])
  expect(existsSync(join(w.dir, ".pipe"))).toBe(false)
}

describe("an option without its value", () => {
  it("pipe run --set refuses (exit 2) instead of running the whole pipeline", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const r = await ws.pipe(["run", "--set"])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe("pipe: --set needs a value, e.g. pipe run --set train.lr=0.001; see pipe run --help")
    untouched(ws)
  })

  it("is refused for every value-taking option, at the end or followed by another option", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const cases: Array<[Array<string>, string]> = [
      [["run", "-f"], "-f needs a value, e.g. pipe run -f pipeline.yaml"],
      [["run", "--file"], "--file needs a value, e.g. pipe run --file pipeline.yaml"],
      [["run", "--store"], "--store needs a value, e.g. pipe run --store .pipe"],
      [["run", "--set", "--dry-run"], "--set needs a value, e.g. pipe run --set train.lr=0.001"],
      [["status", "--set", "-f", "pipeline.yaml"], "--set needs a value, e.g. pipe status --set train.lr=0.001"],
      [["sweep", "train.lr=1,2", "--metric"], "--metric needs a value, e.g. pipe sweep --metric evaluate-mlp.test_accuracy"],
      [["sweep", "train.lr=1,2", "--jobs", "--dry-run"], "--jobs needs a value, e.g. pipe sweep --jobs 2"],
      [["sweep", "train.lr=1,2", "--max-points"], "--max-points needs a value, e.g. pipe sweep --max-points 5000"],
      [["runs", "--limit"], "--limit needs a value, e.g. pipe runs --limit 20"],
      [["runs", "--where"], "--where needs a value, e.g. pipe runs --where metrics.test_accuracy>=0.9"],
      [["gc", "--keep-last"], "--keep-last needs a value, e.g. pipe gc --keep-last 3"],
      [["dag", "--format"], "--format needs a value, e.g. pipe dag --format text"],
      [["report", "-o"], "-o needs a value, e.g. pipe report -o report"]
    ]
    for (const [args, message] of cases) {
      const r = await ws.pipe(args)
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({
        args,
        code: 2,
        stderr: `pipe: ${message}; see pipe ${args[0]} --help`
      })
    }
    untouched(ws)
  })

  it("gives scripts a JSON error event with --json", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const r = await ws.json(["run", "--store"])
    expect(r.code).toBe(2)
    expect(r.events).toEqual([
      { event: "error", code: 2, error: "UsageError", message: "--store needs a value, e.g. pipe run --store .pipe; see pipe run --help" }
    ])
    untouched(ws)
  })

  it("still takes negative numbers and --opt=value as values", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    expect((await ws.pipe(["run"])).code).toBe(0)
    const eq = await ws.pipe(["status", "--set=train.lr=-1"])
    expect(eq.code).toBe(0)
    expect(eq.stdout).toContain("train  stale    params changed: lr 0.1 -> -1")
    const neg = await ws.pipe(["status", "--set", "train.lr=-2"])
    expect(neg.code).toBe(0)
    expect(neg.stdout).toContain("train  stale    params changed: lr 0.1 -> -2")
  })
})

describe("options before the command", () => {
  it("pipe -f FILE status works as pipe status -f FILE, with the other shared options too", async () => {
    ws = workspace({ "other.yaml": PIPELINE })
    const r = await ws.pipe(["-f", "other.yaml", "status"])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("prep   stale    no previous run")
    expect((await ws.pipe(["--file", "other.yaml", "run"])).code).toBe(0)
    expect(ws.ranLog()).toEqual(["prep", "train 0.1"])
    const j = await ws.pipe(["--json", "--set", "train.lr=0.5", "--store", join(ws.dir, ".pipe"), "-f", "other.yaml", "status"])
    expect(j.code).toBe(0)
    const plan = j.stdout.split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(plan.filter((e) => e["event"] === "plan").map((e) => [e["stage"], e["state"], e["reason"]])).toEqual([
      ["prep", "fresh", "up to date"],
      ["train", "stale", "params changed: lr 0.1 -> 0.5"]
    ])
    const equals = await ws.pipe(["--file=other.yaml", "status"])
    expect(equals.code).toBe(0)
  })

  it("says so when the command does not take that option, or no command follows", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const dag = await ws.pipe(["--set", "train.lr=1", "dag"])
    expect(dag.code).toBe(2)
    expect(dag.stderr).toBe("pipe: --set is not an option of pipe dag; see pipe dag --help")
    const none = await ws.pipe(["-f", "pipeline.yaml"])
    expect(none.code).toBe(2)
    expect(none.stderr).toContain("pipe: give a command after -f pipeline.yaml, e.g. pipe status -f pipeline.yaml; commands: run, sweep, status")
    const noValue = await ws.pipe(["-f", "status"])
    expect(noValue.code).toBe(2)
    expect(noValue.stderr).toBe("pipe: -f needs a value, e.g. pipe status -f pipeline.yaml; see pipe status --help")
    untouched(ws)
  })
})

describe("integer options out of range", () => {
  it("are usage errors (exit 2), not silently clamped", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const cases: Array<[Array<string>, string]> = [
      [["runs", "--limit", "-5"], "pipe: --limit must be 0 or more, got -5"],
      [["gc", "--keep-last", "-1"], "pipe: --keep-last must be 0 or more, got -1"],
      [["sweep", "train.lr=1,2", "--jobs", "0"], "pipe: --jobs must be at least 1, got 0"],
      [["sweep", "train.lr=1,2", "--jobs", "-3"], "pipe: --jobs must be at least 1, got -3"],
      [["sweep", "train.lr=1,2", "--max-points", "0"], "pipe: --max-points must be at least 1, got 0"],
      [["runs", "--sweep", "0"], "pipe: --sweep must be at least 1, got 0"],
      [["report", "--sweep", "-2"], "pipe: --sweep must be at least 1, got -2"],
      [["lineage", "train", "--depth", "0"], "pipe: --depth must be at least 1, got 0"]
    ]
    for (const [args, message] of cases) {
      const r = await ws.pipe(args)
      expect({ args, code: r.code, stderr: r.stderr.trim() }).toEqual({ args, code: 2, stderr: message })
    }
    const word = await ws.pipe(["runs", "--limit", "all"])
    expect(word.code).toBe(2)
    expect(word.stderr).toContain("'all' is not a integer")
    untouched(ws)
  })

  it("--limit 1 and --keep-last 0 still work", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    expect((await ws.pipe(["run"])).code).toBe(0)
    const runs = await ws.json(["runs", "--limit", "1"])
    expect(runs.code).toBe(0)
    expect(runs.events).toHaveLength(1)
    const gc = await ws.json(["gc", "--keep-last", "0", "--dry-run"])
    expect(gc.code).toBe(0)
    expect(gc.events[0]).toMatchObject({ event: "gc", dryRun: true })
  })
})

describe("pipe sweep's command line", () => {
  it("refuses the same param twice, as written or through a bare PARAM", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const twice = await ws.pipe(["sweep", "train.lr=1", "train.lr=2"])
    expect(twice.code).toBe(2)
    expect(twice.stderr).toBe("pipe: train.lr is given twice; give each param once, with all its values (train.lr=V1,V2,...)")
    const both = await ws.pipe(["sweep", "lr=1", "train.lr=2"])
    expect(both.code).toBe(2)
    expect(both.stderr).toBe("pipe: lr and train.lr both name train.lr; give each param once, with all its values (train.lr=V1,V2,...)")
    untouched(ws)
  })

  it("caps the number of points (default 1000; --max-points raises or lowers it), before a generator allocates", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const range = await ws.pipe(["sweep", "train.lr=range(1,100000)"])
    expect(range.code).toBe(2)
    expect(range.stderr).toBe(
      "pipe: train.lr=range(1,100000): range(1,100000) makes 99999 values, more than the cap of 1000 points; " +
        "narrow it, or raise the cap with --max-points 99999"
    )
    // 10^15 values would take forever to build: refused at once
    const huge = await ws.pipe(["sweep", "train.lr=range(0,1e15)"])
    expect(huge.code).toBe(2)
    expect(huge.stderr).toContain("range(0,1e15) makes 1000000000000000 values, more than the cap of 1000 points")
    const log = await ws.pipe(["sweep", "train.lr=log(1,10,100000000)"])
    expect(log.code).toBe(2)
    expect(log.stderr).toContain("log(1,10,100000000) makes 100000000 values")
    const grid = await ws.pipe(["sweep", "train.lr=1,2,3", "train.layers=1,2", "--max-points", "5"])
    expect(grid.code).toBe(2)
    expect(grid.stderr).toBe(
      "pipe: the grid has 6 points (3 train.lr x 2 train.layers), more than the cap of 5 points; narrow it, or raise the cap with --max-points 6"
    )
    untouched(ws)
    const raised = await ws.json(["sweep", "train.lr=range(0,1200)", "--max-points", "1200", "--dry-run"])
    expect(raised.code).toBe(0)
    expect(raised.events.filter((e) => e["event"] === "point")).toHaveLength(1200)
  })

  it("reads a bracketed value as one YAML list or map, and says so in --help", async () => {
    ws = workspace({ "pipeline.yaml": PIPELINE })
    const r = await ws.json(["sweep", "train.layers=[0.1,0.2],[3],{a: 1, b: 2}", "--dry-run"])
    expect(r.code).toBe(0)
    expect(r.events.filter((e) => e["event"] === "point").map((e) => e["params"])).toEqual([
      { "train.layers": [0.1, 0.2] },
      { "train.layers": [3] },
      { "train.layers": { a: 1, b: 2 } }
    ])
    const help = await ws.pipe(["sweep", "--help"])
    expect(help.stdout).toContain("a bracketed [1,2] or {a: 1} is ONE value (a YAML list or map)")
  })

  it("refuses a list for a numeric param of a typed kind with one clear problem, exit 2", async () => {
    ws = workspace({
      "pipeline.yaml": `
name: ml
stages:
  download:
    kind: download
    params: { limit: 100 }
  split:
    kind: split
    needs: [download]
  augment:
    kind: augment
    needs: [download]
  train:
    kind: train
    needs: [split, augment]
    params: { model: mlp, epochs: 1 }
`
    })
    const r = await ws.pipe(["sweep", "train.lr=[0.1,0.2]"])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(
      "sweep value train.lr=[0.1,0.2] stages.train.params.lr: expected a positive number, got a list of 2\npipeline.yaml: 1 problem; nothing ran"
    )
    expect(existsSync(join(ws.dir, ".pipe"))).toBe(false)
    // the same in the file: one problem, not also "expected undefined"
    ws.write("bad.yaml", ws.read("pipeline.yaml").replace("epochs: 1", "epochs: -3"))
    const file = await ws.pipe(["status", "-f", "bad.yaml"])
    expect(file.code).toBe(2)
    expect(file.stderr).toBe("bad.yaml:16:35 stages.train.params.epochs: expected a positive integer, got -3\nbad.yaml: 1 problem; nothing ran")
  })
})

describe("sweeps declared in pipeline.yaml", () => {
  const DECLARED = `${PIPELINE}sweeps:
  bad:
    grid: { train.lr: "log(1,2)" }
  empty:
    grid:
      train.lr: []
  typo:
    grid: { trian.lr: [1, 2], lr: [3], train.lr: [1] }
  big:
    grid: { train.lr: "range(0,50)", train.layers: "range(0,50)" }
  capped:
    max_points: 100
    grid: { train.lr: "range(0,500)" }
`
  const PROBLEMS = [
    `pipeline.yaml:14:23 sweeps.bad.grid.train.lr: log(1,2): expected log(FROM, TO, COUNT) with positive FROM and TO and COUNT >= 2`,
    `pipeline.yaml:17:17 sweeps.empty.grid.train.lr: expected at least one value, e.g. [0.001, 0.01] or "log(1e-4,1e-1,4)"`,
    `pipeline.yaml:19:13 sweeps.typo.grid.trian.lr: unknown stage 'trian' (did you mean 'train'?)`,
    `pipeline.yaml:19:40 sweeps.typo.grid.train.lr: lr and train.lr both name train.lr; give each param once, with all its values (train.lr=V1,V2,...)`,
    `pipeline.yaml:21:11 sweeps.big.grid: the grid has 2500 points (50 train.lr x 50 train.layers), more than the cap of 1000 points; ` +
      `narrow it, or raise the cap with max_points: 2500 in sweeps.big`,
    `pipeline.yaml:24:23 sweeps.capped.grid.train.lr: range(0,500) makes 500 values, more than the cap of 100 points; ` +
      `narrow it, or raise the cap with max_points: 500 in sweeps.capped`,
    `pipeline.yaml: 6 problems; nothing ran`
  ].join("\n")

  it("are checked when the pipeline loads: pipe run, pipe status and pipe sweep NAME report every problem with its location", async () => {
    ws = workspace({ "pipeline.yaml": DECLARED })
    for (const args of [["run"], ["status"], ["sweep", "bad"], ["sweep", "empty"]]) {
      const r = await ws.pipe(args)
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 2, stderr: PROBLEMS })
    }
    untouched(ws)
  })

  it("a key for a param the stage's kind does not have is located too, with did-you-mean", async () => {
    ws = workspace({
      "pipeline.yaml": `
name: typed
stages:
  download:
    kind: download
sweeps:
  sizes:
    grid: { download.limt: [10, 20] }
`
    })
    const r = await ws.pipe(["status"])
    expect(r.code).toBe(2)
    expect(r.stderr.split("\n")[0]).toBe(
      "pipeline.yaml:8:13 sweeps.sizes.grid.download.limt: stage download has no param 'limt' (did you mean 'limit'?); its params: source, dir, url, limit"
    )
  })

  it("max_points raises a declared sweep's cap; --max-points lowers it for one invocation", async () => {
    ws = workspace({
      "pipeline.yaml": `${PIPELINE}sweeps:
  wide:
    max_points: 3000
    grid: { train.lr: "range(0,50)", train.layers: "range(0,50)" }
  small:
    grid: { train.lr: [0.1, 0.2] }
`
    })
    expect((await ws.pipe(["status"])).code).toBe(0)
    const lowered = await ws.pipe(["sweep", "wide", "--max-points", "10"])
    expect(lowered.code).toBe(2)
    expect(lowered.stderr).toBe(
      "pipe: train.lr=range(0,50): range(0,50) makes 50 values, more than the cap of 10 points; narrow it, or raise the cap with --max-points 50"
    )
    const small = await ws.json(["sweep", "small"])
    expect(small.code).toBe(0)
    expect(small.events.filter((e) => e["event"] === "point").map((e) => e["params"])).toEqual([{ "train.lr": 0.1 }, { "train.lr": 0.2 }])
  })
})

describe("a bad value from the command line", () => {
  const SHIPPED = readFileSync(resolve(import.meta.dirname, "../../pipeline.yaml"), "utf8")

  it("is blamed on the --set that gave it: the last of two for one param", async () => {
    ws = workspace({ "pipeline.yaml": SHIPPED })
    const r = await ws.pipe(["status", "--set", "train-mlp.epochs=3", "--set", "train-mlp.epochs=-1"])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("--set train-mlp.epochs=-1 stages.train-mlp.params.epochs:")
    expect(r.stderr).not.toContain("epochs=3")
  })

  it("is blamed on the sweep value, not on a --set nobody typed, once", async () => {
    ws = workspace({ "pipeline.yaml": SHIPPED })
    const r = await ws.pipe(["sweep", "train-mlp.model=vgg,mlp"])
    expect(r.code).toBe(2)
    // one problem, listing the choices; nothing said downstream about the same mistake
    expect(r.stderr).toBe(
      [
        'sweep value train-mlp.model="vgg" stages.train-mlp.params.model: expected one of "mlp", "cnn", "resnet18", "resnet34", got "vgg"',
        "pipeline.yaml: 1 problem; nothing ran"
      ].join("\n")
    )
    expect(existsSync(join(ws.dir, ".pipe"))).toBe(false)
  })
})
