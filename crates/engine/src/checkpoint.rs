//! The checkpoint file: everything a run needs to continue exactly where it stopped.
//!
//! Layout (integers little-endian):
//!
//! | bytes | what |
//! |---|---|
//! | 6 | the magic `FLCKPT` |
//! | 4 | format version ([`VERSION`]) |
//! | 8 | length of the whole file, checksum included |
//! | 4 + n | the [`RunConfig`] as JSON (faults and all), length-prefixed |
//! | 8 | steps done |
//! | 4 | optimiser updates applied (AdamW's bias correction counts them) |
//! | 32 | the batch sampler's random state, so the next batches are the ones the run would have drawn |
//! | 4 | number of tensors, then per tensor: name (length-prefixed UTF-8), rank, each dimension (8 bytes), the values as f32 |
//! | 8 | FNV-1a (64-bit) of every byte before it |
//!
//! The tensors are the parameters in [`ParamSet::tensors`](crate::model::ParamSet::tensors) order,
//! then the optimiser's state, then (only with the `no-zero-grad` fault, where gradients carry over
//! from step to step) the gradients; [`Trainer::checkpoint`](crate::Trainer::checkpoint) and
//! [`Trainer::from_checkpoint`](crate::Trainer::from_checkpoint) name them.

use crate::config::RunConfig;
use crate::error::EngineError;

/// The first bytes of every checkpoint.
pub const MAGIC: &[u8; 6] = b"FLCKPT";
/// The format version this build writes and the newest it reads.
pub const VERSION: u32 = 1;
/// Magic, version and length.
const HEADER: usize = 6 + 4 + 8;
const CHECKSUM: usize = 8;

/// One stored tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// The contents of a checkpoint file.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub config: RunConfig,
    pub steps_done: usize,
    pub optimizer_steps: u32,
    pub batch_rng: [u64; 4],
    pub tensors: Vec<NamedTensor>,
}

/// FNV-1a, 64-bit.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |h, &b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3))
}

fn refused(message: impl Into<String>) -> EngineError {
    EngineError::Checkpoint(message.into())
}

impl Checkpoint {
    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // the length, filled in below
        let config = serde_json::to_vec(&self.config).expect("a run config serialises");
        out.extend_from_slice(&(config.len() as u32).to_le_bytes());
        out.extend_from_slice(&config);
        out.extend_from_slice(&(self.steps_done as u64).to_le_bytes());
        out.extend_from_slice(&self.optimizer_steps.to_le_bytes());
        for word in self.batch_rng {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&(self.tensors.len() as u32).to_le_bytes());
        for t in &self.tensors {
            out.extend_from_slice(&(t.name.len() as u32).to_le_bytes());
            out.extend_from_slice(t.name.as_bytes());
            out.extend_from_slice(&(t.shape.len() as u32).to_le_bytes());
            for &d in &t.shape {
                out.extend_from_slice(&(d as u64).to_le_bytes());
            }
            for v in &t.values {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        let len = (out.len() + CHECKSUM) as u64;
        out[10..HEADER].copy_from_slice(&len.to_le_bytes());
        let sum = fnv1a(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Reads a file written by [`Checkpoint::to_bytes`]. Refuses, with a message that says why, a
    /// file that is not a checkpoint, one from a newer version, a truncated or damaged one, and one
    /// holding NaN or Inf (naming the tensor).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EngineError> {
        let (mut r, config) = Self::open(bytes)?;
        let steps_done = r.u64()? as usize;
        let optimizer_steps = r.u32()?;
        let batch_rng = [r.u64()?, r.u64()?, r.u64()?, r.u64()?];
        let count = r.u32()?;
        let mut tensors = Vec::new();
        for _ in 0..count {
            let name_len = r.u32()? as usize;
            let name = String::from_utf8(r.take(name_len)?.to_vec())
                .map_err(|_| refused("the checkpoint is damaged: a tensor name is not UTF-8"))?;
            let rank = r.u32()?;
            let shape = (0..rank).map(|_| r.u64().map(|d| d as usize)).collect::<Result<Vec<_>, _>>()?;
            let numel = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
            let bytes = numel
                .and_then(|n| n.checked_mul(4))
                .ok_or_else(|| refused(format!("the checkpoint is damaged: tensor {name} is impossibly large")))?;
            let values: Vec<f32> =
                r.take(bytes)?.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            if values.iter().any(|v| !v.is_finite()) {
                return Err(refused(format!("the checkpoint holds NaN or Inf in {name}; it cannot be resumed")));
            }
            tensors.push(NamedTensor { name, shape, values });
        }
        if r.at != r.bytes.len() {
            return Err(refused("the checkpoint is damaged: there are bytes after its last tensor"));
        }
        Ok(Self { config, steps_done, optimizer_steps, batch_rng, tensors })
    }

    /// The run settings of a checkpoint, without decoding its tensors (refused as
    /// [`Checkpoint::from_bytes`] refuses a file that is not a checkpoint or is damaged).
    pub fn read_config(bytes: &[u8]) -> Result<RunConfig, EngineError> {
        Ok(Self::open(bytes)?.1)
    }

    /// Checks the file's magic, version, length and checksum and reads its run settings: a reader
    /// over the file less its checksum, at what follows the settings, and the settings.
    fn open(bytes: &[u8]) -> Result<(Reader<'_>, RunConfig), EngineError> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(refused("not a Faultline checkpoint (the file does not start with FLCKPT)"));
        }
        let mut r = Reader { bytes, at: MAGIC.len() };
        let version = r.u32()?;
        if version > VERSION {
            return Err(refused(format!(
                "checkpoint format version {version} is newer than this Faultline reads (version {VERSION}); update Faultline to load it"
            )));
        }
        if version == 0 {
            return Err(refused("checkpoint format version 0 does not exist; the file is damaged"));
        }
        let declared = r.u64()?;
        if (bytes.len() as u64) < declared {
            return Err(refused(format!(
                "the checkpoint is truncated: {} of its {declared} bytes are there",
                bytes.len()
            )));
        }
        if bytes.len() as u64 != declared || bytes.len() < HEADER + CHECKSUM {
            return Err(refused(format!(
                "the checkpoint is damaged: it is {} bytes long but says {declared}",
                bytes.len()
            )));
        }
        let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM);
        if fnv1a(body).to_le_bytes() != sum {
            return Err(refused("the checkpoint is damaged: its checksum does not match its contents"));
        }
        let mut r = Reader { bytes: body, at: HEADER };
        let config_len = r.u32()? as usize;
        let config = serde_json::from_slice(r.take(config_len)?)
            .map_err(|e| refused(format!("the checkpoint's run settings cannot be read: {e}")))?;
        Ok((r, config))
    }
}

/// A cursor over the file's bytes; running off the end means the file lies about its contents.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EngineError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| refused("the checkpoint is truncated: it ends in the middle of its contents"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32, EngineError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, EngineError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
}
