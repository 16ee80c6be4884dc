//! Faultline's web app: a Leptos page that trains a tiny GPT in a Web Worker and shows the run live.
//!
//! - [`protocol`]: the typed messages between the page and the worker.
//! - [`worker`]: the worker's training session ([`worker::session`], plain Rust) and its JavaScript glue.
//! - [`run_view`], [`range_view`], [`form`], [`generation`], [`export`], [`history`], [`chart`], [`bench`]: what the page
//!   knows and checks, tested natively.
//! - [`exercises`]: the guided exercises, their checks over a run's telemetry, and the learner's progress.
//! - [`mystery`]: mystery rounds: a seeded hidden fault, the learner's guess and score.
//! - [`log_view`]: the diagnose page's logs (another program's), read in the worker and diagnosed.
//! - [`align_view`]: the alignment page's fine-tuning run (a base model's pretraining, then DPO or the
//!   policy gradient).
//! - [`align_mystery`]: the alignment page's mystery round: a seeded hidden fine-tuning fault, or none, and the guess.
//! - [`rl_fixes`]: the guide's fixes for reward hacking, as changes to the policy-gradient lab's form.
//! - [`symptoms`], [`checklist`], [`bug_report`], [`route`], [`markup`]: what the symptom panel and the guide pages make of a run,
//!   and the hash routes between the pages.
//! - `ui`, `client`, `banner` (WebAssembly only): the Leptos components, the worker handle, the error banner.

pub mod align_mystery;
pub mod align_view;
pub mod bench;
pub mod bisect;
pub mod bug_report;
pub mod chart;
pub mod checklist;
pub mod exercises;
pub mod export;
pub mod form;
pub mod generation;
pub mod kept_runs;
pub mod log_view;
pub mod markup;
pub mod mystery;
pub mod performance;
pub mod protocol;
pub mod range_view;
pub mod rl_fixes;
pub mod route;
pub mod run_view;
pub mod simplify;
pub mod stored;
pub mod symptoms;
pub mod worker;

#[cfg(target_arch = "wasm32")]
mod banner;
#[cfg(target_arch = "wasm32")]
mod client;
#[cfg(target_arch = "wasm32")]
mod ui;

#[cfg(target_arch = "wasm32")]
pub use ui::start as start_page;
