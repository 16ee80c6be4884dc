//! The run settings: model size, corpus, learning rate, steps and seed, each with its inline error.

use crate::form::{FieldErrors, RunForm};
use faultline_engine::data::CorpusId;
use faultline_engine::Preset;
use leptos::prelude::*;

#[component]
pub fn RunSettings(form: RwSignal<RunForm>, errors: Memo<FieldErrors>) -> impl IntoView {
    let presets: Vec<(String, String)> = Preset::ALL.iter().map(|p| (p.id().to_string(), preset_hint(*p))).collect();
    let corpora: Vec<(String, String)> =
        CorpusId::ALL.iter().map(|c| (c.id().to_string(), c.description().to_string())).collect();
    view! {
        <fieldset class="settings">
            <legend>"Run settings"</legend>
            <SelectField form errors name="config" label="Model size" options=presets />
            <SelectField form errors name="corpus" label="Training text" options=corpora />
            <TextField form errors name="lr" label="Learning rate" mode="decimal" hint="peak rate after warmup, e.g. 0.003" />
            <TextField form errors name="steps" label="Steps" mode="numeric" hint="optimiser steps to train" />
            <TextField form errors name="seed" label="Seed" mode="numeric" hint="same seed, same run" />
            <p class="note">"Changes apply to the next run."</p>
        </fieldset>
    }
}

fn preset_hint(p: Preset) -> String {
    let m = p.model(0);
    format!("{} layers, width {}, context {}, batch {}", m.n_layers, m.d_model, m.context, p.batch_size())
}

/// The message for `name`, if the form has one.
fn field_error(errors: Memo<FieldErrors>, name: &'static str) -> impl Fn() -> Option<String> + Copy {
    move || errors.with(|es| es.iter().find(|e| e.field == name).map(|e| e.to_string()))
}

#[component]
fn FieldError(errors: Memo<FieldErrors>, name: &'static str) -> impl IntoView {
    let error = field_error(errors, name);
    move || {
        error().map(|message| {
            view! { <p class="field-error" id=format!("{name}-error") data-error-for=name role="alert">{message}</p> }
        })
    }
}

#[component]
fn TextField(
    form: RwSignal<RunForm>,
    errors: Memo<FieldErrors>,
    name: &'static str,
    label: &'static str,
    mode: &'static str,
    hint: &'static str,
) -> impl IntoView {
    let error = field_error(errors, name);
    view! {
        <div class="field" class:invalid=move || error().is_some()>
            <label for=name>{label}</label>
            <input
                id=name
                name=name
                type="text"
                inputmode=mode
                autocomplete="off"
                spellcheck="false"
                aria-invalid=move || if error().is_some() { "true" } else { "false" }
                aria-describedby=format!("{name}-hint {name}-error")
                prop:value=move || form.with(|f| f.get(name).to_string())
                on:input:target=move |ev| form.update(|f| f.set(name, ev.target().value()))
            />
            <p class="hint" id=format!("{name}-hint")>{hint}</p>
            <FieldError errors name />
        </div>
    }
}

#[component]
fn SelectField(
    form: RwSignal<RunForm>,
    errors: Memo<FieldErrors>,
    name: &'static str,
    label: &'static str,
    /// (value, description) pairs.
    options: Vec<(String, String)>,
) -> impl IntoView {
    let descriptions = options.clone();
    let hint = move || {
        form.with(|f| descriptions.iter().find(|(id, _)| id == f.get(name)).map(|(_, d)| d.clone()).unwrap_or_default())
    };
    view! {
        <div class="field">
            <label for=name>{label}</label>
            <select
                id=name
                name=name
                aria-describedby=format!("{name}-hint {name}-error")
                on:change:target=move |ev| form.update(|f| f.set(name, ev.target().value()))
            >
                {options
                    .into_iter()
                    .map(|(id, description)| {
                        let selected = {
                            let id = id.clone();
                            move || form.with(|f| f.get(name) == id)
                        };
                        view! {
                            <option value=id.clone() title=description prop:selected=selected>
                                {id.clone()}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            <p class="hint" id=format!("{name}-hint")>{hint}</p>
            <FieldError errors name />
        </div>
    }
}
