// TensorFlow.js peer for `cargo xtask bench`: the engine's `tiny` GPT trained on the wasm backend.
//
// The same network as crates/engine (pre-norm blocks, biases everywhere but the untied head, tanh GELU,
// fused QKV, causal softmax attention) and the same step: forward, cross-entropy, backward, global
// grad-norm clipping at 1.0, AdamW (betas 0.9/0.99, eps 1e-8, decay 0.1 on matrices only). TF.js has no
// AdamW, so the update is written out here. The data are random token ids: only the time matters.
//
// Query: ?steps=N&warmup=W. Writes its JSON result into #bench-result and sets data-done="1".

// `faultline bench` trains `tiny` on its default corpus, toy-english, whose vocabulary is 29 characters.
const VOCAB = 29, CONTEXT = 64, BATCH = 16, D_MODEL = 64, HEADS = 4, LAYERS = 2, MLP = 4 * D_MODEL;
const LR = 3e-3, BETA1 = 0.9, BETA2 = 0.99, EPS = 1e-8, WEIGHT_DECAY = 0.1, CLIP = 1.0;

const tf = globalThis.tf;
const query = new URLSearchParams(location.search);
const steps = Number(query.get("steps") || 20);
const warmup = Number(query.get("warmup") || 3);
const out = document.getElementById("bench-result");

function report(result) {
  out.textContent = JSON.stringify(result);
  out.dataset.done = "1";
}

/** Parameters in the engine's order; `decay` marks the Normal-initialised ones. */
function buildParams() {
  const params = [];
  const add = (name, shape, std) => {
    const init = std === "ones" ? tf.ones(shape) : std === 0 ? tf.zeros(shape) : tf.randomNormal(shape, 0, std);
    params.push({ name, decay: typeof std === "number" && std > 0, value: tf.variable(init, true, name) });
  };
  const residualStd = 0.02 / Math.sqrt(2 * LAYERS);
  add("wte", [VOCAB, D_MODEL], 0.02);
  add("wpe", [CONTEXT, D_MODEL], 0.02);
  for (let l = 0; l < LAYERS; l++) {
    add(`b${l}.ln1.gain`, [D_MODEL], "ones");
    add(`b${l}.ln1.bias`, [D_MODEL], 0);
    add(`b${l}.w_qkv`, [D_MODEL, 3 * D_MODEL], 0.02);
    add(`b${l}.b_qkv`, [3 * D_MODEL], 0);
    add(`b${l}.w_proj`, [D_MODEL, D_MODEL], residualStd);
    add(`b${l}.b_proj`, [D_MODEL], 0);
    add(`b${l}.ln2.gain`, [D_MODEL], "ones");
    add(`b${l}.ln2.bias`, [D_MODEL], 0);
    add(`b${l}.w_fc`, [D_MODEL, MLP], 0.02);
    add(`b${l}.b_fc`, [MLP], 0);
    add(`b${l}.w_out`, [MLP, D_MODEL], residualStd);
    add(`b${l}.b_out`, [D_MODEL], 0);
  }
  add("lnf.gain", [D_MODEL], "ones");
  add("lnf.bias", [D_MODEL], 0);
  add("w_head", [D_MODEL, VOCAB], 0.02);
  return params;
}

function layerNorm(x, gain, bias) {
  const { mean, variance } = tf.moments(x, -1, true);
  return x.sub(mean).mul(tf.rsqrt(variance.add(1e-5))).mul(gain).add(bias);
}

function gelu(x) {
  const inner = x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
  return x.mul(0.5).mul(tf.tanh(inner).add(1));
}

/** Rows [N, C] -> heads [B·H, T, C/H]. */
function splitHeads(x) {
  return x.reshape([BATCH, CONTEXT, HEADS, D_MODEL / HEADS]).transpose([0, 2, 1, 3]).reshape([BATCH * HEADS, CONTEXT, D_MODEL / HEADS]);
}

function attention(x, p, mask) {
  const qkv = x.matMul(p.w_qkv).add(p.b_qkv);
  const [q, k, v] = tf.split(qkv, 3, 1).map(splitHeads);
  const scores = q.matMul(k, false, true).mul(1 / Math.sqrt(D_MODEL / HEADS)).add(mask);
  const heads = tf.softmax(scores).matMul(v); // [B·H, T, C/H]
  const merged = heads.reshape([BATCH, HEADS, CONTEXT, D_MODEL / HEADS]).transpose([0, 2, 1, 3]).reshape([BATCH * CONTEXT, D_MODEL]);
  return merged.matMul(p.w_proj).add(p.b_proj);
}

/** Mean cross-entropy of the next-token predictions; the embeddings are one-hot products (the wasm
 * backend has no kernel for gather's gradient). */
function loss(p, inputs, targets, mask) {
  let x = tf.oneHot(inputs, VOCAB).toFloat().matMul(p.wte); // [N, C]
  x = x.reshape([BATCH, CONTEXT, D_MODEL]).add(p.wpe).reshape([BATCH * CONTEXT, D_MODEL]);
  for (let l = 0; l < LAYERS; l++) {
    const b = (name) => p[`b${l}.${name}`];
    const block = { w_qkv: b("w_qkv"), b_qkv: b("b_qkv"), w_proj: b("w_proj"), b_proj: b("b_proj") };
    x = x.add(attention(layerNorm(x, b("ln1.gain"), b("ln1.bias")), block, mask));
    const hidden = gelu(layerNorm(x, b("ln2.gain"), b("ln2.bias")).matMul(b("w_fc")).add(b("b_fc")));
    x = x.add(hidden.matMul(b("w_out")).add(b("b_out")));
  }
  const logits = layerNorm(x, p["lnf.gain"], p["lnf.bias"]).matMul(p.w_head);
  return tf.losses.softmaxCrossEntropy(tf.oneHot(targets, VOCAB), logits);
}

async function main() {
  await tf.setBackend("wasm");
  await tf.ready();
  const params = buildParams();
  const byName = Object.fromEntries(params.map((p) => [p.name, p.value]));
  const moments = params.map((p) => ({ m: tf.variable(tf.zerosLike(p.value), false), v: tf.variable(tf.zerosLike(p.value), false) }));
  const variables = params.map((p) => p.value);
  // 0 where key position j <= query position i, a large negative number above the diagonal.
  const mask = tf.tidy(() => tf.linalg.bandPart(tf.ones([CONTEXT, CONTEXT]), -1, 0).sub(1).mul(1e9));
  const tokens = tf.randomUniform([BATCH, CONTEXT + 1], 0, VOCAB, "int32");
  const inputs = tokens.slice([0, 0], [BATCH, CONTEXT]).reshape([-1]);
  const targets = tokens.slice([0, 1], [BATCH, CONTEXT]).reshape([-1]);
  let t = 0;

  // One training step; returns the loss as a scalar tensor.
  const step = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => loss(byName, inputs, targets, mask), variables);
      const grad = params.map((p) => grads[p.name]);
      const norm = tf.sqrt(tf.addN(grad.map((g) => g.square().sum())));
      const scale = tf.minimum(tf.div(CLIP, norm.add(1e-6)), 1);
      t += 1;
      const correction1 = 1 - BETA1 ** t, correction2 = 1 - BETA2 ** t;
      params.forEach((p, i) => {
        const g = grad[i].mul(scale);
        const { m, v } = moments[i];
        m.assign(m.mul(BETA1).add(g.mul(1 - BETA1)));
        v.assign(v.mul(BETA2).add(g.square().mul(1 - BETA2)));
        let update = m.div(correction1).div(v.div(correction2).sqrt().add(EPS));
        if (p.decay) update = update.add(p.value.mul(WEIGHT_DECAY));
        p.value.assign(p.value.sub(update.mul(LR)));
      });
      return tf.keep(value);
    });

  // Reads the loss back, which also waits for the step to finish.
  const run = async () => {
    const value = step();
    const number = (await value.data())[0];
    value.dispose();
    return number;
  };

  const firstLoss = await run();
  for (let i = 1; i < warmup; i++) await run();
  const start = performance.now();
  let lastLoss = firstLoss;
  for (let i = 0; i < steps; i++) lastLoss = await run();
  const seconds = (performance.now() - start) / 1000;
  report({
    config: "tiny",
    steps,
    steps_per_s: steps / seconds,
    tokens_per_s: (steps * BATCH * CONTEXT) / seconds,
    params: params.reduce((sum, p) => sum + p.value.size, 0),
    backend: tf.getBackend(),
    threads: tf.wasm.getThreadsCount(),
    // TF.js loads its threaded build only when the page is cross-origin isolated and SharedArrayBuffer works.
    cross_origin_isolated: globalThis.crossOriginIsolated === true,
    multithread_support: await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT"),
    hardware_concurrency: navigator.hardwareConcurrency,
    wasm_binary: performance.getEntriesByType("resource").map((entry) => entry.name.split("/").pop()).find((name) => name.endsWith(".wasm")),
    simd: await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"),
    first_loss: firstLoss,
    last_loss: lastLoss,
    tfjs: tf.version.tfjs,
    user_agent: navigator.userAgent,
  });
}

main().catch((error) => report({ error: String(error && error.stack ? error.stack : error) }));
