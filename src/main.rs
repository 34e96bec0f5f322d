use std::process::ExitCode;

fn main() -> ExitCode {
    mpdash::cli::main()
}
