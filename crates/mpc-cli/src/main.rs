use clap::Parser;
use mpc_cli::cli::Cli;
use mpc_cli::output::print_error;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // A command-line tool: only warnings unless MPC_LOG asks for more.
    mpc_logging::init("warn");
    let cli = Cli::parse();
    match mpc_cli::commands::run(&cli.global, cli.command).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => std::process::ExitCode::from(print_error(cli.global.json, &error)),
    }
}
