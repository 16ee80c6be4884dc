//! The built site's Content-Security-Policy: written into `index.html` as the first element of its
//! `<head>` after `trunk build`, and sent as a header by xtask's server (a `<meta>` policy does not
//! reach the workers; a header on their scripts does).
//!
//! Trunk writes one inline module script that loads the page's wasm; its text names the build's hashed
//! file names, so it changes with every build. The policy allows exactly the inline scripts the build
//! wrote, by their SHA-256, and nothing else inline.

use std::fs;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::Result;

/// The policy's directives, `script-src` without the inline scripts' hashes (see README, "Security").
const DIRECTIVES: [&str; 9] = [
    "default-src 'self'",
    // The page's and the workers' scripts come from the site; 'wasm-unsafe-eval' lets them compile
    // WebAssembly, and nothing else that `eval` would allow.
    "script-src 'self' 'wasm-unsafe-eval'",
    // Stylesheets from the site only; the app sets its few computed styles through the CSSOM.
    "style-src 'self'",
    // The favicon is `data:,`; exported charts are blob: URLs.
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
];

/// Writes the policy, with a hash for each inline script, as the first element of the `<head>` of the
/// built `index.html`; returns the policy.
pub fn apply(index: &Path) -> Result<String> {
    let html = fs::read_to_string(index).map_err(|err| format!("cannot read {}: {err}", index.display()))?;
    let hashes: Vec<String> = inline_scripts(&html)?.into_iter().map(script_hash).collect();
    let policy = policy(&hashes);
    fs::write(index, with_meta(&html, &policy)?)?;
    Ok(policy)
}

/// The policy that allows the inline scripts with these `'sha256-…'` sources.
fn policy(script_hashes: &[String]) -> String {
    let hashes: String = script_hashes.iter().map(|hash| format!(" {hash}")).collect();
    let with_hashes = |directive: &str| {
        if directive.starts_with("script-src ") {
            format!("{directive}{hashes}")
        } else {
            directive.to_string()
        }
    };
    DIRECTIVES.iter().map(|directive| with_hashes(directive)).collect::<Vec<_>>().join("; ")
}

/// The CSP source that allows an inline script with exactly this text.
fn script_hash(text: &str) -> String {
    format!("'sha256-{}'", BASE64.encode(Sha256::digest(text.as_bytes())))
}

/// The text of every `<script>` element without a `src`, as the browser hashes it: everything between
/// the opening tag and `</script`.
fn inline_scripts(html: &str) -> Result<Vec<&str>> {
    let lower = html.to_ascii_lowercase();
    let mut scripts = Vec::new();
    let mut at = 0;
    while let Some(start) = lower[at..].find("<script").map(|i| at + i) {
        let open_end = lower[start..].find('>').map(|i| start + i + 1).ok_or("an unclosed <script> tag")?;
        let close = lower[open_end..].find("</script").map(|i| open_end + i).ok_or("a <script> without </script>")?;
        if !has_src(&lower[start..open_end]) {
            scripts.push(&html[open_end..close]);
        }
        at = close;
    }
    Ok(scripts)
}

/// Whether an opening `<script …>` tag (lowercase) has a `src` attribute.
fn has_src(tag: &str) -> bool {
    tag.split(|c: char| c.is_ascii_whitespace()).any(|part| part == "src" || part.starts_with("src="))
}

/// `html` with the policy's `<meta>` as the first element of its `<head>`.
fn with_meta(html: &str, policy: &str) -> Result<String> {
    let lower = html.to_ascii_lowercase();
    if lower.contains("http-equiv=\"content-security-policy\"") {
        return Err("index.html already has a Content-Security-Policy".into());
    }
    let head = lower.find("<head").ok_or("index.html has no <head>")?;
    let head_end = lower[head..].find('>').map(|i| head + i + 1).ok_or("index.html has an unclosed <head> tag")?;
    let meta = format!("\n    <meta http-equiv=\"Content-Security-Policy\" content=\"{policy}\" />");
    Ok(format!("{}{meta}{}", &html[..head_end], &html[head_end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILT: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n  <head>\n    <meta charset=\"utf-8\" />\n    \
        <link rel=\"stylesheet\" href=\"./main-1.css\"/>\n<script type=\"module\">\nimport init from './app-1.js';\n\
        await init({ module_or_path: './app-1_bg.wasm' });\n</script>\n  \
        <SCRIPT src=\"./other.js\"></SCRIPT></head>\n  <body></body>\n</html>";

    #[test]
    fn finds_the_inline_scripts_only() {
        let scripts = inline_scripts(BUILT).unwrap();
        assert_eq!(scripts, ["\nimport init from './app-1.js';\nawait init({ module_or_path: './app-1_bg.wasm' });\n"]);
        assert!(inline_scripts("<script>x").is_err());
        assert_eq!(inline_scripts("<script src='a.js' async></script><script>b()</script>").unwrap(), ["b()"]);
        assert_eq!(inline_scripts("<script data-src=\"x\">c()</script>").unwrap(), ["c()"]);
    }

    #[test]
    fn hashes_as_browsers_do() {
        // SHA-256 of "alert('Hello, world.');", the example of the CSP specification.
        assert_eq!(script_hash("alert('Hello, world.');"), "'sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng='");
    }

    #[test]
    fn the_policy_allows_the_hashed_scripts_and_nothing_inline_else() {
        let policy = policy(&["'sha256-a'".into(), "'sha256-b'".into()]);
        assert_eq!(
            policy,
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'sha256-a' 'sha256-b'; style-src 'self'; \
             img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; object-src 'none'; \
             base-uri 'none'; form-action 'none'"
        );
        assert!(!policy.contains("unsafe-inline") && !policy.contains("'unsafe-eval'"));
    }

    #[test]
    fn writes_the_meta_first_in_head() {
        let written = with_meta(BUILT, "default-src 'self'").unwrap();
        let head = written.find("<head>").unwrap() + "<head>".len();
        assert!(written[head..]
            .trim_start()
            .starts_with("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self'\" />"));
        assert_eq!(
            written.replace("\n    <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self'\" />", ""),
            BUILT
        );
        assert!(with_meta(&written, "default-src 'self'").is_err(), "never a second policy");
        assert!(with_meta("<html><body></body></html>", "x").is_err());
    }

    #[test]
    fn applies_to_a_built_index() {
        let dir = std::env::temp_dir().join(format!("xtask-csp-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let index = dir.join("index.html");
        fs::write(&index, BUILT).unwrap();
        let policy = apply(&index).unwrap();
        let hash = script_hash(inline_scripts(BUILT).unwrap()[0]);
        assert!(policy.contains(&format!("script-src 'self' 'wasm-unsafe-eval' {hash};")), "{policy}");
        let written = fs::read_to_string(&index).unwrap();
        assert!(written.contains(&format!("content=\"{policy}\"")));
        assert_eq!(inline_scripts(&written).unwrap(), inline_scripts(BUILT).unwrap(), "the scripts are untouched");
        fs::remove_dir_all(dir).unwrap();
    }
}
