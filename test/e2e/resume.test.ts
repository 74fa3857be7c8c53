/**
 * A training that continues another through the built CLI: epochs 1 then 2..3 give the weights of 3 epochs in one
 * go, on tfjs (wasm) and on torch (CPU); a continuation of another recipe is refused at its location.
 */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { execa } from "execa"
import { afterAll, describe, expect, it } from "vitest"
import { statuses, workspace, type Workspace } from "../support/cli.js"

// The CNN: batch norm's moving statistics and a seeded dropout must both continue exactly.
const RECIPE = "model: cnn, batch_size: 64, dropout: 0.2, schedule_epochs: 3, lr: 0.002, warmup: 0.5"
const PIPELINE = `
name: resume
stages:
  download: { kind: download, params: { limit: 1000 } }
  split: { kind: split, needs: [download], params: { ratio: 0.8, seed: 0 } }
  augment: { kind: augment, needs: [download], params: { pad: 2, flip: 0.5 } }
  part:
    kind: train
    needs: [split, augment]
    params: { epochs: 1, ${RECIPE} }
  rest:
    kind: train
    needs: [split, augment, part]
    params: { epochs: 3, ${RECIPE} }
  whole:
    kind: train
    needs: [split, augment]
    params: { epochs: 3, ${RECIPE} }
  check:
    kind: evaluate
    needs: [rest, split]
`

const workspaces: Array<Workspace> = []
afterAll(() => {
  for (const w of workspaces) w.cleanup()
})
const open = (yaml: string) => {
  const w = workspace({ "pipeline.yaml": yaml })
  workspaces.push(w)
  return w
}
const stage = (events: ReadonlyArray<Record<string, any>>, id: string) => events.find((e) => e["stage"] === id)!

describe("train continued from another training", () => {
  it("gives the one-go weights on tfjs, keeps the whole history, and records what it continued", async () => {
    const ws = open(PIPELINE)
    const r = await ws.json(["run"])
    expect(r.code, r.stderr).toBe(0)
    expect(statuses(r.events)).toMatchObject({ part: "ran", rest: "ran", whole: "ran", check: "ran" })
    const [part, rest, whole] = ["part", "rest", "whole"].map((s) => ws.artifact(stage(r.events, s)["output"]))
    expect(readFileSync(rest!["weights.bin"]!).equals(readFileSync(whole!["weights.bin"]!))).toBe(true)
    expect(readFileSync(rest!["weights.bin"]!).equals(readFileSync(part!["weights.bin"]!))).toBe(false)
    // the optimizer's state too, and the records of all three epochs
    expect(readFileSync(rest!["train-state.bin"]!).equals(readFileSync(whole!["train-state.bin"]!))).toBe(true)
    expect(readFileSync(rest!["metrics.jsonl"]!, "utf8")).toBe(readFileSync(whole!["metrics.jsonl"]!, "utf8"))
    const config = JSON.parse(readFileSync(rest!["config.json"]!, "utf8"))
    expect(config.resumed).toEqual({ from: stage(r.events, "part")["output"], epochs: 1 })
    expect(stage(r.events, "rest")["metrics"]).toMatchObject({ epochs: 3 })
    expect(stage(r.events, "check")["metrics"]["test_accuracy"]).toBeGreaterThan(0.5)
    // the continuation is keyed by what it continued: a changed first part reruns it
    const changed = await ws.json(["run", "rest", "--set", "augment.flip=0.3"])
    expect(statuses(changed.events)).toMatchObject({ part: "ran", rest: "ran" })
  }, 240_000)

  it("gives the one-go weights and optimizer state on torch (CPU)", async () => {
    const ws = open(PIPELINE)
    const torch = ["part", "rest", "whole", "check"].flatMap((s) => ["--set", `${s}.engine=torch`])
    const r = await ws.json(["run", ...torch])
    expect(r.code, r.stderr).toBe(0)
    const [rest, whole] = ["rest", "whole"].map((s) => ws.artifact(stage(r.events, s)["output"])["model.pt"]!)
    const compare = await execa("/usr/bin/python3", [
      "-c",
      `import sys, torch
a, b = (torch.load(p) for p in sys.argv[1:3])
same = all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
oa, ob = a["train_state"]["optimizer"]["state"], b["train_state"]["optimizer"]["state"]
same_opt = all(torch.equal(oa[i][k], ob[i][k]) for i in oa for k in oa[i])
print(same, same_opt, a["train_state"]["epoch"], torch.equal(a["train_state"]["rng"], b["train_state"]["rng"]))`,
      rest!,
      whole!
    ])
    expect(compare.stdout.trim()).toBe("True True 3 True")
    expect(stage(r.events, "check")["metrics"]["test_accuracy"]).toBeGreaterThan(0.5)
  }, 240_000)

  it("refuses a continuation of another recipe, of as many epochs, or without a horizon, at its location, running nothing", async () => {
    const ws = open(PIPELINE.replace(`    params: { epochs: 3, ${RECIPE} }\n  whole:`, `    params: { epochs: 3, ${RECIPE}, label_smoothing: 0.1 }\n  whole:`))
    const refused = async (sets: ReadonlyArray<string>, message: RegExp) => {
      const r = await ws.pipe(["run", "rest", ...sets.flatMap((s) => ["--set", s])])
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.stderr).toContain("nothing ran")
    }
    // in the file: at the params of the stage that continues
    const rest = PIPELINE.split("\n").indexOf("  rest:") + 1
    await refused([], new RegExp(`^pipeline\\.yaml:${rest + 3}:\\d+ stages\\.rest\\.params\\.label_smoothing: continues part, whose label_smoothing is 0 \\(here 0\\.1\\): a training continues only one of the same recipe$`, "m"))
    // from the command line: at the --set that made it so
    const fixed = ["rest.label_smoothing=0"]
    await refused([...fixed, "rest.lr=0.01"], /^--set rest\.lr=0\.01 stages\.rest\.params\.lr: continues part, whose lr is 0\.002 \(here 0\.01\): a training continues only one of the same recipe$/m)
    await refused([...fixed, "rest.epochs=1"], /stages\.rest\.params\.epochs: continues part after its 1 epochs, so epochs must be more than 1 \(now 1\)$/m)
    await refused([...fixed, "rest.schedule_epochs=2", "part.schedule_epochs=2"], /stages\.rest\.params\.schedule_epochs: 2 is fewer than epochs \(3\): the schedule runs at least as long as the training$/m)
    await refused([...fixed, "rest.engine=torch"], /stages\.rest\.params\.engine: continues part, whose engine is tfjs \(here torch\)/m)
    expect(existsSync(join(ws.dir, ".pipe", "pipe.db")) ? ws.db().prepare("SELECT count(*) FROM runs").pluck().get() : 0).toBe(0)
  }, 60_000)
})
