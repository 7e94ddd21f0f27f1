//! The 48-hour window's reminders: keeps the security lead from missing the
//! policy's promise. [`plan`] decides (pure), [`task`] scans the store on a
//! cron tick and queues what fires.

pub mod plan;
pub mod task;

pub use task::{scan, Scheduler};
