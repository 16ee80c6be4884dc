//! The kept runs: stored in localStorage as each run ends or is replaced, and the Runs panel that lists
//! them and picks the two the charts draw together. What is kept and compared is [`crate::history`]'s.

use super::canvas::{compared_color, key_color, KEY};
use super::export::save_text;
use super::local_storage;
use crate::export::kept_run_json;
use crate::kept_runs::{toggle, Comparison, KeptRuns, Pick, RunRecord, STORAGE_KEY, UNREADABLE_KEY};
use crate::protocol::RunId;
use crate::run_view::RunView;
use leptos::prelude::*;

/// The kept runs and the learner's picks, shared by the controller and the charts.
#[derive(Clone, Copy)]
pub struct KeptRunsState {
    pub list: RwSignal<KeptRuns>,
    pub picks: RwSignal<Vec<Pick>>,
    /// Why the stored runs were reset or some could not be stored.
    pub notice: RwSignal<Option<String>>,
    /// What the charts draw, from the picks.
    pub comparison: Memo<Comparison>,
    /// The kept record of the run on the page, once it has ended.
    on_page: RwSignal<Option<u64>>,
    /// The page's run last kept, so no run is kept twice.
    kept_run: StoredValue<Option<RunId>>,
    /// A run to keep under a name instead of its settings (a mystery round's).
    hidden: StoredValue<Option<(RunId, String)>>,
}

impl KeptRunsState {
    /// Reads the stored runs; unreadable text is set aside under [`UNREADABLE_KEY`] with a notice.
    pub fn load() -> Self {
        let stored = local_storage().and_then(|s| s.get_item(STORAGE_KEY).ok().flatten());
        let (history, notice) = KeptRuns::load(stored.as_deref());
        if let (Some(text), Some(s)) = (stored.as_deref().filter(|_| notice.is_some()), local_storage()) {
            s.set_item(UNREADABLE_KEY, text).ok();
        }
        let list = RwSignal::new(history);
        let picks = RwSignal::new(Vec::new());
        let on_page = RwSignal::new(None);
        let comparison = Memo::new(move |_| list.with(|h| picks.with(|p| h.comparison(p, on_page.get()))));
        Self {
            list,
            picks,
            notice: RwSignal::new(notice),
            comparison,
            on_page,
            kept_run: StoredValue::new(None),
            hidden: StoredValue::new(None),
        }
    }

    /// The kept record of the run on the page, once it has ended and been kept.
    pub fn on_page(&self) -> Option<u64> {
        self.on_page.get()
    }

    /// Keeps `view`'s run, unless it is too short or already kept, and stores the list.
    pub fn keep(&self, view: &RunView) {
        if self.kept_run.get_value() == Some(view.run) {
            return;
        }
        let hidden = self.hidden.with_value(|h| h.clone().filter(|(run, _)| *run == view.run).map(|(_, name)| name));
        let Some(id) = self.list.try_update(|h| h.add(view, hidden.as_deref())).flatten() else { return };
        self.kept_run.set_value(Some(view.run));
        self.on_page.set(Some(id));
        self.save();
    }

    /// Keeps the page's run `run`, once it ends, as `name` without its settings or finding.
    pub fn hide(&self, run: RunId, name: String) {
        self.hidden.set_value(Some((run, name)));
    }

    /// The page's run is being replaced: it is kept if it can be, and the next one is not kept yet.
    pub fn replace(&self, view: &RunView) {
        self.keep(view);
        self.on_page.set(None);
    }

    pub fn clear(&self) {
        self.list.update(|h| h.runs.clear());
        self.picks.update(|p| p.retain(|&p| p == Pick::Live));
        self.on_page.set(None);
        self.save();
    }

    /// Stores the list, forgetting the oldest runs while the browser refuses it.
    fn save(&self) {
        let Some(storage) = local_storage() else { return };
        let dropped =
            self.list.try_update(|h| h.store_fitting(|text| storage.set_item(STORAGE_KEY, text).is_ok())).unwrap_or(0);
        if dropped > 0 {
            self.notice.set(Some(format!(
                "The browser would not store every kept run, so the oldest {dropped} {} forgotten.",
                if dropped == 1 { "was" } else { "were" }
            )));
        }
    }
}

/// A number for the list: three decimals, or a dash.
fn loss(value: Option<f32>) -> String {
    value.map_or("–".to_string(), |v| format!("{v:.3}"))
}

/// The Runs panel: the kept `runs` and the run on the page now (`view`), each with a box to compare it.
#[component]
pub fn RunsPanel(runs: KeptRunsState, view: RwSignal<RunView>) -> impl IntoView {
    let empty = move || runs.list.with(|h| h.runs.is_empty());
    let live_picked = move || runs.picks.with(|p| p.contains(&Pick::Live));
    let live_detail = move || {
        let kept = runs.on_page.get().map(|id| format!(" · kept as run {id}")).unwrap_or_default();
        view.with(|v| match v.config {
            Some(_) => format!("{} steps · train {}{kept}", v.steps_done, loss(v.last_train_loss())),
            None => "no run yet".to_string(),
        })
    };
    view! {
        <section id="runs" class="runs" aria-labelledby="runs-title">
            <div class="runs-head">
                <h2 id="runs-title" class="section-title">"Runs"</h2>
                <button id="clear-history" class="quiet" disabled=empty on:click=move |_| runs.clear()>
                    "Clear history"
                </button>
            </div>
            <p class="runs-hint">
                "The last runs of at least 10 steps are kept in this browser. Tick any two to draw them on the same "
                "charts; with none ticked, the last healthy run is drawn behind this one."
            </p>
            {move || runs.notice.get().map(|n| view! { <p id="history-notice" class="notice" role="status">{n}</p> })}
            <ul id="run-history" class="run-list">
                <li class="run-row" data-run-id="live" class:picked=live_picked>
                    <label class="run-pick">
                        <input
                            type="checkbox"
                            class="compare"
                            aria-label="Compare this run, the one on the page now"
                            prop:checked=live_picked
                            on:change=move |_| runs.picks.update(|p| toggle(p, Pick::Live))
                        />
                        <span class="run-name">"This run"</span>
                        " (solid lines)"
                    </label>
                    <span class="run-detail">{live_detail}</span>
                </li>
                <For each=move || runs.list.with(|h| h.runs.clone()) key=|r| r.id let:record>
                    <RunRow record runs />
                </For>
            </ul>
            <Show when=empty>
                <p class="runs-empty">"No runs kept yet: they appear here as they finish, stop or are replaced."</p>
            </Show>
        </section>
    }
}

#[component]
fn RunRow(record: RunRecord, runs: KeptRunsState) -> impl IntoView {
    let id = record.id;
    let exported = record.clone();
    let picked = move || runs.picks.with(|p| p.contains(&Pick::Past(id)));
    let drawn_at = move || runs.comparison.with(|c| c.runs.iter().position(|r| r.id == id));
    let key = move || drawn_at().map(|i| (format!("run-key key compared-{i}"), key_color(compared_color(i))));
    view! {
        <li class="run-row" data-run-id=id data-end=record.end.as_str() class:picked=picked>
            <label class="run-pick">
                <input
                    type="checkbox"
                    class="compare"
                    aria-label=format!("Compare {}: {}", record.name(), record.label)
                    prop:checked=picked
                    on:change=move |_| runs.picks.update(|p| toggle(p, Pick::Past(id)))
                />
                <span class="run-name">{record.name()}</span>
                {move || key().map(|(class, color)| view! { <span class=class style=(KEY, color) aria-hidden="true"></span> })}
                <span class="run-label">{record.label.clone()}</span>
            </label>
            <span class="run-detail">
                {format!(
                    "{} · {} steps · train {} · val {}",
                    record.end.describe(),
                    record.steps,
                    loss(record.train_loss),
                    loss(record.val_loss)
                )}
            </span>
            {record.finding.clone().map(|f| view! { <span class="run-finding">"Detector: " {f}</span> })}
            <button
                class="quiet run-export"
                aria-label=format!("Save as JSON: {}", record.name())
                on:click=move |_| {
                    save_text(&kept_run_json(&exported), &format!("faultline-kept-run-{id}.json"), "application/json");
                }
            >
                "Save as JSON"
            </button>
        </li>
    }
}
