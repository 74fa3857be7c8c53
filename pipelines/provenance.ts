/**
 * What a run records besides its key: the pipe version that ran it and the git commit of the workspace, so
 * lineage can say which code produced an artifact. The commit is read from .git without starting git.
 */
import { existsSync, readFileSync, statSync } from "node:fs"
import { dirname, isAbsolute, join } from "node:path"

declare const PIPE_VERSION: string

export const pipeVersion = (): string => (typeof PIPE_VERSION === "string" ? PIPE_VERSION : "dev")

const gitDir = (start: string): string | undefined => {
  for (let dir = start; ; dir = dirname(dir)) {
    const dotGit = join(dir, ".git")
    if (existsSync(dotGit)) {
      if (statSync(dotGit).isDirectory()) return dotGit
      // A worktree or submodule: .git is a file naming the real directory.
      const m = /^gitdir:\s*(.+)$/m.exec(readFileSync(dotGit, "utf8"))
      if (m) return isAbsolute(m[1]!.trim()) ? m[1]!.trim() : join(dir, m[1]!.trim())
      return undefined
    }
    if (dirname(dir) === dir) return undefined
  }
}

const readRef = (dir: string, ref: string): string | undefined => {
  // Worktrees keep HEAD locally but refs in the common directory.
  const common = existsSync(join(dir, "commondir")) ? join(dir, readFileSync(join(dir, "commondir"), "utf8").trim()) : dir
  for (const base of [dir, common]) {
    const loose = join(base, ref)
    if (existsSync(loose)) return readFileSync(loose, "utf8").trim()
  }
  const packed = join(common, "packed-refs")
  if (!existsSync(packed)) return undefined
  for (const line of readFileSync(packed, "utf8").split("\n")) {
    const [sha, name] = line.split(" ")
    if (name === ref && sha) return sha
  }
  return undefined
}

const commits = new Map<string, string | null>()

/** The commit checked out in the workspace's git repository, or null outside one. */
export const gitCommit = (workspace: string): string | null => {
  const known = commits.get(workspace)
  if (known !== undefined) return known
  let commit: string | null = null
  try {
    const dir = gitDir(workspace)
    if (dir) {
      const head = readFileSync(join(dir, "HEAD"), "utf8").trim()
      const m = /^ref:\s*(.+)$/.exec(head)
      const sha = m ? readRef(dir, m[1]!) : head
      if (sha && /^[0-9a-f]{40,64}$/.test(sha)) commit = sha
    }
  } catch {
    commit = null
  }
  commits.set(workspace, commit)
  return commit
}
