//! The run's link: the form is written into the address bar's query as it changes (so a reload or a
//! shared link gives the same run), the notices for parameters a link carried that the form could not
//! take, and the "Copy link" button.

use crate::client::THREADS_PARAM;
use crate::form::RunForm;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use web_sys::UrlSearchParams;

/// Replaces the address bar's query with `pairs`, keeping the path and the hash (the page), without
/// adding a history entry.
fn write_query(pairs: &[(String, String)]) {
    let Some(window) = web_sys::window() else { return };
    let Ok(params) = UrlSearchParams::new() else { return };
    for (k, v) in pairs {
        params.append(k, v);
    }
    let hash = window.location().hash().unwrap_or_default();
    let url = format!("?{}{hash}", String::from(params.to_string()));
    if let Ok(history) = window.history() {
        history.replace_state_with_url(&JsValue::NULL, "", Some(&url)).ok();
    }
}

/// Keeps the address bar's query in step with `link` (the query of the form of the page on show,
/// [`RunForm::to_query`]), keeping `threads=1` when the page was opened with it (so a reload or a
/// shared link trains on one thread too).
pub fn sync_query(link: Memo<Vec<(String, String)>>, one_thread: bool) {
    Effect::new(move |_| {
        let mut pairs = link.get();
        if one_thread {
            pairs.push((THREADS_PARAM.to_string(), "1".to_string()));
        }
        write_query(&pairs);
    });
}

/// What a link carried that the form could not use, until the learner dismisses it.
#[component]
pub fn LinkNotices(notices: RwSignal<Vec<String>>) -> impl IntoView {
    view! {
        <Show when=move || notices.with(|n| !n.is_empty())>
            <section id="link-notices" class="notice" role="status" aria-label="About these settings">
                <ul>
                    <For each=move || notices.get() key=|n| n.clone() let:notice>
                        <li>{notice}</li>
                    </For>
                </ul>
                <button class="quiet" on:click=move |_| notices.set(Vec::new())>"Dismiss"</button>
            </section>
        </Show>
    }
}

/// Writes `text` to the clipboard: the browser is asked at once (while the click that asked counts as
/// the learner's), and the future says whether it agreed.
pub(super) fn write_clipboard(text: &str) -> impl std::future::Future<Output = bool> {
    let written =
        web_sys::window().map(|w| wasm_bindgen_futures::JsFuture::from(w.navigator().clipboard().write_text(text)));
    async move {
        match written {
            Some(written) => written.await.is_ok(),
            None => false,
        }
    }
}

/// Copies the address (which carries every setting, fault and the seed) to the clipboard, and says
/// whether that worked; with the learner's own text chosen, it says that the text is not in the link.
#[component]
pub fn CopyLink(form: RwSignal<RunForm>) -> impl IntoView {
    let own_text = Memo::new(move |_| form.with(RunForm::uses_own_text));
    let said = RwSignal::new(String::new());
    let copy = move |_| {
        let Some(window) = web_sys::window() else { return };
        let written = write_clipboard(&window.location().href().unwrap_or_default());
        leptos::task::spawn_local(async move {
            said.set(if written.await {
                "Link copied".to_string()
            } else {
                "The browser refused the clipboard: copy the address bar instead".to_string()
            });
        });
    };
    view! {
        <p class="copy-link">
            <button id="copy-link" class="quiet" title="Copy a link to this run's settings, faults and seed" on:click=copy>
                "Copy link"
            </button>
            " "
            <span id="copy-link-status" role="status">{said}</span>
        </p>
        <Show when=move || own_text.get()>
            <p id="link-own-text-note" class="note">
                "Your own text is not in the link (it is too big for one): whoever opens the link gets the "
                "other settings and the default corpus. This browser keeps your text for your next visit."
            </p>
        </Show>
    }
}
