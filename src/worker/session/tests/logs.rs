//! A log read in chunks by the session, diagnosed run by run.

use super::*;

/// A JSONL log of `steps` steps whose loss falls from ln 64 and, from `nan_at` on, is NaN.
fn jsonl_log(steps: u64, nan_at: Option<u64>) -> String {
    (1..=steps)
        .map(|step| {
            let loss = if nan_at.is_some_and(|at| step >= at) {
                "NaN".to_string()
            } else {
                format!("{}", 4.16 - step as f64 * 0.01)
            };
            format!("{{\"step\": {step}, \"loss\": {loss}, \"grad_norm\": 1.0, \"lr\": 0.0003}}\n")
        })
        .collect()
}

/// Sends reading `request` of `files` as the page does, `chunk` bytes at a time, and returns every
/// answer to it.
fn send_logs(
    s: &mut Session,
    request: u32,
    files: &[(&str, &str)],
    chunk: usize,
    vocab_size: Option<usize>,
) -> Vec<LogEvent> {
    let mut parts = vec![LogPart::Begin { format: None }];
    for (name, text) in files {
        parts.push(LogPart::File { name: name.to_string() });
        parts.extend(text.as_bytes().chunks(chunk).map(|c| LogPart::Chunk(Bytes(c.to_vec()))));
    }
    parts.push(LogPart::End { vocab_size });
    parts.into_iter().flat_map(|part| log_events(s.handle(ToWorker::Log { request, part }), request)).collect()
}

fn log_events(out: Vec<FromWorker>, request: u32) -> Vec<LogEvent> {
    out.into_iter()
        .map(|m| match m {
            FromWorker::Log { request: r, event } if r == request => event,
            other => panic!("unexpected message {other:?}"),
        })
        .collect()
}

#[test]
fn a_log_sent_in_chunks_is_read_and_diagnosed_run_by_run() {
    let mut s = Session::new(native_clock);
    let log = jsonl_log(300, Some(200));
    let mut events = send_logs(&mut s, 1, &[("train.jsonl", &log)], 1000, None);
    let Some(LogEvent::Read(read)) = events.pop() else { panic!("{events:?}") };
    let received: Vec<u64> =
        events.iter().map(|e| if let LogEvent::Received { bytes } = e { *bytes } else { panic!("{e:?}") }).collect();
    assert_eq!(received.len(), log.len().div_ceil(1000), "every chunk is answered");
    assert_eq!(received.last().copied(), Some(log.len() as u64));
    assert!(received.windows(2).all(|w| w[0] < w[1]));

    assert_eq!((read.format, read.files.as_slice()), (faultline_logs::Format::Jsonl, &["train.jsonl".to_string()][..]));
    let [run] = read.runs.as_slice() else { panic!("{:?}", read.runs) };
    let first = &run.report.findings[0];
    assert_eq!((first.entry, first.first_step), (EntryId::LossBecomesNan, Some(200)), "{:?}", run.report);
    assert!(matches!(run.report.vocab, Vocab::Estimated { step: 1, .. }), "{:?}", run.report.vocab);
    let mut signals: Vec<Signal> = run.curves.iter().map(|c| c.signal.clone()).collect();
    signals.sort();
    assert_eq!(signals, [Signal::Loss, Signal::GradNorm, Signal::LearningRate]);
    let loss = run.curves.iter().find(|c| c.signal == Signal::Loss).expect("the loss is charted");
    assert!(loss.points.iter().any(|p| p.step == 200 && p.value.is_nan()), "the NaN reaches the chart");

    let again =
        log_events(s.handle(ToWorker::Log { request: 2, part: LogPart::Rediagnose { vocab_size: Some(64) } }), 2);
    let [LogEvent::Read(again)] = again.as_slice() else { panic!("{again:?}") };
    assert_eq!(again.runs[0].report.vocab, Vocab::Given { size: 64 }, "the same runs, with the size given");
}

#[test]
fn a_bad_log_names_its_file_and_line_and_the_last_log_stays() {
    let mut s = Session::new(native_clock);
    let healthy = jsonl_log(300, None);
    let events = send_logs(&mut s, 1, &[("healthy.jsonl", &healthy)], 1 << 20, Some(64));
    let Some(LogEvent::Read(read)) = events.last() else { panic!("{events:?}") };
    assert!(read.runs[0].report.findings.is_empty(), "{:?}", read.runs[0].report);

    let backwards = "{\"step\": 1, \"loss\": 4.0}\n{\"step\": 5, \"loss\": 3.9}\n{\"step\": 2, \"loss\": 3.8}\n";
    let first_failure = |events: Vec<LogEvent>| {
        let at = events.iter().position(|e| matches!(e, LogEvent::Failed { .. })).expect("a failure");
        assert!(events[at..].iter().all(|e| *e == events[at]), "later pieces fail the same way: {events:?}");
        match &events[at] {
            LogEvent::Failed { message } => message.clone(),
            other => panic!("{other:?}"),
        }
    };
    let message = first_failure(send_logs(&mut s, 2, &[("bad.jsonl", backwards)], 16, None));
    assert!(message.starts_with("bad.jsonl:3: "), "{message}");
    let notes = "just some notes\nnothing logged here\n";
    let message = first_failure(send_logs(&mut s, 3, &[("notes.txt", notes)], 8, None));
    assert!(message.starts_with("notes.txt: cannot tell which format"), "{message}");

    let kept = log_events(s.handle(ToWorker::Log { request: 4, part: LogPart::Rediagnose { vocab_size: None } }), 4);
    let [LogEvent::Read(kept)] = kept.as_slice() else { panic!("{kept:?}") };
    assert_eq!(kept.files, ["healthy.jsonl"], "a failed reading leaves the last log read");

    s.handle(ToWorker::Log { request: 5, part: LogPart::Begin { format: None } });
    s.handle(ToWorker::Log { request: 6, part: LogPart::Begin { format: None } });
    let stale = log_events(s.handle(ToWorker::Log { request: 5, part: LogPart::File { name: "old.jsonl".into() } }), 5);
    assert_eq!(stale, [LogEvent::Failed { message: "this reading was replaced by a newer one".into() }]);
    let refused = log_events(s.handle(ToWorker::Log { request: 6, part: LogPart::End { vocab_size: Some(1) } }), 6);
    assert_eq!(refused, [LogEvent::Failed { message: "the vocabulary size must be at least 2, not 1".into() }]);
}
