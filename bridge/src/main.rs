//! `dagnats`: parses the command line, sets up logging, runs the library (and prints
//! what `--check` and `dlq` report); nothing else.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use dagnats_bridge::cli::{Cli, Command, LogFormat, OtlpBridgeArgs, TailArgs, TraceArgs};
use dagnats_bridge::dlq::{self, DlqArgs};
use dagnats_bridge::trace::render::{color_for_stdout, Paint};
use dagnats_bridge::trace::{Outcome, TraceError};
use dagnats_bridge::{check, run, shutdown, tail, trace, Config};

/// Every message is read by the NATS connection's task, decoded, converted and encoded
/// by a worker, and freed elsewhere again: allocations that cross threads, which glibc's
/// allocator serves slowly. mimalloc serves them from per-thread heaps.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::OtlpBridge(args) => otlp_bridge(args),
        Command::Trace(args) => trace(args),
        Command::Tail(args) => tail(args),
        Command::Dlq(args) => dead_letters(args),
    }
}

fn otlp_bridge(args: OtlpBridgeArgs) -> ExitCode {
    // --check reports on stdout; its log shows only problems.
    let level = if args.check { "warn" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }

    let config = match Config::from_args(&args, |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            if args.check {
                println!(
                    "{}",
                    check::Check { name: "configuration".into(), status: check::Status::Failed, detail: e.to_string() }
                );
            }
            return ExitCode::from(2);
        }
    };
    // Environment values that cannot be used are ignored, as OpenTelemetry says, but said
    // (by the report's lines under --check).
    if !args.check {
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    if args.check {
        return check_and_exit(&runtime, &config);
    }
    match runtime.block_on(run(config, shutdown::signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the bridge cannot run");
            ExitCode::FAILURE
        }
    }
}

/// `--check`: one line per check on stdout, then exit 0 when none failed, 1 otherwise.
fn check_and_exit(runtime: &tokio::runtime::Runtime, config: &Config) -> ExitCode {
    let report = runtime.block_on(check::run(config));
    print!("{report}");
    let failures = report.failures().count();
    if failures == 0 {
        println!("check passed");
        ExitCode::SUCCESS
    } else {
        println!("check failed: {failures} of {} checks", report.checks.len());
        ExitCode::FAILURE
    }
}

/// The reading commands log only warnings (RUST_LOG overrides), to stderr.
fn quiet_logs() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn runtime(command: &str) -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("dagnats {command}: cannot start the async runtime: {e}");
            None
        }
    }
}

/// Exit status 0: shown; 1: nothing found; 2: cannot run.
fn trace(args: TraceArgs) -> ExitCode {
    quiet_logs();
    let Some(rt) = runtime("trace") else { return ExitCode::from(2) };
    let mut out = io::BufWriter::new(io::stdout().lock());
    let result = rt.block_on(trace::command(&args, &mut out, &mut io::stderr(), Paint::new(color_for_stdout())));
    let flushed = out.flush();
    match (result, flushed) {
        (Ok(Outcome::Shown), Ok(())) => ExitCode::SUCCESS,
        (Ok(Outcome::NotFound), _) => ExitCode::from(1),
        (Err(TraceError::Io(e)), _) | (_, Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        (Err(e), _) => {
            eprintln!("dagnats trace: {e}");
            ExitCode::from(2)
        }
        (Ok(_), Err(e)) => {
            eprintln!("dagnats trace: {e}");
            ExitCode::from(2)
        }
    }
}

/// Exit status 0 after SIGINT or SIGTERM; 2 when it cannot follow.
fn tail(args: TailArgs) -> ExitCode {
    quiet_logs();
    let Some(rt) = runtime("tail") else { return ExitCode::from(2) };
    let mut out = io::stdout().lock();
    match rt.block_on(tail::command(
        &args,
        &mut out,
        &mut io::stderr(),
        Paint::new(color_for_stdout()),
        shutdown::signal(),
    )) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dagnats tail: {e}");
            ExitCode::from(2)
        }
    }
}

/// Exit status 0: done; 1: a dead letter asked for is missing or was not republished; 2:
/// cannot run.
fn dead_letters(args: DlqArgs) -> ExitCode {
    quiet_logs();
    let Some(rt) = runtime("dlq") else { return ExitCode::from(2) };
    let mut out = io::BufWriter::new(io::stdout().lock());
    let result = rt.block_on(dlq::command(&args, &mut out, &mut io::stderr()));
    let flushed = out.flush();
    match (result, flushed) {
        (Ok(dlq::Outcome::Done), Ok(())) => ExitCode::SUCCESS,
        (Ok(dlq::Outcome::Incomplete), _) => ExitCode::from(1),
        (Err(dlq::DlqError::Io(e)), _) | (_, Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        (Err(e), _) => {
            eprintln!("dagnats dlq: {e}");
            ExitCode::from(2)
        }
        (Ok(_), Err(e)) => {
            eprintln!("dagnats dlq: {e}");
            ExitCode::from(2)
        }
    }
}
