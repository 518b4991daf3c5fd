-- genesys-usage search: usage records by simple search (postUsageSimplesearch, polled, then paged by
-- cursor; the API stops at 20,000 rows and the command says so when it cuts there).
local flows = require "usage.flows"
local text = require "usage.base.text"
local limits = require "usage.api.limits"
local listing = require "usage.cli.listing"

return listing.command {
  name = "search", flow = flows.by_name.search,
  about = "Simple search of usage records, streamed page by page (the API returns at most " ..
          text.thousands(limits.SEARCH_CAP) .. " rows).",
  examples = {
    "--yesterday --metric Date,ClientName,Status429 --http-method POST -f ndjson",
    "--last 7d --oauth-client-name 'Bulk Export Service' --output search.csv",
  },
}
