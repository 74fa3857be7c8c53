/**
 * A stage's `resources:` and the pipeline's `executor:` block, as the loader reads them from pipeline.yaml:
 * decoded values, the sbatch options they become, and located errors (file:line:col) for what is wrong.
 */
import { Effect, Either } from "effect"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { errorText } from "../../../cli/render.js"
import { sbatchResources } from "../../../pipelines/launchers.js"
import { localGpus } from "../../../pipelines/localExecutor.js"
import { loadPipeline } from "../../../pipelines/loader.js"
import { makeRegistry } from "../../../stages/registry.js"

const dirs: Array<string> = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

const load = async (text: string) => {
  const dir = mkdtempSync(join(tmpdir(), "pipe-exec-spec-"))
  dirs.push(dir)
  const file = join(dir, "pipeline.yaml")
  writeFileSync(file, text)
  const r = await Effect.runPromise(Effect.either(loadPipeline(file, [], makeRegistry())))
  return Either.isRight(r) ? { ok: r.right, text: "" } : { ok: undefined, text: errorText(r.left).split(file).join("pipeline.yaml") }
}

const stage = (resources: string) => `name: r
stages:
  train:
    kind: command
    cmd: [echo]
    resources: ${resources}
`

describe("resources:", () => {
  it("decodes cpus, gpus, mem and time, keeps them out of the key, and makes sbatch options of them", async () => {
    const a = await load(stage(`{ cpus: 4, gpus: 2, mem: 16G, time: "1-02:00:00" }`))
    const node = a.ok!.pipeline.stages.get("train")!
    expect(node.resources).toEqual({ cpus: 4, gpus: 2, mem: "16G", time: "1-02:00:00" })
    expect(sbatchResources(node.resources)).toEqual(["--cpus-per-task=4", "--gres=gpu:2", "--mem=16G", "--time=1-02:00:00"])
    expect(sbatchResources({ mem: 512, time: 90 })).toEqual(["--mem=512M", "--time=90"])
    expect(sbatchResources({ gpus: 0 })).toEqual([])
    expect(sbatchResources(undefined)).toEqual([])
    // The same stage without resources has the same canonical params and config: the same key.
    const b = await load(stage("{}"))
    const other = b.ok!.pipeline.stages.get("train")!
    expect(other.canonicalParams).toEqual(node.canonicalParams)
    expect(other.canonicalConfig).toEqual(node.canonicalConfig)
  })

  it("reports each bad value where it is, with what is expected", async () => {
    const r = await load(stage(`{ cpus: 0, gpus: -1, mem: 4 GB, time: "10:00:00:00", disk: 3 }`))
    expect(r.ok).toBeUndefined()
    const lines = r.text.split("\n")
    expect(lines).toEqual([
      "pipeline.yaml:6:24 stages.train.resources.cpus: expected a positive whole number of CPUs, got 0",
      "pipeline.yaml:6:33 stages.train.resources.gpus: expected a whole number of GPUs (0 or more), got -1",
      'pipeline.yaml:6:42 stages.train.resources.mem: expected memory as megabytes (4096) or with a unit K, M, G or T (16G), got "4 GB"',
      'pipeline.yaml:6:54 stages.train.resources.time: expected a time limit as minutes (90) or as MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS, got "10:00:00:00"',
      "pipeline.yaml:6:69 stages.train.resources.disk: unknown key 'disk'; allowed keys: cpus, gpus, mem, time",
      "pipeline.yaml: 5 problems; nothing ran"
    ])
  })
})

describe("executor:", () => {
  it("is read with the pipeline, and a remote directory in it is the file's", async () => {
    const a = await load(`name: e
executor: { kind: slurm, remote: s3://bucket/p, partition: gpu, retries: 2, sbatch: [--account=lab, --qos=high] }
stages:
  a: { kind: command, cmd: [echo] }
`)
    expect(a.ok!.pipeline.executor).toEqual({ kind: "slurm", remote: "s3://bucket/p", partition: "gpu", retries: 2, sbatch: ["--account=lab", "--qos=high"] })
  })

  it("reports a wrong kind, a bad option and settings that do not fit the executor, with line:col", async () => {
    const typo = await load(`name: e
executor:
  kind: slurn
stages:
  a: { kind: command, cmd: [echo] }
`)
    expect(typo.text).toMatch(/^pipeline\.yaml:3:9 executor\.kind: expected one of "local", "slurm", "process", got "slurn" \(did you mean 'slurm'\?\)$/m)
    const bad = await load(`name: e
executor:
  kind: slurm
  retries: 11
  sbatch: [-A lab]
  remte: s3://b
stages:
  a: { kind: command, cmd: [echo] }
`)
    expect(bad.text).toMatch(/^pipeline\.yaml:4:12 executor\.retries: expected how often a job lost with its node is resubmitted \(0 to 10\), got 11/m)
    expect(bad.text).toMatch(/^pipeline\.yaml:5:12 executor\.sbatch\[0\]: expected an sbatch option in its long form, e\.g\. --account=lab, got "-A lab"/m)
    expect(bad.text).toMatch(/^pipeline\.yaml:6:3 executor\.remte: unknown key 'remte' \(did you mean 'remote'\?\)/m)
    const own = await load(`name: e
executor: { kind: slurm, sbatch: [--account=lab, --time=10, --job-name=x] }
stages:
  a: { kind: command, cmd: [echo] }
`)
    expect(own.text.split("\n")).toEqual([
      "pipeline.yaml:2:50 executor.sbatch[1]: --time is set by pipe (use a stage's resources.time); leave it out",
      "pipeline.yaml:2:61 executor.sbatch[2]: --job-name is set by pipe (pipe names each job after its stage's key); leave it out",
      "pipeline.yaml: 2 problems; nothing ran"
    ])
    const local = await load(`name: e
executor:
  kind: local
  remote: /shared/x
  partition: gpu
stages:
  a: { kind: command, cmd: [echo] }
`)
    expect(local.text).toMatch(/^pipeline\.yaml:4:3 executor\.remote: a local executor runs stages here and needs no remote/m)
    expect(local.text).toMatch(/^pipeline\.yaml:5:3 executor\.partition: 'partition' is for kind slurm; this executor is local/m)
  })
})

describe("the local executor's GPUs", () => {
  it("are CUDA_VISIBLE_DEVICES when set, else the NVIDIA devices in /dev", () => {
    expect(localGpus({ CUDA_VISIBLE_DEVICES: "0,1" })).toBe(2)
    expect(localGpus({ CUDA_VISIBLE_DEVICES: "" })).toBe(0)
    expect(localGpus({ CUDA_VISIBLE_DEVICES: "-1" })).toBe(0)
    const dev = mkdtempSync(join(tmpdir(), "pipe-dev-"))
    dirs.push(dev)
    for (const f of ["nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"]) mkdirSync(join(dev, f))
    expect(localGpus({}, dev)).toBe(2)
    expect(localGpus({}, join(dev, "missing"))).toBe(0)
  })
})
