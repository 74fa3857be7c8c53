/**
 * The torch worker draws the same random streams as the TypeScript side: the same epoch shuffle and the same
 * augmented, normalised images from the same policy, byte for byte (run through Debian's python3 with torch,
 * which .ci/run installs).
 */
import { execa } from "execa"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { augmentBatch, epochRng, POLICY_FORMAT, type AugmentPolicy } from "../../ml/augment.js"
import { rng, shuffle } from "../../ml/rng.js"

const WORKER_DIR = resolve(import.meta.dirname, "../../engines/torch")
const PYTHON = process.env["PIPE_PYTHON"] ?? "/usr/bin/python3"
const dir = mkdtempSync(join(tmpdir(), "pipe-parity-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("the torch worker's random streams", () => {
  it("shuffle and augment exactly as the tfjs engine does", async () => {
    const count = 64
    const r = rng(11)
    const images = Uint8Array.from({ length: count * 784 }, () => r.int(256))
    writeFileSync(join(dir, "images.u8"), images)
    const policy: AugmentPolicy = { format: POLICY_FORMAT, height: 28, width: 28, pad: 4, flip: 0.5, rotate: 10, brightness: 0.2, mean: 0.5, std: 0.5, seed: 3 }
    const seed = 9
    const epoch = 2
    const order = Array.from(shuffle(Uint32Array.from({ length: count }, (_, i) => i), rng(seed, epoch)))
    const ts = new Float32Array(count * 784)
    augmentBatch(policy, images, order, ts, epochRng(policy, epoch))

    const script = `
import json, sys
import numpy as np
sys.path.insert(0, ${JSON.stringify(WORKER_DIR)})
import worker as w
policy = json.loads(${JSON.stringify(JSON.stringify(policy))})
images = np.fromfile(${JSON.stringify(join(dir, "images.u8"))}, dtype=np.uint8).reshape(-1, 28, 28)
order = w.shuffle(list(range(${count})), w.Rng(${seed}, ${epoch}))
x = w.normalize(w.augment_epoch(policy, images, order, ${epoch}), policy).numpy().astype(np.float32)
x.tofile(${JSON.stringify(join(dir, "py.f32"))})
print(json.dumps(order))
`
    const py = await execa(PYTHON, ["-c", script])
    expect(JSON.parse(py.stdout)).toEqual(order)
    const buf = readFileSync(join(dir, "py.f32"))
    const pyOut = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4)
    expect(pyOut.length).toBe(ts.length)
    let worst = 0
    for (let i = 0; i < ts.length; i++) worst = Math.max(worst, Math.abs(pyOut[i]! - ts[i]!))
    // The same bytes before normalising: the only difference is float rounding in the normalisation.
    expect(worst).toBeLessThan(1e-5)
  }, 60_000)
})
