#!/usr/bin/env node
// Prepares bench/gpu/data/ for the device check (bench/gpu/check.py): the seed pipeline's split (the 8:2
// train/validation split and the test set, as raw arrays: about 55 MB) and its augmentation policy, built with
// this repository's pipe (cached in the seed pipeline's store) and copied out with `pipe get`. The folder is
// git-ignored; point `check.py --data` at another copy on a machine without Node.js.
//
//   node bench/gpu/prepare.mjs [--limit N]      # N: only the first N images of each split (download limit)
import { spawnSync } from "node:child_process"
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
const out = join(root, "bench", "gpu", "data")
const i = process.argv.indexOf("--limit")
const sets = i > 0 ? ["--set", `download.limit=${process.argv[i + 1]}`] : []
const pipe = (args) => {
  const r = spawnSync(process.execPath, [join(root, "dist", "pipe.mjs"), "-f", join(root, "pipelines", "seed.yaml"), ...args, ...sets], { stdio: "inherit" })
  if (r.status !== 0) process.exit(r.status ?? 1)
}
pipe(["run", "split", "augment"])
rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
pipe(["get", "split", "-o", join(out, "split")])
const tmp = mkdtempSync(join(tmpdir(), "pipe-gpu-"))
pipe(["get", "augment", "-o", join(tmp, "augment")])
copyFileSync(join(tmp, "augment", "policy.json"), join(out, "policy.json"))
rmSync(tmp, { recursive: true, force: true })
console.log(`prepared ${out}: split/ and policy.json; now: python3 bench/gpu/check.py`)
