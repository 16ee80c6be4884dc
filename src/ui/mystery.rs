//! Mystery mode's page: start a run with a hidden fault, watch its measurements (the detector's panel
//! is not shown), name the guide entry, then see the hidden fault, the detector's evidence and the
//! guess side by side.

use super::controller::Controller;
use super::loss_chart::LossChart;
use super::sample::SamplePanel;
use super::stats::RunStats;
use super::telemetry::TelemetryCharts;
use crate::form::RunForm;
use crate::mystery::{hidden_fault, judge, round_form, Score, Verdict, SCORE_KEY};
use crate::route::{entry_href, Route};
use faultline_engine::guide::{self, SECTIONS};
use leptos::prelude::*;

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

fn load_score() -> (Score, Option<String>) {
    let text = storage().and_then(|s| s.get_item(SCORE_KEY).ok()?);
    Score::load(text.as_deref())
}

fn save_score(score: Score) {
    if let Some(s) = storage() {
        s.set_item(SCORE_KEY, &score.to_text()).ok();
    }
}

/// A seed for a new round when the link names none.
fn fresh_seed() -> u64 {
    (js_sys::Math::random() * 1e9) as u64
}

/// What the learner sees once they have guessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reveal {
    guess: &'static str,
    verdict: Verdict,
}

#[component]
pub fn MysteryPage(controller: Controller, form: RwSignal<RunForm>, seed: Option<u64>) -> impl IntoView {
    let seed = seed.unwrap_or_else(fresh_seed);
    let (stored, unreadable) = load_score();
    let score = RwSignal::new(stored);
    let started = RwSignal::new(false);
    let guess = RwSignal::new(String::new());
    let reveal = RwSignal::new(None::<Reveal>);
    let view = controller.view;
    let start = move |_| {
        if let Ok(config) = round_form(seed).to_config() {
            controller.start_hidden(config, format!("mystery run #{seed}"));
            started.set(true);
        }
    };
    let submit = move |_| {
        let Some(entry) = guess.with(|g| guide::entry(g)) else { return };
        let verdict = judge(seed, entry.id);
        score.update(|s| s.add(verdict));
        save_score(score.get_untracked());
        reveal.set(Some(Reveal { guess: entry.id, verdict }));
    };
    let options = SECTIONS
        .iter()
        .map(|s| {
            let entries = guide::ENTRIES
                .iter()
                .filter(|e| e.section_id == s.id)
                .map(|e| view! { <option value=e.id>{e.title}</option> })
                .collect_view();
            view! { <optgroup label=s.title>{entries}</optgroup> }
        })
        .collect_view();
    let score_text =
        move || score.with(|s| format!("{} points from {} rounds ({} named exactly)", s.points, s.rounds, s.right));
    view! {
        <main class="layout mystery">
            <section class="panel side mystery-head" aria-labelledby="mystery-title">
                <h1 id="mystery-title">{format!("Mystery run #{seed}")}</h1>
                <p>
                    "One fault from the catalogue is switched on in this run, and its settings are hidden. Watch the loss, "
                    "the gradients, the attention and the samples, then name the guide entry they point to. The detector's "
                    "diagnosis stays hidden until you have guessed."
                </p>
                {unreadable.map(|n| view! { <p class="notice" role="status">{n}</p> })}
                <p class="mystery-score">"Your score: " <span id="mystery-score">{score_text}</span></p>
                <div class="controls">
                    <button id="mystery-start" class="primary" on:click=start disabled=move || started.get()>
                        "Start the mystery run"
                    </button>
                    <a class="button-link" href=format!("#/mystery/{}", seed.wrapping_add(1))>"Next round"</a>
                </div>
                <div class="mystery-guess">
                    <label for="mystery-guess">"Which guide entry explains what you see?"</label>
                    <select id="mystery-guess" on:change=move |ev| guess.set(event_target_value(&ev)) prop:value=move || guess.get()>
                        <option value="">"Choose an entry…"</option>
                        {options}
                    </select>
                    <button
                        id="mystery-submit"
                        on:click=submit
                        disabled=move || !started.get() || reveal.with(Option::is_some) || guess.with(String::is_empty)
                    >
                        "Guess"
                    </button>
                </div>
                {move || reveal.get().map(|r| view! { <RevealCard controller form seed reveal=r /> })}
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

/// The hidden fault and what the detector read, beside the learner's guess.
#[component]
fn RevealCard(controller: Controller, form: RwSignal<RunForm>, seed: u64, reveal: Reveal) -> impl IntoView {
    let fault = hidden_fault(seed);
    let answer = guide::entry(fault.guide_entry);
    let guessed = guide::entry(reveal.guess);
    let verdict = match reveal.verdict {
        Verdict::Right => "Right: that is the fault's entry (2 points).",
        Verdict::SameSection => "Close: the right section of the guide, another entry (1 point).",
        Verdict::Wrong => "Not this time (0 points).",
    };
    let detector = move || {
        controller.view.with(|v| {
            if v.findings().is_empty() {
                return view! { <p>"The detector has found nothing yet: the run may need more steps."</p> }.into_any();
            }
            v.findings()
                .iter()
                .map(|f| {
                    let title = guide::entry(&f.entry).map_or(f.entry.as_str(), |e| e.title).to_string();
                    let lines = f.evidence.iter().map(|l| view! { <li>{l.clone()}</li> }).collect_view();
                    view! {
                        <div class="mystery-finding">
                            <a href=entry_href(&f.entry)>{title}</a>
                            {format!(" ({:.0}%)", f.score * 100.0)}
                            <ul>{lines}</ul>
                        </div>
                    }
                })
                .collect_view()
                .into_any()
        })
    };
    let open = move |_| form.update(|f| *f = RunForm::show_me(fault.id).keeping_own_text(f));
    view! {
        <div id="mystery-reveal" class="mystery-reveal" data-verdict=reveal.verdict.as_str() role="status">
            <p class="verdict">{verdict}</p>
            <div class="side-by-side">
                <div>
                    <h3>"Your guess"</h3>
                    <p id="mystery-your-guess">
                        {guessed.map(|e| view! { <a href=entry_href(e.id)>{e.title}</a> })}
                    </p>
                </div>
                <div>
                    <h3>"The hidden fault"</h3>
                    <p id="mystery-answer">
                        <code>{fault.id}</code>
                        {format!(": {}. ", fault.summary)}
                        {answer.map(|e| view! { <a href=entry_href(e.id)>{e.title}</a> })}
                    </p>
                </div>
                <div>
                    <h3>"What the detector read"</h3>
                    {detector}
                </div>
            </div>
            <p>
                <a href=Route::Trainer.href() on:click=open>"Open this run's settings on the trainer"</a>
            </p>
        </div>
    }
}
