"""Logs of another framework for `cargo xtask peer-logs`: the bench peer's `tiny` GPT (pytorch_tiny.py)
trained by PyTorch on a text Faultline never generated, healthy and broken, each run written as a
Hugging Face Trainer, TensorBoard CSV, W&B CSV, nanoGPT and JSONL log would carry it.

The text is the docstrings of Python's standard library (ASCII only), a corpus none of the engine's
runs use. Each scenario's expected entry is fixed here, before any log is diagnosed: the guide
entry its cause belongs to (none for the healthy runs). One scenario's entry depends on what the run
did, measured here: SGD at a far too high rate is "loss becomes NaN" when its loss went non-finite,
otherwise "loss oscillates wildly".

usage: python pytorch_logs.py tuning|held-out OUT_DIR
Writes OUT_DIR/<scenario>/<format>/... and OUT_DIR/manifest.json.
"""

import importlib
import inspect
import json
import math
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import pytorch_tiny as tiny  # noqa: E402

# Two texts and two sets of seeds and strengths: the detector may be changed after looking at the
# tuning split's logs, never at the held-out split's, whose figures are the ones reported.
SPLITS = {
    "tuning": {
        "modules": [
            "argparse", "asyncio", "bisect", "calendar", "collections", "csv", "dataclasses", "datetime",
            "decimal", "difflib", "email", "enum", "fractions", "functools", "heapq", "http.client", "inspect",
            "itertools", "json", "logging", "os", "pathlib", "pickle", "random", "re", "shutil", "socket",
            "statistics", "string", "subprocess", "tarfile", "textwrap", "threading", "typing", "unittest",
            "urllib.parse", "uuid", "zipfile",
        ],
        "seeds": [11, 12, 13, 14, 15],
        "sgd_lr": 8.0, "tiny_lr": 1e-6, "small_text": 4000,
    },
    "held-out": {
        "modules": [
            "ast", "base64", "cmd", "configparser", "contextlib", "copy", "email.message", "fnmatch", "ftplib",
            "getopt", "gettext", "glob", "gzip", "hashlib", "hmac", "html.parser", "imaplib", "io", "ipaddress",
            "locale", "mimetypes", "numbers", "operator", "optparse", "pdb", "pprint", "queue", "sched",
            "secrets", "selectors", "smtplib", "sqlite3", "ssl", "struct", "tempfile", "timeit", "tokenize",
            "trace", "traceback", "types", "warnings", "weakref", "xml.dom.minidom",
        ],
        "seeds": [21, 22, 23, 24, 25],
        "sgd_lr": 5.0, "tiny_lr": 3e-6, "small_text": 3000,
    },
}

EVAL_EVERY = 50
EVAL_BATCHES = 8
LOGGING_STEPS = 10


def corpus(modules):
    """The docstrings of `modules` and their public members, printable ASCII and newlines only."""
    parts = []
    for name in modules:
        module = importlib.import_module(name)
        parts.append(inspect.getdoc(module) or "")
        for member_name in sorted(dir(module)):
            if member_name.startswith("_"):
                continue
            doc = inspect.getdoc(getattr(module, member_name, None))
            if doc:
                parts.append(doc)
    text = "\n\n".join(parts)
    return "".join(c for c in text if c == "\n" or " " <= c <= "~")


class Data:
    """Every tenth stretch of text (500 characters, or a twentieth of a small text) is validation text,
    the rest training text (so both come from every module); the validation batches are drawn once and reused at every evaluation, as a
    Trainer evaluates on a fixed set."""

    def __init__(self, text, vocab, seed):
        ids = torch.tensor([vocab.index(c) for c in text], dtype=torch.long)
        pieces = list(ids.split(min(500, len(ids) // 20)))
        self.val = torch.cat(pieces[9::10])
        self.train = torch.cat([p for i, p in enumerate(pieces) if i % 10 != 9])
        fixed = torch.Generator().manual_seed(seed + 1000)
        self.val_batches = [self.batch("val", fixed) for _ in range(EVAL_BATCHES)]

    def batch(self, split, generator):
        data = self.train if split == "train" else self.val
        starts = torch.randint(0, len(data) - tiny.CONTEXT - 1, (tiny.BATCH,), generator=generator)
        rows = torch.stack([data[s : s + tiny.CONTEXT + 1] for s in starts])
        return rows[:, :-1], rows[:, 1:]


def layer_norms(model):
    """The gradient norm of each block's parameters, first and last: what a learner logs per layer."""
    norms = {}
    for index in (0, len(model.blocks) - 1):
        grads = [p.grad for p in model.blocks[index].parameters() if p.grad is not None]
        norms[f"blocks.{index}"] = float(torch.norm(torch.stack([g.norm() for g in grads]))) if grads else 0.0
    return norms


def train(s, text, vocab):
    """One run of scenario `s`; returns its per-step and per-evaluation records."""
    tiny.VOCAB = len(vocab)
    torch.manual_seed(s["seed"])
    generator = torch.Generator().manual_seed(s["seed"])
    model = tiny.Gpt()
    data = Data(text, vocab, s["seed"])
    if s["optimizer"] == "sgd":
        optimiser = torch.optim.SGD(model.parameters(), lr=s["lr"], momentum=0.9)
    else:
        decay = [p for p in model.parameters() if p.dim() >= 2]
        rest = [p for p in model.parameters() if p.dim() < 2]
        optimiser = torch.optim.AdamW(
            [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
            lr=s["lr"],
            betas=(0.9, 0.99),
        )
    steps, evals = [], []
    layers = {}
    for step in range(1, s["steps"] + 1):
        started = time.perf_counter()
        lr = s["lr"] * min(1.0, step / s["warmup"]) if s["warmup"] else s["lr"]
        for group in optimiser.param_groups:
            group["lr"] = lr
        inputs, targets = data.batch("train", generator)
        optimiser.zero_grad(set_to_none=True)
        loss = model(inputs, targets)
        loss.backward()
        if s.get("zero_grads_after_backward"):
            # The bug: gradients cleared between backward and the step, so the update is empty.
            optimiser.zero_grad(set_to_none=False)
        clip = s.get("clip")
        parameters = [p for p in model.parameters() if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(parameters, clip if clip else float("inf"))
        layers = layer_norms(model)
        optimiser.step()
        value = loss.item()
        steps.append({"step": step, "loss": value, "grad_norm": float(norm), "lr": lr,
                      "time_ms": (time.perf_counter() - started) * 1000.0})
        if not math.isfinite(value):
            break
        if step % EVAL_EVERY == 0 or step == s["steps"]:
            model.eval()
            with torch.no_grad():
                train_loss = sum(model(*data.batch("train", generator)).item() for _ in range(EVAL_BATCHES))
                val_loss = sum(model(*batch).item() for batch in data.val_batches)
            model.train()
            evals.append({"step": step, "train_loss": train_loss / EVAL_BATCHES,
                          "val_loss": val_loss / EVAL_BATCHES, "layers": layers})
    return steps, evals


def py(x):
    """A number as Python's json module and print write it (NaN, Infinity included)."""
    return json.dumps(x)


def write_hf(folder, steps, evals):
    history = []
    for i in range(0, len(steps), LOGGING_STEPS):
        chunk = steps[i : i + LOGGING_STEPS]
        last = chunk[-1]
        mean = sum(r["loss"] for r in chunk) / len(chunk)
        history.append({"epoch": last["step"] / 1000, "grad_norm": last["grad_norm"],
                        "learning_rate": last["lr"], "loss": mean, "step": last["step"]})
    for e in evals:
        history.append({"epoch": e["step"] / 1000, "eval_loss": e["val_loss"], "step": e["step"]})
    history.sort(key=lambda entry: entry["step"])
    state = {"global_step": steps[-1]["step"], "log_history": history}
    with open(os.path.join(folder, "trainer_state.json"), "w") as f:
        json.dump(state, f, indent=2)


def write_tb_csv(folder, steps, evals):
    series = {
        "train_loss": [(r["step"], r["loss"]) for r in steps],
        "train_grad_norm": [(r["step"], r["grad_norm"]) for r in steps],
        "val_loss": [(e["step"], e["val_loss"]) for e in evals],
    }
    for tag, points in series.items():
        if not points:
            continue
        with open(os.path.join(folder, f"run-.-tag-{tag}.csv"), "w") as f:
            f.write("Wall time,Step,Value\n")
            for step, value in points:
                f.write(f"{1.7e9 + step * 0.05},{step},{py(value)}\n")


def write_wandb(folder, steps, evals):
    run = "pytorch-tiny"
    vals = {e["step"]: e["val_loss"] for e in evals}
    with open(os.path.join(folder, "wandb_export.csv"), "w") as f:
        f.write(f'"Step","{run} - train/loss","{run} - train/grad_norm","{run} - val/loss"\n')
        for r in steps:
            val = py(vals[r["step"]]) if r["step"] in vals else ""
            f.write(f'{r["step"]},{py(r["loss"])},{py(r["grad_norm"])},{val}\n')


def write_nanogpt(folder, steps, evals):
    vals = {e["step"]: e for e in evals}
    with open(os.path.join(folder, "train.log"), "w") as f:
        f.write("number of parameters: 0.10M\n")
        for r in steps:
            if r["step"] in vals:
                e = vals[r["step"]]
                f.write(f'step {r["step"]}: train loss {e["train_loss"]:.4f}, val loss {e["val_loss"]:.4f}\n')
            f.write(f'iter {r["step"]}: loss {r["loss"]:.4f}, time {r["time_ms"]:.2f}ms, mfu -100.00%\n')


def write_jsonl(folder, steps, evals):
    vals = {e["step"]: e for e in evals}
    with open(os.path.join(folder, "metrics.jsonl"), "w") as f:
        for r in steps:
            f.write(json.dumps({k: r[k] for k in ("step", "loss", "grad_norm", "lr", "time_ms")}) + "\n")
            if r["step"] in vals:
                e = vals[r["step"]]
                record = {"step": r["step"], "val_loss": e["val_loss"]}
                record.update({f"grad_norm/{name}": value for name, value in e["layers"].items()})
                f.write(json.dumps(record) + "\n")


WRITERS = {"hf": write_hf, "tb-csv": write_tb_csv, "wandb-csv": write_wandb, "nanogpt": write_nanogpt,
           "jsonl": write_jsonl}

BASE = {"optimizer": "adamw", "lr": 3e-3, "warmup": 50, "clip": 1.0, "steps": 600}


def scenarios(split):
    seeds, p = split["seeds"], split
    return [dict(BASE, name=f"healthy-seed{seed}", seed=seed, expect=None) for seed in seeds[:3]] + [
        dict(BASE, name="healthy-lr1e-3", seed=seeds[3], lr=1e-3, expect=None),
        dict(BASE, name="healthy-1000-steps", seed=seeds[4], steps=1000, expect=None),
        dict(BASE, name="sgd-lr-too-high", seed=seeds[0], optimizer="sgd", lr=p["sgd_lr"], warmup=0, clip=None,
             expect="sgd"),
        dict(BASE, name="overfit-small-text", seed=seeds[0], text_chars=p["small_text"], steps=1000,
             expect="validation-loss-increasing-while-training-loss-decreases"),
        dict(BASE, name="lr-tiny", seed=seeds[0], lr=p["tiny_lr"], expect="loss-decreases-very-slowly"),
        dict(BASE, name="zeroed-gradients", seed=seeds[0], zero_grads_after_backward=True,
             expect="gradients-are-all-zero"),
    ]


def main():
    split_name, out = sys.argv[1], sys.argv[2]
    split = SPLITS[split_name]
    torch.set_num_threads(1)
    text = corpus(split["modules"])
    vocab = sorted(set(text))
    manifest = []
    for s in scenarios(split):
        run_text = text[: s["text_chars"]] if "text_chars" in s else text
        steps, evals = train(s, run_text, vocab)
        expect = s["expect"]
        if expect == "sgd":
            finite = all(math.isfinite(r["loss"]) for r in steps)
            expect = "loss-oscillates-wildly" if finite else "loss-becomes-nan"
        for fmt, write in WRITERS.items():
            folder = os.path.join(out, s["name"], fmt)
            os.makedirs(folder, exist_ok=True)
            write(folder, steps, evals)
            files = sorted(os.path.join(folder, name) for name in os.listdir(folder))
            manifest.append({"scenario": s["name"], "format": fmt, "files": files, "expect": expect})
        last = steps[-1]
        print(json.dumps({"scenario": s["name"], "steps": len(steps), "last_loss": last["loss"],
                          "last_val": evals[-1]["val_loss"] if evals else None, "expect": expect}), flush=True)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"split": split_name, "vocab_size": len(vocab), "corpus_chars": len(text), "torch": torch.__version__,
                   "runs": manifest}, f, indent=1)


if __name__ == "__main__":
    main()
