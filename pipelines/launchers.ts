/**
 * Launchers for the remote executor: what starts `pipe exec-node` and reports on it.
 * - slurm: one `sbatch` job per stage, named after its key (`pipe-<key prefix>`), watched with `scontrol show
 *   job -o` (not `sbatch --wait`, which polls slowly; one call answers for every job in flight), cancelled with
 *   `scancel`. A stage's `resources` become sbatch options; a restarted coordinator finds its jobs by name.
 * - process: a child process on this machine, for a remote on a local directory or bucket (and for tests): the
 *   same path as a cluster's, without a scheduler.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process"
import { promisify } from "node:util"
import type { JobState, Launched, Launcher } from "./remoteExecutor.js"
import type { Resources } from "./spec.js"

const run = promisify(execFile)

/** Job states after which a SLURM job will not run again. */
const ENDED = new Set(["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "PREEMPTED"])

/** `scontrol show job -o` as fields: JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0 ... */
export const scontrolFields = (line: string): Record<string, string> =>
  Object.fromEntries(
    line
      .trim()
      .split(/\s+/)
      .map((kv) => kv.split("=", 2) as [string, string])
      .filter(([, v]) => v !== undefined)
  )

const quote = (a: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)

export interface SlurmOptions {
  readonly partition?: string
  /** Extra sbatch options (the pipeline file's `executor.sbatch`). */
  readonly extra?: ReadonlyArray<string>
  readonly pollMs?: number
}

/** A stage's resources as sbatch options: cpus -c, gpus --gres=gpu:N, mem --mem (megabytes without a unit), time --time. */
export const sbatchResources = (r: Resources | undefined): Array<string> => {
  if (!r) return []
  return [
    ...(r.cpus !== undefined ? [`--cpus-per-task=${r.cpus}`] : []),
    ...(r.gpus ? [`--gres=gpu:${r.gpus}`] : []),
    ...(r.mem !== undefined ? [`--mem=${typeof r.mem === "number" ? `${r.mem}M` : r.mem}`] : []),
    ...(r.time !== undefined ? [`--time=${r.time}`] : [])
  ]
}

/** How long scontrol may keep failing before the jobs being watched are given up (and cancelled). */
const UNREACHABLE_MS = 60_000

/** A job's comment: the remote it works through (one word, as scontrol prints fields space-separated). */
const remoteTag = (remote: string) => `pipe:${encodeURIComponent(remote)}`

/** The name a stage's job has: how a coordinator finds its jobs again after a restart. */
export const jobName = (key: string) => `pipe-${key.slice(0, 16)}`

const stateOf = (f: Record<string, string>): JobState => {
  const state = (f["JobState"] ?? "UNKNOWN").split(/[ +]/)[0]!
  const reason = [f["Reason"] && f["Reason"] !== "None" ? f["Reason"] : "", f["ExitCode"] && f["ExitCode"] !== "0:0" ? `exit code ${f["ExitCode"]}` : ""]
    .filter(Boolean)
    .join(", ")
  const node = f["BatchHost"] && f["BatchHost"] !== "(null)" ? f["BatchHost"] : f["NodeList"] && f["NodeList"] !== "(null)" ? f["NodeList"] : undefined
  return { ended: ENDED.has(state), state, ...(reason ? { reason } : {}), ...(node ? { node } : {}) }
}

export const slurmLauncher = (o: SlurmOptions = {}): Launcher => {
  const pollMs = o.pollMs ?? 250
  let failingSince: number | undefined
  // One `scontrol show job -o` answers for every job this pipe watches: polls within half a tick share it.
  let snapshot: { at: number; jobs: Promise<Map<string, Record<string, string>>> } | undefined
  const jobs = (): Promise<Map<string, Record<string, string>>> => {
    if (snapshot && Date.now() - snapshot.at < pollMs / 2) return snapshot.jobs
    const at = Date.now()
    const p = run("scontrol", ["show", "job", "-o"], { maxBuffer: 64 * 1024 * 1024 }).then(
      ({ stdout }) => new Map(stdout.split("\n").filter((l) => l.startsWith("JobId=")).map((l) => { const f = scontrolFields(l); return [f["JobId"]!, f] as const })),
      (e) => {
        const msg = (e as { stderr?: string }).stderr ?? String(e)
        // No jobs at all is not an error.
        if (/No jobs in the system/i.test(msg)) return new Map<string, Record<string, string>>()
        throw new Error(`scontrol failed: ${msg.trim()}`)
      }
    )
    snapshot = { at, jobs: p }
    p.catch(() => (snapshot = undefined))
    return p
  }
  return {
    name: "slurm",
    pollMs,
    submit: async ({ key, command, resources, exclude, remote }) => {
      // The file's own options first: for an option given twice sbatch keeps the last, and pipe's must hold.
      const args = [
        ...(o.extra ?? []),
        "--parsable",
        `--job-name=${jobName(key)}`,
        "--output=/dev/null",
        // A job lost with its node comes back to this pipe, which resubmits it (--retries), not to SLURM's requeue.
        "--no-requeue",
        // Which remote the job works through: a restarted coordinator re-attaches only to its own jobs.
        `--comment=${remoteTag(remote)}`,
        ...(o.partition ? [`--partition=${o.partition}`] : []),
        ...sbatchResources(resources),
        ...(exclude && exclude.length > 0 ? [`--exclude=${exclude.join(",")}`] : []),
        `--wrap=${command.map(quote).join(" ")}`
      ]
      try {
        const { stdout } = await run("sbatch", args)
        const id = stdout.trim().split(";")[0]!
        if (!/^\d+$/.test(id)) throw new Error(`sbatch printed '${stdout.trim()}'`)
        snapshot = undefined
        return { id }
      } catch (e) {
        throw new Error(`sbatch failed: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`)
      }
    },
    poll: async (job: Launched): Promise<JobState> => {
      // slurmctld busy or restarting for a moment is not the job's end: asked again next tick, for up to a minute.
      let all: Map<string, Record<string, string>>
      try {
        all = await jobs()
        failingSince = undefined
      } catch (e) {
        failingSince ??= Date.now()
        if (Date.now() - failingSince > UNREACHABLE_MS) throw e
        return { ended: false, state: "UNKNOWN", reason: (e as Error).message }
      }
      const f = all.get(job.id)
      // A job slurmctld has forgotten has ended; its result (or its absence) says how.
      return f ? stateOf(f) : { ended: true, state: "UNKNOWN", reason: "no longer known to slurmctld" }
    },
    // The shared snapshot will do: the jobs sought were submitted before this pipe started (its key locks keep
    // it from submitting a key twice itself).
    find: async (key, remote) => {
      const name = jobName(key)
      const uid = process.getuid?.()
      for (const [id, f] of await jobs()) {
        if (f["JobName"] !== name || f["Comment"] !== remoteTag(remote) || stateOf(f).ended) continue
        if (uid !== undefined && f["UserId"] && !f["UserId"].includes(`(${uid})`)) continue
        return { id }
      }
      return undefined
    },
    cancel: async (job) => {
      await run("scancel", [job.id]).catch(() => {})
    }
  }
}

/** A child process per job, on this machine. */
export const processLauncher = (): Launcher => {
  const jobs = new Map<string, { child: ChildProcess; exit: number | null | undefined; signal: string | null }>()
  let n = 0
  return {
    name: "process",
    pollMs: 50,
    submit: async ({ command }) => {
      const id = `p${++n}`
      const child = spawn(command[0]!, command.slice(1), { stdio: "ignore", detached: true })
      const entry = { child, exit: undefined as number | null | undefined, signal: null as string | null }
      child.on("exit", (code, signal) => {
        entry.exit = code
        entry.signal = signal
      })
      child.on("error", () => {
        entry.exit = 127
      })
      jobs.set(id, entry)
      return { id: `${id} (pid ${child.pid})` }
    },
    poll: async (job) => {
      const e = jobs.get(job.id.split(" ")[0]!)
      if (!e || e.exit === undefined) return { ended: false, state: "RUNNING" }
      return { ended: true, state: e.exit === 0 ? "COMPLETED" : "FAILED", reason: e.signal ? `killed by ${e.signal}` : `exit ${e.exit}` }
    },
    cancel: async (job) => {
      const e = jobs.get(job.id.split(" ")[0]!)
      if (e?.child.pid) {
        try {
          process.kill(-e.child.pid, "SIGTERM")
        } catch {}
      }
    }
  }
}
