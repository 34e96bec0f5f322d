//! Collection: the board and `/proc`, read off the UI thread.

pub mod board_view;
pub mod memory;
pub mod proc_stat;
pub mod sampler;
