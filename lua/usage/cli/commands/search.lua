-- genesys-usage search: usage records by simple search (postUsageSimplesearch, polled, then paged by
-- cursor; the API stops at 20,000 rows and the command says so when it cuts there).
local flows = require "usage.flows"
local text = require "usage.base.text"
local limits = require "usage.api.limits"
local help = require "usage.cli.help"
local call = require "usage.cli.call"
local days = require "usage.cli.days"
local output = require "usage.cli.output"
local connection = require "usage.cli.connection"
local term = require "usage.cli.term"
local listing = require "usage.cli.listing"

local M = { name = "search" }

local FLOW = flows.by_name.search

function M.add_to(parser)
  local cmd = help.command(parser, {
    name = M.name, flow = FLOW,
    about = "Simple search of usage records, streamed page by page (the API returns at most " ..
            text.thousands(limits.SEARCH_CAP) .. " rows).",
    examples = {
      "--yesterday --metric Date,ClientName,Status429 --http-method POST -f ndjson",
      "--last 7d --oauth-client-name 'Bulk Export Service' --output search.csv",
    },
  })
  call.add_target(cmd, FLOW)
  days.add(cmd)
  call.add_query(cmd, FLOW)
  output.add(cmd, output.ROW_FORMATS)
  connection.add(cmd)
  term.add(cmd)
  return cmd
end

function M.run(args, session)
  listing.run(args, session, FLOW)
end

return M
