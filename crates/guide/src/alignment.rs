//! Alignment Issues: fine-tuning against preferences or a reward.

use super::{Cause, CauseId, EntryId, GuideEntry, Section, SectionId, Snippet};

pub(super) const SECTION: Section = Section { id: SectionId::AlignmentIssues, title: "Alignment Issues" };

pub(super) const REWARD_INCREASES_BUT_QUALITY_DECREASES: GuideEntry = GuideEntry {
    id: EntryId::RewardIncreasesButQualityDecreases,
    title: "Reward increases but quality decreases",
    section: SECTION.id,
    summary: "Reward hacking: the policy finds what the reward model over-rates and exploits it, \
              so the score climbs while the real outputs get worse.",
    symptoms: &[
        "The reward keeps rising while the outputs, read by a person, get worse.",
        "The model games the reward, for instance with longer, repetitive or formulaic answers \
         that the reward model happens to score well.",
    ],
    causes: &[
        Cause {
            id: CauseId::ProxyRewardExploited,
            text: "The reward model is only a proxy for quality, and the policy has drifted far enough from \
                  where it started to find the proxy's blind spots.",
        },
        Cause {
            id: CauseId::KlPenaltyTooWeak,
            text: "The penalty that keeps the policy close to the reference model (the KL term) is too weak \
                  or missing.",
        },
    ],
    diagnosis: &[
        Snippet::with_code(
            "Track how far the policy has moved from the reference model next to the reward: a \
             reward that rises only together with a fast-growing KL is suspect.",
            r#"// per-token log-probabilities of the policy's own samples under both models
let kl = (&logp_policy - &logp_ref).mean().unwrap_or(0.0);
println!("reward {reward:.3}, KL to reference {kl:.3}");"#,
        ),
        Snippet::plain(
            "Read samples at regular intervals. The reward curve alone cannot show this failure; \
             only the outputs can.",
        ),
    ],
    fixes: &[
        Snippet::with_code(
            "Strengthen the KL penalty: a larger β in DPO, a larger KL coefficient in RLHF.",
            "let reward = rm_score - kl_coef * (&logp_policy - &logp_ref).sum();",
        ),
        Snippet::plain(
            "Score with an ensemble of reward models, so one model's blind spot is not enough to \
             win.",
        ),
        Snippet::plain("Constrain the outputs to stay diverse."),
        Snippet::plain(
            "Improve the reward model by training it on more preference data, including examples \
             of the behaviour it was rewarding by mistake.",
        ),
    ],
    related: &[EntryId::DpoLossNotDecreasing, EntryId::ModelOutputsRepetitiveText],
};

pub(super) const DPO_LOSS_NOT_DECREASING: GuideEntry = GuideEntry {
    id: EntryId::DpoLossNotDecreasing,
    title: "DPO loss not decreasing",
    section: SECTION.id,
    summary: "DPO fine-tuning runs but its loss stays near ln 2 ≈ 0.693, the value it has when the \
              policy does not yet prefer the chosen answers over the rejected ones any more than \
              the reference does.",
    symptoms: &[
        "The DPO loss stays flat, typically close to 0.693.",
        "The margin between chosen and rejected answers does not grow.",
    ],
    causes: &[
        Cause {
            id: CauseId::DpoLrTooLow,
            text: "The learning rate is too low; values from 1e-6 to 1e-5 are the usual range.",
        },
        Cause { id: CauseId::DpoBetaTooHigh, text: "β is too high; 0.1 is a good starting value." },
        Cause {
            id: CauseId::DpoReferenceNotFrozen,
            text: "The reference model is not frozen, so it moves along with the policy and the difference \
                  between them stays near zero.",
        },
        Cause {
            id: CauseId::DpoLogprobBug,
            text: "The log-probabilities are computed wrongly, for example over the prompt or padding \
                  tokens, or with the targets shifted by the wrong amount.",
        },
    ],
    diagnosis: &[
        Snippet::with_code(
            "Compute the loss by hand for one pair: the margin is how much more the policy prefers \
             the chosen answer than the reference does. A margin of 0 gives ln 2.",
            r#"let margin = (logp_chosen - ref_chosen) - (logp_rejected - ref_rejected);
let loss = -log_sigmoid(beta * margin);
println!("margin {margin:.3}, loss {loss:.4}"); // 0.6931 when the margin is 0"#,
        ),
        Snippet::plain(
            "Compute the reference log-probabilities of one fixed batch at two different steps. \
             They must be identical; if they change, the reference is being trained.",
        ),
        Snippet::with_code(
            "Check the sequence log-probability: the sum over the response tokens only, each read \
             from the logits of the position before it.",
            r#"let logp: f32 = (prompt_len..tokens.len())
    .map(|i| log_softmax(logits.row(i - 1))[tokens[i] as usize])
    .sum();"#,
        ),
    ],
    fixes: &[
        Snippet::plain("Raise the learning rate into the 1e-6 to 1e-5 range."),
        Snippet::plain("Lower β, starting from 0.1."),
        Snippet::plain(
            "Freeze the reference model: a separate copy of the starting weights that gets no \
             gradients and is never touched by the optimiser.",
        ),
        Snippet::plain(
            "Fix the log-probability computation: response tokens only, targets shifted by one, \
             and the same computation for the policy and the reference.",
        ),
    ],
    related: &[EntryId::RewardIncreasesButQualityDecreases, EntryId::LossDecreasesVerySlowly],
};
