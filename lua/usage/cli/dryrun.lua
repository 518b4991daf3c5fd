-- usage.cli.dryrun: --dry-run prints what a command would send, and sends nothing (not even a login):
-- the days covered, where the credentials come from (never the secret), then for every request its
-- method, path and JSON body: each job of an interval the library splits, and the reads that follow.
-- The bodies are checked and normalized as the library would send them (usage.api.validate); one it would
-- refuse is a usage error here too.
--   io.stdout:write(dryrun.text(name, creds, calls))
-- name: the command's; creds: usage.cli.connection's; calls: usage.cli.call's calls, whose first one says
-- the days of the run (its days, or its days_text, and its window_note).

local core = require "usage.core"
local json = require "usage.base.json"
local flows = require "usage.flows"
local limits = require "usage.api.limits"
local validate = require "usage.api.validate"
local regions = require "usage.api.regions"
local failure = require "usage.cli.failure"
local days_mod = require "usage.cli.days"
local NAME = require("usage.cli.program").NAME

local M = {}

local format = string.format

-- the path of an operation with the values known (percent-encoded) and {placeholders} for the others
local function path_of(op, values)
  return (op.path:gsub("{(%w+)}", function(name)
    local v = values[name]
    return v and core.percent_encode(v) or ("{" .. name .. "}")
  end))
end

local READS = {
  result = "polled until the query is Complete",
  cursor = "polled until Complete, then once per page with ?after=<cursor> (at most %d rows in all)",
  next_uri = "polled until the job has Succeeded, then each page's nextUri as given",
}

local function call_lines(out, call)
  local flow = call.flow
  local opts = call.opts or {}
  local values = {}
  for k, v in pairs(call.params or {}) do values[k] = v end
  local page = flow.pager and ("?pageSize=" .. (opts.page_size or limits.PAGE_SIZE)) or ""
  if opts.job then
    values.jobId = opts.job
    out[#out + 1] = format("%s %s%s  (reads the existing job; nothing is submitted)", flow.read_op.method,
                           path_of(flow.read_op, values), page)
    return
  end
  local bodies = call.body and flows.plan(flow, call.body) or { false }
  if #bodies > 1 then
    out[#out + 1] = format("# the days are read as %d jobs of at most %d days (the API's limit), run at once",
                           #bodies, limits.MAX_JOB_DAYS)
  end
  for _, body in ipairs(bodies) do
    local submit = flow.submit_op
    local query = opts.days and ("?days=" .. opts.days) or ""
    out[#out + 1] = submit.method .. " " .. path_of(submit, values) .. query
    if body then
      local normalized, err = validate.body(flow.body, body, { split = flow.split })
      if not normalized then failure.from_error(err) end
      out[#out + 1] = json.encode(normalized)
    end
  end
  local id = flow.read_op.params[#flow.read_op.params] == "jobId" and "jobId" or "executionId"
  out[#out + 1] = format("%s %s%s  (%s)", flow.read_op.method, path_of(flow.read_op, values), page,
                         format(READS[flow.kind], limits.SEARCH_CAP))
  if #bodies > 1 then out[#out + 1] = "# ... and the same for each job's {" .. id .. "}" end
end

-- text(name, creds, calls) -> the text of the dry run
function M.text(name, creds, calls)
  local env = creds.environment or regions.by_key.us_east_1
  local first = calls[1]
  local out = { format("# %s %s --dry-run: nothing is sent", NAME, name) }
  if first.days_text then
    out[#out + 1] = "# days: " .. first.days_text
  elseif first.days then
    out[#out + 1] = "# days: " .. days_mod.describe(first.days)
  end
  if first.window_note then out[#out + 1] = "# note: " .. first.window_note end
  if first.days and first.days.empty then
    out[#out + 1] = "# no complete day yet: nothing would be sent, and the output would be empty"
    return table.concat(out, "\n") .. "\n"
  end
  out[#out + 1] = "# API: " .. (creds.base_url or ("https://api." .. env))
  if creds.ignored and #creds.ignored > 0 then
    out[#out + 1] = "# not read (an explicit --profile wins over them): " .. table.concat(creds.ignored, ", ")
  end
  if creds.access_token then
    out[#out + 1] = "# credentials: an access token (" .. creds.from .. "); no login"
  elseif creds.client_id then
    out[#out + 1] = format("# credentials: OAuth client %s (%s; the secret is not shown)", creds.client_id, creds.from)
    out[#out + 1] = format("POST %s/oauth/token  (the login)", creds.base_url or ("https://login." .. env))
    out[#out + 1] = "grant_type=client_credentials"
  else
    out[#out + 1] = "# credentials: none found; a real run would stop: " .. creds.missing
  end

  for _, call in ipairs(calls) do
    if #calls > 1 then out[#out + 1] = "# " .. call.name end
    call_lines(out, call)
  end
  return table.concat(out, "\n") .. "\n"
end

return M
