//! Integration tests of the shared crate, in one binary so they link once.
//!
//! The store suites run every conformance test against both adapters of a store: the
//! embedded one always, the cluster one against the real servers that
//! `scripts/dev-services.sh` starts (see `podwise_common::testing::dev_server_settings`).

mod catalog;
mod check_stores;
mod documents;
mod objects;
mod server;
mod vectors;
