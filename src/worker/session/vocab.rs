//! The vocabulary sizes of the corpora the session has loaded, which the memory estimate and the
//! out-of-memory diagnosis need before any model exists; each corpus is loaded once.

use faultline_engine::config::CorpusSource;
use faultline_engine::data::Dataset;
use faultline_engine::RunConfig;

/// Vocabulary sizes of the corpora already loaded, at most this many remembered.
const VOCAB_CACHE: usize = 8;

/// What a corpus's vocabulary depends on: the text, and the data faults that change the tokenizer.
#[derive(Clone, Debug, PartialEq)]
struct VocabKey {
    corpus: CorpusSource,
    context: usize,
    /// The seed picks the documents a word vocabulary is built from; it matters only then.
    word_seed: Option<u64>,
    word_level_vocab: Option<f32>,
    lossy_normalization: bool,
}

impl VocabKey {
    fn of(config: &RunConfig) -> Self {
        let faults = &config.faults;
        Self {
            corpus: config.corpus.clone(),
            context: config.preset.model(1).context,
            word_seed: faults.word_level_vocab.map(|_| config.seed),
            word_level_vocab: faults.word_level_vocab,
            lossy_normalization: faults.lossy_normalization,
        }
    }
}

/// The last [`VOCAB_CACHE`] vocabulary sizes looked up, or why the corpus could not be loaded.
#[derive(Default)]
pub(super) struct Vocabularies {
    known: Vec<(VocabKey, Result<usize, String>)>,
}

impl Vocabularies {
    /// The vocabulary size a run with `config` gets (loading its corpus the first time).
    pub(super) fn size(&mut self, config: &RunConfig) -> Result<usize, String> {
        let key = VocabKey::of(config);
        if let Some((_, known)) = self.known.iter().find(|(k, _)| *k == key) {
            return known.clone();
        }
        let loaded = Dataset::load_with(&config.corpus, config.seed, key.context, &config.faults)
            .map(|d| d.tokenizer.vocab_size())
            .map_err(|e| e.to_string());
        if self.known.len() == VOCAB_CACHE {
            drop(self.known.remove(0));
        }
        self.known.push((key, loaded.clone()));
        loaded
    }
}
