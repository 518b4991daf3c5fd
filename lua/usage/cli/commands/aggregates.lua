-- genesys-usage aggregates: the organization's usage aggregates job (new generation): submitted (one
-- job per 90 days at most: the library splits longer spans), polled until Succeeded, every page streamed.
-- --job ID reads an existing job instead (its id is printed on stderr when it starts).
local flows = require "usage.flows"
local help = require "usage.cli.help"
local call = require "usage.cli.call"
local days = require "usage.cli.days"
local output = require "usage.cli.output"
local connection = require "usage.cli.connection"
local term = require "usage.cli.term"
local listing = require "usage.cli.listing"
local store_opt = require "usage.cli.store"

local M = { name = "aggregates" }

local FLOW = flows.by_name.aggregates

function M.add_to(parser)
  local cmd = help.command(parser, {
    name = M.name, flow = FLOW,
    about = "Organization usage aggregates job (new generation): poll until Succeeded, stream every page.",
    examples = {
      "--last 30d --group-by OauthClientId --sort-by requestCount:Desc",
      "--from 2026-03-01 --to 2026-03-31 --group-by TemplateUri --http-method GET --output march.csv --bom",
      "--last 180d --group-by OauthClientId,TemplateUri --output usage.ndjson",
      "--job 6b1c3e4d-... --format csv",
    },
  })
  call.add_target(cmd, FLOW)
  days.add(cmd)
  call.add_query(cmd, FLOW, { aliases = { ["sort-by"] = { "sort" } } })
  output.add(cmd, output.ROW_FORMATS)
  store_opt.add(cmd, { org = true })
  connection.add(cmd)
  term.add(cmd)
  return cmd
end

function M.run(args, session)
  listing.run(args, session, FLOW)
end

return M
