/**
 * Is the process that holds a lock or a 'running' record still alive? A pid alone can be reused, so the
 * process start time (field 22 of /proc/PID/stat, on Linux) is recorded and compared too.
 */
import { readFileSync } from "node:fs"
import { hostname } from "node:os"

export const processStart = (pid: number): string | null => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name (field 2) may contain spaces; fields are counted after its closing parenthesis.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null
  } catch {
    return null
  }
}

/**
 * Whether the process is alive. A process on another host (a store on a shared volume) cannot be checked
 * from here, so it counts as alive: its lock is never stolen.
 */
export const isAlive = (pid: number, start: string | null, host: string | null = null): boolean => {
  if (host !== null && host !== self.host) return true
  try {
    process.kill(pid, 0)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false
  }
  if (start === null) return true
  const now = processStart(pid)
  return now === null || now === start
}

export const self = { pid: process.pid, start: processStart(process.pid), host: hostname() }

/** Kills a process group left behind by a dead pipe (a stage's command and its children). */
export const killGroup = (pgid: number, signal: NodeJS.Signals = "SIGKILL"): void => {
  try {
    process.kill(-pgid, signal)
  } catch {
    // already gone
  }
}
