//! Where the logs come in: a drop zone around the file picker, the format (or auto) and the
//! vocabulary size, with the promise that nothing leaves the browser.

use super::reading::LogReader;
use crate::log_view::{format_label, parse_vocab};
use faultline_logs::Format;
use leptos::prelude::*;
use web_sys::{DragEvent, File, FileList};

fn files_of(list: Option<FileList>) -> Vec<File> {
    let Some(list) = list else { return Vec::new() };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

#[component]
pub fn LogInput(reader: LogReader) -> impl IntoView {
    let dragging = RwSignal::new(false);
    let vocab_error = Memo::new(move |_| reader.vocab_text.with(|t| parse_vocab(t).err()));
    let read = move |files: Vec<File>| {
        if let Ok(vocab_size) = parse_vocab(&reader.vocab_text.get_untracked()) {
            reader.read(files, vocab_size);
        }
    };
    let on_drop = move |ev: DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        read(files_of(ev.data_transfer().and_then(|d| d.files())));
    };
    let on_drag = move |ev: DragEvent| {
        ev.prevent_default();
        dragging.set(true);
    };
    let on_format = move |value: String| {
        reader.format.set(value.parse::<Format>().ok());
        if let Ok(vocab_size) = parse_vocab(&reader.vocab_text.get_untracked()) {
            reader.read_again(vocab_size);
        }
    };
    let on_vocab = move |value: String| {
        reader.vocab_text.set(value);
        if let Ok(vocab_size) = parse_vocab(&reader.vocab_text.get_untracked()) {
            reader.rediagnose(vocab_size);
        }
    };
    let options = Format::ALL
        .iter()
        .map(|f| {
            view! {
            <option value=f.as_str()>{format_label(*f)}</option>
                        }
        })
        .collect_view();
    view! {
        <section class="log-input guide-card" aria-labelledby="log-input-title">
            <h2 id="log-input-title" class="visually-hidden">"Your log"</h2>
            <label
                class="drop-zone"
                class:dragging=dragging
                on:dragover=on_drag
                on:dragenter=on_drag
                on:dragleave=move |_| dragging.set(false)
                on:drop=on_drop
            >
                <span class="drop-title">"Drop log files here, or choose them"</span>
                <input
                    id="log-files"
                    type="file"
                    multiple
                    on:change:target=move |ev| {
                        let input = ev.target();
                        let files = files_of(input.files());
                        input.set_value("");
                        read(files);
                    }
                />
                <span class="hint">
                    "A Hugging Face trainer_state.json, TensorBoard event files or CSV downloads, a W&B CSV "
                    "export, nanoGPT's printout, TRL logs or JSONL (step, loss, val_loss, grad_norm, lr, "
                    "grad_norm/<layer>, time_ms). Several files are read together as one log."
                </span>
            </label>
            <p id="log-local" class="local-only">
                "Your files are read here, in this browser, by the page's own worker: nothing is uploaded "
                "anywhere, and nothing is kept once you close the page."
            </p>
            <div class="log-options">
                <div class="field">
                    <label for="log-format">"Format"</label>
                    <select
                        id="log-format"
                        prop:value=move || reader.format.get().map_or("auto", Format::as_str)
                        on:change:target=move |ev| on_format(ev.target().value())
                    >
                        <option value="auto">"auto: tell it from the files"</option>
                        {options}
                    </select>
                </div>
                <div class="field" class:invalid=move || vocab_error.with(Option::is_some)>
                    <label for="log-vocab">"Vocabulary size (optional)"</label>
                    <input
                        id="log-vocab"
                        type="text"
                        inputmode="numeric"
                        autocomplete="off"
                        placeholder="e.g. 50257"
                        aria-describedby="log-vocab-hint"
                        aria-invalid=move || if vocab_error.with(Option::is_some) { "true" } else { "false" }
                        prop:value=move || reader.vocab_text.get()
                        on:change:target=move |ev| on_vocab(ev.target().value())
                    />
                    <p id="log-vocab-hint" class="hint">
                        "ln V, the loss of guessing uniformly, tells a loss that climbed above it. Without the "
                        "size it is estimated from a first loss logged within 10 steps, if there is one."
                    </p>
                    {move || vocab_error.get().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
                </div>
            </div>
        </section>
    }
}
