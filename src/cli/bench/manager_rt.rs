//! The Manager's round trip: a dict proxy's `d[k] = v` then `d[k]`, each a
//! request and an answer between this process and the server process.

use std::time::Instant;

use super::ipc::ctx;
use super::quantile;
use crate::runtime::manager::{Manager, ManagerClient, Method, ObjKind};
use crate::runtime::pyvalue::PyValue;

pub struct RoundTrips {
    /// Calls per second (each call one round trip).
    pub rate: f64,
    pub p50_us: f64,
}

/// `n` calls, alternating set and get on one key, over the manager's Unix
/// socket or (`tcp`) over TCP on 127.0.0.1.
pub fn dict_round_trips(n: usize, tcp: bool) -> anyhow::Result<RoundTrips> {
    let ctx = ctx()?;
    let mut m = Manager::start(&ctx, "bench manager", tcp.then_some("127.0.0.1:0"))?;
    let mut c = match m.tcp_address() {
        Some(at) => ManagerClient::connect_tcp(&at.to_string(), &m.authkey())?,
        None => m.connect()?,
    };
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

/// CPython's figure for the same loop, measured now by the machine's
/// `python3`: a `SyncManager` dict, set then get on one key, from the parent
/// to the server process, over a Unix socket or TCP on 127.0.0.1. `None`
/// (and a line saying why) when there is no python3 to ask.
pub fn cpython_dict_round_trips(n: usize, tcp: bool) -> Option<f64> {
    const SCRIPT: &str = r#"
import sys, time
from multiprocessing.managers import SyncManager
n, tcp = int(sys.argv[1]), sys.argv[2] == "tcp"
m = SyncManager(address=("127.0.0.1", 0) if tcp else None)
m.start()
d = m.dict()
t0 = time.perf_counter()
for i in range(n):
    if i % 2 == 0:
        d[1] = i
    else:
        assert d[1] == i - 1
print(n / (time.perf_counter() - t0))
m.shutdown()
"#;
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            SCRIPT,
            &n.to_string(),
            if tcp { "tcp" } else { "unix" },
        ])
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().parse().ok(),
        Ok(o) => {
            eprintln!(
                "CPython's manager not measured: python3 failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            None
        }
        Err(e) => {
            eprintln!("CPython's manager not measured: python3: {e}");
            None
        }
    }
}
