//! The run settings, one field per row of the engine's settings table, each with its inline error. The
//! first few are always shown; the rest sit under "More settings", which opens by itself when one of
//! them differs from its default or is wrong.

use super::local_storage;
use crate::form::{human_bytes, FieldErrors, OwnText, RunForm, MAIN_SETTINGS, OWN_TEXT, OWN_TEXT_KEY};
use faultline_engine::data::CorpusId;
use faultline_engine::data::MAX_TEXT_BYTES;
use faultline_engine::settings::{Setting, SettingKey, SettingKind, SETTINGS};
use faultline_engine::Preset;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

#[component]
pub fn RunSettings(form: RwSignal<RunForm>, errors: Memo<FieldErrors>) -> impl IntoView {
    let main = MAIN_SETTINGS.iter().map(|key| field(form, errors, key.setting())).collect_view();
    let more: Vec<&'static Setting> = SETTINGS.iter().filter(|s| !MAIN_SETTINGS.contains(&s.key)).collect();
    let keys: Vec<SettingKey> = more.iter().map(|s| s.key).collect();
    let shown_first = |field: &str| MAIN_SETTINGS.iter().any(|key| key.as_str() == field);
    let open = Memo::new(move |_| {
        let changed = form.with(|f| keys.iter().any(|&k| f.differs_from_default(k)));
        changed || errors.with(|es| es.iter().any(|e| !shown_first(&e.field) && !e.field.starts_with("fault-")))
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
        SettingKind::Choice(options) if s.key == SettingKey::Corpus => {
            let options = options.iter().copied().chain([OWN_TEXT]).collect();
            view! {
                <SelectField form errors setting=s options />
                <OwnTextField form />
            }
            .into_any()
        }
        _ => table_field(form, errors, s),
    }
}

/// One setting's field as its row of the settings table declares it (a corpus among the built-in
/// ones), with its inline error.
pub(super) fn table_field(form: RwSignal<RunForm>, errors: Memo<FieldErrors>, s: &'static Setting) -> AnyView {
    match s.kind {
        SettingKind::Choice(options) => {
            view! { <SelectField form errors setting=s options=options.to_vec() /> }.into_any()
        }
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
    let key = setting.key;
    let name = key.as_str();
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
                prop:value=move || form.with(|f| f.get(key).to_string())
                on:input:target=move |ev| form.update(|f| f.set(key, ev.target().value()))
            />
            <p class="hint" id=format!("{name}-hint")>{setting.help}</p>
            <FieldError errors name />
        </div>
    }
}

#[component]
fn FlagField(form: RwSignal<RunForm>, errors: Memo<FieldErrors>, setting: &'static Setting) -> impl IntoView {
    let key = setting.key;
    let name = key.as_str();
    let on = move || form.with(|f| matches!(f.get(key).trim(), "on" | "true" | "1"));
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
                        form.update(|f| f.set(key, value.to_string()));
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
fn describe_choice(key: SettingKey, id: &str) -> String {
    match key {
        SettingKey::Config => Preset::parse(id).map(preset_hint).unwrap_or_default(),
        SettingKey::Corpus if id == OWN_TEXT => {
            format!("text you paste or read from a file, up to {}", human_bytes(MAX_TEXT_BYTES as u64))
        }
        SettingKey::Corpus => CorpusId::parse(id).map(|c| c.description().to_string()).unwrap_or_default(),
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
    options: Vec<&'static str>,
) -> impl IntoView {
    let key = setting.key;
    let name = key.as_str();
    let hint = move || {
        let described = form.with(|f| describe_choice(key, f.get(key)));
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
                on:change:target=move |ev| form.update(|f| f.set(key, ev.target().value()))
            >
                {options
                    .into_iter()
                    .map(|id| {
                        let selected = move || form.with(|f| f.get(key) == id);
                        view! {
                            <option value=id title=describe_choice(key, id) prop:selected=selected>
                                {if id == OWN_TEXT { "your own text" } else { id }}
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

/// Restores the learner's own text from the browser and keeps it there as it changes. Stored text that
/// cannot be used is kept aside under `<key>.unreadable` with a notice; a text the browser will not keep
/// (over its storage quota) gets a notice and lasts until the tab is closed.
pub fn keep_own_text(form: RwSignal<RunForm>, notices: RwSignal<Vec<String>>) {
    let storage = local_storage();
    if let Some(stored) = storage.as_ref().and_then(|s| s.get_item(OWN_TEXT_KEY).ok().flatten()) {
        match OwnText::from_stored(&stored) {
            Ok(own) => form.update(|f| f.restore_own_text(own)),
            Err(why) => {
                if let Some(s) = &storage {
                    s.set_item(&format!("{OWN_TEXT_KEY}.unreadable"), &stored).ok();
                }
                notices.update(|n| n.push(format!("{why}; it is kept aside in this browser.")));
            }
        }
    }
    let text = Memo::new(move |_| form.with(|f| f.own_text().clone()));
    Effect::new(move |previous: Option<()>| {
        let own = text.get();
        if previous.is_none() {
            return;
        }
        let Some(s) = local_storage() else { return };
        let saved = if own.text.is_empty() {
            s.remove_item(OWN_TEXT_KEY).is_ok()
        } else {
            s.set_item(OWN_TEXT_KEY, &own.to_stored()).is_ok()
        };
        let refused =
            "This browser would not keep your text (over its storage quota), so it lasts until you close the tab.";
        if !saved && notices.with_untracked(|n| !n.iter().any(|m| m == refused)) {
            notices.update(|n| n.push(refused.to_string()));
        }
    });
}

/// The learner's own text, shown when it is the chosen corpus: a text box to paste into, a file to read
/// instead, its size against the limit, and what is wrong with it. A refused file leaves the text alone.
#[component]
fn OwnTextField(form: RwSignal<RunForm>) -> impl IntoView {
    let chosen = Memo::new(move |_| form.with(RunForm::uses_own_text));
    let text = Memo::new(move |_| form.with(|f| f.own_text().text.clone()));
    let size = Memo::new(move |_| form.with(|f| f.own_text().size_line()));
    let source = Memo::new(move |_| form.with(|f| f.own_text().name.clone()));
    let message = Memo::new(move |_| form.with(|f| f.own_text().message()));
    let warning = Memo::new(move |_| form.with(|f| f.own_text().warning()));
    // Red only when the text itself is unusable; a refused file leaves a good text as it was.
    let invalid = Memo::new(move |_| form.with(|f| f.own_text().error().is_some()));
    let read_file = move |ev: web_sys::Event| {
        let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
        let Some(file) = input.files().and_then(|files| files.get(0)) else { return };
        input.set_value("");
        let name = file.name();
        if !form.try_update(|f| f.own_text_mut().accept_file_size(&name, file.size() as u64)).unwrap_or(false) {
            return;
        }
        let reading = wasm_bindgen_futures::JsFuture::from(file.array_buffer());
        leptos::task::spawn_local(async move {
            match reading.await {
                Ok(buffer) => {
                    let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
                    form.update(|f| f.own_text_mut().read_file(&name, bytes));
                }
                Err(_) => form.update(|f| f.own_text_mut().file_unreadable(&name)),
            }
        });
    };
    view! {
        <Show when=move || chosen.get()>
            <div class="field own-text" class:invalid=move || invalid.get()>
                <label for="own-text">{move || format!("Your text ({})", source.get())}</label>
                <textarea
                    id="own-text"
                    name="own-text"
                    rows="8"
                    spellcheck="false"
                    placeholder="Paste or type the text to train on"
                    aria-invalid=move || if invalid.get() { "true" } else { "false" }
                    aria-describedby="own-text-size own-text-warning own-text-error"
                    prop:value=move || text.get()
                    on:input:target=move |ev| form.update(|f| f.own_text_mut().set_text(ev.target().value()))
                ></textarea>
                <label class="own-text-file">
                    "or read a text file: "
                    <input id="own-text-file" type="file" accept=".txt,.md,.csv,.json,text/*" on:change=read_file />
                </label>
                <p class="hint" id="own-text-size">{move || size.get()}</p>
                {move || warning.get().map(|w| view! { <p class="field-warning" id="own-text-warning">{w}</p> })}
                {move || {
                    message
                        .get()
                        .map(|m| {
                            view! {
                                <p class="field-error" id="own-text-error" data-error-for=OWN_TEXT role="alert">
                                    {m}
                                </p>
                            }
                        })
                }}
            </div>
        </Show>
    }
}
