use clap::error::ErrorKind;
use clap::Parser;
use mpc_cli::cli::Cli;
use mpc_cli::output::{print_error, CliError, ExitCode};

/// As the co-signer's: glibc's malloc keeps the 19 MiB blocks of Argon2id
/// runs and the protocol's buffers in its heap (a busy `mpc serve` held
/// ~500 MB); mimalloc hands them back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // stderr carries only the one error line unless MPC_LOG asks for logs.
    mpc_logging::init("off");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
    };
    let json = cli.global.json;
    let outcome = tokio::select! {
        outcome = mpc_cli::commands::run(&cli.global, cli.command) => outcome,
        _ = tokio::signal::ctrl_c() => Err(CliError::new(
            "interrupted",
            ExitCode::Interrupted,
            "interrupted: nothing was written (a keygen whose share was not saved leaves the \
             co-signer nothing it keeps)",
        )),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => std::process::ExitCode::from(print_error(json, &error)),
    }
}

/// Help and version go out as clap prints them; every other argument error
/// is a usage error (exit 2), as one JSON object on stdout with `--json`.
fn usage_error(error: clap::Error) -> std::process::ExitCode {
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) && !wants_json()
    {
        let _ = error.print();
        return std::process::ExitCode::from(if error.use_stderr() { 2 } else { 0 });
    }
    let message = error.render().to_string();
    let first_line = message
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ")
        .to_owned();
    let error = CliError::new(
        "usage",
        ExitCode::Usage,
        format!("{first_line} (see mpc --help)"),
    );
    std::process::ExitCode::from(print_error(wants_json(), &error))
}

/// `--json` anywhere on the command line, even where parsing failed.
fn wants_json() -> bool {
    std::env::args().skip(1).any(|arg| arg == "--json")
}
