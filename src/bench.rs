//! The bench page's parameters: `/?bench=tiny|small&backend=cpu|webgpu&steps=N&seed=S`.

use faultline_engine::{Preset, RunConfig};

/// The `<pre>` the result is written into; `data-done="1"` is set on it once it is final.
pub const RESULT_ID: &str = "bench-result";

/// Steps and seed used when the URL leaves them out.
pub const DEFAULT_STEPS: usize = 20;
pub const DEFAULT_SEED: u64 = 1;

/// A benchmark the page can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchRequest {
    pub preset: Preset,
    /// `backend=webgpu`: the WebGPU benchmark instead of the CPU's.
    pub webgpu: bool,
    pub steps: usize,
    pub seed: u64,
}

/// Whether the URL's query asks for the bench page (it has a `bench` parameter).
pub fn is_bench(query: &[(String, String)]) -> bool {
    query.iter().any(|(k, _)| k == "bench")
}

/// Reads the request from the query's key/value pairs; the error names the bad parameter.
pub fn parse(query: &[(String, String)]) -> Result<BenchRequest, String> {
    let get = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim());
    let preset = Preset::parse(get("bench").unwrap_or_default()).map_err(|e| format!("bench: {}", e.message))?;
    let webgpu = match get("backend").unwrap_or("cpu") {
        "cpu" => false,
        "webgpu" => true,
        other => return Err(format!("backend: unknown backend '{other}' (expected cpu or webgpu)")),
    };
    let steps = match get("steps") {
        None => DEFAULT_STEPS,
        Some(s) => s.parse().map_err(|_| format!("steps: must be a whole number, got '{s}'"))?,
    };
    let seed = match get("seed") {
        None => DEFAULT_SEED,
        Some(s) => s.parse().map_err(|_| format!("seed: must be a whole number, got '{s}'"))?,
    };
    RunConfig { steps, seed, ..RunConfig::preset(preset) }.validate().map_err(|e| e.to_string())?;
    Ok(BenchRequest { preset, webgpu, steps, seed })
}

/// The one-line result for a bench that could not run.
pub fn error_json(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn query(s: &str) -> Vec<(String, String)> {
        s.split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    #[test]
    fn reads_a_full_request() {
        let r = parse(&query("bench=small&backend=cpu&steps=5&seed=9")).unwrap();
        assert_eq!(r, BenchRequest { preset: Preset::Small, webgpu: false, steps: 5, seed: 9 });
        let r = parse(&query("bench=tiny&backend=webgpu&steps=3")).unwrap();
        assert_eq!(r, BenchRequest { preset: Preset::Tiny, webgpu: true, steps: 3, seed: DEFAULT_SEED });
        assert!(is_bench(&query("bench=small")) && !is_bench(&query("steps=3")));
    }

    #[test]
    fn fills_in_defaults() {
        let r = parse(&query("bench=tiny")).unwrap();
        assert_eq!(r, BenchRequest { preset: Preset::Tiny, webgpu: false, steps: DEFAULT_STEPS, seed: DEFAULT_SEED });
    }

    #[test]
    fn bad_parameters_are_named() {
        for (q, field) in [
            ("bench=huge", "bench"),
            ("bench=", "bench"),
            ("bench=tiny&backend=tpu", "backend"),
            ("bench=tiny&steps=ten", "steps"),
            ("bench=tiny&steps=-1", "steps"),
            ("bench=tiny&steps=0", "steps"),
            ("bench=tiny&seed=x", "seed"),
        ] {
            let e = parse(&query(q)).unwrap_err();
            assert!(e.starts_with(&format!("{field}:")), "{q}: {e}");
        }
    }

    #[test]
    fn error_json_is_one_line_with_an_error_key() {
        let json = error_json("steps: \"bad\"\nvalue");
        assert!(!json.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["error"], "steps: \"bad\"\nvalue");
    }
}
