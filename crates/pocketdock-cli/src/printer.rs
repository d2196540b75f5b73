//! All terminal output goes through here: results on stdout, diagnostics on stderr; colour only
//! on a terminal and never with `NO_COLOR`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{IsTerminal, Write};

use comfy_table::{presets, ContentArrangement, Table};

/// Writes results and diagnostics.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    colour: bool,
    stdout_tty: bool,
    stderr_tty: bool,
}

impl Printer {
    pub fn from_env() -> Self {
        let no_colour = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let stdout_tty = std::io::stdout().is_terminal();
        Printer {
            colour: stdout_tty && !no_colour,
            stdout_tty,
            stderr_tty: std::io::stderr().is_terminal(),
        }
    }

    /// Command output, passed through as it arrives.
    pub fn stdout_raw(&self, bytes: &[u8]) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(bytes);
        let _ = out.flush();
    }

    /// Command error output, passed through as it arrives.
    pub fn stderr_raw(&self, bytes: &[u8]) {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(bytes);
        let _ = err.flush();
    }

    /// A line of result.
    pub fn line(&self, text: &str) {
        println!("{text}");
    }

    /// A JSON document, pretty-printed.
    pub fn json(&self, value: &serde_json::Value) {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    }

    /// An aligned table for people.
    pub fn table(&self, headers: &[&str], rows: Vec<Vec<String>>) {
        let mut table = Table::new();
        table
            .load_preset(if self.stdout_tty {
                presets::UTF8_HORIZONTAL_ONLY
            } else {
                presets::NOTHING
            })
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(headers.iter().map(|h| self.bold(h)));
        for row in rows {
            table.add_row(row);
        }
        println!("{}", table.to_string().trim_end());
    }

    /// Key/value pairs, aligned.
    pub fn pairs(&self, pairs: &[(&str, String)]) {
        let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (key, value) in pairs {
            println!("{}  {value}", self.bold(&format!("{key:<width$}")));
        }
    }

    /// Something that worked.
    pub fn success(&self, text: &str) {
        if self.colour {
            println!("\x1b[32m✓\x1b[0m {text}");
        } else {
            println!("{text}");
        }
    }

    /// A one-line error: what went wrong and, where it helps, what to do.
    pub fn error(&self, text: &str) {
        if self.stderr_tty && std::env::var_os("NO_COLOR").is_none() {
            eprintln!("\x1b[31mpocketdock:\x1b[0m {text}");
        } else {
            eprintln!("pocketdock: {text}");
        }
    }

    /// A note on stderr (progress, hints).
    pub fn note(&self, text: &str) {
        eprintln!("{text}");
    }

    /// Asks before something destructive. Refuses when nobody can answer.
    pub fn confirm(&self, question: &str) -> anyhow::Result<bool> {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!("{question} Refusing without --yes, as stdin is not a terminal");
        }
        eprint!("{question} [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
    }

    /// A progress display for a long step: a spinner on a terminal, plain lines otherwise.
    pub fn progress(&self, title: &str) -> Progress {
        if self.stderr_tty {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_message(title.to_string());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            Progress { bar: Some(bar) }
        } else {
            eprintln!("{title}");
            Progress { bar: None }
        }
    }

    pub fn bold(&self, text: &str) -> String {
        if self.colour {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// A running progress display.
#[derive(Debug)]
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// One line of progress (a build step, …).
    pub fn step(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(line.to_string()),
            None => eprintln!("  {line}"),
        }
    }

    pub fn finish(self, line: &str) {
        match self.bar {
            Some(bar) => bar.finish_with_message(line.to_string()),
            None => eprintln!("{line}"),
        }
    }
}
