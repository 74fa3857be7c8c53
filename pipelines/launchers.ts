/**
 * Launchers for the remote executor: what starts `pipe exec-node` and reports on it.
 * - slurm: one `sbatch` job per stage, named after its key (`pipe-<key prefix>`), watched with `scontrol show
 *   job` (not `sbatch --wait`, which polls slowly), cancelled with `scancel`. A stage's `resources` become
 *   sbatch options when the caller gives them.
 * - process: a child process on this machine, for a remote on a local directory or bucket (and for tests): the
 *   same path as a cluster's, without a scheduler.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process"
import { promisify } from "node:util"
import type { JobState, Launched, Launcher } from "./remoteExecutor.js"

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
  /** Extra sbatch options (e.g. from a stage's resources). */
  readonly extra?: ReadonlyArray<string>
  readonly pollMs?: number
}

export const slurmLauncher = (o: SlurmOptions = {}): Launcher => ({
  name: "slurm",
  pollMs: o.pollMs ?? 250,
  submit: async ({ key, command }) => {
    const args = [
      "--parsable",
      `--job-name=pipe-${key.slice(0, 16)}`,
      "--output=/dev/null",
      ...(o.partition ? [`--partition=${o.partition}`] : []),
      ...(o.extra ?? []),
      `--wrap=${command.map(quote).join(" ")}`
    ]
    try {
      const { stdout } = await run("sbatch", args)
      const id = stdout.trim().split(";")[0]!
      if (!/^\d+$/.test(id)) throw new Error(`sbatch printed '${stdout.trim()}'`)
      return { id }
    } catch (e) {
      throw new Error(`sbatch failed: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`)
    }
  },
  poll: async (job: Launched): Promise<JobState> => {
    try {
      const { stdout } = await run("scontrol", ["show", "job", "-o", job.id])
      const f = scontrolFields(stdout)
      const state = (f["JobState"] ?? "UNKNOWN").split(/[ +]/)[0]!
      const reason = [f["Reason"] && f["Reason"] !== "None" ? f["Reason"] : "", f["ExitCode"] && f["ExitCode"] !== "0:0" ? `exit code ${f["ExitCode"]}` : ""]
        .filter(Boolean)
        .join(", ")
      return { ended: ENDED.has(state), state, ...(reason ? { reason } : {}) }
    } catch (e) {
      const msg = (e as { stderr?: string }).stderr ?? String(e)
      // A job slurmctld has forgotten has ended; its result (or its absence) says how.
      if (/Invalid job id/i.test(msg)) return { ended: true, state: "UNKNOWN", reason: "no longer known to slurmctld" }
      throw new Error(`scontrol failed: ${msg.trim()}`)
    }
  },
  cancel: async (job) => {
    await run("scancel", [job.id]).catch(() => {})
  }
})

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
