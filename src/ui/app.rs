//! The app shell: the header with its navigation and the page the URL's hash names. The training run
//! and the form outlive the pages, so a run keeps training while the learner reads the guide; so do the
//! alignment page's form and fine-tuning run. The address bar's query is the form of the page on show.

use super::align::{AlignMysteryPage, AlignPage};
use super::compute::COMPUTE_KEY;
use super::controller::Controller;
use super::diagnose::DiagnosePage;
use super::exercises::{provide_exercises, ExerciseList, ExercisePage};
use super::guide::{GuideEntryPage, GuideIndex, NotFound};
use super::link::{sync_query, LinkNotices};
use super::local_storage;
use super::mystery::MysteryPage;
use super::settings::keep_own_text;
use super::trainer_page::TrainerPage;
use crate::client::{one_thread_asked, THREADS_PARAM};
use crate::form::{FormKind, RunForm};
use crate::protocol::Compute;
use crate::route::{anchor, Route};
use faultline_engine::align::Method;
use leptos::ev;
use leptos::prelude::*;

fn hash() -> String {
    web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default()
}

/// After the page for a new hash has rendered: scroll to its anchor, or to the top.
fn scroll_for(hash: &str) {
    let Some(window) = web_sys::window() else { return };
    let target = anchor(hash).and_then(|id| window.document()?.get_element_by_id(id));
    match target {
        Some(element) => element.scroll_into_view(),
        None => window.scroll_to_with_x_and_y(0.0, 0.0),
    }
}

/// Moves the alignment form to the method a new hash names (`#/align` or `#/align/rl`) before the
/// page for it renders, so the switch between them, the guide's "Try it" and a link agree with it.
fn follow_method(hash: &str, align_form: RwSignal<RunForm>) {
    if let Route::Align(method) = Route::parse(hash) {
        if align_form.with_untracked(|f| f.method() != Some(method)) {
            align_form.update(|f| f.switch_method(method));
        }
    }
}

#[component]
pub fn App(query: Vec<(String, String)>) -> impl IntoView {
    let (compute_link, query): (Vec<_>, Vec<_>) = query.into_iter().partition(|(k, _)| k == "compute");
    // `threads=1` chooses the worker's build (client.rs), not a setting of the form.
    let (threads_link, query): (Vec<_>, Vec<_>) = query.into_iter().partition(|(k, _)| k == THREADS_PARAM);
    let one_thread = one_thread_asked(&threads_link);
    let current = RwSignal::new(hash());
    // The link's settings are the page's it opens: the alignment page's, or the trainer's.
    let opened = Route::parse(&current.get_untracked());
    let aligning = opened.is_align();
    let method = if let Route::Align(method) = opened { method } else { Method::Dpo };
    let kind = if aligning { FormKind::Alignment(method) } else { FormKind::Trainer };
    let (initial, mut notices) = RunForm::from_query_in(kind, &query);
    let (trainer_form, align_form) =
        if aligning { (RunForm::default(), initial) } else { (initial, RunForm::new(FormKind::Alignment(method))) };
    notices.extend(threads_link.iter().filter(|(_, v)| v != "1").map(|(_, v)| {
        format!("The link's threads={v}: only threads=1 (train on one thread) can be asked for; ignored.")
    }));
    let (compute, compute_notice) = Compute::initial(
        compute_link.last().map(|(_, v)| v.as_str()),
        local_storage().and_then(|s| s.get_item(COMPUTE_KEY).ok().flatten()).as_deref(),
    );
    notices.extend(compute_notice);
    let form = RwSignal::new(trainer_form);
    let align_form = RwSignal::new(align_form);
    let controller = Controller::new(form, align_form, compute, one_thread);
    let notices = RwSignal::new(notices);
    let route = Memo::new(move |_| current.with(|h| Route::parse(h)));
    let link = Memo::new(move |_| {
        let shown = if route.get().is_align() { align_form } else { form };
        shown.with(RunForm::to_query)
    });
    sync_query(link, one_thread);
    keep_own_text(form, notices);
    provide_exercises(controller);
    let listener = window_event_listener(ev::hashchange, move |_| {
        let h = hash();
        follow_method(&h, align_form);
        current.set(h.clone());
        request_animation_frame(move || scroll_for(&h));
    });
    on_cleanup(move || listener.remove());
    if anchor(&current.get_untracked()).is_some() {
        request_animation_frame(move || scroll_for(&current.get_untracked()));
    }

    let align_href = move || Route::Align(align_form.with(|f| f.method().unwrap_or(Method::Dpo))).href();
    let is_guide = move || matches!(route.get(), Route::GuideIndex | Route::GuideEntry(_));
    let page = move || match route.get() {
        Route::Trainer => view! { <TrainerPage controller form /> }.into_any(),
        Route::GuideIndex => view! { <GuideIndex controller form /> }.into_any(),
        Route::GuideEntry(id) => view! { <GuideEntryPage controller form entry=id.entry() /> }.into_any(),
        Route::Exercises => view! { <ExerciseList /> }.into_any(),
        Route::Exercise(id) => view! { <ExercisePage controller form ex=id.exercise() /> }.into_any(),
        Route::Mystery { faults, seed } => view! { <MysteryPage controller form faults seed /> }.into_any(),
        Route::Diagnose => view! { <DiagnosePage controller form /> }.into_any(),
        Route::Align(method) => view! { <AlignPage controller method /> }.into_any(),
        Route::AlignMystery(seed) => view! { <AlignMysteryPage controller seed /> }.into_any(),
        Route::NotFound(hash) => view! { <NotFound hash /> }.into_any(),
    };
    view! {
        <header class="masthead">
            <a class="brand" href=Route::Trainer.href()>"Faultline"</a>
            <nav class="nav" aria-label="Pages">
                <a href=Route::Trainer.href() aria-current=move || (route.get() == Route::Trainer).then_some("page")>
                    "Trainer"
                </a>
                <a href=Route::GuideIndex.href() aria-current=move || is_guide().then_some("page")>
                    "Guide"
                </a>
                <a
                    href=Route::Exercises.href()
                    aria-current=move || matches!(route.get(), Route::Exercises | Route::Exercise(_)).then_some("page")
                >
                    "Exercises"
                </a>
                <a href=Route::MYSTERY.href() aria-current=move || matches!(route.get(), Route::Mystery { .. }).then_some("page")>
                    "Mystery"
                </a>
                <a href=Route::Diagnose.href() aria-current=move || (route.get() == Route::Diagnose).then_some("page")>
                    "Diagnose"
                </a>
                <a href=align_href aria-current=move || route.get().is_align().then_some("page")>
                    "Align"
                </a>
            </nav>
        </header>
        <LinkNotices notices />
        {page}
    }
}
