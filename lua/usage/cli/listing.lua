-- usage.cli.listing: what the listing commands (query, client-query, summary, search, aggregates,
-- client-aggregates) do once argparse has read their flags: run one library flow with the call of the
-- flags (usage.cli.call) and write its rows as a table, CSV, JSON or NDJSON (usage.cli.formats), under a
-- header that names the days. No complete day yet (the 1st of a month, --this-month): nothing is sent,
-- and the output is empty.
--   listing.run(args, session, flow [, adjust])
-- adjust(call, now) -> keep, seen (the summary's: its days): called once the call is read; keep(row) ->
-- bool filters the rows of a one-answer flow, seen(rows, meta) -> Days | nil sees them before they are
-- written (and may name their days in meta).

local text = require "usage.base.text"
local limits = require "usage.api.limits"
local call_mod = require "usage.cli.call"
local columns = require "usage.cli.columns"
local connection = require "usage.cli.connection"
local days_mod = require "usage.cli.days"
local dryrun = require "usage.cli.dryrun"
local failure = require "usage.cli.failure"
local formats = require "usage.cli.formats"
local output = require "usage.cli.output"
local run = require "usage.cli.run"
local NAME = require("usage.cli.program").NAME

local M = {}

-- the rows of a one-answer flow's result (an array, or a bad_response failure)
local function rows_of(result, field)
  local rows = result[field]
  if rows == nil then return {} end
  if type(rows) ~= "table" then failure.runtime("error: bad_response: " .. field .. " is not an array") end
  return rows
end

-- the first line of the table format: the command and its days, or the job read again
local function header(c)
  if c.days then return c.name .. ": " .. days_mod.describe(c.days) end
  if c.opts.job then return c.name .. ": job " .. c.opts.job .. " (the days it was submitted with)" end
  return nil
end

-- write(session, args, c, creds, fmt, out, keep, seen): run the call, its rows into out as fmt
local function write(s, args, c, creds, fmt, out, keep, seen)
  local flow = c.flow
  local row_model, rows_field = call_mod.row_model(flow)
  local meta = { command = c.name, days = c.days, header = header(c) }
  local cols = c.body and columns.select(row_model, flow.body, c.body) or nil
  local writer = formats.writer(fmt, out.fh, { columns = cols, row_model = row_model, meta = meta, bom = args.bom,
                                               raw_csv = args.raw_csv, granularity = c.body and c.body.granularity })
  if c.days and c.days.empty then
    writer:finish()
    return
  end
  local client = connection.client(args, creds, s.term)
  -- a job read again: with the command's own --job (and the client id of the path)
  local again = flow.options.job and (NAME .. " " .. c.name .. (c.params.clientId and (" " .. c.params.clientId) or ""))
  local started = run.start(s, client, c, again)
  local days = c.days
  if flow.pager then
    run.each_page(s, started, function(page) writer:write(page) end, c.name)
    s.term:done()
    if started.truncated then
      s.term:warn(string.format("the API returns at most %s rows for a %s; the output stops there",
                                text.thousands(limits.SEARCH_CAP), c.name))
    end
  else
    s.term:done()
    local rows = rows_of(started, rows_field)
    if keep then
      local kept = {}
      for _, row in ipairs(rows) do
        if keep(row) then kept[#kept + 1] = row end
      end
      rows = kept
    end
    if seen then days = seen(rows, meta) or days end
    writer:write(rows)
  end
  failure.check()
  writer:finish()
  output.days_note(s.term, days, fmt)
  local left_out = writer.outside and writer.outside:note()
  if left_out then s.term:warn(left_out) end
  return client
end

-- run(args, session, flow [, adjust]): the listing command args.command over this flow
function M.run(args, s, flow, adjust)
  local params = call_mod.params(args, flow)
  local creds = connection.credentials(args, s.term)
  local c = call_mod.request(args, flow, s.now, params)
  local fmt = output.format(args, output.ROW_FORMATS)
  local keep, seen
  if adjust then keep, seen = adjust(c, s.now) end
  if args.dry_run then
    io.stdout:write(dryrun.text(c.name, creds, { c }))
    return
  end
  if c.days_note then s.term:note(c.days_note) end
  connection.note(creds, s.term)
  local out = output.open(args)
  local client = write(s, args, c, creds, fmt, out, keep, seen)
  output.commit(out, s.term, c.window_note)
  if client then client:close() end
end

return M
