//! Integration tests: the real `zonefeed` binary in a temp dir.
//!
//! Tests that need ../shared (zonegen.py, realzones) print `SKIPPED` when it is absent;
//! CI sets ZONEFEED_REQUIRE_SHARED=1 so that absence fails instead.

mod amqp;
mod changes;
mod cli;
mod czds_server;
mod dates;
mod diskfull;
mod download;
mod email;
mod env;
mod export;
mod history;
mod http;
mod import;
mod lab;
mod monitor;
mod query;
mod rabbit;
mod rdap;
mod realzones;
mod receiver;
mod requests;
mod serve;
mod service;
mod sync;
mod web;
mod webhooks;
mod zonalizer;
