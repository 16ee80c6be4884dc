//! A logged run's curves on the trainer's line charts, with TensorBoard's smoothing as a slider and
//! the loss on a linear or a log axis.

use super::super::line_chart::LineChartView;
use super::reading::LogReader;
use crate::chart::lines::LineChart;
use crate::chart::logged::LoggedCharts;
use crate::chart::Scale;
use leptos::prelude::*;

/// The most smoothing the slider offers.
const MAX_SMOOTHING: f64 = 0.99;

#[component]
pub fn LogCharts(reader: LogReader) -> impl IntoView {
    let smoothing = reader.smoothing;
    let log_loss = RwSignal::new(false);
    let charts = Memo::new(move |_| {
        let scale = if log_loss.get() { Scale::Log } else { Scale::Linear };
        let weight = smoothing.get();
        reader.view.with(|v| LoggedCharts::new(v.run().map_or(&[][..], |r| &r.curves[..]), weight, scale))
    });
    let chart = move |pick: fn(&LoggedCharts) -> &LineChart| Memo::new(move |_| charts.with(|c| pick(c).clone()));
    let shown = |data: Memo<LineChart>| move || !data.with(LineChart::is_empty);
    let (loss, grad_norm, layers) = (chart(|c| &c.loss), chart(|c| &c.grad_norm), chart(|c| &c.layers));
    let (learning_rate, step_time) = (chart(|c| &c.learning_rate), chart(|c| &c.step_time));
    view! {
        <section class="log-charts" aria-labelledby="log-charts-title">
            <div class="chart-head">
                <h2 id="log-charts-title" class="chart-title">"Curves"</h2>
                <label class="toggle smoothing">
                    "smoothing "
                    <input
                        id="log-smoothing"
                        type="range"
                        min="0"
                        max=MAX_SMOOTHING
                        step="0.01"
                        prop:value=move || smoothing.get().to_string()
                        on:input:target=move |ev| {
                            let w = ev.target().value().parse::<f64>().unwrap_or(0.0);
                            smoothing.set(w.clamp(0.0, MAX_SMOOTHING));
                        }
                    />
                    <output for="log-smoothing">{move || format!("{:.2}", smoothing.get())}</output>
                </label>
                <label class="toggle">
                    <input
                        id="log-loss-log"
                        type="checkbox"
                        prop:checked=log_loss
                        on:change:target=move |ev| log_loss.set(ev.target().checked())
                    />
                    " loss on a log scale"
                </label>
            </div>
            <p class="note">
                "Smoothed as TensorBoard and W&B smooth a scalar (a moving average, corrected at the start), over "
                "the points drawn: at most 1000 per curve, each stretch of a long log keeping its first, lowest, "
                "highest and last value. The raw values stay faint behind; NaN and Inf are marked × at the top."
            </p>
            <div class="chart-grid">
                <Show when=shown(loss)>
                    <LineChartView id="log-loss-chart" title="Loss" y_label="loss" data=loss
                        caption="The training loss and, where logged, the validation loss." />
                </Show>
                <Show when=shown(grad_norm)>
                    <LineChartView id="log-grad-norm-chart" title="Gradient norm" y_label="‖g‖ (log)" data=grad_norm
                        caption="The global gradient norm before clipping, on a log axis." />
                </Show>
                <Show when=shown(layers)>
                    <LineChartView
                        id="log-layers-chart"
                        title="Gradient norm per layer"
                        y_label="‖g‖ (log)"
                        data=layers
                        caption="Each layer's gradient norm, on a log axis: the first layer against the last."
                    />
                </Show>
                <Show when=shown(learning_rate)>
                    <LineChartView id="log-lr-chart" title="Learning rate" y_label="lr" data=learning_rate
                        caption="The learning rate the scheduler set at each logged step." />
                </Show>
                <Show when=shown(step_time)>
                    <LineChartView id="log-step-time-chart" title="Time per step" y_label="ms" data=step_time
                        caption="Milliseconds per step, as logged." />
                </Show>
            </div>
        </section>
    }
}
