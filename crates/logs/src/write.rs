//! Writing TensorBoard event files, as PyTorch's `SummaryWriter` writes scalars: the evaluation writes
//! the engine's runs as event files with it, and the readers' tests build their fixtures on it.

use crate::crc32c::masked;

/// A protobuf message being written, field by field.
#[derive(Default)]
pub(crate) struct Message(Vec<u8>);

impl Message {
    pub(crate) fn varint(mut self, field: u64, value: u64) -> Message {
        self.key(field, 0);
        self.raw_varint(value);
        self
    }

    pub(crate) fn fixed64(mut self, field: u64, value: u64) -> Message {
        self.key(field, 1);
        self.0.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub(crate) fn bytes(mut self, field: u64, value: &[u8]) -> Message {
        self.key(field, 2);
        self.raw_varint(value.len() as u64);
        self.0.extend_from_slice(value);
        self
    }

    pub(crate) fn fixed32(mut self, field: u64, value: u32) -> Message {
        self.key(field, 5);
        self.0.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub(crate) fn message(self, field: u64, inner: Message) -> Message {
        self.bytes(field, &inner.0)
    }

    fn key(&mut self, field: u64, wire: u64) {
        self.raw_varint(field << 3 | wire);
    }

    fn raw_varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }
}

/// `data` framed as a TFRecord: its length, the length's masked CRC-32C, the data, the data's.
pub(crate) fn record(data: &[u8]) -> Vec<u8> {
    let length = (data.len() as u64).to_le_bytes();
    let mut out = length.to_vec();
    out.extend_from_slice(&masked(&length).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked(data).to_le_bytes());
    out
}

/// An `Event` (wall time, step) holding a `Summary` of `values`.
pub(crate) fn event_data(wall_time: f64, step: i64, values: Vec<Message>) -> Vec<u8> {
    let summary = values.into_iter().fold(Message::default(), |summary, value| summary.message(1, value));
    Message::default().fixed64(1, wall_time.to_bits()).varint(2, step as u64).message(5, summary).0
}

/// A `Summary.Value` holding a scalar as `simple_value`.
pub(crate) fn simple_value(tag: &str, value: f32) -> Message {
    Message::default().bytes(1, tag.as_bytes()).fixed32(2, value.to_bits())
}

/// An event file being written: the file-version event, then one event per [`EventWriter::scalars`].
pub struct EventWriter {
    bytes: Vec<u8>,
}

impl EventWriter {
    /// A file begun at `wall_time` (seconds since the epoch).
    pub fn new(wall_time: f64) -> EventWriter {
        let version = Message::default().fixed64(1, wall_time.to_bits()).bytes(3, b"brain.Event:2");
        EventWriter { bytes: record(&version.0) }
    }

    /// One event at `step` and `wall_time` with the scalars `values` (tag, value).
    pub fn scalars(&mut self, wall_time: f64, step: i64, values: &[(&str, f32)]) {
        let values = values.iter().map(|&(tag, value)| simple_value(tag, value)).collect();
        self.bytes.extend(record(&event_data(wall_time, step, values)));
    }

    /// The file's bytes.
    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::points;
    use crate::{read, Format, Input};
    use faultline_telemetry::log::Signal;

    #[test]
    fn a_written_file_reads_back() {
        let mut file = EventWriter::new(1.7e9);
        file.scalars(1.7e9, 1, &[("train/loss", 2.5), ("train/grad_norm", 0.75)]);
        file.scalars(1.7e9 + 1.0, 2, &[("train/loss", f32::NAN)]);
        let bytes = file.finish();
        let log = read(&[Input { name: "run/events.out.tfevents.1", bytes: &bytes }], None).unwrap();
        assert_eq!(log.format, Format::TbEvents);
        let run = &log.runs[0];
        let loss = points(run, &Signal::Loss);
        assert_eq!(loss[0], (1, 2.5));
        assert!(loss[1].1.is_nan());
        assert_eq!(points(run, &Signal::GradNorm), [(1, 0.75)]);
    }
}
