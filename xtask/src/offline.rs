//! The built site's service worker (`src/offline/service-worker.js`): copied into `dist/` after the
//! build, with its `BUILD` line replaced by what it must cache and serve: every file of the site (paths
//! relative to the worker, which sits at the site's root), a version that is a hash of their names and
//! contents and of the worker's own code, and the site's Content-Security-Policy, which the worker sends
//! as a header on what it serves. A new deploy that changes any file, or only how the worker caches,
//! therefore changes the worker's script, and browsers install it as a new version, with a new cache.

use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::Result;

/// The service worker's source, relative to the project's root.
pub const TEMPLATE: &str = "src/offline/service-worker.js";
/// Its name in the built site; the page registers it as `./service-worker.js`.
const WORKER: &str = "service-worker.js";
/// The line of the template that xtask replaces.
const BUILD_LINE: &str = "const BUILD = ";
/// Hex digits of the SHA-256 kept as the version.
const VERSION_LEN: usize = 16;

/// Writes `dist/service-worker.js` from `template`, for the files now in `dist` and `policy`; returns
/// the version.
pub fn write_service_worker(template: &Path, dist: &Path, policy: &str) -> Result<String> {
    let source = fs::read_to_string(template).map_err(|err| format!("cannot read {}: {err}", template.display()))?;
    let files = site_files(dist)?;
    let mut contents =
        files.iter().map(|file| Ok((file.as_str(), fs::read(dist.join(file))?))).collect::<Result<Vec<_>>>()?;
    contents.push((WORKER, source.as_bytes().to_vec()));
    let version = version(&contents);
    let build = serde_json::json!({ "version": version, "files": files, "policy": policy });
    fs::write(dist.join(WORKER), with_build(&source, &build.to_string())?)?;
    Ok(version)
}

/// Every file under `dist` but the service worker and hidden entries (Trunk's `.stage`), as sorted
/// `/`-separated paths relative to `dist`.
fn site_files(dist: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    let mut folders = vec![(dist.to_path_buf(), String::new())];
    while let Some((folder, prefix)) = folders.pop() {
        for entry in fs::read_dir(&folder).map_err(|err| format!("cannot list {}: {err}", folder.display()))? {
            let entry = entry?;
            let name =
                entry.file_name().into_string().map_err(|name| format!("a file name that is not UTF-8: {name:?}"))?;
            let path = format!("{prefix}{name}");
            if name.starts_with('.') || path == WORKER {
                continue;
            }
            if entry.file_type()?.is_dir() {
                folders.push((entry.path(), format!("{path}/")));
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The first [`VERSION_LEN`] hex digits of the SHA-256 of every file's path, length and contents, in
/// the order given.
fn version(files: &[(&str, Vec<u8>)]) -> String {
    let mut hash = Sha256::new();
    for (path, contents) in files {
        hash.update(path.as_bytes());
        hash.update([0]);
        hash.update((contents.len() as u64).to_le_bytes());
        hash.update(contents);
    }
    hash.finalize().iter().map(|byte| format!("{byte:02x}")).collect::<String>()[..VERSION_LEN].to_string()
}

/// `source` with its one line that starts with [`BUILD_LINE`] replaced by one that assigns `build` (a
/// JSON object, which is also a JavaScript expression).
fn with_build(source: &str, build: &str) -> Result<String> {
    let lines: Vec<&str> = source.lines().collect();
    let at: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].starts_with(BUILD_LINE)).collect();
    let [at] = at[..] else {
        return Err(format!("{TEMPLATE} must have exactly one line that starts with `{BUILD_LINE}`").into());
    };
    let line = format!("{BUILD_LINE}{build};");
    let mut out: Vec<&str> = lines[..at].to_vec();
    out.push(&line);
    out.extend(&lines[at + 1..]);
    Ok(out.join("\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn project_template() -> String {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        fs::read_to_string(root.join(TEMPLATE)).unwrap()
    }

    fn built_site(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-offline-{name}-{}", std::process::id()));
        fs::create_dir_all(dir.join(".stage")).unwrap();
        fs::create_dir_all(dir.join("snippets/gpu")).unwrap();
        fs::write(dir.join("index.html"), "<!doctype html>").unwrap();
        fs::write(dir.join("app-1_bg.wasm"), b"\0asm").unwrap();
        fs::write(dir.join("snippets/gpu/inline0.js"), "export {}").unwrap();
        fs::write(dir.join(".stage/partial.js"), "").unwrap();
        fs::write(dir.join(WORKER), "an old build's worker").unwrap();
        dir
    }

    #[test]
    fn lists_the_sites_files_but_itself_and_hidden_ones() {
        let dist = built_site("list");
        assert_eq!(site_files(&dist).unwrap(), ["app-1_bg.wasm", "index.html", "snippets/gpu/inline0.js"]);
        fs::remove_dir_all(dist).unwrap();
    }

    #[test]
    fn the_version_follows_every_name_and_byte() {
        let base = version(&[("a.js", b"1".to_vec()), ("b.wasm", b"22".to_vec())]);
        assert_eq!(base.len(), VERSION_LEN);
        assert!(base.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(base, version(&[("a.js", b"1".to_vec()), ("b.wasm", b"22".to_vec())]), "stable");
        for changed in [
            version(&[("a.js", b"1".to_vec()), ("b.wasm", b"23".to_vec())]),
            version(&[("a.js", b"1".to_vec()), ("c.wasm", b"22".to_vec())]),
            version(&[("a.js", b"12".to_vec()), ("b.wasm", b"2".to_vec())]),
            version(&[("a.js", b"1".to_vec())]),
        ] {
            assert_ne!(changed, base);
        }
    }

    #[test]
    fn replaces_the_build_line_only() {
        let source = "// a\nconst BUILD = { version: \"unbuilt\" };\nconst OTHER = BUILD;\n";
        assert_eq!(
            with_build(source, "{\"version\":\"1\"}").unwrap(),
            "// a\nconst BUILD = {\"version\":\"1\"};\nconst OTHER = BUILD;\n"
        );
        assert!(with_build("const OTHER = 1;\n", "{}").is_err());
        assert!(with_build("const BUILD = 1;\nconst BUILD = 2;\n", "{}").is_err());
        assert_eq!(project_template().lines().filter(|line| line.starts_with(BUILD_LINE)).count(), 1);
    }

    #[test]
    fn writes_the_worker_for_a_built_site() {
        let dist = built_site("write");
        let template = dist.with_extension("template.js");
        fs::write(&template, project_template()).unwrap();
        let first = write_service_worker(&template, &dist, "default-src 'self'").unwrap();
        let written = fs::read_to_string(dist.join(WORKER)).unwrap();
        let line = written.lines().find(|line| line.starts_with(BUILD_LINE)).unwrap();
        let build: serde_json::Value =
            serde_json::from_str(line.trim_start_matches(BUILD_LINE).trim_end_matches(';')).unwrap();
        assert_eq!(build["version"], first.as_str());
        assert_eq!(build["policy"], "default-src 'self'");
        let files: Vec<&str> = build["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
        assert_eq!(files, ["app-1_bg.wasm", "index.html", "snippets/gpu/inline0.js"]);
        assert_eq!(write_service_worker(&template, &dist, "x").unwrap(), first, "the same files, the same version");
        fs::write(&template, project_template() + "// how it caches changed\n").unwrap();
        let recoded = write_service_worker(&template, &dist, "x").unwrap();
        assert_ne!(recoded, first, "a deploy that changes only the worker's code");
        fs::write(dist.join("index.html"), "<!doctype html><p>new</p>").unwrap();
        assert_ne!(write_service_worker(&template, &dist, "x").unwrap(), recoded, "a deploy that changes a file");
        fs::remove_dir_all(dist).unwrap();
        fs::remove_file(template).unwrap();
    }
}
