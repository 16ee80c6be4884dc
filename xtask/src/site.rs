//! The release build of the web app (`dist`) and serving it (`serve`).

use std::path::Path;

use crate::project::{self, Project};
use crate::server::StaticServer;
use crate::{tools, Result};

/// `cargo xtask dist`: the release static site in `dist/`.
pub fn dist(project: &Project) -> Result {
    tools::ensure_site_tools(project)?;
    let dist = project.root.join("dist");
    build_release(project, &dist)?;
    println!("xtask: the release site is in {}", dist.display());
    Ok(())
}

/// `cargo xtask serve`: build the release site into `dist/` and serve it until Ctrl-C.
pub fn serve(project: &Project, port: u16) -> Result {
    // Bind first, so a busy port is reported before a build of several minutes.
    let dist = project.root.join("dist");
    let server = StaticServer::bind(&dist, port)?;
    tools::ensure_site_tools(project)?;
    build_release(project, &dist)?;
    println!("xtask: serving {} at {} (Ctrl-C to stop)", dist.display(), server.url()?);
    server.run()
}

/// `trunk build --release` into `dist`, with binaryen's wasm-opt from `.tools/` (pinned in Trunk.toml).
/// Needs [`tools::ensure_site_tools`] first.
pub fn build_release(project: &Project, dist: &Path) -> Result {
    let mut trunk = project.command("trunk");
    trunk.args(["build", "--release", "--dist"]).arg(dist).env("TRUNK_SKIP_VERSION_CHECK", "true");
    project::run(&mut trunk)
}
