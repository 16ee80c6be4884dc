//! The page's routes, kept in the URL's hash so a static host serves every page from `index.html`:
//! `#/` the trainer, `#/guide` the guide's index, `#/guide/<id>` one entry, `#/exercises` the exercises,
//! `#/exercises/<id>` one exercise, `#/mystery` a mystery round with a new seed and `#/mystery/<seed>`
//! a given one, `#/mystery/two` and `#/mystery/two/<seed>` the same with two hidden faults, `#/diagnose`
//! the detector on a training log another program wrote, `#/align` a pretrained model fine-tuned with
//! DPO and `#/align/rl` with a policy gradient against learned reward models, `#/align/mystery` a fine-tuning mystery round with a new seed and `#/align/mystery/<seed>` a
//! given one.

use crate::exercises::ExerciseId;
use faultline_engine::align::Method;
use faultline_engine::guide::{EntryId, SectionId};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Trainer,
    GuideIndex,
    /// A guide entry that exists.
    GuideEntry(EntryId),
    Exercises,
    /// An exercise that exists.
    Exercise(ExerciseId),
    /// A mystery round: how many faults it hides, and the seed the link names (none for a new one).
    Mystery {
        faults: usize,
        seed: Option<u64>,
    },
    /// The detector on a log another program wrote.
    Diagnose,
    /// Fine-tuning of a pretrained model with a method: DPO, or the policy gradient.
    Align(Method),
    /// A fine-tuning mystery round, with the seed the link names (none for a new one).
    AlignMystery(Option<u64>),
    /// Anything else, as written.
    NotFound(String),
}

impl Route {
    /// The mystery link of the site's navigation: one hidden fault, a new seed.
    pub const MYSTERY: Route = Route::Mystery { faults: 1, seed: None };

    /// The route a `location.hash` (with or without its `#`) names; a second `#` starts an anchor
    /// within the page (see [`anchor`]).
    pub fn parse(hash: &str) -> Route {
        let path = hash.trim_start_matches('#');
        let path = path.split_once('#').map_or(path, |(p, _)| p);
        let path = path.trim_start_matches('/').trim_end_matches('/');
        match path.split_once('/') {
            None if path.is_empty() => Route::Trainer,
            None if path == "guide" => Route::GuideIndex,
            None if path == "exercises" => Route::Exercises,
            None if path == "diagnose" => Route::Diagnose,
            None if path == "align" => Route::Align(Method::Dpo),
            Some(("align", "rl")) => Route::Align(Method::Rl),
            Some(("align", "mystery")) => Route::AlignMystery(None),
            Some(("align", rest)) => match rest.strip_prefix("mystery/").map(str::parse) {
                Some(Ok(seed)) => Route::AlignMystery(Some(seed)),
                _ => Route::NotFound(hash.to_string()),
            },
            Some(("exercises", id)) => match id.parse() {
                Ok(id) => Route::Exercise(id),
                Err(_) => Route::NotFound(hash.to_string()),
            },
            None if path == "mystery" => Route::Mystery { faults: 1, seed: None },
            Some(("mystery", "two")) => Route::Mystery { faults: 2, seed: None },
            Some(("mystery", rest)) => {
                let (faults, seed) = rest.strip_prefix("two/").map_or((1, rest), |seed| (2, seed));
                match seed.parse() {
                    Ok(seed) => Route::Mystery { faults, seed: Some(seed) },
                    Err(_) => Route::NotFound(hash.to_string()),
                }
            }
            Some(("guide", id)) => match id.parse() {
                Ok(entry) => Route::GuideEntry(entry),
                Err(_) => Route::NotFound(hash.to_string()),
            },
            _ => Route::NotFound(hash.to_string()),
        }
    }

    /// Whether this route is one of the alignment page's: it shows and links the alignment form.
    pub fn is_align(&self) -> bool {
        matches!(self, Route::Align(_) | Route::AlignMystery(_))
    }

    /// The link to this route.
    pub fn href(&self) -> String {
        match self {
            Route::Trainer => "#/".to_string(),
            Route::GuideIndex => "#/guide".to_string(),
            Route::GuideEntry(id) => entry_href(*id),
            Route::Exercises => "#/exercises".to_string(),
            Route::Exercise(id) => format!("#/exercises/{id}"),
            Route::Mystery { faults, seed } => {
                let two = if *faults > 1 { "/two" } else { "" };
                let seed = seed.map(|s| format!("/{s}")).unwrap_or_default();
                format!("#/mystery{two}{seed}")
            }
            Route::Diagnose => "#/diagnose".to_string(),
            Route::Align(Method::Dpo) => "#/align".to_string(),
            Route::Align(Method::Rl) => "#/align/rl".to_string(),
            Route::AlignMystery(seed) => {
                format!("#/align/mystery{}", seed.map(|s| format!("/{s}")).unwrap_or_default())
            }
            Route::NotFound(hash) => hash.clone(),
        }
    }
}

/// The element a hash like `#/guide#numerical-issues` asks to scroll to.
pub fn anchor(hash: &str) -> Option<&str> {
    hash.trim_start_matches('#').split_once('#').map(|(_, a)| a).filter(|a| !a.is_empty())
}

/// The link to a section of the guide's index.
pub fn section_href(section_id: SectionId) -> String {
    format!("#/guide#{section_id}")
}

/// The link to guide entry `id`.
pub fn entry_href(id: EntryId) -> String {
    format!("#/guide/{id}")
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use faultline_engine::guide;

    #[test]
    fn parses_every_route() {
        assert_eq!(Route::parse(""), Route::Trainer);
        assert_eq!(Route::parse("#/"), Route::Trainer);
        assert_eq!(Route::parse("#/guide"), Route::GuideIndex);
        assert_eq!(Route::parse("#/guide/"), Route::GuideIndex);
        assert_eq!(Route::parse("#/guide/loss-becomes-nan"), Route::GuideEntry(EntryId::LossBecomesNan));
        assert_eq!(Route::parse("#/guide/nope"), Route::NotFound("#/guide/nope".into()));
        assert_eq!(Route::parse("#/elsewhere"), Route::NotFound("#/elsewhere".into()));
        assert_eq!(Route::parse("#/exercises"), Route::Exercises);
        assert_eq!(Route::parse("#/exercises/first-run"), Route::Exercise(ExerciseId::FirstRun));
        assert_eq!(Route::parse("#/exercises/nope"), Route::NotFound("#/exercises/nope".into()));
        assert_eq!(Route::parse(&section_href(SectionId::NumericalIssues)), Route::GuideIndex);
        assert_eq!(anchor(&section_href(SectionId::NumericalIssues)), Some("numerical-issues"));
        assert_eq!(anchor("#/guide"), None);
        assert_eq!(Route::parse("#/mystery"), Route::Mystery { faults: 1, seed: None });
        assert_eq!(Route::parse("#/mystery/42"), Route::Mystery { faults: 1, seed: Some(42) });
        assert_eq!(Route::parse("#/mystery/two"), Route::Mystery { faults: 2, seed: None });
        assert_eq!(Route::parse("#/mystery/two/42"), Route::Mystery { faults: 2, seed: Some(42) });
        for faults in [1, 2] {
            for seed in [None, Some(7)] {
                let route = Route::Mystery { faults, seed };
                assert_eq!(Route::parse(&route.href()), route);
            }
        }
        assert_eq!(Route::parse("#/mystery/x"), Route::NotFound("#/mystery/x".into()));
        assert_eq!(Route::parse("#/mystery/two/x"), Route::NotFound("#/mystery/two/x".into()));
        assert_eq!(Route::parse("#/mystery/three/1"), Route::NotFound("#/mystery/three/1".into()));
        assert_eq!(Route::parse("#/diagnose"), Route::Diagnose);
        assert_eq!(Route::parse("#/diagnose/"), Route::Diagnose);
        assert_eq!(Route::parse("#/diagnose/x"), Route::NotFound("#/diagnose/x".into()));
        assert_eq!(Route::parse("#/align"), Route::Align(Method::Dpo));
        assert_eq!(Route::parse("#/align/"), Route::Align(Method::Dpo));
        assert_eq!(Route::parse("#/align/rl"), Route::Align(Method::Rl));
        assert_eq!(Route::parse("#/align/rl/"), Route::Align(Method::Rl));
        assert_eq!(Route::parse("#/align/x"), Route::NotFound("#/align/x".into()));
        assert_eq!(Route::parse("#/align/mystery"), Route::AlignMystery(None));
        assert_eq!(Route::parse("#/align/mystery/2"), Route::AlignMystery(Some(2)));
        assert_eq!(Route::parse("#/align/mystery/x"), Route::NotFound("#/align/mystery/x".into()));
        for route in [Route::AlignMystery(None), Route::AlignMystery(Some(7))] {
            assert_eq!(Route::parse(&route.href()), route);
        }
    }

    #[test]
    fn every_entry_is_reachable_and_links_round_trip() {
        for e in guide::ENTRIES {
            let route = Route::GuideEntry(e.id);
            assert_eq!(Route::parse(&route.href()), route);
        }
        for &id in ExerciseId::ALL {
            let route = Route::Exercise(id);
            assert_eq!(Route::parse(&route.href()), route);
        }
        for route in [Route::Align(Method::Dpo), Route::Align(Method::Rl)] {
            assert_eq!(Route::parse(&route.href()), route);
        }
        for route in [Route::Trainer, Route::GuideIndex, Route::Exercises, Route::Diagnose] {
            assert_eq!(Route::parse(&route.href()), route);
        }
    }
}
