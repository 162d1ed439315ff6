//! converge-source against real git repositories made with the git CLI.

mod conformance;
mod git;
mod local_dir;
mod servers;
mod verify;
