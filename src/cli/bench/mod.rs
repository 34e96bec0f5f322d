//! `mpdash bench …`: figures for the targets, printed, never asserted in tests.

pub mod attach;
pub mod ipc;
pub mod manager_rt;
pub mod pool;
pub mod probe;
pub mod start;
pub mod stuck;
pub mod ui;

pub use crate::telemetry::stats::quantile;

/// N measurements of one figure: reported as their median and spread, never
/// as the best one alone.
#[derive(Debug, Clone)]
pub struct Runs(Vec<f64>);

impl Runs {
    /// Measures `f` `n` times.
    pub fn of(n: usize, mut f: impl FnMut() -> anyhow::Result<f64>) -> anyhow::Result<Runs> {
        let mut v = Vec::with_capacity(n);
        for _ in 0..n.max(1) {
            v.push(f()?);
        }
        Ok(Runs::from(v))
    }

    pub fn median(&self) -> f64 {
        quantile(&self.0, 0.5)
    }

    /// `12.3 (11.0–13.5, 5 runs)`.
    pub fn text(&self) -> String {
        format!(
            "{:.2} ({:.2}–{:.2}, {} runs)",
            self.median(),
            self.0[0],
            self.0[self.0.len() - 1],
            self.0.len()
        )
    }

    /// `{"median": …, "min": …, "max": …, "runs": N}`.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "median": self.median(),
            "min": self.0[0],
            "max": self.0[self.0.len() - 1],
            "runs": self.0.len(),
        })
    }
}

impl From<Vec<f64>> for Runs {
    fn from(mut v: Vec<f64>) -> Runs {
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            v.push(f64::NAN);
        }
        Runs(v)
    }
}
