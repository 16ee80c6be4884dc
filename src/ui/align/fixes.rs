//! The guide's fixes for reward hacking, one click each on the policy-gradient lab: each sets its
//! settings in the form and reruns on the same seed, so the run beside the last one differs only
//! there. What the engine measured for each is in the measured notes below.

use super::super::controller::Controller;
use super::rl_status::as_run;
use crate::rl_fixes::FIXES;
use leptos::prelude::*;

#[component]
pub fn RlFixes(controller: Controller) -> impl IntoView {
    let form = controller.align.form;
    let buttons = FIXES
        .iter()
        .map(|fix| {
            let apply = move |_| {
                form.update(|f| fix.apply(f));
                controller.start_alignment();
            };
            view! {
                <button type="button" class="fix" data-fix=fix.id on:click=apply>
                    {fix.label}
                </button>
            }
        })
        .collect_view();
    view! {
        <section id="rl-fixes" class="panel rl-fixes" aria-labelledby="rl-fixes-title">
            <h2 id="rl-fixes-title" class="section-title">"Try the guide's fixes"</h2>
            <p class="note">
                "Each button sets one fix in the form and reruns on the same seed; the last run's numbers stay "
                "below for comparison. The other fixes leave the fault as it is, so each is measured alone."
            </p>
            <div class="fix-buttons" role="group" aria-label="Apply a fix and rerun">{buttons}</div>
            <PreviousRun controller />
        </section>
    }
}

/// The last policy-gradient run before this one: its settings and how it went.
#[component]
fn PreviousRun(controller: Controller) -> impl IntoView {
    let previous = controller.align.previous;
    let shown = move || {
        previous.with(|p| {
            p.as_ref().filter(|v| v.rl.is_some()).map(|v| {
                view! {
                    <p id="rl-previous-run" class="note">
                        <strong>"The run before: "</strong>
                        {as_run(v)}
                        ". "
                        {v.status()}
                    </p>
                }
            })
        })
    };
    view! { {shown} }
}
