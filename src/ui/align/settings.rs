//! The alignment page's settings, one field per row of the settings table: the base model's (corpus,
//! seed, pretraining steps) and the fine-tuning ones the chosen method reads (β for DPO; the KL
//! coefficient, the reward models and the entropy bonus for the policy gradient; the learning rate,
//! LoRA rank, and `steps`, which here counts the method's steps); its faults; Start and Stop.

use super::super::controller::Controller;
use super::super::faults::FaultPanel;
use super::super::link::CopyLink;
use super::super::settings::table_field;
use crate::form::{FieldErrors, RunForm};
use faultline_engine::align::Method;
use faultline_engine::faults::{FaultId, Stage};
use faultline_engine::settings::{Setting, SettingKey, SETTINGS};
use leptos::prelude::*;
use std::sync::OnceLock;

/// The base model's settings.
const BASE: [SettingKey; 3] = [SettingKey::Corpus, SettingKey::Seed, SettingKey::PretrainSteps];

/// The `steps` row as this page uses it: the same key, range and messages, counting `method`'s steps.
fn method_steps(method: Method) -> &'static Setting {
    static DPO: OnceLock<Setting> = OnceLock::new();
    static RL: OnceLock<Setting> = OnceLock::new();
    let (row, label, help) = match method {
        Method::Dpo => (
            &DPO,
            "DPO steps",
            "fine-tuning steps after pretraining, each on a batch of preference pairs (align dpo --steps)",
        ),
        Method::Rl => (
            &RL,
            "Policy-gradient steps",
            "fine-tuning steps after pretraining, each on the policy's own samples of a batch of prompts, scored \
             by the reward models (align rl --steps)",
        ),
    };
    row.get_or_init(|| Setting { label, help, stage: Stage::FineTuning, ..*SettingKey::Steps.setting() })
}

/// The fine-tuning settings `method` reads: the table's fine-tuning rows (but the base model's
/// pretraining steps), then the method's steps.
fn fine_tuning(method: Method) -> impl Iterator<Item = &'static Setting> {
    let reads =
        move |s: &&Setting| s.stage == Stage::FineTuning && s.key != SettingKey::PretrainSteps && method.takes(s.key);
    SETTINGS.iter().filter(reads).chain([method_steps(method)])
}

#[component]
pub fn AlignSettings(controller: Controller, method: Method) -> impl IntoView {
    let form = controller.align.form;
    let errors = Memo::new(move |_| form.with(|f| f.to_config().err().unwrap_or_default()));
    let base = BASE.iter().map(|key| table_field(form, errors, key.setting())).collect_view();
    let tuning = fine_tuning(method).map(|s| table_field(form, errors, s)).collect_view();
    view! {
        <fieldset class="settings">
            <legend>"Base model"</legend>
            {base}
        </fieldset>
        <fieldset class="settings">
            <legend>"Fine-tuning"</legend>
            {tuning}
        </fieldset>
        <OtherErrors errors method />
        <AlignControls controller />
        <CopyLink form />
        <PretrainingFaults form />
        <FaultPanel form errors faults=method.faults().collect() />
    }
}

/// Messages about settings this page does not show (a link can set any of them).
#[component]
fn OtherErrors(errors: Memo<FieldErrors>, method: Method) -> impl IntoView {
    let shown = move |field: &str| {
        field.starts_with("fault-")
            || BASE.iter().chain(fine_tuning(method).map(|s| &s.key)).any(|k| k.as_str() == field)
    };
    let others =
        move || errors.with(|es| es.iter().filter(|e| !shown(&e.field)).map(|e| e.to_string()).collect::<Vec<_>>());
    view! {
        <Show when=move || !others().is_empty()>
            <ul class="plain field-error align-other-errors" role="alert">
                {move || others().into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}
            </ul>
        </Show>
    }
}

#[component]
fn AlignControls(controller: Controller) -> impl IntoView {
    let view = controller.align.view;
    let active = move || view.with(|v| v.state.is_active());
    view! {
        <div class="controls align-controls">
            <button id="align-start" class="primary" on:click=move |_| controller.start_alignment()>
                {move || if active() { "Start again" } else { "Start" }}
            </button>
            <button id="align-stop" disabled=move || !active() on:click=move |_| controller.align.stop()>
                "Stop"
            </button>
        </div>
        <p class="note">"One run at a time: Start here ends a run on the trainer page, and a run started there ends this one."</p>
    }
}

/// Pretraining faults a link switched on: they break the base model, so the page names them and
/// offers to turn them off.
#[component]
fn PretrainingFaults(form: RwSignal<RunForm>) -> impl IntoView {
    let on = Memo::new(move |_| {
        form.with(|f| Stage::Pretraining.faults().map(|s| s.id).filter(|&id| f.fault(id).on).collect::<Vec<FaultId>>())
    });
    let turn_off = move |_| {
        form.update(|f| {
            for id in on.get_untracked() {
                f.set_fault(id, false);
            }
        })
    };
    view! {
        <Show when=move || !on.with(Vec::is_empty)>
            <p class="field-warning align-pretraining-faults">
                {move || {
                    let ids: Vec<&str> = on.get().into_iter().map(FaultId::as_str).collect();
                    format!("The base model pretrains with {} on (from the link). ", ids.join(", "))
                }}
                <button type="button" class="link" on:click=turn_off>"Turn them off"</button>
            </p>
        </Show>
    }
}
