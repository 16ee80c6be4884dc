//! The alignment page's mystery round (`#/align/mystery/<seed>`): a short fine-tuning run, DPO or
//! policy-gradient, with one of that method's faults, or none, hidden; the learner watches its status,
//! charts and samples (the
//! detector's reading and the settings it ran with stay hidden), says what it shows once it has ended,
//! and then sees the hidden truth, the detector's reading judged the same way, and what Faultline
//! measured where the fault's symptom is not its entry's.

use super::super::controller::Controller;
use super::super::mystery::{entry_options, fresh_seed};
use super::charts::AlignCharts;
use super::findings::AlignFindings;
use super::reward_models::RewardModelTable;
use super::rl_charts::RlCharts;
use super::samples::BeforeAfter;
use super::status::AlignStatus;
use crate::align_mystery::{hidden_fault, judge, measured_note, round, round_form, short_run, Guess, HEALTHY, ROUNDS};
use crate::mystery::Verdict;
use crate::route::{entry_href, Route};
use faultline_engine::align::Method;
use leptos::prelude::*;

/// A verdict in words.
fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Right => "Right.",
        Verdict::SameSection => "Close: the right section of the guide, another entry.",
        Verdict::Wrong => "Not this time.",
    }
}

/// A guess as a link to its guide entry, or in words when it is "healthy".
fn guess_view(guess: Guess) -> AnyView {
    match guess {
        Guess::Healthy => guess.title().into_any(),
        Guess::Entry(entry) => view! { <a href=entry_href(entry)>{entry.title()}</a> }.into_any(),
    }
}

#[component]
pub fn AlignMysteryPage(controller: Controller, seed: Option<u64>) -> impl IntoView {
    let seed = seed.unwrap_or_else(fresh_seed);
    let view = controller.align.view;
    let started = RwSignal::new(false);
    let guess = RwSignal::new(String::new());
    let guessed = RwSignal::new(None::<Guess>);
    let start = move |_| {
        let form = round_form(seed);
        if let (Ok(config), Some(method)) = (form.to_config(), form.method()) {
            controller.start_alignment_of(config, method);
            started.set(true);
        }
    };
    let ended = move || started.get() && view.with(|v| !v.state.is_active());
    let state = move || if started.get() { view.with(|v| v.state.as_str()) } else { "idle" };
    let submit = move |_| {
        if ended() {
            guessed.set(guess.with(|g| Guess::parse(g)));
        }
    };
    let method = round(seed).method;
    let short_run = short_run(method)
        .iter()
        .map(|(key, value)| view! { <li><code>{format!("{}={value}", key.as_str())}</code></li> });
    let (fine_tunes, watch) = match method {
        Method::Dpo => ("DPO", "the DPO loss against ln 2, the margin, the KL and the samples"),
        Method::Rl => (
            "a policy gradient against reward models",
            "the proxy reward against the true quality, the KL and the samples",
        ),
    };
    let lede = format!(
        "This run fine-tunes with {fine_tunes}. One of that method's faults is switched on, or none is: each \
         method's healthy run is one of the {} equally likely rounds, beside a run with each of its faults. Watch \
         {watch}, then say which guide entry the run shows, or that nothing is wrong. The detector's reading and \
         the settings the run used stay hidden until you have answered.",
        ROUNDS.len()
    );
    let charts = move || match method {
        Method::Dpo => view! { <AlignCharts view /> }.into_any(),
        Method::Rl => view! { <RlCharts view /> <RewardModelTable view /> }.into_any(),
    };
    view! {
        <main class="align align-mystery" id="align" data-state=state>
            <h1 id="align-mystery-title">{format!("Mystery fine-tuning run #{seed}")}</h1>
            <p class="lede">
                {lede}
            </p>
            <div class="align-layout">
                <section class="panel align-side mystery-head" aria-label="Mystery round">
                    <p>"The round's run, the alignment page's defaults but for:"</p>
                    <ul class="plain">{short_run.collect_view()}</ul>
                    <div class="controls">
                        <button id="align-mystery-start" class="primary" on:click=start disabled=move || started.get()>
                            "Start the mystery run"
                        </button>
                        <a class="button-link" href=Route::AlignMystery(Some(seed.wrapping_add(1))).href()>
                            "Next round"
                        </a>
                    </div>
                    <div class="mystery-guess">
                        <label for="align-mystery-guess">"What does the run show?"</label>
                        <select
                            id="align-mystery-guess"
                            on:change=move |ev| guess.set(event_target_value(&ev))
                            prop:value=move || guess.get()
                        >
                            <option value="">"Choose…"</option>
                            <option value=HEALTHY>{Guess::Healthy.title()}</option>
                            {entry_options()}
                        </select>
                        <button
                            id="align-mystery-submit"
                            on:click=submit
                            disabled=move || !ended() || guessed.with(Option::is_some) || guess.with(String::is_empty)
                        >
                            "Answer"
                        </button>
                        <p class="note">"You can answer once the run has ended."</p>
                    </div>
                    {move || guessed.get().map(|guess| view! { <RoundReveal controller seed guess /> })}
                </section>
                <div class="align-results">
                    <Show when=move || started.get()>
                        <AlignStatus view mystery=true />
                        <Show when=move || view.with(|v| v.info.is_some())>
                            {charts}
                            <BeforeAfter view />
                        </Show>
                    </Show>
                </div>
            </div>
        </main>
    }
}

/// The hidden truth beside the learner's answer and the detector's reading, each judged; the
/// measured note where the fault's symptom is not its entry's; the detector's findings in full.
#[component]
fn RoundReveal(controller: Controller, seed: u64, guess: Guess) -> impl IntoView {
    let view = controller.align.view;
    let verdict = judge(seed, guess);
    let truth = match hidden_fault(seed) {
        Some(id) => {
            let entry = id.spec().guide_entry;
            view! {
                <code>{id.as_str()}</code>
                {format!(": {}. Its guide entry: ", id.spec().summary)}
                <a href=entry_href(entry)>{entry.title()}</a>
            }
            .into_any()
        }
        None => "No fault: a healthy run.".into_any(),
    };
    let detector = Memo::new(move |_| view.with(|v| v.findings.as_deref().map(Guess::of_detector)));
    let detector_row = move || match detector.get() {
        Some(said) => {
            let judged = judge(seed, said);
            view! {
                <p id="align-mystery-detector" data-verdict=judged.as_str()>
                    "The detector said: " {guess_view(said)} ". " {verdict_text(judged)}
                </p>
            }
            .into_any()
        }
        None => view! { <p id="align-mystery-detector">"The detector read nothing: the run ended too early."</p> }
            .into_any(),
    };
    let loss_moved = move || {
        view.with(|v| match (v.steps.first(), v.steps.last()) {
            (Some(first), Some(last)) => {
                format!("In this run the DPO loss went from {:.3} to {:.3}. ", first.loss, last.loss)
            }
            _ => String::new(),
        })
    };
    let note = measured_note(seed).map(|m| {
        view! {
            <div id="align-mystery-measured" class="mystery-measured">
                <h3>"What Faultline measured for this fault"</h3>
                <p>{format!("The guide says {}. Measured: {}", m.guide_says, m.measured)}</p>
                <p>
                    {loss_moved}
                    "Its symptom is not a flat loss, so the detector, which names a flat loss near ln 2, stays quiet. "
                    "The guide's entry is still where this fault's cause is written, so naming it counts as right."
                </p>
            </div>
        }
    });
    let answer_value = hidden_fault(seed).map_or(HEALTHY, |id| id.as_str());
    let open = move |_| controller.align.form.set(round_form(seed));
    view! {
        <div
            id="align-mystery-reveal"
            class="mystery-reveal"
            data-verdict=verdict.as_str()
            data-answer=answer_value
            role="status"
        >
            <div class="mystery-row" data-verdict=verdict.as_str()>
                <div>
                    <h3>"The hidden fault"</h3>
                    <p id="align-mystery-answer">{truth}</p>
                </div>
                <div>
                    <h3>"Your answer"</h3>
                    <p id="align-mystery-your-guess">{guess_view(guess)}</p>
                </div>
                <p class="verdict">{verdict_text(verdict)}</p>
            </div>
            {detector_row}
            {note}
            <AlignFindings view />
            <p>
                <a href=Route::Align(round(seed).method).href() on:click=open>"Open this round's settings on the alignment page"</a>
            </p>
        </div>
    }
}
