//! Shared imports of the command modules.

pub(super) use std::io::Write;
pub(super) use std::process::ExitCode;

pub(super) use super::code;
pub(super) use super::czds::run_sync;
pub(super) use super::ops::{report_deliveries, webhooks_lock};
pub(super) use super::{
    czds_client, exclusive_lock, human_bytes, open_query_db, open_writer, open_zones, outcome, query_failure, since_arg, spill_dir,
    store_failure, webhook_config,
};
pub(super) use crate::changes::{self, webhooks};
pub(super) use crate::cli::*;
pub(super) use crate::config::{self, CzdsSettings, Settings};
pub(super) use crate::czds::{self, download, requests};
pub(super) use crate::ingest::{self, source::Input, ImportError};
pub(super) use crate::progress::{Mode, Progress, Transfers};
pub(super) use crate::query;
pub(super) use crate::service::{self, Wake, Window};
pub(super) use crate::store;
pub(super) use crate::sync;
