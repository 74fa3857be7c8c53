#!/usr/bin/env python3
"""The device check for the torch engine: needs only Python and PyTorch (no Node.js), so it runs as is on a GPU
machine. It trains and evaluates the seed's models with pipe's own worker (engines/torch/worker.py) from JSON job
files, on the split and augmentation policy prepared by `node bench/gpu/prepare.mjs` (into bench/gpu/data/, which
git ignores), and prints, per model: training images/s (median of the epochs after the first), the same model in
a plain PyTorch loop (same batch size and threads, data on the device, no augmentation) for comparison, test
accuracy, wall time, and inference ms/image (batch and single, synchronised, warm-up excluded).

    python3 bench/gpu/check.py                                   # resnet18 and resnet34, the seed's 30 epochs
    python3 bench/gpu/check.py --models mlp,cnn --epochs 2 --limit 4000 --device cpu   # a quick look on a CPU
    python3 bench/gpu/check.py --budget 540                      # stop starting models after 540 s
    python3 bench/gpu/check.py --models resnet18 --epochs 3 --compile   # torch.compile against the line above

Exit 0 when every model ran; the figures are for a person (or a closing note) to read.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "..", "..", "engines", "torch", "worker.py")

# The seed's recipe (pipelines/seed.yaml): Adam, cosine annealing, batch 128, dropout 0.3 for the ResNets.
SEED = {"epochs": 30, "batch_size": 128, "lr": 0.001, "schedule": "cosine", "seed": 0, "label_smoothing": 0}
DROPOUT = {"mlp": 0.0, "cnn": 0.0, "resnet18": 0.3, "resnet34": 0.3}


def run_worker(job, work, worker=WORKER):
    path = os.path.join(work, f"{job['task']}.json")
    with open(path, "w") as f:
        json.dump(job, f)
    events = []
    p = subprocess.Popen([sys.executable, worker, path], stdout=subprocess.PIPE, text=True)
    for line in p.stdout:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        events.append(e)
        if e.get("type") == "epoch":
            print(f"    epoch {e['epoch']}: {e['images_per_s']:.0f} img/s, val acc {e['val_acc'] * 100:.2f}%", flush=True)
    if p.wait() != 0:
        err = next((e["message"] for e in events if e.get("type") == "error"), f"exit {p.returncode}")
        raise RuntimeError(f"worker {job['task']}: {err}")
    return events


def limited(data, limit, work):
    """The split with at most `limit` training images (and limit/4 validation and test images), in `work`."""
    if not limit:
        return data
    import numpy as np

    out = os.path.join(work, "split")
    os.makedirs(out, exist_ok=True)
    manifest = json.load(open(os.path.join(data, "split", "manifest.json")))
    h, w = manifest.get("height", 28), manifest.get("width", 28)
    for name, n in (("train", limit), ("val", max(1, limit // 4)), ("test", max(1, limit // 4))):
        x = np.fromfile(os.path.join(data, "split", f"{name}-images.u8"), dtype=np.uint8).reshape(-1, h, w)[:n]
        y = np.fromfile(os.path.join(data, "split", f"{name}-labels.u8"), dtype=np.uint8)[:n]
        x.tofile(os.path.join(out, f"{name}-images.u8"))
        y.tofile(os.path.join(out, f"{name}-labels.u8"))
    json.dump(manifest, open(os.path.join(out, "manifest.json"), "w"))
    return work


def plain_loop(model_name, data, batch, device_name, epochs=3):
    """The same model in a plain PyTorch loop, in a fresh process as the worker is: data on the device, no
    augmentation; images/s, the median of the epochs after the first."""
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--plain", model_name, data, str(batch), device_name, str(epochs)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"plain loop: {r.stderr.strip()[-500:]}")
    return float(r.stdout.strip().split()[-1])


def plain_loop_here(model_name, data, batch, device_name, epochs):
    import numpy as np
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, os.path.dirname(WORKER))
    import worker

    device = worker.pick_device(device_name)
    manifest = json.load(open(os.path.join(data, "split", "manifest.json")))
    h, w = manifest.get("height", 28), manifest.get("width", 28)
    x = (torch.from_numpy(np.fromfile(os.path.join(data, "split", "train-images.u8"), dtype=np.uint8).reshape(-1, 1, h, w)).to(device).float() / 255 - 0.5) / 0.5
    y = torch.from_numpy(np.fromfile(os.path.join(data, "split", "train-labels.u8"), dtype=np.uint8).astype(np.int64)).to(device)
    model = worker.build_model(model_name, DROPOUT[model_name], 10).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rates = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        for s in range(0, len(y), batch):
            out = model(x[s:s + batch])
            loss = F.cross_entropy(out, y[s:s + batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        rates.append(len(y) / (time.perf_counter() - t0))
    return statistics.median(rates[1:] or rates)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.path.join(HERE, "data"), help="the prepared split/ and policy.json (default: bench/gpu/data)")
    ap.add_argument("--models", default="resnet18,resnet34")
    ap.add_argument("--epochs", type=int, default=SEED["epochs"])
    ap.add_argument("--batch", type=int, default=SEED["batch_size"])
    ap.add_argument("--limit", type=int, default=0, help="use at most this many training images")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (PyTorch 2.0 or later)")
    ap.add_argument("--budget", type=float, default=540, help="seconds after which no further model is started")
    ap.add_argument("--worker", default=WORKER, help="another worker.py to measure (e.g. an earlier version, for before/after)")
    ap.add_argument("--no-plain", action="store_true", help="skip the plain PyTorch loop")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(a.data, "split", "manifest.json")):
        sys.exit(f"no prepared data in {a.data}: run `node bench/gpu/prepare.mjs` first (it needs the repository's pipe)")
    import torch

    cuda = a.device != "cpu" and torch.cuda.is_available()
    precision = a.precision if a.precision != "auto" else ("bf16" if cuda else "fp32")
    print(f"torch {torch.__version__}, {'cuda ' + torch.cuda.get_device_name(0) if cuda else 'cpu'}, precision {precision}, compile {a.compile}, threads {torch.get_num_threads()}", flush=True)
    t_start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as work:
        data = limited(a.data, a.limit, work)
        split = os.path.join(data, "split")
        for model in a.models.split(","):
            if time.perf_counter() - t_start > a.budget:
                print(f"  {model}: not started (past the {a.budget:.0f} s budget)")
                continue
            print(f"  {model}: training {a.epochs} epochs, batch {a.batch}", flush=True)
            out = os.path.join(work, model)
            os.makedirs(out, exist_ok=True)
            params = dict(SEED, model=model, epochs=a.epochs, batch_size=a.batch, dropout=DROPOUT[model])
            t0 = time.perf_counter()
            events = run_worker({"task": "train", "split": split, "policy": os.path.join(a.data, "policy.json"), "out": out,
                                 "device": a.device, "precision": precision, "compile": a.compile, "params": params}, work, a.worker)
            wall = time.perf_counter() - t0
            epochs = [e for e in events if e.get("type") == "epoch"]
            rates = [e["images_per_s"] for e in epochs[1:]] or [epochs[-1]["images_per_s"]]
            with open(os.path.join(out, "policy.json"), "w") as f:
                f.write(open(os.path.join(a.data, "policy.json")).read())
            done = run_worker({"task": "evaluate", "split": split, "model": out, "out": out, "device": a.device, "precision": precision,
                               "compile": a.compile, "params": {"batch_size": 256, "timing_runs": 50, "tta": "none"}}, work, a.worker)[-1]
            plain = float("nan") if a.no_plain else plain_loop(model, data, a.batch, a.device)
            rows.append((model, statistics.median(rates), plain, done["correct"] / done["count"], wall, done["ms_per_image_batch"], done["ms_per_image_single"]))
    print()
    print(f"{'model':10} {'train img/s':>12} {'plain loop':>11} {'ratio':>6} {'test acc':>9} {'train wall':>11} {'ms/img batch':>13} {'ms/img single':>14}")
    for m, rate, plain, acc, wall, mb, ms in rows:
        print(f"{m:10} {rate:12.0f} {plain:11.0f} {rate / plain:6.2f} {acc * 100:8.2f}% {wall:10.1f}s {mb if mb is None else round(mb, 4):>13} {ms:14.3f}")
    print(f"total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--plain":
        m, d, b, dev, e = sys.argv[2:7]
        print(plain_loop_here(m, d, int(b), dev, int(e)))
    else:
        main()
