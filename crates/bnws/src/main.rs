//! bnws: placeholder until the CLI issue lands.
fn main() {
    eprintln!("bnws: not yet implemented");
    std::process::exit(2);
}
