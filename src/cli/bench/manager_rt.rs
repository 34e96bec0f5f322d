//! The Manager's round trip: a dict proxy's `d[k] = v` then `d[k]`, each a
//! request and an answer between this process and the server process.

use std::time::Instant;

use super::ipc::ctx;
use super::quantile;
use crate::runtime::manager::{Manager, Method, ObjKind};
use crate::runtime::pyvalue::PyValue;

pub struct RoundTrips {
    /// Calls per second (each call one round trip).
    pub rate: f64,
    pub p50_us: f64,
}

/// `n` calls, alternating set and get on one key.
pub fn dict_round_trips(n: usize) -> anyhow::Result<RoundTrips> {
    let ctx = ctx()?;
    let mut m = Manager::start(&ctx, "bench manager", None)?;
    let mut c = m.connect()?;
    let d = c.create(ObjKind::Dict, "d", None)?;
    let mut times = Vec::with_capacity(n);
    let t0 = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        if i % 2 == 0 {
            c.call(
                d,
                Method::SetItem,
                vec![PyValue::Int(1), PyValue::Int(i as i64)],
                None,
            )?;
        } else {
            let v = c.call(d, Method::GetItem, vec![PyValue::Int(1)], None)?;
            anyhow::ensure!(v == PyValue::Int(i as i64 - 1), "wrong value {v}");
        }
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);
    drop(c);
    m.shutdown();
    ctx.shutdown();
    Ok(RoundTrips {
        rate,
        p50_us: quantile(&times, 0.5),
    })
}
