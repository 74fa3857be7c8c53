/**
 * The store's schema, as numbered migrations applied in order (PRAGMA user_version records how many ran).
 * Never edit a migration that has shipped: add a new one.
 */
export const MIGRATIONS: ReadonlyArray<string> = [
  /* 1: runs, artifacts, files, blobs, edges, heads, locks, stat cache */ `
  CREATE TABLE artifacts (
    hash TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    size INTEGER NOT NULL,
    file_count INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE blobs (
    hash TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns TEXT NOT NULL
  );
  CREATE TABLE artifact_files (
    artifact TEXT NOT NULL REFERENCES artifacts(hash),
    path TEXT NOT NULL,
    blob TEXT NOT NULL REFERENCES blobs(hash),
    size INTEGER NOT NULL,
    exec INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (artifact, path)
  ) WITHOUT ROWID;
  CREATE INDEX artifact_files_blob ON artifact_files(blob);
  CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    stage TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'interrupted', 'damaged')),
    reason TEXT,
    record TEXT NOT NULL,
    output TEXT REFERENCES artifacts(hash),
    error TEXT,
    pid INTEGER NOT NULL,
    pstart TEXT,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    duration_ms INTEGER,
    log_path TEXT
  );
  CREATE INDEX runs_key ON runs(key, status);
  CREATE INDEX runs_stage ON runs(pipeline, stage);
  CREATE INDEX runs_status ON runs(status);
  CREATE TABLE edges (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    role TEXT NOT NULL CHECK (role IN ('input', 'output')),
    name TEXT NOT NULL,
    artifact TEXT NOT NULL REFERENCES artifacts(hash),
    PRIMARY KEY (run_id, role, name)
  ) WITHOUT ROWID;
  CREATE INDEX edges_artifact ON edges(artifact, role);
  CREATE TABLE heads (
    pipeline TEXT NOT NULL,
    stage TEXT NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    PRIMARY KEY (pipeline, stage)
  ) WITHOUT ROWID;
  CREATE TABLE locks (
    key TEXT PRIMARY KEY,
    stage TEXT NOT NULL,
    pid INTEGER NOT NULL,
    pstart TEXT,
    acquired_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE stat_cache (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns TEXT NOT NULL,
    ino TEXT NOT NULL,
    hash TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  /* 2: hosts (a store may be shared between machines), child process groups, index for damage marking */ `
  ALTER TABLE runs ADD COLUMN host TEXT;
  ALTER TABLE runs ADD COLUMN child_pgid INTEGER;
  ALTER TABLE locks ADD COLUMN host TEXT;
  CREATE INDEX runs_output ON runs(output);
  `,
  /* 3: a run's headline figures (metrics JSON) */ `
  ALTER TABLE runs ADD COLUMN metrics TEXT;
  `,
  /* 4: sweeps and their points */ `
  CREATE TABLE sweeps (
    id INTEGER PRIMARY KEY,
    pipeline TEXT NOT NULL,
    command TEXT NOT NULL,
    grid TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE sweep_points (
    sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
    point INTEGER NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    metric REAL,
    runs TEXT NOT NULL,
    PRIMARY KEY (sweep_id, point)
  ) WITHOUT ROWID;
  `,
  /* 5: provenance (pipe version, workspace commit); which runs each sweep point used, indexed for lineage */ `
  ALTER TABLE runs ADD COLUMN pipe_version TEXT;
  ALTER TABLE runs ADD COLUMN git_commit TEXT;
  CREATE TABLE sweep_point_runs (
    sweep_id INTEGER NOT NULL,
    point INTEGER NOT NULL,
    stage TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    PRIMARY KEY (sweep_id, point, stage)
  ) WITHOUT ROWID;
  CREATE INDEX sweep_point_runs_run ON sweep_point_runs(run_id);
  INSERT OR IGNORE INTO sweep_point_runs (sweep_id, point, stage, run_id)
    SELECT p.sweep_id, p.point, j.key, json_extract(j.value, '$.run')
    FROM sweep_points p, json_each(p.runs) j
    WHERE json_extract(j.value, '$.run') IS NOT NULL;
  CREATE INDEX runs_stage_only ON runs(stage);
  `,
  /* 6: a blob's ctime and inode (its bytes are trusted while the whole stat is unchanged) and when its bytes
     were last hashed; the start time of a stage's process group leader, checked before the group is killed */ `
  ALTER TABLE blobs ADD COLUMN ctime_ns TEXT;
  ALTER TABLE blobs ADD COLUMN ino TEXT;
  ALTER TABLE blobs ADD COLUMN verified_at INTEGER;
  ALTER TABLE runs ADD COLUMN child_pstart TEXT;
  `,
  /* 7: pinned runs (kept by gc forever) and their tags; the metric a sweep ranked its points by; a line for
     each sweep gc dropped, so a report on it can say so and its number is never given to another sweep */ `
  CREATE TABLE pins (
    run_id INTEGER NOT NULL,
    tag TEXT NOT NULL DEFAULT '',
    pinned_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, tag)
  ) WITHOUT ROWID;
  ALTER TABLE sweeps ADD COLUMN metric TEXT;
  CREATE TABLE dropped_sweeps (
    id INTEGER PRIMARY KEY,
    pipeline TEXT NOT NULL,
    command TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    dropped_at INTEGER NOT NULL
  );
  `,
  /* 8: whether a sweep's metric is better high (max) or low (min) */ `
  ALTER TABLE sweeps ADD COLUMN goal TEXT;
  `,
  /* 9: experiments: each pipe run and each sweep point, with its name, tags, the effective params and the
     figures of every stage it used (stage-qualified, kept here so they outlast gc) and the run of each stage */ `
  CREATE TABLE experiments (
    id INTEGER PRIMARY KEY,
    pipeline TEXT NOT NULL,
    name TEXT,
    created_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    command TEXT NOT NULL,
    sweep_id INTEGER,
    point INTEGER,
    git_commit TEXT,
    pipe_version TEXT,
    params TEXT NOT NULL,
    metrics TEXT NOT NULL,
    runs TEXT NOT NULL
  );
  CREATE INDEX experiments_name ON experiments(name) WHERE name IS NOT NULL;
  CREATE INDEX experiments_sweep ON experiments(sweep_id) WHERE sweep_id IS NOT NULL;
  CREATE TABLE experiment_tags (
    experiment INTEGER NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (experiment, tag)
  ) WITHOUT ROWID;
  CREATE INDEX experiment_tags_tag ON experiment_tags(tag);
  CREATE TABLE experiment_runs (
    experiment INTEGER NOT NULL,
    stage TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    PRIMARY KEY (experiment, stage)
  ) WITHOUT ROWID;
  CREATE INDEX experiment_runs_run ON experiment_runs(run_id);
  `,
  /* 10: where a stage ran when it ran elsewhere (a cluster node) and the scheduler's id for its job */ `
  ALTER TABLE runs ADD COLUMN ran_on TEXT;
  ALTER TABLE runs ADD COLUMN job_id TEXT;
  `,
  /* 11: how a sweep chose its points when it did not run a full grid: { search, trials, seed, points } */ `
  ALTER TABLE sweeps ADD COLUMN search TEXT;
  `,
  /* 12: the rung a point of a halving search reached, and its epochs there */ `
  ALTER TABLE sweep_points ADD COLUMN rung INTEGER;
  ALTER TABLE sweep_points ADD COLUMN epochs INTEGER;
  `
]
