//! The guide's fixes for reward hacking ("Reward increases but quality decreases") as changes to the
//! policy-gradient lab's form: each sets one setting, so a rerun on the same seed differs only there.
//! The KL fix also turns the missing penalty back on; the others leave the fault as it is, so each
//! is measured alone, as `crates/engine/src/faults/measured.rs` reports them.

use crate::form::RunForm;
use faultline_engine::faults::FaultId;
use faultline_engine::settings::SettingKey;

/// One fix: its button's id and label, the setting it sets, and whether it turns the missing KL
/// penalty back on.
pub struct Fix {
    pub id: &'static str,
    pub label: &'static str,
    sets: (SettingKey, &'static str),
    restores_kl: bool,
}

/// The guide's four fixes: a KL penalty, an ensemble of reward models, reward models trained on
/// more pairs, and an entropy (diversity) bonus.
pub const FIXES: [Fix; 4] = [
    Fix {
        id: "kl-penalty",
        label: "KL penalty back on (kl-coef 1)",
        sets: (SettingKey::KlCoef, "1"),
        restores_kl: true,
    },
    Fix { id: "ensemble", label: "Eight reward models", sets: (SettingKey::RewardModels, "8"), restores_kl: false },
    Fix {
        id: "more-pairs",
        label: "Reward models on 1,024 pairs",
        sets: (SettingKey::RewardPairs, "1024"),
        restores_kl: false,
    },
    Fix { id: "entropy", label: "Entropy bonus 0.01", sets: (SettingKey::EntropyBonus, "0.01"), restores_kl: false },
];

impl Fix {
    /// Sets this fix in `form`.
    pub fn apply(&self, form: &mut RunForm) {
        let (key, value) = self.sets;
        form.set(key, value.to_string());
        if self.restores_kl {
            form.set_fault(FaultId::NoKlPenalty, false);
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::form::FormKind;
    use faultline_engine::align::Method;

    #[test]
    fn each_fix_sets_its_setting_and_only_the_kl_fix_turns_the_fault_off() {
        let mut broken = RunForm::new(FormKind::Alignment(Method::Rl));
        broken.set_fault(FaultId::NoKlPenalty, true);
        broken.set(SettingKey::KlCoef, "0.5".into());
        let fixed: Vec<_> = FIXES
            .iter()
            .map(|fix| {
                let mut form = broken.clone();
                fix.apply(&mut form);
                form.to_config().unwrap_or_else(|e| panic!("{}: {e:?}", fix.id))
            })
            .collect();
        let ft = |i: usize| &fixed[i].fine_tuning;
        assert_eq!((ft(0).kl_coef, fixed[0].faults.no_kl_penalty), (1.0, false));
        assert_eq!((ft(1).reward_models, ft(2).reward_pairs, ft(3).entropy_bonus), (8, 1024, 0.01));
        for config in &fixed[1..] {
            assert!(config.faults.no_kl_penalty && config.fine_tuning.kl_coef == 0.5, "one change at a time");
        }
        assert!(fixed.iter().all(|c| c.seed == fixed[0].seed), "the same seed");
    }
}
