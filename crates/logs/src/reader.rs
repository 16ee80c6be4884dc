//! Reading logs pushed a chunk at a time.

use crate::detect::{detect, HEAD};
use crate::hf::{self, State};
use crate::jsonl::Jsonl;
use crate::nanogpt::Nanogpt;
use crate::runs::Runs;
use crate::tb_csv::TbCsv;
use crate::tb_events::Events;
use crate::text::{Lines, Text};
use crate::wandb::Wandb;
use crate::{common, Format, ReadError, ReadLog};
use std::mem;

/// Reads log files pushed to it a chunk at a time, cut anywhere (within a line, a UTF-8 character, a
/// record): for each file [`Reader::begin_file`], [`Reader::push`] as often as there are chunks, and
/// [`Reader::end_file`]; then [`Reader::finish`]. The result, errors included, is [`read`](crate::read)'s
/// of the same files, however they are cut.
///
/// Where the format is detected, or is TRL's (a trainer state or JSONL), a file's first 64 KiB (or all
/// of it, where shorter) are kept until they settle it. From there on, text formats keep only their
/// unfinished line or CSV record (at most 16 MiB), event files only their unfinished record (one over
/// 16 MiB is checked as it goes by, unread), while a trainer state, one JSON document, is kept whole
/// (at most 256 MiB) and read when the file ends; [`Reader::buffered`] says how much is held. An error
/// comes from the call that brings its cause (the file's end, for a trainer state); after one, the
/// reader is spent, and every call returns that error again.
///
/// ```
/// use faultline_logs::{Format, Reader};
///
/// let mut reader = Reader::new(None);
/// reader.begin_file("metrics.jsonl")?;
/// for chunk in [&b"{\"step\": 1, \"lo"[..], b"ss\": 2.5}\n{\"step\": 2, \"loss\": 2.0}\n"] {
///     reader.push(chunk)?;
/// }
/// reader.end_file()?;
/// let log = reader.finish()?;
/// assert_eq!((log.format, log.runs[0].series[0].points.len()), (Format::Jsonl, 2));
/// # Ok::<(), faultline_logs::ReadError>(())
/// ```
pub struct Reader {
    /// The format the caller named.
    format: Option<Format>,
    /// Where detecting: the format of the files so far, and the first file's name.
    found: Option<(Format, String)>,
    /// Whether a file has begun.
    began: bool,
    runs: Runs,
    file: Option<File>,
    failed: Option<ReadError>,
}

/// The file being read.
struct File {
    name: String,
    /// Whether the file has held nothing but ASCII white space so far.
    blank: bool,
    /// How many points the runs held when the file began.
    points: usize,
    /// The first bytes, kept until they settle the format where it is detected, or is TRL's (whose
    /// files may be trainer states or JSONL): [`HEAD`] of them, or the whole file.
    head: Vec<u8>,
    /// The format the file is read as, and its reader, once settled.
    read: Option<(Format, Body)>,
    /// An error met while the file was blank, held until a byte that is not white space comes: a
    /// blank file is an empty one, whatever its format would make of the white space.
    held: Option<ReadError>,
}

/// A file being read in its format.
enum Body {
    Text(Text, Box<dyn Lines + Send + Sync>),
    Events(Events),
    State(State),
}

impl Reader {
    /// A reader of files of `format`; `None` tells each file's format from its name and first bytes.
    pub fn new(format: Option<Format>) -> Reader {
        Reader { format, found: None, began: false, runs: Runs::default(), file: None, failed: None }
    }

    /// Begins the file called `name` (a path, perhaps): the name errors and runs go by.
    pub fn begin_file(&mut self, name: &str) -> Result<(), ReadError> {
        self.attempt(|reader| {
            if let Some(open) = &reader.file {
                return Err(ReadError::new(&open.name, None, "this file was not ended before the next began"));
            }
            reader.began = true;
            let points = reader.runs.points();
            let name = name.to_string();
            reader.file = Some(File { name, blank: true, points, head: Vec::new(), read: None, held: None });
            Ok(())
        })
    }

    /// Reads the next `chunk` of the file begun.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), ReadError> {
        self.attempt(|reader| {
            let mut file = reader.file.take().ok_or_else(no_file)?;
            file.blank = file.blank && chunk.iter().all(u8::is_ascii_whitespace);
            let read = match file.held.take() {
                Some(held) => Err(held),
                None => reader.take(&mut file, chunk),
            };
            match read {
                Err(error) if file.blank => file.held = Some(error),
                read => read?,
            }
            reader.file = Some(file);
            Ok(())
        })
    }

    /// Ends the file begun: reads what is left of it, and checks that it held a numeric scalar.
    pub fn end_file(&mut self) -> Result<(), ReadError> {
        self.attempt(|reader| {
            let file = reader.file.take().ok_or_else(no_file)?;
            if file.blank {
                return Err(ReadError::new(&file.name, None, "the file is empty"));
            }
            let (format, body) = match file.read {
                Some(read) => read,
                None => reader.commit(&file.name, &file.head)?,
            };
            body.end(&file.name, &mut reader.runs)?;
            if reader.runs.points() == file.points {
                let message = format!("found no numeric scalars reading this as {format}");
                return Err(ReadError::new(&file.name, None, message));
            }
            Ok(())
        })
    }

    /// The files' format and their runs, in the order they first appear; an error where a file was not
    /// ended, or none began.
    pub fn finish(self) -> Result<ReadLog, ReadError> {
        if let Some(failed) = self.failed {
            return Err(failed);
        }
        if let Some(open) = &self.file {
            return Err(ReadError::new(&open.name, None, "this file was not ended before the reading finished"));
        }
        match self.format.or(self.found.map(|(format, _)| format)) {
            Some(format) if self.began => Ok(ReadLog { format, runs: self.runs.finish() }),
            _ => Err(ReadError::new("", None, "no log files to read")),
        }
    }

    /// The bytes the reader holds in its buffers (their capacity): the file's first bytes, its
    /// unfinished line or record, or the trainer state so far. The runs read are not counted.
    pub fn buffered(&self) -> usize {
        self.file
            .as_ref()
            .map_or(0, |file| file.head.capacity() + file.read.as_ref().map_or(0, |(_, body)| body.buffered()))
    }

    /// Reads `chunk` of `file`, or keeps it until the format is settled.
    fn take(&mut self, file: &mut File, chunk: &[u8]) -> Result<(), ReadError> {
        match &mut file.read {
            Some((_, body)) => body.push(&file.name, chunk, &mut self.runs),
            None => {
                file.head.extend_from_slice(chunk);
                let named = self.format.is_some_and(|format| format != Format::Trl);
                if named || file.head.len() >= HEAD {
                    let head = mem::take(&mut file.head);
                    file.read = Some(self.commit(&file.name, &head)?);
                }
                Ok(())
            }
        }
    }

    /// Runs `step` unless the reader is spent, and spends it where `step` fails.
    fn attempt<T>(&mut self, step: impl FnOnce(&mut Reader) -> Result<T, ReadError>) -> Result<T, ReadError> {
        if let Some(failed) = &self.failed {
            return Err(failed.clone());
        }
        step(self).inspect_err(|e| self.failed = Some(e.clone()))
    }

    /// The format of the file called `name`, from its `head`, and its reader, the head read.
    fn commit(&mut self, name: &str, head: &[u8]) -> Result<(Format, Body), ReadError> {
        let format = match self.format {
            Some(format) => format,
            None => self.detect(name, head)?,
        };
        let runs = &mut self.runs;
        let mut body = match format {
            Format::Hf => Body::State(State::default()),
            Format::Trl if hf::is_state(head) => Body::State(State::default()),
            Format::Trl | Format::Jsonl => Body::Text(Text::lines(1), Box::new(Jsonl::new(name, runs))),
            Format::Nanogpt => Body::Text(Text::lines(0), Box::new(Nanogpt::new(name, runs))),
            Format::TbCsv => Body::Text(Text::csv(), Box::<TbCsv>::default()),
            Format::WandbCsv => Body::Text(Text::csv(), Box::<Wandb>::default()),
            Format::TbEvents => Body::Events(Events::new(name, runs)),
        };
        body.push(name, head, runs)?;
        Ok((format, body))
    }

    /// The format `head` shows, made common with the files' so far: an error where it shows none, or
    /// one no reader shares with theirs.
    fn detect(&mut self, name: &str, head: &[u8]) -> Result<Format, ReadError> {
        let format = detect(name, head).ok_or_else(|| {
            let message = format!(
                "cannot tell which format this is; name it (--format on the command line, the Format menu on \
                 the page): {}",
                Format::spellings()
            );
            ReadError::new(name, None, message)
        })?;
        let Some((found, first)) = &mut self.found else {
            self.found = Some((format, name.to_string()));
            return Ok(format);
        };
        *found = common(*found, format).ok_or_else(|| {
            let message = format!("this log is {format}, but {first} is {found}; read one format at a time");
            ReadError::new(name, None, message)
        })?;
        Ok(*found)
    }
}

impl Body {
    fn push(&mut self, file: &str, chunk: &[u8], runs: &mut Runs) -> Result<(), ReadError> {
        match self {
            Body::Text(text, lines) => text.push(file, chunk, runs, lines.as_mut()),
            Body::Events(events) => events.push(file, chunk, runs),
            Body::State(state) => state.push(file, chunk),
        }
    }

    fn end(self, file: &str, runs: &mut Runs) -> Result<(), ReadError> {
        match self {
            Body::Text(mut text, mut lines) => text.end(file, runs, lines.as_mut()),
            Body::Events(_) => Ok(()),
            Body::State(state) => state.end(file, runs),
        }
    }

    fn buffered(&self) -> usize {
        match self {
            Body::Text(text, _) => text.buffered(),
            Body::Events(events) => events.buffered(),
            Body::State(state) => state.buffered(),
        }
    }
}

fn no_file() -> ReadError {
    ReadError::new("", None, "no file begun: call begin_file first")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hf::MAX_STATE;
    use crate::test_support::{event, fixtures, mutated, points, record, simple, EVENT_FILE, JSONL, NANOGPT};
    use crate::test_support::{DPO_STATE, EXPORT, PPO_JSONL, STATE, TB_LOSS, TB_VAL, TORCH};
    use crate::text::MAX_LINE;
    use crate::{read, Input};
    use faultline_telemetry::log::Signal;
    use proptest::prelude::*;
    use proptest::sample::{select, Index};
    use std::fmt::Write;

    /// Chunk sizes a stream cycles through: single bytes, odd sizes that cut lines, records and UTF-8
    /// characters anywhere, and the odd large one.
    const SIZES: [usize; 8] = [1, 3, 4093, 7, 65_537, 509, 16_411, 2];

    /// Pushes `bytes` to `reader` as the file `name`, in chunks of [`SIZES`], and ends it: the most the
    /// reader's buffers held after any push, or the error.
    fn stream(reader: &mut Reader, name: &str, bytes: &[u8]) -> Result<usize, ReadError> {
        reader.begin_file(name)?;
        let (mut most, mut at) = (0, 0);
        for size in SIZES.iter().cycle() {
            if at == bytes.len() {
                break;
            }
            let end = bytes.len().min(at + size);
            reader.push(&bytes[at..end])?;
            most = most.max(reader.buffered());
            at = end;
        }
        reader.end_file()?;
        Ok(most)
    }

    /// Streams `bytes` as the file `name`: what it reads to (as text, where NaN equals NaN) and the
    /// most the buffers held.
    fn streamed(name: &str, bytes: &[u8], format: Option<Format>) -> (String, usize) {
        let mut reader = Reader::new(format);
        let most = stream(&mut reader, name, bytes).unwrap_or_else(|e| panic!("{e}"));
        (format!("{:?}", reader.finish()), most)
    }

    /// What [`read`] makes of `bytes` whole, as text.
    fn whole(name: &str, bytes: &[u8], format: Option<Format>) -> String {
        format!("{:?}", read(&[Input { name, bytes }], format))
    }

    /// Reads `files` through a [`Reader`], each pushed in the chunks its cuts (positions in it, in any
    /// order) make.
    fn read_cut(files: &[(&str, &[u8], Vec<usize>)], format: Option<Format>) -> Result<ReadLog, ReadError> {
        let mut reader = Reader::new(format);
        for (name, bytes, cuts) in files {
            reader.begin_file(name)?;
            let mut cuts = cuts.clone();
            cuts.sort_unstable();
            let mut from = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                reader.push(&bytes[from..cut])?;
                from = cut;
            }
            reader.end_file()?;
        }
        reader.finish()
    }

    /// What [`read`] makes of `files` read whole, and what a [`Reader`] makes of them cut, as text (a
    /// NaN is no NaN's equal, but prints as one).
    fn whole_and_cut(files: &[(&str, &[u8], Vec<usize>)], format: Option<Format>) -> (String, String) {
        let inputs: Vec<Input> = files.iter().map(|(name, bytes, _)| Input { name, bytes }).collect();
        (format!("{:?}", read(&inputs, format)), format!("{:?}", read_cut(files, format)))
    }

    /// Files to read together, by name and bytes.
    type Files = Vec<(&'static str, &'static [u8])>;

    /// Files read together, and their format: each fixture alone, and a few as users bring them.
    fn groups() -> Vec<(Files, Format)> {
        let mut groups: Vec<_> =
            fixtures().into_iter().map(|(name, bytes, format)| (vec![(name, bytes)], format)).collect();
        groups.extend([
            (
                vec![
                    ("run_version_0-tag-train_loss.csv", TB_LOSS.as_bytes()),
                    ("run_version_0-tag-val_loss.csv", TB_VAL.as_bytes()),
                    ("run_version_1-tag-train_loss.csv", TB_LOSS.as_bytes()),
                ],
                Format::TbCsv,
            ),
            (
                vec![
                    ("sft/trainer_state.json", STATE.as_bytes()),
                    ("dpo/trainer_state.json", DPO_STATE.as_bytes()),
                    ("ppo.jsonl", PPO_JSONL.as_bytes()),
                    ("metrics.jsonl", JSONL.as_bytes()),
                ],
                Format::Trl,
            ),
            (vec![("metrics.jsonl", JSONL.as_bytes()), ("train.log", NANOGPT.as_bytes())], Format::Jsonl),
            (vec![("a/events.out.tfevents.1", &TORCH), ("b/events.out.tfevents.2", &EVENT_FILE)], Format::TbEvents),
            (vec![("export.csv", EXPORT.as_bytes()), ("blank.csv", b" \n\t\r\n")], Format::WandbCsv),
        ]);
        groups
    }

    /// A file as a case reads it: the fixture or a damaged copy, cut at a few places or at every byte.
    fn file_case(bytes: &'static [u8]) -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
        let cuts = prop_oneof![4 => proptest::collection::vec(any::<Index>(), 0..8).prop_map(Some), 1 => Just(None)];
        (prop_oneof![Just(bytes.to_vec()), mutated(bytes)], cuts).prop_map(|(bytes, cuts)| {
            let cuts = match cuts {
                Some(cuts) => cuts.iter().map(|cut| cut.index(bytes.len() + 1)).collect(),
                None => (1..bytes.len()).collect(),
            };
            (bytes, cuts)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(192))]

        /// Every fixture and group, whole or damaged, in chunks cut anywhere: as its format, as the
        /// format detected, and as any other, the chunks read as the whole does, errors included.
        #[test]
        fn fixtures_cut_anywhere_read_as_the_whole_does(
            cases in groups()
                .into_iter()
                .map(|(files, _)| files.into_iter().map(|(_, bytes)| file_case(bytes)).collect::<Vec<_>>())
                .collect::<Vec<_>>(),
            others in proptest::collection::vec(select(Format::ALL), groups().len()),
        ) {
            for (((files, format), case), other) in groups().into_iter().zip(cases).zip(others) {
                let files: Vec<(&str, &[u8], Vec<usize>)> =
                    files.iter().zip(&case).map(|((name, _), (bytes, cuts))| (*name, &bytes[..], cuts.clone())).collect();
                for format in [Some(format), None, Some(other)] {
                    let (whole, cut) = whole_and_cut(&files, format);
                    prop_assert_eq!(whole, cut, "{:?} as {:?}", files, format);
                }
            }
        }

        /// Arbitrary bytes, under any name a format goes by and as every format: never a panic, and the
        /// chunks read as the whole does.
        #[test]
        fn arbitrary_bytes_cut_anywhere_read_as_the_whole_does(
            bytes in proptest::collection::vec(any::<u8>(), 0..400),
            cuts in proptest::collection::vec(any::<Index>(), 0..8),
            name in select(vec![
                "log.jsonl", "trainer_state.json", "run-a-tag-loss.csv", "export.csv", "train.log",
                "events.out.tfevents.1", "log",
            ]),
        ) {
            let cuts: Vec<usize> = cuts.iter().map(|cut| cut.index(bytes.len() + 1)).collect();
            for format in Format::ALL.iter().copied().map(Some).chain([None]) {
                let (whole, cut) = whole_and_cut(&[(name, &bytes, cuts.clone())], format);
                prop_assert_eq!(whole, cut);
            }
        }
    }

    #[test]
    fn a_fifty_megabyte_jsonl_streams_through_a_few_hundred_kilobytes() {
        let sample = "Once upon a time, décroissance ∂ 🚀 ".repeat(12);
        let mut text = String::with_capacity(51 << 20);
        let mut step = 0u32;
        while text.len() < 50 << 20 {
            step += 1;
            let loss = 5.0 / f64::from(step).sqrt();
            writeln!(text, "{{\"step\": {step}, \"loss\": {loss:.6}, \"grad_norm\": NaN, \"sample\": \"{sample}\"}}")
                .unwrap();
        }
        let (log, most) = streamed("big/metrics.jsonl", text.as_bytes(), None);
        assert!(most <= 4 * HEAD, "the buffers held {most} bytes");
        assert!(log.starts_with("Ok(ReadLog { format: Jsonl"), "{}", &log[..log.len().min(200)]);
        assert_eq!(log, whole("big/metrics.jsonl", text.as_bytes(), None));
    }

    #[test]
    fn a_large_nanogpt_log_and_csv_stream_through_a_few_hundred_kilobytes() {
        let mut log = String::from("Overriding config with config/train_shakespeare_char.py:\n");
        let mut export = String::from("\"Step\",\"run, \"\"one\"\" - loss\",\"run two - note\"\r\n");
        for step in 0..100_000u32 {
            let loss = 4.0 / f64::from(step + 1).ln_1p();
            writeln!(log, "iter {step}: loss {loss:.4}, time 101.75ms, mfu 3.66%").unwrap();
            if step % 250 == 0 {
                writeln!(log, "step {step}: train loss {loss:.4}, val loss {:.4}", loss * 1.1).unwrap();
            }
            write!(export, "\"{step}\",\"{loss}\",\"a note\nover two lines, with \"\"quotes\"\"\"\r\n").unwrap();
        }
        for (name, bytes) in [("train.log", log.as_bytes()), ("wandb_export.csv", export.as_bytes())] {
            let (read, most) = streamed(name, bytes, None);
            assert!(most <= 4 * HEAD, "{name}: the buffers held {most} bytes");
            assert!(!read.starts_with("Err"), "{name}: {}", &read[..read.len().min(300)]);
            assert_eq!(read, whole(name, bytes, None), "{name}");
        }
    }

    #[test]
    fn errors_deep_in_a_large_log_name_their_line_as_whole_reads_do() {
        let mut text = String::new();
        for step in 1..=100_000 {
            writeln!(text, "{{\"step\": {step}, \"loss\": 1.5}}").unwrap();
        }
        text.push_str("{\"step\": 7, \"loss\": 1.5}\n");
        let mut reader = Reader::new(None);
        let e = stream(&mut reader, "metrics.jsonl", text.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "metrics.jsonl:100001: step 7 of `loss` comes after step 100000: steps must increase"
        );
        assert_eq!(format!("{:?}", Err::<ReadLog, _>(e)), whole("metrics.jsonl", text.as_bytes(), None));
    }

    #[test]
    fn a_line_or_record_past_the_limit_is_an_error_at_its_line() {
        let long = format!("{{\"step\": 1, \"loss\": 1}}\n\n{{\"note\": \"{}\"}}\n", "x".repeat(MAX_LINE));
        let e = read(&[Input { name: "m.jsonl", bytes: long.as_bytes() }], None).unwrap_err();
        assert_eq!(e.to_string(), "m.jsonl:3: this line runs past 16 MiB without a line end");
        assert_eq!(Err(e), read_cut(&[("m.jsonl", long.as_bytes(), vec![30, 5000])], None));
        let open = format!("Step,a - loss\n1,2\n2,\"{}\n", "3\n".repeat(MAX_LINE / 2));
        let e = read(&[Input { name: "x.csv", bytes: open.as_bytes() }], None).unwrap_err();
        assert_eq!(e.to_string(), "x.csv:3: this record runs past 16 MiB (a quoted field that never closes?)");
        let fits = format!("{{\"step\": 1, \"note\": \"{}\", \"loss\": 2}}\n", "x".repeat(MAX_LINE - 40));
        assert!(read(&[Input { name: "m.jsonl", bytes: fits.as_bytes() }], Some(Format::Jsonl)).is_ok());
    }

    #[test]
    fn an_event_record_too_large_to_keep_is_checked_as_it_goes_by() {
        let name = "events.out.tfevents.1";
        let mut file = TORCH.clone();
        let large = file.len();
        file.extend(record(&vec![7; crate::tb_events::MAX_RECORD + 1]));
        file.extend(event(4, vec![simple("train/loss", 1.5)]));
        let (log, most) = streamed(name, &file, None);
        assert!(most <= 4 * HEAD, "the buffers held {most} bytes");
        let whole = read(&[Input { name, bytes: &file }], None);
        assert_eq!(log, format!("{whole:?}"));
        assert_eq!(points(&whole.unwrap().runs[0], &Signal::Loss)[3], (4, 1.5), "the record after it reads");
        assert!(read(&[Input { name, bytes: &file[..large + 5000] }], None).is_ok(), "a writer at work");
        file[large + 100] ^= 1;
        let e = read(&[Input { name, bytes: &file }], None).unwrap_err();
        assert_eq!(e.message, format!("at byte {large}: the record's data fails its CRC (a damaged file)"));
    }

    #[test]
    fn a_trainer_state_is_kept_whole_up_to_its_limit() {
        let (log, most) = streamed("trainer_state.json", STATE.as_bytes(), None);
        assert_eq!(log, whole("trainer_state.json", STATE.as_bytes(), None));
        assert!(most >= STATE.len());
        let mut reader = Reader::new(Some(Format::Hf));
        reader.begin_file("trainer_state.json").unwrap();
        reader.push(b"{\"log_history\": [").unwrap();
        let e = reader.push(&vec![0; MAX_STATE]).unwrap_err();
        assert_eq!(e.to_string(), "trainer_state.json: a trainer state over 256 MiB is more than Faultline reads");
    }

    #[test]
    fn a_blank_file_of_any_size_is_empty_and_white_space_before_a_log_reads_as_whole() {
        let blank = " \n\r\n\t".repeat(HEAD / 2);
        let padded = format!("{blank}{JSONL}");
        for name in ["x.csv", "events.out.tfevents.1", "notes.txt", "m.jsonl"] {
            for format in Format::ALL.iter().copied().map(Some).chain([None]) {
                let e = read(&[Input { name, bytes: blank.as_bytes() }], format).unwrap_err();
                assert_eq!(e.to_string(), format!("{name}: the file is empty"), "{format:?}");
                let cuts = vec![1, HEAD - 1, HEAD + 1, blank.len() + 3];
                let (whole, cut) = whole_and_cut(&[(name, padded.as_bytes(), cuts)], format);
                assert_eq!(whole, cut, "{name} as {format:?}");
            }
        }
    }

    #[test]
    fn a_reader_used_out_of_order_says_so_and_one_that_failed_stays_failed() {
        let mut reader = Reader::new(None);
        assert_eq!(reader.push(b"x").unwrap_err().message, "no file begun: call begin_file first");
        let mut reader = Reader::new(None);
        reader.begin_file("a.jsonl").unwrap();
        let e = reader.begin_file("b.jsonl").unwrap_err();
        assert_eq!(e.to_string(), "a.jsonl: this file was not ended before the next began");
        assert_eq!(reader.end_file(), Err(e.clone()), "spent");
        assert_eq!(reader.finish(), Err(e));
        let mut reader = Reader::new(None);
        reader.begin_file("a.jsonl").unwrap();
        reader.push(JSONL.as_bytes()).unwrap();
        let e = reader.finish().unwrap_err();
        assert_eq!(e.to_string(), "a.jsonl: this file was not ended before the reading finished");
        assert_eq!(Reader::new(Some(Format::Hf)).finish().unwrap_err().to_string(), "no log files to read");
        assert_eq!(Reader::new(None).end_file().unwrap_err().message, "no file begun: call begin_file first");
    }

    #[test]
    fn a_reader_may_move_to_another_thread() {
        fn send_and_sync<T: Send + Sync>() {}
        send_and_sync::<Reader>();
    }
}
