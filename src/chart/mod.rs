//! What the charts show, kept apart from the drawing so it can be tested without a canvas.

mod loss;

pub use loss::*;
