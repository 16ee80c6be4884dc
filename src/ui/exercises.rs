//! The exercise pages: the list with the learner's progress, one exercise (prediction, setups, live
//! checks, hints, recap), and the strip on the trainer page that keeps the current exercise in view.
//! The checks themselves are [`crate::exercises`]'; this file only shows them and stores progress.

use super::controller::Controller;
use super::line_chart::LineChartView;
use super::local_storage;
use crate::chart::lines::LineChart;
use crate::chart::recap;
use crate::exercises::progress::{ExerciseProgress, Progress, STORAGE_KEY, UNREADABLE_KEY};
use crate::exercises::{
    self, in_unit, parse_guess, Answer, CheckState, Exercise, ExerciseId, Lab, Lesson, Setup, Stage, Status, EXERCISES,
};
use crate::form::RunForm;
use crate::route::{entry_href, section_href, Route};
use leptos::prelude::*;

/// The learner's progress, shared by the pages through Leptos's context.
#[derive(Clone, Copy)]
struct ExerciseState {
    progress: RwSignal<Progress>,
    /// Why stored progress was reset or could not be saved.
    notice: RwSignal<Option<String>>,
}

/// Loads the stored progress, runs the active exercise's checks whenever the run changes, and saves.
pub fn provide_exercises(controller: Controller) {
    let stored = local_storage().and_then(|s| s.get_item(STORAGE_KEY).ok().flatten());
    let (progress, notice) = Progress::load(stored.as_deref());
    if let (Some(text), Some(s)) = (stored.as_deref().filter(|_| notice.is_some()), local_storage()) {
        s.set_item(UNREADABLE_KEY, text).ok();
    }
    let state = ExerciseState { progress: RwSignal::new(progress), notice: RwSignal::new(notice) };
    Effect::new(move |_| {
        with_lab(controller, |lab| state.progress.maybe_update(|p| exercises::record(p, lab)));
    });
    Effect::new(move |_| {
        let text = state.progress.with(Progress::to_json);
        if local_storage().and_then(|s| s.set_item(STORAGE_KEY, &text).ok()).is_none() {
            state.notice.set(Some(
                "Your progress could not be saved in this browser; it lasts until you close the tab.".into(),
            ));
        }
    });
    provide_context(state);
}

/// Calls `f` with what the checks read, the run and the range test, tracking both.
fn with_lab<T>(controller: Controller, f: impl FnOnce(&Lab) -> T) -> T {
    let align = controller.align.view;
    controller.view.with(|run| controller.lr_range.with(|range| align.with(|align| f(&Lab { run, range, align }))))
}

fn state() -> ExerciseState {
    expect_context::<ExerciseState>()
}

fn status_of(id: ExerciseId) -> impl Fn() -> Status + Copy {
    let progress = state().progress;
    move || progress.with(|p| Status::of(p.get(id)))
}

#[component]
fn Notice() -> impl IntoView {
    let notice = state().notice;
    move || notice.get().map(|text| view! { <p class="exercise-notice" role="status">{text}</p> })
}

#[component]
pub fn ExerciseList() -> impl IntoView {
    let items = EXERCISES.iter().map(|ex| view! { <ExerciseItem ex /> }).collect_view();
    view! {
        <main class="exercises-page">
            <h1>"Exercises"</h1>
            <p class="lede">
                "Each exercise breaks the model one way. Predict what will happen, reproduce the symptom in your own "
                "run, fix it, and compare. The checks read only your runs' settings and telemetry."
            </p>
            <Notice />
            <ol class="exercise-list">{items}</ol>
        </main>
    }
}

#[component]
fn ExerciseItem(ex: &'static Exercise) -> impl IntoView {
    let status = status_of(ex.id);
    let section = ex.section.title();
    view! {
        <li class="exercise-item" data-exercise-id=ex.id.as_str() data-status=move || status().as_str()>
            <a class="exercise-title" href=Route::Exercise(ex.id).href()>{ex.title}</a>
            <span class="exercise-section">{section}</span>
            <span class="exercise-status">{move || status().label()}</span>
        </li>
    }
}

/// Puts `setup` into the form of the page where `ex` runs (a fix setup on top of the learner's
/// reproduce run): the trainer's, or the alignment page's for a fine-tuning exercise, or, for a fix
/// that samples the reproduce run's model again, the trainer's Generate panel; makes `ex` the exercise
/// the checks follow, and shows that page.
fn apply(controller: Controller, form: RwSignal<RunForm>, ex: &'static Exercise, setup: &'static Setup) {
    let progress = state().progress;
    let (target, page) = match ex.method() {
        None => (form, Route::Trainer),
        Some(method) => (controller.align.form, Route::Align(method)),
    };
    match progress.with(|p| exercises::generation_form(ex, setup, p.get(ex.id))) {
        Some(generation) => controller.generation.set(generation),
        None => {
            let next = progress.with(|p| exercises::exercise_form(ex, setup, p.get(ex.id)));
            target.update(|f| *f = next.keeping_own_text(f));
        }
    }
    progress.update(|p| p.active = Some(ex.id.to_string()));
    if let Some(w) = web_sys::window() {
        w.location().set_hash(&page.href()).ok();
    }
}

#[component]
pub fn ExercisePage(controller: Controller, form: RwSignal<RunForm>, ex: &'static Exercise) -> impl IntoView {
    let progress = state().progress;
    let status = status_of(ex.id);
    let predicted = Memo::new(move |_| progress.with(|p| p.get(ex.id).is_some_and(|e| e.predicted())));
    let section = ex.section.title();
    let hints = ex.entries.iter().map(|&id| view! { <li><a href=entry_href(id)>{id.title()}</a></li> }).collect_view();
    let stages = move || {
        predicted.get().then(|| {
            view! {
                <StageView controller form ex stage=&ex.reproduce name="reproduce" />
                <StageView controller form ex stage=&ex.fix name="fix" />
                <Recap ex />
            }
        })
    };
    let start_over = move |_| {
        progress.update(|p| {
            p.exercises.remove(ex.id.as_str());
        })
    };
    view! {
        <main class="exercises-page exercise-page" data-exercise-id=ex.id.as_str() data-status=move || status().as_str()>
            <p class="crumbs"><a href=Route::Exercises.href()>"Exercises"</a></p>
            <h1>{ex.title}</h1>
            <p class="exercise-meta">
                <a href=section_href(ex.section)>{section}</a>
                " · "
                <span class="exercise-status">{move || status().label()}</span>
            </p>
            <Notice />
            <p class="lede">{ex.goal}</p>
            <PredictionView ex />
            {stages}
            <section class="exercise-hints">
                <h2>"Hints from the guide"</h2>
                <ul class="plain">{hints}</ul>
            </section>
            <button type="button" class="link-button" on:click=start_over>"Start this exercise over"</button>
        </main>
    }
}

#[component]
fn PredictionView(ex: &'static Exercise) -> impl IntoView {
    let answer = match ex.prediction.answer {
        Answer::Choice { options, .. } => view! { <ChoicePrediction ex options /> }.into_any(),
        Answer::Number { unit, .. } => view! { <NumberPrediction ex unit /> }.into_any(),
    };
    view! {
        <section class="exercise-prediction">
            <h2>"Predict before you run"</h2>
            <p id="prediction-question">{ex.prediction.question}</p>
            {answer}
        </section>
    }
}

/// Records the learner's prediction of `ex` and makes it the exercise the checks follow.
fn predict(ex: &'static Exercise, set: impl FnOnce(&mut ExerciseProgress)) {
    state().progress.update(|p| {
        set(p.entry(ex.id));
        p.active = Some(ex.id.to_string());
    })
}

#[component]
fn ChoicePrediction(ex: &'static Exercise, options: &'static [&'static str]) -> impl IntoView {
    let progress = state().progress;
    let predicted = move || progress.with(|p| p.get(ex.id).and_then(|e| e.prediction));
    let options = options
        .iter()
        .enumerate()
        .map(|(i, text)| {
            view! {
                <li>
                    <button
                        type="button"
                        class="prediction-option"
                        data-prediction-option=i
                        aria-pressed=move || if predicted() == Some(i) { "true" } else { "false" }
                        disabled=move || predicted().is_some()
                        on:click=move |_| predict(ex, |e| e.prediction = Some(i))
                    >
                        {*text}
                    </button>
                </li>
            }
        })
        .collect_view();
    view! {
        <ul class="plain prediction-options">{options}</ul>
        {move || {
            predicted()
                .is_none()
                .then(|| view! { <p class="muted">"Choose an answer to see the steps; the recap compares it with your runs."</p> })
        }}
    }
}

/// A number to type: checked when locked in, with the problem said beside the field.
#[component]
fn NumberPrediction(ex: &'static Exercise, unit: &'static str) -> impl IntoView {
    let progress = state().progress;
    let guess = move || progress.with(|p| p.get(ex.id).and_then(|e| e.guess));
    let text = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let lock = move || match parse_guess(&text.get_untracked()) {
        Ok(value) => {
            problem.set(None);
            predict(ex, |e| e.guess = Some(value));
        }
        Err(why) => problem.set(Some(why)),
    };
    view! {
        <div class="prediction-number">
            <label for="prediction-number">{format!("Your guess, in {unit}")}</label>
            <input
                id="prediction-number"
                type="text"
                inputmode="decimal"
                autocomplete="off"
                data-prediction-number=""
                aria-describedby="prediction-question prediction-problem"
                aria-invalid=move || problem.with(Option::is_some).to_string()
                prop:value=move || guess().map_or_else(|| text.get(), |g| in_unit(g, unit))
                disabled=move || guess().is_some()
                on:input=move |ev| text.set(event_target_value(&ev))
                on:keydown=move |ev| {
                    if ev.key() == "Enter" {
                        lock();
                    }
                }
            />
            <button type="button" class="primary" disabled=move || guess().is_some() on:click=move |_| lock()>
                "Lock in my guess"
            </button>
            <p id="prediction-problem" class="field-problem" role="alert">{move || problem.get()}</p>
            {move || {
                guess()
                    .is_none()
                    .then(|| view! { <p class="muted">"Type a number to see the steps; the recap sets it beside what your run measures."</p> })
            }}
        </div>
    }
}

#[component]
fn StageView(
    controller: Controller,
    form: RwSignal<RunForm>,
    ex: &'static Exercise,
    stage: &'static Stage,
    name: &'static str,
) -> impl IntoView {
    let progress = state().progress;
    let is_fix = name == "fix";
    let check = Memo::new(move |_| {
        progress.with(|p| {
            let active = p.is_active(ex.id);
            with_lab(controller, |lab| exercises::stage_state(ex, p.get(ex.id), active, lab, is_fix))
        })
    });
    let comparison = match &ex.lesson {
        Lesson::Change { what, .. } if is_fix => Some(view! {
            <p class="exercise-comparison">
                "Compared with your reproduce run: the same seed, steps and settings, with one change: " {*what} "."
            </p>
        }),
        Lesson::Resample { what } if is_fix => Some(view! {
            <p class="exercise-comparison">
                "Compared with your reproduce run's own samples: the same trained model, no new run, sampled again with other decoding settings: "
                {*what} "."
            </p>
        }),
        _ => None,
    };
    let buttons = stage
        .setups
        .iter()
        .map(|setup| {
            view! {
                <button type="button" class="apply-setup" data-setup=setup.label on:click=move |_| apply(controller, form, ex, setup)>
                    {setup.label}
                </button>
            }
        })
        .collect_view();
    let words = move || {
        check.with(|c| {
            let lead = match c {
                CheckState::Passed(_) => "✓ ",
                CheckState::Failed(_) => "Not yet: ",
                CheckState::Waiting(_) => "Waiting: ",
            };
            format!("{lead}{}", c.text())
        })
    };
    view! {
        <section class="exercise-stage" data-stage=name>
            <h2>{if is_fix { "2. " } else { "1. " }} {stage.title}</h2>
            <p>{stage.instructions}</p>
            {comparison}
            <div class="setup-buttons">{buttons}</div>
            <p class="check-state" role="status" data-check-state=move || check.with(CheckState::as_str)>{words}</p>
        </section>
    }
}

#[component]
fn Recap(ex: &'static Exercise) -> impl IntoView {
    let progress = state().progress;
    let next = EXERCISES.iter().skip_while(|e| e.id != ex.id).nth(1);
    let body = move || {
        let p = progress.with(|p| p.get(ex.id).cloned())?;
        p.fixed.as_ref()?;
        let lines = exercises::recap(ex, &p).into_iter().map(|l| view! { <li>{l}</li> }).collect_view();
        let finish = move |_| progress.update(|p| p.entry(ex.id).done = true);
        let plot = exercises::guess_and_measurement(ex, &p).map(|(guess, measured)| {
            let unit = match ex.prediction.answer {
                Answer::Number { unit, .. } => unit,
                Answer::Choice { .. } => "",
            };
            view! { <GuessPlot guess measured unit /> }
        });
        let end = if p.done {
            let link = match next {
                Some(n) => view! { <a href=Route::Exercise(n.id).href()>"Next: " {n.title}</a> }.into_any(),
                None => view! {
                    <a href=Route::MYSTERY.href()>"That was the last one. Next: mystery mode, where the fault is hidden and you diagnose it"</a>
                }
                .into_any(),
            };
            view! { <p class="exercise-done">"Done. " {link}</p> }.into_any()
        } else {
            view! { <button type="button" class="mark-done" on:click=finish>"Mark as done"</button> }.into_any()
        };
        Some(view! {
            <section class="exercise-recap">
                <h2>"What you saw"</h2>
                <ul>{lines}</ul>
                {plot}
                {ex.method().is_none().then(|| view! { <RecapCharts ex /> })}
                {end}
            </section>
        })
    };
    body
}

/// The learner's guess and the measurement as two marks on one scale from zero.
#[component]
fn GuessPlot(guess: f32, measured: f32, unit: &'static str) -> impl IntoView {
    let top = guess.max(measured).max(f32::MIN_POSITIVE) * 1.15;
    let x = move |v: f32| 12.0 + 276.0 * v / top;
    let label = format!(
        "Your guess, {} {unit}, and your run's measurement, {} {unit}, on one scale from 0 to {} {unit}.",
        in_unit(guess, unit),
        in_unit(measured, unit),
        in_unit(top, unit)
    );
    view! {
        <figure class="guess-plot">
            <svg viewBox="0 0 300 70" role="img" aria-label=label>
                <line class="guess-axis" x1="12" y1="32" x2="288" y2="32" />
                <text class="guess-tick" x="12" y="46" text-anchor="middle">"0"</text>
                <text class="guess-tick" x="288" y="46" text-anchor="middle">{in_unit(top, unit)}</text>
                <circle class="guess-mark" cx=x(guess) cy="32" r="6" />
                <text class="guess-label" x=x(guess) y="18" text-anchor="middle">
                    {format!("your guess {}", in_unit(guess, unit))}
                </text>
                <rect class="measured-mark" x=x(measured) - 5.0 y="27" width="10" height="10" />
                <text class="measured-label" x=x(measured) y="64" text-anchor="middle">
                    {format!("measured {}", in_unit(measured, unit))}
                </text>
            </svg>
        </figure>
    }
}

/// The two runs of the exercise overlaid: loss, gradient norm and, where they were evaluated,
/// validation loss. A decoding fix has one run only: its model was sampled again.
#[component]
fn RecapCharts(ex: &'static Exercise) -> impl IntoView {
    let progress = state().progress;
    let chart = move |make: fn(&ExerciseProgress) -> LineChart| {
        Memo::new(move |_| {
            progress.with(|p| p.get(ex.id).map(make).unwrap_or_else(|| make(&ExerciseProgress::default())))
        })
    };
    let (loss, grad, val) = (chart(recap::loss), chart(recap::grad_norm), chart(recap::val_loss));
    let [loss_title, grad_title, val_title, loss_caption, grad_caption, val_caption] = match ex.lesson {
        Lesson::Resample { .. } => [
            "Loss of the run",
            "Gradient norm of the run",
            "Validation loss of the run",
            "Each step's batch loss of the run whose model both texts came from.",
            "Each step's gradient norm over all parameters, before clipping, in decades.",
            "Each evaluation's validation loss.",
        ],
        Lesson::SameRun | Lesson::Change { .. } => [
            "Loss, both runs",
            "Gradient norm, both runs",
            "Validation loss, both runs",
            "Each step's batch loss of the run that passed the reproduce check and of the fix run, which differs from it only in the change the exercise teaches.",
            "Each step's gradient norm over all parameters, before clipping, in decades, for both runs.",
            "Each evaluation's validation loss for both runs.",
        ],
    };
    view! {
        <div class="recap-charts">
            <LineChartView id="recap-loss-chart" title=loss_title y_label="nats per token" data=loss caption=loss_caption />
            <LineChartView
                id="recap-grad-chart"
                title=grad_title
                y_label="norm before clipping"
                data=grad
                caption=grad_caption
            />
            <LineChartView id="recap-val-chart" title=val_title y_label="nats per token" data=val caption=val_caption />
        </div>
    }
}

/// The trainer page's reminder of the exercise being worked on, with its next check's state.
#[component]
pub fn ExerciseStrip(controller: Controller) -> impl IntoView {
    let progress = state().progress;
    move || {
        let (ex, p) = progress.with(|p| {
            let ex = exercises::exercise(p.active.as_deref()?)?;
            Some((ex, p.get(ex.id).cloned()))
        })?;
        let status = Status::of(p.as_ref());
        if status == Status::Done {
            return None;
        }
        let check = match status {
            _ if !p.as_ref().is_some_and(ExerciseProgress::predicted) => "Answer the prediction first.".to_string(),
            Status::Fixed => "Both checks passed: read the recap.".to_string(),
            _ => match with_lab(controller, |lab| exercises::live(ex, p.as_ref(), lab)) {
                Ok(e) => format!("✓ {}", e.text),
                Err(why) => why,
            },
        };
        Some(view! {
            <aside class="exercise-strip" aria-label="Current exercise" data-status=status.as_str()>
                <span>"Exercise: "</span>
                <a href=Route::Exercise(ex.id).href()>{ex.title}</a>
                <span class="exercise-status">{status.label()}</span>
                <span class="check-waiting">{check}</span>
            </aside>
        })
    }
}
