-- The two layers of the specs, in one place. spec/unit_spec.lua checks that every spec/*_spec.lua is in
-- exactly one list, so a new file is classified when it is added.
--
-- unit: needs no server and no network (no nginx, no fake cloud, no Prometheus server); runs in seconds
--   under Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT (`make unit`, `sh spec/run.sh --unit`). A file of this list may
--   hold integration tests too: their describe or it carries the tag #integration (with lazy_setup, so
--   nothing starts when they are left out), and the unit layer runs with --exclude-tags=integration. The
--   unit layer sets USAGE_SPEC_UNIT=1: a test that starts a server there fails, naming this list.
-- integration: starts a server (the fake cloud or a hostile server in nginx, OpenResty, Prometheus) or
--   builds with luarocks; runs under Lua 5.4 and LuaJIT (`make test`), with everything above.
return {
  unit = {
    "spec/core_spec.lua",
    "spec/core_limits_spec.lua",
    "spec/curl_fault_spec.lua",        -- its #integration part needs a server
    "spec/json_spec.lua",
    "spec/model_spec.lua",
    "spec/rows_spec.lua",
    "spec/lua_versions_spec.lua",
    "spec/unit_spec.lua",
    "spec/architecture_spec.lua",     -- the require graph against docs/architecture.md
    "spec/exchange_spec.lua",         -- the exchange, auth, ratelimit and flows on a scripted runtime
    "spec/auth_spec.lua",
    "spec/ratelimit_spec.lua",
    "spec/redact_spec.lua",
    "spec/pager_spec.lua",            -- and the transport's session pool
    "spec/flows_port_spec.lua",
    "spec/profiles_spec.lua",         -- its example run is #integration
    "spec/exports_spec.lua",
    "spec/docs_spec.lua",              -- the quickstart run is #integration
    "spec/cli_exports_spec.lua",
    "spec/cli_connection_spec.lua",
    "spec/cli_profile_spec.lua",       -- the TOML reader; the --profile runs are #integration
    "spec/prometheus_spec.lua",        -- promtool, no server
    "spec/forecast_spec.lua",
    "spec/forecast_licenses_spec.lua",
    "spec/forecast_plugin_spec.lua",
    "spec/forecast_docs_spec.lua",
    "spec/forecast_output_spec.lua",   -- promtool, no server
    "spec/forecast_rules_spec.lua",    -- promtool, no server
    "spec/sanitize_spec.lua",          -- python3 as the oracle, no server
    "spec/history_spec.lua",           -- python3 as the oracle, no server
  },
  integration = {
    "spec/client_spec.lua",
    "spec/flows_spec.lua",
    "spec/hostile_spec.lua",
    "spec/fault_matrix_spec.lua",
    "spec/signals_spec.lua",
    "spec/fakecloud_spec.lua",
    "spec/forecast_fake_spec.lua",
    "spec/resty_spec.lua",
    "spec/prometheus_scrape_spec.lua",
    "spec/packaging_spec.lua",
    "spec/cli_spec.lua",
    "spec/cli_days_spec.lua",
    "spec/cli_hostile_spec.lua",
    "spec/cli_metrics_spec.lua",
    "spec/cli_forecast_spec.lua",
    "spec/cli_report_spec.lua",
    "spec/cli_report_history_spec.lua", -- the fake cloud, headless Chromium
    "spec/cli_report_compare_spec.lua", -- the fake cloud, a hostile server
    "spec/cli_store_spec.lua",
    "spec/cli_hostile_store_spec.lua",
    "spec/cli_sync_spec.lua",
    "spec/cli_sync_plan_spec.lua",      -- --dry-run, --format json, failed jobs' ids; PostgreSQL, a hostile server
    "spec/cli_cron_spec.lua",
    "spec/cli_hostile_files_spec.lua",
    "spec/cli_hostile_output_spec.lua",
    "spec/readings_spec.lua",
    "spec/resty_token_spec.lua",
    "spec/sums_spec.lua",
    "spec/store_spec.lua",
    "spec/store_sync_spec.lua",
    "spec/store_acceptance_spec.lua",
    "spec/prometheus_textfile_spec.lua", -- a real node_exporter
    "spec/history_store_spec.lua",     -- SQLite and a real PostgreSQL, the fake cloud
    "spec/history_api_spec.lua",       -- the fake cloud, a hostile server
    "spec/history_page_spec.lua",      -- headless Chromium, the fake cloud
  },
}
