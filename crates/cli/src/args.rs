//! What every command shares: how it fails (and with which exit code), `--threads`, and reading its
//! arguments.

use faultline_engine::ConfigError;

/// A command-line mistake: the message names the argument.
pub(crate) struct ArgError(pub(crate) String);

impl From<ConfigError> for ArgError {
    fn from(e: ConfigError) -> Self {
        ArgError(format!("--{}: {}", e.field, e.message))
    }
}

/// Why a command did not succeed; `main` turns each kind into its exit code.
pub(crate) enum Failure {
    /// A command-line mistake: exit code 2.
    Arg(ArgError),
    /// A run that failed (out of memory, a NaN or Inf): exit code 1. The message says why, naming no
    /// argument unless one is the cause.
    Run(String),
    /// Standard output could not be written. A reader that went away (`| head`) ends the command
    /// quietly with exit code 0, as if it had printed everything; any other error exits with code 1.
    Output(std::io::Error),
}

impl From<ArgError> for Failure {
    fn from(e: ArgError) -> Self {
        Failure::Arg(e)
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::Arg(e.into())
    }
}

/// `--threads N` (1 to 256), wherever it is among `rest`, and the other arguments.
pub(crate) fn threads_arg(rest: &[String]) -> Result<(usize, Vec<String>), ArgError> {
    let mut threads = 1;
    let mut others = Vec::new();
    let mut args = rest.iter();
    while let Some(arg) = args.next() {
        if arg != "--threads" {
            others.push(arg.clone());
            continue;
        }
        let value = args.next().ok_or_else(|| ArgError("--threads: needs a value".into()))?;
        threads = match value.parse() {
            Ok(n @ 1..=256) => n,
            _ => return Err(ArgError(format!("--threads: must be a whole number from 1 to 256, got '{value}'"))),
        };
    }
    Ok((threads, others))
}

/// Runs `command` with the engine's large kernels split across `--threads N` threads (results are
/// bit-identical to one thread); without the flag, on this thread.
pub(crate) fn on_threads(rest: &[String], command: fn(&[String]) -> Result<(), Failure>) -> Result<(), Failure> {
    let (threads, rest) = threads_arg(rest)?;
    if threads == 1 {
        return command(&rest);
    }
    pool(threads)?.install(|| command(&rest))
}

/// A pool of `threads` for `--threads`.
pub(crate) fn pool(threads: usize) -> Result<rayon::ThreadPool, ArgError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| ArgError(format!("--threads: cannot start {threads} threads: {e}")))
}

/// Walks `--flag value` pairs and bare `--switch`es.
pub(crate) struct Args<'a> {
    rest: std::slice::Iter<'a, String>,
}

impl<'a> Args<'a> {
    pub(crate) fn new(rest: &'a [String]) -> Self {
        Self { rest: rest.iter() }
    }

    pub(crate) fn next_flag(&mut self) -> Option<&'a str> {
        self.rest.next().map(|s| s.as_str())
    }

    pub(crate) fn value(&mut self, flag: &str) -> Result<&'a str, ArgError> {
        self.rest.next().map(|s| s.as_str()).ok_or_else(|| ArgError(format!("{flag}: missing value")))
    }

    pub(crate) fn parse<T: std::str::FromStr>(&mut self, flag: &str, what: &str) -> Result<T, ArgError> {
        let v = self.value(flag)?;
        v.parse().map_err(|_| ArgError(format!("{flag}: '{v}' is not {what}")))
    }
}

pub(crate) fn only_json(rest: &[String], command: &str) -> Result<bool, ArgError> {
    let mut json = false;
    for a in rest {
        match a.as_str() {
            "--json" => json = true,
            other => return Err(ArgError(format!("{other}: unknown argument for '{command}'"))),
        }
    }
    Ok(json)
}
