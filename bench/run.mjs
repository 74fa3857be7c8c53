// Benchmarks for the built CLI (dist/pipe.mjs). Run with `npm run bench` (builds first) or
// `node bench/run.mjs [--runs N] [benchmark-id ...]`. PIPE_BENCH_KEEP=1 keeps the temp workspaces;
// PIPE_BENCH_CLI=FILE runs another build of the CLI.
//
// Prints figures only: timings are never asserted (machines are noisy). It exits non-zero only when
// the CLI misbehaves (a run fails, or a no-op run re-runs stages), since that is a bug, not noise.
//
// To add a benchmark: write an async function `(ctx) => Result` and add it to `benchmarks` below.
// A Result is { label, samples: seconds[], target?: seconds, cold?: seconds, note?: string }.
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { cpus, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
// PIPE_BENCH_CLI=path/to/pipe.mjs measures another build (e.g. the previous commit's) with the same benchmarks.
const cli = process.env.PIPE_BENCH_CLI ?? join(root, "dist", "pipe.mjs")

// ---------------------------------------------------------------------------------------------
// helpers

const tempDirs = []
const makeTempDir = (tag) => {
  const dir = mkdtempSync(join(tmpdir(), `pipe-bench-${tag}-`))
  tempDirs.push(dir)
  return dir
}
const cleanup = () => {
  if (process.env.PIPE_BENCH_KEEP) {
    if (tempDirs.length) console.log(`kept (PIPE_BENCH_KEEP): ${tempDirs.join(" ")}`)
    return
  }
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true })
}

class BenchError extends Error {}

/** The environment the CLI runs in: no PIPE_STORE, so the store is .pipe/ beside the pipeline. */
const cliEnv = () => {
  const env = { ...process.env }
  delete env.PIPE_STORE
  return env
}

/** Runs a command synchronously; returns its result with the wall time in seconds. */
const timed = (cmd, args, opts = {}) => {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, ...opts })
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  if (r.error) throw new BenchError(`${cmd} ${args.join(" ")}: ${r.error.message}`)
  return { ...r, seconds }
}

/** `pipe <args>` in `cwd`; fails the benchmark if the CLI exits non-zero. */
const pipe = (cwd, args, timeoutMs = 600_000) => {
  const r = timed(process.execPath, [cli, ...args], { cwd, env: cliEnv(), timeout: timeoutMs })
  if (r.status !== 0) {
    throw new BenchError(
      `pipe ${args.join(" ")} (in ${cwd}) exited ${r.status ?? r.signal}\n` +
        `--- stdout (tail) ---\n${tail(r.stdout)}\n--- stderr (tail) ---\n${tail(r.stderr)}`
    )
  }
  return r
}

const tail = (s, n = 20) => (s ?? "").trimEnd().split("\n").slice(-n).join("\n")

/** Parses `--json` NDJSON output; returns { stages, summary }. */
const parseEvents = (stdout) => {
  const events = stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      try {
        return JSON.parse(l)
      } catch {
        throw new BenchError(`pipe --json printed a line that is not JSON: ${l}`)
      }
    })
  const summary = events.at(-1)
  if (!summary || summary.event !== "summary") throw new BenchError(`pipe --json: last line is not a summary:\n${tail(stdout)}`)
  return { events, stages: events.filter((e) => e.event === "stage"), summary }
}

const stats = (samples) => {
  const s = [...samples].sort((a, b) => a - b)
  const mid = s.length >> 1
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
  return { median, min: s[0], max: s.at(-1) }
}

/** Writes a pipeline (and any extra workspace files) into a fresh temp dir; returns the dir. */
const makeWorkspace = (tag, yaml, files = {}) => {
  const dir = makeTempDir(tag)
  writeFileSync(join(dir, "pipeline.yaml"), yaml)
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), content)
  }
  return dir
}

/** A YAML single-quoted scalar. */
const q = (s) => `'${s.replaceAll("'", "''")}'`

// ---------------------------------------------------------------------------------------------
// pipelines

/** A realistic 6-stage ML-shaped pipeline with fan-in and workspace file deps. */
const pipeline6 = () => ({
  stageCount: 6,
  files: {
    "data/source.csv": "id,x,y\n" + Array.from({ length: 200 }, (_, i) => `${i},${i * 0.5},${i % 2}`).join("\n") + "\n",
    "scripts/train.sh": "#!/bin/sh\n# toy trainer\nwc -l < \"$1\" > \"$PIPE_OUT/model.txt\"\necho lr=$2 epochs=$3 >> \"$PIPE_OUT/model.txt\"\n"
  },
  yaml: `name: bench6
stages:
  download:
    kind: command
    deps: [data/source.csv]
    cmd: [sh, -c, ${q("cp data/source.csv $PIPE_OUT/raw.csv && echo ${params.url} > $PIPE_OUT/url.txt")}]
    params: { url: "https://example.invalid/data.csv" }
  split:
    kind: command
    needs: [download]
    cmd: [sh, -c, ${q("head -n ${params.train_rows} $PIPE_IN_DOWNLOAD/raw.csv > $PIPE_OUT/train.csv && tail -n +$((${params.train_rows} + 1)) $PIPE_IN_DOWNLOAD/raw.csv > $PIPE_OUT/test.csv")}]
    params: { train_rows: 150 }
  augment:
    kind: command
    needs: [split]
    cmd: [sh, -c, ${q("cat $PIPE_IN_SPLIT/train.csv $PIPE_IN_SPLIT/train.csv > $PIPE_OUT/train.csv && echo seed=${params.seed} >> $PIPE_OUT/train.csv")}]
    params: { seed: 42 }
  train:
    kind: command
    needs: [augment]
    deps: [scripts/train.sh]
    cmd: [sh, -c, ${q("sh scripts/train.sh $PIPE_IN_AUGMENT/train.csv ${params.lr} ${params.epochs}")}]
    params: { lr: 0.001, epochs: 3 }
  evaluate:
    kind: command
    needs: [train, split]
    cmd: [sh, -c, ${q("cat $PIPE_IN_TRAIN/model.txt > $PIPE_OUT/metrics.txt && wc -l < $PIPE_IN_SPLIT/test.csv >> $PIPE_OUT/metrics.txt")}]
  report:
    kind: command
    needs: [evaluate, train, download]
    cmd: [sh, -c, ${q("cat $PIPE_IN_EVALUATE/metrics.txt $PIPE_IN_TRAIN/model.txt $PIPE_IN_DOWNLOAD/url.txt > $PIPE_OUT/report.md")}]
`
})

/** Deterministic PRNG (mulberry32) so the generated DAG is the same on every run. */
const prng = (seed) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** A layered DAG: `layers` x `width` stages, each needing 1-3 stages of the previous layer. */
const layeredPipeline = (layers, width, seed = 1) => {
  const rand = prng(seed)
  const id = (l, n) => `l${String(l).padStart(2, "0")}_n${String(n).padStart(2, "0")}`
  const env = (stageId) => `$PIPE_IN_${stageId.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`
  const lines = [`name: bench${layers * width}`, "stages:"]
  for (let l = 0; l < layers; l++) {
    for (let n = 0; n < width; n++) {
      lines.push(`  ${id(l, n)}:`, "    kind: command")
      if (l === 0) {
        lines.push(`    cmd: [sh, -c, ${q("echo ${params.n} > $PIPE_OUT/out.txt")}]`, `    params: { n: ${n} }`)
        continue
      }
      const k = 1 + Math.floor(rand() * 3)
      const needs = new Set()
      while (needs.size < k) needs.add(id(l - 1, Math.floor(rand() * width)))
      const ins = [...needs].map((s) => `${env(s)}/out.txt`).join(" ")
      lines.push(`    needs: [${[...needs].join(", ")}]`, `    cmd: [sh, -c, ${q(`cat ${ins} | wc -c > $PIPE_OUT/out.txt`)}]`)
    }
  }
  return { stageCount: layers * width, files: {}, yaml: lines.join("\n") + "\n" }
}

// ---------------------------------------------------------------------------------------------
// benchmarks

/** `node -e 0`: the floor any Node CLI pays on this machine. */
const nodeBaseline = async ({ runs }) => {
  timed(process.execPath, ["-e", "0"]) // warm-up
  const samples = Array.from({ length: runs }, () => timed(process.execPath, ["-e", "0"]).seconds)
  return { label: "node -e 0", samples }
}

/**
 * A no-op `pipe run`: a cold run populates the cache (timed, for information), a `--json` run checks
 * that everything is cached, then `runs` timed runs.
 */
const noopRun = (tag, label, makePipeline, target) => async ({ runs }) => {
  const p = makePipeline()
  const dir = makeWorkspace(tag, p.yaml, p.files)
  const args = ["run", "-f", "pipeline.yaml"]

  const cold = pipe(dir, args)
  const check = parseEvents(pipe(dir, [...args, "--json"]).stdout)
  const { summary } = check
  if (summary.ran !== 0 || summary.cached !== p.stageCount || summary.failed !== 0) {
    const notCached = check.stages.filter((e) => e.status !== "cached").slice(0, 10)
    throw new BenchError(
      `${label}: the run after the warm-up was not a no-op (expected ran=0, cached=${p.stageCount}): ` +
        `${JSON.stringify(summary)}\n` +
        notCached.map((e) => `  ${e.stage}: ${e.status} (${e.reason ?? "?"})`).join("\n")
    )
  }
  const samples = Array.from({ length: runs }, () => pipe(dir, args).seconds)
  return { label, samples, target, cold: cold.seconds }
}

/**
 * The data stages on the full Fashion-MNIST set (bench/data.ts, bundled with esbuild and run in a child):
 * stage times, then loading a split artifact, decoding it to floats and augmenting it, as training will.
 */
/** Bundles a TypeScript bench module next to this file (so its packages resolve) and returns its path. */
const bundle = async (name) => {
  const { build } = await import("esbuild")
  const entry = join(root, "bench", `.${name}.bundle.mjs`)
  await build({
    entryPoints: [join(root, "bench", `${name}.ts`)],
    outfile: entry,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: ["better-sqlite3", "@tensorflow/*"],
    banner: { js: "import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" },
    logLevel: "warning"
  })
  return entry
}

const dataStages = async ({ runs }) => {
  const entry = await bundle("data")
  try {
    const r = timed(process.execPath, [entry, cli, join(root, "pipeline.yaml"), String(runs)], { env: cliEnv() })
    if (r.status !== 0) throw new BenchError(`data benchmark failed:\n${tail(r.stderr)}`)
    const d = JSON.parse(r.stdout.trim().split("\n").at(-1))
    const lines = [
      `  download (full data set)   ${fmt(d.stages.download)}   (${d.images.toLocaleString("en")} images, from the local copy)`,
      `  split                      ${fmt(d.stages.split)}`,
      `  augment (policy+previews)  ${fmt(d.stages.augment)}`,
      `  load split artifact        ${fmt(d.load)}   ${Math.round(d.images / d.load).toLocaleString("en")} images/s (median of ${runs})`,
      `  decode train to floats     ${fmt(d.decode)}   ${Math.round(d.train / d.decode).toLocaleString("en")} images/s`,
      `  augment train (one epoch)  ${fmt(d.augment)}   ${Math.round(d.train / d.augment).toLocaleString("en")} images/s (crop+flip+normalise)`
    ]
    return { section: "data stages (Fashion-MNIST)", lines }
  } finally {
    rmSync(entry, { force: true })
  }
}

/** Training images/s per model and backend, next to the figures measured before (../shared/STACK.md). */
const trainSpeed = async () => {
  const entry = await bundle("train")
  try {
    const r = timed(process.execPath, [entry], { env: cliEnv() })
    if (r.status !== 0) throw new BenchError(`training benchmark failed:\n${tail(r.stderr)}`)
    const rows = JSON.parse(r.stdout.trim().split("\n").at(-1))
    const before = {
      "mlp/wasm": "2,857 (tfjs wasm, before)",
      "mlp/cpu": "694 (tfjs cpu, before)",
      "cnn/wasm": "52 (tfjs wasm with the cpu filter gradient, before); target >= 300",
      "resnet18/wasm": "0.77 at batch 32 (before)",
      "cnn/cpu": "0.55 (before)"
    }
    const torch = { mlp: "38,775", cnn: "820", resnet18: "27.4" }
    const lines = rows.map(
      (x) =>
        `  ${pad(`${x.model} on ${x.backend}, batch ${x.batch}`, 30)}${pad(`${Math.round(x.images_per_s).toLocaleString("en")} img/s`, 14)}` +
        `was ${before[`${x.model}/${x.backend}`] ?? "?"}; PyTorch, same cores: ${torch[x.model] ?? "?"}`
    )
    return { section: "training speed (TensorFlow.js, random inputs)", lines }
  } finally {
    rmSync(entry, { force: true })
  }
}

/**
 * Accuracy on the full data set: the demo pipeline's MLP and small CNN trained and evaluated through `pipe`,
 * the CNN for 10 epochs with flips only (the seed's 4-pixel crops are too strong for a 2-conv network in 10
 * epochs: 88.5% at epoch 10), batch 64 and label smoothing 0.1 as in pipeline.yaml, evaluated with flip
 * test-time augmentation (the figure without it is printed too). Long (about half an hour on 2 cores):
 * `node bench/run.mjs accuracy`.
 */
const ACCURACY_ARGS = ["--set", "train-cnn.epochs=10", "--set", "augment.pad=0"]
const accuracy = async () => {
  const dir = makeTempDir("accuracy")
  writeFileSync(join(dir, "pipeline.yaml"), readFileSync(join(root, "pipeline.yaml"), "utf8"))
  const r = pipe(dir, ["run", "--json", ...ACCURACY_ARGS], 3 * 3600_000)
  const events = parseEvents(r.stdout).stages
  const m = (stage) => events.find((e) => e.stage === stage)?.metrics ?? {}
  const line = (label, train, evaluate, target) => {
    const acc = m(evaluate).test_accuracy
    const plain = m(evaluate).test_accuracy_without_tta
    return `  ${pad(label, 28)}${pad(`${(acc * 100).toFixed(2)}%`, 10)}target >= ${target}%  ${acc * 100 >= target ? "ok" : "UNDER"}` +
      (plain === undefined ? "" : `   (${(plain * 100).toFixed(2)}% without test-time flips)`) +
      `   (${m(train).epochs} epochs, ${m(train).seconds} s, ${m(train).images_per_s} img/s on ${m(train).backend})`
  }
  return {
    section: `test accuracy on the full data set (pipeline.yaml with ${ACCURACY_ARGS.filter((a) => a !== "--set").join(" ")})`,
    lines: [line("MLP 784-128-10", "train-mlp", "evaluate-mlp", 89), line("small CNN", "train-cnn", "evaluate-cnn", 92)]
  }
}

/**
 * The MLP's spread over seeds: pipeline.yaml's MLP branch (download, split, plain, train-mlp, evaluate-mlp) as
 * a 5-point sweep of train-mlp.seed, on the full data. One figure is one seed; this says how far to trust it.
 * `node bench/run.mjs mlp-seeds`.
 */
const mlpSeeds = async () => {
  const { parse, stringify } = await import("yaml")
  const spec = parse(readFileSync(join(root, "pipeline.yaml"), "utf8"))
  const keep = ["download", "split", "plain", "train-mlp", "evaluate-mlp"]
  spec.stages = Object.fromEntries(keep.map((id) => [id, spec.stages[id]]))
  const dir = makeTempDir("mlp-seeds")
  writeFileSync(join(dir, "pipeline.yaml"), stringify(spec))
  const seeds = [0, 1, 2, 3, 4]
  const r = pipe(dir, ["sweep", `train-mlp.seed=${seeds.join(",")}`, "--jobs", "2", "--metric", "test_accuracy", "--json"], 3600_000)
  const events = parseEvents(r.stdout).events
  const points = events.filter((e) => e.event === "point")
  const accs = points.map((p) => p.metric * 100)
  if (accs.length !== seeds.length || accs.some((a) => !Number.isFinite(a))) throw new BenchError(`mlp-seeds: expected ${seeds.length} points with a test accuracy`)
  const { median, min, max } = stats(accs)
  const train = events.filter((e) => e.event === "stage" && e.stage === "train-mlp" && e.metrics)
  return {
    section: `MLP 784-128-10 (pipeline.yaml's MLP branch), test accuracy over seeds ${seeds.join(", ")} (full data)`,
    lines: [
      `  ${points.map((p, i) => `seed ${seeds[i]}: ${accs[i].toFixed(2)}%`).join(", ")}`,
      `  median ${median.toFixed(2)}%, min ${min.toFixed(2)}%, max ${max.toFixed(2)}%; ${accs.filter((a) => a >= 89).length} of ${accs.length} at or above the 89% target` +
        (train.length ? `   (${train[0].metrics.seconds} s per training, ${seeds.length} trainings 2 at a time)` : "")
    ]
  }
}

/**
 * Search beyond grids: 27 sampled trials (seed 7: lr, batch size, label smoothing) of one model on a 12,000-image
 * training subset, searched in full (9 epochs each) and by successive halving (eta 3, 1 -> 3 -> 9 epochs), both
 * over a 27-epoch schedule horizon; then the halving search again (nothing should train) and with --max-epochs 27
 * (only the new rung should). The model is PIPE_BENCH_SEARCH_MODEL (default cnn; mlp for a quick run on a CPU), trained
 * on the engine PIPE_BENCH_SEARCH_ENGINE (default: the train kind's; torch trains the CNN about 4x faster on a CPU).
 */
const search = async () => {
  const model = process.env.PIPE_BENCH_SEARCH_MODEL ?? "cnn"
  const engine = process.env.PIPE_BENCH_SEARCH_ENGINE
  const { parse, stringify } = await import("yaml")
  const spec = parse(readFileSync(join(root, "pipeline.yaml"), "utf8"))
  spec.stages = {
    download: { ...spec.stages.download, params: { limit: 15000 } },
    split: spec.stages.split,
    plain: spec.stages.plain,
    train: { kind: "train", needs: ["split", "plain"], params: { model, epochs: 9, schedule_epochs: 27, ...(engine ? { engine } : {}) } }
  }
  delete spec.metric
  const dir = makeTempDir("search")
  writeFileSync(join(dir, "pipeline.yaml"), stringify(spec))
  pipe(dir, ["run", "split", "plain"])
  const space = ["train.lr=loguniform:1e-4:1e-2", "train.batch_size=choice:64,128,256", "train.label_smoothing=uniform:0:0.1"]
  const drawn = ["--trials", "27", "--seed", "7", "--metric", "train.val_accuracy"]
  const trained = (events) => events.filter((e) => e.event === "stage" && e.stage === "train" && e.status === "ran")
  const run = (args) => {
    const r = pipe(dir, ["sweep", ...args, ...space, "--json"], 6 * 3600_000)
    return { ...parseEvents(r.stdout), seconds: r.seconds }
  }
  const full = run(["--search", "random", ...drawn])
  const fullBest = Math.max(...full.events.filter((e) => e.event === "point").map((p) => p.metric))
  const halving = ["--search", "asha", ...drawn, "--min-epochs", "1", "--max-epochs", "9", "--eta", "3"]
  const asha = run(halving)
  const finals = asha.events.filter((e) => e.event === "trial" && e.status === "ok")
  const ashaBest = Math.max(...finals.map((t) => t.metric))
  // Epochs each halving training added: its rung's epochs less the rung before's.
  const rungs = asha.events.filter((e) => e.event === "rung")
  const ashaEpochs = rungs.reduce((n, r, i) => n + r.trials.length * (r.epochs - (i ? rungs[i - 1].epochs : 0)), 0)
  const again = run(halving)
  const gridAgain = run(["--search", "random", ...drawn])
  const more = run(["--search", "asha", ...drawn, "--min-epochs", "1", "--max-epochs", "27", "--eta", "3"])
  const moreRungs = more.events.filter((e) => e.event === "rung")
  // Asynchronous promotion (--jobs 2) over the same trials: the epochs a fresh run would train are the epochs each
  // trial reached; what runs here is only what the synchronous search did not train already.
  const async = run([...halving, "--jobs", "2"])
  const asyncFinals = async.events.filter((e) => e.event === "trial")
  const asyncBest = Math.max(...asyncFinals.filter((t) => t.status === "ok").map((t) => t.metric))
  const asyncEpochs = asyncFinals.reduce((n, t) => n + t.epochs, 0)
  const pct = (x) => `${(x * 100).toFixed(2)}%`
  return {
    section: `search: 27 sampled trials of the ${model}${engine ? ` (${engine})` : ""} on 12,000 training images (val accuracy; schedule over 27 epochs)`,
    lines: [
      `  full search, 9 epochs each:   best ${pct(fullBest)}, ${27 * 9} epochs, ${trained(full.events).length} trainings, ${full.seconds.toFixed(1)} s`,
      `  successive halving 1->3->9:   best ${pct(ashaBest)} (${((ashaBest - fullBest) * 100).toFixed(2)} points from the full search's; target within 0.5), ` +
        `${ashaEpochs} epochs (${(ashaEpochs / (27 * 9)).toFixed(2)} of the full search's; target <= 0.33), ${trained(asha.events).length} trainings, ${asha.seconds.toFixed(1)} s`,
      `  halving search again:         ${trained(again.events).length} trainings, ${again.seconds.toFixed(2)} s; the full search again: ${trained(gridAgain.events).length} trainings, ${gridAgain.seconds.toFixed(2)} s`,
      `  halving with --max-epochs 27: rungs ${moreRungs.map((r) => `${r.epochs} (${r.trials.length})`).join(", ")}; ${trained(more.events).length} training(s) ran ` +
        `(the new rung's: ${moreRungs.at(-1).trials.length}), ${more.seconds.toFixed(1)} s`,
      `  asynchronous, --jobs 2:       best ${pct(asyncBest)} (${((asyncBest - fullBest) * 100).toFixed(2)} points from the full search's), ` +
        `${asyncEpochs} epochs (${(asyncEpochs / (27 * 9)).toFixed(2)}), ${async.events.filter((e) => e.event === "promote").length} promotions, ` +
        `${asyncFinals.filter((t) => t.status === "ok").length} trials at 9 epochs; ${trained(async.events).length} trainings beyond the synchronous search's, ${async.seconds.toFixed(1)} s`
    ]
  }
}

/** A no-op 100-point sweep (10 x 10 values) over a 4-stage pipeline: every stage of every point cached. */
const noopSweep = async ({ runs }) => {
  const yaml = [
    "name: sweep4",
    "stages:",
    "  data:",
    "    kind: command",
    `    cmd: [sh, -c, ${q("echo data > $PIPE_OUT/d")}]`,
    "  prep:",
    "    kind: command",
    "    needs: [data]",
    `    cmd: [sh, -c, ${q("echo ${params.a} > $PIPE_OUT/p")}]`,
    "    params: { a: 0 }",
    "  fit:",
    "    kind: command",
    "    needs: [prep]",
    `    cmd: [sh, -c, ${q("cat $PIPE_IN_PREP/p > $PIPE_OUT/m; echo ${params.b} >> $PIPE_OUT/m")}]`,
    "    params: { b: 0 }",
    "  score:",
    "    kind: command",
    "    needs: [fit]",
    `    cmd: [sh, -c, ${q("wc -c < $PIPE_IN_FIT/m > $PIPE_OUT/s")}]`
  ].join("\n")
  const dir = makeWorkspace("sweep", `${yaml}\n`, {})
  const values = Array.from({ length: 10 }, (_, i) => i).join(",")
  const args = ["sweep", `prep.a=${values}`, `fit.b=${values}`]
  const cold = pipe(dir, args)
  const check = parseEvents(pipe(dir, [...args, "--json"]).stdout)
  if (check.summary.ran !== 0 || check.summary.failed !== 0) {
    throw new BenchError(`100-point sweep: the run after the warm-up was not a no-op: ${JSON.stringify(check.summary)}`)
  }
  const samples = Array.from({ length: runs }, () => pipe(dir, args).seconds)
  return { label: "100-point sweep (4 stages)", samples, target: 0.6, cold: cold.seconds }
}

/** Query commands on a store with 10,000 runs (bench/queries.ts): runs, lineage, show, diff. */
const queries = async ({ runs }) => {
  const entry = await bundle("queries")
  try {
    const r = timed(process.execPath, [entry, cli, String(runs)], { env: cliEnv() })
    if (r.status !== 0) throw new BenchError(`query benchmark failed:\n${tail(r.stderr)}`)
    const d = JSON.parse(r.stdout.trim().split("\n").at(-1))
    const lines = [
      `  store: ${d.runs.toLocaleString("en")} runs in 100 sweeps, recorded in ${d.buildSeconds.toFixed(1)} s; each figure is a whole pipe process (median of ${runs}), target well under 1 s`,
      ...d.results.map((q) => `  ${pad(fmt(q.seconds), 10)}pipe ${q.args}  (${Math.round(q.bytes / 1024).toLocaleString("en")} KiB out)`)
    ]
    return { section: "queries on a 10,000-run store", lines }
  } finally {
    rmSync(entry, { force: true })
  }
}

/** `pipe ui` on the 10,000-run store (bench/ui.ts): time to first byte of its pages (median of 20) and its memory. */
const ui = async () => {
  const entry = await bundle("ui")
  try {
    const r = timed(process.execPath, [entry, cli, "20"], { env: cliEnv() })
    if (r.status !== 0) throw new BenchError(`ui benchmark failed:\n${tail(r.stderr)}`)
    const d = JSON.parse(r.stdout.trim().split("\n").at(-1))
    return {
      section: `pipe ui on a ${d.runs.toLocaleString("en")}-run store (recorded in ${d.buildSeconds.toFixed(1)} s): time to first byte, median of 20 (first request in brackets), target <= 100 ms`,
      lines: [
        ...d.results.map((p) => `  ${pad(`${p.ms.toFixed(1)} ms`, 10)}${pad(`(${p.first.toFixed(0)} ms)`, 10)}GET ${p.path}  (${Math.round(p.bytes / 1024).toLocaleString("en")} KiB)  ${p.ms <= 100 ? "ok" : "OVER"}`),
        `  server RSS after the requests: ${d.rssMiB.toFixed(0)} MiB`
      ]
    }
  } finally {
    rmSync(entry, { force: true })
  }
}

/**
 * The torch engine's overhead: the same training job through `pipe` (stage wall time: materialising inputs,
 * starting Python, training, writing and hashing the artifact) and run directly (`python3 worker.py job.json`
 * on the same split and policy), as images/s over the wall time; target: pipe >= 0.95x direct. With
 * PIPE_BENCH_WORKER_BEFORE=<another worker.py> it also runs that one on the same job (before/after in one run).
 * Skipped (with a line saying so) when no Python with torch is found.
 */
const torchOverhead = async () => {
  const python = process.env.PIPE_PYTHON ?? "/usr/bin/python3"
  if (spawnSync(python, ["-c", "import torch"]).status !== 0) {
    return { section: "torch engine", lines: [`  skipped: ${python} cannot import torch (apt-get install python3-torch)`] }
  }
  const dir = makeTempDir("torch")
  writeFileSync(join(dir, "pipeline.yaml"), readFileSync(join(root, "pipeline.yaml"), "utf8"))
  pipe(dir, ["run", "split", "plain", "augment"])
  const env = { ...cliEnv(), PIPE_PYTHON: python }
  const lines = []
  for (const [model, epochs, slot, policyStage] of [["mlp", 3, "train-mlp", "plain"], ["cnn", 1, "train-cnn", "plain"]]) {
    // Its evaluate stage must be on the same engine for the pipeline to be valid (it does not run here).
    const sets = ["--set", `${slot}.engine=torch`, "--set", `${slot.replace("train-", "evaluate-")}.engine=torch`, "--set", `${slot}.epochs=${epochs}`, "--set", `${slot}.batch_size=128`, "--set", `${slot}.label_smoothing=0`]
    const r = timed(process.execPath, [cli, "run", slot, "--json", ...sets], { cwd: dir, env })
    if (r.status !== 0) throw new BenchError(`torch ${model}: pipe run failed:\n${tail(r.stdout)}\n${tail(r.stderr)}`)
    const events = parseEvents(r.stdout).stages
    const stage = events.find((e) => e.stage === slot)
    const params = JSON.parse(spawnSync(process.execPath, [cli, "show", `#${stage.run}`, "--json"], { cwd: dir, env, encoding: "utf8" }).stdout).params
    // The same job, run directly on the materialised split and policy.
    const split = events.find((e) => e.stage === "split").output
    const policy = events.find((e) => e.stage === policyStage).output
    const work = makeTempDir("torch-direct")
    for (const [name, hash] of [["split", split], ["policy", policy]]) {
      const files = JSON.parse(spawnSync(process.execPath, [cli, "show", hash, "--json"], { cwd: dir, env, encoding: "utf8" }).stdout).output.files
      mkdirSync(join(work, name), { recursive: true })
      for (const f of files) writeFileSync(join(work, name, f.path), readFileSync(f.blob_path))
    }
    mkdirSync(join(work, "out"))
    const { python: _p, device: _d, backend: _b, engine: _e, ...trainParams } = params
    writeFileSync(join(work, "job.json"), JSON.stringify({ task: "train", split: join(work, "split"), policy: join(work, "policy", "policy.json"), out: join(work, "out"), device: "cpu", params: trainParams }))
    const direct = timed(python, [join(root, "engines", "torch", "worker.py"), join(work, "job.json")], { env })
    if (direct.status !== 0) throw new BenchError(`torch ${model}: the worker failed:\n${tail(direct.stderr)}`)
    // Before/after in one run: the same job on another worker.py (e.g. `git show REV:engines/torch/worker.py`).
    const before = process.env.PIPE_BENCH_WORKER_BEFORE
    const previous = before ? timed(python, [before, join(work, "job.json")], { env }) : undefined
    if (previous && previous.status !== 0) throw new BenchError(`torch ${model}: ${before} failed:\n${tail(previous.stderr)}`)
    const rateOf = (r) => {
      const epochs = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).filter((e) => e.type === "epoch")
      return epochs.length ? Math.round(epochs.reduce((a, e) => a + e.images_per_s, 0) / epochs.length) : NaN
    }
    const images = 48000 * epochs
    const viaPipe = images / (stage.ms / 1000)
    const alone = images / direct.seconds
    lines.push(
      `  ${pad(`${model}, ${epochs} epoch${epochs > 1 ? "s" : ""}`, 16)}through pipe ${Math.round(viaPipe).toLocaleString("en")} img/s (${(stage.ms / 1000).toFixed(1)} s), ` +
        `worker alone ${Math.round(alone).toLocaleString("en")} img/s (${direct.seconds.toFixed(1)} s): ${(viaPipe / alone).toFixed(3)}x, target >= 0.95x ${viaPipe / alone >= 0.95 ? "ok" : "UNDER"}` +
        `   (training loop alone: ${stage.metrics.images_per_s} img/s)`
    )
    if (previous) {
      lines.push(
        `  ${pad("", 16)}this worker ${rateOf(direct).toLocaleString("en")} img/s (${direct.seconds.toFixed(1)} s) against ${before}: ` +
          `${rateOf(previous).toLocaleString("en")} img/s (${previous.seconds.toFixed(1)} s), ${(rateOf(direct) / rateOf(previous)).toFixed(2)}x`
      )
    }
  }
  return { section: "torch engine: training through pipe vs the worker alone (wall time, full training set, CPU)", lines }
}

/**
 * A 300 MiB artifact through the store: the stage that writes it (its time includes hashing the file and
 * moving it into the store), the stage that reads it (its input is copied for it and checked before and after),
 * a no-op run over both, and forced reruns of the reader alone.
 */
const bigArtifact = async ({ runs }) => {
  const mib = 300
  const dir = makeWorkspace(
    "big",
    `name: big
stages:
  make:
    kind: command
    cmd: [sh, -c, ${q(`head -c ${mib}M /dev/zero | tr '\\0' x > $PIPE_OUT/big.bin`)}]
  read:
    kind: command
    needs: [make]
    cmd: [sh, -c, ${q("wc -c < $PIPE_IN_MAKE/big.bin > $PIPE_OUT/n")}]
`
  )
  const cold = parseEvents(pipe(dir, ["run", "--json"]).stdout)
  const ms = (events, id) => events.stages.find((e) => e.stage === id)?.ms
  if (cold.summary.ran !== 2) throw new BenchError(`big: the cold run did not run both stages: ${JSON.stringify(cold.summary)}`)
  const noop = Array.from({ length: runs }, () => pipe(dir, ["run"]).seconds)
  const forced = []
  const readMs = []
  for (let i = 0; i < Math.min(runs, 5); i++) {
    const r = pipe(dir, ["run", "--json", "--force", "read"])
    forced.push(r.seconds)
    readMs.push(ms(parseEvents(r.stdout), "read") / 1000)
  }
  const f = (s) => `${s.toFixed(3)} s`
  return {
    section: `a ${mib} MiB artifact (cli: ${cli})`,
    lines: [
      `  make (write ${mib} MiB, hash, move into the store), cold:  ${f(ms(cold, "make") / 1000)}`,
      `  read (copy the input, check it before and after), cold:   ${f(ms(cold, "read") / 1000)}`,
      `  no-op run over both, median of ${runs}:                       ${f(stats(noop).median)} (${stats(noop).min.toFixed(3)}..${stats(noop).max.toFixed(3)})`,
      `  --force read: stage ${f(stats(readMs).median)}, whole run ${f(stats(forced).median)} (median of ${forced.length})`
    ]
  }
}

/**
 * Stages on the SLURM cluster and S3 store of scripts/cluster.sh (run `eval "$(scripts/cluster.sh up)"` first;
 * skipped without it): the per-stage overhead of a no-op command stage through SLURM + S3 against `srun true`
 * alone, against a bare `sbatch` job watched as pipe watches its jobs (SLURM's own batch round trip), and
 * against the local executor; a 32-point sweep of a 1-second stage on the two single-CPU nodes against the
 * ideal 16 s; and a real ML sweep (the MLP on a 6,000-image subset, 4 learning rates) on both nodes, then again
 * (fully cached).
 */
const cluster = async ({ runs }) => {
  if (process.env.PIPE_TEST_CLUSTER !== "1") return { section: "cluster (skipped: no cluster; eval \"$(scripts/cluster.sh up)\" first)", lines: [] }
  const bucket = process.env.PIPE_TEST_S3_BUCKET ?? "pipe-test"
  const n = Math.min(runs, 5)
  const one = ["name: one", "stages:", "  s:", "    kind: command", "    params: { i: 0 }", `    cmd: [sh, -c, ${q("echo ${params.i} > $PIPE_OUT/x")}]`].join("\n")
  const srun = Array.from({ length: n }, () => timed("srun", ["true"]).seconds)
  // A bare batch job of `true`, submitted and then watched with scontrol every 50 ms until it completes.
  const sbatchTrue = `j=$(sbatch --parsable --output=/dev/null --wrap true) && while ! scontrol show job -o "$j" | grep -q "JobState=COMPLETED"; do sleep 0.05; done`
  const sbatch = Array.from({ length: n }, () => timed("sh", ["-c", sbatchTrue]).seconds)
  const dir = makeWorkspace("cluster", `${one}\n`, {})
  const local = Array.from({ length: n }, (_, i) => pipe(dir, ["run", "--set", `s.i=${1000 + i}`]).seconds)
  const remote = `s3://${bucket}/bench-${process.pid}`
  const slurm = Array.from({ length: n }, (_, i) => pipe(dir, ["run", "--executor", "slurm", "--remote", remote, "--set", `s.i=${i}`]).seconds)
  const noop = stats(Array.from({ length: n }, () => pipe(dir, ["run", "--set", "s.i=0"]).seconds)).median
  const sleepy = ["name: sleepy", "stages:", "  s:", "    kind: command", "    params: { i: 0 }", `    cmd: [sh, -c, ${q("sleep 1; echo ${params.i} > $PIPE_OUT/x")}]`].join("\n")
  const sdir = makeWorkspace("cluster-sweep", `${sleepy}\n`, {})
  const points = Array.from({ length: 32 }, (_, i) => i).join(",")
  const sweep = pipe(sdir, ["sweep", `s.i=${points}`, "--jobs", "8", "--executor", "slurm", "--remote", `${remote}-sweep`]).seconds
  // SLURM alone on the same 32 one-second jobs, all submitted at once: what the scheduler itself makes of them.
  const bare = timed("sh", ["-c", `for i in $(seq 32); do sbatch --parsable --output=/dev/null --job-name=bench-bare --wrap "sleep 1" >/dev/null || exit 1; done; while [ -n "$(squeue -h -n bench-bare -o %i)" ]; do sleep 0.1; done`]).seconds
  // The real thing: the repository's pipeline, the MLP on 6,000 images, 4 learning rates, on both nodes.
  const mdir = makeWorkspace("cluster-ml", readFileSync(join(root, "pipeline.yaml"), "utf8"), {})
  const ml = ["sweep", "train-mlp.lr=0.0003,0.001,0.003,0.01", "--stage", "evaluate-mlp", "--set", "download.limit=6000", "--set", "train-mlp.epochs=3", "--jobs", "4", "--executor", "slurm", "--remote", `${remote}-ml`, "--json"]
  const first = pipe(mdir, ml, 1_200_000)
  const events = (r) => r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l))
  const pts = events(first).filter((e) => e.event === "point")
  const summary = events(first).find((e) => e.event === "summary") ?? {}
  const sweepId = summary.sweep ?? 1
  const listed = pipe(mdir, ["runs", "--sweep", String(sweepId), "--json", "--limit", "100"]).stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l))
  const nodes = new Set(listed.map((r) => r.ran_on).filter(Boolean))
  const again = pipe(mdir, ml, 600_000)
  const againSummary = events(again).find((e) => e.event === "summary") ?? {}
  const accs = pts.map((p) => `lr ${p.params["train-mlp.lr"]}: ${typeof p.metric === "number" ? p.metric.toFixed(4) : p.metric}`).join(", ")
  const f = (x) => `${x.toFixed(3)} s`
  const med = (xs) => stats(xs).median
  return {
    section: `cluster: SLURM (2 single-CPU nodes) + S3 (s3rver) on loopback, medians of ${n}`,
    lines: [
      `  srun true alone:                                     ${f(med(srun))}`,
      `  sbatch job of true, watched (SLURM's batch round trip): ${f(med(sbatch))}`,
      `  one command stage, local executor (pipe run):        ${f(med(local))}`,
      `  one command stage, --executor slurm --remote s3://:  ${f(med(slurm))}`,
      `  pipe's own per-stage cost over srun (slurm - srun - no-op run):              ${f(med(slurm) - med(srun) - noop)}`,
      `  pipe's own per-stage cost over SLURM's batch round trip (slurm - sbatch - no-op run): ${f(med(slurm) - med(sbatch) - noop)}`,
      `  32 bare sbatch jobs of sleep 1, all at once (SLURM alone): ${f(bare)} (ideal 16 s: ${(bare / 16).toFixed(2)}x)`,
      `  32-point sweep of a 1 s stage, --jobs 8:             ${f(sweep)} (ideal 16 s: ${(sweep / 16).toFixed(2)}x; SLURM alone: ${(sweep / bare).toFixed(2)}x)`,
      `  ML sweep (MLP, 6,000 images, 3 epochs, 4 lrs) on SLURM: ${f(first.seconds)}; ${pts.filter((p) => p.status === "ok").length}/4 points ok; ${listed.length} runs in pipe runs --sweep ${sweepId}, on ${[...nodes].sort().join(" and ") || "?"}`,
      `    test accuracy: ${accs}`,
      `  the same sweep again: ${f(again.seconds)}, ${againSummary.ran ?? "?"} ran, ${againSummary.cached ?? "?"} cached`
    ]
  }
}

/**
 * Built-in stages of a sweep running at once: two analyze runs (PCA, t-SNE, charts: JavaScript on pipe's own
 * thread) as a 2-point sweep with --jobs 1 and with --jobs 2, where each gets a process of its own (exec-node).
 * Upstream stages are cached first. On two cores the --jobs 2 sweep should take well under the --jobs 1 one.
 */
const parallelStages = async ({ runs }) => {
  const yaml = [
    "name: par",
    "stages:",
    "  download: { kind: download, params: { limit: 3000 } }",
    "  split: { kind: split, needs: [download] }",
    "  plain: { kind: augment, needs: [download], params: { pad: 0, flip: 0, mean: 0, std: 1 } }",
    "  train-mlp: { kind: train, needs: [split, plain], params: { model: mlp, epochs: 1 } }",
    "  evaluate-mlp: { kind: evaluate, needs: [train-mlp, split] }",
    "  analyze: { kind: analyze, needs: [evaluate-mlp, train-mlp, split], params: { tsne_points: 1000, tsne_iterations: 300 } }"
  ].join("\n")
  const dir = makeWorkspace("parallel", `${yaml}\n`, {})
  pipe(dir, ["run", "evaluate-mlp"])
  const n = Math.min(runs, 3)
  let seed = 1
  const sweep = (jobs) => pipe(dir, ["sweep", `analyze.seed=${seed++},${seed++}`, "--jobs", String(jobs), "--metric", "analyze.figures"]).seconds
  const one = []
  const two = []
  for (let i = 0; i < n; i++) {
    one.push(sweep(1))
    two.push(sweep(2))
  }
  const a = stats(one).median
  const b = stats(two).median
  return {
    section: `parallel: two analyze runs as a 2-point sweep (3,000 images), medians of ${n}`,
    lines: [
      `  --jobs 1 (one after the other):              ${a.toFixed(2)} s`,
      `  --jobs 2 (each in a process of its own):     ${b.toFixed(2)} s  (${(a / b).toFixed(2)}x faster)`
    ]
  }
}

const benchmarks = [
  { id: "node", run: nodeBaseline },
  { id: "noop6", run: noopRun("noop6", "6-stage pipeline", pipeline6, 0.3) },
  { id: "noop400", run: noopRun("noop400", "400-node pipeline", () => layeredPipeline(20, 20), 0.6) },
  { id: "sweep100", run: noopSweep },
  { id: "big", run: bigArtifact },
  { id: "data", run: dataStages },
  { id: "train", run: trainSpeed },
  { id: "queries", run: queries },
  { id: "torch", run: torchOverhead },
  { id: "accuracy", run: accuracy },
  { id: "mlp-seeds", run: mlpSeeds },
  { id: "search", run: search },
  { id: "ui", run: ui },
  { id: "parallel", run: parallelStages },
  { id: "cluster", run: cluster }
]

// ---------------------------------------------------------------------------------------------
// main

const parseArgs = (argv) => {
  const opts = { runs: 9, only: [] }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--runs") opts.runs = Number(argv[++i])
    else opts.only.push(argv[i])
  }
  if (!Number.isInteger(opts.runs) || opts.runs < 1) throw new BenchError("--runs needs a positive integer")
  const unknown = opts.only.filter((id) => !benchmarks.some((b) => b.id === id))
  if (unknown.length) throw new BenchError(`unknown benchmark(s): ${unknown.join(", ")}; known: ${benchmarks.map((b) => b.id).join(", ")}`)
  return opts
}

const fmt = (s) => `${s.toFixed(3)} s`
const pad = (s, n) => s.padEnd(n)

const printTable = (all, runs) => {
  const results = all.filter((r) => !r.section)
  if (results.length) console.log(`\nno-op pipe run (median of ${runs}, min..max)                  target`)
  for (const r of results) {
    const { median, min, max } = stats(r.samples)
    let line = `  ${pad(r.label, 28)}${pad(fmt(median), 10)}`
    if (r.samples.length > 1) line += pad(`(${min.toFixed(3)}..${max.toFixed(3)})`, 16)
    if (r.target !== undefined) line += `<= ${r.target} s  ${median <= r.target ? "ok" : "OVER"}`
    console.log(line.trimEnd())
  }
  const colds = results.filter((r) => r.cold !== undefined)
  if (colds.length) {
    console.log("\ncold run (first run, empty store; for information)")
    for (const r of colds) console.log(`  ${pad(r.label, 28)}${fmt(r.cold)}`)
  }
  for (const s of all.filter((r) => r.section)) console.log(`\n${s.section}\n${s.lines.join("\n")}`)
}

const main = async () => {
  const opts = parseArgs(process.argv.slice(2))
  if (!existsSync(cli)) {
    console.log("dist/pipe.mjs missing; building ...")
    const b = spawnSync(process.execPath, [join(root, "scripts", "build.mjs")], { cwd: root, stdio: "inherit" })
    if (b.status !== 0) throw new BenchError("build failed")
  }
  const cpu = cpus()
  console.log(`pipe bench: node ${process.version}, ${process.platform}/${process.arch}, ${cpu.length} x ${cpu[0]?.model ?? "?"}`)
  const results = []
  for (const b of benchmarks) {
    if (opts.only.length && !opts.only.includes(b.id)) continue
    process.stdout.write(`  running ${b.id} ...\n`)
    results.push(await b.run({ runs: opts.runs }))
  }
  printTable(results, opts.runs)
}

try {
  await main()
} catch (e) {
  console.error(`\nbench failed: ${e instanceof BenchError ? e.message : e?.stack ?? e}`)
  process.exitCode = 1
} finally {
  cleanup()
}
