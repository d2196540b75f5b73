mod exec;

pub use exec::exec;
