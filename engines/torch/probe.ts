/**
 * The torch engine's probe: finds an interpreter that can import torch and asks its worker (worker.py, run
 * here with execa) what it would run on (torch version, device, CUDA version): the engine identity that enters
 * the cache key. Starting Python and importing torch takes seconds, so a probe's
 * answer is kept on disk, keyed by the interpreter's path and modification time, and a cached `pipe run`
 * never starts Python.
 */
import { execa } from "execa"
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs"
import { homedir } from "node:os"
import { delimiter, dirname, isAbsolute, join } from "node:path"
import { fileURLToPath } from "node:url"

export type Device = "auto" | "cpu" | "cuda"

export interface TorchIdentity {
  readonly python: string
  readonly torch: string
  readonly device: "cpu" | "cuda"
  readonly cuda: string | null
}

export class TorchUnavailable extends Error {}

export const INSTALL_HINT =
  "install PyTorch for it: on Debian, apt-get install python3-torch (for /usr/bin/python3); elsewhere, pip install torch " +
  "(see https://pytorch.org/get-started/locally/); or point params.python (or $PIPE_PYTHON) at an interpreter that has it"

/** engines/torch/worker.py, found from this module upwards (it sits at different depths in src and dist). */
export const workerPath = (): string => {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const p = join(dir, "engines", "torch", "worker.py")
    if (existsSync(p)) return p
    if (dirname(dir) === dir) throw new TorchUnavailable("engines/torch/worker.py is missing from this installation of pipe")
  }
}

/** A command name resolved on PATH, or the path itself. */
const which = (cmd: string): string | undefined => {
  if (isAbsolute(cmd) || cmd.includes("/")) return existsSync(cmd) ? cmd : undefined
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    const p = join(dir, cmd)
    if (dir && existsSync(p)) return p
  }
  return undefined
}

const cacheFile = () => join(process.env["XDG_CACHE_HOME"] || join(homedir(), ".cache"), "pipe", "torch-probe.json")

type ProbeResult = { ok: true; identity: TorchIdentity } | { ok: false; error: string }

const memo = new Map<string, ProbeResult>()

const readCache = (): Record<string, ProbeResult> => {
  try {
    return JSON.parse(readFileSync(cacheFile(), "utf8")) as Record<string, ProbeResult>
  } catch {
    return {}
  }
}

const writeCache = (key: string, r: ProbeResult) => {
  try {
    const all = { ...readCache(), [key]: r }
    mkdirSync(dirname(cacheFile()), { recursive: true })
    writeFileSync(cacheFile(), JSON.stringify(all))
  } catch {
    // A read-only home only costs a probe per run.
  }
}

/** Asks one interpreter what it would run on; remembered per (interpreter, its mtime, device). */
const probe = async (python: string, device: Device): Promise<ProbeResult> => {
  const real = realpathSync(python)
  const key = `${python}|${real}|${statSync(real).mtimeMs}|${device}|${workerPath()}`
  const known = memo.get(key) ?? readCache()[key]
  if (known) {
    memo.set(key, known)
    return known
  }
  const r = await execa(python, [workerPath(), "-"], { input: JSON.stringify({ task: "probe", device }), reject: false, timeout: 120_000 })
  const last = r.stdout.trim().split("\n").at(-1) ?? ""
  let result: ProbeResult
  try {
    const e = JSON.parse(last) as { type: string; torch?: string; device?: "cpu" | "cuda"; cuda?: string | null; message?: string }
    result =
      e.type === "probe"
        ? { ok: true, identity: { python, torch: e.torch!, device: e.device!, cuda: e.cuda ?? null } }
        : { ok: false, error: e.message ?? "the probe failed" }
  } catch {
    result = { ok: false, error: (r.stderr || r.stdout || `exit code ${r.exitCode}`).trim().split("\n").at(-1)! }
  }
  memo.set(key, result)
  // A failure that may pass by itself (a timeout) is not remembered on disk.
  if (result.ok || r.exitCode === 3 || r.exitCode === 1) writeCache(key, result)
  return result
}

/**
 * The interpreter to use and what it runs on: `explicit` (params.python or $PIPE_PYTHON) if given, else the
 * first of python3 on PATH and /usr/bin/python3 that can import torch.
 */
export const torchIdentity = async (explicit: string | undefined, device: Device): Promise<TorchIdentity> => {
  const named = explicit ?? process.env["PIPE_PYTHON"]
  const candidates = named ? [named] : ["python3", "/usr/bin/python3"]
  const tried: Array<string> = []
  for (const c of candidates) {
    const path = which(c)
    if (!path) {
      tried.push(`${c}: not found`)
      continue
    }
    const r = await probe(path, device)
    if (r.ok) return r.identity
    tried.push(`${path}: ${r.error}`)
    // PyTorch is there, the GPU is not: that is what to say, not how to install PyTorch.
    if (device === "cuda" && r.error.includes("sees no CUDA device")) {
      throw new TorchUnavailable(
        `device: cuda, but PyTorch at ${path} sees no CUDA GPU on this machine; use device: auto (a GPU when there is one, else the CPU) or cpu, or run where a GPU is visible (nvidia-smi)`
      )
    }
  }
  throw new TorchUnavailable(`no Python with PyTorch found (${tried.join("; ")}); ${INSTALL_HINT}`)
}
