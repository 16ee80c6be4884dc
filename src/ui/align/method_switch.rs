//! The switch between the alignment page's two methods: links to `#/align` and `#/align/rl`, so the
//! method is in the address like the settings are.

use crate::route::Route;
use faultline_engine::align::Method;
use leptos::prelude::*;

#[component]
pub fn MethodSwitch(method: Method) -> impl IntoView {
    let link = move |m: Method, id: &'static str, label: &'static str| {
        view! {
            <a id=id href=Route::Align(m).href() class="method-choice" aria-current=(m == method).then_some("page")>
                {label}
            </a>
        }
    };
    view! {
        <nav class="method-switch" aria-label="Fine-tuning method">
            {link(Method::Dpo, "method-dpo", "DPO")}
            {link(Method::Rl, "method-rl", "Reward model + policy gradient")}
        </nav>
    }
}
