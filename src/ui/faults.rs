//! The fault switches of one stage (the trainer's pretraining faults, the alignment page's fine-tuning
//! faults), grouped by the guide section whose symptoms they produce: each with its one-line summary,
//! its strength where it has one, and a "show me" link that sets up the run where its symptom shows.

use crate::form::{fault_field, FieldErrors, RunForm};
use crate::route::entry_href;
use faultline_engine::faults::{FaultId, FaultSpec};
use faultline_engine::guide::SectionId;
use leptos::prelude::*;

/// The guide sections that have faults among `faults`, in the table's order.
fn sections(faults: &[&'static FaultSpec]) -> Vec<SectionId> {
    let mut seen: Vec<SectionId> = Vec::new();
    for f in faults {
        if !seen.contains(&f.guide_entry.section()) {
            seen.push(f.guide_entry.section());
        }
    }
    seen
}

#[component]
pub fn FaultPanel(
    form: RwSignal<RunForm>,
    errors: Memo<FieldErrors>,
    faults: Vec<&'static FaultSpec>,
) -> impl IntoView {
    let sections = sections(&faults);
    // Faults that all produce one section's symptoms (fine-tuning's) show open.
    let alone = sections.len() == 1;
    let groups = sections
        .into_iter()
        .map(|section| {
            let specs: Vec<&'static FaultSpec> =
                faults.iter().copied().filter(|f| f.guide_entry.section() == section).collect();
            let ids: Vec<FaultId> = specs.iter().map(|f| f.id).collect();
            let on_count = Memo::new(move |_| form.with(|f| ids.iter().filter(|&&id| f.fault(id).on).count()));
            let open = Memo::new(move |_| alone || on_count.get() > 0);
            let rows = specs.into_iter().map(|spec| view! { <FaultRow form errors spec /> }).collect_view();
            view! {
                <details class="fault-section" data-section=section.title() prop:open=open>
                    <summary>
                        {section.title()}
                        <span class="on-count" class:active=move || { on_count.get() > 0 }>
                            {move || match on_count.get() {
                                0 => String::new(),
                                n => format!("{n} on"),
                            }}
                        </span>
                    </summary>
                    <ul class="fault-list">{rows}</ul>
                </details>
            }
        })
        .collect_view();
    view! {
        <fieldset id="faults" class="faults" aria-describedby="faults-note">
            <legend>"Break it"</legend>
            <p class="note" id="faults-note">
                "Each switch changes the real computation. Turn one on and press Start, or let "
                <em>"show me"</em>
                " set up the run where its symptom shows."
            </p>
            {groups}
        </fieldset>
    }
}

#[component]
fn FaultRow(form: RwSignal<RunForm>, errors: Memo<FieldErrors>, spec: &'static FaultSpec) -> impl IntoView {
    let id = spec.id;
    let field = fault_field(id);
    let error_field = field.clone();
    let error =
        Memo::new(move |_| errors.with(|es| es.iter().find(|e| e.field == error_field).map(|e| e.message.clone())));
    let on = move || form.with(|f| f.fault(id).on);
    let strength = spec.strength.map(|s| {
        let input_id = format!("{field}-strength");
        let label_for = input_id.clone();
        view! {
            <label class="strength" for=label_for>
                <span>{format!("{} ({} to {})", s.unit, s.min, s.max)}</span>
                <input
                    id=input_id
                    type="text"
                    inputmode="decimal"
                    autocomplete="off"
                    spellcheck="false"
                    aria-invalid=move || if error.with(Option::is_some) { "true" } else { "false" }
                    prop:value=move || form.with(|f| f.fault(id).strength.clone())
                    on:input:target=move |ev| form.update(|f| f.set_strength(id, ev.target().value()))
                />
            </label>
        }
    });
    let entry = spec.guide_entry;
    let scenario = if spec.scenario.is_empty() {
        "Sets up this fault with the default settings".to_string()
    } else {
        format!("Sets up this fault with {}", spec.scenario)
    };
    view! {
        <li class="fault" class:on=on class:invalid=move || error.with(Option::is_some)>
            <label class="fault-switch">
                <input
                    type="checkbox"
                    id=field.clone()
                    data-fault=id.as_str()
                    prop:checked=on
                    on:change:target=move |ev| form.update(|f| f.set_fault(id, ev.target().checked()))
                />
                <code>{id.as_str()}</code>
            </label>
            <p class="fault-summary">
                {spec.summary}
                " → "
                <a href=entry_href(entry)>{entry.title()}</a>
            </p>
            {strength}
            {move || {
                error.get().map(|message| {
                    view! { <p class="field-error" data-error-for=fault_field(id) role="alert">{message}</p> }
                })
            }}
            <button type="button" class="link show-me" data-show-me=id.as_str() title=scenario on:click=move |_| form.update(|f| *f = RunForm::show_me(id).keeping_own_text(f))>
                "show me"
            </button>
        </li>
    }
}
