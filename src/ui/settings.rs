//! The run settings, one field per row of the engine's settings table, each with its inline error. The
//! first few are always shown; the rest sit under "More settings", which opens by itself when one of
//! them differs from its default or is wrong.

use crate::form::{FieldErrors, RunForm, MAIN_SETTINGS};
use faultline_engine::data::CorpusId;
use faultline_engine::settings::{setting, Setting, SettingKind, SETTINGS};
use faultline_engine::Preset;
use leptos::prelude::*;

#[component]
pub fn RunSettings(form: RwSignal<RunForm>, errors: Memo<FieldErrors>) -> impl IntoView {
    let main = MAIN_SETTINGS.iter().filter_map(|key| setting(key)).map(|s| field(form, errors, s)).collect_view();
    let more: Vec<&'static Setting> = SETTINGS.iter().filter(|s| !MAIN_SETTINGS.contains(&s.key)).collect();
    let keys: Vec<&'static str> = more.iter().map(|s| s.key).collect();
    let open = Memo::new(move |_| {
        let changed = form.with(|f| keys.iter().any(|k| f.differs_from_default(k)));
        changed
            || errors.with(|es| {
                es.iter().any(|e| !MAIN_SETTINGS.contains(&e.field.as_str()) && !e.field.starts_with("fault-"))
            })
    });
    let more = more.into_iter().map(|s| field(form, errors, s)).collect_view();
    view! {
        <fieldset class="settings">
            <legend>"Run settings"</legend>
            {main}
            <details class="more-settings" prop:open=open>
                <summary>"More settings"</summary>
                {more}
            </details>
            <p class="note">"Changes apply to the next run."</p>
        </fieldset>
    }
}

fn field(form: RwSignal<RunForm>, errors: Memo<FieldErrors>, s: &'static Setting) -> AnyView {
    match s.kind {
        SettingKind::Choice(options) => view! { <SelectField form errors setting=s options /> }.into_any(),
        SettingKind::Flag => view! { <FlagField form errors setting=s /> }.into_any(),
        SettingKind::Integer { .. } => view! { <TextField form errors setting=s mode="numeric" /> }.into_any(),
        SettingKind::Number { .. } => view! { <TextField form errors setting=s mode="decimal" /> }.into_any(),
    }
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
    setting: &'static Setting,
    mode: &'static str,
) -> impl IntoView {
    let name = setting.key;
    let error = field_error(errors, name);
    view! {
        <div class="field" class:invalid=move || error().is_some()>
            <label for=name>{setting.label}</label>
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
            <p class="hint" id=format!("{name}-hint")>{setting.help}</p>
            <FieldError errors name />
        </div>
    }
}

#[component]
fn FlagField(form: RwSignal<RunForm>, errors: Memo<FieldErrors>, setting: &'static Setting) -> impl IntoView {
    let name = setting.key;
    let on = move || form.with(|f| matches!(f.get(name).trim(), "on" | "true" | "1"));
    view! {
        <div class="field flag">
            <label>
                <input
                    id=name
                    name=name
                    type="checkbox"
                    aria-describedby=format!("{name}-hint {name}-error")
                    prop:checked=on
                    on:change:target=move |ev| {
                        let value = if ev.target().checked() { "on" } else { "off" };
                        form.update(|f| f.set(name, value.to_string()));
                    }
                />
                " "
                {setting.label}
            </label>
            <p class="hint" id=format!("{name}-hint")>{setting.help}</p>
            <FieldError errors name />
        </div>
    }
}

/// What each choice means, shown under the select.
fn describe_choice(key: &str, id: &str) -> String {
    match key {
        "config" => Preset::parse(id).map(preset_hint).unwrap_or_default(),
        "corpus" => CorpusId::parse(id).map(|c| c.description().to_string()).unwrap_or_default(),
        _ => String::new(),
    }
}

fn preset_hint(p: Preset) -> String {
    let m = p.model(0);
    format!("{} layers, width {}, context {}, batch {}", m.n_layers, m.d_model, m.context, p.batch_size())
}

#[component]
fn SelectField(
    form: RwSignal<RunForm>,
    errors: Memo<FieldErrors>,
    setting: &'static Setting,
    options: &'static [&'static str],
) -> impl IntoView {
    let name = setting.key;
    let hint = move || {
        let described = form.with(|f| describe_choice(name, f.get(name)));
        if described.is_empty() {
            setting.help.to_string()
        } else {
            described
        }
    };
    view! {
        <div class="field">
            <label for=name>{setting.label}</label>
            <select
                id=name
                name=name
                aria-describedby=format!("{name}-hint {name}-error")
                on:change:target=move |ev| form.update(|f| f.set(name, ev.target().value()))
            >
                {options
                    .iter()
                    .map(|&id| {
                        let selected = move || form.with(|f| f.get(name) == id);
                        view! {
                            <option value=id title=describe_choice(name, id) prop:selected=selected>
                                {id}
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
