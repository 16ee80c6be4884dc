//! The symptom panel: what the detector reads in the run's telemetry, next to the guide entries that
//! explain it, with the fixes that are settings one click away.

use super::controller::Controller;
use super::guide_text::{bullets, causes, snippets};
use crate::form::RunForm;
use crate::route::entry_href;
use crate::symptoms::{fixes_for, pointed_cause, shown};
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
    view! {
        <aside id="symptoms" class="panel symptoms" hidden=move || entries.with(Vec::is_empty) aria-labelledby="symptoms-title">
            <h2 id="symptoms-title">"What the run shows"</h2>
            <p class="note">{intro}</p>
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
    let score = move || finding.with(|f| f.as_ref().map(|f| format!("{:.0}%", f.score * 100.0)).unwrap_or_default());
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
                <span class="score" title="how strongly the evidence points here">{score}</span>
            </header>
            <p class="finding-section">{entry.section.title()}</p>
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
