//! The symptom panel: what the detector reads in the run's telemetry, next to the guide entries that
//! explain it, with the fixes that are settings one click away.

use super::controller::Controller;
use super::finding::FindingAnnouncer;
use super::guide_text::{bullets, causes, snippets};
use crate::form::RunForm;
use crate::route::entry_href;
use crate::symptoms::{fixes_for, pointed_cause, shown};
use faultline_engine::diagnosis::settles;
use faultline_engine::guide::GuideEntry;
use leptos::prelude::*;

#[component]
pub fn SymptomPanel(controller: Controller, form: RwSignal<RunForm>) -> impl IntoView {
    let view = controller.view;
    let entries = Memo::new(move |_| view.with(|v| shown(v.findings()).iter().map(|f| f.entry).collect::<Vec<_>>()));
    let read_at = move || view.with(|v| v.diagnosis.as_ref().map_or(0, |d| d.step));
    let intro = move || {
        let n = view.with(|v| v.findings().len());
        let more = n.saturating_sub(entries.with(Vec::len));
        let others = if more > 0 { format!(" ({more} weaker findings not shown)") } else { String::new() };
        format!(
            "Read from the telemetry at step {}: the detector sees only the measurements, never the fault switches{others}.",
            read_at()
        )
    };
    let named = Signal::derive(move || view.with(|v| (v.run, shown(v.findings()).to_vec())));
    let watched = move || view.with(|v| v.watching().to_vec());
    let nothing_named = move || entries.with(Vec::is_empty);
    let hidden = move || nothing_named() && watched().is_empty();
    view! {
        <FindingAnnouncer id="finding-announcement" findings=named />
        <aside id="symptoms" class="panel symptoms" hidden=hidden aria-labelledby="symptoms-title">
            <h2 id="symptoms-title">"What the run shows"</h2>
            <Show when=move || !nothing_named()>
                <p class="note">{intro}</p>
            </Show>
            <Show when=nothing_named>
                <p class="note" id="nothing-conclusive">
                    {move || format!("Nothing conclusive yet at step {}. The detector is watching:", read_at())}
                </p>
                <ul class="watching">
                    {move || {
                        watched()
                            .into_iter()
                            .map(|f| {
                                view! {
                                    <li data-watching=f.entry.as_str()>
                                        <a href=entry_href(f.entry)>{f.entry.title()}</a>
                                        {format!(" ({:.0}% confidence, below the 50% it takes to name it). ", f.confidence * 100.0)}
                                        {settles(f.entry)}
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
            </Show>
            <For
                each=move || entries.get().into_iter().enumerate()
                key=|pair| *pair
                children=move |(rank, id)| view! { <FindingCard controller form entry=id.entry() rank /> }
            />
        </aside>
    }
}

#[component]
fn FindingCard(
    controller: Controller,
    form: RwSignal<RunForm>,
    entry: &'static GuideEntry,
    rank: usize,
) -> impl IntoView {
    let view = controller.view;
    let finding = Memo::new(move |_| view.with(|v| v.findings().iter().find(|f| f.entry == entry.id).cloned()));
    let confidence = move || {
        finding.with(|f| f.as_ref().map(|f| format!("{:.0}% confidence", f.confidence * 100.0)).unwrap_or_default())
    };
    let first_seen = move || {
        finding.with(|f| match f.as_ref().and_then(|f| f.first_step) {
            Some(step) => format!("First seen at step {step}."),
            None => "Seen before the first step.".to_string(),
        })
    };
    let evidence = move || {
        finding.with(|f| {
            f.iter().flat_map(|f| f.evidence.iter()).map(|line| view! { <li>{line.to_string()}</li> }).collect_view()
        })
    };
    let pointed = Memo::new(move |_| {
        finding.with(|f| {
            let f = f.as_ref()?;
            view.with(|v| pointed_cause(entry, f, v.config.as_ref(), v.info.as_ref()))
        })
    });
    let fixes = Memo::new(move |_| {
        view.with(|v| v.config.as_ref().map(|c| fixes_for(entry.id, c, v.vocab_size())).unwrap_or_default())
    });
    let fix_buttons = move || {
        fixes
            .get()
            .into_iter()
            .map(|fix| {
                let config = fix.config.clone();
                let apply = move |_| {
                    form.update(|f| *f = RunForm::from_config(&config).keeping_own_text(f));
                    controller.start(config.clone(), false);
                };
                view! {
                    <button type="button" class="fix" data-fix=fix.id on:click=apply>
                        {fix.label}
                    </button>
                }
            })
            .collect_view()
    };
    view! {
        <article class="finding" class:top=rank == 0 data-entry=entry.id.as_str()>
            <header class="finding-head">
                <h3>
                    <a href=entry_href(entry.id)>{entry.title}</a>
                </h3>
                <span class="score" title="on runs the detector was not tuned on, findings this confident were right about this often">
                    {confidence}
                </span>
            </header>
            <p class="finding-section">{entry.section.title()}</p>
            <p class="finding-when">
                {first_seen} " What would settle it: " {settles(entry.id)}
            </p>
            <h4>"Measured"</h4>
            <ul class="evidence">{evidence}</ul>
            <Show when=move || fixes.with(|f| !f.is_empty())>
                <div class="fixes" role="group" aria-label="Apply a fix and restart">
                    <p class="fixes-title">"Apply a fix and restart:"</p>
                    {fix_buttons}
                </div>
            </Show>
            <details class="guide-detail" open=rank == 0>
                <summary>"What the guide says"</summary>
                <p>{entry.summary}</p>
                <h4>"Symptoms"</h4>
                {bullets(entry.symptoms)}
                <Show when=move || !entry.causes.is_empty()>
                    <h4>"Causes"</h4>
                    {move || causes(entry.causes, pointed.get())}
                </Show>
                <h4>"Diagnosis"</h4>
                {snippets(entry.diagnosis)}
                <h4>"Fixes"</h4>
                {snippets(entry.fixes)}
                <p class="more">
                    <a href=entry_href(entry.id)>"Read the full entry"</a>
                </p>
            </details>
        </article>
    }
}
