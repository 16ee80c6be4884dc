//! Mystery mode's page: start a run with one or two hidden faults, watch its measurements (the detector's
//! panel is not shown), name the guide entries, then see the hidden faults, the detector's evidence and
//! the guesses side by side.

use super::controller::Controller;
use super::local_storage;
use super::loss_chart::LossChart;
use super::sample::SamplePanel;
use super::stats::RunStats;
use super::telemetry::TelemetryCharts;
use crate::form::RunForm;
use crate::mystery::{hidden_faults, judge, round_form, Round, Score, Verdict, SCORE_KEY};
use crate::route::{entry_href, Route};
use faultline_engine::guide::{EntryId, SECTIONS};
use leptos::prelude::*;

fn load_score() -> (Score, Option<String>) {
    let text = local_storage().and_then(|s| s.get_item(SCORE_KEY).ok()?);
    Score::load(text.as_deref())
}

fn save_score(score: Score) {
    if let Some(s) = local_storage() {
        s.set_item(SCORE_KEY, &score.to_text()).ok();
    }
}

/// A seed for a new round when the link names none.
pub(super) fn fresh_seed() -> u64 {
    (js_sys::Math::random() * 1e9) as u64
}

/// What the learner sees once they have guessed: per hidden fault, its verdict and the guess paired
/// with it.
type Reveal = Vec<(Verdict, Option<EntryId>)>;

/// The score in words.
fn score_text(s: &Score) -> String {
    let points = if s.points == 1 { "point" } else { "points" };
    let faults = if s.rounds == 1 { "hidden fault" } else { "hidden faults" };
    format!("{} {points} for {} {faults} ({} named exactly)", s.points, s.rounds, s.right)
}

/// The guide's entries, grouped by section, as a select's options.
pub(super) fn entry_options() -> impl IntoView {
    SECTIONS
        .iter()
        .map(|s| {
            let entries =
                s.id.entries().map(|e| view! { <option value=e.id.as_str()>{e.title}</option> }).collect_view();
            view! { <optgroup label=s.title>{entries}</optgroup> }
        })
        .collect_view()
}

#[component]
pub fn MysteryPage(controller: Controller, form: RwSignal<RunForm>, faults: usize, seed: Option<u64>) -> impl IntoView {
    let round = Round { seed: seed.unwrap_or_else(fresh_seed), faults: faults.clamp(1, 2) };
    let (stored, unreadable) = load_score();
    let score = RwSignal::new(stored);
    let started = RwSignal::new(false);
    let guesses: Vec<RwSignal<String>> = (0..round.faults).map(|_| RwSignal::new(String::new())).collect();
    let reveal = RwSignal::new(None::<Reveal>);
    let view = controller.view;
    let start = move |_| {
        if let Ok(config) = round_form(round).to_config() {
            let two = if round.faults > 1 { ", two faults" } else { "" };
            controller.start_hidden(config, format!("mystery run #{}{two}", round.seed));
            started.set(true);
        }
    };
    let chosen = guesses.clone();
    let submit = move |_| {
        let named: Vec<EntryId> = chosen.iter().filter_map(|g| g.with(|g| g.parse().ok())).collect();
        if named.len() < chosen.len() {
            return;
        }
        let judged = judge(round, &named);
        score.update(|s| judged.iter().for_each(|&(v, _)| s.add(v)));
        save_score(score.get_untracked());
        reveal.set(Some(judged));
    };
    let unguessed = guesses.clone();
    let incomplete = move || unguessed.iter().any(|g| g.with(String::is_empty));
    let selects = guesses
        .iter()
        .enumerate()
        .map(|(i, &guess)| {
            let id = if i == 0 { "mystery-guess".to_string() } else { format!("mystery-guess-{}", i + 1) };
            let label = match (round.faults, i) {
                (1, _) => "Which guide entry explains what you see?",
                (_, 0) => "One guide entry that explains what you see",
                _ => "The other one",
            };
            view! {
                <label for=id.clone()>{label}</label>
                <select id=id on:change=move |ev| guess.set(event_target_value(&ev)) prop:value=move || guess.get()>
                    <option value="">"Choose an entry…"</option>
                    {entry_options()}
                </select>
            }
        })
        .collect_view();
    let (title, intro, other_mode) = if round.faults == 1 {
        (
            format!("Mystery run #{}", round.seed),
            "One fault from the catalogue is switched on in this run, and its settings are hidden. Watch the loss, \
             the gradients, the attention and the samples, then name the guide entry they point to. The detector's \
             diagnosis stays hidden until you have guessed.",
            ("Harder: two hidden faults", Route::Mystery { faults: 2, seed: None }),
        )
    } else {
        (
            format!("Mystery run #{}, two faults", round.seed),
            "Two faults from the catalogue are switched on in this run, with different guide entries, and neither \
             stops the run before the other can show. Name an entry for each; the order does not matter. The \
             detector's diagnosis stays hidden until you have guessed.",
            ("One hidden fault", Route::MYSTERY),
        )
    };
    let next = Route::Mystery { faults: round.faults, seed: Some(round.seed.wrapping_add(1)) };
    view! {
        <main class="layout mystery">
            <section class="panel side mystery-head" aria-labelledby="mystery-title">
                <h1 id="mystery-title">{title}</h1>
                <p>{intro}</p>
                {unreadable.map(|n| view! { <p class="notice" role="status">{n}</p> })}
                <p class="mystery-score">"Your score: " <span id="mystery-score">{move || score.with(score_text)}</span></p>
                <div class="controls">
                    <button id="mystery-start" class="primary" on:click=start disabled=move || started.get()>
                        "Start the mystery run"
                    </button>
                    <a class="button-link" href=next.href()>"Next round"</a>
                    <a id="mystery-mode" class="button-link" href=other_mode.1.href()>{other_mode.0}</a>
                </div>
                <div class="mystery-guess">
                    {selects}
                    <button
                        id="mystery-submit"
                        on:click=submit
                        disabled=move || !started.get() || reveal.with(Option::is_some) || incomplete()
                    >
                        "Guess"
                    </button>
                </div>
                {move || reveal.get().map(|r| view! { <RevealCard controller form round reveal=r /> })}
            </section>
            <section class="panel stats-panel" aria-label="Run status">
                <RunStats view />
            </section>
            <section class="panel charts-panel" aria-label="Training">
                <LossChart view comparison=controller.runs.comparison />
                <SamplePanel view />
                <TelemetryCharts view comparison=controller.runs.comparison />
            </section>
        </main>
    }
}

/// The hidden faults and what the detector read, beside the learner's guesses.
#[component]
fn RevealCard(controller: Controller, form: RwSignal<RunForm>, round: Round, reveal: Reveal) -> impl IntoView {
    let faults = hidden_faults(round);
    let suffix = |i: usize| if i == 0 { String::new() } else { format!("-{}", i + 1) };
    let verdict_text = |v: Verdict| match v {
        Verdict::Right => "Right: that is the fault's entry (2 points).",
        Verdict::SameSection => "Close: the right section of the guide, another entry (1 point).",
        Verdict::Wrong => "Not this time (0 points).",
    };
    // One row per hidden fault: the fault, the guess judged against it, and the verdict.
    let rows = faults
        .iter()
        .zip(reveal.iter())
        .enumerate()
        .map(|(i, (fault, &(verdict, guess)))| {
            let answer = fault.guide_entry;
            let heading =
                if round.faults == 1 { "The hidden fault".to_string() } else { format!("Hidden fault {}", i + 1) };
            view! {
                <div class="mystery-row" data-verdict=verdict.as_str()>
                    <div>
                        <h2>{heading}</h2>
                        <p id=format!("mystery-answer{}", suffix(i))>
                            <code>{fault.id.as_str()}</code>
                            {format!(": {}. ", fault.summary)}
                            <a href=entry_href(answer)>{answer.title()}</a>
                        </p>
                    </div>
                    <div>
                        <h2>"Your guess"</h2>
                        <p id=format!("mystery-your-guess{}", suffix(i))>
                            {guess.map(|e| view! { <a href=entry_href(e)>{e.title()}</a> })}
                        </p>
                    </div>
                    <p class="verdict">{verdict_text(verdict)}</p>
                </div>
            }
        })
        .collect_view();
    let data_verdict = reveal.iter().map(|(v, _)| v.as_str()).collect::<Vec<_>>().join(" ");
    let detector = move || {
        controller.view.with(|v| {
            if v.findings().is_empty() {
                return view! { <p>"The detector has found nothing yet: the run may need more steps."</p> }.into_any();
            }
            v.findings()
                .iter()
                .map(|f| {
                    let title = f.entry.title();
                    let lines = f.evidence.iter().map(|l| view! { <li>{l.to_string()}</li> }).collect_view();
                    view! {
                        <div class="mystery-finding">
                            <a href=entry_href(f.entry)>{title}</a>
                            {format!(" ({:.0}%)", f.confidence * 100.0)}
                            <ul>{lines}</ul>
                        </div>
                    }
                })
                .collect_view()
                .into_any()
        })
    };
    let open = move |_| form.update(|f| *f = round_form(round).keeping_own_text(f));
    view! {
        <div id="mystery-reveal" class="mystery-reveal" data-verdict=data_verdict role="status">
            {rows}
            <div class="mystery-detector">
                <h2>"What the detector read"</h2>
                {detector}
            </div>
            <p>
                <a href=Route::Trainer.href() on:click=open>"Open this run's settings on the trainer"</a>
            </p>
        </div>
    }
}
