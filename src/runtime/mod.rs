//! The runtime: `multiprocessing`'s vocabulary in Rust, with real processes and
//! shared memory. It knows nothing of scenarios or the screen.

pub mod board;
pub mod env;
pub mod forkserver;
pub mod manager;
pub mod pipe;
pub mod pool;
pub mod process;
pub mod pyvalue;
pub mod queue;
pub mod shared_value;
pub mod shm;
pub mod sync;
pub mod sys;
pub mod work;
