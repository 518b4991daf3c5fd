rockspec_format = "3.0"
package = "usage"
version = "scm-1"
source = {
  url = "git+https://github.com/lua-genesys-usage/lua-genesys-usage.git",
}
description = {
  summary = "Genesys Cloud Usage API client: libcurl + lua-cjson core, polling and paging as coroutines",
  detailed = [[
A client for the Genesys Cloud Usage API for Lua 5.4, LuaJIT and OpenResty. The 11 operations,
OAuth client credentials with token reuse and re-login, retries that honour Retry-After, submit-then-poll
and cursor paging as one call or a row iterator, concurrent queries on one libcurl multi handle, a
client-side rate limit, and the genesys-usage command line. Needs lua-cjson at run time (Debian:
lua-cjson; or `luarocks install lua-cjson`), and argparse for the command line (Debian: lua-argparse;
or `luarocks install argparse`).
]],
  license = "MIT",
  labels = { "genesys", "http", "curl", "openresty" },
}
dependencies = {
  "lua >= 5.1",
}
external_dependencies = {
  CURL = { library = "curl" },
}
build = {
  type = "builtin",
  modules = {
    ["usage.core"] = {
      sources = { "src/codec.c", "src/core.c", "src/http.c", "src/json.c", "src/multi.c", "src/parse.c", "src/signals.c", "src/url.c" },
      libraries = { "curl", "pthread" },
      incdirs = { "$(CURL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)" },
    },
    ["usage"] = "lua/usage/init.lua",
    ["usage.args"] = "lua/usage/args.lua",
    ["usage.auth"] = "lua/usage/auth.lua",
    ["usage.cli.columns"] = "lua/usage/cli/columns.lua",
    ["usage.cli.commands"] = "lua/usage/cli/commands.lua",
    ["usage.cli.commands.aggregates"] = "lua/usage/cli/commands/aggregates.lua",
    ["usage.cli.commands.client_aggregates"] = "lua/usage/cli/commands/client_aggregates.lua",
    ["usage.cli.commands.client_query"] = "lua/usage/cli/commands/client_query.lua",
    ["usage.cli.commands.metrics"] = "lua/usage/cli/commands/metrics.lua",
    ["usage.cli.commands.query"] = "lua/usage/cli/commands/query.lua",
    ["usage.cli.commands.report"] = "lua/usage/cli/commands/report.lua",
    ["usage.cli.commands.search"] = "lua/usage/cli/commands/search.lua",
    ["usage.cli.commands.summary"] = "lua/usage/cli/commands/summary.lua",
    ["usage.cli.credentials"] = "lua/usage/cli/credentials.lua",
    ["usage.cli.days"] = "lua/usage/cli/days.lua",
    ["usage.cli.dryrun"] = "lua/usage/cli/dryrun.lua",
    ["usage.cli.failure"] = "lua/usage/cli/failure.lua",
    ["usage.cli.flags"] = "lua/usage/cli/flags.lua",
    ["usage.cli.formats"] = "lua/usage/cli/formats.lua",
    ["usage.cli.help"] = "lua/usage/cli/help.lua",
    ["usage.cli"] = "lua/usage/cli/init.lua",
    ["usage.cli.parser"] = "lua/usage/cli/parser.lua",
    ["usage.cli.run"] = "lua/usage/cli/run.lua",
    ["usage.cli.sink"] = "lua/usage/cli/sink.lua",
    ["usage.cli.term"] = "lua/usage/cli/term.lua",
    ["usage.cli.text"] = "lua/usage/cli/text.lua",
    ["usage.cli.toml"] = "lua/usage/cli/toml.lua",
    ["usage.client"] = "lua/usage/client.lua",
    ["usage.errors"] = "lua/usage/errors.lua",
    ["usage.exchange"] = "lua/usage/exchange.lua",
    ["usage.flows"] = "lua/usage/flows.lua",
    ["usage.interval"] = "lua/usage/interval.lua",
    ["usage.json"] = "lua/usage/json.lua",
    ["usage.models"] = "lua/usage/models.lua",
    ["usage.operations"] = "lua/usage/operations.lua",
    ["usage.options"] = "lua/usage/options.lua",
    ["usage.pager"] = "lua/usage/pager.lua",
    ["usage.prometheus"] = "lua/usage/prometheus/init.lua",
    ["usage.prometheus.text"] = "lua/usage/prometheus/text.lua",
    ["usage.ratelimit"] = "lua/usage/ratelimit.lua",
    ["usage.redact"] = "lua/usage/redact.lua",
    ["usage.regions"] = "lua/usage/regions.lua",
    ["usage.report.aggregate"] = "lua/usage/report/aggregate.lua",
    ["usage.report.chart"] = "lua/usage/report/chart.lua",
    ["usage.report.formats"] = "lua/usage/report/formats.lua",
    ["usage.report.page"] = "lua/usage/report/page.lua",
    ["usage.runtime"] = "lua/usage/runtime/init.lua",
    ["usage.runtime.blocking"] = "lua/usage/runtime/blocking.lua",
    ["usage.runtime.gather"] = "lua/usage/runtime/gather.lua",
    ["usage.runtime.resty"] = "lua/usage/runtime/resty.lua",
    ["usage.runtime.resty_worker"] = "lua/usage/runtime/resty_worker.lua",
    ["usage.transport"] = "lua/usage/transport.lua",
    ["usage.validate"] = "lua/usage/validate.lua",
  },
  install = {
    bin = { ["genesys-usage"] = "bin/genesys-usage" },
  },
  copy_directories = { "docs", "examples" },
}
test_dependencies = {}
test = {
  type = "busted",
}
