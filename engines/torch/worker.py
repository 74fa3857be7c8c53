#!/usr/bin/env python3
"""pipe's PyTorch worker: trains and evaluates the seed's models on a split artifact, for the `torch` engine.

It runs on its own, from a JSON job file and the split's binary arrays, so it also works on a machine
without Node.js:

    python3 worker.py job.json          # or: python3 worker.py - < job.json

A job is {"task": "probe" | "train" | "evaluate", ...} (see train() and evaluate() for the fields). Progress
and results are printed as JSON lines on stdout; anything else goes to stderr. Exit 0 on success, 1 on a
failed task, 3 when torch is missing.

The models, augmentation, learning-rate schedule and random streams are those of the TensorFlow.js engine
(engines/tfjs/models.ts, ml/augment.ts, ml/rng.ts), so the same policy artifact and seed give
the same shuffles and the same augmentation draws on both engines.
"""
import json
import math
import os
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover - reported to the caller
    print(json.dumps({"type": "error", "message": f"cannot import torch: {e}"}), flush=True)
    sys.exit(3)


def emit(**event):
    print(json.dumps(event), flush=True)


# ---------------------------------------------------------------------------------------------------------
# Seeded streams: splitmix32 mixing and mulberry32, exactly as stages/ml/rng.ts (32-bit arithmetic).

M32 = 0xFFFFFFFF


def _imul(a, b):
    return (a * b) & M32


def _mix(x):
    x = (x + 0x9E3779B9) & M32
    x = _imul(x ^ (x >> 16), 0x85EBCA6B)
    x = _imul(x ^ (x >> 13), 0xC2B2AE35)
    return (x ^ (x >> 16)) & M32


class Rng:
    def __init__(self, seed, *stream):
        s = _mix(seed & M32)
        for x in stream:
            s = _mix(s ^ (x & M32))
        self.s = s

    def next(self):
        self.s = (self.s + 0x6D2B79F5) & M32
        s = self.s
        t = _imul(s ^ (s >> 15), 1 | s)
        t = ((t + _imul(t ^ (t >> 7), 61 | t)) & M32) ^ t
        return ((t ^ (t >> 14)) & M32) / 4294967296

    def int(self, n):
        return math.floor(self.next() * n)


def shuffle(a, r):
    """Fisher-Yates in place, as shuffle() in rng.ts."""
    for i in range(len(a) - 1, 0, -1):
        j = r.int(i + 1)
        a[i], a[j] = a[j], a[i]
    return a


# ---------------------------------------------------------------------------------------------------------
# Data: the split artifact's raw arrays, and the augmentation policy.


def load_split(directory):
    manifest = json.load(open(os.path.join(directory, "manifest.json")))
    h, w = manifest.get("height", 28), manifest.get("width", 28)
    parts = {}
    for name in ("train", "val", "test"):
        images = os.path.join(directory, f"{name}-images.u8")
        if os.path.exists(images):
            x = np.fromfile(images, dtype=np.uint8).reshape(-1, h, w)
            y = np.fromfile(os.path.join(directory, f"{name}-labels.u8"), dtype=np.uint8)
            parts[name] = (x, y)
    return manifest, parts


def augment_epoch(policy, images, order, epoch):
    """The epoch's augmented images in `order`, drawn from rng(policy.seed, epoch) as augmentBatch does."""
    r = Rng(policy["seed"], epoch)
    h, w, pad = policy["height"], policy["width"], policy["pad"]
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad))) if pad > 0 else images
    out = np.empty((len(order), h, w), dtype=np.uint8)
    for k, i in enumerate(order):
        dx = r.int(2 * pad + 1)
        dy = r.int(2 * pad + 1)
        flip = r.next() < policy["flip"]
        u = r.next()
        v = r.next()
        img = padded[i, dy:dy + h, dx:dx + w]
        if flip:
            img = img[:, ::-1]
        if policy.get("rotate", 0) > 0 or policy.get("brightness", 0) > 0:
            img = _rotate_brighten(img, (u * 2 - 1) * policy.get("rotate", 0), 1 + (v * 2 - 1) * policy.get("brightness", 0))
        out[k] = img
    return out


def _rotate_brighten(img, degrees, factor):
    h, w = img.shape
    a = math.radians(degrees)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    sx = math.cos(a) * (xs - cx) + math.sin(a) * (ys - cy) + cx
    sy = -math.sin(a) * (xs - cx) + math.cos(a) * (ys - cy) + cy
    x0, y0 = np.floor(sx).astype(int), np.floor(sy).astype(int)
    fx, fy = sx - x0, sy - y0
    src = img.astype(np.float64)

    def at(xx, yy):
        ok = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
        return np.where(ok, src[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)], 0.0)

    v = at(x0, y0) * (1 - fx) * (1 - fy) + at(x0 + 1, y0) * fx * (1 - fy) + at(x0, y0 + 1) * (1 - fx) * fy + at(x0 + 1, y0 + 1) * fx * fy
    v = np.round(v) if degrees != 0 else src
    return np.minimum(255, np.round(v * factor)).astype(np.uint8)


def normalize(images, policy):
    x = torch.from_numpy(np.ascontiguousarray(images)).float().unsqueeze(1)
    return (x / 255.0 - policy["mean"]) / policy["std"]


# ---------------------------------------------------------------------------------------------------------
# Models: as stages/ml/tfjs/models.ts describes them (PyTorch counts the same trainable parameters).

DEFAULT_DROPOUT = {"mlp": 0.0, "cnn": 0.0, "resnet18": 0.3, "resnet34": 0.3}


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout, momentum=0.1, eps=1e-5)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, momentum=0.1, eps=1e-5)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


def build_model(name, dropout=None, classes=10):
    rate = DEFAULT_DROPOUT[name] if dropout is None else dropout
    drop = [nn.Dropout(rate)] if rate > 0 else []
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), *drop, nn.Linear(128, classes))
    if name == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(7 * 7 * 64, 128), nn.ReLU(), *drop, nn.Linear(128, classes),
        )
    if name in ("resnet18", "resnet34"):
        blocks = [2, 2, 2, 2] if name == "resnet18" else [3, 4, 6, 3]
        layers = [nn.Conv2d(1, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
        cin = 64
        for stage, (cout, n) in enumerate(zip([64, 128, 256, 512], blocks)):
            for b in range(n):
                layers.append(BasicBlock(cin, cout, 2 if stage > 0 and b == 0 else 1))
                cin = cout
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), *drop, nn.Linear(512, classes)]
        return nn.Sequential(*layers)
    raise ValueError(f"unknown model {name}")


def trainable_params(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def learning_rate(p, step, steps_per_epoch):
    """As learningRate() in training.ts: linear warm-up, then cosine annealing to 0 (or constant)."""
    total = p["epochs"] * steps_per_epoch
    warm = round(p.get("warmup", 0) * steps_per_epoch)
    if step < warm:
        return p["lr"] * (step + 1) / warm
    if p.get("schedule", "cosine") == "constant":
        return p["lr"]
    t = (step - warm) / max(1, total - warm)
    return p["lr"] * 0.5 * (1 + math.cos(math.pi * t))


def pick_device(wanted):
    if wanted == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device cuda was asked for, but torch sees no CUDA device")
    if wanted in ("cuda", "auto") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def probe(job):
    device = pick_device(job.get("device", "auto"))
    emit(
        type="probe",
        torch=torch.__version__,
        python=sys.version.split()[0],
        device=device.type,
        cuda=torch.version.cuda if device.type == "cuda" else None,
        gpu=torch.cuda.get_device_name(0) if device.type == "cuda" else None,
        threads=torch.get_num_threads(),
    )


@torch.no_grad()
def evaluate_set(model, x, y, device, batch=512):
    model.eval()
    loss, correct = 0.0, 0
    for s in range(0, len(y), batch):
        xb, yb = x[s:s + batch].to(device), y[s:s + batch].to(device)
        out = model(xb)
        loss += F.cross_entropy(out, yb, reduction="sum").item()
        correct += (out.argmax(1) == yb).sum().item()
    return loss / len(y), correct / len(y)


def train(job):
    """job: split (dir), policy (policy.json path), out (dir), params (the train stage's params), device."""
    p = job["params"]
    torch.manual_seed(p.get("seed", 0))
    np.random.seed(p.get("seed", 0) & M32)
    device = pick_device(job.get("device", "auto"))
    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    manifest, parts = load_split(job["split"])
    policy = json.load(open(job["policy"]))
    (xtr, ytr), (xva, yva) = parts["train"], parts["val"]
    classes = len(manifest["classes"])
    model = build_model(p["model"], p.get("dropout"), classes).to(device)
    count = trainable_params(model)
    emit(type="start", model=p["model"], parameters=count, device=device.type, train=len(ytr), val=len(yva))
    decay = p.get("weight_decay", 0)
    # Weight decay on the kernels (conv and dense weights) only, as the tfjs engine does: L2 added to the
    # gradient for adam, decoupled (the kernels shrink by lr * decay each step) for adamw.
    kernels = [q for n, q in model.named_parameters() if q.dim() > 1]
    others = [q for n, q in model.named_parameters() if q.dim() <= 1]
    optimizer = torch.optim.AdamW if p.get("optimizer", "adam") == "adamw" else torch.optim.Adam
    opt = optimizer([{"params": kernels, "weight_decay": decay}, {"params": others, "weight_decay": 0}], lr=p["lr"])
    xval = normalize(xva, policy)
    yval = torch.from_numpy(yva.astype(np.int64))
    batch = p["batch_size"]
    steps_per_epoch = math.ceil(len(ytr) / batch)
    log_every = max(1, steps_per_epoch // 10)
    smoothing = p.get("label_smoothing", 0)
    step = 0
    history = []
    for epoch in range(1, p["epochs"] + 1):
        t0 = time.perf_counter()
        order = shuffle(list(range(len(ytr))), Rng(p.get("seed", 0), epoch))
        x = normalize(augment_epoch(policy, xtr, order, epoch), policy)
        y = torch.from_numpy(ytr[order].astype(np.int64))
        model.train()
        loss_sum, correct = 0.0, 0
        lr = p["lr"]
        for b in range(steps_per_epoch):
            xb, yb = x[b * batch:(b + 1) * batch].to(device), y[b * batch:(b + 1) * batch].to(device)
            lr = learning_rate(p, step, steps_per_epoch)
            for g in opt.param_groups:
                g["lr"] = lr
            out = model(xb)
            loss = F.cross_entropy(out, yb, label_smoothing=smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            n = len(yb)
            loss_sum += loss.item() * n
            correct += (out.argmax(1) == yb).sum().item()
            step += 1
            seen = min(len(ytr), (b + 1) * batch)
            if (b + 1) % log_every == 0 or b == steps_per_epoch - 1:
                emit(type="step", epoch=epoch, step=step, loss=loss.item(), lr=lr, seen=seen, total=len(ytr),
                     images_per_s=seen / (time.perf_counter() - t0))
        train_seconds = time.perf_counter() - t0
        val_loss, val_acc = evaluate_set(model, xval, yval, device)
        rec = dict(type="epoch", epoch=epoch, step=step, train_loss=loss_sum / len(ytr), train_acc=correct / len(ytr),
                   val_loss=val_loss, val_acc=val_acc, lr=lr, images_per_s=len(ytr) / train_seconds,
                   seconds=time.perf_counter() - t0)
        history.append(rec)
        emit(**rec)
    out = job["out"]
    torch.save({"model": p["model"], "dropout": p.get("dropout"), "classes": classes, "state_dict": model.state_dict()},
               os.path.join(out, "model.pt"))
    emit(type="done", parameters=count, device=device.type)


def evaluate(job):
    """job: split (dir), model (dir with model.pt and policy.json), params (batch_size, timing_runs, tta), device."""
    p = job.get("params", {})
    device = pick_device(job.get("device", "auto"))
    _, parts = load_split(job["split"])
    xte, yte = parts["test"]
    saved = torch.load(os.path.join(job["model"], "model.pt"), map_location="cpu")
    model = build_model(saved["model"], saved.get("dropout"), saved["classes"]).to(device)
    model.load_state_dict(saved["state_dict"])
    model.eval()
    policy = json.load(open(os.path.join(job["model"], "policy.json")))
    x = normalize(xte, policy)
    y = torch.from_numpy(yte.astype(np.int64))
    tta = p.get("tta", "none") == "flip"
    batch = p.get("batch_size", 256)

    @torch.no_grad()
    def scores(xb):
        logits = model(xb)
        if not tta:
            return logits, logits
        prob = (F.softmax(logits, 1) + F.softmax(model(torch.flip(xb, dims=[3])), 1)) / 2
        return torch.log(prob), logits

    preds, plain_correct, loss, batch_times = [], 0, 0.0, []
    for s in range(0, len(y), batch):
        xb, yb = x[s:s + batch].to(device), y[s:s + batch].to(device)
        t0 = time.perf_counter()
        sc, plain = scores(xb)
        pred = sc.argmax(1)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if len(yb) == batch:
            batch_times.append((time.perf_counter() - t0) * 1000 / len(yb))
        preds.append(pred.cpu())
        plain_correct += (plain.argmax(1) == yb).sum().item()
        loss += F.nll_loss(F.log_softmax(sc, 1), yb, reduction="sum").item()
    single = []
    for i in range(p.get("timing_runs", 50)):
        xb = x[i % len(y): i % len(y) + 1].to(device)
        t0 = time.perf_counter()
        scores(xb)[0].cpu()
        single.append((time.perf_counter() - t0) * 1000)
    # The predicted class of every test image; the caller derives the confusion matrix and the rest from it.
    predictions = torch.cat(preds).numpy().astype(np.uint8)
    predictions.tofile(os.path.join(job["out"], "predictions.u8"))
    emit(
        type="done",
        correct=int((predictions == yte).sum()),
        count=len(yte),
        loss=loss / len(yte),
        plain_correct=plain_correct,
        parameters=trainable_params(model),
        ms_per_image_batch=float(np.median(batch_times)) if batch_times else None,
        ms_per_image_single=float(np.median(single)),
        device=device.type,
    )


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "-"
    job = json.load(sys.stdin if path == "-" else open(path))
    try:
        {"probe": probe, "train": train, "evaluate": evaluate}[job["task"]](job)
    except Exception as e:  # reported as an event; the caller fails the stage
        import traceback

        traceback.print_exc(file=sys.stderr)
        emit(type="error", message=f"{type(e).__name__}: {e}")
        sys.exit(1)


if __name__ == "__main__":
    main()
