//! From the command line and the `LOOPHTTP_*` environment to a [`Config`],
//! with messages that name where a refused value came from; and
//! `--generate`, the man page and shell completions made from the same
//! clap definition (so they cannot drift from `--help`).

use std::ffi::OsString;
use std::io::Write;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, ValueEnum};

use super::Config;

/// What `--generate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// A roff man page (`man -l -`).
    Man,
    Bash,
    Zsh,
    Fish,
}

/// Why no configuration came out of the command line.
#[derive(Debug)]
pub enum LoadError {
    /// clap's own report: a bad flag or value, or `--help` / `--version`
    /// (which are not failures).
    Clap(clap::Error),
    /// A value from an environment variable was refused; the message
    /// names the variable, not the flag clap would have named.
    Env(String),
}

impl LoadError {
    /// Prints the report (stdout for `--help`, stderr otherwise) and gives
    /// the exit code: 0 for `--help` / `--version`, 2 for a refused value.
    pub fn report(self) -> u8 {
        match self {
            LoadError::Clap(e) => {
                let _ = e.print();
                if e.use_stderr() { 2 } else { 0 }
            }
            LoadError::Env(msg) => {
                eprintln!("error: {msg}");
                2
            }
        }
    }
}

impl Config {
    /// Reads `args` (the first is the program name) and the environment.
    pub fn load<I, T>(args: I) -> Result<Config, LoadError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let matches = Config::command().try_get_matches_from(&args).map_err(|e| name_the_variable(e, &args))?;
        let mut config = Config::from_arg_matches(&matches).map_err(LoadError::Clap)?;
        config.from_env = matches
            .ids()
            .filter(|id| matches.value_source(id.as_str()) == Some(ValueSource::EnvVariable))
            .map(|id| id.as_str().to_string())
            .collect();
        Ok(config)
    }
}

/// clap reports a bad value under its flag (`--port <PORT>`) even when the
/// value came from `LOOPHTTP_PORT`: an operator who never typed `--port`
/// would look for it in vain. If the refused value is the variable's and
/// the flag is not on the command line, the message names the variable.
fn name_the_variable(e: clap::Error, args: &[OsString]) -> LoadError {
    if !matches!(e.kind(), ErrorKind::ValueValidation | ErrorKind::InvalidValue) {
        return LoadError::Clap(e);
    }
    let text = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let (Some(flag), Some(value)) = (text(ContextKind::InvalidArg), text(ContextKind::InvalidValue)) else {
        return LoadError::Clap(e);
    };
    let long = flag.split_whitespace().next().unwrap_or_default().trim_start_matches('-').to_string();
    let cmd = Config::command();
    let Some(arg) = cmd.get_arguments().find(|a| a.get_long() == Some(long.as_str())) else {
        return LoadError::Clap(e);
    };
    let Some(var) = arg.get_env() else { return LoadError::Clap(e) };
    let typed = args.iter().skip(1).any(|a| {
        let a = a.to_string_lossy();
        a == format!("--{long}") || a.starts_with(&format!("--{long}="))
    });
    if typed || std::env::var_os(var).is_none_or(|v| v.to_string_lossy() != value) {
        return LoadError::Clap(e);
    }
    let why = std::error::Error::source(&e).map_or_else(|| e.kind().to_string(), ToString::to_string);
    LoadError::Env(format!("invalid value '{value}' for {}: {why}", var.to_string_lossy()))
}

/// Writes what `--generate` asked for, made from the clap definition.
pub fn generate(what: Generate, out: &mut impl Write) -> std::io::Result<()> {
    let mut cmd = Config::command();
    let shell = match what {
        Generate::Man => return clap_mangen::Man::new(cmd).render(out),
        Generate::Bash => clap_complete::Shell::Bash,
        Generate::Zsh => clap_complete::Shell::Zsh,
        Generate::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "loophttp", out);
    Ok(())
}
