/**
 * Starting a stage's process: the one way a kind runs a program. The program leads a new process group, so
 * stopping the stage stops everything it started, and that group dies with pipe:
 * - a watchdog (a tiny shell process, not in the group) holds a pipe from pipe; when pipe dies, even by
 *   `kill -9`, the pipe closes and the watchdog kills the group at once;
 * - when the program exits, whatever it left running in its group is killed before the stage's output is
 *   read, so nothing writes into $PIPE_OUT while it is stored;
 * - on interruption the group gets SIGTERM, then SIGKILL 3 s later.
 * Every kill checks first that the group is still the stage's (cache/liveness.ts killGroupOf), and the
 * group's leader and start time are recorded with the run, so a later pipe can reap it the same way.
 */
import { spawn as spawnNode } from "node:child_process"
import type { Options, ResultPromise } from "execa"
import { killGroupOf, processStart } from "../cache/liveness.js"

/** The options a kind may pass; process-group handling is the service's. */
export type SpawnOptions = Omit<Options, "detached" | "cleanup" | "cancelSignal" | "killSignal" | "forceKillAfterDelay"> & {
  /** Aborting it stops the group: SIGTERM, then SIGKILL after a grace period. */
  readonly signal?: AbortSignal
}

/**
 * Returns execa's child (await it for the result); its streams are typed as execa's defaults (pipes),
 * whatever the options say.
 */
export type Spawn = (file: string, args: ReadonlyArray<string>, options?: SpawnOptions) => ResultPromise<{}>

type Execa = typeof import("execa").execa

const GRACE_MS = 3000

/**
 * The watchdog, a POSIX shell script (a few milliseconds to start). It is started before the stage's program,
 * so it is there however soon pipe dies; its first line of input names the group to watch and its leader's
 * start time. It ignores the signals a terminal sends to pipe's group, reads its stdin until it closes (pipe
 * died), then kills the group unless a live process with that id started at another time (the id was reused).
 */
const WATCHDOG = `trap '' INT TERM HUP QUIT
read -r g want || exit 0
while read -r _; do :; done
if read -r s < /proc/$g/stat; then
  s=\${s##*") "}
  set -- $s
  [ "\${20}" = "$want" ] || exit 0
fi
kill -s KILL -- -$g
`

/**
 * Starts `file` with `execa` (passed in: the caller loads it lazily) in a new process group watched as
 * described above; `recorded(pgid, pstart)` is called once the group exists. Returns execa's child.
 */
export const spawnGroup = (
  execa: Execa,
  file: string,
  args: ReadonlyArray<string>,
  options: SpawnOptions,
  recorded: (pgid: number, pstart: string | null) => void
): ResultPromise<{}> => {
  const { signal, ...rest } = options
  const watchdog = spawnNode("/bin/sh", ["-c", WATCHDOG, "pipe-watchdog"], { stdio: ["pipe", "ignore", "ignore"] })
  // Could not start: the next pipe's reaper still covers a kill -9.
  watchdog.on("error", () => {})
  watchdog.stdin?.on("error", () => {})
  watchdog.unref()
  ;(watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.()
  const child = execa(file, args, { ...rest, detached: true, cleanup: false } as Options) as unknown as ResultPromise<{}>
  const pgid = child.pid
  if (pgid === undefined) {
    watchdog.kill("SIGKILL")
    return child // it did not start: the result says why
  }
  const pstart = processStart(pgid)
  watchdog.stdin?.write(`${pgid} ${pstart ?? ""}\n`)
  recorded(pgid, pstart)
  let timer: NodeJS.Timeout | undefined
  const stop = () => {
    killGroupOf(pgid, pstart, "SIGTERM")
    timer = setTimeout(() => killGroupOf(pgid, pstart, "SIGKILL"), GRACE_MS)
    timer.unref()
  }
  if (signal?.aborted) stop()
  else signal?.addEventListener("abort", stop, { once: true })
  const done = () => {
    signal?.removeEventListener("abort", stop)
    if (timer) clearTimeout(timer)
    killGroupOf(pgid, pstart, "SIGKILL")
    watchdog.kill("SIGKILL")
  }
  // Registered before the caller awaits the child, so it runs first: the group is gone before the caller
  // looks at the output.
  child.then(done, done)
  return child
}
