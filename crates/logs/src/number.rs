//! Numbers and steps as logs spell them: Python writes `nan`, `inf`, `-Infinity`; a step may come as
//! `10`, `10.0` or `"10"`, and must be a whole number of steps, not below zero.

/// The value `text` spells (`0.5`, `1e-4`, `nan`, `NaN`, `inf`, `-Infinity`, case aside), or `None`.
pub(crate) fn value(text: &str) -> Option<f32> {
    text.trim().parse::<f64>().ok().map(|v| v as f32)
}

/// The step `text` spells.
pub(crate) fn step_of_text(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if let Ok(step) = text.parse::<u64>() {
        return Ok(step);
    }
    match text.parse::<f64>() {
        Ok(step) => step_of_float(step),
        Err(_) => Err(format!("step `{text}` is not a number")),
    }
}

/// The step a float holds, where it holds a whole number of steps.
pub(crate) fn step_of_float(step: f64) -> Result<u64, String> {
    // 2^64: every float below it and not below zero fits a u64.
    const LIMIT: f64 = 18_446_744_073_709_551_616.0;
    if !step.is_finite() {
        Err(format!("step {step} is not a number of steps"))
    } else if step < 0.0 {
        Err(format!("step {step} is negative"))
    } else if step.fract() != 0.0 {
        Err(format!("step {step} is not a whole number"))
    } else if step >= LIMIT {
        Err(format!("step {step} is too large"))
    } else {
        Ok(step as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_spellings_of_non_finite_values_read() {
        assert!(value("nan").unwrap().is_nan());
        assert!(value("NaN").unwrap().is_nan());
        assert!(value("-nan").unwrap().is_nan());
        assert_eq!(value("inf"), Some(f32::INFINITY));
        assert_eq!(value("Infinity"), Some(f32::INFINITY));
        assert_eq!(value("-Infinity"), Some(f32::NEG_INFINITY));
        assert_eq!(value(" 2.5e-1 "), Some(0.25));
        assert_eq!(value("1e300"), Some(f32::INFINITY));
        assert_eq!(value("loss"), None);
        assert_eq!(value(""), None);
    }

    #[test]
    fn steps_are_whole_numbers_not_below_zero() {
        assert_eq!(step_of_text("42"), Ok(42));
        assert_eq!(step_of_text("42.0"), Ok(42));
        assert_eq!(step_of_text("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(step_of_text("-3"), Err("step -3 is negative".into()));
        assert_eq!(step_of_text("2.5"), Err("step 2.5 is not a whole number".into()));
        assert_eq!(step_of_text("nan"), Err("step NaN is not a number of steps".into()));
        assert_eq!(step_of_text("x"), Err("step `x` is not a number".into()));
        assert_eq!(step_of_float(1e20), Err("step 100000000000000000000 is too large".into()));
    }
}
