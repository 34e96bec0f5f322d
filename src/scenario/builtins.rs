//! The scenario's built-in pool functions (`primes`, `square`, `spin`,
//! `sleep`, `alloc`, `fail`): deterministic, checkable, CPU-bound where they
//! should be. Each is a [`Function`] the pool maps by name.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::steps::{count_primes, spin};
use crate::runtime::registry::{Function, Raised};

/// The functions a scenario's pool runs: its built-in work kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Func {
    /// `primes(lo, hi)`: primes in `[lo, hi)` by trial division.
    Primes,
    /// `square(x)`: `x * x`, the trivial function of pool benchmarks.
    Square,
    /// `spin(us)`: burn CPU for `us` µs; returns `us`.
    Spin,
    /// `sleep(ms)`: sleep `ms` ms; returns `ms`.
    Sleep,
    /// `alloc(mib)`: allocate and touch `mib` MiB, free it; returns `mib`.
    Alloc,
    /// `fail(x)`: raises `ValueError: fail(x)`.
    Fail,
}

impl Func {
    pub const ALL: [Func; 6] = [
        Func::Primes,
        Func::Square,
        Func::Spin,
        Func::Sleep,
        Func::Alloc,
        Func::Fail,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Func::Primes => "primes",
            Func::Square => "square",
            Func::Spin => "spin",
            Func::Sleep => "sleep",
            Func::Alloc => "alloc",
            Func::Fail => "fail",
        }
    }

    /// Its signature, for messages: `primes(lo, hi)`.
    pub fn signature(self) -> &'static str {
        match self {
            Func::Primes => "primes(lo, hi)",
            Func::Square => "square(x)",
            Func::Spin => "spin(us)",
            Func::Sleep => "sleep(ms)",
            Func::Alloc => "alloc(mib)",
            Func::Fail => "fail(x)",
        }
    }

    pub fn parse(s: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name() == s)
    }

    pub fn arity(self) -> usize {
        match self {
            Func::Primes => 2,
            _ => 1,
        }
    }

    /// The pool function it is (registered by [`super::registry`]).
    pub fn function(self) -> &'static Function {
        match self {
            Func::Primes => &PRIMES,
            Func::Square => &SQUARE,
            Func::Spin => &SPIN,
            Func::Sleep => &SLEEP,
            Func::Alloc => &ALLOC,
            Func::Fail => &FAIL,
        }
    }

    /// Runs the function; `args` has [`Func::arity`] values.
    pub fn call(self, args: &[i64]) -> Result<i64, Raised> {
        (self.function().call)(args)
    }
}

fn arg(args: &[i64], i: usize) -> i64 {
    args.get(i).copied().unwrap_or(0)
}

fn non_negative(args: &[i64], i: usize) -> u64 {
    arg(args, i).max(0) as u64
}

fn primes(a: &[i64]) -> Result<i64, Raised> {
    Ok(count_primes(non_negative(a, 0), non_negative(a, 1)) as i64)
}

fn square(a: &[i64]) -> Result<i64, Raised> {
    let x = arg(a, 0);
    x.checked_mul(x).ok_or_else(|| {
        let exact = i128::from(x) * i128::from(x);
        Raised::new(format!(
            "OverflowError: square({x}) = {exact} does not fit a 64-bit integer"
        ))
    })
}

fn spin_us(a: &[i64]) -> Result<i64, Raised> {
    spin(Duration::from_micros(non_negative(a, 0)));
    Ok(arg(a, 0))
}

fn sleep_ms(a: &[i64]) -> Result<i64, Raised> {
    std::thread::sleep(Duration::from_millis(non_negative(a, 0)));
    Ok(arg(a, 0))
}

fn alloc_mib(a: &[i64]) -> Result<i64, Raised> {
    let bytes = (non_negative(a, 0) as usize).saturating_mul(1 << 20);
    let mut v: Vec<u8> = Vec::new();
    v.try_reserve_exact(bytes)
        .map_err(|_| Raised::new(format!("MemoryError: alloc({})", arg(a, 0))))?;
    v.resize(bytes, 0);
    for p in v.iter_mut().step_by(4096) {
        *p = 1;
    }
    std::hint::black_box(&v);
    Ok(arg(a, 0))
}

fn fail(a: &[i64]) -> Result<i64, Raised> {
    Err(Raised::new(format!("ValueError: fail({})", arg(a, 0))))
}

/// `primes(lo, hi)`: primes in `[lo, hi)` by trial division.
pub static PRIMES: Function = Function {
    name: "primes",
    signature: "primes(lo, hi)",
    arity: 2,
    call: primes,
};
/// `square(x)`: `x * x`.
pub static SQUARE: Function = Function {
    name: "square",
    signature: "square(x)",
    arity: 1,
    call: square,
};
/// `spin(us)`: burn CPU for `us` µs; returns `us`.
pub static SPIN: Function = Function {
    name: "spin",
    signature: "spin(us)",
    arity: 1,
    call: spin_us,
};
/// `sleep(ms)`: sleep `ms` ms; returns `ms`.
pub static SLEEP: Function = Function {
    name: "sleep",
    signature: "sleep(ms)",
    arity: 1,
    call: sleep_ms,
};
/// `alloc(mib)`: allocate and touch `mib` MiB, free it; returns `mib`.
pub static ALLOC: Function = Function {
    name: "alloc",
    signature: "alloc(mib)",
    arity: 1,
    call: alloc_mib,
};
/// `fail(x)`: raises `ValueError: fail(x)`.
pub static FAIL: Function = Function {
    name: "fail",
    signature: "fail(x)",
    arity: 1,
    call: fail,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions() {
        assert_eq!(Func::Primes.call(&[0, 100]), Ok(25));
        assert_eq!(Func::Square.call(&[-7]), Ok(49));
        assert_eq!(
            Func::Square.call(&[4_294_967_296]),
            Err(Raised::new(
                "OverflowError: square(4294967296) = 18446744073709551616 does not fit a 64-bit integer"
            ))
        );
        assert_eq!(
            Func::Fail.call(&[7]),
            Err(Raised::new("ValueError: fail(7)"))
        );
        assert_eq!(Func::Sleep.call(&[1]), Ok(1));
        assert_eq!(Func::parse("alloc"), Some(Func::Alloc));
        assert_eq!(Func::parse("nope"), None);
        for f in Func::ALL {
            assert_eq!(f.function().name, f.name());
            assert_eq!(f.function().arity, f.arity());
        }
    }
}
