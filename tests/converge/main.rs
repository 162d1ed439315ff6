//! The assembled pipeline and the reference binaries, against real files, real git
//! repositories, the shared real-world corpus and kubectl as the oracle.

mod api;
mod controller;
mod corpus;
mod examples;
mod leader;
mod oracle;
mod receiver;
mod rerender;
mod strategic_oracle;
mod support;
