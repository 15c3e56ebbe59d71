use std::process::ExitCode;

fn main() -> ExitCode {
    mlflow_stack::run::main()
}
