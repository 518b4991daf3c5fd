-- usage.cli.commands: the commands of genesys-usage, in the order of --help. Each is a module of
-- usage.cli.commands.* with its name, flow (the library flow whose models give its flags), about,
-- examples, formats, and run(ctx); optionally prepare(ctx) and calls(ctx) (the requests --dry-run shows).
return {
  require "usage.cli.commands.query",
  require "usage.cli.commands.client_query",
  require "usage.cli.commands.summary",
  require "usage.cli.commands.search",
  require "usage.cli.commands.aggregates",
  require "usage.cli.commands.client_aggregates",
  require "usage.cli.commands.report",
  (require "usage.cli.commands.metrics"), -- (parentheses: one value; Lua 5.4 require returns two)
}
