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

/**
 * Kills the process group that `pgid` led when its leader started at `pstart`, and nothing else. A group id is
 * a pid: it is free for reuse only once no process is in the group. So the group is still the stage's if its
 * leader is the same process (same start time), or if no process has that pid (the members left behind
 * keep the id from being reused). A live process with that pid and another start time (or an unknown one)
 * leads some other group: it is left alone. Returns whether a signal was sent.
 */
export const killGroupOf = (pgid: number, pstart: string | null, signal: NodeJS.Signals = "SIGKILL"): boolean => {
  if (!Number.isInteger(pgid) || pgid <= 1 || pgid === process.pid) return false
  const now = processStart(pgid)
  if (now !== null && (pstart === null || now !== pstart)) return false
  try {
    process.kill(-pgid, signal)
    return true
  } catch {
    return false // already gone
  }
}
