//! TensorBoard's event files (`events.out.tfevents.*`): TFRecord records, each an `Event` protobuf whose
//! summary holds tagged scalars, as PyTorch's `SummaryWriter` writes them (`simple_value`) or as TF2's
//! `tf.summary.scalar` does (a scalar tensor). A file's run is named after its folder (TensorBoard's
//! run: files in one folder add to one run, as they do there), or after the file where the name has no
//! folder.
//!
//! A record is framed as its length (u64, little-endian), the length's masked CRC-32C, the data, and
//! the data's masked CRC-32C; both CRCs are checked. Records are read as they arrive, and only the
//! unfinished one is kept; one over 16 MiB (a graph or an image: no event of scalars is that large) is
//! checked as it goes by and not read. A last record cut short is a writer still at work: the file reads up to it.
//! Anything else damaged is an error at the record's byte offset.

use crate::crc32c::{masked, Crc32c};
use crate::proto::{fields, Value};
use crate::runs::{RunBuilder, Runs};
use crate::ReadError;
use std::borrow::Cow;

/// A record's length and its CRC.
const HEADER: usize = 12;
/// The data's CRC after it.
const FOOTER: usize = 4;
/// The largest record read: a larger one, a graph or an image, has its CRC checked as it goes by,
/// unread, so that it is never held whole.
pub(crate) const MAX_RECORD: usize = 16 << 20;
const LENGTH_CRC: &str = "the record's length fails its CRC (a damaged file, or not an event file)";
const DATA_CRC: &str = "the record's data fails its CRC (a damaged file)";
/// `TensorProto.dtype` values read: `DT_FLOAT`, `DT_DOUBLE`.
pub(crate) const DT_FLOAT: u64 = 1;
pub(crate) const DT_DOUBLE: u64 = 2;

/// Whether `bytes` begin with a TFRecord header whose CRC holds.
pub(crate) fn looks_like(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER && masked(&bytes[..8]) == u32_at(bytes, 8)
}

/// The run a file's events belong to: its folder, or the file where the name has none.
pub(crate) fn run_name(name: &str) -> &str {
    match name.rfind(['/', '\\']) {
        Some(cut) if cut > 0 => &name[..cut],
        _ => name,
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// An event file being read into the run its name gives: the unfinished record kept, or the one too
/// large to keep being passed over.
pub(crate) struct Events {
    run: usize,
    pending: Vec<u8>,
    /// The file's offset of `pending`'s first byte.
    offset: u64,
    skipping: Option<Skip>,
}

/// A record over [`MAX_RECORD`], checked as it goes by but not read.
struct Skip {
    /// Its offset in the file.
    at: u64,
    /// Its data's bytes still to come.
    left: u64,
    crc: Crc32c,
}

impl Events {
    pub(crate) fn new(file: &str, runs: &mut Runs) -> Events {
        Events { run: runs.index(run_name(file)), pending: Vec::new(), offset: 0, skipping: None }
    }

    /// The bytes held (the buffer's capacity).
    pub(crate) fn buffered(&self) -> usize {
        self.pending.capacity()
    }

    /// Takes `chunk` in and reads the records it completes. A record cut short at the file's end is a
    /// writer still at work, so what is left at the end needs no reading.
    pub(crate) fn push(&mut self, file: &str, chunk: &[u8], runs: &mut Runs) -> Result<(), ReadError> {
        self.pending.extend_from_slice(chunk);
        let run = runs.run(self.run);
        let mut at = 0;
        let result = loop {
            let offset = self.offset + at as u64;
            let error = |at: u64, message: &str| ReadError::new(file, None, format!("at byte {at}: {message}"));
            let left = &self.pending[at..];
            if let Some(skip) = &mut self.skipping {
                let data = left.len().min(usize::try_from(skip.left).unwrap_or(usize::MAX));
                skip.crc.update(&left[..data]);
                skip.left -= data as u64;
                at += data;
                if skip.left > 0 || left.len() - data < FOOTER {
                    break Ok(());
                }
                if skip.crc.masked() != u32_at(left, data) {
                    break Err(error(skip.at, DATA_CRC));
                }
                at += FOOTER;
                self.skipping = None;
                continue;
            }
            if left.len() < HEADER {
                break Ok(());
            }
            let length = u64::from_le_bytes(left[..8].try_into().expect("8 bytes"));
            if masked(&left[..8]) != u32_at(left, 8) {
                break Err(error(offset, LENGTH_CRC));
            }
            let Some(length) = usize::try_from(length).ok().filter(|&length| length <= MAX_RECORD) else {
                self.skipping = Some(Skip { at: offset, left: length, crc: Crc32c::new() });
                at += HEADER;
                continue;
            };
            if left.len() < HEADER + length + FOOTER {
                break Ok(());
            }
            let data = &left[HEADER..HEADER + length];
            if masked(data) != u32_at(left, HEADER + length) {
                break Err(error(offset, DATA_CRC));
            }
            if let Err(message) = event(data, run) {
                break Err(error(offset, &message));
            }
            at += HEADER + length + FOOTER;
        };
        self.pending.drain(..at);
        self.offset += at as u64;
        result
    }
}

/// Adds the scalars of one `Event` to `run`.
fn event(data: &[u8], run: &mut RunBuilder) -> Result<(), String> {
    let mut step = 0;
    for field in fields(data) {
        if let (2, Value::Varint(value)) = field? {
            step = u64::try_from(value as i64).map_err(|_| format!("step {} is negative", value as i64))?;
        }
    }
    for field in fields(data) {
        if let (5, Value::Bytes(summary)) = field? {
            for field in fields(summary) {
                if let (1, Value::Bytes(value)) = field? {
                    if let Some((tag, value)) = scalar(value)? {
                        let slot = run.slot(&tag);
                        run.push(slot, step, value)?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// The tag and number of one `Summary.Value`, if it holds a scalar (not an image, a histogram, text).
fn scalar(value: &[u8]) -> Result<Option<(Cow<'_, str>, f32)>, String> {
    let (mut tag, mut simple, mut tensor) = (None, None, None);
    for field in fields(value) {
        match field? {
            (1, Value::Bytes(name)) => tag = Some(name),
            (2, Value::Fixed32(bits)) => simple = Some(f32::from_bits(bits)),
            (8, Value::Bytes(proto)) => tensor = Some(proto),
            _ => {}
        }
    }
    let number = match (simple, tensor) {
        (Some(number), _) => Some(number),
        (None, Some(proto)) => tensor_scalar(proto)?,
        (None, None) => None,
    };
    Ok(tag.zip(number).map(|(tag, number)| (String::from_utf8_lossy(tag), number)))
}

/// The number a `TensorProto` holds, if it is one float or double.
fn tensor_scalar(proto: &[u8]) -> Result<Option<f32>, String> {
    let (mut dtype, mut elements, mut content) = (0, Some(1), &[][..]);
    let (mut float, mut double) = (None, None);
    for field in fields(proto) {
        match field? {
            (1, Value::Varint(d)) => dtype = d,
            (2, Value::Bytes(shape)) => elements = shape_elements(shape)?,
            (4, Value::Bytes(bytes)) => content = bytes,
            (5, Value::Fixed32(bits)) => {
                float.get_or_insert(f32::from_bits(bits));
            }
            (5, Value::Bytes(packed)) => {
                if let Some(first) = packed.first_chunk::<4>() {
                    float.get_or_insert(f32::from_le_bytes(*first));
                }
            }
            (6, Value::Fixed64(bits)) => {
                double.get_or_insert(f64::from_bits(bits));
            }
            (6, Value::Bytes(packed)) => {
                if let Some(first) = packed.first_chunk::<8>() {
                    double.get_or_insert(f64::from_le_bytes(*first));
                }
            }
            _ => {}
        }
    }
    if elements != Some(1) {
        return Ok(None);
    }
    Ok(match dtype {
        DT_FLOAT => float.or_else(|| content.try_into().ok().map(f32::from_le_bytes)),
        DT_DOUBLE => double.or_else(|| content.try_into().ok().map(f64::from_le_bytes)).map(|v| v as f32),
        _ => None,
    })
}

/// How many elements a `TensorShapeProto` holds; `None` where a size is unknown or too large.
fn shape_elements(shape: &[u8]) -> Result<Option<u64>, String> {
    let mut elements = Some(1u64);
    for field in fields(shape) {
        match field? {
            (2, Value::Bytes(dim)) => {
                // A size of -1 is unknown.
                let mut size = 0;
                for field in fields(dim) {
                    if let (1, Value::Varint(s)) = field? {
                        size = s as i64;
                    }
                }
                elements = elements.zip(u64::try_from(size).ok()).and_then(|(n, size)| n.checked_mul(size));
            }
            (3, Value::Varint(unknown_rank)) if unknown_rank != 0 => return Ok(None),
            _ => {}
        }
    }
    Ok(elements)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{event, mutated, points, record, simple, tensor, version, Message, Style, EVENT, TORCH};
    use crate::{detect, read, Format, Input, ReadLog};
    use faultline_telemetry::log::Signal;
    use proptest::prelude::*;

    fn read_files(files: &[(&str, &[u8])]) -> Result<ReadLog, ReadError> {
        let inputs: Vec<Input> = files.iter().map(|&(name, bytes)| Input { name, bytes }).collect();
        read(&inputs, Some(Format::TbEvents))
    }

    #[test]
    fn simple_values_read_as_a_run_named_after_the_folder() {
        let log = read_files(&[("runs/exp1/events.out.tfevents.1700000000.host.1.0", &TORCH)]).unwrap();
        let run = &log.runs[0];
        assert_eq!(run.name, "runs/exp1");
        let loss = points(run, &Signal::Loss);
        assert_eq!(&loss[..2], [(1, 2.5), (2, 2.0)]);
        assert!(loss[2].1.is_nan());
        assert_eq!(points(run, &Signal::LearningRate), [(1, 0.1), (2, 0.1), (3, 0.1)]);
    }

    #[test]
    fn tf2_scalar_tensors_read_in_every_encoding() {
        let mut file = version();
        file.extend(event(
            5,
            vec![
                tensor("epoch_loss", Style::PackedFloat(1.5), &[]),
                tensor("val_loss", Style::UnpackedFloat(1.75), &[]),
                tensor("grad_norm", Style::FloatContent(0.5), &[]),
                tensor("learning_rate", Style::Double(0.25), &[]),
                tensor("time_ms", Style::DoubleContent(12.0), &[1]),
                tensor("histogram", Style::PackedFloat(1.0), &[3]),
                tensor("unknown", Style::PackedFloat(1.0), &[-1]),
                Message::default().bytes(1, b"text").message(8, Message::default().varint(1, 7).bytes(8, b"hello")),
            ],
        ));
        let log = read_files(&[("events.out.tfevents.1", &file)]).unwrap();
        let run = &log.runs[0];
        assert_eq!(run.name, "events.out.tfevents.1");
        assert_eq!(points(run, &Signal::Other("epoch_loss".into())), [(5, 1.5)]);
        assert_eq!(points(run, &Signal::ValLoss), [(5, 1.75)]);
        assert_eq!(points(run, &Signal::GradNorm), [(5, 0.5)]);
        assert_eq!(points(run, &Signal::LearningRate), [(5, 0.25)]);
        assert_eq!(points(run, &Signal::StepTimeMs), [(5, 12.0)]);
        assert_eq!(run.series.len(), 5, "no histogram, unknown shape or text");
    }

    #[test]
    fn both_styles_may_share_an_event() {
        let mut file = version();
        file.extend(record(&EVENT));
        let log = read_files(&[("events.out.tfevents.1", &file)]).unwrap();
        let run = &log.runs[0];
        assert_eq!(points(run, &Signal::Loss), [(4, 1.0)]);
        assert_eq!(points(run, &Signal::ValLoss), [(4, 2.0)]);
        assert_eq!(points(run, &Signal::LearningRate), [(4, 0.5)]);
    }

    #[test]
    fn several_files_are_several_runs() {
        let log = read_files(&[
            ("logs/train/events.out.tfevents.1", &TORCH),
            ("logs/validation/events.out.tfevents.2", &TORCH),
        ])
        .unwrap();
        let names: Vec<&str> = log.runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["logs/train", "logs/validation"]);
    }

    #[test]
    fn a_last_record_cut_short_is_a_writer_still_at_work() {
        for cut in [TORCH.len() - 1, TORCH.len() - 20, TORCH.len() - 30, TORCH.len() - 60] {
            let log = read_files(&[("events.out.tfevents.1", &TORCH[..cut])]).unwrap();
            assert_eq!(points(&log.runs[0], &Signal::Loss), [(1, 2.5), (2, 2.0)]);
        }
    }

    #[test]
    fn a_damaged_record_is_an_error_at_its_offset() {
        let second = version().len() + event(1, vec![simple("train/loss", 2.5), simple("train/lr", 0.1)]).len();
        let mut bad_data = TORCH.clone();
        bad_data[second + HEADER + 3] ^= 1;
        let e = read_files(&[("events.out.tfevents.1", &bad_data)]).unwrap_err();
        assert_eq!(e.line, None);
        assert_eq!(
            e.to_string(),
            format!("events.out.tfevents.1: at byte {second}: the record's data fails its CRC (a damaged file)")
        );
        let mut bad_length = TORCH.clone();
        bad_length[second + 9] ^= 1;
        let e = read_files(&[("events.out.tfevents.1", &bad_length)]).unwrap_err();
        assert!(e.message.starts_with(&format!("at byte {second}: the record's length fails its CRC")), "{e}");
    }

    #[test]
    fn steps_must_increase_and_not_be_negative() {
        let mut file = version();
        let second = file.len() + event(7, vec![simple("loss", 1.0)]).len();
        file.extend(event(7, vec![simple("loss", 1.0)]));
        file.extend(event(3, vec![simple("loss", 0.5)]));
        let e = read_files(&[("events.out.tfevents.1", &file)]).unwrap_err();
        assert_eq!(e.message, format!("at byte {second}: step 3 of `loss` comes after step 7: steps must increase"));
        let mut file = version();
        file.extend(event(-2, vec![simple("loss", 1.0)]));
        let e = read_files(&[("events.out.tfevents.1", &file)]).unwrap_err();
        assert!(e.message.ends_with("step -2 is negative"), "{e}");
    }

    #[test]
    fn other_files_are_not_events() {
        let e = read_files(&[("log.jsonl", b"{\"step\": 1, \"loss\": 2.0}\n")]).unwrap_err();
        assert!(e.message.starts_with("at byte 0: the record's length fails its CRC"), "{e}");
        let e = read_files(&[("events.out.tfevents.1", &version())]).unwrap_err();
        assert_eq!(e.message, "found no numeric scalars reading this as tb-events");
    }

    #[test]
    fn event_files_are_told_by_name_or_by_their_first_record() {
        assert_eq!(detect("events.out.tfevents.1700000000.host", b""), Some(Format::TbEvents));
        assert_eq!(detect("renamed.bin", &TORCH), Some(Format::TbEvents));
        assert!(looks_like(&TORCH));
        assert!(!looks_like(b"{\"step\": 1, \"loss\": 2.0}"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(192))]

        /// Damage inside a record's data whose CRCs are then made to hold again: the decoder itself
        /// meets the damage.
        #[test]
        fn damaged_events_with_good_crcs_never_panic(data in mutated(&EVENT)) {
            let mut file = version();
            file.extend(record(&data));
            let _ = read(&[Input { name: "events.out.tfevents.1", bytes: &file }], Some(Format::TbEvents));
        }
    }
}
