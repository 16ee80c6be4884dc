//! Command-line parsing: a verb and, for `serve`, a port; for `bench`, `--peers-only` or `--load-only`. Anything else is a usage error (exit code 2).

use std::fmt;

pub const USAGE: &str = "\
usage: cargo xtask <verb>

verbs:
  serve [--port N]  build the release app and serve it on http://127.0.0.1:N/ (default 8080) and under /faultline/;
                    under /plain/ without the COOP, COEP and CSP headers, as a static host that sends none
  dist              build the release static site into dist/
  test              fmt, clippy, native tests, wasm tests and the browser end-to-end tests
  bench             native and in-browser training benchmarks and the PyTorch and TF.js peers, as one table
    --peers-only    the PyTorch and TF.js peers alone (no baseline, so no ratios)
    --load-only     the page's first load alone: bytes before the first step and the time to it, on a slow network
  peer-logs         PyTorch trains healthy and broken runs and writes their logs; faultline diagnose reads them
    --tuning        the split the detector may be tuned on (default: the held-out split)
  help              this message
";

/// The port `serve` listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 8080;

#[derive(Debug, PartialEq, Eq)]
pub enum Verb {
    Serve { port: u16 },
    Dist,
    Test,
    Bench { only: Only },
    PeerLogs { tuning: bool },
    Help,
}

/// Which of `bench`'s systems to measure.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Only {
    Everything,
    Peers,
    Load,
}

/// A one-line explanation of what was wrong with the arguments.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn parse(args: &[String]) -> Result<Verb, UsageError> {
    let Some((verb, rest)) = args.split_first() else {
        return Err(UsageError("missing verb: expected serve, dist, test, bench, peer-logs or help".into()));
    };
    match verb.as_str() {
        "serve" => parse_serve(rest),
        "dist" => no_more(verb, rest).map(|()| Verb::Dist),
        "test" => no_more(verb, rest).map(|()| Verb::Test),
        "bench" => match rest {
            [flag] if flag == "--peers-only" => Ok(Verb::Bench { only: Only::Peers }),
            [flag] if flag == "--load-only" => Ok(Verb::Bench { only: Only::Load }),
            _ => no_more(verb, rest).map(|()| Verb::Bench { only: Only::Everything }),
        },
        "peer-logs" => match rest {
            [flag] if flag == "--tuning" => Ok(Verb::PeerLogs { tuning: true }),
            _ => no_more(verb, rest).map(|()| Verb::PeerLogs { tuning: false }),
        },
        "help" | "--help" | "-h" => no_more(verb, rest).map(|()| Verb::Help),
        other => {
            Err(UsageError(format!("unknown verb `{other}`: expected serve, dist, test, bench, peer-logs or help")))
        }
    }
}

fn no_more(verb: &str, rest: &[String]) -> Result<(), UsageError> {
    match rest.first() {
        None => Ok(()),
        Some(arg) => Err(UsageError(format!("`{verb}` takes no arguments, got `{arg}`"))),
    }
}

fn parse_serve(rest: &[String]) -> Result<Verb, UsageError> {
    let mut port = DEFAULT_PORT;
    let mut args = rest.iter();
    while let Some(arg) = args.next() {
        let value = if let Some(value) = arg.strip_prefix("--port=") {
            value
        } else if arg == "--port" {
            args.next().ok_or_else(|| UsageError("`--port` needs a value".into()))?
        } else {
            return Err(UsageError(format!("`serve` got an unknown argument `{arg}`: expected --port N")));
        };
        port = match value.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return Err(UsageError(format!("`--port` must be a number from 1 to 65535, got `{value}`"))),
        };
    }
    Ok(Verb::Serve { port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Verb, UsageError> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&args)
    }

    #[test]
    fn verbs_parse() {
        assert_eq!(parse_str("dist"), Ok(Verb::Dist));
        assert_eq!(parse_str("test"), Ok(Verb::Test));
        assert_eq!(parse_str("bench"), Ok(Verb::Bench { only: Only::Everything }));
        assert_eq!(parse_str("bench --peers-only"), Ok(Verb::Bench { only: Only::Peers }));
        assert_eq!(parse_str("bench --load-only"), Ok(Verb::Bench { only: Only::Load }));
        assert_eq!(parse_str("peer-logs"), Ok(Verb::PeerLogs { tuning: false }));
        assert_eq!(parse_str("peer-logs --tuning"), Ok(Verb::PeerLogs { tuning: true }));
        assert_eq!(parse_str("--help"), Ok(Verb::Help));
        assert_eq!(parse_str("serve"), Ok(Verb::Serve { port: 8080 }));
        assert_eq!(parse_str("serve --port 9000"), Ok(Verb::Serve { port: 9000 }));
        assert_eq!(parse_str("serve --port=9001"), Ok(Verb::Serve { port: 9001 }));
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        for line in [
            "",
            "build",
            "dist --release",
            "test extra",
            "bench --peers",
            "bench --peers-only --peers-only",
            "peer-logs --all",
            "serve --port",
            "serve --port 0",
            "serve --port 70000",
            "serve --port abc",
            "serve --host 0.0.0.0",
        ] {
            let err = parse_str(line).expect_err(line);
            assert!(!err.0.contains('\n'), "one line: {err}");
        }
    }
}
