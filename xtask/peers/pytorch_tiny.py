"""PyTorch peer for `cargo xtask bench`: the engine's `tiny` GPT, trained on one CPU thread.

Same network as crates/engine (pre-norm blocks, biases everywhere but the untied head, tanh GELU,
fused QKV, causal softmax attention) and the same step: forward, cross-entropy, backward, global
grad-norm clipping at 1.0, AdamW (betas 0.9/0.99, eps 1e-8, decay 0.1 on matrices only).
The data are random token ids: only the time matters. Prints one JSON line.

usage: python pytorch_tiny.py [STEPS] [WARMUP]
"""

import json
import math
import platform
import sys
import time
import warnings

# The venv holds torch alone; torch warns at import that NumPy is missing, which nothing here needs.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

# `faultline bench` trains `tiny` on its default corpus, toy-english, whose vocabulary is 29 characters
# (the V65 is a Shakespeare-sized one: 4,608 more parameters, about 2 % more work per step).
VOCAB, CONTEXT, BATCH, D_MODEL, HEADS, LAYERS, MLP_MULT = 29, 64, 16, 64, 4, 2, 4


class Block(nn.Module):
    def __init__(self, residual_std):
        super().__init__()
        self.ln1 = nn.LayerNorm(D_MODEL, eps=1e-5)
        self.qkv = nn.Linear(D_MODEL, 3 * D_MODEL)
        self.proj = nn.Linear(D_MODEL, D_MODEL)
        self.ln2 = nn.LayerNorm(D_MODEL, eps=1e-5)
        self.fc = nn.Linear(D_MODEL, MLP_MULT * D_MODEL)
        self.out = nn.Linear(MLP_MULT * D_MODEL, D_MODEL)
        for layer, std in [(self.qkv, 0.02), (self.proj, residual_std), (self.fc, 0.02), (self.out, residual_std)]:
            nn.init.normal_(layer.weight, std=std)
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        # [B, T, C] -> [B, H, T, C/H]
        q, k, v = (z.view(b, t, HEADS, c // HEADS).transpose(1, 2) for z in (q, k, v))
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(att.transpose(1, 2).reshape(b, t, c))
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, D_MODEL)
        self.wpe = nn.Embedding(CONTEXT, D_MODEL)
        residual_std = 0.02 / math.sqrt(2 * LAYERS)
        self.blocks = nn.ModuleList(Block(residual_std) for _ in range(LAYERS))
        self.lnf = nn.LayerNorm(D_MODEL, eps=1e-5)
        self.head = nn.Linear(D_MODEL, VOCAB, bias=False)  # untied from wte, as in the engine
        for weight in (self.wte.weight, self.wpe.weight, self.head.weight):
            nn.init.normal_(weight, std=0.02)

    def forward(self, tokens, targets):
        x = self.wte(tokens) + self.wpe(torch.arange(tokens.shape[1]))
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.lnf(x))
        return F.cross_entropy(logits.view(-1, VOCAB), targets.reshape(-1))


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    torch.set_num_threads(1)
    torch.manual_seed(1)
    model = Gpt()
    # Weight decay on the matrices (and embeddings) only, like the engine's Normal-initialised tensors.
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimiser = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=3e-3,
        betas=(0.9, 0.99),
        eps=1e-8,
    )
    tokens = torch.randint(0, VOCAB, (BATCH, CONTEXT + 1))
    inputs, targets = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()

    def step():
        optimiser.zero_grad(set_to_none=True)
        loss = model(inputs, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        return loss.item()

    first_loss = step()
    for _ in range(warmup - 1):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        last_loss = step()
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "config": "tiny",
                "steps": steps,
                "steps_per_s": steps / seconds,
                "tokens_per_s": steps * BATCH * CONTEXT / seconds,
                "params": sum(p.numel() for p in model.parameters()),
                "threads": torch.get_num_threads(),
                "first_loss": first_loss,
                "last_loss": last_loss,
                "torch": torch.__version__,
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
