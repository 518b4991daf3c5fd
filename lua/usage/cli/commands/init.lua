-- usage.cli.commands: the commands of genesys-usage, in the order of --help. Each is a module of
-- usage.cli.commands.* with
--   name             the command's word
--   add_to(parser)   adds its argparse command (usage.cli.help.command) and its options: the option groups
--                    it includes (usage.cli.call, days, output, connection, term) and its own
--   run(args, session)  does the work from argparse's result (args.command is the name); session =
--                    { term, now, jobs } (usage.cli). It returns when done (exit 0) or raises a failure
--                    (usage.cli.failure: usage error, runtime failure, signal).
return {
  require "usage.cli.commands.query",
  require "usage.cli.commands.client_query",
  require "usage.cli.commands.summary",
  require "usage.cli.commands.search",
  require "usage.cli.commands.aggregates",
  require "usage.cli.commands.client_aggregates",
  require "usage.cli.commands.report",
  require "usage.cli.commands.sync",
  require "usage.cli.commands.metrics",
  (require "usage.cli.commands.forecast"), -- (parentheses: one value; Lua 5.4 require returns two)
}
