use crate::scenario::Scenario;
pub fn run_dashboard(_sc: Scenario, _rate: f64) -> anyhow::Result<i32> {
    anyhow::bail!("todo")
}
