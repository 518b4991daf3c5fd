-- usage.cli.run: running a command's calls against the API. A call is one flow of the library
-- (usage.flows) with its path parameters, body and options:
--   { flow = flows.by_name[...], params = { clientId = ... }, body = { ... } | nil, opts = { ... }, name = "clients" }
-- This module makes the client from the resolved credentials, shows the progress line and the job ids
-- on stderr, streams rows into the output, and turns every library error into a failure (a trapped
-- signal into its exit status).

local flows = require "usage.flows"
local limits = require "usage.api.limits"
local client_mod = require "usage.client"
local failure = require "usage.cli.failure"
local formats = require "usage.cli.formats"
local columns = require "usage.cli.columns"
local days_mod = require "usage.cli.days"
local text = require "usage.base.text"

local M = {}

local unpack = table.unpack or unpack -- luacheck: ignore (Lua 5.1 / LuaJIT global)

-- the body of a command's flow: the body flags and the interval of the days, as its generation reads it
function M.body(ctx, flow)
  if not flow.body or ctx.opts.job then return nil end
  local body = {}
  for k, v in pairs(ctx.body) do body[k] = v end
  if ctx.days then
    body.interval = ctx.days[flow.generation == "jobs" and "jobs" or "query"]
  end
  return body
end

-- flow_calls(ctx) -> the one call of a command that runs its flow with the flags given
function M.flow_calls(ctx)
  local flow = ctx.flags.flow
  return { { flow = flow, params = ctx.params, body = M.body(ctx, flow), opts = ctx.opts, name = ctx.cmd.name } }
end

-- the client of a run (made once), from the credentials and the connection flags
function M.client(ctx)
  if ctx.client then return ctx.client end
  ctx.client = M.new_client(ctx, ctx.creds)
  return ctx.client
end

-- new_client(ctx, creds) -> a client from these credentials and the connection flags (a command over
-- several orgs makes one per org)
function M.new_client(ctx, creds)
  local o = ctx.options
  if creds.missing then failure.usage(creds.missing, ctx.cmd.name) end
  -- (the library keeps its other poll settings, and raises max_interval to a longer first interval)
  local poll = (o["poll-interval"] or o["poll-timeout"]) and { interval = o["poll-interval"], timeout = o["poll-timeout"] }
  local ok, c = pcall(client_mod.new, {
    user_agent = failure.PROG .. "/" .. client_mod.VERSION,
    environment = creds.environment, base_url = creds.base_url,
    access_token = creds.access_token, client_id = creds.client_id, client_secret = creds.client_secret,
    timeout = o.timeout, poll = poll or nil, logger = o.verbose and ctx.term:logger() or nil,
  })
  if not ok then
    failure.usage(tostring(c):gsub("^[^\n]-:%d+: ", ""):gsub("^usage%.new: ", ""), ctx.cmd.name)
  end
  ctx.term:redact_with(c.redact)
  return c
end

-- again(ctx, call_name) -> the command line that reads a job of this run again ("genesys-usage aggregates
-- --job"), or nil: the command's own --job, else the aggregates command of the job's flow (report, metrics)
local function again(ctx)
  local flow = ctx.flags.flow
  if ctx.flags.by_name.job then
    return failure.PROG .. " " .. ctx.cmd.name .. (ctx.params.clientId and (" " .. ctx.params.clientId) or "")
  end
  if flow and flow.kind == "next_uri" then return failure.PROG .. " " .. flow.name:gsub("_", "-") end
  if ctx.cmd.name == "metrics" then return failure.PROG .. " aggregates" end
  return nil
end

-- progress(ctx) -> tracker(name) -> on_progress: the progress line; a job's id as a note when it starts
-- (on a terminal, or with --verbose), with the command that reads it again; the ids are kept in
-- ctx.jobs, so that a run that fails or is interrupted prints them (usage.cli)
function M.progress(ctx)
  if ctx.progress then return ctx.progress end
  local cmdline = again(ctx)
  ctx.jobs = ctx.jobs or {}
  ctx.progress = ctx.term:tracker(ctx.cmd.name, function(id, name)
    local kind = ctx.job_flows[name]
    if not kind then return end
    ctx.jobs[#ctx.jobs + 1] = { id = id, again = cmdline and (cmdline .. " --job " .. id) or nil }
    if ctx.opts.job then
      ctx.term:note("reading job " .. id)
    elseif cmdline and ctx.split then
      ctx.term:note(string.format("job %s started (one of %d: %s --job %s reads that job's days only)", id,
                                  ctx.split, cmdline, id))
    elseif cmdline then
      ctx.term:note(string.format("job %s started (read it again with: %s --job %s)", id, cmdline, id))
    else
      ctx.term:note(string.format("job %s started (%s)", id, name))
    end
  end)
  return ctx.progress
end

-- start(ctx, call) -> pager | result (result flows run to the end here)
function M.start(ctx, call)
  local client, flow = M.client(ctx), call.flow
  local opts = {}
  for k, v in pairs(call.opts or {}) do opts[k] = v end
  ctx.job_flows = ctx.job_flows or {}
  if flow.kind == "next_uri" then ctx.job_flows[call.name] = true end
  opts.on_progress = M.progress(ctx)(call.name)
  local bodies = call.body and flows.plan(flow, call.body) or {}
  if #bodies > 1 then
    ctx.split = #bodies
    ctx.term:note(string.format("%s: %d days are read as %d jobs of at most %d days (the API's limit), run at once",
                                call.name, ctx.days.count, #bodies, limits.MAX_JOB_DAYS))
  end
  local argv, n = {}, #flow.params
  for i, p in ipairs(flow.params) do argv[i] = call.params[p] end
  if flow.body then
    n = n + 1
    argv[n] = call.body -- nil for a job read again with opts.job
  end
  argv[n + 1] = opts
  if flow.pager then return client[flow.name](client, unpack(argv, 1, n + 1)) end
  local result, err = client[flow.name](client, unpack(argv, 1, n + 1))
  if not result then
    ctx.term:done()
    failure.from_error(err, ctx.cmd.name)
  end
  return result
end

-- each_page(ctx, pager, fn): fn(rows) for every page; a failure ends the command
function M.each_page(ctx, pager, fn)
  while true do
    local page, err = pager:next_page()
    if page == nil then
      ctx.term:done()
      failure.from_error(err, ctx.cmd.name)
    end
    if page == false then return end
    failure.check()
    if #page > 0 then fn(page) end
  end
end

-- rows_of(ctx, result) -> the rows of a one-answer flow (an array, or a bad_response failure)
function M.rows_of(ctx, result)
  local rows = result[ctx.flags.rows_field]
  if rows == nil then return {} end
  if type(rows) ~= "table" then failure.runtime("error: bad_response: " .. ctx.flags.rows_field .. " is not an array") end
  return rows
end

-- days_note(ctx): where the format has no room for the days (csv, ndjson), say them on stderr
function M.days_note(ctx)
  if ctx.days and not ctx.days.empty and (ctx.format == "csv" or ctx.format == "ndjson") then
    ctx.term:note("the rows cover " .. days_mod.describe(ctx.days))
  end
end

-- rows(ctx [, keep [, seen]]): the row commands: run the flow, write its rows as ctx.format. keep(row) ->
-- bool filters the rows of a one-answer flow (the summary keeps the days asked for); seen(rows) sees its
-- rows before they are written (the summary names the days from their dates). No complete day yet (the
-- 1st of a month, --this-month): nothing is sent, and the output is empty.
function M.rows(ctx, keep, seen)
  local call = M.flow_calls(ctx)[1]
  local flow = call.flow
  local cols = call.body and columns.select(ctx.flags.row_model, flow.body, call.body) or nil
  local writer = formats.writer(ctx.format, ctx.out.fh, { columns = cols, row_model = ctx.flags.row_model,
                                                          meta = ctx.meta, bom = ctx.options.bom,
                                                          raw_csv = ctx.options["raw-csv"],
                                                          granularity = call.body and call.body.granularity })
  if ctx.days and ctx.days.empty then
    writer:finish()
    return
  end
  local started = M.start(ctx, call)
  if flow.pager then
    M.each_page(ctx, started, function(page) writer:write(page) end)
    ctx.term:done()
    if started.truncated then
      ctx.term:warn(string.format("the API returns at most %s rows for a %s; the output stops there",
                                  text.thousands(limits.SEARCH_CAP), ctx.cmd.name))
    end
  else
    ctx.term:done()
    local rows = M.rows_of(ctx, started)
    if keep then
      local kept = {}
      for _, row in ipairs(rows) do
        if keep(row) then kept[#kept + 1] = row end
      end
      rows = kept
    end
    if seen then seen(rows) end
    writer:write(rows)
  end
  failure.check()
  writer:finish()
  M.days_note(ctx)
  local left_out = writer.outside and writer.outside:note()
  if left_out then ctx.term:warn(left_out) end
end

return M
