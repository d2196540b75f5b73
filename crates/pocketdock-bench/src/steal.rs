//! CPU time the hypervisor took from this VM while a measurement ran (`steal` in /proc/stat):
//! on a shared host it explains figures that swing by tens of percent between runs, so each
//! column of the table says how much of it there was.

/// A reading of the machine's CPU counters.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    steal: u64,
    total: u64,
}

impl Mark {
    /// `None` where /proc/stat cannot be read or parsed.
    pub fn now() -> Option<Mark> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        parse(text.lines().next()?)
    }

    /// The share of all CPU time since this mark that was stolen, in percent.
    pub fn percent_since(self) -> Option<f64> {
        let now = Mark::now()?;
        let total = now.total.checked_sub(self.total)?;
        let steal = now.steal.checked_sub(self.steal)?;
        (total > 0).then(|| steal as f64 * 100.0 / total as f64)
    }
}

/// `cpu  user nice system idle iowait irq softirq steal guest guest_nice`: guest time is
/// already counted in user and nice.
fn parse(line: &str) -> Option<Mark> {
    let mut fields = line.split_whitespace();
    (fields.next()? == "cpu").then_some(())?;
    let values: Vec<u64> = fields.map(|f| f.parse().ok()).collect::<Option<_>>()?;
    let steal = *values.get(7)?;
    Some(Mark {
        steal,
        total: values.iter().take(8).sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_summary_line() {
        let m = parse("cpu  100 0 50 800 0 0 0 50 10 0").unwrap();
        assert_eq!((m.steal, m.total), (50, 1000));
        assert!(parse("cpu0 1 2 3 4 5 6 7 8").is_none());
        assert!(parse("cpu  1 2 x").is_none());
        assert!(parse("cpu  1 2 3").is_none());
    }
}
